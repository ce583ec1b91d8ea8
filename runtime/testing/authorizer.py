"""IAM for the emulation: every call is decided by evaluating the deployed policies of the calling principal.

Roles, trust policies, resource policies (vector bucket, SQS queue, KMS key) and which key encrypts which
resource are registered by the "deploy from template" step (``runtime.testing.deploy``); nothing here knows
what any project policy says. Each call's actions, resource ARNs and condition context come from the checked-in
table (``runtime/testing/iam/actions.json``); an operation missing from it raises ``UnknownOperation``.

Callers: a key the emulation vended through ``sts:AssumeRole`` acts as that role's session (its identity
policies, ``aws:PrincipalTag/*`` from its session tags, ``aws:SourceIdentity``); the setup key of
``EmulatedAws.client`` is not checked; any other key (the test's own environment credentials) acts as the
account's administrator role ``emulated-admin``, whose one identity policy allows everything, so trust and
resource policies still apply to it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from runtime.testing._model import ServiceError
from runtime.testing.iam import (
    Decision,
    Principal,
    Reason,
    Request,
    ResourcePolicyKind,
    authorization_checks,
    evaluate,
)
from runtime.testing.iam.table import operation_entry

#: The role the test's own (not vended) credentials act as.
ADMIN_ROLE_NAME = "emulated-admin"
#: The administrator's identity policy: a test fixture's, not a copy of any project policy.
ADMIN_POLICY: Mapping[str, Any] = MappingProxyType(
    {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
)
#: The error each service answers a denied call with (code, HTTP status).
_DENIED = {
    "sts": ("AccessDenied", 403),
    "sqs": ("AccessDenied", 403),
    "dynamodb": ("AccessDeniedException", 400),
    "kms": ("AccessDeniedException", 400),
}
#: Services whose data a customer-managed key encrypts on the caller's behalf (kms:ViaService).
_VIA_SERVICES = ("s3vectors", "bedrock-agentcore", "dynamodb", "sqs")


@dataclass
class Role:
    """A deployed IAM role: its trust policy, identity policies and tags."""

    arn: str
    trust_policy: Mapping[str, Any] | None = None
    policies: list[Mapping[str, Any]] = field(default_factory=list)
    tags: dict[str, str] = field(default_factory=dict)

    @property
    def name(self) -> str:
        """The role name (the ARN's last path segment)."""
        return self.arn.rsplit("/", 1)[-1]

    @property
    def account(self) -> str:
        """The account the role or session belongs to."""
        return self.arn.split(":")[4]


@dataclass(frozen=True)
class VendedSession:
    """One sts:AssumeRole the emulation answered: who asked for what, and the key it handed out."""

    access_key_id: str
    role_arn: str
    role_session_name: str
    tags: Mapping[str, str] = field(default_factory=dict)
    source_identity: str | None = None
    external_id: str | None = None
    duration_seconds: int | None = None
    caller_arn: str | None = None
    #: When STS issued it (``aws:TokenIssueTime``, ISO 8601 UTC).
    issued_at: str = ""

    def tag(self, key: str) -> str | None:
        """A session tag's value; IAM compares tag keys case-insensitively."""
        return next((value for name, value in self.tags.items() if name.lower() == key.lower()), None)

    @property
    def tenant_id(self) -> str | None:
        """The ``TenantID`` session tag."""
        return self.tag("TenantID")

    @property
    def actor_id(self) -> str | None:
        """The ``ActorID`` session tag."""
        return self.tag("ActorID")

    @property
    def account(self) -> str:
        """The account the role or session belongs to."""
        return self.role_arn.split(":")[4]

    @property
    def principal_arn(self) -> str:
        """The session's own ARN (``arn:aws:sts::<account>:assumed-role/<role>/<session>``)."""
        partition = self.role_arn.split(":")[1]
        return f"arn:{partition}:sts::{self.account}:assumed-role/{self.role_arn.rsplit('/', 1)[-1]}/" \
               f"{self.role_session_name}"


@dataclass(frozen=True)
class _Caller:
    principal: Principal
    policies: Sequence[Mapping[str, Any]]
    context: Mapping[str, str | list[str]]

    @property
    def account(self) -> str:
        """The account the role or session belongs to."""
        return self.principal.account or ""


class IamAuthorizer:
    """The emulated account's IAM: registered roles and resource policies, and the sessions it vended."""

    def __init__(self, *, account_id: str, region: str, partition: str = "aws") -> None:
        self.account_id = account_id
        self.region = region
        self.partition = partition
        self.roles: dict[str, Role] = {}
        #: Resource ARN -> (policy, kind): vector bucket, SQS queue and KMS key policies.
        self.resource_policies: dict[str, tuple[Mapping[str, Any], ResourcePolicyKind]] = {}
        #: Resource ARN -> the KMS key ARN that encrypts it.
        self.encryption_keys: dict[str, str] = {}
        #: Account -> AWS Organization id (``aws:PrincipalOrgID``).
        self.organizations: dict[str, str] = {}
        #: Table ARN -> partition key name (``dynamodb:LeadingKeys``).
        self.partition_keys: dict[str, str] = {}
        #: Called with (service, operation, params, region) for facts of stored resources: tags, namespaces.
        self.stored_facts: Callable[[str, str, Mapping[str, Any], str, str], tuple[dict[str, str], dict[str, Any]]] \
            = lambda *_: ({}, {})
        self.decisions: list[tuple[str, str, str, bool]] = []
        #: The role the test's own credentials act as (default ``emulated-admin``): its registered policies
        #: apply if it is deployed, else the administrator's (the live suite names the real caller's role).
        self.default_caller_arn: str | None = None
        self._lock = threading.Lock()
        self._sessions: dict[str, VendedSession] = {}
        self._calls: list[VendedSession] = []

    # ------------------------------------------------------------------------------------------ registry

    @property
    def admin_role_arn(self) -> str:
        """The role the test's own credentials act as by default."""
        return f"arn:{self.partition}:iam::{self.account_id}:role/{ADMIN_ROLE_NAME}"

    def register_role(self, arn: str, *, trust_policy: Mapping[str, Any] | None = None,
                      policies: Sequence[Mapping[str, Any]] = (), tags: Mapping[str, str] | None = None) -> Role:
        """Add (or replace) a role; its ARN includes the path."""
        role = Role(arn, trust_policy, list(policies), dict(tags or {}))
        with self._lock:
            self.roles[arn] = role
        return role

    def role(self, arn: str) -> Role:
        """A registered role (KeyError if none)."""
        return self.roles[arn]

    def drop_statements(self, role_arn: str, *, service: str) -> int:
        """Break a deployed role on purpose: remove its statements whose actions are all of ``service``
        (``"s3vectors"``); returns how many went. Decisions still come from evaluating what remains."""
        role = self.roles[role_arn]
        dropped = 0
        kept_policies: list[Mapping[str, Any]] = []
        for policy in role.policies:
            statements = policy.get("Statement", [])
            statements = statements if isinstance(statements, list) else [statements]
            kept = [s for s in statements if not all(str(a).startswith(f"{service}:") for a in
                                                     (s.get("Action") if isinstance(s.get("Action"), list)
                                                      else [s.get("Action")]))]
            dropped += len(statements) - len(kept)
            kept_policies.append({**policy, "Statement": kept})
        role.policies = kept_policies
        return dropped

    def set_resource_policy(self, arn: str, policy: Mapping[str, Any],
                            kind: ResourcePolicyKind = ResourcePolicyKind.STANDARD) -> None:
        """Attach a resource-based policy (vector bucket, queue, KMS key) to a resource ARN."""
        self.resource_policies[arn] = (policy, kind)

    # ------------------------------------------------------------------------------------------ sessions

    @property
    def sessions(self) -> list[VendedSession]:
        """Every AssumeRole answered so far, in order."""
        with self._lock:
            return list(self._calls)

    def revoke_older_sessions(self, role_arn: str) -> None:
        """What IAM's "Revoke active sessions" does: an inline explicit deny of every action for sessions of the
        role issued before now (``DateLessThan aws:TokenIssueTime``)."""
        cutoff = _now_iso(later_s=0.001)
        self.roles[role_arn].policies.append({"Version": "2012-10-17", "Statement": [{
            "Effect": "Deny", "Action": ["*"], "Resource": ["*"],
            "Condition": {"DateLessThan": {"aws:TokenIssueTime": cutoff}}}]})

    def assume_role_calls(self, role_arn: str | None = None) -> list[VendedSession]:
        """AssumeRole calls, optionally only those on one role."""
        return [s for s in self.sessions if role_arn in (None, s.role_arn)]

    def session_for(self, access_key_id: str) -> VendedSession | None:
        """The session an access key came from, if the emulation vended it."""
        with self._lock:
            return self._sessions.get(access_key_id)

    def record_assume_role(self, params: Mapping[str, Any], parsed: Mapping[str, Any],
                           caller_key: str | None = None) -> VendedSession | None:
        """Remember a successful AssumeRole (called from the 'after-call' hook)."""
        key = (parsed.get("Credentials") or {}).get("AccessKeyId")
        if not key:
            return None
        caller = self._caller(caller_key) if caller_key else None
        session = VendedSession(
            access_key_id=key,
            role_arn=params.get("RoleArn", ""),
            role_session_name=params.get("RoleSessionName", ""),
            tags=MappingProxyType({t["Key"]: t["Value"] for t in params.get("Tags") or []}),
            source_identity=params.get("SourceIdentity"),
            external_id=params.get("ExternalId"),
            duration_seconds=params.get("DurationSeconds"),
            caller_arn=caller.principal.arn if caller else None,
            issued_at=_now_iso(),
        )
        with self._lock:
            self._sessions[key] = session
            self._calls.append(session)
        return session

    # ------------------------------------------------------------------------------------------ decisions

    def _caller(self, access_key: str | None) -> _Caller | None:
        from runtime.testing.aws import SETUP_ACCESS_KEY

        if access_key is None or access_key == SETUP_ACCESS_KEY:
            return None
        session = self.session_for(access_key)
        if session is None:
            role_arn = self.default_caller_arn or self.admin_role_arn
            account = role_arn.split(":")[4]
            principal = Principal(arn=f"arn:{self.partition}:sts::{account}:assumed-role/{role_arn.rsplit('/', 1)[-1]}"
                                      "/tests", role_arn=role_arn)
            role = self.roles.get(role_arn)
            policies = list(role.policies) if role is not None and role.policies else [ADMIN_POLICY]
            return _Caller(principal, policies, self._principal_context(account))
        role = self.roles.get(session.role_arn)
        context = self._principal_context(session.account)
        for name, value in session.tags.items():
            context[f"aws:PrincipalTag/{name}"] = value
        if session.source_identity is not None:
            context["aws:SourceIdentity"] = session.source_identity
        if session.issued_at:
            context["aws:TokenIssueTime"] = session.issued_at
        principal = Principal(arn=session.principal_arn, role_arn=session.role_arn)
        return _Caller(principal, list(role.policies) if role else [], context)

    def _principal_context(self, account: str) -> dict[str, str | list[str]]:
        context: dict[str, str | list[str]] = {"aws:SecureTransport": "true", "aws:PrincipalType": "AssumedRole"}
        if account in self.organizations:
            context["aws:PrincipalOrgID"] = self.organizations[account]
        return context

    def _resource_policy(self, service: str, resource: str) -> tuple[Mapping[str, Any] | None, ResourcePolicyKind]:
        if resource in self.resource_policies:
            return self.resource_policies[resource]
        if service == "s3vectors" and "/index/" in resource:
            found = self.resource_policies.get(resource.split("/index/", 1)[0])
            if found:
                return found
        kind = ResourcePolicyKind.KMS_KEY if service == "kms" else ResourcePolicyKind.STANDARD
        return None, kind

    def decide(self, caller: _Caller, service: str, action: str, resource: str,
               context: Mapping[str, str | list[str]], region: str) -> Decision:
        """One action on one resource, with the caller's policies and the resource's policy."""
        policy, kind = self._resource_policy(service, resource)
        if service == "sts" and action.startswith("sts:"):
            role = self.roles.get(resource)
            policy, kind = (role.trust_policy if role else None), ResourcePolicyKind.ROLE_TRUST
        full = {**caller.context, "aws:RequestedRegion": region, **context}
        decision = evaluate(Request(action, resource, full, identity_policies=caller.policies,
                                    principal=caller.principal, resource_policy=policy, resource_policy_kind=kind))
        with self._lock:
            self.decisions.append((caller.principal.arn, action, resource, decision.allowed))
        return decision

    def authorize(self, service: str, operation: str, params: Mapping[str, Any], access_key: str | None,
                  region: str) -> None:
        """Raise the service's access-denied error unless IAM allows every action the call needs."""
        caller = self._caller(access_key)
        if caller is None:
            return
        account = caller.account or self.account_id
        if service == "sts" and operation == "AssumeRole" and params.get("RoleArn", "") not in self.roles:
            raise self._denied(service, caller, "sts:AssumeRole", params.get("RoleArn", ""), "the role is not deployed")
        tags, stored = self.stored_facts(service, operation, params, region, account)
        if service == "sts" and params.get("RoleArn") in self.roles:
            tags = self.roles[params["RoleArn"]].tags
        checks = authorization_checks(service, operation, params, resource_tags=tags, stored=stored,
                                      region=region, account=account, partition=self.partition)
        for check in checks:
            decision = self.decide(caller, service, check.action, check.resource, check.context, region)
            if not decision.allowed:
                raise self._denied(service, caller, check.action, check.resource, _why(decision, check.action))
        if checks and service in _VIA_SERVICES:
            self._authorize_key(caller, service, operation, checks[0].resource, region, account)

    def _authorize_key(self, caller: _Caller, service: str, operation: str, resource: str, region: str,
                       account: str) -> None:
        key_arn = next((key for arn, key in self.encryption_keys.items()
                        if resource == arn or resource.startswith(arn + "/")), None)
        if key_arn is None:
            return
        levels = {a.get("access_level", "") for a in operation_entry(service, operation)["actions"]}
        kms_operation = "GenerateDataKey" if any("Write" in level for level in levels) else "Decrypt"
        params: dict[str, Any] = {"KeyId": key_arn}
        context = _encryption_context(service, resource)
        if context:
            params["EncryptionContext"] = context
        if kms_operation == "Decrypt":
            params = {"CiphertextBlob": b"emulated", **({"EncryptionContext": context} if context else {})}
        checks = authorization_checks("kms", kms_operation, params, stored={"key_arn": key_arn}, region=region,
                                      account=account, partition=self.partition,
                                      via_service=f"{service}.{region}.amazonaws.com")
        for check in checks:
            decision = self.decide(caller, "kms", check.action, check.resource, check.context, region)
            if not decision.allowed:
                raise self._denied(service, caller, check.action, check.resource, _why(decision, check.action))

    def check_trust(self, role_arn: str, service_principal: str) -> None:
        """A service (``lambda.amazonaws.com``) assuming a role: its trust policy must allow it. A role the
        templates only attach policies to (created elsewhere) has no trust policy here and is not checked."""
        role = self.roles.get(role_arn)
        if role is not None and role.trust_policy is None:
            return  # a role created outside the deployed templates (they only attach policies to it)
        decision = evaluate(Request("sts:AssumeRole", role_arn, {"aws:SecureTransport": "true"},
                                    principal=Principal(service=service_principal),
                                    resource_policy=role.trust_policy if role else None,
                                    resource_policy_kind=ResourcePolicyKind.ROLE_TRUST))
        if role is None or not decision.allowed:
            raise ServiceError("AccessDenied", f"{service_principal} is not authorized to perform: sts:AssumeRole "
                                               f"on resource: {role_arn}", status=403)

    def _denied(self, service: str, caller: _Caller, action: str, resource: str, why: str = "") -> ServiceError:
        code, status = _DENIED.get(service, ("AccessDeniedException", 403))
        reason = why or f"no policy allows the {action} action"
        joiner = " " if reason.startswith("with ") else " because "
        return ServiceError(code, f"User: {caller.principal.arn} is not authorized to perform: {action} on resource: "
                                  f"{resource}{joiner}{reason}", status=status)


def _now_iso(later_s: float = 0.0) -> str:
    """UTC now (plus ``later_s``) in ISO 8601 with milliseconds, the form of ``aws:TokenIssueTime``."""
    import datetime

    moment = datetime.datetime.now(datetime.UTC) + datetime.timedelta(seconds=later_s)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _why(decision: Any, action: str) -> str:
    """The reason clause of AWS's AccessDenied message (an explicit deny is named as such)."""
    if decision.reason == Reason.EXPLICIT_DENY:
        return "with an explicit deny in an identity-based policy"
    return f"no identity-based policy allows the {action} action"


def _encryption_context(service: str, resource: str) -> dict[str, str]:
    """The encryption context a service sends to KMS (DynamoDB and SQS document theirs)."""
    if service == "sqs":
        return {"aws:sqs:arn": resource}
    if service == "dynamodb":
        account = resource.split(":")[4]
        return {"aws:dynamodb:tableName": resource.split(":table/", 1)[-1].split("/", 1)[0],
                "aws:dynamodb:subscriberId": account}
    return {}
