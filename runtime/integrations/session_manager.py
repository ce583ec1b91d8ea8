"""A Strands session manager that keeps an agent's conversation in the mesh's AgentCore Memory, per user.

``MeshSessionManager(identity, session_id, client_provider=..., memory_id=...)`` persists the Strands session, each
agent's state and every message as AgentCore events under the tenant-scoped actor ``<tenant>:<actor>``, so an
agent restarted, or another instance of it, resumes the conversation (``Agent(session_manager=...)``).

It works under the token vending machine's policy, which allows events only for the caller's own actor id and
(for worker agents) no DeleteEvent. bedrock-agentcore's ``AgentCoreMemorySessionManager`` does not: see
docs/runtime.md. Here every call names ``<tenant>:<actor>``, and nothing is ever deleted: an update (agent
state, a redacted message) is a newer event for the same item, and reads keep the newest.

Events carry blob payloads (not conversational), so AgentCore's extraction strategies skip them and the turn
listings (``mesh_kind`` = ``turn``) ignore them: ``mesh_kind`` is ``strands-session``, ``strands-agent`` or
``strands-message``, with ``strands_agent`` and ``strands_message`` naming the item.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError
from strands.session.repository_session_manager import RepositorySessionManager
from strands.session.session_repository import SessionRepository
from strands.types.session import Session, SessionAgent, SessionMessage

from runtime.errors import InvalidInputError, UpstreamError
from runtime.identity import Identity, validate_session_id

__all__ = ["MeshSessionManager", "MeshSessionRepository"]

KIND_KEY = "mesh_kind"
AGENT_KEY = "strands_agent"
MESSAGE_KEY = "strands_message"
SESSION_KIND = "strands-session"
AGENT_KIND = "strands-agent"
MESSAGE_KIND = "strands-message"
#: CreateEvent metadata values: at most 256 of ``[a-zA-Z0-9\s._:/=+@-]``.
_METADATA_VALUE = re.compile(r"[a-zA-Z0-9._:/=+@-]{1,128}")
_THROTTLED = frozenset({"ThrottledException", "ThrottlingException", "ServiceQuotaExceededException"})
_PAGE = 100


class MeshSessionRepository(SessionRepository):
    """Strands' ``SessionRepository`` over AgentCore events of one user's session (append-only, newest wins)."""

    def __init__(
        self,
        identity: Identity,
        *,
        client_provider: Callable[[str, str], Any],
        memory_id: str,
        clock: Callable[[], float] = time.time,
        max_attempts: int = 5,
    ) -> None:
        if not isinstance(identity, Identity):
            raise InvalidInputError("identity", f"<{type(identity).__name__}>", "must be a runtime.identity.Identity")
        self.identity = identity
        self._client_provider = client_provider
        self.memory_id = memory_id
        self._clock = clock
        self._max_attempts = max_attempts

    # -- the SessionRepository API --------------------------------------------------------------------

    def create_session(self, session: Session, **kwargs: Any) -> Session:
        """Write the session's record."""
        self._write(session.session_id, {KIND_KEY: SESSION_KIND}, session.to_dict())
        return session

    def read_session(self, session_id: str, **kwargs: Any) -> Session | None:
        """The session's newest record, or None."""
        found = self._newest(session_id, {KIND_KEY: SESSION_KIND})
        return Session.from_dict(found) if found is not None else None

    def create_agent(self, session_id: str, session_agent: SessionAgent, **kwargs: Any) -> None:
        """Write the agent's state."""
        self._write(session_id, self._agent_keys(session_agent.agent_id), session_agent.to_dict())

    def read_agent(self, session_id: str, agent_id: str, **kwargs: Any) -> SessionAgent | None:
        """The agent's newest state, or None."""
        found = self._newest(session_id, self._agent_keys(agent_id))
        return SessionAgent.from_dict(found) if found is not None else None

    def update_agent(self, session_id: str, session_agent: SessionAgent, **kwargs: Any) -> None:
        """Write a newer state of the agent (the newest wins on read)."""
        session_agent.updated_at = datetime.now(UTC).isoformat()
        self.create_agent(session_id, session_agent)

    def create_message(self, session_id: str, agent_id: str, session_message: SessionMessage, **kwargs: Any) -> None:
        """Write one message of the agent."""
        keys = {**self._agent_keys(agent_id), KIND_KEY: MESSAGE_KIND, MESSAGE_KEY: str(session_message.message_id)}
        self._write(session_id, keys, session_message.to_dict())

    def read_message(self, session_id: str, agent_id: str, message_id: int, **kwargs: Any) -> SessionMessage | None:
        """The message's newest version, or None."""
        keys = {**self._agent_keys(agent_id), KIND_KEY: MESSAGE_KIND, MESSAGE_KEY: str(message_id)}
        found = self._newest(session_id, keys)
        return SessionMessage.from_dict(found) if found is not None else None

    def update_message(self, session_id: str, agent_id: str, session_message: SessionMessage, **kwargs: Any) -> None:
        """Write a newer version of the message (a redaction); the newest wins on read."""
        session_message.updated_at = datetime.now(UTC).isoformat()
        self.create_message(session_id, agent_id, session_message)

    def list_messages(
        self, session_id: str, agent_id: str, limit: int | None = None, offset: int = 0, **kwargs: Any
    ) -> list[SessionMessage]:
        """The agent's messages in order (the newest version of each), from ``offset``, at most ``limit``."""
        keys = {**self._agent_keys(agent_id), KIND_KEY: MESSAGE_KIND}
        newest: dict[int, dict[str, Any]] = {}
        for document in self._documents(session_id, keys):  # newest first: the first seen of an id wins
            message_id = document.get("message_id")
            if isinstance(message_id, int) and message_id not in newest:
                newest[message_id] = document
        ordered = [SessionMessage.from_dict(newest[i]) for i in sorted(newest)]
        end = None if limit is None else offset + limit
        return ordered[offset:end]

    # -- events ---------------------------------------------------------------------------------------

    def _agent_keys(self, agent_id: str) -> dict[str, str]:
        if not isinstance(agent_id, str) or not _METADATA_VALUE.fullmatch(agent_id):
            raise InvalidInputError("agent_id", agent_id, "must be 1-128 of letters, digits and ._:/=+@-")
        return {KIND_KEY: AGENT_KIND, AGENT_KEY: agent_id}

    def _client(self) -> Any:
        return self._client_provider(self.identity.tenant_id, self.identity.actor_id)

    def _write(self, session_id: str, keys: dict[str, str], document: dict[str, Any]) -> None:
        validate_session_id(session_id)
        request = {
            "memoryId": self.memory_id,
            "actorId": self.identity.agentcore_actor_id,
            "sessionId": session_id,
            "eventTimestamp": datetime.fromtimestamp(self._clock(), tz=UTC),
            # A blob (not conversational): AgentCore's extraction strategies leave it alone.
            "payload": [{"blob": json.loads(json.dumps(document, default=str))}],
            "metadata": {key: {"stringValue": value} for key, value in keys.items()},
        }
        client = self._client()
        for attempt in range(self._max_attempts):
            try:
                client.create_event(**request)
                return
            except ClientError as error:
                code = error.response.get("Error", {}).get("Code", "")
                # Blob-only events: 10 CreateEvent per second per actor and session. Back off and retry.
                if code not in _THROTTLED or attempt == self._max_attempts - 1:
                    raise UpstreamError(f"AgentCore Memory CreateEvent failed ({code or 'unknown'})") from None
                time.sleep(min(1.0, 0.05 * 2**attempt))

    def _documents(self, session_id: str, keys: dict[str, str]) -> Iterator[dict[str, Any]]:
        """The blob documents of the matching events, newest first."""
        validate_session_id(session_id)
        request: dict[str, Any] = {
            "memoryId": self.memory_id,
            "actorId": self.identity.agentcore_actor_id,
            "sessionId": session_id,
            "includePayloads": True,
            "maxResults": _PAGE,
            "filter": {"eventMetadata": [
                {"left": {"metadataKey": key}, "operator": "EQUALS_TO", "right": {"metadataValue": {"stringValue": v}}}
                for key, v in keys.items()
            ]},
        }
        client = self._client()
        while True:
            try:
                page = client.list_events(**request)
            except ClientError as error:
                code = error.response.get("Error", {}).get("Code", "")
                raise UpstreamError(f"AgentCore Memory ListEvents failed ({code or 'unknown'})") from None
            for event in page.get("events", []):
                for item in event.get("payload") or []:
                    blob = item.get("blob")
                    if isinstance(blob, str):
                        blob = json.loads(blob)
                    if isinstance(blob, dict):
                        yield blob
            token = page.get("nextToken")
            if not token:
                return
            request["nextToken"] = token

    def _newest(self, session_id: str, keys: dict[str, str]) -> dict[str, Any] | None:
        return next(self._documents(session_id, keys), None)


class MeshSessionManager(RepositorySessionManager):
    """Strands' repository session manager over :class:`MeshSessionRepository`: one per user session."""

    def __init__(
        self,
        identity: Identity,
        session_id: str,
        *,
        client_provider: Callable[[str, str], Any],
        memory_id: str,
        **kwargs: Any,
    ) -> None:
        repository = MeshSessionRepository(identity, client_provider=client_provider, memory_id=memory_id)
        super().__init__(session_id=validate_session_id(session_id), session_repository=repository, **kwargs)
