"""In-process Amazon S3 Vectors: every operation of the 2025-07-15 API, with the service's limits and errors.

The fake owns all S3 Vectors state instead of layering QueryVectors over moto's backend: moto 5.2.5 keeps no
creationTime, metadataConfiguration, encryption or index mode (GetIndex/GetVectorBucket answers miss required
members), stores vectors as sent rather than as float32, and enforces only the dimension, so reusing it would
mean shadowing and re-validating every field anyway.

Limits that the botocore model declares (500 vectors per put or delete, 100 keys per get, 1,000 per list page,
key and name lengths, dimension <= 4,096, <= 10 non-filterable keys, enums) are enforced for every service
call by ``runtime.testing.aws`` from the model itself; this module enforces the rest. Source for the numbers:
https://docs.aws.amazon.com/AmazonS3/latest/userguide/s3-vectors-limitations.html ("Limitations").
"""

from __future__ import annotations

import base64
import binascii
import datetime as _dt
import functools
import json
import math
import re
import threading
import zlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from runtime.testing._model import ServiceError

# Limitations page: "Top-K results per QueryVectors request: Up to 100" (the model only declares min 1).
MAX_TOP_K = 100
# Limitations page: "Total metadata per vector: Up to 40 KB (filterable + non-filterable)".
MAX_METADATA_BYTES = 40 * 1024
# Limitations page: "Filterable metadata per vector: Up to 2 KB".
MAX_FILTERABLE_METADATA_BYTES = 2 * 1024
# Limitations page: "Total metadata keys per vector: Up to 50".
MAX_METADATA_KEYS = 50
# Limitations page: 10,000 vector buckets per Region per account and 10,000 indexes per bucket.
MAX_BUCKETS_PER_REGION = 10_000
MAX_INDEXES_PER_BUCKET = 10_000
# ListVectors API reference: default page of 500; a page also stops once it holds about 1 MB of data.
DEFAULT_LIST_PAGE = 500
LIST_PAGE_BYTES = 1024 * 1024
DEFAULT_NAME_PAGE = 500
# PutVectors API reference: values are stored as float32; NaN and Infinity are rejected.
FLOAT32_MAX = float(np.finfo(np.float32).max)
# Vector bucket naming rules (userguide/s3-vectors-buckets-naming.html): 3-63 of a-z 0-9 '-', alnum at both ends.
_BUCKET_NAME = re.compile(r"[a-z0-9][a-z0-9-]{1,61}[a-z0-9]")
# Index names: 3-63 of a-z 0-9 '-' '.', alnum at both ends (the IndexArn pattern of the botocore model).
_INDEX_NAME = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
_ARN = re.compile(
    r"arn:(?P<partition>aws[-a-z0-9]*):s3vectors:(?P<region>[a-z0-9-]+):(?P<account>[0-9]{12}):"
    r"bucket/(?P<bucket>[a-z0-9][a-z0-9.-]*[a-z0-9])(?:/index/(?P<index>[a-z0-9][a-z0-9.-]*[a-z0-9]))?"
)
_TOKEN = re.compile(r"\w+", re.UNICODE)
_LOGICAL = ("$and", "$or")
_COMPARISONS = ("$eq", "$ne", "$gt", "$gte", "$lt", "$lte", "$in", "$nin", "$exists")


def partition_for(region: str) -> str:
    """The ARN partition of a region."""
    if region.startswith("cn-"):
        return "aws-cn"
    if region.startswith("us-gov-"):
        return "aws-us-gov"
    return "aws"


def _validation(message: str) -> ServiceError:
    return ServiceError("ValidationException", message)


def _json_size(value: Any) -> int:
    # The service does not publish how it sizes metadata; compact UTF-8 JSON is the fake's measure.
    return len(json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode())


@dataclass
class StoredVector:
    """One vector as the service keeps it: float32 data and the metadata document."""

    key: str
    data: list[float]
    metadata: dict[str, Any] | None


