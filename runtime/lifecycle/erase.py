"""Erasing one user's data, store by store, in resumable steps that stop at a deadline.

Each eraser's ``step(cursor, deadline)`` deletes what it can before the deadline and returns what it deleted,
the cursor to resume from and whether it is done. Listing restarts from what is left (deleted items vanish
from every listing), so a step lost mid-way repeats nothing but a listing. A store that cannot be reached or
is misconfigured (no such bucket or memory, access denied, invalid request) raises :class:`StoreFailure`: the
job fails loudly rather than report 0 deleted. Throttling and 5xx raise :class:`UpstreamError` to be retried.
"""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from runtime.contract import memory
from runtime.errors import MemoryMeshError, UpstreamError
from runtime.lifecycle.deadline import StepDeadline

__all__ = [
    "AgentMemoryEraser", "EventsEraser", "IndexEraser", "RecordsEraser", "StepResult", "StoreFailure",
    "DELETE_EVENT_PARALLELISM",
]

# AgentCore Memory request rates are per-account quotas in Service Quotas ("Rate of DeleteEvent requests",
# L-1D9B7520; "Rate of BatchDeleteMemoryRecords requests", L-801A491D; listed on
# https://docs.aws.amazon.com/bedrock-agentcore/latest/devguide/bedrock-agentcore-limits.html). DeleteEvent takes
# one event per call, so a user's events are deleted 10 calls at a time; BatchDeleteMemoryRecords takes 100 records
# per call and one call at a time suffices. A throttled call backs off and is retried while the step lasts;
# whatever is left is the next step's.
DELETE_EVENT_PARALLELISM = 10
_PAGE = memory.AGENTCORE.MAX_PAGE
_BATCH = memory.AGENTCORE.MAX_BATCH_RECORDS
_INDEX_PAGE = memory.S3VECTORS.MAX_INDEX_LIST_PAGE
_THROTTLED = frozenset({"ThrottledException", "ThrottlingException", "ServiceQuotaExceededException",
                        "TooManyRequestsException", "SlowDown", "ServiceUnavailableException"})
_MISCONFIGURED = frozenset({"AccessDeniedException", "AccessDenied", "ValidationException",
                            "InvalidInputException", "NotFoundException", "ResourceNotFoundException"})


class StoreFailure(MemoryMeshError):
    """A store is unreachable or misconfigured: retrying cannot help, the job fails and says which store."""

    status = 502
    code = "StoreFailure"


@dataclass
class StepResult:
    """What one step of one eraser did."""

    deleted: int = 0
    cursor: dict[str, Any] = field(default_factory=dict)
    done: bool = False
    details: dict[str, int] = field(default_factory=dict)


def call(store: str, operation: str, method: Callable[..., Any], *, gone_ok: bool = False, **request: Any) -> Any:
    """One AWS call, its failure classified; ``gone_ok``: a missing item answers None (already deleted)."""
    try:
        return method(**request)
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code", "")
        if code in _THROTTLED or error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) >= 500:
            raise _Throttled(f"{store} {operation} is throttled or unavailable ({code or 'error'})") from None
        if gone_ok and code in ("ResourceNotFoundException", "NotFoundException"):
            return None
        if code in _MISCONFIGURED:
            raise StoreFailure(f"{store} {operation} failed: {code}; check the configured {store} resource "
                               "and the function's permissions") from None
        raise UpstreamError(f"{store} {operation} failed ({code or 'unknown error'})") from None
    except BotoCoreError as error:
        raise UpstreamError(f"{store} {operation} failed ({type(error).__name__})") from None


class _Throttled(UpstreamError):
    """Throttled or a 5xx: retry later."""


def _retrying(deadline: StepDeadline, sleep: Callable[[float], None], fn: Callable[[], Any]) -> tuple[bool, Any]:
    """(True, result) of ``fn``, retrying throttles with backoff while the deadline allows; (False, None) if not."""
    delay = 0.1
    while True:
        try:
            return True, fn()
        except _Throttled:
            if deadline.remaining_ms() <= delay * 1000:
                return False, None
            sleep(delay)
            delay = min(2.0, delay * 2)


class IndexEraser:
    """Deletes S3 Vectors indexes whose names start with ``prefix`` (one user's, or every user of a tenant).

    ``exact``: only the index named ``prefix`` itself (ListIndexes is a prefix match). A missing bucket fails
    the job; no index is a clean 0.
    """

    store = "s3vectors"

    def __init__(self, client: Any, bucket: str, prefix: str, *, exact: bool) -> None:
        self._client = client
        self._bucket = bucket
        self._prefix = prefix
        self._exact = exact

    def step(self, cursor: dict[str, Any], deadline: StepDeadline) -> StepResult:
        """Delete matching indexes until none is left or the deadline comes."""
        result = StepResult(cursor=dict(cursor))
        while not deadline.expired():
            page = call(self.store, "ListIndexes", self._client.list_indexes, vectorBucketName=self._bucket,
                        prefix=self._prefix, maxResults=_INDEX_PAGE)
            names = [i["indexName"] for i in page.get("indexes", [])
                     if not self._exact or i["indexName"] == self._prefix]
            if not names:
                result.done = True
                return result
            for name in names:
                if deadline.expired():
                    return result
                answer = call(self.store, "DeleteIndex", self._client.delete_index, gone_ok=True,
                              vectorBucketName=self._bucket, indexName=name)
                if answer is not None:
                    result.deleted += 1
            if self._exact:
                result.done = True
                return result
        return result


