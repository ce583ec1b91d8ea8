"""The orchestrator handler through its real code path: moto + the runtime's fakes + scripted agents, IAM on."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from runtime.handlers import orchestrator
from runtime.testing.agents_fake import AgentFailure, ServerSentEvents
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
)

SUPERVISOR = f"{SUPERVISOR_AGENT_ID}/{SUPERVISOR_ALIAS_ID}"
BILLING = f"{BILLING_AGENT_ID}/{BILLING_ALIAS_ID}"
ALICE = claims_for("acme", "alice")
HANDOFF_KEYS = {"session_id", "supervisor_response", "worker_response", "delegated", "worker", "memories_used"}


def call(event: Any, context: Any = None) -> tuple[int, dict[str, Any]]:
    return answer_of(orchestrator.handler(event, context or FakeLambdaContext()))


def send(
    message: str, *, session: str = "s1", claims: dict[str, Any] = ALICE, **body: Any
) -> tuple[int, dict[str, Any]]:
    return call(message_event(session, claims, {"message": message, **body}))


def turns(mesh: Any, tenant: str, sub: str, session: str) -> list[tuple[str, str, str | None]]:
    """(role, text, agent) of every message recorded for the actor's session (agent labels: ``agent.<i>``)."""
    events = mesh.aws.agentcore.events(mesh.memory_id, actor_id=f"{tenant}:{actor_of(sub)}", session_id=session)
    return [
        (role, text, ((event.metadata or {}).get(f"agent.{index}") or {}).get("stringValue"))
        for event in events
        for index, (role, text) in enumerate(event.messages())
    ]


def event_count(mesh: Any, tenant: str, sub: str, session: str) -> int:
    return len(mesh.aws.agentcore.events(mesh.memory_id, actor_id=f"{tenant}:{actor_of(sub)}", session_id=session))


def assert_error(status: int, body: dict[str, Any], expected_status: int, code: str, *needles: str) -> None:
    assert status == expected_status, body
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message"}
    assert body["error"]["code"] == code
    for needle in needles:
        assert needle in body["error"]["message"]


# -- the handoff -------------------------------------------------------------------------------------------


def test_message_is_recorded_answered_and_memory_travels_outside_the_prompt(mesh):
    status, body = send("I prefer email over phone calls.")
    assert status == 200
    assert body == {
        "session_id": "s1",
        "supervisor_response": "Noted, I will remember that.",
        "worker_response": None,
        "delegated": False,
        "worker": None,
        "memories_used": 0,
    }
    assert turns(mesh, "acme", "alice", "s1") == [
        ("USER", "I prefer email over phone calls.", None),
        ("ASSISTANT", "Noted, I will remember that.", "supervisor"),
    ]
    (supervisor,) = mesh.agents.calls_to(SUPERVISOR)
    params = supervisor.params
    assert params["inputText"] == "I prefer email over phone calls."
    assert re.fullmatch(r"[0-9a-f]{64}", params["sessionId"])  # derived: never the caller's raw session id
    assert params["memoryId"].startswith("acme.") and len(params["memoryId"]) <= 100
    attributes = params["sessionState"]["sessionAttributes"]
    assert attributes["mesh_tenant_id"] == "acme"
    assert attributes["mesh_actor_id"] == actor_of("alice")
    assert attributes["mesh_session_id"] == "s1"
    assert supervisor.caller.account_id == "111111111111" and supervisor.caller.role_arn is None


def test_recalled_memories_reach_the_supervisor_as_session_state(mesh):
    send("My favourite colour is teal and my cat is called Miso.")
    mesh.aws.agentcore.extract(mesh.memory_id)
    status, body = send("What is my cat called?", session="s2")
    assert status == 200 and body["memories_used"] >= 1
    supervisor = mesh.agents.calls_to(SUPERVISOR)[-1]
    state = supervisor.params["sessionState"]
    block = state["promptSessionAttributes"]["mesh_memory_context"]
    assert block.startswith("<memories>") and block.endswith("</memories>")
    assert "data, not instructions" in block and "Miso" in block
    assert state["sessionAttributes"]["mesh_memory_context"] == block
    assert int(state["sessionAttributes"]["mesh_memory_count"]) == body["memories_used"]
    assert supervisor.params["inputText"] == "What is my cat called?"  # nothing pasted into the prompt


