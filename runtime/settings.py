"""Runtime configuration read once from the environment the constructs set on each Lambda."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from runtime.errors import InvalidInputError
from runtime.identity import validate_index_prefix, validate_tenant_id

DEFAULT_EMBEDDING_MODEL_ID = "amazon.titan-embed-text-v2:0"
DEFAULT_SUMMARY_MODEL_ID = "amazon.nova-lite-v1:0"
DEFAULT_EMBEDDING_DIMENSION = 1024
DEFAULT_RETENTION_DAYS = 90
DEFAULT_CONTENT_MAX_BYTES = 16384
# S3 Vectors allows 40 KB of metadata per vector; keep room for the filterable keys.
CONTENT_MAX_BYTES_LIMIT = 36 * 1024
DISTANCE_METRICS = ("cosine", "euclidean")

_REGION_RE = re.compile(r"[a-z]{2,4}(?:-[a-z]+)+-\d{1,2}")
_ROLE_ARN_RE = re.compile(r"arn:aws(?:-[a-z]+)*:iam::\d{12}:role/(?:[\w+=,.@-]+/)*[\w+=,.@-]{1,64}")
# S3 Vectors bucket names: 3-63 lowercase letters, digits and '-', starting and ending alphanumeric.
_BUCKET_RE = re.compile(r"[a-z0-9](?:[a-z0-9-]{1,61})[a-z0-9]")
# AgentCore Memory ids (CreateEvent memoryId), optionally as the memory ARN.
_MEMORY_ID_RE = re.compile(
    r"(?:arn:aws(?:-[a-z]+)*:bedrock-agentcore:[a-z0-9-]+:\d{12}:memory/)?"
    r"[a-zA-Z][a-zA-Z0-9_-]{0,99}-[a-zA-Z0-9]{10}"
)
_MODEL_ID_RE = re.compile(
    r"arn:aws(?:-[a-z]+)*:(?:bedrock|sagemaker):[a-z0-9-]*:\d{0,12}:[A-Za-z0-9:/._-]+"
    r"|[A-Za-z0-9][A-Za-z0-9.:_-]*"
)
_QUEUE_URL_RE = re.compile(
    r"https://(?:sqs\.[a-z0-9-]+\.amazonaws\.com(?:\.cn)?|queue\.amazonaws\.com)"
    r"/\d{12}/[A-Za-z0-9_-]{1,80}(?:\.fifo)?"
)
_UINT_RE = re.compile(r"\d{1,9}")


def validate_region(value: Any, *, field: str = "region") -> str:
    """Return ``value`` if it looks like an AWS Region code such as ``us-east-1``."""
    if not isinstance(value, str) or not _REGION_RE.fullmatch(value):
        raise InvalidInputError(field, value, "must be an AWS Region code such as 'us-east-1'")
    return value


def validate_role_arn(value: Any, *, field: str = "role_arn") -> str:
    """Return ``value`` if it is an IAM role ARN (``arn:<partition>:iam::<12 digits>:role/<path/name>``)."""
    if not isinstance(value, str) or len(value) > 2048 or not _ROLE_ARN_RE.fullmatch(value):
        raise InvalidInputError(
            field, value, "must be an IAM role ARN such as 'arn:aws:iam::123456789012:role/name'"
        )
    return value


def _get(environ: Mapping[str, str], name: str) -> str | None:
    value = environ.get(name)
    if value is None or not value.strip():
        return None
    return value.strip()


def _int(raw: str | None, default: int) -> int | str:
    if raw is None:
        return default
    return int(raw) if _UINT_RE.fullmatch(raw) else raw


def _check_int(value: Any, name: str, low: int, high: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not (low <= value <= high):
        raise InvalidInputError(name, value, f"must be an integer from {low} to {high}")


def _check_str(value: Any, name: str, pattern: re.Pattern[str], rule: str, max_len: int = 2048) -> None:
    if value is None:
        raise InvalidInputError(name, None, f"is required: {rule}")
    if not isinstance(value, str) or len(value) > max_len or not pattern.fullmatch(value):
        raise InvalidInputError(name, value, f"must be {rule}")


_MODEL_RULE = "a Bedrock model id, inference profile id or ARN"

#: Environment variable of each field, so ``from_env`` errors name what the operator must fix.
ENV_VARS = {
    "region": "MESH_REGION",
    "vector_bucket_name": "MESH_VECTOR_BUCKET",
    "index_prefix": "MESH_INDEX_PREFIX",
    "embedding_dimension": "MESH_EMBEDDING_DIMENSION",
    "distance_metric": "MESH_DISTANCE_METRIC",
    "embedding_model_id": "MESH_EMBEDDING_MODEL_ID",
    "memory_id": "MESH_MEMORY_ID",
    "tvm_role_arn": "MESH_TVM_ROLE_ARN",
    "summary_model_id": "MESH_SUMMARY_MODEL_ID",
    "summary_queue_url": "MESH_SUMMARY_QUEUE_URL",
    "retention_days": "MESH_RETENTION_DAYS",
    "content_max_bytes": "MESH_CONTENT_MAX_BYTES",
}


@dataclass(frozen=True)
class MemorySettings:
    """Everything the runtime needs to reach the memory home: names, model ids and limits (validated)."""

    region: str
    vector_bucket_name: str
    index_prefix: str
    embedding_dimension: int
    distance_metric: str
    embedding_model_id: str
    memory_id: str
    tvm_role_arn: str
    summary_model_id: str = DEFAULT_SUMMARY_MODEL_ID
    summary_queue_url: str | None = None
    retention_days: int = DEFAULT_RETENTION_DAYS
    content_max_bytes: int = DEFAULT_CONTENT_MAX_BYTES

    def __post_init__(self) -> None:
        _validate_settings(vars(self), {})

    def index_name(self, tenant_id: str) -> str:
        """The tenant's S3 Vectors index name, ``<index_prefix><tenant_id>``, after validating the tenant."""
        return self.index_prefix + validate_tenant_id(tenant_id, index_prefix=self.index_prefix)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> MemorySettings:
        """Read the ``MESH_*`` variables; the first missing or invalid one raises InvalidInputError naming it.

        The Region falls back to ``AWS_REGION`` (set by Lambda), then ``AWS_DEFAULT_REGION``.
        """
        names = dict(ENV_VARS)
        region_var = next(
            (var for var in ("MESH_REGION", "AWS_REGION", "AWS_DEFAULT_REGION") if _get(environ, var)),
            "MESH_REGION",
        )
        names["region"] = region_var
        values: dict[str, Any] = {
            "region": _get(environ, region_var),
            "vector_bucket_name": _get(environ, "MESH_VECTOR_BUCKET"),
            "index_prefix": _get(environ, "MESH_INDEX_PREFIX") or "",
            "embedding_dimension": _int(_get(environ, "MESH_EMBEDDING_DIMENSION"), DEFAULT_EMBEDDING_DIMENSION),
            "distance_metric": _get(environ, "MESH_DISTANCE_METRIC") or "cosine",
            "embedding_model_id": _get(environ, "MESH_EMBEDDING_MODEL_ID") or DEFAULT_EMBEDDING_MODEL_ID,
            "memory_id": _get(environ, "MESH_MEMORY_ID"),
            "tvm_role_arn": _get(environ, "MESH_TVM_ROLE_ARN"),
            "summary_model_id": _get(environ, "MESH_SUMMARY_MODEL_ID") or DEFAULT_SUMMARY_MODEL_ID,
            "summary_queue_url": _get(environ, "MESH_SUMMARY_QUEUE_URL"),
            "retention_days": _int(_get(environ, "MESH_RETENTION_DAYS"), DEFAULT_RETENTION_DAYS),
            "content_max_bytes": _int(_get(environ, "MESH_CONTENT_MAX_BYTES"), DEFAULT_CONTENT_MAX_BYTES),
        }
        _validate_settings(values, names)
        return cls(**values)


