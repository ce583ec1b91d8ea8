"""Retention sweeper Lambda (EventBridge schedule): delete S3 Vectors records older than MESH_RETENTION_DAYS.

Sweeps every index of the vector bucket named ``<prefix><tenant>`` with the function's own role (AgentCore
Memory expires its events itself). Bounded by the remaining time: indexes it cannot reach are left for
the next run, which starts at a different index, so every index is reached over time. An index that fails
does not stop the others; the run then raises at the end, so the invocation counts as failed: Lambda retries the
asynchronous invocation, then sends it to the functions' failed-invocation queue, whose alarm fires.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from runtime.errors import InvalidInputError, MemoryMeshError, UpstreamError
from runtime.handlers import _observability as obs
from runtime.handlers._common import admin_vector_store, load_settings, own_client, remaining_ms
from runtime.settings import MemorySettings

__all__ = ["INDEX_RESERVE_MS", "SweepReport", "handler", "reset"]

#: An index is started only with at least this much time left (or the slowest index so far, if longer).
INDEX_RESERVE_MS = 15_000
# Headroom kept after the slowest index so far, for the report and the metrics flush.
_SAFETY_MS = 2_000
# S3 Vectors ListIndexes: maxResults 1-500.
_LIST_PAGE = 500
_DAY_S = 86_400


@dataclass
class SweepReport:
    """What one run did; ``complete`` is False when the time budget left indexes for the next run."""

    cutoff: int
    retention_days: int
    indexes_total: int = 0
    deleted: dict[str, int] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)
    not_reached: list[str] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        return not self.not_reached

    def to_dict(self) -> dict[str, Any]:
        return {
            "statusCode": 500 if self.failed else 200,
            "cutoff": self.cutoff,
            "retention_days": self.retention_days,
            "indexes_total": self.indexes_total,
            "indexes_swept": len(self.deleted),
            "deleted": sum(self.deleted.values()),
            "deleted_per_index": dict(self.deleted),
            "failed": dict(self.failed),
            "skipped": list(self.skipped),
            "not_reached": list(self.not_reached),
            "complete": self.complete,
        }


def handler(event: Any, context: Any = None) -> dict[str, Any]:
    """Sweep every tenant index; answer the report, or raise after the sweep if any index failed."""
    obs.begin(context, handler="retention")
    try:
        report = _sweep(event, context, now=time.time())
        summary = report.to_dict()
        obs.count("RetentionDeleted", summary["deleted"])
        obs.log("info", "retention sweep done", deleted=summary["deleted"], indexes=summary["indexes_swept"],
                failed=len(report.failed), step="complete" if report.complete else "time-budget")
        if report.failed:
            obs.count("Errors")
            raise UpstreamError(
                f"retention failed for {len(report.failed)} of {report.indexes_total} index(es) "
                f"({', '.join(sorted(report.failed))}); every other index was swept"
            )
        return summary
    finally:
        obs.end()


def reset() -> None:
    """Forget the container's client (tests)."""
    own_client.cache_clear()


def _sweep(event: Any, context: Any, *, now: float) -> SweepReport:
    settings = load_settings()
    cutoff = int(now) - settings.retention_days * _DAY_S
    report = SweepReport(cutoff=cutoff, retention_days=settings.retention_days)
    client = own_client("s3vectors", settings.region)
    names = _index_names(client, settings)
    report.indexes_total = len(names)
    store = admin_vector_store(settings)
    ordered = _rotated(names, _run_seed(event, now))
    slowest_ms = 0.0
    for position, name in enumerate(ordered):
        if position and not _time_for_another(context, slowest_ms):
            report.not_reached = ordered[position:]
            obs.log("warning", "time budget spent; indexes left for the next run", indexes=len(report.not_reached))
            break
        try:
            tenant_id = store.tenant_of_index(name)
        except InvalidInputError:
            # Shares the prefix but is no tenant index the mesh made: not ours to sweep.
            report.skipped.append(name)
            continue
        started = time.monotonic()
        try:
            deleted = store.delete_older_than(name, cutoff, client=client).deleted
        except Exception as error:
            code = error.code if isinstance(error, MemoryMeshError) else type(error).__name__
            report.failed[name] = code
            obs.log("error", "retention failed for one index", tenant_id=tenant_id, code=code,
                    error_type=type(error).__name__)
        else:
            report.deleted[name] = deleted
            if deleted:
                obs.log("info", "retention deleted records", tenant_id=tenant_id, deleted=deleted)
        slowest_ms = max(slowest_ms, (time.monotonic() - started) * 1000)
    return report


def _index_names(client: Any, settings: MemorySettings) -> list[str]:
    """Every index name with the mesh prefix, following nextToken."""
    from botocore.exceptions import BotoCoreError, ClientError

    request: dict[str, Any] = {"vectorBucketName": settings.vector_bucket_name, "maxResults": _LIST_PAGE}
    if settings.index_prefix:  # ListIndexes prefix: 1-63 characters when given
        request["prefix"] = settings.index_prefix
    names: list[str] = []
    while True:
        try:
            page = client.list_indexes(**request)
        except (ClientError, BotoCoreError) as error:
            code = error.response.get("Error", {}).get("Code") if isinstance(error, ClientError) else None
            obs.count("Errors")
            obs.log("error", "ListIndexes failed", step="list-indexes", code=code, error_type=type(error).__name__)
            raise UpstreamError(f"S3 Vectors ListIndexes failed ({code or type(error).__name__})") from None
        names.extend(item["indexName"] for item in page.get("indexes", []))
        token = page.get("nextToken")
        if not token:
            return sorted(set(names))
        request["nextToken"] = token


def _run_seed(event: Any, now: float) -> str:
    # EventBridge gives every scheduled event a new id; a direct invoke falls back to the hour.
    event_id = event.get("id") if isinstance(event, Mapping) else None
    return event_id if isinstance(event_id, str) and event_id else str(int(now) // 3600)


def _rotated(names: list[str], seed: str) -> list[str]:
    """``names`` starting at a run-dependent position, so a time-bounded run does not always stop early."""
    if not names:
        return []
    start = int.from_bytes(hashlib.sha256(seed.encode("utf-8", errors="replace")).digest()[:8], "big") % len(names)
    return names[start:] + names[:start]


def _time_for_another(context: Any, slowest_ms: float) -> bool:
    remaining = remaining_ms(context)
    return remaining is None or remaining >= max(INDEX_RESERVE_MS, slowest_ms + _SAFETY_MS)


