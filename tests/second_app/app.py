"""A separate CDK app that uses only `constructs_lib`, typed against its interfaces: proof the constructs work
outside this project's stacks (two accounts: a team's memory home and a partner's agent)."""

from __future__ import annotations

import json
import sys

from aws_cdk import App, Duration, Environment, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms

from constructs_lib import (
    AgentMemory,
    IAgentMemory,
    IMeshStateTable,
    ITokenVendingMachine,
    IVectorMemoryStore,
    MeshStateTable,
    TokenVendingMachine,
    TvmAccess,
    VectorMemoryStore,
    WorkerMemoryAccess,
    acknowledge_inline_policy,
    acknowledge_wildcard_resources,
    add_nag_packs,
)

HOME = Environment(account="333333333333", region="us-west-2")
PARTNER = Environment(account="444444444444", region="us-west-2")
PARTNER_TVM = "arn:aws:iam::333333333333:role/team-memory-partners"


def let_an_app_vend(role: iam.IRole, tvm: ITokenVendingMachine, *, tenant_ids: list[str]) -> None:
    """Consumers depend on the interfaces only: any TVM, created or imported."""
    tvm.grant_assume(role, tenant_ids=tenant_ids)


def reader_of(store: IVectorMemoryStore, memory: IAgentMemory, state: IMeshStateTable, role: iam.IRole) -> None:
    """A reporting job that reads one tenant's indexes and its events, through the interfaces' grants."""
    store.grant_read(role, tenant_id="red")
    memory.grant_read_events(role, actor_id="red:*")
    state.grant_read_jobs(role)


class TeamMemoryStack(Stack):
    def __init__(self, scope: App, id: str) -> None:
        super().__init__(scope, id, env=HOME)
        key = kms.Key(self, "Key", enable_key_rotation=True)
        self.store = VectorMemoryStore(self, "Vectors", dimension=256, index_prefix="team-", encryption_key=key)
        self.memory = AgentMemory(self, "Memory", expiration_days=30, encryption_key=key)
        self.state = MeshStateTable(self, "State", encryption_key=key)
        tvm = TokenVendingMachine(self, "Tvm", vector_store=self.store, agent_memory=self.memory,
                                  state_table=self.state, isolation="tenant", max_session_duration=Duration.hours(2))
        app_role = iam.Role(self, "AppRole", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"))
        let_an_app_vend(app_role, tvm, tenant_ids=["red"])
        reporting = iam.Role(self, "Reporting", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"))
        reader_of(self.store, self.memory, self.state, reporting)
        partners = TokenVendingMachine(self, "PartnerTvm", vector_store=self.store, agent_memory=self.memory,
                                       state_table=self.state, access=TvmAccess.WORKERS,
                                       role_name="team-memory-partners")
        partners.trust("arn:aws:iam::444444444444:role/partner-agent", tenant_ids=["red"])
        for role in (app_role, reporting):
            acknowledge_inline_policy(role)
        acknowledge_wildcard_resources(reporting, lambda resource: resource.endswith("/index/team-red.*"),
                                       "Reporting reads every user index of tenant 'red' (created at run time).")


class PartnerAgentStack(Stack):
    def __init__(self, scope: App, id: str) -> None:
        super().__init__(scope, id, env=PARTNER)
        tvm = TokenVendingMachine.from_token_vending_machine_attributes(self, "TeamTvm", role_arn=PARTNER_TVM)
        access = WorkerMemoryAccess(self, "Memory", token_vending_machine=tvm, role_name="partner-agent")
        store = VectorMemoryStore.from_vector_memory_store_attributes(
            self, "TeamVectors", vector_bucket_arn="arn:aws:s3vectors:us-west-2:333333333333:bucket/team-vectors",
            index_prefix="team-", dimension=256)
        memory = AgentMemory.from_agent_memory_attributes(
            self, "TeamMemory", memory_arn="arn:aws:bedrock-agentcore:us-west-2:333333333333:memory/team-AbCdE12345")
        self.agent_environment = access.memory_environment(vector_store=store, agent_memory=memory)


def main(outdir: str) -> None:
    app = App(outdir=outdir, context={"aws:cdk:bundling-stacks": []})
    TeamMemoryStack(app, "team-memory")
    partner = PartnerAgentStack(app, "partner-agent")
    add_nag_packs(app, verbose=False)
    app.synth()
    loaded = sorted(m for m in sys.modules if m.split(".")[0] in ("stacks", "runtime", "app"))
    print(json.dumps({"project_modules_loaded": loaded, "partner_environment": partner.agent_environment}))


if __name__ == "__main__":
    main(sys.argv[1])
