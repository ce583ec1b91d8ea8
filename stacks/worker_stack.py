"""`WorkerAccountStack`: one per worker account, holding the role the orchestrator assumes to invoke its agent."""

from __future__ import annotations

from typing import Any

from aws_cdk import CfnOutput, Environment, Stack
from constructs import Construct

from constructs_lib import WorkerAccessRole

from .config import MeshConfig, WorkerConfig
from .limits import enforce_cloudformation_limits


class WorkerAccountStack(Stack):
    """The worker side of the handoff; it needs nothing exported from the supervisor stack."""

    def __init__(self, scope: Construct, id: str, *, config: MeshConfig, worker: WorkerConfig, **kwargs: Any) -> None:
        super().__init__(scope, id, env=Environment(account=worker.account, region=worker.region),
                         description=f"Agent Memory Mesh worker '{worker.name}'", **kwargs)
        agent_arns = worker.agent.arns(worker.account, worker.region, self.partition)
        is_runtime = worker.agent.kind == "agentcore-runtime"
        self.access_role = WorkerAccessRole(
            self, "WorkerAccess",
            role_name=config.worker_role_name(worker),
            orchestrator_role_arn=config.orchestrator_role_arn(self.partition),
            external_id=config.worker_external_id(worker),
            agent_alias_arns=[] if is_runtime else agent_arns,
            agent_runtime_arns=agent_arns if is_runtime else [],
            organization_id=config.organization_id,
        )
        CfnOutput(self, "WorkerAccessRoleArn", value=self.access_role.role_arn)
        enforce_cloudformation_limits(self)
