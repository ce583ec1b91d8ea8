"""A real ``strands.models.Model`` that answers from a script and records every request it receives.

Tests drive a real ``strands.Agent`` with it: the agent's event loop, hooks, middleware (memory
injection) and tool execution all run for real; only the LLM is replaced. Each call to
:meth:`ScriptedModel.stream` yields the same ``StreamEvent`` dicts a Bedrock Converse stream does.
"""

from __future__ import annotations

import copy
import itertools
import json
import threading
from collections.abc import AsyncGenerator, AsyncIterable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from strands.models.model import Model
from strands.types.content import Messages
from strands.types.streaming import StreamEvent

T = TypeVar("T")


@dataclass(frozen=True)
class ToolCall:
    """A scripted ``toolUse`` block."""

    name: str
    input: dict[str, Any]


#: One scripted assistant turn: text, a tool call, or several blocks in order.
Reply = str | ToolCall | Sequence["str | ToolCall"]


@dataclass(frozen=True)
class ModelRequest:
    """A deep copy of what one model call received."""

    messages: Messages
    system_prompt: str | None
    tool_names: tuple[str, ...]
    invocation_state_keys: tuple[str, ...] = field(default=())

    @property
    def last_user_texts(self) -> list[str]:
        """Text blocks of the last user message, in order (the injected memory block is the last one)."""
        for message in reversed(self.messages):
            if message["role"] == "user":
                return [block["text"] for block in message["content"] if "text" in block]
        return []

    @property
    def has_tool_result(self) -> bool:
        """True when the last message carries a tool result (the model is being called after a tool ran)."""
        return bool(self.messages) and any("toolResult" in block for block in self.messages[-1]["content"])


class ScriptedModel(Model):
    """Answers each call from ``script``: a callable of the request, a list of replies, or one fixed reply."""

    def __init__(self, script: Callable[[ModelRequest], Reply] | list[Reply] | str = "ok") -> None:
        self._script = script
        self._queue = list(script) if isinstance(script, list) else None
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self.requests: list[ModelRequest] = []
        self.config: dict[str, Any] = {"model_id": "scripted"}

    def update_config(self, **model_config: Any) -> None:
        self.config.update(model_config)

    def get_config(self) -> dict[str, Any]:
        return dict(self.config)

    async def stream(
        self,
        messages: Messages,
        tool_specs: list[Any] | None = None,
        system_prompt: str | None = None,
        *,
        invocation_state: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> AsyncIterable[StreamEvent]:
        request = ModelRequest(
            messages=copy.deepcopy(messages),
            system_prompt=system_prompt,
            tool_names=tuple(spec["name"] for spec in tool_specs or ()),
            invocation_state_keys=tuple(sorted(invocation_state or ())),
        )
        with self._lock:
            self.requests.append(request)
            reply = self._next_reply(request)
        for event in self._events(reply):
            yield event

    async def structured_output(
        self, output_model: type[T], prompt: Messages, system_prompt: str | None = None, **kwargs: Any
    ) -> AsyncGenerator[dict[str, T | Any], None]:
        request = ModelRequest(messages=copy.deepcopy(prompt), system_prompt=system_prompt, tool_names=())
        with self._lock:
            self.requests.append(request)
            reply = self._next_reply(request)
        if not isinstance(reply, str):
            raise AssertionError("structured_output needs a JSON text reply")
        yield {"output": output_model(**json.loads(reply))}

    def _next_reply(self, request: ModelRequest) -> Reply:
        if self._queue is not None:
            if not self._queue:
                raise AssertionError(f"the script has no reply left for call {len(self.requests)}")
            return self._queue.pop(0)
        if isinstance(self._script, str):
            return self._script
        assert callable(self._script)  # a list of replies is served from the queue above
        return self._script(request)

    def _events(self, reply: Reply) -> list[StreamEvent]:
        blocks = [reply] if isinstance(reply, (str, ToolCall)) else list(reply)
        events: list[StreamEvent] = [{"messageStart": {"role": "assistant"}}]
        uses_tool = False
        for index, block in enumerate(blocks):
            if isinstance(block, ToolCall):
                uses_tool = True
                tool_use_id = f"tooluse_{next(self._ids)}"
                events.append(
                    {"contentBlockStart": {"contentBlockIndex": index,
                                           "start": {"toolUse": {"toolUseId": tool_use_id, "name": block.name}}}}
                )
                events.append(
                    {"contentBlockDelta": {"contentBlockIndex": index,
                                           "delta": {"toolUse": {"input": json.dumps(block.input)}}}}
                )
            else:
                events.append({"contentBlockDelta": {"contentBlockIndex": index, "delta": {"text": block}}})
            events.append({"contentBlockStop": {"contentBlockIndex": index}})
        events.append({"messageStop": {"stopReason": "tool_use" if uses_tool else "end_turn"}})
        events.append(
            {"metadata": {"usage": {"inputTokens": 1, "outputTokens": 1, "totalTokens": 2},
                          "metrics": {"latencyMs": 0}}}
        )
        return events
