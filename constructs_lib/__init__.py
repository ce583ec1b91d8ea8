"""Reusable L3 constructs of Agent Memory Mesh: import them into any CDK app."""

from importlib.util import find_spec
from typing import Any

if find_spec("aws_cdk") is None or find_spec("constructs") is None:
    raise ModuleNotFoundError(
        "constructs_lib needs aws-cdk-lib and constructs: pip install 'agent-memory-mesh[cdk]'", name="aws_cdk")

from .agent_memory import (
    FACTS_NAMESPACE,
    PREFERENCES_NAMESPACE,
    SUMMARY_NAMESPACE,
    AgentMemory,
    tenant_actor_pattern,
)
from .agent_targets import AgentTarget, WorkerTarget
from .memory_api import JwtApiOptions, MemoryApi
from .memory_orchestrator import FunctionOptions, FunctionSizing, MemoryOrchestrator
from .nag import NAG_PACKS, add_nag_packs
from .naming import ACTOR_TAG, TENANT_TAG
from .runtime_bundle import RuntimeBundle
from .token_vending_machine import TokenVendingMachine
from .validation import PropsError
from .vector_memory_store import FILTERABLE_METADATA_KEYS, IVectorMemoryStore, VectorMemoryStore
from .worker_access_role import WorkerAccessRole

__all__ = [
    "ACTOR_TAG",
    "AgentMemory",
    "AgentTarget",
    "FACTS_NAMESPACE",
    "FILTERABLE_METADATA_KEYS",
    "FunctionOptions",
    "FunctionSizing",
    "IVectorMemoryStore",
    "JwtApiOptions",
    "MemoryApi",
    "MemoryOrchestrator",
    "NAG_PACKS",
    "PREFERENCES_NAMESPACE",
    "PropsError",
    "RuntimeBundle",
    "SUMMARY_NAMESPACE",
    "TENANT_TAG",
    "TokenVendingMachine",
    "VectorMemoryStore",
    "WorkerAccessRole",
    "WorkerTarget",
    "add_nag_packs",
    "tenant_actor_pattern",
]


def __getattr__(name: str) -> Any:
    """``__version__``: the agent-memory-mesh version, read on first use (the same as ``runtime.__version__``)."""
    if name == "__version__":
        from runtime._version import package_version

        globals()[name] = package_version()
        return globals()[name]
    raise AttributeError(f"module 'constructs_lib' has no attribute {name!r}")
