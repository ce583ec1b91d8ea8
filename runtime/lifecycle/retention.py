"""Retention on every copy, in resumable runs: one retention period for vectors, events and long-term records.

- S3 Vectors: every mesh index (ListIndexes by the mesh prefix), every vector (ListVectors pages); a vector
  stored before the cutoff, or whose own ``expires_at`` (epoch seconds, per-memory TTL) has passed, is deleted.
- AgentCore long-term records: the memory service lists them by namespace root (``/summaries/``, ``/facts/``,
  ``/preferences/``: every actor at once); a record created before the cutoff is deleted (BatchDeleteMemoryRecords).
- AgentCore events expire natively: the memory's event expiry is the retention period (clamped to 7-365 days).

A run keeps its cursor in the state table (``SWEEP#retention``) after every page, so a run cut short by its
deadline, or killed, resumes where it stopped; a finished run's report stays there until the next run starts.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from runtime.contract import memory, rules
from runtime.lifecycle.deadline import StepDeadline
from runtime.lifecycle.erase import call
from runtime.lifecycle.state import StateTable

__all__ = ["RECORD_ROOTS", "RetentionSweep", "expired"]

_DAY_S = 86_400
RECORD_ROOTS = memory.NAMESPACE_ROOTS
STORES = ("s3vectors", "agentcore_records")


def expired(metadata: Mapping[str, Any], *, now_s: float, cutoff_s: float | None = None) -> bool:
    """True when a vector's ``expires_at`` has passed, or (with ``cutoff_s``) it was stored before the cutoff."""
    expires_at = metadata.get("expires_at")
    if isinstance(expires_at, (int, float)) and not isinstance(expires_at, bool) and expires_at <= now_s:
        return True
    stored_at = metadata.get("stored_at")
    return (cutoff_s is not None and isinstance(stored_at, (int, float)) and not isinstance(stored_at, bool)
            and stored_at < cutoff_s)


