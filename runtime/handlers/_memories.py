"""The orchestrator's memory routes: list the caller's memories a page at a time, correct one, delete one.

- ``GET /memories`` pages through every store in one stable order: the user's vector index (ListVectors order),
  then AgentCore summaries, facts and preferences (ListMemoryRecords order), then the supervisor's Bedrock
  Agents session summaries. The cursor holds the store, its page token and the position inside that page, bound
  to the caller and the filters; each page reads only this user's data.
- ``PATCH /memories/{key}`` and ``DELETE /memories/{key}`` act on one memory of the caller. A memory key is
  opaque: it names the store and the id and is bound to its owner, so a malformed key is refused (400) and
  another user's key is not found (404) before any AWS call.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from runtime.errors import InvalidInputError, MemoryMeshError, NotFoundError
from runtime.handlers import _observability as obs
from runtime.handlers._agents import BEDROCK_AGENT, Deadline, bedrock_memory_id
from runtime.handlers._http import as_upstream, check_query
from runtime.identity import Identity, validate_agent_name, validate_session_id
from runtime.records import MEMORY_KINDS, MemoryRecord
from runtime.stores.consolidation import STATE_CURRENT, STATE_SUPERSEDED

__all__ = [
    "DEFAULT_PAGE_SIZE", "MAX_PAGE_SIZE", "MemoryFilter", "decode_key", "delete_memory", "encode_key",
    "list_memories", "update_memory",
]

#: Memories per page: at most 100, and at most PAGE_BYTES of JSON (a Lambda response may be 6 MB).
MAX_PAGE_SIZE = 100
DEFAULT_PAGE_SIZE = 20
PAGE_BYTES = 4 * 1024 * 1024
#: Store calls one page may make (filters can skip many memories); the cursor resumes where they stopped.
MAX_CALLS_PER_PAGE = 8
#: The largest corrected text accepted (the same cap as a message).
MAX_CONTENT_BYTES = 16 * 1024
LIST_QUERY = ("cursor", "page_size", "kind", "agent", "after", "before", "include")
_VECTORS, _AGENTCORE, _BEDROCK = "v", "a", "b"
_AGENTCORE_KINDS = ("summary", "fact", "preference")
_KEY_TAG_CHARS = 16
_MIN_CALL_S = 0.5


# -- filters -------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MemoryFilter:
    """Which memories a listing (or a recall) keeps: kinds, the writing agent, a time range, and history."""

    kinds: tuple[str, ...] | None = None
    agent: str | None = None
    after: int | None = None
    before: int | None = None
    history: bool = False

    @classmethod
    def from_query(cls, query: Mapping[str, str]) -> MemoryFilter:
        """From ``kind`` (comma-separated), ``agent``, ``after``/``before`` (epoch seconds) and ``include``."""
        include = query.get("include")
        if include is not None and include != "history":
            raise InvalidInputError("include", include[:40], "must be 'history' or left out")
        return cls.build(kinds=query["kind"].split(",") if "kind" in query else None, agent=query.get("agent"),
                         after=_epoch_text(query, "after"), before=_epoch_text(query, "before"),
                         history=include == "history")

    @classmethod
    def build(cls, *, kinds: Any = None, agent: Any = None, after: Any = None, before: Any = None,
              history: bool = False, where: str = "") -> MemoryFilter:
        """Validated filter; InvalidInputError names the field (prefixed by ``where``)."""
        chosen = None
        if kinds is not None:
            if isinstance(kinds, str) or not isinstance(kinds, (list, tuple)) or not kinds:
                raise InvalidInputError(f"{where}kind", f"<{type(kinds).__name__}>",
                                        "must be a non-empty list of kinds")
            for kind in kinds:
                if kind not in MEMORY_KINDS:
                    shown = kind[:40] if isinstance(kind, str) else f"<{type(kind).__name__}>"
                    raise InvalidInputError(f"{where}kind", shown, f"must be one of {', '.join(MEMORY_KINDS)}")
            chosen = tuple(dict.fromkeys(kinds))
        if agent is not None:
            agent = validate_agent_name(agent, field=f"{where}agent")
        for name, value in (("after", after), ("before", before)):
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
                raise InvalidInputError(f"{where}{name}", value, "must be a non-negative integer of epoch seconds")
        if after is not None and before is not None and after >= before:
            raise InvalidInputError(f"{where}after", after, f"must be less than before ({before})")
        return cls(chosen, agent, after, before, history)

    def keeps(self, memory: Mapping[str, Any]) -> bool:
        """True when a listed memory passes the filter."""
        if not self.history and memory.get("state") == STATE_SUPERSEDED:
            return False
        if self.kinds is not None and memory.get("kind") not in self.kinds:
            return False
        if self.agent is not None and memory.get("agent") != self.agent:
            return False
        stored_at = memory.get("stored_at")
        if self.after is not None and (stored_at is None or stored_at < self.after):
            return False
        return self.before is None or (stored_at is not None and stored_at < self.before)

    def wants(self, kind: str) -> bool:
        """True when memories of ``kind`` can pass the filter."""
        return self.kinds is None or kind in self.kinds

    def signature(self) -> str:
        """The filter as a string, bound into the cursor so a cursor only continues its own listing."""
        return json.dumps([self.kinds, self.agent, self.after, self.before, self.history], separators=(",", ":"))


def _epoch_text(query: Mapping[str, str], name: str) -> int | None:
    raw = query.get(name)
    if raw is None:
        return None
    if not raw.isdigit() or len(raw) > 12:
        raise InvalidInputError(name, raw[:20], "must be a non-negative integer of epoch seconds")
    return int(raw)


# -- memory keys ---------------------------------------------------------------------------------------------


def encode_key(identity: Identity, store: str, record_id: str, *, kind: str = "", session_id: str = "") -> str:
    """The public, opaque key of one memory: its store, id (and AgentCore namespace parts), bound to its owner."""
    payload = json.dumps([store, kind, session_id, record_id], separators=(",", ":"))
    body = base64.urlsafe_b64encode(payload.encode()).decode().rstrip("=")
    return f"{body}.{_key_tag(identity, payload)}"


def decode_key(identity: Identity, key: Any) -> tuple[str, str, str, str]:
    """(store, kind, session_id, id) of a memory key; 400 when malformed, 404 when it is not the caller's."""
    if not isinstance(key, str) or not 1 <= len(key) <= 512 or key.count(".") != 1:
        raise InvalidInputError("key", _shown(key), "must be a memory key as GET /memories returned it")
    body, tag = key.split(".")
    try:
        payload = base64.urlsafe_b64decode((body + "=" * (-len(body) % 4)).encode()).decode()
        store, kind, session_id, record_id = json.loads(payload)
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError):
        raise InvalidInputError("key", _shown(key), "must be a memory key as GET /memories returned it") from None
    if not all(isinstance(part, str) for part in (store, kind, session_id, record_id)) or store not in (
            _VECTORS, _AGENTCORE, _BEDROCK):
        raise InvalidInputError("key", _shown(key), "must be a memory key as GET /memories returned it")
    if tag != _key_tag(identity, payload):
        raise NotFoundError("memory not found")
    return store, kind, session_id, record_id


