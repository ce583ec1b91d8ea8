"""WorkerMemoryAccess: the worker agent role's side of vending from the memory home's worker TVM."""

from __future__ import annotations

import pytest
from aws_cdk import aws_iam as iam
from aws_cdk.assertions import Template

from constructs_lib import (
    AgentMemory,
    MeshStateTable,
    PropsError,
    TokenVendingMachine,
    VectorMemoryStore,
    WorkerMemoryAccess,
)
from tests.constructs_lib.helpers import new_stack, policy_statements, resources, template_of, trust_of

TVM_ARN = "arn:aws:iam::111111111111:role/mesh-tvm-external"
STATEMENT = {
    "Action": ["sts:AssumeRole", "sts:SetSourceIdentity", "sts:TagSession"], "Effect": "Allow", "Resource": TVM_ARN,
    "Condition": {"Null": {"aws:RequestTag/TenantID": "false", "aws:RequestTag/ActorID": "false"},
                  "ForAllValues:StringEquals": {"aws:TagKeys": ["TenantID", "ActorID"]}}}


def _tvm(stack, isolation="user"):
    return TokenVendingMachine.from_token_vending_machine_attributes(stack, "Tvm", role_arn=TVM_ARN,
                                                                    isolation=isolation)


def test_a_created_role_is_assumed_by_agentcore_runtime_of_this_account_and_may_vend_exactly_the_tvm():
    stack = new_stack(account="222222222222")
    access = WorkerMemoryAccess(stack, "Access", token_vending_machine=_tvm(stack), role_name="billing-agent")
    template = template_of(stack)
    assert trust_of(template, access.role) == [{
        "Action": "sts:AssumeRole", "Effect": "Allow", "Principal": {"Service": "bedrock-agentcore.amazonaws.com"},
        "Condition": {"StringEquals": {"aws:SourceAccount": "222222222222"},
                      "ArnLike": {"aws:SourceArn": "arn:aws:bedrock-agentcore:us-east-1:222222222222:*"}}}]
    assert policy_statements(template, access.role) == [STATEMENT]
    Template.from_stack(stack).has_resource_properties("AWS::IAM::Role", {"RoleName": "billing-agent"})


def test_an_existing_role_gets_the_policy_attached_by_name():
    stack = new_stack(account="222222222222")
    role = iam.Role.from_role_arn(stack, "AgentRole", "arn:aws:iam::222222222222:role/billing-agent-tools")
    WorkerMemoryAccess(stack, "Access", token_vending_machine=_tvm(stack), role=role)
    (policy,) = resources(template_of(stack), "AWS::IAM::Policy").values()
    assert policy["Properties"]["Roles"] == ["billing-agent-tools"]
    assert policy["Properties"]["PolicyDocument"]["Statement"] == [STATEMENT]


def test_memory_environment_is_the_contracts_memory_settings_with_the_worker_tvm():
    home = new_stack(account="111111111111")
    store = VectorMemoryStore.from_vector_memory_store_attributes(
        home, "Store", vector_bucket_arn="arn:aws:s3vectors:us-east-1:111111111111:bucket/mesh-vectors")
    memory = AgentMemory.from_agent_memory_attributes(
        home, "Memory", memory_arn="arn:aws:bedrock-agentcore:us-east-1:111111111111:memory/mesh_memory-AbCdE12345")
    table = MeshStateTable.from_mesh_state_table_attributes(
        home, "State", table_arn="arn:aws:dynamodb:us-east-1:111111111111:table/mesh-state")
    stack = new_stack(account="222222222222", stack_id="Worker")
    access = WorkerMemoryAccess(stack, "Access", token_vending_machine=_tvm(stack), role_name="billing-agent")
    assert access.memory_environment(vector_store=store, agent_memory=memory, state_table=table) == {
        "MESH_REGION": "us-east-1", "MESH_VECTOR_BUCKET": "mesh-vectors", "MESH_INDEX_PREFIX": "tenant-",
        "MESH_EMBEDDING_DIMENSION": "1024", "MESH_DISTANCE_METRIC": "cosine",
        "MESH_EMBEDDING_MODEL_ID": "amazon.titan-embed-text-v2:0", "MESH_MEMORY_ID": "mesh_memory-AbCdE12345",
        "MESH_TVM_ROLE_ARN": TVM_ARN, "MESH_ISOLATION": "user", "MESH_STATE_TABLE": "mesh-state",
        "MESH_SUMMARY_MODEL_ID": "amazon.nova-lite-v1:0", "MESH_RETENTION_DAYS": "90",
        "MESH_CONTENT_MAX_BYTES": "16384"}


@pytest.mark.parametrize("kwargs, message", [
    ({}, "role_name: is required: 1-64 letters, digits and +=,.@_-"),
    ({"role_name": "bad name"}, "role_name='bad name': must be 1-64 letters, digits and +=,.@_-"),
])
def test_a_created_role_needs_a_good_name(kwargs, message):
    stack = new_stack(account="222222222222")
    with pytest.raises(PropsError) as err:
        WorkerMemoryAccess(stack, "Access", token_vending_machine=_tvm(stack), **kwargs)
    assert err.value.problems == [message]


def test_a_tenant_isolation_tvm_is_refused():
    stack = new_stack(account="222222222222")
    with pytest.raises(PropsError) as err:
        WorkerMemoryAccess(stack, "Access", token_vending_machine=_tvm(stack, "tenant"), role_name="billing-agent")
    assert err.value.problems == ["token_vending_machine.isolation='tenant': must be 'user': a worker agent's session "
                                  "reaches one user's memory"]
