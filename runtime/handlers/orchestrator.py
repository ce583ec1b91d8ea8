"""The orchestrator Lambda: a user's message goes to the supervisor agent and, on delegation, to a worker agent in
another account, each with the user's memories of this tenant and the session so far; every turn is one event.

Routes (API Gateway HTTP API, payload format 2.0, JWT authorizer):

- ``POST /sessions/{session_id}/messages`` body ``{"message", "worker"?, "end_session"?}`` -> the handoff;
- ``POST /sessions/{session_id}/end`` -> queue the session's summary and end it in the Bedrock Agents (202);
- ``GET /sessions``, ``GET /sessions/{session_id}``, ``DELETE /sessions/{session_id}`` -> :mod:`._sessions`;
- ``GET /memories`` -> what the stores (and the supervisor's Bedrock Agents memory) remember about the caller, a
  page at a time; ``PATCH /memories/{key}`` / ``DELETE /memories/{key}`` -> correct or delete one (:mod:`._memories`).

Direct invoke (IAM, service to service): ``{"message", "session_id"?, "tenant_id", "actor_id", "worker"?,
"end_session"?, "recall"?}``; without ``session_id`` the call is stateless: it reads long-term memory but writes
nothing. ``recall`` (``{"kinds"?, "agent"?, "after"?, "before"?, "min_score"?}``) narrows the memories the turn
recalls.

One turn: ONE recall round (vector query, AgentCore retrieval of every kind and the session's recent turns, all
at once under one budget; a failing or slow backend only degrades it), the supervisor, maybe a worker, and ONE
CreateEvent with every message once the answer is known (the user's message alone when the agents fail). A
write still throttled after its retries is queued for the lifecycle function; the answer is returned anyway.
"""

from __future__ import annotations

import functools
import os
import threading
import time
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field, replace
from typing import Any

from runtime.budget import Budget, run_in_context
from runtime.errors import InvalidInputError, MemoryMeshError, NotFoundError, UpstreamTimeoutError
from runtime.handlers import _observability as obs
from runtime.handlers._agents import (
    AgentClients,
    AgentRef,
    Deadline,
    MemoryContext,
    invoke_agent,
    split_handoff,
)
from runtime.handlers._http import (
    Request,
    as_upstream,
    check_fields,
    check_query,
    error_body,
    handle_errors,
    match_route,
    parse_request,
    public,
    request_identity,
    respond,
)
from runtime.handlers._workers import WorkerRegistry, WorkerSpec, load_workers, validate_worker_name
from runtime.identity import Identity, validate_session_id

__all__ = ["MAX_MESSAGE_BYTES", "ROUTES", "SUPERVISOR_AGENT_NAME", "handler", "reset"]

ROUTE_MESSAGE = "POST /sessions/{session_id}/messages"
ROUTE_END = "POST /sessions/{session_id}/end"
ROUTE_SESSIONS = "GET /sessions"
ROUTE_SESSION = "GET /sessions/{session_id}"
ROUTE_DELETE_SESSION = "DELETE /sessions/{session_id}"
ROUTE_MEMORIES = "GET /memories"
ROUTE_UPDATE_MEMORY = "PATCH /memories/{key}"
ROUTE_DELETE_MEMORY = "DELETE /memories/{key}"
ROUTES = (ROUTE_MESSAGE, ROUTE_END, ROUTE_SESSIONS, ROUTE_SESSION, ROUTE_DELETE_SESSION, ROUTE_MEMORIES,
          ROUTE_UPDATE_MEMORY, ROUTE_DELETE_MEMORY)
DIRECT_FIELDS = ("message", "session_id", "tenant_id", "actor_id", "worker", "end_session", "recall")
RECALL_FIELDS = ("kinds", "agent", "after", "before", "min_score")
MESSAGE_FIELDS = ("message", "worker", "end_session", "tenant_id", "actor_id")
IDENTITY_FIELDS = ("tenant_id", "actor_id")

