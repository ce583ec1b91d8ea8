"""In-process memory store with the S3 Vectors store's interface, validation and limits (tests, local runs).

Per tenant it keeps one contiguous float32 matrix of unit-length rows (grown by doubling) plus per-row actor,
agent, kind and time columns, so a query masks by actor and ranks with one matrix-vector product and
``argpartition``. Scores are cosine similarity (1 - cosine distance), as from S3 Vectors. numpy is imported
on first use only.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from runtime.identity import Identity, validate_actor_id, validate_index_prefix, validate_tenant_id
from runtime.records import MEMORY_KINDS, DeleteReport, MemoryQuery, MemoryRecord
from runtime.stores._limits import (
    DEFAULT_CONTENT_MAX_BYTES,
    DraftWriter,
    PreparedVector,
    ValidQuery,
    check_vector,
    last_per_key,
    neighbour_of,
    record_from_metadata,
    validate_content_max_bytes,
    validate_dimension,
    validate_epoch,
    validate_query,
)
from runtime.stores.consolidation import STATE_CURRENT, ConsolidationPolicy, Neighbour

__all__ = ["LocalMemoryStore"]

_KIND_CODES = {kind: code for code, kind in enumerate(MEMORY_KINDS)}
_INITIAL_ROWS = 64
_NO_AGENT = -1
# Below this share of selected rows, gathering them beats one product over the whole matrix.
_GATHER_RATIO = 0.25


@dataclass
class _Row:
    key: str
    metadata: dict[str, Any]


class _TenantTable:
    """One tenant's vectors: a growable float32 matrix plus filter columns; guarded by ``lock``."""

    def __init__(self, np: Any, dimension: int) -> None:
        self.np = np
        self.lock = threading.Lock()
        self.count = 0
        self.matrix = np.empty((_INITIAL_ROWS, dimension), dtype=np.float32)
        self.actor = np.empty(_INITIAL_ROWS, dtype=np.int32)
        self.agent = np.empty(_INITIAL_ROWS, dtype=np.int32)
        self.kind = np.empty(_INITIAL_ROWS, dtype=np.int8)
        self.stored_at = np.empty(_INITIAL_ROWS, dtype=np.int64)
        self.current = np.empty(_INITIAL_ROWS, dtype=np.bool_)
        self.rows: list[_Row] = []
        self.row_of: dict[str, int] = {}
        self.actor_codes: dict[str, int] = {}
        self.agent_codes: dict[str, int] = {}

    def _grow(self) -> None:
        np = self.np
        capacity = self.matrix.shape[0] * 2
        for name in ("matrix", "actor", "agent", "kind", "stored_at", "current"):
            old = getattr(self, name)
            new = np.empty((capacity, *old.shape[1:]), dtype=old.dtype)
            new[: self.count] = old[: self.count]
            setattr(self, name, new)

    def upsert(self, vector: PreparedVector, unit: Any) -> None:
        metadata = vector.metadata
        row = self.row_of.get(vector.key)
        if row is None:
            if self.count == self.matrix.shape[0]:
                self._grow()
            row = self.count
            self.count += 1
            self.rows.append(_Row(vector.key, metadata))
            self.row_of[vector.key] = row
        else:
            self.rows[row] = _Row(vector.key, metadata)
        self.matrix[row] = unit
        self.actor[row] = self.actor_codes.setdefault(metadata["actor"], len(self.actor_codes))
        agent = metadata.get("agent")
        self.agent[row] = _NO_AGENT if agent is None else self.agent_codes.setdefault(agent, len(self.agent_codes))
        self.kind[row] = _KIND_CODES[metadata["type"]]
        self.stored_at[row] = metadata["stored_at"]
        self.current[row] = metadata.get("state", STATE_CURRENT) == STATE_CURRENT

    def remove(self, key: str) -> bool:
        row = self.row_of.pop(key, None)
        if row is None:
            return False
        last = self.count - 1
        if row != last:
            # Keep the matrix contiguous: move the last row into the hole.
            for column in (self.matrix, self.actor, self.agent, self.kind, self.stored_at, self.current):
                column[row] = column[last]
            self.rows[row] = self.rows[last]
            self.row_of[self.rows[row].key] = row
        self.rows.pop()
        self.count = last
        return True

    def mask(self, query: ValidQuery) -> Any:
        np = self.np
        n = self.count
        code = self.actor_codes.get(query.actor_id)
        if code is None or n == 0:
            return None
        mask = (self.actor[:n] == code) & self.current[:n]
        if query.agent is not None:
            mask &= self.agent[:n] == self.agent_codes.get(query.agent, -2)
        if query.kinds is not None:
            mask &= np.isin(self.kind[:n], [_KIND_CODES[kind] for kind in query.kinds])
        if query.stored_after is not None:
            mask &= self.stored_at[:n] >= query.stored_after
        if query.stored_before is not None:
            mask &= self.stored_at[:n] < query.stored_before
        return mask


