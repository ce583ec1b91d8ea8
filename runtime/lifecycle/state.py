"""The mesh state table as the lifecycle code uses it: tombstones, jobs, tenant records and sweep cursors.

Items are JSON documents in one ``doc`` string attribute beside the key (and ``expires_at`` for DynamoDB's TTL),
so a job's nested progress needs no type mapping; every write of a job is conditioned on its ``version``, so
two steps of one job can never both advance it (a redelivered step loses the race and stops).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from runtime.contract import state
from runtime.errors import AccessDeniedError, MemoryMeshError, UpstreamError

__all__ = ["StaleJobError", "StateTable"]

_DOC = "doc"
_VERSION = "version"


class StaleJobError(MemoryMeshError):
    """Another step advanced the job first (a redelivered or concurrent step): this one stops."""

    status = 409
    code = "StaleJob"


class StateTable:
    """Reads and writes the state table's items through ``client`` (a ``dynamodb`` client)."""

    def __init__(self, client: Any, table_name: str, *, clock: Callable[[], float] = time.time) -> None:
        self._client = client
        self.table_name = table_name
        self._clock = clock

    # -- tombstones ---------------------------------------------------------------------------------------

    def forgotten_at(self, tenant_id: str, actor_id: str) -> int | None:
        """When the user was forgotten (epoch ms), or None (strongly consistent: a new tombstone is seen)."""
        item = self._get(state.tombstone_key(tenant_id, actor_id))
        return int(item["forgotten_at"]) if item is not None else None

    def put_tombstone(self, tenant_id: str, actor_id: str, *, job_id: str, forgotten_at: int) -> None:
        """Record (or move forward) the user's tombstone; it never expires."""
        self._put(state.tombstone_key(tenant_id, actor_id), {"forgotten_at": forgotten_at, "job_id": job_id})

    # -- jobs ---------------------------------------------------------------------------------------------

    def create_job(self, job: Mapping[str, Any], *, ttl_s: int) -> None:
        """Write a new job (version 1); fails if the id is taken."""
        self._put(state.job_key(job["job_id"]), {**job, _VERSION: 1}, ttl_s=ttl_s,
                  condition="attribute_not_exists(pk)")

    def get_job(self, job_id: str) -> dict[str, Any] | None:
        """The job's document, or None."""
        return self._get(state.job_key(job_id))

    def save_job(self, job: dict[str, Any], *, ttl_s: int) -> None:
        """Write the job if nobody else wrote it since it was read; bumps its version (StaleJobError otherwise)."""
        previous = int(job.get(_VERSION, 1))
        job[_VERSION] = previous + 1
        try:
            self._put(state.job_key(job["job_id"]), job, ttl_s=ttl_s, condition="#v = :v",
                      names={"#v": _VERSION}, values={":v": {"N": str(previous)}})
        except StaleJobError:
            job[_VERSION] = previous
            raise

    # -- tenant records and sweep cursors ----------------------------------------------------------------------

    def get_tenant(self, tenant_id: str) -> dict[str, Any] | None:
        """The tenant's onboarding record, or None (never onboarded, or offboarded)."""
        record = self._get(state.tenant_key(tenant_id))
        return None if record is None or record.get("offboarded_at") else record

    def put_tenant(self, tenant_id: str, record: Mapping[str, Any]) -> None:
        """Write the tenant's onboarding record."""
        self._put(state.tenant_key(tenant_id), record)

    def retire_tenant(self, tenant_id: str, *, job_id: str, at: str, ttl_s: int) -> bool:
        """Replace the tenant's record by a marker that DynamoDB's TTL removes; True when there was a record.

        The functions may put items, not delete them: the marker keeps nothing of the record.
        """
        existed = self.get_tenant(tenant_id) is not None
        self._put(state.tenant_key(tenant_id), {"offboarded_at": at, "job_id": job_id}, ttl_s=ttl_s)
        return existed

    def get_cursor(self, name: str = state.RETENTION_SWEEP) -> dict[str, Any] | None:
        """A sweep's cursor, or None."""
        return self._get(state.sweep_key(name))

    def put_cursor(self, cursor: Mapping[str, Any], name: str = state.RETENTION_SWEEP) -> None:
        """Write a sweep's cursor."""
        self._put(state.sweep_key(name), cursor)

    # -- items ------------------------------------------------------------------------------------------------

    def _get(self, key: Mapping[str, str]) -> dict[str, Any] | None:
        answer = self._call("GetItem", self._client.get_item, TableName=self.table_name, Key=_key(key),
                            ConsistentRead=True)
        item = answer.get("Item")
        if not item:
            return None
        document = json.loads(item[_DOC]["S"])
        if _VERSION in item:
            document[_VERSION] = int(item[_VERSION]["N"])
        return document

    def _put(self, key: Mapping[str, str], document: Mapping[str, Any], *, ttl_s: int | None = None,
             condition: str | None = None, names: Mapping[str, str] | None = None,
             values: Mapping[str, Any] | None = None) -> None:
        body = {k: v for k, v in document.items() if k != _VERSION}
        item: dict[str, Any] = {**_key(key), _DOC: {"S": json.dumps(body, separators=(",", ":"), sort_keys=True)}}
        if _VERSION in document:
            item[_VERSION] = {"N": str(int(document[_VERSION]))}
        if ttl_s is not None:
            item[state.TTL_ATTRIBUTE] = {"N": str(int(self._clock()) + ttl_s)}
        request: dict[str, Any] = {"TableName": self.table_name, "Item": item}
        if condition:
            request["ConditionExpression"] = condition
        if names:
            request["ExpressionAttributeNames"] = dict(names)
        if values:
            request["ExpressionAttributeValues"] = dict(values)
        self._call("PutItem", self._client.put_item, **request)

    def _call(self, operation: str, method: Callable[..., Any], **request: Any) -> Any:
        try:
            return method(**request)
        except ClientError as error:
            code = error.response.get("Error", {}).get("Code", "")
            if code == "ConditionalCheckFailedException":
                raise StaleJobError(f"the state table's {operation} lost to a concurrent write") from None
            if code in ("AccessDeniedException", "AccessDenied"):
                raise AccessDeniedError(f"DynamoDB {operation} on the mesh state table was denied") from None
            raise UpstreamError(f"DynamoDB {operation} on the mesh state table failed ({code or 'error'})") from None
        except BotoCoreError as error:
            raise UpstreamError(f"DynamoDB {operation} on the mesh state table failed ({type(error).__name__})") \
                from None


def _key(key: Mapping[str, str]) -> dict[str, dict[str, str]]:
    return {name: {"S": value} for name, value in key.items()}
