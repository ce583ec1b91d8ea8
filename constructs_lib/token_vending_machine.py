"""`TokenVendingMachine`: the role whose sessions reach one user's (or one tenant's) memory only, by IAM."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import jsii
from aws_cdk import Arn, ArnFormat, Duration, PhysicalName, Stack, Token
from aws_cdk import aws_iam as iam
from constructs import Construct, IValidation

from runtime.contract import memory, rules

from . import perms
from ._resource import lazy_any
from .agent_memory import IAgentMemory
from .errors import new_problems, props_error, raise_if_any
from .mesh_state_table import IMeshStateTable
from .nag import acknowledge_inline_policy, acknowledge_wildcard_resources
from .vector_memory_store import IVectorMemoryStore

__all__ = ["ITokenVendingMachine", "TokenVendingMachine", "TvmAccess", "TRUST_POLICY_MAX_CHARS"]

#: STS: a role's maximum session duration is 1-12 hours.
MAX_SESSION_RANGE_S = (3600, 43200)
_DEFAULT_MAX_SESSION = Duration.hours(1)
#: IAM's default quota for a role trust policy (characters, whitespace excluded); it can be raised to 4,096.
TRUST_POLICY_MAX_CHARS = 2048
#: What an unresolved ARN is counted as when the trust policy's size is estimated at synth.
_ESTIMATED_TOKEN_CHARS = 90


class TvmAccess:
    """Who a token vending machine serves."""

    #: The memory home's functions: full user-path access (incl. deleting, index creation), isolation as chosen.
    HOME = "home"
    #: Worker agents outside the memory home: always ``user`` isolation, worker-path actions only, and every
    #: trusted principal limited to its allowed tenants.
    WORKERS = "workers"


@runtime_checkable
class ITokenVendingMachine(Protocol):
    """A token vending machine, created here or imported: its role and the grant that lets a role vend."""

    role_arn: str
    isolation: str

    def grant_assume(self, grantee: iam.IGrantable, *, tenant_ids: Sequence[str] | None = None) -> iam.Grant:
        """Let ``grantee``'s role assume this role with session tags and a source identity (for ``tenant_ids``)."""


@dataclass(frozen=True)
class _Trusted:
    role_arn: str
    account: str
    tenant_ids: tuple[str, ...] | None
    organization_id: str | None


class _TokenVendingMachineBase(Construct):
    role_arn: str
    isolation: str

    def _grant_identity_side(self, grantee: iam.IGrantable) -> iam.Grant:
        # The caller assumes with session tags and a source identity (its user's actor id).
        return iam.Grant.add_to_principal(grantee=grantee, actions=list(perms.ASSUME_TAGGED),
                                          resource_arns=[self.role_arn])


