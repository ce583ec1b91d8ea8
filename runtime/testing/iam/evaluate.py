"""Offline IAM policy evaluation with the documented semantics of the IAM User Guide.

Covers identity-based policies and one resource-based policy (a vector bucket, SQS queue or KMS key policy,
or a role trust policy), Principal/NotPrincipal, explicit deny, the same-account and cross-account rules
(reference_policies_evaluation-logic, reference_policies_evaluation-logic-cross-account) and the KMS and
trust-policy exceptions. Out of scope: permissions boundaries, SCPs/RCPs, session policies, grants, ACLs,
VPC endpoint policies and the root user's implicit full access.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from runtime.testing.iam.conditions import PolicyError, evaluate_condition
from runtime.testing.iam.patterns import action_matches, matches
from runtime.testing.iam.principals import Match, Principal, principal_match
from runtime.testing.iam.variables import Context, expand_pattern

PolicyDocument = Mapping[str, Any]
ContextValues = Mapping[str, "str | bool | Sequence[str]"]
#: The only policy-language version with policy variables; without it "${...}" is literal text.
VARIABLES_VERSION = "2012-10-17"


class ResourcePolicyKind(Enum):
    """Resource policies that must themselves allow a same-account caller, unlike all others."""

    STANDARD = "standard"
    KMS_KEY = "kms-key"
    ROLE_TRUST = "role-trust"


class Reason(Enum):
    """Why a request was allowed or denied."""

    EXPLICIT_DENY = "explicit-deny"
    ALLOW = "allow"
    IMPLICIT_DENY = "implicit-deny"


@dataclass(frozen=True)
class Decision:
    """The outcome, why, and the statements (Sid, or ``<policy>#<index>``) that decided it."""

    allowed: bool
    reason: Reason
    matched_statements: tuple[str, ...] = ()


@dataclass(frozen=True)
class Request:
    """One authorization question: may ``principal`` perform ``action`` on ``resource``?"""

    action: str
    resource: str
    context: ContextValues = field(default_factory=dict)
    identity_policies: Sequence[PolicyDocument] = ()
    principal: Principal | None = None
    resource_policy: PolicyDocument | None = None
    resource_policy_kind: ResourcePolicyKind = ResourcePolicyKind.STANDARD
    #: Defaults to the account field of ``resource`` (role and key ARNs carry one).
    resource_account: str | None = None


@dataclass(frozen=True)
class _Statement:
    label: str
    body: Mapping[str, Any]
    variables: bool


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _statements(policy: PolicyDocument, name: str) -> Iterator[_Statement]:
    variables = policy.get("Version") == VARIABLES_VERSION
    for index, body in enumerate(_as_list(policy.get("Statement", []))):
        if body.get("Effect") not in ("Allow", "Deny"):
            raise PolicyError(f"{name} statement {index}: Effect must be Allow or Deny")
        yield _Statement(str(body.get("Sid") or f"{name}#{index}"), body, variables)


def normalize_context(context: ContextValues, principal: Principal | None = None) -> dict[str, list[str]]:
    """Lower-cased key names (IAM key names are case-insensitive), every value a list of strings."""
    normalized: dict[str, list[str]] = {}
    if principal is not None and principal.arn:
        normalized["aws:principalarn"] = [principal.principal_arn]
        if principal.account:
            normalized["aws:principalaccount"] = [principal.account]
    for key, value in context.items():
        if isinstance(value, bool):
            normalized[key.lower()] = [str(value).lower()]
        elif isinstance(value, str):
            normalized[key.lower()] = [value]
        else:
            normalized[key.lower()] = [str(item) for item in value]
    return normalized


def _action_applies(body: Mapping[str, Any], action: str) -> bool:
    if "Action" in body:
        return any(action_matches(pattern, action) for pattern in _as_list(body["Action"]))
    if "NotAction" in body:
        return not any(action_matches(pattern, action) for pattern in _as_list(body["NotAction"]))
    raise PolicyError("statement needs Action or NotAction")


def _resource_in(patterns: Any, resource: str, context: Context, variables: bool) -> bool:
    for raw in _as_list(patterns):
        # A variable with no value makes this entry "not match any resource" (reference_policies_variables).
        pattern = expand_pattern(str(raw), context, enabled=variables)
        if pattern is not None and matches(pattern, resource, segmented=True):
            return True
    return False


def _resource_applies(statement: _Statement, resource: str, context: Context, *, implicit: bool) -> bool:
    body = statement.body
    if "Resource" in body:
        return _resource_in(body["Resource"], resource, context, statement.variables)
    if "NotResource" in body:
        return not _resource_in(body["NotResource"], resource, context, statement.variables)
    if implicit:  # a resource-based policy without Resource applies to the resource it is attached to
        return True
    raise PolicyError(f"{statement.label}: an identity-based statement needs Resource or NotResource")


def _applies(statement: _Statement, request: Request, context: Context, *, resource_policy: bool) -> bool:
    return (
        _action_applies(statement.body, request.action)
        and _resource_applies(statement, request.resource, context, implicit=resource_policy)
        and evaluate_condition(statement.body.get("Condition", {}), context, variables=statement.variables)
    )


def _resource_account(request: Request) -> str | None:
    if request.resource_account:
        return request.resource_account
    parts = request.resource.split(":")
    return parts[4] if len(parts) > 5 and parts[4] else None


def evaluate(request: Request) -> Decision:
    """Decide a request as IAM does: explicit deny wins, then the allow rules for the policy types given.

    Same account: an allow in either the identity-based or the resource-based policy suffices, except that
    a KMS key policy or role trust policy must allow the caller itself; if it only names the account (for
    KMS, the statement that "enables IAM policies") the identity-based policy must allow too. Cross-account:
    both must allow. A resource-policy statement naming only the caller's account delegates to that
    account's identity-based policies and never grants on its own.
    """
    context = normalize_context(request.context, request.principal)
    denies: list[str] = []
    identity_allows: list[str] = []
    resource_allows: dict[Match, list[str]] = {Match.ACCOUNT: [], Match.DIRECT: []}
    for number, policy in enumerate(request.identity_policies):
        for statement in _statements(policy, f"identity[{number}]"):
            if "Principal" in statement.body or "NotPrincipal" in statement.body:
                raise PolicyError(f"{statement.label}: identity-based policies cannot name a Principal")
            if _applies(statement, request, context, resource_policy=False):
                (denies if statement.body["Effect"] == "Deny" else identity_allows).append(statement.label)
    if request.resource_policy is not None:
        if request.principal is None:
            raise PolicyError("evaluating a resource-based policy needs the calling principal")
        for statement in _statements(request.resource_policy, "resource"):
            how = principal_match(statement.body, request.principal)
            if how is Match.NONE or not _applies(statement, request, context, resource_policy=True):
                continue
            if statement.body["Effect"] == "Deny":
                denies.append(statement.label)
            else:
                resource_allows[how].append(statement.label)
    if denies:
        return Decision(False, Reason.EXPLICIT_DENY, tuple(denies))
    return _allow_decision(request, identity_allows, resource_allows)


def _allow_decision(request: Request, identity: list[str], resource: dict[Match, list[str]]) -> Decision:
    direct, delegated = resource[Match.DIRECT], resource[Match.ACCOUNT]
    kind = request.resource_policy_kind
    caller_account = request.principal.account if request.principal else None
    resource_account = _resource_account(request)
    if request.resource_policy is None:
        allowed = bool(identity) and kind is ResourcePolicyKind.STANDARD
        used = identity
    elif caller_account and resource_account and caller_account != resource_account:
        allowed = bool(identity) and bool(direct or delegated)
        used = identity + direct + delegated
    elif kind is ResourcePolicyKind.STANDARD:
        allowed = bool(identity or direct)
        used = identity + direct
    else:
        allowed = bool(direct or (delegated and identity))
        used = direct + delegated + identity
    if allowed:
        return Decision(True, Reason.ALLOW, tuple(used))
    return Decision(False, Reason.IMPLICIT_DENY, tuple(identity + direct + delegated))


def is_allowed(
    policies: Sequence[PolicyDocument], action: str, resource: str, context: ContextValues
) -> bool:
    """Whether the identity-based ``policies`` of the calling session allow ``action`` on ``resource``."""
    return evaluate(Request(action, resource, context, identity_policies=policies)).allowed
