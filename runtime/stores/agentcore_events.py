"""A session's conversation in AgentCore Memory short-term events: one event per turn, read back, listed, deleted.

Every call goes through ``client_provider(tenant_id, actor_id)``: a ``bedrock-agentcore`` client on credentials
vended for that tenant and actor, whose IAM policy allows events only for the actor id ``<tenant>:<actor>``.

**One event per turn.** A turn (the user's message and every agent's answer to it) is one ``CreateEvent``:
``payload`` holds one conversational item per message, role ``USER`` or ``ASSISTANT``, in the order they were
said; the event's ``metadata`` says which agent said what: ``mesh_kind`` = ``turn`` and, for the item at
position ``i`` (0-based) that an agent said, ``agent.<i>`` = the agent's name (the user's items carry none).
AgentCore's extraction strategies read the conversational items; the labels travel beside them.

**Throttling.** AgentCore allows 5 CreateEvent calls per second per actor and session with conversational
payloads (not adjustable). :meth:`AgentCoreEvents.record_turn` retries throttled writes with jittered backoff
within its budget and then raises :class:`TurnWriteThrottled`; the orchestrator then queues the write
(:func:`turn_event_message`) and the lifecycle function replays it with :func:`write_queued_turn`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import logging
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError, ConnectTimeoutError, ParamValidationError, ReadTimeoutError

from runtime.budget import Budget, backoff_delays, run_in_context
from runtime.contract import memory, rules
from runtime.errors import (
    AccessDeniedError,
    InvalidInputError,
    MemoryMeshError,
    NotFoundError,
    UpstreamError,
    UpstreamTimeoutError,
)
from runtime.identity import Identity, log_ref, validate_agent_name, validate_session_id

__all__ = [
    "MAX_PAGE_SIZE",
    "QUEUED_TURN_TYPE",
    "AgentCoreEvents",
    "RecentTurns",
    "SessionInfo",
    "SessionPage",
    "SessionTurn",
    "TurnMessage",
    "TurnPage",
    "TurnWriteThrottled",
    "parse_turn_event_message",
    "turn_event_message",
    "write_queued_turn",
]

logger = logging.getLogger(__name__)

ROLES = ("USER", "ASSISTANT")
#: ``mesh_kind`` metadata of a turn event (other writers, such as the Strands session manager, use others).
TURN_KIND = "turn"
KIND_KEY = "mesh_kind"
AGENT_KEY_PREFIX = "agent."
MAX_TURN_CHARS = memory.AGENTCORE.MAX_TURN_CHARS
#: AgentCore list APIs return at most 100 items per page.
MAX_PAGE_SIZE = memory.AGENTCORE.MAX_PAGE
DEFAULT_PAGE_SIZE = 20
#: CreateEvent metadata holds at most 15 entries: ``mesh_kind`` plus 14 agent labels.
MAX_MESSAGES_PER_TURN = 15
#: Default bounds of the recent turns handed to agents.
DEFAULT_RECENT_TURNS = 10
DEFAULT_RECENT_BYTES = 6000
QUEUED_TURN_TYPE = "turn-event"
QUEUED_TURN_VERSION = 1
#: An SQS message body is at most 256 KiB; queued turns keep well under it.
MAX_QUEUED_BYTES = 240 * 1024
_THROTTLED = frozenset({"ThrottledException", "ThrottlingException", "ServiceQuotaExceededException"})
_CURSOR_VERSION = 1


class TurnWriteThrottled(UpstreamError):
    """CreateEvent was still throttled when the write's budget ran out; the turn should be queued."""


@dataclass(frozen=True)
class TurnMessage:
    """One message of a turn: ``role`` USER or ASSISTANT, its text, and the agent that said it (None: the user)."""

    role: str
    text: str
    agent: str | None = None

    def __post_init__(self) -> None:
        if self.role not in ROLES:
            raise InvalidInputError("role", self.role, f"must be one of {', '.join(ROLES)}")
        if not isinstance(self.text, str) or not self.text.strip():
            raise InvalidInputError("text", f"<{type(self.text).__name__}>", "must be non-blank text")
        if self.agent is not None:
            validate_agent_name(self.agent)
        if self.role == "USER" and self.agent is not None:
            raise InvalidInputError("agent", self.agent, "must be None for the user's message")

    def to_json(self) -> dict[str, Any]:
        """The message as the HTTP API and the queue carry it."""
        return {"role": self.role, "agent": self.agent, "text": self.text}


