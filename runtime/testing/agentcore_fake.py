"""In-process Amazon Bedrock AgentCore Memory data plane: events, sessions and long-term memory records.

Memories themselves (id, strategies, namespace templates) live in moto's ``bedrock-agentcore-control``
backend, created through the ordinary control-plane API; this fake reads them from there. It owns events
as well as records: moto 5.2.5's ``bedrock-agentcore`` events have no ListSessions or ListActors, no
pagination (ListEvents truncates and returns no nextToken), no filters, no clientToken idempotency and no check
that the memory exists, and it has no memory-record operations at all.

Behaviour taken from the botocore model and the AgentCore developer guide:
- ListEvents returns the newest event first (reverse chronological) and includes payloads unless
  ``includePayloads`` is false (developer guide, "List events": default true); pages default to 20 results.
- RetrieveMemoryRecords and ListMemoryRecords take exactly one of ``namespace`` (an exact namespace) or
  ``namespacePath`` (every namespace under that path).
- Retrieval ranks by a deterministic lexical score standing in for the service's embedding similarity:
  the cosine of the query's and the record's word sets, in [0, 1]; ties go to the newer record. Like the
  service it returns the top K records even when they share no word with the query (score 0).
- ``extract`` is a deterministic stand-in for the service's asynchronous long-term extraction.
"""

from __future__ import annotations

import base64
import binascii
import datetime as _dt
import json
import math
import re
import threading
import time
import uuid
import zlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from botocore.utils import parse_to_aware_datetime

from runtime.testing._model import ServiceError

DEFAULT_PAGE = 20  # every AgentCore Memory list API: "The default value is 20."
DEFAULT_TOP_K = 10  # developer guide, "Retrieve memory records": topK default 10, maximum 100 (model max).
MAX_RECORD_TEXT = 16_000  # MemoryContentTextString max in the botocore model.
_WORD = re.compile(r"\w+", re.UNICODE)
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
_STOPWORDS = frozenset(
    "a an and are as at be but by do does for from had has have i in is it its me my of on or our so that the "
    "their them they this to was we what when where which who will with you your".split()
)
_PREFERENCE_CUE = re.compile(
    r"\b(prefer|prefers|preferred|like|likes|love|loves|favou?rite|enjoy|enjoys|hate|hates|dislike|dislikes|"
    r"always|never|rather)\b",
    re.IGNORECASE,
)
_PLACEHOLDER = re.compile(r"\{(\w+)\}")
_DEFAULT_TEMPLATES = {
    "SUMMARIZATION": "/strategies/{memoryStrategyId}/actors/{actorId}/sessions/{sessionId}/",
    "EPISODIC": "/strategies/{memoryStrategyId}/actors/{actorId}/sessions/{sessionId}/",
}
_DEFAULT_TEMPLATE = "/strategies/{memoryStrategyId}/actors/{actorId}/"


def _invalid(message: str, field_name: str | None = None) -> ServiceError:
    extra: dict[str, Any] = {"reason": "FieldValidationFailed"}
    if field_name:
        extra["fieldList"] = [{"name": field_name, "message": message}]
    return ServiceError("ValidationException", message, **extra)


def _not_found(message: str) -> ServiceError:
    return ServiceError("ResourceNotFoundException", message)


def lexical_score(query: str, text: str) -> float:
    """The fake's relevance score: cosine similarity of the two word sets (stopwords dropped), in [0, 1]."""
    q, d = _terms(query), _terms(text)
    if not q or not d:
        return 0.0
    return round(len(q & d) / math.sqrt(len(q) * len(d)), 6)


def _terms(text: str) -> set[str]:
    return {w for w in _WORD.findall(text.lower()) if w not in _STOPWORDS}


def namespace_matches(record_namespace: str, *, namespace: str | None, path: str | None) -> bool:
    """Exact match for ``namespace``; ``path`` matches itself and every namespace below it."""
    if namespace is not None:
        return record_namespace == namespace
    assert path is not None
    return record_namespace == path or record_namespace.startswith(path.rstrip("/") + "/")