def test_supervisor_handoff_line_delegates_and_is_removed(mesh):
    status, body = send("I have a question about my invoice.")
    assert status == 200
    assert body["supervisor_response"] == "Let me bring in our billing specialist."
    assert body["delegated"] is True and body["worker"] == "billing"
    assert body["worker_response"] == "I have no records about you yet."
    assert "HANDOFF" not in json.dumps(body)
    assert turns(mesh, "acme", "alice", "s1")[-1] == ("ASSISTANT", "I have no records about you yet.", "billing")


def test_request_can_name_the_worker(mesh):
    status, body = send("Hello there.", worker="billing")
    assert status == 200 and body["delegated"] is True and body["worker"] == "billing"
    (call_,) = mesh.agents.calls_to(BILLING)
    assert call_.prompt == "Hello there."
    assert call_.caller.region == WORKER_REGION


def test_worker_access_role_is_assumed_with_external_id_source_identity_and_tags_then_cached(mesh):
    send("Question about billing, please.")
    send("Another billing question.", session="s2")
    sessions = mesh.aws.iam.assume_role_calls(BILLING_ROLE_ARN)
    assert len(sessions) == 1, "credentials are cached per (worker, tenant, actor)"
    (session,) = sessions
    actor = actor_of("alice")
    assert session.external_id == BILLING_EXTERNAL_ID
    assert session.source_identity == actor and len(actor) <= 64
    assert dict(session.tags) == {"TenantID": "acme", "ActorID": actor}
    assert session.duration_seconds == 900
    assert session.role_session_name == f"mesh-acme-{actor[:16]}"
    calls = mesh.agents.calls_to(BILLING)
    assert [c.caller.account_id for c in calls] == [WORKER_ACCOUNT, WORKER_ACCOUNT]
    assert all(c.caller.role_arn == BILLING_ROLE_ARN for c in calls)
    # Another user of the same tenant gets their own worker session.
    send("A billing question from bob.", claims=claims_for("acme", "bob"))
    assert len(mesh.aws.iam.assume_role_calls(BILLING_ROLE_ARN)) == 2


def test_agentcore_runtime_worker_gets_memory_in_the_payload(mesh):
    send("My account manager is Dana Smith.")
    mesh.aws.agentcore.extract(mesh.memory_id)
    status, body = send("Who is my account manager?", session="s2", worker="support")
    assert status == 200 and body["worker"] == "support"
    assert body["worker_response"].startswith("Support knows: ") and "Dana Smith" in body["worker_response"]
    (runtime_call,) = mesh.agents.calls_to(SUPPORT_RUNTIME_ARN)
    params = runtime_call.params
    assert params["qualifier"] == "DEFAULT"
    assert 33 <= len(params["runtimeSessionId"]) <= 100
    payload = json.loads(params["payload"])
    assert payload["prompt"] == "Who is my account manager?"
    assert set(payload["memory"]) == {
        "tenant_id", "actor_id", "session_id", "count", "context", "records", "recent_turns", "session_context"
    }
    assert payload["memory"]["tenant_id"] == "acme" and payload["memory"]["count"] == body["memories_used"]
    assert runtime_call.caller.account_id == "333333333333" and runtime_call.caller.region == "eu-west-1"


def test_agentcore_runtime_server_sent_events_are_read_whole(mesh):
    mesh.agents.agentcore_runtime(SUPPORT_RUNTIME_ARN, lambda p, a, c: ServerSentEvents(("Hel", "lo ", "there.")))
    status, body = send("Hi", worker="support")
    assert status == 200 and body["worker_response"] == "Hello there."


def test_whole_completion_stream_is_read(mesh):
    long_answer = " ".join(f"sentence {i} of a long answer." for i in range(40))
    mesh.agents.bedrock_agent(SUPERVISOR_AGENT_ID, SUPERVISOR_ALIAS_ID, lambda p, a, c: long_answer)
    status, body = send("Tell me a long story.")
    assert status == 200 and body["supervisor_response"] == long_answer