class RetentionSweep:
    """One sweep over the memory home, continued across invocations through its cursor."""

    def __init__(self, settings: Any, *, client: Callable[[str], Any], table: StateTable,
                 clock: Callable[[], float] = time.time) -> None:
        self._settings = settings
        self._client = client
        self._table = table
        self._clock = clock

    def run(self, deadline: StepDeadline) -> dict[str, Any]:
        """Advance the current run (or start one); the cursor document, with ``complete`` and ``deleted``."""
        cursor = self._table.get_cursor()
        if cursor is None or cursor.get("complete"):
            cursor = self._new_run(cursor)
        cursor["invocations"] = int(cursor.get("invocations", 0)) + 1
        self._table.put_cursor(cursor)
        if cursor["phase"] == "s3vectors":
            self._sweep_vectors(cursor, deadline)
        if cursor["phase"] == "agentcore_records":
            self._sweep_records(cursor, deadline)
        if cursor["phase"] == "done":
            cursor["complete"] = True
            cursor["finished_at"] = _iso(self._clock())
        self._table.put_cursor(cursor)
        return cursor

    def _new_run(self, previous: Mapping[str, Any] | None) -> dict[str, Any]:
        now = self._clock()
        return {
            "run": int(previous.get("run", 0)) + 1 if previous else 1,
            "started_at": _iso(now),
            "now": int(now),
            "cutoff": int(now) - self._settings.retention_days * _DAY_S,
            "retention_days": self._settings.retention_days,
            "phase": "s3vectors",
            "deleted": {store: 0 for store in STORES},
            "indexes_swept": 0,
            "complete": False,
        }

    # -- S3 Vectors -------------------------------------------------------------------------------------------

    def _sweep_vectors(self, cursor: dict[str, Any], deadline: StepDeadline) -> None:
        client = self._client("s3vectors")
        bucket = self._settings.vector_bucket_name
        while not deadline.expired():
            index = cursor.get("index") or self._next_index(client, cursor.get("index_after"))
            if index is None:
                cursor.update(phase="agentcore_records", index=None, vector_token=None)
                return
            cursor["index"] = index
            request: dict[str, Any] = {"vectorBucketName": bucket, "indexName": index, "returnMetadata": True,
                                       "maxResults": memory.S3VECTORS.MAX_LIST_PAGE}
            if cursor.get("vector_token"):
                request["nextToken"] = cursor["vector_token"]
            page = call("s3vectors", "ListVectors", client.list_vectors, gone_ok=True, **request)
            vectors = (page or {}).get("vectors", [])
            keys = [v["key"] for v in vectors
                    if expired(v.get("metadata") or {}, now_s=cursor["now"], cutoff_s=cursor["cutoff"])]
            for start in range(0, len(keys), memory.S3VECTORS.MAX_KEYS_PER_DELETE):
                call("s3vectors", "DeleteVectors", client.delete_vectors, gone_ok=True, vectorBucketName=bucket,
                     indexName=index, keys=keys[start:start + memory.S3VECTORS.MAX_KEYS_PER_DELETE])
            cursor["deleted"]["s3vectors"] += len(keys)
            token = (page or {}).get("nextToken")
            if token:
                cursor["vector_token"] = token
            else:
                cursor.update(index=None, vector_token=None, index_after=index)
                cursor["indexes_swept"] += 1
            self._table.put_cursor(cursor)

    def _next_index(self, client: Any, after: str | None) -> str | None:
        """The first mesh index whose name sorts after ``after`` (ListIndexes returns names in order)."""
        request: dict[str, Any] = {"vectorBucketName": self._settings.vector_bucket_name,
                                   "prefix": self._settings.index_prefix,
                                   "maxResults": memory.S3VECTORS.MAX_INDEX_LIST_PAGE}
        while True:
            page = call("s3vectors", "ListIndexes", client.list_indexes, **request)
            for item in page.get("indexes", []):
                name = str(item["indexName"])
                if (after is None or name > after) and self._is_user_index(name):
                    return name
            if not page.get("nextToken"):
                return None
            request["nextToken"] = page["nextToken"]

    def _is_user_index(self, name: str) -> bool:
        """``<prefix><tenant>.<user>``: an index the mesh made (another index sharing the prefix is not swept)."""
        tenant, dot, user = name[len(self._settings.index_prefix):].partition(".")
        return bool(dot) and rules.TENANT_ID.matches(tenant) and user.isalnum() and user == user.lower()

    # -- AgentCore long-term records ------------------------------------------------------------------------

    def _sweep_records(self, cursor: dict[str, Any], deadline: StepDeadline) -> None:
        client = self._client("bedrock-agentcore")
        memory_id = self._settings.memory_id
        while not deadline.expired():
            position = int(cursor.get("namespace", 0))
            if position >= len(RECORD_ROOTS):
                cursor.update(phase="done", record_token=None)
                return
            request: dict[str, Any] = {"memoryId": memory_id, "namespacePath": RECORD_ROOTS[position],
                                       "maxResults": memory.AGENTCORE.MAX_PAGE}
            if cursor.get("record_token"):
                request["nextToken"] = cursor["record_token"]
            page = call("agentcore_records", "ListMemoryRecords", client.list_memory_records, **request)
            old = [r["memoryRecordId"] for r in page.get("memoryRecordSummaries", [])
                   if _epoch(r.get("createdAt")) is not None and _epoch(r.get("createdAt")) < cursor["cutoff"]]
            removed = 0
            if old:
                answer = call("agentcore_records", "BatchDeleteMemoryRecords", client.batch_delete_memory_records,
                              memoryId=memory_id, records=[{"memoryRecordId": i} for i in old])
                removed = len(answer.get("successfulRecords", []))
                cursor["deleted"]["agentcore_records"] += removed
            if removed:
                pass  # deleted records leave the listing: the same page token is asked again, nothing is skipped
            elif page.get("nextToken"):
                cursor["record_token"] = page["nextToken"]
            else:
                cursor.update(namespace=position + 1, record_token=None)
            self._table.put_cursor(cursor)


def _epoch(value: Any) -> float | None:
    if isinstance(value, datetime):
        return value.timestamp()
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    return None


def _iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, tz=UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
