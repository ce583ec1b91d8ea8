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
from dataclasses import dataclass, field, replace
from typing import Any

from strands import tool
from strands.hooks import AfterInvocationEvent, BeforeInvocationEvent
from strands.memory import MemoryEntry, MemoryInjectionConfig, MemoryManager, SearchOptions
from strands.plugins import Plugin, hook
from strands.types.agent import ConcurrentInvocationMode
from strands.types.tools import ToolContext

from runtime.errors import AccessDeniedError, InvalidInputError, MemoryMeshError
from runtime.identity import Identity, validate_agent_name
from runtime.integrations.scope import (
    MEMORY_IDENTITY_KEY,
    RECENT_TURNS_KEY,
    MemoryScope,
    end_session_requested,
    memory_request,
    recent_turns_from,
    scope_from_invocation_state,
)
from runtime.integrations.session_end import SummaryHandoff, TurnRecorder
from runtime.records import MEMORY_KINDS, MemoryQuery, MemoryRecord

logger = logging.getLogger(__name__)

DEFAULT_MAX_RESULTS = 5
DEFAULT_BUDGET_BYTES = 4000
#: The session block: at most this many recent turns, at most this many bytes.
DEFAULT_RECENT_TURNS = 10
DEFAULT_SESSION_BYTES = 6000
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
        min_score: float | None = None,
    ) -> None:
        if min_score is not None and (isinstance(min_score, bool) or not isinstance(min_score, (int, float))):
            raise InvalidInputError("min_score", min_score, "must be a number or None")
        for method in ("search", "put_memory"):
            if not callable(getattr(backend, method, None)):
                raise InvalidInputError("backend", f"<{type(backend).__name__}>", f"must have a {method}() method")
        if default_kind not in MEMORY_KINDS:
            raise InvalidInputError("default_kind", default_kind, f"must be one of {', '.join(MEMORY_KINDS)}")
        super().__init__(name=name, description=description, max_search_results=max_search_results, writable=writable)
        self._backend = backend
        self._default_kind = default_kind
        self._agent_only = agent_only
        self._min_score = min_score

    async def search(self, query: str, options: SearchOptions | None = None) -> list[MemoryEntry]:
        """Nearest current memories of the request's actor, best first (none below ``min_score``)."""
        scope = self._current_scope()
        records = await asyncio.to_thread(self.search_scoped, scope, query, self._want(options))
        return [_entry(record) for record in records]

    async def add(self, content: str, metadata: dict[str, Any] | None = None) -> str:
        """Remember ``content`` for the request's actor; ``metadata["kind"]`` overrides the default kind."""
        scope = self._current_scope()
        kind = (metadata or {}).get("kind", self._default_kind)
        return await asyncio.to_thread(self.add_scoped, scope, content, kind=kind)

    def search_scoped(
        self, scope: MemoryScope, query: str, top_k: int = DEFAULT_MAX_RESULTS, *, kinds: Sequence[str] | None = None,
        agent: str | None = None, stored_after: int | None = None, stored_before: int | None = None,
    ) -> list[MemoryRecord]:
        """Search with an explicit scope (service code outside an agent invocation), optionally filtered by
        kinds, the writing agent and a time range (epoch seconds)."""
        records = self._backend.search(
            MemoryQuery(
                tenant_id=scope.tenant_id,
                actor_id=scope.actor_id,
                text=query,
                top_k=top_k,
                agent=scope.agent if self._agent_only else agent,
                kinds=tuple(kinds) if kinds is not None else None,
                stored_after=stored_after,
                stored_before=stored_before,
            )
        )
        return [r for r in records if self._min_score is None or (r.score or 0.0) >= self._min_score]

    def add_scoped(self, scope: MemoryScope, content: str, *, kind: str | None = None) -> str:
        """Store with an explicit scope, labelled with the scope's agent (provenance); returns the memory's key.

        A store that consolidates answers a write result (created / duplicate / updated / superseded): its key
        is returned either way.
        """
        if not self.writable:
            raise InvalidInputError("store", self.name, "is read-only (writable=False)")
        result = self._backend.put_memory(
            scope.identity, content, kind=kind or self._default_kind, agent=scope.agent, session_id=scope.session_id
        )
        return result if isinstance(result, str) else str(getattr(result, "key", result))

    def update_scoped(self, scope: MemoryScope, key: str, content: str) -> Any:
        """Replace one memory's text for the scope's actor (the store checks the key is the actor's)."""
        return self._editable("update_memory")(scope.identity, key, content)

    def delete_scoped(self, scope: MemoryScope, key: str) -> Any:
        """Delete one memory of the scope's actor."""
        return self._editable("delete_memory")(scope.identity, key)

    def _editable(self, method: str) -> Any:
        if not self.writable:
            raise InvalidInputError("store", self.name, "is read-only (writable=False)")
        found = getattr(self._backend, method, None)
        if not callable(found):
            raise InvalidInputError("store", self.name, f"has a backend without {method}(identity, key, ...)")
        return found


