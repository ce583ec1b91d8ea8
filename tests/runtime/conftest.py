"""Shared runtime fixtures: AWS emulated in-process (moto + the project's fakes), offline and per test."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest

# Installs the emulation's botocore handlers before any test module creates a client at import time.
import runtime.testing.aws  # noqa: F401

REGION = "us-east-1"
ACCOUNT_ID = "111111111111"
BUCKET = "mesh-test-bucket"
INDEX_PREFIX = "tenant-"
DIMENSION = 256
EMBEDDING_MODEL_ID = "amazon.titan-embed-text-v2:0"
SUMMARY_MODEL_ID = "amazon.nova-lite-v1:0"


@pytest.fixture
def aws_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fake credentials and region in the environment; no profile or shared file can leak in."""
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
        "AWS_CONFIG_FILE": "/nonexistent/aws-config",
        "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent/aws-credentials",
        "AWS_EC2_METADATA_DISABLED": "true",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)


@pytest.fixture
def aws(aws_credentials: None, request: pytest.FixtureRequest) -> Iterator[Any]:
    """An active ``EmulatedAws`` with the mesh laid out: vector bucket ``mesh-test-bucket`` (index prefix
    ``tenant-``, dimension 256, cosine, ``content`` non-filterable), an AgentCore memory with summary / fact /
    preference strategies (``aws.mesh.memory_id``), the state table, and the token vending machine the constructs
    synthesize (``user`` isolation, role ``aws.mesh.tvm_role_arn``, trusting the test's own credentials), whose
    policies IAM evaluates for every call made with a session it vends."""
    from runtime.testing import emulated_aws

    with emulated_aws(REGION, ACCOUNT_ID) as emulation:
        marker = request.node.get_closest_marker("isolation")
        emulation.setup_mesh(bucket_name=BUCKET, index_prefix=INDEX_PREFIX, dimension=DIMENSION,
                             isolation=marker.args[0] if marker else "user")
        yield emulation


@pytest.fixture
def mesh_env(aws: Any, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """The MESH_* variables a Lambda would get, pointing at the emulated mesh (for MemorySettings.from_env)."""
    layout = aws.mesh
    values = {
        "MESH_REGION": REGION,
        "MESH_VECTOR_BUCKET": layout.bucket_name,
        "MESH_INDEX_PREFIX": layout.index_prefix,
        "MESH_EMBEDDING_DIMENSION": str(layout.dimension),
        "MESH_DISTANCE_METRIC": layout.distance_metric,
        "MESH_EMBEDDING_MODEL_ID": EMBEDDING_MODEL_ID,
        "MESH_MEMORY_ID": layout.memory_id,
        "MESH_TVM_ROLE_ARN": layout.tvm_role_arn,
        "MESH_SUMMARY_MODEL_ID": SUMMARY_MODEL_ID,
        "MESH_RETENTION_DAYS": "30",
        "MESH_CONTENT_MAX_BYTES": "16384",
    }
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    return values


@pytest.fixture
def tenant_index(aws: Any) -> Callable[[str], str]:
    """A tenant needs no set-up (each user's index is made on their first write); returns its index prefix."""

    def prefix(tenant_id: str) -> str:
        return f"{aws.mesh.index_prefix}{tenant_id}."

    return prefix


@pytest.fixture
def tenant_client(aws: Any) -> Callable[..., Any]:
    """A client on credentials vended like the broker does (AssumeRole with TenantID[/ActorID] session tags and the
    actor as SourceIdentity), by the test's own credentials, which the emulated TVM trusts."""

    def make(service_name: str, tenant_id: str, actor_id: str | None = None) -> Any:
        tags = [{"Key": "TenantID", "Value": tenant_id}]
        if actor_id is not None:
            tags.append({"Key": "ActorID", "Value": actor_id})
        sts = boto3.client("sts", region_name=REGION)
        extra = {"SourceIdentity": actor_id} if actor_id is not None else {}
        credentials = sts.assume_role(
            RoleArn=aws.mesh.tvm_role_arn, RoleSessionName=f"test-{tenant_id}", Tags=tags, **extra
        )["Credentials"]
        session = boto3.session.Session(
            aws_access_key_id=credentials["AccessKeyId"],
            aws_secret_access_key=credentials["SecretAccessKey"],
            aws_session_token=credentials["SessionToken"],
            region_name=REGION,
        )
        return session.client(service_name)

    return make