def _key_tag(identity: Identity, payload: str) -> str:
    digest = hashlib.sha256(f"{identity.agentcore_actor_id}\x00{payload}".encode()).hexdigest()
    return digest[:_KEY_TAG_CHARS]


def _shown(value: Any) -> str:
    return value[:80] if isinstance(value, str) else f"<{type(value).__name__}>"


# -- listing ---------------------------------------------------------------------------------------------------


@dataclass
class _Position:
    stage: int
    token: str | None = None
    size: int | None = None
    offset: int = 0


def page_size(query: Mapping[str, str]) -> int:
    """``page_size`` of the query string (1-100, default 20)."""
    raw = query.get("page_size")
    if raw is None:
        return DEFAULT_PAGE_SIZE
    if not raw.isdigit() or len(raw) > 4 or not 1 <= int(raw) <= MAX_PAGE_SIZE:
        raise InvalidInputError("page_size", raw[:20], f"must be an integer from 1 to {MAX_PAGE_SIZE}")
    return int(raw)


def list_memories(mesh: Any, identity: Identity, query: Mapping[str, str], deadline: Deadline,
                  supervisor_name: str) -> dict[str, Any]:
    """One page of the caller's memories and the cursor of the next (None at the end)."""
    from runtime.stores.agentcore_events import decode_cursor, encode_cursor

    check_query(query, LIST_QUERY)
    size = page_size(query)
    wanted = MemoryFilter.from_query(query)
    scope = "memories:" + wanted.signature()
    position = _Position(0)
    if "cursor" in query:
        position = _parse_position(decode_cursor(query["cursor"], identity, scope))
    stages = _stages(mesh, identity, supervisor_name)
    page: list[dict[str, Any]] = []
    used = 64
    calls = 0
    while position.stage < len(stages) and len(page) < size and calls < MAX_CALLS_PER_PAGE:
        name, fetch, limit = stages[position.stage]
        if not _stage_wanted(name, wanted, supervisor_name):
            position = _Position(position.stage + 1)
            continue
        deadline.require(_MIN_CALL_S, "list the memories")
        want = position.size or min(limit, size - len(page))
        items, next_token = _read(fetch, position.token, want, name, identity)
        calls += 1
        consumed = position.offset
        full = False
        for item in items[position.offset:]:
            if wanted.keeps(item):
                cost = len(json.dumps(item, separators=(",", ":"), default=str)) + 1
                if len(page) == size or (page and used + cost > PAGE_BYTES):
                    full = True
                    break
                page.append(item)
                used += cost
            consumed += 1
        if full or consumed < len(items):
            position = _Position(position.stage, position.token, want, consumed)
        elif next_token:
            position = _Position(position.stage, next_token)
        else:
            position = _Position(position.stage + 1)
    done = position.stage >= len(stages)
    cursor = None if done else encode_cursor(_format_position(position), identity, scope)
    obs.log("info", "memories listed", route="memories", records=len(page), calls=calls, tenant_id=identity.tenant_id,
            actor=identity.actor_id)
    return {"memories": page, "count": len(page), "next_cursor": cursor}


