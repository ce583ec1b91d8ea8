"""MeshSessionManager: a Strands agent's conversation persists in AgentCore events of its user, under the TVM."""

from __future__ import annotations

import pytest
from strands import Agent

from runtime.identity import Identity
from runtime.integrations.session_manager import MeshSessionManager
from tests.runtime.scripted_model import ScriptedModel

ALICE = Identity("acme", "alice")
BOB = Identity("acme", "bob")


@pytest.fixture
def provider(aws):
    from runtime.credentials import TenantCredentialBroker

    broker = TenantCredentialBroker(aws.mesh.tvm_role_arn, region="us-east-1")
    return lambda tenant, actor: broker.client("bedrock-agentcore", tenant, actor)


def manager(provider, aws, identity=ALICE, session="trip-1"):
    return MeshSessionManager(identity, session, client_provider=provider, memory_id=aws.mesh.memory_id)


def test_a_new_agent_instance_resumes_the_conversation_the_next_day(aws, provider):
    first = Agent(model=ScriptedModel(["Kyoto in April, noted."]), callback_handler=None,
                  session_manager=manager(provider, aws))
    first("I am planning a trip to Kyoto in April")

    # Another process, the next day: a new agent and a new manager for the same user and session.
    model = ScriptedModel(["You are going to Kyoto."])
    resumed = Agent(model=model, callback_handler=None, session_manager=manager(provider, aws))
    assert [m["role"] for m in resumed.messages] == ["user", "assistant"]
    resumed("Where am I going?")
    texts = [b["text"] for m in model.requests[0].messages for b in m["content"] if "text" in b]
    assert texts == ["I am planning a trip to Kyoto in April", "Kyoto in April, noted.", "Where am I going?"]

    # Everything was written under the user's own tenant-scoped actor, as blobs the turn listings skip.
    events = aws.agentcore.events(aws.mesh.memory_id)
    assert events and {e.actor_id for e in events} == {"acme:alice"}
    assert all(e.messages() == [] for e in events)  # no conversational items: not extracted, not a "turn"
    assert all(item.get("blob") for e in events for item in e.payload)


def test_another_user_with_the_same_session_id_starts_empty(aws, provider):
    Agent(model=ScriptedModel(["ok"]), callback_handler=None, session_manager=manager(provider, aws))("secret plan")
    other = Agent(model=ScriptedModel(["hi"]), callback_handler=None, session_manager=manager(provider, aws, BOB))
    assert other.messages == []


def test_it_never_reads_a_foreign_actor_id(aws, provider):
    calls = []
    original = aws.agentcore.handle

    def spy(operation, params, region):
        calls.append((operation, params.get("actorId")))
        return original(operation, params, region)

    aws.agentcore.handle = spy
    try:
        Agent(model=ScriptedModel(["ok"]), callback_handler=None, session_manager=manager(provider, aws))("hello")
    finally:
        aws.agentcore.handle = original
    assert calls and {actor for _, actor in calls} == {"acme:alice"}
    assert "DeleteEvent" not in {operation for operation, _ in calls}


def test_the_stock_agentcore_session_manager_is_denied_for_a_new_session(aws):
    """Why the mesh has its own: bedrock-agentcore's manager looks up a legacy actor ``session_<id>`` for every
    new session, which the TVM policy (events of ``<tenant>:<actor>`` only) denies, and the error escapes."""
    import boto3
    from bedrock_agentcore.memory.integrations.strands.config import AgentCoreMemoryConfig
    from bedrock_agentcore.memory.integrations.strands.session_manager import AgentCoreMemorySessionManager
    from botocore.exceptions import ClientError

    from runtime.credentials import TenantCredentialBroker

    creds = TenantCredentialBroker(aws.mesh.tvm_role_arn, region="us-east-1").credentials("acme", "alice")
    session = boto3.Session(region_name="us-east-1", **creds.client_kwargs())
    config = AgentCoreMemoryConfig(memory_id=aws.mesh.memory_id, session_id="trip-1", actor_id="acme:alice")
    requested: list[str] = []
    session.events.register(
        "before-parameter-build.bedrock-agentcore.ListEvents", lambda params, **_: requested.append(params["actorId"])
    )
    with pytest.raises(ClientError) as raised:
        AgentCoreMemorySessionManager(config, region_name="us-east-1", boto_session=session)
    assert raised.value.response["Error"]["Code"] == "AccessDeniedException"
    assert requested == ["acme:alice", "session_trip-1"]  # its own actor first, then the legacy one: denied
