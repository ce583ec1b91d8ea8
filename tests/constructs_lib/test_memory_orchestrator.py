"""MemoryOrchestrator: functions, queues, schedule, API, alarms, exact IAM, validation and cdk-nag."""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import App, Duration, Environment, Stack
from aws_cdk import aws_iam as iam

from constructs_lib import (
    AgentMemory,
    AgentTarget,
    FunctionOptions,
    FunctionSizing,
    JwtApiOptions,
    MemoryOrchestrator,
    PropsError,
    TokenVendingMachine,
    VectorMemoryStore,
    WorkerTarget,
    add_nag_packs,
)
from constructs_lib.memory_orchestrator import HANDLERS, WORKERS_FILE, _write_workers_file
from tests.constructs_lib.helpers import ACCOUNT, REGION, as_list, resources

# One worker builds the module's synthesized stacks (with `--dist loadgroup`, as `make test` runs).
pytestmark = pytest.mark.xdist_group("memory_orchestrator")

FUNCTIONS = ("orchestrator", "summarizer", "onboarding", "forget", "retention")
WORKER = WorkerTarget(
    name="billing", role_arn="arn:aws:iam::222222222222:role/mesh-worker-billing", external_id="mesh:billing",
    region="us-east-1", agent=AgentTarget.bedrock_agent(agent_id="BILLINGAG1", alias_id="LIVEALIAS1"),
    allowed_tenants=("acme", "globex"))
RESEARCH = WorkerTarget(
    name="research", role_arn="arn:aws:iam::333333333333:role/mesh-worker-research", external_id="mesh:research",
    region="us-west-2",
    agent=AgentTarget.agentcore_runtime(
        runtime_arn="arn:aws:bedrock-agentcore:us-west-2:333333333333:runtime/research_agent-AbCdEf1234"),
    allowed_tenants=("acme",))
SUPERVISOR = AgentTarget.bedrock_agent(agent_id="SUPERVISOR", alias_id="LIVEALIAS1")
API = JwtApiOptions(jwt_issuer="https://cognito-idp.us-east-1.amazonaws.com/us-east-1_EXAMPLE01",
                    jwt_audience=["app-client-1", "app-client-2"], tenant_claim="custom:tenant")


@dataclass
class Built:
    stack: Stack
    orchestration: MemoryOrchestrator
    tvm: TokenVendingMachine
    store: VectorMemoryStore
    memory: AgentMemory
    template: dict[str, Any]
    report: dict[str, Any] | None
    assembly_dir: Path

    def lid(self, construct: Any) -> str:
        """Logical id of an L2's (or L1's) CloudFormation resource."""
        node = construct.node.default_child or construct
        return self.stack.resolve(node.logical_id)

    def ref(self, construct: Any, attribute: str = "Arn") -> dict[str, Any]:
        return {"Fn::GetAtt": [self.lid(construct), attribute]}

    def res(self, construct: Any) -> dict[str, Any]:
        return self.template["Resources"][self.lid(construct)]

    def props(self, construct: Any) -> dict[str, Any]:
        return self.res(construct)["Properties"]


def _build(nag: bool = False, **kwargs: Any) -> Built:
    from tests.conftest import app_context

    app = App(context=app_context())
    stack = Stack(app, "Test", env=Environment(account=ACCOUNT, region=REGION))
    store = VectorMemoryStore(stack, "Store", tenant_ids=["acme"])
    memory = AgentMemory(stack, "Memory", encryption_key=store.encryption_key)
    tvm = TokenVendingMachine(stack, "Tvm", vector_store=store, agent_memory=memory)
    options: dict[str, Any] = {"supervisor_agent": SUPERVISOR, "workers": [WORKER, RESEARCH], "api": API,
                               "alarm_email": "ops@example.com", **kwargs}
    orchestration = MemoryOrchestrator(stack, "Orchestration", vector_store=store, agent_memory=memory,
                                       token_vending_machine=tvm, **options)
    if nag:
        add_nag_packs(app, verbose=False)
    assembly = app.synth()
    template = json.loads(Path(assembly.directory, "Test.template.json").read_text())
    report_path = Path(assembly.directory, "validation-report.json")
    report = json.loads(report_path.read_text()) if report_path.exists() else None
    return Built(stack, orchestration, tvm, store, memory, template, report, Path(assembly.directory))


@pytest.fixture(scope="module")
def built() -> Built:
    return _build(nag=True)


@pytest.fixture(scope="module")
def without_api() -> Built:
    """No API, an AgentCore Runtime supervisor, an inference-profile summary model, the defaults elsewhere."""
    return _build(api=None, alarm_email=None,
                  supervisor_agent=AgentTarget.agentcore_runtime(
                      runtime_arn="arn:aws:bedrock-agentcore:us-east-1:111111111111:runtime/supervisor-AbCdEf1234"),
                  summary_model_id="us.anthropic.claude-3-5-haiku-20241022-v1:0")


def _role_statements(b: Built, role: Any) -> list[dict[str, Any]]:
    role_ref = {"Ref": b.lid(role)}
    return [s for p in resources(b.template, "AWS::IAM::Policy").values() if role_ref in p["Properties"]["Roles"]
            for s in p["Properties"]["PolicyDocument"]["Statement"]]


