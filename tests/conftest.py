"""Shared fixtures: one synthesized sample mesh per test process (synth is the slow part)."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
os.environ.setdefault("CDK_DISABLE_CLI_TELEMETRY", "true")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--run-live", action="store_true", default=False,
                     help="run tests marked 'live' against a real AWS account")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("--run-live"):
        return
    skip = pytest.mark.skip(reason="live AWS test: opt in with `make test-live`")
    for item in items:
        if "live" in item.keywords:
            item.add_marker(skip)


def app_context(**extra: Any) -> dict[str, Any]:
    """cdk.json's context (feature flags, sample config) with bundling skipped, as unit tests need."""
    from stacks.mesh import project_context

    return {**project_context(), "aws:cdk:bundling-stacks": [], **extra}


@dataclass
class SynthesizedMesh:
    config: Any
    mesh: Any
    directory: Path
    templates: dict[str, dict[str, Any]]
    validation_report: dict[str, Any] | None

    def template(self, stack_name: str) -> dict[str, Any]:
        return self.templates[stack_name]


def synth_mesh(config_dict: dict[str, Any] | None = None, *, nag: bool = True) -> SynthesizedMesh:
    """Build and synthesize the whole mesh once, returning every template as JSON."""
    from aws_cdk import App

    from constructs_lib import add_nag_packs
    from stacks import MeshConfig, build_mesh
    from stacks.mesh import sample_config_dict

    config = MeshConfig.from_dict(config_dict if config_dict is not None else sample_config_dict())
    app = App(context=app_context(), builtin_cloud_formation_validation=False)  # as app.py; cfn-lint runs below
    mesh = build_mesh(app, config)
    if nag:
        add_nag_packs(app, verbose=False)
    assembly = app.synth()
    templates = {s.stack_name: json.loads(Path(assembly.directory, s.template_file).read_text())
                 for s in assembly.stacks}
    report_path = Path(assembly.directory, "validation-report.json")
    report = json.loads(report_path.read_text()) if report_path.exists() else None
    return SynthesizedMesh(config, mesh, Path(assembly.directory), templates, report)


@pytest.fixture(scope="session")
def sample_mesh() -> SynthesizedMesh:
    return synth_mesh()
