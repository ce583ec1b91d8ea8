"""Forget and offboarding jobs: a document in the state table, advanced in leased, deadline-aware steps.

A job names its stores in order; each keeps ``status``, ``deleted``, ``cursor`` and details. A step takes the
job's lease (a conditional write: one invocation at a time), runs the stores' erasers until the deadline, saves
after every store step and releases the lease. Whatever is left is continued by a message on the lifecycle
queue (self-continuation). A :class:`StoreFailure` fails the job at once and says which store; any other error
is recorded and re-raised, so the queue retries the step and, after its last receive, dead-letters it (alarm).
The finished job is a receipt: what was deleted in each store, when, for which actor hash.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from runtime.errors import InvalidInputError, MemoryMeshError
from runtime.identity import log_ref
from runtime.lifecycle.deadline import StepDeadline
from runtime.lifecycle.erase import StepResult, StoreFailure
from runtime.lifecycle.state import StaleJobError, StateTable

__all__ = [
    "FORGET", "JOB_MESSAGE_TYPE", "JOB_TTL_S", "OFFBOARD", "FAILED", "RUNNING", "SUCCEEDED", "JobRunner",
    "job_message", "new_job", "parse_job_message", "public_view", "validate_job_id",
]

FORGET = "forget"
OFFBOARD = "offboard"
RUNNING, SUCCEEDED, FAILED = "running", "succeeded", "failed"
#: Receipts stay readable for a year, then DynamoDB's TTL removes the job (tombstones never expire).
JOB_TTL_S = 365 * 86_400
JOB_MESSAGE_TYPE = "job-step"
_JOB_MESSAGE_VERSION = 1
_ID_CHARS = frozenset("0123456789abcdef")

#: ``eraser_for(job, store) -> eraser`` (an object with ``step(cursor, deadline) -> StepResult``).
EraserFactory = Callable[[Mapping[str, Any], str], Any]


def _now_iso(clock: Callable[[], float]) -> str:
    return datetime.fromtimestamp(clock(), tz=UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def validate_job_id(value: Any) -> str:
    """A job id is 32 lowercase hex characters (what :func:`new_job` makes)."""
    if not isinstance(value, str) or len(value) != 32 or not set(value) <= _ID_CHARS:
        raise InvalidInputError("job_id", value, "must be a job id returned by this API (32 hex characters)")
    return value


def new_job(kind: str, *, tenant_id: str, actor_id: str | None, stores: Sequence[str],
            clock: Callable[[], float] = time.time) -> dict[str, Any]:
    """A new job document (not yet saved)."""
    job: dict[str, Any] = {
        "job_id": uuid.uuid4().hex,
        "kind": kind,
        "status": RUNNING,
        "tenant_id": tenant_id,
        "started_at": _now_iso(clock),
        "started_ms": int(clock() * 1000),
        "invocations": 0,
        "order": list(stores),
        "stores": {name: {"status": "pending", "deleted": 0, "cursor": {}, "details": {}} for name in stores},
    }
    if actor_id is not None:
        job["actor_id"] = actor_id
        job["actor_hash"] = log_ref(f"{tenant_id}:{actor_id}")
    return job


def public_view(job: Mapping[str, Any]) -> dict[str, Any]:
    """What the API shows of a job: progress per store, or the receipt once finished (no ids, no cursors)."""
    view: dict[str, Any] = {
        "job_id": job["job_id"],
        "kind": job["kind"],
        "status": job["status"],
        "tenant_id": job["tenant_id"],
        "started_at": job["started_at"],
        "updated_at": job.get("updated_at", job["started_at"]),
        "invocations": job.get("invocations", 0),
        "stores": {
            name: {"status": s["status"], "deleted": s["deleted"], **({"details": s["details"]} if s["details"]
                                                                      else {})}
            for name, s in ((n, job["stores"][n]) for n in job["order"])
        },
    }
    if "actor_hash" in job:
        view["actor_hash"] = job["actor_hash"]
    if job.get("finished_at"):
        view["finished_at"] = job["finished_at"]
    if job.get("error"):
        view["error"] = job["error"]
    if job["status"] == SUCCEEDED:
        view["receipt"] = {
            "deleted": {name: job["stores"][name]["deleted"] for name in job["order"]},
            "finished_at": job.get("finished_at"),
            **({"actor_hash": job["actor_hash"]} if "actor_hash" in job else {"tenant_id": job["tenant_id"]}),
        }
    return view


def job_message(job_id: str) -> dict[str, Any]:
    """The lifecycle-queue message that continues a job."""
    return {"type": JOB_MESSAGE_TYPE, "v": _JOB_MESSAGE_VERSION, "job_id": job_id}


def parse_job_message(body: Mapping[str, Any]) -> str:
    """The job id of a continuation message (InvalidInputError naming the field otherwise)."""
    if body.get("v") != _JOB_MESSAGE_VERSION:
        raise InvalidInputError("message.v", body.get("v"), f"must be {_JOB_MESSAGE_VERSION}")
    return validate_job_id(body.get("job_id"))


class JobRunner:
    """Advances jobs: takes the lease, runs erasers until the deadline, saves, releases."""

    def __init__(self, table: StateTable, eraser_for: EraserFactory, *, clock: Callable[[], float] = time.time,
                 on_finish: Callable[[dict[str, Any]], None] | None = None) -> None:
        self._table = table
        self._eraser_for = eraser_for
        self._clock = clock
        self._on_finish = on_finish

    def run(self, job_id: str, deadline: StepDeadline) -> dict[str, Any] | None:
        """Advance the job; the job afterwards, or None when it is finished or another invocation holds it."""
        job = self._table.get_job(job_id)
        if job is None or job["status"] != RUNNING:
            return job
        now_ms = int(self._clock() * 1000)
        if int(job.get("lease_until", 0)) > now_ms:
            return None  # another invocation is advancing it and will queue what is left
        job["lease_until"] = now_ms + int(deadline.lease_ms())
        job["invocations"] = int(job.get("invocations", 0)) + 1
        try:
            self._save(job)
        except StaleJobError:
            return None
        try:
            self._advance(job, deadline)
        finally:
            job["lease_until"] = 0
            self._save(job)
        return job

    def _advance(self, job: dict[str, Any], deadline: StepDeadline) -> None:
        for name in job["order"]:
            progress = job["stores"][name]
            if progress["status"] == "done":
                continue
            if deadline.expired():
                return
            progress["status"] = "running"
            try:
                result: StepResult = self._eraser_for(job, name).step(progress["cursor"], deadline)
            except StoreFailure as error:
                progress["status"] = "failed"
                self._finish(job, FAILED, error={"store": name, "code": error.code, "message": error.message})
                return
            except MemoryMeshError as error:
                job["error"] = {"store": name, "code": error.code, "message": error.message, "retrying": True}
                raise
            progress["deleted"] += result.deleted
            progress["cursor"] = result.cursor
            for key, value in result.details.items():
                progress["details"][key] = progress["details"].get(key, 0) + value
            job.pop("error", None)
            if not result.done:
                self._save(job)
                return
            progress["status"] = "done"
            progress["cursor"] = {}
            self._save(job)
        self._finish(job, SUCCEEDED)

    def _finish(self, job: dict[str, Any], status: str, *, error: dict[str, Any] | None = None) -> None:
        job["status"] = status
        job["finished_at"] = _now_iso(self._clock)
        if error is not None:
            job["error"] = error
        if self._on_finish is not None and status == SUCCEEDED:
            self._on_finish(job)

    def _save(self, job: dict[str, Any]) -> None:
        job["updated_at"] = _now_iso(self._clock)
        self._table.save_job(job, ttl_s=JOB_TTL_S)
