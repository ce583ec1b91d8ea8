"""`TokenVendingMachine`: the ABAC role whose sessions reach one tenant's memory only, by IAM."""

from __future__ import annotations

import re

import jsii
from dataclasses import dataclass
from typing import Sequence

from aws_cdk import Arn, ArnFormat, Duration, Stack, Token
from aws_cdk import aws_iam as iam
from constructs import Construct, IValidation

from .agent_memory import _AgentMemoryBase
from .naming import ACTOR_TAG, TENANT_ID_MAX, TENANT_ID_MIN, TENANT_ID_PATTERN, TENANT_TAG
from .nag import acknowledge_inline_policy
from .validation import Problems, PropsError
from .vector_memory_store import _VectorMemoryStoreBase

ROLE_NAME_PATTERN = re.compile(r"^[\w+=,.@-]{1,64}$")
ROLE_ARN_PATTERN = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]{1,512}$")
ORG_ID_PATTERN = re.compile(r"^o-[a-z0-9]{10,32}$")
# STS: a role's maximum session duration is 1-12 hours.
MAX_SESSION_RANGE_S = (3600, 43200)
#: The actions a vending caller needs on the TVM role: tagged sessions with a source identity.
ASSUME_ACTIONS = ("sts:AssumeRole", "sts:TagSession", "sts:SetSourceIdentity")


@dataclass(frozen=True)
class _TrustedPrincipal:
    role_arn: str
    account: str
    tenant_ids: tuple[str, ...] | None
    organization_id: str | None = None


