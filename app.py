#!/usr/bin/env python3
"""The CDK app: one supervisor (memory home) stack and one stack per worker account, cdk-nag on every synth."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from aws_cdk import Annotations, App, CfnRule, CfnRuleAssertion, Fn, Stack, cx_api

from constructs_lib import add_nag_packs
from stacks import ConfigError, build_mesh, load_config
from stacks.limits import check_template_sizes

#: The error every stack of a MESH_SKIP_BUNDLING=1 synth carries; the CDK CLI refuses to deploy a stack with an
#: error annotation ("Found errors"), before it publishes any asset or calls AWS.
NOT_DEPLOYABLE = (
    "Not deployable: synthesized with MESH_SKIP_BUNDLING=1 (for review), so the Lambda assets hold unbundled "
    "source under the bundled code's hash. Deploy with `npx cdk deploy` (it bundles), or synthesize a deployable "
    "assembly with `make synth BUNDLE=1`."
)
#: The CloudFormation rule that makes the same templates fail at change-set creation if deployed by other means.
NOT_DEPLOYABLE_RULE = "MeshSkipBundlingNotDeployable"


def refuse_deployment(stack: Stack) -> None:
    """Mark a stack of a skip-bundling synth as not deployable, for the CDK CLI and for CloudFormation."""
    Annotations.of(stack).add_error(NOT_DEPLOYABLE)
    # Always false (the bootstrap version is a number), so CloudFormation rejects the change set with this text.
    CfnRule(stack, NOT_DEPLOYABLE_RULE, assertions=[CfnRuleAssertion(
        assert_=Fn.condition_contains(["lambda-code-not-bundled"], Fn.ref("BootstrapVersion")),
        assert_description=NOT_DEPLOYABLE)])


def unexpected_errors(stacks: list[cx_api.CloudFormationStackArtifact]) -> list[str]:
    """Error annotations other than the skip-bundling refusal (`make synth` passes --ignore-errors for that one)."""
    return [f"[Error at {m.id}] {m.entry.data}" for s in stacks for m in s.messages
            if m.level == cx_api.SynthesisMessageLevel.ERROR and m.entry.data != NOT_DEPLOYABLE]


def main(context: dict[str, object] | None = None) -> int:
    """Synthesize the mesh of the config (`-c config=path.json`, else cdk.json's sample); 1 on a bad config.

    ``context`` adds to the CLI's context (tests pass ``{"config": ...}`` here).
    """
    # MESH_SKIP_BUNDLING=1 (make synth's default) synthesizes without running pip: same resources and asset hashes,
    # no network, and an assembly that refuses to deploy. `cdk deploy` bundles the Lambda code locally (pip).
    skip_bundling = os.environ.get("MESH_SKIP_BUNDLING") == "1"
    # aws-cdk-lib's built-in CloudFormation schema plugin only warns and doubles synth time; every template is
    # checked by cfn-lint in `make test` (zero findings), and cdk-nag's four packs still gate every synth.
    app = App(context=context, post_cli_context={"aws:cdk:bundling-stacks": []} if skip_bundling else None,
              builtin_cloud_formation_validation=False)
    try:
        config = load_config(app)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 1
    mesh = build_mesh(app, config)
    if skip_bundling:
        print("MESH_SKIP_BUNDLING=1: Lambda code not bundled; this cloud assembly is for review and refuses to deploy",
              file=sys.stderr)
        for stack in mesh.stacks:
            refuse_deployment(stack)
    add_nag_packs(app)
    assembly = app.synth()
    problems = unexpected_errors(assembly.stacks) if skip_bundling else []
    sizes = {s.stack_name: Path(assembly.directory, s.template_file).stat().st_size for s in assembly.stacks}
    problems += check_template_sizes(sizes)
    if problems:
        print("\n".join(problems), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