@dataclass
class VectorIndex:
    """A vector index and its vectors."""

    bucket_name: str
    name: str
    arn: str
    creation_time: _dt.datetime
    dimension: int
    distance_metric: str
    data_type: str = "float32"
    non_filterable_keys: tuple[str, ...] = ()
    text_search: dict[str, dict[str, str]] = field(default_factory=dict)
    encryption: dict[str, str] | None = None
    index_mode: str = "CLASSIC"
    tags: dict[str, str] = field(default_factory=dict)
    vectors: dict[str, StoredVector] = field(default_factory=dict)
    _matrix: tuple[list[str], Any] | None = field(default=None, repr=False)

    def changed(self) -> None:
        """Drop the cached matrix after a write."""
        self._matrix = None

    def matrix(self) -> tuple[list[str], Any]:
        """Keys in sorted order and their float32 rows, rebuilt after writes."""
        if self._matrix is None:
            keys = sorted(self.vectors)
            rows = np.asarray([self.vectors[k].data for k in keys], dtype=np.float32)
            self._matrix = (keys, rows.reshape(len(keys), self.dimension))
        return self._matrix

    def describe(self) -> dict[str, Any]:
        """The index as GetIndex returns it."""
        answer: dict[str, Any] = {
            "vectorBucketName": self.bucket_name,
            "indexName": self.name,
            "indexArn": self.arn,
            "creationTime": self.creation_time,
            "dataType": self.data_type,
            "dimension": self.dimension,
            "distanceMetric": self.distance_metric,
            "indexMode": self.index_mode,
        }
        config: dict[str, Any] = {}
        if self.non_filterable_keys:
            config["nonFilterableMetadataKeys"] = list(self.non_filterable_keys)
        if self.text_search:
            config["textSearchConfigurations"] = list(self.text_search.values())
        if config:
            answer["metadataConfiguration"] = config
        if self.encryption:
            answer["encryptionConfiguration"] = dict(self.encryption)
        return answer


@dataclass
class VectorBucket:
    """A vector bucket and its indexes."""

    name: str
    arn: str
    creation_time: _dt.datetime
    encryption: dict[str, str]
    default_index_mode: str | None = None
    policy: str | None = None
    tags: dict[str, str] = field(default_factory=dict)
    indexes: dict[str, VectorIndex] = field(default_factory=dict)


