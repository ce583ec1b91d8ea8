"""Operator API Lambda (IAM-authorized): onboard and offboard tenants, read lifecycle jobs.

- ``PUT /tenants/{tenant_id}``: the tenant's record (201 when new, 200 when it was there). A user's S3 Vectors
  index is created, tagged, on that user's first write; onboarding creates no AWS resource.
- ``DELETE /tenants/{tenant_id}``: 202 and an offboarding job, continued by the lifecycle function: every user
  index ``<prefix><tenant>.*``, every AgentCore actor ``<tenant>:*`` (events, long-term records, the supervisor
  Bedrock Agent's memory of them, a tombstone each), then the record. 409 while the tenant is still declared in
  the deployment config (remove it there and deploy first).
- ``GET /jobs/{job_id}``: any job's progress per store, or its receipt.
"""

from __future__ import annotations

import functools
import json
import time
from datetime import UTC, datetime
from typing import Any

from runtime.errors import InvalidInputError, MemoryMeshError, NotFoundError
from runtime.handlers import _observability as obs
from runtime.handlers._common import load_settings, own_client
from runtime.handlers._http import check_fields, check_query, handle_errors, match_route, parse_request, respond
from runtime.identity import validate_tenant_id
from runtime.lifecycle.jobs import public_view, validate_job_id
from runtime.lifecycle.service import Lifecycle

__all__ = ["ROUTES", "TenantDeclaredError", "handler", "reset"]

ROUTE_ONBOARD = "PUT /tenants/{tenant_id}"
ROUTE_OFFBOARD = "DELETE /tenants/{tenant_id}"
ROUTE_JOB = "GET /jobs/{job_id}"
ROUTES = (ROUTE_ONBOARD, ROUTE_OFFBOARD, ROUTE_JOB)


class TenantDeclaredError(MemoryMeshError):
    """The tenant is still declared in the deployment config: offboarding it now would be undone by a deploy."""

    status = 409
    code = "TenantDeclared"


@handle_errors
def handler(event: Any, context: Any = None) -> dict[str, Any]:
    """Answer one operator route."""
    request = parse_request(event)
    if not request.api:
        raise InvalidInputError("event", "<direct invoke>", f"the tenants function serves {', '.join(ROUTES)} only")
    matched = match_route(request, ROUTES)
    if matched is None:
        raise NotFoundError(f"no such route: this function serves {', '.join(ROUTES)}")
    route, params = matched
    check_fields(request.body, ())
    check_query(request.query, ())
    settings = load_settings()
    if route == ROUTE_JOB:
        job_id = validate_job_id(params.get("job_id"))
        job = _lifecycle(settings).table.get_job(job_id)
        if job is None:
            raise NotFoundError(f"job_id={job_id!r} is not a job of this mesh")
        return respond(200, public_view(job), api=True)
    tenant_id = validate_tenant_id(params.get("tenant_id"), index_prefix=settings.index_prefix)
    if route == ROUTE_ONBOARD:
        return _onboard(_lifecycle(settings), tenant_id)
    if tenant_id in _declared_tenants():
        raise TenantDeclaredError(f"tenant_id={tenant_id!r} is declared in the deployment config; remove it from "
                                  "the config and deploy before offboarding it")
    lifecycle = _lifecycle(settings)
    job = lifecycle.start_offboard(tenant_id)
    lifecycle.queue(job["job_id"])
    obs.count("TenantsOffboarding")
    obs.log("info", "tenant offboarding started", tenant_id=tenant_id, step="offboard")
    return respond(202, public_view(job), api=True)


def reset() -> None:
    """Forget the container's clients and settings (tests)."""
    _lifecycle.cache_clear()
    own_client.cache_clear()


def _onboard(lifecycle: Lifecycle, tenant_id: str) -> dict[str, Any]:
    existing = lifecycle.table.get_tenant(tenant_id)
    if existing is not None:
        return respond(200, {**existing, "created": False}, api=True)
    record = {"tenant_id": tenant_id,
              "onboarded_at": datetime.fromtimestamp(time.time(), tz=UTC).isoformat(timespec="seconds")
              .replace("+00:00", "Z")}
    lifecycle.table.put_tenant(tenant_id, record)
    obs.count("TenantsOnboarded")
    obs.log("info", "tenant onboarded", tenant_id=tenant_id, step="onboard")
    return respond(201, {**record, "created": True}, api=True)


def _declared_tenants() -> frozenset[str]:
    """The tenants of the deployment config (the config layer's file); an unreadable file refuses everything."""
    from runtime.settings import FunctionSettings

    path = FunctionSettings.from_env().tenants_file
    if path is None:
        return frozenset()
    try:
        with open(path, encoding="utf-8") as handle:
            declared = json.load(handle)
    except (OSError, ValueError):
        obs.log("error", "declared tenants file is unreadable", step="settings", code="MESH_TENANTS_FILE")
        raise MemoryMeshError("function configuration is invalid: MESH_TENANTS_FILE") from None
    if not isinstance(declared, list) or not all(isinstance(t, str) for t in declared):
        raise MemoryMeshError("function configuration is invalid: MESH_TENANTS_FILE")
    return frozenset(declared)


@functools.lru_cache(maxsize=1)
def _lifecycle(settings: Any) -> Lifecycle:
    from runtime.settings import FunctionSettings

    functions = FunctionSettings.from_env()
    return Lifecycle(settings, client=lambda service: own_client(service, settings.region),
                     queue_url=functions.lifecycle_queue_url)
