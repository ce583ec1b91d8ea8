"""S3 Vectors limits, metadata layout and request validation shared by the S3 Vectors and local stores.

Both stores validate a whole request here before touching storage, so they accept and reject exactly the
same input and nothing is ever partially written because of a bad item.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import re
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from runtime.contract import memory
from runtime.errors import InvalidInputError, NotFoundError
from runtime.identity import (
    Identity,
    validate_actor_id,
    validate_agent_name,
    validate_session_id,
    validate_tenant_id,
)
from runtime.records import MEMORY_KINDS, MemoryQuery, MemoryRecord
from runtime.stores.consolidation import (
    CREATED,
    DUPLICATE,
    STATE_CURRENT,
    STATE_SUPERSEDED,
    SUPERSEDED,
    UPDATED,
    ConsolidationPolicy,
    Neighbour,
    WriteResult,
    normalized_digest,
)

logger = logging.getLogger(__name__)

# Amazon S3 Vectors limits (the shared contract).
MAX_VECTORS_PER_PUT = memory.S3VECTORS.MAX_VECTORS_PER_PUT
MAX_KEYS_PER_DELETE = memory.S3VECTORS.MAX_KEYS_PER_DELETE
MAX_KEYS_PER_GET = memory.S3VECTORS.MAX_KEYS_PER_GET
MAX_TOP_K = memory.S3VECTORS.MAX_TOP_K
MAX_LIST_PAGE = memory.S3VECTORS.MAX_LIST_PAGE
MAX_DIMENSION = memory.S3VECTORS.MAX_DIMENSION
MAX_VECTOR_KEY_CHARS = memory.S3VECTORS.MAX_VECTOR_KEY_CHARS
MAX_METADATA_BYTES = memory.S3VECTORS.MAX_METADATA_BYTES
MAX_FILTERABLE_METADATA_BYTES = memory.S3VECTORS.MAX_FILTERABLE_METADATA_BYTES
MAX_METADATA_KEYS = memory.S3VECTORS.MAX_METADATA_KEYS

FILTERABLE_KEYS = memory.FILTERABLE_METADATA_KEYS
CONTENT_KEY = "content"
NON_FILTERABLE_KEYS = memory.NON_FILTERABLE_METADATA_KEYS

DEFAULT_CONTENT_MAX_BYTES = memory.DEFAULT_CONTENT_MAX_BYTES
MAX_CONTENT_BYTES = memory.MAX_CONTENT_BYTES
MAX_CALLER_KEY_CHARS = 256


@dataclass(frozen=True)
class MemoryDraft:
    """One memory to store: its text and labels. ``key`` is an optional caller idempotency key."""

    content: str
    kind: str = "note"
    agent: str | None = None
    session_id: str | None = None
    key: str | None = None


@dataclass(frozen=True)
class PreparedVector:
    """A validated vector ready to send: key, float32-representable data and metadata."""

    key: str
    data: list[float]
    metadata: dict[str, Any]


@dataclass(frozen=True)
class ValidQuery:
    """A :class:`MemoryQuery` whose every field has been checked."""

    tenant_id: str
    actor_id: str
    text: str
    top_k: int
    agent: str | None
    kinds: tuple[str, ...] | None
    stored_after: int | None
    stored_before: int | None


def cap_utf8(text: str, max_bytes: int) -> str:
    """Return ``text`` cut to at most ``max_bytes`` UTF-8 bytes, on a character boundary."""
    encoded = text.encode("utf-8")
    if len(encoded) <= max_bytes:
        return text
    # A cut inside a multi-byte sequence leaves only an incomplete tail, which "ignore" drops.
    return encoded[:max_bytes].decode("utf-8", errors="ignore")


def validate_content_max_bytes(value: Any) -> int:
    """Check the configured content cap against the S3 Vectors 40 KB metadata limit."""
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_CONTENT_BYTES:
        raise InvalidInputError(
            "content_max_bytes",
            value,
            f"must be an integer from 1 to {MAX_CONTENT_BYTES} (S3 Vectors allows 40 KB of metadata "
            "per vector, 2 KB of it filterable)",
        )
    return value


def validate_dimension(embedder_dimension: Any, index_dimension: Any | None) -> int:
    """Check the embedder's dimension, and that it equals the index dimension when one is configured."""
    if (
        isinstance(embedder_dimension, bool)
        or not isinstance(embedder_dimension, int)
        or not 1 <= embedder_dimension <= MAX_DIMENSION
    ):
        raise InvalidInputError(
            "embedder.dimension", embedder_dimension, f"must be an integer from 1 to {MAX_DIMENSION}"
        )
    if index_dimension is not None and index_dimension != embedder_dimension:
        raise InvalidInputError(
            "embedder.dimension",
            embedder_dimension,
            f"must equal the index dimension {index_dimension!r} (S3 Vectors fixes the dimension per index)",
        )
    return embedder_dimension