class TokenVendingMachine(_TokenVendingMachineBase):
    """An IAM role that named roles assume with ``TenantID`` (and ``ActorID``) session tags.

    Every permission names the session's tags: S3 Vectors on ``index/<prefix>${TenantID}.*`` *and* only indexes
    tagged as the session's own; AgentCore events of actor id ``<TenantID>:<ActorID>`` and records under that
    actor's namespaces; the state table's tombstone of that user; KMS only via those services. In ``tenant``
    isolation the same with any user of the tenant. A bug that names another user's index, actor id, namespace
    or tombstone gets AccessDenied from IAM.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        vector_store: IVectorMemoryStore,
        agent_memory: IAgentMemory,
        state_table: IMeshStateTable | None = None,
        isolation: str = memory.ISOLATION_USER,
        access: str = TvmAccess.HOME,
        role_name: str | None = None,
        max_session_duration: Duration = _DEFAULT_MAX_SESSION,
    ) -> None:
        """:param vector_store: the store whose user indexes sessions reach.
        :param agent_memory: the AgentCore Memory sessions reach.
        :param state_table: the mesh state table; sessions read their own forget tombstone (every writer checks it).
        :param isolation: ``user`` (default): a session reaches one user of one tenant; ``tenant``: any user of one
            tenant. Must be ``user`` when ``access`` is ``TvmAccess.WORKERS``.
        :param access: ``TvmAccess.HOME`` (default) or ``TvmAccess.WORKERS`` (worker-path actions only).
        :param role_name: a fixed name, so roles in other stacks and accounts name it without lookups.
        :param max_session_duration: 1-12 hours (default 1 hour).
        """
        super().__init__(scope, id)
        problems = new_problems()
        problems.check_choice("isolation", isolation, memory.ISOLATION_LEVELS)
        problems.check_choice("access", access, (TvmAccess.HOME, TvmAccess.WORKERS))
        if access == TvmAccess.WORKERS and isolation != memory.ISOLATION_USER:
            problems.add("isolation", isolation, "must be 'user' for TvmAccess.WORKERS: principals outside the memory "
                                                 "home get one user's memory per session")
        problems.check(rules.ROLE_NAME, "role_name", role_name)
        seconds = max_session_duration.to_seconds()
        if not Token.is_unresolved(seconds) and not MAX_SESSION_RANGE_S[0] <= seconds <= MAX_SESSION_RANGE_S[1]:
            problems.add("max_session_duration", f"{seconds:g}s", "must be from 1 hour to 12 hours (STS limit)")
        raise_if_any(type(self).__name__, problems)

        self.isolation = isolation
        self.access = access
        self._trusted: list[_Trusted] = []
        self.role = iam.Role(
            self, "Role",
            role_name=role_name or PhysicalName.GENERATE_IF_NEEDED,
            description=f"Agent Memory Mesh token vending machine ({access}, {isolation} isolation)",
            assumed_by=iam.AccountPrincipal(Stack.of(self).account),
            max_session_duration=max_session_duration,
        )
        self.role_arn = self.role.role_arn
        # iam.Role needs `assumed_by`; its unconditioned account statement is replaced by the conditioned
        # statements of `trust()`, rendered at synth (principals with identical conditions share one statement).
        cfn_role = self.role.node.default_child
        assert isinstance(cfn_role, iam.CfnRole)
        cfn_role.assume_role_policy_document = lazy_any(lambda: self._trust_document().to_json())

        worker_path = access == TvmAccess.WORKERS
        vector_store.grant_session_access(self.role, isolation=isolation, worker_path=worker_path)
        agent_memory.grant_session_access(self.role, isolation=isolation, worker_path=worker_path)
        if state_table is not None:
            state_table.grant_read_tombstone(self.role, isolation=isolation)
        acknowledge_inline_policy(self.role)
        session_indexes = f"/index/{vector_store.index_prefix}<aws:PrincipalTag/{memory.TENANT_TAG}>.*"
        acknowledge_wildcard_resources(
            self.role, lambda resource: resource.endswith(session_indexes),
            "A session reaches the indexes named '<prefix><its TenantID tag>.*' (one tenant's user indexes, created at "
            "run time) and, by the aws:ResourceTag conditions, only those tagged with its own TenantID/ActorID.")
        self.node.add_validation(_TrustPolicyChecks(self))

    # -- trust ------------------------------------------------------------------------------------------------

    def trust(self, role_arn: str, *, tenant_ids: Sequence[str] | None = None, account: str | None = None,
              organization_id: str | None = None) -> None:
        """Let one role (in this or another account; it need not exist yet) vend sessions.

        :param tenant_ids: the ``TenantID`` values it may request (required for ``TvmAccess.WORKERS``).
        :param account: the role's account; default parsed from ``role_arn``.
        :param organization_id: also require ``aws:PrincipalOrgID``.
        """
        problems = new_problems()
        problems.check(rules.ROLE_ARN, "role_arn", role_arn, required=True)
        problems.check(rules.ACCOUNT_ID, "account", account)
        problems.check(rules.ORG_ID, "organization_id", organization_id)
        if tenant_ids is not None:
            if not list(tenant_ids):
                problems.add("tenant_ids", [], "must name at least one tenant (omit it to allow any)")
            for i, tenant in enumerate(tenant_ids):
                problems.check(rules.TENANT_ID, f"tenant_ids[{i}]", tenant, required=True, literal=True)
        elif self.access == TvmAccess.WORKERS:
            problems.add("tenant_ids", None, "is required for TvmAccess.WORKERS: a worker agent's role vends for its "
                                             "allowed tenants only")
        raise_if_any(f"{type(self).__name__}.trust", problems)
        if account is None:
            account = Arn.split(role_arn, ArnFormat.SLASH_RESOURCE_NAME).account if Token.is_unresolved(role_arn) \
                else role_arn.split(":")[4]
        self._trusted.append(_Trusted(role_arn, str(account), tuple(tenant_ids) if tenant_ids is not None else None,
                                      organization_id))

    def grant_assume(self, grantee: iam.IGrantable, *, tenant_ids: Sequence[str] | None = None) -> iam.Grant:
        """Trust ``grantee``'s role and give it the identity side: assume this role with tags and source identity.

        A role in another stack is trusted by its literal ARN (its fixed name), so neither stack depends on the
        other's deploy and no reference cycle arises.
        """
        role = grantee.grant_principal
        self.trust(self._trusted_arn(role), tenant_ids=tenant_ids, account=role.principal_account)
        return self._grant_identity_side(grantee)

    @property
    def trusted_role_arns(self) -> list[str]:
        """ARNs of the roles trusted so far (by `trust` or `grant_assume`), in order."""
        return [t.role_arn for t in self._trusted]

    def _trusted_arn(self, principal: iam.IPrincipal) -> str:
        arn = getattr(principal, "role_arn", None)
        if arn is None:
            raise props_error(f"{type(self).__name__}.grant_assume", "grantee", type(principal).__name__,
                              "must be an IAM role (its ARN goes into the trust policy)")
        if not Token.is_unresolved(arn) or not isinstance(principal, Construct) \
                or Stack.of(principal) is Stack.of(self):
            return str(arn)
        name = getattr(principal, "_physical_name", None)
        account = Stack.of(principal).account
        if not isinstance(name, str) or Token.is_unresolved(name) or Token.is_unresolved(account):
            raise props_error(f"{type(self).__name__}.grant_assume", "grantee", principal.node.path,
                              "must have a fixed role_name and its stack an explicit account: a role in another stack "
                              "is trusted by its literal ARN (a reference would tie the two stacks' deploys together)")
        return Stack.of(self).format_arn(service="iam", region="", account=account, resource="role",
                                         resource_name=name, arn_format=ArnFormat.SLASH_RESOURCE_NAME)

    def _trust_document(self) -> iam.PolicyDocument:
        groups: dict[tuple[Any, ...], list[_Trusted]] = {}
        for trusted in self._trusted:
            groups.setdefault((trusted.tenant_ids, trusted.organization_id), []).append(trusted)
        statements = [self._trust_statement(n, members) for n, members in enumerate(groups.values(), start=1)]
        return iam.PolicyDocument(statements=statements)

    def _trust_statement(self, n: int, members: list[_Trusted]) -> iam.PolicyStatement:
        first = members[0]
        per_user = self.isolation == memory.ISOLATION_USER
        tags = [memory.TENANT_TAG, *([memory.ACTOR_TAG] if per_user else [])]
        arns = [m.role_arn for m in members]
        conditions: dict[str, dict[str, Any]] = {
            "ArnEquals": {"aws:PrincipalArn": arns[0] if len(arns) == 1 else arns},
            "Null": {f"aws:RequestTag/{tag}": "false" for tag in tags},
            "ForAllValues:StringEquals": {"aws:TagKeys": list(memory.SESSION_TAG_KEYS)},
        }
        string_equals: dict[str, Any] = {}
        if per_user:
            # The session's source identity (CloudTrail's "who") must be the user it is tagged for.
            string_equals["sts:SourceIdentity"] = f"${{aws:RequestTag/{memory.ACTOR_TAG}}}"
        if first.tenant_ids is not None:
            string_equals[f"aws:RequestTag/{memory.TENANT_TAG}"] = list(first.tenant_ids)
        if first.organization_id is not None:
            string_equals["aws:PrincipalOrgID"] = first.organization_id
        if string_equals:
            conditions["StringEquals"] = string_equals
        accounts = list(dict.fromkeys(m.account for m in members))
        return iam.PolicyStatement(sid=f"VendFor{n}", actions=list(perms.ASSUME_TAGGED),
                                   principals=[iam.AccountPrincipal(a) for a in accounts], conditions=conditions)

    # -- import -----------------------------------------------------------------------------------------------

    @classmethod
    def from_token_vending_machine_attributes(cls, scope: Construct, id: str, *, role_arn: str,
                                              isolation: str = memory.ISOLATION_USER) -> ITokenVendingMachine:
        """Reference a TVM of another stack or account; ``grant_assume`` then adds only the caller's side (the
        TVM's owner trusts the caller's role by name)."""
        problems = new_problems()
        problems.check(rules.ROLE_ARN, "role_arn", role_arn, required=True)
        problems.check_choice("isolation", isolation, memory.ISOLATION_LEVELS)
        raise_if_any(f"{cls.__name__}.from_token_vending_machine_attributes", problems)
        return _ImportedTokenVendingMachine(scope, id, role_arn=role_arn, isolation=isolation)


class _ImportedTokenVendingMachine(_TokenVendingMachineBase):
    def __init__(self, scope: Construct, id: str, *, role_arn: str, isolation: str) -> None:
        super().__init__(scope, id)
        self.role_arn = role_arn
        self.isolation = isolation

    def grant_assume(self, grantee: iam.IGrantable, *, tenant_ids: Sequence[str] | None = None) -> iam.Grant:
        """The identity side only; ``tenant_ids`` is enforced by the TVM's own trust policy."""
        return self._grant_identity_side(grantee)


