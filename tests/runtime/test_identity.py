"""Identity validation: every accepted id must satisfy every AWS pattern it reaches (read from botocore)."""

from __future__ import annotations

import re

import botocore.loaders
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from runtime.errors import InvalidInputError
from runtime.identity import (
    Identity,
    actor_id_from_claims,
    identity_from_claims,
    is_derived_actor_id,
    trusted_identity,
    validate_actor_id,
    validate_agent_name,
    validate_index_prefix,
    validate_session_id,
    validate_tenant_id,
)

TENANT_RULE = (
    "must be 3-40 lowercase letters, digits and '-', starting and ending with a letter or digit"
)
ACTOR_RULE = (
    "must be 1-64 lowercase letters, digits, '-' and '_', starting with a letter or digit"
)
SESSION_RULE = (
    "must be 2-100 letters, digits and '-', starting with a letter or digit "
    "(fits AgentCore and Bedrock Agents session ids)"
)
WILDCARDS = "*?${}"
ISSUER = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Example"
HASH_OF_ISSUER_AND_USER_42 = "39891cbb5741bab3d6cd9ada64c153f8fc6d33c88a4b5b4604f20962f1dfe660"


def shown(value: str) -> str:
    """How InvalidInputError prints a value: strings over 80 characters are cut to 77 plus '...'."""
    return repr(value if len(value) <= 80 else value[:77] + "...")


def _shape(service: str, name: str) -> dict:
    model = botocore.loaders.create_loader().load_service_model(service, "service-2")
    return model["shapes"][name]


def _java_regex(pattern: str) -> re.Pattern[str]:
    # botocore patterns are Java regexes; the Unicode classes used by STS tags become their ASCII subset.
    return re.compile(
        pattern.replace(r"\p{L}", "a-zA-Z").replace(r"\p{Z}", " ").replace(r"\p{N}", "0-9").strip("^$")
    )


class AwsRule:
    def __init__(self, service: str, shape: str) -> None:
        spec = _shape(service, shape)
        self.min = spec.get("min", 0)
        self.max = spec.get("max", 10**9)
        self.regex = _java_regex(spec["pattern"]) if "pattern" in spec else None

    def accepts(self, value: str) -> bool:
        return self.min <= len(value) <= self.max and (self.regex is None or bool(self.regex.fullmatch(value)))


AGENTCORE_ACTOR = AwsRule("bedrock-agentcore", "ActorId")
AGENTCORE_SESSION = AwsRule("bedrock-agentcore", "SessionId")
AGENTS_SESSION = AwsRule("bedrock-agent-runtime", "SessionId")
STS_TAG_VALUE = AwsRule("sts", "tagValueType")
STS_SESSION_NAME = AwsRule("sts", "roleSessionNameType")
STS_SOURCE_IDENTITY = AwsRule("sts", "sourceIdentityType")
INDEX_NAME = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")  # S3 Vectors index naming rules

ALPHABET = "abcxyz09AZ-_.:/*?${} é@+="


# -- tenant ids --------------------------------------------------------------------------------------


@pytest.mark.parametrize("tenant", ["abc", "acme-corp", "t00", "a" * 40, "9lives", "a--b"])
def test_valid_tenant_ids(tenant):
    assert validate_tenant_id(tenant) == tenant


@pytest.mark.parametrize(
    "tenant",
    ["ab", "a" * 41, "Acme", "-acme", "acme-", "ac_me", "ac.me", "ac me", "acmé", "ac*me", "ac?me", "$acme",
     "{acme}", "acme/x", "acme:x", ""],
)
def test_invalid_tenant_ids_name_field_value_and_rule(tenant):
    with pytest.raises(InvalidInputError) as err:
        validate_tenant_id(tenant)
    assert err.value.field == "tenant_id"
    assert err.value.value == tenant
    assert str(err.value) == f"tenant_id={shown(tenant)} is invalid: {TENANT_RULE}"
    assert err.value.status == 400


@pytest.mark.parametrize("value", [None, 42, b"acme", ["acme"]])
def test_non_string_tenant_is_rejected(value):
    with pytest.raises(InvalidInputError) as err:
        validate_tenant_id(value)
    assert str(err.value) == f"tenant_id={value!r} is invalid: must be a string of 3-40 lowercase " \
        "letters, digits and '-', starting and ending with a letter or digit"