class FakeS3Vectors:
    """The S3 Vectors state of one emulated account, per region; ``handle`` serves one API call."""

    def __init__(self, account_id: str, *, region: str, clock: Callable[[], float] | None = None) -> None:
        self.account_id = account_id
        self.default_region = region
        self._clock = clock
        self._lock = threading.RLock()
        self._regions: dict[str, dict[str, VectorBucket]] = {}

    # ----------------------------------------------------------------------------------------- helpers

    def bucket(self, name: str, *, region: str | None = None) -> VectorBucket:
        """A bucket's state, for assertions in tests."""
        with self._lock:
            return self._bucket_named(region or self.default_region, name)

    def index(self, bucket: str, name: str, *, region: str | None = None) -> VectorIndex:
        """An index's state (vectors included), for assertions in tests."""
        with self._lock:
            return self._index_in(self._bucket_named(region or self.default_region, bucket), name)

    def tags_of(self, arn: str, region: str) -> dict[str, str]:
        """The tags of a bucket or index ARN; empty when it does not exist (IAM then sees no resource tags)."""
        with self._lock:
            try:
                return dict(self._resource(arn, region).tags)
            except ServiceError:
                return {}

    def handle(self, operation: str, params: Mapping[str, Any], region: str) -> dict[str, Any]:
        """Serve one call; returns the wire-form answer or raises ``ServiceError``."""
        handler = getattr(self, "_op_" + _snake(operation), None)
        if handler is None:
            raise NotImplementedError(f"runtime.testing: s3vectors {operation} is not emulated")
        with self._lock:
            return handler(dict(params), region)

    # ------------------------------------------------------------------------------------ resolution

    def _now(self) -> _dt.datetime:
        seconds = self._clock() if self._clock else None
        if seconds is None:
            return _dt.datetime.now(_dt.UTC)
        return _dt.datetime.fromtimestamp(seconds, _dt.UTC)

    def _buckets(self, region: str) -> dict[str, VectorBucket]:
        return self._regions.setdefault(region, {})

    def _bucket_named(self, region: str, name: str) -> VectorBucket:
        bucket = self._buckets(region).get(name)
        if bucket is None:
            raise ServiceError("NotFoundException", "The specified vector bucket could not be found")
        return bucket

    def _parse_arn(self, arn: str, region: str, *, want_index: bool) -> tuple[str, str | None]:
        match = _ARN.fullmatch(arn)
        if match is None or bool(match["index"]) != want_index:
            raise _validation(f"Invalid {'index' if want_index else 'vector bucket'} ARN: {arn}")
        if match["region"] != region or match["account"] != self.account_id:
            what = "index" if want_index else "vector bucket"
            raise ServiceError("NotFoundException", f"The specified {what} could not be found")
        return match["bucket"], match["index"]

    def _resolve_bucket(self, params: Mapping[str, Any], region: str) -> VectorBucket:
        name, arn = params.get("vectorBucketName"), params.get("vectorBucketArn")
        if bool(name) == bool(arn):
            raise _validation("Must specify either vectorBucketName or vectorBucketArn but not both")
        if arn:
            name, _ = self._parse_arn(arn, region, want_index=False)
        return self._bucket_named(region, str(name))

    @staticmethod
    def _index_in(bucket: VectorBucket, name: str) -> VectorIndex:
        index = bucket.indexes.get(name)
        if index is None:
            raise ServiceError("NotFoundException", "The specified index could not be found")
        return index

    def _resolve_index(self, params: Mapping[str, Any], region: str) -> VectorIndex:
        arn = params.get("indexArn")
        bucket_name, index_name = params.get("vectorBucketName"), params.get("indexName")
        if arn and (bucket_name or index_name) or not arn and not (bucket_name and index_name):
            raise _validation("Must specify either indexArn or both vectorBucketName and indexName")
        if arn:
            bucket_name, index_name = self._parse_arn(arn, region, want_index=True)
        try:
            bucket = self._bucket_named(region, str(bucket_name))
        except ServiceError:
            raise ServiceError("NotFoundException", "The specified index could not be found") from None
        return self._index_in(bucket, str(index_name))

    def _resource(self, arn: str, region: str) -> VectorBucket | VectorIndex:
        match = _ARN.fullmatch(arn or "")
        if match is None:
            raise _validation(f"Invalid resource ARN: {arn}")
        if match["region"] != region or match["account"] != self.account_id:
            raise ServiceError("NotFoundException", "The specified resource could not be found")
        bucket = self._buckets(region).get(match["bucket"])
        target = bucket.indexes.get(match["index"]) if bucket and match["index"] else bucket
        if target is None:
            raise ServiceError("NotFoundException", "The specified resource could not be found")
        return target

    # --------------------------------------------------------------------------------------- buckets

    def _op_create_vector_bucket(self, params: dict[str, Any], region: str) -> dict[str, Any]:
        name = params["vectorBucketName"]
        if not _BUCKET_NAME.fullmatch(name):
            raise _validation(
                f"Invalid vector bucket name {name!r}: use 3-63 lowercase letters, numbers and hyphens, "
                "beginning and ending with a letter or number"
            )
        buckets = self._buckets(region)
        if name in buckets:
            raise ServiceError("ConflictException", "A vector bucket with the specified name already exists")
        if len(buckets) >= MAX_BUCKETS_PER_REGION:
            raise ServiceError("ServiceQuotaExceededException", "Vector bucket quota exceeded for this Region")
        arn = f"arn:{partition_for(region)}:s3vectors:{region}:{self.account_id}:bucket/{name}"
        bucket = VectorBucket(
            name=name,
            arn=arn,
            creation_time=self._now(),
            encryption=_encryption(params.get("encryptionConfiguration")) or {"sseType": "AES256"},
            tags=dict(params.get("tags") or {}),
        )
        buckets[name] = bucket
        return {"vectorBucketArn": arn}

    def _op_get_vector_bucket(self, params: dict[str, Any], region: str) -> dict[str, Any]:
        bucket = self._resolve_bucket(params, region)
        answer: dict[str, Any] = {
            "vectorBucketName": bucket.name,
            "vectorBucketArn": bucket.arn,
            "creationTime": bucket.creation_time,
            "encryptionConfiguration": dict(bucket.encryption),
        }
        if bucket.default_index_mode:
            answer["defaultIndexMode"] = bucket.default_index_mode
        return {"vectorBucket": answer}

    def _op_list_vector_buckets(self, params: dict[str, Any], region: str) -> dict[str, Any]:
        names = [n for n in sorted(self._buckets(region)) if n.startswith(params.get("prefix") or "")]
        page, token = _page_by_name(names, params, scope=f"buckets:{region}")
        buckets = self._buckets(region)
        summaries = [
            {"vectorBucketName": n, "vectorBucketArn": buckets[n].arn, "creationTime": buckets[n].creation_time}
            for n in page
        ]
        return {"vectorBuckets": summaries, "nextToken": token}

    def _op_delete_vector_bucket(self, params: dict[str, Any], region: str) -> dict[str, Any]:
        bucket = self._resolve_bucket(params, region)
        if bucket.indexes:
            raise ServiceError("ConflictException", "The specified vector bucket is not empty")
        del self._buckets(region)[bucket.name]
        return {}

    def _op_put_vector_bucket_policy(self, params: dict[str, Any], region: str) -> dict[str, Any]:
        bucket = self._resolve_bucket(params, region)
        try:
            document = json.loads(params["policy"])
        except (TypeError, ValueError):
            raise _validation("The policy is not valid JSON") from None
        if not isinstance(document, dict) or "Statement" not in document:
            raise _validation("The policy must be a JSON object with a Statement")
        bucket.policy = params["policy"]
        return {}

    def _op_get_vector_bucket_policy(self, params: dict[str, Any], region: str) -> dict[str, Any]:
        bucket = self._resolve_bucket(params, region)
        if bucket.policy is None:
            raise ServiceError("NotFoundException", "The specified vector bucket policy could not be found")
        return {"policy": bucket.policy}

    def _op_delete_vector_bucket_policy(self, params: dict[str, Any], region: str) -> dict[str, Any]:
        bucket = self._resolve_bucket(params, region)
        if bucket.policy is None:
            raise ServiceError("NotFoundException", "The specified vector bucket policy could not be found")
        bucket.policy = None
        return {}

    def _op_put_vector_bucket_default_index_mode(self, params: dict[str, Any], region: str) -> dict[str, Any]:
        self._resolve_bucket(params, region).default_index_mode = params["defaultIndexMode"]
        return {}

    # --------------------------------------------------------------------------------------- indexes

    def _op_create_index(self, params: dict[str, Any], region: str) -> dict[str, Any]:
        bucket = self._resolve_bucket(params, region)
        name = params["indexName"]
        if not _INDEX_NAME.fullmatch(name):
            raise _validation(
                f"Invalid index name {name!r}: use 3-63 lowercase letters, numbers, hyphens and dots, "
                "beginning and ending with a letter or number"
            )
        if name in bucket.indexes:
            raise ServiceError("ConflictException", "An index with the specified name already exists")
        if len(bucket.indexes) >= MAX_INDEXES_PER_BUCKET:
            raise ServiceError("ServiceQuotaExceededException", "Index quota exceeded for this vector bucket")
        config = params.get("metadataConfiguration") or {}
        non_filterable = list(config.get("nonFilterableMetadataKeys") or [])
        if len(set(non_filterable)) != len(non_filterable):
            raise _validation("nonFilterableMetadataKeys must not contain duplicate keys")
        mode = bucket.default_index_mode or "CLASSIC"
        text_search = _text_search_configs(config.get("textSearchConfigurations") or [])
        if text_search and mode != "ENHANCED":
            raise _validation("textSearchConfigurations require an index in ENHANCED mode")
        index = VectorIndex(
            bucket_name=bucket.name,
            name=name,
            arn=f"{bucket.arn}/index/{name}",
            creation_time=self._now(),
            dimension=int(params["dimension"]),
            distance_metric=params["distanceMetric"],
            data_type=params["dataType"],
            non_filterable_keys=tuple(non_filterable),
            text_search=text_search,
            encryption=_encryption(params.get("encryptionConfiguration")),
            index_mode=mode,
            tags=dict(params.get("tags") or {}),
        )
        bucket.indexes[name] = index
        return {"indexArn": index.arn}

    def _op_get_index(self, params: dict[str, Any], region: str) -> dict[str, Any]:
        return {"index": self._resolve_index(params, region).describe()}

    def _op_list_indexes(self, params: dict[str, Any], region: str) -> dict[str, Any]:
        bucket = self._resolve_bucket(params, region)
        names = [n for n in sorted(bucket.indexes) if n.startswith(params.get("prefix") or "")]
        page, token = _page_by_name(names, params, scope=f"indexes:{bucket.arn}")
        summaries = []
        for name in page:
            index = bucket.indexes[name]
            summaries.append(
                {
                    "vectorBucketName": bucket.name,
                    "indexName": name,
                    "indexArn": index.arn,
                    "creationTime": index.creation_time,
                }
            )
        return {"indexes": summaries, "nextToken": token}

    def _op_delete_index(self, params: dict[str, Any], region: str) -> dict[str, Any]:
        index = self._resolve_index(params, region)
        del self._bucket_named(region, index.bucket_name).indexes[index.name]
        return {}

    def _op_update_index_mode(self, params: dict[str, Any], region: str) -> dict[str, Any]:
        index = self._resolve_index(params, region)
        if params["indexMode"] == "CLASSIC" and index.text_search:
            raise _validation("Remove the textSearchConfigurations before switching the index to CLASSIC")
        index.index_mode = params["indexMode"]
        return {}

    def _op_update_metadata_configuration(self, params: dict[str, Any], region: str) -> dict[str, Any]:
        index = self._resolve_index(params, region)
        added = _text_search_configs((params.get("add") or {}).get("textSearchConfigurations") or [])
        if added and index.index_mode != "ENHANCED":
            raise _validation("textSearchConfigurations require an index in ENHANCED mode")
        for item in (params.get("delete") or {}).get("textSearchConfigurations") or []:
            index.text_search.pop(item["metadataKey"], None)
        index.text_search.update(added)
        return {"indexArn": index.arn}

    # ------------------------------------------------------------------------------------------ tags

    def _op_tag_resource(self, params: dict[str, Any], region: str) -> dict[str, Any]:
        self._resource(params["resourceArn"], region).tags.update(params.get("tags") or {})
        return {}

    def _op_untag_resource(self, params: dict[str, Any], region: str) -> dict[str, Any]:
        target = self._resource(params["resourceArn"], region)
        for key in params.get("tagKeys") or []:
            target.tags.pop(key, None)
        return {}

    def _op_list_tags_for_resource(self, params: dict[str, Any], region: str) -> dict[str, Any]:
        return {"tags": dict(self._resource(params["resourceArn"], region).tags)}

    # --------------------------------------------------------------------------------------- vectors

    def _op_put_vectors(self, params: dict[str, Any], region: str) -> dict[str, Any]:
        index = self._resolve_index(params, region)
        # Validate the whole batch before writing any of it: a rejected request writes nothing.
        staged = [self._checked_vector(index, item) for item in params["vectors"]]
        for vector in staged:
            index.vectors[vector.key] = vector
        index.changed()
        return {}

    def _checked_vector(self, index: VectorIndex, item: Mapping[str, Any]) -> StoredVector:
        key = item["key"]
        data = _float32_vector(item["data"], index, what=f"Invalid record for key '{key}'")
        metadata = item.get("metadata")
        if metadata is not None:
            _check_metadata(key, metadata, index)
            metadata = json.loads(json.dumps(metadata))
        return StoredVector(key=key, data=data, metadata=metadata)

    def _op_get_vectors(self, params: dict[str, Any], region: str) -> dict[str, Any]:
        index = self._resolve_index(params, region)
        seen: set[str] = set()
        found = []
        for key in params["keys"]:
            if key in index.vectors and key not in seen:
                seen.add(key)
                found.append(_vector_out(index.vectors[key], params))
        return {"vectors": found}

    def _op_list_vectors(self, params: dict[str, Any], region: str) -> dict[str, Any]:
        index = self._resolve_index(params, region)
        count, segment = params.get("segmentCount"), params.get("segmentIndex")
        if (count is None) != (segment is None):
            raise _validation("segmentCount and segmentIndex must be specified together")
        if count is not None and segment >= count:
            raise _validation(f"segmentIndex {segment} must be less than segmentCount {count}")
        scope = f"{index.arn}|{count}|{segment}"
        after = _decode_token(params.get("nextToken"), scope)
        limit = params.get("maxResults") or DEFAULT_LIST_PAGE
        keys = sorted(index.vectors)
        out: list[dict[str, Any]] = []
        size = 0
        next_token = None
        for key in keys:
            if after is not None and key <= after:
                continue
            if count is not None and zlib.crc32(key.encode()) % count != segment:
                continue
            entry = _vector_out(index.vectors[key], params)
            entry_size = _json_size(entry)
            if len(out) >= limit or (out and size + entry_size > LIST_PAGE_BYTES):
                next_token = _encode_token(scope, out[-1]["key"])
                break
            out.append(entry)
            size += entry_size
        return {"vectors": out, "nextToken": next_token}

    def _op_delete_vectors(self, params: dict[str, Any], region: str) -> dict[str, Any]:
        index = self._resolve_index(params, region)
        for key in params["keys"]:
            index.vectors.pop(key, None)
        index.changed()
        return {}

    def _op_query_vectors(self, params: dict[str, Any], region: str) -> dict[str, Any]:
        index = self._resolve_index(params, region)
        top_k = params["topK"]
        if top_k > MAX_TOP_K:
            raise _validation(f"topK must be between 1 and {MAX_TOP_K}, got {top_k}")
        if params.get("nextToken"):
            raise _validation("The provided nextToken is not valid")
        query_texts = params.get("queryTexts") or []
        if "queryVector" not in params and not query_texts:
            raise _validation("A request must include queryVector, queryTexts, or both")
        if params.get("queryMode") == "CLASSIC" and index.index_mode == "ENHANCED":
            raise _validation("You can't specify CLASSIC queryMode for an ENHANCED index")
        if query_texts:
            _check_query_texts(query_texts, index)
        matches = _compile_filter(params["filter"], index) if "filter" in params else None

        keys, rows = index.matrix()

        def allowed(key: str) -> bool:
            return matches is None or matches(index.vectors[key].metadata or {})

        distances: dict[str, float] = {}
        vector_rank: list[str] = []
        if "queryVector" in params:
            query = np.asarray(_float32_vector(params["queryVector"], index, what="Invalid queryVector"))
            all_distances = _distances(rows, query, index.distance_metric)
            # Walk candidates nearest first and stop at topK, as the service filters during the search.
            for position in np.argsort(all_distances, kind="stable"):
                key = keys[position]
                if allowed(key):
                    vector_rank.append(key)
                    distances[key] = float(all_distances[position])
                    if not query_texts and len(vector_rank) >= top_k:
                        break
        bm25: dict[str, dict[str, float]] = {}
        text_rank: list[list[str]] = []
        candidates = [k for k in keys if allowed(k)] if query_texts else []
        for text in query_texts:
            scores = _bm25(text, index, candidates)
            for key, score in scores.items():
                bm25.setdefault(key, {})[text["metadataKey"]] = score
            text_rank.append([key for key, _ in sorted(scores.items(), key=lambda item: (-item[1], item[0]))])

        if not query_texts:
            ranked = vector_rank
            fused: dict[str, float] = {}
        elif not vector_rank and "queryVector" not in params:
            totals = {key: sum(per_key.values()) for key, per_key in bm25.items()}
            ranked = sorted(totals, key=lambda k: (-totals[k], k))
            fused = {}
        else:
            # Hybrid search fuses the rankings with Reciprocal Rank Fusion (QueryVectors API reference).
            fused = {}
            for ranking in [vector_rank, *text_rank]:
                for rank, key in enumerate(ranking, start=1):
                    fused[key] = fused.get(key, 0.0) + 1.0 / (60 + rank)
            ranked = sorted(fused, key=lambda k: (-fused[k], k))

        results = []
        for key in ranked[:top_k]:
            entry: dict[str, Any] = {"key": key}
            if params.get("returnDistance") and key in distances and not query_texts:
                entry["distance"] = distances[key]
            if params.get("returnMetadata") and index.vectors[key].metadata is not None:
                entry["metadata"] = index.vectors[key].metadata
            if params.get("returnScores") and query_texts:
                scores_out: dict[str, Any] = {
                    "bm25Scores": [{"metadataKey": k, "score": s} for k, s in sorted(bm25.get(key, {}).items())]
                }
                if fused:
                    scores_out["fused"] = fused[key]
                if key in distances:
                    scores_out["vectorDistance"] = distances[key]
                entry["scores"] = scores_out
            results.append(entry)
        return {"vectors": results, "distanceMetric": index.distance_metric}


