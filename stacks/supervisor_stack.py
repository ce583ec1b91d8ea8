"""`SupervisorAccountStack`: the memory home — key, vector store, AgentCore Memory, TVM and the orchestration."""

from __future__ import annotations

from typing import Any

from aws_cdk import CfnOutput, Duration, Environment, Stack, Token
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk.region_info import RegionInfo
from constructs import Construct

from constructs_lib import (
    AgentMemory,
    AgentTarget,
    JwtApiOptions,
    MemoryOrchestrator,
    TokenVendingMachine,
    VectorMemoryStore,
    WorkerTarget,
)
from constructs_lib.agent_memory import EXPIRY_DAYS_RANGE
from constructs_lib.nag import acknowledge_inline_policy

from .config import AgentRef, MeshConfig, WorkerConfig
from .limits import enforce_cloudformation_limits


class SupervisorAccountStack(Stack):
    """Everything the memory home account holds; workers trust its orchestrator role by name."""

    def __init__(self, scope: Construct, id: str, *, config: MeshConfig, **kwargs: Any) -> None:
        env = Environment(account=config.supervisor.account, region=config.supervisor.region)
        super().__init__(scope, id, env=env,
                         description="Agent Memory Mesh memory home (supervisor account)", **kwargs)
        self.config = config
        mem = config.memory

        if mem.kms_key_arn:
            self.key: kms.IKey = kms.Key.from_key_arn(self, "MemoryKey", mem.kms_key_arn)
        else:
            self.key = kms.Key(self, "MemoryKey", enable_key_rotation=True,
                               alias=f"alias/{config.mesh_name}-memory",
                               description="Agent Memory Mesh: vector memory, AgentCore Memory, queues and logs")

        self.vector_store = VectorMemoryStore(
            self, "VectorMemory",
            dimension=mem.embedding_dimension,
            distance_metric=mem.distance_metric,
            index_prefix=mem.index_prefix,
            tenant_ids=config.tenants,
            encryption_key=self.key,
        )
        # AgentCore expires events itself, within its own 7-365 day range; S3 Vectors retention is our sweeper's.
        expiry = min(max(mem.retention_days, EXPIRY_DAYS_RANGE[0]), EXPIRY_DAYS_RANGE[1])
        self.agent_memory = AgentMemory(
            self, "AgentMemory",
            expiration_days=expiry,
            encryption_key=self.key,
            memory_name=config.mesh_name.replace("-", "_") + "_memory",
        )

        self.orchestrator_role = self._lambda_role("OrchestratorRole", config.orchestrator_role_name,
                                                   "Orchestrator: vends tenant credentials and hands off to workers")
        self.summarizer_role = self._lambda_role("SummarizerRole", config.summarizer_role_name,
                                                 "Summarizer: stores session summaries through tenant credentials")

        self.tvm = TokenVendingMachine(
            self, "TokenVendingMachine",
            vector_store=self.vector_store,
            agent_memory=self.agent_memory,
            role_name=config.tvm_role_name,
            max_session_duration=Duration.hours(1),
        )
        self.tvm.grant_assume(self.orchestrator_role)
        self.tvm.grant_assume(self.summarizer_role)
        for worker in config.workers:
            if worker.tvm_principal_arn:
                self.tvm.trust(worker.tvm_principal_arn, tenant_ids=worker.allowed_tenants,
                               organization_id=config.organization_id)

        # Functions, summary queue, retention schedule, alarms and the JWT API. The orchestrator may assume exactly
        # the TVM and the configured worker access roles (their names are deterministic).
        self.orchestration = MemoryOrchestrator(
            self, "Orchestration",
            vector_store=self.vector_store,
            agent_memory=self.agent_memory,
            token_vending_machine=self.tvm,
            orchestrator_role=self.orchestrator_role,
            summarizer_role=self.summarizer_role,
            encryption_key=self.key,
            supervisor_agent=_agent_target(config.supervisor.agent),
            workers=[_worker_target(config, w, self._literal_partition()) for w in config.workers],
            api=JwtApiOptions(jwt_issuer=config.api.jwt_issuer, jwt_audience=list(config.api.jwt_audience),
                              tenant_claim=config.api.tenant_claim) if config.api else None,
            embedding_model_id=mem.embedding_model_id,
            summary_model_id=mem.summary_model_id,
            retention_days=mem.retention_days,
            retention_schedule=config.operations.retention_schedule,
            alarm_email=config.operations.alarm_email,
        )

        CfnOutput(self, "VectorBucketArn", value=self.vector_store.vector_bucket_arn)
        CfnOutput(self, "MemoryId", value=self.agent_memory.memory_id)
        CfnOutput(self, "TokenVendingMachineRoleArn", value=self.tvm.role_arn)
        CfnOutput(self, "OrchestratorRoleArn", value=self.orchestrator_role.role_arn)
        CfnOutput(self, "OrchestratorFunctionArn", value=self.orchestration.orchestrator.function_arn)
        CfnOutput(self, "OnboardingFunctionArn", value=self.orchestration.onboarding.function_arn)
        CfnOutput(self, "ForgetFunctionArn", value=self.orchestration.forget.function_arn)
        CfnOutput(self, "SummaryQueueUrl", value=self.orchestration.summary_queue.queue_url)
        CfnOutput(self, "AlarmTopicArn", value=self.orchestration.alarm_topic.topic_arn)
        if self.orchestration.api is not None:
            CfnOutput(self, "ApiUrl", value=self.orchestration.api.url)
        enforce_cloudformation_limits(self)

    def _literal_partition(self) -> str:
        """The partition as text: the worker directory is a file written at synth, where tokens cannot resolve."""
        if not Token.is_unresolved(self.partition):
            return self.partition
        return str(RegionInfo.get(self.config.supervisor.region).partition or "aws")

    def _lambda_role(self, id: str, name: str, description: str) -> iam.Role:
        role = iam.Role(self, id, role_name=name, description=description,
                        assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"))
        acknowledge_inline_policy(role)
        return role


def _agent_target(agent: AgentRef | None) -> AgentTarget:
    assert agent is not None, "MeshConfig requires supervisor.agent"
    if agent.kind == "agentcore-runtime":
        return AgentTarget.agentcore_runtime(runtime_arn=str(agent.runtime_arn))
    return AgentTarget.bedrock_agent(agent_id=str(agent.agent_id), alias_id=str(agent.alias_id))


def _worker_target(config: MeshConfig, worker: WorkerConfig, partition: str) -> WorkerTarget:
    return WorkerTarget(name=worker.name, role_arn=config.worker_role_arn(worker, partition),
                        external_id=config.worker_external_id(worker), region=worker.region,
                        agent=_agent_target(worker.agent), allowed_tenants=tuple(worker.allowed_tenants))