def _stage_wanted(name: str, wanted: MemoryFilter, supervisor_name: str) -> bool:
    if name.startswith("agentcore-"):
        # AgentCore extracts long-term records per user, shared by every agent: no agent wrote them.
        return wanted.agent is None and wanted.wants(name.removeprefix("agentcore-"))
    if name == "bedrock-agent":
        return wanted.wants("summary") and wanted.agent in (None, supervisor_name)
    return True


Fetch = Callable[[str | None, int], tuple[list[dict[str, Any]], str | None]]


def _stages(mesh: Any, identity: Identity, supervisor_name: str) -> list[tuple[str, Fetch, int]]:
    tenant_id, actor_id = identity.tenant_id, identity.actor_id

    def vectors(token: str | None, want: int) -> tuple[list[dict[str, Any]], str | None]:
        records, next_token = mesh.vectors.list_page(tenant_id, actor_id, token=token, max_results=want)
        return [_vector_json(identity, record) for record in records], next_token

    def agentcore(kind: str) -> Fetch:
        def fetch(token: str | None, want: int) -> tuple[list[dict[str, Any]], str | None]:
            records, next_token = mesh.memory.list_page(tenant_id, actor_id, kind, token=token, max_results=want)
            return [_agentcore_json(identity, record) for record in records], next_token
        return fetch

    stages: list[tuple[str, Fetch, int]] = [("vectors", vectors, MAX_PAGE_SIZE)]
    stages += [(f"agentcore-{kind}", agentcore(kind), MAX_PAGE_SIZE) for kind in _AGENTCORE_KINDS]
    if mesh.supervisor.kind == BEDROCK_AGENT:
        def bedrock(token: str | None, want: int) -> tuple[list[dict[str, Any]], str | None]:
            return _bedrock_page(mesh, identity, token, want, supervisor_name)
        stages.append(("bedrock-agent", bedrock, MAX_PAGE_SIZE))
    return stages


