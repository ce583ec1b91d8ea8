"""What the handlers share beyond HTTP: their settings, the Lambda's remaining time, own-role clients."""

from __future__ import annotations

import functools
from typing import Any

from runtime.errors import InvalidInputError, MemoryMeshError
from runtime.handlers import _observability as obs
from runtime.settings import MemorySettings


def load_settings() -> MemorySettings:
    """The function's MESH_* settings; a bad variable is the function's fault: a 500 naming only the variable."""
    try:
        return MemorySettings.from_env()
    except InvalidInputError as error:
        obs.count("Errors")
        obs.log("error", "function configuration is invalid", step="settings", code=error.field)
        raise MemoryMeshError(f"function configuration is invalid: {error.field}") from None


def remaining_ms(context: Any) -> float | None:
    """Milliseconds left in this invocation, or None when there is no Lambda context."""
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    if not callable(remaining):
        return None
    try:
        value = remaining()
    except Exception:
        return None
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


@functools.lru_cache(maxsize=8)
def own_client(service_name: str, region: str) -> Any:
    """A client on the function's own role (not tenant-scoped), reused across invocations."""
    import boto3
    from botocore.config import Config

    return boto3.client(
        service_name,
        region_name=region,
        config=Config(retries={"mode": "standard", "total_max_attempts": 3}, connect_timeout=5, read_timeout=20),
    )


class OwnRoleClients:
    """Stands in for the credential broker where a function acts with its own role for every tenant and actor."""

    def __init__(self, region: str) -> None:
        self._region = region

    def client(self, service_name: str, tenant_id: str, actor_id: str | None = None) -> Any:
        return own_client(service_name, self._region)


class _Dimension:
    """The only part of an embedder a store needs when it only manages indexes, lists and deletes."""

    def __init__(self, dimension: int) -> None:
        self.dimension = dimension


def admin_vector_store(settings: MemorySettings, *, clients: OwnRoleClients | None = None) -> Any:
    """An S3 Vectors store that never embeds: index management, listing and deletion with the function's role."""
    from runtime.stores.s3vectors import S3VectorsMemoryStore

    return S3VectorsMemoryStore(
        clients,
        bucket_name=settings.vector_bucket_name,
        index_prefix=settings.index_prefix,
        embedder=_Dimension(settings.embedding_dimension),
        content_max_bytes=settings.content_max_bytes,
    )
