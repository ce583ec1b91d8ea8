"""The summarizer Lambda against emulated AWS: moto SQS (with a DLQ redrive policy), the S3 Vectors and AgentCore
fakes behind a real TVM broker, and the scripted Converse / embedding models."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from runtime.handlers import summarizer
from runtime.identity import Identity
from runtime.stores import summary_key
from runtime.summarizer import enqueue_summary_job, parse_summary_job, summary_job_message
from tests.handlers.lambda_events import FakeLambdaContext

BUCKET = "mesh-test-bucket"
AGENT = "supervisor"
ALICE = Identity("acme", "alice")
BOB = Identity("acme", "bob")
QUEUE_ARN = "arn:aws:sqs:us-east-1:111111111111:mesh-summaries"
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=12,
)


@pytest.fixture
def env(mesh_env: dict[str, str], agents: Any, tenant_index: Any) -> Any:
    """The summarizer's environment over the emulated mesh, tenant acme onboarded; yields the scripted models."""
    tenant_index("acme")
    summarizer.reset()
    yield agents
    summarizer.reset()


def _say(aws: Any, identity: Identity, session_id: str, *turns: tuple[str, str]) -> None:
    client = aws.client("bedrock-agentcore")
    for role, text in turns:
        client.create_event(
            memoryId=aws.mesh.memory_id,
            actorId=identity.agentcore_actor_id,
            sessionId=session_id,
            eventTimestamp=datetime.now(UTC),
            payload=[{"conversational": {"content": {"text": text}, "role": role}}],
        )


def _record(body: str, message_id: str | None = None, *, source_arn: str = QUEUE_ARN) -> dict[str, Any]:
    return {
        "messageId": message_id or str(uuid.uuid4()),
        "receiptHandle": "handle-" + uuid.uuid4().hex,
        "body": body,
        "attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": "1700000000000"},
        "messageAttributes": {},
        "eventSource": "aws:sqs",
        "eventSourceARN": source_arn,
        "awsRegion": "us-east-1",
    }


def _job(identity: Identity, session_id: str) -> str:
    return summary_job_message(identity, session_id, AGENT)


def _vectors(aws: Any, tenant: str = "acme") -> dict[str, Any]:
    return aws.stored_vectors(tenant)


def _logged(caplog: Any) -> str:
    """Every log record of the test with all its fields (Powertools' handler keeps the first stdout it saw)."""
    return "\n".join(str(vars(record)) for record in caplog.records)


def _failed_ids(result: dict[str, Any]) -> list[str]:
    return [item["itemIdentifier"] for item in result["batchItemFailures"]]


# -- success, idempotency -------------------------------------------------------------------------------------


def test_summary_is_stored_once_and_a_redelivery_overwrites_it(aws, env, lambda_context):
    _say(aws, ALICE, "s-lisbon", ("USER", "I am moving to Lisbon in May."), ("ASSISTANT", "Noted."))
    record = _record(_job(ALICE, "s-lisbon"))

    assert summarizer.handler({"Records": [record]}, lambda_context) == {"batchItemFailures": []}
    vectors = _vectors(aws)
    key = summary_key("acme", "alice", AGENT, "s-lisbon")
    assert list(vectors) == [key]
    assert vectors[key].metadata["content"] == "The user said: I am moving to Lisbon in May."
    assert vectors[key].metadata["actor"] == "alice" and vectors[key].metadata["type"] == "summary"

    env.summary = lambda prompt: "The user moves to Lisbon in May and prefers trains."
    assert summarizer.handler({"Records": [record]}, FakeLambdaContext()) == {"batchItemFailures": []}
    vectors = _vectors(aws)
    assert list(vectors) == [key]
    assert vectors[key].metadata["content"] == "The user moves to Lisbon in May and prefers trains."


def test_stores_go_through_tenant_and_actor_scoped_credentials(aws, env, lambda_context):
    _say(aws, ALICE, "s-1", ("USER", "My favourite colour is green."))
    summarizer.handler({"Records": [_record(_job(ALICE, "s-1"))]}, lambda_context)
    sessions = aws.iam.assume_role_calls(aws.mesh.tvm_role_arn)
    assert sessions and {(s.tenant_id, s.actor_id) for s in sessions} == {("acme", "alice")}


def test_an_empty_session_succeeds_without_writing(aws, env, lambda_context):
    result = summarizer.handler({"Records": [_record(_job(ALICE, "s-empty"))]}, lambda_context)
    assert result == {"batchItemFailures": []}
    assert _vectors(aws) == {}
    assert env.converse_calls == []


# -- failures: partial batches, poison messages, DLQ ------------------------------------------------------------


