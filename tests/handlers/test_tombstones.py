"""Forget wins over every writer: a write that began before the user's tombstone is refused before it is made,
and one that raced the tombstone is removed right after it, so nothing written after forget started survives."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import pytest

from runtime.credentials import TenantCredentialBroker
from runtime.embeddings import LocalHashEmbedder
from runtime.handlers import forget, lifecycle, summarizer
from runtime.identity import Identity
from runtime.lifecycle.tombstones import ActorForgottenError, TombstoneGuard, write_origin
from runtime.stores import S3VectorsMemoryStore
from runtime.stores.agentcore_events import AgentCoreEvents, TurnMessage, turn_event_message
from runtime.summarizer import summary_job_message
from tests.handlers.lambda_events import TENANT_CLAIM, FakeLambdaContext, actor_of, api_event, claims_for
from tests.handlers.lifecycle_helpers import held, seed_turns

ALICE = Identity("acme", actor_of("alice-sub"))


@pytest.fixture
def env(mesh_env: dict[str, str], state_table: str, lifecycle_queue: str, agents: Any,
        monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("MESH_TENANT_CLAIM", TENANT_CLAIM)
    monkeypatch.setenv("MESH_LIFECYCLE_QUEUE_URL", lifecycle_queue)
    for module in (forget, summarizer, lifecycle):
        module.reset()
    yield agents
    for module in (forget, summarizer, lifecycle):
        module.reset()


def _actor_vectors(aws: Any, identity: Identity) -> int:
    """The user's vectors (in their own index)."""
    return len(aws.stored_vectors(identity.tenant_id, identity.actor_id))


def _forget_now() -> None:
    forget.handler(api_event("DELETE /memories", claims=claims_for("acme", "alice-sub")), FakeLambdaContext())


def test_forget_wins_over_a_summary_in_flight(aws, env):
    agents = env
    seed_turns(aws, ALICE, "I live in Lisbon.", "I prefer trains.", extract=False)
    record = {"messageId": str(uuid.uuid4()), "receiptHandle": "r",
              "body": summary_job_message(ALICE, "s-1", "supervisor"),
              "attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": str(int(time.time() * 1000) - 5)},
              "eventSourceARN": "arn:aws:sqs:us-east-1:111111111111:mesh-summaries"}
    summarize = agents.summary

    def summary_while_the_user_is_forgotten(prompt: str) -> str:
        _forget_now()  # forget runs while the model writes the summary
        return summarize(prompt)

    agents.summary = summary_while_the_user_is_forgotten

    answer = summarizer.handler({"Records": [record]}, FakeLambdaContext(120_000))

    assert answer == {"batchItemFailures": []}  # consumed: a forgotten user's summary is dropped, not retried
    assert len(agents.converse_calls) == 1
    assert _actor_vectors(aws, ALICE) == 0
    assert held(aws, ALICE)["events"] == 0


def _store(aws: Any, guard: TombstoneGuard) -> S3VectorsMemoryStore:
    broker = TenantCredentialBroker(aws.mesh.tvm_role_arn, region=aws.region)
    store = S3VectorsMemoryStore(broker, bucket_name=aws.mesh.bucket_name, index_prefix="tenant-",
                                 embedder=LocalHashEmbedder(256))
    store.tombstones = guard
    return store


def test_a_write_that_raced_the_tombstone_removes_what_it_wrote(aws, env):
    origin = int(time.time() * 1000)
    reads: list[int | None] = []

    def forgotten_at(identity: Identity) -> int | None:
        # Clean at the first check; forget started (tombstone after the write's origin) by the second.
        reads.append(None if not reads else origin + 1)
        return reads[-1]

    store = _store(aws, TombstoneGuard(forgotten_at))
    with write_origin(origin), pytest.raises(ActorForgottenError):
        store.put_memory(ALICE, "I live in Lisbon.", kind="fact")

    assert len(reads) == 2
    assert _actor_vectors(aws, ALICE) == 0


def test_a_write_that_began_after_forget_finished_is_kept(aws, env):
    store = _store(aws, TombstoneGuard(lambda identity: int(time.time() * 1000) - 60_000))
    store.put_memory(ALICE, "I moved to Porto.", kind="fact")
    assert _actor_vectors(aws, ALICE) == 1


def test_a_turn_event_that_raced_the_tombstone_is_deleted(aws, env):
    broker = TenantCredentialBroker(aws.mesh.tvm_role_arn, region=aws.region)
    events = AgentCoreEvents(lambda t, a: broker.client("bedrock-agentcore", t, a), aws.mesh.memory_id)
    origin = int(time.time() * 1000)
    checks: list[int | None] = []

    def forgotten_at(identity: Identity) -> int | None:
        checks.append(None if not checks else origin)
        return checks[-1]

    events.tombstones = TombstoneGuard(forgotten_at)

    with pytest.raises(ActorForgottenError):
        events.record_turn(ALICE, "s-1", [TurnMessage("USER", "I live in Lisbon.")], origin_ms=origin)

    assert held(aws, ALICE)["events"] == 0


def test_a_queued_turn_of_a_forgotten_user_is_dropped_by_the_lifecycle_function(aws, env):
    turn_began = int(time.time() * 1000)
    _forget_now()
    message = turn_event_message(ALICE, "s-1", [TurnMessage("USER", "I live in Lisbon.")], client_token=None,
                                 origin_ms=turn_began)
    record = {"messageId": "m-1", "body": json.dumps(message), "receiptHandle": "r"}

    answer = lifecycle.handler({"Records": [record]}, FakeLambdaContext())

    assert answer == {"batchItemFailures": []}
    assert held(aws, ALICE)["events"] == 0


def test_the_summarizer_reads_the_tombstone_through_the_users_own_session(aws, env, state_table):
    """The store the summarizer builds from its settings carries a guard on the state table."""
    from runtime.settings import MemorySettings

    broker = TenantCredentialBroker(aws.mesh.tvm_role_arn, region=aws.region)
    store = S3VectorsMemoryStore.from_settings(broker, MemorySettings.from_env(), LocalHashEmbedder(256))
    assert store.tombstones is not None
    began = int(time.time() * 1000)
    _forget_now()
    with pytest.raises(ActorForgottenError), write_origin(began):
        store.put_memory(ALICE, "late note", kind="note")


def test_the_orchestrator_and_strands_turn_writers_carry_the_guard(aws, env, orchestrator_env):
    """The stores every turn writer builds from its settings check the tombstone (vectors and events)."""
    from runtime.handlers import orchestrator

    orchestrator.reset()
    mesh = orchestrator._mesh()
    assert mesh.vectors.tombstones is not None and mesh.events.tombstones is not None
    orchestrator.reset()