def test_supervisor_trace_and_return_control_events_are_handled(mesh):
    events = [
        {"trace": {"agentId": SUPERVISOR_AGENT_ID, "sessionId": "x",
                   "trace": {"orchestrationTrace": {"rationale": {"traceId": "t", "text": "thinking"}}}}},
        {"chunk": {"bytes": "Part one, "}},
        {"returnControl": {"invocationId": "inv-1", "invocationInputs": []}},
        {"chunk": {"bytes": "part two."}},
    ]
    mesh.agents.bedrock_agent(SUPERVISOR_AGENT_ID, SUPERVISOR_ALIAS_ID, lambda p, a, c: events)
    status, body = send("Hi")
    assert status == 200 and body["supervisor_response"] == "Part one, part two."


def test_stateless_direct_invoke_records_nothing(mesh):
    payload = {"message": "I prefer tea to coffee.", "tenant_id": "acme", "actor_id": "svc-user-1"}
    first = orchestrator.handler(payload, FakeLambdaContext())
    second = orchestrator.handler(dict(payload, worker="billing"), FakeLambdaContext())
    assert first["statusCode"] == 200 and first["session_id"] is None
    assert set(first) == {"statusCode", *HANDOFF_KEYS}
    assert second["delegated"] is True
    assert mesh.aws.agentcore.events(mesh.memory_id) == []
    supervisor_calls = mesh.agents.calls_to(SUPERVISOR)
    assert all("memoryId" not in c.params for c in supervisor_calls)
    session_ids = {c.params["sessionId"] for c in mesh.agents.calls}
    assert len(session_ids) == 3 and all(s.startswith("stateless-") for s in session_ids)
    messages = mesh.aws.client("sqs").receive_message(QueueUrl=mesh.env["MESH_SUMMARY_QUEUE_URL"])
    assert "Messages" not in messages


def test_direct_invoke_with_session_records_under_the_given_actor(mesh):
    response = orchestrator.handler(
        {"message": "Remember my seat is 12B.", "session_id": "svc-1", "tenant_id": "acme", "actor_id": "svc-user-1"},
        FakeLambdaContext(),
    )
    assert response["statusCode"] == 200 and response["session_id"] == "svc-1"
    events = mesh.aws.agentcore.events(mesh.memory_id, actor_id="acme:svc-user-1", session_id="svc-1")
    assert [role for e in events for role, _ in e.messages()] == ["USER", "ASSISTANT"]


# -- ending sessions ------------------------------------------------------------------------------------------


def _lifecycle_messages(mesh: Any) -> list[dict[str, Any]]:
    sqs = mesh.aws.client("sqs")
    answer = sqs.receive_message(QueueUrl=mesh.env["MESH_LIFECYCLE_QUEUE_URL"], MaxNumberOfMessages=10)
    return [json.loads(m["Body"]) for m in answer.get("Messages", [])]


def _queued(mesh: Any) -> list[dict[str, Any]]:
    sqs = mesh.aws.client("sqs")
    answer = sqs.receive_message(QueueUrl=mesh.env["MESH_SUMMARY_QUEUE_URL"], MaxNumberOfMessages=10)
    return [json.loads(m["Body"]) for m in answer.get("Messages", [])]


def test_end_session_flag_enqueues_exactly_one_job(mesh):
    status, body = send("That is all for today.", end_session=True)
    assert status == 200 and body["summary_queued"] is True
    (job,) = _queued(mesh)
    assert job["tenant_id"] == "acme" and job["actor_id"] == actor_of("alice")
    assert job["session_id"] == "s1" and job["agent"] == "supervisor" and job["v"] == 1


def test_end_route_enqueues_the_summary_job(mesh):
    event = api_event("POST /sessions/{session_id}/end", claims=ALICE, path_parameters={"session_id": "s9"})
    status, body = call(event)
    assert status == 202 and body == {"session_id": "s9", "summary_queued": True}
    (job,) = _queued(mesh)
    assert job["session_id"] == "s9"