#: The agent name recorded with the supervisor's messages and used for session summaries.
SUPERVISOR_AGENT_NAME = "supervisor"
DEFAULT_TENANT_CLAIM = "custom:tenant_id"
MAX_MESSAGE_BYTES = 16 * 1024
#: Memories retrieved per message (before the memory block's byte budget).
RECALL_TOP_K = 8
#: Recall relevance (runtime.retriever.Relevance): memories below the score are dropped (none by default; a
#: direct invoke may set ``recall.min_score``), a memory's score loses at most RECALL_RECENCY_WEIGHT of itself
#: with age (half of that per RECALL_HALF_LIFE_S), and at most RECALL_PER_KIND memories of one kind are recalled.
RECALL_MIN_SCORE = 0.0
RECALL_RECENCY_WEIGHT = 0.2
RECALL_HALF_LIFE_S = 30 * 24 * 3600
RECALL_PER_KIND = {"summary": 3, "turn": 3}
#: The recall round's budget: every read of the turn shares it, and a slow backend costs at most this.
RECALL_BUDGET_S = 2.0
#: Recent turns handed to the agents: at most this many turns, their texts at most this many bytes.
RECENT_TURNS = 10
RECENT_TURN_BYTES = 6000
#: Kept back from the Lambda's remaining time to record, answer and flush metrics.
SAFETY_MARGIN_S = 1.0
#: API Gateway HTTP APIs end every integration after 30 seconds, whatever the function's timeout.
API_BUDGET_S = 29.0
#: Least time worth starting an upstream call with.
MIN_RECALL_S = 0.2
MIN_AGENT_S = 1.0
#: The turn's write may use part of the safety margin (the answer is already paid for), but retries a throttled
#: write for at most this long before queuing it: CreateEvent allows 5 calls per second per actor and session,
#: so a throttle clears within about a second, and the user is waiting.
WRITE_MARGIN_S = 0.4
WRITE_BUDGET_S = 2.0


class ConfigurationError(MemoryMeshError):
    """The function's environment is incomplete or invalid (operator error; callers see a generic 500)."""


@dataclass(frozen=True)
class _Turn:
    message: str
    session_id: str | None
    worker: str | None
    end_session: bool
    recall: Any = None


@dataclass
class _Mesh:
    """Per-container configuration and clients; nothing about any request."""

    settings: Any
    tenant_claim: str
    supervisor: AgentRef
    workers_file: str | None
    lifecycle_queue_url: str | None
    memory: Any
    events: Any
    vectors: Any
    retriever: Any
    agents: AgentClients
    broker: Any
    pool: ThreadPoolExecutor = field(
        default_factory=lambda: ThreadPoolExecutor(max_workers=4, thread_name_prefix="orchestrator")
    )
    _sqs: Any = field(default=None, repr=False)

    def workers(self) -> WorkerRegistry:
        return load_workers(self.workers_file)

    def sqs(self) -> Any:
        if self._sqs is None:
            import boto3
            from botocore.config import Config

            config = Config(connect_timeout=1, read_timeout=3, retries={"mode": "standard", "total_max_attempts": 3})
            self._sqs = boto3.client("sqs", region_name=self.settings.region, config=config)
        return self._sqs

    def close(self) -> None:
        self.retriever.close()
        self.pool.shutdown(wait=False, cancel_futures=True)


_lock = threading.Lock()
_state: tuple[tuple[tuple[str, str], ...], _Mesh] | None = None


