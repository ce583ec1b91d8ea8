"""The story of the mesh, end to end through the real handlers: emulated AWS (moto + the runtime's fakes, ABAC on)
and scripted agents.

Session 1: a user of tenant acme tells the supervisor a fact. It becomes long-term memory twice over: AgentCore
extracts it, and ending the session sends a job through SQS to the summarizer Lambda, which stores a summary
vector. Session 2, handed to the billing worker in another account, recalls it; the worker answers only from
what it received in its session attributes. Another tenant, and another user of the same tenant, get nothing.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from runtime.handlers import orchestrator
from tests.handlers.lambda_events import (
    BILLING_AGENT_ID,
    BILLING_ALIAS_ID,
    BILLING_EXTERNAL_ID,
    BILLING_ROLE_ARN,
    SUPERVISOR_AGENT_ID,
    SUPERVISOR_ALIAS_ID,
    SUPPORT_RUNTIME_ARN,
    WORKER_ACCOUNT,
    WORKER_REGION,
    FakeLambdaContext,
    actor_of,
    answer_of,
    api_event,
    claims_for,
    message_event,
    remembered,
)

FACT = "I always pay by bank transfer from my Lisbon account."
QUESTION = "How do I usually pay my invoices?"
BILLING = f"{BILLING_AGENT_ID}/{BILLING_ALIAS_ID}"
SUPERVISOR = f"{SUPERVISOR_AGENT_ID}/{SUPERVISOR_ALIAS_ID}"


def say(claims: dict[str, Any], session: str, message: str, **body: Any) -> dict[str, Any]:
    status, answer = answer_of(
        orchestrator.handler(message_event(session, claims, {"message": message, **body}), FakeLambdaContext())
    )
    assert status == 200, answer
    return answer


def run_summarizer(mesh: Any) -> dict[str, Any]:
    """Deliver what the orchestrator queued to the summarizer Lambda as an SQS event, as the event source would."""
    from runtime.handlers import summarizer

    sqs = mesh.aws.client("sqs")
    url = mesh.env["MESH_SUMMARY_QUEUE_URL"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    received = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, AttributeNames=["All"])
    messages = received.get("Messages", [])
    assert len(messages) == 1, "ending the session enqueues exactly one job"
    event = {
        "Records": [
            {
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
            for message in messages
        ]
    }
    summarizer.reset()
    try:
        result = summarizer.handler(event, FakeLambdaContext(remaining_ms=120_000))
    finally:
        summarizer.reset()
    for message in messages:
        sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    return result


def memories_of(claims: dict[str, Any]) -> list[dict[str, Any]]:
    status, body = answer_of(orchestrator.handler(api_event("GET /memories", claims=claims), FakeLambdaContext()))
    assert status == 200, body
    return body["memories"]


@pytest.fixture
def story(mesh: Any) -> Any:
    """Session 1 told, ended, extracted and summarized."""
    alice = claims_for("acme", "alice")
    first = say(alice, "alice-session-1", FACT, end_session=True)
    assert first["supervisor_response"] == "Noted, I will remember that."
    assert first["summary_queued"] is True and first["delegated"] is False

    mesh.aws.agentcore.extract(mesh.memory_id)  # AgentCore's asynchronous long-term extraction
    assert run_summarizer(mesh) == {"batchItemFailures": []}
    assert mesh.agents.converse_calls, "the summarizer asked the model for a summary"
    return mesh


def test_a_fact_told_to_the_supervisor_is_recalled_by_a_worker_in_another_account(story):
    mesh = story
    alice = claims_for("acme", "alice")

    # Both backends now remember the fact, for alice only.
    remembered_now = memories_of(alice)
    sources = {(m["source"], m["kind"]) for m in remembered_now if "bank transfer" in m["content"]}
    assert ("agentcore", "fact") in sources
    assert ("s3vectors", "summary") in sources

    answer = say(alice, "alice-session-2", QUESTION)
    assert answer["delegated"] is True and answer["worker"] == "billing"
    assert answer["supervisor_response"] == "Let me bring in our billing specialist."
    assert "bank transfer" in answer["worker_response"]
    assert answer["memories_used"] >= 1

    # The worker was reached through its account's access role, assumed for this tenant and user.
    (assumed,) = mesh.aws.iam.assume_role_calls(BILLING_ROLE_ARN)
    actor = actor_of("alice")
    assert assumed.external_id == BILLING_EXTERNAL_ID
    assert assumed.source_identity == actor
    assert dict(assumed.tags) == {"TenantID": "acme", "ActorID": actor}
    (worker_call,) = mesh.agents.calls_to(BILLING)
    assert worker_call.caller.account_id == WORKER_ACCOUNT and worker_call.caller.region == WORKER_REGION
    assert worker_call.caller.role_arn == BILLING_ROLE_ARN

    # The memory travelled as structured session attributes, not in the prompt.
    assert worker_call.prompt == QUESTION
    assert any("bank transfer" in fact for fact in remembered(worker_call.attributes))
    assert "bank transfer" in worker_call.params["sessionState"]["promptSessionAttributes"]["mesh_memory_context"]
    assert "bank transfer" not in worker_call.params["inputText"]

    # Both answers of session 2 are in the shared memory, attributed to their agents.
    events = mesh.aws.agentcore.events(mesh.memory_id, actor_id=f"acme:{actor}", session_id="alice-session-2")
    recorded = [
        (role, ((event.metadata or {}).get(f"agent.{index}") or {}).get("stringValue"))
        for event in events
        for index, (role, _) in enumerate(event.messages())
    ]
    assert len(events) == 1, "one event per turn"
    assert recorded == [("USER", None), ("ASSISTANT", "supervisor"), ("ASSISTANT", "billing")]


def test_another_tenant_asking_the_same_gets_nothing(story):
    mesh = story
    answer = say(claims_for("globex", "alice"), "globex-session-1", QUESTION)
    assert answer["delegated"] is True and answer["memories_used"] == 0
    assert answer["worker_response"] == "I have no records about you yet."
    (worker_call,) = mesh.agents.calls_to(BILLING)
    assert remembered(worker_call.attributes) == []
    assert worker_call.attributes["mesh_memory_context"] == ""
    assert worker_call.attributes["mesh_tenant_id"] == "globex"
    supervisor_call = mesh.agents.calls_to(SUPERVISOR)[-1]
    assert supervisor_call.params["sessionState"]["promptSessionAttributes"] == {}
    assert memories_of(claims_for("globex", "alice")) == []


def test_another_user_of_the_same_tenant_gets_nothing(story):
    mesh = story
    answer = say(claims_for("acme", "bob"), "bob-session-1", QUESTION)
    assert answer["memories_used"] == 0
    assert answer["worker_response"] == "I have no records about you yet."
    assert "bank transfer" not in json.dumps([dict(c.attributes) for c in mesh.agents.calls_to(BILLING)])
    assert memories_of(claims_for("acme", "bob")) == []


def test_the_agentcore_runtime_worker_recalls_it_too(story):
    mesh = story
    answer = say(claims_for("acme", "alice"), "alice-session-3", QUESTION, worker="support")
    assert answer["worker"] == "support" and "bank transfer" in answer["worker_response"]
    (runtime_call,) = mesh.agents.calls_to(SUPPORT_RUNTIME_ARN)
    assert runtime_call.prompt == QUESTION
    assert any("bank transfer" in record["content"] for record in runtime_call.attributes["memory"]["records"])


def test_a_service_caller_recalls_it_statelessly_and_leaves_no_trace(story):
    mesh = story
    before = len(mesh.aws.agentcore.events(mesh.memory_id))
    response = orchestrator.handler(
        {"message": QUESTION, "tenant_id": "acme", "actor_id": actor_of("alice")}, FakeLambdaContext()
    )
    assert response["statusCode"] == 200 and response["session_id"] is None
    assert "bank transfer" in response["worker_response"]
    assert len(mesh.aws.agentcore.events(mesh.memory_id)) == before


def test_forget_me_erases_every_copy_including_the_supervisor_agents_own_memory(story, state_table):
    from runtime.handlers import forget

    alice = claims_for("acme", "alice")
    say(alice, "alice-session-2", QUESTION, worker="billing")
    supervisor_calls = story.agents.calls_to(SUPERVISOR)
    assert all(call.params.get("memoryId") for call in supervisor_calls)
    # A worker in another account keeps no per-user Bedrock memory: it could not be erased from here.
    assert all("memoryId" not in call.params for call in story.agents.calls_to(BILLING))
    assert any(key == SUPERVISOR for key, _ in story.agents.agent_memories)

    forget.reset()
    status, body = answer_of(forget.handler(api_event("DELETE /memories", claims=alice), FakeLambdaContext()))
    assert status == 202 and body["status"] == "succeeded", body
    deleted = body["receipt"]["deleted"]
    assert deleted["bedrock_agent"] == 1
    assert deleted["s3vectors"] == 1 and deleted["agentcore_events"] >= 1 and deleted["agentcore_records"] >= 1
    assert not any(key == SUPERVISOR for key, _ in story.agents.agent_memories)
    assert memories_of(alice) == []

    status, again = answer_of(forget.handler(api_event("DELETE /memories", claims=alice), FakeLambdaContext()))
    assert status == 202 and again["receipt"]["deleted"]["s3vectors"] == 0
    assert again["receipt"]["deleted"]["agentcore_events"] == again["receipt"]["deleted"]["agentcore_records"] == 0
    forget.reset()