@dataclass
class StoredEvent:
    """One short-term memory event."""

    memory_id: str
    actor_id: str
    session_id: str
    event_id: str
    timestamp: _dt.datetime
    payload: list[dict[str, Any]]
    sequence: int
    branch: dict[str, Any] | None = None
    metadata: dict[str, Any] | None = None
    extractable: bool = True
    namespace_variables: dict[str, str] = field(default_factory=dict)

    def describe(self, *, include_payload: bool = True) -> dict[str, Any]:
        """The event as GetEvent and ListEvents return it (``payload`` empty unless included)."""
        answer: dict[str, Any] = {
            "memoryId": self.memory_id,
            "actorId": self.actor_id,
            "sessionId": self.session_id,
            "eventId": self.event_id,
            "eventTimestamp": self.timestamp,
            "payload": self.payload if include_payload else [],
        }
        if self.branch:
            answer["branch"] = self.branch
        if self.metadata:
            answer["metadata"] = self.metadata
        return answer

    def messages(self) -> list[tuple[str, str]]:
        """(role, text) of each conversational payload item."""
        out = []
        for item in self.payload:
            turn = item.get("conversational")
            if turn and "text" in turn.get("content", {}):
                out.append((turn["role"], turn["content"]["text"]))
        return out


@dataclass
class StoredRecord:
    """One long-term memory record."""

    record_id: str
    strategy_id: str
    namespace: str
    text: str
    created_at: _dt.datetime
    sequence: int
    timestamp: _dt.datetime | None = None
    metadata: dict[str, Any] | None = None

    def describe(self, score: float | None = None) -> dict[str, Any]:
        """The record as GetMemoryRecord and the list/retrieve summaries return it, with ``score`` if given."""
        answer: dict[str, Any] = {
            "memoryRecordId": self.record_id,
            "content": {"text": self.text},
            "memoryStrategyId": self.strategy_id,
            "namespaces": [self.namespace],
            "createdAt": self.created_at,
        }
        if score is not None:
            answer["score"] = score
        if self.timestamp is not None:
            answer["timestamp"] = self.timestamp
        if self.metadata:
            answer["metadata"] = self.metadata
        return answer


@dataclass(frozen=True)
class Strategy:
    """A memory strategy as the data plane needs it: id, type and namespace templates."""

    strategy_id: str
    type: str
    templates: tuple[str, ...]


@dataclass
class _MemoryState:
    events: dict[tuple[str, str], list[StoredEvent]] = field(default_factory=dict)
    sessions: dict[tuple[str, str], _dt.datetime] = field(default_factory=dict)
    records: dict[str, StoredRecord] = field(default_factory=dict)
    client_tokens: dict[str, StoredEvent] = field(default_factory=dict)
    extracted: dict[str, set[str]] = field(default_factory=dict)