def test_partial_batch_failure_reports_only_the_failing_message_ids(aws, env, lambda_context, monkeypatch):
    from runtime.testing import ServiceError

    _say(aws, ALICE, "s-ok", ("USER", "I work as a nurse."))
    globex = Identity("globex", "carol")  # carol's index is unavailable: her summary cannot be stored
    _say(aws, globex, "s-no-index", ("USER", "I work as a pilot."))
    original = aws.s3vectors._op_put_vectors

    def carol_unavailable(params: dict[str, Any], region: str) -> Any:
        if params.get("indexName") == aws.mesh.index_name("globex", "carol"):
            raise ServiceError("ServiceUnavailableException", "scripted outage")
        return original(params, region)

    monkeypatch.setattr(aws.s3vectors, "_op_put_vectors", carol_unavailable)
    ok = _record(_job(ALICE, "s-ok"), "m-ok")
    no_index = _record(_job(globex, "s-no-index"), "m-no-index")
    poison = _record("{not json", "m-poison")

    result = summarizer.handler({"Records": [ok, no_index, poison]}, lambda_context)

    assert _failed_ids(result) == ["m-no-index", "m-poison"]
    assert list(_vectors(aws)) == [summary_key("acme", "alice", AGENT, "s-ok")]


@pytest.mark.parametrize(
    "body",
    [
        "{not json",
        "[]",
        json.dumps({"v": 2, "tenant_id": "acme", "actor_id": "alice", "session_id": "s-1", "agent": AGENT,
                    "requested_at": 1}),
        json.dumps({"v": 1, "tenant_id": "ACME!", "actor_id": "alice", "session_id": "s-1", "agent": AGENT,
                    "requested_at": 1}),
        json.dumps({"v": 1, "tenant_id": "acme"}),
    ],
    ids=["not-json", "not-object", "wrong-version", "bad-tenant", "missing-fields"],
)
def test_a_poison_message_is_a_batch_item_failure_so_it_reaches_the_dlq(aws, env, lambda_context, body, caplog):
    result = summarizer.handler({"Records": [_record(body, "m-poison")]}, lambda_context)
    assert _failed_ids(result) == ["m-poison"]
    assert env.converse_calls == []
    logs = _logged(caplog)
    assert "summary job message is malformed" in logs and "ACME!" not in logs


def test_summarizer_failure_retries_then_lands_in_the_dlq_with_nothing_lost(aws, env):
    sqs = aws.client("sqs")
    dlq_url = sqs.create_queue(QueueName="mesh-summaries-dlq")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    redrive = json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "2"})
    url = sqs.create_queue(QueueName="mesh-summaries", Attributes={"RedrivePolicy": redrive})["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    _say(aws, ALICE, "s-dlq", ("USER", "My daughter is called Ana."))
    message_id = enqueue_summary_job(sqs, url, ALICE, "s-dlq", AGENT)
    env.converse_failure = "ServiceUnavailableException"

    invocations = _drive_event_source(sqs, url, arn)

    assert invocations == 2  # maxReceiveCount deliveries, each reported as a batch item failure
    assert len(env.converse_calls) >= invocations  # every delivery reached Bedrock and failed there
    assert _vectors(aws) == {}
    dead = sqs.receive_message(QueueUrl=dlq_url, MaxNumberOfMessages=10, AttributeNames=["All"])["Messages"]
    assert [m["MessageId"] for m in dead] == [message_id]
    job = parse_summary_job(dead[0]["Body"])
    assert (job.tenant_id, job.actor_id, job.session_id, job.agent) == ("acme", "alice", "s-dlq", AGENT)

    # Nothing lost: once Bedrock recovers, the redriven message produces the summary.
    env.converse_failure = None
    result = summarizer.handler({"Records": [_sqs_record(dead[0], dlq_arn)]}, FakeLambdaContext())
    assert result == {"batchItemFailures": []}
    assert list(_vectors(aws)) == [summary_key("acme", "alice", AGENT, "s-dlq")]


def _sqs_record(message: dict[str, Any], arn: str) -> dict[str, Any]:
    return {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": message.get("Attributes", {}),
        "messageAttributes": {},
        "md5OfBody": message["MD5OfBody"],
        "eventSource": "aws:sqs",
        "eventSourceARN": arn,
        "awsRegion": "us-east-1",
    }


def _drive_event_source(sqs: Any, url: str, arn: str, *, limit: int = 10) -> int:
    """Poll like Lambda's SQS event source mapping: delete what succeeded, let failures become visible again."""
    invocations = 0
    for _ in range(limit):
        received = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, AttributeNames=["All"]).get("Messages")
        if not received:
            return invocations
        invocations += 1
        result = summarizer.handler({"Records": [_sqs_record(m, arn) for m in received]}, FakeLambdaContext())
        failed = set(_failed_ids(result))
        for message in received:
            if message["MessageId"] in failed:
                sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0)
            else:
                sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    raise AssertionError("the queue never drained")


