"""The orchestrator's session routes: list the caller's sessions, read one, delete one, end one.

Every read and delete runs under the caller's tenant-scoped credentials and actor id, so another user's session
is simply not found (404, the same answer as a session that never existed). Bad input (page size, cursor, query
parameters) is refused before any AWS call.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from runtime.budget import Budget
from runtime.errors import InvalidInputError, MemoryMeshError, NotFoundError
from runtime.handlers import _observability as obs
from runtime.handlers._agents import (
    BEDROCK_AGENT,
    Deadline,
    delete_agent_session_memory,
    end_agent_session,
)
from runtime.handlers._http import as_upstream, check_query
from runtime.identity import Identity

__all__ = ["MAX_PAGE_SIZE", "delete_session", "end_session", "list_sessions", "session_turns"]

#: Page sizes of the session listings: AgentCore's list APIs return at most 100 items per call.
MAX_PAGE_SIZE = 100
DEFAULT_PAGE_SIZE = 20
PAGE_FIELDS = ("cursor", "page_size")
#: Time a DELETE keeps for answering after its deletes (the rest is done by the next DELETE).
DELETE_MARGIN_S = 1.0


def page_args(query: Mapping[str, str]) -> tuple[str | None, int]:
    """(cursor, page size) from the query string; InvalidInputError names the parameter (before any AWS call)."""
    check_query(query, PAGE_FIELDS)
    raw = query.get("page_size")
    size = DEFAULT_PAGE_SIZE
    if raw is not None:
        if not raw.isdigit() or len(raw) > 4 or not 1 <= int(raw) <= MAX_PAGE_SIZE:
            raise InvalidInputError("page_size", raw[:20], f"must be an integer from 1 to {MAX_PAGE_SIZE}")
        size = int(raw)
    cursor = query.get("cursor")
    if cursor is not None and not cursor:
        raise InvalidInputError("cursor", cursor, "must be a cursor returned by this listing, or left out")
    return cursor, size


def list_sessions(mesh: Any, identity: Identity, query: Mapping[str, str]) -> dict[str, Any]:
    """``GET /sessions``: the caller's sessions, newest first, one page."""
    from runtime.stores.agentcore_events import decode_cursor

    cursor, size = page_args(query)
    if cursor is not None:
        decode_cursor(cursor, identity, "sessions")  # refuse a bad cursor before any AWS call
    page = _upstream(lambda: mesh.events.list_sessions(identity, cursor=cursor, page_size=size), "list sessions",
                     identity)
    obs.log("info", "sessions listed", route="sessions", sessions=len(page.sessions), tenant_id=identity.tenant_id,
            actor=identity.actor_id)
    return {"sessions": [s.to_json() for s in page.sessions], "next_cursor": page.next_cursor}


def session_turns(mesh: Any, identity: Identity, session_id: str, query: Mapping[str, str]) -> dict[str, Any]:
    """``GET /sessions/{id}``: one page of the session's turns, newest first; 404 when it is not the caller's."""
    from runtime.stores.agentcore_events import decode_cursor

    cursor, size = page_args(query)
    if cursor is not None:
        decode_cursor(cursor, identity, f"turns:{session_id}")
    page = _upstream(
        lambda: mesh.events.session_turns(identity, session_id, cursor=cursor, page_size=size), "read the session",
        identity,
    )
    obs.log("info", "session read", route="session", turns=len(page.turns), tenant_id=identity.tenant_id,
            actor=identity.actor_id, session_ref=obs.session_ref(session_id))
    return {"session_id": session_id, "turns": [t.to_json() for t in page.turns], "next_cursor": page.next_cursor}


def delete_session(
    mesh: Any, identity: Identity, session_id: str, deadline: Deadline, supervisor_name: str
) -> tuple[int, dict[str, Any]]:
    """``DELETE /sessions/{id}``: the session's events and its summary in every store.

    200 when done; 202 with ``complete: false`` when the time budget ended first (DELETE again to finish);
    404 when the caller has nothing under that session id (never deleted, already deleted, or another user's).
    """
    budget = Budget(max(0.0, deadline.remaining() - DELETE_MARGIN_S))
    deleted: dict[str, int] = {}
    events, done = _upstream(
        lambda: mesh.events.delete_session(identity, session_id, deadline=budget), "delete the session", identity
    )
    deleted["events"] = events
    deleted["agentcore_summaries"] = _upstream(
        lambda: _delete_agentcore_summaries(mesh, identity, session_id), "delete the session summary", identity
    )
    deleted["vector_summaries"] = _delete_vector_summary(mesh, identity, session_id, supervisor_name)
    if mesh.supervisor.kind == BEDROCK_AGENT:
        _upstream(
            lambda: delete_agent_session_memory(
                mesh.agents.own(mesh.supervisor), mesh.supervisor, identity, session_id, supervisor_name
            ),
            "delete the agent's session memory", identity,
        )
    total = sum(deleted.values())
    obs.log("info", "session deleted", route="delete-session", deleted=total, complete=done,
            tenant_id=identity.tenant_id, actor=identity.actor_id, session_ref=obs.session_ref(session_id))
    if total == 0 and done:
        raise NotFoundError(f"session_id={session_id!r} is not a session of the caller")
    body = {"session_id": session_id, "deleted": deleted, "complete": done}
    return (200 if done else 202), body