@dataclass(frozen=True)
class SessionTurn:
    """One recorded turn: its event id, when it was recorded (epoch ms) and its messages in order."""

    event_id: str
    at_ms: int
    messages: tuple[TurnMessage, ...]

    def to_json(self) -> dict[str, Any]:
        """The turn as ``GET /sessions/{id}`` answers it."""
        return {"event_id": self.event_id, "at": _iso(self.at_ms), "messages": [m.to_json() for m in self.messages]}


@dataclass(frozen=True)
class RecentTurns:
    """The newest turns of a session that fit the bounds, oldest first; ``trimmed`` when older ones were left out."""

    turns: tuple[SessionTurn, ...] = ()
    trimmed: bool = False

    @property
    def messages(self) -> list[TurnMessage]:
        """Every message of the turns, oldest first."""
        return [message for turn in self.turns for message in turn.messages]

    def to_json(self) -> list[dict[str, Any]]:
        """The structured form agents receive: one entry per message, oldest first, each labelled."""
        return [
            {"role": m.role.lower(), "agent": m.agent, "text": m.text, "at": _iso(turn.at_ms)}
            for turn in self.turns
            for m in turn.messages
        ]

    def plus(self, turn: SessionTurn, *, max_bytes: int) -> RecentTurns:
        """These turns and ``turn`` (the current one so far), trimmed from the oldest to ``max_bytes``."""
        return _trim((*self.turns, turn), max_turns=len(self.turns) + 1, max_bytes=max_bytes,
                     trimmed=self.trimmed)


@dataclass(frozen=True)
class SessionInfo:
    """One session of the caller."""

    session_id: str
    created_at: str | None

    def to_json(self) -> dict[str, Any]:
        """The session as ``GET /sessions`` answers it."""
        return {"session_id": self.session_id, "created_at": self.created_at}


@dataclass(frozen=True)
class SessionPage:
    """One page of sessions and the cursor of the next (None on the last)."""

    sessions: tuple[SessionInfo, ...]
    next_cursor: str | None


@dataclass(frozen=True)
class TurnPage:
    """One page of turns, newest first, and the cursor of the next (None on the last)."""

    turns: tuple[SessionTurn, ...]
    next_cursor: str | None


