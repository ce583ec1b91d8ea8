"""TokenVendingMachine: who may vend (trust), what a tenant session reaches (permissions), validation."""

from __future__ import annotations

import pytest
from aws_cdk import Duration
from aws_cdk import aws_iam as iam

from constructs_lib import AgentMemory, PropsError, TokenVendingMachine, VectorMemoryStore
from tests.constructs_lib.helpers import as_list, find_statement, new_stack, resources, statements, template_of


def _tvm(stack, **kwargs):
    store = VectorMemoryStore(stack, "Store", tenant_ids=["acme"])
    memory = AgentMemory(stack, "Memory")
    return TokenVendingMachine(stack, "Tvm", vector_store=store, agent_memory=memory, role_name="mesh-tvm", **kwargs)


def _tvm_role(t):
    return next(r for k, r in resources(t, "AWS::IAM::Role").items() if k.startswith("TvmRole"))


def test_trust_names_each_principal_with_tag_and_key_conditions():
    stack = new_stack()
    tvm = _tvm(stack)
    caller = iam.Role(stack, "Orchestrator", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"))
    tvm.grant_assume(caller)
    tvm.trust("arn:aws:iam::222222222222:role/worker-agent", tenant_ids=["acme", "globex"])
    caller_id = stack.get_logical_id(caller.node.default_child)
    t = template_of(stack)
    trust = _tvm_role(t)["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert len(trust) == 2
    same, cross = trust
    for stmt in trust:
        assert sorted(stmt["Action"]) == ["sts:AssumeRole", "sts:SetSourceIdentity", "sts:TagSession"]
        assert stmt["Condition"]["Null"] == {"aws:RequestTag/TenantID": "false"}
        assert stmt["Condition"]["ForAllValues:StringEquals"] == {"aws:TagKeys": ["TenantID", "ActorID"]}
    assert same["Condition"]["ArnEquals"] == {"aws:PrincipalArn": {"Fn::GetAtt": [caller_id, "Arn"]}}
    assert "StringEquals" not in same["Condition"]
    assert same["Principal"] == {"AWS": "arn:aws:iam::111111111111:root"}
    assert cross["Principal"] == {"AWS": "arn:aws:iam::222222222222:root"}
    assert cross["Condition"]["ArnEquals"] == {"aws:PrincipalArn": "arn:aws:iam::222222222222:role/worker-agent"}
    assert cross["Condition"]["StringEquals"] == {"aws:RequestTag/TenantID": ["acme", "globex"]}


def test_no_trust_statement_is_unconditioned_and_root_is_never_trusted_bare():
    stack = new_stack()
    tvm = _tvm(stack)
    tvm.trust("arn:aws:iam::111111111111:role/some-role")
    for stmt in _tvm_role(template_of(stack))["Properties"]["AssumeRolePolicyDocument"]["Statement"]:
        assert stmt.get("Condition", {}).get("ArnEquals", {}).get("aws:PrincipalArn")


def test_grant_assume_gives_the_caller_the_identity_policy_side():
    stack = new_stack()
    tvm = _tvm(stack)
    caller = iam.Role(stack, "Orchestrator", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"))
    tvm.grant_assume(caller)
    stmt = find_statement(statements(template_of(stack), role_logical_prefix="Orchestrator"), "sts:AssumeRole")
    assert sorted(stmt["Action"]) == ["sts:AssumeRole", "sts:SetSourceIdentity", "sts:TagSession"]
    assert stmt["Resource"] == {"Fn::GetAtt": [stack.get_logical_id(tvm.role.node.default_child), "Arn"]}


def test_permissions_reach_only_the_tagged_tenant_index_and_actor_namespaces():
    stack = new_stack()
    _tvm(stack).trust("arn:aws:iam::111111111111:role/caller")
    t = template_of(stack)
    stmts = list(statements(t, role_logical_prefix="TvmRole"))
    (bucket_id,) = resources(t, "AWS::S3Vectors::VectorBucket")
    vectors = find_statement(stmts, "s3vectors:QueryVectors")
    assert vectors["Resource"] == {"Fn::Join": ["", [{"Fn::GetAtt": [bucket_id, "VectorBucketArn"]},
                                                     "/index/tenant-${aws:PrincipalTag/TenantID}"]]}
    assert "s3vectors:CreateIndex" not in str(stmts) and "s3vectors:ListIndexes" not in str(stmts)
    events = find_statement(stmts, "bedrock-agentcore:CreateEvent")
    assert events["Condition"] == {"StringLike": {"bedrock-agentcore:actorId": "${aws:PrincipalTag/TenantID}:*"}}
    records = find_statement(stmts, "bedrock-agentcore:RetrieveMemoryRecords")
    assert "bedrock-agentcore:namespace" in records["Condition"]["StringLike"]
    kms = [s for s in stmts if "kms:Decrypt" in as_list(s["Action"])]
    assert {tuple(s["Condition"]["StringEquals"]["kms:ViaService"]) for s in kms} == {
        ("s3vectors.us-east-1.amazonaws.com",), ("bedrock-agentcore.us-east-1.amazonaws.com",)}
    for stmt in stmts:
        assert stmt["Resource"] != "*"


def test_per_actor_requires_the_actor_tag_and_scopes_agentcore_to_it():
    stack = new_stack()
    _tvm(stack, per_actor=True).trust("arn:aws:iam::111111111111:role/caller")
    t = template_of(stack)
    (trust,) = _tvm_role(t)["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Condition"]["Null"] == {"aws:RequestTag/TenantID": "false", "aws:RequestTag/ActorID": "false"}
    events = find_statement(statements(t, role_logical_prefix="TvmRole"), "bedrock-agentcore:CreateEvent")
    assert events["Condition"]["StringLike"]["bedrock-agentcore:actorId"] == (
        "${aws:PrincipalTag/TenantID}:${aws:PrincipalTag/ActorID}")


def test_max_session_duration_is_set():
    stack = new_stack()
    _tvm(stack, max_session_duration=Duration.hours(2)).trust("arn:aws:iam::111111111111:role/caller")
    assert _tvm_role(template_of(stack))["Properties"]["MaxSessionDuration"] == 7200


def test_a_tvm_nobody_may_assume_fails_synth():
    stack = new_stack()
    _tvm(stack)
    with pytest.raises(Exception, match="TokenVendingMachine: no trusted principal"):
        template_of(stack)


def test_invalid_props_are_listed_together():
    with pytest.raises(PropsError) as err:
        stack = new_stack()
        store = VectorMemoryStore(stack, "Store")
        TokenVendingMachine(stack, "Tvm", vector_store=store, role_name="bad name!",
                            max_session_duration=Duration.hours(13))
    assert err.value.problems == [
        "role_name='bad name!': 1-64 characters of letters, digits and +=,.@_-",
        "max_session_duration='46800s': must be from 1 hour to 12 hours (STS limit)",
    ]


def test_trust_validates_role_arn_and_tenants():
    tvm = _tvm(new_stack())
    with pytest.raises(PropsError) as err:
        tvm.trust("arn:aws:iam::123:user/bob", tenant_ids=["ACME", "*"])
    assert err.value.problems == [
        "role_arn='arn:aws:iam::123:user/bob': must be an IAM role ARN arn:aws:iam::<account>:role/<name>",
        "tenant_ids='ACME': tenant ids are 3-40 lowercase letters, digits and '-', starting and ending with a letter "
        "or digit",
        "tenant_ids='*': tenant ids are 3-40 lowercase letters, digits and '-', starting and ending with a letter "
        "or digit",
    ]
    with pytest.raises(PropsError, match=r"tenant_ids=\[\]: an allowlist must name at least one tenant"):
        tvm.trust("arn:aws:iam::111111111111:role/x", tenant_ids=[])


def test_organization_condition_on_a_trusted_principal():
    stack = new_stack()
    _tvm(stack).trust("arn:aws:iam::222222222222:role/agent", tenant_ids=["acme"], organization_id="o-abcdefghij")
    (trust,) = _tvm_role(template_of(stack))["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Condition"]["StringEquals"] == {"aws:RequestTag/TenantID": ["acme"],
                                                  "aws:PrincipalOrgID": "o-abcdefghij"}


def test_grant_assume_rejects_a_non_role_principal():
    stack = new_stack()
    with pytest.raises(PropsError) as err:
        _tvm(stack).grant_assume(iam.ServicePrincipal("lambda.amazonaws.com"))
    assert err.value.problems == ["principal=ServicePrincipal: must be an IAM role (its ARN goes into the trust policy)"]