def validate_identity(identity: Any, *, index_prefix: str = "") -> tuple[str, str]:
    """Return the validated (tenant_id, actor_id) of an :class:`Identity`."""
    if not isinstance(identity, Identity):
        raise InvalidInputError("identity", f"<{type(identity).__name__}>", "must be a runtime.identity.Identity")
    return (
        validate_tenant_id(identity.tenant_id, index_prefix=index_prefix),
        validate_actor_id(identity.actor_id),
    )


def validate_content(value: Any, *, field: str = "content") -> str:
    """Return ``value`` if it is non-blank text (its words are never echoed in the error)."""
    if not isinstance(value, str):
        raise InvalidInputError(field, f"<{type(value).__name__}>", "must be a string")
    if not value.strip():
        raise InvalidInputError(field, value, "must contain non-whitespace text")
    return value


def validate_kind(value: Any, *, field: str = "kind") -> str:
    """Return ``value`` if it is one of :data:`runtime.records.MEMORY_KINDS`."""
    if value not in MEMORY_KINDS:
        raise InvalidInputError(field, value, f"must be one of {', '.join(MEMORY_KINDS)}")
    return value


def validate_top_k(value: Any) -> int:
    """Return ``value`` if it is an integer from 1 to 100 (the QueryVectors topK limit)."""
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_TOP_K:
        raise InvalidInputError("top_k", value, f"must be an integer from 1 to {MAX_TOP_K} (S3 Vectors topK limit)")
    return value


