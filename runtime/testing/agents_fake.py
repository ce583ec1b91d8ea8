"""Scripted agents standing in for Bedrock, served through the same botocore seam as ``runtime.testing.aws``.

Test-only. While ``scripted_agents(aws)`` is active, boto3 clients are answered in-process for:

- ``bedrock-agent-runtime`` ``InvokeAgent``: the ``completion`` is a real botocore ``EventStream`` decoded from
  event-stream bytes the fake encodes (chunks, traces, ``returnControl``, and exception events mid-stream);
- ``bedrock-agentcore`` ``InvokeAgentRuntime``: a streaming body of JSON or server-sent events;
- ``bedrock-runtime`` ``InvokeModel`` (embeddings computed by :class:`runtime.embeddings.LocalHashEmbedder`,
  honouring the requested dimension) and ``Converse`` (a scripted summary).

An agent's script is ``script(prompt, attributes, caller) -> reply``: ``attributes`` is the Bedrock Agent's
``sessionAttributes`` or the AgentCore Runtime's decoded JSON payload, ``caller`` who signed the call (account,
assumed role, session tags). A reply is text, or for a Bedrock Agent a list of event dicts, or for a runtime a
JSON-able dict or :class:`ServerSentEvents`; raising :class:`AgentFailure` makes the service fail. Each agent
lives in one account and Region: a call signed by another account's credentials gets ResourceNotFound (Bedrock
Agents) or AccessDenied (AgentCore Runtime), as cross-account calls without the worker role would.
"""

from __future__ import annotations

import base64
import binascii
import datetime as _dt
import html
import json
import re
import struct
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import boto3
from botocore.awsrequest import AWSResponse
from botocore.handlers import BUILTIN_HANDLERS
from botocore.parsers import create_parser
from botocore.response import StreamingBody

from runtime.embeddings import LocalHashEmbedder
from runtime.testing._model import ServiceError, _RawBody, build_response, to_wire, validate_request, validation_message
from runtime.testing.aws import EmulatedAws

__all__ = [
    "AgentCall",
    "AgentFailure",
    "Caller",
    "ScriptedAgents",
    "ServerSentEvents",
    "default_summary",
    "scripted_agents",
]

_PARAMS_KEY = "runtime.testing.agents_fake.params"
_SERVICES = ("bedrock-agent-runtime", "bedrock-agentcore", "bedrock-runtime")
_RUNTIME_ARN_RE = re.compile(r"arn:aws[a-z-]*:bedrock-agentcore:(?P<region>[a-z0-9-]+):(?P<account>\d{12}):runtime/.+")
_ROLE_ACCOUNT_RE = re.compile(r"arn:aws[a-z-]*:iam::(\d{12}):role/")
#: Chunk size of scripted Bedrock Agent answers: several chunks per answer prove the stream is read whole.
CHUNK_CHARS = 24

Script = Callable[[str, Mapping[str, Any], "Caller"], Any]


class AgentFailure(Exception):
    """Raise from a script: the service answers with ``code`` (an error of the operation's model).

    For a Bedrock Agent, ``mid_stream=True`` sends ``partial`` text as chunks first and then the error as an
    exception event (``code`` is then an event-stream member such as ``throttlingException``).
    """

    def __init__(self, code: str, message: str = "scripted failure", *, mid_stream: bool = False, partial: str = ""):
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.mid_stream = mid_stream
        self.partial = partial


@dataclass(frozen=True)
class ServerSentEvents:
    """An AgentCore Runtime reply streamed as ``text/event-stream``: one ``data:`` line per part (JSON-encoded)."""

    parts: tuple[Any, ...]


@dataclass(frozen=True)
class Caller:
    """Who signed a call: the account, the assumed role session (if the emulation vended one) and its tags."""

    account_id: str
    region: str
    access_key_id: str | None = None
    role_arn: str | None = None
    role_session_name: str | None = None
    source_identity: str | None = None
    external_id: str | None = None
    tags: Mapping[str, str] = field(default_factory=dict)

    @property
    def tenant_id(self) -> str | None:
        """The session's ``TenantID`` tag, if any."""
        return self.tags.get("TenantID")

    @property
    def actor_id(self) -> str | None:
        """The session's ``ActorID`` tag, if any."""
        return self.tags.get("ActorID")


