"""WorkerAccessRole: trust by the orchestrator only, for the allowed tenants, attributed to the user."""

from __future__ import annotations

from typing import Any

import pytest
from aws_cdk import CfnParameter

from constructs_lib import AgentRef, PropsError, WorkerAccessRole
from tests.constructs_lib.helpers import new_stack, policy_statements, template_of, trust_of

ORCHESTRATOR = "arn:aws:iam::111111111111:role/mesh-orchestrator"
AGENT = AgentRef.bedrock_agent(agent_id="BILLINGAG1", alias_id="LIVEALIAS1")
RUNTIME = "arn:aws:bedrock-agentcore:us-east-1:222222222222:runtime/billing_agent-AbCdEf1234"
CONDITIONS: dict[str, Any] = {
    "ArnEquals": {"aws:PrincipalArn": ORCHESTRATOR},
    "StringEquals": {"aws:RequestTag/TenantID": ["acme", "globex"],
                     "sts:SourceIdentity": "${aws:RequestTag/ActorID}"},
    "Null": {"aws:RequestTag/TenantID": "false", "aws:RequestTag/ActorID": "false"},
    "ForAllValues:StringEquals": {"aws:TagKeys": ["TenantID", "ActorID"]},
}


def _role(stack, **kwargs):
    props = {"orchestrator_role_arn": ORCHESTRATOR, "external_id": "mesh-billing-2026",
             "allowed_tenants": ["acme", "globex"], "agent": AGENT, "role_name": "mesh-worker-billing", **kwargs}
    return WorkerAccessRole(stack, "Access", **props)


def test_trust_requires_the_external_id_the_tenant_tags_and_the_source_identity():
    stack = new_stack(account="222222222222")
    access = _role(stack)
    assert trust_of(template_of(stack), access.role) == [
        {"Sid": "OrchestratorAssumesWithExternalId", "Action": "sts:AssumeRole", "Effect": "Allow",
         "Principal": {"AWS": "arn:aws:iam::111111111111:root"},
         "Condition": {**CONDITIONS, "StringEquals": {**CONDITIONS["StringEquals"],
                                                      "sts:ExternalId": "mesh-billing-2026"}}},
        {"Sid": "OrchestratorTagsAndAttributesSession", "Action": ["sts:SetSourceIdentity", "sts:TagSession"],
         "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111111111111:root"}, "Condition": CONDITIONS},
    ]


def test_it_invokes_exactly_the_worker_agents_alias():
    stack = new_stack(account="222222222222")
    access = _role(stack)
    assert policy_statements(template_of(stack), access.role) == [
        {"Action": "bedrock:InvokeAgent", "Effect": "Allow", "Sid": "InvokeWorkerAgent",
         "Resource": "arn:aws:bedrock:us-east-1:222222222222:agent-alias/BILLINGAG1/LIVEALIAS1"}]


def test_an_agentcore_runtime_worker_is_invoked_on_the_runtime_and_its_default_endpoint():
    stack = new_stack(account="222222222222")
    access = _role(stack, agent=AgentRef.agentcore_runtime(runtime_arn=RUNTIME))
    (stmt,) = policy_statements(template_of(stack), access.role)
    assert stmt["Action"] == "bedrock-agentcore:InvokeAgentRuntime"
    assert stmt["Resource"] == [RUNTIME, f"{RUNTIME}/runtime-endpoint/DEFAULT"]


def test_an_organization_adds_the_principal_org_condition():
    stack = new_stack(account="222222222222")
    access = _role(stack, organization_id="o-a1b2c3d4e5")
    for statement in trust_of(template_of(stack), access.role):
        assert statement["Condition"]["StringEquals"]["aws:PrincipalOrgID"] == "o-a1b2c3d4e5"


def test_a_token_orchestrator_arn_never_trusts_this_stacks_own_account():
    stack = new_stack(account="222222222222")
    arn = CfnParameter(stack, "OrchestratorArn").value_as_string
    access = _role(stack, orchestrator_role_arn=arn)
    principal = trust_of(template_of(stack), access.role)[0]["Principal"]["AWS"]
    assert "222222222222" not in repr(principal)
    assert "Fn::Select" in repr(principal)  # the account is parsed from the ARN by CloudFormation


def test_an_explicit_orchestrator_account_is_used_as_is():
    stack = new_stack(account="222222222222")
    arn = CfnParameter(stack, "OrchestratorArn").value_as_string
    access = _role(stack, orchestrator_role_arn=arn, orchestrator_account="111111111111")
    assert trust_of(template_of(stack), access.role)[0]["Principal"] == {"AWS": "arn:aws:iam::111111111111:root"}


@pytest.mark.parametrize("props, message", [
    ({"orchestrator_role_arn": "arn:aws:iam::1111:role/x"},
     "orchestrator_role_arn='arn:aws:iam::1111:role/x': must be an IAM role ARN such as "
     "'arn:aws:iam::123456789012:role/name'"),
    ({"orchestrator_account": "1111"}, "orchestrator_account='1111': must be a 12-digit AWS account id"),
    ({"external_id": "x"}, "external_id=<redacted>: must be 2-1224 letters, digits and _+=,.@:/-"),
    ({"allowed_tenants": []}, "allowed_tenants=[]: must name at least one tenant id"),
    ({"allowed_tenants": ["Acme"]}, "allowed_tenants[0]='Acme': must be 3-40 lowercase letters, digits and '-', "
                                    "starting and ending with a letter or digit"),
    ({"role_name": "bad name"}, "role_name='bad name': must be 1-64 letters, digits and +=,.@_-"),
    ({"organization_id": "org"}, "organization_id='org': must be an AWS Organizations id such as 'o-a1b2c3d4e5'"),
    ({"agent": AgentRef.bedrock_agent(agent_id="short", alias_id="LIVEALIAS1")},
     "agent.agent_id='short': must be a Bedrock agent id (10 letters or digits)"),
])
def test_each_bad_prop_has_its_message(props, message):
    with pytest.raises(PropsError) as err:
        _role(new_stack(account="222222222222"), **props)
    assert err.value.problems == [message]


def test_a_token_tenant_is_reported_as_literal_only():
    stack = new_stack(account="222222222222")
    with pytest.raises(PropsError) as err:
        _role(stack, allowed_tenants=[CfnParameter(stack, "Tenant").value_as_string])
    assert err.value.problems == ["allowed_tenants[0]=<deploy-time token>: must be a literal value, not a deploy-time "
                                  "token (it is written into a file or an IAM condition at synth)"]