class AgentCoreStrandsStore(_RequestScopedStore):
    """AgentCore long-term records of the request's actor (summaries, facts, preferences), for Strands.

    Searches go through the runtime's own :class:`runtime.stores.AgentCoreMemoryBackend` with
    ``client_provider(tenant, actor)`` (normally the broker's cached, tenant-scoped client), one
    RetrieveMemoryRecords per kind, in parallel; records outside the actor's namespaces are dropped by the
    backend as defence in depth behind IAM. Read-only: turns reach AgentCore through the plugin's recorder.
    """

    def __init__(
        self,
        client_provider: Callable[[str, str], Any],
        *,
        memory_id: str,
        kinds: Sequence[str] = ("summary", "fact", "preference"),
        name: str = "agentcore",
        description: str | None = _AGENTCORE_DESCRIPTION,
        max_search_results: int | None = None,
        min_score: float | None = None,
    ) -> None:
        from runtime.stores.agentcore import AgentCoreMemoryBackend

        if not callable(client_provider):
            raise InvalidInputError("client_provider", f"<{type(client_provider).__name__}>", "must be callable")
        for kind in kinds:
            if kind not in ("summary", "fact", "preference"):
                raise InvalidInputError("kinds", kind, "must hold AgentCore kinds: summary, fact, preference")
        if min_score is not None and (isinstance(min_score, bool) or not isinstance(min_score, (int, float))):
            raise InvalidInputError("min_score", min_score, "must be a number or None")
        super().__init__(name=name, description=description, max_search_results=max_search_results, writable=False)
        self._backend = AgentCoreMemoryBackend(client_provider, memory_id=memory_id)
        self._kinds = tuple(kinds)
        self._min_score = min_score

    async def search(self, query: str, options: SearchOptions | None = None) -> list[MemoryEntry]:
        """Best records across the actor's kinds, by AgentCore relevance score."""
        scope = self._current_scope()
        want = self._want(options)
        found = await asyncio.gather(*(asyncio.to_thread(self._search_kind, scope, query, kind, want)
                                       for kind in self._kinds))
        records = [record for batch in found for record in batch
                   if self._min_score is None or (record.score or 0.0) >= self._min_score]
        records.sort(key=lambda record: -(record.score or 0.0))
        return [_entry(record) for record in records[:want]]

    def _search_kind(self, scope: MemoryScope, query: str, kind: str, top_k: int) -> list[MemoryRecord]:
        return self._backend.search(
            MemoryQuery(tenant_id=scope.tenant_id, actor_id=scope.actor_id, text=query, top_k=top_k, kinds=(kind,))
        )


@dataclass
class _ActiveRequest:
    invocation_state: dict[str, Any]
    scope: MemoryScope
    user_texts: list[str]
    recent: list[dict[str, Any]] = field(default_factory=list)


