"""`MemoryOrchestrator`: the memory home's Lambdas, durable summary queue, retention schedule, alarms and API.

Five functions share one `RuntimeBundle` (code asset + pinned SDK layer): the orchestrator (API and direct
invoke: handoffs between agents with shared memory), the summarizer (SQS, partial batch failures), tenant
onboarding, forget-me and the retention sweeper (daily schedule). Handlers and environment variables follow the
contract in `runtime/handlers`.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import jsii
from aws_cdk import (
    Annotations,
    ArnFormat,
    AssetHashType,
    CfnResource,
    Duration,
    IStableListProducer,
    Lazy,
    Names,
    Stack,
    Token,
)
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_scheduler as scheduler
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from constructs import Construct, IConstruct

from .agent_memory import _AgentMemoryBase
from .agent_targets import BEDROCK_AGENT, AgentTarget, WorkerTarget, check_workers
from .bedrock_models import check_model_id, grant_invoke_model
from .encryption import grant_key_via_service
from .memory_api import MAX_INTEGRATION_TIMEOUT_S, JwtApiOptions, MemoryApi
from .nag import acknowledge, acknowledge_inline_policy
from .runtime_bundle import RuntimeBundle
from .token_vending_machine import ASSUME_ACTIONS, TokenVendingMachine
from .validation import Problems
from .vector_memory_store import DISTANCE_METRICS, _VectorMemoryStoreBase

#: Handler of each function (module `runtime/handlers/<name>.py`, function `handler`).
HANDLERS = {name: f"runtime.handlers.{name}.handler"
            for name in ("orchestrator", "summarizer", "onboarding", "forget", "retention")}
METRICS_NAMESPACE = "AgentMemoryMesh"
#: Where the config layer puts the worker directory (layers are extracted under /opt).
WORKERS_FILE = "/opt/mesh/workers.json"
DEFAULT_TENANT_CLAIM = "custom:tenant_id"
LOG_LEVELS = ("DEBUG", "INFO", "WARN", "ERROR")
# SQS: after 3 receives a summary job goes to the DLQ; AWS recommends a visibility timeout of at least 6x the
# consumer's timeout so a throttled or retried batch is not redelivered while it still runs.
MAX_RECEIVE_COUNT = 3
VISIBILITY_TIMEOUT_FACTOR = 6
#: What a Lambda SQS event source needs on its queue (plus kms:Decrypt through SQS for an encrypted queue).
SQS_CONSUME_ACTIONS = ("sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility",
                       "sqs:GetQueueAttributes")
SUMMARY_BATCH_SIZE = 5
SUMMARY_BATCHING_WINDOW = Duration.seconds(5)
DLQ_RETENTION = Duration.days(14)
# Lambda: 128-10240 MB, 1-900 s; an SQS event source's maximum concurrency is 2-1000.
MEMORY_RANGE = (128, 10240)
TIMEOUT_RANGE_S = (1, 900)
CONCURRENCY_RANGE = (1, 1000)
MIN_SQS_MAX_CONCURRENCY = 2
RETENTION_DAYS_RANGE = (1, 3650)
# S3 Vectors: 40 KB of metadata per vector; the runtime caps stored text at 36 KB to leave room for the rest.
CONTENT_MAX_BYTES_RANGE = (1, 36 * 1024)
LOG_GROUP_PREFIX_PATTERN = re.compile(r"^/[.\-_/#A-Za-z0-9]{1,400}[^/]$")
EMAIL_PATTERN = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
#: Daily at 03:15 UTC.
DEFAULT_RETENTION_SCHEDULE = "cron(15 3 * * ? *)"
_WORKERS_LAYER_FORMAT = b"agent-memory-mesh/workers-layer/1\0"


@dataclass(frozen=True)
class FunctionOptions:
    """Size and limits of one function.

    :param memory_size: MB, 128-10240 (CPU scales with it).
    :param timeout: 1-900 seconds; at most 30 seconds for functions behind the HTTP API.
    :param reserved_concurrency: caps the function (cost, blast radius, downstream quotas) and guarantees it
        that capacity; None leaves it unreserved. Lambda keeps 100 of the account's concurrency unreserved.
    """

    memory_size: int
    timeout: Duration
    reserved_concurrency: int | None


@dataclass(frozen=True)
class FunctionSizing:
    """Per-function defaults: 63 reserved executions in all, so the account needs a quota of at least 163.

    The orchestrator and forget answer the HTTP API, which ends an integration after 30 s, so they stop at 29 s
    and the handler budgets against that. The summarizer's reserved concurrency is also the SQS event source's
    maximum concurrency (so pollers never hit a throttle that would count as a failed receive). One retention
    sweeper runs at a time.
    """

    orchestrator: FunctionOptions = field(default_factory=lambda: FunctionOptions(1024, Duration.seconds(29), 50))
    summarizer: FunctionOptions = field(default_factory=lambda: FunctionOptions(512, Duration.seconds(120), 5))
    onboarding: FunctionOptions = field(default_factory=lambda: FunctionOptions(256, Duration.seconds(30), 2))
    forget: FunctionOptions = field(default_factory=lambda: FunctionOptions(512, Duration.seconds(29), 5))
    retention: FunctionOptions = field(default_factory=lambda: FunctionOptions(512, Duration.minutes(15), 1))

    def of(self, name: str) -> FunctionOptions:
        return getattr(self, name)  # type: ignore[no-any-return]


class MemoryOrchestrator(Construct):
    """The serverless side of the memory home: handoff orchestration, summaries, onboarding, forget, retention.

    Secure defaults: every function on arm64 Python 3.12 with active X-Ray tracing, a KMS-encrypted
    environment, its own KMS-encrypted log group with retention, a dead-letter queue for asynchronous
    invocations and reserved concurrency; queues KMS-encrypted and TLS-only; every role least privilege on
    exact ARNs. The orchestrator may assume only the token vending machine and the configured worker access
    roles. Alarms on both dead-letter queues and on orchestrator errors publish to a KMS-encrypted topic.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        vector_store: _VectorMemoryStoreBase,
        agent_memory: _AgentMemoryBase,
        token_vending_machine: TokenVendingMachine,
        supervisor_agent: AgentTarget,
        workers: Sequence[WorkerTarget] = (),
        api: JwtApiOptions | None = None,
        orchestrator_role: iam.IRole | None = None,
        summarizer_role: iam.IRole | None = None,
        encryption_key: kms.IKey | None = None,
        bundle: RuntimeBundle | None = None,
        embedding_model_id: str = "amazon.titan-embed-text-v2:0",
        summary_model_id: str = "amazon.nova-lite-v1:0",
        summary_model_regions: Sequence[str] | None = None,
        embedding_dimension: int | None = None,
        distance_metric: str | None = None,
        retention_days: int = 90,
        content_max_bytes: int = 16384,
        retention_schedule: str = DEFAULT_RETENTION_SCHEDULE,
        sizing: FunctionSizing | None = None,
        log_retention: logs.RetentionDays = logs.RetentionDays.ONE_YEAR,
        log_level: str = "INFO",
        log_group_prefix: str | None = None,
        alarm_email: str | None = None,
        alarm_topic: sns.ITopic | None = None,
    ) -> None:
        """
        :param vector_store: the S3 Vectors memory (reached through tenant credentials; forget, retention and
            onboarding use it directly).
        :param agent_memory: the AgentCore Memory (through tenant credentials; forget deletes in it directly).
        :param token_vending_machine: vends tenant credentials; the orchestrator and summarizer roles are trusted.
        :param supervisor_agent: the agent the orchestrator hands every conversation to first, in this stack's
            account and Region (`bedrock:InvokeAgent` on its alias, or the runtime and its DEFAULT endpoint).
        :param workers: worker agents in other accounts (shipped as /opt/mesh/workers.json in a config layer,
            since a hundred of them do not fit Lambda's 4 KB environment).
        :param api: JWT settings of the HTTP API; None creates no API (the orchestrator is invoked directly).
        :param orchestrator_role: the role worker accounts trust by name; default: a new role.
        :param summarizer_role: default: a new role.
        :param encryption_key: encrypts environments, logs, queues and the alarm topic; default: the vector
            store's key. An imported key's policy must already allow CloudWatch Logs (and CloudWatch/SNS).
        :param bundle: the shared code and SDK layer; default: a new `RuntimeBundle` (arm64, python3.12).
        :param embedding_model_id: Bedrock embedding model (exact foundation-model grant).
        :param summary_model_id: Bedrock model or cross-Region inference profile id for session summaries.
        :param summary_model_regions: the Regions a profile routes to, when they differ from the geography's
            defaults (constructs_lib.bedrock_models.INFERENCE_PROFILE_REGIONS).
        :param embedding_dimension: default: the vector store's dimension.
        :param distance_metric: default: the vector store's metric.
        :param retention_days: S3 Vectors records older than this are deleted by the sweeper, 1-3650 (default 90).
        :param content_max_bytes: stored text cap per record, 1-36864 bytes (default 16384).
        :param retention_schedule: EventBridge Scheduler expression for the sweeper (default daily 03:15 UTC).
        :param sizing: memory, timeout and reserved concurrency per function (see `FunctionSizing`).
        :param log_retention: of every log group (default one year).
        :param log_level: DEBUG, INFO (default), WARN or ERROR.
        :param log_group_prefix: log groups are `<prefix>/<function>`; default `/agent-memory-mesh/<unique id>`.
        :param alarm_email: subscribe this address to the alarm topic.
        :param alarm_topic: publish alarms here instead of a new KMS-encrypted topic.
        """
        super().__init__(scope, id)
        stack = Stack.of(self)
        sizing = sizing or FunctionSizing()
        dimension = embedding_dimension if embedding_dimension is not None else getattr(vector_store, "dimension", None)
        metric = distance_metric or getattr(vector_store, "distance_metric", None) or "cosine"
        base_name = Names.unique_resource_name(self, max_length=64, separator="-")
        prefix = log_group_prefix or f"/agent-memory-mesh/{base_name}"
        self._validate(stack, sizing=sizing, api=api, workers=workers, supervisor_agent=supervisor_agent,
                       embedding_model_id=embedding_model_id, summary_model_id=summary_model_id,
                       summary_model_regions=summary_model_regions, dimension=dimension, metric=metric,
                       retention_days=retention_days, content_max_bytes=content_max_bytes,
                       retention_schedule=retention_schedule, log_level=log_level, prefix=prefix,
                       alarm_email=alarm_email, alarm_topic=alarm_topic)

        self.vector_store = vector_store
        self.agent_memory = agent_memory
        self.workers = tuple(workers)
        self.key: kms.IKey = encryption_key or vector_store.encryption_key or kms.Key(
            self, "Key", enable_key_rotation=True, description="Agent Memory Mesh orchestration")
        self.bundle = bundle or RuntimeBundle(self, "Bundle")
        self._log_retention = log_retention
        self._log_group_names: list[str] = []
        self._alarm_names: list[str] = []

        # ---- queues ----------------------------------------------------------------------------------------
        #: Failed asynchronous invocations of any function, failed schedule deliveries, failed alarm e-mails.
        self.failed_invocations_queue = self._queue("FailedInvocations", retention_period=DLQ_RETENTION)
        self.summary_dead_letter_queue = self._queue("SummaryDeadLetters", retention_period=DLQ_RETENTION)
        summarizer_timeout = sizing.summarizer.timeout.to_seconds()
        #: Session-summary jobs (runtime.summarizer.SummaryJob), consumed by the summarizer.
        self.summary_queue = self._queue(
            "SummaryJobs",
            visibility_timeout=Duration.seconds(VISIBILITY_TIMEOUT_FACTOR * summarizer_timeout),
            dead_letter_queue=sqs.DeadLetterQueue(max_receive_count=MAX_RECEIVE_COUNT,
                                                  queue=self.summary_dead_letter_queue),
        )

        # ---- roles -----------------------------------------------------------------------------------------
        self.orchestrator_role = orchestrator_role or self._role(
            "OrchestratorRole", "Orchestrator: vends tenant credentials and hands off to workers")
        self.summarizer_role = summarizer_role or self._role(
            "SummarizerRole", "Summarizer: stores session summaries through tenant credentials")
        self.onboarding_role = self._role("OnboardingRole", "Tenant onboarding: creates tenant indexes")
        self.forget_role = self._role("ForgetRole", "Forget-me: deletes one actor's memories in both backends")
        self.retention_role = self._role("RetentionRole", "Retention sweeper: deletes expired vector memories")
        for role in (self.orchestrator_role, self.summarizer_role):
            if role.role_arn not in token_vending_machine.trusted_role_arns:
                token_vending_machine.grant_assume(role)

        # ---- functions -------------------------------------------------------------------------------------
        tenant_claim = api.tenant_claim if api is not None else DEFAULT_TENANT_CLAIM
        common_env = {
            "MESH_REGION": stack.region,
            "MESH_VECTOR_BUCKET": vector_store.vector_bucket_name,
            "MESH_INDEX_PREFIX": vector_store.index_prefix,
            "MESH_EMBEDDING_DIMENSION": str(dimension),
            "MESH_DISTANCE_METRIC": metric,
            "MESH_EMBEDDING_MODEL_ID": embedding_model_id,
            "MESH_MEMORY_ID": agent_memory.memory_id,
            "MESH_TVM_ROLE_ARN": token_vending_machine.role_arn,
            "MESH_SUMMARY_MODEL_ID": summary_model_id,
            "MESH_RETENTION_DAYS": str(retention_days),
            "MESH_CONTENT_MAX_BYTES": str(content_max_bytes),
            "POWERTOOLS_METRICS_NAMESPACE": METRICS_NAMESPACE,
            # Never log incoming events: they carry message text and raw claims.
            "POWERTOOLS_LOGGER_LOG_EVENT": "false",
            "LOG_LEVEL": log_level,
        }
        orchestrator_env = {
            "MESH_SUMMARY_QUEUE_URL": self.summary_queue.queue_url,
            "MESH_TENANT_CLAIM": tenant_claim,
            "MESH_WORKERS_FILE": WORKERS_FILE,
            "MESH_SUPERVISOR_AGENT": _compact_json(stack, supervisor_agent.to_json()),
        }
        #: The worker directory (workers.json), only on the orchestrator.
        self.workers_layer = self._workers_layer()

        def make(name: str, role: iam.IRole, extra_env: dict[str, str] | None = None,
                 layers: Sequence[lambda_.ILayerVersion] = ()) -> lambda_.Function:
            return self._function(name, role=role, options=sizing.of(name), log_prefix=prefix, log_level=log_level,
                                  environment={**common_env, **(extra_env or {})}, extra_layers=layers)

        self.orchestrator = make("orchestrator", self.orchestrator_role, orchestrator_env, [self.workers_layer])
        self.summarizer = make("summarizer", self.summarizer_role)
        # New tenant indexes are encrypted with the store's key, like the ones declared at deploy time.
        store_key = vector_store.encryption_key
        self.onboarding = make("onboarding", self.onboarding_role,
                               {"MESH_KMS_KEY_ARN": store_key.key_arn} if store_key is not None else None)
        # Forget-me also erases the supervisor's own per-user Bedrock Agents memory (the orchestrator gives it a
        # memoryId; workers get none), so it knows the supervisor agent too.
        self.forget = make("forget", self.forget_role, {
            "MESH_TENANT_CLAIM": tenant_claim,
            "MESH_SUPERVISOR_AGENT": orchestrator_env["MESH_SUPERVISOR_AGENT"],
        })
        self.retention = make("retention", self.retention_role)

        # ---- permissions beyond the TVM -------------------------------------------------------------------
        grant_invoke_model(self.orchestrator_role, self, embedding_model_id, sid="InvokeEmbeddingModel")
        grant_invoke_model(self.summarizer_role, self, embedding_model_id, sid="InvokeEmbeddingModel")
        grant_invoke_model(self.summarizer_role, self, summary_model_id, regions=summary_model_regions,
                           sid="InvokeSummaryModel")
        self.orchestrator_role.add_to_principal_policy(iam.PolicyStatement(
            sid="InvokeSupervisorAgent", actions=supervisor_agent.invoke_actions,
            resources=supervisor_agent.invoke_arns(partition=stack.partition, region=stack.region,
                                                   account=stack.account)))
        if self.workers:
            # Exactly the configured worker access roles (their names are deterministic; see WorkerAccessRole).
            self.orchestrator_role.add_to_principal_policy(iam.PolicyStatement(
                sid="AssumeWorkerAccessRoles", actions=list(ASSUME_ACTIONS),
                resources=[w.role_arn for w in self.workers]))
        self.orchestrator_role.add_to_principal_policy(iam.PolicyStatement(
            sid="SendSummaryJobs", actions=["sqs:SendMessage"], resources=[self.summary_queue.queue_arn]))
        vector_store.grant_create_indexes(self.onboarding_role)
        vector_store.grant_delete(self.forget_role)
        agent_memory.grant_delete(self.forget_role)
        if supervisor_agent.kind == BEDROCK_AGENT:
            self.forget_role.add_to_principal_policy(iam.PolicyStatement(
                sid="EraseSupervisorAgentMemory", actions=["bedrock:DeleteAgentMemory"],
                resources=supervisor_agent.invoke_arns(partition=stack.partition, region=stack.region,
                                                       account=stack.account)))
        vector_store.grant_delete(self.retention_role)
        # The sweeper enumerates the tenant indexes; ListIndexes takes the bucket ARN.
        self.retention_role.add_to_principal_policy(iam.PolicyStatement(
            sid="ListTenantIndexes", actions=["s3vectors:ListIndexes"], resources=[vector_store.vector_bucket_arn]))

        # The SQS event source, with the consume permissions on exactly this queue (SqsEventSource would also grant
        # kms:Decrypt on the key without the kms:ViaService condition).
        self.summary_event_source = self.summarizer.add_event_source_mapping(
            "SummaryJobsSource",
            event_source_arn=self.summary_queue.queue_arn,
            batch_size=SUMMARY_BATCH_SIZE,
            max_batching_window=SUMMARY_BATCHING_WINDOW,
            report_batch_item_failures=True,
            max_concurrency=sizing.summarizer.reserved_concurrency,
        )
        self.summarizer_role.add_to_principal_policy(iam.PolicyStatement(
            sid="ConsumeSummaryJobs", actions=list(SQS_CONSUME_ACTIONS), resources=[self.summary_queue.queue_arn]))

        self.retention_schedule = scheduler.Schedule(
            self, "RetentionSchedule",
            schedule=scheduler.ScheduleExpression.expression(retention_schedule),
            target=_LambdaScheduleTarget(self, "RetentionScheduleRole", self.retention, self.failed_invocations_queue,
                                         self.key),
            description="Agent Memory Mesh: delete vector memories older than the retention period",
        )

        # ---- alarms ----------------------------------------------------------------------------------------
        self.alarm_topic = alarm_topic or self._alarm_topic(base_name, alarm_email)
        self.alarms = [
            self._alarm("SummaryDeadLettersAlarm", f"{base_name}-summary-dlq",
                        self.summary_dead_letter_queue.metric_approximate_number_of_messages_visible(
                            period=Duration.minutes(5), statistic="Maximum"),
                        "Session summaries failed 3 times and wait in the dead-letter queue"),
            self._alarm("FailedInvocationsAlarm", f"{base_name}-failed-invocations",
                        self.failed_invocations_queue.metric_approximate_number_of_messages_visible(
                            period=Duration.minutes(5), statistic="Maximum"),
                        "An asynchronous invocation or scheduled run failed and waits in the dead-letter queue"),
            self._alarm("OrchestratorErrorsAlarm", f"{base_name}-orchestrator-errors",
                        self.orchestrator.metric_errors(period=Duration.minutes(5), statistic="Sum"),
                        "The orchestrator crashed or timed out (handled errors are answered, not raised)"),
        ]
        self._allow_alarm_publishing(alarm_topic is None)

        # ---- API -------------------------------------------------------------------------------------------
        self.api: MemoryApi | None = None
        if api is not None:
            access_logs = self._log_group("ApiAccessLogs", f"{prefix}/api-access")
            self.api = MemoryApi(self, "Api", orchestrator=self.orchestrator, forget=self.forget, options=api,
                                 access_log_group=access_logs)

        self._allow_logs_on_key()
        if not isinstance(self.key, kms.Key):
            Annotations.of(self).add_warning_v2(
                "@agent-memory-mesh/imported-key-policy",
                "encryption_key is imported, so its key policy cannot be changed here: allow "
                f"logs.{stack.region}.amazonaws.com to use it for the log groups under {prefix}/ "
                "(kms:EncryptionContext:aws:logs:arn), cloudwatch.amazonaws.com for the alarm topic, and "
                "sns.amazonaws.com when an alarm email is subscribed")
        self._acknowledge_findings()

    # ---- grants --------------------------------------------------------------------------------------------

    def grant_invoke_orchestrator(self, grantee: iam.IGrantable) -> iam.Grant:
        """Service-to-service handoffs: invoke the orchestrator directly (its unqualified ARN only)."""
        return self._grant_invoke(grantee, self.orchestrator)

    def grant_onboard(self, grantee: iam.IGrantable) -> iam.Grant:
        """Create tenant indexes at run time by invoking the onboarding function."""
        return self._grant_invoke(grantee, self.onboarding)

    def grant_forget(self, grantee: iam.IGrantable) -> iam.Grant:
        """Erase an actor's memories by invoking the forget function."""
        return self._grant_invoke(grantee, self.forget)

    @staticmethod
    def _grant_invoke(grantee: iam.IGrantable, function: lambda_.IFunction) -> iam.Grant:
        return iam.Grant.add_to_principal(grantee=grantee, actions=["lambda:InvokeFunction"],
                                          resource_arns=[function.function_arn])

    @property
    def functions(self) -> dict[str, lambda_.Function]:
        return {"orchestrator": self.orchestrator, "summarizer": self.summarizer, "onboarding": self.onboarding,
                "forget": self.forget, "retention": self.retention}

    # ---- building blocks -----------------------------------------------------------------------------------

    def _queue(self, id: str, **kwargs: object) -> sqs.Queue:
        return sqs.Queue(self, id, encryption=sqs.QueueEncryption.KMS, encryption_master_key=self.key,
                         enforce_ssl=True, **kwargs)  # type: ignore[arg-type]

    def _role(self, id: str, description: str) -> iam.Role:
        role = iam.Role(self, id, description=f"Agent Memory Mesh {description}",
                        assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"))
        acknowledge_inline_policy(role)
        return role

    def _log_group(self, id: str, name: str) -> logs.LogGroup:
        self._log_group_names.append(name)
        return logs.LogGroup(self, id, log_group_name=name, retention=self._log_retention, encryption_key=self.key)

    def _function(self, name: str, *, role: iam.IRole, options: FunctionOptions, log_prefix: str, log_level: str,
                  environment: dict[str, str], extra_layers: Sequence[lambda_.ILayerVersion]) -> lambda_.Function:
        title = name.capitalize()
        log_group = self._log_group(f"{title}Logs", f"{log_prefix}/{name}")
        function = lambda_.Function(
            self, title,
            description=f"Agent Memory Mesh {name}",
            code=self.bundle.code,
            handler=HANDLERS[name],
            runtime=self.bundle.runtime,
            architecture=self.bundle.architecture,
            layers=[*self.bundle.layers, *extra_layers],
            role=role,
            memory_size=options.memory_size,
            timeout=options.timeout,
            reserved_concurrent_executions=options.reserved_concurrency,
            tracing=lambda_.Tracing.ACTIVE,
            environment={**environment, "POWERTOOLS_SERVICE_NAME": name},
            environment_encryption=self.key,
            log_group=log_group,
            logging_format=lambda_.LoggingFormat.JSON,
            application_log_level_v2=getattr(lambda_.ApplicationLogLevel, log_level),
            system_log_level_v2=lambda_.SystemLogLevel.WARN,
            dead_letter_queue=self.failed_invocations_queue,
        )
        # Lambda writes to the function's own log group only (no AWSLambdaBasicExecutionRole).
        role.add_to_principal_policy(iam.PolicyStatement(
            sid=f"Write{title}Logs", actions=["logs:CreateLogStream", "logs:PutLogEvents"],
            resources=[log_group.log_group_arn]))
        # The async dead-letter queue is KMS-encrypted: the function's role sends to it (Lambda adds SendMessage).
        grant_key_via_service(self.key, role, "sqs")
        _depend_on_role_policy_only(function, role)
        return function

    def _workers_layer(self) -> lambda_.LayerVersion:
        directory, digest = _write_workers_file(self.workers)
        return lambda_.LayerVersion(
            self, "WorkersConfig",
            code=lambda_.Code.from_asset(directory, asset_hash_type=AssetHashType.CUSTOM, asset_hash=digest),
            compatible_runtimes=[self.bundle.runtime],
            compatible_architectures=[self.bundle.architecture],
            description=f"Agent Memory Mesh worker directory at {WORKERS_FILE} ({len(self.workers)} "
                        f"worker{'' if len(self.workers) == 1 else 's'})",
        )

    def _alarm_topic(self, base_name: str, email: str | None) -> sns.ITopic:
        stack = Stack.of(self)
        # A fixed name gives the topic an ARN the key policy can name without a dependency cycle.
        topic_name = f"{base_name}-alarms"
        topic = sns.Topic(self, "AlarmTopic", topic_name=topic_name, master_key=self.key, enforce_ssl=True,
                          display_name="Agent Memory Mesh alarms")
        if email:
            topic.add_subscription(subscriptions.EmailSubscription(
                email, dead_letter_queue=self.failed_invocations_queue))
            topic_arn = stack.format_arn(service="sns", resource=topic_name, arn_format=ArnFormat.NO_RESOURCE_NAME)
            # SNS moves undeliverable notifications to the (KMS-encrypted) dead-letter queue as the SNS service.
            self.key.add_to_resource_policy(iam.PolicyStatement(
                sid="AllowSnsDeadLetters",
                principals=[iam.ServicePrincipal("sns.amazonaws.com")],
                actions=["kms:Decrypt", "kms:GenerateDataKey"],
                resources=["*"],
                conditions={"StringEquals": {"aws:SourceAccount": stack.account},
                            "ArnEquals": {"aws:SourceArn": topic_arn}},
            ), allow_no_op=True)
        return topic

    def _alarm(self, id: str, name: str, metric: cloudwatch.IMetric, description: str) -> cloudwatch.Alarm:
        self._alarm_names.append(name)
        alarm = cloudwatch.Alarm(
            self, id, alarm_name=name, metric=metric, threshold=1, evaluation_periods=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING, alarm_description=description)
        alarm.add_alarm_action(cw_actions.SnsAction(self.alarm_topic))
        return alarm

    def _allow_alarm_publishing(self, own_topic: bool) -> None:
        if not own_topic:
            return
        stack = Stack.of(self)
        # Built from the fixed names: the alarms' own ARN attributes would make the key depend on them (a cycle).
        alarm_arns = [stack.format_arn(service="cloudwatch", resource="alarm", resource_name=name,
                                       arn_format=ArnFormat.COLON_RESOURCE_NAME) for name in self._alarm_names]
        conditions = {"StringEquals": {"aws:SourceAccount": stack.account}, "ArnEquals": {"aws:SourceArn": alarm_arns}}
        # CloudWatch publishes alarm notifications as its service principal: the topic policy and the topic's
        # key must allow it, for these alarms only.
        self.alarm_topic.add_to_resource_policy(iam.PolicyStatement(
            sid="AllowCloudWatchAlarms", principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
            actions=["sns:Publish"], resources=[self.alarm_topic.topic_arn], conditions=conditions))
        self.key.add_to_resource_policy(iam.PolicyStatement(
            sid="AllowCloudWatchAlarmsToEncrypt", principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
            actions=["kms:Decrypt", "kms:GenerateDataKey"], resources=["*"], conditions=conditions,
        ), allow_no_op=True)

    def _allow_logs_on_key(self) -> None:
        stack = Stack.of(self)
        arns = [stack.format_arn(service="logs", resource="log-group", resource_name=name,
                                 arn_format=ArnFormat.COLON_RESOURCE_NAME) for name in self._log_group_names]
        # CloudWatch Logs encrypts with the key as its Regional service principal; the encryption context names
        # the log group, so the key serves exactly these log groups.
        self.key.add_to_resource_policy(iam.PolicyStatement(
            sid="AllowCloudWatchLogsForMemoryOrchestration",
            principals=[iam.ServicePrincipal(f"logs.{stack.region}.amazonaws.com")],
            actions=["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"],
            resources=["*"],
            conditions={"ArnEquals": {"kms:EncryptionContext:aws:logs:arn": arns}},
        ), allow_no_op=True)

    # ---- validation and cdk-nag ----------------------------------------------------------------------------

    def _validate(self, stack: Stack, *, sizing: FunctionSizing, api: JwtApiOptions | None,
                  workers: Sequence[WorkerTarget], supervisor_agent: AgentTarget, embedding_model_id: str,
                  summary_model_id: str, summary_model_regions: Sequence[str] | None, dimension: int | None,
                  metric: str, retention_days: int, content_max_bytes: int, retention_schedule: str,
                  log_level: str, prefix: str, alarm_email: str | None, alarm_topic: sns.ITopic | None) -> None:
        problems = Problems()
        for name in HANDLERS:
            options = sizing.of(name)
            prop = f"sizing.{name}"
            problems.check_range(f"{prop}.memory_size", options.memory_size, *MEMORY_RANGE)
            seconds = options.timeout.to_seconds()
            if not TIMEOUT_RANGE_S[0] <= seconds <= TIMEOUT_RANGE_S[1]:
                problems.add(f"{prop}.timeout", f"{seconds:g}s", "must be from 1 second to 15 minutes (Lambda limit)")
            elif api is not None and name in ("orchestrator", "forget") and seconds > MAX_INTEGRATION_TIMEOUT_S:
                problems.add(f"{prop}.timeout", f"{seconds:g}s", f"must be at most {MAX_INTEGRATION_TIMEOUT_S} seconds "
                             "behind the HTTP API (API Gateway ends an integration after 30 seconds)")
            if options.reserved_concurrency is not None:
                problems.check_range(f"{prop}.reserved_concurrency", options.reserved_concurrency, *CONCURRENCY_RANGE)
        summarizer_reserved = sizing.summarizer.reserved_concurrency
        if summarizer_reserved is not None and summarizer_reserved < MIN_SQS_MAX_CONCURRENCY:
            problems.add("sizing.summarizer.reserved_concurrency", summarizer_reserved,
                         f"must be at least {MIN_SQS_MAX_CONCURRENCY}: it is also the SQS event source's maximum "
                         "concurrency (2-1000)")
        if api is not None:
            api.problems(problems, "api")
        check_workers(problems, "workers", workers)
        supervisor_agent.problems(problems, "supervisor_agent", literal=False)
        check_model_id(problems, "embedding_model_id", embedding_model_id, source_region=stack.region)
        check_model_id(problems, "summary_model_id", summary_model_id, source_region=stack.region,
                       regions=summary_model_regions)
        if dimension is None:
            problems.add("embedding_dimension", None,
                         "is required when the vector store does not declare its dimension")
        else:
            problems.check_range("embedding_dimension", dimension, 1, 4096)
        if metric not in DISTANCE_METRICS:
            problems.add("distance_metric", metric, f"must be one of {', '.join(DISTANCE_METRICS)}")
        problems.check_range("retention_days", retention_days, *RETENTION_DAYS_RANGE)
        problems.check_range("content_max_bytes", content_max_bytes, *CONTENT_MAX_BYTES_RANGE)
        if not isinstance(retention_schedule, str) or not re.match(r"^(cron|rate|at)\(.+\)$", retention_schedule):
            problems.add("retention_schedule", retention_schedule,
                         "an EventBridge Scheduler expression such as 'cron(15 3 * * ? *)' or 'rate(1 day)'")
        if log_level not in LOG_LEVELS:
            problems.add("log_level", log_level, f"must be one of {', '.join(LOG_LEVELS)}")
        problems.check_pattern("log_group_prefix", prefix, LOG_GROUP_PREFIX_PATTERN,
                               "starts with '/', then letters, digits and . - _ / #, not ending with '/'")
        problems.check_pattern("alarm_email", alarm_email, EMAIL_PATTERN, "an e-mail address")
        if alarm_email is not None and alarm_topic is not None:
            problems.add("alarm_email", alarm_email, "subscribe it to your own alarm_topic; give one of the two")
        problems.raise_if_any(type(self).__name__)

    def _acknowledge_findings(self) -> None:
        stale_runtime = self.bundle.runtime.name != _latest_python_runtime()
        for name, function in self.functions.items():
            for pack in ("HIPAA.Security", "NIST.800.53.R5"):
                acknowledge(function, f"{pack}::{pack}-LambdaInsideVPC",
                            f"The {name} function calls only AWS APIs over TLS with SigV4 (STS, S3 Vectors, AgentCore, "
                            "Bedrock, SQS); it reaches no private network resource, so a VPC would add NAT or "
                            "endpoints without isolating anything.")
            if stale_runtime:
                for finding in ("AwsSolutions::AwsSolutions-L1", "Serverless::Serverless-LambdaLatestVersion"):
                    acknowledge(function, finding,
                                f"{self.bundle.runtime.name} is a supported Lambda runtime that the bundled wheels and "
                                "the runtime package are tested on; RuntimeBundle(runtime=...) moves every function "
                                "to a newer Python together.")
        xray_reason = ("X-Ray PutTraceSegments/PutTelemetryRecords support no resource-level permissions; '*' is the "
                       "only resource IAM accepts for active tracing.")
        for role in {id(r): r for r in (self.orchestrator_role, self.summarizer_role, self.onboarding_role,
                                         self.forget_role, self.retention_role)}.values():
            if isinstance(role, Construct):
                acknowledge(role, "AwsSolutions::AwsSolutions-IAM5[Resource::*]", xray_reason)
        every_index = _nag_resource(self, self.vector_store.index_arn(f"{self.vector_store.index_prefix}*"))
        index_reasons = [
            (self.onboarding_role, "Onboarding creates the index of a tenant that is not known at deploy time; the "
                                   "wildcard is limited to this bucket's indexes with the tenant prefix."),
            (self.forget_role, "Forget-me erases one actor from every tenant index the actor may have written to; "
                               "limited to this bucket's indexes with the tenant prefix."),
            (self.retention_role, "The retention sweeper deletes expired records in every tenant index, including "
                                  "tenants onboarded at run time; limited to this bucket's prefixed indexes."),
        ]
        for role, reason in index_reasons:
            acknowledge(role, f"AwsSolutions::AwsSolutions-IAM5[Resource::{every_index}]", reason)
        for queue in (self.failed_invocations_queue, self.summary_dead_letter_queue):
            acknowledge(queue, "Serverless::Serverless-SQSRedrivePolicy",
                        "This queue is itself a dead-letter queue: messages stay 14 days and raise an alarm; "
                        "another redrive hop would only hide them.")
        acknowledge(self.summary_event_source, "Serverless::Serverless-LambdaEventSourceMappingDestination",
                    "SQS event source mappings take no on-failure destination; the summary queue's redrive policy "
                    "moves a job to its dead-letter queue after 3 receives, with an alarm.")


@jsii.implements(scheduler.IScheduleTarget)
class _LambdaScheduleTarget:
    """Invokes one function from a schedule with a role allowed exactly that, plus a DLQ and retries."""

    def __init__(self, scope: Construct, id: str, function: lambda_.IFunction, dead_letter_queue: sqs.IQueue,
                 key: kms.IKey) -> None:
        stack = Stack.of(scope)
        self._function = function
        self._dead_letter_queue = dead_letter_queue
        self.role = iam.Role(
            scope, id, description="Agent Memory Mesh retention schedule: invokes the retention sweeper",
            assumed_by=iam.ServicePrincipal("scheduler.amazonaws.com",
                                            conditions={"StringEquals": {"aws:SourceAccount": stack.account}}))
        self.role.add_to_policy(iam.PolicyStatement(
            sid="InvokeRetentionSweeper", actions=["lambda:InvokeFunction"], resources=[function.function_arn]))
        self.role.add_to_policy(iam.PolicyStatement(
            sid="SendFailedRuns", actions=["sqs:SendMessage"], resources=[dead_letter_queue.queue_arn]))
        grant_key_via_service(key, self.role, "sqs")
        acknowledge_inline_policy(self.role)

    def bind(self, _schedule: scheduler.ISchedule) -> scheduler.ScheduleTargetConfig:
        return scheduler.ScheduleTargetConfig(
            arn=self._function.function_arn,
            role=self.role,
            dead_letter_config=scheduler.CfnSchedule.DeadLetterConfigProperty(arn=self._dead_letter_queue.queue_arn),
            # Scheduler retries a failed delivery twice within an hour, then sends the event to the DLQ.
            retry_policy=scheduler.CfnSchedule.RetryPolicyProperty(maximum_event_age_in_seconds=3600,
                                                                  maximum_retry_attempts=2),
            input=scheduler.ScheduleTargetInput.from_object({
                "source": "aws.scheduler",
                "detail-type": "Scheduled Event",
                "time": scheduler.ContextAttribute.scheduled_time,
                "detail": {},
            }),
        )


def _write_workers_file(workers: Sequence[WorkerTarget]) -> tuple[str, str]:
    """Write `mesh/workers.json` into a directory named by its content hash; return (directory, asset hash)."""
    content = (json.dumps([w.to_json() for w in workers], separators=(",", ":"), sort_keys=True) + "\n").encode()
    digest = hashlib.sha256(_WORKERS_LAYER_FORMAT + content).hexdigest()
    root = Path(tempfile.gettempdir()) / "agent-memory-mesh-layers"
    directory = root / f"workers-{digest[:32]}"
    target = directory / "mesh" / "workers.json"
    if not (target.is_file() and target.read_bytes() == content):
        target.parent.mkdir(parents=True, exist_ok=True)
        # Write beside the directory, then rename: concurrent synths never see (or package) a partial file.
        scratch = root / f".workers-{digest[:32]}.{os.getpid()}.tmp"
        scratch.write_bytes(content)
        os.replace(scratch, target)
    return str(directory), digest


def _depend_on_role_policy_only(function: lambda_.Function, role: iam.IRole) -> None:
    """Drop the function's explicit DependsOn on its role, keeping every other one (e.g. the role's policy).

    The `Role` property already references the role, so the DependsOn that aws-cdk-lib adds for it is redundant
    (cfn-lint W3005). The policy dependency is what matters: the function must not run before it may log.
    """
    cfn_function = function.node.default_child
    cfn_role = role.node.default_child if isinstance(role, iam.Role) else None
    if isinstance(cfn_function, lambda_.CfnFunction) and isinstance(cfn_role, iam.CfnRole):
        cfn_function.add_override("DependsOn", Lazy.list(_DependenciesExcept(cfn_function, cfn_role)))


@jsii.implements(IStableListProducer)
class _DependenciesExcept:
    """Produces, at synth (after construct dependencies became DependsOn), a resource's DependsOn minus one."""

    def __init__(self, resource: CfnResource, excluded: CfnResource) -> None:
        self._resource = resource
        self._excluded = excluded.node.path

    def produce(self) -> list[str]:
        stack = Stack.of(self._resource)
        ids = [stack.resolve(d.logical_id) for d in self._resource.obtain_dependencies()
               if d.node.path != self._excluded]
        return sorted(ids)


def _compact_json(stack: Stack, value: dict[str, str]) -> str:
    if any(Token.is_unresolved(v) for v in value.values()):
        return stack.to_json_string(value)
    return json.dumps(value, separators=(",", ":"))


def _latest_python_runtime() -> str:
    versions = [r.name for r in lambda_.Runtime.ALL if re.match(r"^python3\.\d+$", r.name)]
    return max(versions, key=lambda n: int(n.split(".")[1]))


def _nag_resource(scope: IConstruct, value: str) -> str:
    """A resource as cdk-nag names it in a finding id (`<Logical.Attr>` for references, `<x>` for `${x}`)."""
    resolved = Stack.of(scope).resolve(value)

    def flat(node: object) -> str:
        if isinstance(node, str):
            return node.replace("${", "<").replace("}", ">")
        if isinstance(node, dict) and "Fn::Join" in node:
            delimiter, items = node["Fn::Join"]
            return delimiter.join(flat(i) for i in items)
        if isinstance(node, dict) and "Fn::GetAtt" in node:
            resource, attribute = node["Fn::GetAtt"]
            return f"<{flat(resource)}.{flat(attribute)}>"
        if isinstance(node, dict) and "Ref" in node:
            return f"<{flat(node['Ref'])}>"
        return json.dumps(node, separators=(",", ":"))

    return flat(resolved)


