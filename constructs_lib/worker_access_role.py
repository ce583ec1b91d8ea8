"""`WorkerAccessRole`: the role in a worker account that only the memory home's orchestrator may assume."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from aws_cdk import Arn, ArnFormat, Duration, Stack, Token
from aws_cdk import aws_iam as iam
from constructs import Construct

from runtime.contract import AgentRef, memory, rules

from . import perms
from .errors import new_problems, raise_if_any
from .nag import acknowledge_inline_policy

__all__ = ["WorkerAccessRole"]

_DEFAULT_MAX_SESSION = Duration.hours(1)


class WorkerAccessRole(Construct):
    """Lets the memory home's orchestrator invoke this account's worker agent, for the allowed tenants only.

    Trust: the orchestrator's account, narrowed by ``aws:PrincipalArn`` to the orchestrator role (so deploy order
    does not matter), ``sts:ExternalId``, a ``TenantID`` session tag among ``allowed_tenants``, an ``ActorID`` tag,
    no other tag keys, and a source identity equal to the ``ActorID`` tag (CloudTrail in this account names the
    user). Permissions: invoke exactly the worker agent's alias, or runtime and its DEFAULT endpoint.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        orchestrator_role_arn: str,
        external_id: str,
        allowed_tenants: Sequence[str],
        agent: AgentRef,
        orchestrator_account: str | None = None,
        role_name: str | None = None,
        organization_id: str | None = None,
        max_session_duration: Duration = _DEFAULT_MAX_SESSION,
    ) -> None:
        """:param orchestrator_role_arn: the only role allowed to assume this one (in the memory home's account).
        :param external_id: required ``sts:ExternalId`` (2-1224 characters; never shown in messages).
        :param allowed_tenants: literal tenant ids whose conversations this worker may take.
        :param agent: the worker agent (a Bedrock Agent alias of this account and Region, or an AgentCore Runtime).
        :param orchestrator_account: the orchestrator's account; default parsed from ``orchestrator_role_arn``
            (at deploy time when it is a token), never this stack's own account by assumption.
        :param role_name: a fixed name, so the orchestrator names the role without lookups.
        :param organization_id: also require the caller to be in this AWS Organization.
        :param max_session_duration: 1-12 hours (default 1 hour).
        """
        super().__init__(scope, id)
        problems = new_problems()
        problems.check(rules.ROLE_ARN, "orchestrator_role_arn", orchestrator_role_arn, required=True)
        problems.check(rules.ACCOUNT_ID, "orchestrator_account", orchestrator_account)
        problems.check(rules.EXTERNAL_ID, "external_id", external_id, required=True, redact=True)
        problems.check(rules.ROLE_NAME, "role_name", role_name)
        problems.check(rules.ORG_ID, "organization_id", organization_id)
        tenants = list(allowed_tenants) if not isinstance(allowed_tenants, str) else []
        if not tenants:
            problems.add("allowed_tenants", allowed_tenants, "must name at least one tenant id")
        for i, tenant in enumerate(tenants):
            problems.check(rules.TENANT_ID, f"allowed_tenants[{i}]", tenant, required=True, literal=True)
        agent.check(problems, "agent")
        raise_if_any(type(self).__name__, problems)

        stack = Stack.of(self)
        account = orchestrator_account or _account_of(orchestrator_role_arn)
        self.role = iam.Role(
            self, "Role",
            role_name=role_name,
            description="Agent Memory Mesh: lets the memory home's orchestrator invoke this account's worker agent",
            assumed_by=iam.AccountPrincipal(account),
            max_session_duration=max_session_duration,
        )
        conditions: dict[str, dict[str, Any]] = {
            "ArnEquals": {"aws:PrincipalArn": orchestrator_role_arn},
            "StringEquals": {
                f"aws:RequestTag/{memory.TENANT_TAG}": tenants,
                "sts:SourceIdentity": f"${{aws:RequestTag/{memory.ACTOR_TAG}}}",
                **({"aws:PrincipalOrgID": organization_id} if organization_id else {}),
            },
            "Null": {f"aws:RequestTag/{tag}": "false" for tag in memory.SESSION_TAG_KEYS},
            "ForAllValues:StringEquals": {"aws:TagKeys": list(memory.SESSION_TAG_KEYS)},
        }
        with_external_id = {**conditions, "StringEquals": {**conditions["StringEquals"], "sts:ExternalId": external_id}}
        # sts:ExternalId is checked on the AssumeRole statement (AWS's documented pattern); the tag and source
        # identity conditions are on both, so an untagged or unattributed request is denied either way.
        trust = iam.PolicyDocument(statements=[
            iam.PolicyStatement(sid="OrchestratorAssumesWithExternalId", actions=list(perms.ASSUME),
                                principals=[iam.AccountPrincipal(account)], conditions=with_external_id),
            iam.PolicyStatement(sid="OrchestratorTagsAndAttributesSession", actions=list(perms.TAG_AND_ATTRIBUTE),
                                principals=[iam.AccountPrincipal(account)], conditions=conditions),
        ])
        cfn_role = self.role.node.default_child
        assert isinstance(cfn_role, iam.CfnRole)
        cfn_role.assume_role_policy_document = trust

        self.agent = agent
        self.allowed_tenants = tuple(tenants)
        invoke_arns = agent.invoke_arns(partition=stack.partition, region=agent.region(stack.region),
                                        account=agent.account(stack.account))
        self.role.add_to_principal_policy(iam.PolicyStatement(
            sid="InvokeWorkerAgent", actions=agent.invoke_actions, resources=invoke_arns))
        acknowledge_inline_policy(self.role)

    @property
    def role_arn(self) -> str:
        """ARN of this role, the one the orchestrator assumes to invoke the worker agent."""
        return self.role.role_arn


def _account_of(role_arn: str) -> str:
    """The account of a role ARN: parsed now when literal, by CloudFormation when a token."""
    if Token.is_unresolved(role_arn):
        return str(Arn.split(role_arn, ArnFormat.SLASH_RESOURCE_NAME).account)
    return role_arn.split(":")[4]
