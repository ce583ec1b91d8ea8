"""Reusable L3 constructs of Agent Memory Mesh: the memory home's stores, its token vending machines, the
serverless functions around them, and the worker-account side. Import them into any CDK app."""

from importlib.util import find_spec
from typing import Any

if find_spec("aws_cdk") is None or find_spec("constructs") is None:
    raise ModuleNotFoundError(
        "constructs_lib needs aws-cdk-lib and constructs: pip install 'agent-memory-mesh[cdk]'", name="aws_cdk")

from runtime.contract import AgentRef, WorkerRef
from runtime.contract.memory import ACTOR_TAG, ISOLATION_LEVELS, ISOLATION_TENANT, ISOLATION_USER, TENANT_TAG

from .agent_memory import AgentMemory, AgentMemoryBase, IAgentMemory
from .errors import PropsError
from .mesh_state_table import IMeshStateTable, MeshStateTable, MeshStateTableBase
from .nag import NAG_PACKS, acknowledge, acknowledge_inline_policy, acknowledge_wildcard_resources, add_nag_packs
from .orchestration import (
    FunctionOptions,
    FunctionSizing,
    JwtApiOptions,
    MemoryApi,
    MemoryOrchestrator,
    ModelOptions,
    ObservabilityOptions,
    OperatorApi,
)
from .runtime_bundle import RuntimeBundle
from .token_vending_machine import ITokenVendingMachine, TokenVendingMachine, TvmAccess
from .vector_memory_store import IVectorMemoryStore, VectorMemoryStore, VectorMemoryStoreBase
from .worker_access_role import WorkerAccessRole
from .worker_memory_access import WorkerMemoryAccess

__all__ = [
    "ACTOR_TAG", "AgentMemory", "AgentMemoryBase", "AgentRef", "FunctionOptions", "FunctionSizing", "IAgentMemory",
    "IMeshStateTable", "ISOLATION_LEVELS", "ISOLATION_TENANT", "ISOLATION_USER", "ITokenVendingMachine",
    "IVectorMemoryStore", "JwtApiOptions", "MemoryApi", "MemoryOrchestrator", "MeshStateTable", "MeshStateTableBase",
    "ModelOptions", "NAG_PACKS", "ObservabilityOptions", "OperatorApi", "PropsError", "RuntimeBundle", "TENANT_TAG",
    "TokenVendingMachine", "TvmAccess", "VectorMemoryStore", "VectorMemoryStoreBase", "WorkerAccessRole",
    "WorkerMemoryAccess", "WorkerRef", "acknowledge", "acknowledge_inline_policy", "acknowledge_wildcard_resources",
    "add_nag_packs",
]


def __getattr__(name: str) -> Any:
    """``__version__``: the agent-memory-mesh version, read on first use (the same as ``runtime.__version__``)."""
    if name == "__version__":
        from runtime._version import package_version

        globals()[name] = package_version()
        return globals()[name]
    raise AttributeError(f"module 'constructs_lib' has no attribute {name!r}")
