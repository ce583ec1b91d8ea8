"""Who a request acts for: tenant and actor ids, validated once to fit every AWS name they reach.

Each id ends up in several AWS places at once, so each rule below is the intersection of:

- S3 Vectors index names: 3-63 chars of ``[a-z0-9.-]``, starting and ending with a letter or digit
  (the index is ``<index_prefix><tenant_id>``);
- AgentCore Memory ``actorId`` (``[a-zA-Z0-9][a-zA-Z0-9-_/]*(?::[a-zA-Z0-9-_/]+)*...``, <= 255) and
  ``sessionId`` (``[a-zA-Z0-9][a-zA-Z0-9-_]*``, <= 100) of ``CreateEvent``;
- Bedrock Agents ``InvokeAgent`` ``sessionId`` (``[0-9a-zA-Z._:-]+``, 2-100);
- STS session tag values (<= 256, ``[\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]``), role session names and source
  identities (2-64, ``[\\w+=,.@-]``).

None of the rules admits an IAM or namespace wildcard (``*``, ``?``, ``$``, ``{``, ``}``).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from runtime.errors import InvalidInputError

TENANT_ID_MIN = 3
TENANT_ID_MAX = 40
INDEX_NAME_MAX = 63
ACTOR_ID_MAX = 64
SESSION_ID_MIN = 2
SESSION_ID_MAX = 100
AGENT_NAME_MAX = 64

_TENANT_RE = re.compile(r"[a-z0-9](?:[a-z0-9-]*[a-z0-9])?")
_INDEX_PREFIX_RE = re.compile(r"[a-z0-9][a-z0-9.-]*")
_ACTOR_RE = re.compile(r"[a-z0-9][a-z0-9_-]*")
_DERIVED_ACTOR_RE = re.compile(r"[0-9a-f]{64}")
# AgentCore allows '_' but not '.' or ':'; InvokeAgent allows '.' and ':' but not '_'.
_SESSION_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]*")
_AGENT_RE = re.compile(r"[A-Za-z0-9]+(?:[_-][A-Za-z0-9]+)*")

_TENANT_RULE = (
    f"{TENANT_ID_MIN}-{TENANT_ID_MAX} characters of lowercase letters, digits and '-', "
    "starting and ending with a letter or digit"
)
_ACTOR_RULE = (
    f"1-{ACTOR_ID_MAX} characters of lowercase letters, digits, '-' and '_', "
    "starting with a letter or digit"
)
_SESSION_RULE = (
    f"{SESSION_ID_MIN}-{SESSION_ID_MAX} characters of letters, digits and '-', "
    "starting with a letter or digit (fits AgentCore and Bedrock Agents session ids)"
)
_AGENT_RULE = (
    f"1-{AGENT_NAME_MAX} characters of letters and digits, optionally separated by single '-' or '_'"
)


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
        """AgentCore Memory actor id ``<tenant>:<actor>``, so IAM conditions can scope by tenant prefix."""
        return f"{self.tenant_id}:{self.actor_id}"


def _require_str(value: Any, field: str, rule: str) -> str:
    if not isinstance(value, str):
        raise InvalidInputError(field, value, f"must be a string of {rule}")
    return value


def validate_index_prefix(value: Any, *, field: str = "index_prefix") -> str:
    """Check an S3 Vectors index-name prefix: empty, or lowercase letters, digits, '-' and '.'."""
    rule = "empty, or lowercase letters, digits, '-' and '.' starting with a letter or digit"
    _require_str(value, field, rule)
    if value and (len(value) > INDEX_NAME_MAX - TENANT_ID_MIN or not _INDEX_PREFIX_RE.fullmatch(value)):
        raise InvalidInputError(
            field, value, f"must be {rule}, at most {INDEX_NAME_MAX - TENANT_ID_MIN} characters"
        )
    return value


def validate_tenant_id(value: Any, *, index_prefix: str = "", field: str = "tenant_id") -> str:
    """Return ``value`` if it is a valid tenant id whose index name ``index_prefix + value`` fits S3 Vectors."""
    _require_str(value, field, _TENANT_RULE)
    if not (TENANT_ID_MIN <= len(value) <= TENANT_ID_MAX) or not _TENANT_RE.fullmatch(value):
        raise InvalidInputError(field, value, f"must be {_TENANT_RULE}")
    if index_prefix:
        validate_index_prefix(index_prefix)
    if len(index_prefix) + len(value) > INDEX_NAME_MAX:
        raise InvalidInputError(
            field,
            value,
            f"index name {index_prefix + value!r} must be at most {INDEX_NAME_MAX} characters "
            f"(S3 Vectors index names are 3-{INDEX_NAME_MAX})",
        )
    return value


def validate_actor_id(value: Any, *, field: str = "actor_id") -> str:
    """Return ``value`` if it is a valid actor id (a derived hash, or an id chosen by trusted service code)."""
    _require_str(value, field, _ACTOR_RULE)
    if not (1 <= len(value) <= ACTOR_ID_MAX) or not _ACTOR_RE.fullmatch(value):
        raise InvalidInputError(field, value, f"must be {_ACTOR_RULE}")
    return value


def validate_session_id(value: Any, *, field: str = "session_id") -> str:
    """Return ``value`` if it is valid as both an AgentCore Memory and a Bedrock Agents session id."""
    _require_str(value, field, _SESSION_RULE)
    if not (SESSION_ID_MIN <= len(value) <= SESSION_ID_MAX) or not _SESSION_RE.fullmatch(value):
        raise InvalidInputError(field, value, f"must be {_SESSION_RULE}")
    return value


def validate_agent_name(value: Any, *, field: str = "agent") -> str:
    """Return ``value`` if it is a valid agent name (also a valid Bedrock agent name)."""
    _require_str(value, field, _AGENT_RULE)
    if not (1 <= len(value) <= AGENT_NAME_MAX) or not _AGENT_RE.fullmatch(value):
        raise InvalidInputError(field, value, f"must be {_AGENT_RULE}")
    return value


def is_derived_actor_id(value: str) -> bool:
    """True when ``value`` has the shape of :func:`actor_id_from_claims` output."""
    return bool(_DERIVED_ACTOR_RE.fullmatch(value))


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


def log_ref(value: str | None) -> str | None:
    """A short, stable reference for an actor or session id in logs: never the id itself (it may be personal)."""
    if value is None:
        return None
    return hashlib.sha256(value.encode("utf-8", errors="replace")).hexdigest()[:12]