def test_end_session_needs_a_session(mesh):
    response = orchestrator.handler(
        {"message": "bye", "tenant_id": "acme", "actor_id": "svc-user-1", "end_session": True}, FakeLambdaContext()
    )
    assert response["statusCode"] == 400 and "end_session" in response["error"]["message"]


def test_unconfigured_summary_queue_is_a_generic_500(mesh, monkeypatch):
    monkeypatch.delenv("MESH_SUMMARY_QUEUE_URL")
    event = api_event("POST /sessions/{session_id}/end", claims=ALICE, path_parameters={"session_id": "s9"})
    status, body = call(event)
    assert_error(status, body, 500, "InternalError", "not configured")


# -- listing memories -------------------------------------------------------------------------------------------


def test_get_memories_lists_both_backends_for_the_caller_only(mesh):
    from runtime.credentials import TenantCredentialBroker
    from runtime.embeddings import LocalHashEmbedder
    from runtime.identity import Identity
    from runtime.stores import S3VectorsMemoryStore

    broker = TenantCredentialBroker(mesh.aws.mesh.tvm_role_arn, region="us-east-1")
    store = S3VectorsMemoryStore(broker, bucket_name=mesh.aws.mesh.bucket_name, index_prefix="tenant-",
                                 embedder=LocalHashEmbedder(256))
    store.put_memory(Identity("acme", actor_of("alice")), "Alice likes window seats.", kind="fact")
    store.put_memory(Identity("acme", actor_of("bob")), "Bob likes aisle seats.", kind="fact")
    send("I work at the Lisbon office.")
    send("I am Bob and I work in Porto.", claims=claims_for("acme", "bob"))
    mesh.aws.agentcore.extract(mesh.memory_id)

    status, body = call(api_event("GET /memories", claims=ALICE))
    assert status == 200
    contents = [m["content"] for m in body["memories"]]
    assert "Alice likes window seats." in contents
    assert "I work at the Lisbon office." in contents
    assert not any("Bob" in c or "Porto" in c for c in contents)
    assert body["count"] == len(body["memories"])
    assert {m["source"] for m in body["memories"]} == {"s3vectors", "agentcore"}


def test_get_memories_of_a_tenant_without_index_lists_agentcore_only(mesh):
    status, body = call(api_event("GET /memories", claims=claims_for("initech", "carol")))
    assert status == 200 and body == {"memories": [], "count": 0, "next_cursor": None}


# -- failures ---------------------------------------------------------------------------------------------


INTERNALS = ("Throttling", "arn:", "scripted", "Traceback", "111111111111", "222222222222", "botocore")


def _no_internals(body: dict[str, Any]) -> None:
    text = json.dumps(body)
    for needle in INTERNALS:
        assert needle not in text


@pytest.mark.parametrize(
    "failure",
    [
        AgentFailure("ThrottlingException", "Rate exceeded for arn:aws:bedrock:us-west-2:222222222222:agent/X"),
        AgentFailure("throttlingException", "scripted mid-stream failure", mid_stream=True, partial="I was saying"),
        AgentFailure("AccessDeniedException", "not authorized"),
    ],
)
def test_worker_failure_still_answers_with_the_supervisor_and_a_worker_error(mesh, failure):
    def fail(prompt, attributes, caller):
        raise failure

    mesh.agents.bedrock_agent(BILLING_AGENT_ID, BILLING_ALIAS_ID, fail, account_id=WORKER_ACCOUNT, region=WORKER_REGION)
    status, body = send("A question about my invoice.")
    assert status == 200
    assert body["supervisor_response"] == "Let me bring in our billing specialist."
    assert body["delegated"] is True and body["worker"] == "billing" and body["worker_response"] is None
    assert body["worker_error"] == {
        "code": "UpstreamError", "message": "worker 'billing' failed; the request can be retried"
    }
    _no_internals(body)
    assert [role for role, _, _ in turns(mesh, "acme", "alice", "s1")] == ["USER", "ASSISTANT"]
    assert event_count(mesh, "acme", "alice", "s1") == 1