class FakeAgentCoreMemory:
    """AgentCore Memory data-plane state of one emulated account; ``handle`` serves one API call."""

    def __init__(self, account_id: str, *, region: str, clock: Callable[[], float] | None = None) -> None:
        self.account_id = account_id
        self.default_region = region
        self._clock = clock
        self._lock = threading.RLock()
        self._memories: dict[tuple[str, str], _MemoryState] = {}
        self._templates: dict[str, tuple[str, ...]] = {}
        self._sequence = 0
        self._faults: dict[str, tuple[int, float]] = {}

    # ------------------------------------------------------------------------------------- test helpers

    def add_record(
        self,
        memory_id: str,
        namespace: str,
        text: str,
        *,
        strategy_id: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        region: str | None = None,
    ) -> str:
        """Store a long-term record directly, as if extraction had produced it; returns its id."""
        region = region or self.default_region
        with self._lock:
            memory_id, state = self._state(memory_id, region)
            strategy = strategy_id or self._strategy_for_namespace(memory_id, region, namespace)
            return self._new_record(state, strategy, namespace, text, metadata=dict(metadata or {}) or None)

    def records(self, memory_id: str, *, region: str | None = None) -> list[StoredRecord]:
        """Every long-term record of a memory, oldest first (for assertions)."""
        with self._lock:
            _, state = self._state(memory_id, region or self.default_region)
            return sorted(state.records.values(), key=lambda r: r.sequence)

    def events(
        self, memory_id: str, *, actor_id: str | None = None, session_id: str | None = None, region: str | None = None
    ) -> list[StoredEvent]:
        """Events of a memory, oldest first, optionally for one actor and session (for assertions)."""
        with self._lock:
            _, state = self._state(memory_id, region or self.default_region)
            found = [
                e
                for (actor, session), events in state.events.items()
                if actor_id in (None, actor) and session_id in (None, session)
                for e in events
            ]
            return sorted(found, key=lambda e: (e.timestamp, e.sequence))

    def extract(
        self,
        memory_id: str,
        *,
        actor_id: str | None = None,
        session_id: str | None = None,
        region: str | None = None,
    ) -> list[str]:
        """Turn not-yet-extracted events into records, per the memory's strategies; returns the record ids.

        A deterministic stand-in for AgentCore's asynchronous extraction: semantic (and custom) strategies keep
        each declarative user sentence as a fact; user-preference strategies keep user sentences with a
        preference cue ("prefer", "like", "always", ...); summary (and episodic) strategies keep one record per
        session listing its turns. Identical facts in one namespace are stored once; events created with
        ``extractionMode='SKIP'`` are left out.
        """
        region = region or self.default_region
        with self._lock:
            memory_id, state = self._state(memory_id, region)
            touched: list[str] = []
            for strategy in self._strategies(memory_id, region):
                done = state.extracted.setdefault(strategy.strategy_id, set())
                for (actor, session), events in sorted(state.events.items()):
                    if actor_id not in (None, actor) or session_id not in (None, session):
                        continue
                    fresh = [e for e in events if e.extractable and e.event_id not in done]
                    if not fresh:
                        continue
                    done.update(e.event_id for e in fresh)
                    touched += self._extract_session(state, strategy, actor, session, events, fresh)
            return touched

    def record_namespace(self, memory_id: str, record_id: str, region: str | None = None) -> str | None:
        """The namespace of a stored record (what IAM reads for a record named only by id), or None."""
        with self._lock:
            state = self._memories.get((region or self.default_region, memory_id.rsplit("memory/", 1)[-1]))
            record = state.records.get(record_id) if state else None
            return record.namespace if record else None

    def register_strategy_templates(self, strategy_id: str, templates: Iterable[str]) -> None:
        """Remember a strategy's namespaceTemplates (moto keeps only the legacy ``namespaces`` field)."""
        with self._lock:
            self._templates[strategy_id] = tuple(templates)

    # ------------------------------------------------------------------------------------------ serving

    def inject(self, operation: str, *, throttle: int = 0, delay_s: float = 0.0) -> None:
        """Fault injection: the next ``throttle`` calls of ``operation`` answer ThrottledException, and every
        call of it waits ``delay_s`` seconds first (outside the fake's lock, as a slow service would)."""
        with self._lock:
            self._faults[operation] = (throttle, delay_s)

    def handle(self, operation: str, params: Mapping[str, Any], region: str) -> dict[str, Any] | None:
        """Serve one memory call (wire-form answer, or ``ServiceError``); None for operations it does not own."""
        handler = getattr(self, "_op_" + re.sub(r"(?<!^)(?=[A-Z])", "_", operation).lower(), None)
        if handler is None:
            return None
        with self._lock:
            throttle, delay_s = self._faults.get(operation, (0, 0.0))
            if throttle:
                self._faults[operation] = (throttle - 1, delay_s)
        if delay_s:
            time.sleep(delay_s)
        if throttle:
            raise ServiceError("ThrottledException", f"Rate exceeded for {operation}")
        with self._lock:
            memory_id, state = self._state(params["memoryId"], region)
            return handler(memory_id, state, dict(params), region)

    # -------------------------------------------------------------------------------------- resolution

    def _now(self) -> _dt.datetime:
        if self._clock is None:
            return _dt.datetime.now(_dt.UTC)
        return _dt.datetime.fromtimestamp(self._clock(), _dt.UTC)

    def _next(self) -> int:
        self._sequence += 1
        return self._sequence

    def _control_memory(self, memory_id: str, region: str) -> Any:
        from moto.bedrockagentcorecontrol.models import bedrockagentcorecontrol_backends

        try:
            backend = bedrockagentcorecontrol_backends[self.account_id][region]
        except KeyError:
            return None
        return backend.memories.get(memory_id)

    def _state(self, memory_id: str, region: str) -> tuple[str, _MemoryState]:
        memory_id = memory_id.rsplit("memory/", 1)[-1]
        if self._control_memory(memory_id, region) is None:
            raise _not_found(f"Memory {memory_id} not found")
        return memory_id, self._memories.setdefault((region, memory_id), _MemoryState())

    def _strategies(self, memory_id: str, region: str) -> list[Strategy]:
        memory = self._control_memory(memory_id, region)
        out = []
        for raw in getattr(memory, "strategies", []):
            sid = raw["strategyId"]
            templates = self._templates.get(sid) or tuple(raw.get("namespaces") or ())
            if not templates:
                templates = (_DEFAULT_TEMPLATES.get(raw["type"], _DEFAULT_TEMPLATE),)
            out.append(Strategy(sid, raw["type"], templates))
        return out

    def _strategy_for_namespace(self, memory_id: str, region: str, namespace: str) -> str:
        for strategy in self._strategies(memory_id, region):
            for template in strategy.templates:
                prefix = template.split("{", 1)[0]
                if namespace.startswith(prefix):
                    return strategy.strategy_id
        return "custom"

    def _new_record(
        self,
        state: _MemoryState,
        strategy_id: str,
        namespace: str,
        text: str,
        *,
        metadata: dict[str, Any] | None = None,
        timestamp: _dt.datetime | None = None,
    ) -> str:
        sequence = self._next()
        record_id = f"mem-{uuid.UUID(int=sequence)}"
        state.records[record_id] = StoredRecord(
            record_id=record_id,
            strategy_id=strategy_id,
            namespace=namespace,
            text=text[:MAX_RECORD_TEXT],
            created_at=self._now(),
            sequence=sequence,
            timestamp=timestamp,
            metadata=metadata,
        )
        return record_id

    # ------------------------------------------------------------------------------------------ events

    def _op_create_event(
        self, memory_id: str, state: _MemoryState, params: dict[str, Any], region: str
    ) -> dict[str, Any]:
        token = params.get("clientToken")
        if token and token in state.client_tokens:
            return {"event": state.client_tokens[token].describe()}
        actor, session = params["actorId"], params.get("sessionId")
        if not session:
            raise _invalid("sessionId is required to create an event", "sessionId")
        if not params["payload"]:
            raise _invalid("payload must contain at least one item", "payload")
        branch = params.get("branch")
        events = state.events.setdefault((actor, session), [])
        if branch and branch.get("rootEventId"):
            if not any(e.event_id == branch["rootEventId"] for e in events):
                raise _invalid(
                    f"Branch root event {branch['rootEventId']} is not in session {session}", "branch.rootEventId"
                )
        elif branch and branch.get("name") != "main":
            raise _invalid("A branch other than main needs a rootEventId", "branch.rootEventId")
        timestamp = parse_to_aware_datetime(params["eventTimestamp"])
        sequence = self._next()
        event = StoredEvent(
            memory_id=memory_id,
            actor_id=actor,
            session_id=session,
            event_id=f"{int(timestamp.timestamp() * 1000)}#{sequence:016x}",
            timestamp=timestamp,
            payload=json.loads(json.dumps(params["payload"], default=str)),
            sequence=sequence,
            branch=dict(branch) if branch else None,
            metadata=dict(params.get("metadata") or {}) or None,
            extractable=params.get("extractionMode") != "SKIP",
            namespace_variables=dict((params.get("extractionConfig") or {}).get("namespaceVariables") or {}),
        )
        events.append(event)
        state.sessions.setdefault((actor, session), self._now())
        if token:
            state.client_tokens[token] = event
        return {"event": event.describe()}

    def _find_event(self, state: _MemoryState, params: Mapping[str, Any]) -> StoredEvent:
        for event in state.events.get((params["actorId"], params["sessionId"]), []):
            if event.event_id == params["eventId"]:
                return event
        raise _not_found(f"Event {params['eventId']} not found")

    def _op_get_event(self, memory_id: str, state: _MemoryState, params: dict[str, Any], region: str) -> dict:
        return {"event": self._find_event(state, params).describe()}

    def _op_delete_event(self, memory_id: str, state: _MemoryState, params: dict[str, Any], region: str) -> dict:
        event = self._find_event(state, params)
        state.events[(event.actor_id, event.session_id)].remove(event)
        return {"eventId": event.event_id}

    def _op_list_events(self, memory_id: str, state: _MemoryState, params: dict[str, Any], region: str) -> dict:
        events = list(state.events.get((params["actorId"], params["sessionId"]), []))
        wanted = params.get("filter") or {}
        if "branch" in wanted:
            events = _on_branch(events, wanted["branch"])
        for condition in wanted.get("eventMetadata") or []:
            events = [e for e in events if _event_metadata_matches(e.metadata or {}, condition)]
        events.sort(key=lambda e: (e.timestamp, e.sequence), reverse=True)
        scope = f"events|{memory_id}|{params['actorId']}|{params['sessionId']}"
        page, token = _paginate(events, params, scope)
        include = params.get("includePayloads", True)
        return {"events": [e.describe(include_payload=include) for e in page], "nextToken": token}

    def _op_list_sessions(self, memory_id: str, state: _MemoryState, params: dict[str, Any], region: str) -> dict:
        actor = params["actorId"]
        sessions = [(s, created) for (a, s), created in state.sessions.items() if a == actor]
        if (params.get("filter") or {}).get("eventFilter") == "HAS_EVENTS":
            sessions = [(s, c) for s, c in sessions if state.events.get((actor, s))]
        sessions.sort(key=lambda item: (item[1], item[0]), reverse=True)
        page, token = _paginate(sessions, params, f"sessions|{memory_id}|{actor}")
        summaries = [{"sessionId": s, "actorId": actor, "createdAt": created} for s, created in page]
        return {"sessionSummaries": summaries, "nextToken": token}

    def _op_list_actors(self, memory_id: str, state: _MemoryState, params: dict[str, Any], region: str) -> dict:
        actors = sorted({actor for actor, _ in state.sessions})
        page, token = _paginate(actors, params, f"actors|{memory_id}")
        return {"actorSummaries": [{"actorId": a} for a in page], "nextToken": token}

    # ----------------------------------------------------------------------------------------- records

    def _selected_records(self, state: _MemoryState, params: Mapping[str, Any], strategy_id: str | None) -> list:
        namespace, path = params.get("namespace"), params.get("namespacePath")
        if (namespace is None) == (path is None):
            raise _invalid("Either namespace or namespacePath is required, but not both", "namespace")
        filters = params.get("metadataFilters") or []
        return [
            r
            for r in state.records.values()
            if namespace_matches(r.namespace, namespace=namespace, path=path)
            and strategy_id in (None, r.strategy_id)
            and all(_record_metadata_matches(r.metadata or {}, f) for f in filters)
        ]

    def _op_retrieve_memory_records(
        self, memory_id: str, state: _MemoryState, params: dict[str, Any], region: str
    ) -> dict[str, Any]:
        criteria = params["searchCriteria"]
        query = criteria["searchQuery"]
        if not query.strip():
            raise _invalid("searchQuery must not be blank", "searchCriteria.searchQuery")
        chosen = self._selected_records(
            state, {**params, "metadataFilters": criteria.get("metadataFilters")}, criteria.get("memoryStrategyId")
        )
        scored = sorted(
            ((lexical_score(query, r.text), r) for r in chosen), key=lambda item: (-item[0], -item[1].sequence)
        )[: criteria.get("topK") or DEFAULT_TOP_K]
        scope = f"retrieve|{memory_id}|{params.get('namespace')}|{params.get('namespacePath')}|{query}"
        page, token = _paginate(scored, params, scope)
        return {"memoryRecordSummaries": [r.describe(score) for score, r in page], "nextToken": token}

    def _op_list_memory_records(
        self, memory_id: str, state: _MemoryState, params: dict[str, Any], region: str
    ) -> dict[str, Any]:
        chosen = self._selected_records(state, params, params.get("memoryStrategyId"))
        chosen.sort(key=lambda r: r.sequence, reverse=True)
        scope = f"records|{memory_id}|{params.get('namespace')}|{params.get('namespacePath')}"
        page, token = _paginate(chosen, params, scope)
        return {"memoryRecordSummaries": [r.describe() for r in page], "nextToken": token}

    def _find_record(self, state: _MemoryState, record_id: str, namespace: str | None) -> StoredRecord:
        record = state.records.get(record_id)
        # The namespace parameter exists for IAM conditions; a record is not visible under another namespace.
        if record is None or (namespace is not None and record.namespace != namespace):
            raise _not_found(f"Memory record {record_id} not found")
        return record

    def _op_get_memory_record(self, memory_id: str, state: _MemoryState, params: dict, region: str) -> dict:
        record = self._find_record(state, params["memoryRecordId"], params.get("namespace"))
        return {"memoryRecord": record.describe()}

    def _op_delete_memory_record(self, memory_id: str, state: _MemoryState, params: dict, region: str) -> dict:
        record = self._find_record(state, params["memoryRecordId"], params.get("namespace"))
        del state.records[record.record_id]
        return {"memoryRecordId": record.record_id}

    def _op_batch_delete_memory_records(
        self, memory_id: str, state: _MemoryState, params: dict, region: str
    ) -> dict[str, Any]:
        succeeded, failed = [], []
        for item in params["records"]:
            try:
                record = self._find_record(state, item["memoryRecordId"], item.get("namespace"))
            except ServiceError as error:
                failed.append(
                    {
                        "memoryRecordId": item["memoryRecordId"],
                        "status": "FAILED",
                        "errorCode": 404,
                        "errorMessage": error.message,
                    }
                )
                continue
            del state.records[record.record_id]
            succeeded.append({"memoryRecordId": record.record_id, "status": "SUCCEEDED"})
        return {"successfulRecords": succeeded, "failedRecords": failed}

    def _op_batch_create_memory_records(
        self, memory_id: str, state: _MemoryState, params: dict, region: str
    ) -> dict[str, Any]:
        succeeded, failed = [], []
        for item in params["records"]:
            namespaces = item["namespaces"]
            if len(namespaces) != 1:
                failed.append(
                    {
                        "memoryRecordId": "mem-" + "0" * 36,
                        "status": "FAILED",
                        "requestIdentifier": item["requestIdentifier"],
                        "errorCode": 400,
                        "errorMessage": "A memory record needs exactly one namespace",
                    }
                )
                continue
            strategy = item.get("memoryStrategyId") or self._strategy_for_namespace(memory_id, region, namespaces[0])
            record_id = self._new_record(
                state,
                strategy,
                namespaces[0],
                item["content"]["text"],
                metadata=dict(item.get("metadata") or {}) or None,
                timestamp=parse_to_aware_datetime(item["timestamp"]),
            )
            succeeded.append(
                {"memoryRecordId": record_id, "status": "SUCCEEDED", "requestIdentifier": item["requestIdentifier"]}
            )
        return {"successfulRecords": succeeded, "failedRecords": failed}

    def _op_batch_update_memory_records(
        self, memory_id: str, state: _MemoryState, params: dict, region: str
    ) -> dict[str, Any]:
        succeeded, failed = [], []
        for item in params["records"]:
            source = (item.get("sourceNamespaces") or [None])[0]
            try:
                record = self._find_record(state, item["memoryRecordId"], source)
            except ServiceError as error:
                failed.append(
                    {
                        "memoryRecordId": item["memoryRecordId"],
                        "status": "FAILED",
                        "errorCode": 404,
                        "errorMessage": error.message,
                    }
                )
                continue
            record.timestamp = parse_to_aware_datetime(item["timestamp"])
            if "content" in item:
                record.text = item["content"]["text"]
            if item.get("namespaces"):
                record.namespace = item["namespaces"][0]
            if "memoryStrategyId" in item:
                record.strategy_id = item["memoryStrategyId"]
            if "metadata" in item:
                record.metadata = dict(item["metadata"]) or None
            succeeded.append({"memoryRecordId": record.record_id, "status": "SUCCEEDED"})
        return {"successfulRecords": succeeded, "failedRecords": failed}

    # -------------------------------------------------------------------------------------- extraction

    def _extract_session(
        self,
        state: _MemoryState,
        strategy: Strategy,
        actor: str,
        session: str,
        events: list[StoredEvent],
        fresh: list[StoredEvent],
    ) -> list[str]:
        variables = {"actorId": actor, "sessionId": session, "memoryStrategyId": strategy.strategy_id}
        for event in fresh:
            variables.update(event.namespace_variables)
        namespaces = [_PLACEHOLDER.sub(lambda m: variables.get(m[1], m[0]), t) for t in strategy.templates]
        ordered = sorted((e for e in events if e.extractable), key=lambda e: (e.timestamp, e.sequence))
        touched: list[str] = []
        if strategy.type in ("SUMMARIZATION", "EPISODIC"):
            lines = [f"{role.lower()} said: {text}" for e in ordered for role, text in e.messages()]
            text = ("Session summary. " + " | ".join(lines))[:MAX_RECORD_TEXT]
            for namespace in namespaces:
                existing = next(
                    (
                        r
                        for r in state.records.values()
                        if r.namespace == namespace and r.strategy_id == strategy.strategy_id
                    ),
                    None,
                )
                if existing is not None:
                    existing.text = text
                    touched.append(existing.record_id)
                else:
                    touched.append(self._new_record(state, strategy.strategy_id, namespace, text))
            return touched
        for event in sorted(fresh, key=lambda e: (e.timestamp, e.sequence)):
            for role, text in event.messages():
                if role != "USER":
                    continue
                for sentence in _SENTENCE_END.split(text.strip()):
                    sentence = sentence.strip()
                    if len(_WORD.findall(sentence)) < 3 or sentence.endswith("?"):
                        continue
                    if strategy.type == "USER_PREFERENCE" and not _PREFERENCE_CUE.search(sentence):
                        continue
                    for namespace in namespaces:
                        duplicate = any(
                            r.namespace == namespace and r.text.lower() == sentence.lower()
                            for r in state.records.values()
                        )
                        if not duplicate:
                            touched.append(
                                self._new_record(
                                    state, strategy.strategy_id, namespace, sentence, timestamp=event.timestamp
                                )
                            )
        return touched


