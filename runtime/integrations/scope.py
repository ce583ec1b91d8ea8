"""Per-request memory scope (tenant, actor, session, agent) as carried in a Strands ``invocation_state``.

The scope lives only in the request: callers put it in the ``invocation_state`` of each agent call
(``agent(prompt, invocation_state=memory_request(...))``) and the integration reads it back from
there. Strands-free, so service code can build requests without importing an agent framework.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from runtime.errors import InvalidInputError
from runtime.identity import Identity, validate_agent_name, validate_session_id

#: ``invocation_state`` key holding the request's :class:`MemoryScope` (or a mapping of its fields).
MEMORY_IDENTITY_KEY = "memory_identity"
#: ``invocation_state`` key that, when true, hands the session to the summarizer after this request.
END_SESSION_KEY = "memory_end_session"
#: ``invocation_state`` key holding the session's recent messages handed over by the orchestrator
#: (``[{"role", "agent", "text", "at"}]``, oldest first); the plugin injects them as the session block.
RECENT_TURNS_KEY = "memory_recent_turns"

_SCOPE_FIELDS = ("tenant_id", "actor_id", "session_id", "agent")


@dataclass(frozen=True)
class MemoryScope:
    """Whose memory one request reads and writes: the identity, the session and the agent."""

    identity: Identity
    session_id: str
    agent: str

    def __post_init__(self) -> None:
        if not isinstance(self.identity, Identity):
            raise InvalidInputError(
                "identity", f"<{type(self.identity).__name__}>", "must be a runtime.identity.Identity"
            )
        validate_session_id(self.session_id)
        validate_agent_name(self.agent)

    @property
    def tenant_id(self) -> str:
        """The request's tenant."""
        return self.identity.tenant_id

    @property
    def actor_id(self) -> str:
        """The request's actor (user)."""
        return self.identity.actor_id


def memory_request(
    identity: Identity,
    session_id: str,
    *,
    agent: str | None = None,
    end_session: bool = False,
    recent_turns: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """A fresh ``invocation_state`` for one agent call on behalf of ``identity`` in ``session_id``.

    ``agent`` defaults to the name the integration was configured with. Build a new dict per call:
    Strands adds its own per-invocation keys to the one it is given.
    """
    if not isinstance(identity, Identity):
        raise InvalidInputError("identity", f"<{type(identity).__name__}>", "must be a runtime.identity.Identity")
    fields: dict[str, str] = {
        "tenant_id": identity.tenant_id,
        "actor_id": identity.actor_id,
        "session_id": validate_session_id(session_id),
    }
    if agent is not None:
        fields["agent"] = validate_agent_name(agent)
    state: dict[str, Any] = {MEMORY_IDENTITY_KEY: fields}
    if end_session:
        state[END_SESSION_KEY] = True
    if recent_turns is not None:
        state[RECENT_TURNS_KEY] = recent_turns_from(recent_turns)
    return state


def recent_turns_from(value: Any, *, field: str = RECENT_TURNS_KEY) -> list[dict[str, Any]]:
    """Validate a list of recent messages (``{"role": "user"|"assistant", "agent", "text"}``); keep those fields."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise InvalidInputError(field, f"<{type(value).__name__}>", "must be a list of {role, agent, text} objects")
    out: list[dict[str, Any]] = []
    for index, entry in enumerate(value):
        if not isinstance(entry, Mapping):
            raise InvalidInputError(f"{field}[{index}]", f"<{type(entry).__name__}>", "must be an object")
        role, text, agent = entry.get("role"), entry.get("text"), entry.get("agent")
        if role not in ("user", "assistant"):
            raise InvalidInputError(f"{field}[{index}].role", role, "must be 'user' or 'assistant'")
        if not isinstance(text, str):
            raise InvalidInputError(f"{field}[{index}].text", f"<{type(text).__name__}>", "must be a string")
        if agent is not None:
            validate_agent_name(agent, field=f"{field}[{index}].agent")
        out.append({"role": role, "agent": agent, "text": text, **({"at": entry["at"]} if "at" in entry else {})})
    return out


def scope_from_invocation_state(
    invocation_state: Mapping[str, Any] | None, *, default_agent: str, key: str = MEMORY_IDENTITY_KEY
) -> MemoryScope:
    """Read and validate the request's scope; a missing or malformed one raises ``InvalidInputError``."""
    field = f"invocation_state[{key!r}]"
    raw = None if invocation_state is None else invocation_state.get(key)
    if raw is None:
        raise InvalidInputError(
            field, None,
            "is required: pass invocation_state=memory_request(identity, session_id) so memory is scoped "
            "to the request's tenant and actor",
        )
    if isinstance(raw, MemoryScope):
        return raw
    if not isinstance(raw, Mapping):
        raise InvalidInputError(field, f"<{type(raw).__name__}>", "must be a MemoryScope or a mapping of its fields")
    unknown = sorted(set(raw) - set(_SCOPE_FIELDS))
    if unknown:
        raise InvalidInputError(field, unknown, f"has unknown field(s); allowed: {list(_SCOPE_FIELDS)}")
    missing = [name for name in _SCOPE_FIELDS[:3] if raw.get(name) is None]
    if missing:
        raise InvalidInputError(field, sorted(raw), f"is missing {missing}; required: {list(_SCOPE_FIELDS[:3])}")
    identity = Identity(tenant_id=raw["tenant_id"], actor_id=raw["actor_id"])
    return MemoryScope(identity=identity, session_id=raw["session_id"], agent=raw.get("agent") or default_agent)


def end_session_requested(invocation_state: Mapping[str, Any] | None) -> bool:
    """True when the request asks for its session to be summarized once it completes."""
    flag = None if invocation_state is None else invocation_state.get(END_SESSION_KEY)
    if flag is None or flag is False:
        return False
    if flag is True:
        return True
    raise InvalidInputError(f"invocation_state[{END_SESSION_KEY!r}]", flag, "must be True or False")
