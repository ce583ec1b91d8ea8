"""The session routes through the HTTP handler: list, read, delete, end; bad input refused with no AWS call."""

from __future__ import annotations

import json
from typing import Any

import pytest

from runtime.handlers import orchestrator
from tests.handlers.lambda_events import (
    BILLING_AGENT_ID,
    BILLING_ALIAS_ID,
    SUPERVISOR_AGENT_ID,
    SUPERVISOR_ALIAS_ID,
    FakeLambdaContext,
    actor_of,
    answer_of,
    api_event,
    claims_for,
    message_event,
)

ALICE = claims_for("acme", "alice")
BOB = claims_for("acme", "bob")
SUPERVISOR = f"{SUPERVISOR_AGENT_ID}/{SUPERVISOR_ALIAS_ID}"
BILLING = f"{BILLING_AGENT_ID}/{BILLING_ALIAS_ID}"


def call(route: str, claims: dict[str, Any] = ALICE, *, session: str | None = None,
         query: dict[str, str] | None = None) -> tuple[int, dict[str, Any]]:
    params = {"session_id": session} if session is not None else None
    event = api_event(route, claims=claims, path_parameters=params, query=query)
    return answer_of(orchestrator.handler(event, FakeLambdaContext()))


def say(message: str, session: str, claims: dict[str, Any] = ALICE, **body: Any) -> dict[str, Any]:
    status, answer = answer_of(
        orchestrator.handler(message_event(session, claims, {"message": message, **body}), FakeLambdaContext())
    )
    assert status == 200, answer
    return answer


def aws_calls(mesh: Any) -> int:
    return sum(mesh.aws.call_count(service) for service in ("bedrock-agentcore", "s3vectors"))


def test_sessions_are_listed_newest_first_with_a_cursor_bound_to_the_caller(mesh):
    for session in ("s-1", "s-2", "s-3"):
        say(f"Hello from {session}", session)
    status, first = call("GET /sessions", query={"page_size": "2"})
    assert status == 200 and [s["session_id"] for s in first["sessions"]] == ["s-3", "s-2"]
    status, rest = call("GET /sessions", query={"page_size": "2", "cursor": first["next_cursor"]})
    assert [s["session_id"] for s in rest["sessions"]] == ["s-1"] and rest["next_cursor"] is None
    assert call("GET /sessions", BOB)[1] == {"sessions": [], "next_cursor": None}

    before = aws_calls(mesh)
    for query, field in [
        ({"cursor": first["next_cursor"]}, None),  # bob presenting alice's cursor
        ({"cursor": "%%%"}, "cursor"),
        ({"page_size": "101"}, "page_size"),
        ({"page_size": "0"}, "page_size"),
        ({"page_size": "ten"}, "page_size"),
        ({"colour": "blue"}, "query.colour"),
    ]:
        status, body = call("GET /sessions", BOB, query=query)
        assert status == 400 and body["error"]["code"] == "InvalidInput", (query, body)
        assert (field or "cursor") in body["error"]["message"]
    assert aws_calls(mesh) == before, "bad input reaches no AWS service"


def test_a_session_is_read_turn_by_turn_and_another_users_is_not_found(mesh):
    say("I prefer tea.", "s-1")
    say("A question about my invoice.", "s-1")
    status, page = call("GET /sessions/{session_id}", session="s-1", query={"page_size": "1"})
    assert status == 200 and page["session_id"] == "s-1" and page["next_cursor"]
    (turn,) = page["turns"]
    assert [(m["role"], m["agent"]) for m in turn["messages"]] == [
        ("USER", None), ("ASSISTANT", "supervisor"), ("ASSISTANT", "billing")
    ]
    status, older = call("GET /sessions/{session_id}", session="s-1", query={"cursor": page["next_cursor"]})
    assert [m["text"] for m in older["turns"][0]["messages"]] == ["I prefer tea.", "Noted, I will remember that."]

    status, foreign = call("GET /sessions/{session_id}", BOB, session="s-1")
    status_none, never = call("GET /sessions/{session_id}", BOB, session="s-404")
    assert status == status_none == 404
    assert foreign["error"]["code"] == never["error"]["code"] == "NotFound"
    assert foreign["error"]["message"].replace("s-1", "X") == never["error"]["message"].replace("s-404", "X")


