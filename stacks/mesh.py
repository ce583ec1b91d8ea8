"""Builds the whole mesh (one supervisor stack, one stack per worker) into an app from a config."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from aws_cdk import App

from .config import ConfigError, MeshConfig
from .supervisor_stack import SupervisorAccountStack
from .worker_stack import WorkerAccountStack

SAMPLE_CONTEXT_KEY = "memoryMesh:sampleConfig"


@dataclass
class Mesh:
    supervisor: SupervisorAccountStack
    workers: dict[str, WorkerAccountStack]

    @property
    def stacks(self) -> list[Any]:
        return [self.supervisor, *self.workers.values()]


CDK_JSON = Path(__file__).resolve().parent.parent / "cdk.json"


def project_context() -> dict[str, Any]:
    """cdk.json's context (feature flags and the sample config), for apps built outside the CDK CLI."""
    return dict(json.loads(CDK_JSON.read_text(encoding="utf-8"))["context"])


def sample_config_dict() -> dict[str, Any]:
    """The sample two-account config from cdk.json (for `python app.py`, tests and benchmarks)."""
    return json.loads(CDK_JSON.read_text(encoding="utf-8"))["context"][SAMPLE_CONTEXT_KEY]


def load_config(app: App) -> MeshConfig:
    """`-c config=path.json` if given, else the sample config from cdk.json's context."""
    path = app.node.try_get_context("config")
    if path:
        return MeshConfig.from_file(str(path))
    sample = app.node.try_get_context(SAMPLE_CONTEXT_KEY)
    if sample is None and CDK_JSON.exists():
        sample = sample_config_dict()
    if not isinstance(sample, Mapping):
        raise ConfigError([f"config=None: pass -c config=path/to/config.json (no '{SAMPLE_CONTEXT_KEY}' in cdk.json)"])
    return MeshConfig.from_dict(sample)


def build_mesh(app: App, config: MeshConfig) -> Mesh:
    supervisor = SupervisorAccountStack(app, f"{config.mesh_name}-supervisor", config=config)
    workers = {w.name: WorkerAccountStack(app, f"{config.mesh_name}-worker-{w.name}", config=config, worker=w)
               for w in config.workers}
    return Mesh(supervisor=supervisor, workers=workers)
