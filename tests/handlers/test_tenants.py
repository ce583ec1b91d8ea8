"""The operator API: onboarding records, offboarding a tenant everywhere as a resumable job with a receipt,
refused (409) while the tenant is declared in the deployment config; jobs readable by id."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from runtime.handlers import lifecycle, tenants
from runtime.identity import Identity
from runtime.lifecycle.state import StateTable
from tests.handlers.lambda_events import (
    SUPERVISOR_AGENT_ID,
    SUPERVISOR_ALIAS_ID,
    FakeLambdaContext,
    answer_of,
    api_event,
    supervisor_script,
)
from tests.handlers.lifecycle_helpers import held, seed_turns, seed_vectors
from tests.handlers.test_forget import drain

NEWCO = [Identity("newco", f"user{i}") for i in range(3)]
ACME = Identity("acme", "alice")


def _call(route: str, **params: str) -> tuple[int, dict[str, Any]]:
    # The operator API is IAM-authorized: its events carry no JWT claims.
    return answer_of(tenants.handler(api_event(route, claims=None, path_parameters=params), FakeLambdaContext()))


@pytest.fixture
def env(mesh_env: dict[str, str], state_table: str, lifecycle_queue: str, agents: Any, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    agents.bedrock_agent(SUPERVISOR_AGENT_ID, SUPERVISOR_ALIAS_ID, supervisor_script)
    declared = tmp_path / "tenants.json"
    declared.write_text(json.dumps(["acme", "globex"]))
    monkeypatch.setenv("MESH_TENANTS_FILE", str(declared))
    monkeypatch.setenv("MESH_LIFECYCLE_QUEUE_URL", lifecycle_queue)
    monkeypatch.setenv("MESH_SUPERVISOR_AGENT", json.dumps(
        {"type": "bedrock-agent", "agent_id": SUPERVISOR_AGENT_ID, "alias_id": SUPERVISOR_ALIAS_ID}))
    tenants.reset()
    lifecycle.reset()
    yield declared
    tenants.reset()
    lifecycle.reset()


def test_onboarding_writes_the_record_once(aws, env, state_table):
    first = _call("PUT /tenants/{tenant_id}", tenant_id="newco")
    second = _call("PUT /tenants/{tenant_id}", tenant_id="newco")
    assert first[0] == 201 and first[1]["created"] is True
    assert second[0] == 200 and second[1]["created"] is False
    record = StateTable(aws.client("dynamodb"), state_table).get_tenant("newco")
    assert record is not None and record["tenant_id"] == "newco"


def test_offboarding_erases_the_tenant_everywhere_and_nothing_else(aws, env, lifecycle_queue, state_table):
    _call("PUT /tenants/{tenant_id}", tenant_id="newco")
    for identity in (*NEWCO, ACME):
        seed_vectors(aws, identity, 3)
        seed_turns(aws, identity, "I live in Lisbon.", "I prefer trains.")
    acme_before = held(aws, ACME)

    status, body = _call("DELETE /tenants/{tenant_id}", tenant_id="newco")
    assert status == 202 and body["status"] == "running" and body["kind"] == "offboard"
    drain(aws, lifecycle_queue)

    status, job = _call("GET /jobs/{job_id}", job_id=body["job_id"])
    assert status == 200 and job["status"] == "succeeded"
    deleted = job["receipt"]["deleted"]
    assert deleted["s3vectors"] == 3 and deleted["tenant_record"] == 1
    assert job["stores"]["agentcore"]["details"]["actors"] == 3
    assert all(held(aws, identity) == {"vectors": 0, "events": 0, "records": 0} for identity in NEWCO)
    assert held(aws, ACME) == acme_before
    table = StateTable(aws.client("dynamodb"), state_table)
    assert table.get_tenant("newco") is None
    assert all(table.forgotten_at("newco", identity.actor_id) is not None for identity in NEWCO)


def test_a_declared_tenant_is_refused_with_409_and_nothing_is_touched(aws, env):
    seed_vectors(aws, ACME, 2)
    before = aws.call_count("s3vectors")
    status, body = _call("DELETE /tenants/{tenant_id}", tenant_id="acme")
    assert status == 409 and body["error"]["code"] == "TenantDeclared" and "acme" in body["error"]["message"]
    assert aws.call_count("s3vectors") == before and held(aws, ACME)["vectors"] == 2


def test_an_unreadable_declared_tenants_file_refuses_offboarding(aws, env):
    env.write_text("not json")
    status, _ = _call("DELETE /tenants/{tenant_id}", tenant_id="newco")
    assert status == 500


@pytest.mark.parametrize("route, params, field", [
    ("PUT /tenants/{tenant_id}", {"tenant_id": "Bad Tenant!"}, "tenant_id"),
    ("DELETE /tenants/{tenant_id}", {"tenant_id": "x" * 80}, "tenant_id"),
    ("GET /jobs/{job_id}", {"job_id": "nope"}, "job_id"),
])
def test_bad_ids_are_400s_naming_the_field(aws, env, route, params, field):
    status, body = _call(route, **params)
    assert status == 400 and field in body["error"]["message"]


def test_an_unknown_job_is_404(aws, env):
    status, body = _call("GET /jobs/{job_id}", job_id="0" * 32)
    assert status == 404
