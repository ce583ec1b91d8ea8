"""WorkerAccessRole: trusted only by the orchestrator (PrincipalArn + ExternalId), invokes one agent exactly."""

from __future__ import annotations

import pytest

from constructs_lib import PropsError, WorkerAccessRole
from tests.constructs_lib.helpers import as_list, new_stack, resources, statements, template_of

ORCH = "arn:aws:iam::111111111111:role/memory-mesh-orchestrator"
ALIAS = "arn:aws:bedrock:us-east-1:222222222222:agent-alias/BILLINGAG1/LIVEALIAS1"
RUNTIME = "arn:aws:bedrock-agentcore:us-east-1:222222222222:runtime/billing_agent-AbCdEf1234"


def _role(**kwargs):
    stack = new_stack(account="222222222222")
    WorkerAccessRole(stack, "Worker", **{"orchestrator_role_arn": ORCH, "external_id": "ext-123",
                                         "role_name": "memory-mesh-worker-billing", **kwargs})
    return template_of(stack)


def _trust(t):
    (role,) = resources(t, "AWS::IAM::Role").values()
    return role["Properties"]


def test_trust_requires_the_orchestrator_role_and_external_id():
    props = _trust(_role(agent_alias_arns=[ALIAS]))
    assert props["RoleName"] == "memory-mesh-worker-billing"
    assume, attribute = props["AssumeRolePolicyDocument"]["Statement"]
    assert assume["Action"] == "sts:AssumeRole"
    assert assume["Principal"] == {"AWS": "arn:aws:iam::111111111111:root"}
    assert assume["Condition"] == {"ArnEquals": {"aws:PrincipalArn": ORCH},
                                   "StringEquals": {"sts:ExternalId": "ext-123"}}
    assert sorted(attribute["Action"]) == ["sts:SetSourceIdentity", "sts:TagSession"]
    assert attribute["Condition"] == {"ArnEquals": {"aws:PrincipalArn": ORCH},
                                      "ForAllValues:StringEquals": {"aws:TagKeys": ["TenantID", "ActorID"]}}


def test_organization_condition_is_added_to_both_statements():
    props = _trust(_role(agent_alias_arns=[ALIAS], organization_id="o-abcdefghij"))
    for stmt in props["AssumeRolePolicyDocument"]["Statement"]:
        assert stmt["Condition"]["StringEquals"]["aws:PrincipalOrgID"] == "o-abcdefghij"


def test_invokes_only_the_exact_agent_alias():
    (stmt,) = statements(_role(agent_alias_arns=[ALIAS]))
    assert stmt["Action"] == "bedrock:InvokeAgent"
    assert stmt["Resource"] == ALIAS


def test_invokes_only_the_exact_runtime():
    (stmt,) = statements(_role(agent_runtime_arns=[RUNTIME, f"{RUNTIME}/runtime-endpoint/DEFAULT"]))
    assert stmt["Action"] == "bedrock-agentcore:InvokeAgentRuntime"
    assert as_list(stmt["Resource"]) == [RUNTIME, f"{RUNTIME}/runtime-endpoint/DEFAULT"]


def test_validation_rejects_wildcards_and_lists_every_problem():
    with pytest.raises(PropsError) as err:
        _role(orchestrator_role_arn="arn:aws:iam::111111111111:user/x", external_id="x",
              agent_alias_arns=["arn:aws:bedrock:us-east-1:222222222222:agent-alias/*"],
              organization_id="org-1")
    assert err.value.problems == [
        "orchestrator_role_arn='arn:aws:iam::111111111111:user/x': must be an IAM role ARN "
        "arn:aws:iam::<account>:role/<name>",
        "external_id='x': 2-1224 characters of letters, digits and +=,.@:/-_",
        "organization_id='org-1': an AWS Organizations id o-xxxxxxxxxx",
        "agent_alias_arns='arn:aws:bedrock:us-east-1:222222222222:agent-alias/*': an exact Bedrock Agent alias ARN "
        "...:agent-alias/<agentId>/<aliasId> (no wildcards)",
    ]


def test_an_agent_is_required():
    with pytest.raises(PropsError) as err:
        _role()
    assert err.value.problems == ["agent_alias_arns/agent_runtime_arns=[]: name at least one agent to invoke"]