def _shape(statements: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    """(sorted actions, resources, condition) of each statement, order-independent; Sid and Effect aside."""
    assert all(s["Effect"] == "Allow" for s in statements)
    return sorted((tuple(sorted(as_list(s["Action"]))), json.dumps(as_list(s["Resource"]), sort_keys=True),
                   json.dumps(s.get("Condition"), sort_keys=True)) for s in statements)


def _expected(*statements: tuple[Any, Any, Any]) -> list[tuple[Any, ...]]:
    return sorted((tuple(sorted(as_list(a))), json.dumps(as_list(r), sort_keys=True), json.dumps(c, sort_keys=True))
                  for a, r, c in statements)


def _via(service: str) -> dict[str, Any]:
    return {"StringEquals": {"kms:ViaService": [f"{service}.{REGION}.amazonaws.com"]}}


def _kms(b: Built, service: str) -> tuple[Any, Any, Any]:
    return (["kms:Decrypt", "kms:GenerateDataKey"], b.ref(b.store.encryption_key), _via(service))


def _function_basics(b: Built, name: str) -> list[tuple[Any, Any, Any]]:
    """What every function's role holds: its log group, X-Ray, the async DLQ (and its key through SQS)."""
    o = b.orchestration
    log_group = b.props(o.functions[name])["LoggingConfig"]["LogGroup"]["Ref"]
    return [
        (["logs:CreateLogStream", "logs:PutLogEvents"], {"Fn::GetAtt": [log_group, "Arn"]}, None),
        (["xray:PutTelemetryRecords", "xray:PutTraceSegments"], "*", None),
        ("sqs:SendMessage", b.ref(o.failed_invocations_queue), None),
        _kms(b, "sqs"),
    ]


def _index_star(b: Built) -> dict[str, Any]:
    return {"Fn::Join": ["", [b.ref(b.store.bucket, "VectorBucketArn"), "/index/tenant-*"]]}


# ---- functions -----------------------------------------------------------------------------------------------


def test_five_functions_from_one_code_asset_on_arm64_python_3_12_with_tracing_and_kms(built):
    o = built.orchestration
    functions = resources(built.template, "AWS::Lambda::Function")
    assert len(functions) == 5
    assert len({json.dumps(f["Properties"]["Code"], sort_keys=True) for f in functions.values()}) == 1
    sdk_layer = {"Ref": built.lid(o.bundle.sdk_layer)}
    expected = {"orchestrator": (1024, 29, 50), "summarizer": (512, 120, 5), "onboarding": (256, 30, 2),
                "forget": (512, 29, 5), "retention": (512, 900, 1)}
    for name, fn in o.functions.items():
        p = built.props(fn)
        assert p["Handler"] == f"runtime.handlers.{name}.handler" == HANDLERS[name]
        assert (p["Runtime"], p["Architectures"]) == ("python3.12", ["arm64"])
        assert (p["MemorySize"], p["Timeout"], p["ReservedConcurrentExecutions"]) == expected[name]
        assert p["TracingConfig"] == {"Mode": "Active"}
        assert p["KmsKeyArn"] == built.ref(built.store.encryption_key)
        assert p["DeadLetterConfig"] == {"TargetArn": built.ref(o.failed_invocations_queue)}
        assert p["Layers"][0] == sdk_layer
        assert p["LoggingConfig"]["LogFormat"] == "JSON"
        assert (p["LoggingConfig"]["ApplicationLogLevel"], p["LoggingConfig"]["SystemLogLevel"]) == ("INFO", "WARN")
        # DependsOn the role's policy (the Role property already orders it after the role).
        assert built.res(fn)["DependsOn"] == [built.lid(fn.role.node.find_child("DefaultPolicy"))]
    assert built.props(o.orchestrator)["Layers"] == [sdk_layer, {"Ref": built.lid(o.workers_layer)}]


def test_each_function_has_its_own_encrypted_log_group_with_retention(built):
    o = built.orchestration
    groups = resources(built.template, "AWS::Logs::LogGroup")
    assert len(groups) == 6  # five functions and the API access log
    prefix = "/agent-memory-mesh/Test-Orchestration-31D8A000"
    for name, fn in o.functions.items():
        group = groups[built.props(fn)["LoggingConfig"]["LogGroup"]["Ref"]]["Properties"]
        assert group == {"LogGroupName": f"{prefix}/{name}", "RetentionInDays": 365,
                         "KmsKeyId": built.ref(built.store.encryption_key)}
    (logs_stmt,) = [s for s in built.props(built.store.encryption_key)["KeyPolicy"]["Statement"]
                    if s.get("Sid") == "AllowCloudWatchLogsForMemoryOrchestration"]
    assert logs_stmt["Principal"] == {"Service": "logs.us-east-1.amazonaws.com"}
    assert logs_stmt["Condition"] == {"ArnEquals": {"kms:EncryptionContext:aws:logs:arn": [
        f"arn:aws:logs:us-east-1:111111111111:log-group:{prefix}/{n}" for n in (*FUNCTIONS, "api-access")]}}


def test_environment_follows_the_handler_contract(built):
    o = built.orchestration
    common = {
        "MESH_REGION": "us-east-1",
        "MESH_VECTOR_BUCKET": built.stack.resolve(built.store.vector_bucket_name),
        "MESH_INDEX_PREFIX": "tenant-",
        "MESH_EMBEDDING_DIMENSION": "1024",
        "MESH_DISTANCE_METRIC": "cosine",
        "MESH_EMBEDDING_MODEL_ID": "amazon.titan-embed-text-v2:0",
        "MESH_MEMORY_ID": built.ref(built.memory.memory.node.find_child("Memory"), "MemoryId"),
        "MESH_TVM_ROLE_ARN": built.ref(built.tvm.role),
        "MESH_SUMMARY_MODEL_ID": "amazon.nova-lite-v1:0",
        "MESH_RETENTION_DAYS": "90",
        "MESH_CONTENT_MAX_BYTES": "16384",
        "POWERTOOLS_METRICS_NAMESPACE": "AgentMemoryMesh",
        "POWERTOOLS_LOGGER_LOG_EVENT": "false",
        "LOG_LEVEL": "INFO",
    }
    extra = {
        "orchestrator": {
            "MESH_SUMMARY_QUEUE_URL": {"Ref": built.lid(o.summary_queue)},
            "MESH_TENANT_CLAIM": "custom:tenant",
            "MESH_WORKERS_FILE": "/opt/mesh/workers.json",
            "MESH_SUPERVISOR_AGENT": '{"type":"bedrock-agent","agent_id":"SUPERVISOR","alias_id":"LIVEALIAS1"}',
        },
        "forget": {"MESH_TENANT_CLAIM": "custom:tenant",
                   "MESH_SUPERVISOR_AGENT": '{"type":"bedrock-agent","agent_id":"SUPERVISOR","alias_id":"LIVEALIAS1"}'},
        # New tenant indexes get the store's key, like the declared ones.
        "onboarding": {"MESH_KMS_KEY_ARN": built.ref(built.store.encryption_key)},
    }
    for name, fn in o.functions.items():
        env = built.props(fn)["Environment"]["Variables"]
        assert env == {**common, **extra.get(name, {}), "POWERTOOLS_SERVICE_NAME": name}, name


def test_workers_file_ships_in_a_config_layer_with_a_content_hash(built, without_api):
    o = built.orchestration
    layer = built.props(o.workers_layer)
    assert layer["CompatibleRuntimes"] == ["python3.12"] and layer["CompatibleArchitectures"] == ["arm64"]
    directory, digest = _write_workers_file([WORKER, RESEARCH])
    assert json.loads(Path(directory, "mesh", "workers.json").read_text()) == [
        {"name": "billing", "role_arn": "arn:aws:iam::222222222222:role/mesh-worker-billing",
         "external_id": "mesh:billing", "region": "us-east-1",
         "agent": {"type": "bedrock-agent", "agent_id": "BILLINGAG1", "alias_id": "LIVEALIAS1"},
         "allowed_tenants": ["acme", "globex"]},
        {"name": "research", "role_arn": "arn:aws:iam::333333333333:role/mesh-worker-research",
         "external_id": "mesh:research", "region": "us-west-2",
         "agent": {"type": "agentcore-runtime",
                   "runtime_arn": "arn:aws:bedrock-agentcore:us-west-2:333333333333:runtime/research_agent-AbCdEf1234"},
         "allowed_tenants": ["acme"]},
    ]
    assert sorted(p.name for p in Path(directory).rglob("*")) == ["mesh", "workers.json"]
    assert WORKERS_FILE == "/opt/mesh/workers.json"
    # The staged layer holds exactly mesh/workers.json (extracted to /opt).
    (staged,) = [p for p in built.assembly_dir.glob("asset.*") if (p / "mesh" / "workers.json").is_file()]
    assert staged.joinpath("mesh", "workers.json").read_bytes() == Path(directory, "mesh", "workers.json").read_bytes()
    # Same content, same asset, whichever app synthesizes it: the hash is the content's, not a path's or mtime's.
    assert _write_workers_file([WORKER, RESEARCH]) == (directory, digest)
    other = without_api.orchestration
    assert layer["Content"] == without_api.props(other.workers_layer)["Content"]
    assert built.props(o.orchestrator)["Code"] == without_api.props(other.orchestrator)["Code"]
    assert _write_workers_file([WORKER])[1] != digest


# ---- queues, event source, schedule, alarms -------------------------------------------------------------------


def test_summary_queue_is_encrypted_tls_only_and_redrives_to_a_dlq_after_three_receives(built):
    o = built.orchestration
    key = built.ref(built.store.encryption_key)
    queue = built.props(o.summary_queue)
    assert queue == {"KmsMasterKeyId": key, "VisibilityTimeout": 6 * 120,
                     "RedrivePolicy": {"deadLetterTargetArn": built.ref(o.summary_dead_letter_queue),
                                       "maxReceiveCount": 3}}
    for dlq in (o.summary_dead_letter_queue, o.failed_invocations_queue):
        assert built.props(dlq) == {"KmsMasterKeyId": key, "MessageRetentionPeriod": 14 * 24 * 3600}
    for q in (o.summary_queue, o.summary_dead_letter_queue, o.failed_invocations_queue):
        policy = [p["Properties"] for p in resources(built.template, "AWS::SQS::QueuePolicy").values()
                  if {"Ref": built.lid(q)} in p["Properties"]["Queues"]]
        (deny,) = [s for p in policy for s in p["PolicyDocument"]["Statement"] if s["Effect"] == "Deny"]
        assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}} and deny["Action"] == "sqs:*"


