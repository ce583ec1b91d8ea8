"""`SupervisorAccountStack`: the memory home — key, vector store, AgentCore Memory, TVM and orchestrator role."""

from __future__ import annotations

from typing import Any

from aws_cdk import CfnOutput, Duration, Environment, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from constructs import Construct

from constructs_lib import AgentMemory, TokenVendingMachine, VectorMemoryStore
from constructs_lib.agent_memory import EXPIRY_DAYS_RANGE
from constructs_lib.nag import acknowledge_inline_policy
from constructs_lib.token_vending_machine import ASSUME_ACTIONS

from .config import MeshConfig
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
                self.tvm.trust(worker.tvm_principal_arn, tenant_ids=worker.allowed_tenants)

        # The orchestrator may assume exactly the configured worker access roles (names are deterministic).
        worker_arns = [config.worker_role_arn(w, self.partition) for w in config.workers]
        self.orchestrator_role.add_to_policy(iam.PolicyStatement(
            sid="AssumeWorkerAccessRoles", actions=list(ASSUME_ACTIONS), resources=worker_arns))

        CfnOutput(self, "VectorBucketArn", value=self.vector_store.vector_bucket_arn)
        CfnOutput(self, "MemoryId", value=self.agent_memory.memory_id)
        CfnOutput(self, "TokenVendingMachineRoleArn", value=self.tvm.role_arn)
        CfnOutput(self, "OrchestratorRoleArn", value=self.orchestrator_role.role_arn)
        enforce_cloudformation_limits(self)

    def _lambda_role(self, id: str, name: str, description: str) -> iam.Role:
        role = iam.Role(self, id, role_name=name, description=description,
                        assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"))
        acknowledge_inline_policy(role)
        return role
