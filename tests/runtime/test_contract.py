"""The shared contract: rules, problems, agent references, the environment schema and the memory layout."""

from __future__ import annotations

import pytest

from runtime.contract import ENV, AgentRef, FunctionSettings, MemorySettings, Problems, WorkerRef, memory, rules
from runtime.errors import InvalidInputError

VALID_ENV = {
    "MESH_REGION": "us-east-1",
    "MESH_VECTOR_BUCKET": "mesh-vectors",
    "MESH_INDEX_PREFIX": "tenant-",
    "MESH_MEMORY_ID": "mesh_memory-AbCdE12345",
    "MESH_TVM_ROLE_ARN": "arn:aws:iam::111111111111:role/mesh-tvm",
}


@pytest.mark.parametrize(
    ("rule", "good", "bad"),
    [
        (rules.TENANT_ID, ["acme", "a-1", "x" * 40], ["ab", "Acme", "-acme", "acme-", "a.b", "x" * 41, "a*b"]),
        (rules.REGION, ["us-east-1", "us-gov-west-1", "ap-southeast-7", "us-isob-east-1"], ["useast1", "US-EAST-1"]),
        (rules.HTTPS_URL, ["https://cognito-idp.us-east-1.amazonaws.com/us-east-1_X"],
         ["http://x.example", "https://", "https://x.example/?q=1", "https://x .example"]),
        (rules.SCHEDULE, ["cron(15 3 * * ? *)", "rate(1 day)", "at(2030-01-01T00:00:00)"],
         ["cron(15 3 * *)", "rate(0 days)", "daily"]),
        (rules.WORKER_NAME, ["billing", "b-2"], ["Billing", "b--2", "b-", "2b", "b" * 25]),
        (rules.ROLE_ARN, ["arn:aws:iam::111111111111:role/x", "arn:aws-cn:iam::111111111111:role/p/x"],
         ["arn:aws:iam::111:role/x", "arn:aws:iam::111111111111:user/x"]),
    ],
)
def test_rules_accept_and_reject(rule: rules.Rule, good: list[str], bad: list[str]) -> None:
    assert all(rule.matches(v) for v in good)
    assert not any(rule.matches(v) for v in bad)


def test_problems_name_field_value_and_rule_and_skip_tokens() -> None:
    problems = Problems(is_token=lambda v: isinstance(v, str) and v.startswith("${Token"))
    problems.check(rules.TENANT_ID, "tenants[0]", "Acme")
    problems.check(rules.TENANT_ID, "tenants[1]", "${Token[TOKEN.1]}")
    problems.check(rules.WORKER_NAME, "workers[0].name", "${Token[TOKEN.2]}", literal=True)
    problems.check(rules.EXTERNAL_ID, "external_id", "x", redact=True)
    assert problems.lines == [
        "tenants[0]='Acme': must be 3-40 lowercase letters, digits and '-', starting and ending with a letter or digit",
        "workers[0].name=<deploy-time token>: must be a literal value, not a deploy-time token (it is written into "
        "a file or an IAM condition at synth)",
        "external_id=<redacted>: must be 2-1224 letters, digits and _+=,.@:/-",
    ]


def test_user_index_names_bind_the_tenant_and_fit_s3_vectors() -> None:
    name = memory.user_index_name("tenant-", "acme", "a" * 64)
    assert name.startswith("tenant-acme.") and len(name) == len("tenant-acme.") + memory.USER_PART_MAX
    assert memory.user_index_name("tenant-", "acme", "a" * 64) == name  # deterministic
    assert memory.user_index_name("tenant-", "acme", "b" * 64) != name
    longest = memory.user_index_name("tenant-", "x" * 40, "a" * 64)
    assert len(longest) == memory.INDEX_NAME_MAX
    assert memory.index_name_problem("p" * 20, "x" * 40) is not None
    with pytest.raises(ValueError, match="at most 49 characters"):
        memory.user_index_name("p" * 20, "x" * 40, "a")


def test_settings_round_trip_through_the_environment() -> None:
    settings = MemorySettings.from_env(VALID_ENV)
    assert settings.isolation == memory.ISOLATION_USER
    assert MemorySettings.from_env(settings.to_env()) == settings
    assert settings.to_env()[ENV.ISOLATION] == "user"


