r"""Who a request acts for: tenant and actor ids, validated once to fit every AWS name they reach.

Each id ends up in several AWS places at once, so each rule below is the intersection of:

- S3 Vectors index names: 3-63 chars of ``[a-z0-9.-]``, starting and ending with a letter or digit
  (each user's index is ``<index_prefix><tenant_id>.<user>``);
- AgentCore Memory ``actorId`` (``[a-zA-Z0-9][a-zA-Z0-9-_/]*(?::[a-zA-Z0-9-_/]+)*...``, <= 255) and
  ``sessionId`` (``[a-zA-Z0-9][a-zA-Z0-9-_]*``, <= 100) of ``CreateEvent``;
- Bedrock Agents ``InvokeAgent`` ``sessionId`` (``[0-9a-zA-Z._:-]+``, 2-100);
- STS session tag values (<= 256, ``[\p{L}\p{Z}\p{N}_.:/=+\-@]``), role session names and source
  identities (2-64, ``[\w+=,.@-]``).

None of the rules admits an IAM or namespace wildcard (``*``, ``?``, ``$``, ``{``, ``}``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, overload

from runtime.contract import memory, rules
from runtime.contract.rules import Rule
from runtime.errors import InvalidInputError

TENANT_ID_MIN = rules.TENANT_ID.min_len
TENANT_ID_MAX = rules.TENANT_ID.max_len
INDEX_NAME_MAX = memory.INDEX_NAME_MAX
ACTOR_ID_MAX = rules.ACTOR_ID.max_len
SESSION_ID_MIN = rules.SESSION_ID.min_len
SESSION_ID_MAX = rules.SESSION_ID.max_len
AGENT_NAME_MAX = rules.AGENT_NAME.max_len

_DERIVED_ACTOR_LENGTH = 64


def _check(rule: Rule, value: Any, field: str) -> str:
    if not isinstance(value, str):
        raise InvalidInputError(field, value, f"must be a string of {rule.sentence}")
    if not rule.matches(value):
        raise InvalidInputError(field, value, f"must be {rule.sentence}")
    return value


@dataclass(frozen=True)
class Identity:
    """The tenant and actor a request acts for; construction validates both."""

    tenant_id: str
    actor_id: str

    def __post_init__(self) -> None:
        validate_tenant_id(self.tenant_id)
        validate_actor_id(self.actor_id)

    @property
    def agentcore_actor_id(self) -> str:
        """AgentCore Memory actor id ``<tenant>:<actor>``, so IAM conditions can scope by tenant (and user)."""
        return memory.agentcore_actor_id(self.tenant_id, self.actor_id)


def _require_str(value: Any, field: str, rule: str) -> str:
    if not isinstance(value, str):
        raise InvalidInputError(field, value, f"must be a string of {rule}")
    return value


def validate_index_prefix(value: Any, *, field: str = "index_prefix") -> str:
    """Check an S3 Vectors index-name prefix (it starts every index name of the mesh)."""
    return _check(rules.INDEX_PREFIX, value, field)


def validate_tenant_id(value: Any, *, index_prefix: str = "", field: str = "tenant_id") -> str:
    """Return ``value`` if it is a valid tenant id, whose index names ``<prefix><tenant>.<user>`` fit S3 Vectors."""
    _check(rules.TENANT_ID, value, field)
    if index_prefix:
        validate_index_prefix(index_prefix)
        problem = memory.index_name_problem(index_prefix, value)
        if problem is not None:
            raise InvalidInputError(field, value, problem)
    return value


def validate_actor_id(value: Any, *, field: str = "actor_id") -> str:
    """Return ``value`` if it is a valid actor id (a derived hash, or an id chosen by trusted service code)."""
    return _check(rules.ACTOR_ID, value, field)


def validate_session_id(value: Any, *, field: str = "session_id") -> str:
    """Return ``value`` if it is valid as both an AgentCore Memory and a Bedrock Agents session id."""
    return _check(rules.SESSION_ID, value, field)


def validate_agent_name(value: Any, *, field: str = "agent") -> str:
    """Return ``value`` if it is a valid agent name (also a valid Bedrock agent name)."""
    return _check(rules.AGENT_NAME, value, field)


def is_derived_actor_id(value: str) -> bool:
    """True when ``value`` has the shape of :func:`actor_id_from_claims` output."""
    return len(value) == _DERIVED_ACTOR_LENGTH and all(c in "0123456789abcdef" for c in value)


def _claim(claims: Mapping[str, Any], name: str) -> str:
    field = f"claims.{name}"
    if name not in claims or claims[name] is None:
        raise InvalidInputError(field, None, "claim is missing from the verified token")
    value = claims[name]
    if not isinstance(value, str) or not value.strip():
        # The raw claim value may be PII: name its type only.
        raise InvalidInputError(field, f"<{type(value).__name__}>", "must be a non-empty string")
    return value


def actor_id_from_claims(claims: Mapping[str, Any]) -> str:
    """Derive the actor id: hex SHA-256 of ``iss`` + NUL + ``sub`` (no PII, stable across renames)."""
    if not isinstance(claims, Mapping):
        raise InvalidInputError("claims", f"<{type(claims).__name__}>", "must be a mapping of JWT claims")
    issuer = _claim(claims, "iss")
    subject = _claim(claims, "sub")
    return hashlib.sha256(f"{issuer}\x00{subject}".encode()).hexdigest()


def identity_from_claims(
    claims: Mapping[str, Any], *, tenant_claim: str, index_prefix: str = ""
) -> Identity:
    """Build the identity from verified JWT claims: tenant from ``tenant_claim``, actor derived from iss+sub."""
    if not isinstance(tenant_claim, str) or not tenant_claim:
        raise InvalidInputError("tenant_claim", tenant_claim, "must be a non-empty claim name")
    if not isinstance(claims, Mapping):
        raise InvalidInputError("claims", f"<{type(claims).__name__}>", "must be a mapping of JWT claims")
    tenant = _claim(claims, tenant_claim)
    tenant_id = validate_tenant_id(tenant, index_prefix=index_prefix, field=f"claims.{tenant_claim}")
    return Identity(tenant_id=tenant_id, actor_id=actor_id_from_claims(claims))


def trusted_identity(tenant_id: Any, actor_id: Any, *, index_prefix: str = "") -> Identity:
    """Build the identity from ids supplied by trusted service code (never from an end user's request body)."""
    validate_tenant_id(tenant_id, index_prefix=index_prefix)
    return Identity(tenant_id=tenant_id, actor_id=actor_id)


@overload
def log_ref(value: str) -> str: ...


@overload
def log_ref(value: None) -> None: ...


@overload
def log_ref(value: str | None) -> str | None: ...


def log_ref(value: str | None) -> str | None:
    """A short, stable reference for an actor or session id in logs: never the id itself (it may be personal)."""
    if value is None:
        return None
    return hashlib.sha256(value.encode("utf-8", errors="replace")).hexdigest()[:12]
