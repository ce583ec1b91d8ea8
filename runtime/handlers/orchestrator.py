"""The orchestrator Lambda: a user's message goes to the supervisor agent and, on delegation, to a worker agent in
another account, both with the user's memories of this tenant; every turn lands in the shared memory.

Routes (API Gateway HTTP API, payload format 2.0, JWT authorizer):

- ``POST /sessions/{session_id}/messages`` body ``{"message", "worker"?, "end_session"?}`` -> the handoff;
- ``POST /sessions/{session_id}/end`` -> enqueue the session's summary job (202);
- ``GET /memories`` -> what both backends remember about the caller.

Direct invoke (IAM, service to service): ``{"message", "session_id"?, "tenant_id", "actor_id", "worker"?,
"end_session"?}``; without ``session_id`` the call is stateless: it reads long-term memory but writes nothing
(no turn events, no Bedrock Agents memory, no summary).

Delegation: the request names a ``worker``, or the supervisor's answer holds a line ``HANDOFF: <worker-name>``
(removed from ``supervisor_response``). A worker named by the request must exist (404) and serve the tenant
(403); one named only by the supervisor that does not is reported in ``worker_error``.
"""

from __future__ import annotations

import functools
import os
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from runtime.errors import InvalidInputError, MemoryMeshError, NotFoundError
from runtime.handlers import _observability as obs
from runtime.handlers._agents import AgentClients, AgentRef, Deadline, MemoryContext, invoke_agent, split_handoff
from runtime.handlers._http import (
    Request,
    as_upstream,
    check_fields,
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
ROUTE_MEMORIES = "GET /memories"
ROUTES = (ROUTE_MESSAGE, ROUTE_END, ROUTE_MEMORIES)
DIRECT_FIELDS = ("message", "session_id", "tenant_id", "actor_id", "worker", "end_session")
MESSAGE_FIELDS = ("message", "worker", "end_session", "tenant_id", "actor_id")
IDENTITY_FIELDS = ("tenant_id", "actor_id")

#: The agent name recorded with the supervisor's turns and used for session summaries.
SUPERVISOR_AGENT_NAME = "supervisor"
DEFAULT_TENANT_CLAIM = "custom:tenant_id"
MAX_MESSAGE_BYTES = 16 * 1024
#: Memories retrieved per message (before the memory block's byte budget).
RECALL_TOP_K = 8
RECALL_TIMEOUT_S = 2.0
#: Kept back from the Lambda's remaining time to record, answer and flush metrics.
SAFETY_MARGIN_S = 1.0
#: API Gateway HTTP APIs end every integration after 30 seconds, whatever the function's timeout.
API_BUDGET_S = 29.0
#: Least time worth starting an upstream call with.
MIN_WRITE_S = 0.25
MIN_AGENT_S = 1.0


class ConfigurationError(MemoryMeshError):
    """The function's environment is incomplete or invalid (operator error; callers see a generic 500)."""


@dataclass(frozen=True)
class _Turn:
    message: str
    session_id: str | None
    worker: str | None
    end_session: bool


@dataclass
class _Mesh:
    """Per-container configuration and clients; nothing about any request."""

    settings: Any
    tenant_claim: str
    supervisor: AgentRef
    workers_file: str | None
    memory: Any
    vectors: Any
    retriever: Any
    agents: AgentClients
    _sqs: Any = field(default=None, repr=False)

    def workers(self) -> WorkerRegistry:
        return load_workers(self.workers_file)

    def sqs(self) -> Any:
        if self._sqs is None:
            import boto3
            from botocore.config import Config

            config = Config(connect_timeout=3, read_timeout=5, retries={"mode": "standard", "total_max_attempts": 3})
            self._sqs = boto3.client("sqs", region_name=self.settings.region, config=config)
        return self._sqs


_lock = threading.Lock()
_state: tuple[tuple[tuple[str, str], ...], _Mesh] | None = None


@handle_errors
def handler(event: Any, context: Any) -> dict[str, Any]:
    """Lambda entry point (HTTP API v2 event or direct-invoke payload)."""
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
        return respond(200, _list_memories(mesh, identity, deadline), api=True)
    session_id = validate_session_id(params.get("session_id"), field="session_id")
    if route == ROUTE_END:
        check_fields(request.body, IDENTITY_FIELDS)
        _enqueue_summary(mesh, identity, session_id, deadline)
        obs.log("info", "session ended", route="end", tenant_id=identity.tenant_id, actor=identity.actor_id,
                session_ref=obs.session_ref(session_id))
        return respond(202, {"session_id": session_id, "summary_queued": True}, api=True)
    check_fields(request.body, MESSAGE_FIELDS)
    turn = _turn(request.body, session_id)
    return respond(200, _handoff(mesh, identity, turn, deadline, context), api=True)


def reset() -> None:
    """Forget the container's configuration and clients (tests; a changed environment also triggers it)."""
    global _state
    with _lock:
        previous, _state = _state, None
    if previous is not None:
        previous[1].retriever.close()


# -- routes ----------------------------------------------------------------------------------------------------


def _direct(request: Request, context: Any) -> dict[str, Any]:
    check_fields(request.body, DIRECT_FIELDS, where="payload")
    mesh = _mesh()
    identity = request_identity(request, tenant_claim=mesh.tenant_claim, index_prefix=mesh.settings.index_prefix)
    session_id = request.body.get("session_id")
    if session_id is not None:
        session_id = validate_session_id(session_id)
    turn = _turn(request.body, session_id)
    deadline = Deadline.from_context(context, margin_s=SAFETY_MARGIN_S)
    return respond(200, _handoff(mesh, identity, turn, deadline, context), api=False)


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
    # A worker named by the request is checked before anything is written or invoked.
    requested = mesh.workers().for_tenant(turn.worker, identity.tenant_id) if turn.worker else None
    session_id = turn.session_id
    token = _client_token(context)
    log_fields = {
        "tenant_id": identity.tenant_id, "actor": identity.actor_id, "session_ref": obs.session_ref(session_id)
    }

    if session_id is not None:
        _record(mesh, identity, session_id, "USER", turn.message, None, token, deadline)
    memory = MemoryContext.build(identity, session_id, _recall(mesh, identity, turn.message, deadline, log_fields))
    obs.count("MemoriesUsed", memory.count)

    deadline.require(MIN_AGENT_S, "invoke the supervisor agent")
    try:
        reply = invoke_agent(
            mesh.agents.own(mesh.supervisor), mesh.supervisor, prompt=turn.message, identity=identity,
            session_id=session_id, agent_name=SUPERVISOR_AGENT_NAME, memory=memory, deadline=deadline,
            agent_memory=True,
        )
    except MemoryMeshError as error:
        obs.log("warning", "supervisor agent failed", step="supervisor", code=error.code, **log_fields)
        raise as_upstream(error, "the supervisor agent") from None
    supervisor_text, signalled = split_handoff(reply.text)
    if session_id is not None and supervisor_text:
        _record(mesh, identity, session_id, "ASSISTANT", supervisor_text, SUPERVISOR_AGENT_NAME, token, deadline)

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
        _delegate(mesh, identity, turn, requested, target, memory, deadline, token, answer, log_fields)
    if turn.end_session:
        _end_with_turn(mesh, identity, session_id, answer, deadline)  # type: ignore[arg-type]
    obs.count("Handoffs")
    obs.log("info", "handoff answered", route="message", delegated=answer["delegated"], worker=answer["worker"],
            memories=memory.count, code=(answer.get("worker_error") or {}).get("code"), **log_fields)
    return answer


def _delegate(
    mesh: _Mesh,
    identity: Identity,
    turn: _Turn,
    requested: WorkerSpec | None,
    target: str,
    memory: MemoryContext,
    deadline: Deadline,
    token: str | None,
    answer: dict[str, Any],
    log_fields: Mapping[str, Any],
) -> None:
    """Invoke the worker and record its answer; any failure lands in ``answer["worker_error"]``."""
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
    obs.count("Delegations")
    if turn.session_id is not None:
        _record(mesh, identity, turn.session_id, "ASSISTANT", answer["worker_response"], worker.name, token, deadline)


def _list_memories(mesh: _Mesh, identity: Identity, deadline: Deadline) -> dict[str, Any]:
    """Everything both backends hold about the caller (their actor only), newest first."""
    records = []
    for backend in (mesh.vectors, mesh.memory):
        deadline.require(MIN_AGENT_S, "list the memories")
        try:
            records.extend(backend.list_actor(identity.tenant_id, identity.actor_id))
        except MemoryMeshError as error:
            if isinstance(error, NotFoundError) and backend is mesh.vectors:
                continue  # a tenant without an index yet simply has no vector memories
            obs.log("warning", "listing memories failed", backend=backend.name, code=error.code,
                    tenant_id=identity.tenant_id, actor=identity.actor_id)
            raise as_upstream(error, "the memory service") from None
    records.sort(key=lambda record: -(record.stored_at or 0))
    memories = [
        {
            "content": record.content,
            "kind": record.kind,
            "source": record.source,
            "agent": record.agent,
            "session_id": record.session_id,
            "stored_at": record.stored_at,
            "key": record.key,
        }
        for record in records
    ]
    obs.log("info", "memories listed", route="memories", records=len(memories), tenant_id=identity.tenant_id,
            actor=identity.actor_id)
    return {"memories": memories, "count": len(memories)}


# -- steps -------------------------------------------------------------------------------------------------------


def _record(
    mesh: _Mesh,
    identity: Identity,
    session_id: str,
    role: str,
    text: str,
    agent: str | None,
    token: str | None,
    deadline: Deadline,
) -> None:
    # The user's turn needs time ahead; an answer already paid for is recorded within the safety margin.
    deadline.require(MIN_WRITE_S if role == "USER" else 0.0, "record the conversation")
    client_token = f"{token}:{role}:{agent or 'user'}" if token else None
    try:
        mesh.memory.record_turn(identity, session_id, role, text, agent=agent, client_token=client_token)
    except MemoryMeshError as error:
        obs.log("warning", "recording a turn failed", step="record", code=error.code, tenant_id=identity.tenant_id,
                actor=identity.actor_id)
        raise as_upstream(error, "the memory service") from None


def _recall(
    mesh: _Mesh, identity: Identity, message: str, deadline: Deadline, log_fields: Mapping[str, Any]
) -> list[Any]:
    """Relevant memories from both backends; a failing backend degrades the answer instead of failing it."""
    from runtime.records import MemoryQuery

    deadline.require(mesh.retriever.timeout_s + MIN_AGENT_S, "retrieve memories")
    query = MemoryQuery(tenant_id=identity.tenant_id, actor_id=identity.actor_id, text=message, top_k=RECALL_TOP_K)
    try:
        result = mesh.retriever.retrieve_result(query)
    except MemoryMeshError as error:
        obs.log("warning", "memory retrieval failed", step="recall", code=error.code, **log_fields)
        return []
    if result.errors:
        failed = ",".join(f"{failure.backend}:{failure.error.code}" for failure in result.errors)
        obs.log("warning", "memory retrieval was partial", step="recall", backends_failed=failed, **log_fields)
    return list(result.records)


def _enqueue_summary(mesh: _Mesh, identity: Identity, session_id: str, deadline: Deadline) -> str:
    from runtime.summarizer import enqueue_summary_job

    url = mesh.settings.summary_queue_url
    if not url:
        raise public(ConfigurationError("session summaries are not configured for this deployment"))
    deadline.require(MIN_WRITE_S, "queue the session summary")
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
    try:
        _enqueue_summary(mesh, identity, session_id, deadline)
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
        previous[1].retriever.close()
    return mesh


def _build() -> _Mesh:
    from runtime.credentials import TenantCredentialBroker
    from runtime.embeddings import BedrockEmbedder
    from runtime.retriever import MemoryRetriever
    from runtime.settings import MemorySettings
    from runtime.stores import AgentCoreMemoryBackend, S3VectorsMemoryStore

    try:
        settings = MemorySettings.from_env()
        supervisor = AgentRef.parse(_required_env("MESH_SUPERVISOR_AGENT"), field="MESH_SUPERVISOR_AGENT")
        broker = TenantCredentialBroker(settings.tvm_role_arn, region=settings.region)
        embedder = BedrockEmbedder(settings.embedding_model_id, settings.embedding_dimension, region=settings.region)
    except InvalidInputError as error:
        obs.log("error", f"orchestrator configuration is invalid: {error.field}", step="configuration")
        raise ConfigurationError(f"invalid configuration: {error.message}") from None
    vectors = S3VectorsMemoryStore.from_settings(broker, settings, embedder)
    memory = AgentCoreMemoryBackend(functools.partial(broker.client, "bedrock-agentcore"), memory_id=settings.memory_id)
    return _Mesh(
        settings=settings,
        tenant_claim=os.environ.get("MESH_TENANT_CLAIM") or DEFAULT_TENANT_CLAIM,
        supervisor=supervisor,
        workers_file=os.environ.get("MESH_WORKERS_FILE") or None,
        memory=memory,
        vectors=vectors,
        retriever=MemoryRetriever([vectors, memory], timeout_s=RECALL_TIMEOUT_S),
        agents=AgentClients(region=settings.region),
    )


def _required_env(name: str) -> str:
    value = os.environ.get(name)
    if not value or not value.strip():
        raise InvalidInputError(name, None, "is required")
    return value