def end_session(mesh: Any, identity: Identity, session_id: str, deadline: Deadline, supervisor_name: str) -> dict:
    """``POST /sessions/{id}/end``: queue the summary job and end the session in every Bedrock Agent that took
    part (``endSession=true``; the supervisor with the user's ``memoryId``). Ending an agent's session is best
    effort: its idle timeout ends it anyway; failures are reported in ``agents_not_ended``."""
    from runtime.handlers.orchestrator import enqueue_summary

    enqueue_summary(mesh, identity, session_id, deadline)
    not_ended: list[str] = []
    for name, agent, client, memory in _bedrock_participants(mesh, identity, session_id, supervisor_name):
        try:
            deadline.require(0.5, "end the agent sessions")
            end_agent_session(client, agent, identity=identity, session_id=session_id, agent_name=name,
                              agent_memory=memory)
        except MemoryMeshError as error:
            not_ended.append(name)
            obs.log("warning", "ending an agent session failed", step="end", worker=name, code=error.code,
                    tenant_id=identity.tenant_id, actor=identity.actor_id)
    body: dict[str, Any] = {"session_id": session_id, "summary_queued": True}
    if not_ended:
        body["agents_not_ended"] = not_ended
    return body


def _bedrock_participants(mesh: Any, identity: Identity, session_id: str, supervisor_name: str) -> list[tuple]:
    """(name, agent, client, keeps memory) of the supervisor and every Bedrock Agent worker of the session."""
    found: list[tuple] = []
    if mesh.supervisor.kind == BEDROCK_AGENT:
        found.append((supervisor_name, mesh.supervisor, mesh.agents.own(mesh.supervisor), True))
    try:
        page = mesh.events.session_turns(identity, session_id, page_size=MAX_PAGE_SIZE)
        names = {m.agent for turn in page.turns for m in turn.messages if m.agent and m.agent != supervisor_name}
    except MemoryMeshError:
        names = set()
    if not names:
        return found
    registry = mesh.workers()
    for name in sorted(names):
        try:
            worker = registry.for_tenant(name, identity.tenant_id)
        except MemoryMeshError:
            continue
        if worker.agent.kind == BEDROCK_AGENT:
            found.append((name, worker.agent, mesh.agents.worker(worker, identity), False))
    return found


def _delete_agentcore_summaries(mesh: Any, identity: Identity, session_id: str) -> int:
    """Delete AgentCore's summary records of the session (``/summaries/<actor>/<session>/``)."""
    from runtime.contract.memory import NAMESPACE_TEMPLATES

    client = mesh.broker.client("bedrock-agentcore", identity.tenant_id, identity.actor_id)
    namespace = NAMESPACE_TEMPLATES["summary"].format(actorId=identity.agentcore_actor_id) + f"{session_id}/"
    page = client.list_memory_records(memoryId=mesh.settings.memory_id, namespacePath=namespace, maxResults=100)
    targets = [
        {"memoryRecordId": r["memoryRecordId"], "namespace": (r.get("namespaces") or [namespace])[0]}
        for r in page.get("memoryRecordSummaries", [])
        if (r.get("namespaces") or [namespace])[0].startswith(namespace.rstrip("/"))
    ]
    deleted = 0
    for target in targets:  # a session has a summary record or two: one namespace-conditioned call each
        try:
            client.delete_memory_record(memoryId=mesh.settings.memory_id, **target)
            deleted += 1
        except client.exceptions.ResourceNotFoundException:
            continue
    return deleted


def _delete_vector_summary(mesh: Any, identity: Identity, session_id: str, supervisor_name: str) -> int:
    """Delete the summarizer's vector of the session (its key is deterministic), when the store can."""
    from runtime.stores import summary_key

    delete = getattr(mesh.vectors, "delete_memory", None)
    if delete is None:
        return 0  # the store's delete-by-key API lands with the lifecycle work
    key = summary_key(identity.tenant_id, identity.actor_id, supervisor_name, session_id)
    try:
        return 1 if delete(identity, key) else 0
    except NotFoundError:
        return 0


def _upstream(call: Any, what: str, identity: Identity) -> Any:
    try:
        return call()
    except (InvalidInputError, NotFoundError):
        raise
    except MemoryMeshError as error:
        obs.log("warning", f"could not {what}", code=error.code, tenant_id=identity.tenant_id, actor=identity.actor_id)
        raise as_upstream(error, "the memory service") from None
    except Exception as error:  # botocore errors from the direct record calls
        from botocore.exceptions import BotoCoreError, ClientError

        if isinstance(error, (ClientError, BotoCoreError)):
            code = error.response.get("Error", {}).get("Code") if isinstance(error, ClientError) else None
            obs.log("warning", f"could not {what}", code=code or type(error).__name__, tenant_id=identity.tenant_id,
                    actor=identity.actor_id)
            raise as_upstream(MemoryMeshError(what), "the memory service") from None
        raise
