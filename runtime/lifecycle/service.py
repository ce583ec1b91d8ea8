"""The lifecycle of users and tenants: start forget and offboarding jobs, build their erasers, queue their steps.

Forgetting a user is O(that user's data): their own S3 Vectors index (DeleteIndex), their AgentCore events and
long-term records, and the supervisor Bedrock Agent's memory of them. Offboarding a tenant finds its users by the
index-name prefix ``<prefix><tenant>.`` (ListIndexes) and by the actor-id prefix ``<tenant>:`` (ListActors).
All calls use the function's own role; every id passed is validated first.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from runtime.contract import memory
from runtime.contract.agents import BEDROCK_AGENT
from runtime.errors import InvalidInputError
from runtime.identity import Identity, validate_actor_id, validate_tenant_id
from runtime.lifecycle.deadline import StepDeadline
from runtime.lifecycle.erase import (
    AgentMemoryEraser,
    EventsEraser,
    IndexEraser,
    RecordsEraser,
    StepResult,
    call,
    delete_pool,
)
from runtime.lifecycle.jobs import FORGET, JOB_TTL_S, OFFBOARD, JobRunner, job_message, new_job
from runtime.lifecycle.state import StateTable

__all__ = ["FORGET_STORES", "Lifecycle", "OFFBOARD_STORES"]

FORGET_STORES = ("s3vectors", "agentcore_events", "agentcore_records")
OFFBOARD_STORES = ("s3vectors", "agentcore", "tenant_record")
#: SQS DelaySeconds is at most 900; a safety-net continuation waits past the forget function's 29 s timeout.
SAFETY_NET_DELAY_S = 60
#: An offboarded tenant's marker (it replaces the onboarding record) is removed by DynamoDB's TTL after this long.
RETIRED_TTL_S = 30 * 86_400


class Lifecycle:
    """Jobs over one memory home; ``client(service)`` returns a client on the function's own role."""

    def __init__(self, settings: Any, *, client: Callable[[str], Any], supervisor_agent: Any = None,
                 queue_url: str | None = None, clock: Callable[[], float] = time.time,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        if not settings.state_table_name:
            raise InvalidInputError("MESH_STATE_TABLE", None, "is required by the lifecycle functions")
        self.settings = settings
        self._client = client
        self._agent = supervisor_agent if getattr(supervisor_agent, "kind", None) == BEDROCK_AGENT else None
        self._queue_url = queue_url
        self._clock = clock
        self._sleep = sleep
        self.table = StateTable(client("dynamodb"), settings.state_table_name, clock=clock)

    # -- starting jobs --------------------------------------------------------------------------------------

    def start_forget(self, identity: Identity) -> dict[str, Any]:
        """Record the user's tombstone first (writers stop), then the job; the job is not yet advanced."""
        stores = FORGET_STORES + (("bedrock_agent",) if self._agent is not None else ())
        job = new_job(FORGET, tenant_id=identity.tenant_id, actor_id=identity.actor_id, stores=stores,
                      clock=self._clock)
        self.table.put_tombstone(identity.tenant_id, identity.actor_id, job_id=job["job_id"],
                                 forgotten_at=job["started_ms"])
        self.table.create_job(job, ttl_s=JOB_TTL_S)
        return job

    def start_offboard(self, tenant_id: str) -> dict[str, Any]:
        """Record an offboarding job for the tenant (not yet advanced)."""
        job = new_job(OFFBOARD, tenant_id=tenant_id, actor_id=None, stores=OFFBOARD_STORES, clock=self._clock)
        self.table.create_job(job, ttl_s=JOB_TTL_S)
        return job

    # -- advancing jobs -------------------------------------------------------------------------------------

    def runner(self) -> JobRunner:
        """A job runner over this mesh's erasers."""
        return JobRunner(self.table, self.eraser_for, clock=self._clock)

    def advance(self, job_id: str, deadline: StepDeadline) -> dict[str, Any] | None:
        """One step of the job; queues the next when work is left. The job afterwards (None: not ours now)."""
        job = self.runner().run(job_id, deadline)
        if job is not None and job["status"] == "running":
            self.queue(job_id)
        return job

    def queue(self, job_id: str, *, delay_s: int = 0) -> None:
        """Queue a continuation of the job on the lifecycle queue."""
        if not self._queue_url:
            raise InvalidInputError("MESH_LIFECYCLE_QUEUE_URL", None, "is required to continue lifecycle jobs")
        request: dict[str, Any] = {"QueueUrl": self._queue_url,
                                   "MessageBody": json.dumps(job_message(job_id), separators=(",", ":"))}
        if delay_s:
            request["DelaySeconds"] = delay_s
        call("sqs", "SendMessage", self._client("sqs").send_message, **request)

    def eraser_for(self, job: Mapping[str, Any], store: str) -> Any:
        """The eraser of one store of a job (ids validated again: the job item is data, not trust)."""
        tenant_id = validate_tenant_id(job["tenant_id"], index_prefix=self.settings.index_prefix)
        if job["kind"] == FORGET:
            identity = Identity(tenant_id, validate_actor_id(job["actor_id"]))
            return self._user_eraser(identity, store)
        if store == "s3vectors":
            return IndexEraser(self._client("s3vectors"), self.settings.vector_bucket_name,
                               memory.tenant_index_prefix(self.settings.index_prefix, tenant_id), exact=False)
        if store == "agentcore":
            return _TenantActorsEraser(self, tenant_id, job_id=job["job_id"], started_ms=int(job["started_ms"]))
        return _TenantRecordEraser(self.table, tenant_id, job_id=job["job_id"], clock=self._clock)

    def _user_eraser(self, identity: Identity, store: str) -> Any:
        if store == "s3vectors":
            return IndexEraser(self._client("s3vectors"), self.settings.vector_bucket_name,
                               self.settings.user_index_name(identity.tenant_id, identity.actor_id), exact=True)
        agentcore = self._client("bedrock-agentcore")
        if store == "agentcore_events":
            return EventsEraser(agentcore, self.settings.memory_id, identity.agentcore_actor_id, pool=delete_pool(),
                                sleep=self._sleep)
        if store == "agentcore_records":
            return RecordsEraser(agentcore, self.settings.memory_id, identity.agentcore_actor_id, sleep=self._sleep)
        if store == "bedrock_agent":
            return self.agent_memory_eraser([identity])
        raise InvalidInputError("store", store, "is not a store of a forget job")

    def agent_memory_eraser(self, identities: list[Identity]) -> AgentMemoryEraser | None:
        """The supervisor Bedrock Agent's memory of these users (None when the supervisor is no Bedrock Agent)."""
        if self._agent is None:
            return None
        from runtime.handlers._agents import bedrock_memory_id

        client = self._client("bedrock-agent-runtime")
        return AgentMemoryEraser(client, self._agent.agent_id, self._agent.alias_id,
                                 [bedrock_memory_id(i) for i in identities])


class _TenantRecordEraser:
    """The tenant's onboarding record (1 when there was one)."""

    def __init__(self, table: StateTable, tenant_id: str, *, job_id: str, clock: Callable[[], float]) -> None:
        self._table = table
        self._tenant_id = tenant_id
        self._job_id = job_id
        self._clock = clock

    def step(self, cursor: dict[str, Any], deadline: StepDeadline) -> StepResult:
        at = datetime.fromtimestamp(self._clock(), tz=UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
        existed = self._table.retire_tenant(self._tenant_id, job_id=self._job_id, at=at, ttl_s=RETIRED_TTL_S)
        return StepResult(deleted=int(existed), done=True)


class _TenantActorsEraser:
    """Every AgentCore actor ``<tenant>:*`` (ListActors, page by page): tombstone, events, records, agent memory.

    The cursor holds the current ListActors page token, the actors of that page already done, and the actor
    being erased with its phase and sub-cursor.
    """

    def __init__(self, lifecycle: Lifecycle, tenant_id: str, *, job_id: str, started_ms: int) -> None:
        self._lc = lifecycle
        self._job_id = job_id
        self._tenant = tenant_id
        self._started_ms = started_ms
        self._client = lifecycle._client("bedrock-agentcore")

    def step(self, cursor: dict[str, Any], deadline: StepDeadline) -> StepResult:
        result = StepResult(cursor=dict(cursor))
        c = result.cursor
        while not deadline.expired():
            request: dict[str, Any] = {"memoryId": self._lc.settings.memory_id, "maxResults": memory.AGENTCORE.MAX_PAGE}
            if c.get("token"):
                request["nextToken"] = c["token"]
            page = call("agentcore", "ListActors", self._client.list_actors, **request)
            mine = [a["actorId"] for a in page.get("actorSummaries", [])
                    if a["actorId"].startswith(f"{self._tenant}:")]
            done = set(c.get("done", []))
            for actor in mine:
                if actor in done:
                    continue
                if not self._erase_actor(actor, c, result, deadline):
                    return result
                done.add(actor)
                c["done"] = sorted(done)
                result.details["actors"] = result.details.get("actors", 0) + 1
            token = page.get("nextToken")
            if not token:
                for key in ("token", "done"):
                    c.pop(key, None)
                result.done = True
                return result
            c["token"], c["done"] = token, []
        return result

    def _erase_actor(self, agentcore_actor: str, c: dict[str, Any], result: StepResult,
                     deadline: StepDeadline) -> bool:
        """Advance one actor; True when it is fully erased."""
        identity = Identity(self._tenant, validate_actor_id(agentcore_actor.split(":", 1)[1]))
        if c.get("actor") != agentcore_actor:
            c.update(actor=agentcore_actor, phase="tombstone", sub={})
        if c["phase"] == "tombstone":
            self._lc.table.put_tombstone(identity.tenant_id, identity.actor_id, job_id=self._job_id,
                                         forgotten_at=self._started_ms)
            c.update(phase="events", sub={})
        for phase in ("events", "records", "agent"):
            if c["phase"] != phase:
                continue
            eraser = self._phase_eraser(phase, identity)
            if eraser is not None:
                step = eraser.step(c["sub"], deadline)
                result.deleted += step.deleted
                result.details[phase] = result.details.get(phase, 0) + step.deleted
                c["sub"] = step.cursor
                if not step.done:
                    return False
            c.update(phase={"events": "records", "records": "agent", "agent": "done"}[phase], sub={})
        for key in ("actor", "phase", "sub"):
            c.pop(key, None)
        return True

    def _phase_eraser(self, phase: str, identity: Identity) -> Any:
        settings = self._lc.settings
        if phase == "events":
            return EventsEraser(self._client, settings.memory_id, identity.agentcore_actor_id, pool=delete_pool(),
                                sleep=self._lc._sleep)
        if phase == "records":
            return RecordsEraser(self._client, settings.memory_id, identity.agentcore_actor_id, sleep=self._lc._sleep)
        return self._lc.agent_memory_eraser([identity])
