"""AgentCore Memory as a memory backend: conversation turns as events, long-term records by namespace.

Uses boto3's ``bedrock-agentcore`` client directly so every failure surfaces as a typed error
(``bedrock_agentcore.memory.MemoryClient.retrieve_memories`` logs and swallows them). The AgentCore actor id
is ``<tenant>:<actor>`` (:attr:`Identity.agentcore_actor_id`) and long-term records live in the namespaces of
``runtime.contract.memory``: ``/summaries/{actorId}/{sessionId}/``, ``/facts/{actorId}/`` and
``/preferences/{actorId}/``.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectTimeoutError,
    ParamValidationError,
    ReadTimeoutError,
)

from runtime.contract import memory, rules
from runtime.errors import (
    AccessDeniedError,
    InvalidInputError,
    MemoryMeshError,
    NotFoundError,
    UpstreamError,
    UpstreamTimeoutError,
)
from runtime.identity import (
    Identity,
    log_ref,
    validate_actor_id,
    validate_agent_name,
    validate_session_id,
    validate_tenant_id,
)
from runtime.records import DeleteReport, MemoryQuery, MemoryRecord
from runtime.stores._limits import ValidQuery, validate_content, validate_identity, validate_query

__all__ = ["AgentCoreMemoryBackend", "actor_namespaces"]

logger = logging.getLogger(__name__)

#: Long-term namespaces per memory kind (the shared contract). Retrieval uses ``namespacePath``
#: (hierarchical: the path and everything under it) because ``namespace`` is an exact match in the current
#: API and summaries sit one level down, per session.
NAMESPACE_TEMPLATES = memory.NAMESPACE_TEMPLATES
ROLES = ("USER", "ASSISTANT", "TOOL", "OTHER")

MAX_TURN_CHARS = memory.AGENTCORE.MAX_TURN_CHARS
MAX_SEARCH_QUERY_CHARS = memory.AGENTCORE.MAX_SEARCH_QUERY_CHARS
MAX_PAGE = memory.AGENTCORE.MAX_PAGE
MAX_BATCH_DELETE = memory.AGENTCORE.MAX_BATCH_RECORDS
MAX_RECORD_TEXT = memory.AGENTCORE.MAX_RECORD_TEXT
_RECORD_ID_RE = re.compile(r"mem-[a-zA-Z0-9_-]{36,46}")
_THROTTLED = {"ThrottledException", "ThrottlingException", "ServiceQuotaExceededException"}
_INVALID = {"ValidationException", "InvalidInputException"}


def actor_namespaces(agentcore_actor_id: str) -> dict[str, str]:
    """The actor's long-term namespace per memory kind."""
    return memory.actor_namespaces(agentcore_actor_id)