@handle_errors
def handler(event: Any, context: Any) -> dict[str, Any]:
    """Lambda entry point (HTTP API v2 event or direct-invoke payload)."""
    from runtime.handlers import _memories, _sessions

    request = parse_request(event)
    if not request.api:
        return _direct(request, context)
    matched = match_route(request, ROUTES)
    if matched is None:
        shown = request.route_key or f"{request.method} {request.path}"
        raise NotFoundError(f"route={shown[:80]!r} is not an orchestrator route; routes are {', '.join(ROUTES)}")
    route, params = matched
    mesh = _mesh()
    identity = request_identity(request, tenant_claim=mesh.tenant_claim, index_prefix=mesh.settings.index_prefix)
    deadline = Deadline.from_context(context, margin_s=SAFETY_MARGIN_S, cap_s=API_BUDGET_S)
    if route == ROUTE_MEMORIES:
        check_fields(request.body, IDENTITY_FIELDS)
        return respond(200, _memories.list_memories(mesh, identity, request.query, deadline, SUPERVISOR_AGENT_NAME),
                       api=True)
    if route in (ROUTE_UPDATE_MEMORY, ROUTE_DELETE_MEMORY):
        check_query(request.query, ())
        key = params.get("key")
        if route == ROUTE_UPDATE_MEMORY:
            return respond(200, _memories.update_memory(mesh, identity, key, request.body, deadline), api=True)
        check_fields(request.body, IDENTITY_FIELDS)
        return respond(200, _memories.delete_memory(mesh, identity, key, deadline), api=True)
    if route == ROUTE_SESSIONS:
        check_fields(request.body, IDENTITY_FIELDS)
        return respond(200, _sessions.list_sessions(mesh, identity, request.query), api=True)
    session_id = validate_session_id(params.get("session_id"), field="session_id")
    if route == ROUTE_SESSION:
        check_fields(request.body, IDENTITY_FIELDS)
        return respond(200, _sessions.session_turns(mesh, identity, session_id, request.query), api=True)
    if route == ROUTE_DELETE_SESSION:
        check_fields(request.body, IDENTITY_FIELDS)
        check_query(request.query, ())
        status, body = _sessions.delete_session(mesh, identity, session_id, deadline, SUPERVISOR_AGENT_NAME)
        return respond(status, body, api=True)
    if route == ROUTE_END:
        check_fields(request.body, IDENTITY_FIELDS)
        check_query(request.query, ())
        body = _sessions.end_session(mesh, identity, session_id, deadline, SUPERVISOR_AGENT_NAME)
        obs.log("info", "session ended", route="end", tenant_id=identity.tenant_id, actor=identity.actor_id,
                session_ref=obs.session_ref(session_id))
        return respond(202, body, api=True)
    check_fields(request.body, MESSAGE_FIELDS)
    check_query(request.query, ())
    turn = _turn(request.body, session_id)
    return respond(200, _handoff(mesh, identity, turn, deadline, context), api=True)


def reset() -> None:
    """Forget the container's configuration and clients (tests; a changed environment also triggers it)."""
    global _state
    with _lock:
        previous, _state = _state, None
    if previous is not None:
        previous[1].close()


# -- routes ----------------------------------------------------------------------------------------------------


def _direct(request: Request, context: Any) -> dict[str, Any]:
    check_fields(request.body, DIRECT_FIELDS, where="payload")
    mesh = _mesh()
    identity = request_identity(request, tenant_claim=mesh.tenant_claim, index_prefix=mesh.settings.index_prefix)
    session_id = request.body.get("session_id")
    if session_id is not None:
        session_id = validate_session_id(session_id)
    turn = replace(_turn(request.body, session_id), recall=_recall_filter(request.body.get("recall")))
    deadline = Deadline.from_context(context, margin_s=SAFETY_MARGIN_S)
    return respond(200, _handoff(mesh, identity, turn, deadline, context), api=False)


def _recall_filter(value: Any) -> Any:
    """The direct payload's ``recall`` object as a validated filter (None when absent)."""
    from runtime.handlers._memories import MemoryFilter

    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise InvalidInputError("recall", f"<{type(value).__name__}>", "must be an object: kinds, agent, after, before")
    check_fields(value, RECALL_FIELDS, where="recall")
    min_score = value.get("min_score")
    if min_score is not None and (isinstance(min_score, bool) or not isinstance(min_score, (int, float))
                                  or not 0.0 <= min_score <= 1.0):
        raise InvalidInputError("recall.min_score", min_score, "must be a number from 0 to 1")
    wanted = MemoryFilter.build(kinds=value.get("kinds"), agent=value.get("agent"), after=value.get("after"),
                                before=value.get("before"), where="recall.")
    return wanted, min_score


