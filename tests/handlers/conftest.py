"""Handler fixtures: the emulated mesh of tests/runtime, scripted agents, a workers file, a fake Lambda context."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

# Installs the emulations' botocore handlers before any client is created.
import runtime.testing.agents_fake  # noqa: F401
import runtime.testing.aws  # noqa: F401
from tests.handlers.lambda_events import (
    QUEUE_NAME,
    SUPERVISOR_AGENT_ID,
    SUPERVISOR_ALIAS_ID,
    TENANT_CLAIM,
    FakeLambdaContext,
    workers_document,
)
from tests.runtime.conftest import (  # noqa: F401  (shared fixtures)
    ACCOUNT_ID,
    BUCKET,
    DIMENSION,
    INDEX_PREFIX,
    REGION,
    aws_credentials,
    mesh_env,
    tenant_index,
)


@pytest.fixture
def aws(aws_credentials: None) -> Iterator[Any]:  # noqa: F811  (pytest injects the imported fixture by this name)
    """The runtime tests' emulated mesh plus the workers file's access roles, synthesized by the constructs and
    trusting the test's own credentials (the orchestrator runs with them)."""
    from runtime.testing import emulated_aws
    from runtime.testing.mesh_stacks import worker_roles

    with emulated_aws(REGION, ACCOUNT_ID) as emulation:
        emulation.setup_mesh(bucket_name=BUCKET, index_prefix=INDEX_PREFIX, dimension=DIMENSION,
                             workers=worker_roles(workers_document()))
        yield emulation


@pytest.fixture
def workers_file(tmp_path: Path) -> Path:
    path = tmp_path / "workers.json"
    path.write_text(json.dumps(workers_document()))
    return path


@pytest.fixture
def agents(aws: Any) -> Iterator[Any]:
    """Scripted Bedrock agents and models over the emulated mesh."""
    from runtime.testing.agents_fake import scripted_agents

    with scripted_agents(aws) as scripted:
        yield scripted


@pytest.fixture
def summary_queue(aws: Any) -> str:
    return aws.client("sqs").create_queue(QueueName=QUEUE_NAME)["QueueUrl"]


@pytest.fixture
def lifecycle_queue(aws: Any) -> str:
    return aws.client("sqs").create_queue(QueueName="mesh-lifecycle")["QueueUrl"]


@pytest.fixture
def orchestrator_env(
    mesh_env: dict[str, str], workers_file: Path, summary_queue: str, lifecycle_queue: str,  # noqa: F811  (pytest injects the imported fixture by this name)
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[dict[str, str]]:
    """Everything the orchestrator's environment holds in a deployment, pointing at the emulated mesh."""
    from runtime.handlers import orchestrator

    values = {
        **mesh_env,
        "MESH_SUPERVISOR_AGENT": json.dumps(
            {"type": "bedrock-agent", "agent_id": SUPERVISOR_AGENT_ID, "alias_id": SUPERVISOR_ALIAS_ID},
            separators=(",", ":"),
        ),
        "MESH_WORKERS_FILE": str(workers_file),
        "MESH_TENANT_CLAIM": TENANT_CLAIM,
        "MESH_SUMMARY_QUEUE_URL": summary_queue,
        "MESH_LIFECYCLE_QUEUE_URL": lifecycle_queue,
        "POWERTOOLS_SERVICE_NAME": "mesh-orchestrator",
        "POWERTOOLS_METRICS_NAMESPACE": "AgentMemoryMesh",
    }
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    orchestrator.reset()
    yield values
    orchestrator.reset()


@pytest.fixture
def lambda_context() -> FakeLambdaContext:
    return FakeLambdaContext()


@pytest.fixture
def tenants(tenant_index: Callable[[str], str]) -> tuple[str, ...]:  # noqa: F811  (pytest injects the imported fixture by this name)
    """Acme and globex onboarded (their indexes exist)."""
    for tenant in ("acme", "globex"):
        tenant_index(tenant)
    return ("acme", "globex")


@pytest.fixture
def mesh(orchestrator_env: dict[str, str], agents: Any, tenants: tuple[str, ...], aws: Any) -> Any:
    """The whole mesh: supervisor in this account, billing (Bedrock Agent, 222222222222, us-west-2) and support
    (AgentCore Runtime, 333333333333, eu-west-1) workers, tenants acme and globex onboarded."""
    from types import SimpleNamespace

    from tests.handlers.lambda_events import (
        BILLING_AGENT_ID,
        BILLING_ALIAS_ID,
        SUPPORT_RUNTIME_ARN,
        WORKER_ACCOUNT,
        WORKER_REGION,
        billing_script,
        supervisor_script,
        support_script,
    )

    agents.bedrock_agent(SUPERVISOR_AGENT_ID, SUPERVISOR_ALIAS_ID, supervisor_script)
    agents.bedrock_agent(
        BILLING_AGENT_ID, BILLING_ALIAS_ID, billing_script, account_id=WORKER_ACCOUNT, region=WORKER_REGION
    )
    agents.agentcore_runtime(SUPPORT_RUNTIME_ARN, support_script)
    return SimpleNamespace(aws=aws, agents=agents, env=orchestrator_env, memory_id=aws.mesh.memory_id)


@pytest.fixture
def state_table(aws: Any, monkeypatch: pytest.MonkeyPatch) -> str:
    """The mesh state table the constructs deployed (``pk``/``sk``; the TVM may read its own tombstone there),
    named in ``MESH_STATE_TABLE``."""
    name = str(aws.mesh.state_table)
    monkeypatch.setenv("MESH_STATE_TABLE", name)
    return name