class AgentCoreEvents:
    """Conversation events of one AgentCore Memory, always under the caller's tenant-scoped actor."""

    def __init__(
        self,
        client_provider: Callable[[str, str], Any],
        memory_id: str,
        *,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if not rules.MEMORY_ID.matches(memory_id):
            raise InvalidInputError("memory_id", memory_id, f"must be {rules.MEMORY_ID.sentence}")
        if not callable(client_provider):
            raise InvalidInputError("client_provider", f"<{type(client_provider).__name__}>", "must be callable")
        self._client_provider = client_provider
        self.memory_id = memory_id
        self._clock = clock
        self._sleep = sleep
        self._pool: ThreadPoolExecutor | None = None
        self._pool_lock = threading.Lock()
        #: A ``runtime.lifecycle.tombstones.TombstoneGuard``: when set, every turn write checks the user's
        #: forget tombstone before and after, and deletes its event if forget started after the turn began.
        self.tombstones: Any = None

    def _delete_written(self, identity: Identity, session_id: str, event_id: str) -> None:
        """Delete an event this writer just created (the tombstone's second check found forget racing it)."""
        self._call(self._client(identity).delete_event, "DeleteEvent", identity, memoryId=self.memory_id,
                   actorId=identity.agentcore_actor_id, sessionId=session_id, eventId=event_id)

    # -- writing ---------------------------------------------------------------------------------------

    def record_turn(
        self,
        identity: Identity,
        session_id: str,
        messages: Sequence[TurnMessage],
        *,
        client_token: str | None = None,
        budget: Budget | None = None,
        origin_ms: int | None = None,
    ) -> str:
        """Write the turn as ONE CreateEvent and return its event id.

        ``client_token`` (e.g. the Lambda request id) makes a retried write a no-op: AgentCore ignores a
        request whose token it has seen. Throttled attempts are retried with jittered backoff while ``budget``
        lasts (default 5 s); :class:`TurnWriteThrottled` when it runs out.
        """
        request = self._create_request(identity, session_id, messages, client_token, origin_ms)
        budget = budget or Budget(5.0)
        if self.tombstones is None:
            return self._create_event(identity, request, budget)
        return _guarded(self.tombstones, identity, origin_ms, lambda: self._create_event(identity, request, budget),
                        lambda event_id: self._delete_written(identity, session_id, event_id))

    def _create_event(self, identity: Identity, request: dict[str, Any], budget: Budget) -> str:
        client = self._client(identity)
        delays = backoff_delays(budget)
        while True:
            try:
                response = self._call(client.create_event, "CreateEvent", identity, **request)
                return str(response["event"]["eventId"])
            except _Throttled:
                delay = next(delays, None)
                if delay is None:
                    raise TurnWriteThrottled(
                        "AgentCore Memory CreateEvent stayed throttled for this session; the turn is queued"
                    ) from None
                self._sleep(delay)

    def _create_request(
        self,
        identity: Identity,
        session_id: str,
        messages: Sequence[TurnMessage],
        client_token: str | None,
        origin_ms: int | None,
    ) -> dict[str, Any]:
        validate_session_id(session_id)
        messages = tuple(messages)
        if not 1 <= len(messages) <= MAX_MESSAGES_PER_TURN:
            raise InvalidInputError(
                "messages", f"<{len(messages)} messages>", f"must hold 1-{MAX_MESSAGES_PER_TURN} messages per turn"
            )
        for index, message in enumerate(messages):
            if not isinstance(message, TurnMessage):
                raise InvalidInputError(f"messages[{index}]", f"<{type(message).__name__}>", "must be a TurnMessage")
        metadata = {KIND_KEY: {"stringValue": TURN_KIND}}
        for index, message in enumerate(messages):
            if message.agent is not None:
                metadata[f"{AGENT_KEY_PREFIX}{index}"] = {"stringValue": message.agent}
        at = origin_ms / 1000.0 if origin_ms is not None else self._clock()
        request: dict[str, Any] = {
            "memoryId": self.memory_id,
            "actorId": identity.agentcore_actor_id,
            "sessionId": session_id,
            "eventTimestamp": datetime.fromtimestamp(at, tz=UTC),
            "payload": [
                {"conversational": {"content": {"text": m.text[:MAX_TURN_CHARS]}, "role": m.role}} for m in messages
            ],
            "metadata": metadata,
        }
        if client_token is not None:
            if not isinstance(client_token, str) or not 1 <= len(client_token) <= 256:
                raise InvalidInputError("client_token", client_token, "must be a string of 1-256 characters")
            request["clientToken"] = client_token
        return request

    # -- reading -----------------------------------------------------------------------------------------

    def recent_turns(
        self,
        identity: Identity,
        session_id: str,
        *,
        max_turns: int = DEFAULT_RECENT_TURNS,
        max_bytes: int = DEFAULT_RECENT_BYTES,
    ) -> RecentTurns:
        """The session's newest turns (at most ``max_turns``, their texts at most ``max_bytes`` UTF-8 bytes),
        oldest first: one ListEvents call, newest first, of at most ``max_turns`` turn events."""
        validate_session_id(session_id)
        _check_int("max_turns", max_turns, 1, MAX_PAGE_SIZE)
        _check_int("max_bytes", max_bytes, 1, 10 * 1024 * 1024)
        page = self._call(
            self._client(identity).list_events, "ListEvents", identity,
            **self._list_request(identity, session_id, page_size=max_turns, payloads=True),
        )
        turns = [turn for turn in map(_turn_of, page.get("events", [])) if turn is not None]
        newest_first = sorted(turns, key=lambda turn: turn.at_ms, reverse=True)
        trimmed = bool(page.get("nextToken")) and len(newest_first) >= max_turns
        return _trim(tuple(reversed(newest_first)), max_turns=max_turns, max_bytes=max_bytes, trimmed=trimmed)

    def session_turns(
        self, identity: Identity, session_id: str, *, cursor: str | None = None, page_size: int = DEFAULT_PAGE_SIZE
    ) -> TurnPage:
        """One page of the session's turns, newest first; NotFoundError when the caller has no such session."""
        validate_session_id(session_id)
        _check_int("page_size", page_size, 1, MAX_PAGE_SIZE)
        scope = f"turns:{session_id}"
        token = decode_cursor(cursor, identity, scope) if cursor is not None else None
        request = self._list_request(identity, session_id, page_size=page_size, payloads=True)
        if token:
            request["nextToken"] = token
        page = self._call(self._client(identity).list_events, "ListEvents", identity, **request)
        turns = tuple(turn for turn in map(_turn_of, page.get("events", [])) if turn is not None)
        if not turns and token is None:
            raise NotFoundError(f"session_id={session_id!r} is not a session of the caller")
        next_token = page.get("nextToken")
        return TurnPage(turns, encode_cursor(next_token, identity, scope) if next_token else None)

    def list_sessions(
        self, identity: Identity, *, cursor: str | None = None, page_size: int = DEFAULT_PAGE_SIZE
    ) -> SessionPage:
        """One page of the caller's sessions, newest first, as ListSessions returns them."""
        _check_int("page_size", page_size, 1, MAX_PAGE_SIZE)
        token = decode_cursor(cursor, identity, "sessions") if cursor is not None else None
        request: dict[str, Any] = {
            "memoryId": self.memory_id,
            "actorId": identity.agentcore_actor_id,
            "maxResults": page_size,
            "filter": {"eventFilter": "HAS_EVENTS"},
        }
        if token:
            request["nextToken"] = token
        page = self._call(self._client(identity).list_sessions, "ListSessions", identity, **request)
        summaries = page.get("sessionSummaries", [])
        sessions = tuple(
            SessionInfo(s["sessionId"], _iso_of(s.get("createdAt")))
            for s in sorted(summaries, key=lambda s: _seconds(s.get("createdAt")), reverse=True)
        )
        next_token = page.get("nextToken")
        return SessionPage(sessions, encode_cursor(next_token, identity, "sessions") if next_token else None)

    def iter_session_ids(self, identity: Identity) -> Iterator[str]:
        """Every session id of the caller (for forget), page by page."""
        request: dict[str, Any] = {
            "memoryId": self.memory_id, "actorId": identity.agentcore_actor_id, "maxResults": MAX_PAGE_SIZE
        }
        client = self._client(identity)
        while True:
            page = self._call(client.list_sessions, "ListSessions", identity, **request)
            for summary in page.get("sessionSummaries", []):
                yield summary["sessionId"]
            token = page.get("nextToken")
            if not token:
                return
            request["nextToken"] = token

    # -- deleting ----------------------------------------------------------------------------------------

    def delete_session(self, identity: Identity, session_id: str, *, deadline: Budget) -> tuple[int, bool]:
        """Delete every event of the session; (events deleted, done). Idempotent; stops when ``deadline`` ends."""
        validate_session_id(session_id)
        return self.delete_session_events(identity, session_id, deadline=deadline, parallelism=1)

    def delete_session_events(
        self, identity: Identity, session_id: str, *, deadline: Budget, parallelism: int = 2
    ) -> tuple[int, bool]:
        """Delete the session's events (all kinds), ``parallelism`` at a time; (deleted, done).

        DeleteEvent allows 5 calls per second per actor and session: throttled deletes are retried while the
        deadline lasts; what is left is reported as not done, for the caller to continue later.
        """
        _check_int("parallelism", parallelism, 1, 8)
        client = self._client(identity)
        deleted = 0
        while not deadline.expired():
            page = self._call(
                client.list_events, "ListEvents", identity,
                memoryId=self.memory_id, actorId=identity.agentcore_actor_id, sessionId=session_id,
                includePayloads=False, maxResults=MAX_PAGE_SIZE,
            )
            ids = [event["eventId"] for event in page.get("events", [])]
            if not ids:
                return deleted, True
            results = self._map(
                lambda event_id: self._delete_event(client, identity, session_id, event_id, deadline), ids, parallelism
            )
            deleted += sum(1 for ok in results if ok)
            if not all(ok is not None for ok in results):
                return deleted, False
        return deleted, False

    def _delete_event(
        self, client: Any, identity: Identity, session_id: str, event_id: str, deadline: Budget
    ) -> bool | None:
        """True when deleted, False when already gone, None when throttled past the deadline."""
        delays = backoff_delays(deadline)
        while True:
            try:
                self._call(
                    client.delete_event, "DeleteEvent", identity, memoryId=self.memory_id,
                    actorId=identity.agentcore_actor_id, sessionId=session_id, eventId=event_id,
                )
                return True
            except NotFoundError:
                return False
            except _Throttled:
                delay = next(delays, None)
                if delay is None:
                    return None
                self._sleep(delay)

    def _map(self, fn: Callable[[str], Any], items: Sequence[str], parallelism: int) -> list[Any]:
        if parallelism == 1 or len(items) == 1:
            return [fn(item) for item in items]
        with self._pool_lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="agentcore-events")
            pool = self._pool
        results: list[Any] = []
        for start in range(0, len(items), parallelism):
            futures = [run_in_context(pool, fn, item) for item in items[start : start + parallelism]]
            results.extend(future.result() for future in futures)
        return results

    # -- calls -------------------------------------------------------------------------------------------

    def _client(self, identity: Identity) -> Any:
        return self._client_provider(identity.tenant_id, identity.actor_id)

    def _list_request(self, identity: Identity, session_id: str, *, page_size: int, payloads: bool) -> dict[str, Any]:
        return {
            "memoryId": self.memory_id,
            "actorId": identity.agentcore_actor_id,
            "sessionId": session_id,
            "includePayloads": payloads,
            "maxResults": page_size,
            "filter": {"eventMetadata": [
                {"left": {"metadataKey": KIND_KEY}, "operator": "EQUALS_TO",
                 "right": {"metadataValue": {"stringValue": TURN_KIND}}},
            ]},
        }

    def _call(self, method: Callable[..., Any], operation: str, identity: Identity, **request: Any) -> Any:
        try:
            return method(**request)
        except ClientError as error:
            code = error.response.get("Error", {}).get("Code", "")
            _log_failure(operation, identity, code)
            if code in _THROTTLED:
                raise _Throttled(f"AgentCore Memory {operation} is throttled") from None
            if code in ("AccessDeniedException", "AccessDenied"):
                raise AccessDeniedError(f"AgentCore Memory {operation} was denied for this tenant and user") from None
            if code == "ResourceNotFoundException":
                raise NotFoundError(f"AgentCore Memory {operation}: the memory or the item it names does not exist") \
                    from None
            if code in ("ValidationException", "InvalidInputException"):
                raise InvalidInputError(operation, self.memory_id, "AgentCore Memory rejected the request as invalid") \
                    from None
            raise UpstreamError(f"AgentCore Memory {operation} failed ({code or 'unknown error'})") from None
        except (ReadTimeoutError, ConnectTimeoutError):
            _log_failure(operation, identity, "Timeout")
            raise UpstreamTimeoutError(f"AgentCore Memory {operation} timed out") from None
        except ParamValidationError:
            _log_failure(operation, identity, "ParamValidation")
            raise MemoryMeshError(f"AgentCore Memory {operation} request failed client-side validation") from None
        except BotoCoreError as error:
            _log_failure(operation, identity, type(error).__name__)
            raise UpstreamError(f"AgentCore Memory {operation} failed ({type(error).__name__})") from None


