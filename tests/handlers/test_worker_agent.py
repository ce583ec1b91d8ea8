"""A worker agent in another account on the shared memory: the supervisor delegates to an AgentCore Runtime worker
running a real ``strands.Agent`` (scripted model) with :class:`runtime.integrations.WorkerMemory`; it adds a fact
through the adapter with credentials its own role vends from the memory home's TVM; a later session recalls it.
"""

from __future__ import annotations

from typing import Any

import boto3
import pytest

from runtime.handlers import orchestrator
from tests.handlers.lambda_events import (
    SUPERVISOR_AGENT_ID,
    SUPERVISOR_ALIAS_ID,
    SUPPORT_RUNTIME_ARN,
    FakeLambdaContext,
    actor_of,
    answer_of,
    claims_for,
    message_event,
    remembered,
)
from tests.runtime.scripted_model import ModelRequest, ScriptedModel, ToolCall

SUPERVISOR = f"{SUPERVISOR_AGENT_ID}/{SUPERVISOR_ALIAS_ID}"
ALICE = claims_for("acme", "alice")
FACT = "The user's favourite airline is TAP"
WORKER_KEY = "AKIAWORKERSUPPORT001"  # the worker runtime's own role credentials (account 333333333333)


def say(message: str, session: str, claims: dict[str, Any] = ALICE, **body: Any) -> dict[str, Any]:
    status, answer = answer_of(
        orchestrator.handler(message_event(session, claims, {"message": message, **body}), FakeLambdaContext())
    )
    assert status == 200, answer
    return answer


def worker_script(request: ModelRequest):
    """The worker's model: 'remember that ...' makes it call add_memory; otherwise it answers what it was shown."""
    if request.has_tool_result:
        return "Saved it."
    prompt = request.last_user_texts[0]
    if prompt.lower().startswith("remember that "):
        return ToolCall("add_memory", {"entries": [FACT]})
    return "Shown: " + " || ".join(request.last_user_texts[1:])


@pytest.fixture
def worker(mesh):
    """The support worker: an AgentCore Runtime whose entrypoint runs a Strands agent with WorkerMemory."""
    from strands import Agent

    from runtime.credentials import TenantCredentialBroker
    from runtime.embeddings import LocalHashEmbedder
    from runtime.integrations import WorkerMemory
    from runtime.settings import MemorySettings

    own_role = boto3.Session(aws_access_key_id=WORKER_KEY, aws_secret_access_key="worker-secret",
                             region_name="us-east-1")
    broker = TenantCredentialBroker(mesh.aws.mesh.tvm_role_arn, region="us-east-1", session=own_role)
    settings = MemorySettings.from_env()
    memory = WorkerMemory.from_settings(settings, agent_name="support", broker=broker, embedder=LocalHashEmbedder(256))
    model = ScriptedModel(worker_script)
    agent = Agent(model=model, callback_handler=None, **memory.agent_kwargs())
    seen: list[Any] = []

    def entrypoint(prompt: str, payload: Any, caller: Any) -> dict[str, Any]:
        turn = memory.turn(dict(payload))
        seen.append(turn)
        result = agent(turn.prompt, invocation_state=turn.invocation_state())
        return {"result": str(result).strip()}

    mesh.agents.agentcore_runtime(SUPPORT_RUNTIME_ARN, entrypoint)
    return type("Worker", (), {"memory": memory, "model": model, "broker": broker, "seen": seen, "agent": agent})


def test_a_worker_adds_a_fact_the_supervisor_recalls_in_a_later_session(mesh, worker):
    from runtime.credentials import TenantCredentialBroker
    from runtime.embeddings import LocalHashEmbedder
    from runtime.stores import S3VectorsMemoryStore

    say("My cat is called Miso.", "s-1")
    answer = say("Remember that my favourite airline is TAP.", "s-1", worker="support")
    assert answer["worker_response"] == "Saved it."

    # The worker saw the session so far as its session block, and its tools took no identity from the model.
    first = worker.model.requests[0]
    assert any("Miso" in text and text.lstrip().startswith("<session>") for text in first.last_user_texts)
    assert set(first.tool_names) == {"search_memory", "add_memory"}
    (turn,) = worker.seen
    assert (turn.identity.tenant_id, turn.identity.actor_id, turn.session_id) == ("acme", actor_of("alice"), "s-1")

    # Its credentials: the worker's own role assumed the memory home's TVM for this tenant and user.
    assert worker.broker.stats.sts_calls == 1
    vended = worker.broker.credentials("acme", actor_of("alice"))
    session = mesh.aws.iam.session_for(vended.access_key_id)
    assert session.role_arn == mesh.aws.mesh.tvm_role_arn and session.source_identity == actor_of("alice")
    assert dict(session.tags) == {"TenantID": "acme", "ActorID": actor_of("alice")}

    # The fact is in the shared memory, labelled with the worker as its author.
    home = TenantCredentialBroker(mesh.aws.mesh.tvm_role_arn, region="us-east-1")
    store = S3VectorsMemoryStore(home, bucket_name=mesh.aws.mesh.bucket_name, index_prefix="tenant-",
                                 embedder=LocalHashEmbedder(256))
    (record,) = [r for r in store.list_actor("acme", actor_of("alice")) if "TAP" in r.content]
    assert (record.agent, record.session_id) == ("support", "s-1")

    # A later session: the supervisor recalls it.
    later = say("Which airline do I like?", "s-2")
    assert later["memories_used"] >= 1
    assert any("TAP" in fact for fact in remembered(mesh.agents.calls_to(SUPERVISOR)[-1].attributes))

    # Nobody else does.
    say("Which airline do I like?", "s-3", claims=claims_for("acme", "bob"))
    assert not any("TAP" in fact for fact in remembered(mesh.agents.calls_to(SUPERVISOR)[-1].attributes))


def test_the_handed_memories_and_session_reach_the_workers_model(mesh, worker):
    mesh.aws.agentcore.add_record(mesh.memory_id, f"/facts/acme:{actor_of('alice')}/", "The user lives in Porto")
    say("Hello there.", "s-1")
    answer = say("Where do I live?", "s-1", worker="support")
    shown = answer["worker_response"]
    assert "<memories>" in shown and "Porto" in shown and "<session>" in shown and "Hello there." in shown
    # Handed over, not fetched again: the worker vended nothing and made no retrieval call for the injection.
    assert worker.broker.stats.sts_calls == 0


def test_the_worker_cannot_be_steered_to_another_user_by_the_model(mesh, worker):
    """App-side: the scope comes from the payload; the model's tool input has no identity to give."""
    add_spec = next(spec for spec in worker.agent.tool_registry.get_all_tool_specs() if spec["name"] == "add_memory")
    properties = add_spec["inputSchema"]["json"]["properties"]
    assert not {"tenant_id", "actor_id", "identity"} & set(properties)
    with pytest.raises(Exception, match="payload.memory"):
        worker.memory.turn({"prompt": "hi", "memory": {"tenant_id": "acme"}})