class MeshMemoryPlugin(Plugin):
    """Scopes an agent's memory stores to each request and closes sessions; one instance per ``Agent``.

    At ``BeforeInvocationEvent`` it reads the request's scope from ``invocation_state[identity_key]``
    (missing or invalid -> ``InvalidInputError`` before the model is called), binds it to its stores and takes
    the session's recent messages (``invocation_state["memory_recent_turns"]`` when the orchestrator handed them
    over, else ``recent_turns_source``). At ``AfterInvocationEvent`` it records the turn (``turn_recorder``;
    one event per invocation with :class:`runtime.stores.agentcore_events.AgentCoreEvents`), hands the session to
    ``session_end`` when ``invocation_state["memory_end_session"]`` is true, and releases the binding.
    """

    name = "mesh:memory-scope"

    def __init__(
        self,
        stores: Sequence[_RequestScopedStore],
        *,
        agent_name: str,
        turn_recorder: TurnRecorder | Any | None = None,
        session_end: SummaryHandoff | None = None,
        identity_key: str = MEMORY_IDENTITY_KEY,
        recent_turns_source: Any = None,
        recent_turns: int = DEFAULT_RECENT_TURNS,
        session_budget_bytes: int = DEFAULT_SESSION_BYTES,
    ) -> None:
        self.agent_name = validate_agent_name(agent_name, field="agent_name")
        for index, store in enumerate(stores):
            if not isinstance(store, _RequestScopedStore):
                raise InvalidInputError(
                    f"stores[{index}]", f"<{type(store).__name__}>",
                    "must be a request-scoped store (S3VectorsStrandsStore, AgentCoreStrandsStore)",
                )
        if recent_turns_source is not None and not callable(getattr(recent_turns_source, "recent_turns", None)):
            raise InvalidInputError("recent_turns_source", f"<{type(recent_turns_source).__name__}>",
                                    "must have recent_turns(identity, session_id, ...) (AgentCoreEvents)")
        super().__init__()
        self._stores = list(stores)
        for store in self._stores:
            store._adopt(self)
        self._turn_recorder = turn_recorder
        self._session_end = session_end
        self._identity_key = identity_key
        self._recent_source = recent_turns_source
        self._recent_turns = recent_turns
        self._session_budget = session_budget_bytes
        self._agent: weakref.ref[Any] | None = None
        self._request: _ActiveRequest | None = None

    @property
    def stores(self) -> tuple[_RequestScopedStore, ...]:
        """The request-scoped stores this plugin binds."""
        return tuple(self._stores)

    @property
    def invocation_state(self) -> Mapping[str, Any] | None:
        """The ``invocation_state`` of the request in progress, or None between requests."""
        request = self._request
        return request.invocation_state if request is not None else None

    def init_agent(self, agent: Any) -> None:
        """Attach to one agent (a second agent is refused) and check it runs one invocation at a time."""
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

    def current_scope(self, invocation_state: Mapping[str, Any] | None = None) -> MemoryScope:
        """The scope of the request in progress (or read from ``invocation_state``); tools use it, never the model."""
        if invocation_state is not None:
            return scope_from_invocation_state(invocation_state, default_agent=self.agent_name,
                                               key=self._identity_key)
        request = self._request
        if request is None:
            raise AccessDeniedError("no request is in progress: the memory tools act only inside an agent call")
        return request.scope

    def session_block(self) -> str | None:
        """The session's recent messages as the delimited session block, or None (nothing to inject)."""
        from runtime.rendering import render_session_block

        request = self._request
        if request is None or not request.recent:
            return None
        return render_session_block(request.recent, budget_bytes=self._session_budget) or None

    @hook  # type: ignore[call-overload]
    def _open_request(self, event: BeforeInvocationEvent) -> None:
        # Drop whatever an earlier request that failed before its AfterInvocationEvent left bound.
        self._close()
        scope = scope_from_invocation_state(
            event.invocation_state, default_agent=self.agent_name, key=self._identity_key
        )
        end_session_requested(event.invocation_state)  # validate the flag before any model call
        handed = (event.invocation_state or {}).get(RECENT_TURNS_KEY)
        recent = recent_turns_from(handed) if handed is not None else self._fetch_recent(scope)
        self._request = _ActiveRequest(event.invocation_state, scope, _texts(event.messages or [], "user"), recent)
        for store in self._stores:
            store._bind(scope)

    def _fetch_recent(self, scope: MemoryScope) -> list[dict[str, Any]]:
        if self._recent_source is None:
            return []
        try:
            turns = self._recent_source.recent_turns(
                scope.identity, scope.session_id, max_turns=self._recent_turns, max_bytes=self._session_budget
            )
        except MemoryMeshError as error:  # recent turns degrade the answer, never fail it
            logger.warning("recent turns unavailable", extra={"error_code": error.code})
            return []
        return list(turns.to_json())

    @hook  # type: ignore[call-overload]
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
        from runtime.stores.agentcore_events import AgentCoreEvents, TurnMessage

        scope = request.scope
        user = "\n".join(request.user_texts).strip()
        assistant = "\n".join(assistant_texts).strip()
        if isinstance(self._turn_recorder, AgentCoreEvents):
            # One event per invocation: the user's text and this agent's answer, labelled with the agent.
            messages = ([TurnMessage("USER", user)] if user else []) + (
                [TurnMessage("ASSISTANT", assistant, scope.agent)] if assistant else [])
            if messages:
                self._turn_recorder.record_turn(scope.identity, scope.session_id, messages)
            return
        recorder = self._turn_recorder
        if recorder is None:
            return
        for role, text in (("user", user), ("assistant", assistant)):
            if text:
                recorder.record_turn(scope.identity, scope.session_id, role, text, agent=scope.agent)

    def _close(self) -> None:
        self._request = None
        for store in self._stores:
            store._release()


