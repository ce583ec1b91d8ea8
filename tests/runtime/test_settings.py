"""MemorySettings.from_env: every MESH_* variable is read, defaulted where safe and validated by name."""

from __future__ import annotations

import dataclasses

import pytest

from runtime.errors import InvalidInputError
from runtime.settings import MemorySettings

ROLE_ARN = "arn:aws:iam::123456789012:role/mesh/TokenVendingRole"
MEMORY_ID = "mesh_memory-AbCdE12345"
QUEUE_URL = "https://sqs.eu-west-1.amazonaws.com/123456789012/mesh-summaries.fifo"

FULL_ENV = {
    "MESH_REGION": "eu-west-1",
    "MESH_VECTOR_BUCKET": "mesh-vectors-123456789012",
    "MESH_INDEX_PREFIX": "mem-",
    "MESH_EMBEDDING_DIMENSION": "3072",
    "MESH_DISTANCE_METRIC": "euclidean",
    "MESH_EMBEDDING_MODEL_ID": "eu.amazon.nova-2-multimodal-embeddings-v1:0",
    "MESH_MEMORY_ID": MEMORY_ID,
    "MESH_TVM_ROLE_ARN": ROLE_ARN,
    "MESH_SUMMARY_MODEL_ID": "eu.amazon.nova-pro-v1:0",
    "MESH_SUMMARY_QUEUE_URL": QUEUE_URL,
    "MESH_RETENTION_DAYS": "30",
    "MESH_CONTENT_MAX_BYTES": "8192",
}
MINIMAL_ENV = {
    "AWS_REGION": "us-east-1",
    "MESH_VECTOR_BUCKET": "mesh-vectors",
    "MESH_MEMORY_ID": MEMORY_ID,
    "MESH_TVM_ROLE_ARN": ROLE_ARN,
    "MESH_INDEX_PREFIX": "tenant-",
}


def test_reads_every_variable():
    settings = MemorySettings.from_env(FULL_ENV)
    assert settings == MemorySettings(
        region="eu-west-1",
        vector_bucket_name="mesh-vectors-123456789012",
        index_prefix="mem-",
        embedding_dimension=3072,
        distance_metric="euclidean",
        embedding_model_id="eu.amazon.nova-2-multimodal-embeddings-v1:0",
        memory_id=MEMORY_ID,
        tvm_role_arn=ROLE_ARN,
        isolation="user",
        summary_model_id="eu.amazon.nova-pro-v1:0",
        summary_queue_url=QUEUE_URL,
        retention_days=30,
        content_max_bytes=8192,
    )
    assert settings.user_index_name("acme", "a" * 64).startswith("mem-acme.")


def test_defaults_for_optional_variables():
    settings = MemorySettings.from_env(MINIMAL_ENV)
    assert settings.region == "us-east-1"  # from AWS_REGION, which Lambda sets
    assert settings.isolation == "user"
    assert settings.state_table_name is None
    assert settings.embedding_dimension == 1024
    assert settings.distance_metric == "cosine"
    assert settings.embedding_model_id == "amazon.titan-embed-text-v2:0"
    assert settings.summary_model_id == "amazon.nova-lite-v1:0"
    assert settings.summary_queue_url is None
    assert settings.retention_days == 90
    assert settings.content_max_bytes == 16384


def test_region_precedence():
    env = MINIMAL_ENV | {"MESH_REGION": "ap-southeast-2", "AWS_DEFAULT_REGION": "eu-central-1"}
    assert MemorySettings.from_env(env).region == "ap-southeast-2"
    env = {k: v for k, v in MINIMAL_ENV.items() if k != "AWS_REGION"} | {"AWS_DEFAULT_REGION": "eu-central-1"}
    assert MemorySettings.from_env(env).region == "eu-central-1"


def test_blank_values_count_as_missing():
    settings = MemorySettings.from_env(MINIMAL_ENV | {"MESH_SUMMARY_QUEUE_URL": "  ", "MESH_STATE_TABLE": ""})
    assert settings.summary_queue_url is None and settings.state_table_name is None