# ---------------------------------------------------------------------------------------------------------
# Validation and scoring helpers
# ---------------------------------------------------------------------------------------------------------


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def _encryption(config: Mapping[str, Any] | None) -> dict[str, str] | None:
    if not config:
        return None
    sse = config.get("sseType", "AES256")
    key = config.get("kmsKeyArn")
    if sse == "aws:kms" and not key:
        raise _validation("kmsKeyArn is required when sseType is aws:kms")
    if sse == "AES256" and key:
        raise _validation("kmsKeyArn can only be specified when sseType is aws:kms")
    return {"sseType": sse, **({"kmsKeyArn": key} if key else {})}


def _text_search_configs(items: Iterable[Mapping[str, Any]]) -> dict[str, dict[str, str]]:
    configs: dict[str, dict[str, str]] = {}
    for item in items:
        key = item["metadataKey"]
        if key in configs:
            raise _validation(f"Duplicate text search configuration for metadata key {key!r}")
        configs[key] = {"metadataKey": key, "language": item.get("language", "en"), "status": "ACTIVE"}
    return configs


def _float32_vector(data: Mapping[str, Any] | list[float], index: VectorIndex, *, what: str) -> list[float]:
    values = data.get("float32") if isinstance(data, Mapping) else data
    if values is None:
        raise _validation(f"{what}: vector data must be given as float32")
    if len(values) != index.dimension:
        raise _validation(f"{what}: vector must have length {index.dimension}, but has length {len(values)}")
    wide = np.asarray(values, dtype=np.float64)
    if not np.isfinite(wide).all():
        raise _validation(f"{what}: vector data must contain only finite values (no NaN or Infinity)")
    if (np.abs(wide) > FLOAT32_MAX).any():
        raise _validation(f"{what}: vector data must be representable as float32")
    narrow = wide.astype(np.float32)
    if index.distance_metric == "cosine" and not narrow.any():
        raise _validation(f"{what}: zero vectors are not allowed with the cosine distance metric")
    return narrow.tolist()


