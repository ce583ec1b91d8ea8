"""`WorkerAccessRole`: the role in a worker account that only the supervisor's orchestrator may assume."""

from __future__ import annotations

import re
from typing import Sequence

from aws_cdk import Duration, Stack, Token
from aws_cdk import aws_iam as iam
from constructs import Construct

from . import perms
from .naming import ACTOR_TAG, TENANT_TAG
from .nag import acknowledge_inline_policy
from .validation import Problems

ROLE_ARN_PATTERN = re.compile(r"^arn:aws[a-z-]*:iam::(?P<account>\d{12}):role/[\w+=,.@/-]{1,512}$")
ROLE_NAME_PATTERN = re.compile(r"^[\w+=,.@-]{1,64}$")
EXTERNAL_ID_PATTERN = re.compile(r"^[\w+=,.@:/-]{2,1224}$")
ORG_ID_PATTERN = re.compile(r"^o-[a-z0-9]{10,32}$")
AGENT_ALIAS_ARN_PATTERN = re.compile(
    r"^arn:aws[a-z-]*:bedrock:[a-z0-9-]+:\d{12}:agent-alias/[0-9a-zA-Z]{10}/(TSTALIASID|[0-9a-zA-Z]{10})$")
RUNTIME_ARN_PATTERN = re.compile(
    r"^arn:aws[a-z-]*:bedrock-agentcore:[a-z0-9-]+:\d{12}:runtime/[a-zA-Z][a-zA-Z0-9_]{0,99}-[a-zA-Z0-9]{10}"
    r"(/runtime-endpoint/[a-zA-Z][a-zA-Z0-9_]{0,47})?$")


class WorkerAccessRole(Construct):
    """Lets the supervisor's orchestrator invoke this account's worker agent, and nothing else.

    Trust: the supervisor account principal, with `aws:PrincipalArn` naming the orchestrator role (so deploy order
    does not matter), `sts:ExternalId`, and optionally `aws:PrincipalOrgID`. Permissions: invoke exactly the
    given agent alias or AgentCore Runtime ARNs. Source identity and the design's session tags are allowed so
    CloudTrail in this account attributes each call to the user's actor hash and tenant.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        orchestrator_role_arn: str,
        external_id: str,
        agent_alias_arns: Sequence[str] = (),
        agent_runtime_arns: Sequence[str] = (),
        role_name: str | None = None,
        organization_id: str | None = None,
        max_session_duration: Duration = Duration.hours(1),
    ) -> None:
        """
        :param orchestrator_role_arn: the only role allowed to assume this one (in the supervisor account).
        :param external_id: required `sts:ExternalId`.
        :param agent_alias_arns: Bedrock Agent alias ARNs this role may invoke.
        :param agent_runtime_arns: AgentCore Runtime (or runtime endpoint) ARNs this role may invoke.
        :param role_name: a fixed name, so the orchestrator can name the role without lookups.
        :param organization_id: also require the caller to be in this AWS Organization.
        """
        super().__init__(scope, id)
        problems = Problems()
        problems.check_pattern("orchestrator_role_arn", orchestrator_role_arn, ROLE_ARN_PATTERN,
                               "must be an IAM role ARN arn:aws:iam::<account>:role/<name>")
        problems.check_pattern("external_id", external_id, EXTERNAL_ID_PATTERN,
                               "2-1224 characters of letters, digits and +=,.@:/-_")
        problems.check_pattern("role_name", role_name, ROLE_NAME_PATTERN, "1-64 characters of letters, digits and +=,.@_-")
        problems.check_pattern("organization_id", organization_id, ORG_ID_PATTERN, "an AWS Organizations id o-xxxxxxxxxx")
        for arn in agent_alias_arns:
            problems.check_pattern("agent_alias_arns", arn, AGENT_ALIAS_ARN_PATTERN,
                                   "an exact Bedrock Agent alias ARN ...:agent-alias/<agentId>/<aliasId> (no wildcards)")
        for arn in agent_runtime_arns:
            problems.check_pattern("agent_runtime_arns", arn, RUNTIME_ARN_PATTERN,
                                   "an exact AgentCore Runtime ARN ...:runtime/<id>[/runtime-endpoint/<name>]")
        if not list(agent_alias_arns) and not list(agent_runtime_arns):
            problems.add("agent_alias_arns/agent_runtime_arns", [], "name at least one agent to invoke")
        problems.raise_if_any(type(self).__name__)

        match = ROLE_ARN_PATTERN.match(orchestrator_role_arn) if not Token.is_unresolved(orchestrator_role_arn) else None
        supervisor_account = match["account"] if match else Stack.of(self).account
        principal_conditions: dict[str, dict[str, object]] = {
            "ArnEquals": {"aws:PrincipalArn": orchestrator_role_arn},
        }
        if organization_id:
            principal_conditions["StringEquals"] = {"aws:PrincipalOrgID": organization_id}

        self.role = iam.Role(
            self,
            "Role",
            role_name=role_name,
            description="Agent Memory Mesh: lets the supervisor's orchestrator invoke this account's worker agent",
            assumed_by=iam.AccountPrincipal(supervisor_account),
            max_session_duration=max_session_duration,
        )
        trust = iam.PolicyDocument(statements=[
            iam.PolicyStatement(
                sid="OrchestratorAssumesWithExternalId",
                actions=["sts:AssumeRole"],
                principals=[iam.AccountPrincipal(supervisor_account)],
                conditions={**principal_conditions,
                            "StringEquals": {**principal_conditions.get("StringEquals", {}),
                                             "sts:ExternalId": external_id}},
            ),
            iam.PolicyStatement(
                sid="OrchestratorAttributesSession",
                actions=["sts:SetSourceIdentity", "sts:TagSession"],
                principals=[iam.AccountPrincipal(supervisor_account)],
                conditions={**principal_conditions,
                            "ForAllValues:StringEquals": {"aws:TagKeys": [TENANT_TAG, ACTOR_TAG]}},
            ),
        ])
        cfn_role = self.role.node.default_child
        assert isinstance(cfn_role, iam.CfnRole)
        cfn_role.assume_role_policy_document = trust

        acknowledge_inline_policy(self.role)
        if agent_alias_arns:
            self.role.add_to_policy(iam.PolicyStatement(
                sid="InvokeWorkerAgent", actions=list(perms.BEDROCK_AGENT_INVOKE), resources=list(agent_alias_arns)))
        if agent_runtime_arns:
            self.role.add_to_policy(iam.PolicyStatement(
                sid="InvokeWorkerRuntime", actions=list(perms.AGENTCORE_RUNTIME_INVOKE),
                resources=list(agent_runtime_arns)))

    @property
    def role_arn(self) -> str:
        return self.role.role_arn