def test_deleting_a_session_removes_its_events_and_summaries_everywhere(mesh):
    say("My cat is called Miso.", "s-1")
    say("Keep this one.", "s-2")
    say("Bye for now.", "s-1")
    call("POST /sessions/{session_id}/end", session="s-1")
    mesh.aws.agentcore.extract(mesh.memory_id)
    mesh.agents.complete_session_summaries()
    actor = f"acme:{actor_of('alice')}"
    summaries = [r for r in mesh.aws.agentcore.records(mesh.memory_id) if r.namespace.startswith("/summaries/")]
    assert {r.namespace for r in summaries} == {f"/summaries/{actor}/s-1/", f"/summaries/{actor}/s-2/"}
    assert any("Miso" in m["content"] for m in call("GET /memories")[1]["memories"] if m["source"] == "bedrock-agent")

    status, foreign = call("DELETE /sessions/{session_id}", BOB, session="s-1")
    assert status == 404 and len(mesh.aws.agentcore.events(mesh.memory_id, actor_id=actor, session_id="s-1")) == 2

    status, body = call("DELETE /sessions/{session_id}", session="s-1")
    assert status == 200 and body["complete"] is True
    assert body["deleted"]["events"] == 2 and body["deleted"]["agentcore_summaries"] == 1
    assert mesh.aws.agentcore.events(mesh.memory_id, actor_id=actor, session_id="s-1") == []
    assert len(mesh.aws.agentcore.events(mesh.memory_id, actor_id=actor, session_id="s-2")) == 1
    left = [r.namespace for r in mesh.aws.agentcore.records(mesh.memory_id) if r.namespace.startswith("/summaries/")]
    assert left == [f"/summaries/{actor}/s-2/"]
    assert not any(m["source"] == "bedrock-agent" for m in call("GET /memories")[1]["memories"])
    assert call("DELETE /sessions/{session_id}", session="s-1")[0] == 404  # nothing left: the same as never


def test_ending_a_session_ends_it_in_every_bedrock_agent_that_took_part(mesh):
    say("A question about my invoice.", "s-1")
    status, body = call("POST /sessions/{session_id}/end", session="s-1")
    assert status == 202 and body == {"session_id": "s-1", "summary_queued": True}
    ended = {key: memory for key, memory, _ in mesh.agents.ended_sessions}
    assert set(ended) == {SUPERVISOR, BILLING}
    assert ended[SUPERVISOR] is not None and ended[SUPERVISOR].startswith("acme.")  # the user's memoryId
    assert ended[BILLING] is None  # a worker keeps no Bedrock memory of the user
    supervisor_sessions = {c.params["sessionId"] for c in mesh.agents.calls_to(SUPERVISOR)}
    assert len(supervisor_sessions) == 1  # the same agent session the turns used


def test_bedrock_session_summaries_are_listed_with_the_memories(mesh):
    say("I always fly with an aisle seat.", "s-1", end_session=True)
    assert not any(m["source"] == "bedrock-agent" for m in call("GET /memories")[1]["memories"])
    assert mesh.agents.complete_session_summaries() == 1  # Bedrock Agents summarizes minutes later
    memories = call("GET /memories")[1]["memories"]
    (summary,) = [m for m in memories if m["source"] == "bedrock-agent"]
    assert summary["kind"] == "summary" and summary["agent"] == "supervisor" and "aisle seat" in summary["content"]
    assert not any(m["source"] == "bedrock-agent" for m in call("GET /memories", BOB)[1]["memories"])


@pytest.mark.parametrize("route", ["GET /sessions/{session_id}", "DELETE /sessions/{session_id}"])
def test_invalid_session_ids_are_400_with_no_aws_call(mesh, route):
    before = aws_calls(mesh)
    status, body = call(route, session="bad id!")
    assert status == 400 and "session_id" in body["error"]["message"]
    assert aws_calls(mesh) == before
    assert json.dumps(body).count("bad id!") == 1
