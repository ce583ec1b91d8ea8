"""Invoking the supervisor and worker agents: Bedrock Agents or AgentCore Runtime, with memory as structured data.

- A Bedrock Agent gets ``invoke_agent`` with a derived ``sessionId``, a per-(tenant, actor) ``memoryId`` and
  ``sessionState``: the delimited memory block in ``promptSessionAttributes`` (what the agent's prompt
  template sees) and, with the structured records, in ``sessionAttributes`` (what its action groups see).
  The whole ``completion`` event stream is read; chunks are concatenated.
- An AgentCore Runtime gets ``invoke_agent_runtime`` (qualifier ``DEFAULT``) with a JSON payload
  ``{"prompt", "memory": {...}}`` and a derived ``runtimeSessionId``; the answer is read whole, as JSON or
  as server-sent events.
- A worker is reached with its account's access role: sts:AssumeRole with the external id, SourceIdentity =
  the actor id and session tags TenantID / ActorID, credentials cached per (worker, tenant, actor) until
  shortly before they expire; clients are built in the worker's Region.

The memory never goes into the prompt text: the prompt is the user's message as sent.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from runtime.contract.agents import AGENTCORE_RUNTIME, BEDROCK_AGENT, AgentRef
from runtime.errors import UpstreamError, UpstreamTimeoutError
from runtime.handlers._http import public
from runtime.identity import Identity
from runtime.records import MemoryRecord
from runtime.rendering import render_memory_block, render_session_block

__all__ = [
    "AGENTCORE_RUNTIME",
    "BEDROCK_AGENT",
    "AgentClients",
    "AgentRef",
    "AgentReply",
    "Deadline",
    "MemoryContext",
    "agent_session_id",
    "bedrock_memory_id",
    "invoke_agent",
    "split_handoff",
]

#: Bytes of memory block handed to an agent (the structured records repeat the same entries).
MEMORY_BUDGET_BYTES = 4000
#: Bytes of the session block (recent messages) handed to an agent; the structured entries repeat them.
SESSION_BUDGET_BYTES = 6000
#: Worker access credentials: sts:AssumeRole's minimum duration, refreshed two minutes before expiry.
WORKER_CREDENTIALS_SECONDS = 900
WORKER_REFRESH_MARGIN_S = 120
#: Per socket read; Bedrock Agents may think for a while before their first chunk.
AGENT_READ_TIMEOUT_S = 60
AGENT_CONNECT_TIMEOUT_S = 3
#: Largest AgentCore Runtime answer read (the rest is dropped; memory turns are capped at 100,000 characters).
MAX_RUNTIME_RESPONSE_BYTES = 1024 * 1024

# The delegation signal: a line "HANDOFF: <worker-name>" in the supervisor's answer.
_HANDOFF_RE = re.compile(r"^[ \t]*HANDOFF:[ \t]*([A-Za-z0-9][A-Za-z0-9_-]*)[ \t]*\r?$", re.MULTILINE)
_TEXT_KEYS = ("response", "result", "output", "text", "message", "content", "completion", "data")
_TIMEOUT_CODES = frozenset({"ModelTimeoutException", "RequestTimeout", "RequestTimeoutException"})


# -- configuration -------------------------------------------------------------------------------------------


# -- time budget ---------------------------------------------------------------------------------------------


class Deadline:
    """What is left of an invocation's time: the Lambda's remaining time minus a safety margin.

    ``remaining_ms`` is read at every check (``context.get_remaining_time_in_millis``), so the budget follows
    the real clock; ``cap_s`` further bounds it from construction (the HTTP API's 30-second integration limit).
    """

    def __init__(
        self,
        remaining_ms: Callable[[], Any] | None,
        *,
        margin_s: float,
        cap_s: float | None = None,
        default_s: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._remaining_ms = remaining_ms
        self._margin = margin_s
        self._default = default_s
        self._clock = clock
        self._cap_at = clock() + cap_s if cap_s is not None else None

    @classmethod
    def from_context(cls, context: Any, *, margin_s: float, cap_s: float | None = None) -> Deadline:
        getter = getattr(context, "get_remaining_time_in_millis", None)
        return cls(getter if callable(getter) else None, margin_s=margin_s, cap_s=cap_s)

    def remaining(self) -> float:
        """Seconds left for upstream work (may be negative)."""
        left = self._default
        if self._remaining_ms is not None:
            try:
                value = self._remaining_ms()
                if isinstance(value, (int, float)) and not isinstance(value, bool) and value == value:
                    left = float(value) / 1000.0
            except Exception:  # a broken context must not fail the request
                pass
        if self._cap_at is not None:
            left = min(left, self._cap_at - self._clock())
        return left - self._margin

    def expired(self) -> bool:
        return self.remaining() <= 0

    def require(self, seconds: float, what: str) -> None:
        """Raise UpstreamTimeoutError (504) unless at least ``seconds`` are left for ``what``."""
        if self.remaining() < seconds:
            raise public(UpstreamTimeoutError(f"the request's time budget ran out before it could {what}"))


# -- memory context ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MemoryContext:
    """What an agent is handed beside the prompt: the long-term memories (one delimited block plus the same entries
    as structured records) and the session's recent messages (structured, each labelled with its agent, and as a
    delimited block)."""

    tenant_id: str
    actor_id: str
    session_id: str | None
    block: str
    records: tuple[dict[str, Any], ...]
    recent: tuple[dict[str, Any], ...] = ()
    session_block: str = ""

    @classmethod
    def build(
        cls,
        identity: Identity,
        session_id: str | None,
        records: Sequence[MemoryRecord],
        *,
        recent: Sequence[Mapping[str, Any]] = (),
        budget_bytes: int = MEMORY_BUDGET_BYTES,
        session_budget_bytes: int = SESSION_BUDGET_BYTES,
    ) -> MemoryContext:
        """Render ``records`` into the block (within ``budget_bytes``) and keep the entries that made it in; the
        same for ``recent`` (oldest first; the newest that fit ``session_budget_bytes`` are kept)."""
        block = render_memory_block(records, budget_bytes=budget_bytes)
        used = block.count("<memory kind=")
        entries = tuple(_record_entry(record) for record in records[:used])
        session_block = render_session_block(recent, budget_bytes=session_budget_bytes)
        kept = session_block.count("<turn role=")
        recent_entries = tuple(dict(entry) for entry in recent[len(recent) - kept:]) if kept else ()
        return cls(identity.tenant_id, identity.actor_id, session_id, block, entries, recent_entries, session_block)

    def with_recent(
        self, recent: Sequence[Mapping[str, Any]], *, budget_bytes: int = SESSION_BUDGET_BYTES
    ) -> MemoryContext:
        """The same memories with another view of the session (e.g. including this turn's earlier answers)."""
        session_block = render_session_block(recent, budget_bytes=budget_bytes)
        kept = session_block.count("<turn role=")
        entries = tuple(dict(entry) for entry in recent[len(recent) - kept:]) if kept else ()
        return replace(self, recent=entries, session_block=session_block)

    @property
    def count(self) -> int:
        return len(self.records)

    def session_attributes(self) -> dict[str, str]:
        """Bedrock Agents ``sessionAttributes`` (string values; action groups receive them)."""
        attributes = {
            "mesh_tenant_id": self.tenant_id,
            "mesh_actor_id": self.actor_id,
            "mesh_memory_count": str(self.count),
            "mesh_memory_context": self.block,
            "mesh_memories": json.dumps(list(self.records), separators=(",", ":")),
            "mesh_recent_turns": json.dumps(list(self.recent), separators=(",", ":")),
            "mesh_session_context": self.session_block,
        }
        if self.session_id:
            attributes["mesh_session_id"] = self.session_id
        return attributes

    def prompt_session_attributes(self, *, include_session: bool = True) -> dict[str, str]:
        """Bedrock Agents ``promptSessionAttributes`` (the agent's prompt template sees them).

        ``include_session=False`` for an agent that keeps the conversation in its own session already.
        """
        attributes = {"mesh_memory_context": self.block} if self.block else {}
        if include_session and self.session_block:
            attributes["mesh_session_context"] = self.session_block
        return attributes

    def payload(self) -> dict[str, Any]:
        """The ``memory`` object of an AgentCore Runtime payload."""
        return {
            "tenant_id": self.tenant_id,
            "actor_id": self.actor_id,
            "session_id": self.session_id,
            "count": self.count,
            "context": self.block,
            "records": list(self.records),
            "recent_turns": list(self.recent),
            "session_context": self.session_block,
        }


def _record_entry(record: MemoryRecord) -> dict[str, Any]:
    entry: dict[str, Any] = {"content": record.content, "kind": record.kind, "source": record.source}
    if record.stored_at is not None:
        entry["date"] = datetime.fromtimestamp(record.stored_at, tz=UTC).strftime("%Y-%m-%d")
    return entry


# -- ids -------------------------------------------------------------------------------------------------------


def agent_session_id(identity: Identity, session_id: str | None, agent_name: str) -> str:
    """The agent-side session id: 64 hex of (tenant, actor, session, agent), fresh per call when stateless.

    Derived rather than passed through, so two tenants (or users) choosing the same session id never share an
    agent session; fits Bedrock Agents (2-100 of ``[0-9a-zA-Z._:-]``) and AgentCore Runtime (33-100).
    """
    if session_id is None:
        return "stateless-" + uuid.uuid4().hex
    joined = "\x00".join((identity.tenant_id, identity.actor_id, session_id, agent_name))
    return hashlib.sha256(joined.encode()).hexdigest()


def bedrock_memory_id(identity: Identity) -> str:
    """The Bedrock Agents ``memoryId`` of one user: ``<tenant>.<40 hex>`` (at most 81 of ``[0-9a-zA-Z._:-]``)."""
    digest = hashlib.sha256(f"{identity.tenant_id}\x00{identity.actor_id}".encode()).hexdigest()[:40]
    return f"{identity.tenant_id}.{digest}"


def split_handoff(text: str) -> tuple[str, str | None]:
    """Remove every ``HANDOFF: <worker>`` line; return the remaining text and the first worker named."""
    found = _HANDOFF_RE.search(text)
    if found is None:
        return text.strip(), None
    cleaned = _HANDOFF_RE.sub("", text)
    return re.sub(r"\n{3,}", "\n\n", cleaned).strip(), found.group(1).lower()


# -- invocation ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AgentReply:
    """An agent's whole answer and how many stream events carried it."""

    text: str
    events: int = 0


def invoke_agent(
    client: Any,
    agent: AgentRef,
    *,
    prompt: str,
    identity: Identity,
    session_id: str | None,
    agent_name: str,
    memory: MemoryContext,
    deadline: Deadline,
    agent_memory: bool = False,
) -> AgentReply:
    """Invoke ``agent`` with the user's ``prompt`` and the memory as structured data; read its whole answer.

    ``agent_memory`` lets a Bedrock Agent keep its own per-user memory (``memoryId``). Only the supervisor does:
    the forget function can erase it there, while a worker in another account would keep a copy out of reach.

    Raises UpstreamTimeoutError when the deadline passes while reading, UpstreamError for any other failure
    (messages name the agent kind and error code only).
    """
    from botocore.eventstream import ParserError
    from botocore.exceptions import BotoCoreError, ClientError, ConnectTimeoutError, ReadTimeoutError
    from botocore.parsers import ResponseParserError

    what = f"{agent.kind} {agent_name!r}"
    agent_session = agent_session_id(identity, session_id, agent_name)
    try:
        if agent.kind == BEDROCK_AGENT:
            reply = _invoke_bedrock_agent(client, agent, prompt, identity, session_id if agent_memory else None,
                                          agent_session, memory, deadline)
        else:
            reply = _invoke_runtime(client, agent, prompt, agent_session, memory, deadline)
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code") or "Unknown"
        kind = UpstreamTimeoutError if code in _TIMEOUT_CODES else UpstreamError
        raise kind(f"{what} failed ({code})") from None
    except (ReadTimeoutError, ConnectTimeoutError):
        raise UpstreamTimeoutError(f"{what} did not answer in time") from None
    except BotoCoreError as error:
        raise UpstreamError(f"{what} could not be reached ({type(error).__name__})") from None
    except (ResponseParserError, ParserError) as error:
        raise UpstreamError(f"{what} sent an answer that could not be parsed ({type(error).__name__})") from None
    if not reply.text.strip():
        raise UpstreamError(f"{what} returned no text")
    return reply


def _invoke_bedrock_agent(
    client: Any,
    agent: AgentRef,
    prompt: str,
    identity: Identity,
    session_id: str | None,
    agent_session: str,
    memory: MemoryContext,
    deadline: Deadline,
) -> AgentReply:
    request: dict[str, Any] = {
        "agentId": agent.agent_id,
        "agentAliasId": agent.alias_id,
        "sessionId": agent_session,
        "inputText": prompt,
        "enableTrace": False,
        "sessionState": {
            "sessionAttributes": memory.session_attributes(),
            # A Bedrock Agent with a session (the supervisor) keeps the conversation itself: its prompt needs only
            # the memories; the structured recent turns stay in sessionAttributes for its action groups.
            "promptSessionAttributes": memory.prompt_session_attributes(include_session=session_id is None),
        },
    }
    if session_id is not None:
        # Bedrock Agents' own memory (session summaries) is per user; a stateless call, or a worker, keeps none.
        request["memoryId"] = bedrock_memory_id(identity)
    response = client.invoke_agent(**request)
    stream = response["completion"]
    parts: list[str] = []
    events = 0
    returned_control = False
    try:
        for event in stream:
            events += 1
            chunk = event.get("chunk")
            if chunk is not None:
                data = chunk.get("bytes") or b""
                parts.append(data.decode("utf-8", errors="replace") if isinstance(data, bytes) else str(data))
            elif "returnControl" in event:
                returned_control = True
            if deadline.expired():
                raise UpstreamTimeoutError(f"{agent.kind} answer was still streaming when the time budget ran out")
    finally:
        _close(stream)
    text = "".join(parts)
    if returned_control and not text.strip():
        raise UpstreamError(
            f"{agent.kind} returned control to the caller (an action group with RETURN_CONTROL), which the "
            "orchestrator does not run"
        )
    return AgentReply(text=text, events=events)


def _invoke_runtime(
    client: Any, agent: AgentRef, prompt: str, agent_session: str, memory: MemoryContext, deadline: Deadline
) -> AgentReply:
    payload = json.dumps({"prompt": prompt, "memory": memory.payload()}, separators=(",", ":")).encode()
    response = client.invoke_agent_runtime(
        agentRuntimeArn=agent.runtime_arn,
        qualifier="DEFAULT",
        runtimeSessionId=agent_session,
        contentType="application/json",
        accept="application/json, text/event-stream",
        payload=payload,
    )
    body = response["response"]
    content_type = (response.get("contentType") or "").lower()
    try:
        if "text/event-stream" in content_type:
            parts: list[str] = []
            events = 0
            size = 0
            for line in body.iter_lines():
                size += len(line)
                if size > MAX_RUNTIME_RESPONSE_BYTES:
                    break
                if line.startswith(b"data:"):
                    events += 1
                    parts.append(_text_of(_json_or_text(line[5:].strip())))
                if deadline.expired():
                    raise UpstreamTimeoutError(f"{agent.kind} answer was still streaming when the time budget ran out")
            return AgentReply(text="".join(parts), events=events)
        data = body.read(MAX_RUNTIME_RESPONSE_BYTES)
        return AgentReply(text=_text_of(_json_or_text(data)), events=1)
    finally:
        _close(body)


def _json_or_text(data: bytes) -> Any:
    text = data.decode("utf-8", errors="replace")
    try:
        return json.loads(text)
    except ValueError:
        return text


def _text_of(value: Any, depth: int = 0) -> str:
    """The text of an agent's JSON answer: a string, or the first text-like field (content blocks joined)."""
    if depth > 8:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return "".join(_text_of(item, depth + 1) for item in value)
    if isinstance(value, Mapping):
        for key in _TEXT_KEYS:
            if key in value:
                text = _text_of(value[key], depth + 1)
                if text:
                    return text
    return ""


def _close(stream: Any) -> None:
    close = getattr(stream, "close", None)
    if callable(close):
        try:
            close()
        except Exception:
            pass


# -- clients -------------------------------------------------------------------------------------------------


class AgentClients:
    """Clients that invoke agents: the function's own role for the supervisor, worker access roles for workers.

    Per container: one boto3 session, one STS client (the function's Region), one credential broker per worker
    (its cache is per (tenant, actor)), and clients reused while their credentials are fresh.
    """

    def __init__(self, *, region: str, session: Any = None) -> None:
        import boto3
        from botocore.config import Config

        self.region = region
        self._session = session if session is not None else boto3.session.Session()
        self._config = Config(
            connect_timeout=AGENT_CONNECT_TIMEOUT_S,
            read_timeout=AGENT_READ_TIMEOUT_S,
            retries={"mode": "standard", "total_max_attempts": 2},
        )
        self._lock = threading.Lock()
        self._own: dict[tuple[str, str], Any] = {}
        self._brokers: dict[str, Any] = {}
        self._sts: Any = None

    def own(self, agent: AgentRef) -> Any:
        """A client for ``agent`` on the function's own credentials (the supervisor, same account)."""
        key = (agent.service_name, agent.region(self.region))
        with self._lock:
            client = self._own.get(key)
            if client is None:
                client = self._own[key] = self._session.client(key[0], region_name=key[1], config=self._config)
            return client

    def worker(self, worker: Any, identity: Identity) -> Any:
        """A client for ``worker.agent`` in the worker's Region, on its access role assumed for ``identity``."""
        broker = self._broker(worker)
        return broker.client(worker.agent.service_name, identity.tenant_id, identity.actor_id)

    def assume_role_calls(self, worker_name: str) -> int:
        """How many sts:AssumeRole calls the worker's broker made (for tests and metrics)."""
        broker = self._brokers.get(worker_name)
        return broker.stats.sts_calls if broker is not None else 0

    def _broker(self, worker: Any) -> Any:
        from runtime.credentials import TenantCredentialBroker

        with self._lock:
            broker = self._brokers.get(worker.name)
            if broker is None or broker.role_arn != worker.role_arn:
                if self._sts is None:
                    self._sts = self._session.client(
                        "sts", region_name=self.region, config=self._config.merge(_sts_config())
                    )
                broker = self._brokers[worker.name] = TenantCredentialBroker(
                    worker.role_arn,
                    region=worker.agent.region(worker.region),
                    sts_client=self._sts,
                    session=self._session,
                    duration_seconds=WORKER_CREDENTIALS_SECONDS,
                    refresh_margin_s=WORKER_REFRESH_MARGIN_S,
                    max_entries=256,
                    client_config=self._config,
                    external_id=worker.external_id,
                )
            return broker


def _sts_config() -> Any:
    from botocore.config import Config

    return Config(connect_timeout=3, read_timeout=10, retries={"mode": "standard", "total_max_attempts": 2})


# -- Bedrock Agents' own session memory ------------------------------------------------------------------------


def end_agent_session(
    client: Any, agent: AgentRef, *, identity: Identity, session_id: str, agent_name: str, agent_memory: bool
) -> None:
    """End the agent's session (``endSession=true``, with the user's ``memoryId`` when the agent keeps memory), so
    Bedrock Agents summarizes it into that memory (asynchronously: summaries appear minutes later)."""
    from botocore.exceptions import BotoCoreError, ClientError

    request: dict[str, Any] = {
        "agentId": agent.agent_id,
        "agentAliasId": agent.alias_id,
        "sessionId": agent_session_id(identity, session_id, agent_name),
        "endSession": True,
        "enableTrace": False,
    }
    if agent_memory:
        request["memoryId"] = bedrock_memory_id(identity)
    try:
        response = client.invoke_agent(**request)
        stream = response.get("completion")
        try:
            for _ in stream or ():
                pass
        finally:
            _close(stream)
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code") or "Unknown"
        raise UpstreamError(f"{agent.kind} {agent_name!r} could not end the session ({code})") from None
    except BotoCoreError as error:
        raise UpstreamError(f"{agent.kind} {agent_name!r} could not be reached ({type(error).__name__})") from None


def agent_session_summaries(
    client: Any, agent: AgentRef, identity: Identity, *, max_items: int = 100, max_pages: int = 10
) -> list[dict[str, Any]]:
    """The user's Bedrock Agents session summaries (``GetAgentMemory`` SESSION_SUMMARY), newest first."""
    from botocore.exceptions import BotoCoreError, ClientError

    request: dict[str, Any] = {
        "agentId": agent.agent_id,
        "agentAliasId": agent.alias_id,
        "memoryId": bedrock_memory_id(identity),
        "memoryType": "SESSION_SUMMARY",
        "maxItems": max_items,
    }
    summaries: list[dict[str, Any]] = []
    try:
        for _ in range(max_pages):
            page = client.get_agent_memory(**request)
            for content in page.get("memoryContents", []):
                summary = content.get("sessionSummary")
                if summary and summary.get("summaryText"):
                    summaries.append(summary)
            token = page.get("nextToken")
            if not token:
                break
            request["nextToken"] = token
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code") or "Unknown"
        if code == "ResourceNotFoundException":
            return []  # no memory kept for this user yet
        raise UpstreamError(f"{agent.kind} memory could not be read ({code})") from None
    except BotoCoreError as error:
        raise UpstreamError(f"{agent.kind} memory could not be read ({type(error).__name__})") from None
    summaries.sort(key=lambda s: _timestamp(s.get("sessionStartTime")), reverse=True)
    return summaries


def delete_agent_session_memory(
    client: Any, agent: AgentRef, identity: Identity, session_id: str, agent_name: str
) -> None:
    """Delete the summary Bedrock Agents keeps of one session of the user (``DeleteAgentMemory`` with sessionId)."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        client.delete_agent_memory(
            agentId=agent.agent_id, agentAliasId=agent.alias_id, memoryId=bedrock_memory_id(identity),
            sessionId=agent_session_id(identity, session_id, agent_name),
        )
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code") or "Unknown"
        if code != "ResourceNotFoundException":
            raise UpstreamError(f"{agent.kind} session memory could not be deleted ({code})") from None
    except BotoCoreError as error:
        raise UpstreamError(f"{agent.kind} session memory could not be deleted ({type(error).__name__})") from None


def _timestamp(value: Any) -> float:
    return value.timestamp() if isinstance(value, datetime) else 0.0