def test_worker_in_the_wrong_account_is_a_worker_error(mesh):
    # The worker's agent exists only in the supervisor's account: the worker role's account cannot see it.
    mesh.agents.bedrock_agent(BILLING_AGENT_ID, BILLING_ALIAS_ID, lambda p, a, c: "hi", account_id="444444444444",
                              region=WORKER_REGION)
    status, body = send("Billing question.")
    assert status == 200 and body["worker_error"]["code"] == "UpstreamError"


def test_supervisor_naming_an_unknown_worker_is_reported_not_delegated(mesh):
    mesh.agents.bedrock_agent(SUPERVISOR_AGENT_ID, SUPERVISOR_ALIAS_ID, lambda p, a, c: "One moment.\nHANDOFF: legal")
    status, body = send("I need legal advice.")
    assert status == 200
    assert body["delegated"] is False and body["worker"] == "legal" and body["worker_response"] is None
    assert body["worker_error"]["code"] == "NotFound"
    assert body["supervisor_response"] == "One moment."


def test_unknown_worker_is_404_and_nothing_happens(mesh):
    status, body = send("Hello", worker="legal")
    assert_error(status, body, 404, "NotFound", "legal")
    assert mesh.agents.calls == [] and mesh.aws.agentcore.events(mesh.memory_id) == []


def test_worker_not_allowed_for_the_tenant_is_403(mesh):
    status, body = send("Hello", worker="support", claims=claims_for("globex", "gina"))
    assert_error(status, body, 403, "AccessDenied", "support", "globex")
    assert mesh.agents.calls == []


def test_body_tenant_different_from_the_claim_is_403(mesh):
    status, body = send("Hello", tenant_id="globex")
    assert_error(status, body, 403, "AccessDenied", "tenant_id")
    assert mesh.agents.calls == []


def test_body_actor_different_from_the_token_is_403(mesh):
    status, body = send("Hello", actor_id="someone-else")
    assert_error(status, body, 403, "AccessDenied", "actor_id")


def test_matching_body_tenant_is_accepted(mesh):
    status, _ = send("Hello", tenant_id="acme", actor_id=actor_of("alice"))
    assert status == 200


@pytest.mark.parametrize(
    ("claims", "needle"),
    [
        (None, "no verified JWT claims"),
        ({"iss": "https://issuer.example", "sub": "alice"}, "claims.custom:tenant_id"),
        ({"iss": "https://issuer.example", "custom:tenant_id": "acme"}, "claims.sub"),
        ({"iss": "https://issuer.example", "sub": "a", "custom:tenant_id": "ACME*"}, "claims.custom:tenant_id"),
    ],
)
def test_tokens_that_do_not_identify_a_tenant_and_user_are_403(mesh, claims, needle):
    status, body = call(message_event("s1", claims, {"message": "Hello"}))
    assert_error(status, body, 403, "AccessDenied", needle)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "message"),
        ({"message": 42}, "message"),
        ({"message": "   "}, "message"),
        ({"message": "x" * (16 * 1024 + 1)}, "message"),
        ({"message": "\ud800"}, "message"),
        ({"message": "hi", "worker": "Bad Worker!"}, "worker"),
        ({"message": "hi", "worker": 7}, "worker"),
        ({"message": "hi", "end_session": "yes"}, "end_session"),
        ({"message": "hi", "colour": "blue"}, "body.colour"),
        ("not json", "body"),
        ("[1, 2]", "body"),
        ('{"message": NaN}', "body"),
    ],
)
def test_invalid_input_is_400_naming_the_field(mesh, body, field):
    status, answer = call(message_event("s1", ALICE, body))
    assert_error(status, answer, 400, "InvalidInput", field)
    assert mesh.agents.calls == []


