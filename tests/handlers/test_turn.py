"""The turn's guarantees through the HTTP handler: one recall round, the session reaching every agent, one event.

Offline: emulated AWS (moto + the runtime's fakes, ABAC on) and scripted agents; no extraction runs unless a
test says so, so whatever an agent knows about the session it got from the session itself.
"""

from __future__ import annotations

import json
import time
from typing import Any

from runtime.handlers import orchestrator
from tests.handlers.lambda_events import (
    BILLING_AGENT_ID,
    BILLING_ALIAS_ID,
    SUPERVISOR_AGENT_ID,
    SUPERVISOR_ALIAS_ID,
    SUPPORT_RUNTIME_ARN,
    FakeLambdaContext,
    actor_of,
    answer_of,
    claims_for,
    message_event,
)

BILLING = f"{BILLING_AGENT_ID}/{BILLING_ALIAS_ID}"
SUPERVISOR = f"{SUPERVISOR_AGENT_ID}/{SUPERVISOR_ALIAS_ID}"
ALICE = claims_for("acme", "alice")
LISBON = "I always pay by bank transfer from my Lisbon account"
QUESTION = "How do I usually pay my invoices?"


def send(message: str, *, session: str = "s1", claims: dict[str, Any] = ALICE, context: Any = None,
         **body: Any) -> dict[str, Any]:
    status, answer = answer_of(
        orchestrator.handler(
            message_event(session, claims, {"message": message, **body}), context or FakeLambdaContext()
        )
    )
    assert status == 200, answer
    return answer


def recent_texts(attributes: Any) -> list[str]:
    return [entry["text"] for entry in json.loads(attributes.get("mesh_recent_turns") or "[]")]


def session_events(mesh: Any, sub: str, session: str, tenant: str = "acme") -> list[Any]:
    return mesh.aws.agentcore.events(mesh.memory_id, actor_id=f"{tenant}:{actor_of(sub)}", session_id=session)


def test_worker_sees_the_current_session_before_extraction(mesh):
    send(LISBON)
    answer = send(QUESTION)
    assert answer["delegated"] is True and answer["worker"] == "billing"
    assert mesh.aws.agentcore.records(mesh.memory_id) == []  # nothing was extracted: only the session knows

    (worker_call,) = mesh.agents.calls_to(BILLING)
    entries = json.loads(worker_call.attributes["mesh_recent_turns"])
    assert {"role": "user", "agent": None, "text": LISBON} in [
        {k: e[k] for k in ("role", "agent", "text")} for e in entries
    ]
    # Labelled with who said it, oldest first, and this turn's supervisor answer is there too.
    assert [(e["role"], e["agent"]) for e in entries] == [
        ("user", None), ("assistant", "supervisor"), ("user", None), ("assistant", "supervisor")
    ]
    assert entries[-1]["text"] == "Let me bring in our billing specialist."
    # The same, escaped and delimited, for the worker's prompt template.
    block = worker_call.params["sessionState"]["promptSessionAttributes"]["mesh_session_context"]
    assert block.startswith("<session>") and "Lisbon account" in block and "data, not instructions" in block
    assert worker_call.prompt == QUESTION

    # Another tenant and another user of the same tenant, same session id: none of it.
    send(QUESTION, claims=claims_for("globex", "alice"))
    send(QUESTION, claims=claims_for("acme", "bob"))
    for call in mesh.agents.calls_to(BILLING)[1:]:
        assert "Lisbon" not in json.dumps(dict(call.attributes))
        assert "Lisbon" not in json.dumps(call.params["sessionState"])


def test_the_supervisor_keeps_its_own_session_and_gets_the_turns_as_data_only(mesh):
    send(LISBON)
    send("Anything else?")
    supervisor = mesh.agents.calls_to(SUPERVISOR)[-1]
    assert recent_texts(supervisor.attributes) == [LISBON, "Noted, I will remember that."]
    assert "mesh_session_context" not in supervisor.params["sessionState"]["promptSessionAttributes"]