def _turn(body: Mapping[str, Any], session_id: str | None) -> _Turn:
    message = body.get("message")
    if message is None:
        raise InvalidInputError("message", None, "is required: the user's message as a string")
    if not isinstance(message, str):
        raise InvalidInputError("message", f"<{type(message).__name__}>", "must be a string")
    try:
        size = len(message.encode("utf-8"))
    except UnicodeEncodeError:
        raise InvalidInputError("message", "<text>", "must be valid Unicode text (no lone surrogates)") from None
    if not message.strip():
        raise InvalidInputError("message", "<blank>", "must contain non-whitespace text")
    if size > MAX_MESSAGE_BYTES:
        raise InvalidInputError("message", f"<{size} bytes>", f"must be at most {MAX_MESSAGE_BYTES} UTF-8 bytes")
    worker = body.get("worker")
    if worker is not None:
        worker = validate_worker_name(worker)
    end_session = body.get("end_session", False)
    if not isinstance(end_session, bool):
        raise InvalidInputError("end_session", f"<{type(end_session).__name__}>", "must be true or false")
    if end_session and session_id is None:
        raise InvalidInputError("end_session", True, "needs a session_id: a stateless request has no session to end")
    return _Turn(message=message, session_id=session_id, worker=worker, end_session=end_session)


def _handoff(mesh: _Mesh, identity: Identity, turn: _Turn, deadline: Deadline, context: Any) -> dict[str, Any]:
    from runtime.stores.agentcore_events import TurnMessage

    # A worker named by the request is checked before anything is read, invoked or written.
    requested = mesh.workers().for_tenant(turn.worker, identity.tenant_id) if turn.worker else None
    session_id = turn.session_id
    log_fields = {
        "tenant_id": identity.tenant_id, "actor": identity.actor_id, "session_ref": obs.session_ref(session_id)
    }
    said: list[TurnMessage] = [TurnMessage("USER", turn.message)]
    origin_ms = int(time.time() * 1000)

    deadline.require(MIN_RECALL_S + MIN_AGENT_S, "retrieve memories")
    records, recent = _recall_round(mesh, identity, turn.message, session_id, deadline, log_fields,
                                    recall=turn.recall)
    memory = MemoryContext.build(identity, session_id, records, recent=recent.to_json())
    obs.count("MemoriesUsed", memory.count)

    try:
        deadline.require(MIN_AGENT_S, "invoke the supervisor agent")
        reply = invoke_agent(
            mesh.agents.own(mesh.supervisor), mesh.supervisor, prompt=turn.message, identity=identity,
            session_id=session_id, agent_name=SUPERVISOR_AGENT_NAME, memory=memory, deadline=deadline,
            agent_memory=True,
        )
    except MemoryMeshError as error:
        obs.log("warning", "supervisor agent failed", step="supervisor", code=error.code, **log_fields)
        if session_id is not None:  # the user's message stays durable: one event with it alone
            _write_turn(mesh, identity, session_id, said, context, deadline, origin_ms, log_fields)
        raise as_upstream(error, "the supervisor agent") from None
    supervisor_text, signalled = split_handoff(reply.text)
    if supervisor_text:
        said.append(TurnMessage("ASSISTANT", supervisor_text, SUPERVISOR_AGENT_NAME))

    answer: dict[str, Any] = {
        "session_id": session_id,
        "supervisor_response": supervisor_text,
        "worker_response": None,
        "delegated": False,
        "worker": None,
        "memories_used": memory.count,
    }
    target = requested.name if requested is not None else signalled
    if target is not None:
        answer["worker"] = target
        # The worker sees the session so far, this turn's earlier messages included.
        now = recent.plus(_current(said, origin_ms), max_bytes=RECENT_TURN_BYTES)
        _delegate(mesh, identity, turn, requested, target, memory.with_recent(now.to_json()), deadline, answer,
                  said, log_fields)
    if session_id is not None:
        recorded = _write_turn(mesh, identity, session_id, said, context, deadline, origin_ms, log_fields)
        if recorded != "written":
            answer["turn_recorded"] = recorded
    if turn.end_session:
        _end_with_turn(mesh, identity, session_id, answer, deadline)  # type: ignore[arg-type]
    obs.count("Handoffs")
    obs.log("info", "handoff answered", route="message", delegated=answer["delegated"], worker=answer["worker"],
            memories=memory.count, turns=len(recent.turns), code=(answer.get("worker_error") or {}).get("code"),
            **log_fields)
    return answer