class MeshMemoryEditTools(Plugin):
    """``find_memories`` (filtered search), ``update_memory`` and ``delete_memory`` tools over the agent's
    writable stores.

    Identity comes from the call's ``invocation_state`` (through the memory plugin), never from the model: the
    model names only the memory (its key, as ``search_memory`` returns it) and the new text.
    """

    name = "mesh:memory-edit"

    def __init__(self, memory_plugin: MeshMemoryPlugin) -> None:
        super().__init__()
        self._memory = memory_plugin

    def _store(self) -> Any:
        for store in self._memory.stores:
            if store.writable and callable(getattr(store, "update_scoped", None)):
                return store
        raise InvalidInputError("stores", None, "holds no writable store that can update or delete memories")

    @tool(context=True)
    def update_memory(self, key: str, content: str, tool_context: ToolContext) -> dict[str, Any]:
        """Replace the text of one memory about this user (key from search_memory) when it is out of date.

        Args:
            key: The memory's key, as search_memory returned it.
            content: The corrected text.
            tool_context: Supplied by Strands (the request's invocation_state holds the identity).
        """
        scope = self._memory.current_scope(tool_context.invocation_state)
        self._store().update_scoped(scope, key, content)
        return {"updated": key}

    @tool(context=True)
    def find_memories(
        self, query: str, tool_context: ToolContext, kinds: list[str] | None = None, by_agent: str | None = None,
        after: int | None = None, before: int | None = None, max_results: int = DEFAULT_MAX_RESULTS,
    ) -> dict[str, Any]:
        """Search this user's current memories, narrowed by kind, the agent that wrote them or when they were
        stored. Returns each memory's key (for update_memory and delete_memory), text, kind, agent and time.

        Args:
            query: What to look for.
            tool_context: Supplied by Strands (the request's invocation_state holds the identity).
            kinds: Only these kinds (fact, preference, summary, turn, note).
            by_agent: Only memories this agent wrote.
            after: Only memories stored at or after this time (epoch seconds).
            before: Only memories stored before this time (epoch seconds).
            max_results: At most this many memories (1-100).
        """
        scope = self._memory.current_scope(tool_context.invocation_state)
        _check_results("max_results", max_results)
        records = self._store().search_scoped(scope, query, max_results, kinds=kinds, agent=by_agent,
                                              stored_after=after, stored_before=before)
        return {"memories": [
            {"key": r.key, "content": r.content, "kind": r.kind, "agent": r.agent, "stored_at": r.stored_at}
            for r in records
        ]}

    @tool(context=True)
    def delete_memory(self, key: str, tool_context: ToolContext) -> dict[str, Any]:
        """Forget one memory about this user (key from search_memory) when it is wrong or the user asks.

        Args:
            key: The memory's key, as search_memory returned it.
            tool_context: Supplied by Strands (the request's invocation_state holds the identity).
        """
        scope = self._memory.current_scope(tool_context.invocation_state)
        return {"deleted": key if self._store().delete_scoped(scope, key) else None}