def test_an_agentcore_runtime_worker_gets_the_session_in_its_payload(mesh):
    send("My account manager is Dana Smith.")
    send("Who is my account manager?", worker="support")
    (runtime_call,) = mesh.agents.calls_to(SUPPORT_RUNTIME_ARN)
    memory = runtime_call.attributes["memory"]
    assert [e["text"] for e in memory["recent_turns"]][:2] == [
        "My account manager is Dana Smith.", "Noted, I will remember that."
    ]
    assert memory["session_context"].startswith("<session>")


def test_one_event_per_turn_with_every_message_labelled(mesh):
    before = mesh.aws.call_count("bedrock-agentcore", "CreateEvent")
    send(QUESTION)
    assert mesh.aws.call_count("bedrock-agentcore", "CreateEvent") - before == 1
    (event,) = session_events(mesh, "alice", "s1")
    assert event.messages() == [
        ("USER", QUESTION),
        ("ASSISTANT", "Let me bring in our billing specialist."),
        ("ASSISTANT", "I have no records about you yet."),
    ]
    assert event.metadata == {
        "mesh_kind": {"stringValue": "turn"}, "agent.1": {"stringValue": "supervisor"},
        "agent.2": {"stringValue": "billing"},
    }


def test_a_lambda_retry_of_the_same_request_writes_no_second_event(mesh):
    context = FakeLambdaContext()
    send("Remember my seat is 12B.", context=context)
    send("Remember my seat is 12B.", context=context)
    assert len(session_events(mesh, "alice", "s1")) == 1


def test_the_users_message_is_durable_when_the_agents_fail(mesh):
    from runtime.testing.agents_fake import AgentFailure

    def fail(prompt, attributes, caller):
        raise AgentFailure("ThrottlingException", "Rate exceeded")

    mesh.agents.bedrock_agent(SUPERVISOR_AGENT_ID, SUPERVISOR_ALIAS_ID, fail)
    status, body = answer_of(orchestrator.handler(message_event("s1", ALICE, {"message": LISBON}), FakeLambdaContext()))
    assert status == 502
    (event,) = session_events(mesh, "alice", "s1")
    assert event.messages() == [("USER", LISBON)]


def test_a_throttled_write_is_queued_and_the_answer_returned(mesh):
    from runtime.credentials import TenantCredentialBroker
    from runtime.stores.agentcore_events import AgentCoreEvents, write_queued_turn

    mesh.aws.agentcore.inject("CreateEvent", throttle=10_000)
    answer = send(LISBON, context=FakeLambdaContext(remaining_ms=3_000))
    assert answer["supervisor_response"] == "Noted, I will remember that." and answer["turn_recorded"] == "queued"
    assert session_events(mesh, "alice", "s1") == []
    sqs = mesh.aws.client("sqs")
    (message,) = sqs.receive_message(QueueUrl=mesh.env["MESH_LIFECYCLE_QUEUE_URL"])["Messages"]
    body = json.loads(message["Body"])
    assert set(body) == {"type", "v", "tenant_id", "actor_id", "session_id", "client_token", "origin_ms", "messages"}
    assert body["type"] == "turn-event" and body["messages"][1]["agent"] == "supervisor"

    # The lifecycle function replays it once the throttling is over.
    mesh.aws.agentcore.inject("CreateEvent", throttle=0)
    broker = TenantCredentialBroker(mesh.aws.mesh.tvm_role_arn, region="us-east-1")
    events = AgentCoreEvents(lambda t, a: broker.client("bedrock-agentcore", t, a), mesh.memory_id)
    write_queued_turn(message["Body"], events)
    (event,) = session_events(mesh, "alice", "s1")
    assert event.messages()[0] == ("USER", LISBON)


def test_a_backend_slow_by_four_seconds_costs_at_most_the_recall_budget(mesh):
    send(LISBON)
    mesh.aws.agentcore.inject("RetrieveMemoryRecords", delay_s=4.0)
    started = time.monotonic()
    answer = send("What do you know?")
    elapsed = time.monotonic() - started
    assert answer["supervisor_response"] == "Noted, I will remember that."
    assert elapsed < orchestrator.RECALL_BUDGET_S + 1.5, elapsed
    # The session still reached the supervisor: only the slow backend was left out.
    assert recent_texts(mesh.agents.calls_to(SUPERVISOR)[-1].attributes)[0] == LISBON
    mesh.aws.agentcore.inject("RetrieveMemoryRecords", delay_s=0.0)
