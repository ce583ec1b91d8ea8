"""The sample mesh and its variants: stacks agree on names, trust and exact permissions without references."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from stacks.mesh import sample_config_dict
from tests.constructs_lib.helpers import actions_of, as_list, resources, statements_with

# The session's sample mesh is synthesized once, on the worker that runs this group.
pytestmark = pytest.mark.xdist_group("sample_mesh")

SUP = "memory-mesh-supervisor"
WORKER = "memory-mesh-worker-billing"
RUNTIME = "arn:aws:bedrock-agentcore:us-east-1:222222222222:runtime/billing_agent-AbCdEf1234"
TAGS = {"aws:TagKeys": ["TenantID", "ActorID"]}


def _role_named(template, name):
    (logical_id,) = [k for k, r in resources(template, "AWS::IAM::Role").items()
                     if r["Properties"].get("RoleName") == name]
    return logical_id, template["Resources"][logical_id]


def _policy_of(template, role_logical_id):
    return [s for p in resources(template, "AWS::IAM::Policy").values()
            if {"Ref": role_logical_id} in p["Properties"]["Roles"]
            for s in p["Properties"]["PolicyDocument"]["Statement"]]


def _variant(**changes):
    raw = copy.deepcopy(sample_config_dict())
    for path, value in changes.items():
        *parents, key = path.split("__")
        node: Any = raw
        for part in parents:
            node = node[int(part)] if part.isdigit() else node[part]
        if value is None:
            node.pop(key, None)
        else:
            node[key] = value
    return raw


def test_every_stack_has_an_explicit_environment(sample_mesh):
    sup = sample_mesh.mesh.supervisor
    assert (sup.account, sup.region) == ("111111111111", "us-east-1")
    worker = sample_mesh.mesh.workers["billing"]
    assert (worker.account, worker.region) == ("222222222222", "us-east-1")


def test_the_memory_home_holds_one_bucket_no_index_one_memory_and_the_state_table(sample_mesh):
    t = sample_mesh.template(SUP)
    counts = {k: len(resources(t, k)) for k in ["AWS::KMS::Key", "AWS::S3Vectors::VectorBucket",
                                                 "AWS::S3Vectors::Index", "AWS::BedrockAgentCore::Memory",
                                                 "AWS::DynamoDB::Table"]}
    assert counts == {"AWS::KMS::Key": 1, "AWS::S3Vectors::VectorBucket": 1, "AWS::S3Vectors::Index": 0,
                      "AWS::BedrockAgentCore::Memory": 1, "AWS::DynamoDB::Table": 1}
    key = {"Fn::GetAtt": [next(iter(resources(t, "AWS::KMS::Key"))), "Arn"]}
    (memory,) = resources(t, "AWS::BedrockAgentCore::Memory").values()
    assert (memory["Properties"]["EncryptionKeyArn"], memory["Properties"]["EventExpiryDuration"]) == (key, 90)
    (table,) = resources(t, "AWS::DynamoDB::Table").values()
    assert table["Properties"]["SSESpecification"]["KMSMasterKeyId"] == key


def test_role_names_are_deterministic_from_the_config(sample_mesh):
    sup = sample_mesh.template(SUP)
    for name in ["memory-mesh-tvm", "memory-mesh-tvm-external", "memory-mesh-orchestrator", "memory-mesh-summarizer",
                 "memory-mesh-lifecycle", "memory-mesh-forget", "memory-mesh-tenants", "memory-mesh-retention"]:
        _role_named(sup, name)
    _role_named(sample_mesh.template(WORKER), "memory-mesh-worker-billing")


def test_the_worker_access_role_trusts_the_orchestrator_for_its_tenants_with_source_identity(sample_mesh):
    _, role = _role_named(sample_mesh.template(WORKER), "memory-mesh-worker-billing")
    assume, tag = role["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert assume["Principal"] == tag["Principal"] == {"AWS": "arn:aws:iam::111111111111:root"}
    assert assume["Condition"] == {
        "ArnEquals": {"aws:PrincipalArn": "arn:aws:iam::111111111111:role/memory-mesh-orchestrator"},
        "StringEquals": {"aws:RequestTag/TenantID": ["acme", "globex"],
                         "sts:SourceIdentity": "${aws:RequestTag/ActorID}",
                         "sts:ExternalId": "memory-mesh-billing-2026"},
        "Null": {"aws:RequestTag/TenantID": "false", "aws:RequestTag/ActorID": "false"},
        "ForAllValues:StringEquals": TAGS}
    assert tag["Action"] == ["sts:SetSourceIdentity", "sts:TagSession"]


def test_the_orchestrator_may_assume_only_the_tvm_and_the_configured_worker_roles(sample_mesh):
    t = sample_mesh.template(SUP)
    role_id, _ = _role_named(t, "memory-mesh-orchestrator")
    tvm_id, _ = _role_named(t, "memory-mesh-tvm")
    assumed = [r for s in statements_with(_policy_of(t, role_id), "sts:AssumeRole") for r in as_list(s["Resource"])]
    assert sorted(map(json.dumps, assumed)) == sorted(map(json.dumps, [
        {"Fn::GetAtt": [tvm_id, "Arn"]}, "arn:aws:iam::222222222222:role/memory-mesh-worker-billing"]))
    runtime = sample_config_dict()["supervisor"]["agent"]["runtime_arn"]
    (invoke,) = statements_with(_policy_of(t, role_id), "bedrock-agentcore:InvokeAgentRuntime")
    assert invoke["Resource"] == [runtime, f"{runtime}/runtime-endpoint/DEFAULT"]


def test_the_home_tvm_trusts_the_three_session_functions(sample_mesh):
    t = sample_mesh.template(SUP)
    _, tvm = _role_named(t, "memory-mesh-tvm")
    (trust,) = tvm["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    trusted = sorted(a["Fn::GetAtt"][0] for a in trust["Condition"]["ArnEquals"]["aws:PrincipalArn"])
    assert trusted == sorted(_role_named(t, f"memory-mesh-{n}")[0] for n in ("orchestrator", "summarizer",
                                                                             "lifecycle"))


def test_the_worker_tvm_trusts_the_workers_agent_role_for_its_tenants_with_worker_path_actions(sample_mesh):
    t = sample_mesh.template(SUP)
    tvm_id, tvm = _role_named(t, "memory-mesh-tvm-external")
    (trust,) = tvm["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"AWS": "arn:aws:iam::222222222222:root"}
    assert trust["Condition"]["ArnEquals"] == {"aws:PrincipalArn": "arn:aws:iam::222222222222:role/billing-agent-tools"}
    assert trust["Condition"]["StringEquals"] == {"sts:SourceIdentity": "${aws:RequestTag/ActorID}",
                                                  "aws:RequestTag/TenantID": ["acme", "globex"]}
    actions = actions_of(_policy_of(t, tvm_id))
    assert not actions & {"s3vectors:DeleteVectors", "s3vectors:CreateIndex", "s3vectors:TagResource",
                          "bedrock-agentcore:DeleteEvent", "bedrock-agentcore:BatchDeleteMemoryRecords",
                          "bedrock-agentcore:BatchUpdateMemoryRecords", "bedrock-agentcore:DeleteMemoryRecord"}


def test_the_worker_stack_lets_the_agent_role_vend_exactly_the_worker_tvm(sample_mesh):
    t = sample_mesh.template(WORKER)
    (policy,) = [p for p in resources(t, "AWS::IAM::Policy").values()
                 if p["Properties"]["Roles"] == ["billing-agent-tools"]]
    assert policy["Properties"]["PolicyDocument"]["Statement"] == [{
        "Action": ["sts:AssumeRole", "sts:SetSourceIdentity", "sts:TagSession"], "Effect": "Allow",
        "Resource": "arn:aws:iam::111111111111:role/memory-mesh-tvm-external",
        "Condition": {"Null": {"aws:RequestTag/TenantID": "false", "aws:RequestTag/ActorID": "false"},
                      "ForAllValues:StringEquals": TAGS}}]


def test_no_template_references_another_stack(sample_mesh):
    for template in sample_mesh.templates.values():
        text = json.dumps(template)
        assert "Fn::ImportValue" not in text and "Fn::GetStackOutput" not in text


def test_the_supervisor_outputs_the_worker_agents_environment(sample_mesh):
    outputs = sample_mesh.template(SUP)["Outputs"]
    assert {"ApiUrl", "OperatorApiUrl", "OrchestratorFunctionArn", "TenantsFunctionArn", "SummaryQueueUrl",
            "LifecycleQueueUrl", "AlarmTopicArn", "StateTableName", "WorkerTokenVendingMachineRoleArn",
            "WorkerMemoryEnvironment"} <= set(outputs)
    text = json.dumps(outputs["WorkerMemoryEnvironment"]["Value"])
    worker_tvm_id, _ = _role_named(sample_mesh.template(SUP), "memory-mesh-tvm-external")
    assert "MESH_TVM_ROLE_ARN" in text and json.dumps({"Fn::GetAtt": [worker_tvm_id, "Arn"]}) in text


@pytest.fixture(scope="module")
def variant():
    """AgentCore Runtime worker with a created agent role, a derived external id, tenant isolation, operations."""
    import os

    from tests.conftest import synth_mesh

    raw = _variant(workers__0__agent={"type": "agentcore-runtime", "runtime_arn": RUNTIME},
                   workers__0__external_id=None, workers__0__agent_role_name=None, workers__0__create_agent_role=True,
                   memory__isolation="tenant", api=None,
                   operations={"alarm_email": "oncall@example.com", "retention_schedule": "rate(12 hours)"})
    os.environ["MESH_EXTERNAL_ID_SECRET"] = "test-secret"
    try:
        return synth_mesh(raw, nag=True)
    finally:
        del os.environ["MESH_EXTERNAL_ID_SECRET"]


def test_variant_agentcore_worker_with_a_created_agent_role(variant):
    t = variant.template(WORKER)
    _, role = _role_named(t, "memory-mesh-billing-agent")
    assert role["Properties"]["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {
        "Service": "bedrock-agentcore.amazonaws.com"}
    access_id, _ = _role_named(t, "memory-mesh-worker-billing")
    (invoke,) = _policy_of(t, access_id)
    assert invoke["Action"] == "bedrock-agentcore:InvokeAgentRuntime"
    assert invoke["Resource"] == [RUNTIME, f"{RUNTIME}/runtime-endpoint/DEFAULT"]


def test_variant_external_id_is_derived_the_same_on_both_sides(variant):
    from stacks.config import derived_external_id

    expected = derived_external_id("test-secret", "memory-mesh", variant.config.workers[0])
    _, role = _role_named(variant.template(WORKER), "memory-mesh-worker-billing")
    assert role["Properties"]["AssumeRolePolicyDocument"]["Statement"][0]["Condition"]["StringEquals"][
        "sts:ExternalId"] == expected
    layer = variant.mesh.supervisor.orchestration.config_layer
    assert layer.workers[0].external_id == expected


def test_variant_tenant_isolation_and_operations(variant):
    t = variant.template(SUP)
    tvm_id, tvm = _role_named(t, "memory-mesh-tvm")
    (trust,) = tvm["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Condition"]["Null"] == {"aws:RequestTag/TenantID": "false"}
    (events,) = statements_with(_policy_of(t, tvm_id), "bedrock-agentcore:CreateEvent")
    assert events["Condition"] == {"StringLike": {"bedrock-agentcore:actorId": "${aws:PrincipalTag/TenantID}:*"}}
    (subscription,) = resources(t, "AWS::SNS::Subscription").values()
    assert subscription["Properties"]["Endpoint"] == "oncall@example.com"
    (schedule,) = resources(t, "AWS::Scheduler::Schedule").values()
    assert schedule["Properties"]["ScheduleExpression"] == "rate(12 hours)"
    routes = [r["Properties"]["RouteKey"] for r in resources(t, "AWS::ApiGatewayV2::Route").values()]
    assert sorted(routes) == ["DELETE /tenants/{tenant_id}", "GET /jobs/{job_id}", "PUT /tenants/{tenant_id}"]
    assert "ApiUrl" not in t["Outputs"]


def test_variant_has_no_finding_but_the_warning_naming_the_worker_with_a_derived_external_id(variant):
    violations = [v for p in variant.validation_report["pluginReports"] for v in p["violations"]]
    (warning,) = violations
    assert (warning["ruleName"], warning["severity"]) == ("Annotation::@agent-memory-mesh/derived-external-id",
                                                          "warning")
    assert warning["description"].startswith("workers[0] 'billing' has no external_id: it is derived from the "
                                              "deploy-time secret (MESH_EXTERNAL_ID_SECRET)")


def test_a_worker_without_external_id_or_secret_fails_with_a_config_error():
    from aws_cdk import App

    from stacks import MeshConfig, build_mesh
    from stacks.config import ConfigError
    from tests.conftest import app_context

    config = MeshConfig.from_dict(_variant(workers__0__external_id=None))
    with pytest.raises(ConfigError, match=r"workers\[0\].external_id: is required when no deploy-time secret"):
        build_mesh(App(context=app_context()), config)


def test_the_legacy_tvm_principal_arn_is_trusted_like_an_agent_role_name():
    from aws_cdk import App

    from stacks import MeshConfig, build_mesh
    from tests.conftest import app_context

    raw = _variant(workers__0__agent_role_name=None,
                   workers__0__tvm_principal_arn="arn:aws:iam::222222222222:role/legacy-agent")
    mesh = build_mesh(App(context=app_context()), MeshConfig.from_dict(raw))
    assert mesh.supervisor.worker_tvm is not None
    assert mesh.supervisor.worker_tvm.trusted_role_arns == ["arn:aws:iam::222222222222:role/legacy-agent"]
    assert mesh.workers["billing"].memory_access is not None


def test_the_supervisor_stays_within_iam_and_cloudformation_limits_at_max_workers():
    from aws_cdk import App

    from stacks import MeshConfig, SupervisorAccountStack
    from stacks.config import MAX_WORKERS
    from stacks.limits import MAX_RESOURCES, MAX_TEMPLATE_BYTES
    from tests.conftest import app_context
    from tests.constructs_lib.helpers import template_of

    raw = _variant()
    base = raw["workers"][0]
    raw["workers"] = [dict(base, name=f"w{i:03d}", account=f"{300000000000 + i}", agent_role_name=None)
                      for i in range(MAX_WORKERS)]
    stack = SupervisorAccountStack(App(context=app_context()), SUP, config=MeshConfig.from_dict(raw))
    t = template_of(stack)
    assert len(t["Resources"]) <= MAX_RESOURCES and len(json.dumps(t).encode()) <= MAX_TEMPLATE_BYTES
    role_id, _ = _role_named(t, "memory-mesh-orchestrator")
    # IAM: a role's inline policies hold at most 10,240 characters (whitespace excluded).
    assert len(json.dumps(_policy_of(t, role_id), separators=(",", ":"))) < 10_240


def test_resource_limit_validation_fails_synth_with_a_pointer_to_the_split():
    from aws_cdk import App, Environment, Stack
    from aws_cdk import aws_sqs as sqs

    from stacks.limits import enforce_cloudformation_limits

    app = App()
    stack = Stack(app, "Big", env=Environment(account="111111111111", region="us-east-1"))
    for i in range(501):
        sqs.CfnQueue(stack, f"Q{i}")
    enforce_cloudformation_limits(stack)
    with pytest.raises(Exception, match="Big has 501 resources; CloudFormation allows 500 per stack. Split the memory "
                                        "home into a data stack and a compute stack"):
        app.synth()


def test_template_size_check_message():
    from stacks.limits import check_template_sizes

    assert check_template_sizes({"a": 10, "b": 1_000_001}) == [
        "b: template is 1000001 bytes; CloudFormation allows 1000000. Split the memory home into a data stack and a "
        "compute stack (docs/deploy.md#splitting-the-memory-home)"]