def _read(fetch: Fetch, token: str | None, want: int, name: str,
          identity: Identity) -> tuple[list[dict[str, Any]], str | None]:
    try:
        return fetch(token, want)
    except MemoryMeshError as error:
        if isinstance(error, NotFoundError) and name == "vectors" and token is None:
            return [], None  # a user without an index yet simply has no vector memories
        obs.log("warning", "listing memories failed", backend=name, code=error.code, tenant_id=identity.tenant_id,
                actor=identity.actor_id)
        raise as_upstream(error, "the memory service") from None


def _vector_json(identity: Identity, record: MemoryRecord) -> dict[str, Any]:
    return {
        "key": encode_key(identity, _VECTORS, record.key),
        "content": record.content,
        "kind": record.kind,
        "source": record.source,
        "agent": record.agent,
        "session_id": record.session_id,
        "stored_at": record.stored_at,
        "state": record.state or STATE_CURRENT,
        "supersedes": [encode_key(identity, _VECTORS, key) for key in record.supersedes],
        "superseded_by": encode_key(identity, _VECTORS, record.superseded_by) if record.superseded_by else None,
    }


def _agentcore_json(identity: Identity, record: MemoryRecord) -> dict[str, Any]:
    key = encode_key(identity, _AGENTCORE, record.key, kind=record.kind, session_id=record.session_id or "")
    return {
        "key": key, "content": record.content, "kind": record.kind, "source": record.source, "agent": None,
        "session_id": record.session_id, "stored_at": record.stored_at, "state": record.state or STATE_CURRENT,
        "supersedes": [], "superseded_by": None,
    }


def _bedrock_page(mesh: Any, identity: Identity, token: str | None, want: int,
                  supervisor_name: str) -> tuple[list[dict[str, Any]], str | None]:
    from botocore.exceptions import BotoCoreError, ClientError

    from runtime.errors import UpstreamError

    agent = mesh.supervisor
    request: dict[str, Any] = {"agentId": agent.agent_id, "agentAliasId": agent.alias_id,
                               "memoryId": bedrock_memory_id(identity), "memoryType": "SESSION_SUMMARY",
                               "maxItems": want}
    if token:
        request["nextToken"] = token
    try:
        page = mesh.agents.own(agent).get_agent_memory(**request)
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code") or "Unknown"
        if code == "ResourceNotFoundException":
            return [], None  # no memory kept for this user yet
        raise UpstreamError(f"{agent.kind} memory could not be read ({code})") from None
    except BotoCoreError as error:
        raise UpstreamError(f"{agent.kind} memory could not be read ({type(error).__name__})") from None
    items = []
    for content in page.get("memoryContents", []):
        summary = content.get("sessionSummary") or {}
        if not summary.get("summaryText"):
            continue
        start = summary.get("sessionStartTime")
        items.append({
            "key": encode_key(identity, _BEDROCK, str(summary.get("sessionId", ""))),
            "content": summary["summaryText"], "kind": "summary", "source": "bedrock-agent",
            "agent": supervisor_name,
            "session_id": None,  # Bedrock Agents knows the derived agent session id only
            "stored_at": int(start.timestamp()) if start is not None else None,
            "state": STATE_CURRENT, "supersedes": [], "superseded_by": None,
        })
    return items, page.get("nextToken") or None


def _format_position(position: _Position) -> str:
    return json.dumps([position.stage, position.token, position.size, position.offset], separators=(",", ":"))


def _parse_position(token: str) -> _Position:
    try:
        stage, native, size, offset = json.loads(token)
    except (ValueError, TypeError):
        raise InvalidInputError("cursor", "<malformed>", "must be a cursor returned by this listing") from None
    valid = (
        isinstance(stage, int) and not isinstance(stage, bool) and 0 <= stage < 8
        and (native is None or (isinstance(native, str) and 0 < len(native) <= 2048))
        and (size is None or (isinstance(size, int) and not isinstance(size, bool) and 1 <= size <= MAX_PAGE_SIZE))
        and isinstance(offset, int) and not isinstance(offset, bool) and 0 <= offset <= MAX_PAGE_SIZE
    )
    if not valid:
        raise InvalidInputError("cursor", "<malformed>", "must be a cursor returned by this listing")
    return _Position(stage, native, size, offset)


