"""End of a session: hand it to the summarizer, by an SQS job or by calling it in-process.

Strands-free. :class:`QueueSummaryHandoff` is the production path (durable, retried, DLQ-backed);
:class:`DirectSummaryHandoff` runs the summarizer in the caller, for local runs and long-lived
processes. :class:`InMemoryTurnLog` records conversation turns for local runs that have no AgentCore.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any, Protocol

from runtime.errors import InvalidInputError
from runtime.identity import Identity, validate_agent_name, validate_session_id
from runtime.integrations.scope import MemoryScope
from runtime.summarizer import (
    DEFAULT_MAX_SUMMARY_BYTES,
    SummaryResult,
    SummaryStore,
    TurnsSource,
    enqueue_summary_job,
    summarize_session,
)

_ROLES = ("user", "assistant")


class SummaryHandoff(Protocol):
    """Receives each ended session; returns what it did (a message id or a :class:`SummaryResult`)."""

    def __call__(self, scope: MemoryScope) -> Any:
        """Hand the ended session over."""
        ...


class TurnRecorder(Protocol):
    """Records conversation turns (``AgentCoreMemoryBackend`` or :class:`InMemoryTurnLog`)."""

    def record_turn(
        self, identity: Identity, session_id: str, role: str, text: str, *, agent: str | None = None
    ) -> str:
        """Record one message; return its id."""
        ...


class QueueSummaryHandoff:
    """Sends one versioned summary job per ended session to the summarizer queue."""

    def __init__(self, sqs_client: Any, queue_url: str, *, clock: Callable[[], float] = time.time) -> None:
        if not isinstance(queue_url, str) or not queue_url.startswith("https://"):
            raise InvalidInputError(
                "queue_url", queue_url, "must be an SQS queue URL (https://sqs.<region>.amazonaws.com/...)"
            )
        self._sqs = sqs_client
        self._queue_url = queue_url
        self._clock = clock

    def __call__(self, scope: MemoryScope) -> str:
        """Send the session's summary job; returns the SQS message id."""
        return enqueue_summary_job(
            self._sqs, self._queue_url, scope.identity, scope.session_id, scope.agent, clock=self._clock
        )


class DirectSummaryHandoff:
    """Summarizes the ended session in the calling process (blocking; no background work)."""

    def __init__(
        self,
        *,
        turns_source: TurnsSource,
        vector_store: SummaryStore,
        converse_client: Any,
        model_id: str,
        max_summary_bytes: int = DEFAULT_MAX_SUMMARY_BYTES,
    ) -> None:
        self._turns_source = turns_source
        self._vector_store = vector_store
        self._converse_client = converse_client
        self._model_id = model_id
        self._max_summary_bytes = max_summary_bytes

    def __call__(self, scope: MemoryScope) -> SummaryResult:
        """Summarize the session now and store the summary."""
        return summarize_session(
            scope.identity,
            scope.session_id,
            agent=scope.agent,
            turns_source=self._turns_source,
            vector_store=self._vector_store,
            converse_client=self._converse_client,
            model_id=self._model_id,
            max_summary_bytes=self._max_summary_bytes,
        )


class InMemoryTurnLog:
    """Thread-safe in-process conversation log with the ``AgentCoreMemoryBackend`` turn methods."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._turns: dict[tuple[str, str, str], list[tuple[str, str]]] = {}
        self._count = 0

    def record_turn(
        self, identity: Identity, session_id: str, role: str, text: str, *, agent: str | None = None
    ) -> str:
        """Append one turn to the session and return its event id."""
        if not isinstance(identity, Identity):
            raise InvalidInputError("identity", f"<{type(identity).__name__}>", "must be a runtime.identity.Identity")
        validate_session_id(session_id)
        if agent is not None:
            validate_agent_name(agent)
        if not isinstance(role, str) or role.lower() not in _ROLES:
            raise InvalidInputError("role", role, f"must be one of {list(_ROLES)} (any case)")
        if not isinstance(text, str) or not text.strip():
            raise InvalidInputError("text", f"<{type(text).__name__}>", "must be non-blank text")
        key = (identity.tenant_id, identity.actor_id, session_id)
        with self._lock:
            self._turns.setdefault(key, []).append((role.lower(), text))
            self._count += 1
            return f"turn-{self._count}"

    def list_session_turns(self, identity: Identity, session_id: str) -> list[tuple[str, str]]:
        """The session's turns in order; an unknown session has none."""
        with self._lock:
            return list(self._turns.get((identity.tenant_id, identity.actor_id, session_id), ()))
