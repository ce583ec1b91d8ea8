"""Forget-me Lambda: ``DELETE /memories`` (JWT) and direct invoke ``{"tenant_id", "actor_id"}``.

Deletes every record of one actor in both backends — the vectors in the tenant's S3 Vectors index and
the AgentCore Memory long-term records and events — and answers what it deleted per backend. Idempotent:
a second call deletes 0. On the API the actor is always the caller (derived from the verified token).

Runs on the function's own role, not the TVM: AgentCore deletes records by id and
``BatchDeleteMemoryRecords`` takes no actor or namespace condition key, so a delete permission on the
(tenant-tagged) TVM role would let every tenant session erase other tenants' records. The erasure role is
separate, reachable only through this handler, and the handler passes it validated ids only.
"""

from __future__ import annotations

import functools
import os
from typing import Any

from runtime.errors import MemoryMeshError, NotFoundError, UpstreamError
from runtime.handlers import _observability as obs
from runtime.handlers._common import OwnRoleClients, admin_vector_store, load_settings, own_client
from runtime.handlers._http import (
    check_fields,
    error_body,
    handle_errors,
    match_route,
    parse_request,
    public,
    request_identity,
    respond,
)
from runtime.identity import Identity
from runtime.settings import MemorySettings

__all__ = ["BACKENDS", "ROUTES", "handler", "reset"]

ROUTES = ("DELETE /memories",)
#: The backends, in the order they are erased.
BACKENDS = ("s3vectors", "agentcore")
DEFAULT_TENANT_CLAIM = "custom:tenant_id"


@handle_errors
def handler(event: Any, context: Any = None) -> dict[str, Any]:
    """Forget the actor; answer ``{tenant_id, actor_id, deleted: {s3vectors, agentcore}}`` (plus ``statusCode``)."""
    request = parse_request(event)
    if request.api and match_route(request, ROUTES) is None:
        raise NotFoundError("no such route: this function serves DELETE /memories")
    check_fields(request.body, ("tenant_id", "actor_id"), where="body" if request.api else "payload")
    settings = load_settings()
    tenant_claim = os.environ.get("MESH_TENANT_CLAIM") or DEFAULT_TENANT_CLAIM
    identity = request_identity(request, tenant_claim=tenant_claim, index_prefix=settings.index_prefix)

    deleted: dict[str, int] = {}
    failed: dict[str, MemoryMeshError] = {}
    backends = BACKENDS + (("bedrock_agent",) if _supervisor_agent() is not None else ())
    for name in backends:
        try:
            deleted[name] = _erase(name, identity, settings)
        except MemoryMeshError as error:
            failed[name] = error
            obs.count("Errors")
            obs.log("error", "forget failed in one backend", backend=name, code=error.code,
                    tenant_id=identity.tenant_id, actor=identity.actor_id)
    obs.count("ActorsForgotten" if not failed else "ForgetIncomplete")
    obs.log("info", "forget done", tenant_id=identity.tenant_id, actor=identity.actor_id,
            deleted=sum(deleted.values()), backends_failed=sorted(failed) or None)
    body: dict[str, Any] = {"tenant_id": identity.tenant_id, "actor_id": identity.actor_id, "deleted": deleted}
    if failed:
        # What was deleted stays deleted; a retry finishes the rest (every step is idempotent).
        error = public(UpstreamError(
            f"forgetting failed in {', '.join(sorted(failed))}; the other deletions are done, retry the request"
        ))
        body = {"error": error_body(error), "failed": sorted(failed), **body}
        return respond(error.status, body, api=request.api)
    return respond(200, body, api=request.api)


def reset() -> None:
    """Forget the container's stores and clients (tests; a changed configuration also rebuilds the stores)."""
    _vector_store.cache_clear()
    _agentcore.cache_clear()
    _supervisor_agent.cache_clear()
    own_client.cache_clear()


def _erase(backend: str, identity: Identity, settings: MemorySettings) -> int:
    if backend == "s3vectors":
        try:
            return _vector_store(settings).delete_actor(identity.tenant_id, identity.actor_id).deleted
        except NotFoundError:
            # The tenant has no index (never onboarded, or removed): nothing of the actor is stored there.
            return 0
    if backend == "bedrock_agent":
        return _erase_agent_memory(identity, settings)
    return _agentcore(settings).delete_actor(identity.tenant_id, identity.actor_id).deleted


@functools.lru_cache(maxsize=1)
def _supervisor_agent() -> Any:
    """The supervisor when it is a Bedrock Agent: the orchestrator gives it a per-user memoryId to erase."""
    raw = os.environ.get("MESH_SUPERVISOR_AGENT")
    if not raw:
        return None
    from runtime.handlers._agents import BEDROCK_AGENT, AgentRef

    agent = AgentRef.parse(raw, field="MESH_SUPERVISOR_AGENT")
    return agent if agent.kind == BEDROCK_AGENT else None


def _erase_agent_memory(identity: Identity, settings: MemorySettings) -> int:
    """Delete the supervisor agent's own memory of this user (DeleteAgentMemory); 1 when erased, 0 if none."""
    from botocore.exceptions import BotoCoreError, ClientError

    from runtime.handlers._agents import bedrock_memory_id

    agent = _supervisor_agent()
    try:
        own_client("bedrock-agent-runtime", settings.region).delete_agent_memory(
            agentId=agent.agent_id, agentAliasId=agent.alias_id, memoryId=bedrock_memory_id(identity))
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") == "ResourceNotFoundException":
            return 0
        raise UpstreamError(f"the supervisor agent's memory could not be erased "
                            f"({error.response.get('Error', {}).get('Code', 'error')})") from None
    except BotoCoreError as error:
        raise UpstreamError(f"the supervisor agent's memory could not be erased ({type(error).__name__})") from None
    return 1


@functools.lru_cache(maxsize=1)
def _vector_store(settings: MemorySettings) -> Any:
    return admin_vector_store(settings, clients=OwnRoleClients(settings.region))


@functools.lru_cache(maxsize=1)
def _agentcore(settings: MemorySettings) -> Any:
    from runtime.stores.agentcore import AgentCoreMemoryBackend

    clients = OwnRoleClients(settings.region)
    return AgentCoreMemoryBackend(
        lambda tenant_id, actor_id: clients.client("bedrock-agentcore", tenant_id, actor_id),
        memory_id=settings.memory_id,
    )


