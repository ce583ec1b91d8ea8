"""Strands integration: tenant-isolated long-term memory through ``strands.memory.MemoryManager``.

Usage (one :class:`MeshMemory` per ``Agent``; identity travels in each call's ``invocation_state``)::

    from strands import Agent
    from runtime.credentials import TenantCredentialBroker
    from runtime.integrations import MeshMemory, memory_request
    from runtime.settings import MemorySettings

    settings = MemorySettings.from_env()
    broker = TenantCredentialBroker(settings.tvm_role_arn, region=settings.region)
    memory = MeshMemory.from_settings(settings, broker=broker, agent_name="planner")
    agent = Agent(model=model, **memory.agent_kwargs())

    identity = identity_from_claims(claims, tenant_claim="custom:tenant")   # per request
    agent("Plan my week", invocation_state=memory_request(identity, "s-42"))
    agent("Thanks, bye", invocation_state=memory_request(identity, "s-42", end_session=True))

How identity reaches the stores: Strands calls ``MemoryStore.search``/``add`` without any request
context, so :class:`MeshMemoryPlugin` reads ``invocation_state["memory_identity"]`` at
``BeforeInvocationEvent``, binds that scope to its own stores and releases it at
``AfterInvocationEvent``. Nothing is kept in module-level or context-variable state: the binding
belongs to one plugin, which belongs to one ``Agent``, which Strands runs one invocation at a time
(``ConcurrentInvocationMode.THROW``, enforced here). Serve concurrent requests with one agent each.

Automatic extraction (``MemoryStoreConfig.extraction``) is refused on these stores: Strands buffers
messages across invocations and writes them later, which could file one request's conversation
under the next request's identity. Turns are instead recorded explicitly, per request, by the
plugin (``turn_recorder``), and AgentCore's own strategies extract from them.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import weakref
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from strands.hooks import AfterInvocationEvent, BeforeInvocationEvent
from strands.memory import MemoryEntry, MemoryInjectionConfig, MemoryManager, SearchOptions
from strands.plugins import Plugin, hook
from strands.types.agent import ConcurrentInvocationMode

from runtime.errors import AccessDeniedError, InvalidInputError
from runtime.identity import Identity, validate_agent_name
from runtime.integrations.scope import (
    MEMORY_IDENTITY_KEY,
    MemoryScope,
    end_session_requested,
    memory_request,
    scope_from_invocation_state,
)
from runtime.integrations.session_end import SummaryHandoff, TurnRecorder
from runtime.records import MEMORY_KINDS, MemoryQuery, MemoryRecord

logger = logging.getLogger(__name__)

DEFAULT_MAX_RESULTS = 5
DEFAULT_BUDGET_BYTES = 4000
# QueryVectors topK and RetrieveMemoryRecords topK both stop at 100.
MAX_RESULTS = 100

_VECTOR_DESCRIPTION = "Facts, preferences, decisions and session summaries remembered about this user."
_AGENTCORE_DESCRIPTION = "Facts, preferences and session summaries AgentCore Memory extracted from past conversations."


class _RequestScopedStore:
    """A Strands ``MemoryStore`` whose tenant and actor are bound per request by :class:`MeshMemoryPlugin`."""

    extraction = None

    def __init__(self, *, name: str, description: str | None, max_search_results: int | None, writable: bool) -> None:
        if not isinstance(name, str) or not name.strip():
            raise InvalidInputError("name", name, "must be a non-empty store name")
        if max_search_results is not None:
            _check_results("max_search_results", max_search_results)
        self.name = name
        self.description = description
        self.max_search_results = max_search_results
        self.writable = writable
        self._lock = threading.Lock()
        self._owner: weakref.ref[MeshMemoryPlugin] | None = None
        self._scope: MemoryScope | None = None

    def __setattr__(self, name: str, value: Any) -> None:
        if name == "extraction" and value not in (None, False):
            raise InvalidInputError(
                "extraction", value,
                "is not supported on request-scoped stores: Strands writes extracted messages after the request "
                "ends, when its identity is gone; record turns with MeshMemoryPlugin(turn_recorder=...) instead",
            )
        super().__setattr__(name, value)

    def _adopt(self, owner: MeshMemoryPlugin) -> None:
        with self._lock:
            current = self._owner() if self._owner is not None else None
            if current is not None and current is not owner:
                raise InvalidInputError(
                    "store", self.name,
                    "already belongs to another MeshMemoryPlugin; give each Agent its own stores "
                    "(one MeshMemory per Agent)",
                )
            self._owner = weakref.ref(owner)

    def _bind(self, scope: MemoryScope) -> None:
        with self._lock:
            self._scope = scope
            self._on_scope_change()

    def _release(self) -> None:
        with self._lock:
            self._scope = None
            self._on_scope_change()

    def _on_scope_change(self) -> None:
        """Hook for subclasses holding per-request state; called under the lock on bind and release."""

    def _current_scope(self) -> MemoryScope:
        scope = self._scope
        if scope is None:
            raise AccessDeniedError(
                f"memory store {self.name!r} has no request identity: call the agent with "
                f"invocation_state={{{MEMORY_IDENTITY_KEY!r}: ...}} (see memory_request)"
            )
        return scope

    def _want(self, options: SearchOptions | None) -> int:
        want = options.get("max_search_results") if options else None
        if want is None:
            want = self.max_search_results or DEFAULT_MAX_RESULTS
        _check_results("max_search_results", want)
        return want


class S3VectorsStrandsStore(_RequestScopedStore):
    """Strands ``MemoryStore`` over an S3 Vectors (or local) memory store, scoped to each request's actor.

    ``backend`` is a :class:`runtime.stores.S3VectorsMemoryStore` or :class:`runtime.stores.LocalMemoryStore`.
    Searches see only the request actor's records (of every agent unless ``agent_only``); ``add`` files
    a memory of ``default_kind`` under the request's actor, agent and session.
    """

    def __init__(
        self,
        backend: Any,
        *,
        name: str = "long-term",
        description: str | None = _VECTOR_DESCRIPTION,
        max_search_results: int | None = None,
        writable: bool = True,
        default_kind: str = "fact",
        agent_only: bool = False,
    ) -> None:
        for method in ("search", "put_memory"):
            if not callable(getattr(backend, method, None)):
                raise InvalidInputError("backend", f"<{type(backend).__name__}>", f"must have a {method}() method")
        if default_kind not in MEMORY_KINDS:
            raise InvalidInputError("default_kind", default_kind, f"must be one of {', '.join(MEMORY_KINDS)}")
        super().__init__(name=name, description=description, max_search_results=max_search_results, writable=writable)
        self._backend = backend
        self._default_kind = default_kind
        self._agent_only = agent_only

    async def search(self, query: str, options: SearchOptions | None = None) -> list[MemoryEntry]:
        """Nearest memories of the request's actor, best first."""
        scope = self._current_scope()
        records = await asyncio.to_thread(self.search_scoped, scope, query, self._want(options))
        return [_entry(record) for record in records]

    async def add(self, content: str, metadata: dict[str, Any] | None = None) -> str:
        """Remember ``content`` for the request's actor; ``metadata["kind"]`` overrides the default kind."""
        scope = self._current_scope()
        kind = (metadata or {}).get("kind", self._default_kind)
        return await asyncio.to_thread(self.add_scoped, scope, content, kind=kind)

    def search_scoped(self, scope: MemoryScope, query: str, top_k: int = DEFAULT_MAX_RESULTS) -> list[MemoryRecord]:
        """Search with an explicit scope (service code outside an agent invocation)."""
        return self._backend.search(
            MemoryQuery(
                tenant_id=scope.tenant_id,
                actor_id=scope.actor_id,
                text=query,
                top_k=top_k,
                agent=scope.agent if self._agent_only else None,
            )
        )

    def add_scoped(self, scope: MemoryScope, content: str, *, kind: str | None = None) -> str:
        """Store with an explicit scope; returns the vector key."""
        if not self.writable:
            raise InvalidInputError("store", self.name, "is read-only (writable=False)")
        return self._backend.put_memory(
            scope.identity, content, kind=kind or self._default_kind, agent=scope.agent, session_id=scope.session_id
        )


