"""AgentMemory: the L2 with three strategies on the design's namespaces, KMS, expiry, scoped grants."""

from __future__ import annotations

import pytest
from aws_cdk import aws_iam as iam

from constructs_lib import AgentMemory, PropsError, tenant_actor_pattern
from tests.constructs_lib.helpers import as_list, find_statement, new_stack, resources, statements, template_of


def _memory_props(t):
    (memory,) = resources(t, "AWS::BedrockAgentCore::Memory").values()
    return memory["Properties"]


def test_memory_has_summary_fact_and_preference_strategies_on_design_namespaces():
    stack = new_stack()
    AgentMemory(stack, "Memory", expiration_days=30, memory_name="mesh_memory")
    props = _memory_props(template_of(stack))
    assert props["EventExpiryDuration"] == 30
    assert props["Name"] == "mesh_memory"
    strategies = {next(iter(s)): next(iter(s.values())) for s in props["MemoryStrategies"]}
    assert strategies["SummaryMemoryStrategy"]["Namespaces"] == ["/summaries/{actorId}/{sessionId}/"]
    assert strategies["SemanticMemoryStrategy"]["Namespaces"] == ["/facts/{actorId}/"]
    assert strategies["UserPreferenceMemoryStrategy"]["Namespaces"] == ["/preferences/{actorId}/"]


def test_memory_is_encrypted_with_a_rotating_customer_managed_key():
    stack = new_stack()
    AgentMemory(stack, "Memory")
    t = template_of(stack)
    (key_id, key), = resources(t, "AWS::KMS::Key").items()
    assert key["Properties"]["EnableKeyRotation"] is True
    assert _memory_props(t)["EncryptionKeyArn"] == {"Fn::GetAtt": [key_id, "Arn"]}


