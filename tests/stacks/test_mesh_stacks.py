"""The sample mesh: supervisor and worker stacks agree on names, trust, and exact permissions."""

from __future__ import annotations

from tests.constructs_lib.helpers import as_list, find_statement, resources

SUP = "memory-mesh-supervisor"
WORKER = "memory-mesh-worker-billing"


def _role_named(template, name):
    (role,) = [r for r in resources(template, "AWS::IAM::Role").values() if r["Properties"].get("RoleName") == name]
    return role


def _policy_of(template, role_logical_id):
    return [s for p in resources(template, "AWS::IAM::Policy").values()
            if {"Ref": role_logical_id} in p["Properties"]["Roles"]
            for s in p["Properties"]["PolicyDocument"]["Statement"]]


def _logical_id(template, role_name):
    return next(k for k, r in resources(template, "AWS::IAM::Role").items()
                if r["Properties"].get("RoleName") == role_name)


def test_every_stack_has_an_explicit_environment(sample_mesh):
    sup = sample_mesh.mesh.supervisor
    assert (sup.account, sup.region) == ("111111111111", "us-east-1")
    worker = sample_mesh.mesh.workers["billing"]
    assert (worker.account, worker.region) == ("222222222222", "us-east-1")


def test_supervisor_creates_the_memory_home(sample_mesh):
    t = sample_mesh.template(SUP)
    counts = {k: len(resources(t, k)) for k in ["AWS::KMS::Key", "AWS::S3Vectors::VectorBucket",
                                                 "AWS::S3Vectors::Index", "AWS::BedrockAgentCore::Memory"]}
    assert counts == {"AWS::KMS::Key": 1, "AWS::S3Vectors::VectorBucket": 1, "AWS::S3Vectors::Index": 2,
                      "AWS::BedrockAgentCore::Memory": 1}
    names = sorted(i["Properties"]["IndexName"] for i in resources(t, "AWS::S3Vectors::Index").values())
    assert names == ["tenant-acme", "tenant-globex"]
    (key,) = resources(t, "AWS::KMS::Key").values()
    assert key["Properties"]["EnableKeyRotation"] is True
    key_ref = {"Fn::GetAtt": [next(iter(resources(t, "AWS::KMS::Key"))), "Arn"]}
    (memory,) = resources(t, "AWS::BedrockAgentCore::Memory").values()
    assert memory["Properties"]["EncryptionKeyArn"] == key_ref
    assert memory["Properties"]["EventExpiryDuration"] == 90
    for store in [*resources(t, "AWS::S3Vectors::VectorBucket").values(), *resources(t, "AWS::S3Vectors::Index").values()]:
        assert store["Properties"]["EncryptionConfiguration"] == {"SseType": "aws:kms", "KmsKeyArn": key_ref}


def test_role_names_are_deterministic_from_the_config(sample_mesh):
    sup = sample_mesh.template(SUP)
    for name in ["memory-mesh-orchestrator", "memory-mesh-summarizer", "memory-mesh-tvm"]:
        _role_named(sup, name)
    _role_named(sample_mesh.template(WORKER), "memory-mesh-worker-billing")


def test_worker_trusts_exactly_the_orchestrator_role_the_supervisor_creates(sample_mesh):
    worker = _role_named(sample_mesh.template(WORKER), "memory-mesh-worker-billing")
    assume = worker["Properties"]["AssumeRolePolicyDocument"]["Statement"][0]
    assert assume["Principal"] == {"AWS": "arn:aws:iam::111111111111:root"}
    assert assume["Condition"]["ArnEquals"] == {
        "aws:PrincipalArn": "arn:aws:iam::111111111111:role/memory-mesh-orchestrator"}
    assert assume["Condition"]["StringEquals"] == {"sts:ExternalId": "memory-mesh-billing-2026"}
    (invoke,) = _policy_of(sample_mesh.template(WORKER), _logical_id(sample_mesh.template(WORKER),
                                                                       "memory-mesh-worker-billing"))
    assert invoke == {"Action": "bedrock:InvokeAgent", "Effect": "Allow", "Sid": "InvokeWorkerAgent",
                      "Resource": "arn:aws:bedrock:us-east-1:222222222222:agent-alias/BILLINGAG1/LIVEALIAS1"}


def test_orchestrator_may_assume_only_the_tvm_and_the_configured_worker_roles(sample_mesh):
    t = sample_mesh.template(SUP)
    stmts = _policy_of(t, _logical_id(t, "memory-mesh-orchestrator"))
    resources_assumed = [s["Resource"] for s in stmts if "sts:AssumeRole" in as_list(s["Action"])]
    assert resources_assumed == [
        {"Fn::GetAtt": [_logical_id(t, "memory-mesh-tvm"), "Arn"]},
        "arn:aws:iam::222222222222:role/memory-mesh-worker-billing",
    ]