class MeshMemory:
    """One agent's memory: request-scoped stores, the Strands ``MemoryManager`` over them, and the plugins.

    Pass them to the agent with ``Agent(model=..., **memory.agent_kwargs())``. The manager injects a bounded,
    delimited memory block into each user turn and registers the ``search_memory`` tool (and ``add_memory`` when
    a store is writable); a ``ContextInjector`` adds the session block (the session's recent messages); with
    ``edit_tools`` the agent also gets ``update_memory`` and ``delete_memory``.
    """

    def __init__(
        self,
        stores: Sequence[_RequestScopedStore],
        *,
        agent_name: str,
        turn_recorder: TurnRecorder | Any | None = None,
        session_end: SummaryHandoff | None = None,
        max_entries: int = DEFAULT_MAX_RESULTS,
        budget_bytes: int = DEFAULT_BUDGET_BYTES,
        search_tool: bool = True,
        add_tool: bool = True,
        edit_tools: bool = False,
        identity_key: str = MEMORY_IDENTITY_KEY,
        recent_turns_source: Any = None,
        session_budget_bytes: int = DEFAULT_SESSION_BYTES,
        inject: bool = True,
    ) -> None:
        from strands.vended_plugins.context_injector import ContextInjector

        _check_results("max_entries", max_entries)
        if type(budget_bytes) is not int or budget_bytes < 256:
            raise InvalidInputError("budget_bytes", budget_bytes, "must be an integer of at least 256")
        self.stores: tuple[_RequestScopedStore, ...] = tuple(stores)
        self.plugin = MeshMemoryPlugin(
            stores, agent_name=agent_name, turn_recorder=turn_recorder, session_end=session_end,
            identity_key=identity_key, recent_turns_source=recent_turns_source,
            session_budget_bytes=session_budget_bytes,
        )
        writable = any(store.writable and callable(getattr(type(store), "add", None)) for store in stores)
        injection = MemoryInjectionConfig(
            max_entries=max_entries,
            format=lambda context: render_memory_entries(context.entries, budget_bytes=budget_bytes),
        )
        self.manager = MemoryManager(
            stores=list(stores),  # type: ignore[arg-type]  # request-scoped stores implement MemoryStore
            search_tool_config=search_tool,
            # Awaited writes only: a fire-and-forget write could run after the request's identity is released.
            add_tool_config={"wait_for_writes": True} if add_tool and writable else False,
            injection=injection if inject else False,
        )
        # The session block: the same escaping and delimiting as the memory block, on the user's turn only.
        self.session_injector = ContextInjector(lambda context: self.plugin.session_block(), name="mesh:session")
        self.edit_tools = MeshMemoryEditTools(self.plugin) if edit_tools else None

    @property
    def agent_name(self) -> str:
        """The agent's name: the provenance of what it writes."""
        return self.plugin.agent_name

    def agent_kwargs(self) -> dict[str, Any]:
        """``plugins`` and ``memory_manager`` keyword arguments for ``strands.Agent``."""
        plugins: list[Any] = [self.plugin, self.session_injector]
        if self.edit_tools is not None:
            plugins.append(self.edit_tools)
        return {"plugins": plugins, "memory_manager": self.manager}

    def request(
        self, identity: Identity, session_id: str, *, end_session: bool = False,
        recent_turns: list[dict[str, Any]] | None = None,
    ) -> dict[str, Any]:
        """A fresh ``invocation_state`` for one call of this agent (see :func:`memory_request`)."""
        return memory_request(identity, session_id, agent=self.agent_name, end_session=end_session,
                              recent_turns=recent_turns)

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
        judge_model_id: str | None = None,
        **options: Any,
    ) -> MeshMemory:
        """Wire S3 Vectors, AgentCore Memory, the session's turns and the summary handoff from
        :class:`runtime.settings.MemorySettings`.

        Turns are recorded as one AgentCore event per invocation and read back as the session block. The
        session goes to the summary queue when ``settings.summary_queue_url`` is set, else it is summarized
        in-process with ``settings.summary_model_id``. Writes consolidate (runtime.stores.consolidation); with
        ``judge_model_id`` a Converse model decides which earlier memories a new one supersedes.
        """
        import boto3

        from runtime.embeddings import BedrockEmbedder
        from runtime.integrations.session_end import DirectSummaryHandoff, QueueSummaryHandoff
        from runtime.lifecycle.tombstones import guard_from_settings
        from runtime.stores.agentcore import AgentCoreMemoryBackend
        from runtime.stores.agentcore_events import AgentCoreEvents
        from runtime.stores.consolidation import DEFAULT_POLICY, ConverseJudge
        from runtime.stores.s3vectors import S3VectorsMemoryStore

        if embedder is None:
            embedder = BedrockEmbedder(
                settings.embedding_model_id, settings.embedding_dimension, region=settings.region
            )
        converse = converse_client or boto3.client("bedrock-runtime", region_name=settings.region)
        policy = DEFAULT_POLICY if judge_model_id is None else replace(
            DEFAULT_POLICY, judge=ConverseJudge(converse, judge_model_id))
        vectors = S3VectorsMemoryStore.from_settings(broker, settings, embedder, consolidation=policy)

        def agentcore_client(tenant_id: str, actor_id: str) -> Any:
            return broker.client("bedrock-agentcore", tenant_id, actor_id)

        turns = AgentCoreMemoryBackend(agentcore_client, memory_id=settings.memory_id)
        events = AgentCoreEvents(agentcore_client, settings.memory_id)
        events.tombstones = guard_from_settings(broker, settings)  # forget wins over a turn in flight
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
                converse_client=converse,
                model_id=settings.summary_model_id,
            )
        options.setdefault("recent_turns_source", events)
        return cls(stores, agent_name=agent_name, turn_recorder=events, session_end=handoff, **options)

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
        "key": record.key,
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