def _check_metadata(key: str, metadata: Any, index: VectorIndex) -> None:
    where = f"Invalid record for key '{key}'"
    if not isinstance(metadata, Mapping):
        raise _validation(f"{where}: metadata must be a JSON object")
    if len(metadata) > MAX_METADATA_KEYS:
        raise _validation(f"{where}: metadata has {len(metadata)} keys; the limit is {MAX_METADATA_KEYS}")
    for name, value in metadata.items():
        if not _metadata_value_ok(value):
            raise _validation(
                f"{where}: metadata value of {name!r} must be a string, number, boolean or a list of those"
            )
    total = _json_size(metadata)
    if total > MAX_METADATA_BYTES:
        raise _validation(f"{where}: metadata is {total} bytes; the limit is {MAX_METADATA_BYTES} bytes (40 KB)")
    filterable = {k: v for k, v in metadata.items() if k not in index.non_filterable_keys}
    size = _json_size(filterable) if filterable else 0
    if size > MAX_FILTERABLE_METADATA_BYTES:
        raise _validation(
            f"{where}: filterable metadata is {size} bytes; the limit is {MAX_FILTERABLE_METADATA_BYTES} bytes"
            " (2 KB); declare large keys in nonFilterableMetadataKeys"
        )


def _is_primitive(value: Any) -> bool:
    if isinstance(value, float):
        return math.isfinite(value)
    return isinstance(value, str | bool | int)