def test_tvm_trusts_the_orchestrator_and_summarizer_only(sample_mesh):
    t = sample_mesh.template(SUP)
    trust = _role_named(t, "memory-mesh-tvm")["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    arns = [s["Condition"]["ArnEquals"]["aws:PrincipalArn"] for s in trust]
    assert arns == [{"Fn::GetAtt": [_logical_id(t, "memory-mesh-orchestrator"), "Arn"]},
                    {"Fn::GetAtt": [_logical_id(t, "memory-mesh-summarizer"), "Arn"]}]
    vectors = find_statement(_policy_of(t, _logical_id(t, "memory-mesh-tvm")), "s3vectors:PutVectors")
    assert vectors["Resource"]["Fn::Join"][1][1] == "/index/tenant-${aws:PrincipalTag/TenantID}"


def test_a_worker_agent_role_with_direct_tvm_access_is_limited_to_its_tenants():
    import copy

    from stacks.mesh import sample_config_dict
    from tests.conftest import synth_mesh

    raw = copy.deepcopy(sample_config_dict())
    raw["workers"][0]["tvm_principal_arn"] = "arn:aws:iam::222222222222:role/billing-agent"
    mesh = synth_mesh(raw, nag=False)
    t = mesh.template(SUP)
    trust = _role_named(t, "memory-mesh-tvm")["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    (direct,) = [s for s in trust if s["Condition"]["ArnEquals"]["aws:PrincipalArn"] ==
                 "arn:aws:iam::222222222222:role/billing-agent"]
    assert direct["Principal"] == {"AWS": "arn:aws:iam::222222222222:root"}
    assert direct["Condition"]["StringEquals"] == {"aws:RequestTag/TenantID": ["acme", "globex"]}


def test_agentcore_runtime_worker_gets_runtime_invoke_permissions():
    import copy

    from stacks.mesh import sample_config_dict
    from tests.conftest import synth_mesh

    raw = copy.deepcopy(sample_config_dict())
    arn = "arn:aws:bedrock-agentcore:us-east-1:222222222222:runtime/billing_agent-AbCdEf1234"
    raw["workers"][0]["agent"] = {"type": "agentcore-runtime", "runtime_arn": arn}
    t = synth_mesh(raw, nag=False).template(WORKER)
    (stmt,) = _policy_of(t, _logical_id(t, "memory-mesh-worker-billing"))
    assert stmt["Action"] == "bedrock-agentcore:InvokeAgentRuntime"
    assert stmt["Resource"] == [arn, f"{arn}/runtime-endpoint/DEFAULT"]


def test_supervisor_stack_stays_within_cloudformation_limits_at_max_declared_tenants():
    import copy
    import json

    from stacks.config import MAX_DECLARED_TENANTS
    from stacks.limits import MAX_RESOURCES, MAX_TEMPLATE_BYTES
    from stacks.mesh import sample_config_dict
    from tests.conftest import synth_mesh

    raw = copy.deepcopy(sample_config_dict())
    raw["tenants"] = [f"tenant{i:04d}" for i in range(MAX_DECLARED_TENANTS)]
    t = synth_mesh(raw, nag=False).template(SUP)
    assert len(t["Resources"]) <= MAX_RESOURCES
    assert len(json.dumps(t).encode()) <= MAX_TEMPLATE_BYTES


def test_resource_limit_validation_fails_synth_with_a_pointer_to_onboarding():
    import pytest
    from aws_cdk import App, Environment, Stack
    from aws_cdk import aws_sqs as sqs

    from stacks.limits import enforce_cloudformation_limits

    app = App()
    stack = Stack(app, "Big", env=Environment(account="111111111111", region="us-east-1"))
    for i in range(501):
        sqs.CfnQueue(stack, f"Q{i}")
    enforce_cloudformation_limits(stack)
    with pytest.raises(Exception, match="Big has 501 resources; CloudFormation allows 500 per stack. Declare fewer "
                                        "tenants in the config and onboard the rest at run time"):
        app.synth()


def test_template_size_check_message():
    from stacks.limits import check_template_sizes

    assert check_template_sizes({"a": 10, "b": 1_000_001}) == [
        "b: template is 1000001 bytes; CloudFormation allows 1000000. Declare fewer tenants and onboard the rest at "
        "run time (docs/deploy.md#tenants)"]


# ---- the orchestration (MemoryOrchestrator) in the supervisor stack ------------------------------------------------


def _functions(template):
    return {f["Properties"]["Handler"].split(".")[2]: f["Properties"]
            for f in resources(template, "AWS::Lambda::Function").values()}


def test_supervisor_runs_the_five_functions_on_the_roles_workers_and_the_tvm_trust(sample_mesh):
    t = sample_mesh.template(SUP)
    functions = _functions(t)
    assert sorted(functions) == ["forget", "onboarding", "orchestrator", "retention", "summarizer"]
    assert functions["orchestrator"]["Role"] == {"Fn::GetAtt": [_logical_id(t, "memory-mesh-orchestrator"), "Arn"]}
    assert functions["summarizer"]["Role"] == {"Fn::GetAtt": [_logical_id(t, "memory-mesh-summarizer"), "Arn"]}
    key = {"Fn::GetAtt": [next(iter(resources(t, "AWS::KMS::Key"))), "Arn"]}
    for fn in functions.values():
        assert fn["KmsKeyArn"] == key
        assert (fn["Runtime"], fn["Architectures"]) == ("python3.12", ["arm64"])
        assert fn["TracingConfig"] == {"Mode": "Active"}
    env = functions["orchestrator"]["Environment"]["Variables"]
    assert env["MESH_TVM_ROLE_ARN"] == {"Fn::GetAtt": [_logical_id(t, "memory-mesh-tvm"), "Arn"]}
    assert env["MESH_SUPERVISOR_AGENT"] == '{"type":"bedrock-agent","agent_id":"SUPERVISOR","alias_id":"LIVEALIAS1"}'
    assert (env["MESH_TENANT_CLAIM"], env["MESH_SUMMARY_MODEL_ID"], env["MESH_RETENTION_DAYS"]) == (
        "custom:tenant_id", "amazon.nova-lite-v1:0", "90")


def test_supervisor_orchestrator_role_invokes_only_the_configured_supervisor_agent_and_models(sample_mesh):
    t = sample_mesh.template(SUP)
    stmts = _policy_of(t, _logical_id(t, "memory-mesh-orchestrator"))
    assert find_statement(stmts, "bedrock:InvokeAgent")["Resource"] == (
        "arn:aws:bedrock:us-east-1:111111111111:agent-alias/SUPERVISOR/LIVEALIAS1")
    assert find_statement(stmts, "bedrock:InvokeModel")["Resource"] == (
        "arn:aws:bedrock:us-east-1::foundation-model/amazon.titan-embed-text-v2:0")
    summarizer = _policy_of(t, _logical_id(t, "memory-mesh-summarizer"))
    models = sorted(r for s in summarizer if s["Action"] == "bedrock:InvokeModel" for r in as_list(s["Resource"]))
    assert models == ["arn:aws:bedrock:us-east-1::foundation-model/amazon.nova-lite-v1:0",
                      "arn:aws:bedrock:us-east-1::foundation-model/amazon.titan-embed-text-v2:0"]


def test_supervisor_api_uses_the_configured_issuer_and_audience(sample_mesh):
    t = sample_mesh.template(SUP)
    (authorizer,) = resources(t, "AWS::ApiGatewayV2::Authorizer").values()
    assert authorizer["Properties"]["JwtConfiguration"] == {
        "Issuer": "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_EXAMPLE01",
        "Audience": ["example-app-client-id"]}
    routes = sorted(r["Properties"]["RouteKey"] for r in resources(t, "AWS::ApiGatewayV2::Route").values())
    assert routes == ["DELETE /memories", "GET /memories", "POST /sessions/{session_id}/end",
                      "POST /sessions/{session_id}/messages"]
    assert {"ApiUrl", "OrchestratorFunctionArn", "OnboardingFunctionArn", "ForgetFunctionArn", "SummaryQueueUrl",
            "AlarmTopicArn"} <= set(t["Outputs"])
    assert not resources(t, "AWS::SNS::Subscription")  # the sample config names no alarm e-mail


def test_operations_config_sets_the_alarm_email_and_schedule_and_no_api_config_means_no_api():
    import copy

    from stacks.mesh import sample_config_dict
    from tests.conftest import synth_mesh

    raw = copy.deepcopy(sample_config_dict())
    raw["operations"] = {"alarm_email": "oncall@example.com", "retention_schedule": "rate(12 hours)"}
    del raw["api"]
    t = synth_mesh(raw, nag=False).template(SUP)
    (subscription,) = resources(t, "AWS::SNS::Subscription").values()
    assert subscription["Properties"]["Endpoint"] == "oncall@example.com"
    (schedule,) = resources(t, "AWS::Scheduler::Schedule").values()
    assert schedule["Properties"]["ScheduleExpression"] == "rate(12 hours)"
    assert not [r for r in t["Resources"].values() if r["Type"].startswith("AWS::ApiGatewayV2::")]
    assert "ApiUrl" not in t["Outputs"]


def test_supervisor_agent_is_required_because_the_orchestrator_invokes_it():
    import copy

    import pytest

    from stacks.config import ConfigError, MeshConfig
    from stacks.mesh import sample_config_dict

    raw = copy.deepcopy(sample_config_dict())
    del raw["supervisor"]["agent"]
    with pytest.raises(ConfigError) as err:
        MeshConfig.from_dict(raw)
    assert err.value.problems == [
        "supervisor.agent: is required: the orchestrator hands every conversation to the supervisor agent first "
        "(a bedrock-agent or agentcore-runtime)"]


def test_operations_config_messages():
    import copy

    import pytest

    from stacks.config import ConfigError, MeshConfig
    from stacks.mesh import sample_config_dict

    raw = copy.deepcopy(sample_config_dict())
    raw["operations"] = {"alarm_email": "nobody", "retention_schedule": "daily", "pager": "x"}
    with pytest.raises(ConfigError) as err:
        MeshConfig.from_dict(raw)
    assert err.value.problems == [
        "operations.pager='x': unknown field; allowed: alarm_email, retention_schedule",
        "operations.alarm_email='nobody': an e-mail address",
        "operations.retention_schedule='daily': an EventBridge Scheduler expression such as 'cron(15 3 * * ? *)' or "
        "'rate(1 day)'",
    ]
