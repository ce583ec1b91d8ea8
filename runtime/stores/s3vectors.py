"""Long-term memory in Amazon S3 Vectors: one index per tenant, reached only with tenant-scoped credentials.

The index is ``<index_prefix><tenant_id>`` in one vector bucket. Every read and write goes through
``broker.client("s3vectors", tenant_id, actor_id)``, whose credentials IAM limits to that tenant's index, so
a bug that builds the wrong index name gets AccessDenied instead of another tenant's data.

Search and listing never return another actor's record: queries always filter on ``actor``, ``list_vectors``
(which has no server-side filter) is filtered here, and every returned record's metadata is re-checked.
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

from runtime.errors import (
    AccessDeniedError,
    InvalidInputError,
    MemoryMeshError,
    NotFoundError,
    UpstreamError,
    UpstreamTimeoutError,
)
from runtime.identity import Identity, log_ref, validate_actor_id, validate_index_prefix, validate_tenant_id
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
        self._embedder = embedder
        self._clock = clock

    # -- names -------------------------------------------------------------------------------------

    def index_name(self, tenant_id: str) -> str:
        """The tenant's index: ``<index_prefix><tenant_id>``."""
        return self.index_prefix + validate_tenant_id(tenant_id, index_prefix=self.index_prefix)

    @classmethod
    def from_settings(
        cls, broker: Any, settings: Any, embedder: Any, *, consolidation: ConsolidationPolicy | None = DEFAULT_POLICY
    ) -> S3VectorsMemoryStore:
        """The store a deployment's MESH_* settings (runtime.settings.MemorySettings) describe."""
        return cls(
            broker,
            bucket_name=settings.vector_bucket_name,
            index_prefix=settings.index_prefix,
            embedder=embedder,
            content_max_bytes=settings.content_max_bytes,
            index_dimension=settings.embedding_dimension,
            consolidation=consolidation,
        )

    def _client(self, tenant_id: str, actor_id: str | None) -> Any:
        return _vector_json.install(self._broker.client(_SERVICE, tenant_id, actor_id))

    # -- writes ------------------------------------------------------------------------------------

    def _write(self, identity: Identity, prepared: list[Any]) -> list[str]:
        tenant_id, actor_id = identity.tenant_id, identity.actor_id
        index = self.index_name(tenant_id)
        client = self._client(tenant_id, actor_id)
        unique = last_per_key(prepared)
        for start in range(0, len(unique), MAX_VECTORS_PER_PUT):
            batch = unique[start : start + MAX_VECTORS_PER_PUT]
            self._call(
                client.put_vectors,
                "PutVectors",
                tenant_id,
                actor_id,
                vectorBucketName=self.bucket_name,
                indexName=index,
                vectors=[{"key": v.key, "data": {"float32": v.data}, "metadata": v.metadata} for v in batch],
            )
        return [vector.key for vector in prepared]

    # -- one memory: consolidation and edits (all within the user's own index) -----------------------

    def _neighbours(self, identity: Identity, vector: PreparedVector, count: int) -> list[Neighbour]:
        tenant_id, actor_id = identity.tenant_id, identity.actor_id
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
            for item in response.get("vectors", []):
                metadata = item.get("metadata") or {}
                if metadata.get("actor") == actor_id:
                    found.append(PreparedVector(item["key"], list(item["data"]["float32"]), dict(metadata)))
        return found

    def _remove(self, identity: Identity, keys: Sequence[str]) -> None:
        self._delete_keys(self._client(identity.tenant_id, identity.actor_id), identity.tenant_id,
                          identity.actor_id, keys)

    # -- reads -------------------------------------------------------------------------------------

    def search(self, query: MemoryQuery) -> list[MemoryRecord]:
        """Nearest memories of the query's actor, best first; ``score`` is 1 - cosine distance."""
        valid = validate_query(query, index_prefix=self.index_prefix)
        vector = self._embed_query(valid.text)
        client = self._client(valid.tenant_id, valid.actor_id)
        response = self._call(
            client.query_vectors,
            "QueryVectors",
            valid.tenant_id,
            valid.actor_id,
            vectorBucketName=self.bucket_name,
            indexName=self.index_name(valid.tenant_id),
            topK=valid.top_k,
            queryVector={"float32": vector},
            filter=vector_filter(valid),
            returnMetadata=True,
            returnDistance=True,
        )
        metric = response.get("distanceMetric", "cosine")
        records = []
        for item in response.get("vectors", []):
            metadata = item.get("metadata") or {}
            if not metadata_matches(metadata, valid):
                logger.warning(
                    "dropped a query result outside the query filter",
                    extra={"tenant": valid.tenant_id, "actor_ref": log_ref(valid.actor_id), "operation": "QueryVectors"},
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
        """Every record of one actor, newest first (pages through the whole index; keeps only that actor)."""
        tenant_id = validate_tenant_id(tenant_id, index_prefix=self.index_prefix)
        actor_id = validate_actor_id(actor_id)
        client = self._client(tenant_id, actor_id)
        records = [
            record_from_metadata(item["key"], metadata, tenant_id=tenant_id, source=self.name, score=None)
            for item, metadata in self._scan(client, tenant_id, actor_id)
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
        page = self._call(client.list_vectors, "ListVectors", tenant_id, actor_id, **request)
        records = [
            record_from_metadata(item["key"], item.get("metadata") or {}, tenant_id=tenant_id, source=self.name,
                                 score=None)
            for item in page.get("vectors", [])
            if (item.get("metadata") or {}).get("actor") == actor_id
        ]
        return records, page.get("nextToken") or None

    def _scan(self, client: Any, tenant_id: str, actor_id: str | None) -> Iterator[tuple[dict, dict]]:
        """Yield (vector, metadata) for every vector of the tenant's index, following nextToken."""
        request: dict[str, Any] = {
            "vectorBucketName": self.bucket_name,
            "indexName": self.index_name(tenant_id),
            "maxResults": MAX_LIST_PAGE,
            "returnMetadata": True,
        }
        while True:
            page = self._call(client.list_vectors, "ListVectors", tenant_id, actor_id, **request)
            for item in page.get("vectors", []):
                yield item, item.get("metadata") or {}
            token = page.get("nextToken")
            if not token:
                return
            request["nextToken"] = token

    # -- deletes -----------------------------------------------------------------------------------

    def delete_actor(self, tenant_id: str, actor_id: str) -> DeleteReport:
        """Forget one actor: delete every vector whose ``actor`` is theirs. Running it again deletes nothing.

        Vectors written while the scan runs may survive; run it again after the actor stops writing.
        """
        tenant_id = validate_tenant_id(tenant_id, index_prefix=self.index_prefix)
        actor_id = validate_actor_id(actor_id)
        client = self._client(tenant_id, actor_id)
        scan = self._scan(client, tenant_id, actor_id)
        keys = [item["key"] for item, metadata in scan if metadata.get("actor") == actor_id]
        self._delete_keys(client, tenant_id, actor_id, keys)
        logger.info("deleted actor vectors", extra={"tenant": tenant_id, "actor_ref": log_ref(actor_id), "deleted": len(keys)})
        return DeleteReport(backend=self.name, deleted=len(keys), keys=tuple(keys))

    def delete_older_than(self, tenant_id: str, cutoff_epoch: float, *, client: Any = None) -> DeleteReport:
        """Retention: delete the tenant's vectors stored before ``cutoff_epoch`` (any actor).

        ``client`` lets the retention sweeper use its own role; by default a tenant-scoped client is used.
        Vectors without a numeric ``stored_at`` were not written by this store and are left alone.
        """
        tenant_id = validate_tenant_id(tenant_id, index_prefix=self.index_prefix)
        cutoff = validate_epoch(cutoff_epoch, "cutoff_epoch")
        client = client if client is not None else self._client(tenant_id, None)
        keys = []
        for item, metadata in self._scan(client, tenant_id, None):
            stored_at = metadata.get("stored_at")
            if isinstance(stored_at, (int, float)) and not isinstance(stored_at, bool) and stored_at < cutoff:
                keys.append(item["key"])
        self._delete_keys(client, tenant_id, None, keys)
        logger.info("retention deleted vectors", extra={"tenant": tenant_id, "cutoff": cutoff, "deleted": len(keys)})
        return DeleteReport(backend=self.name, deleted=len(keys), keys=tuple(keys))

    def _delete_keys(self, client: Any, tenant_id: str, actor_id: str | None, keys: Sequence[str]) -> None:
        index = self.index_name(tenant_id)
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

    # -- index management (onboarding; takes the caller's own client) ---------------------------------

    def create_tenant_index(
        self,
        tenant_id: str,
        *,
        client: Any,
        distance_metric: str = "cosine",
        kms_key_arn: str | None = None,
    ) -> bool:
        """Create the tenant's index (``content`` non-filterable); False when it already exists."""
        tenant_id = validate_tenant_id(tenant_id, index_prefix=self.index_prefix)
        if distance_metric not in ("cosine", "euclidean"):
            raise InvalidInputError("distance_metric", distance_metric, "must be 'cosine' or 'euclidean'")
        request: dict[str, Any] = {
            "vectorBucketName": self.bucket_name,
            "indexName": self.index_name(tenant_id),
            "dataType": "float32",
            "dimension": self.dimension,
            "distanceMetric": distance_metric,
            "metadataConfiguration": {"nonFilterableMetadataKeys": list(NON_FILTERABLE_KEYS)},
        }
        if kms_key_arn:
            request["encryptionConfiguration"] = {"sseType": "aws:kms", "kmsKeyArn": kms_key_arn}
        try:
            self._call(client.create_index, "CreateIndex", tenant_id, None, **request)
        except _IndexExists:
            return False
        return True

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
        index = self.index_prefix + tenant_id
        if code in ("AccessDeniedException", "AccessDenied"):
            return AccessDeniedError(
                f"S3 Vectors {operation} on the memory index of tenant {tenant_id!r} was denied"
            )
        if code in ("NotFoundException", "NoSuchIndex", "ResourceNotFoundException"):
            return NotFoundError(
                f"memory index {index!r} of tenant {tenant_id!r} does not exist in vector bucket "
                f"{self.bucket_name!r}; onboard the tenant first"
            )
        if code == "ConflictException" and operation == "CreateIndex":
            return _IndexExists(f"memory index {index!r} already exists")
        if code == "ValidationException":
            return InvalidInputError(
                operation,
                index,
                "S3 Vectors rejected the request; check that the index dimension matches the embedder "
                f"({self.dimension}) and the metadata limits",
            )
        if code in _TIMED_OUT:
            return UpstreamTimeoutError(f"S3 Vectors {operation} timed out for tenant {tenant_id!r}")
        if code in _THROTTLED:
            return UpstreamError(f"S3 Vectors {operation} is throttled for tenant {tenant_id!r}; retry later")
        return UpstreamError(f"S3 Vectors {operation} failed for tenant {tenant_id!r} ({code or 'unknown error'})")


class _IndexExists(MemoryMeshError):
    """CreateIndex found the index already there (internal signal of :meth:`create_tenant_index`)."""


def _log_failure(operation: str, tenant_id: str, actor_id: str | None, code: str) -> None:
    logger.warning(
        "S3 Vectors call failed",
        extra={"operation": operation, "tenant": tenant_id, "actor_ref": log_ref(actor_id), "error_code": code},
    )
