"""MemoryOrchestrator: functions, environments from the contract, per-function IAM, queues, schedule, APIs."""

from __future__ import annotations

import json

import pytest

from runtime.contract import MemorySettings
from tests.constructs_lib.helpers import (
    actions_of,
    as_list,
    lid,
    policy_statements,
    ref,
    resources,
    statements_with,
    trust_of,
    unacknowledged,
)
from tests.constructs_lib.orchestrator_fixtures import SUPERVISOR, build

pytestmark = pytest.mark.xdist_group("memory_orchestrator")

FUNCTIONS = ("orchestrator", "forget", "lifecycle", "summarizer", "tenants", "retention")
COMMON = {"LOG_LEVEL", "POWERTOOLS_SERVICE_NAME", "POWERTOOLS_METRICS_NAMESPACE", "POWERTOOLS_LOGGER_LOG_EVENT"}
MEMORY = set(MemorySettings.VARIABLES.values())
LOGS_XRAY = {"logs:CreateLogStream", "logs:PutLogEvents", "xray:PutTraceSegments", "xray:PutTelemetryRecords",
             "kms:Decrypt", "kms:GenerateDataKey", "sqs:SendMessage"}
ASSUME = {"sts:AssumeRole", "sts:SetSourceIdentity", "sts:TagSession"}
ERASE = {"s3vectors:DeleteIndex", "bedrock-agentcore:GetEvent", "bedrock-agentcore:ListEvents",
         "bedrock-agentcore:ListSessions", "bedrock-agentcore:DeleteEvent", "bedrock-agentcore:ListMemoryRecords",
         "bedrock-agentcore:RetrieveMemoryRecords", "bedrock-agentcore:BatchDeleteMemoryRecords",
         "bedrock-agentcore:DeleteMemoryRecord"}
ITEMS = {"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"}
CONSUME = {"sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility", "sqs:GetQueueAttributes"}


@pytest.fixture(scope="module")
def built():
    return build(nag=True)


def _function(built, name):
    return built.orchestration.functions[name]


def _props(built, construct):
    return built.template["Resources"][lid(construct)]["Properties"]


def _env(built, name):
    return _props(built, _function(built, name))["Environment"]["Variables"]


def _stmts(built, name):
    return policy_statements(built.template, _function(built, name).function_role)


def _leading_keys(stmts):
    return sorted(k for s in statements_with(stmts, "dynamodb:GetItem")
                  for k in s["Condition"]["ForAllValues:StringLike"]["dynamodb:LeadingKeys"])


def test_six_functions_on_the_shared_bundle_with_tracing_kms_and_their_own_logs(built):
    functions = resources(built.template, "AWS::Lambda::Function")
    assert sorted(f["Properties"]["Handler"] for f in functions.values()) == sorted(
        f"runtime.handlers.{name}.handler" for name in FUNCTIONS)
    for name in FUNCTIONS:
        function = _function(built, name)
        props = _props(built, function)
        assert (props["Runtime"], props["Architectures"], props["TracingConfig"]) == (
            "python3.12", ["arm64"], {"Mode": "Active"})
        assert props["KmsKeyArn"] == ref(built.home.key)
        assert props["DeadLetterConfig"] == {"TargetArn": ref(built.orchestration.failed_invocations_queue)}
        assert props["Role"] == ref(function.function_role)
        log_group = built.template["Resources"][lid(function.function_log_group)]
        assert log_group["Properties"]["KmsKeyId"] == ref(built.home.key)
        assert log_group["Properties"]["RetentionInDays"] == 365 and log_group["DeletionPolicy"] == "Retain"
        assert _props(built, function.function_role)["RoleName"] == f"mesh-{name}"