def validate_epoch(value: Any, field: str) -> int:
    """Return ``value`` as whole epoch seconds; rejects booleans, NaN and negative numbers."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
        raise InvalidInputError(field, value, "must be a non-negative number of epoch seconds")
    return int(value)


def validate_query(query: Any, *, index_prefix: str = "") -> ValidQuery:
    """Check every field of a :class:`MemoryQuery` before any backend call."""
    if not isinstance(query, MemoryQuery):
        raise InvalidInputError("query", f"<{type(query).__name__}>", "must be a runtime.records.MemoryQuery")
    tenant_id = validate_tenant_id(query.tenant_id, index_prefix=index_prefix)
    actor_id = validate_actor_id(query.actor_id)
    text = validate_content(query.text, field="query.text")
    top_k = validate_top_k(query.top_k)
    agent = None if query.agent is None else validate_agent_name(query.agent, field="query.agent")
    kinds = None
    if query.kinds is not None:
        if isinstance(query.kinds, str) or not query.kinds:
            raise InvalidInputError("query.kinds", query.kinds, "must be a non-empty tuple of memory kinds or None")
        kinds = tuple(dict.fromkeys(validate_kind(kind, field="query.kinds") for kind in query.kinds))
    after = None if query.stored_after is None else validate_epoch(query.stored_after, "query.stored_after")
    before = None if query.stored_before is None else validate_epoch(query.stored_before, "query.stored_before")
    if after is not None and before is not None and after >= before:
        raise InvalidInputError("query.stored_after", after, f"must be less than query.stored_before ({before})")
    return ValidQuery(tenant_id, actor_id, text, top_k, agent, kinds, after, before)


def summary_key(tenant_id: str, actor_id: str, agent: str, session_id: str) -> str:
    """Deterministic vector key of a session summary, so a re-delivered summary overwrites the old one."""
    parts = (
        validate_tenant_id(tenant_id),
        validate_actor_id(actor_id),
        validate_agent_name(agent),
        validate_session_id(session_id),
    )
    return "summary-" + hashlib.sha256("\x00".join(parts).encode()).hexdigest()


def memory_key(tenant_id: str, actor_id: str, caller_key: str | None) -> str:
    """Vector key of a non-summary memory: random, or derived from a caller key and the identity.

    Deriving from the identity means one actor can never overwrite another actor's vector by key.
    """
    if caller_key is None:
        return "mem-" + uuid.uuid4().hex
    if not isinstance(caller_key, str) or not 1 <= len(caller_key) <= MAX_CALLER_KEY_CHARS or "\x00" in caller_key:
        raise InvalidInputError(
            "key", caller_key, f"must be a string of 1-{MAX_CALLER_KEY_CHARS} characters without NUL"
        )
    return "mem-" + hashlib.sha256(f"{tenant_id}\x00{actor_id}\x00{caller_key}".encode()).hexdigest()


def metadata_bytes(metadata: Mapping[str, Any]) -> int:
    """Size of ``metadata`` as compact UTF-8 JSON (the service does not publish its measure; this over-counts)."""
    return len(json.dumps(metadata, separators=(",", ":"), ensure_ascii=False).encode("utf-8"))


def check_metadata(metadata: Mapping[str, Any], *, key: str) -> None:
    """Reject metadata over the S3 Vectors per-vector limits (2 KB filterable, 40 KB total, 50 keys)."""
    if len(metadata) > MAX_METADATA_KEYS:
        raise InvalidInputError("metadata", key, f"must have at most {MAX_METADATA_KEYS} keys per vector")
    filterable = metadata_bytes({k: v for k, v in metadata.items() if k not in NON_FILTERABLE_KEYS})
    if filterable > MAX_FILTERABLE_METADATA_BYTES:
        raise InvalidInputError(
            "metadata",
            key,
            f"filterable metadata is {filterable} bytes; S3 Vectors allows {MAX_FILTERABLE_METADATA_BYTES}",
        )
    total = metadata_bytes(metadata)
    if total > MAX_METADATA_BYTES:
        raise InvalidInputError(
            "metadata", key, f"metadata is {total} bytes; S3 Vectors allows {MAX_METADATA_BYTES} per vector"
        )


def build_metadata(
    *, actor_id: str, kind: str, stored_at: int, content: str, agent: str | None, session_id: str | None
) -> dict[str, Any]:
    """Metadata of one vector: filterable actor/agent/session/type/stored_at/state, plus the content and the
    digest of its normalized text (non-filterable)."""
    metadata: dict[str, Any] = {"actor": actor_id, "type": kind, "stored_at": stored_at, "state": STATE_CURRENT}
    if agent is not None:
        metadata["agent"] = agent
    if session_id is not None:
        metadata["session"] = session_id
    metadata[CONTENT_KEY] = content
    metadata["normalized"] = normalized_digest(content)
    return metadata


def check_vector(values: Any, dimension: int, *, field: str = "vector") -> list[float]:
    """Return ``values`` as floats if it has ``dimension`` finite values, not all zero."""
    try:
        floats = [float(v) for v in values]
    except (TypeError, ValueError):
        raise InvalidInputError(field, f"<{type(values).__name__}>", "must be a sequence of numbers") from None
    if len(floats) != dimension:
        raise InvalidInputError(
            field, f"<{len(floats)} values>", f"must have exactly {dimension} values (the index dimension)"
        )
    if not all(map(math.isfinite, floats)):
        raise InvalidInputError(field, "<non-finite value>", "must contain only finite numbers (no NaN or Infinity)")
    if not any(floats):
        raise InvalidInputError(
            field, "<all zeros>", "must not be all zeros (the cosine distance of a zero vector is undefined)"
        )
    return floats


def prepare_vectors(
    identity: Identity,
    drafts: Sequence[MemoryDraft],
    *,
    embedder: Any,
    dimension: int,
    content_max_bytes: int,
    clock: Callable[[], float],
    index_prefix: str = "",
    keys: Sequence[str | None] | None = None,
) -> list[PreparedVector]:
    """Validate, cap, key and embed a whole batch; raise before anything is written if any item is bad."""
    tenant_id, actor_id = validate_identity(identity, index_prefix=index_prefix)
    if isinstance(drafts, MemoryDraft) or not isinstance(drafts, Sequence) or not drafts:
        raise InvalidInputError("memories", f"<{type(drafts).__name__}>", "must be a non-empty sequence of MemoryDraft")
    stored_at = int(clock())
    texts: list[str] = []
    metadatas: list[dict[str, Any]] = []
    vector_keys: list[str] = []
    for position, draft in enumerate(drafts):
        if not isinstance(draft, MemoryDraft):
            raise InvalidInputError(f"memories[{position}]", f"<{type(draft).__name__}>", "must be a MemoryDraft")
        content = cap_utf8(validate_content(draft.content), content_max_bytes)
        kind = validate_kind(draft.kind)
        agent = None if draft.agent is None else validate_agent_name(draft.agent)
        session_id = None if draft.session_id is None else validate_session_id(draft.session_id)
        fixed_key = keys[position] if keys is not None else None
        key = fixed_key or memory_key(tenant_id, actor_id, draft.key)
        metadata = build_metadata(
            actor_id=actor_id, kind=kind, stored_at=stored_at, content=content, agent=agent, session_id=session_id
        )
        check_metadata(metadata, key=key)
        texts.append(content)
        metadatas.append(metadata)
        vector_keys.append(key)
    vectors = embedder.embed(texts)
    if len(vectors) != len(texts):
        raise InvalidInputError(
            "embedder.embed", f"<{len(vectors)} vectors>", f"must return one vector per text ({len(texts)})"
        )
    return [
        PreparedVector(key=key, data=check_vector(vector, dimension, field=f"embedding[{position}]"), metadata=metadata)
        for position, (key, vector, metadata) in enumerate(zip(vector_keys, vectors, metadatas, strict=True))
    ]


def last_per_key(prepared: Sequence[PreparedVector]) -> list[PreparedVector]:
    """Drop earlier duplicates of a key within one batch: the last one wins, as two PutVectors calls would."""
    return list({vector.key: vector for vector in prepared}.values())


#: Current memories: ``state`` is "current", or absent on vectors written before memories had a state.
CURRENT_FILTER: dict[str, Any] = {"$or": [{"state": {"$eq": STATE_CURRENT}}, {"state": {"$exists": False}}]}


def vector_filter(query: ValidQuery) -> dict[str, Any]:
    """S3 Vectors metadata filter of a query: the actor and current memories, plus agent, kinds and time range."""
    clauses: list[dict[str, Any]] = [{"actor": {"$eq": query.actor_id}}, CURRENT_FILTER]
    if query.agent is not None:
        clauses.append({"agent": {"$eq": query.agent}})
    if query.kinds is not None:
        clauses.append({"type": {"$in": list(query.kinds)}})
    if query.stored_after is not None:
        clauses.append({"stored_at": {"$gte": query.stored_after}})
    if query.stored_before is not None:
        clauses.append({"stored_at": {"$lt": query.stored_before}})
    return {"$and": clauses}


def metadata_matches(metadata: Mapping[str, Any], query: ValidQuery) -> bool:
    """True when ``metadata`` satisfies :func:`vector_filter` of ``query`` (re-checked on every result)."""
    if metadata.get("actor") != query.actor_id or metadata.get("state", STATE_CURRENT) != STATE_CURRENT:
        return False
    if query.agent is not None and metadata.get("agent") != query.agent:
        return False
    if query.kinds is not None and metadata.get("type") not in query.kinds:
        return False
    stored_at = metadata.get("stored_at")
    if query.stored_after is not None or query.stored_before is not None:
        if not isinstance(stored_at, (int, float)):
            return False
        if query.stored_after is not None and stored_at < query.stored_after:
            return False
        if query.stored_before is not None and stored_at >= query.stored_before:
            return False
    return True


def record_from_metadata(
    key: str, metadata: Mapping[str, Any], *, tenant_id: str, source: str, score: float | None
) -> MemoryRecord:
    """Build a :class:`MemoryRecord` from a vector's key and metadata."""
    stored_at = metadata.get("stored_at")
    supersedes = metadata.get("supersedes")
    return MemoryRecord(
        content=str(metadata.get(CONTENT_KEY, "")),
        tenant_id=tenant_id,
        actor_id=str(metadata.get("actor", "")),
        kind=str(metadata.get("type", "note")),
        source=source,
        key=key,
        score=score,
        agent=metadata.get("agent"),
        session_id=metadata.get("session"),
        stored_at=int(stored_at) if isinstance(stored_at, (int, float)) else None,
        state=metadata.get("state") if isinstance(metadata.get("state"), str) else None,
        supersedes=tuple(supersedes.split(",")) if isinstance(supersedes, str) and supersedes else (),
        superseded_by=metadata.get("superseded_by") if isinstance(metadata.get("superseded_by"), str) else None,
    )


