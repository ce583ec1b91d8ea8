"""Tenant onboarding Lambda (direct invoke ``{"tenant_id"}``): create the tenant's S3 Vectors index at run time.

Tenants named in the deployment config get their index from CloudFormation; any other tenant is onboarded
here, so the 500-resource stack limit never caps the number of tenants. Idempotent: an index that already
exists answers ``created: false`` (after checking it has the configured dimension and metric). Uses the
function's own role, which may manage ``<prefix>*`` indexes of the one vector bucket; no tenant data is read.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import Any

from runtime.errors import InvalidInputError, MemoryMeshError, UpstreamError
from runtime.handlers import _observability as obs
from runtime.handlers._common import admin_vector_store, load_settings, own_client
from runtime.handlers._http import as_upstream, check_fields, handle_errors, parse_request, respond
from runtime.identity import validate_tenant_id
from runtime.settings import MemorySettings

__all__ = ["KMS_KEY_ENV", "IndexConflictError", "handler", "reset"]

#: Customer-managed KMS key for new indexes (optional: unset, an index inherits the bucket's encryption).
KMS_KEY_ENV = "MESH_KMS_KEY_ARN"
# S3 Vectors encryptionConfiguration.kmsKeyArn takes a key ARN (single- or multi-Region key), not an alias.
_KMS_KEY_ARN_RE = re.compile(r"arn:aws(?:-[a-z]+)*:kms:[a-z0-9-]+:\d{12}:key/(?:mrk-[0-9a-f]{32}|[0-9a-f-]{36})")


class IndexConflictError(MemoryMeshError):
    """The tenant's index exists but was created with another dimension, metric or metadata layout."""

    status = 409
    code = "IndexConflict"


@handle_errors
def handler(event: Any, context: Any = None) -> dict[str, Any]:
    """Create ``<prefix><tenant_id>``; answer ``{statusCode, tenant_id, index_name, created}``."""
    request = parse_request(event)
    if request.api:
        raise InvalidInputError(
            "event", "<HTTP API event>", "tenant onboarding is invoked directly with {\"tenant_id\": ...}"
        )
    check_fields(request.body, ("tenant_id",), where="payload")
    settings = load_settings()
    tenant_id = validate_tenant_id(request.body.get("tenant_id"), index_prefix=settings.index_prefix)
    index_name = settings.index_prefix + validate_tenant_id(tenant_id, index_prefix=settings.index_prefix)
    client = own_client("s3vectors", settings.region)
    store = admin_vector_store(settings)
    created = store.create_tenant_index(
        tenant_id, client=client, distance_metric=settings.distance_metric, kms_key_arn=_kms_key_arn()
    )
    if not created:
        _check_existing(client, settings, index_name)
    obs.count("TenantsOnboarded" if created else "TenantsAlreadyOnboarded")
    obs.log("info", "tenant index ready", tenant_id=tenant_id, step="created" if created else "exists")
    return respond(
        201 if created else 200,
        {"tenant_id": tenant_id, "index_name": index_name, "created": created},
        api=False,
    )


def reset() -> None:
    """Forget the container's client (tests)."""
    own_client.cache_clear()


def _check_existing(client: Any, settings: MemorySettings, index_name: str) -> None:
    """An index made by someone else must still fit the runtime: same dimension, metric, ``content`` key."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        index = client.get_index(vectorBucketName=settings.vector_bucket_name, indexName=index_name)["index"]
    except (ClientError, BotoCoreError) as error:
        code = error.response.get("Error", {}).get("Code") if isinstance(error, ClientError) else None
        obs.log("error", "GetIndex failed", step="get-index", code=code, error_type=type(error).__name__)
        raise as_upstream(UpstreamError("GetIndex"), f"S3 Vectors GetIndex of index {index_name!r}") from None
    problems = []
    if index.get("dimension") != settings.embedding_dimension:
        problems.append(f"dimension {index.get('dimension')} (expected {settings.embedding_dimension})")
    if index.get("distanceMetric") != settings.distance_metric:
        problems.append(f"distance metric {index.get('distanceMetric')} (expected {settings.distance_metric})")
    config = index.get("metadataConfiguration")
    non_filterable = config.get("nonFilterableMetadataKeys") if isinstance(config, Mapping) else None
    if not non_filterable or "content" not in non_filterable:
        problems.append("'content' is not a non-filterable metadata key")
    if problems:
        raise IndexConflictError(
            f"index {index_name!r} already exists but does not fit the mesh: {'; '.join(problems)}. "
            "An index's settings cannot change: delete and re-create it, or fix the configuration"
        )


def _kms_key_arn() -> str | None:
    value = (os.environ.get(KMS_KEY_ENV) or "").strip()
    if not value:
        return None
    if not _KMS_KEY_ARN_RE.fullmatch(value):
        obs.log("error", "function configuration is invalid", step="settings", code=KMS_KEY_ENV)
        raise MemoryMeshError(f"function configuration is invalid: {KMS_KEY_ENV}")
    return value


