"""Agent references, derived ids, the delegation signal, the time budget, memory context and the workers file."""

from __future__ import annotations

import json
import re

import pytest

from runtime.errors import AccessDeniedError, InvalidInputError, NotFoundError, UpstreamTimeoutError
from runtime.handlers._agents import (
    AgentRef,
    Deadline,
    MemoryContext,
    agent_session_id,
    bedrock_memory_id,
    split_handoff,
)
from runtime.handlers._workers import WorkerRegistry, WorkersFileError, load_workers, validate_worker_name
from runtime.identity import Identity
from runtime.records import MemoryRecord
from tests.handlers.lambda_events import SUPPORT_RUNTIME_ARN, workers_document

ALICE = Identity("acme", "a" * 64)


@pytest.mark.parametrize(
    ("text", "clean", "worker"),
    [
        ("Sure.\nHANDOFF: billing", "Sure.", "billing"),
        ("HANDOFF: billing\nOne moment.", "One moment.", "billing"),
        ("  HANDOFF:   support  \r\nok", "ok", "support"),
        ("A\nHANDOFF: first\nB\nHANDOFF: second", "A\n\nB", "first"),
        ("No handoff here. handoff: billing", "No handoff here. handoff: billing", None),
        ("Say HANDOFF: billing inline", "Say HANDOFF: billing inline", None),
        ("HANDOFF: Billing", "", "billing"),
    ],
)
def test_handoff_signal(text, clean, worker):
    assert split_handoff(text) == (clean, worker)


def test_agent_session_ids_are_derived_per_tenant_actor_session_and_agent():
    base = agent_session_id(ALICE, "s1", "supervisor")
    assert re.fullmatch(r"[0-9a-f]{64}", base) and base == agent_session_id(ALICE, "s1", "supervisor")
    others = {
        agent_session_id(Identity("globex", "a" * 64), "s1", "supervisor"),
        agent_session_id(Identity("acme", "b" * 64), "s1", "supervisor"),
        agent_session_id(ALICE, "s2", "supervisor"),
        agent_session_id(ALICE, "s1", "billing"),
    }
    assert base not in others and len(others) == 4
    stateless = {agent_session_id(ALICE, None, "supervisor") for _ in range(3)}
    assert len(stateless) == 3 and all(33 <= len(s) <= 100 and s.startswith("stateless-") for s in stateless)


def test_bedrock_memory_id_is_per_user_and_fits_the_api():
    memory_id = bedrock_memory_id(Identity("t" * 40, "a" * 64))
    assert len(memory_id) <= 100 and re.fullmatch(r"[0-9a-zA-Z._:-]+", memory_id)
    assert bedrock_memory_id(ALICE) != bedrock_memory_id(Identity("acme", "b" * 64))


def test_agent_refs_parse_both_kinds():
    agent = AgentRef.parse('{"type":"bedrock-agent","agent_id":"ABCDE12345","alias_id":"TSTALIASID"}', field="x")
    assert (agent.service_name, agent.region("us-east-1")) == ("bedrock-agent-runtime", "us-east-1")
    runtime = AgentRef.parse({"type": "agentcore-runtime", "runtime_arn": SUPPORT_RUNTIME_ARN}, field="x")
    assert (runtime.service_name, runtime.region("us-east-1")) == ("bedrock-agentcore", "eu-west-1")


@pytest.mark.parametrize(
    ("value", "field"),
    [
        ("not json", "MESH_SUPERVISOR_AGENT"),
        ([], "MESH_SUPERVISOR_AGENT"),
        ({"type": "lambda"}, "MESH_SUPERVISOR_AGENT.type"),
        ({"type": "bedrock-agent", "agent_id": "short", "alias_id": "ABCDE12345"}, ".agent_id"),
        ({"type": "bedrock-agent", "agent_id": "ABCDE12345", "alias_id": "*"}, ".alias_id"),
        ({"type": "bedrock-agent", "agent_id": "ABCDE12345", "alias_id": "ABCDE12345", "x": 1}, ".x"),
        ({"type": "agentcore-runtime", "runtime_arn": "arn:aws:bedrock:us-east-1:1:agent/x"}, ".runtime_arn"),
    ],
)
def test_invalid_agent_refs_name_the_field(value, field):
    with pytest.raises(InvalidInputError) as info:
        AgentRef.parse(value, field="MESH_SUPERVISOR_AGENT")
    assert info.value.field.endswith(field)


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_deadline_follows_the_context_and_the_cap():
    remaining = {"ms": 10_000}
    clock = Clock()
    deadline = Deadline(lambda: remaining["ms"], margin_s=1.0, cap_s=5.0, clock=clock)
    assert deadline.remaining() == pytest.approx(4.0)  # capped: 5 s - 1 s margin
    clock.now += 2
    assert deadline.remaining() == pytest.approx(2.0)
    remaining["ms"] = 1_500
    assert deadline.remaining() == pytest.approx(0.5)
    deadline.require(0.5, "do a thing")
    with pytest.raises(UpstreamTimeoutError, match="time budget ran out before it could do a thing"):
        deadline.require(0.6, "do a thing")
    remaining["ms"] = 500
    assert deadline.expired()


