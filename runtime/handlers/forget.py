"""Forget-me Lambda: ``DELETE /memories`` starts a forget job (202 and its id); ``GET /forget/{job_id}`` reports it.

``DELETE`` records the caller's tombstone first (every writer checks it, so nothing written after this moment
survives), then the job; it runs the job's first steps for at most :data:`FIRST_STEPS_S` and answers 202 (or the
202 with the receipt when it already finished; 502 naming the store when one is unreachable or misconfigured). The
lifecycle function continues the job from the lifecycle queue. ``GET`` answers the job's progress per store, or
its receipt, to the user it forgets only (404 to anyone else). Direct invoke ``{"tenant_id", "actor_id"}`` starts
a job for operators and tests.

Runs on the function's own role: AgentCore deletes records by id, which no tenant session may do for others.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

from runtime.errors import MemoryMeshError, NotFoundError
from runtime.handlers import _observability as obs
from runtime.handlers._common import load_settings, own_client
from runtime.handlers._http import (
    check_fields,
    check_query,
    handle_errors,
    match_route,
    parse_request,
    request_identity,
    respond,
)
from runtime.identity import Identity
from runtime.lifecycle.deadline import StepDeadline
from runtime.lifecycle.jobs import FAILED, FORGET, SUCCEEDED, public_view, validate_job_id
from runtime.lifecycle.service import SAFETY_NET_DELAY_S, Lifecycle

__all__ = ["FIRST_STEPS_S", "ROUTES", "handler", "reset"]

ROUTE_FORGET = "DELETE /memories"
ROUTE_JOB = "GET /forget/{job_id}"
ROUTES = (ROUTE_FORGET, ROUTE_JOB)
#: The API answers within this many seconds of work; the lifecycle function does the rest.
FIRST_STEPS_S = 10.0
#: Kept back from the Lambda's remaining time for saving the job and queuing its next step.
RESERVE_S = 3.0
_IDENTITY_FIELDS = ("tenant_id", "actor_id")


@handle_errors
def handler(event: Any, context: Any = None) -> dict[str, Any]:
    """Start a forget job (202) or report one (200)."""
    request = parse_request(event)
    route: str = ROUTE_FORGET
    params: Mapping[str, str] = {}
    if request.api:
        matched = match_route(request, ROUTES)
        if matched is None:
            raise NotFoundError(f"no such route: this function serves {' and '.join(ROUTES)}")
        route, params = matched
    check_fields(request.body, _IDENTITY_FIELDS, where="body" if request.api else "payload")
    check_query(request.query, ())
    settings = load_settings()
    lifecycle = _lifecycle(settings)
    identity = request_identity(request, tenant_claim=_functions().tenant_claim, index_prefix=settings.index_prefix)
    if route == ROUTE_JOB:
        job_id = validate_job_id(params.get("job_id"))
        return respond(200, public_view(_own_job(lifecycle, identity, job_id)), api=request.api)
    return _forget(lifecycle, identity, context, api=request.api)


def reset() -> None:
    """Forget the container's clients and settings (tests)."""
    _lifecycle.cache_clear()
    _functions.cache_clear()
    own_client.cache_clear()


def _forget(lifecycle: Lifecycle, identity: Identity, context: Any, *, api: bool) -> dict[str, Any]:
    job = lifecycle.start_forget(identity)
    job_id = job["job_id"]
    # Should this invocation die mid-step, the delayed message lets the lifecycle function take over.
    lifecycle.queue(job_id, delay_s=SAFETY_NET_DELAY_S)
    obs.count("ForgetJobsStarted")
    try:
        advanced = lifecycle.advance(job_id, StepDeadline(context, reserve_s=RESERVE_S, cap_s=FIRST_STEPS_S))
    except MemoryMeshError as error:
        # Recorded on the job; the lifecycle function retries the step.
        obs.log("warning", "first forget step failed; the lifecycle function retries it", code=error.code,
                tenant_id=identity.tenant_id, actor=identity.actor_id)
        advanced = None
    current = advanced or lifecycle.table.get_job(job_id) or job
    view = public_view(current)
    obs.log("info", "forget job started", tenant_id=identity.tenant_id, actor=identity.actor_id,
            status=current["status"], deleted=sum(s["deleted"] for s in current["stores"].values()))
    if current["status"] == FAILED:
        obs.count("ForgetJobsFailed")
        return respond(502, {"error": current.get("error", {}), **view}, api=api)
    if current["status"] == SUCCEEDED:
        obs.count("ActorsForgotten")
    return respond(202, view, api=api)


def _own_job(lifecycle: Lifecycle, identity: Identity, job_id: str) -> dict[str, Any]:
    """The caller's own forget job; any other job id is answered exactly like an unknown one."""
    job = lifecycle.table.get_job(job_id)
    if (job is None or job.get("kind") != FORGET or job.get("tenant_id") != identity.tenant_id
            or job.get("actor_id") != identity.actor_id):
        raise NotFoundError(f"job_id={job_id!r} is not a forget job of the caller")
    return job


@functools.lru_cache(maxsize=1)
def _functions() -> Any:
    from runtime.settings import FunctionSettings

    return FunctionSettings.from_env()


@functools.lru_cache(maxsize=1)
def _lifecycle(settings: Any) -> Lifecycle:
    functions = _functions()
    return Lifecycle(settings, client=lambda service: own_client(service, settings.region),
                     supervisor_agent=functions.supervisor_agent, queue_url=functions.lifecycle_queue_url)