# -- one memory ------------------------------------------------------------------------------------------------


def update_memory(mesh: Any, identity: Identity, key: Any, body: Mapping[str, Any],
                  deadline: Deadline) -> dict[str, Any]:
    """``PATCH /memories/{key}`` body ``{"content"}``: replace the text of one of the caller's memories."""
    store, kind, session_id, record_id = decode_key(identity, key)
    content = _content(body)
    _editable(store)
    deadline.require(_MIN_CALL_S, "update the memory")
    try:
        if store == _VECTORS:
            mesh.vectors.update_memory(identity, _vector_id(record_id), content)
        else:
            namespace = mesh.memory.record_namespace(identity, _record_kind(kind), _session(kind, session_id))
            mesh.memory.update_record(identity, _record_id(record_id), namespace, content)
    except NotFoundError:
        raise NotFoundError("memory not found") from None
    except MemoryMeshError as error:
        raise _upstream(error, identity) from None
    obs.log("info", "memory updated", route="memories", store=store, tenant_id=identity.tenant_id,
            actor=identity.actor_id)
    return {"key": key, "updated": True}


def delete_memory(mesh: Any, identity: Identity, key: Any, deadline: Deadline) -> dict[str, Any]:
    """``DELETE /memories/{key}``: delete one of the caller's memories (404 when there is none)."""
    store, kind, session_id, record_id = decode_key(identity, key)
    _editable(store)
    deadline.require(_MIN_CALL_S, "delete the memory")
    try:
        if store == _VECTORS:
            found = mesh.vectors.delete_memory(identity, _vector_id(record_id))
        else:
            namespace = mesh.memory.record_namespace(identity, _record_kind(kind), _session(kind, session_id))
            found = mesh.memory.delete_record(identity, _record_id(record_id), namespace)
    except MemoryMeshError as error:
        raise _upstream(error, identity) from None
    if not found:
        raise NotFoundError("memory not found")
    obs.log("info", "memory deleted", route="memories", store=store, tenant_id=identity.tenant_id,
            actor=identity.actor_id)
    return {"key": key, "deleted": True}


def _content(body: Mapping[str, Any]) -> str:
    from runtime.handlers._http import check_fields

    check_fields(body, ("content", "tenant_id", "actor_id"))
    content = body.get("content")
    if not isinstance(content, str):
        raise InvalidInputError("content", f"<{type(content).__name__}>", "is required: the corrected text")
    if not content.strip():
        raise InvalidInputError("content", "<blank>", "must contain non-whitespace text")
    size = len(content.encode("utf-8", errors="replace"))
    if size > MAX_CONTENT_BYTES:
        raise InvalidInputError("content", f"<{size} bytes>", f"must be at most {MAX_CONTENT_BYTES} UTF-8 bytes")
    return content


def _editable(store: str) -> None:
    if store == _BEDROCK:
        raise InvalidInputError("key", "<bedrock-agent summary>",
                                "names a session summary the Bedrock agent keeps; delete its session instead "
                                "(DELETE /sessions/{session_id})")


def _vector_id(record_id: str) -> str:
    from runtime.stores._limits import validate_vector_key

    return validate_vector_key(record_id)


def _record_id(record_id: str) -> str:
    from runtime.stores.agentcore import validate_record_id

    return validate_record_id(record_id)


def _record_kind(kind: str) -> str:
    if kind not in _AGENTCORE_KINDS:
        raise InvalidInputError("key", "<malformed>", "must be a memory key as GET /memories returned it")
    return kind


def _session(kind: str, session_id: str) -> str | None:
    return validate_session_id(session_id, field="key") if kind == "summary" else None


def _upstream(error: MemoryMeshError, identity: Identity) -> MemoryMeshError:
    if isinstance(error, InvalidInputError):
        return error
    obs.log("warning", "changing a memory failed", code=error.code, tenant_id=identity.tenant_id,
            actor=identity.actor_id)
    return as_upstream(error, "the memory service")