def test_tenant_scoped_grant_conditions_actor_and_namespace_on_the_tenant_tag():
    stack = new_stack()
    memory = AgentMemory(stack, "Memory")
    role = iam.Role(stack, "Caller", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"))
    memory.grant_tenant_scoped(role)
    stmts = list(statements(template_of(stack), role_logical_prefix="Caller"))
    events = find_statement(stmts, "bedrock-agentcore:CreateEvent")
    assert sorted(as_list(events["Action"])) == ["bedrock-agentcore:CreateEvent", "bedrock-agentcore:GetEvent",
                                                 "bedrock-agentcore:ListEvents", "bedrock-agentcore:ListSessions"]
    assert events["Condition"] == {"StringLike": {"bedrock-agentcore:actorId": "${aws:PrincipalTag/TenantID}:*"}}
    records = find_statement(stmts, "bedrock-agentcore:RetrieveMemoryRecords")
    assert records["Condition"] == {"StringLike": {"bedrock-agentcore:namespace": [
        "/summaries/${aws:PrincipalTag/TenantID}:*", "/facts/${aws:PrincipalTag/TenantID}:*",
        "/preferences/${aws:PrincipalTag/TenantID}:*"]}}
    kms = find_statement(stmts, "kms:Decrypt")
    assert kms["Condition"] == {"StringEquals": {"kms:ViaService": ["bedrock-agentcore.us-east-1.amazonaws.com"]}}
    assert all("bedrock-agentcore:DeleteMemoryRecord" not in as_list(s["Action"]) for s in stmts)


def test_per_actor_pattern_uses_both_tags():
    assert tenant_actor_pattern(per_actor=True) == "${aws:PrincipalTag/TenantID}:${aws:PrincipalTag/ActorID}"
    assert tenant_actor_pattern() == "${aws:PrincipalTag/TenantID}:*"


def test_delete_grant_covers_events_and_records():
    stack = new_stack()
    memory = AgentMemory(stack, "Memory")
    role = iam.Role(stack, "Forget", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"))
    memory.grant_delete(role)
    stmt = find_statement(statements(template_of(stack), role_logical_prefix="Forget"), "bedrock-agentcore:DeleteEvent")
    assert {"bedrock-agentcore:DeleteMemoryRecord", "bedrock-agentcore:BatchDeleteMemoryRecords",
            "bedrock-agentcore:ListMemoryRecords"} <= set(as_list(stmt["Action"]))


def test_imported_memory_grants_on_its_arn():
    stack = new_stack()
    arn = "arn:aws:bedrock-agentcore:us-east-1:111111111111:memory/mesh_memory-AbCdEf1234"
    memory = AgentMemory.from_agent_memory_attributes(stack, "Imported", memory_arn=arn)
    assert memory.memory_id == "mesh_memory-AbCdEf1234"
    role = iam.Role(stack, "Caller", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"))
    memory.grant_write(role, actor_pattern="acme:*")
    stmt = find_statement(statements(template_of(stack)), "bedrock-agentcore:CreateEvent")
    assert stmt["Resource"] == arn
    assert stmt["Condition"] == {"StringLike": {"bedrock-agentcore:actorId": "acme:*"}}


def test_imported_memory_rejects_a_wrong_arn():
    with pytest.raises(PropsError) as err:
        AgentMemory.from_agent_memory_attributes(new_stack(), "X", memory_arn="arn:aws:bedrock:us-east-1:1:agent/x")
    assert err.value.problems == ["memory_arn='arn:aws:bedrock:us-east-1:1:agent/x': must be an "
                                  "arn:<partition>:bedrock-agentcore:<region>:<account>:memory/<id> ARN"]


@pytest.mark.parametrize("days", [0, 6, 366])
def test_expiry_outside_agentcore_range_is_rejected(days):
    with pytest.raises(PropsError) as err:
        AgentMemory(new_stack(), "Memory", expiration_days=days)
    assert err.value.problems == [f"expiration_days={days}: must be a whole number from 7 to 365"]


def test_memory_and_created_key_are_retained_by_default():
    stack = new_stack()
    AgentMemory(stack, "Memory")
    t = template_of(stack)
    for type_ in ["AWS::BedrockAgentCore::Memory", "AWS::KMS::Key"]:
        (res,) = resources(t, type_).values()
        assert res["DeletionPolicy"] == "Retain", type_


def test_per_actor_grant_namespaces_cover_the_records_under_the_actor():
    stack = new_stack()
    memory = AgentMemory(stack, "Memory")
    role = iam.Role(stack, "Caller", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"))
    memory.grant_tenant_scoped(role, per_actor=True)
    records = find_statement(statements(template_of(stack)), "bedrock-agentcore:RetrieveMemoryRecords")
    pattern = "${aws:PrincipalTag/TenantID}:${aws:PrincipalTag/ActorID}/*"
    assert records["Condition"] == {"StringLike": {"bedrock-agentcore:namespace": [
        f"/summaries/{pattern}", f"/facts/{pattern}", f"/preferences/{pattern}"]}}


def test_memory_name_is_validated_with_the_other_props():
    with pytest.raises(PropsError) as err:
        AgentMemory(new_stack(), "Memory", memory_name="bad-name", expiration_days=1)
    assert err.value.problems == [
        "expiration_days=1: must be a whole number from 7 to 365",
        "memory_name='bad-name': 1-48 letters, digits and '_', starting with a letter",
    ]


def test_a_grant_to_another_accounts_role_is_refused_not_silently_dropped():
    stack = new_stack()
    memory = AgentMemory(stack, "Memory")
    peer = iam.Role.from_role_arn(stack, "Peer", "arn:aws:iam::222222222222:role/worker-agent")
    with pytest.raises(PropsError) as err:
        memory.grant_read(peer)
    assert err.value.problems == [
        "grantee account='222222222222': must be this stack's account 111111111111; give other accounts access "
        "through TokenVendingMachine.trust(role_arn, tenant_ids=...)"]