def test_every_function_gets_the_contracts_memory_settings_and_only_the_function_settings_it_uses(built):
    extra = {
        "orchestrator": {"MESH_TENANT_CLAIM", "MESH_SUPERVISOR_AGENT", "MESH_WORKERS_FILE",
                         "MESH_LIFECYCLE_QUEUE_URL", "MESH_EVENT_QUEUE_URL"},
        "forget": {"MESH_TENANT_CLAIM", "MESH_SUPERVISOR_AGENT", "MESH_LIFECYCLE_QUEUE_URL"},
        "lifecycle": {"MESH_TENANT_CLAIM", "MESH_SUPERVISOR_AGENT", "MESH_WORKERS_FILE", "MESH_TENANTS_FILE",
                      "MESH_LIFECYCLE_QUEUE_URL", "MESH_EVENT_QUEUE_URL"},
        "summarizer": set(),
        "tenants": {"MESH_TENANT_CLAIM", "MESH_TENANTS_FILE", "MESH_LIFECYCLE_QUEUE_URL"},
        "retention": set(),
    }
    for name in FUNCTIONS:
        env = _env(built, name)
        assert set(env) == MEMORY | COMMON | extra[name], name
        assert env["POWERTOOLS_SERVICE_NAME"] == name and env["POWERTOOLS_LOGGER_LOG_EVENT"] == "false"
    env = _env(built, "orchestrator")
    assert env["MESH_TVM_ROLE_ARN"] == ref(built.tvm.role) and env["MESH_ISOLATION"] == "user"
    assert env["MESH_STATE_TABLE"] == {"Ref": lid(built.home.table.table)}
    assert env["MESH_SUMMARY_QUEUE_URL"] == {"Ref": lid(built.orchestration.summaries.queue)}
    assert env["MESH_EVENT_QUEUE_URL"] == env["MESH_LIFECYCLE_QUEUE_URL"] == {
        "Ref": lid(built.orchestration.lifecycle_jobs.queue)}
    assert json.loads(env["MESH_SUPERVISOR_AGENT"]) == SUPERVISOR.to_json()
    assert (env["MESH_WORKERS_FILE"], _env(built, "tenants")["MESH_TENANTS_FILE"]) == (
        "/opt/mesh/workers.json", "/opt/mesh/tenants.json")


def test_the_tvm_trusts_exactly_the_orchestrator_summarizer_and_lifecycle_roles(built):
    (trust,) = trust_of(built.template, built.tvm.role)
    trusted = trust["Condition"]["ArnEquals"]["aws:PrincipalArn"]
    assert sorted(t["Fn::GetAtt"][0] for t in trusted) == sorted(
        lid(_function(built, n).function_role) for n in ("orchestrator", "summarizer", "lifecycle"))
    for name in ("forget", "tenants", "retention"):
        assert not statements_with(_stmts(built, name), "sts:AssumeRole")


def test_the_orchestrator_vends_hands_off_embeds_and_queues(built):
    stmts = _stmts(built, "orchestrator")
    assert actions_of(stmts) == LOGS_XRAY | ASSUME | {"bedrock:InvokeModel", "bedrock-agentcore:InvokeAgentRuntime"}
    assumed = sorted(json.dumps(r) for s in statements_with(stmts, "sts:AssumeRole") for r in as_list(s["Resource"]))
    assert assumed == sorted(json.dumps(r) for r in [ref(built.tvm.role),
                                                     "arn:aws:iam::222222222222:role/mesh-worker-billing",
                                                     "arn:aws:iam::333333333333:role/mesh-worker-research"])
    runtime = SUPERVISOR.runtime_arn
    assert statements_with(stmts, "bedrock-agentcore:InvokeAgentRuntime")[0]["Resource"] == [
        runtime, f"{runtime}/runtime-endpoint/DEFAULT"]
    assert statements_with(stmts, "bedrock:InvokeModel")[0]["Resource"] == (
        "arn:aws:bedrock:us-east-1::foundation-model/amazon.titan-embed-text-v2:0")
    queues = sorted(json.dumps(r) for s in statements_with(stmts, "sqs:SendMessage") for r in as_list(s["Resource"]))
    orchestration = built.orchestration
    expected = (orchestration.summaries.queue, orchestration.lifecycle_jobs.queue,
                orchestration.failed_invocations_queue)
    assert queues == sorted(json.dumps(ref(q)) for q in expected)


def test_forget_writes_tombstones_and_jobs_and_erases_directly(built):
    stmts = _stmts(built, "forget")
    assert actions_of(stmts) == LOGS_XRAY | ERASE | ITEMS | {"s3vectors:ListIndexes"}
    assert _leading_keys(stmts) == ["ACTOR#*", "JOB#*"]
    (delete_index,) = statements_with(stmts, "s3vectors:DeleteIndex")
    assert delete_index["Resource"] == {"Fn::Join": ["", [ref(built.home.store.bucket, "VectorBucketArn"),
                                                          "/index/tenant-*"]]}


def test_lifecycle_runs_steps_offboards_and_writes_deferred_events_in_the_users_session(built):
    stmts = _stmts(built, "lifecycle")
    assert actions_of(stmts) == (LOGS_XRAY | ERASE | ITEMS | ASSUME | CONSUME |
                                 {"s3vectors:ListIndexes", "bedrock-agentcore:ListActors"})
    assert _leading_keys(stmts) == ["ACTOR#*", "JOB#*", "TENANT#*"]


def test_the_summarizer_vends_and_calls_its_two_models(built):
    stmts = _stmts(built, "summarizer")
    assert actions_of(stmts) == LOGS_XRAY | ASSUME | CONSUME | {"bedrock:InvokeModel"}
    models = sorted(r for s in statements_with(stmts, "bedrock:InvokeModel") for r in as_list(s["Resource"]))
    assert models == ["arn:aws:bedrock:us-east-1::foundation-model/amazon.nova-lite-v1:0",
                      "arn:aws:bedrock:us-east-1::foundation-model/amazon.titan-embed-text-v2:0"]


