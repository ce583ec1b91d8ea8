"""`SupervisorAccountStack`: the memory home — key, stores, state table, token vending machines, functions, APIs."""

from __future__ import annotations

import os
from typing import Any

from aws_cdk import Annotations, CfnOutput, Duration, Environment, Stack, Token
from aws_cdk import aws_kms as kms
from aws_cdk.region_info import RegionInfo
from constructs import Construct

from constructs_lib import (
    AgentMemory,
    JwtApiOptions,
    MemoryOrchestrator,
    MeshStateTable,
    ModelOptions,
    ObservabilityOptions,
    TokenVendingMachine,
    TvmAccess,
    VectorMemoryStore,
    WorkerMemoryAccess,
)
from runtime.contract import memory

from .config import MeshConfig
from .limits import enforce_cloudformation_limits

__all__ = ["EXTERNAL_ID_SECRET_CONTEXT", "EXTERNAL_ID_SECRET_ENV", "SupervisorAccountStack", "external_id_secret",
           "literal_partition"]

#: Where a deploy-time secret for deriving workers' external ids comes from (never from the config file).
EXTERNAL_ID_SECRET_ENV = "MESH_EXTERNAL_ID_SECRET"
EXTERNAL_ID_SECRET_CONTEXT = "memoryMesh:externalIdSecret"


def external_id_secret(scope: Construct) -> str | None:
    """The deploy-time secret (environment variable, else context) that derives workers' external ids."""
    value = os.environ.get(EXTERNAL_ID_SECRET_ENV) or scope.node.try_get_context(EXTERNAL_ID_SECRET_CONTEXT)
    return str(value) if value else None


def literal_partition(stack: Stack, region: str) -> str:
    """The partition as text: the workers file is written at synth, where tokens cannot resolve."""
    return stack.partition if not Token.is_unresolved(stack.partition) else str(RegionInfo.get(region).partition
                                                                                  or "aws")