class EventsEraser:
    """Deletes every event of one AgentCore actor, session by session, ``DELETE_EVENT_PARALLELISM`` at a time."""

    store = "agentcore_events"

    def __init__(self, client: Any, memory_id: str, agentcore_actor: str, *, pool: ThreadPoolExecutor,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self._client = client
        self._memory_id = memory_id
        self._actor = agentcore_actor
        self._pool = pool
        self._sleep = sleep

    def step(self, cursor: dict[str, Any], deadline: StepDeadline) -> StepResult:
        """Delete events session by session (the cursor names the session in progress)."""
        result = StepResult(cursor=dict(cursor))
        # The cursor holds the sessions still to empty (one ListSessions page at a time; emptied sessions leave
        # the listing, so the next page is asked for from the start).
        queue: list[str] = list(result.cursor.get("sessions") or [])
        while not deadline.expired():
            if not queue:
                queue = self._sessions()
                if not queue:
                    result.cursor.pop("sessions", None)
                    result.done = True
                    return result
            result.cursor["sessions"] = queue
            session = queue[0]
            page = call(self.store, "ListEvents", self._client.list_events, memoryId=self._memory_id,
                        actorId=self._actor, sessionId=session, includePayloads=False, maxResults=_PAGE)
            ids = [e["eventId"] for e in page.get("events", [])]
            if ids:
                outcomes = list(self._pool.map(functools.partial(self._delete, session, deadline=deadline), ids))
                result.deleted += sum(1 for ok in outcomes if ok)
                if any(ok is None for ok in outcomes):
                    return result  # throttled past the deadline: the next step resumes this session
            if not ids or not page.get("nextToken"):
                # That was the session's last page (now deleted): no need to list it again.
                queue.pop(0)
                result.details["sessions"] = result.details.get("sessions", 0) + 1
        return result

    def _sessions(self) -> list[str]:
        page = call(self.store, "ListSessions", self._client.list_sessions, memoryId=self._memory_id,
                    actorId=self._actor, maxResults=_PAGE, filter={"eventFilter": "HAS_EVENTS"})
        return [s["sessionId"] for s in page.get("sessionSummaries", [])]

    def _delete(self, session: str, event_id: str, *, deadline: StepDeadline) -> bool | None:
        ok, answer = _retrying(deadline, self._sleep, lambda: call(
            self.store, "DeleteEvent", self._client.delete_event, gone_ok=True, memoryId=self._memory_id,
            actorId=self._actor, sessionId=session, eventId=event_id))
        if not ok:
            return None
        return answer is not None


class RecordsEraser:
    """Deletes every long-term record in one actor's namespaces, 100 per BatchDeleteMemoryRecords call."""

    store = "agentcore_records"

    def __init__(self, client: Any, memory_id: str, agentcore_actor: str,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self._client = client
        self._memory_id = memory_id
        self._paths = list(memory.actor_namespaces(agentcore_actor).values())
        self._sleep = sleep

    def step(self, cursor: dict[str, Any], deadline: StepDeadline) -> StepResult:
        """Delete the records namespace by namespace (the cursor holds the namespace in progress)."""
        result = StepResult(cursor=dict(cursor))
        position = int(result.cursor.get("namespace", 0))
        while position < len(self._paths) and not deadline.expired():
            ids = list(self._ids(self._paths[position]))
            if not ids:
                position += 1
                result.cursor["namespace"] = position
                continue
            ok, answer = _retrying(deadline, self._sleep, functools.partial(
                call, self.store, "BatchDeleteMemoryRecords", self._client.batch_delete_memory_records,
                memoryId=self._memory_id, records=[{"memoryRecordId": i} for i in ids]))
            if not ok:
                return result
            result.deleted += len(answer.get("successfulRecords", []))
            stuck = [r for r in answer.get("failedRecords", []) if r.get("errorCode") != 404]
            if stuck:
                raise UpstreamError(f"AgentCore could not delete {len(stuck)} memory record(s); retrying")
        result.done = position >= len(self._paths)
        return result

    def _ids(self, path: str) -> Iterator[str]:
        page = call(self.store, "ListMemoryRecords", self._client.list_memory_records, memoryId=self._memory_id,
                    namespacePath=path, maxResults=_BATCH)
        for summary in page.get("memoryRecordSummaries", []):
            yield summary["memoryRecordId"]


class AgentMemoryEraser:
    """Deletes a Bedrock Agent's own memory of users (DeleteAgentMemory, one ``memoryId`` per user)."""

    store = "bedrock_agent"

    def __init__(self, client: Any, agent_id: str, alias_id: str, memory_ids: Sequence[str]) -> None:
        self._client = client
        self._agent_id = agent_id
        self._alias_id = alias_id
        self._memory_ids = list(memory_ids)

    def step(self, cursor: dict[str, Any], deadline: StepDeadline) -> StepResult:
        """Delete each memory id's agent memory in turn."""
        result = StepResult(cursor=dict(cursor))
        position = int(result.cursor.get("position", 0))
        while position < len(self._memory_ids) and not deadline.expired():
            # A missing agent or alias is a misconfiguration (StoreFailure), never a silent 0.
            call(self.store, "DeleteAgentMemory", self._client.delete_agent_memory, agentId=self._agent_id,
                 agentAliasId=self._alias_id, memoryId=self._memory_ids[position])
            result.deleted += 1
            position += 1
            result.cursor["position"] = position
        result.done = position >= len(self._memory_ids)
        return result


_POOL_LOCK = threading.Lock()
_POOL: ThreadPoolExecutor | None = None


def delete_pool() -> ThreadPoolExecutor:
    """The container's pool for parallel deletes (one per container, reused across invocations)."""
    global _POOL
    with _POOL_LOCK:
        if _POOL is None:
            _POOL = ThreadPoolExecutor(max_workers=DELETE_EVENT_PARALLELISM, thread_name_prefix="mesh-erase")
        return _POOL
