"""Lifecycle Lambda (SQS, batch size 1, ``ReportBatchItemFailures``): job steps and deferred turn events.

- ``{"type": "job-step", "v": 1, "job_id"}``: one deadline-aware step of a forget or offboarding job; when work
  is left the step queues the next message itself (self-continuation).
- ``{"type": "turn-event", ...}`` (:func:`runtime.stores.agentcore_events.turn_event_message`): a turn write the
  orchestrator could not make in time, written now in the user's own vended session; a turn that began before
  the user's forget tombstone is dropped, never written.

A message that fails (a malformed one included) is reported in ``batchItemFailures``: SQS delivers it again
and after 3 receives moves it to the dead-letter queue, whose alarm fires. A job whose store is unreachable or
misconfigured is marked failed (the job says which store) and its message is consumed.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping
from typing import Any

from runtime.errors import InvalidInputError, MemoryMeshError
from runtime.handlers import _observability as obs
from runtime.handlers._common import load_settings, own_client
from runtime.identity import Identity
from runtime.lifecycle.deadline import StepDeadline
from runtime.lifecycle.jobs import JOB_MESSAGE_TYPE, parse_job_message
from runtime.lifecycle.service import Lifecycle
from runtime.lifecycle.tombstones import ActorForgottenError, TombstoneGuard

__all__ = ["RESERVE_S", "handler", "reset"]

#: Kept back from the Lambda's remaining time for saving the job, queuing the next step and flushing metrics.
RESERVE_S = 3.0


def handler(event: Any, context: Any = None) -> dict[str, list[dict[str, str]]]:
    """Process the batch; answer ``{"batchItemFailures": [{"itemIdentifier": id}]}``."""
    obs.begin(context, handler="lifecycle")
    try:
        records = event.get("Records") if isinstance(event, Mapping) else None
        if not isinstance(records, list):
            obs.count("Errors")
            obs.log("error", "lifecycle event is not an SQS batch", step="parse-event", code="InvalidInput")
            return {"batchItemFailures": []}
        failures = []
        for record in records:
            message_id = record.get("messageId") if isinstance(record, Mapping) else None
            if not isinstance(message_id, str) or not message_id:
                obs.count("Errors")
                continue
            if not _process(record, context):
                failures.append({"itemIdentifier": message_id})
        return {"batchItemFailures": failures}
    finally:
        obs.end()


def reset() -> None:
    """Forget the container's clients (tests)."""
    _lifecycle.cache_clear()
    _events.cache_clear()
    own_client.cache_clear()


def _process(record: Mapping[str, Any], context: Any) -> bool:
    try:
        body = json.loads(record.get("body") or "")
        if not isinstance(body, dict):
            raise InvalidInputError("body", f"<{type(body).__name__}>", "must be a JSON object")
        kind = body.get("type")
        if kind == JOB_MESSAGE_TYPE:
            _job_step(parse_job_message(body), context)
        elif kind == "turn-event":
            _turn_event(body)
        else:
            raise InvalidInputError("body.type", kind, f"must be {JOB_MESSAGE_TYPE!r} or 'turn-event'")
    except ValueError as error:
        obs.count("PoisonMessages")
        obs.log("error", "lifecycle message is malformed", step="parse", code=getattr(error, "code", None),
                error_type=type(error).__name__)
        return False
    except MemoryMeshError as error:
        obs.count("Errors")
        obs.log("error", "lifecycle step failed; SQS will retry it", step="process", code=error.code,
                error_type=type(error).__name__)
        return False
    return True


def _job_step(job_id: str, context: Any) -> None:
    lifecycle = _lifecycle(load_settings())
    job = lifecycle.advance(job_id, StepDeadline(context, reserve_s=RESERVE_S))
    if job is None:
        obs.log("info", "job step skipped: finished, unknown or held by another invocation", step="job")
        return
    deleted = sum(s["deleted"] for s in job["stores"].values())
    obs.count("JobSteps")
    obs.log("info", "job step done", step=job["kind"], status=job["status"], deleted=deleted,
            tenant_id=job["tenant_id"])


def _turn_event(body: Mapping[str, Any]) -> None:
    from runtime.stores.agentcore_events import write_queued_turn

    settings = load_settings()
    lifecycle = _lifecycle(settings)
    events = _events(settings)

    def forgotten_at(identity: Identity) -> int | None:
        return lifecycle.table.forgotten_at(identity.tenant_id, identity.actor_id)

    events.tombstones = TombstoneGuard(forgotten_at)
    try:
        written = write_queued_turn(body, events, forgotten_at=forgotten_at)
    except ActorForgottenError:
        written = None
    obs.count("TurnEventsWritten" if written else "TurnEventsDropped")


@functools.lru_cache(maxsize=1)
def _lifecycle(settings: Any) -> Lifecycle:
    from runtime.settings import FunctionSettings

    functions = FunctionSettings.from_env()
    return Lifecycle(settings, client=lambda service: own_client(service, settings.region),
                     supervisor_agent=functions.supervisor_agent, queue_url=functions.lifecycle_queue_url)


@functools.lru_cache(maxsize=1)
def _events(settings: Any) -> Any:
    from runtime.credentials import TenantCredentialBroker
    from runtime.stores.agentcore_events import AgentCoreEvents

    broker = TenantCredentialBroker(settings.tvm_role_arn, region=settings.region)
    return AgentCoreEvents(functools.partial(broker.client, "bedrock-agentcore"), settings.memory_id)