def _guarded(guard: Any, identity: Identity, origin_ms: int | None, write: Callable[[], str],
             undo: Callable[[str], None]) -> str:
    """``guard.write`` with the turn's own start as the write's origin."""
    if origin_ms is None:
        return str(guard.write(identity, write, undo))
    from runtime.lifecycle.tombstones import write_origin

    with write_origin(origin_ms):
        return str(guard.write(identity, write, undo))


class _Throttled(UpstreamError):
    """A throttled call (internal: retried by the caller)."""


# -- queued turn events ----------------------------------------------------------------------------------


def turn_event_message(
    identity: Identity, session_id: str, messages: Sequence[TurnMessage], *, client_token: str | None, origin_ms: int
) -> dict[str, Any]:
    """The lifecycle-queue message that replays a turn write (``{"type": "turn-event", "v": 1, ...}``).

    Texts are cut (the longest first) so the JSON body stays under SQS's message size.
    """
    body: dict[str, Any] = {
        "type": QUEUED_TURN_TYPE,
        "v": QUEUED_TURN_VERSION,
        "tenant_id": identity.tenant_id,
        "actor_id": identity.actor_id,
        "session_id": validate_session_id(session_id),
        "client_token": client_token,
        "origin_ms": int(origin_ms),
        "messages": [m.to_json() for m in messages],
    }
    while len(json.dumps(body, separators=(",", ":")).encode()) > MAX_QUEUED_BYTES:
        longest = max(body["messages"], key=lambda m: len(m["text"]))
        longest["text"] = longest["text"][: max(1, len(longest["text"]) // 2)]
    return body


def parse_turn_event_message(
    raw: str | bytes | Mapping[str, Any],
) -> tuple[Identity, str, list[TurnMessage], str | None, int]:
    """Validate a queued turn message; (identity, session id, messages, client token, origin ms)."""
    try:
        body = json.loads(raw) if isinstance(raw, (str, bytes)) else dict(raw)
    except ValueError:
        raise InvalidInputError("message", "<not JSON>", "must be a JSON object of type 'turn-event'") from None
    if not isinstance(body, dict) or body.get("type") != QUEUED_TURN_TYPE:
        raise InvalidInputError("message.type", body.get("type") if isinstance(body, dict) else None,
                                f"must be {QUEUED_TURN_TYPE!r}")
    if body.get("v") != QUEUED_TURN_VERSION:
        raise InvalidInputError("message.v", body.get("v"), f"must be {QUEUED_TURN_VERSION}")
    identity = Identity(body.get("tenant_id"), body.get("actor_id"))  # type: ignore[arg-type]
    session_id = validate_session_id(body.get("session_id"), field="message.session_id")
    raw_messages = body.get("messages")
    if not isinstance(raw_messages, list):
        raise InvalidInputError("message.messages", f"<{type(raw_messages).__name__}>", "must be a list")
    messages = [
        TurnMessage(role=str(m.get("role")), text=m.get("text") or "", agent=m.get("agent"))
        for m in raw_messages if isinstance(m, dict)
    ]
    token = body.get("client_token")
    if token is not None and not isinstance(token, str):
        raise InvalidInputError("message.client_token", f"<{type(token).__name__}>", "must be a string or null")
    origin = body.get("origin_ms")
    if isinstance(origin, bool) or not isinstance(origin, int) or origin <= 0:
        raise InvalidInputError("message.origin_ms", origin, "must be a positive integer (epoch milliseconds)")
    return identity, session_id, messages, token, origin


def write_queued_turn(
    message: str | bytes | Mapping[str, Any],
    events: AgentCoreEvents,
    *,
    budget: Budget | None = None,
    forgotten_at: Callable[[Identity], int | None] | None = None,
) -> str | None:
    """Replay a queued turn write (the lifecycle function calls it); the event id, or None when dropped.

    Idempotent: the original client token goes with it. A turn older than the actor's forget tombstone
    (``forgotten_at(identity)``, epoch ms) is dropped, never written. Raises TurnWriteThrottled when still
    throttled, for the queue to redeliver.
    """
    identity, session_id, messages, token, origin_ms = parse_turn_event_message(message)
    if forgotten_at is not None:
        tombstone = forgotten_at(identity)
        if tombstone is not None and origin_ms <= tombstone:
            logger.info("queued turn dropped: the actor was forgotten after it", extra={"tenant": identity.tenant_id})
            return None
    return events.record_turn(
        identity, session_id, messages, client_token=token, budget=budget or Budget(20.0), origin_ms=origin_ms
    )


# -- cursors ---------------------------------------------------------------------------------------------


def encode_cursor(token: str, identity: Identity, scope: str) -> str:
    """An opaque cursor: the service's page token, bound to the caller and the listing it belongs to."""
    body = {"v": _CURSOR_VERSION, "b": _binding(identity, scope), "t": token}
    return base64.urlsafe_b64encode(json.dumps(body, separators=(",", ":")).encode()).decode().rstrip("=")


def decode_cursor(cursor: Any, identity: Identity, scope: str) -> str:
    """The page token inside ``cursor``; InvalidInputError (before any AWS call) if malformed or not the caller's.

    The binding is a check, not a secret: a forged cursor can still only page through the caller's own data,
    because every call is made under the caller's actor id and credentials.
    """
    if not isinstance(cursor, str) or not 1 <= len(cursor) <= 4096:
        raise InvalidInputError("cursor", f"<{type(cursor).__name__}>", "must be a cursor returned by this listing")
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        body = json.loads(base64.urlsafe_b64decode(padded.encode()))
        token = body["t"]
        binding = body["b"]
        version = body["v"]
    except (ValueError, KeyError, TypeError, binascii.Error):
        raise InvalidInputError("cursor", "<malformed>", "must be a cursor returned by this listing") from None
    if version != _CURSOR_VERSION or not isinstance(token, str) or not token:
        raise InvalidInputError("cursor", "<malformed>", "must be a cursor returned by this listing")
    if binding != _binding(identity, scope):
        raise InvalidInputError("cursor", "<foreign>", "belongs to another listing; start again without a cursor")
    return token


def _binding(identity: Identity, scope: str) -> str:
    return hashlib.sha256(f"{identity.agentcore_actor_id}\x00{scope}".encode()).hexdigest()[:24]


# -- helpers ---------------------------------------------------------------------------------------------


def _turn_of(event: Mapping[str, Any]) -> SessionTurn | None:
    """The turn an event holds, or None for an event that is not a turn (other kinds, no conversational items)."""
    metadata = event.get("metadata") or {}
    kind = (metadata.get(KIND_KEY) or {}).get("stringValue")
    if kind not in (None, TURN_KIND):
        return None
    messages = []
    for index, item in enumerate(event.get("payload") or []):
        conversational = item.get("conversational")
        if not conversational:
            continue
        text = (conversational.get("content") or {}).get("text")
        role = conversational.get("role")
        if not text or role not in ROLES:
            continue
        agent = (metadata.get(f"{AGENT_KEY_PREFIX}{index}") or {}).get("stringValue")
        if agent is None and role == "ASSISTANT":
            agent = (metadata.get("agent") or {}).get("stringValue")  # events of one message each (before turns)
        try:
            messages.append(TurnMessage(role=role, text=text, agent=agent if role == "ASSISTANT" else None))
        except InvalidInputError:
            continue
    if not messages:
        return None
    at_ms = int(_seconds(event.get("eventTimestamp")) * 1000)
    return SessionTurn(str(event.get("eventId", "")), at_ms, tuple(messages))


def _trim(turns: tuple[SessionTurn, ...], *, max_turns: int, max_bytes: int, trimmed: bool) -> RecentTurns:
    """Keep the newest turns within both bounds (whole turns; the newest is cut to fit if it alone is too big)."""
    kept: list[SessionTurn] = []
    used = 0
    for turn in reversed(turns):
        if len(kept) == max_turns:
            trimmed = True
            break
        size = sum(len(m.text.encode()) for m in turn.messages)
        if used + size > max_bytes:
            trimmed = True
            if not kept:
                kept.append(_cut(turn, max_bytes))
            break
        kept.append(turn)
        used += size
    return RecentTurns(tuple(reversed(kept)), trimmed)


def _cut(turn: SessionTurn, max_bytes: int) -> SessionTurn:
    """The turn's newest messages cut to ``max_bytes`` in total (the last message keeps its end)."""
    out: list[TurnMessage] = []
    left = max_bytes
    for message in reversed(turn.messages):
        if left <= 0:
            break
        data = message.text.encode()
        text = data[-left:].decode("utf-8", errors="ignore") if len(data) > left else message.text
        if text.strip():
            out.append(TurnMessage(message.role, text, message.agent))
        left -= len(data)
    return SessionTurn(turn.event_id, turn.at_ms, tuple(reversed(out)))


def _check_int(field: str, value: Any, low: int, high: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise InvalidInputError(field, value, f"must be an integer from {low} to {high}")


def _seconds(value: Any) -> float:
    if isinstance(value, datetime):
        return value.timestamp()
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    return 0.0


def _iso_of(value: Any) -> str | None:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z") if isinstance(value, datetime) else None


def _iso(at_ms: int) -> str:
    return datetime.fromtimestamp(at_ms / 1000, tz=UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _log_failure(operation: str, identity: Identity, code: str) -> None:
    logger.warning(
        "AgentCore Memory call failed",
        extra={"operation": operation, "tenant": identity.tenant_id, "actor_ref": log_ref(identity.actor_id),
               "error_code": code},
    )
