"""A memory home deployed from the constructs at a chosen isolation level, with long-term facts seeded for
alice and bob of acme and for carol of globex, and the Strands integration on its AgentCore memory."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from runtime.identity import Identity
from tests.runtime.conftest import REGION

ALICE = Identity("acme", "alice")
BOB = Identity("acme", "bob")
CAROL = Identity("globex", "carol")
FACTS = {ALICE: "alice likes green tea", BOB: "bob likes black coffee", CAROL: "carol likes mint"}


@dataclass
class Home:
    aws: Any
    memory_id: str
    isolation: str

    def broker(self) -> Any:
        from runtime.credentials import TenantCredentialBroker

        return TenantCredentialBroker(self.aws.mesh.tvm_role_arn, region=REGION)

    def denials(self, action: str) -> list[tuple[str, str, str, bool]]:
        return [d for d in self.aws.iam.decisions if d[1] == action and not d[3]]


def seed(aws: Any, memory_id: str) -> None:
    """One fact per user in ``/facts/<tenant>:<actor>/`` (setup credentials, as extraction would write them)."""
    records = [{"requestIdentifier": f"r{n}", "namespaces": [f"/facts/{who.tenant_id}:{who.actor_id}/"],
                "content": {"text": text}, "timestamp": dt.datetime(2026, 1, 1, tzinfo=dt.UTC)}
               for n, (who, text) in enumerate(FACTS.items())]
    aws.client("bedrock-agentcore").batch_create_memory_records(memoryId=memory_id, records=records)


def misbound(broker: Any, holder: Identity) -> Callable[[str, str], Any]:
    """A client provider whose identity binding is off: whoever the store asks for, it gets ``holder``'s session.

    It stands for a bug in the application's own checks, so that only IAM is left between the store and another
    user's (or tenant's) memory.
    """
    return lambda tenant, actor: broker.client("bedrock-agentcore", holder.tenant_id, holder.actor_id)


def strands_memory(provider: Callable[[str, str], Any], memory_id: str) -> Any:
    """The Strands integration on AgentCore: long-term records injected into the turn, turns recorded as events."""
    from runtime.integrations import MeshMemory
    from runtime.integrations.strands_memory import AgentCoreStrandsStore
    from runtime.stores.agentcore_events import AgentCoreEvents

    events = AgentCoreEvents(provider, memory_id)
    return MeshMemory([AgentCoreStrandsStore(provider, memory_id=memory_id, kinds=("fact",))], agent_name="planner",
                      turn_recorder=events, recent_turns_source=events, search_tool=False, add_tool=False)


def run_turn(memory: Any, identity: Identity, prompt: str = "What do I like?") -> tuple[Any, list[str], Any]:
    """One real ``strands.Agent`` call for ``identity``: (the model, the texts it received, the error if any)."""
    from strands import Agent

    from tests.runtime.scripted_model import ScriptedModel

    model = ScriptedModel("noted")
    agent = Agent(model=model, callback_handler=None, **memory.agent_kwargs())
    error = None
    try:
        agent(prompt, invocation_state=memory.request(identity, "s-1"))
    except Exception as raised:  # noqa: BLE001 - the test inspects what the turn raised
        error = raised
    texts = [text for request in model.requests for text in request.last_user_texts]
    return model, texts, error
