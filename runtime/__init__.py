"""Agent Memory Mesh runtime: tenant-scoped credentials, memory stores, retrieval and session summaries.

This package is what the Lambdas run and what agents import. Importing it loads no Strands, numpy or pydantic,
so Lambda handler paths stay light; the Strands integration lives in `runtime.integrations` and the in-process
AWS emulation for tests in `runtime.testing`.
"""

from __future__ import annotations

import importlib
from typing import Any

#: Where each public name lives; modules load on first use, so ``import runtime.contract`` (the constructs'
#: and config's only runtime import) and the Lambda handlers pay only for what they touch.
_EXPORTS = {
    "AccessDeniedError": "runtime.errors",
    "AgentCoreMemoryBackend": "runtime.stores",
    "BackendFailure": "runtime.retriever",
    "BedrockEmbedder": "runtime.embeddings",
    "BrokerStats": "runtime.credentials",
    "CredentialError": "runtime.errors",
    "CredentialsUnavailableError": "runtime.errors",
    "DeleteReport": "runtime.records",
    "Embedder": "runtime.embeddings",
    "Identity": "runtime.identity",
    "InvalidInputError": "runtime.errors",
    "LocalHashEmbedder": "runtime.embeddings",
    "LocalMemoryStore": "runtime.stores",
    "MEMORY_BLOCK_NOTICE": "runtime.rendering",
    "MemoryBackend": "runtime.records",
    "MemoryDraft": "runtime.stores",
    "MemoryMeshError": "runtime.errors",
    "MemoryQuery": "runtime.records",
    "MemoryRecord": "runtime.records",
    "MemoryRetriever": "runtime.retriever",
    "MemorySettings": "runtime.settings",
    "NotFoundError": "runtime.errors",
    "RetrievalResult": "runtime.retriever",
    "S3VectorsMemoryStore": "runtime.stores",
    "SUMMARY_JOB_VERSION": "runtime.summarizer",
    "ScopedClient": "runtime.credentials",
    "ScopedCredentials": "runtime.credentials",
    "ServiceUnavailableError": "runtime.errors",
    "SummaryJob": "runtime.summarizer",
    "SummaryResult": "runtime.summarizer",
    "TenantCredentialBroker": "runtime.credentials",
    "UpstreamError": "runtime.errors",
    "UpstreamTimeoutError": "runtime.errors",
    "actor_id_from_claims": "runtime.identity",
    "enqueue_summary_job": "runtime.summarizer",
    "identity_from_claims": "runtime.identity",
    "log_ref": "runtime.identity",
    "parse_summary_job": "runtime.summarizer",
    "render_memory_block": "runtime.rendering",
    "role_session_name": "runtime.credentials",
    "summarize_session": "runtime.summarizer",
    "summary_job_message": "runtime.summarizer",
    "summary_key": "runtime.stores",
    "trusted_identity": "runtime.identity",
    "validate_actor_id": "runtime.identity",
    "validate_agent_name": "runtime.identity",
    "validate_index_prefix": "runtime.identity",
    "validate_session_id": "runtime.identity",
    "validate_tenant_id": "runtime.identity",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    """Load a public name (or ``__version__``) on first use."""
    if name == "__version__":
        from runtime._version import package_version

        globals()[name] = package_version()
        return globals()[name]
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'runtime' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS) | {"__version__"})
