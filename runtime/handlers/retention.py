"""Retention sweeper Lambda (EventBridge schedule): one retention period for vectors, events and long-term records.

Deletes S3 Vectors memories stored before the cutoff (or past their own ``expires_at``) in every user index, and
AgentCore long-term records created before it; AgentCore events expire natively (the memory's event expiry is
the retention period). Deadline-aware: the run stops before the Lambda's timeout with its cursor in the state
table, and the next invocation resumes it (a killed run too). Answers what the run deleted per store. A store
that cannot be reached or is misconfigured raises, so the invocation fails: Lambda retries the asynchronous
invocation, then sends it to the functions' failed-invocation queue, whose alarm fires.
"""

from __future__ import annotations

from typing import Any

from runtime.errors import MemoryMeshError
from runtime.handlers import _observability as obs
from runtime.handlers._common import load_settings, own_client
from runtime.lifecycle.deadline import StepDeadline
from runtime.lifecycle.retention import RetentionSweep
from runtime.lifecycle.state import StateTable

__all__ = ["RESERVE_S", "handler", "reset"]

#: Kept back from the Lambda's remaining time for saving the cursor and flushing metrics.
RESERVE_S = 5.0


def handler(event: Any, context: Any = None) -> dict[str, Any]:
    """Advance the current retention run; answer its report (``complete`` once every store is swept)."""
    obs.begin(context, handler="retention")
    try:
        settings = load_settings()
        if not settings.state_table_name:
            obs.log("error", "function configuration is invalid", step="settings", code="MESH_STATE_TABLE")
            raise MemoryMeshError("function configuration is invalid: MESH_STATE_TABLE")
        table = StateTable(own_client("dynamodb", settings.region), settings.state_table_name)
        sweep = RetentionSweep(settings, client=lambda service: own_client(service, settings.region), table=table)
        try:
            cursor = sweep.run(StepDeadline(context, reserve_s=RESERVE_S))
        except MemoryMeshError as error:
            obs.count("Errors")
            obs.log("error", "retention sweep failed; the next invocation resumes from its cursor", code=error.code,
                    error_type=type(error).__name__)
            raise
        report = _report(cursor)
        obs.count("RetentionDeleted", sum(report["deleted"].values()))
        obs.log("info", "retention sweep step done", deleted=sum(report["deleted"].values()),
                indexes=report["indexes_swept"], complete=report["complete"])
        return report
    finally:
        obs.end()


def reset() -> None:
    """Forget the container's clients (tests)."""
    own_client.cache_clear()


def _report(cursor: dict[str, Any]) -> dict[str, Any]:
    return {
        "statusCode": 200,
        "run": cursor["run"],
        "started_at": cursor["started_at"],
        "cutoff": cursor["cutoff"],
        "retention_days": cursor["retention_days"],
        "complete": bool(cursor.get("complete")),
        "phase": cursor["phase"],
        "invocations": cursor.get("invocations", 1),
        "indexes_swept": cursor.get("indexes_swept", 0),
        "deleted": dict(cursor["deleted"]),
        "agentcore_events": "expired by the memory's event expiry (the retention period, 7-365 days)",
    }