def _check_model_dimension(model_id: str, dimension: int, field: str) -> None:
    from runtime.embeddings import allowed_dimensions

    allowed = allowed_dimensions(model_id)
    if allowed is not None and dimension not in allowed:
        raise InvalidInputError(field, dimension, f"must be one of {', '.join(map(str, allowed))} for {model_id}")


def _validate_settings(values: Mapping[str, Any], names: Mapping[str, str]) -> None:
    def name(attr: str) -> str:
        return names.get(attr, attr)

    if values["region"] is None:
        raise InvalidInputError(name("region"), None, "is required: the AWS Region of the memory home")
    validate_region(values["region"], field=name("region"))
    _check_str(
        values["vector_bucket_name"],
        name("vector_bucket_name"),
        _BUCKET_RE,
        "an S3 Vectors bucket name: 3-63 lowercase letters, digits and '-', "
        "starting and ending with a letter or digit",
        max_len=63,
    )
    validate_index_prefix(values["index_prefix"], field=name("index_prefix"))
    _check_int(values["embedding_dimension"], name("embedding_dimension"), 1, 4096)
    if values["distance_metric"] not in DISTANCE_METRICS:
        raise InvalidInputError(
            name("distance_metric"), values["distance_metric"], "must be 'cosine' or 'euclidean'"
        )
    _check_str(values["embedding_model_id"], name("embedding_model_id"), _MODEL_ID_RE, _MODEL_RULE)
    _check_model_dimension(
        values["embedding_model_id"], values["embedding_dimension"], name("embedding_dimension")
    )
    _check_str(
        values["memory_id"],
        name("memory_id"),
        _MEMORY_ID_RE,
        "an AgentCore Memory id such as 'mesh_memory-AbCdE12345' or its ARN",
    )
    if values["tvm_role_arn"] is None:
        raise InvalidInputError(name("tvm_role_arn"), None, "is required: the token vending machine role ARN")
    validate_role_arn(values["tvm_role_arn"], field=name("tvm_role_arn"))
    _check_str(values["summary_model_id"], name("summary_model_id"), _MODEL_ID_RE, _MODEL_RULE)
    if values["summary_queue_url"] is not None:
        _check_str(
            values["summary_queue_url"],
            name("summary_queue_url"),
            _QUEUE_URL_RE,
            "an SQS queue URL such as 'https://sqs.us-east-1.amazonaws.com/123456789012/name'",
        )
    _check_int(values["retention_days"], name("retention_days"), 1, 3650)
    _check_int(values["content_max_bytes"], name("content_max_bytes"), 1, CONTENT_MAX_BYTES_LIMIT)
