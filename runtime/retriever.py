"""Query every configured memory backend at once, then merge, de-duplicate and rank what they return.

Ranking rule: every backend reports ``score`` as "higher is more relevant" — S3 Vectors and the local store
as 1 - cosine distance (cosine similarity; 1 / (1 + distance) on a euclidean index), AgentCore as its own
relevance score (itself derived from cosine similarity). The retriever clamps each score to [0, 1] (a missing
score counts as 0) and multiplies it by the backend's weight (default 1.0): that is the record's relevance ``r``.
Records with ``r < min_score`` are dropped. With a recency half-life ``h`` and weight ``w`` the ranking score is

    r * (1 - w + w * 0.5 ** (age / h))

so among close scores the newer memory wins, while an old memory never loses more than the share ``w``
(a record without a time counts as infinitely old). Ties go to the newest. Records whose content is the same
after Unicode normalization, case folding and whitespace collapsing are one memory: the best-ranked copy is kept.
``per_kind`` caps how many records of one kind the answer holds.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field, replace

from runtime.budget import run_in_context
from runtime.errors import InvalidInputError, MemoryMeshError, UpstreamError, UpstreamTimeoutError
from runtime.records import MemoryBackend, MemoryQuery, MemoryRecord
from runtime.rendering import render_memory_block
from runtime.stores.consolidation import normalized

__all__ = ["BackendFailure", "MemoryRetriever", "Relevance", "RetrievalResult", "render_memory_block"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class BackendFailure:
    """One backend that failed or timed out during a retrieve."""

    backend: str
    error: MemoryMeshError


@dataclass(frozen=True)
class RetrievalResult:
    """Merged records plus the backends that failed (a partial answer is still an answer)."""

    records: tuple[MemoryRecord, ...]
    errors: tuple[BackendFailure, ...] = field(default_factory=tuple)


class MemoryRetriever:
    """Searches several :class:`MemoryBackend` s concurrently and merges their answers.

    With more than one backend, calls run on one thread pool owned by the retriever (reused across calls)
    and are awaited before :meth:`retrieve` returns. A backend that has not answered within ``timeout_s`` is
    reported as failed and its late answer is discarded; the thread finishes when the client's own timeout
    ends the call. A single backend is called on the caller's thread, bounded by its client's timeouts.
    """

    def __init__(
        self,
        backends: Sequence[MemoryBackend],
        *,
        timeout_s: float = 2.0,
        weights: Mapping[str, float] | None = None,
        relevance: Relevance | None = None,
    ) -> None:
        backends = tuple(backends)
        if not backends:
            raise InvalidInputError("backends", backends, "must name at least one memory backend")
        names = [getattr(backend, "name", None) for backend in backends]
        if any(not isinstance(name, str) or not name for name in names) or len(set(names)) != len(names):
            raise InvalidInputError("backends", names, "must each have a distinct, non-empty name")
        if isinstance(timeout_s, bool) or not isinstance(timeout_s, (int, float)) or not 0 < timeout_s <= 60:
            raise InvalidInputError("timeout_s", timeout_s, "must be a number of seconds in (0, 60]")
        weights = dict(weights or {})
        for name, weight in weights.items():
            if name not in names or isinstance(weight, bool) or not isinstance(weight, (int, float)) or weight < 0:
                raise InvalidInputError(
                    f"weights[{name!r}]", weight, "must be a non-negative number for a configured backend"
                )
        self.backends = backends
        self.timeout_s = float(timeout_s)
        self._weights = {str(name): float(weights.get(str(name), 1.0)) for name in names}
        self.relevance = relevance or Relevance()
        self._executor: ThreadPoolExecutor | None = None
        self._executor_lock = threading.Lock()

    # -- public ---------------------------------------------------------------------------------------

    def retrieve(self, query: MemoryQuery) -> list[MemoryRecord]:
        """Top ``query.top_k`` merged records, ``score`` set to the ranking score; raises only if all backends fail."""
        result = self.retrieve_result(query)
        return list(result.records)

    def retrieve_result(
        self, query: MemoryQuery, *, timeout_s: float | None = None, min_score: float | None = None
    ) -> RetrievalResult:
        """Like :meth:`retrieve`, but also reports the backends that failed.

        ``timeout_s`` (default: the retriever's) bounds this call: every backend then runs on the pool and the
        caller waits at most that long, so one slow backend costs the budget, never more. ``min_score`` replaces
        the relevance's minimum for this call.
        """
        if not isinstance(query, MemoryQuery):
            raise InvalidInputError("query", f"<{type(query).__name__}>", "must be a runtime.records.MemoryQuery")
        if timeout_s is not None:
            answers = self._search_all(query, timeout_s=max(0.0, float(timeout_s)), inline=False)
        elif len(self.backends) == 1:
            answers = [self._search_one(self.backends[0], query)]
        else:
            answers = self._search_all(query)
        failures = tuple(answer for answer in answers if isinstance(answer, BackendFailure))
        if len(failures) == len(answers):
            # Nothing to merge. A caller mistake (the same for every backend) is raised as it is.
            first = failures[0].error
            if isinstance(first, InvalidInputError) or len(failures) == 1:
                raise first
            raise UpstreamError(
                "every memory backend failed: " + ", ".join(f"{f.backend} ({f.error.code})" for f in failures)
            )
        found = [
            (record, position)
            for position, answer in enumerate(answers)
            if not isinstance(answer, BackendFailure)
            for record in answer
        ]
        relevance = self.relevance if min_score is None else replace(self.relevance, min_score=min_score)
        return RetrievalResult(records=tuple(self._merge(found, query.top_k, relevance)), errors=failures)

    def render_memory_block(self, records: Sequence[MemoryRecord], *, budget_bytes: int = 4000) -> str:
        """See :func:`runtime.rendering.render_memory_block`."""
        return render_memory_block(records, budget_bytes=budget_bytes)

    def close(self) -> None:
        """Shut the thread pool down (idle threads only; nothing runs after a retrieve returns)."""
        with self._executor_lock:
            executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=False, cancel_futures=True)

    def __enter__(self) -> MemoryRetriever:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- searching ------------------------------------------------------------------------------------

    def _search_one(self, backend: MemoryBackend, query: MemoryQuery) -> list[MemoryRecord] | BackendFailure:
        try:
            return list(backend.search(query))
        except MemoryMeshError as error:
            return self._failure(backend.name, error)
        except Exception:  # a backend bug must not take the other backends' answers down
            logger.exception("memory backend raised an unexpected error", extra={"backend": backend.name})
            return self._failure(backend.name, UpstreamError(f"memory backend {backend.name!r} failed unexpectedly"))

    def _search_all(
        self, query: MemoryQuery, *, timeout_s: float | None = None, inline: bool = True
    ) -> list[list[MemoryRecord] | BackendFailure]:
        # By default the first backend runs on the calling thread while the others run in the pool: one thread
        # hand-off fewer per retrieve. Its answer is dropped, like a pooled one, if it arrives after the timeout.
        # Pooled calls carry the caller's context variables (credentials may live in one).
        timeout = self.timeout_s if timeout_s is None else timeout_s
        started = time.monotonic()
        executor = self._pool()
        pooled = self.backends[1:] if inline else self.backends
        futures: list[Future] = [run_in_context(executor, self._search_one, backend, query) for backend in pooled]
        answers: list[list[MemoryRecord] | BackendFailure] = []
        if inline:
            first = self._search_one(self.backends[0], query)
            if time.monotonic() - started > timeout:
                first = self._timed_out(self.backends[0].name, timeout)
            answers.append(first)
        wait(futures, timeout=max(0.0, timeout - (time.monotonic() - started)))
        for backend, future in zip(pooled, futures, strict=True):
            if future.done():
                answers.append(future.result())
                continue
            future.cancel()  # drops it if it never started; a running call's answer is discarded
            answers.append(self._timed_out(backend.name, timeout))
        return answers

    def _timed_out(self, backend: str, timeout_s: float) -> BackendFailure:
        return self._failure(backend, UpstreamTimeoutError(
            f"memory backend {backend!r} did not answer within {timeout_s:.3g} s"))

    def _pool(self) -> ThreadPoolExecutor:
        executor = self._executor
        if executor is None:
            with self._executor_lock:
                if self._executor is None:
                    self._executor = ThreadPoolExecutor(
                        max_workers=max(4, 2 * len(self.backends)), thread_name_prefix="memory-retriever"
                    )
                executor = self._executor
        return executor

    @staticmethod
    def _failure(backend: str, error: MemoryMeshError) -> BackendFailure:
        logger.warning("memory backend failed", extra={"backend": backend, "error_code": error.code})
        return BackendFailure(backend=backend, error=error)

    # -- merging --------------------------------------------------------------------------------------

    def _merge(self, found: list[tuple[MemoryRecord, int]], top_k: int, relevance: Relevance) -> list[MemoryRecord]:
        now = relevance.clock()
        best: dict[str, tuple[float, int, int, MemoryRecord]] = {}
        for record, position in found:
            score = self._ranked_score(record, self.backends[position].name)
            if score < relevance.min_score:
                continue
            score = relevance.rank(score, record.stored_at, now)
            identity = normalized(record.content)
            candidate = (score, record.stored_at or 0, -position, record)
            current = best.get(identity)
            if current is None or candidate[:3] > current[:3]:
                best[identity] = candidate
        ranked = sorted(best.values(), key=lambda item: item[:3], reverse=True)
        kept: list[MemoryRecord] = []
        per_kind: dict[str, int] = {}
        for score, _, _, record in ranked:
            if len(kept) == top_k:
                break
            cap = relevance.cap(record.kind)
            if cap is not None and per_kind.get(record.kind, 0) >= cap:
                continue
            per_kind[record.kind] = per_kind.get(record.kind, 0) + 1
            kept.append(replace(record, score=score))
        return kept

    def _ranked_score(self, record: MemoryRecord, backend: str) -> float:
        score = record.score if isinstance(record.score, (int, float)) else 0.0
        return min(1.0, max(0.0, float(score))) * self._weights[backend]


@dataclass(frozen=True)
class Relevance:
    """What recall keeps and how it ranks (the module docstring's formula); the defaults change nothing."""

    min_score: float = 0.0
    half_life_s: float | None = None
    recency_weight: float = 0.0
    per_kind: Mapping[str, int] | int | None = None
    clock: Callable[[], float] = time.time

    def __post_init__(self) -> None:
        for name in ("min_score", "recency_weight"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value <= 1.0:
                raise InvalidInputError(f"relevance.{name}", value, "must be a number from 0 to 1")
        half_life = self.half_life_s
        if half_life is not None and (isinstance(half_life, bool) or not isinstance(half_life, (int, float))
                                      or half_life <= 0):
            raise InvalidInputError("relevance.half_life_s", half_life, "must be a positive number of seconds or None")
        caps = self.per_kind
        values = caps.values() if isinstance(caps, Mapping) else [] if caps is None else [caps]
        if any(isinstance(cap, bool) or not isinstance(cap, int) or cap < 1 for cap in values):
            raise InvalidInputError("relevance.per_kind", caps, "must be a positive integer, a map of them, or None")

    def rank(self, score: float, stored_at: int | None, now: float) -> float:
        """``score`` weighted by recency: ``score * (1 - w + w * 0.5 ** (age / half_life))``."""
        if self.half_life_s is None or self.recency_weight == 0.0:
            return score
        freshness = 0.0 if stored_at is None else 0.5 ** (max(0.0, now - stored_at) / self.half_life_s)
        return score * (1.0 - self.recency_weight + self.recency_weight * freshness)

    def cap(self, kind: str) -> int | None:
        """How many records of ``kind`` an answer may hold (None: no cap)."""
        if isinstance(self.per_kind, Mapping):
            return self.per_kind.get(kind)
        return self.per_kind
