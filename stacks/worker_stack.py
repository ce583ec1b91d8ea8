"""`WorkerAccountStack`: one per worker account — the orchestrator's access role and the agent's memory access."""

from __future__ import annotations

from typing import Any

from aws_cdk import Annotations, CfnOutput, Environment, Stack
from aws_cdk import aws_iam as iam
from constructs import Construct

from constructs_lib import TokenVendingMachine, WorkerAccessRole, WorkerMemoryAccess
from runtime.contract import memory

from .config import MeshConfig, WorkerConfig
from .limits import enforce_cloudformation_limits
from .supervisor_stack import EXTERNAL_ID_SECRET_ENV, external_id_secret, literal_partition

__all__ = ["WorkerAccountStack"]


class WorkerAccountStack(Stack):
    """The worker side of the mesh; it needs nothing exported from the memory home (names are derived)."""

    def __init__(self, scope: Construct, id: str, *, config: MeshConfig, worker: WorkerConfig, **kwargs: Any) -> None:
        super().__init__(scope, id, env=Environment(account=worker.account, region=worker.region),
                         description=f"Agent Memory Mesh worker '{worker.name}'", **kwargs)
        partition = literal_partition(self, worker.region)
        index = config.workers.index(worker)
        if not worker.external_id:
            Annotations.of(self).add_warning_v2(
                "@agent-memory-mesh/derived-external-id",
                f"workers[{index}] '{worker.name}' has no external_id: it is derived from the deploy-time secret "
                f"({EXTERNAL_ID_SECRET_ENV}); keep that secret stable, or set external_id in the config")
        self.access_role = WorkerAccessRole(
            self, "WorkerAccess",
            role_name=config.worker_role_name(worker),
            orchestrator_role_arn=config.orchestrator_role_arn(partition),
            orchestrator_account=config.supervisor.account,
            external_id=config.worker_external_id(worker, secret=external_id_secret(self)),
            allowed_tenants=worker.allowed_tenants,
            agent=worker.agent,
            organization_id=config.organization_id,
        )
        self.memory_access = self._memory_access(config, worker, partition)
        for warning in config.warnings:
            if warning.startswith(f"workers[{index}]."):
                Annotations.of(self).add_warning_v2("@agent-memory-mesh/agent-memory-days", warning)
        CfnOutput(self, "WorkerAccessRoleArn", value=self.access_role.role_arn)
        if self.memory_access is not None:
            CfnOutput(self, "WorkerAgentRoleArn", value=self.memory_access.role.role_arn)
        enforce_cloudformation_limits(self)

    def _memory_access(self, config: MeshConfig, worker: WorkerConfig, partition: str) -> WorkerMemoryAccess | None:
        """The agent role's side of vending from the memory home's worker TVM (that TVM trusts the role by name)."""
        if worker.agent_role_arn(partition) is None:
            return None
        tvm = TokenVendingMachine.from_token_vending_machine_attributes(
            self, "MemoryHomeWorkerTvm", role_arn=config.worker_tvm_role_arn(partition),
            isolation=memory.ISOLATION_USER)
        if worker.create_agent_role:
            return WorkerMemoryAccess(self, "MemoryAccess", token_vending_machine=tvm,
                                      role_name=worker.agent_role_name)
        role = iam.Role.from_role_arn(self, "AgentRole", str(worker.agent_role_arn(partition)), mutable=True)
        return WorkerMemoryAccess(self, "MemoryAccess", token_vending_machine=tvm, role=role)