@dataclass(frozen=True)
class AgentCall:
    """One agent invocation as the fake saw it."""

    service: str
    agent: str
    params: Mapping[str, Any]
    prompt: str
    attributes: Mapping[str, Any]
    caller: Caller
    reply: str | None = None
    error: str | None = None


@dataclass
class _Agent:
    key: str
    account_id: str
    region: str
    script: Script


class ScriptedAgents:
    """The scripted agents and model answers of one test, plus every call they received."""

    def __init__(self, aws: EmulatedAws) -> None:
        self.aws = aws
        self._lock = threading.Lock()
        self._bedrock: dict[tuple[str, str], _Agent] = {}
        self._runtimes: dict[str, _Agent] = {}
        self.calls: list[AgentCall] = []
        self.embedding_calls: list[Mapping[str, Any]] = []
        self.converse_calls: list[Mapping[str, Any]] = []
        #: ``summary(transcript_prompt) -> text`` answers Converse (the summarizer's model).
        self.summary: Callable[[str], str] = default_summary
        #: ``judge(prompt) -> text`` answers the Converse calls of the consolidation judge (prompts with ``<new>``).
        self.judge: Callable[[str], str] = default_judge
        self.converse_failure: str | None = None
        #: (``"<agent_id>/<alias_id>"``, memoryId) pairs a Bedrock Agent keeps memory for (InvokeAgent with memoryId).
        self.agent_memories: set[tuple[str, str]] = set()
        #: Prompts per (agent key, memoryId, sessionId) of sessions with memory, and the ones ended (endSession).
        self._session_prompts: dict[tuple[str, str, str], list[str]] = {}
        self.ended_sessions: list[tuple[str, str | None, str]] = []
        #: SESSION_SUMMARY memory contents per (agent key, memoryId), as GetAgentMemory answers them.
        self.session_summaries: dict[tuple[str, str], list[dict[str, Any]]] = {}

    # -- registration -----------------------------------------------------------------------------------

    def bedrock_agent(
        self, agent_id: str, alias_id: str, script: Script, *, account_id: str | None = None, region: str | None = None
    ) -> str:
        """Serve a Bedrock Agent alias in ``account_id`` / ``region`` (default: the emulation's); returns its ARN.

        Agent ids are unique, so registering the same id and alias again replaces (or moves) the agent.
        """
        account_id = account_id or self.aws.account_id
        region = region or self.aws.region
        key = f"{agent_id}/{alias_id}"
        with self._lock:
            self._bedrock[(agent_id, alias_id)] = _Agent(key, account_id, region, script)
        return f"arn:aws:bedrock:{region}:{account_id}:agent-alias/{agent_id}/{alias_id}"

    def agentcore_runtime(self, runtime_arn: str, script: Script) -> str:
        """Serve an AgentCore Runtime (its account and Region come from the ARN); returns the ARN."""
        found = _RUNTIME_ARN_RE.fullmatch(runtime_arn)
        if found is None:
            raise ValueError(f"not an AgentCore Runtime ARN: {runtime_arn}")
        with self._lock:
            self._runtimes[runtime_arn] = _Agent(runtime_arn, found["account"], found["region"], script)
        return runtime_arn

    def calls_to(self, agent: str) -> list[AgentCall]:
        """Calls to one agent: ``"<agent_id>/<alias_id>"`` or a runtime ARN."""
        with self._lock:
            return [call for call in self.calls if call.agent == agent]

    # -- serving ----------------------------------------------------------------------------------------

    def serve(self, model: Any, params: Mapping[str, Any], signer: Any, context: Mapping[str, Any]) -> Any:
        """Answer a call to a scripted agent or model; ``None`` for any other operation (botocore sends it on)."""
        service = model.service_model.service_name
        operation = model.name
        handlers = {
            ("bedrock-agent-runtime", "InvokeAgent"): self._invoke_agent,
            ("bedrock-agent-runtime", "DeleteAgentMemory"): self._delete_agent_memory,
            ("bedrock-agent-runtime", "GetAgentMemory"): self._get_agent_memory,
            ("bedrock-agentcore", "InvokeAgentRuntime"): self._invoke_runtime,
            ("bedrock-runtime", "InvokeModel"): self._invoke_model,
            ("bedrock-runtime", "Converse"): self._converse,
        }
        serve = handlers.get((service, operation))
        if serve is None:
            return None
        region = context.get("client_region") or self.aws.region
        try:
            problems = validate_request(model.input_shape, params, path_style=".")
            if problems:
                raise ServiceError("ValidationException", validation_message(problems, separator=": "))
            caller = self._caller(signer, region)
            self.aws.iam.authorize(service, operation, params, caller.access_key_id, region)
            return serve(model, params, caller, region)
        except ServiceError as error:
            return build_response(model, error)

    def _caller(self, signer: Any, region: str) -> Caller:
        credentials = getattr(signer, "_credentials", None)
        key = credentials.get_frozen_credentials().access_key if credentials is not None else None
        session = self.aws.iam.session_for(key) if key else None
        if session is None:
            return Caller(account_id=self.aws.account_id, region=region, access_key_id=key)
        found = _ROLE_ACCOUNT_RE.match(session.role_arn)
        return Caller(
            account_id=found.group(1) if found else self.aws.account_id,
            region=region,
            access_key_id=key,
            role_arn=session.role_arn,
            role_session_name=session.role_session_name,
            source_identity=session.source_identity,
            external_id=session.external_id,
            tags=MappingProxyType(dict(session.tags)),
        )

    def _record(self, call: AgentCall) -> None:
        with self._lock:
            self.calls.append(call)

    def _invoke_agent(self, model: Any, params: Mapping[str, Any], caller: Caller, region: str) -> Any:
        agent = self._bedrock.get((params["agentId"], params["agentAliasId"]))
        if agent is not None and (agent.account_id, agent.region) != (caller.account_id, region):
            agent = None  # another account's or Region's agent is invisible to this caller
        key = f"{params['agentId']}/{params['agentAliasId']}"
        prompt = params.get("inputText") or ""
        state = params.get("sessionState") or {}
        attributes = MappingProxyType(dict(state.get("sessionAttributes") or {}))
        if agent is None:
            self._record(AgentCall("bedrock-agent-runtime", key, params, prompt, attributes, caller, error="NotFound"))
            raise ServiceError(
                "ResourceNotFoundException",
                f"Failed to retrieve resource because it doesn't exist. Retry the request with a different "
                f"resource identifier. (agent {key} in account {caller.account_id}, {region})",
            )
        if params.get("endSession"):
            # Ending a session answers no text; Bedrock Agents then summarizes it asynchronously (minutes later):
            # complete_session_summaries() plays that part.
            self._record(AgentCall("bedrock-agent-runtime", key, params, prompt, attributes, caller, reply=""))
            with self._lock:
                self.ended_sessions.append((key, params.get("memoryId"), params["sessionId"]))
            return _stream_response(model, b"", params)
        events: list[Mapping[str, Any]]
        try:
            reply = agent.script(prompt, attributes, caller)
        except AgentFailure as failure:
            failed = AgentCall("bedrock-agent-runtime", key, params, prompt, attributes, caller, error=failure.code)
            self._record(failed)
            if not failure.mid_stream:
                raise ServiceError(failure.code, failure.message) from None
            events = [{"chunk": {"bytes": part}} for part in _chunks(failure.partial)]
            body = b"".join(_encode_event(event) for event in events) + _encode_exception(failure)
            return _stream_response(model, body, params)
        if isinstance(reply, str):
            trace = {
                "agentId": params["agentId"], "agentAliasId": params["agentAliasId"], "sessionId": params["sessionId"],
                "agentVersion": "1", "trace": {"orchestrationTrace": {"rationale": {"traceId": "t-1", "text": "..."}}},
            }
            events = [{"trace": trace}, *({"chunk": {"bytes": part}} for part in _chunks(reply))]
            text = reply
        else:
            events = list(reply)
            text = "".join(e["chunk"]["bytes"] for e in events if "chunk" in e and isinstance(e["chunk"]["bytes"], str))
        self._record(AgentCall("bedrock-agent-runtime", key, params, prompt, attributes, caller, reply=text))
        if params.get("memoryId"):
            with self._lock:
                self.agent_memories.add((key, params["memoryId"]))
                self._session_prompts.setdefault((key, params["memoryId"], params["sessionId"]), []).append(prompt)
        return _stream_response(model, b"".join(_encode_event(event) for event in events), params)

    def complete_session_summaries(self) -> int:
        """Play Bedrock Agents' asynchronous summarization: every ended session with a memoryId gets its
        SESSION_SUMMARY (one line per user prompt); returns how many were written."""
        written = 0
        with self._lock:
            for key, memory_id, session_id in self.ended_sessions:
                prompts = self._session_prompts.pop((key, memory_id or "", session_id), None)
                if not memory_id or not prompts or (key, memory_id) not in self.agent_memories:
                    continue
                summary = {
                    "memoryId": memory_id,
                    "sessionId": session_id,
                    "sessionStartTime": _dt.datetime.now(_dt.UTC),
                    "sessionExpiryTime": _dt.datetime.now(_dt.UTC) + _dt.timedelta(days=30),
                    "summaryText": " ".join(f"The user said: {p}" for p in prompts),
                }
                self.session_summaries.setdefault((key, memory_id), []).append(summary)
                written += 1
            self.ended_sessions = []
        return written

    def _get_agent_memory(self, model: Any, params: Mapping[str, Any], caller: Caller, region: str) -> Any:
        agent = self._bedrock.get((params["agentId"], params["agentAliasId"]))
        if agent is None or (agent.account_id, agent.region) != (caller.account_id, region):
            raise ServiceError("ResourceNotFoundException", "Failed to retrieve resource because it doesn't exist.")
        key = f"{params['agentId']}/{params['agentAliasId']}"
        with self._lock:
            summaries = list(self.session_summaries.get((key, params["memoryId"]), ()))
        start = int(params.get("nextToken") or 0)
        size = params.get("maxItems") or 1000
        page = summaries[start : start + size]
        answer: dict[str, Any] = {"memoryContents": [{"sessionSummary": dict(s)} for s in page]}
        if start + size < len(summaries):
            answer["nextToken"] = str(start + size)
        return build_response(model, to_wire(answer))

    def _delete_agent_memory(self, model: Any, params: Mapping[str, Any], caller: Caller, region: str) -> Any:
        agent = self._bedrock.get((params["agentId"], params["agentAliasId"]))
        if agent is None or (agent.account_id, agent.region) != (caller.account_id, region):
            raise ServiceError("ResourceNotFoundException", "Failed to retrieve resource because it doesn't exist.")
        key = f"{params['agentId']}/{params['agentAliasId']}"
        with self._lock:
            if params.get("memoryId") and params.get("sessionId"):  # one session's summary of that memory
                kept = [s for s in self.session_summaries.get((key, params["memoryId"]), [])
                        if s["sessionId"] != params["sessionId"]]
                self.session_summaries[(key, params["memoryId"])] = kept
            elif params.get("memoryId"):
                self.agent_memories.discard((key, params["memoryId"]))
                self.session_summaries.pop((key, params["memoryId"]), None)
            else:  # without a memoryId, Bedrock Agents deletes the alias's whole memory
                self.agent_memories = {entry for entry in self.agent_memories if entry[0] != key}
                self.session_summaries = {k: v for k, v in self.session_summaries.items() if k[0] != key}
        return build_response(model, {})

    def _invoke_runtime(self, model: Any, params: Mapping[str, Any], caller: Caller, region: str) -> Any:
        arn = params["agentRuntimeArn"]
        agent = self._runtimes.get(arn)
        raw = params.get("payload") or b""
        raw = raw.encode() if isinstance(raw, str) else bytes(raw if not hasattr(raw, "read") else raw.read())
        try:
            payload = json.loads(raw)
        except ValueError:
            payload = {}
        attributes = MappingProxyType(payload if isinstance(payload, dict) else {})
        prompt = str(attributes.get("prompt", ""))
        if agent is None or agent.region != region:
            self._record(AgentCall("bedrock-agentcore", arn, params, prompt, attributes, caller, error="NotFound"))
            raise ServiceError("ResourceNotFoundException", f"No agent runtime {arn} in {region}")
        if agent.account_id != caller.account_id:
            self._record(AgentCall("bedrock-agentcore", arn, params, prompt, attributes, caller, error="AccessDenied"))
            raise ServiceError(
                "AccessDeniedException",
                f"account {caller.account_id} is not authorized to perform: "
                f"bedrock-agentcore:InvokeAgentRuntime on {arn}",
            )
        try:
            reply = agent.script(prompt, attributes, caller)
        except AgentFailure as failure:
            self._record(AgentCall("bedrock-agentcore", arn, params, prompt, attributes, caller, error=failure.code))
            raise ServiceError(failure.code, failure.message) from None
        if isinstance(reply, ServerSentEvents):
            body = b"".join(b"data: " + json.dumps(part).encode() + b"\n\n" for part in reply.parts)
            content_type = "text/event-stream"
            text = "".join(part if isinstance(part, str) else json.dumps(part) for part in reply.parts)
        else:
            document = {"response": reply} if isinstance(reply, str) else reply
            body = json.dumps(document).encode()
            content_type = "application/json"
            text = reply if isinstance(reply, str) else json.dumps(reply)
        self._record(AgentCall("bedrock-agentcore", arn, params, prompt, attributes, caller, reply=text))
        headers = {
            "content-type": content_type,
            "x-amzn-bedrock-agentcore-runtime-session-id": params.get("runtimeSessionId", ""),
        }
        return _streaming_blob_response(model, body, headers)

    def _invoke_model(self, model: Any, params: Mapping[str, Any], caller: Caller, region: str) -> Any:
        model_id = params["modelId"]
        try:
            request = json.loads(params.get("body") or b"{}")
        except ValueError:
            raise ServiceError("ValidationException", "Malformed input request: body is not JSON") from None
        with self._lock:
            self.embedding_calls.append(MappingProxyType({"modelId": model_id, **request}))
        if "titan-embed-text-v2" in model_id:
            text, dimension = request.get("inputText"), request.get("dimensions", 1024)
            if not isinstance(text, str) or not text or dimension not in (256, 512, 1024):
                raise ServiceError("ValidationException", "Malformed input request: inputText / dimensions")
            vector = LocalHashEmbedder(dimension).embed_one(text)
            document = {"embedding": vector, "inputTextTokenCount": len(text.split())}
        elif "nova" in model_id:
            single = request.get("singleEmbeddingParams") or {}
            text = (single.get("text") or {}).get("value")
            dimension = single.get("embeddingDimension", 3072)
            if not isinstance(text, str) or not text:
                raise ServiceError("ValidationException", "Malformed input request: text.value")
            vector = LocalHashEmbedder(dimension).embed_one(text)
            document = {"embeddings": [{"embeddingType": "TEXT", "embedding": vector}]}
        else:
            raise ServiceError("ValidationException", f"The provided model identifier is invalid: {model_id}")
        return _streaming_blob_response(model, json.dumps(document).encode(), {"content-type": "application/json"})

    def _converse(self, model: Any, params: Mapping[str, Any], caller: Caller, region: str) -> Any:
        with self._lock:
            self.converse_calls.append(params)
        if self.converse_failure:
            raise ServiceError(self.converse_failure, "scripted Converse failure")
        prompt = "".join(
            block.get("text", "") for message in params.get("messages", []) for block in message.get("content", [])
        )
        text = self.judge(prompt) if "<new>" in prompt else self.summary(prompt)
        answer = {
            "output": {"message": {"role": "assistant", "content": [{"text": text}]}},
            "stopReason": "end_turn",
            "usage": {"inputTokens": len(prompt.split()), "outputTokens": len(text.split()),
                      "totalTokens": len(prompt.split()) + len(text.split())},
            "metrics": {"latencyMs": 1},
        }
        return build_response(model, answer)