def _current(said: list[Any], origin_ms: int) -> Any:
    from runtime.stores.agentcore_events import SessionTurn

    return SessionTurn("current", origin_ms, tuple(said))


def _delegate(
    mesh: _Mesh,
    identity: Identity,
    turn: _Turn,
    requested: WorkerSpec | None,
    target: str,
    memory: MemoryContext,
    deadline: Deadline,
    answer: dict[str, Any],
    said: list[Any],
    log_fields: Mapping[str, Any],
) -> None:
    """Invoke the worker; its answer joins ``said``; any failure lands in ``answer["worker_error"]``."""
    from runtime.stores.agentcore_events import TurnMessage

    try:
        worker = requested or mesh.workers().for_tenant(target, identity.tenant_id)
    except MemoryMeshError as error:  # signalled by the supervisor only: not the caller's mistake
        answer["worker_error"] = error_body(error)
        obs.count("Errors")
        obs.log("warning", "supervisor named an unusable worker", step="worker", code=error.code, **log_fields)
        return
    answer["delegated"] = True
    try:
        deadline.require(MIN_AGENT_S, "invoke the worker agent")
        client = mesh.agents.worker(worker, identity)
        reply = invoke_agent(
            client, worker.agent, prompt=turn.message, identity=identity, session_id=turn.session_id,
            agent_name=worker.name, memory=memory, deadline=deadline,
        )
    except MemoryMeshError as error:
        answer["worker_error"] = error_body(as_upstream(error, f"worker {worker.name!r}"))
        obs.count("Errors")
        obs.log("warning", "worker agent failed", step="worker", worker=worker.name, code=error.code, **log_fields)
        return
    answer["worker_response"] = reply.text.strip()
    said.append(TurnMessage("ASSISTANT", answer["worker_response"], worker.name))
    obs.count("Delegations")


# -- the recall round --------------------------------------------------------------------------------------


class _KindSearch:
    """AgentCore retrieval of one memory kind, as its own backend, so every kind is retrieved in parallel."""

    def __init__(self, backend: Any, kind: str) -> None:
        self._backend = backend
        self._kind = kind
        self.name = f"agentcore-{kind}"

    def search(self, query: Any) -> list[Any]:
        if query.kinds is not None and self._kind not in query.kinds:
            return []
        if query.agent is not None:
            return []  # AgentCore's long-term records are the user's, written by no agent
        return list(self._backend.search(replace(query, kinds=(self._kind,))))

    def delete_actor(self, tenant_id: str, actor_id: str) -> Any:  # the MemoryBackend protocol; never used here
        raise NotImplementedError


def _recall_round(
    mesh: _Mesh, identity: Identity, message: str, session_id: str | None, deadline: Deadline,
    log_fields: Mapping[str, Any], *, recall: Any = None,
) -> tuple[list[Any], Any]:
    """Every read of the turn at once, under one budget: memories from both stores and the recent turns.

    A backend that fails or has not answered when the budget ends is left out (logged by error code only).
    """
    from runtime.records import MemoryQuery
    from runtime.stores.agentcore_events import RecentTurns

    budget = Budget(max(0.0, min(RECALL_BUDGET_S, deadline.remaining() - MIN_AGENT_S)))
    started = budget.deadline - budget.remaining()
    recent_future = None
    if session_id is not None:
        recent_future = run_in_context(
            mesh.pool, mesh.events.recent_turns, identity, session_id, max_turns=RECENT_TURNS,
            max_bytes=RECENT_TURN_BYTES,
        )
    query = MemoryQuery(tenant_id=identity.tenant_id, actor_id=identity.actor_id, text=message, top_k=RECALL_TOP_K)
    min_score = None
    if recall is not None:
        wanted, min_score = recall
        query = replace(query, kinds=wanted.kinds, agent=wanted.agent, stored_after=wanted.after,
                        stored_before=wanted.before)
    records: list[Any] = []
    failed: list[str] = []
    try:
        options = {} if min_score is None else {"min_score": min_score}
        result = mesh.retriever.retrieve_result(query, timeout_s=budget.remaining(), **options)
        records = list(result.records)
        failed = [f"{failure.backend}:{failure.error.code}" for failure in result.errors]
    except MemoryMeshError as error:
        failed = [f"memories:{error.code}"]
    recent = RecentTurns()
    if recent_future is not None:
        try:
            recent = recent_future.result(timeout=budget.remaining())
        except FutureTimeout:
            recent_future.cancel()
            failed.append(f"recent-turns:{UpstreamTimeoutError.code}")
        except MemoryMeshError as error:
            failed.append(f"recent-turns:{error.code}")
    if failed:
        obs.count("RecallDegraded")
        obs.log("warning", "recall round was partial", step="recall", backends_failed=",".join(failed), **log_fields)
    obs.log("debug", "recall round finished", step="recall", records=len(records), turns=len(recent.turns),
            duration_ms=round((budget.deadline - budget.remaining() - started) * 1000, 1), **log_fields)
    return records, recent


