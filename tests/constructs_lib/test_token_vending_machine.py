"""TokenVendingMachine: the exact ABAC statements per isolation level and access, the trust policy, validation."""

from __future__ import annotations

from typing import Any

import pytest
from aws_cdk import Duration, Environment, Stack
from aws_cdk import aws_iam as iam

from constructs_lib import PropsError, TokenVendingMachine, TvmAccess
from tests.constructs_lib.helpers import (
    ACTOR,
    TENANT,
    actions_of,
    lid,
    memory_home,
    new_app,
    new_stack,
    policy_statements,
    ref,
    synth,
    template_of,
    trust_of,
)

ASSUME = ["sts:AssumeRole", "sts:SetSourceIdentity", "sts:TagSession"]
TAGS = {"aws:TagKeys": ["TenantID", "ActorID"]}
WORKER_ROLE = "arn:aws:iam::222222222222:role/billing-agent"


def _tvm(home, **kwargs):
    return TokenVendingMachine(home.stack, "Tvm", vector_store=home.store, agent_memory=home.memory,
                               state_table=home.table, role_name="mesh-tvm", **kwargs)


def _lambda_role(stack, id="Fn"):
    return iam.Role(stack, id, assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"))


def _index(home, suffix):
    return {"Fn::Join": ["", [ref(home.store.bucket, "VectorBucketArn"), f"/index/{suffix}"]]}


def _kms(service):
    return {"Action": ["kms:Decrypt", "kms:GenerateDataKey"], "Effect": "Allow",
            "Resource": {"Fn::GetAtt": ["Key961B73FD", "Arn"]},
            "Condition": {"StringEquals": {"kms:ViaService": [f"{service}.us-east-1.amazonaws.com"]}}}


def _sorted(statements):
    return sorted(statements, key=lambda s: repr(sorted(s.items())))


def test_user_isolation_statements_are_exactly_the_memory_homes():
    home = memory_home()
    tvm = _tvm(home)
    tvm.grant_assume(_lambda_role(home.stack))
    memory_arn = {"Fn::GetAtt": [lid(home.memory.cfn_memory), "MemoryArn"]}
    namespaces = [f"/summaries/{TENANT}:{ACTOR}/*", f"/facts/{TENANT}:{ACTOR}/*", f"/preferences/{TENANT}:{ACTOR}/*"]
    expected = [
        _kms("s3vectors"), _kms("bedrock-agentcore"), _kms("dynamodb"),
        {"Action": ["s3vectors:DeleteVectors", "s3vectors:GetIndex", "s3vectors:GetVectors", "s3vectors:ListVectors",
                    "s3vectors:PutVectors", "s3vectors:QueryVectors"], "Effect": "Allow",
         "Resource": _index(home, f"tenant-{TENANT}.*"),
         "Condition": {"StringEquals": {"aws:ResourceTag/TenantID": TENANT, "aws:ResourceTag/ActorID": ACTOR}}},
        {"Action": ["s3vectors:CreateIndex", "s3vectors:TagResource"], "Effect": "Allow",
         "Resource": _index(home, f"tenant-{TENANT}.*"),
         "Condition": {"StringEquals": {"aws:RequestTag/TenantID": TENANT, "aws:RequestTag/ActorID": ACTOR},
                       "Null": {"aws:RequestTag/TenantID": "false", "aws:RequestTag/ActorID": "false"},
                       "ForAllValues:StringEquals": TAGS,
                       "StringEqualsIfExists": {"aws:ResourceTag/ActorID": ACTOR}}},
        {"Action": ["bedrock-agentcore:CreateEvent", "bedrock-agentcore:DeleteEvent", "bedrock-agentcore:GetEvent",
                    "bedrock-agentcore:ListEvents", "bedrock-agentcore:ListSessions"], "Effect": "Allow",
         "Resource": memory_arn, "Condition": {"StringEquals": {"bedrock-agentcore:actorId": f"{TENANT}:{ACTOR}"}}},
        {"Action": ["bedrock-agentcore:BatchDeleteMemoryRecords", "bedrock-agentcore:DeleteMemoryRecord",
                    "bedrock-agentcore:GetMemoryRecord", "bedrock-agentcore:ListMemoryRecords",
                    "bedrock-agentcore:RetrieveMemoryRecords"],
         "Effect": "Allow", "Resource": memory_arn,
         "Condition": {"StringLike": {"bedrock-agentcore:namespace": namespaces}}},
        {"Action": "bedrock-agentcore:BatchUpdateMemoryRecords", "Effect": "Allow", "Resource": memory_arn,
         "Condition": {"StringLike": {"bedrock-agentcore:sourceNamespace": namespaces},
                       "StringLikeIfExists": {"bedrock-agentcore:namespace": namespaces}}},
        {"Action": ["bedrock-agentcore:ListMemoryRecords", "bedrock-agentcore:RetrieveMemoryRecords"],
         "Effect": "Allow", "Resource": memory_arn,
         "Condition": {"StringLike": {"bedrock-agentcore:namespacePath": namespaces}}},
        {"Action": "dynamodb:GetItem", "Effect": "Allow", "Resource": {"Fn::GetAtt": [lid(home.table.table), "Arn"]},
         "Condition": {"ForAllValues:StringEquals": {"dynamodb:LeadingKeys": [f"ACTOR#{TENANT}:{ACTOR}"]}}},
    ]
    assert _sorted(policy_statements(template_of(home.stack), tvm.role)) == _sorted(expected)


def test_tenant_isolation_replaces_the_actor_by_any_user_of_the_tenant():
    home = memory_home()
    tvm = _tvm(home, isolation="tenant")
    tvm.grant_assume(_lambda_role(home.stack))
    template = template_of(home.stack)
    text = repr(policy_statements(template, tvm.role)) + repr(trust_of(template, tvm.role))
    assert "ActorID" not in text.replace("'aws:TagKeys': ['TenantID', 'ActorID']", "")
    (trust,) = trust_of(template, tvm.role)
    assert trust["Condition"]["Null"] == {"aws:RequestTag/TenantID": "false"}
    assert "StringEquals" not in trust["Condition"]


def test_the_worker_tvm_has_worker_path_actions_only():
    home = memory_home()
    tvm = _tvm(home, access=TvmAccess.WORKERS)
    tvm.trust(WORKER_ROLE, tenant_ids=["acme"])
    actions = actions_of(policy_statements(template_of(home.stack), tvm.role))
    assert actions == {
        "kms:Decrypt", "kms:GenerateDataKey",
        "s3vectors:GetIndex", "s3vectors:GetVectors", "s3vectors:ListVectors", "s3vectors:PutVectors",
        "s3vectors:QueryVectors",
        "bedrock-agentcore:CreateEvent", "bedrock-agentcore:GetEvent", "bedrock-agentcore:ListEvents",
        "bedrock-agentcore:ListSessions", "bedrock-agentcore:ListMemoryRecords",
        "bedrock-agentcore:RetrieveMemoryRecords", "bedrock-agentcore:GetMemoryRecord", "dynamodb:GetItem"}
    for forbidden in ("s3vectors:DeleteVectors", "s3vectors:CreateIndex", "s3vectors:TagResource",
                      "s3vectors:DeleteIndex", "bedrock-agentcore:DeleteEvent",
                      "bedrock-agentcore:BatchUpdateMemoryRecords", "bedrock-agentcore:BatchDeleteMemoryRecords",
                      "bedrock-agentcore:DeleteMemoryRecord"):
        assert forbidden not in actions


def test_trust_binds_the_source_identity_to_the_actor_tag_and_requires_both_tags():
    home = memory_home()
    tvm = _tvm(home)
    role = _lambda_role(home.stack)
    tvm.grant_assume(role)
    assert trust_of(template_of(home.stack), tvm.role) == [{
        "Sid": "VendFor1", "Action": ASSUME, "Effect": "Allow",
        "Principal": {"AWS": "arn:aws:iam::111111111111:root"},
        "Condition": {
            "ArnEquals": {"aws:PrincipalArn": {"Fn::GetAtt": [lid(role), "Arn"]}},
            "Null": {"aws:RequestTag/TenantID": "false", "aws:RequestTag/ActorID": "false"},
            "ForAllValues:StringEquals": TAGS,
            "StringEquals": {"sts:SourceIdentity": "${aws:RequestTag/ActorID}"},
        }}]
    assert policy_statements(template_of(home.stack), role) == [
        {"Action": ASSUME, "Effect": "Allow", "Resource": {"Fn::GetAtt": [lid(tvm.role), "Arn"]}}]


def test_principals_with_the_same_conditions_share_one_statement_and_allowlists_stay_apart():
    home = memory_home()
    tvm = _tvm(home, access=TvmAccess.WORKERS)
    tvm.trust(WORKER_ROLE, tenant_ids=["acme", "globex"])
    tvm.trust("arn:aws:iam::333333333333:role/support-agent", tenant_ids=["acme", "globex"])
    tvm.trust("arn:aws:iam::444444444444:role/legal-agent", tenant_ids=["acme"], organization_id="o-a1b2c3d4e5")
    first, second = trust_of(template_of(home.stack), tvm.role)
    assert first["Principal"] == {"AWS": ["arn:aws:iam::222222222222:root", "arn:aws:iam::333333333333:root"]}
    assert first["Condition"]["ArnEquals"] == {"aws:PrincipalArn": [WORKER_ROLE,
                                                                    "arn:aws:iam::333333333333:role/support-agent"]}
    assert first["Condition"]["StringEquals"] == {"sts:SourceIdentity": "${aws:RequestTag/ActorID}",
                                                  "aws:RequestTag/TenantID": ["acme", "globex"]}
    assert second["Principal"] == {"AWS": "arn:aws:iam::444444444444:root"}
    assert second["Condition"]["StringEquals"] == {"sts:SourceIdentity": "${aws:RequestTag/ActorID}",
                                                   "aws:RequestTag/TenantID": ["acme"],
                                                   "aws:PrincipalOrgID": "o-a1b2c3d4e5"}


def test_a_role_in_another_stack_is_trusted_by_its_literal_arn():
    app = new_app()
    home = memory_home(Stack(app, "Data", env=Environment(account="111111111111", region="us-east-1")))
    compute = Stack(app, "Compute", env=Environment(account="111111111111", region="us-east-1"))
    tvm = _tvm(home)
    role = iam.Role(compute, "Fn", role_name="mesh-orchestrator",
                    assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"))
    tvm.grant_assume(role)
    (trust,) = trust_of(template_of(home.stack), tvm.role)
    assert trust["Condition"]["ArnEquals"] == {"aws:PrincipalArn": "arn:aws:iam::111111111111:role/mesh-orchestrator"}


def test_a_role_in_another_stack_needs_a_fixed_name():
    app = new_app()
    home = memory_home(Stack(app, "Data", env=Environment(account="111111111111", region="us-east-1")))
    compute = Stack(app, "Compute", env=Environment(account="111111111111", region="us-east-1"))
    with pytest.raises(PropsError) as err:
        _tvm(home).grant_assume(_lambda_role(compute))
    assert err.value.problems == [
        "grantee='Compute/Fn': must have a fixed role_name and its stack an explicit account: a role in another stack "
        "is trusted by its literal ARN (a reference would tie the two stacks' deploys together)"]


@pytest.mark.parametrize("props, message", [
    ({"isolation": "org"}, "isolation='org': must be one of 'tenant', 'user'"),
    ({"access": "everyone"}, "access='everyone': must be one of 'home', 'workers'"),
    ({"access": TvmAccess.WORKERS, "isolation": "tenant"},
     "isolation='tenant': must be 'user' for TvmAccess.WORKERS: principals outside the memory home get one user's "
     "memory per session"),
    ({"max_session_duration": Duration.minutes(30)},
     "max_session_duration='1800s': must be from 1 hour to 12 hours (STS limit)"),
])
def test_each_bad_prop_has_its_message(props, message):
    home = memory_home()
    with pytest.raises(PropsError) as err:
        TokenVendingMachine(home.stack, "Tvm", vector_store=home.store, agent_memory=home.memory, **props)
    assert err.value.problems == [message]


def test_a_bad_role_name_has_its_message():
    home = memory_home()
    with pytest.raises(PropsError) as err:
        TokenVendingMachine(home.stack, "Tvm", vector_store=home.store, agent_memory=home.memory, role_name="bad name")
    assert err.value.problems == ["role_name='bad name': must be 1-64 letters, digits and +=,.@_-"]


@pytest.mark.parametrize("call, message", [
    (lambda t: t.trust("arn:aws:iam::2222:role/x"),
     "role_arn='arn:aws:iam::2222:role/x': must be an IAM role ARN such as 'arn:aws:iam::123456789012:role/name'"),
    (lambda t: t.trust(WORKER_ROLE, tenant_ids=["A_B"]),
     "tenant_ids[0]='A_B': must be 3-40 lowercase letters, digits and '-', starting and ending with a letter or digit"),
    (lambda t: t.trust(WORKER_ROLE, tenant_ids=[]),
     "tenant_ids=[]: must name at least one tenant (omit it to allow any)"),
    (lambda t: t.trust(WORKER_ROLE, organization_id="o-1"),
     "organization_id='o-1': must be an AWS Organizations id such as 'o-a1b2c3d4e5'"),
])
def test_each_bad_trust_argument_has_its_message(call, message):
    home = memory_home()
    with pytest.raises(PropsError) as err:
        call(_tvm(home))
    assert err.value.problems == [message]
    assert str(err.value).startswith("TokenVendingMachine.trust: invalid props (1 problem(s)):")


def test_the_worker_tvm_requires_a_tenant_allowlist_per_principal():
    home = memory_home()
    with pytest.raises(PropsError) as err:
        _tvm(home, access=TvmAccess.WORKERS).trust(WORKER_ROLE)
    assert err.value.problems == ["tenant_ids: is required for TvmAccess.WORKERS: a worker agent's role vends "
                                  "for its allowed tenants only"]


def test_a_tvm_nobody_may_assume_fails_synth():
    home = memory_home()
    _tvm(home)
    with pytest.raises(Exception, match="Test/Tvm: no trusted principal; call grant_assume\\(role\\) or "
                                        "trust\\(role_arn\\)"):
        synth(home.stack)


def test_a_trust_policy_over_the_iam_quota_fails_synth():
    home = memory_home()
    tvm = _tvm(home, access=TvmAccess.WORKERS)
    for i in range(5):
        tvm.trust(f"arn:aws:iam::3000000000{i:02d}:role/agent", tenant_ids=[f"tenant{i:02d}"])
    with pytest.raises(Exception, match=r"Test/Tvm: the trust policy is about \d+ characters; IAM allows 2048 by "
                                        r"default \(quota 'Role trust policy length', up to 4096\)"):
        synth(home.stack)


def test_an_imported_tvm_gives_the_caller_its_side_only():
    stack = new_stack(account="222222222222")
    tvm = TokenVendingMachine.from_token_vending_machine_attributes(
        stack, "Tvm", role_arn="arn:aws:iam::111111111111:role/mesh-tvm-external")
    role = _lambda_role(stack)
    tvm.grant_assume(role, tenant_ids=["acme"])
    assert policy_statements(template_of(stack), role) == [
        {"Action": ASSUME, "Effect": "Allow", "Resource": "arn:aws:iam::111111111111:role/mesh-tvm-external"}]


def test_each_home_tvm_statement_is_in_the_role_policy_with_its_conditions():
    """The same statements through aws-cdk-lib's assertions (Template / Match), one by one."""
    from aws_cdk.assertions import Match, Template

    home = memory_home()
    tvm = _tvm(home)
    tvm.grant_assume(_lambda_role(home.stack))
    template = Template.from_stack(home.stack)
    role_ref = {"Ref": lid(tvm.role)}
    statements: list[dict[str, Any]] = [
        {"Action": Match.array_with(["s3vectors:DeleteVectors", "s3vectors:PutVectors"]),
         "Condition": {"StringEquals": {"aws:ResourceTag/TenantID": TENANT, "aws:ResourceTag/ActorID": ACTOR}}},
        {"Action": ["s3vectors:CreateIndex", "s3vectors:TagResource"],
         "Condition": Match.object_like({"StringEqualsIfExists": {"aws:ResourceTag/ActorID": ACTOR},
                                         "ForAllValues:StringEquals": TAGS})},
        {"Action": Match.array_with(["bedrock-agentcore:CreateEvent"]),
         "Condition": {"StringEquals": {"bedrock-agentcore:actorId": f"{TENANT}:{ACTOR}"}}},
        {"Action": Match.array_with(["bedrock-agentcore:RetrieveMemoryRecords"]),
         "Condition": {"StringLike": {"bedrock-agentcore:namespacePath": Match.array_with(
             [f"/facts/{TENANT}:{ACTOR}/*"])}}},
        {"Action": "dynamodb:GetItem",
         "Condition": {"ForAllValues:StringEquals": {"dynamodb:LeadingKeys": [f"ACTOR#{TENANT}:{ACTOR}"]}}},
    ]
    for statement in statements:
        template.has_resource_properties("AWS::IAM::Policy", {
            "Roles": [role_ref],
            "PolicyDocument": {"Statement": Match.array_with([Match.object_like({"Effect": "Allow", **statement})])}})
    template.has_resource_properties("AWS::IAM::Role", {
        "RoleName": "mesh-tvm",
        "AssumeRolePolicyDocument": {"Statement": [Match.object_like({
            "Action": ASSUME,
            "Condition": Match.object_like({"StringEquals": {"sts:SourceIdentity": "${aws:RequestTag/ActorID}"}})})]}})