def test_tenants_and_retention_reach_their_items_only(built):
    assert actions_of(_stmts(built, "tenants")) == LOGS_XRAY | ITEMS
    assert _leading_keys(_stmts(built, "tenants")) == ["JOB#*", "TENANT#*"]
    stmts = _stmts(built, "retention")
    assert actions_of(stmts) == LOGS_XRAY | ITEMS | {"s3vectors:ListIndexes", "s3vectors:ListVectors",
                                                     "s3vectors:GetVectors", "s3vectors:DeleteVectors",
                                                     "bedrock-agentcore:ListMemoryRecords",
                                                     "bedrock-agentcore:RetrieveMemoryRecords",
                                                     "bedrock-agentcore:BatchDeleteMemoryRecords",
                                                     "bedrock-agentcore:DeleteMemoryRecord"}
    assert _leading_keys(stmts) == ["SWEEP#*"]


def test_the_work_queues_consume_with_a_dlq_an_alarm_and_six_times_the_consumer_timeout(built):
    orchestration = built.orchestration
    for work, timeout, batch in ((orchestration.summaries, 120, 5), (orchestration.lifecycle_jobs, 300, 1)):
        queue = _props(built, work.queue)
        assert queue["VisibilityTimeout"] == 6 * timeout
        assert queue["RedrivePolicy"] == {"deadLetterTargetArn": ref(work.dead_letter_queue), "maxReceiveCount": 3}
        assert queue["KmsMasterKeyId"] == ref(built.home.key)
        mapping = _props(built, work.event_source)
        assert mapping["BatchSize"] == batch and mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
        assert mapping["ScalingConfig"] == {"MaximumConcurrency": 5}
    names = [a["Properties"]["AlarmName"] for a in resources(built.template, "AWS::CloudWatch::Alarm").values()]
    prefix = "Test-Orchestration-"
    assert sorted(n.removeprefix(prefix).split("-", 1)[1] for n in names) == [
        "failed-invocations", "lifecycle-dlq", "orchestrator-errors", "summary-dlq"]


def test_the_retention_schedule_retries_twice_then_uses_the_dlq(built):
    (schedule,) = resources(built.template, "AWS::Scheduler::Schedule").values()
    target = schedule["Properties"]["Target"]
    assert schedule["Properties"]["ScheduleExpression"] == "cron(15 3 * * ? *)"
    assert target["Arn"] == ref(built.orchestration.retention)
    assert target["DeadLetterConfig"] == {"Arn": ref(built.orchestration.failed_invocations_queue)}
    assert target["RetryPolicy"] == {"MaximumEventAgeInSeconds": 3600, "MaximumRetryAttempts": 2}


def test_the_jwt_api_has_the_plans_routes_and_the_operator_api_uses_iam(built):
    routes = {r["Properties"]["RouteKey"]: r["Properties"].get("AuthorizationType")
              for r in resources(built.template, "AWS::ApiGatewayV2::Route").values()}
    assert routes == {
        "POST /sessions/{session_id}/messages": "JWT", "POST /sessions/{session_id}/end": "JWT",
        "GET /sessions": "JWT", "GET /sessions/{session_id}": "JWT", "DELETE /sessions/{session_id}": "JWT",
        "GET /memories": "JWT", "PATCH /memories/{key}": "JWT", "DELETE /memories/{key}": "JWT",
        "DELETE /memories": "JWT", "GET /forget/{job_id}": "JWT",
        "PUT /tenants/{tenant_id}": "AWS_IAM", "DELETE /tenants/{tenant_id}": "AWS_IAM",
        "GET /jobs/{job_id}": "AWS_IAM",
    }


def test_the_config_layer_holds_the_workers_and_the_declared_tenants(built):
    layer = built.orchestration.config_layer
    assert [w.name for w in layer.workers] == ["billing", "research"] and layer.declared_tenants == ("acme",)
    for name in ("orchestrator", "lifecycle", "tenants"):
        assert {"Ref": lid(layer.layer)} in _props(built, _function(built, name))["Layers"]
    assert {"Ref": lid(layer.layer)} not in _props(built, _function(built, "forget"))["Layers"]


def test_cdk_nag_finds_nothing_unacknowledged_and_every_acknowledgment_has_a_reason(built):
    assert unacknowledged(built.report) == []
    for pack in built.report["pluginReports"]:
        for suppressed in pack.get("suppressedViolations", []):
            assert len(suppressed["reason"]) >= 40, suppressed