def test_summarizer_consumes_in_batches_and_reports_partial_failures(built):
    o = built.orchestration
    (mapping,) = resources(built.template, "AWS::Lambda::EventSourceMapping").values()
    assert mapping["Properties"] == {
        "EventSourceArn": built.ref(o.summary_queue),
        "FunctionName": {"Ref": built.lid(o.summarizer)},
        "BatchSize": 5,
        "MaximumBatchingWindowInSeconds": 5,
        "FunctionResponseTypes": ["ReportBatchItemFailures"],
        # Never more pollers than reserved executions: a throttled batch would count as a receive.
        "ScalingConfig": {"MaximumConcurrency": 5},
    }


def test_retention_runs_daily_with_retries_and_a_dead_letter_queue(built):
    o = built.orchestration
    (schedule,) = resources(built.template, "AWS::Scheduler::Schedule").values()
    p = schedule["Properties"]
    assert (p["ScheduleExpression"], p["ScheduleExpressionTimezone"], p["State"]) == (
        "cron(15 3 * * ? *)", "Etc/UTC", "ENABLED")
    target = p["Target"]
    assert target["Arn"] == built.ref(o.retention)
    assert target["DeadLetterConfig"] == {"Arn": built.ref(o.failed_invocations_queue)}
    assert target["RetryPolicy"] == {"MaximumEventAgeInSeconds": 3600, "MaximumRetryAttempts": 2}
    assert json.loads(target["Input"])["detail-type"] == "Scheduled Event"
    role_id = target["RoleArn"]["Fn::GetAtt"][0]
    role = built.template["Resources"][role_id]["Properties"]
    (trust,) = role["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Service": "scheduler.amazonaws.com"}
    assert trust["Condition"] == {"StringEquals": {"aws:SourceAccount": ACCOUNT}}
    stmts = [s for pol in resources(built.template, "AWS::IAM::Policy").values()
             if {"Ref": role_id} in pol["Properties"]["Roles"]
             for s in pol["Properties"]["PolicyDocument"]["Statement"]]
    assert _shape(stmts) == _expected(
        ("lambda:InvokeFunction", built.ref(o.retention), None),
        ("sqs:SendMessage", built.ref(o.failed_invocations_queue), None),
        _kms(built, "sqs"),
    )


