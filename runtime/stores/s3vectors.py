"""Long-term memory in Amazon S3 Vectors: one index per user, reached only with that user's vended credentials.

The index is ``<index_prefix><tenant_id>.<user hash>`` (``runtime.contract.memory.user_index_name``) in one
vector bucket, created on the user's first write and tagged ``TenantID``/``ActorID``. Every read and write goes
through ``broker.client("s3vectors", tenant_id, actor_id)``, whose credentials IAM limits to indexes named for
the session's tenant *and* tagged with its own tags, so a bug that builds the wrong index name gets
AccessDenied instead of another user's data. Listing or forgetting a user reads that user's index only.

Every returned record's metadata is still re-checked against the query's actor (a second line behind IAM).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectTimeoutError,
    ParamValidationError,
    ReadTimeoutError,
)

from runtime.contract import memory
from runtime.errors import (
    AccessDeniedError,
    InvalidInputError,
    MemoryMeshError,
    NotFoundError,
    UpstreamError,
    UpstreamTimeoutError,
)
from runtime.identity import Identity, log_ref, validate_actor_id, validate_index_prefix, validate_tenant_id
from runtime.lifecycle.retention import expired
from runtime.records import DeleteReport, MemoryQuery, MemoryRecord
from runtime.stores import _vector_json
from runtime.stores._limits import (
    CURRENT_FILTER,
    DEFAULT_CONTENT_MAX_BYTES,
    MAX_KEYS_PER_DELETE,
    MAX_KEYS_PER_GET,
    MAX_LIST_PAGE,
    MAX_VECTORS_PER_PUT,
    NON_FILTERABLE_KEYS,
    DraftWriter,
    PreparedVector,
    check_vector,
    last_per_key,
    metadata_matches,
    neighbour_of,
    record_from_metadata,
    similarity_from_distance,
    summary_key,
    validate_content_max_bytes,
    validate_dimension,
    validate_epoch,
    validate_query,
    vector_filter,
)
from runtime.stores.consolidation import DEFAULT_POLICY, STATE_CURRENT, ConsolidationPolicy, Neighbour

__all__ = ["S3VectorsMemoryStore", "summary_key"]

logger = logging.getLogger(__name__)

_SERVICE = "s3vectors"
_THROTTLED = {"TooManyRequestsException", "ThrottlingException", "ServiceUnavailableException", "SlowDown"}
_TIMED_OUT = {"RequestTimeoutException", "RequestTimeout"}


class S3VectorsMemoryStore(DraftWriter):
    """Tenant-isolated vector memory on S3 Vectors (a :class:`runtime.records.MemoryBackend` named "s3vectors")."""

    name = "s3vectors"

    def __init__(
        self,
        broker: Any,
        *,
        bucket_name: str,
        index_prefix: str,
        embedder: Any,
        content_max_bytes: int = DEFAULT_CONTENT_MAX_BYTES,
        distance_metric: str = "cosine",
        clock: Callable[[], float] = time.time,
        index_dimension: int | None = None,
        consolidation: ConsolidationPolicy | None = None,
    ) -> None:
        self.consolidation = consolidation
        if not isinstance(bucket_name, str) or not 3 <= len(bucket_name) <= 63:
            raise InvalidInputError("bucket_name", bucket_name, "must be an S3 vector bucket name of 3-63 characters")
        self._broker = broker
        self.bucket_name = bucket_name
        self.index_prefix = validate_index_prefix(index_prefix)
        self.dimension = validate_dimension(getattr(embedder, "dimension", None), index_dimension)
        self.content_max_bytes = validate_content_max_bytes(content_max_bytes)
        if distance_metric not in memory.DISTANCE_METRICS:
            raise InvalidInputError("distance_metric", distance_metric, f"must be one of {memory.DISTANCE_METRICS}")
        self.distance_metric = distance_metric
        self._embedder = embedder
        self._clock = clock

    # -- names -------------------------------------------------------------------------------------

    def index_name(self, tenant_id: str, actor_id: str) -> str:
        """The user's index: ``<index_prefix><tenant_id>.<base32 SHA-256 of tenant and actor>``."""
        tenant_id = validate_tenant_id(tenant_id, index_prefix=self.index_prefix)
        return memory.user_index_name(self.index_prefix, tenant_id, validate_actor_id(actor_id))

    def tenant_index_prefix(self, tenant_id: str) -> str:
        """What every user index of the tenant starts with (``ListIndexes`` prefix)."""
        tenant_id = validate_tenant_id(tenant_id, index_prefix=self.index_prefix)
        return memory.tenant_index_prefix(self.index_prefix, tenant_id)

    @classmethod
    def from_settings(
        cls, broker: Any, settings: Any, embedder: Any, *, consolidation: ConsolidationPolicy | None = DEFAULT_POLICY
    ) -> S3VectorsMemoryStore:
        """The store a deployment's MESH_* settings (runtime.settings.MemorySettings) describe."""
        store = cls(
            broker,
            bucket_name=settings.vector_bucket_name,
            index_prefix=settings.index_prefix,
            embedder=embedder,
            content_max_bytes=settings.content_max_bytes,
            distance_metric=settings.distance_metric,
            index_dimension=settings.embedding_dimension,
            consolidation=consolidation,
        )
        store.tombstones = _tombstone_guard(broker, settings)
        return store

    def _client(self, tenant_id: str, actor_id: str | None) -> Any:
        return _vector_json.install(self._broker.client(_SERVICE, tenant_id, actor_id))

    # -- writes ------------------------------------------------------------------------------------

    def _write(self, identity: Identity, prepared: list[Any]) -> list[str]:
        tenant_id, actor_id = identity.tenant_id, identity.actor_id
        index = self.index_name(tenant_id, actor_id)
        client = self._client(tenant_id, actor_id)
        unique = last_per_key(prepared)
        for start in range(0, len(unique), MAX_VECTORS_PER_PUT):
            batch = unique[start : start + MAX_VECTORS_PER_PUT]
            request = {
                "vectorBucketName": self.bucket_name,
                "indexName": index,
                "vectors": [{"key": v.key, "data": {"float32": v.data}, "metadata": v.metadata} for v in batch],
            }
            try:
                self._call(client.put_vectors, "PutVectors", tenant_id, actor_id, **request)
            except _IndexMissing:
                # The user's first memory: create their index (tagged as theirs), then write again.
                self.create_user_index(tenant_id, actor_id, client=client)
                self._call(client.put_vectors, "PutVectors", tenant_id, actor_id, **request)
            except AccessDeniedError as denied:
                self._create_if_missing(client, tenant_id, actor_id, denied)
                self._call(client.put_vectors, "PutVectors", tenant_id, actor_id, **request)
        return [vector.key for vector in prepared]

    # -- one memory: consolidation and edits (all within the user's own index) -----------------------

    def _neighbours(self, identity: Identity, vector: PreparedVector, count: int) -> list[Neighbour]:
        tenant_id, actor_id = identity.tenant_id, identity.actor_id
        try:
            response = self._call(
                self._client(tenant_id, actor_id).query_vectors,
                "QueryVectors",
                tenant_id,
                actor_id,
                vectorBucketName=self.bucket_name,
                indexName=self.index_name(tenant_id, actor_id),
                topK=count,
                queryVector={"float32": vector.data},
                filter={"$and": [{"actor": {"$eq": actor_id}}, {"type": {"$eq": vector.metadata["type"]}},
                                 CURRENT_FILTER]},
                returnMetadata=True,
                returnDistance=True,
            )
        except (_IndexMissing, AccessDeniedError):
            # The user's first memory (IAM refuses a missing index too: no tags to match): nothing to consolidate.
            return []
        metric = response.get("distanceMetric", "cosine")
        return [
            neighbour_of(item["key"], similarity_from_distance(item.get("distance"), metric), item["metadata"])
            for item in response.get("vectors", [])
            if (item.get("metadata") or {}).get("actor") == actor_id
            and item["metadata"].get("state", STATE_CURRENT) == STATE_CURRENT
        ]

    def _fetch(self, identity: Identity, keys: Sequence[str]) -> list[PreparedVector]:
        tenant_id, actor_id = identity.tenant_id, identity.actor_id
        client = self._client(tenant_id, actor_id)
        found: list[PreparedVector] = []
        for start in range(0, len(keys), MAX_KEYS_PER_GET):
            try:
                response = self._call(
                    client.get_vectors,
                    "GetVectors",
                    tenant_id,
                    actor_id,
                    vectorBucketName=self.bucket_name,
                    indexName=self.index_name(tenant_id, actor_id),
                    keys=list(keys[start : start + MAX_KEYS_PER_GET]),
                    returnData=True,
                    returnMetadata=True,
                )
            except (_IndexMissing, AccessDeniedError):
                return []  # no index (IAM refuses a missing one like another user's): the user has no memories
            for item in response.get("vectors", []):
                metadata = item.get("metadata") or {}
                if metadata.get("actor") == actor_id:
                    found.append(PreparedVector(item["key"], list(item["data"]["float32"]), dict(metadata)))
        return found

    def _remove(self, identity: Identity, keys: Sequence[str]) -> None:
        tenant_id, actor_id = identity.tenant_id, identity.actor_id
        self._delete_keys(self._client(tenant_id, actor_id), self.index_name(tenant_id, actor_id), tenant_id,
                          actor_id, keys)

    def _delete_written(self, identity: Identity, keys: list[str]) -> None:
        """Remove vectors this store just wrote for the identity (forget raced the write)."""
        client = self._client(identity.tenant_id, identity.actor_id)
        index = self.index_name(identity.tenant_id, identity.actor_id)
        self._delete_keys(client, index, identity.tenant_id, identity.actor_id, list(dict.fromkeys(keys)))

    # -- reads -------------------------------------------------------------------------------------

    def search(self, query: MemoryQuery) -> list[MemoryRecord]:
        """Nearest memories of the query's actor, best first; ``score`` is 1 - cosine distance."""
        valid = validate_query(query, index_prefix=self.index_prefix)
        vector = self._embed_query(valid.text)
        client = self._client(valid.tenant_id, valid.actor_id)
        try:
            response = self._call(
                client.query_vectors,
                "QueryVectors",
                valid.tenant_id,
                valid.actor_id,
                vectorBucketName=self.bucket_name,
                indexName=self.index_name(valid.tenant_id, valid.actor_id),
                topK=valid.top_k,
                queryVector={"float32": vector},
                filter=vector_filter(valid),
                returnMetadata=True,
                returnDistance=True,
            )
        except _IndexMissing:
            return []  # no index yet: the user has no vector memories
        except AccessDeniedError:
            return []  # IAM refuses a missing index too (no tags to match): nothing of this user to return
        metric = response.get("distanceMetric", "cosine")
        records = []
        now = self._clock()
        for item in response.get("vectors", []):
            metadata = item.get("metadata") or {}
            if expired(metadata, now_s=now):
                continue  # its own TTL has passed: the retention sweep deletes it, recall already ignores it
            if not metadata_matches(metadata, valid):
                logger.warning(
                    "dropped a query result outside the query filter",
                    extra={"tenant": valid.tenant_id, "actor_ref": log_ref(valid.actor_id),
                           "operation": "QueryVectors"},
                )
                continue
            score = similarity_from_distance(item.get("distance"), metric)
            records.append(
                record_from_metadata(item["key"], metadata, tenant_id=valid.tenant_id, source=self.name, score=score)
            )
        return records[: valid.top_k]

    def _embed_query(self, text: str) -> list[float]:
        return check_vector(self._embedder.embed_one(text, for_query=True), self.dimension, field="query embedding")

    def list_actor(self, tenant_id: str, actor_id: str) -> list[MemoryRecord]:
        """Every record of one actor, newest first (pages through that user's index only)."""
        tenant_id = validate_tenant_id(tenant_id, index_prefix=self.index_prefix)
        actor_id = validate_actor_id(actor_id)
        client = self._client(tenant_id, actor_id)
        records = [
            record_from_metadata(item["key"], metadata, tenant_id=tenant_id, source=self.name, score=None)
            for item, metadata in self._scan(client, self.index_name(tenant_id, actor_id), tenant_id, actor_id)
            if metadata.get("actor") == actor_id
        ]
        records.sort(key=lambda record: (-(record.stored_at or 0), record.key))
        return records

    def list_page(
        self, tenant_id: str, actor_id: str, *, token: str | None, max_results: int
    ) -> tuple[list[MemoryRecord], str | None]:
        """One ListVectors page of the user's own index (its order) and the next token; history included."""
        tenant_id = validate_tenant_id(tenant_id, index_prefix=self.index_prefix)
        actor_id = validate_actor_id(actor_id)
        request: dict[str, Any] = {
            "vectorBucketName": self.bucket_name,
            "indexName": self.index_name(tenant_id, actor_id),
            "maxResults": max(1, min(MAX_LIST_PAGE, max_results)),
            "returnMetadata": True,
        }
        if token:
            request["nextToken"] = token
        client = self._client(tenant_id, actor_id)
        try:
            page = self._call(client.list_vectors, "ListVectors", tenant_id, actor_id, **request)
        except (_IndexMissing, AccessDeniedError):
            if token:
                raise
            return [], None  # no index yet (refused like another user's by IAM): the user has no vector memories
        records = [
            record_from_metadata(item["key"], item.get("metadata") or {}, tenant_id=tenant_id, source=self.name,
                                 score=None)
            for item in page.get("vectors", [])
            if (item.get("metadata") or {}).get("actor") == actor_id
        ]
        return records, page.get("nextToken") or None

    def _scan(self, client: Any, index: str, tenant_id: str, actor_id: str | None) -> Iterator[tuple[dict, dict]]:
        """Yield (vector, metadata) for every vector of one index, following nextToken; none if it is missing."""
        request: dict[str, Any] = {
            "vectorBucketName": self.bucket_name,
            "indexName": index,
            "maxResults": MAX_LIST_PAGE,
            "returnMetadata": True,
        }
        while True:
            try:
                page = self._call(client.list_vectors, "ListVectors", tenant_id, actor_id, **request)
            except _IndexMissing:
                if "nextToken" in request:
                    raise
                return
            except AccessDeniedError:
                if "nextToken" in request or actor_id is None:
                    raise
                return  # a missing index is refused like another user's: nothing to yield
            for item in page.get("vectors", []):
                yield item, item.get("metadata") or {}
            token = page.get("nextToken")
            if not token:
                return
            request["nextToken"] = token

    # -- deletes -----------------------------------------------------------------------------------

    def delete_actor(self, tenant_id: str, actor_id: str) -> DeleteReport:
        """Forget one actor: delete every vector of their index. Running it again deletes nothing.

        Vectors written while the scan runs may survive; run it again after the actor stops writing.
        """
        tenant_id = validate_tenant_id(tenant_id, index_prefix=self.index_prefix)
        actor_id = validate_actor_id(actor_id)
        client = self._client(tenant_id, actor_id)
        index = self.index_name(tenant_id, actor_id)
        keys = [item["key"] for item, _ in self._scan(client, index, tenant_id, actor_id)]
        self._delete_keys(client, index, tenant_id, actor_id, keys)
        logger.info("deleted actor vectors",
                    extra={"tenant": tenant_id, "actor_ref": log_ref(actor_id), "deleted": len(keys)})
        return DeleteReport(backend=self.name, deleted=len(keys), keys=tuple(keys))

    def delete_older_than(self, index_name: str, cutoff_epoch: float, *, client: Any) -> DeleteReport:
        """Retention: delete one user index's vectors stored before ``cutoff_epoch``, with the sweeper's client.

        Vectors without a numeric ``stored_at`` were not written by this store and are left alone.
        """
        tenant_id = self.tenant_of_index(index_name)
        cutoff = validate_epoch(cutoff_epoch, "cutoff_epoch")
        keys = []
        for item, metadata in self._scan(client, index_name, tenant_id, None):
            stored_at = metadata.get("stored_at")
            if isinstance(stored_at, (int, float)) and not isinstance(stored_at, bool) and stored_at < cutoff:
                keys.append(item["key"])
        self._delete_keys(client, index_name, tenant_id, None, keys)
        logger.info("retention deleted vectors", extra={"tenant": tenant_id, "cutoff": cutoff, "deleted": len(keys)})
        return DeleteReport(backend=self.name, deleted=len(keys), keys=tuple(keys))

    def tenant_of_index(self, index_name: Any) -> str:
        """The tenant of a user index name (``<prefix><tenant>.<user>``); InvalidInputError for any other name."""
        tenant, dot, user = str(index_name)[len(self.index_prefix):].partition(".")
        if not (isinstance(index_name, str) and index_name.startswith(self.index_prefix) and dot and user):
            raise InvalidInputError("index_name", index_name,
                                    f"must be a user index '{self.index_prefix}<tenant>.<user>'")
        return validate_tenant_id(tenant, index_prefix=self.index_prefix)

    def _delete_keys(self, client: Any, index: str, tenant_id: str, actor_id: str | None, keys: Sequence[str]) -> None:
        for start in range(0, len(keys), MAX_KEYS_PER_DELETE):
            self._call(
                client.delete_vectors,
                "DeleteVectors",
                tenant_id,
                actor_id,
                vectorBucketName=self.bucket_name,
                indexName=index,
                keys=list(keys[start : start + MAX_KEYS_PER_DELETE]),
            )

    # -- index management ------------------------------------------------------------------------------

    def create_user_index(self, tenant_id: str, actor_id: str, *, client: Any | None = None) -> bool:
        """Create the user's index, tagged ``TenantID``/``ActorID`` (IAM matches the tags to the session's);
        False when it already exists. It inherits the bucket's encryption (the mesh's KMS key)."""
        tenant_id = validate_tenant_id(tenant_id, index_prefix=self.index_prefix)
        actor_id = validate_actor_id(actor_id)
        client = client if client is not None else self._client(tenant_id, actor_id)
        request: dict[str, Any] = {
            "vectorBucketName": self.bucket_name,
            "indexName": self.index_name(tenant_id, actor_id),
            "dataType": "float32",
            "dimension": self.dimension,
            "distanceMetric": self.distance_metric,
            "metadataConfiguration": {"nonFilterableMetadataKeys": list(NON_FILTERABLE_KEYS)},
            "tags": {memory.TENANT_TAG: tenant_id, memory.ACTOR_TAG: actor_id},
        }
        try:
            self._call(client.create_index, "CreateIndex", tenant_id, actor_id, **request)
        except _IndexExists:
            return False
        return True

    def _create_if_missing(self, client: Any, tenant_id: str, actor_id: str, denied: AccessDeniedError) -> None:
        """IAM refuses a call on an index that does not exist yet (its tag conditions have no tags to match), so a
        denial on the user's own index may mean "no index yet": create it; if it already exists, the denial holds."""
        if not self.create_user_index(tenant_id, actor_id, client=client):
            raise denied

    # -- error mapping -----------------------------------------------------------------------------

    def _call(
        self, method: Callable[..., Any], operation: str, tenant_id: str, actor_id: str | None, **request: Any
    ) -> Any:
        try:
            return method(**request)
        except ClientError as error:
            raise self._translate(error, operation, tenant_id, actor_id) from None
        except (ReadTimeoutError, ConnectTimeoutError):
            _log_failure(operation, tenant_id, actor_id, "Timeout")
            raise UpstreamTimeoutError(f"S3 Vectors {operation} timed out for tenant {tenant_id!r}") from None
        except ParamValidationError:
            _log_failure(operation, tenant_id, actor_id, "ParamValidation")
            raise MemoryMeshError(f"S3 Vectors {operation} request failed client-side validation") from None
        except BotoCoreError as error:
            _log_failure(operation, tenant_id, actor_id, type(error).__name__)
            raise UpstreamError(f"S3 Vectors {operation} failed for tenant {tenant_id!r}") from None

    def _translate(self, error: ClientError, operation: str, tenant_id: str, actor_id: str | None) -> MemoryMeshError:
        code = error.response.get("Error", {}).get("Code", "")
        _log_failure(operation, tenant_id, actor_id, code)
        if code in ("AccessDeniedException", "AccessDenied"):
            return AccessDeniedError(
                f"S3 Vectors {operation} on a memory index of tenant {tenant_id!r} was denied"
            )
        if code in ("NotFoundException", "NoSuchIndex", "ResourceNotFoundException"):
            message = str(error.response.get("Error", {}).get("Message", ""))
            if "bucket" in message.lower():
                # A missing bucket is a broken deployment, never "no memories yet".
                return UpstreamError(f"vector bucket {self.bucket_name!r} does not exist")
            return _IndexMissing(f"the memory index of a user of tenant {tenant_id!r} does not exist")
        if code == "ConflictException" and operation == "CreateIndex":
            return _IndexExists("the user's memory index already exists")
        if code == "ValidationException":
            return InvalidInputError(
                operation,
                f"vector bucket {self.bucket_name!r}",
                "S3 Vectors rejected the request; check that the index dimension matches the embedder "
                f"({self.dimension}) and the metadata limits",
            )
        if code in _TIMED_OUT:
            return UpstreamTimeoutError(f"S3 Vectors {operation} timed out for tenant {tenant_id!r}")
        if code in _THROTTLED:
            return UpstreamError(f"S3 Vectors {operation} is throttled for tenant {tenant_id!r}; retry later")
        return UpstreamError(f"S3 Vectors {operation} failed for tenant {tenant_id!r} ({code or 'unknown error'})")


def _tombstone_guard(broker: Any, settings: Any) -> Any:
    from runtime.lifecycle.tombstones import guard_from_settings

    return guard_from_settings(broker, settings)


class _IndexMissing(NotFoundError):
    """The user's index does not exist yet: no vector memories (created on the first write)."""


class _IndexExists(MemoryMeshError):
    """CreateIndex found the index already there (internal signal of :meth:`create_user_index`)."""


def _log_failure(operation: str, tenant_id: str, actor_id: str | None, code: str) -> None:
    logger.warning(
        "S3 Vectors call failed",
        extra={"operation": operation, "tenant": tenant_id, "actor_ref": log_ref(actor_id), "error_code": code},
    )
