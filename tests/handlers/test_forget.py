"""Forget as a resumable job: tombstone first, 202 and a job id, steps continued from the lifecycle queue, a
receipt per store, loud failure on a missing store, and the job shown to its own user only."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from runtime.handlers import forget, lifecycle
from runtime.identity import Identity
from runtime.lifecycle.state import StateTable
from tests.handlers.lambda_events import (
    SUPERVISOR_AGENT_ID,
    SUPERVISOR_ALIAS_ID,
    TENANT_CLAIM,
    FakeLambdaContext,
    actor_of,
    answer_of,
    api_event,
    claims_for,
    supervisor_script,
)
from tests.handlers.lifecycle_helpers import held, seed_turns, seed_vectors

ROUTE = "DELETE /memories"
JOB_ROUTE = "GET /forget/{job_id}"
ALICE = Identity("acme", actor_of("alice-sub"))
BOB = Identity("acme", actor_of("bob-sub"))
GLOBEX_ALICE = Identity("globex", actor_of("alice-sub"))


@pytest.fixture
def env(mesh_env: dict[str, str], state_table: str, lifecycle_queue: str, agents: Any,
        monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    agents.bedrock_agent(SUPERVISOR_AGENT_ID, SUPERVISOR_ALIAS_ID, supervisor_script)
    values = {
        "MESH_TENANT_CLAIM": TENANT_CLAIM,
        "MESH_LIFECYCLE_QUEUE_URL": lifecycle_queue,
        "MESH_SUPERVISOR_AGENT": json.dumps({"type": "bedrock-agent", "agent_id": SUPERVISOR_AGENT_ID,
                                             "alias_id": SUPERVISOR_ALIAS_ID}),
    }
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    forget.reset()
    lifecycle.reset()
    yield {**mesh_env, **values}
    forget.reset()
    lifecycle.reset()


def _everyone(aws: Any) -> None:
    for identity, count in ((ALICE, 30), (BOB, 4), (GLOBEX_ALICE, 3)):
        seed_vectors(aws, identity, count)
        seed_turns(aws, identity, "I live in Lisbon.", "I prefer trains.", session_id="s-1")
        seed_turns(aws, identity, "My dog is Rex.", session_id="s-2")


def _forget(sub: str, tenant: str = "acme", context: Any = None) -> tuple[int, dict[str, Any]]:
    return answer_of(forget.handler(api_event(ROUTE, claims=claims_for(tenant, sub)), context or FakeLambdaContext()))


def _job(sub: str, job_id: str, tenant: str = "acme") -> tuple[int, dict[str, Any]]:
    event = api_event(JOB_ROUTE, claims=claims_for(tenant, sub), path_parameters={"job_id": job_id})
    return answer_of(forget.handler(event, FakeLambdaContext()))


class TickingContext(FakeLambdaContext):
    """A Lambda context whose clock moves ``tick_ms`` every time the handler reads it."""

    def __init__(self, remaining_ms: int, tick_ms: int) -> None:
        super().__init__(remaining_ms)
        self._tick = tick_ms

    def get_remaining_time_in_millis(self) -> int:
        self.advance(self._tick / 1000)
        return super().get_remaining_time_in_millis()


def drain(aws: Any, queue_url: str, context_ms: int = 30_000, limit: int = 50, tick_ms: int = 0) -> int:
    """Deliver every visible lifecycle message to the lifecycle handler, as SQS would; returns invocations."""
    sqs = aws.client("sqs")
    invocations = 0
    for _ in range(limit):
        messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=1).get("Messages", [])
        if not messages:
            return invocations
        message = messages[0]
        record = {"messageId": message["MessageId"], "body": message["Body"], "receiptHandle": "r",
                  "eventSourceARN": "arn:aws:sqs:us-east-1:111111111111:mesh-lifecycle"}
        answer = lifecycle.handler({"Records": [record]}, TickingContext(context_ms, tick_ms))
        invocations += 1
        if not answer["batchItemFailures"]:
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
    raise AssertionError("the lifecycle queue never drained")


def test_forget_answers_202_deletes_every_copy_of_the_user_and_nothing_else(aws, env, agents):
    _everyone(aws)
    before = {i: held(aws, i) for i in (ALICE, BOB, GLOBEX_ALICE)}
    assert all(all(v for v in h.values()) for h in before.values())

    status, body = _forget("alice-sub")

    assert status == 202
    assert body["status"] == "succeeded" and len(body["job_id"]) == 32
    assert held(aws, ALICE) == {"vectors": 0, "events": 0, "records": 0}
    assert held(aws, BOB) == before[BOB] and held(aws, GLOBEX_ALICE) == before[GLOBEX_ALICE]
    receipt = body["receipt"]
    assert receipt["deleted"] == {"s3vectors": 1, "agentcore_events": before[ALICE]["events"],
                                  "agentcore_records": before[ALICE]["records"], "bedrock_agent": 1}
    assert receipt["actor_hash"] == body["actor_hash"] and ALICE.actor_id not in json.dumps(body)
    assert receipt["finished_at"].endswith("Z")


def test_the_tombstone_is_recorded_before_anything_is_deleted(aws, env, state_table):
    seed_vectors(aws, ALICE, 2)
    status, body = _forget("alice-sub")
    table = StateTable(aws.client("dynamodb"), state_table)
    tombstone = table.forgotten_at(ALICE.tenant_id, ALICE.actor_id)
    job = table.get_job(body["job_id"])
    assert status == 202 and job is not None and tombstone == job["started_ms"]


def test_the_job_resumes_from_the_lifecycle_queue_until_it_finishes(aws, env, lifecycle_queue):
    _everyone(aws)
    alice = held(aws, ALICE)

    # A first invocation with almost no time left starts the job and leaves the work to the queue.
    status, body = _forget("alice-sub", context=TickingContext(4_000, 150))
    assert status == 202 and body["status"] == "running"

    # Each lifecycle invocation gets only a few steps' worth of time: the job needs several.
    invocations = drain(aws, lifecycle_queue, context_ms=4_500, tick_ms=150)

    assert invocations >= 2
    status, body = _job("alice-sub", body["job_id"])
    assert status == 200 and body["status"] == "succeeded"
    assert body["receipt"]["deleted"]["agentcore_events"] == alice["events"]
    assert held(aws, ALICE) == {"vectors": 0, "events": 0, "records": 0}


def test_the_job_is_shown_to_its_own_user_only(aws, env):
    seed_vectors(aws, ALICE, 1)
    _, body = _forget("alice-sub")
    assert _job("alice-sub", body["job_id"])[0] == 200
    for sub, tenant in (("bob-sub", "acme"), ("alice-sub", "globex")):
        status, answer = _job(sub, body["job_id"], tenant)
        assert status == 404 and answer["error"]["code"] == "NotFound"


def test_a_malformed_job_id_is_a_400_with_no_aws_call(aws, env):
    before = aws.call_count("s3vectors") + aws.call_count("bedrock-agentcore")
    status, answer = _job("alice-sub", "not-a-job")
    assert status == 400 and "job_id" in answer["error"]["message"]
    assert aws.call_count("s3vectors") + aws.call_count("bedrock-agentcore") == before


@pytest.mark.parametrize("variable, value, store", [
    ("MESH_VECTOR_BUCKET", "no-such-bucket", "s3vectors"),
    ("MESH_MEMORY_ID", "missing_memory-AbCdE12345", "agentcore_events"),
])
def test_a_missing_store_fails_the_job_loudly(aws, env, monkeypatch, variable, value, store):
    seed_turns(aws, ALICE, "I live in Lisbon.")
    monkeypatch.setenv(variable, value)
    forget.reset()

    status, body = _forget("alice-sub")

    assert status == 502
    assert body["status"] == "failed" and body["error"]["store"] == store
    assert body["stores"][store]["status"] == "failed"
    assert "receipt" not in body


def test_forget_is_idempotent_a_second_job_deletes_nothing(aws, env):
    seed_vectors(aws, ALICE, 2)
    seed_turns(aws, ALICE, "I live in Lisbon.")
    _forget("alice-sub")
    status, body = _forget("alice-sub")
    assert status == 202 and body["status"] == "succeeded"
    assert body["receipt"]["deleted"] == {"s3vectors": 0, "agentcore_events": 0, "agentcore_records": 0,
                                          "bedrock_agent": 1}


def test_unknown_fields_and_routes_are_refused_before_any_aws_call(aws, env):
    before = aws.call_count("s3vectors") + aws.call_count("bedrock-agentcore")
    event = api_event(ROUTE, claims=claims_for("acme", "alice-sub"), body={"actor_id": "bob"})
    status, answer = answer_of(forget.handler(event, FakeLambdaContext()))
    assert status == 403 and answer["error"]["code"] == "AccessDenied"
    event = api_event(ROUTE, claims=claims_for("acme", "alice-sub"), body={"everything": True})
    status, answer = answer_of(forget.handler(event, FakeLambdaContext()))
    assert status == 400 and "body.everything" in answer["error"]["message"]
    assert aws.call_count("s3vectors") + aws.call_count("bedrock-agentcore") == before