def default_summary(transcript_prompt: str) -> str:
    """A deterministic stand-in for the summary model: one line per user turn of the transcript."""
    turns = re.findall(r'<turn role="user">(.*?)</turn>', transcript_prompt, flags=re.DOTALL)
    if not turns:
        return "NONE"
    return "\n".join(f"The user said: {html.unescape(turn).strip()}" for turn in turns)


_CHANGE_MARKERS = frozenset({"now", "no", "quit", "anymore", "instead", "switched", "moved", "changed", "stopped"})


def default_judge(prompt: str) -> str:
    """A deterministic stand-in for the consolidation judge: the new memory replaces an earlier one when it
    signals a change ("now", "quit", "no longer", ...) and both start with the same subject word."""
    new = re.search(r"<new>(.*?)</new>", prompt, flags=re.DOTALL)
    words = re.findall(r"\w+", html.unescape(new.group(1)).casefold()) if new else []
    replaced = []
    if words and _CHANGE_MARKERS & set(words):
        for number, text in re.findall(r'<earlier n="(\d+)">(.*?)</earlier>', prompt, flags=re.DOTALL):
            earlier = re.findall(r"\w+", html.unescape(text).casefold())
            if earlier and earlier[0] == words[0]:
                replaced.append(int(number))
    return json.dumps({"replaced": replaced})


