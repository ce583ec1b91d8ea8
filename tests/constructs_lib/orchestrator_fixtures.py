"""A memory home with a MemoryOrchestrator, built once per test module that needs it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aws_cdk import App, Stack

from constructs_lib import JwtApiOptions, MemoryOrchestrator, TokenVendingMachine
from runtime.contract import AgentRef, WorkerRef
from tests.constructs_lib.helpers import MemoryHome, memory_home, new_app, new_stack, synth_report, template_of

SUPERVISOR = AgentRef.agentcore_runtime(
    runtime_arn="arn:aws:bedrock-agentcore:us-east-1:111111111111:runtime/supervisor_agent-AbCdEf1234")
WORKERS = (
    WorkerRef(name="billing", role_arn="arn:aws:iam::222222222222:role/mesh-worker-billing",
              external_id="mesh-billing-2026", region="us-east-1",
              agent=AgentRef.bedrock_agent(agent_id="BILLINGAG1", alias_id="LIVEALIAS1"),
              allowed_tenants=("acme", "globex")),
    WorkerRef(name="research", role_arn="arn:aws:iam::333333333333:role/mesh-worker-research",
              external_id="mesh-research-2026", region="us-west-2",
              agent=AgentRef.agentcore_runtime(
                  runtime_arn="arn:aws:bedrock-agentcore:us-west-2:333333333333:runtime/research_agent-AbCdEf1234"),
              allowed_tenants=("acme",)),
)
API = JwtApiOptions(jwt_issuer="https://cognito-idp.us-east-1.amazonaws.com/us-east-1_EXAMPLE01",
                    jwt_audience=["app-client-1"])


@dataclass
class Built:
    app: App
    home: MemoryHome
    tvm: TokenVendingMachine
    orchestration: MemoryOrchestrator
    template: dict[str, Any]
    assembly_dir: Path | None = None
    report: dict[str, Any] | None = None

    @property
    def stack(self) -> Stack:
        return self.home.stack


def build(*, nag: bool = False, **kwargs: Any) -> Built:
    """A memory home (created stores, user isolation) and an orchestrator with two workers and the JWT API."""
    app = new_app()
    home = memory_home(new_stack(app=app))
    tvm = TokenVendingMachine(home.stack, "Tvm", vector_store=home.store, agent_memory=home.memory,
                              state_table=home.table, role_name="mesh-tvm")
    props: dict[str, Any] = {"supervisor_agent": SUPERVISOR, "workers": WORKERS, "declared_tenants": ["acme"],
                             "api": API, "role_name_prefix": "mesh", **kwargs}
    orchestration = MemoryOrchestrator(home.stack, "Orchestration", vector_store=home.store, agent_memory=home.memory,
                                       state_table=home.table, token_vending_machine=tvm, **props)
    if nag:
        directory, report = synth_report(app)
        return Built(app, home, tvm, orchestration, template_of(home.stack), directory, report)
    return Built(app, home, tvm, orchestration, template_of(home.stack))
