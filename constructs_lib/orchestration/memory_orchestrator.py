"""`MemoryOrchestrator`: the memory home's functions, queues, schedule, alarms and APIs, composed."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from aws_cdk import Annotations, ArnFormat, Duration, Names, Stack, Token
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sns as sns
from constructs import Construct

from runtime.contract import AgentRef, MemorySettings, WorkerRef, rules
from runtime.contract.environment import (
    DEFAULT_EMBEDDING_MODEL_ID,
    DEFAULT_RETENTION_DAYS,
    DEFAULT_SUMMARY_MODEL_ID,
    DEFAULT_TENANT_CLAIM,
    LOG_LEVELS,
    RETENTION_DAYS_RANGE,
)
from runtime.contract.memory import DEFAULT_CONTENT_MAX_BYTES, MAX_CONTENT_BYTES
from runtime.contract.problems import Problems

from .._resource import lazy_any
from ..agent_memory import IAgentMemory
from ..bedrock_models import check_model_id
from ..errors import new_problems, raise_if_any
from ..mesh_state_table import IMeshStateTable
from ..runtime_bundle import RuntimeBundle
from ..token_vending_machine import ITokenVendingMachine
from ..vector_memory_store import IVectorMemoryStore
from .alarms import MeshAlarms
from .config_layer import MeshConfigLayer
from .function_options import FunctionSizing
from .functions import (
    ForgetFunction,
    LifecycleFunction,
    OrchestratorFunction,
    RetentionFunction,
    SummarizerFunction,
    TenantsFunction,
)
from .memory_api import JwtApiOptions, MemoryApi
from .mesh_function import FunctionShared, MeshFunction
from .operator_api import OperatorApi
from .queued_work import DLQ_RETENTION, LifecycleJobs, SummaryPipeline, acknowledge_dead_letter_queue, encrypted_queue
from .retention_schedule import DEFAULT_RETENTION_SCHEDULE, RetentionSchedule

__all__ = ["MemoryOrchestrator", "ModelOptions", "ObservabilityOptions"]


@dataclass(frozen=True)
class ModelOptions:
    """The Bedrock models the functions call (each granted on its exact ARN).

    :param embedding_model_id: embeds queries and summaries (must match the store's dimension).
    :param summary_model_id: a model or cross-Region inference profile id for session summaries.
    :param summary_model_regions: the Regions a profile routes to, when they differ from its geography's defaults.
    """

    embedding_model_id: str = DEFAULT_EMBEDDING_MODEL_ID
    summary_model_id: str = DEFAULT_SUMMARY_MODEL_ID
    summary_model_regions: Sequence[str] | None = None


@dataclass(frozen=True)
class ObservabilityOptions:
    """Logs and alarms.

    :param log_retention: of every log group (default one year).
    :param log_level: DEBUG, INFO (default), WARNING or ERROR.
    :param log_group_prefix: log groups are ``<prefix>/<function>``; default ``/agent-memory-mesh/<unique id>``.
    :param alarm_email: subscribe this address to a new alarm topic.
    :param alarm_topic: publish alarms here instead of a new KMS-encrypted topic.
    """

    log_retention: logs.RetentionDays = logs.RetentionDays.ONE_YEAR
    log_level: str = "INFO"
    log_group_prefix: str | None = None
    alarm_email: str | None = None
    alarm_topic: sns.ITopic | None = None


@dataclass(frozen=True)
class _Settings:
    """Everything the props decide, after validation and defaults."""

    sizing: FunctionSizing = field(default_factory=FunctionSizing)
    models: ModelOptions = field(default_factory=ModelOptions)
    observability: ObservabilityOptions = field(default_factory=ObservabilityOptions)


class MemoryOrchestrator(Construct):
    """The serverless side of the memory home.

    Creates: the orchestrator, forget, lifecycle, summarizer, tenants and retention functions (one shared code
    bundle, a config layer with the workers and declared tenants); the summary pipeline and the lifecycle jobs
    (KMS-encrypted queues, DLQs, alarms); the retention schedule; a dead-letter queue for failed asynchronous
    invocations; alarms on a KMS-encrypted topic; the JWT `MemoryApi` (with ``api``) and the IAM-authorized
    `OperatorApi`. The orchestrator, summarizer and lifecycle functions are trusted by the token vending machine;
    every role is least privilege on exact ARNs.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        vector_store: IVectorMemoryStore,
        agent_memory: IAgentMemory,
        state_table: IMeshStateTable,
        token_vending_machine: ITokenVendingMachine,
        supervisor_agent: AgentRef,
        workers: Sequence[WorkerRef] = (),
        declared_tenants: Sequence[str] = (),
        api: JwtApiOptions | None = None,
        operator_api: bool = True,
        functions: FunctionSizing | None = None,
        models: ModelOptions | None = None,
        observability: ObservabilityOptions | None = None,
        retention_days: int = DEFAULT_RETENTION_DAYS,
        retention_schedule: str = DEFAULT_RETENTION_SCHEDULE,
        content_max_bytes: int = DEFAULT_CONTENT_MAX_BYTES,
        encryption_key: kms.IKey | None = None,
        bundle: RuntimeBundle | None = None,
        role_name_prefix: str | None = None,
    ) -> None:
        """:param vector_store: user indexes (through vended sessions; forget, lifecycle and retention directly).
        :param agent_memory: events and records (through vended sessions; forget and lifecycle delete directly).
        :param state_table: tombstones, jobs, tenant records, sweep cursors.
        :param token_vending_machine: vends user sessions; this construct makes it trust the orchestrator,
            summarizer and lifecycle roles (or, for an imported one, gives those roles the caller's side only).
        :param supervisor_agent: every conversation goes to it first.
        :param workers: worker agents reached through their access roles (literal; written to the config layer).
        :param declared_tenants: tenants of the deployment config, which offboarding refuses (literal).
        :param api: the JWT API's options; None creates no JWT API (direct invoke only).
        :param operator_api: create the IAM-authorized operator API for the tenants function (default True).
        :param functions: memory, timeout, concurrency, SnapStart per function (see `FunctionSizing`).
        :param models: the Bedrock models (see `ModelOptions`).
        :param observability: logs and alarms (see `ObservabilityOptions`).
        :param retention_days: vectors older than this are deleted by the sweep, 1-3650 (default 90).
        :param retention_schedule: when the sweep runs (default daily 03:15 UTC).
        :param content_max_bytes: stored text per record, 1-36864 bytes (default 16384).
        :param encryption_key: encrypts environments, logs, queues and the topic; default the store's key when it
            is in this stack's account and Region, else a new key.
        :param bundle: code and SDK layer; default a new `RuntimeBundle` (arm64, python3.12).
        :param role_name_prefix: function roles are ``<prefix>-<function>``; default a unique name from this
            construct's path. Literal names let a TVM in another stack trust the roles without a reference.
        """
        super().__init__(scope, id)
        stack = Stack.of(self)
        settings = _Settings(functions or FunctionSizing(), models or ModelOptions(),
                             observability or ObservabilityOptions())
        self.bundle = bundle or RuntimeBundle(self, "Bundle")
        base_name = Names.unique_resource_name(self, max_length=64, separator="-")
        prefix = settings.observability.log_group_prefix or f"/agent-memory-mesh/{base_name}"
        problems = new_problems()
        self._check(problems, settings, api=api, operator_api=operator_api, retention_days=retention_days,
                    content_max_bytes=content_max_bytes, prefix=prefix, role_name_prefix=role_name_prefix)
        raise_if_any(type(self).__name__, problems)

        self.key: kms.IKey = encryption_key or _same_env_key(self, vector_store) or kms.Key(
            self, "Key", enable_key_rotation=True, description="Agent Memory Mesh orchestration")
        self._log_group_names: list[str] = []
        self._log_retention = settings.observability.log_retention
        #: Failed asynchronous invocations, failed schedule deliveries and undeliverable alarm e-mails.
        self.failed_invocations_queue = encrypted_queue(self, "FailedInvocations", self.key,
                                                        retention_period=DLQ_RETENTION)
        acknowledge_dead_letter_queue(self.failed_invocations_queue)
        self.alarms = MeshAlarms(self, "Alarms", encryption_key=self.key, name_prefix=base_name,
                                 alarm_topic=settings.observability.alarm_topic,
                                 alarm_email=settings.observability.alarm_email,
                                 email_dead_letter_queue=self.failed_invocations_queue)
        self.summaries = SummaryPipeline(self, "Summaries", encryption_key=self.key, alarms=self.alarms,
                                         consumer_timeout=settings.sizing.summarizer.timeout, alarm_name="summary-dlq")
        self.lifecycle_jobs = LifecycleJobs(self, "LifecycleJobs", encryption_key=self.key, alarms=self.alarms,
                                            consumer_timeout=settings.sizing.lifecycle.timeout,
                                            alarm_name="lifecycle-dlq")
        self.config_layer = MeshConfigLayer(self, "Config", workers=workers, declared_tenants=declared_tenants,
                                            runtime=self.bundle.runtime, architecture=self.bundle.architecture)
        memory_environment = self._memory_environment(vector_store, agent_memory, state_table, token_vending_machine,
                                                      settings.models, retention_days, content_max_bytes)
        shared = FunctionShared(
            bundle=self.bundle, encryption_key=self.key, memory_environment=memory_environment,
            log_group_prefix=prefix, log_retention=settings.observability.log_retention,
            log_level=settings.observability.log_level, dead_letter_queue=self.failed_invocations_queue,
            role_name_prefix=role_name_prefix or Names.unique_resource_name(self, max_length=51, separator="-"))
        self._log_group_names += [f"{prefix}/{name}" for name in
                                  ("orchestrator", "forget", "lifecycle", "summarizer", "tenants", "retention")]
        self._create_functions(shared, settings, vector_store=vector_store, agent_memory=agent_memory,
                               state_table=state_table, token_vending_machine=token_vending_machine,
                               supervisor_agent=supervisor_agent,
                               tenant_claim=api.tenant_claim if api is not None else DEFAULT_TENANT_CLAIM)
        self.summary_event_source = self.summaries.add_consumer(self.summarizer)
        self.lifecycle_event_source = self.lifecycle_jobs.add_consumer(self.lifecycle)
        self.retention_schedule = RetentionSchedule(self, "RetentionSchedule", function=self.retention,
                                                    schedule=retention_schedule, encryption_key=self.key,
                                                    dead_letter_queue=self.failed_invocations_queue)
        self._alarm_on_failures()
        self.api = self._memory_api(api, prefix)
        self.operator_api = self._operator_api(operator_api, prefix)
        self._allow_logs_on_key(stack)

    # -- building blocks ----------------------------------------------------------------------------------------

    def _alarm_on_failures(self) -> None:
        self.alarms.add_dead_letter_alarm(
            "FailedInvocationsAlarm", self.failed_invocations_queue, name="failed-invocations",
            description="An asynchronous invocation or scheduled run failed and waits in the dead-letter queue")
        self.alarms.add_alarm("OrchestratorErrorsAlarm", name="orchestrator-errors",
                              metric=self.orchestrator.metric_errors(period=Duration.minutes(5), statistic="Sum"),
                              description="The orchestrator crashed or timed out (handled errors are answered)")

    def _create_functions(self, shared: FunctionShared, settings: _Settings, *, vector_store: IVectorMemoryStore,
                          agent_memory: IAgentMemory, state_table: IMeshStateTable,
                          token_vending_machine: ITokenVendingMachine, supervisor_agent: AgentRef,
                          tenant_claim: str) -> None:
        sizing, models = settings.sizing, settings.models
        self.orchestrator = OrchestratorFunction(
            self, "Orchestrator", shared=shared, options=sizing.orchestrator,
            token_vending_machine=token_vending_machine, supervisor_agent=supervisor_agent,
            config_layer=self.config_layer, summaries=self.summaries, lifecycle=self.lifecycle_jobs,
            embedding_model_id=models.embedding_model_id, tenant_claim=tenant_claim)
        self.forget = ForgetFunction(
            self, "Forget", shared=shared, options=sizing.forget, supervisor_agent=supervisor_agent,
            vector_store=vector_store, agent_memory=agent_memory, state_table=state_table,
            lifecycle=self.lifecycle_jobs, tenant_claim=tenant_claim)
        self.lifecycle = LifecycleFunction(
            self, "Lifecycle", shared=shared, options=sizing.lifecycle, token_vending_machine=token_vending_machine,
            supervisor_agent=supervisor_agent, config_layer=self.config_layer, vector_store=vector_store,
            agent_memory=agent_memory, state_table=state_table, lifecycle=self.lifecycle_jobs)
        self.summarizer = SummarizerFunction(
            self, "Summarizer", shared=shared, options=sizing.summarizer, token_vending_machine=token_vending_machine,
            embedding_model_id=models.embedding_model_id, summary_model_id=models.summary_model_id,
            summary_model_regions=models.summary_model_regions)
        self.tenants = TenantsFunction(self, "Tenants", shared=shared, options=sizing.tenants,
                                       config_layer=self.config_layer, state_table=state_table,
                                       lifecycle=self.lifecycle_jobs)
        self.retention = RetentionFunction(self, "Retention", shared=shared, options=sizing.retention,
                                           vector_store=vector_store, agent_memory=agent_memory,
                                           state_table=state_table)

    @property
    def functions(self) -> dict[str, MeshFunction]:
        """Every function by handler name."""
        return {f.handler_name: f for f in (self.orchestrator, self.forget, self.lifecycle, self.summarizer,
                                            self.tenants, self.retention)}

    def _memory_environment(self, vector_store: IVectorMemoryStore, agent_memory: IAgentMemory,
                            state_table: IMeshStateTable, tvm: ITokenVendingMachine, models: ModelOptions,
                            retention_days: int, content_max_bytes: int) -> dict[str, str]:
        problems = new_problems()
        env = MemorySettings.env_for(
            problems, region=vector_store.env.region, vector_bucket_name=vector_store.vector_bucket_name,
            index_prefix=vector_store.index_prefix, embedding_dimension=vector_store.dimension,
            distance_metric=vector_store.distance_metric, embedding_model_id=models.embedding_model_id,
            memory_id=agent_memory.memory_id, tvm_role_arn=tvm.role_arn, isolation=tvm.isolation,
            state_table_name=state_table.table_name, summary_model_id=models.summary_model_id,
            summary_queue_url=self.summaries.queue.queue_url, retention_days=retention_days,
            content_max_bytes=content_max_bytes)
        raise_if_any(type(self).__name__, problems)
        return env

    def _memory_api(self, api: JwtApiOptions | None, prefix: str) -> MemoryApi | None:
        if api is None:
            return None
        self._log_group_names.append(f"{prefix}/api-access")
        access_logs = logs.LogGroup(self, "ApiAccessLogs", log_group_name=f"{prefix}/api-access",
                                    retention=self._log_retention, encryption_key=self.key)
        return MemoryApi(self, "Api", orchestrator=self.orchestrator.invoke_target,
                         forget=self.forget.invoke_target, options=api, access_log_group=access_logs)

    def _operator_api(self, enabled: bool, prefix: str) -> OperatorApi | None:
        if not enabled:
            return None
        self._log_group_names.append(f"{prefix}/operator-api-access")
        access_logs = logs.LogGroup(self, "OperatorApiAccessLogs", log_group_name=f"{prefix}/operator-api-access",
                                    retention=self._log_retention, encryption_key=self.key)
        return OperatorApi(self, "OperatorApi", tenants=self.tenants.invoke_target, access_log_group=access_logs)

    def _allow_logs_on_key(self, stack: Stack) -> None:
        arns = lazy_any(lambda: [stack.format_arn(service="logs", resource="log-group", resource_name=name,
                                                  arn_format=ArnFormat.COLON_RESOURCE_NAME)
                                 for name in self._log_group_names])
        # CloudWatch Logs encrypts with the key as its Regional service principal; the encryption context names
        # the log group, so the key serves exactly these log groups.
        self.key.add_to_resource_policy(iam.PolicyStatement(
            sid="AllowCloudWatchLogsForMemoryOrchestration",
            principals=[iam.ServicePrincipal(f"logs.{stack.region}.amazonaws.com")],
            actions=["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"],
            resources=["*"], conditions={"ArnEquals": {"kms:EncryptionContext:aws:logs:arn": arns}},
        ), allow_no_op=True)
        if not isinstance(self.key, kms.Key):
            Annotations.of(self).add_warning_v2(
                "@agent-memory-mesh/imported-key-policy",
                "encryption_key is imported, so its key policy cannot be changed here: allow "
                f"logs.{stack.region}.amazonaws.com to use it for the log groups of this memory home "
                "(kms:EncryptionContext:aws:logs:arn), cloudwatch.amazonaws.com for the alarm topic, and "
                "sns.amazonaws.com when an alarm email is subscribed")

    # -- grants ---------------------------------------------------------------------------------------------------

    def grant_invoke_orchestrator(self, grantee: iam.IGrantable) -> iam.Grant:
        """Service-to-service turns and handoffs: invoke the orchestrator directly (trusted to name any user)."""
        return self.orchestrator.grant_invoke_target(grantee)

    def grant_onboard(self, grantee: iam.IGrantable) -> iam.Grant:
        """Invoke the tenants function directly (``{"action": "onboard", "tenant_id": ...}``)."""
        return self.tenants.grant_invoke_target(grantee)

    def grant_operate(self, grantee: iam.IGrantable) -> iam.Grant:
        """Call the operator API's routes (onboard, offboard, read jobs)."""
        if self.operator_api is None:
            raise ValueError("MemoryOrchestrator: created with operator_api=False")
        return self.operator_api.grant_invoke(grantee)

    # -- validation -----------------------------------------------------------------------------------------------

    def _check(self, problems: Problems, settings: _Settings, *, api: JwtApiOptions | None, operator_api: bool,
               retention_days: int, content_max_bytes: int, prefix: str, role_name_prefix: str | None) -> None:
        stack = Stack.of(self)
        settings.sizing.check(problems, "functions", runtime=self.bundle.runtime, jwt_api=api is not None,
                              operator_api=operator_api)
        models = settings.models
        check_model_id(problems, "models.embedding_model_id", models.embedding_model_id, source_region=stack.region)
        check_model_id(problems, "models.summary_model_id", models.summary_model_id, source_region=stack.region,
                       regions=models.summary_model_regions)
        if api is not None:
            api.check(problems, "api")
        problems.check_range("retention_days", retention_days, *RETENTION_DAYS_RANGE)
        problems.check_range("content_max_bytes", content_max_bytes, 1, MAX_CONTENT_BYTES)
        observability = settings.observability
        problems.check_choice("observability.log_level", observability.log_level, LOG_LEVELS)
        problems.check(rules.LOG_GROUP_PREFIX, "observability.log_group_prefix", prefix, literal=True)
        problems.check(rules.EMAIL, "observability.alarm_email", observability.alarm_email)
        if observability.alarm_email is not None and observability.alarm_topic is not None:
            problems.add("observability.alarm_email", observability.alarm_email,
                         "must be omitted with alarm_topic: subscribe it to your own topic")
        if role_name_prefix is not None:
            problems.check(rules.ROLE_NAME, "role_name_prefix", role_name_prefix, literal=True)
            if isinstance(role_name_prefix, str) and len(role_name_prefix) > 51:
                problems.add("role_name_prefix", role_name_prefix, "must be at most 51 characters (IAM role names "
                             "are at most 64, and '-orchestrator' follows)")


def _same_env_key(scope: Construct, store: IVectorMemoryStore) -> kms.IKey | None:
    """The store's key when the store is in this stack's account and Region (log groups and queues need a key of
    their own Region, and a key policy of their account)."""
    stack = Stack.of(scope)
    same = all(Token.is_unresolved(mine) or Token.is_unresolved(theirs) or mine == theirs
               for mine, theirs in ((stack.account, store.env.account), (stack.region, store.env.region)))
    return store.encryption_key if same else None