def _metadata_value_ok(value: Any) -> bool:
    if isinstance(value, list):
        return all(_is_primitive(item) for item in value)
    return _is_primitive(value)


def _vector_out(vector: StoredVector, params: Mapping[str, Any]) -> dict[str, Any]:
    entry: dict[str, Any] = {"key": vector.key}
    if params.get("returnData"):
        entry["data"] = {"float32": list(vector.data)}
    if params.get("returnMetadata") and vector.metadata is not None:
        entry["metadata"] = vector.metadata
    return entry


def _encode_token(scope: str, after: str) -> str:
    raw = json.dumps({"s": zlib.crc32(scope.encode()), "a": after}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode()


def _decode_token(token: str | None, scope: str) -> str | None:
    if not token:
        return None
    try:
        payload = json.loads(base64.urlsafe_b64decode(token.encode()))
        if payload["s"] == zlib.crc32(scope.encode()) and isinstance(payload["a"], str):
            return payload["a"]
    except (ValueError, KeyError, TypeError, binascii.Error):
        pass
    raise _validation("The provided nextToken is not valid")


def _page_by_name(names: list[str], params: Mapping[str, Any], *, scope: str) -> tuple[list[str], str | None]:
    after = _decode_token(params.get("nextToken"), scope)
    remaining = [n for n in names if after is None or n > after]
    limit = params.get("maxResults") or DEFAULT_NAME_PAGE
    page = remaining[:limit]
    return page, _encode_token(scope, page[-1]) if len(remaining) > limit else None


def _distances(rows: Any, query: Any, metric: str) -> Any:
    if len(rows) == 0:
        return np.zeros(0, dtype=np.float32)
    if metric == "cosine":
        norms = np.linalg.norm(rows, axis=1) * np.linalg.norm(query)
        return 1.0 - (rows @ query) / norms
    return np.linalg.norm(rows - query, axis=1)


def _check_query_texts(query_texts: list[Mapping[str, Any]], index: VectorIndex) -> None:
    if index.index_mode != "ENHANCED":
        raise _validation("Full-text and hybrid searches require a vector index in ENHANCED mode")
    keys = [item["metadataKey"] for item in query_texts]
    if len(set(keys)) != len(keys):
        raise _validation("Each queryTexts entry must target a distinct metadata key")
    for key in keys:
        if key not in index.text_search:
            raise _validation(f"Metadata key {key!r} is not configured for full-text search on this index")


def _bm25(query: Mapping[str, Any], index: VectorIndex, keys: list[str]) -> dict[str, float]:
    field_name = query["metadataKey"]
    terms = _TOKEN.findall(query["text"].lower())
    docs: dict[str, list[str]] = {}
    for key in keys:
        value = (index.vectors[key].metadata or {}).get(field_name)
        if value is not None:
            text = " ".join(map(str, value)) if isinstance(value, list) else str(value)
            docs[key] = _TOKEN.findall(text.lower())
    if not docs or not terms:
        return {}
    average = sum(len(tokens) for tokens in docs.values()) / len(docs)
    frequency = {t: sum(1 for tokens in docs.values() if t in tokens) for t in set(terms)}
    scores: dict[str, float] = {}
    for key, tokens in docs.items():
        score = 0.0
        for term in terms:
            count = tokens.count(term)
            if count:
                idf = math.log(1 + (len(docs) - frequency[term] + 0.5) / (frequency[term] + 0.5))
                score += idf * count * 2.2 / (count + 1.2 * (0.25 + 0.75 * len(tokens) / (average or 1)))
        if score > 0:
            scores[key] = score
    return scores


# ---------------------------------------------------------------------------------------------------------
# Metadata filters (userguide/s3-vectors-metadata-filtering.html)
# ---------------------------------------------------------------------------------------------------------

_Predicate = Callable[[Mapping[str, Any]], bool]


def _all_of(predicates: list[_Predicate], metadata: Mapping[str, Any]) -> bool:
    return all(p(metadata) for p in predicates)


def _any_of(predicates: list[_Predicate], metadata: Mapping[str, Any]) -> bool:
    return any(p(metadata) for p in predicates)


def _compile_filter(spec: Any, index: VectorIndex) -> _Predicate:
    if not isinstance(spec, Mapping):
        raise _validation("Invalid filter: a filter must be a JSON object")
    parts: list[_Predicate] = []
    for name, condition in spec.items():
        if name in _LOGICAL:
            if not isinstance(condition, list) or not condition:
                raise _validation(f"Invalid filter: {name} takes a non-empty array of filters")
            children = [_compile_filter(child, index) for child in condition]
            if name == "$and":
                parts.append(functools.partial(_all_of, children))
            else:
                parts.append(functools.partial(_any_of, children))
        elif name.startswith("$"):
            raise _validation(f"Invalid filter: unsupported operator {name}")
        else:
            if name in index.non_filterable_keys:
                raise _validation(
                    f"Invalid filter: metadata key {name!r} is non-filterable on this index and cannot be "
                    "used in a filter"
                )
            parts.append(_compile_field(name, condition))
    return lambda md: all(p(md) for p in parts)


def _compile_field(name: str, condition: Any) -> _Predicate:
    if not isinstance(condition, Mapping):
        if not _is_primitive(condition):
            raise _validation(f"Invalid filter for {name!r}: expected a string, number or boolean")
        condition = {"$eq": condition}
    if not condition:
        raise _validation(f"Invalid filter for {name!r}: an operator object must not be empty")
    checks: list[_Predicate] = []
    for operator, operand in condition.items():
        if operator not in _COMPARISONS:
            raise _validation(f"Invalid filter for {name!r}: unsupported operator {operator}")
        checks.append(_comparison(name, operator, operand))
    return lambda md: all(c(md) for c in checks)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if _is_number(a) and _is_number(b):
        return a == b
    return type(a) is type(b) and a == b


def _comparison(name: str, operator: str, operand: Any) -> _Predicate:
    def values(md: Mapping[str, Any]) -> list[Any]:
        value = md.get(name)
        return value if isinstance(value, list) else [value]

    if operator == "$exists":
        if not isinstance(operand, bool):
            raise _validation(f"Invalid filter for {name!r}: $exists takes a boolean")
        return lambda md: (name in md) is operand
    if operator in ("$eq", "$ne"):
        if not _is_primitive(operand):
            raise _validation(f"Invalid filter for {name!r}: {operator} takes a string, number or boolean")
        # On list metadata, $eq matches when any element equals the operand (metadata filtering guide). The
        # guide is silent on a missing key for $ne/$nin; the fake lets it match, as MongoDB-style filters do.
        if operator == "$eq":
            return lambda md: name in md and any(_same(v, operand) for v in values(md))
        return lambda md: not (name in md and any(_same(v, operand) for v in values(md)))
    if operator in ("$in", "$nin"):
        if not isinstance(operand, list) or not operand or not all(_is_primitive(v) for v in operand):
            raise _validation(f"Invalid filter for {name!r}: {operator} takes a non-empty array of primitives")
        if operator == "$in":
            return lambda md: name in md and any(_same(v, o) for v in values(md) for o in operand)
        return lambda md: not (name in md and any(_same(v, o) for v in values(md) for o in operand))
    if not _is_number(operand):
        raise _validation(f"Invalid filter for {name!r}: {operator} takes a number")
    compare = {
        "$gt": lambda v: v > operand,
        "$gte": lambda v: v >= operand,
        "$lt": lambda v: v < operand,
        "$lte": lambda v: v <= operand,
    }[operator]
    return lambda md: name in md and any(_is_number(v) and compare(v) for v in values(md))