@jsii.implements(IValidation)
class _TrustPolicyChecks:
    """Synth fails for a TVM nobody may assume (IAM rejects an empty trust policy) or whose trust policy is too big."""

    def __init__(self, tvm: TokenVendingMachine) -> None:
        self._tvm = tvm

    def validate(self) -> list[str]:
        if not self._tvm._trusted:
            return [f"{self._tvm.node.path}: no trusted principal; call grant_assume(role) or trust(role_arn)"]
        resolved = Stack.of(self._tvm).resolve(self._tvm._trust_document().to_json())
        size = len(json.dumps(_estimate(resolved), separators=(",", ":")))
        if size > TRUST_POLICY_MAX_CHARS:
            return [f"{self._tvm.node.path}: the trust policy is about {size} characters; IAM allows "
                    f"{TRUST_POLICY_MAX_CHARS} by default (quota 'Role trust policy length', up to 4096). Trust fewer "
                    "roles, give roles with the same tenants one allowlist, or shorten the allowlists"]
        return []


def _estimate(value: Any) -> Any:
    """The document with every CloudFormation intrinsic counted as a typical ARN."""
    if isinstance(value, dict):
        if any(k.startswith("Fn::") or k == "Ref" for k in value):
            return "x" * _ESTIMATED_TOKEN_CHARS
        return {k: _estimate(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_estimate(v) for v in value]
    return value
