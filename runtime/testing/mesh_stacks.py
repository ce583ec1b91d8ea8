"""The memory home ``setup_mesh`` deploys, built from the constructs and synthesized (once per process and
parameter set): vector store, AgentCore memory, state table, and a token vending machine whose policies are the
constructs' own. Needs the ``cdk`` extra (aws-cdk-lib) and Node.js for jsii.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

__all__ = ["TVM_ROLE_NAME", "WorkerRole", "memory_home_assembly", "synthesize", "worker_roles"]

TVM_ROLE_NAME = "mesh-tvm"
HOME_STACK = "mesh-test-home"
_LOCK = threading.Lock()
_CACHE = Path(tempfile.gettempdir()) / "agent-memory-mesh-emulated"


@dataclass(frozen=True)
class WorkerRole:
    """A worker access role to deploy: the worker's account, Region, agent and allowed tenants."""

    name: str
    account: str
    region: str
    role_name: str
    external_id: str
    allowed_tenants: tuple[str, ...]
    #: ``{"type": "bedrock-agent", "agent_id": ..., "alias_id": ...}`` or ``{"type": "agentcore-runtime", ...}``.
    agent: tuple[tuple[str, str], ...]


def worker_roles(workers: Sequence[Mapping[str, Any]]) -> tuple[WorkerRole, ...]:
    """Worker access roles for the entries of a workers file (``MESH_WORKERS_FILE``: name, role_arn, external_id,
    region, allowed_tenants, agent)."""
    found = []
    for worker in workers:
        arn = str(worker["role_arn"])
        found.append(WorkerRole(
            name=str(worker["name"]), account=arn.split(":")[4], region=str(worker["region"]),
            role_name=arn.rsplit("/", 1)[-1], external_id=str(worker["external_id"]),
            allowed_tenants=tuple(worker["allowed_tenants"]),
            agent=tuple(sorted((str(k), str(v)) for k, v in worker["agent"].items()))))
    return tuple(found)


def synthesize(build: Callable[[Any], None], *, cache_key: str | None = None) -> Path:
    """Synthesize the app ``build(app)`` fills, with bundling skipped; returns the assembly directory.

    With ``cache_key`` the assembly is kept in the temp directory under a hash of the key and of every source
    file of ``constructs_lib`` and ``runtime/contract``, so later processes skip the synthesis (seconds).
    """
    os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
    final = _CACHE / _digest(cache_key) if cache_key is not None else None
    if final is not None and (final / "manifest.json").exists():
        return final
    from aws_cdk import App

    with _LOCK:
        _CACHE.mkdir(parents=True, exist_ok=True)
        outdir = tempfile.mkdtemp(prefix="synth-", dir=_CACHE)
        app = App(outdir=outdir, context={"aws:cdk:bundling-stacks": []}, analytics_reporting=False)
        build(app)
        directory = Path(app.synth().directory)
        if final is None:
            return directory
        try:
            directory.rename(final)  # atomic; another process may have won the race
        except OSError:
            shutil.rmtree(directory, ignore_errors=True)
        return final


def _digest(cache_key: str) -> str:
    from importlib.metadata import version

    # The library's version, not an import of it: importing aws_cdk starts jsii (seconds).
    digest = hashlib.sha256(f"{cache_key}|{version('aws-cdk-lib')}".encode())
    root = Path(__file__).resolve().parents[2]
    for folder in ("constructs_lib", "runtime/contract"):
        for path in sorted((root / folder).rglob("*.py")):
            digest.update(path.read_bytes())
    return digest.hexdigest()[:32]


@lru_cache(maxsize=16)
def memory_home_assembly(
    *,
    account: str,
    region: str,
    isolation: str,
    bucket_name: str,
    index_prefix: str,
    dimension: int,
    distance_metric: str,
    memory_name: str,
    trusted_role_arns: tuple[str, ...],
    workers: tuple[WorkerRole, ...] = (),
    orchestrator_role_arn: str | None = None,
    omit_statements: tuple[str, ...] = (),
) -> Path:
    """The memory home (and worker access roles) as a synthesized cloud assembly, cached per parameter set.

    ``omit_statements`` drops TVM statements whose condition keys include one of the given names (mutation
    tests: ``"bedrock-agentcore:namespacePath"``) before synthesis.
    """

    def build(app: Any) -> None:
        from aws_cdk import Environment, Stack

        from constructs_lib import AgentMemory, MeshStateTable, TokenVendingMachine, VectorMemoryStore
        from constructs_lib.worker_access_role import WorkerAccessRole
        from runtime.contract import AgentRef

        home = Stack(app, HOME_STACK, env=Environment(account=account, region=region))
        store = VectorMemoryStore(home, "VectorStore", dimension=dimension, distance_metric=distance_metric,
                                  index_prefix=index_prefix, vector_bucket_name=bucket_name)
        memory = AgentMemory(home, "Memory", memory_name=memory_name)
        table = MeshStateTable(home, "StateTable")
        tvm = TokenVendingMachine(home, "Tvm", vector_store=store, agent_memory=memory, state_table=table,
                                  isolation=isolation, role_name=TVM_ROLE_NAME)
        for arn in trusted_role_arns:
            tvm.trust(arn)
        if omit_statements:
            _omit(tvm, omit_statements)
        for worker in workers:
            stack = Stack(app, f"mesh-test-worker-{worker.name}",
                          env=Environment(account=worker.account, region=worker.region))
            WorkerAccessRole(stack, "WorkerAccessRole",
                             orchestrator_role_arn=orchestrator_role_arn or trusted_role_arns[0],
                             external_id=worker.external_id, allowed_tenants=list(worker.allowed_tenants),
                             agent=_agent(dict(worker.agent)), role_name=worker.role_name)
        del AgentRef

    key = repr((account, region, isolation, bucket_name, index_prefix, dimension, distance_metric, memory_name,
                trusted_role_arns, workers, orchestrator_role_arn, omit_statements))
    return synthesize(build, cache_key=key)


def _agent(spec: dict[str, str]) -> Any:
    from runtime.contract import AgentRef

    if spec["type"] == "bedrock-agent":
        return AgentRef.bedrock_agent(agent_id=spec["agent_id"], alias_id=spec["alias_id"])
    return AgentRef.agentcore_runtime(runtime_arn=spec["runtime_arn"])


def _omit(tvm: Any, condition_keys: Sequence[str]) -> None:
    """Remove the TVM's statements that condition on one of ``condition_keys`` (a deliberately broken policy)."""
    from aws_cdk import Stack
    from aws_cdk import aws_iam as iam

    policy = tvm.role.node.try_find_child("DefaultPolicy")
    assert isinstance(policy, iam.Policy)
    cfn = policy.node.default_child
    assert isinstance(cfn, iam.CfnPolicy)
    document = Stack.of(tvm).resolve(policy.document)
    kept = [s for s in document["Statement"]
            if not any(key in condition for condition in s.get("Condition", {}).values() for key in condition_keys)]
    cfn.policy_document = {**document, "Statement": kept}
