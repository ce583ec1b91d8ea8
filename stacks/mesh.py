"""Builds the whole mesh (one supervisor stack, one stack per worker) into an app from a config."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aws_cdk import App

from .config import ConfigError, MeshConfig
from .supervisor_stack import SupervisorAccountStack
from .worker_stack import WorkerAccountStack

SAMPLE_CONTEXT_KEY = "memoryMesh:sampleConfig"


@dataclass
class Mesh:
    """The stacks `build_mesh` added: the supervisor stack, and each worker's stack by worker name."""

    supervisor: SupervisorAccountStack
    workers: dict[str, WorkerAccountStack]

    @property
    def stacks(self) -> list[Any]:
        """Every stack of the mesh, the supervisor's first."""
        return [self.supervisor, *self.workers.values()]


CDK_JSON = Path(__file__).resolve().parent.parent / "cdk.json"


def project_context() -> dict[str, Any]:
    """cdk.json's context (feature flags and the sample config), for apps built outside the CDK CLI."""
    return dict(json.loads(CDK_JSON.read_text(encoding="utf-8"))["context"])


def sample_config_dict() -> dict[str, Any]:
    """The sample two-account config from cdk.json (for `python app.py`, tests and benchmarks)."""
    return json.loads(CDK_JSON.read_text(encoding="utf-8"))["context"][SAMPLE_CONTEXT_KEY]


def load_config(app: App) -> MeshConfig:
    """`-c config=path.json` if given, else the sample config from cdk.json's context.

    A given but empty value, a directory or an unreadable file is a `ConfigError`, never a silent fallback to the
    sample.
    """
    path = app.node.try_get_context("config")
    if path is not None:
        return MeshConfig.from_file(_config_path(path))
    sample = app.node.try_get_context(SAMPLE_CONTEXT_KEY)
    if sample is None and CDK_JSON.exists():
        sample = sample_config_dict()
    if not isinstance(sample, Mapping):
        raise ConfigError([f"config: is required: pass -c config=path/to/config.json (cdk.json has no "
                           f"'{SAMPLE_CONTEXT_KEY}' sample)"])
    return MeshConfig.from_dict(sample)


def _config_path(value: Any) -> Path:
    """The `-c config=` value as a readable file path, or a `ConfigError` that says what is wrong with it."""
    text = value.strip() if isinstance(value, str) else ""
    if not text:
        raise ConfigError([f"config={value!r}: must be the path of a JSON config file, e.g. -c config=config/prod.json "
                           "(omit -c config to synthesize the sample config)"])
    path = Path(text).expanduser()
    if path.is_dir():
        raise ConfigError([f"config={text!r}: is a directory; must be the path of a JSON config file"])
    if path.exists() and not os.access(path, os.R_OK):
        raise ConfigError([f"config={text!r}: cannot be read (permission denied)"])
    return path


def build_mesh(app: App, config: MeshConfig) -> Mesh:
    """Add the supervisor stack and one stack per worker of ``config`` to ``app``."""
    supervisor = SupervisorAccountStack(app, f"{config.mesh_name}-supervisor", config=config)
    workers = {w.name: WorkerAccountStack(app, f"{config.mesh_name}-worker-{w.name}", config=config, worker=w)
               for w in config.workers}
    return Mesh(supervisor=supervisor, workers=workers)