def similarity_from_distance(distance: float | None, metric: str) -> float | None:
    """Turn an S3 Vectors distance into a similarity: cosine 1 - d; euclidean 1 / (1 + d)."""
    if distance is None:
        return None
    if metric == "euclidean":
        return 1.0 / (1.0 + float(distance))
    return 1.0 - float(distance)


class DraftWriter:
    """The write API both vector stores share. A store implements ``_write(identity, prepared)``,
    ``_neighbours(identity, vector, count)``, ``_fetch(identity, keys)`` and ``_remove(identity, keys)``.

    Expects ``_embedder``, ``dimension``, ``content_max_bytes``, ``_clock``, ``index_prefix`` and
    ``consolidation`` (a :class:`ConsolidationPolicy`, or None to write blind) on the store.
    """

    consolidation: ConsolidationPolicy | None = None
    #: A ``runtime.lifecycle.tombstones.TombstoneGuard``: when set, every write checks the user's forget
    #: tombstone before and after, and removes what it wrote if forget started after the write's origin.
    tombstones: Any = None

    def put_memory(self, identity: Identity, content: str, *, kind: str, agent: str | None = None,
                   session_id: str | None = None, key: str | None = None) -> str:
        """Store one memory for the identity's actor and return its key (an existing one when consolidated)."""
        return self.write_memory(identity, content, kind=kind, agent=agent, session_id=session_id, key=key).key

    def write_memory(self, identity: Identity, content: str, *, kind: str, agent: str | None = None,
                     session_id: str | None = None, key: str | None = None) -> WriteResult:
        """Store one memory and say how it landed: created, duplicate, updated or superseded."""
        draft = MemoryDraft(content=content, kind=kind, agent=agent, session_id=session_id, key=key)
        return self.write_memories(identity, [draft])[0]

    def put_summary(self, identity: Identity, *, agent: str, session_id: str, content: str) -> str:
        """Store a session summary under its deterministic key, so a retry overwrites it."""
        key = summary_key(identity.tenant_id, identity.actor_id, agent, session_id)
        draft = MemoryDraft(content=content, kind="summary", agent=agent, session_id=session_id)
        prepared = self._prepare(identity, [draft], keys=[key])
        return self._guarded_write(identity, prepared)[0]

    def put_memories(self, identity: Identity, memories: Sequence[MemoryDraft]) -> list[str]:
        """Store many memories; the whole batch is validated (and embedded) before anything is written."""
        return [result.key for result in self.write_memories(identity, memories)]

    def write_memories(self, identity: Identity, memories: Sequence[MemoryDraft]) -> list[WriteResult]:
        """Like :meth:`put_memories`, with each memory's :class:`WriteResult`.

        Memories of a consolidated kind without a caller key are consolidated one by one (each sees the ones
        before it); the others are written together.
        """
        prepared = self._prepare(identity, memories, keys=None)
        policy = self.consolidation
        results: list[WriteResult] = []
        plain: list[PreparedVector] = []
        for draft, vector in zip(memories, prepared, strict=True):
            if policy is None or draft.key is not None or not policy.applies_to(vector.metadata["type"]):
                plain.append(vector)
                results.append(WriteResult(vector.key, CREATED))
            else:
                results.append(self._consolidate(identity, vector, policy))
        if plain:
            self._guarded_write(identity, plain)
        return results

    def update_memory(self, identity: Identity, key: str, content: str) -> WriteResult:
        """Replace the text of one memory of the identity's actor (re-embedded, same key, kind and labels).

        Raises :class:`NotFoundError` when the actor has no memory under ``key``.
        """
        key = validate_vector_key(key)
        (old,) = self._fetch_own(identity, key)
        draft = MemoryDraft(content=content, kind=str(old.metadata.get("type", "note")),
                            agent=old.metadata.get("agent"), session_id=old.metadata.get("session"))
        (vector,) = self._prepare(identity, [draft], keys=[key])
        history = ("state", "supersedes", "superseded_by")
        kept: dict[str, Any] = {name: old.metadata[name] for name in history if name in old.metadata}
        self._guarded_write(identity, [PreparedVector(key, vector.data, {**vector.metadata, **kept})])
        return WriteResult(key, UPDATED)

    def delete_memory(self, identity: Identity, key: str) -> bool:
        """Delete one memory of the identity's actor; False when there is none under ``key``."""
        key = validate_vector_key(key)
        if not self._fetch(identity, [key]):
            return False
        self._remove(identity, [key])
        return True

    def _fetch_own(self, identity: Identity, key: str) -> list[PreparedVector]:
        found = self._fetch(identity, [key])
        if not found:
            raise NotFoundError(f"memory {key[:80]!r} was not found among this user's memories")
        return found

    def _consolidate(self, identity: Identity, vector: PreparedVector, policy: ConsolidationPolicy) -> WriteResult:
        decision = policy.decide(vector.metadata[CONTENT_KEY], self._neighbours(identity, vector, policy.candidates))
        if decision.outcome == DUPLICATE and decision.target is not None:
            return WriteResult(decision.target, DUPLICATE)
        if decision.outcome == UPDATED and decision.target is not None:
            self._guarded_write(identity, [PreparedVector(decision.target, vector.data, vector.metadata)])
            return WriteResult(decision.target, UPDATED)
        if decision.outcome == SUPERSEDED:
            olds = self._fetch(identity, list(decision.superseded))
            keys = tuple(old.key for old in olds)
            new = PreparedVector(vector.key, vector.data, {**vector.metadata, "supersedes": ",".join(keys)})
            marked = [
                PreparedVector(old.key, old.data,
                               {**old.metadata, "state": STATE_SUPERSEDED, "superseded_by": vector.key})
                for old in olds
            ]
            # One write: the new memory and its predecessors' marks land together.
            self._guarded_write(identity, [new, *marked])
            logger.info("memory superseded", extra={"superseded": len(keys)})
            return WriteResult(vector.key, SUPERSEDED, keys)
        self._guarded_write(identity, [vector])
        return WriteResult(vector.key, CREATED)

    def _prepare(self, identity: Identity, drafts: Sequence[MemoryDraft], *,
                 keys: Sequence[str | None] | None) -> list[PreparedVector]:
        return prepare_vectors(
            identity,
            drafts,
            embedder=self._embedder,  # type: ignore[attr-defined]
            dimension=self.dimension,  # type: ignore[attr-defined]
            content_max_bytes=self.content_max_bytes,  # type: ignore[attr-defined]
            clock=self._clock,  # type: ignore[attr-defined]
            index_prefix=self.index_prefix,  # type: ignore[attr-defined]
            keys=keys,
        )

    def _guarded_write(self, identity: Identity, prepared: list[PreparedVector]) -> list[str]:
        """Write, under the forget tombstone's guard when one is set."""
        if self.tombstones is None:
            return self._write(identity, prepared)
        return self.tombstones.write(identity, lambda: self._write(identity, prepared),
                                     lambda written: self._delete_written(identity, written))

    def _write(self, identity: Identity, prepared: list[Any]) -> list[str]:  # pragma: no cover - abstract
        raise NotImplementedError

    def _delete_written(self, identity: Identity, keys: list[str]) -> None:  # pragma: no cover - abstract
        """Remove vectors this writer just wrote (the tombstone's second check found forget racing it)."""
        raise NotImplementedError

    def _neighbours(self, identity: Identity, vector: PreparedVector,
                    count: int) -> list[Neighbour]:  # pragma: no cover - abstract
        raise NotImplementedError

    def _fetch(self, identity: Identity, keys: Sequence[str]) -> list[PreparedVector]:  # pragma: no cover - abstract
        raise NotImplementedError

    def _remove(self, identity: Identity, keys: Sequence[str]) -> None:  # pragma: no cover - abstract
        raise NotImplementedError


_VECTOR_KEY_RE = re.compile(r"(mem|summary)-[0-9a-f]{32,64}")


def validate_vector_key(value: Any, *, field: str = "key") -> str:
    """A key this store writes (``mem-<hex>`` or ``summary-<hex>``); anything else is refused before any call."""
    if not isinstance(value, str) or not _VECTOR_KEY_RE.fullmatch(value):
        shown = value[:80] if isinstance(value, str) else f"<{type(value).__name__}>"
        raise InvalidInputError(field, shown, "must be a memory key this store returned (mem-<hex> or summary-<hex>)")
    return value


def neighbour_of(key: str, similarity: float | None, metadata: Mapping[str, Any]) -> Neighbour:
    """A :class:`Neighbour` from a vector's key, similarity and metadata."""
    digest = metadata.get("normalized")
    return Neighbour(key=key, similarity=max(0.0, min(1.0, similarity or 0.0)),
                     content=str(metadata.get(CONTENT_KEY, "")), digest=digest if isinstance(digest, str) else None)