# -- the turn's one event ----------------------------------------------------------------------------------


def _write_turn(
    mesh: _Mesh, identity: Identity, session_id: str, said: list[Any], context: Any, deadline: Deadline,
    origin_ms: int, log_fields: Mapping[str, Any],
) -> str:
    """Write the turn as ONE event; if it fails (throttled past its retries, or any upstream error), queue the
    write for the lifecycle function. Never raises: the answer is already produced. Returns how it went."""
    from runtime.lifecycle.tombstones import ActorForgottenError
    from runtime.stores.agentcore_events import turn_event_message

    token = _client_token(context)
    budget = Budget(min(WRITE_BUDGET_S, max(0.2, deadline.remaining() + WRITE_MARGIN_S)))
    try:
        mesh.events.record_turn(identity, session_id, said, client_token=token, budget=budget, origin_ms=origin_ms)
        obs.log("debug", "turn recorded", step="record", events=1, records=len(said), **log_fields)
        return "written"
    except ActorForgottenError:
        return "dropped"  # the user was forgotten while this turn ran: nothing of it is kept, nor queued
    except MemoryMeshError as error:
        obs.log("warning", "recording the turn failed", step="record", code=error.code, **log_fields)
        failure = error
    message = turn_event_message(identity, session_id, said, client_token=token, origin_ms=origin_ms)
    if mesh.lifecycle_queue_url:
        import json

        try:
            mesh.sqs().send_message(QueueUrl=mesh.lifecycle_queue_url,
                                    MessageBody=json.dumps(message, separators=(",", ":")))
            obs.count("TurnEventsQueued")
            obs.log("info", "turn event queued", step="record", code=failure.code, queued=True, **log_fields)
            return "queued"
        except Exception as error:  # noqa: BLE001 - any failure here is the same: the write is lost
            obs.log("error", "queueing the turn failed", step="record", error_type=type(error).__name__,
                    **log_fields)
    obs.count("TurnEventsLost")
    obs.log("error", "turn event lost", step="record", code=failure.code, **log_fields)
    return "lost"


# -- ending sessions ---------------------------------------------------------------------------------------------


def enqueue_summary(mesh: _Mesh, identity: Identity, session_id: str, deadline: Deadline) -> str:
    """Queue the session's summary job (the summarizer function writes it)."""
    from runtime.summarizer import enqueue_summary_job

    url = mesh.settings.summary_queue_url
    if not url:
        raise public(ConfigurationError("session summaries are not configured for this deployment"))
    deadline.require(0.25, "queue the session summary")
    try:
        return enqueue_summary_job(mesh.sqs(), url, identity, session_id, SUPERVISOR_AGENT_NAME)
    except MemoryMeshError as error:
        obs.log("warning", "enqueueing the summary job failed", step="summary", code=error.code,
                tenant_id=identity.tenant_id, actor=identity.actor_id)
        raise as_upstream(error, "the summary queue") from None


def _end_with_turn(
    mesh: _Mesh, identity: Identity, session_id: str, answer: dict[str, Any], deadline: Deadline
) -> None:
    """``end_session`` on a message: the answer stands even if the job cannot be queued (reported instead)."""
    from runtime.handlers import _sessions

    try:
        _sessions.end_session(mesh, identity, session_id, deadline, SUPERVISOR_AGENT_NAME)
    except MemoryMeshError as error:
        answer["summary_queued"] = False
        answer["summary_error"] = error_body(error)
        obs.count("Errors")
        return
    answer["summary_queued"] = True


