"""Worker agents on the shared memory: an AgentCore Runtime (or any Python) agent in another account.

The orchestrator invokes a worker with ``{"prompt", "memory": {"tenant_id", "actor_id", "session_id", "records",
"recent_turns", ...}}``. One call, :meth:`WorkerMemory.turn`, turns that payload into a bound scope; the worker's
Strands agent then gets:

- the memories and the session's recent messages it was handed, injected into the user's turn as the memory
  block and the session block (no second retrieval);
- ``search_memory`` and ``add_memory`` tools on the mesh's stores, reached with credentials its own role vends
  from the memory home's external token vending machine (session tags ``TenantID`` / ``ActorID``,
  ``SourceIdentity`` = the actor), so IAM confines them to this user;
- provenance: what it adds is labelled with the worker's agent name.

Identity comes only from the payload, never from the model: the tools take no tenant or actor argument. The
worker records no turn itself: the orchestrator writes the turn, the worker's answer included, as one event.

Usage, in an AgentCore Runtime entrypoint::

    memory = WorkerMemory.from_env(agent_name="support")          # MESH_* of the memory home, external TVM ARN
    agent = Agent(model=model, **memory.agent_kwargs())

    @app.entrypoint
    def invoke(payload):
        turn = memory.turn(payload)
        return {"result": str(agent(turn.prompt, invocation_state=turn.invocation_state()))}
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from runtime.errors import InvalidInputError
from runtime.identity import Identity, validate_agent_name, validate_session_id
from runtime.integrations.scope import memory_request, recent_turns_from
from runtime.records import MEMORY_KINDS, MemoryRecord

__all__ = ["STATELESS_SESSION", "WorkerMemory", "WorkerTurn"]

#: The scope's session when the orchestrator's call was stateless (nothing is recorded under it).
STATELESS_SESSION = "stateless"
MAX_PROMPT_CHARS = 100_000


@dataclass(frozen=True)
class WorkerTurn:
    """One orchestrator request as the worker sees it: who, which session, the prompt and what it was handed."""

    identity: Identity
    session_id: str | None
    prompt: str
    agent_name: str
    memories: tuple[MemoryRecord, ...] = ()
    recent_turns: tuple[dict[str, Any], ...] = ()

    def invocation_state(self) -> dict[str, Any]:
        """A fresh ``invocation_state`` binding this turn's identity, session and handed context."""
        state = memory_request(
            self.identity, self.session_id or STATELESS_SESSION, agent=self.agent_name,
            recent_turns=list(self.recent_turns),
        )
        state[HANDED_MEMORIES_KEY] = list(self.memories)
        return state


#: ``invocation_state`` key of the memories the orchestrator handed over (injected instead of a search).
HANDED_MEMORIES_KEY = "memory_handed_records"


def parse_worker_payload(payload: Any, *, agent_name: str) -> WorkerTurn:
    """Validate the orchestrator's payload; InvalidInputError names the field (identity never comes from text)."""
    if isinstance(payload, (bytes, str)):
        import json

        try:
            payload = json.loads(payload)
        except ValueError:
            raise InvalidInputError("payload", "<not JSON>", "must be the orchestrator's JSON payload") from None
    if not isinstance(payload, Mapping):
        raise InvalidInputError("payload", f"<{type(payload).__name__}>", "must be an object")
    prompt = payload.get("prompt")
    if not isinstance(prompt, str) or not prompt.strip() or len(prompt) > MAX_PROMPT_CHARS:
        raise InvalidInputError("payload.prompt", f"<{type(prompt).__name__}>",
                                f"must be non-blank text of at most {MAX_PROMPT_CHARS} characters")
    memory = payload.get("memory")
    if not isinstance(memory, Mapping):
        raise InvalidInputError("payload.memory", f"<{type(memory).__name__}>",
                                "must be the orchestrator's memory object (tenant_id, actor_id, session_id, ...)")
    from runtime.identity import validate_actor_id, validate_tenant_id

    identity = Identity(validate_tenant_id(memory.get("tenant_id"), field="payload.memory.tenant_id"),
                        validate_actor_id(memory.get("actor_id"), field="payload.memory.actor_id"))
    session_id = memory.get("session_id")
    if session_id is not None:
        validate_session_id(session_id, field="payload.memory.session_id")
    records = tuple(_record(entry, identity, index) for index, entry in enumerate(memory.get("records") or []))
    recent = tuple(recent_turns_from(memory.get("recent_turns") or [], field="payload.memory.recent_turns"))
    return WorkerTurn(identity, session_id, prompt, validate_agent_name(agent_name, field="agent_name"),
                      records, recent)


