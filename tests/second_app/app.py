"""A separate CDK app that uses only `constructs_lib`: proof the constructs work outside this project's stacks."""

from __future__ import annotations

import json
import sys

from aws_cdk import App, Duration, Environment, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms

from constructs_lib import AgentMemory, TokenVendingMachine, VectorMemoryStore, add_nag_packs


class TeamMemoryStack(Stack):
    def __init__(self, scope: App, id: str) -> None:
        super().__init__(scope, id, env=Environment(account="333333333333", region="us-west-2"))
        key = kms.Key(self, "Key", enable_key_rotation=True)
        store = VectorMemoryStore(self, "Vectors", dimension=256, index_prefix="team-", tenant_ids=["red", "blue"],
                                  encryption_key=key)
        memory = AgentMemory(self, "Memory", expiration_days=30, encryption_key=key)
        tvm = TokenVendingMachine(self, "Tvm", vector_store=store, agent_memory=memory,
                                  max_session_duration=Duration.hours(2))
        agent_role = iam.Role(self, "AgentRole", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"))
        tvm.grant_assume(agent_role, tenant_ids=["red"])
        from constructs_lib.nag import acknowledge_inline_policy

        acknowledge_inline_policy(agent_role)


def main(outdir: str) -> None:
    app = App(outdir=outdir, context={"aws:cdk:bundling-stacks": []})
    TeamMemoryStack(app, "team-memory")
    add_nag_packs(app, verbose=False)
    app.synth()
    print(json.dumps({"project_modules_loaded": sorted(m for m in sys.modules if m.split(".")[0] in
                                                       ("stacks", "runtime", "app"))}))


if __name__ == "__main__":
    main(sys.argv[1])