def test_tenant_must_leave_room_for_the_user_part_of_index_names():
    prefix = "memory-mesh-tenant."  # 19 characters: tenants of up to 30 leave 13 for the user part
    assert validate_tenant_id("a" * 30, index_prefix=prefix) == "a" * 30
    with pytest.raises(InvalidInputError) as err:
        validate_tenant_id("a" * 31, index_prefix=prefix)
    assert str(err.value) == (
        f"tenant_id={'a' * 31!r} is invalid: index_prefix '{prefix}' and tenant id together must be at most 49 "
        "characters, so the index '<prefix><tenant>.<user>' fits S3 Vectors' 63 characters"
    )


def test_invalid_index_prefix_is_named():
    with pytest.raises(InvalidInputError) as err:
        validate_tenant_id("acme", index_prefix="Mem_")
    assert str(err.value) == (
        "index_prefix='Mem_' is invalid: must be 1-20 lowercase letters, digits, '-' or '.', starting "
        "with a letter or digit"
    )
    assert validate_index_prefix("mesh.v1-") == "mesh.v1-"
    with pytest.raises(InvalidInputError):
        validate_index_prefix("")


@settings(max_examples=400, deadline=None)
@given(
    st.one_of(st.from_regex(r"[a-z0-9][a-z0-9-]{0,44}", fullmatch=True), st.text(alphabet=ALPHABET, max_size=45)),
    st.sampled_from(["", "mem-", "mesh.idx-", "p" * 30]),
)
def test_every_accepted_tenant_fits_every_aws_name(tenant, prefix):
    try:
        validate_tenant_id(tenant, index_prefix=prefix)
    except InvalidInputError:
        return
    assert not set(tenant) & set(WILDCARDS)
    assert INDEX_NAME.fullmatch(prefix + tenant)
    assert STS_TAG_VALUE.accepts(tenant)
    assert STS_SESSION_NAME.accepts(f"mesh-{tenant}")
    assert AGENTCORE_ACTOR.accepts(Identity(tenant, "a" * 64).agentcore_actor_id)


# -- actor ids ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("actor", ["a", "svc-summarizer", "user_1", HASH_OF_ISSUER_AND_USER_42, "0" * 64])
def test_valid_actor_ids(actor):
    assert validate_actor_id(actor) == actor


@pytest.mark.parametrize(
    "actor", ["", "a" * 65, "User", "a:b", "a/b", "a.b", "-abc", "_abc", "a*", "a?", "a$", "{a}", "a b"]
)
def test_invalid_actor_ids(actor):
    with pytest.raises(InvalidInputError) as err:
        validate_actor_id(actor)
    assert str(err.value) == f"actor_id={shown(actor)} is invalid: {ACTOR_RULE}"


@settings(max_examples=400, deadline=None)
@given(st.one_of(st.from_regex(r"[a-z0-9_-]{1,70}", fullmatch=True), st.text(alphabet=ALPHABET, max_size=70)))
def test_every_accepted_actor_fits_tags_session_names_and_agentcore(actor):
    try:
        validate_actor_id(actor)
    except InvalidInputError:
        return
    assert not set(actor) & set(WILDCARDS)
    assert STS_TAG_VALUE.accepts(actor)
    assert len(actor) < 2 or STS_SOURCE_IDENTITY.accepts(actor)
    assert STS_SESSION_NAME.accepts(f"mesh-{'t' * 40}-{actor[:16]}")
    assert AGENTCORE_ACTOR.accepts(Identity("t" * 40, actor).agentcore_actor_id)


# -- session ids and agent names ---------------------------------------------------------------------


@pytest.mark.parametrize("session", ["s1", "3f2b8c1e-9a4d-4c1b-8f0e-2d7a5b6c9e10", "A" * 100, "Session-7"])
def test_valid_session_ids(session):
    assert validate_session_id(session) == session


@pytest.mark.parametrize(
    "session", ["s", "a" * 101, "a_b", "a.b", "a:b", "-ab", "ab*", "ab?", "a$b", "{ab}", "a b", "a/b", ""]
)
def test_invalid_session_ids(session):
    with pytest.raises(InvalidInputError) as err:
        validate_session_id(session)
    assert str(err.value) == f"session_id={shown(session)} is invalid: {SESSION_RULE}"
    assert err.value.value == session


@settings(max_examples=400, deadline=None)
@given(
    st.one_of(st.from_regex(r"[A-Za-z0-9_.:-]{1,105}", fullmatch=True), st.text(alphabet=ALPHABET, max_size=105))
)
def test_every_accepted_session_fits_agentcore_and_bedrock_agents(session):
    try:
        validate_session_id(session)
    except InvalidInputError:
        return
    assert AGENTCORE_SESSION.accepts(session)
    assert AGENTS_SESSION.accepts(session)


@pytest.mark.parametrize("agent", ["supervisor", "worker-b", "Billing_Agent2", "a", "x" * 64])
def test_valid_agent_names(agent):
    assert validate_agent_name(agent) == agent