class LocalMemoryStore(DraftWriter):
    """In-process, thread-safe memory store (a :class:`runtime.records.MemoryBackend` named "local")."""

    name = "local"

    def __init__(
        self,
        embedder: Any,
        *,
        content_max_bytes: int = DEFAULT_CONTENT_MAX_BYTES,
        clock: Callable[[], float] = time.time,
        index_prefix: str = "tenant-",
        index_dimension: int | None = None,
        consolidation: ConsolidationPolicy | None = None,
    ) -> None:
        self.consolidation = consolidation
        self.dimension = validate_dimension(getattr(embedder, "dimension", None), index_dimension)
        self.content_max_bytes = validate_content_max_bytes(content_max_bytes)
        self.index_prefix = validate_index_prefix(index_prefix)
        self._embedder = embedder
        self._clock = clock
        self._tenants: dict[str, _TenantTable] = {}
        self._tenants_lock = threading.Lock()

    def _table(self, tenant_id: str, *, create: bool) -> _TenantTable | None:
        table = self._tenants.get(tenant_id)
        if table is None and create:
            import numpy as np

            with self._tenants_lock:
                table = self._tenants.get(tenant_id)
                if table is None:
                    table = self._tenants[tenant_id] = _TenantTable(np, self.dimension)
        return table

    # -- writes ------------------------------------------------------------------------------------

    def _write(self, identity: Identity, prepared: list[Any]) -> list[str]:
        unique = last_per_key(prepared)
        table = self._table(identity.tenant_id, create=True)
        assert table is not None
        np = table.np
        units = np.asarray([vector.data for vector in unique], dtype=np.float32)
        units /= np.linalg.norm(units, axis=1, keepdims=True)
        with table.lock:
            for vector, unit in zip(unique, units, strict=True):
                table.upsert(vector, unit)
        return [vector.key for vector in prepared]

    def _neighbours(self, identity: Identity, vector: PreparedVector, count: int) -> list[Neighbour]:
        query = MemoryQuery(identity.tenant_id, identity.actor_id, "-", top_k=count, kinds=(vector.metadata["type"],))
        hits = self._nearest(validate_query(query, index_prefix=self.index_prefix), vector.data)
        return [neighbour_of(row.key, score, row.metadata) for row, score in hits]

    def _fetch(self, identity: Identity, keys: Sequence[str]) -> list[PreparedVector]:
        table = self._table(identity.tenant_id, create=False)
        if table is None:
            return []
        with table.lock:
            rows = [table.row_of.get(key) for key in keys]
            return [
                PreparedVector(table.rows[row].key, table.matrix[row].tolist(), dict(table.rows[row].metadata))
                for row in rows
                if row is not None and table.rows[row].metadata["actor"] == identity.actor_id
            ]

    def _remove(self, identity: Identity, keys: Sequence[str]) -> None:
        table = self._table(identity.tenant_id, create=False)
        if table is None:
            return
        with table.lock:
            for key in keys:
                row = table.row_of.get(key)
                if row is not None and table.rows[row].metadata["actor"] == identity.actor_id:
                    table.remove(key)

    # -- reads -------------------------------------------------------------------------------------

    def search(self, query: MemoryQuery) -> list[MemoryRecord]:
        """Nearest current memories of the query's actor, best first; ``score`` is cosine similarity."""
        valid = validate_query(query, index_prefix=self.index_prefix)
        embedding = self._embedder.embed_one(valid.text, for_query=True)
        vector = check_vector(embedding, self.dimension, field="query embedding")
        return [
            record_from_metadata(row.key, row.metadata, tenant_id=valid.tenant_id, source=self.name, score=score)
            for row, score in self._nearest(valid, vector)
        ]

    def _nearest(self, valid: ValidQuery, vector: Sequence[float]) -> list[tuple[_Row, float]]:
        table = self._table(valid.tenant_id, create=False)
        if table is None:
            return []
        np = table.np
        unit = np.asarray(vector, dtype=np.float32)
        unit /= np.linalg.norm(unit)
        with table.lock:
            mask = table.mask(valid)
            if mask is None:
                return []
            selected = np.flatnonzero(mask)
            if selected.size == 0:
                return []
            # einsum stays on this thread; a BLAS matrix-vector product may wait on a second, busy core.
            if selected.size < _GATHER_RATIO * table.count:
                scores = np.einsum("ij,j->i", table.matrix[selected], unit)
            else:
                scores = np.einsum("ij,j->i", table.matrix[: table.count], unit)[selected]
            k = min(valid.top_k, selected.size)
            best = np.argpartition(-scores, k - 1)[:k] if k < selected.size else np.arange(selected.size)
            best = best[np.argsort(-scores[best], kind="stable")]
            return [(table.rows[int(selected[i])], float(scores[i])) for i in best]

    def list_actor(self, tenant_id: str, actor_id: str) -> list[MemoryRecord]:
        """Every record of one actor, newest first."""
        tenant_id = validate_tenant_id(tenant_id, index_prefix=self.index_prefix)
        actor_id = validate_actor_id(actor_id)
        table = self._table(tenant_id, create=False)
        if table is None:
            return []
        with table.lock:
            rows = [row for row in table.rows if row.metadata["actor"] == actor_id]
        records = [
            record_from_metadata(row.key, row.metadata, tenant_id=tenant_id, source=self.name, score=None)
            for row in rows
        ]
        records.sort(key=lambda record: (-(record.stored_at or 0), record.key))
        return records

    def count(self, tenant_id: str) -> int:
        """How many vectors the tenant has (all actors)."""
        table = self._table(validate_tenant_id(tenant_id, index_prefix=self.index_prefix), create=False)
        return 0 if table is None else table.count

    # -- deletes -----------------------------------------------------------------------------------

    def delete_actor(self, tenant_id: str, actor_id: str) -> DeleteReport:
        """Forget one actor; running it again deletes nothing."""
        tenant_id = validate_tenant_id(tenant_id, index_prefix=self.index_prefix)
        actor_id = validate_actor_id(actor_id)
        return self._delete_where(tenant_id, lambda metadata: metadata["actor"] == actor_id)

    def delete_older_than(self, tenant_id: str, cutoff_epoch: float) -> DeleteReport:
        """Retention: delete the tenant's memories stored before ``cutoff_epoch`` (any actor)."""
        tenant_id = validate_tenant_id(tenant_id, index_prefix=self.index_prefix)
        cutoff = validate_epoch(cutoff_epoch, "cutoff_epoch")
        return self._delete_where(tenant_id, lambda metadata: metadata["stored_at"] < cutoff)

    def _delete_where(self, tenant_id: str, doomed: Callable[[dict[str, Any]], bool]) -> DeleteReport:
        table = self._table(tenant_id, create=False)
        if table is None:
            return DeleteReport(backend=self.name, deleted=0)
        with table.lock:
            keys = [row.key for row in table.rows if doomed(row.metadata)]
            for key in keys:
                table.remove(key)
        return DeleteReport(backend=self.name, deleted=len(keys), keys=tuple(keys))