class AgentCoreMemoryBackend:
    """Short- and long-term memory in one AgentCore Memory (a :class:`runtime.records.MemoryBackend`).

    ``client_provider(tenant_id, actor_id)`` returns a ``bedrock-agentcore`` client whose credentials are
    scoped to that tenant and actor (e.g. ``functools.partial(broker.client, "bedrock-agentcore")``).
    """

    name = "agentcore"

    def __init__(
        self,
        client_provider: Callable[[str, str], Any],
        *,
        memory_id: str,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not rules.MEMORY_ID.matches(memory_id):
            raise InvalidInputError(
                "memory_id", memory_id, "must be an AgentCore Memory id such as 'mesh_memory-AbCdE12345' or its ARN"
            )
        if not callable(client_provider):
            raise InvalidInputError("client_provider", f"<{type(client_provider).__name__}>", "must be callable")
        self._client_provider = client_provider
        self.memory_id = memory_id
        self._clock = clock

    def _client(self, tenant_id: str, actor_id: str) -> Any:
        return self._client_provider(tenant_id, actor_id)

    # -- short-term: conversation turns ------------------------------------------------------------

    def record_turn(
        self,
        identity: Identity,
        session_id: str,
        role: str,
        text: str,
        *,
        agent: str | None = None,
        client_token: str | None = None,
    ) -> str:
        """Record one conversation turn as an event and return its event id.

        ``text`` longer than the API's 100,000 characters is cut to fit. ``client_token`` makes a retried
        call idempotent.
        """
        tenant_id, actor_id = validate_identity(identity)
        session_id = validate_session_id(session_id)
        role_name = role.upper() if isinstance(role, str) else role
        if role_name not in ROLES:
            raise InvalidInputError("role", role, f"must be one of {', '.join(ROLES)} (any case)")
        text = validate_content(text, field="text")[:MAX_TURN_CHARS]
        request: dict[str, Any] = {
            "memoryId": self.memory_id,
            "actorId": identity.agentcore_actor_id,
            "sessionId": session_id,
            "eventTimestamp": datetime.fromtimestamp(self._clock(), tz=UTC),
            "payload": [{"conversational": {"content": {"text": text}, "role": role_name}}],
        }
        if agent is not None:
            request["metadata"] = {"agent": {"stringValue": validate_agent_name(agent)}}
        if client_token is not None:
            if not isinstance(client_token, str) or not 1 <= len(client_token) <= 256:
                raise InvalidInputError("client_token", client_token, "must be a string of 1-256 characters")
            request["clientToken"] = client_token
        client = self._client(tenant_id, actor_id)
        response = self._call(client.create_event, "CreateEvent", tenant_id, actor_id, **request)
        return response["event"]["eventId"]

    def list_session_turns(self, identity: Identity, session_id: str) -> list[tuple[str, str]]:
        """The session's conversational turns, oldest first, as (role, text); role as the API spells it."""
        tenant_id, actor_id = validate_identity(identity)
        session_id = validate_session_id(session_id)
        client = self._client(tenant_id, actor_id)
        events = list(self._events(client, tenant_id, actor_id, identity.agentcore_actor_id, session_id, payloads=True))
        # ListEvents answers newest first: reversing keeps same-timestamp events in order through the sort.
        events.reverse()
        events.sort(key=lambda event: _seconds(event.get("eventTimestamp")))
        turns = []
        for event in events:
            for item in event.get("payload", []):
                message = item.get("conversational")
                if message and message.get("content", {}).get("text"):
                    turns.append((message.get("role", "OTHER"), message["content"]["text"]))
        return turns

    def _events(
        self, client: Any, tenant_id: str, actor_id: str, agentcore_actor: str, session_id: str, *, payloads: bool
    ) -> Iterator[dict[str, Any]]:
        request = {
            "memoryId": self.memory_id,
            "actorId": agentcore_actor,
            "sessionId": session_id,
            "includePayloads": payloads,
            "maxResults": MAX_PAGE,
        }
        yield from self._pages(client.list_events, "ListEvents", "events", tenant_id, actor_id, request)

    def _sessions(self, client: Any, tenant_id: str, actor_id: str, agentcore_actor: str) -> Iterator[str]:
        request = {"memoryId": self.memory_id, "actorId": agentcore_actor, "maxResults": MAX_PAGE}
        pages = self._pages(client.list_sessions, "ListSessions", "sessionSummaries", tenant_id, actor_id, request)
        for summary in pages:
            yield summary["sessionId"]

    # -- long-term: records --------------------------------------------------------------------------

    def search(self, query: MemoryQuery) -> list[MemoryRecord]:
        """Most relevant long-term records of the actor across its namespaces, best first.

        ``score`` is AgentCore's relevance score as returned. ``query.agent`` does not narrow the result:
        AgentCore extracts long-term records per actor, shared by all agents. The time range is applied to
        each record's ``createdAt``.
        """
        valid = validate_query(query)
        agentcore_actor = f"{valid.tenant_id}:{valid.actor_id}"
        client = self._client(valid.tenant_id, valid.actor_id)
        records: list[MemoryRecord] = []
        for kind, namespace in _selected_namespaces(agentcore_actor, valid):
            response = self._call(
                client.retrieve_memory_records,
                "RetrieveMemoryRecords",
                valid.tenant_id,
                valid.actor_id,
                memoryId=self.memory_id,
                namespacePath=namespace,
                searchCriteria={"searchQuery": valid.text[:MAX_SEARCH_QUERY_CHARS], "topK": valid.top_k},
                maxResults=valid.top_k,
            )
            for summary in response.get("memoryRecordSummaries", []):
                record = self._record(summary, kind, namespace, valid.tenant_id, valid.actor_id)
                if record is not None and _in_time_range(record.stored_at, valid):
                    records.append(record)
        records.sort(key=lambda record: -(record.score or 0.0))
        return records[: valid.top_k]

    def list_actor(self, tenant_id: str, actor_id: str) -> list[MemoryRecord]:
        """Every long-term record of one actor (summaries, facts, preferences), newest first."""
        tenant_id = validate_tenant_id(tenant_id)
        actor_id = validate_actor_id(actor_id)
        client = self._client(tenant_id, actor_id)
        records = [record for record, _ in self._records(client, tenant_id, actor_id)]
        records.sort(key=lambda record: (-(record.stored_at or 0), record.key))
        return records

    def _records(self, client: Any, tenant_id: str, actor_id: str) -> Iterator[tuple[MemoryRecord, str]]:
        """Yield (record, its namespace) for every long-term record under the actor's namespaces."""
        for kind, namespace in actor_namespaces(f"{tenant_id}:{actor_id}").items():
            request = {"memoryId": self.memory_id, "namespacePath": namespace, "maxResults": MAX_PAGE}
            pages = self._pages(
                client.list_memory_records, "ListMemoryRecords", "memoryRecordSummaries", tenant_id, actor_id, request
            )
            for summary in pages:
                record = self._record(summary, kind, namespace, tenant_id, actor_id)
                if record is not None:
                    yield record, (summary.get("namespaces") or [namespace])[0]

    def _record(
        self, summary: dict[str, Any], kind: str, namespace: str, tenant_id: str, actor_id: str
    ) -> MemoryRecord | None:
        record_namespace = (summary.get("namespaces") or [""])[0]
        # Defence in depth: never hand out a record outside the actor's own namespace.
        if not (record_namespace.startswith(namespace) or record_namespace == namespace.rstrip("/")):
            logger.warning(
                "dropped an AgentCore record outside the actor namespace",
                extra={"tenant": tenant_id, "actor_ref": log_ref(actor_id), "kind": kind},
            )
            return None
        text = (summary.get("content") or {}).get("text")
        if not text:
            return None
        session_id = None
        if kind == "summary":
            session_id = record_namespace[len(namespace) :].strip("/").split("/", 1)[0] or None
        return MemoryRecord(
            content=text,
            tenant_id=tenant_id,
            actor_id=actor_id,
            kind=kind,
            source=self.name,
            key=summary["memoryRecordId"],
            score=summary.get("score"),
            session_id=session_id,
            stored_at=_epoch(summary.get("createdAt")),
        )

    # -- one record: pages, edits --------------------------------------------------------------------

    def list_page(
        self, tenant_id: str, actor_id: str, kind: str, *, token: str | None, max_results: int
    ) -> tuple[list[MemoryRecord], str | None]:
        """One page of the actor's long-term records of ``kind`` (ListMemoryRecords order) and the next token."""
        tenant_id = validate_tenant_id(tenant_id)
        actor_id = validate_actor_id(actor_id)
        namespace = actor_namespaces(f"{tenant_id}:{actor_id}")[kind]
        request: dict[str, Any] = {"memoryId": self.memory_id, "namespacePath": namespace,
                                   "maxResults": max(1, min(MAX_PAGE, max_results))}
        if token:
            request["nextToken"] = token
        client = self._client(tenant_id, actor_id)
        page = self._call(client.list_memory_records, "ListMemoryRecords", tenant_id, actor_id, **request)
        records = [self._record(summary, kind, namespace, tenant_id, actor_id)
                   for summary in page.get("memoryRecordSummaries", [])]
        return [record for record in records if record is not None], page.get("nextToken") or None

    def record_namespace(self, identity: Identity, kind: str, session_id: str | None = None) -> str:
        """The namespace a record of ``kind`` of the identity's actor lives in (summaries: per session)."""
        if kind not in NAMESPACE_TEMPLATES:
            raise InvalidInputError("kind", kind, f"must be one of {', '.join(NAMESPACE_TEMPLATES)}")
        if kind == "summary":
            if session_id is None:
                raise InvalidInputError("session_id", None, "is required for a summary record")
            return memory.SUMMARY_NAMESPACE.format(actorId=identity.agentcore_actor_id,
                                                   sessionId=validate_session_id(session_id))
        return NAMESPACE_TEMPLATES[kind].format(actorId=identity.agentcore_actor_id)

    def update_record(self, identity: Identity, record_id: str, namespace: str, content: str) -> None:
        """Replace one long-term record's text (BatchUpdateMemoryRecords in its own namespace).

        Raises :class:`NotFoundError` when the actor has no such record there.
        """
        tenant_id, actor_id = validate_identity(identity)
        record_id = validate_record_id(record_id)
        text = validate_content(content)
        if len(text) > MAX_RECORD_TEXT:
            raise InvalidInputError("content", f"<{len(text)} characters>",
                                    f"must be at most {MAX_RECORD_TEXT} characters (AgentCore record limit)")
        self._own_namespace(identity, namespace)
        response = self._call(
            self._client(tenant_id, actor_id).batch_update_memory_records,
            "BatchUpdateMemoryRecords",
            tenant_id,
            actor_id,
            memoryId=self.memory_id,
            records=[{"memoryRecordId": record_id, "timestamp": datetime.fromtimestamp(self._clock(), tz=UTC),
                      "content": {"text": text}, "sourceNamespaces": [namespace]}],
        )
        self._one_done(response, record_id)

    def delete_record(self, identity: Identity, record_id: str, namespace: str) -> bool:
        """Delete one long-term record of the actor (DeleteMemoryRecord in its namespace); False when there is none.

        The single-record call, which the session's credentials may make on their own namespaces; batch deletes
        stay with forget's own role.
        """
        tenant_id, actor_id = validate_identity(identity)
        record_id = validate_record_id(record_id)
        self._own_namespace(identity, namespace)
        try:
            self._call(
                self._client(tenant_id, actor_id).delete_memory_record,
                "DeleteMemoryRecord",
                tenant_id,
                actor_id,
                memoryId=self.memory_id,
                memoryRecordId=record_id,
                namespace=namespace,
            )
        except NotFoundError:
            return False
        return True

    @staticmethod
    def _own_namespace(identity: Identity, namespace: str) -> None:
        owned = tuple(actor_namespaces(identity.agentcore_actor_id).values())
        if not isinstance(namespace, str) or not namespace.startswith(owned):
            raise InvalidInputError("namespace", "<foreign>", "must be one of the caller's own namespaces")

    def _one_done(self, response: dict[str, Any], record_id: str) -> None:
        for failed in response.get("failedRecords", []):
            if failed.get("errorCode") == 404:
                raise NotFoundError(f"memory record {record_id!r} was not found among this user's memories")
            raise UpstreamError(f"AgentCore Memory could not change record {record_id!r}; retry")

    # -- forgetting ----------------------------------------------------------------------------------

    def delete_actor(self, tenant_id: str, actor_id: str) -> DeleteReport:
        """Forget one actor: every long-term record and every event of every session. Idempotent.

        ``deleted`` counts records plus events; ``keys`` holds the record ids, then the event ids.
        Records the service reports as not deletable make it raise :class:`UpstreamError` once everything
        else is deleted, so a retry can finish the job.
        """
        tenant_id = validate_tenant_id(tenant_id)
        actor_id = validate_actor_id(actor_id)
        agentcore_actor = f"{tenant_id}:{actor_id}"
        client = self._client(tenant_id, actor_id)

        targets = [
            {"memoryRecordId": record.key, "namespace": namespace}
            for record, namespace in self._records(client, tenant_id, actor_id)
        ]
        record_ids: list[str] = []
        failed = 0
        for start in range(0, len(targets), MAX_BATCH_DELETE):
            response = self._call(
                client.batch_delete_memory_records,
                "BatchDeleteMemoryRecords",
                tenant_id,
                actor_id,
                memoryId=self.memory_id,
                records=targets[start : start + MAX_BATCH_DELETE],
            )
            record_ids.extend(item["memoryRecordId"] for item in response.get("successfulRecords", []))
            # A record already gone (404) is what a repeated forget expects.
            failed += sum(1 for item in response.get("failedRecords", []) if item.get("errorCode") != 404)

        event_ids: list[str] = []
        for session_id in list(self._sessions(client, tenant_id, actor_id, agentcore_actor)):
            events = list(self._events(client, tenant_id, actor_id, agentcore_actor, session_id, payloads=False))
            for event in events:
                try:
                    self._call(
                        client.delete_event,
                        "DeleteEvent",
                        tenant_id,
                        actor_id,
                        memoryId=self.memory_id,
                        sessionId=session_id,
                        eventId=event["eventId"],
                        actorId=agentcore_actor,
                    )
                except NotFoundError:
                    continue
                event_ids.append(event["eventId"])

        logger.info(
            "deleted actor memory",
            extra={"tenant": tenant_id, "actor_ref": log_ref(actor_id), "records": len(record_ids),
                   "events": len(event_ids)},
        )
        if failed:
            raise UpstreamError(
                f"AgentCore could not delete {failed} memory record(s) of actor {actor_id!r} in tenant "
                f"{tenant_id!r}; retry the forget request"
            )
        return DeleteReport(
            backend=self.name, deleted=len(record_ids) + len(event_ids), keys=tuple(record_ids + event_ids)
        )

    # -- calls ---------------------------------------------------------------------------------------

    def _pages(
        self,
        method: Callable[..., Any],
        operation: str,
        result_key: str,
        tenant_id: str,
        actor_id: str,
        request: dict[str, Any],
    ) -> Iterator[dict[str, Any]]:
        request = dict(request)
        while True:
            page = self._call(method, operation, tenant_id, actor_id, **request)
            yield from page.get(result_key, [])
            token = page.get("nextToken")
            if not token:
                return
            request["nextToken"] = token

    def _call(self, method: Callable[..., Any], operation: str, tenant_id: str, actor_id: str, **request: Any) -> Any:
        try:
            return method(**request)
        except ClientError as error:
            code = error.response.get("Error", {}).get("Code", "")
            _log_failure(operation, tenant_id, actor_id, code)
            raise self._translate(code, operation, tenant_id) from None
        except (ReadTimeoutError, ConnectTimeoutError):
            _log_failure(operation, tenant_id, actor_id, "Timeout")
            raise UpstreamTimeoutError(f"AgentCore Memory {operation} timed out for tenant {tenant_id!r}") from None
        except ParamValidationError:
            _log_failure(operation, tenant_id, actor_id, "ParamValidation")
            raise MemoryMeshError(f"AgentCore Memory {operation} request failed client-side validation") from None
        except BotoCoreError as error:
            _log_failure(operation, tenant_id, actor_id, type(error).__name__)
            raise UpstreamError(f"AgentCore Memory {operation} failed for tenant {tenant_id!r}") from None

    def _translate(self, code: str, operation: str, tenant_id: str) -> MemoryMeshError:
        if code in ("AccessDeniedException", "AccessDenied"):
            return AccessDeniedError(f"AgentCore Memory {operation} for tenant {tenant_id!r} was denied")
        if code == "ResourceNotFoundException":
            return NotFoundError(
                f"AgentCore Memory {operation}: memory {self.memory_id!r} or the item it names does not exist"
            )
        if code in _INVALID:
            return InvalidInputError(operation, self.memory_id, "AgentCore Memory rejected the request as invalid")
        if code in _THROTTLED:
            return UpstreamError(f"AgentCore Memory {operation} is throttled for tenant {tenant_id!r}; retry later")
        return UpstreamError(
            f"AgentCore Memory {operation} failed for tenant {tenant_id!r} ({code or 'unknown error'})"
        )


def validate_record_id(value: Any, *, field: str = "key") -> str:
    """An AgentCore memory record id (``mem-`` and 36-46 of ``[A-Za-z0-9_-]``), refused before any call."""
    if not isinstance(value, str) or not _RECORD_ID_RE.fullmatch(value):
        shown = value[:80] if isinstance(value, str) else f"<{type(value).__name__}>"
        raise InvalidInputError(field, shown, "must be an AgentCore memory record id (mem-...)")
    return value


def _selected_namespaces(agentcore_actor: str, query: ValidQuery) -> list[tuple[str, str]]:
    namespaces = actor_namespaces(agentcore_actor)
    kinds = query.kinds if query.kinds is not None else tuple(namespaces)
    return [(kind, namespaces[kind]) for kind in kinds if kind in namespaces]


def _in_time_range(stored_at: int | None, query: ValidQuery) -> bool:
    if query.stored_after is None and query.stored_before is None:
        return True
    if stored_at is None:
        return False
    if query.stored_after is not None and stored_at < query.stored_after:
        return False
    return query.stored_before is None or stored_at < query.stored_before


def _seconds(value: Any) -> float:
    return value.timestamp() if isinstance(value, datetime) else 0.0


def _epoch(value: Any) -> int | None:
    if isinstance(value, datetime):
        return int(value.timestamp())
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return int(value)
    return None


def _log_failure(operation: str, tenant_id: str, actor_id: str, code: str) -> None:
    logger.warning(
        "AgentCore Memory call failed",
        extra={"operation": operation, "tenant": tenant_id, "actor_ref": log_ref(actor_id), "error_code": code},
    )
