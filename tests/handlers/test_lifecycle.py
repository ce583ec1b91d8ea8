"""The lifecycle queue's function: bad messages and failed steps are reported for SQS to retry (then dead-letter),
a step that fails transiently is recorded on its job and finished by the retry, duplicates do nothing."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from runtime.handlers import forget, lifecycle
from runtime.identity import Identity
from runtime.lifecycle.jobs import job_message
from runtime.lifecycle.state import StateTable
from tests.handlers.lambda_events import TENANT_CLAIM, FakeLambdaContext, actor_of, answer_of, api_event, claims_for
from tests.handlers.lifecycle_helpers import held, seed_turns, seed_vectors
from tests.handlers.test_forget import TickingContext

ALICE = Identity("acme", actor_of("alice-sub"))


@pytest.fixture
def env(mesh_env: dict[str, str], state_table: str, lifecycle_queue: str,
        monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    monkeypatch.setenv("MESH_TENANT_CLAIM", TENANT_CLAIM)
    monkeypatch.setenv("MESH_LIFECYCLE_QUEUE_URL", lifecycle_queue)
    forget.reset()
    lifecycle.reset()
    yield mesh_env
    forget.reset()
    lifecycle.reset()


def _deliver(body: Any, message_id: str = "m-1", context: Any = None) -> dict[str, Any]:
    raw = body if isinstance(body, str) else json.dumps(body)
    return lifecycle.handler({"Records": [{"messageId": message_id, "body": raw, "receiptHandle": "r"}]},
                             context or FakeLambdaContext())


@pytest.mark.parametrize("body", [
    "not json", "[]", {"type": "something-else"}, {"type": "job-step", "v": 2, "job_id": "0" * 32},
    {"type": "job-step", "v": 1, "job_id": "../etc"}, {"type": "turn-event", "v": 1},
])
def test_a_malformed_message_is_reported_so_it_ends_in_the_dead_letter_queue(aws, env, body):
    before = aws.call_count("s3vectors") + aws.call_count("bedrock-agentcore")
    assert _deliver(body) == {"batchItemFailures": [{"itemIdentifier": "m-1"}]}
    assert aws.call_count("s3vectors") + aws.call_count("bedrock-agentcore") == before


def test_a_step_that_fails_transiently_is_retried_and_the_retry_finishes_the_job(aws, env, state_table):
    seed_vectors(aws, ALICE, 2)
    seed_turns(aws, ALICE, "I live in Lisbon.", "I prefer trains.")
    # The first invocation has no time for the work: the job waits on the queue.
    status, body = answer_of(forget.handler(api_event("DELETE /memories", claims=claims_for("acme", "alice-sub")),
                                            TickingContext(3_050, 10)))
    assert status == 202 and body["status"] == "running"
    # AgentCore's ThrottledException is not one botocore's standard retries know: this step fails.
    aws.agentcore.inject("ListSessions", throttle=1)

    first = _deliver(job_message(body["job_id"]))
    table = StateTable(aws.client("dynamodb"), state_table)
    job = table.get_job(body["job_id"])
    assert job is not None
    assert first == {"batchItemFailures": [{"itemIdentifier": "m-1"}]}
    # SQS delivers it again; meanwhile the failure is on the job, which is still running.
    assert job["status"] == "running" and job["error"]["retrying"] is True
    assert job["error"]["store"] == "agentcore_events"
    assert _deliver(job_message(body["job_id"])) == {"batchItemFailures": []}
    job = table.get_job(body["job_id"])
    assert job is not None and job["status"] == "succeeded" and "error" not in job
    assert held(aws, ALICE) == {"vectors": 0, "events": 0, "records": 0}


def test_a_message_for_a_finished_or_unknown_job_does_nothing(aws, env):
    status, body = answer_of(forget.handler(api_event("DELETE /memories", claims=claims_for("acme", "alice-sub")),
                                            FakeLambdaContext()))
    assert body["status"] == "succeeded"
    calls = aws.call_count("bedrock-agentcore")
    assert _deliver(job_message(body["job_id"])) == {"batchItemFailures": []}
    assert _deliver(job_message("f" * 32)) == {"batchItemFailures": []}
    assert aws.call_count("bedrock-agentcore") == calls


def test_a_job_held_by_a_live_invocation_is_left_to_it(aws, env, state_table):
    status, body = answer_of(forget.handler(api_event("DELETE /memories", claims=claims_for("acme", "alice-sub")),
                                            TickingContext(3_050, 10)))
    table = StateTable(aws.client("dynamodb"), state_table)
    job = table.get_job(body["job_id"])
    assert job is not None
    job["lease_until"] = 2**62  # another invocation holds it
    table.save_job(job, ttl_s=60)
    calls = aws.call_count("bedrock-agentcore")
    assert _deliver(job_message(body["job_id"])) == {"batchItemFailures": []}
    assert aws.call_count("bedrock-agentcore") == calls