class SupervisorAccountStack(Stack):
    """Everything the memory home account holds. Workers trust its orchestrator role by name; its worker TVM
    trusts the workers' agent roles by name, so no stack depends on another's deploy."""

    def __init__(self, scope: Construct, id: str, *, config: MeshConfig, **kwargs: Any) -> None:
        env = Environment(account=config.supervisor.account, region=config.supervisor.region)
        super().__init__(scope, id, env=env, description="Agent Memory Mesh memory home (supervisor account)",
                         **kwargs)
        self.config = config
        mem = config.memory
        partition = literal_partition(self, config.supervisor.region)
        if mem.kms_key_arn:
            self.key: kms.IKey = kms.Key.from_key_arn(self, "MemoryKey", mem.kms_key_arn)
        else:
            self.key = kms.Key(self, "MemoryKey", enable_key_rotation=True, alias=f"alias/{config.mesh_name}-memory",
                               description="Agent Memory Mesh: vector memory, AgentCore Memory, state, queues, logs")

        self.vector_store = VectorMemoryStore(
            self, "VectorMemory", dimension=mem.embedding_dimension, distance_metric=mem.distance_metric,
            index_prefix=mem.index_prefix, encryption_key=self.key)
        # AgentCore expires events itself, within 7-365 days; S3 Vectors retention is the sweep's.
        low, high = memory.AGENTCORE.EVENT_EXPIRY_DAYS
        self.agent_memory = AgentMemory(self, "AgentMemory", expiration_days=min(max(mem.retention_days, low), high),
                                        encryption_key=self.key,
                                        memory_name=config.mesh_name.replace("-", "_") + "_memory")
        self.state_table = MeshStateTable(self, "MeshState", encryption_key=self.key)
        self.tvm = TokenVendingMachine(
            self, "TokenVendingMachine", vector_store=self.vector_store, agent_memory=self.agent_memory,
            state_table=self.state_table, isolation=mem.isolation, role_name=config.tvm_role_name,
            max_session_duration=Duration.hours(1))
        self.worker_tvm = self._worker_tvm(config, partition)

        secret = external_id_secret(self)
        self.orchestration = MemoryOrchestrator(
            self, "Orchestration",
            vector_store=self.vector_store, agent_memory=self.agent_memory, state_table=self.state_table,
            token_vending_machine=self.tvm, supervisor_agent=config.supervisor.agent,
            workers=config.worker_refs(secret=secret, partition=partition), declared_tenants=config.tenants,
            api=JwtApiOptions(jwt_issuer=config.api.jwt_issuer, jwt_audience=list(config.api.jwt_audience),
                              tenant_claim=config.api.tenant_claim) if config.api else None,
            models=ModelOptions(embedding_model_id=mem.embedding_model_id, summary_model_id=mem.summary_model_id),
            observability=ObservabilityOptions(alarm_email=config.operations.alarm_email),
            retention_days=mem.retention_days, retention_schedule=config.operations.retention_schedule,
            encryption_key=self.key, role_name_prefix=config.role_name_prefix,
        )
        for warning in config.warnings:
            if warning.startswith("supervisor."):
                Annotations.of(self).add_warning_v2("@agent-memory-mesh/agent-memory-days", warning)
        self._outputs()
        enforce_cloudformation_limits(self)

    def _worker_tvm(self, config: MeshConfig, partition: str) -> TokenVendingMachine | None:
        """The TVM worker agents' own roles assume (user isolation, worker-path actions, their tenants only)."""
        principals = [(w, w.agent_role_arn(partition)) for w in config.workers if w.agent_role_arn(partition)]
        if not principals:
            return None
        tvm = TokenVendingMachine(
            self, "WorkerTokenVendingMachine", vector_store=self.vector_store, agent_memory=self.agent_memory,
            state_table=self.state_table, isolation=memory.ISOLATION_USER, access=TvmAccess.WORKERS,
            role_name=config.worker_tvm_role_name, max_session_duration=Duration.hours(1))
        for worker, role_arn in principals:
            assert role_arn is not None
            tvm.trust(role_arn, tenant_ids=worker.allowed_tenants, account=worker.account,
                      organization_id=config.organization_id)
        return tvm

    def _outputs(self) -> None:
        orchestration = self.orchestration
        CfnOutput(self, "VectorBucketArn", value=self.vector_store.vector_bucket_arn)
        CfnOutput(self, "MemoryId", value=self.agent_memory.memory_id)
        CfnOutput(self, "StateTableName", value=self.state_table.table_name)
        CfnOutput(self, "TokenVendingMachineRoleArn", value=self.tvm.role_arn)
        CfnOutput(self, "OrchestratorFunctionArn", value=orchestration.orchestrator.invoke_target.function_arn)
        CfnOutput(self, "TenantsFunctionArn", value=orchestration.tenants.invoke_target.function_arn)
        CfnOutput(self, "SummaryQueueUrl", value=orchestration.summaries.queue.queue_url)
        CfnOutput(self, "LifecycleQueueUrl", value=orchestration.lifecycle_jobs.queue.queue_url)
        CfnOutput(self, "AlarmTopicArn", value=orchestration.alarms.topic.topic_arn)
        if orchestration.api is not None:
            CfnOutput(self, "ApiUrl", value=orchestration.api.url)
        if orchestration.operator_api is not None:
            CfnOutput(self, "OperatorApiUrl", value=orchestration.operator_api.url)
        if self.worker_tvm is not None:
            CfnOutput(self, "WorkerTokenVendingMachineRoleArn", value=self.worker_tvm.role_arn)
            # What a worker agent's runtime needs (the same for every worker): copy into its environment.
            environment = WorkerMemoryAccess.environment_for(
                token_vending_machine=self.worker_tvm, vector_store=self.vector_store,
                agent_memory=self.agent_memory, state_table=self.state_table,
                embedding_model_id=self.config.memory.embedding_model_id)
            CfnOutput(self, "WorkerMemoryEnvironment", value=self.to_json_string(environment),
                      description="MESH_* variables of a worker agent that uses the memory with the runtime package")
