"""The tenant onboarding Lambda against the S3 Vectors fake: idempotent index creation, validated ids."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from runtime.stores._limits import NON_FILTERABLE_KEYS
from runtime.handlers import onboarding
from tests.handlers.lambda_events import api_event, claims_for

BUCKET = "mesh-test-bucket"
KMS_KEY_ARN = "arn:aws:kms:us-east-1:111111111111:key/1234abcd-12ab-34cd-56ef-1234567890ab"
TENANT_RULE = "3-40 lowercase letters, digits and '-', starting and ending with a letter or digit"
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=12,
)


@pytest.fixture
def env(mesh_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    monkeypatch.delenv(onboarding.KMS_KEY_ENV, raising=False)
    onboarding.reset()
    yield mesh_env
    onboarding.reset()


def _indexes(aws: Any) -> dict[str, Any]:
    return dict(aws.s3vectors.bucket(BUCKET).indexes)


def test_onboarding_creates_the_index_once_and_then_reports_it_exists(aws, env, lambda_context):
    first = onboarding.handler({"tenant_id": "newco"}, lambda_context)
    second = onboarding.handler({"tenant_id": "newco"}, lambda_context)

    assert first == {"statusCode": 201, "tenant_id": "newco", "index_name": "tenant-newco", "created": True}
    assert second == {"statusCode": 200, "tenant_id": "newco", "index_name": "tenant-newco", "created": False}
    indexes = _indexes(aws)
    assert list(indexes) == ["tenant-newco"]
    index = indexes["tenant-newco"]
    assert (index.dimension, index.distance_metric, index.data_type) == (256, "cosine", "float32")
    assert index.non_filterable_keys == NON_FILTERABLE_KEYS


def test_the_index_is_encrypted_with_the_configured_kms_key(aws, env, lambda_context, monkeypatch):
    monkeypatch.setenv(onboarding.KMS_KEY_ENV, KMS_KEY_ARN)
    assert onboarding.handler({"tenant_id": "newco"}, lambda_context)["created"] is True
    assert _indexes(aws)["tenant-newco"].encryption == {"sseType": "aws:kms", "kmsKeyArn": KMS_KEY_ARN}


def test_onboarding_uses_the_functions_own_role_not_the_tvm(aws, env, lambda_context):
    onboarding.handler({"tenant_id": "newco"}, lambda_context)
    assert aws.abac.assume_role_calls() == []


@pytest.mark.parametrize(
    "tenant_id",
    ["", "ab", "Acme", "acme_corp", "-acme", "acme-", "acme.corp", "a" * 41, "ac me", "acme*", 42, None, ["acme"]],
)
def test_invalid_tenant_ids_are_rejected_with_the_rule(aws, env, lambda_context, tenant_id):
    answer = onboarding.handler({"tenant_id": tenant_id}, lambda_context)
    assert answer["statusCode"] == 400
    assert answer["error"]["code"] == "InvalidInput"
    assert answer["error"]["message"].startswith("tenant_id=")
    assert TENANT_RULE in answer["error"]["message"]
    assert _indexes(aws) == {}


def test_a_tenant_whose_index_names_would_exceed_63_characters_is_rejected(aws, env, lambda_context, monkeypatch):
    monkeypatch.setenv("MESH_INDEX_PREFIX", "p" * 19 + "-")
    answer = onboarding.handler({"tenant_id": "t" * 40}, lambda_context)
    assert answer["statusCode"] == 400
    assert "must be at most 49 characters" in answer["error"]["message"]


@pytest.mark.parametrize(
    ("event", "field"),
    [
        ({}, "tenant_id=None"),
        ({"tenant_id": "newco", "dimension": 8}, "payload.dimension"),
        ("newco", "event="),
        (["newco"], "event="),
    ],
)
def test_malformed_payloads_are_rejected_naming_the_field(aws, env, lambda_context, event, field):
    answer = onboarding.handler(event, lambda_context)
    assert answer["statusCode"] == 400
    assert answer["error"]["message"].startswith(field)


def test_onboarding_is_not_an_api_route(aws, env, lambda_context):
    event = api_event("POST /tenants", claims=claims_for("acme", "alice"), body={"tenant_id": "newco"})
    response = onboarding.handler(event, lambda_context)
    assert response["statusCode"] == 400
    assert _indexes(aws) == {}


def test_an_existing_index_with_other_settings_is_a_conflict(aws, env, lambda_context):
    aws.create_index(BUCKET, "tenant-oldco", dimension=512, non_filterable_keys=("content",))
    answer = onboarding.handler({"tenant_id": "oldco"}, lambda_context)
    assert answer["statusCode"] == 409
    assert answer["error"]["code"] == "IndexConflict"
    assert "dimension 512 (expected 256)" in answer["error"]["message"]


def test_broken_configuration_answers_a_generic_500(aws, env, lambda_context, monkeypatch):
    monkeypatch.setenv(onboarding.KMS_KEY_ENV, "alias/mesh")
    answer = onboarding.handler({"tenant_id": "newco"}, lambda_context)
    assert answer == {
        "statusCode": 500,
        "error": {"code": "InternalError", "message": "the request failed because of an internal error"},
    }
    assert _indexes(aws) == {}


_PAYLOADS = st.fixed_dictionaries(
    {},
    optional={
        "tenant_id": st.from_regex(r"[a-z0-9-]{0,45}", fullmatch=True) | JSON_VALUES,
        "extra": JSON_VALUES,
    },
) | JSON_VALUES


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(event=_PAYLOADS)
def test_no_payload_makes_onboarding_raise(aws, env, event):
    answer = onboarding.handler(event, None)
    assert answer["statusCode"] in (200, 201, 400)
    if answer["statusCode"] == 400:
        assert set(answer["error"]) == {"code", "message"}
    else:
        assert answer["index_name"] in _indexes(aws)
