"""Who is calling, and the Principal / NotPrincipal elements of resource-based policies."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any

_ACCOUNT_ID = re.compile(r"^\d{12}$")
_ROOT_ARN = re.compile(r"^arn:[^:]+:iam::(\d{12}):root$")
_SESSION_ARN = re.compile(r"^arn:([^:]+):sts::(\d{12}):assumed-role/([^/]+)/(.+)$")


@dataclass(frozen=True)
class Principal:
    """The authenticated caller.

    ``arn`` is the caller's own ARN: an IAM user, an assumed-role session
    (``arn:aws:sts::123456789012:assumed-role/Role/session``), a role, or the account root. For a session,
    give ``role_arn`` (with its path) so that resource policies naming the role match. ``service`` is set
    (and ``arn`` may be empty) when an AWS service principal such as ``lambda.amazonaws.com`` calls.
    """

    arn: str = ""
    role_arn: str | None = None
    service: str | None = None
    federated: str | None = None

    @property
    def account(self) -> str | None:
        """The 12-digit account in ``arn``, or ``None`` when the ARN names none."""
        parts = self.arn.split(":")
        return parts[4] if len(parts) > 5 and _ACCOUNT_ID.match(parts[4]) else None

    @property
    def principal_arn(self) -> str:
        """``aws:PrincipalArn``: for a role session, the role's ARN rather than the session's."""
        return self.role_arn or self.arn

    def identities(self) -> tuple[str, ...]:
        """The account, the role (for a session) and the caller itself, as they appear in policies."""
        chain: list[str] = []
        if self.account:
            chain.append(f"arn:{self.arn.split(':')[1]}:iam::{self.account}:root")
        if self.role_arn:
            chain.append(self.role_arn)
        if self.arn and self.arn not in chain:
            chain.append(self.arn)
        return tuple(chain)


class Match(Enum):
    """How a Principal element matched: naming the caller itself, or only its account."""

    NONE = 0
    ACCOUNT = 1
    DIRECT = 2


def _entries(element: Any) -> list[tuple[str, str]]:
    if element == "*":
        return [("AWS", "*")]
    if not isinstance(element, Mapping):
        raise TypeError(f"Principal element must be '*' or a mapping, not {element!r}")
    pairs: list[tuple[str, str]] = []
    for kind, values in element.items():
        for value in values if isinstance(values, list) else [values]:
            pairs.append((kind, str(value)))
    return pairs


def _canonical(entry: str) -> str:
    """A bare account id and ``arn:aws:iam::<id>:root`` "behave the same way"."""
    if _ACCOUNT_ID.match(entry):
        return f"arn:aws:iam::{entry}:root"
    return entry


def _match_entry(kind: str, value: str, principal: Principal) -> Match:
    if value == "*":
        return Match.DIRECT
    if kind == "Service":
        return Match.DIRECT if principal.service and principal.service.lower() == value.lower() else Match.NONE
    if kind == "Federated":
        return Match.DIRECT if principal.federated == value else Match.NONE
    if kind != "AWS":
        return Match.NONE
    canonical = _canonical(value)
    identities = principal.identities()
    if _ROOT_ARN.match(canonical):
        # An account principal "delegates authority to the account" rather than naming the caller.
        return Match.ACCOUNT if canonical in identities[:1] or canonical == principal.arn else Match.NONE
    return Match.DIRECT if canonical in identities else Match.NONE


def principal_match(statement: Mapping[str, Any], principal: Principal) -> Match:
    """How the statement's Principal or NotPrincipal element applies to the caller."""
    if "Principal" in statement:
        found = [_match_entry(kind, value, principal) for kind, value in _entries(statement["Principal"])]
        return max(found, key=lambda match: match.value, default=Match.NONE)
    if "NotPrincipal" in statement:
        listed = {_canonical(value) for kind, value in _entries(statement["NotPrincipal"]) if kind == "AWS"}
        services = {value.lower() for kind, value in _entries(statement["NotPrincipal"]) if kind == "Service"}
        if principal.service:
            return Match.NONE if principal.service.lower() in services else Match.DIRECT
        # AWS "might validate the account first, then the role, and then the assumed-role user", so the
        # statement applies unless every one of them is named (reference_policies_elements_notprincipal).
        excepted = all(identity in listed for identity in principal.identities())
        return Match.NONE if excepted else Match.DIRECT
    raise ValueError("a resource-based policy statement needs Principal or NotPrincipal")