class _DataPlaneClient:
    """The part of ``bedrock_agentcore.memory.MemoryClient`` that ``AgentCoreMemoryStore`` uses: ``gmdp_client``.

    Lets the store use the broker's cached, tenant-scoped ``bedrock-agentcore`` client instead of
    building two new boto3 clients per request.
    """

    def __init__(self, data_plane: Any) -> None:
        self.gmdp_client = data_plane


class AgentCoreStrandsStore(_RequestScopedStore):
    """AgentCore long-term memory for Strands, through bedrock-agentcore's ``AgentCoreMemoryStore``.

    ``AgentCoreMemoryStore`` fixes actor and session at construction, so this store builds one per
    namespace per request (lazily, on the request's first search) from ``client_provider(tenant, actor)``
    — normally the broker's cached client, so construction costs no AWS call — and drops them when the
    request ends. The price is a few object constructions per request; the gain is that no store
    object ever holds an identity other than the current request's. Read-only: turns reach AgentCore
    through ``MeshMemoryPlugin(turn_recorder=AgentCoreMemoryBackend(...))``.
    """

    def __init__(
        self,
        client_provider: Callable[[str, str], Any],
        *,
        memory_id: str,
        namespaces: Mapping[str, str] | None = None,
        name: str = "agentcore",
        description: str | None = _AGENTCORE_DESCRIPTION,
        max_search_results: int | None = None,
        min_score: float | None = None,
    ) -> None:
        if not callable(client_provider):
            raise InvalidInputError("client_provider", f"<{type(client_provider).__name__}>", "must be callable")
        if not isinstance(memory_id, str) or not memory_id:
            raise InvalidInputError("memory_id", memory_id, "must be an AgentCore Memory id")
        if namespaces is None:
            from runtime.stores.agentcore import NAMESPACE_TEMPLATES

            namespaces = NAMESPACE_TEMPLATES
        for kind, template in namespaces.items():
            if not isinstance(template, str) or "{actorId}" not in template or not template.endswith("/"):
                raise InvalidInputError(
                    f"namespaces[{kind!r}]", template, "must be a namespace path containing {actorId} and ending in '/'"
                )
        super().__init__(name=name, description=description, max_search_results=max_search_results, writable=False)
        self._client_provider = client_provider
        self._memory_id = memory_id
        self._namespaces = dict(namespaces)
        self._min_score = min_score
        self._inner: list[tuple[str, str, Any]] | None = None

    def _on_scope_change(self) -> None:
        self._inner = None

    def _stores_for(self, scope: MemoryScope) -> list[tuple[str, str, Any]]:
        """(kind, resolved namespace path, AgentCoreMemoryStore) per namespace, built once per request."""
        with self._lock:
            if self._scope is not scope:
                raise AccessDeniedError(f"memory store {self.name!r}: the request scope changed during a search")
            if self._inner is None:
                from bedrock_agentcore.memory.integrations.strands.memorystore import AgentCoreMemoryStore

                client = _DataPlaneClient(self._client_provider(scope.tenant_id, scope.actor_id))
                actor = scope.identity.agentcore_actor_id
                self._inner = [
                    (
                        kind,
                        template.replace("{actorId}", actor).replace("{sessionId}", scope.session_id),
                        AgentCoreMemoryStore(
                            memory_id=self._memory_id,
                            actor_id=actor,
                            session_id=scope.session_id,
                            namespace_path=template,
                            name=f"{self.name}-{kind}",
                            min_score=self._min_score,
                            client=client,
                        ),
                    )
                    for kind, template in self._namespaces.items()
                ]
            return self._inner

    async def search(self, query: str, options: SearchOptions | None = None) -> list[MemoryEntry]:
        """Best records across the actor's namespaces, by AgentCore relevance score."""
        scope = self._current_scope()
        want = self._want(options)
        stores = self._stores_for(scope)
        found = await asyncio.gather(*(store.search(query, {"max_search_results": want}) for _, _, store in stores))
        merged: list[tuple[float, MemoryEntry]] = []
        for (kind, path, _), entries in zip(stores, found, strict=True):
            for entry in entries:
                metadata = dict(entry.metadata or {})
                namespaces = metadata.get("_namespaces") or []
                # Defence in depth behind the IAM namespace condition: drop anything outside the actor's path.
                if any(not str(namespace).startswith(path.rstrip("/")) for namespace in namespaces):
                    logger.warning("dropped an AgentCore record outside the actor namespace", extra={"kind": kind})
                    continue
                metadata["kind"] = kind
                score = float(metadata.get("_score") or 0.0)
                merged.append((score, MemoryEntry(content=entry.content, metadata=metadata)))
        merged.sort(key=lambda pair: -pair[0])
        return [entry for _, entry in merged[:want]]