def test_settings_name_every_bad_variable() -> None:
    with pytest.raises(InvalidInputError) as raised:
        MemorySettings.from_env({**VALID_ENV, "MESH_REGION": "mars", "MESH_ISOLATION": "nobody",
                                 "MESH_EMBEDDING_DIMENSION": "999"})
    message = str(raised.value)
    assert "MESH_REGION='mars' is invalid" in message
    assert "MESH_ISOLATION='nobody' is invalid: must be one of 'tenant', 'user'" in message
    assert "MESH_EMBEDDING_DIMENSION=999 is invalid: amazon.titan-embed-text-v2:0 embeds at 256, 512, 1024" in message


def test_env_for_accepts_tokens_where_values_are_known_only_at_deploy() -> None:
    problems = Problems(is_token=lambda v: isinstance(v, str) and v.startswith("${Token"))
    env = MemorySettings.env_for(problems, region="us-east-1", vector_bucket_name="${Token[B]}",
                                 index_prefix="tenant-", embedding_dimension=1024, distance_metric="cosine",
                                 embedding_model_id="amazon.titan-embed-text-v2:0", memory_id="${Token[M]}",
                                 tvm_role_arn="${Token[R]}")
    assert not problems and env[ENV.VECTOR_BUCKET] == "${Token[B]}"


def test_agent_refs_parse_and_name_their_arns() -> None:
    agent = AgentRef.parse('{"type":"bedrock-agent","agent_id":"ABCDEFGHIJ","alias_id":"TSTALIASID"}', "agent")
    assert agent.invoke_arns(partition="aws", region="us-east-1", account="111111111111") == [
        "arn:aws:bedrock:us-east-1:111111111111:agent-alias/ABCDEFGHIJ/TSTALIASID"]
    runtime_arn = "arn:aws:bedrock-agentcore:eu-west-1:333333333333:runtime/support-AbCdE12345"
    runtime = AgentRef.agentcore_runtime(runtime_arn=runtime_arn)
    assert runtime.region("us-east-1") == "eu-west-1" and runtime.account("x") == "333333333333"
    assert AgentRef.parse(runtime.to_json(), "agent") == runtime
    with pytest.raises(InvalidInputError, match=r"agent.alias_id=None is required"):
        AgentRef.parse({"type": "bedrock-agent", "agent_id": "ABCDEFGHIJ"}, "agent")


def test_worker_refs_read_the_workers_file_entry() -> None:
    entry = {"name": "billing", "role_arn": "arn:aws:iam::222222222222:role/mesh-worker-billing",
             "external_id": "secret-value", "region": "us-west-2",
             "agent": {"type": "bedrock-agent", "agent_id": "BILLINGAG1", "alias_id": "LIVEALIAS1"},
             "allowed_tenants": ["acme"]}
    problems = Problems()
    worker = WorkerRef.read(entry, "workers[0]", problems)
    assert not problems and worker is not None and worker.to_json() == entry
    WorkerRef.read({**entry, "external_id": "x", "extra": 1}, "workers[1]", problems)
    assert problems.lines == [
        "workers[1].extra='<present>': is not a worker field; fields are name, role_arn, external_id, region, "
        "agent, allowed_tenants",
        "workers[1].external_id=<redacted>: must be 2-1224 letters, digits and _+=,.@:/-",
    ]


def test_function_settings_default_the_tenant_claim() -> None:
    assert FunctionSettings.from_env({}).tenant_claim == "custom:tenant_id"
    with pytest.raises(InvalidInputError, match="MESH_LIFECYCLE_QUEUE_URL"):
        FunctionSettings.from_env({"MESH_LIFECYCLE_QUEUE_URL": "not a url"})


def test_a_token_is_never_shown_as_if_it_were_the_bad_value() -> None:
    problems = Problems(is_token=lambda v: isinstance(v, str) and v.startswith("${Token"))
    problems.add("role_arn", "${Token[TOKEN.9]}", "must name a role in another account")
    assert problems.lines == ["role_arn=<deploy-time token>: must name a role in another account"]


def test_state_table_keys_start_with_their_kind() -> None:
    from runtime.contract import state

    assert state.tombstone_key("acme", "u1") == {"pk": "ACTOR#acme:u1", "sk": "TOMBSTONE"}
    assert state.job_key("j-1") == {"pk": "JOB#j-1", "sk": "JOB"}
    assert state.tenant_key("acme") == {"pk": "TENANT#acme", "sk": "TENANT"}
    assert state.sweep_key() == {"pk": "SWEEP#retention", "sk": "CURSOR"}
    # A tenant id never holds ':', so "ACTOR#<tenant>:" binds the tenant in a LeadingKeys condition.
    assert not rules.TENANT_ID.matches("ac:me")