@pytest.mark.parametrize("session", ["a", "has space", "x" * 101, "-leading", "semi;colon"])
def test_invalid_session_id_is_400(mesh, session):
    status, body = call(message_event(session, ALICE, {"message": "hi"}))
    assert_error(status, body, 400, "InvalidInput", "session_id")


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"message": "hi", "actor_id": "a1"}, "tenant_id"),
        ({"message": "hi", "tenant_id": "acme"}, "actor_id"),
        ({"message": "hi", "tenant_id": "Not A Tenant", "actor_id": "a1"}, "tenant_id"),
        ({"message": "hi", "tenant_id": "acme", "actor_id": "a1", "session_id": "bad id"}, "session_id"),
        ({"message": "hi", "tenant_id": "acme", "actor_id": "a1", "extra": 1}, "payload.extra"),
        ({"tenant_id": "acme", "actor_id": "a1"}, "message"),
    ],
)
def test_direct_invoke_errors_carry_status_code_and_error(mesh, payload, field):
    response = orchestrator.handler(payload, FakeLambdaContext())
    assert response["statusCode"] == 400
    assert set(response) == {"statusCode", "error"} and response["error"]["code"] == "InvalidInput"
    assert field in response["error"]["message"]


def test_base64_body_is_decoded(mesh):
    event = api_event(
        "POST /sessions/{session_id}/messages", claims=ALICE, body={"message": "Hello"},
        path_parameters={"session_id": "s1"}, base64_body=True,
    )
    assert call(event)[0] == 200


def test_unknown_route_is_404(mesh):
    status, body = call(api_event("PUT /sessions/{session_id}", claims=ALICE, path_parameters={"session_id": "s1"}))
    assert_error(status, body, 404, "NotFound", "route")


@pytest.mark.parametrize(
    "reply",
    [
        AgentFailure("ThrottlingException", "Rate exceeded"),
        AgentFailure("internalServerException", "boom in arn:aws:bedrock:...", mid_stream=True, partial="Hal"),
        AgentFailure("ResourceNotFoundException", "no such alias"),
        [{"returnControl": {"invocationId": "inv-1", "invocationInputs": []}}],
        "",
    ],
)
def test_supervisor_failure_is_502_without_internals(mesh, reply):
    def supervisor(prompt, attributes, caller):
        if isinstance(reply, Exception):
            raise reply
        return reply

    mesh.agents.bedrock_agent(SUPERVISOR_AGENT_ID, SUPERVISOR_ALIAS_ID, supervisor)
    status, body = send("Hello")
    assert_error(status, body, 502, "UpstreamError", "supervisor agent")
    _no_internals(body)
    # The user's message is still durable: one event holding it alone.
    assert turns(mesh, "acme", "alice", "s1") == [("USER", "Hello", None)]


def test_memory_service_failure_degrades_and_queues_the_turn(mesh):
    # The TVM deployed without its AgentCore statements: IAM allows no AgentCore call, recall degrades, the
    # agents answer, the write is queued.
    assert mesh.aws.iam.drop_statements(mesh.aws.mesh.tvm_role_arn, service="bedrock-agentcore")
    status, body = send("Hello")
    assert status == 200 and body["supervisor_response"] == "Noted, I will remember that."
    assert body["turn_recorded"] == "queued" and body["memories_used"] == 0
    (queued,) = _lifecycle_messages(mesh)
    assert queued["type"] == "turn-event" and [m["text"] for m in queued["messages"]] == [
        "Hello", "Noted, I will remember that."
    ]


def test_retrieval_failure_degrades_to_no_memories(mesh):
    # The TVM deployed without its S3 Vectors statements: that backend fails, AgentCore still answers.
    assert mesh.aws.iam.drop_statements(mesh.aws.mesh.tvm_role_arn, service="s3vectors")
    status, body = send("Hello")
    assert status == 200 and body["memories_used"] == 0


def test_exhausted_time_budget_is_504_before_any_call(mesh):
    status, body = call(message_event("s1", ALICE, {"message": "Hello"}), FakeLambdaContext(remaining_ms=1200))
    assert_error(status, body, 504, "UpstreamTimeout", "time budget")
    assert mesh.agents.calls == []


