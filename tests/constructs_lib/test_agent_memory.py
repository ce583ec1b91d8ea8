"""AgentMemory: the AgentCore Memory with the contract's strategies, grants, ABAC statements, imports."""

from __future__ import annotations

import json

import pytest
from aws_cdk import RemovalPolicy
from aws_cdk import aws_iam as iam
from aws_cdk.assertions import Template

from constructs_lib import AgentMemory, PropsError
from runtime.contract import memory
from tests.constructs_lib.helpers import (
    ACTOR,
    TENANT,
    find_statement,
    lid,
    new_stack,
    policy_statements,
    resources,
    statements_with,
    template_of,
)

MEMORY_ARN = "arn:aws:bedrock-agentcore:eu-west-1:333333333333:memory/team_memory-AbCdE12345"


def _role(stack, id="Caller"):
    return iam.Role(stack, id, assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"))


def _memory_ref(agent_memory):
    return {"Fn::GetAtt": [lid(agent_memory.cfn_memory), "MemoryArn"]}


def test_creates_a_retained_kms_encrypted_memory_with_the_contracts_namespaces():
    stack = new_stack()
    agent_memory = AgentMemory(stack, "Memory", expiration_days=30, memory_name="team_memory")
    template = template_of(stack)
    (resource,) = resources(template, "AWS::BedrockAgentCore::Memory").values()
    assert resource["DeletionPolicy"] == "Retain"
    props = resource["Properties"]
    assert props["EventExpiryDuration"] == 30 and props["Name"] == "team_memory"
    assert props["EncryptionKeyArn"] == {"Fn::GetAtt": [lid(agent_memory.encryption_key), "Arn"]}
    namespaces = sorted(ns for strategy in props["MemoryStrategies"] for body in strategy.values()
                        for ns in body["Namespaces"])
    assert namespaces == sorted([memory.SUMMARY_NAMESPACE, memory.FACTS_NAMESPACE, memory.PREFERENCES_NAMESPACE])


def test_apply_removal_policy_works_on_the_memory():
    stack = new_stack()
    agent_memory = AgentMemory(stack, "Memory")
    agent_memory.apply_removal_policy(RemovalPolicy.DESTROY)
    (resource,) = resources(template_of(stack), "AWS::BedrockAgentCore::Memory").values()
    assert resource["DeletionPolicy"] == "Delete"


@pytest.mark.parametrize("props, message", [
    ({"expiration_days": 6}, "expiration_days=6: must be a whole number from 7 to 365"),
    ({"expiration_days": 366}, "expiration_days=366: must be a whole number from 7 to 365"),
    ({"memory_name": "team-memory"}, "memory_name='team-memory': must be 1-48 letters, digits and '_', starting with "
                                     "a letter"),
])
def test_each_bad_prop_has_its_message(props, message):
    with pytest.raises(PropsError) as err:
        AgentMemory(new_stack(), "Memory", **props)
    assert err.value.problems == [message]


def test_user_session_access_conditions_events_on_the_actor_and_records_on_namespace_and_namespace_path():
    stack = new_stack()
    agent_memory = AgentMemory(stack, "Memory")
    role = _role(stack)
    agent_memory.grant_session_access(role, isolation="user")
    stmts = policy_statements(template_of(stack), role)
    namespaces = [f"/summaries/{TENANT}:{ACTOR}/*", f"/facts/{TENANT}:{ACTOR}/*", f"/preferences/{TENANT}:{ACTOR}/*"]
    assert find_statement(stmts, "bedrock-agentcore:CreateEvent") == {
        "Action": ["bedrock-agentcore:CreateEvent", "bedrock-agentcore:DeleteEvent", "bedrock-agentcore:GetEvent",
                   "bedrock-agentcore:ListEvents", "bedrock-agentcore:ListSessions"],
        "Effect": "Allow", "Resource": _memory_ref(agent_memory),
        "Condition": {"StringEquals": {"bedrock-agentcore:actorId": f"{TENANT}:{ACTOR}"}}}
    by_key = {next(iter(s["Condition"]["StringLike"])): s for s in statements_with(stmts,
                                                                                   "bedrock-agentcore:ListMemoryRecords")}
    assert by_key["bedrock-agentcore:namespacePath"] == {
        "Action": ["bedrock-agentcore:ListMemoryRecords", "bedrock-agentcore:RetrieveMemoryRecords"],
        "Effect": "Allow", "Resource": _memory_ref(agent_memory),
        "Condition": {"StringLike": {"bedrock-agentcore:namespacePath": namespaces}}}
    # Searches by namespace and records addressed by id share the namespace condition (one merged statement).
    assert by_key["bedrock-agentcore:namespace"] == {
        "Action": ["bedrock-agentcore:BatchDeleteMemoryRecords", "bedrock-agentcore:DeleteMemoryRecord",
                   "bedrock-agentcore:GetMemoryRecord", "bedrock-agentcore:ListMemoryRecords",
                   "bedrock-agentcore:RetrieveMemoryRecords"],
        "Effect": "Allow", "Resource": _memory_ref(agent_memory),
        "Condition": {"StringLike": {"bedrock-agentcore:namespace": namespaces}}}
    # An update is authorized on the record's current namespace (the request's sourceNamespaces), and may not
    # move the record to a namespace outside the user's.
    assert find_statement(stmts, "bedrock-agentcore:BatchUpdateMemoryRecords") == {
        "Action": "bedrock-agentcore:BatchUpdateMemoryRecords",
        "Effect": "Allow", "Resource": _memory_ref(agent_memory),
        "Condition": {"StringLike": {"bedrock-agentcore:sourceNamespace": namespaces},
                      "StringLikeIfExists": {"bedrock-agentcore:namespace": namespaces}}}
    assert find_statement(stmts, "kms:Decrypt")["Condition"] == {
        "StringEquals": {"kms:ViaService": ["bedrock-agentcore.us-east-1.amazonaws.com"]}}


def test_tenant_session_access_matches_any_actor_of_the_tenant():
    stack = new_stack()
    agent_memory = AgentMemory(stack, "Memory")
    role = _role(stack)
    agent_memory.grant_session_access(role, isolation="tenant")
    stmts = policy_statements(template_of(stack), role)
    assert find_statement(stmts, "bedrock-agentcore:CreateEvent")["Condition"] == {
        "StringLike": {"bedrock-agentcore:actorId": f"{TENANT}:*"}}
    assert find_statement(stmts, "bedrock-agentcore:GetMemoryRecord")["Condition"] == {
        "StringLike": {"bedrock-agentcore:namespace": [f"/summaries/{TENANT}:*", f"/facts/{TENANT}:*",
                                                       f"/preferences/{TENANT}:*"]}}


def test_worker_path_sessions_cannot_delete_events_or_change_records():
    stack = new_stack()
    agent_memory = AgentMemory(stack, "Memory")
    role = _role(stack)
    agent_memory.grant_session_access(role, isolation="user", worker_path=True)
    actions = {a for s in policy_statements(template_of(stack), role) for a in s["Action"]}
    assert actions == {"bedrock-agentcore:CreateEvent", "bedrock-agentcore:GetEvent", "bedrock-agentcore:ListEvents",
                       "bedrock-agentcore:ListSessions", "bedrock-agentcore:ListMemoryRecords",
                       "bedrock-agentcore:RetrieveMemoryRecords", "bedrock-agentcore:GetMemoryRecord",
                       "kms:Decrypt", "kms:GenerateDataKey"}


def test_erase_grants_name_the_memory_without_conditions():
    stack = new_stack()
    agent_memory = AgentMemory(stack, "Memory")
    role = _role(stack)
    agent_memory.grant_delete_events(role)
    agent_memory.grant_delete_records(role)
    agent_memory.grant_list_actors(role)
    stmt = find_statement(policy_statements(template_of(stack), role), "bedrock-agentcore:DeleteEvent")
    assert stmt == {"Action": ["bedrock-agentcore:BatchDeleteMemoryRecords", "bedrock-agentcore:DeleteEvent",
                               "bedrock-agentcore:DeleteMemoryRecord", "bedrock-agentcore:ListActors"],
                    "Effect": "Allow", "Resource": _memory_ref(agent_memory)}


def test_a_grantee_in_another_account_gets_a_statement_in_the_memorys_resource_policy():
    stack = new_stack()
    agent_memory = AgentMemory(stack, "Memory")
    agent_memory.grant_read_events(iam.Role.from_role_arn(stack, "Other", "arn:aws:iam::222222222222:role/reader"))
    (policy,) = resources(template_of(stack), "AWS::BedrockAgentCore::ResourcePolicy").values()
    document = json.loads(stack.resolve(policy["Properties"]["Policy"])) if isinstance(
        policy["Properties"]["Policy"], str) else policy["Properties"]["Policy"]
    text = json.dumps(document)
    assert "arn:aws:iam::222222222222:role/reader" in text and "bedrock-agentcore:ListEvents" in text
    assert policy["Properties"]["ResourceArn"] == _memory_ref(agent_memory)


def test_an_import_keeps_its_own_region_and_refuses_grantees_it_cannot_reach():
    stack = new_stack()
    imported = AgentMemory.from_agent_memory_attributes(stack, "Imported", memory_arn=MEMORY_ARN)
    assert (imported.env.account, imported.env.region, imported.memory_id) == (
        "333333333333", "eu-west-1", "team_memory-AbCdE12345")
    with pytest.raises(PropsError) as err:
        imported.grant_read_events(_role(stack))  # a role of 111111111111, not the memory's account
    assert err.value.problems == [
        "grantee account='111111111111': must be the memory's account 333333333333: an imported memory's resource "
        "policy belongs to its owner; reach it through a TokenVendingMachine of the memory's account"]


def test_an_import_in_the_same_account_grants_normally():
    stack = new_stack(account="333333333333", region="us-east-1")
    imported = AgentMemory.from_agent_memory_attributes(stack, "Imported", memory_arn=MEMORY_ARN)
    role = _role(stack)
    imported.grant_write_events(role, actor_id="acme:*")
    stmt = find_statement(policy_statements(template_of(stack), role), "bedrock-agentcore:CreateEvent")
    assert stmt["Resource"] == MEMORY_ARN
    assert stmt["Condition"] == {"StringLike": {"bedrock-agentcore:actorId": "acme:*"}}


def test_an_import_checks_its_arn():
    with pytest.raises(PropsError) as err:
        AgentMemory.from_agent_memory_attributes(new_stack(), "Imported", memory_arn="memory/x")
    assert err.value.problems == ["memory_arn='memory/x': must be an AgentCore Memory ARN arn:aws:bedrock-agentcore:"
                                  "<region>:<account>:memory/<id>"]


def test_the_memory_service_role_findings_are_acknowledged_where_the_l2_creates_them():
    stack = new_stack()
    AgentMemory(stack, "Memory")
    Template.from_stack(stack).resource_count_is("AWS::IAM::Role", 1)