@pytest.mark.parametrize(
    ("missing", "message"),
    [
        ("MESH_VECTOR_BUCKET", "MESH_VECTOR_BUCKET=None is required: 3-63 lowercase letters"),
        ("MESH_MEMORY_ID", "MESH_MEMORY_ID=None is required: an AgentCore Memory id"),
        ("MESH_TVM_ROLE_ARN", "MESH_TVM_ROLE_ARN=None is required: an IAM role ARN"),
        ("AWS_REGION", "MESH_REGION=None is required: an AWS Region code"),
        ("MESH_INDEX_PREFIX", "MESH_INDEX_PREFIX=None is required: 1-20 lowercase letters"),
    ],
)
def test_missing_required_variable_is_named(missing, message):
    env = {k: v for k, v in MINIMAL_ENV.items() if k != missing}
    with pytest.raises(InvalidInputError) as err:
        MemorySettings.from_env(env)
    assert str(err.value).startswith(message)


@pytest.mark.parametrize(
    ("var", "value", "rule"),
    [
        ("MESH_REGION", "us_east_1", "must be an AWS Region code such as 'us-east-1'"),
        (
            "MESH_VECTOR_BUCKET",
            "Mesh_Vectors",
            "must be 3-63 lowercase letters, digits and '-', starting and ending with a letter or digit",
        ),
        ("MESH_VECTOR_BUCKET", "vectors-*", None),
        (
            "MESH_INDEX_PREFIX",
            "Mem_",
            "must be 1-20 lowercase letters, digits, '-' or '.', starting with a letter or digit",
        ),
        ("MESH_EMBEDDING_DIMENSION", "0", "must be a whole number from 1 to 4096"),
        ("MESH_EMBEDDING_DIMENSION", "4097", "must be a whole number from 1 to 4096"),
        ("MESH_EMBEDDING_DIMENSION", "1e3", "must be a whole number from 1 to 4096"),
        ("MESH_DISTANCE_METRIC", "dot", "must be one of 'cosine', 'euclidean'"),
        ("MESH_ISOLATION", "team", "must be one of 'tenant', 'user'"),
        ("MESH_STATE_TABLE", "t", "must be 3-255 letters, digits, '_', '-' and '.' (a DynamoDB table name)"),
        ("MESH_EMBEDDING_MODEL_ID", "amazon.titan-embed-*",
         "must be a Bedrock model id, inference profile id or ARN such as 'amazon.titan-embed-text-v2:0'"),
        (
            "MESH_MEMORY_ID",
            "memory",
            "must be an AgentCore Memory id such as 'mesh_memory-AbCdE12345' or its ARN",
        ),
        (
            "MESH_TVM_ROLE_ARN",
            "arn:aws:iam::123456789012:user/alice",
            "must be an IAM role ARN such as 'arn:aws:iam::123456789012:role/name'",
        ),
        ("MESH_TVM_ROLE_ARN", "arn:aws:iam::*:role/x", None),
        ("MESH_SUMMARY_MODEL_ID", "model with spaces",
         "must be a Bedrock model id, inference profile id or ARN such as 'amazon.titan-embed-text-v2:0'"),
        (
            "MESH_SUMMARY_QUEUE_URL",
            "http://sqs.eu-west-1.amazonaws.com/123456789012/q",
            "must be an SQS queue URL such as 'https://sqs.us-east-1.amazonaws.com/123456789012/name'",
        ),
        ("MESH_RETENTION_DAYS", "0", "must be a whole number from 1 to 3650"),
        ("MESH_RETENTION_DAYS", "3651", "must be a whole number from 1 to 3650"),
        ("MESH_RETENTION_DAYS", "-5", "must be a whole number from 1 to 3650"),
        ("MESH_CONTENT_MAX_BYTES", "40000", "must be a whole number from 1 to 36864"),
    ],
)
def test_invalid_variable_is_named_with_value_and_rule(var, value, rule):
    with pytest.raises(InvalidInputError) as err:
        MemorySettings.from_env(FULL_ENV | {var: value})
    assert err.value.field == var
    assert err.value.value == repr(int(value) if value.isdigit() else value)
    if rule is not None:
        assert err.value.rule == rule