# -- budget, ordering, configuration ------------------------------------------------------------------------------


def test_records_that_would_outrun_the_time_budget_are_returned_to_the_queue(aws, env):
    for session in ("s-a", "s-b", "s-c"):
        _say(aws, ALICE, session, ("USER", f"Fact number {session}."))
    records = [_record(_job(ALICE, s), f"m-{s}") for s in ("s-a", "s-b", "s-c")]
    short = FakeLambdaContext(remaining_ms=summarizer.MIN_RECORD_RESERVE_MS - 1)

    result = summarizer.handler({"Records": records}, short)

    assert _failed_ids(result) == ["m-s-b", "m-s-c"]  # the first record always runs
    assert list(_vectors(aws)) == [summary_key("acme", "alice", AGENT, "s-a")]


def test_fifo_batches_stop_at_the_first_failure_to_keep_order(aws, env, lambda_context):
    _say(aws, ALICE, "s-after", ("USER", "I like tea."))
    fifo = "arn:aws:sqs:us-east-1:111111111111:mesh-summaries.fifo"
    records = [_record("{}", "m-bad", source_arn=fifo), _record(_job(ALICE, "s-after"), "m-after", source_arn=fifo)]

    result = summarizer.handler({"Records": records}, lambda_context)

    assert _failed_ids(result) == ["m-bad", "m-after"]
    assert env.converse_calls == []


def test_broken_configuration_fails_every_record_without_raising(aws, env, lambda_context, monkeypatch):
    monkeypatch.setenv("MESH_VECTOR_BUCKET", "Not_A_Bucket")
    records = [_record(_job(ALICE, "s-1"), "m-1"), _record(_job(BOB, "s-2"), "m-2")]
    assert _failed_ids(summarizer.handler({"Records": records}, lambda_context)) == ["m-1", "m-2"]


def test_logs_carry_no_message_text(aws, env, lambda_context, caplog):
    _say(aws, ALICE, "s-private", ("USER", "My passport number is X1234567."))
    env.converse_failure = "ThrottlingException"
    summarizer.handler({"Records": [_record(_job(ALICE, "s-private"))]}, lambda_context)
    env.converse_failure = None
    summarizer.handler({"Records": [_record(_job(ALICE, "s-private"))]}, lambda_context)
    logs = _logged(caplog)
    assert "summary job failed" in logs and "session summarized" in logs
    assert "X1234567" not in logs and "passport" not in logs


@pytest.mark.parametrize("event", [None, "x", [], {}, {"Records": "nope"}, {"Records": [1, {"body": "{}"}]}])
def test_events_that_are_not_sqs_batches_answer_no_failures(env, lambda_context, event):
    assert summarizer.handler(event, lambda_context) == {"batchItemFailures": []}


# -- fuzzing -----------------------------------------------------------------------------------------------------

_JOB_FIELDS = st.fixed_dictionaries(
    {},
    optional={
        "v": st.sampled_from([1, 2, True, "1"]) | JSON_VALUES,
        "tenant_id": st.sampled_from(["acme", "globex", "ACME", "a", ""]) | JSON_VALUES,
        "actor_id": st.sampled_from(["alice", "bob", "-x"]) | JSON_VALUES,
        "session_id": st.sampled_from(["s-1", "s_1", "x"]) | JSON_VALUES,
        "agent": st.sampled_from([AGENT, "bad agent"]) | JSON_VALUES,
        "requested_at": st.sampled_from([0, -1, 1.5, True]) | JSON_VALUES,
        "extra": JSON_VALUES,
    },
)
_BODIES = _JOB_FIELDS.map(json.dumps) | st.text(max_size=60) | JSON_VALUES
_RECORDS = st.fixed_dictionaries(
    {},
    optional={
        "messageId": st.uuids().map(str) | JSON_VALUES,
        "body": _BODIES,
        "eventSourceARN": st.sampled_from([QUEUE_ARN, QUEUE_ARN + ".fifo"]) | JSON_VALUES,
    },
) | JSON_VALUES
_EVENTS = st.fixed_dictionaries({"Records": st.lists(_RECORDS, max_size=4)}) | JSON_VALUES


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(event=_EVENTS)
def test_no_event_makes_the_summarizer_raise(env, event):
    result = summarizer.handler(event, FakeLambdaContext())
    assert set(result) == {"batchItemFailures"}
    records = event.get("Records") if isinstance(event, dict) and isinstance(event.get("Records"), list) else None
    ids = {r["messageId"] for r in records or () if isinstance(r, dict) and isinstance(r.get("messageId"), str)}
    assert set(_failed_ids(result)) <= ids
