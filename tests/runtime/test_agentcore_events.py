"""AgentCoreEvents over the emulated memory home: one event per turn, reads, listings, cursors, deletes, the queue."""

from __future__ import annotations

import json

import pytest

from runtime.budget import Budget
from runtime.errors import InvalidInputError, NotFoundError
from runtime.identity import Identity
from runtime.stores.agentcore_events import (
    AgentCoreEvents,
    TurnMessage,
    TurnWriteThrottled,
    parse_turn_event_message,
    turn_event_message,
    write_queued_turn,
)

ALICE = Identity("acme", "alice")
BOB = Identity("acme", "bob")
GLOBEX_ALICE = Identity("globex", "alice")


@pytest.fixture
def events(aws):
    from runtime.credentials import TenantCredentialBroker

    broker = TenantCredentialBroker(aws.mesh.tvm_role_arn, region="us-east-1")
    clock = iter(range(1_800_000_000, 1_900_000_000, 10))
    return AgentCoreEvents(
        lambda tenant, actor: broker.client("bedrock-agentcore", tenant, actor), aws.mesh.memory_id,
        clock=lambda: float(next(clock)), sleep=lambda s: None,
    )


def turn(user: str, *answers: tuple[str, str]) -> list[TurnMessage]:
    return [TurnMessage("USER", user), *(TurnMessage("ASSISTANT", text, agent) for agent, text in answers)]


def test_a_turn_is_one_event_with_each_message_labelled(aws, events):
    event_id = events.record_turn(
        ALICE, "s1", turn("Pay my invoice", ("supervisor", "Handing over."), ("billing", "Paid.")), client_token="r-1"
    )
    (stored,) = aws.agentcore.events(aws.mesh.memory_id, actor_id="acme:alice", session_id="s1")
    assert stored.event_id == event_id
    assert stored.messages() == [("USER", "Pay my invoice"), ("ASSISTANT", "Handing over."), ("ASSISTANT", "Paid.")]
    assert stored.metadata == {
        "mesh_kind": {"stringValue": "turn"},
        "agent.1": {"stringValue": "supervisor"},
        "agent.2": {"stringValue": "billing"},
    }
    # The same client token (a Lambda retry) writes nothing more.
    assert events.record_turn(ALICE, "s1", turn("Pay my invoice"), client_token="r-1") == event_id
    assert aws.call_count("bedrock-agentcore", "CreateEvent") == 2
    assert len(aws.agentcore.events(aws.mesh.memory_id)) == 1


def test_recent_turns_are_the_newest_within_bounds_oldest_first(events):
    for i in range(6):
        events.record_turn(ALICE, "s1", turn(f"question {i}", ("supervisor", f"answer {i}")))
    recent = events.recent_turns(ALICE, "s1", max_turns=3)
    assert [m.text for m in recent.messages] == ["question 3", "answer 3", "question 4", "answer 4", "question 5",
                                                 "answer 5"]
    assert recent.trimmed
    entries = recent.to_json()
    assert entries[1] == {"role": "assistant", "agent": "supervisor", "text": "answer 3", "at": entries[1]["at"]}
    small = events.recent_turns(ALICE, "s1", max_turns=10, max_bytes=len("question 5answer 5") + 3)
    assert [m.text for m in small.messages] == ["question 5", "answer 5"] and small.trimmed
    assert events.recent_turns(ALICE, "s2").turns == ()
    assert events.recent_turns(BOB, "s1").turns == () and events.recent_turns(GLOBEX_ALICE, "s1").turns == ()


def test_session_listing_and_turn_pages_are_bound_to_the_caller(events):
    for session in ("s1", "s2", "s3"):
        events.record_turn(ALICE, session, turn(f"hello from {session}"))
    first = events.list_sessions(ALICE, page_size=2)
    assert [s.session_id for s in first.sessions] == ["s3", "s2"] and first.next_cursor
    second = events.list_sessions(ALICE, cursor=first.next_cursor, page_size=2)
    assert [s.session_id for s in second.sessions] == ["s1"] and second.next_cursor is None
    with pytest.raises(InvalidInputError, match="another listing"):
        events.list_sessions(BOB, cursor=first.next_cursor)
    with pytest.raises(InvalidInputError, match="cursor"):
        events.list_sessions(ALICE, cursor="not-a-cursor")
    with pytest.raises(InvalidInputError, match="page_size"):
        events.list_sessions(ALICE, page_size=101)
    assert events.list_sessions(BOB).sessions == ()

    for i in range(3):
        events.record_turn(ALICE, "s1", turn(f"more {i}"))
    page = events.session_turns(ALICE, "s1", page_size=2)
    assert [t.messages[0].text for t in page.turns] == ["more 2", "more 1"]
    rest = events.session_turns(ALICE, "s1", cursor=page.next_cursor, page_size=2)
    assert [t.messages[0].text for t in rest.turns] == ["more 0", "hello from s1"]
    with pytest.raises(InvalidInputError, match="another listing"):
        events.session_turns(ALICE, "s2", cursor=page.next_cursor)
    with pytest.raises(NotFoundError):
        events.session_turns(BOB, "s1")


def test_deleting_a_session_removes_its_events_only(aws, events):
    for i in range(4):
        events.record_turn(ALICE, "s1", turn(f"q{i}"))
    events.record_turn(ALICE, "s2", turn("keep me"))
    assert events.delete_session(ALICE, "s1", deadline=Budget(10)) == (4, True)
    assert events.delete_session(ALICE, "s1", deadline=Budget(10)) == (0, True)
    assert [e.session_id for e in aws.agentcore.events(aws.mesh.memory_id)] == ["s2"]
    assert sorted(events.iter_session_ids(ALICE)) == ["s1", "s2"]


def test_throttled_writes_retry_within_the_budget_then_raise(aws, events):
    aws.agentcore.inject("CreateEvent", throttle=2)
    events.record_turn(ALICE, "s1", turn("hi"))
    assert aws.call_count("bedrock-agentcore", "CreateEvent") == 3
    aws.agentcore.inject("CreateEvent", throttle=1000)
    with pytest.raises(TurnWriteThrottled):
        events.record_turn(ALICE, "s1", turn("again"), budget=Budget(0.3))


def test_a_queued_turn_replays_once_and_respects_the_tombstone(aws, events):
    messages = turn("I live in Porto", ("supervisor", "Noted."))
    body = turn_event_message(ALICE, "s1", messages, client_token="r-9", origin_ms=1_800_000_000_000)
    assert json.loads(json.dumps(body))["type"] == "turn-event"
    identity, session, parsed, token, origin = parse_turn_event_message(json.dumps(body))
    assert (identity, session, parsed, token, origin) == (ALICE, "s1", messages, "r-9", 1_800_000_000_000)
    first = write_queued_turn(json.dumps(body), events)
    assert write_queued_turn(body, events) == first
    assert len(aws.agentcore.events(aws.mesh.memory_id)) == 1
    assert write_queued_turn(body, events, forgotten_at=lambda who: 1_800_000_000_001) is None
    with pytest.raises(InvalidInputError, match="message.type"):
        write_queued_turn({"type": "forget"}, events)


def test_a_huge_turn_still_fits_one_queue_message():
    big = turn("x" * 16_000, ("supervisor", "y" * 100_000), ("billing", "z" * 100_000))
    body = turn_event_message(ALICE, "s1", big, client_token=None, origin_ms=1)
    assert len(json.dumps(body).encode()) < 256 * 1024
    assert body["messages"][0]["text"] == "x" * 16_000