@pytest.mark.parametrize(
    ("model", "dimension"),
    [
        ("amazon.titan-embed-text-v2:0", "256"),
        ("amazon.nova-2-multimodal-embeddings-v1:0", "384"),
        ("us.amazon.nova-2-multimodal-embeddings-v1:0", "3072"),
        ("arn:aws:bedrock:us-east-1::foundation-model/amazon.titan-embed-text-v2:0", "512"),
    ],
)
def test_dimension_fits_the_embedding_model(model, dimension):
    env = MINIMAL_ENV | {"MESH_EMBEDDING_MODEL_ID": model, "MESH_EMBEDDING_DIMENSION": dimension}
    assert MemorySettings.from_env(env).embedding_dimension == int(dimension)


def test_titan_rejects_a_nova_only_dimension():
    with pytest.raises(InvalidInputError) as err:
        MemorySettings.from_env(MINIMAL_ENV | {"MESH_EMBEDDING_DIMENSION": "384"})
    assert str(err.value) == (
        "MESH_EMBEDDING_DIMENSION=384 is invalid: amazon.titan-embed-text-v2:0 embeds at 256, 512, 1024"
    )


def test_nova_rejects_titan_only_dimension():
    env = MINIMAL_ENV | {
        "MESH_EMBEDDING_MODEL_ID": "amazon.nova-2-multimodal-embeddings-v1:0",
        "MESH_EMBEDDING_DIMENSION": "512",
    }
    with pytest.raises(InvalidInputError) as err:
        MemorySettings.from_env(env)
    assert str(err.value) == (
        "MESH_EMBEDDING_DIMENSION=512 is invalid: amazon.nova-2-multimodal-embeddings-v1:0 embeds at "
        "256, 384, 1024, 3072"
    )


@pytest.mark.parametrize(
    "arn",
    [
        "arn:aws:bedrock-agentcore:us-east-1:123456789012:memory/mesh_memory-AbCdE12345",
        "arn:aws-us-gov:bedrock-agentcore:us-gov-west-1:123456789012:memory/m-0123456789",
    ],
)
def test_memory_id_may_be_an_arn(arn):
    assert MemorySettings.from_env(MINIMAL_ENV | {"MESH_MEMORY_ID": arn}).memory_id == arn


def test_unknown_embedding_models_are_named():
    with pytest.raises(InvalidInputError) as err:
        MemorySettings.from_env(MINIMAL_ENV | {"MESH_EMBEDDING_MODEL_ID": "cohere.embed-english-v3"})
    assert err.value.field == "MESH_EMBEDDING_DIMENSION" and "must be one of" in err.value.rule


def test_user_index_names_need_room_for_the_user_part():
    settings = MemorySettings.from_env(MINIMAL_ENV | {"MESH_INDEX_PREFIX": "p" * 20})
    assert settings.user_index_name("t" * 29, "a" * 64).startswith("p" * 20 + "t" * 29 + ".")
    with pytest.raises(ValueError, match="at most 49 characters"):
        settings.user_index_name("t" * 30, "a" * 64)


def test_direct_construction_is_validated_with_field_names():
    good = MemorySettings.from_env(MINIMAL_ENV)
    with pytest.raises(InvalidInputError) as err:
        dataclasses.replace(good, embedding_dimension=5000)
    assert str(err.value) == "embedding_dimension=5000 is invalid: must be a whole number from 1 to 4096"
    with pytest.raises(InvalidInputError) as err:
        dataclasses.replace(good, distance_metric="dot")
    assert err.value.field == "distance_metric"


def test_settings_are_frozen():
    settings = MemorySettings.from_env(MINIMAL_ENV)
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.region = "us-west-2"  # type: ignore[misc]