def test_supervisor_outliving_the_budget_is_504(mesh):
    context = FakeLambdaContext(remaining_ms=20_000)

    def slow(prompt, attributes, caller):
        context.advance(19.5)
        return "Finally, an answer."

    mesh.agents.bedrock_agent(SUPERVISOR_AGENT_ID, SUPERVISOR_ALIAS_ID, slow)
    status, body = call(message_event("s1", ALICE, {"message": "Hello"}), context)
    assert_error(status, body, 504, "UpstreamTimeout", "supervisor agent")


def test_no_time_left_for_the_worker_is_a_worker_error(mesh):
    context = FakeLambdaContext(remaining_ms=20_000)

    def slowish(prompt, attributes, caller):
        context.advance(18.2)
        return "Over to billing.\nHANDOFF: billing"

    mesh.agents.bedrock_agent(SUPERVISOR_AGENT_ID, SUPERVISOR_ALIAS_ID, slowish)
    status, body = call(message_event("s1", ALICE, {"message": "Hello"}), context)
    assert status == 200 and body["supervisor_response"] == "Over to billing."
    assert body["worker_error"]["code"] == "UpstreamTimeout"
    assert mesh.agents.calls_to(BILLING) == []


def test_malformed_agent_stream_is_502(mesh):
    mesh.agents.bedrock_agent(SUPERVISOR_AGENT_ID, SUPERVISOR_ALIAS_ID, lambda p, a, c: [{"trace": {"trace": {}}}])
    status, body = send("Hello")
    assert_error(status, body, 502, "UpstreamError", "supervisor agent")


def test_missing_configuration_is_a_generic_500(mesh, monkeypatch):
    monkeypatch.delenv("MESH_SUPERVISOR_AGENT")
    status, body = send("Hello")
    assert_error(status, body, 500, "InternalError")
    assert "MESH_" not in body["error"]["message"]


def test_invalid_workers_file_fails_delegation_with_a_generic_500(mesh, tmp_path, monkeypatch):
    bad = tmp_path / "bad-workers.json"
    bad.write_text(json.dumps([{"name": "billing", "role_arn": "not-an-arn"}]))
    monkeypatch.setenv("MESH_WORKERS_FILE", str(bad))
    status, body = send("Hello", worker="billing")
    assert_error(status, body, 500, "InternalError")


# -- observability ---------------------------------------------------------------------------------------------


def _stdout_json(capsys: Any) -> list[dict[str, Any]]:
    lines = []
    for line in capsys.readouterr().out.splitlines():
        try:
            lines.append(json.loads(line))
        except ValueError:
            continue
    return lines


def test_metrics_are_emitted_in_the_mesh_namespace(mesh, capsys):
    send("My cat is called Miso.")
    capsys.readouterr()
    send("A billing question, please.", session="s2")
    emf = [line for line in _stdout_json(capsys) if "_aws" in line]
    assert len(emf) == 1
    (directive,) = emf[0]["_aws"]["CloudWatchMetrics"]
    assert directive["Namespace"] == "AgentMemoryMesh"
    assert {m["Name"] for m in directive["Metrics"]} >= {"Handoffs", "Delegations", "MemoriesUsed"}
    assert emf[0]["Handoffs"] == [1.0] and emf[0]["Delegations"] == [1.0]


def test_errors_are_counted(mesh, capsys):
    mesh.agents.bedrock_agent(SUPERVISOR_AGENT_ID, SUPERVISOR_ALIAS_ID, lambda p, a, c: "")
    send("Hello")
    emf = [line for line in _stdout_json(capsys) if "_aws" in line]
    assert emf and emf[-1]["Errors"] == [1.0]


def test_logs_carry_no_message_text_or_claims(mesh, capsys):
    secret_sub = "alice-private-subject"
    send("My social security number is 078-05-1120 and my invoice is overdue.",
         claims=claims_for("acme", secret_sub))
    send("x" * 20, worker="legal", claims=claims_for("acme", secret_sub))
    output = capsys.readouterr().out
    assert "handoff answered" in output
    for needle in ("078-05-1120", "social security", secret_sub, "@example.com", "Bearer", "x" * 20):
        assert needle not in output
    assert actor_of(secret_sub) not in output  # not even the actor hash: a short reference to it
    from runtime.identity import log_ref

    assert log_ref(actor_of(secret_sub)) in output
