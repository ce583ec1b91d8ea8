"""Isolation through the public HTTP handler, enforced by IAM: the orchestrator's identity binding is switched
off (every tenant-scoped client is alice's session), so only the TVM policy the constructs synthesize stands
between one user or tenant and another's memory. The mesh's TVM has ``user`` isolation."""

from __future__ import annotations

from typing import Any

import pytest

from runtime.handlers import orchestrator
from tests.handlers.lambda_events import FakeLambdaContext, actor_of, answer_of, api_event, claims_for, message_event

ALICE = claims_for("acme", "alice")
BOB = claims_for("acme", "bob")
CAROL = claims_for("globex", "carol")


def call(event: Any) -> tuple[int, dict[str, Any]]:
    return answer_of(orchestrator.handler(event, FakeLambdaContext()))


def send(message: str, claims: dict[str, Any], session: str = "s1") -> tuple[int, dict[str, Any]]:
    return call(message_event(session, claims, {"message": message}))


def misbind_to_alice(monkeypatch: pytest.MonkeyPatch) -> None:
    """The application's identity check off: whoever a request is for, the stores get alice's session."""
    from runtime.credentials import TenantCredentialBroker

    original = TenantCredentialBroker.client

    def client(self: Any, service_name: str, tenant_id: str, actor_id: str | None = None) -> Any:
        return original(self, service_name, "acme", actor_of("alice"))

    monkeypatch.setattr(TenantCredentialBroker, "client", client)


def denied(mesh: Any, action: str) -> list[Any]:
    return [d for d in mesh.aws.iam.decisions if d[1] == action and not d[3]]


@pytest.fixture
def seeded(mesh: Any) -> Any:
    """Bob (acme) and carol (globex) each said one thing; extraction made long-term facts of it."""
    for claims, text in ((BOB, "I am Bob and I work in Porto."), (CAROL, "I am Carol and I work in Oslo.")):
        status, _ = send(text, claims)
        assert status == 200
    mesh.aws.agentcore.extract(mesh.memory_id)
    return mesh


@pytest.mark.parametrize(("victim", "marker"), [(BOB, "Porto"), (CAROL, "Oslo")], ids=["other-user", "other-tenant"])
def test_iam_denies_listing_another_users_memories_over_http(seeded, monkeypatch, victim, marker):
    status, body = call(api_event("GET /memories", claims=victim))
    assert status == 200 and any(marker in m["content"] for m in body["memories"])  # the app path works
    misbind_to_alice(monkeypatch)
    orchestrator.reset()
    status, body = call(api_event("GET /memories", claims=victim))
    assert status == 502 and marker not in str(body)  # the listing fails closed
    assert denied(seeded, "s3vectors:ListVectors")


@pytest.mark.parametrize("victim", [BOB, CAROL], ids=["other-user", "other-tenant"])
def test_iam_denies_writing_another_users_turn_over_http(seeded, monkeypatch, victim):
    misbind_to_alice(monkeypatch)
    orchestrator.reset()
    status, body = send("Plant this in someone else's memory.", victim, session="s2")
    assert status == 200 and body["turn_recorded"] == "queued"
    actor = f"{victim['custom:tenant_id']}:{actor_of(victim['sub'])}"
    assert seeded.aws.agentcore.events(seeded.memory_id, actor_id=actor, session_id="s2") == []
    assert denied(seeded, "bedrock-agentcore:CreateEvent")


@pytest.mark.parametrize("victim", [BOB, CAROL], ids=["other-user", "other-tenant"])
def test_iam_denies_recalling_another_users_memories_in_a_turn(seeded, monkeypatch, victim):
    misbind_to_alice(monkeypatch)
    orchestrator.reset()
    status, body = send("Where do I work?", victim, session="s3")
    assert status == 200 and body["memories_used"] == 0
    assert denied(seeded, "bedrock-agentcore:RetrieveMemoryRecords")


def test_iam_denies_deleting_another_users_session_over_http(seeded, monkeypatch):
    misbind_to_alice(monkeypatch)
    orchestrator.reset()
    status, _ = call(api_event("DELETE /sessions/{session_id}", claims=BOB, path_parameters={"session_id": "s1"}))
    assert status >= 400
    actor = f"acme:{actor_of('bob')}"
    assert seeded.aws.agentcore.events(seeded.memory_id, actor_id=actor, session_id="s1")
    assert denied(seeded, "bedrock-agentcore:ListEvents") or denied(seeded, "bedrock-agentcore:DeleteEvent")