class TokenVendingMachine(Construct):
    """An IAM role that only named principals may assume, and only with a `TenantID` session tag.

    Every permission names the caller's tag: S3 Vectors on exactly `index/<prefix>${aws:PrincipalTag/TenantID}`
    of one bucket, AgentCore Memory on actor ids and namespaces `<TenantID>:*`, KMS only via those services. A bug
    that builds another tenant's index name, actor id or namespace gets AccessDenied from IAM.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        vector_store: _VectorMemoryStoreBase,
        agent_memory: _AgentMemoryBase | None = None,
        role_name: str | None = None,
        max_session_duration: Duration = Duration.hours(1),
        per_actor: bool = False,
    ) -> None:
        """
        :param vector_store: the store whose per-tenant indexes sessions may use.
        :param agent_memory: the AgentCore Memory sessions may use (optional).
        :param role_name: a fixed name, so peers in other accounts can name the role without lookups.
        :param max_session_duration: 1-12 hours (default 1 hour).
        :param per_actor: also require an `ActorID` tag and confine AgentCore access to exactly that actor.
        """
        super().__init__(scope, id)
        problems = Problems()
        problems.check_pattern("role_name", role_name, ROLE_NAME_PATTERN, "1-64 characters of letters, digits and +=,.@_-")
        if not Token.is_unresolved(max_session_duration.to_seconds()):
            seconds = int(max_session_duration.to_seconds())
            if not MAX_SESSION_RANGE_S[0] <= seconds <= MAX_SESSION_RANGE_S[1]:
                problems.add("max_session_duration", f"{seconds}s", "must be from 1 hour to 12 hours (STS limit)")
        problems.raise_if_any(type(self).__name__)

        self.per_actor = per_actor
        self._trusted: list[_TrustedPrincipal] = []
        self.vector_store = vector_store
        self.agent_memory = agent_memory

        self.role = iam.Role(
            self,
            "Role",
            role_name=role_name,
            description="Agent Memory Mesh token vending machine: tenant-scoped memory access by session tag",
            assumed_by=iam.AccountPrincipal(Stack.of(self).account),
            max_session_duration=max_session_duration,
        )
        # iam.Role needs `assumed_by`; its unconditioned account statement is replaced here by a document that holds
        # only the explicit, conditioned statements of `trust()`.
        self._assume_doc = iam.PolicyDocument()
        cfn_role = self.role.node.default_child
        assert isinstance(cfn_role, iam.CfnRole)
        cfn_role.assume_role_policy_document = self._assume_doc

        vector_store.grant_tenant_scoped(self.role)
        if agent_memory is not None:
            agent_memory.grant_tenant_scoped(self.role, per_actor=per_actor)

        acknowledge_inline_policy(self.role)
        self.node.add_validation(_RequireTrustedPrincipal(self))

    @property
    def role_arn(self) -> str:
        return self.role.role_arn

    # ---- trust ---------------------------------------------------------------------------------------------

    def trust(self, role_arn: str, *, tenant_ids: Sequence[str] | None = None, account: str | None = None,
              organization_id: str | None = None) -> None:
        """Let one role (this or another account) vend tenant credentials, optionally for listed tenants only.

        Trust names the account principal plus an `aws:PrincipalArn` condition, so the peer role need not exist
        yet (any deploy order) and nothing else in that account can assume this role. `organization_id` also
        requires the caller to belong to that AWS Organization.
        """
        problems = Problems()
        if not Token.is_unresolved(role_arn) and not ROLE_ARN_PATTERN.match(role_arn):
            problems.add("role_arn", role_arn, "must be an IAM role ARN arn:aws:iam::<account>:role/<name>")
        for t in tenant_ids or ():
            if not isinstance(t, str) or not TENANT_ID_PATTERN.match(t) or not TENANT_ID_MIN <= len(t) <= TENANT_ID_MAX:
                problems.add("tenant_ids", t, f"tenant ids are {TENANT_ID_MIN}-{TENANT_ID_MAX} lowercase letters, "
                                              "digits and '-', starting and ending with a letter or digit")
        problems.check_pattern("organization_id", organization_id, ORG_ID_PATTERN, "an AWS Organizations id o-xxxxxxxxxx")
        if tenant_ids is not None and not list(tenant_ids):
            problems.add("tenant_ids", [], "an allowlist must name at least one tenant (omit it to allow any)")
        problems.raise_if_any(f"{type(self).__name__}.trust")

        if account is None:
            account = Arn.split(role_arn, ArnFormat.SLASH_RESOURCE_NAME).account if Token.is_unresolved(role_arn) \
                else role_arn.split(":")[4]
        self._trusted.append(_TrustedPrincipal(role_arn, str(account),
                                               tuple(tenant_ids) if tenant_ids is not None else None, organization_id))
        self._assume_doc.add_statements(self._trust_statement(len(self._trusted), self._trusted[-1]))

    def _trust_statement(self, n: int, p: _TrustedPrincipal) -> iam.PolicyStatement:
        tag_keys = [TENANT_TAG, ACTOR_TAG]
        conditions: dict[str, dict[str, object]] = {
            "ArnEquals": {"aws:PrincipalArn": p.role_arn},
            # The tenant tag must be present, and only the design's tag keys may be set.
            "Null": {f"aws:RequestTag/{TENANT_TAG}": "false", **({f"aws:RequestTag/{ACTOR_TAG}": "false"}
                                                                  if self.per_actor else {})},
            "ForAllValues:StringEquals": {"aws:TagKeys": tag_keys},
        }
        string_equals: dict[str, object] = {}
        if p.tenant_ids is not None:
            string_equals[f"aws:RequestTag/{TENANT_TAG}"] = list(p.tenant_ids)
        if p.organization_id is not None:
            string_equals["aws:PrincipalOrgID"] = p.organization_id
        if string_equals:
            conditions["StringEquals"] = string_equals
        return iam.PolicyStatement(
            sid=f"VendFor{n}",
            actions=list(ASSUME_ACTIONS),
            principals=[iam.AccountPrincipal(p.account)],
            conditions=conditions,
        )

    def grant_assume(self, principal: iam.IGrantable, *, tenant_ids: Sequence[str] | None = None) -> iam.Grant:
        """Trust `principal`'s role and give it the identity-policy side: assume this role with tags."""
        role_arn = _role_arn_of(principal)
        self.trust(role_arn, tenant_ids=tenant_ids, account=principal.grant_principal.principal_account)
        return iam.Grant.add_to_principal(grantee=principal, actions=list(ASSUME_ACTIONS),
                                          resource_arns=[self.role.role_arn])

    @property
    def trusted_role_arns(self) -> list[str]:
        return [p.role_arn for p in self._trusted]


def _role_arn_of(principal: iam.IGrantable) -> str:
    gp = principal.grant_principal
    if hasattr(gp, "role_arn"):
        return gp.role_arn  # type: ignore[attr-defined]
    raise PropsError("TokenVendingMachine.grant_assume",
                     [f"principal={type(gp).__name__}: must be an IAM role (its ARN goes into the trust policy)"])


@jsii.implements(IValidation)
class _RequireTrustedPrincipal:
    """Synth fails if nobody may assume the TVM (an empty trust policy would be rejected by IAM)."""

    def __init__(self, tvm: TokenVendingMachine) -> None:
        self._tvm = tvm

    def validate(self) -> list[str]:
        if not self._tvm._trusted:
            return ["TokenVendingMachine: no trusted principal; call grant_assume(role) or trust(role_arn)"]
        return []