def test_deadline_without_a_usable_context_uses_a_default():
    assert Deadline.from_context(None, margin_s=1.0).remaining() == pytest.approx(29.0)

    class Broken:
        def get_remaining_time_in_millis(self):
            raise RuntimeError("no")

    assert Deadline.from_context(Broken(), margin_s=1.0).remaining() == pytest.approx(29.0)


def test_memory_context_holds_the_block_and_the_same_entries_structured():
    records = [
        MemoryRecord(content=f"fact number {i} " + "x" * 300, tenant_id="acme", actor_id="a" * 64, kind="fact",
                     source="agentcore", key=str(i), stored_at=1_700_000_000)
        for i in range(30)
    ]
    memory = MemoryContext.build(ALICE, "s1", records)
    assert 0 < memory.count < 30  # the 4,000-byte budget cuts whole entries
    assert len(memory.block.encode()) <= 4000
    assert [entry["content"] for entry in memory.records] == [r.content for r in records[: memory.count]]
    assert memory.records[0] == {"content": records[0].content, "kind": "fact", "source": "agentcore",
                                 "date": "2023-11-14"}
    attributes = memory.session_attributes()
    assert json.loads(attributes["mesh_memories"]) == list(memory.records)
    assert all(isinstance(v, str) for v in attributes.values())
    empty = MemoryContext.build(ALICE, None, [])
    assert empty.block == "" and empty.prompt_session_attributes() == {}
    assert "mesh_session_id" not in empty.session_attributes()


# -- workers -----------------------------------------------------------------------------------------------


def test_workers_file_is_loaded_and_checked_per_tenant(tmp_path):
    path = tmp_path / "workers.json"
    path.write_text(json.dumps(workers_document()))
    registry = load_workers(str(path))
    assert registry.names == ("billing", "support")
    assert load_workers(str(path)) is registry  # once per container
    assert registry.for_tenant("support", "acme").agent.runtime_arn == SUPPORT_RUNTIME_ARN
    with pytest.raises(AccessDeniedError, match="support"):
        registry.for_tenant("support", "globex")
    with pytest.raises(NotFoundError, match="legal"):
        registry.get("legal")


def test_missing_workers_file_means_no_workers(tmp_path):
    assert len(load_workers(str(tmp_path / "absent.json"))) == 0


def test_invalid_workers_file_lists_every_problem_without_external_ids(tmp_path):
    document = workers_document()
    document[0]["role_arn"] = "arn:aws:iam::12:role/x"
    document[1]["external_id"] = "s"
    document.append(dict(workers_document()[0], allowed_tenants=["ACME"]))
    document.append({"name": "extra", "colour": "blue"})
    with pytest.raises(WorkersFileError) as info:
        WorkerRegistry.parse(document, source="workers.json")
    message = info.value.message
    assert "6 problem(s)" in message
    for needle in ("workers.json[0].role_arn", "workers.json[1].external_id", "allowed_tenants[0]", "[3].colour"):
        assert needle in message
    assert "mesh:support" not in message
    assert info.value.status == 500


@pytest.mark.parametrize("raw", ["not a list", {"name": "x"}, None])
def test_workers_file_must_be_a_list(raw):
    with pytest.raises(WorkersFileError, match="must be a JSON list"):
        WorkerRegistry.parse(raw)


def test_unreadable_workers_file_is_a_workers_file_error(tmp_path):
    path = tmp_path / "broken.json"
    path.write_text("{not json")
    with pytest.raises(WorkersFileError, match="not readable JSON"):
        load_workers(str(path))


@pytest.mark.parametrize("name", ["Billing", "1st", "a" * 25, "bad name", "a--b", "", None, 3])
def test_worker_names_are_validated(name):
    with pytest.raises(InvalidInputError, match="worker"):
        validate_worker_name(name)