@dataclass
class _ActiveRequest:
    invocation_state: dict[str, Any]
    scope: MemoryScope
    user_texts: list[str]


class MeshMemoryPlugin(Plugin):
    """Scopes an agent's memory stores to each request and closes sessions; one instance per ``Agent``.

    At ``BeforeInvocationEvent`` it reads the request's scope from ``invocation_state[identity_key]``
    (missing or invalid -> ``InvalidInputError`` before the model is called) and binds it to its stores.
    At ``AfterInvocationEvent`` it records the turn (``turn_recorder``), hands the session to
    ``session_end`` when ``invocation_state["memory_end_session"]`` is true, and releases the binding.
    """

    name = "mesh:memory-scope"

    def __init__(
        self,
        stores: Sequence[_RequestScopedStore],
        *,
        agent_name: str,
        turn_recorder: TurnRecorder | None = None,
        session_end: SummaryHandoff | None = None,
        identity_key: str = MEMORY_IDENTITY_KEY,
    ) -> None:
        self.agent_name = validate_agent_name(agent_name, field="agent_name")
        for index, store in enumerate(stores):
            if not isinstance(store, _RequestScopedStore):
                raise InvalidInputError(
                    f"stores[{index}]", f"<{type(store).__name__}>",
                    "must be a request-scoped store (S3VectorsStrandsStore, AgentCoreStrandsStore)",
                )
        super().__init__()
        self._stores = list(stores)
        for store in self._stores:
            store._adopt(self)
        self._turn_recorder = turn_recorder
        self._session_end = session_end
        self._identity_key = identity_key
        self._agent: weakref.ref[Any] | None = None
        self._request: _ActiveRequest | None = None

    def init_agent(self, agent: Any) -> None:
        current = self._agent() if self._agent is not None else None
        if current is not None and current is not agent:
            raise InvalidInputError(
                "plugin", self.name, "is already attached to another Agent; create one MeshMemory per Agent"
            )
        mode = getattr(agent, "concurrent_invocation_mode", ConcurrentInvocationMode.THROW)
        if mode != ConcurrentInvocationMode.THROW:
            raise InvalidInputError(
                "concurrent_invocation_mode", str(mode),
                "must be 'throw': per-request memory identity needs one invocation at a time per Agent; "
                "use one Agent per concurrent request",
            )
        self._agent = weakref.ref(agent)

    @hook
    def _open_request(self, event: BeforeInvocationEvent) -> None:
        # Drop whatever an earlier request that failed before its AfterInvocationEvent left bound.
        self._close()
        scope = scope_from_invocation_state(
            event.invocation_state, default_agent=self.agent_name, key=self._identity_key
        )
        end_session_requested(event.invocation_state)  # validate the flag before any model call
        self._request = _ActiveRequest(event.invocation_state, scope, _texts(event.messages or [], "user"))
        for store in self._stores:
            store._bind(scope)

    @hook
    async def _close_request(self, event: AfterInvocationEvent) -> None:
        request = self._request
        try:
            if request is None or request.invocation_state is not event.invocation_state:
                return
            if self._turn_recorder is not None:
                assistant = _texts([event.result.message], "assistant") if event.result is not None else []
                await asyncio.to_thread(self._record_turns, request, assistant)
            if self._session_end is not None and end_session_requested(event.invocation_state):
                await asyncio.to_thread(self._session_end, request.scope)
        finally:
            self._close()

    def end_session(self, identity: Identity, session_id: str, *, agent: str | None = None) -> Any:
        """Hand a session to the summarizer outside an agent call (e.g. from an idle-session sweep)."""
        if self._session_end is None:
            raise InvalidInputError("session_end", None, "is not configured on this MeshMemoryPlugin")
        scope = MemoryScope(identity=identity, session_id=session_id, agent=agent or self.agent_name)
        return self._session_end(scope)

    def _record_turns(self, request: _ActiveRequest, assistant_texts: list[str]) -> None:
        scope = request.scope
        for role, texts in (("user", request.user_texts), ("assistant", assistant_texts)):
            text = "\n".join(texts).strip()
            if text:
                self._turn_recorder.record_turn(scope.identity, scope.session_id, role, text, agent=scope.agent)

    def _close(self) -> None:
        self._request = None
        for store in self._stores:
            store._release()