# ---------------------------------------------------------------------------------------------------------
# Filters and pagination
# ---------------------------------------------------------------------------------------------------------


def _on_branch(events: list[StoredEvent], wanted: Mapping[str, Any]) -> list[StoredEvent]:
    name = wanted["name"]
    chosen = [e for e in events if (e.branch or {}).get("name", "main") == name]
    if wanted.get("includeParentBranches") and chosen and name != "main":
        root = chosen[0].branch.get("rootEventId") if chosen[0].branch else None
        parent = next((e for e in events if e.event_id == root), None)
        if parent is not None:
            parent_name = (parent.branch or {}).get("name", "main")
            chosen += [
                e
                for e in events
                if (e.branch or {}).get("name", "main") == parent_name and e.sequence <= parent.sequence
            ]
    return chosen


def _event_metadata_matches(metadata: Mapping[str, Any], condition: Mapping[str, Any]) -> bool:
    key = condition["left"]["metadataKey"]
    operator = condition["operator"]
    if operator == "EXISTS":
        return key in metadata
    if operator == "NOT_EXISTS":
        return key not in metadata
    wanted = (condition.get("right") or {}).get("metadataValue", {}).get("stringValue")
    return key in metadata and metadata[key].get("stringValue") == wanted


def _record_metadata_matches(metadata: Mapping[str, Any], condition: Mapping[str, Any]) -> bool:
    key = condition["left"]["metadataKey"]
    operator = condition["operator"]
    if operator == "EXISTS":
        return key in metadata
    if operator == "NOT_EXISTS":
        return key not in metadata
    if key not in metadata:
        return False
    have = next(iter(metadata[key].values()))
    want = next(iter((condition.get("right") or {}).get("metadataValue", {"stringValue": None}).values()))
    if operator == "EQUALS_TO":
        return have == want
    if operator == "CONTAINS":
        return want in have if isinstance(have, str | list) else False
    if operator in ("BEFORE", "AFTER"):
        have_at, want_at = parse_to_aware_datetime(have), parse_to_aware_datetime(want)
        return have_at < want_at if operator == "BEFORE" else have_at > want_at
    compare = {
        "GREATER_THAN": lambda a, b: a > b,
        "GREATER_THAN_OR_EQUALS": lambda a, b: a >= b,
        "LESS_THAN": lambda a, b: a < b,
        "LESS_THAN_OR_EQUALS": lambda a, b: a <= b,
    }[operator]
    try:
        return bool(compare(have, want))
    except TypeError:
        return False


def _paginate(items: list[Any], params: Mapping[str, Any], scope: str) -> tuple[list[Any], str | None]:
    start = 0
    token = params.get("nextToken")
    if token:
        try:
            payload = json.loads(base64.urlsafe_b64decode(token.encode()))
            if payload["scope"] != zlib.crc32(scope.encode()):
                raise ValueError(scope)
            start = int(payload["offset"])
        except (ValueError, KeyError, TypeError, binascii.Error):
            raise _invalid("The provided nextToken is not valid", "nextToken") from None
    size = params.get("maxResults") or DEFAULT_PAGE
    page = items[start : start + size]
    if start + size >= len(items):
        return page, None
    raw = json.dumps({"scope": zlib.crc32(scope.encode()), "offset": start + size}, separators=(",", ":")).encode()
    return page, base64.urlsafe_b64encode(raw).decode()
