"""The data the memory backends exchange: records, queries and the backend protocol."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from runtime.contract.memory import MEMORY_KINDS

__all__ = ["MEMORY_KINDS", "DeleteReport", "MemoryBackend", "MemoryQuery", "MemoryRecord"]


@dataclass(frozen=True)
class MemoryRecord:
    """One remembered item, as returned by any backend."""

    content: str
    tenant_id: str
    actor_id: str
    kind: str
    source: str
    key: str
    score: float | None = None
    agent: str | None = None
    session_id: str | None = None
    stored_at: int | None = None
    #: History: "superseded" once a newer memory replaced this one (then ``superseded_by`` names it).
    state: str | None = None
    supersedes: tuple[str, ...] = ()
    superseded_by: str | None = None


@dataclass(frozen=True)
class MemoryQuery:
    """A search for one tenant's actor; backends never return another actor's records."""

    tenant_id: str
    actor_id: str
    text: str
    top_k: int = 5
    agent: str | None = None
    kinds: tuple[str, ...] | None = None
    stored_after: int | None = None
    stored_before: int | None = None


@dataclass(frozen=True)
class DeleteReport:
    """What a forget operation removed, per backend."""

    backend: str
    deleted: int
    keys: tuple[str, ...] = field(default_factory=tuple)


@runtime_checkable
class MemoryBackend(Protocol):
    """What the retriever and the forget handler need from a backend."""

    name: str

    def search(self, query: MemoryQuery) -> list[MemoryRecord]:
        """Memories of the query's actor most relevant to its text, best first."""

    def delete_actor(self, tenant_id: str, actor_id: str) -> DeleteReport:
        """Forget one actor of one tenant; running it again deletes nothing."""
