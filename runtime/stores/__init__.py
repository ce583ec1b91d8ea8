"""Memory backends behind one interface: S3 Vectors, AgentCore Memory and an in-process store.

Importing this package loads neither numpy nor any Strands or AgentCore SDK module.
"""

from runtime.stores._limits import MemoryDraft, cap_utf8, summary_key
from runtime.stores.agentcore import AgentCoreMemoryBackend, actor_namespaces
from runtime.stores.local import LocalMemoryStore
from runtime.stores.s3vectors import S3VectorsMemoryStore

__all__ = [
    "AgentCoreMemoryBackend",
    "LocalMemoryStore",
    "MemoryDraft",
    "S3VectorsMemoryStore",
    "actor_namespaces",
    "cap_utf8",
    "summary_key",
]