class MeshMemory:
    """One agent's memory: request-scoped stores, the Strands ``MemoryManager`` over them, and the plugin.

    Pass both to the agent with ``Agent(model=..., **memory.agent_kwargs())``. The manager injects a
    bounded, delimited memory block into each user turn and registers the ``search_memory`` tool (and
    ``add_memory`` when a store is writable).
    """

    def __init__(
        self,
        stores: Sequence[_RequestScopedStore],
        *,
        agent_name: str,
        turn_recorder: TurnRecorder | None = None,
        session_end: SummaryHandoff | None = None,
        max_entries: int = DEFAULT_MAX_RESULTS,
        budget_bytes: int = DEFAULT_BUDGET_BYTES,
        search_tool: bool = True,
        add_tool: bool = True,
        identity_key: str = MEMORY_IDENTITY_KEY,
    ) -> None:
        _check_results("max_entries", max_entries)
        if type(budget_bytes) is not int or budget_bytes < 256:
            raise InvalidInputError("budget_bytes", budget_bytes, "must be an integer of at least 256")
        self.stores: tuple[_RequestScopedStore, ...] = tuple(stores)
        self.plugin = MeshMemoryPlugin(
            stores, agent_name=agent_name, turn_recorder=turn_recorder, session_end=session_end,
            identity_key=identity_key,
        )
        writable = any(store.writable and callable(getattr(type(store), "add", None)) for store in stores)
        injection = MemoryInjectionConfig(
            max_entries=max_entries,
            format=lambda context: render_memory_entries(context.entries, budget_bytes=budget_bytes),
        )
        self.manager = MemoryManager(
            stores=list(stores),
            search_tool_config=search_tool,
            # Awaited writes only: a fire-and-forget write could run after the request's identity is released.
            add_tool_config={"wait_for_writes": True} if add_tool and writable else False,
            injection=injection,
        )

    @property
    def agent_name(self) -> str:
        return self.plugin.agent_name

    def agent_kwargs(self) -> dict[str, Any]:
        """``plugins`` and ``memory_manager`` keyword arguments for ``strands.Agent``."""
        return {"plugins": [self.plugin], "memory_manager": self.manager}

    def request(self, identity: Identity, session_id: str, *, end_session: bool = False) -> dict[str, Any]:
        """A fresh ``invocation_state`` for one call of this agent (see :func:`memory_request`)."""
        return memory_request(identity, session_id, agent=self.agent_name, end_session=end_session)

    def end_session(self, identity: Identity, session_id: str) -> Any:
        """Hand a session to the summarizer without an agent call."""
        return self.plugin.end_session(identity, session_id)

    @classmethod
    def from_settings(
        cls,
        settings: Any,
        *,
        broker: Any,
        agent_name: str,
        embedder: Any = None,
        sqs_client: Any = None,
        converse_client: Any = None,
        include_agentcore: bool = True,
        **options: Any,
    ) -> MeshMemory:
        """Wire S3 Vectors, AgentCore Memory and the summary handoff from :class:`runtime.settings.MemorySettings`.

        The session goes to the summary queue when ``settings.summary_queue_url`` is set, else it is
        summarized in-process with ``settings.summary_model_id``.
        """
        import boto3

        from runtime.embeddings import BedrockEmbedder
        from runtime.integrations.session_end import DirectSummaryHandoff, QueueSummaryHandoff
        from runtime.stores.agentcore import AgentCoreMemoryBackend
        from runtime.stores.s3vectors import S3VectorsMemoryStore

        if embedder is None:
            embedder = BedrockEmbedder(
                settings.embedding_model_id, settings.embedding_dimension, region=settings.region
            )
        vectors = S3VectorsMemoryStore.from_settings(broker, settings, embedder)

        def agentcore_client(tenant_id: str, actor_id: str) -> Any:
            return broker.client("bedrock-agentcore", tenant_id, actor_id)

        turns = AgentCoreMemoryBackend(agentcore_client, memory_id=settings.memory_id)
        stores: list[_RequestScopedStore] = [S3VectorsStrandsStore(vectors)]
        if include_agentcore:
            stores.append(AgentCoreStrandsStore(agentcore_client, memory_id=settings.memory_id))
        handoff: SummaryHandoff
        if settings.summary_queue_url:
            handoff = QueueSummaryHandoff(
                sqs_client or boto3.client("sqs", region_name=settings.region), settings.summary_queue_url
            )
        else:
            handoff = DirectSummaryHandoff(
                turns_source=turns,
                vector_store=vectors,
                converse_client=converse_client or boto3.client("bedrock-runtime", region_name=settings.region),
                model_id=settings.summary_model_id,
            )
        return cls(stores, agent_name=agent_name, turn_recorder=turns, session_end=handoff, **options)

    @classmethod
    def local(
        cls,
        vector_store: Any,
        *,
        agent_name: str,
        turn_recorder: TurnRecorder | None = None,
        session_end: SummaryHandoff | None = None,
        **options: Any,
    ) -> MeshMemory:
        """Memory over an in-process store (``LocalMemoryStore``) for local runs and tests."""
        return cls(
            [S3VectorsStrandsStore(vector_store)],
            agent_name=agent_name, turn_recorder=turn_recorder, session_end=session_end, **options,
        )