@pytest.mark.parametrize("agent", ["", "x" * 65, "-a", "a-", "a--b", "a_-b", "a b", "a*", "a.b", "a/b"])
def test_invalid_agent_names(agent):
    with pytest.raises(InvalidInputError) as err:
        validate_agent_name(agent)
    assert str(err.value) == (
        f"agent={shown(agent)} is invalid: must be 1-64 letters and digits, optionally separated by "
        "single '-' or '_'"
    )


def test_accepted_agent_names_are_valid_bedrock_agent_names():
    pattern = _java_regex(_shape("bedrock-agent", "Name")["pattern"])
    for agent in ["supervisor", "worker-b", "Billing_Agent2", "a", "x" * 64]:
        assert pattern.fullmatch(validate_agent_name(agent))


# -- claims ------------------------------------------------------------------------------------------


def test_actor_id_is_sha256_of_issuer_nul_subject():
    actor = actor_id_from_claims({"iss": ISSUER, "sub": "user-42", "email": "someone@example.com"})
    assert actor == HASH_OF_ISSUER_AND_USER_42
    assert is_derived_actor_id(actor)
    assert validate_actor_id(actor) == actor


def test_actor_id_depends_on_issuer_and_is_unambiguous():
    same_sub = actor_id_from_claims({"iss": "https://other.example", "sub": "user-42"})
    assert same_sub != HASH_OF_ISSUER_AND_USER_42
    # The NUL separator keeps ("ab", "c") and ("a", "bc") apart.
    assert actor_id_from_claims({"iss": "ab", "sub": "c"}) != actor_id_from_claims({"iss": "a", "sub": "bc"})


def test_identity_from_claims():
    claims = {"iss": ISSUER, "sub": "user-42", "custom:tenant": "acme"}
    identity = identity_from_claims(claims, tenant_claim="custom:tenant", index_prefix="mem-")
    assert identity == Identity(tenant_id="acme", actor_id=HASH_OF_ISSUER_AND_USER_42)
    assert identity.agentcore_actor_id == f"acme:{HASH_OF_ISSUER_AND_USER_42}"


@pytest.mark.parametrize(
    ("claims", "message"),
    [
        (
            {"iss": ISSUER, "sub": "user-42"},
            "claims.custom:tenant=None is invalid: claim is missing from the verified token",
        ),
        (
            {"iss": ISSUER, "custom:tenant": "acme"},
            "claims.sub=None is invalid: claim is missing from the verified token",
        ),
        (
            {"sub": "user-42", "custom:tenant": "acme"},
            "claims.iss=None is invalid: claim is missing from the verified token",
        ),
        (
            {"iss": ISSUER, "sub": "", "custom:tenant": "acme"},
            "claims.sub='<str>' is invalid: must be a non-empty string",
        ),
        (
            {"iss": ISSUER, "sub": 42, "custom:tenant": "acme"},
            "claims.sub='<int>' is invalid: must be a non-empty string",
        ),
        (
            {"iss": ISSUER, "sub": "user-42", "custom:tenant": "Acme*"},
            f"claims.custom:tenant='Acme*' is invalid: {TENANT_RULE}",
        ),
    ],
)
def test_bad_claims_name_the_claim(claims, message):
    with pytest.raises(InvalidInputError) as err:
        identity_from_claims(claims, tenant_claim="custom:tenant")
    assert str(err.value) == message


def test_tenant_claim_must_fit_the_index_prefix():
    claims = {"iss": ISSUER, "sub": "u", "tenant": "t" * 40}
    with pytest.raises(InvalidInputError) as err:
        identity_from_claims(claims, tenant_claim="tenant", index_prefix="p" * 20)
    assert err.value.field == "claims.tenant"


def test_identity_construction_validates():
    with pytest.raises(InvalidInputError) as err:
        Identity("acme", "*")
    assert err.value.field == "actor_id"
    with pytest.raises(InvalidInputError) as err:
        Identity("a*", "actor")
    assert err.value.field == "tenant_id"


def test_trusted_identity_checks_the_index_prefix():
    assert trusted_identity("acme", "svc-forget") == Identity("acme", "svc-forget")
    with pytest.raises(InvalidInputError) as err:
        trusted_identity("t" * 40, "svc", index_prefix="p" * 20)
    assert err.value.field == "tenant_id"


def test_log_ref_is_short_stable_and_not_the_id():
    from runtime.identity import log_ref

    assert log_ref("alice") == log_ref("alice")
    assert log_ref("alice") != "alice" and len(log_ref("alice")) == 12
    assert log_ref(None) is None