def _record(entry: Any, identity: Identity, index: int) -> MemoryRecord:
    field = f"payload.memory.records[{index}]"
    if not isinstance(entry, Mapping) or not isinstance(entry.get("content"), str):
        raise InvalidInputError(field, f"<{type(entry).__name__}>", "must be an object with content text")
    kind = str(entry["kind"]) if entry.get("kind") in MEMORY_KINDS else "note"
    stored_at = None
    if isinstance(entry.get("date"), str):
        try:
            day = datetime.strptime(entry["date"], "%Y-%m-%d").replace(tzinfo=UTC)
            stored_at = int(day.timestamp())
        except ValueError:
            stored_at = None
    source = str(entry["source"]) if isinstance(entry.get("source"), str) else "memory"
    return MemoryRecord(content=entry["content"], tenant_id=identity.tenant_id, actor_id=identity.actor_id,
                        kind=kind, source=source, key="", stored_at=stored_at)


class WorkerMemory:
    """The mesh memory of a worker agent: handed context injected, live stores behind the tools."""

    def __init__(self, stores: Any, *, agent_name: str, max_entries: int = 5, budget_bytes: int = 4000,
                 **options: Any) -> None:
        from strands.vended_plugins.context_injector import ContextInjector

        from runtime.integrations.strands_memory import MeshMemory

        self.agent_name = validate_agent_name(agent_name, field="agent_name")
        self._budget = budget_bytes
        # No automatic injection from the stores (the orchestrator already retrieved for this turn) and no turn
        # recording (the orchestrator writes the turn as one event).
        self.memory = MeshMemory(stores, agent_name=agent_name, max_entries=max_entries, budget_bytes=budget_bytes,
                                 inject=False, **options)
        self.handed_injector = ContextInjector(self._handed_block, name="mesh:handed-memories")

    @property
    def plugin(self) -> Any:
        """The memory-scope plugin (binds each request's identity)."""
        return self.memory.plugin

    def turn(self, payload: Any) -> WorkerTurn:
        """The orchestrator's payload as a bound scope (see :class:`WorkerTurn`)."""
        return parse_worker_payload(payload, agent_name=self.agent_name)

    def agent_kwargs(self) -> dict[str, Any]:
        """``plugins`` and ``memory_manager`` for ``strands.Agent``: handed memories, session block, tools."""
        kwargs = self.memory.agent_kwargs()
        kwargs["plugins"] = [kwargs["plugins"][0], self.handed_injector, *kwargs["plugins"][1:]]
        return kwargs

    def _handed_block(self, context: Any) -> str | None:
        from runtime.rendering import render_memory_block

        state = self.plugin.invocation_state
        if state is None:
            return None
        records = state.get(HANDED_MEMORIES_KEY) or []
        return render_memory_block(records, budget_bytes=self._budget) or None

    @classmethod
    def from_settings(
        cls, settings: Any, *, agent_name: str, broker: Any = None, embedder: Any = None,
        include_agentcore: bool = True, **options: Any,
    ) -> WorkerMemory:
        """Stores of the memory home ``settings`` describes, through ``broker`` (default: a broker on the worker's
        own credentials for ``settings.tvm_role_arn``, the memory home's external TVM)."""
        from runtime.credentials import TenantCredentialBroker
        from runtime.embeddings import BedrockEmbedder
        from runtime.integrations.strands_memory import AgentCoreStrandsStore, S3VectorsStrandsStore
        from runtime.stores.s3vectors import S3VectorsMemoryStore

        if broker is None:  # (a broker with an empty cache is falsy: compare with None)
            broker = TenantCredentialBroker(settings.tvm_role_arn, region=settings.region)
        if embedder is None:
            embedder = BedrockEmbedder(settings.embedding_model_id, settings.embedding_dimension,
                                       region=settings.region)
        stores: list[Any] = [S3VectorsStrandsStore(S3VectorsMemoryStore.from_settings(broker, settings, embedder))]
        if include_agentcore:
            stores.append(AgentCoreStrandsStore(
                lambda tenant, actor: broker.client("bedrock-agentcore", tenant, actor), memory_id=settings.memory_id
            ))
        return cls(stores, agent_name=agent_name, **options)

    @classmethod
    def from_env(cls, *, agent_name: str, **options: Any) -> WorkerMemory:
        """:meth:`from_settings` with ``MemorySettings.from_env()`` (``MESH_TVM_ROLE_ARN`` = the external TVM)."""
        from runtime.settings import MemorySettings

        return cls.from_settings(MemorySettings.from_env(), agent_name=agent_name, **options)