def _client_token(context: Any) -> str | None:
    """Lambda keeps ``aws_request_id`` across retries of one event: CreateEvent's idempotency token."""
    request_id = getattr(context, "aws_request_id", None)
    return request_id[:200] if isinstance(request_id, str) and request_id else None


# -- configuration -----------------------------------------------------------------------------------------------


def _mesh() -> _Mesh:
    global _state
    key = tuple(sorted((k, v) for k, v in os.environ.items() if k.startswith("MESH_") or k == "AWS_REGION"))
    current = _state
    if current is not None and current[0] == key:
        return current[1]
    with _lock:
        if _state is not None and _state[0] == key:
            return _state[1]
        previous = _state
        mesh = _build()
        _state = (key, mesh)
    if previous is not None:
        previous[1].close()
    return mesh


def _build() -> _Mesh:
    from botocore.config import Config

    from runtime.credentials import TenantCredentialBroker
    from runtime.embeddings import BedrockEmbedder
    from runtime.lifecycle.tombstones import guard_from_settings
    from runtime.retriever import MemoryRetriever, Relevance
    from runtime.settings import FunctionSettings, MemorySettings
    from runtime.stores import AgentCoreMemoryBackend, S3VectorsMemoryStore
    from runtime.stores.agentcore_events import AgentCoreEvents

    try:
        settings = MemorySettings.from_env()
        functions = FunctionSettings.from_env()
        supervisor = AgentRef.parse(_required_env("MESH_SUPERVISOR_AGENT"), field="MESH_SUPERVISOR_AGENT")
        # Tenant-scoped clients serve the turn: short timeouts and two attempts, so a call fits the recall
        # budget; the recall round waits at most its budget whatever a call does.
        client_config = Config(connect_timeout=1, read_timeout=5, retries={"mode": "standard", "total_max_attempts": 2})
        session = _shared_session()
        broker = TenantCredentialBroker(settings.tvm_role_arn, region=settings.region, client_config=client_config,
                                        session=session, isolation=settings.isolation)
        embedder = BedrockEmbedder(
            settings.embedding_model_id, settings.embedding_dimension,
            client=session.client("bedrock-runtime", region_name=settings.region, config=client_config),
        )
    except InvalidInputError as error:
        obs.log("error", f"orchestrator configuration is invalid: {error.field}", step="configuration")
        raise ConfigurationError(f"invalid configuration: {error.message}") from None
    vectors = S3VectorsMemoryStore.from_settings(broker, settings, embedder)
    agentcore_client = functools.partial(broker.client, "bedrock-agentcore")
    memory = AgentCoreMemoryBackend(agentcore_client, memory_id=settings.memory_id)
    kinds = [_KindSearch(memory, kind) for kind in ("summary", "fact", "preference")]
    events = AgentCoreEvents(agentcore_client, settings.memory_id)
    events.tombstones = guard_from_settings(broker, settings)  # forget wins over a turn in flight
    return _Mesh(
        settings=settings,
        tenant_claim=functions.tenant_claim or DEFAULT_TENANT_CLAIM,
        supervisor=supervisor,
        workers_file=functions.workers_file,
        lifecycle_queue_url=functions.lifecycle_queue_url,
        memory=memory,
        events=events,
        vectors=vectors,
        retriever=MemoryRetriever([vectors, *kinds], timeout_s=RECALL_BUDGET_S, relevance=Relevance(
            min_score=RECALL_MIN_SCORE, recency_weight=RECALL_RECENCY_WEIGHT, half_life_s=RECALL_HALF_LIFE_S,
            per_kind=RECALL_PER_KIND)),
        agents=AgentClients(region=settings.region, session=session),
        broker=broker,
    )


def _shared_session() -> Any:
    """One botocore session per container: service models and endpoint rules are loaded once, not per client."""
    from runtime.aws_clients import shared_session

    return shared_session()


def _required_env(name: str) -> str:
    value = os.environ.get(name)
    if not value or not value.strip():
        raise InvalidInputError(name, None, "is required")
    return value
