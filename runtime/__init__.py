"""Agent Memory Mesh runtime: tenant-scoped credentials, memory stores, retrieval and session summaries.

This package is what the Lambdas run and what agents import. Importing it loads no Strands, numpy or pydantic,
so Lambda handler paths stay light; the Strands integration lives in `runtime.integrations` and the in-process
AWS emulation for tests in `runtime.testing`.
"""

from runtime.credentials import BrokerStats, ScopedCredentials, TenantCredentialBroker, role_session_name
from runtime.embeddings import BedrockEmbedder, Embedder, LocalHashEmbedder
from runtime.errors import (
    AccessDeniedError,
    CredentialError,
    InvalidInputError,
    MemoryMeshError,
    NotFoundError,
    UpstreamError,
    UpstreamTimeoutError,
)
from runtime.identity import (
    Identity,
    actor_id_from_claims,
    identity_from_claims,
    log_ref,
    trusted_identity,
    validate_actor_id,
    validate_agent_name,
    validate_index_prefix,
    validate_session_id,
    validate_tenant_id,
)
from runtime.records import DeleteReport, MemoryBackend, MemoryQuery, MemoryRecord
from runtime.rendering import MEMORY_BLOCK_NOTICE, render_memory_block
from runtime.retriever import BackendFailure, MemoryRetriever, RetrievalResult
from runtime.settings import MemorySettings
from runtime.stores import AgentCoreMemoryBackend, LocalMemoryStore, MemoryDraft, S3VectorsMemoryStore, summary_key
from runtime.summarizer import (
    SUMMARY_JOB_VERSION,
    SummaryJob,
    SummaryResult,
    enqueue_summary_job,
    parse_summary_job,
    summarize_session,
    summary_job_message,
)

__all__ = [
    "AccessDeniedError",
    "AgentCoreMemoryBackend",
    "BackendFailure",
    "BedrockEmbedder",
    "BrokerStats",
    "CredentialError",
    "DeleteReport",
    "Embedder",
    "Identity",
    "InvalidInputError",
    "LocalHashEmbedder",
    "LocalMemoryStore",
    "MEMORY_BLOCK_NOTICE",
    "MemoryBackend",
    "MemoryDraft",
    "MemoryMeshError",
    "MemoryQuery",
    "MemoryRecord",
    "MemoryRetriever",
    "MemorySettings",
    "NotFoundError",
    "RetrievalResult",
    "render_memory_block",
    "S3VectorsMemoryStore",
    "SUMMARY_JOB_VERSION",
    "ScopedCredentials",
    "SummaryJob",
    "SummaryResult",
    "TenantCredentialBroker",
    "UpstreamError",
    "UpstreamTimeoutError",
    "actor_id_from_claims",
    "enqueue_summary_job",
    "identity_from_claims",
    "log_ref",
    "parse_summary_job",
    "role_session_name",
    "summarize_session",
    "summary_job_message",
    "summary_key",
    "trusted_identity",
    "validate_actor_id",
    "validate_agent_name",
    "validate_index_prefix",
    "validate_session_id",
    "validate_tenant_id",
]