# -- wire encoding ---------------------------------------------------------------------------------------------


def _chunks(text: str) -> list[str]:
    return [text[i : i + CHUNK_CHARS] for i in range(0, len(text), CHUNK_CHARS)]


def _header(name: str, value: str) -> bytes:
    name_bytes, value_bytes = name.encode(), value.encode()
    # Header value type 7 is a UTF-8 string with a 2-byte length.
    return struct.pack(">B", len(name_bytes)) + name_bytes + b"\x07" + struct.pack(">H", len(value_bytes)) + value_bytes


def _message(headers: Sequence[tuple[str, str]], payload: bytes) -> bytes:
    """One event-stream message: prelude (lengths + CRC32), headers, payload, message CRC32."""
    encoded_headers = b"".join(_header(name, value) for name, value in headers)
    total = 12 + len(encoded_headers) + len(payload) + 4
    prelude = struct.pack(">II", total, len(encoded_headers))
    prelude += struct.pack(">I", binascii.crc32(prelude) & 0xFFFFFFFF)
    message = prelude + encoded_headers + payload
    return message + struct.pack(">I", binascii.crc32(message) & 0xFFFFFFFF)


def _wire_event(value: Any) -> Any:
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    if isinstance(value, Mapping):
        return {k: _wire_event(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_wire_event(v) for v in value]
    return value


def _encode_event(event: Mapping[str, Any]) -> bytes:
    ((event_type, body),) = event.items()
    if event_type == "chunk" and isinstance(body.get("bytes"), str):
        body = {**body, "bytes": body["bytes"].encode()}
    payload = json.dumps(_wire_event(body)).encode()
    headers = [(":event-type", event_type), (":content-type", "application/json"), (":message-type", "event")]
    return _message(headers, payload)


def _encode_exception(failure: AgentFailure) -> bytes:
    headers = [(":exception-type", failure.code), (":content-type", "application/json"), (":message-type", "exception")]
    return _message(headers, json.dumps({"message": failure.message}).encode())


def _stream_response(model: Any, body: bytes, params: Mapping[str, Any]) -> tuple[AWSResponse, dict[str, Any]]:
    headers = {
        "content-type": "application/vnd.amazon.eventstream",
        "x-amzn-bedrock-agent-content-type": "application/json",
        "x-amz-bedrock-agent-session-id": params["sessionId"],
    }
    if params.get("memoryId"):
        headers["x-amz-bedrock-agent-memory-id"] = params["memoryId"]
    http = AWSResponse("", 200, headers, _RawBody(body))
    response = {
        "status_code": 200, "headers": http.headers, "body": http.raw, "context": {"operation_name": model.name}
    }
    parsed = create_parser("rest-json").parse(response, model.output_shape)
    parsed.setdefault("ResponseMetadata", {})["RetryAttempts"] = 0
    return http, parsed


def _streaming_blob_response(
    model: Any, body: bytes, headers: Mapping[str, str]
) -> tuple[AWSResponse, dict[str, Any]]:
    headers = {**headers, "content-length": str(len(body))}
    http = AWSResponse("", 200, headers, _RawBody(body))
    response = {
        "status_code": 200,
        "headers": http.headers,
        "body": StreamingBody(http.raw, len(body)),
        "context": {"operation_name": model.name},
    }
    parsed = create_parser("rest-json").parse(response, model.output_shape)
    parsed.setdefault("ResponseMetadata", {})["RetryAttempts"] = 0
    return http, parsed


# -- the botocore seam -----------------------------------------------------------------------------------------


class _Dispatcher:
    """The botocore handlers; inert unless ``scripted_agents`` is active."""

    def __init__(self) -> None:
        self.active: ScriptedAgents | None = None

    def stash_params(self, params: Any, context: dict[str, Any], **_: Any) -> None:
        if self.active is not None:
            context[_PARAMS_KEY] = params

    def before_call(self, model: Any, params: Any, request_signer: Any, context: Any, **_: Any) -> Any:
        agents = self.active
        if agents is None:
            return None
        return agents.serve(model, context.get(_PARAMS_KEY) or {}, request_signer, context)


_DISPATCHER = _Dispatcher()
# Operation-specific 'before-call' events fire before the service-wide handlers of runtime.testing.aws, so the
# AgentCore Runtime call is answered here and never reaches the memory fake or moto.
_HANDLERS = [
    *((f"before-parameter-build.{service}", _DISPATCHER.stash_params) for service in _SERVICES),
    ("before-call.bedrock-agent-runtime.InvokeAgent", _DISPATCHER.before_call),
    ("before-call.bedrock-agent-runtime.DeleteAgentMemory", _DISPATCHER.before_call),
    ("before-call.bedrock-agent-runtime.GetAgentMemory", _DISPATCHER.before_call),
    ("before-call.bedrock-agentcore.InvokeAgentRuntime", _DISPATCHER.before_call),
    ("before-call.bedrock-runtime.InvokeModel", _DISPATCHER.before_call),
    ("before-call.bedrock-runtime.Converse", _DISPATCHER.before_call),
]
for _event_name, _handler in _HANDLERS:
    if (_event_name, _handler) not in BUILTIN_HANDLERS:
        BUILTIN_HANDLERS.append((_event_name, _handler))


def _attach_default_session() -> None:
    # boto3's default session may predate this module; clients it creates later copy its handlers.
    session = boto3.DEFAULT_SESSION
    if session is not None:
        events = session._session.get_component("event_emitter")
        for event_name, handler in _HANDLERS:
            events.register(event_name, handler, unique_id=f"runtime.testing.agents:{event_name}")


@contextmanager
def scripted_agents(aws: EmulatedAws) -> Iterator[ScriptedAgents]:
    """Answer Bedrock agent and model calls with scripts while the emulation ``aws`` is active. Not re-entrant."""
    if _DISPATCHER.active is not None:
        raise RuntimeError("scripted_agents() is already active")
    agents = ScriptedAgents(aws)
    _attach_default_session()
    _DISPATCHER.active = agents
    try:
        yield agents
    finally:
        _DISPATCHER.active = None
