"""MeshStateTable: the DynamoDB table of tombstones, jobs, tenant records and sweep cursors, and its grants."""

from __future__ import annotations

import pytest
from aws_cdk import RemovalPolicy
from aws_cdk import aws_iam as iam
from aws_cdk.assertions import Template

from constructs_lib import MeshStateTable, PropsError
from tests.constructs_lib.helpers import ACTOR, TENANT, find_statement, lid, new_stack, policy_statements, template_of

TABLE_ARN = "arn:aws:dynamodb:eu-west-1:333333333333:table/mesh-state"


def _role(stack):
    return iam.Role(stack, "Caller", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"))


def test_the_table_is_on_demand_encrypted_recoverable_expiring_and_retained():
    stack = new_stack()
    table = MeshStateTable(stack, "State")
    Template.from_stack(stack).has_resource("AWS::DynamoDB::Table", {
        "Properties": {
            "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
            "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"},
                                     {"AttributeName": "sk", "AttributeType": "S"}],
            "BillingMode": "PAY_PER_REQUEST",
            "SSESpecification": {"KMSMasterKeyId": {"Fn::GetAtt": [lid(table.encryption_key), "Arn"]},
                                 "SSEEnabled": True, "SSEType": "KMS"},
            "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True},
            "TimeToLiveSpecification": {"AttributeName": "expires_at", "Enabled": True},
            "DeletionProtectionEnabled": True,
        },
        "DeletionPolicy": "Retain", "UpdateReplacePolicy": "Retain"})


def test_apply_removal_policy_works_on_the_table():
    stack = new_stack()
    table = MeshStateTable(stack, "State")
    table.apply_removal_policy(RemovalPolicy.DESTROY)
    assert template_of(stack)["Resources"][lid(table.table)]["DeletionPolicy"] == "Delete"


def test_a_user_session_reads_its_own_tombstone_only():
    stack = new_stack()
    table = MeshStateTable(stack, "State")
    role = _role(stack)
    table.grant_read_tombstone(role, isolation="user")
    stmts = policy_statements(template_of(stack), role)
    assert find_statement(stmts, "dynamodb:GetItem") == {
        "Action": "dynamodb:GetItem", "Effect": "Allow", "Resource": {"Fn::GetAtt": [lid(table.table), "Arn"]},
        "Condition": {"ForAllValues:StringEquals": {"dynamodb:LeadingKeys": [f"ACTOR#{TENANT}:{ACTOR}"]}}}
    assert find_statement(stmts, "kms:Decrypt")["Condition"] == {
        "StringEquals": {"kms:ViaService": ["dynamodb.us-east-1.amazonaws.com"]}}


def test_a_tenant_session_reads_its_tenants_tombstones():
    stack = new_stack()
    table = MeshStateTable(stack, "State")
    role = _role(stack)
    table.grant_read_tombstone(role, isolation="tenant")
    assert find_statement(policy_statements(template_of(stack), role), "dynamodb:GetItem")["Condition"] == {
        "ForAllValues:StringLike": {"dynamodb:LeadingKeys": [f"ACTOR#{TENANT}:*"]}}


@pytest.mark.parametrize("grant, prefix, actions", [
    ("grant_jobs", "JOB#*", ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"]),
    ("grant_read_jobs", "JOB#*", "dynamodb:GetItem"),
    ("grant_tombstones", "ACTOR#*", ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"]),
    ("grant_tenant_records", "TENANT#*", ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"]),
    ("grant_sweeps", "SWEEP#*", ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"]),
])
def test_function_grants_are_limited_to_their_item_kind(grant, prefix, actions):
    stack = new_stack()
    table = MeshStateTable(stack, "State")
    role = _role(stack)
    getattr(table, grant)(role)
    assert find_statement(policy_statements(template_of(stack), role), "dynamodb:GetItem") == {
        "Action": actions, "Effect": "Allow", "Resource": {"Fn::GetAtt": [lid(table.table), "Arn"]},
        "Condition": {"ForAllValues:StringLike": {"dynamodb:LeadingKeys": [prefix]}}}


def test_a_bad_table_name_has_its_message():
    with pytest.raises(PropsError) as err:
        MeshStateTable(new_stack(), "State", table_name="x")
    assert err.value.problems == ["table_name='x': must be 3-255 letters, digits, '_', '-' and '.' (a DynamoDB "
                                  "table name)"]


def test_an_import_grants_on_its_arn_in_its_own_region():
    stack = new_stack(account="333333333333")
    table = MeshStateTable.from_mesh_state_table_attributes(stack, "Imported", table_arn=TABLE_ARN)
    assert (table.table_name, table.env.region) == ("mesh-state", "eu-west-1")
    role = _role(stack)
    table.grant_jobs(role)
    assert find_statement(policy_statements(template_of(stack), role), "dynamodb:PutItem")["Resource"] == TABLE_ARN


def test_an_import_checks_its_arn():
    with pytest.raises(PropsError) as err:
        MeshStateTable.from_mesh_state_table_attributes(new_stack(), "Imported", table_arn="mesh-state")
    assert err.value.problems == ["table_arn='mesh-state': must be a DynamoDB table ARN arn:aws:dynamodb:<region>:"
                                  "<account>:table/<name>"]
