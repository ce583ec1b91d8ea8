#!/usr/bin/env python3
"""The CDK app: one supervisor (memory home) stack and one stack per worker account, cdk-nag on every synth."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from aws_cdk import App

from constructs_lib import add_nag_packs
from stacks import ConfigError, build_mesh, load_config
from stacks.limits import check_template_sizes


def main() -> int:
    # MESH_SKIP_BUNDLING=1 (make synth's default) synthesizes without running pip: same templates and asset hashes,
    # no network. `cdk deploy` bundles the Lambda code locally (pip, no Docker).
    skip_bundling = os.environ.get("MESH_SKIP_BUNDLING") == "1"
    if skip_bundling:
        print("MESH_SKIP_BUNDLING=1: Lambda code not bundled; this cloud assembly is for review, not for deploy",
              file=sys.stderr)
    # aws-cdk-lib's built-in CloudFormation schema plugin only warns and doubles synth time; every template is
    # checked by cfn-lint in `make test` (zero findings), and cdk-nag's four packs still gate every synth.
    app = App(post_cli_context={"aws:cdk:bundling-stacks": []} if skip_bundling else None,
              builtin_cloud_formation_validation=False)
    try:
        config = load_config(app)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 1
    build_mesh(app, config)
    add_nag_packs(app)
    assembly = app.synth()
    sizes = {s.stack_name: Path(assembly.directory, s.template_file).stat().st_size for s in assembly.stacks}
    problems = check_template_sizes(sizes)
    if problems:
        print("\n".join(problems), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