def test_dead_letter_queues_and_orchestrator_errors_alarm_to_an_encrypted_topic(built):
    o = built.orchestration
    alarms = {a["Properties"]["AlarmName"]: a["Properties"]
              for a in resources(built.template, "AWS::CloudWatch::Alarm").values()}
    base = "Test-Orchestration-31D8A000"
    assert sorted(alarms) == sorted(f"{base}-{n}" for n in ("summary-dlq", "failed-invocations", "orchestrator-errors"))
    topic_ref = {"Ref": built.lid(o.alarm_topic)}
    for name, queue in ((f"{base}-summary-dlq", o.summary_dead_letter_queue),
                        (f"{base}-failed-invocations", o.failed_invocations_queue)):
        a = alarms[name]
        assert (a["Namespace"], a["MetricName"], a["Statistic"], a["Period"]) == (
            "AWS/SQS", "ApproximateNumberOfMessagesVisible", "Maximum", 300)
        assert a["Dimensions"] == [{"Name": "QueueName", "Value": built.ref(queue, "QueueName")}]
    errors = alarms[f"{base}-orchestrator-errors"]
    assert (errors["Namespace"], errors["MetricName"], errors["Statistic"]) == ("AWS/Lambda", "Errors", "Sum")
    for a in alarms.values():
        assert (a["Threshold"], a["EvaluationPeriods"], a["ComparisonOperator"], a["TreatMissingData"]) == (
            1, 1, "GreaterThanOrEqualToThreshold", "notBreaching")
        assert a["AlarmActions"] == [topic_ref]
    topic = built.props(o.alarm_topic)
    assert topic["KmsMasterKeyId"] == built.ref(built.store.encryption_key)
    alarm_arns = [f"arn:aws:cloudwatch:us-east-1:111111111111:alarm:{base}-{n}"
                  for n in ("summary-dlq", "failed-invocations", "orchestrator-errors")]
    (topic_policy,) = resources(built.template, "AWS::SNS::TopicPolicy").values()
    by_sid = {s["Sid"]: s for s in topic_policy["Properties"]["PolicyDocument"]["Statement"]}
    assert by_sid["AllowPublishThroughSSLOnly"]["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert by_sid["AllowCloudWatchAlarms"]["Principal"] == {"Service": "cloudwatch.amazonaws.com"}
    assert by_sid["AllowCloudWatchAlarms"]["Condition"] == {
        "StringEquals": {"aws:SourceAccount": ACCOUNT}, "ArnEquals": {"aws:SourceArn": alarm_arns}}
    (subscription,) = resources(built.template, "AWS::SNS::Subscription").values()
    assert subscription["Properties"]["Protocol"] == "email"
    assert subscription["Properties"]["Endpoint"] == "ops@example.com"
    assert subscription["Properties"]["RedrivePolicy"] == {"deadLetterTargetArn": built.ref(o.failed_invocations_queue)}
    key_stmts = {s.get("Sid"): s for s in built.props(built.store.encryption_key)["KeyPolicy"]["Statement"]}
    assert key_stmts["AllowCloudWatchAlarmsToEncrypt"]["Condition"] == by_sid["AllowCloudWatchAlarms"]["Condition"]
    assert key_stmts["AllowSnsDeadLetters"]["Condition"] == {
        "StringEquals": {"aws:SourceAccount": ACCOUNT},
        "ArnEquals": {"aws:SourceArn": f"arn:aws:sns:us-east-1:111111111111:{base}-alarms"}}


# ---- API --------------------------------------------------------------------------------------------------------


def test_api_routes_require_the_jwt_authorizer_and_reach_the_right_function(built):
    o = built.orchestration
    (authorizer_id, authorizer), = resources(built.template, "AWS::ApiGatewayV2::Authorizer").items()
    assert authorizer["Properties"]["AuthorizerType"] == "JWT"
    assert authorizer["Properties"]["IdentitySource"] == ["$request.header.Authorization"]
    assert authorizer["Properties"]["JwtConfiguration"] == {
        "Issuer": "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_EXAMPLE01",
        "Audience": ["app-client-1", "app-client-2"]}
    integrations = {k: i["Properties"] for k, i in resources(built.template, "AWS::ApiGatewayV2::Integration").items()}
    routes = {}
    for route in resources(built.template, "AWS::ApiGatewayV2::Route").values():
        p = route["Properties"]
        assert (p["AuthorizationType"], p["AuthorizerId"]) == ("JWT", {"Ref": authorizer_id})
        integration = integrations[p["Target"]["Fn::Join"][1][1]["Ref"]]
        assert (integration["IntegrationType"], integration["PayloadFormatVersion"]) == ("AWS_PROXY", "2.0")
        routes[p["RouteKey"]] = integration["IntegrationUri"]
    orchestrator, forget = built.ref(o.orchestrator), built.ref(o.forget)
    assert routes == {"POST /sessions/{session_id}/messages": orchestrator,
                      "POST /sessions/{session_id}/end": orchestrator,
                      "GET /memories": orchestrator,
                      "DELETE /memories": forget}
    for permission in resources(built.template, "AWS::Lambda::Permission").values():
        p = permission["Properties"]
        assert p["Principal"] == "apigateway.amazonaws.com" and "SourceArn" in p


def test_api_stage_is_throttled_and_writes_json_access_logs_without_personal_data(built):
    (stage,) = resources(built.template, "AWS::ApiGatewayV2::Stage").values()
    p = stage["Properties"]
    assert (p["StageName"], p["AutoDeploy"]) == ("$default", True)
    assert p["DefaultRouteSettings"] == {"ThrottlingRateLimit": 10, "ThrottlingBurstLimit": 20}
    log_group = built.template["Resources"][p["AccessLogSettings"]["DestinationArn"]["Fn::GetAtt"][0]]["Properties"]
    assert log_group["KmsKeyId"] == built.ref(built.store.encryption_key) and log_group["RetentionInDays"] == 365
    fields = json.loads(p["AccessLogSettings"]["Format"])
    assert fields["requestId"] == "$context.requestId" and fields["status"] == "$context.status"
    assert not [v for v in fields.values() if "sourceIp" in v or "claims" in v or "userAgent" in v]


def test_no_api_options_means_no_api_and_the_default_tenant_claim(without_api):
    assert not [k for k, r in without_api.template["Resources"].items() if r["Type"].startswith("AWS::ApiGatewayV2::")]
    assert without_api.orchestration.api is None
    env = without_api.props(without_api.orchestration.orchestrator)["Environment"]["Variables"]
    assert env["MESH_TENANT_CLAIM"] == "custom:tenant_id"
    assert len(resources(without_api.template, "AWS::Logs::LogGroup")) == 5
    assert not resources(without_api.template, "AWS::SNS::Subscription")


# ---- least privilege ---------------------------------------------------------------------------------------------


def test_orchestrator_may_assume_only_the_tvm_and_the_configured_worker_roles(built):
    o = built.orchestration
    stmts = _role_statements(built, o.orchestrator_role)
    assumed = [r for s in stmts if "sts:AssumeRole" in as_list(s["Action"]) for r in as_list(s["Resource"])]
    assert assumed == [built.ref(built.tvm.role), WORKER.role_arn, RESEARCH.role_arn]
    trusted = [s["Condition"]["ArnEquals"]["aws:PrincipalArn"]
               for s in built.props(built.tvm.role)["AssumeRolePolicyDocument"]["Statement"]]
    assert trusted == [built.ref(o.orchestrator_role), built.ref(o.summarizer_role)]


def test_orchestrator_role_statements_are_exact(built):
    o = built.orchestration
    assume = ["sts:AssumeRole", "sts:SetSourceIdentity", "sts:TagSession"]
    assert _shape(_role_statements(built, o.orchestrator_role)) == _expected(
        *_function_basics(built, "orchestrator"),
        (assume, built.ref(built.tvm.role), None),
        (assume, [WORKER.role_arn, RESEARCH.role_arn], None),
        ("bedrock:InvokeModel", "arn:aws:bedrock:us-east-1::foundation-model/amazon.titan-embed-text-v2:0", None),
        ("bedrock:InvokeAgent", "arn:aws:bedrock:us-east-1:111111111111:agent-alias/SUPERVISOR/LIVEALIAS1", None),
        ("sqs:SendMessage", built.ref(o.summary_queue), None),
    )


def test_summarizer_role_statements_are_exact(built):
    o = built.orchestration
    assert _shape(_role_statements(built, o.summarizer_role)) == _expected(
        *_function_basics(built, "summarizer"),
        (["sts:AssumeRole", "sts:SetSourceIdentity", "sts:TagSession"], built.ref(built.tvm.role), None),
        ("bedrock:InvokeModel", "arn:aws:bedrock:us-east-1::foundation-model/amazon.titan-embed-text-v2:0", None),
        ("bedrock:InvokeModel", "arn:aws:bedrock:us-east-1::foundation-model/amazon.nova-lite-v1:0", None),
        (["sqs:ChangeMessageVisibility", "sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:ReceiveMessage"],
         built.ref(o.summary_queue), None),
    )


def test_onboarding_forget_and_retention_role_statements_are_exact(built):
    o = built.orchestration
    bucket = built.ref(built.store.bucket, "VectorBucketArn")
    delete_vectors = (["s3vectors:DeleteVectors", "s3vectors:GetIndex", "s3vectors:GetVectors",
                       "s3vectors:ListVectors"], _index_star(built), None)
    assert _shape(_role_statements(built, o.onboarding_role)) == _expected(
        *_function_basics(built, "onboarding"), _kms(built, "s3vectors"),
        (["s3vectors:CreateIndex", "s3vectors:GetIndex"], _index_star(built), None),
    )
    assert _shape(_role_statements(built, o.forget_role)) == _expected(
        *_function_basics(built, "forget"), _kms(built, "s3vectors"), _kms(built, "bedrock-agentcore"),
        delete_vectors,
        (["bedrock-agentcore:BatchDeleteMemoryRecords", "bedrock-agentcore:DeleteEvent",
          "bedrock-agentcore:DeleteMemoryRecord", "bedrock-agentcore:GetEvent", "bedrock-agentcore:GetMemoryRecord",
          "bedrock-agentcore:ListEvents", "bedrock-agentcore:ListMemoryRecords", "bedrock-agentcore:ListSessions",
          "bedrock-agentcore:RetrieveMemoryRecords"],
         built.ref(built.memory.memory.node.find_child("Memory"), "MemoryArn"), None),
        ("bedrock:DeleteAgentMemory", "arn:aws:bedrock:us-east-1:111111111111:agent-alias/SUPERVISOR/LIVEALIAS1", None),
    )
    assert _shape(_role_statements(built, o.retention_role)) == _expected(
        *_function_basics(built, "retention"), _kms(built, "s3vectors"), delete_vectors,
        ("s3vectors:ListIndexes", bucket, None),
    )


def test_no_function_role_uses_a_managed_policy(built):
    for role in resources(built.template, "AWS::IAM::Role").values():
        assert "ManagedPolicyArns" not in role["Properties"]


def test_inference_profile_is_granted_with_its_models_only_through_the_profile(without_api):
    profile = ("arn:aws:bedrock:us-east-1:111111111111:inference-profile/"
               "us.anthropic.claude-3-5-haiku-20241022-v1:0")
    stmts = [s for s in _role_statements(without_api, without_api.orchestration.summarizer_role)
             if s.get("Sid", "").startswith("InvokeSummaryModel")]
    assert _shape(stmts) == _expected(
        ("bedrock:InvokeModel", profile, None),
        ("bedrock:InvokeModel",
         [f"arn:aws:bedrock:{r}::foundation-model/anthropic.claude-3-5-haiku-20241022-v1:0"
          for r in ("us-east-1", "us-east-2", "us-west-2")],
         {"StringEquals": {"bedrock:InferenceProfileArn": profile}}),
    )


def test_agentcore_runtime_supervisor_is_invoked_on_its_default_endpoint_only(without_api):
    o = without_api.orchestration
    arn = "arn:aws:bedrock-agentcore:us-east-1:111111111111:runtime/supervisor-AbCdEf1234"
    (stmt,) = [s for s in _role_statements(without_api, o.orchestrator_role) if s.get("Sid") == "InvokeSupervisorAgent"]
    assert stmt["Action"] == "bedrock-agentcore:InvokeAgentRuntime"
    assert stmt["Resource"] == [arn, f"{arn}/runtime-endpoint/DEFAULT"]
    env = without_api.props(o.orchestrator)["Environment"]["Variables"]
    assert json.loads(env["MESH_SUPERVISOR_AGENT"]) == {"type": "agentcore-runtime", "runtime_arn": arn}


def test_grant_methods_allow_invoking_exactly_one_function():
    from tests.conftest import app_context

    app = App(context=app_context())
    stack = Stack(app, "Grants", env=Environment(account=ACCOUNT, region=REGION))
    store = VectorMemoryStore(stack, "Store")
    memory = AgentMemory(stack, "Memory", encryption_key=store.encryption_key)
    tvm = TokenVendingMachine(stack, "Tvm", vector_store=store, agent_memory=memory)
    o = MemoryOrchestrator(stack, "Orchestration", vector_store=store, agent_memory=memory, token_vending_machine=tvm,
                           supervisor_agent=SUPERVISOR)
    caller = iam.Role(stack, "Caller", assumed_by=iam.AccountPrincipal(ACCOUNT))
    o.grant_invoke_orchestrator(caller)
    o.grant_onboard(caller)
    o.grant_forget(caller)
    statements = caller.node.find_child("DefaultPolicy").document.to_json()["Statement"]
    assert [stack.resolve(s["Resource"]) for s in statements] == [
        stack.resolve(f.function_arn) for f in (o.orchestrator, o.onboarding, o.forget)]
    assert {s["Action"] for s in statements} == {"lambda:InvokeFunction"}


# ---- cdk-nag ----------------------------------------------------------------------------------------------------


def test_all_four_nag_packs_pass_with_only_these_acknowledgments(built):
    report = built.report
    assert report is not None
    acknowledged = set()
    for pack in report["pluginReports"]:
        assert (pack["conclusion"], pack["violations"]) == ("success", []), pack["pluginName"]
        acknowledged |= {s["acknowledgedId"] for s in pack.get("suppressedViolations", [])}
    bucket = built.lid(built.store.bucket)
    assert acknowledged == {
        # The memory's own execution role (AgentMemory) and the inline policies of every role.
        "AwsSolutions::AwsSolutions-IAM5[Action::kms:ReEncrypt*]",
        "HIPAA.Security::HIPAA.Security-IAMNoInlinePolicy",
        "NIST.800.53.R5::NIST.800.53.R5-IAMNoInlinePolicy",
        # Added by MemoryOrchestrator, each with its reason.
        "AwsSolutions::AwsSolutions-IAM5[Resource::*]",
        f"AwsSolutions::AwsSolutions-IAM5[Resource::<{bucket}.VectorBucketArn>/index/tenant-*]",
        "AwsSolutions::AwsSolutions-L1",
        "Serverless::Serverless-LambdaLatestVersion",
        "Serverless::Serverless-LambdaEventSourceMappingDestination",
        "Serverless::Serverless-SQSRedrivePolicy",
        "HIPAA.Security::HIPAA.Security-LambdaInsideVPC",
        "NIST.800.53.R5::NIST.800.53.R5-LambdaInsideVPC",
    }


def test_cfn_lint_finds_nothing(built):
    from cfnlint.api import lint

    assert [str(m) for m in lint(json.dumps(built.template), regions=["us-east-1"])] == []


# ---- validation -------------------------------------------------------------------------------------------------


def _construct(imported_key_arn: str | None = None, **kwargs: Any) -> MemoryOrchestrator:
    from aws_cdk import aws_kms as kms

    from tests.constructs_lib.helpers import new_stack

    kwargs.setdefault("supervisor_agent", SUPERVISOR)
    stack = new_stack()
    if imported_key_arn:
        kwargs["encryption_key"] = kms.Key.from_key_arn(stack, "ImportedKey", imported_key_arn)
    store = VectorMemoryStore(stack, "Store")
    memory = AgentMemory(stack, "Memory", encryption_key=store.encryption_key)
    tvm = TokenVendingMachine(stack, "Tvm", vector_store=store, agent_memory=memory)
    return MemoryOrchestrator(stack, "Orchestration", vector_store=store, agent_memory=memory,
                              token_vending_machine=tvm, **kwargs)


@pytest.mark.parametrize(
    ("kwargs", "problem"),
    [
        ({"sizing": FunctionSizing(orchestrator=FunctionOptions(64, Duration.seconds(29), 50))},
         "sizing.orchestrator.memory_size=64: must be a whole number from 128 to 10240"),
        ({"sizing": FunctionSizing(retention=FunctionOptions(512, Duration.minutes(16), 1))},
         "sizing.retention.timeout='960s': must be from 1 second to 15 minutes (Lambda limit)"),
        ({"sizing": FunctionSizing(forget=FunctionOptions(512, Duration.seconds(60), 5)), "api": API},
         "sizing.forget.timeout='60s': must be at most 30 seconds behind the HTTP API (API Gateway ends an "
         "integration after 30 seconds)"),
        ({"sizing": FunctionSizing(summarizer=FunctionOptions(512, Duration.seconds(60), 1))},
         "sizing.summarizer.reserved_concurrency=1: must be at least 2: it is also the SQS event source's maximum "
         "concurrency (2-1000)"),
        ({"workers": [replace(WORKER, role_arn="arn:aws:iam::222222222222:user/bob")]},
         "workers[0].role_arn='arn:aws:iam::222222222222:user/bob': an IAM role ARN "
         "arn:aws:iam::<account>:role/<name>"),
        ({"workers": [WORKER, replace(RESEARCH, name="billing")]},
         "workers[1].name='billing': worker names must be unique"),
        ({"workers": [replace(WORKER, allowed_tenants=("Acme",))]},
         "workers[0].allowed_tenants='Acme': tenant ids are 3-40 lowercase letters, digits and '-', starting and "
         "ending with a letter or digit"),
        ({"supervisor_agent": AgentTarget.bedrock_agent(agent_id="short", alias_id="LIVEALIAS1")},
         "supervisor_agent.agent_id='short': a Bedrock Agent id is 10 letters or digits"),
        ({"summary_model_id": "eu.anthropic.claude-3-5-haiku-20241022-v1:0"},
         "summary_model_id='eu.anthropic.claude-3-5-haiku-20241022-v1:0': an inference profile of geography 'eu' "
         "(eu-central-1, eu-north-1, eu-west-1, eu-west-3) cannot be called from us-east-1; use a profile or model "
         "of this Region"),
        ({"embedding_model_id": "Titan Embeddings"},
         "embedding_model_id='Titan Embeddings': a Bedrock model id or cross-Region inference profile id such as "
         "'amazon.titan-embed-text-v2:0' or 'us.anthropic.claude-3-5-haiku-20241022-v1:0'"),
        ({"retention_days": 0}, "retention_days=0: must be a whole number from 1 to 3650"),
        ({"retention_schedule": "every day"},
         "retention_schedule='every day': an EventBridge Scheduler expression such as 'cron(15 3 * * ? *)' or "
         "'rate(1 day)'"),
        ({"log_level": "verbose"}, "log_level='verbose': must be one of DEBUG, INFO, WARN, ERROR"),
        ({"alarm_email": "ops"}, "alarm_email='ops': an e-mail address"),
        ({"api": replace(API, jwt_issuer="http://issuer.example.com")},
         "api.jwt_issuer='http://issuer.example.com': must be the https:// issuer URL"),
        ({"api": replace(API, jwt_audience=[])},
         "api.jwt_audience=[]: must be a non-empty list of client ids / audiences"),
    ],
)
def test_each_invalid_prop_is_named_with_its_value_and_rule(kwargs, problem):
    with pytest.raises(PropsError) as err:
        _construct(**kwargs)
    assert err.value.problems == [problem]
    assert str(err.value).startswith("MemoryOrchestrator: invalid props (1 problem(s)):")


def test_workers_must_be_literals_because_they_are_written_at_synth():
    from aws_cdk import Fn

    with pytest.raises(PropsError) as err:
        _construct(workers=[replace(WORKER, external_id=Fn.ref("ExternalId"))])
    (problem,) = err.value.problems
    assert problem.startswith("workers[0].external_id=") and problem.endswith(
        "must be a literal value, not a deploy-time token (it is written into the functions' configuration at synth)")


def test_all_problems_are_reported_at_once():
    with pytest.raises(PropsError) as err:
        _construct(retention_days=0, log_level="x", alarm_email="y")
    assert len(err.value.problems) == 3


def test_global_and_explicit_region_profiles_stay_exact():
    from constructs_lib.bedrock_models import model_invoke_statements
    from tests.constructs_lib.helpers import new_stack

    stack = new_stack()
    profile = "arn:aws:bedrock:us-east-1:111111111111:inference-profile/global.anthropic.claude-sonnet-4-v1:0"
    direct, via = (stack.resolve(s.to_statement_json())
                   for s in model_invoke_statements(stack, "global.anthropic.claude-sonnet-4-v1:0"))
    assert direct["Resource"] == profile
    assert via["Resource"] == ["arn:aws:bedrock:us-east-1::foundation-model/anthropic.claude-sonnet-4-v1:0",
                               "arn:aws:bedrock:::foundation-model/anthropic.claude-sonnet-4-v1:0"]
    assert via["Condition"] == {"StringEquals": {"bedrock:InferenceProfileArn": profile}}
    _, via = (stack.resolve(s.to_statement_json()) for s in model_invoke_statements(
        stack, "us.amazon.nova-lite-v1:0", regions=["us-east-1", "us-west-2"]))
    assert via["Resource"] == ["arn:aws:bedrock:us-east-1::foundation-model/amazon.nova-lite-v1:0",
                               "arn:aws:bedrock:us-west-2::foundation-model/amazon.nova-lite-v1:0"]


def test_an_imported_key_warns_that_its_policy_must_allow_logs():
    o = _construct(imported_key_arn="arn:aws:kms:us-east-1:111111111111:key/11111111-2222-3333-4444-555555555555")
    warnings = [m.data for m in o.node.metadata if m.type == "aws:cdk:warning"]
    assert len(warnings) == 1 and "allow logs.us-east-1.amazonaws.com to use it" in str(warnings[0])
