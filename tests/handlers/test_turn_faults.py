"""The turn through the HTTP handler while the emulation throttles, fails and stalls like AWS (through botocore's
retries): the answer survives a throttled write, recall holds its budget, an STS storm answers 503 fast."""

from __future__ import annotations

import json
import time

from runtime.handlers import orchestrator
from runtime.testing import Faults
from tests.handlers.lambda_events import FakeLambdaContext, answer_of, api_event
from tests.handlers.test_turn import ALICE, LISBON, send, session_events

ALICE_SUB = "alice"


def test_a_throttled_create_event_keeps_the_answer_and_queues_the_write(mesh):
    faults = Faults().attach(mesh.aws)
    faults.throttle("bedrock-agentcore", "CreateEvent")  # every attempt, botocore's retries included
    answer = send(LISBON, context=FakeLambdaContext(remaining_ms=3_000))
    assert answer["supervisor_response"] == "Noted, I will remember that."
    assert answer["turn_recorded"] == "queued"
    # botocore retried the throttled attempts before the turn's own budgeted retries gave up.
    attempts = faults.attempts[("bedrock-agentcore", "CreateEvent")]
    assert attempts >= 2 and faults.injected[("bedrock-agentcore", "CreateEvent", "throttle")] == attempts
    assert session_events(mesh, ALICE_SUB, "s1") == []
    sqs = mesh.aws.client("sqs")
    (message,) = sqs.receive_message(QueueUrl=mesh.env["MESH_LIFECYCLE_QUEUE_URL"])["Messages"]
    assert json.loads(message["Body"])["type"] == "turn-event"


def test_a_briefly_throttled_create_event_is_written_by_the_retries(mesh):
    faults = Faults().attach(mesh.aws)
    faults.throttle("bedrock-agentcore", "CreateEvent", times=1)
    assert "turn_recorded" not in send(LISBON)  # only a write that was not made is reported
    assert faults.attempts[("bedrock-agentcore", "CreateEvent")] == 2
    assert len(session_events(mesh, ALICE_SUB, "s1")) == 1


def test_the_create_event_quota_allows_one_event_per_turn(mesh):
    faults = Faults().attach(mesh.aws)
    faults.agentcore_create_event_quota()
    for _ in range(3):
        assert "turn_recorded" not in send(LISBON)
    assert faults.injected[("bedrock-agentcore", "CreateEvent", "quota")] == 0
    assert len(session_events(mesh, ALICE_SUB, "s1")) == 3


def test_recall_under_5xx_and_timeouts_stays_within_its_budget(mesh):
    send(LISBON)
    faults = Faults().attach(mesh.aws)
    faults.timeout("bedrock-agentcore", "RetrieveMemoryRecords", after_s=1.5)  # each attempt, then retried
    faults.server_error("s3vectors", "QueryVectors")
    faults.latency("bedrock-agentcore", "ListEvents", seconds=0.2)
    started = time.monotonic()
    answer = send("What do you know?")
    elapsed = time.monotonic() - started
    assert answer["supervisor_response"] == "Noted, I will remember that."
    assert elapsed < orchestrator.RECALL_BUDGET_S + 1.5, elapsed
    assert faults.injected[("bedrock-agentcore", "RetrieveMemoryRecords", "timeout")] >= 1
    assert faults.attempts[("s3vectors", "QueryVectors")] == 2  # botocore retried the 5xx once


def test_an_sts_storm_answers_503_with_retry_after_fast(mesh):
    Faults().attach(mesh.aws).throttle("sts", "AssumeRole")
    event = api_event("GET /memories", claims=ALICE)
    statuses = []
    for _ in range(4):
        response = orchestrator.handler(event, FakeLambdaContext())
        statuses.append(answer_of(response)[0])
        if statuses[-1] == 503:
            break
    assert statuses[-1] == 503, statuses
    assert int(response["headers"]["retry-after"]) >= 1
    assert answer_of(response)[1]["error"]["code"] == "ServiceUnavailable"
    started = time.monotonic()  # while the breaker is open no STS call is made: the refusal is immediate
    assert answer_of(orchestrator.handler(event, FakeLambdaContext()))[0] == 503
    assert time.monotonic() - started < 0.5