def render_memory_entries(entries: Sequence[MemoryEntry], *, budget_bytes: int = DEFAULT_BUDGET_BYTES) -> str:
    """Render Strands memory entries with the runtime's one memory block format (delimited, labelled as data)."""
    from runtime.rendering import render_memory_block

    records = []
    for entry in entries:
        metadata = entry.metadata or {}
        kind = metadata.get("kind")
        stored_at = metadata.get("stored_at")
        records.append(
            MemoryRecord(
                content=entry.content,
                tenant_id="",
                actor_id="",
                kind=kind if isinstance(kind, str) else "note",
                source=entry.store_name or "memory",
                key="",
                stored_at=stored_at if type(stored_at) is int else None,
            )
        )
    return render_memory_block(records, budget_bytes=budget_bytes)


def _entry(record: MemoryRecord) -> MemoryEntry:
    metadata = {
        "kind": record.kind,
        "score": record.score,
        "agent": record.agent,
        "session_id": record.session_id,
        "stored_at": record.stored_at,
    }
    return MemoryEntry(content=record.content, metadata={k: v for k, v in metadata.items() if v is not None})


def _texts(messages: Sequence[Mapping[str, Any]], role: str) -> list[str]:
    return [
        block["text"]
        for message in messages
        if message.get("role") == role
        for block in message.get("content", [])
        if isinstance(block.get("text"), str) and block["text"].strip()
    ]


def _check_results(field: str, value: Any) -> None:
    if type(value) is not int or not 1 <= value <= MAX_RESULTS:
        raise InvalidInputError(field, value, f"must be an integer from 1 to {MAX_RESULTS}")
