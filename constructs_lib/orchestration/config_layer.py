"""`MeshConfigLayer`: the config files the functions read under /opt/mesh (workers and declared tenants)."""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path

from aws_cdk import AssetHashType
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from runtime.contract import WorkerRef, check_workers, rules
from runtime.contract.environment import TENANTS_FILE, WORKERS_FILE

from ..errors import new_problems, raise_if_any

__all__ = ["MeshConfigLayer"]

_FORMAT = b"agent-memory-mesh/config-layer/2\0"
_ROOT = "/opt/"


class MeshConfigLayer(Construct):
    """A Lambda layer with ``/opt/mesh/workers.json`` (the worker directory) and ``/opt/mesh/tenants.json`` (the
    tenants declared in the deployment config, which offboarding refuses).

    Files, not environment variables: a hundred workers do not fit Lambda's 4 KB environment. Every value is
    literal (it is written at synth); the asset hash is the content hash, so an unchanged config reuses the layer.
    """

    def __init__(self, scope: Construct, id: str, *, workers: Sequence[WorkerRef] = (),
                 declared_tenants: Sequence[str] = (), runtime: lambda_.Runtime,
                 architecture: lambda_.Architecture) -> None:
        super().__init__(scope, id)
        problems = new_problems()
        check_workers(problems, "workers", list(workers))
        seen: set[str] = set()
        for i, tenant in enumerate(declared_tenants):
            problems.check(rules.TENANT_ID, f"declared_tenants[{i}]", tenant, required=True, literal=True)
            if tenant in seen:
                problems.add(f"declared_tenants[{i}]", tenant, "must be declared once")
            seen.add(tenant)
        raise_if_any(type(self).__name__, problems)
        self.workers = tuple(workers)
        self.declared_tenants = tuple(sorted(set(declared_tenants)))
        files = {
            WORKERS_FILE: [w.to_json() for w in self.workers],
            TENANTS_FILE: list(self.declared_tenants),
        }
        directory, digest = _write(files)
        self.layer = lambda_.LayerVersion(
            self, "Layer",
            code=lambda_.Code.from_asset(directory, asset_hash_type=AssetHashType.CUSTOM, asset_hash=digest),
            compatible_runtimes=[runtime],
            compatible_architectures=[architecture],
            description=f"Agent Memory Mesh config: {len(self.workers)} worker(s) at {WORKERS_FILE}, "
                        f"{len(self.declared_tenants)} declared tenant(s) at {TENANTS_FILE}",
        )


def _write(files: dict[str, object]) -> tuple[str, str]:
    """Write the files into a directory named by their content hash; return (directory, asset hash)."""
    rendered = {path: (json.dumps(content, separators=(",", ":"), sort_keys=True) + "\n").encode()
                for path, content in sorted(files.items())}
    digest = hashlib.sha256(_FORMAT + b"".join(p.encode() + b"\0" + c for p, c in rendered.items())).hexdigest()
    root = Path(tempfile.gettempdir()) / "agent-memory-mesh-layers"
    directory = root / f"config-{digest[:32]}"
    for path, content in rendered.items():
        target = directory / path.removeprefix(_ROOT)
        if target.is_file() and target.read_bytes() == content:
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        # Write beside the target, then rename: concurrent synths never see (or package) a partial file.
        scratch = target.parent / f".{target.name}.{os.getpid()}.tmp"
        scratch.write_bytes(content)
        os.replace(scratch, target)
    return str(directory), digest
