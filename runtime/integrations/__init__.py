"""Agent-framework integrations of the memory runtime (Strands Agents).

Names are imported lazily, so ``runtime.integrations.scope`` and ``runtime.integrations.session_end``
stay importable without Strands installed (the summarizer Lambda never loads Strands).
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_EXPORTS = {
    "MEMORY_IDENTITY_KEY": "runtime.integrations.scope",
    "RECENT_TURNS_KEY": "runtime.integrations.scope",
    "END_SESSION_KEY": "runtime.integrations.scope",
    "MemoryScope": "runtime.integrations.scope",
    "memory_request": "runtime.integrations.scope",
    "scope_from_invocation_state": "runtime.integrations.scope",
    "DirectSummaryHandoff": "runtime.integrations.session_end",
    "InMemoryTurnLog": "runtime.integrations.session_end",
    "QueueSummaryHandoff": "runtime.integrations.session_end",
    "SummaryHandoff": "runtime.integrations.session_end",
    "TurnRecorder": "runtime.integrations.session_end",
    "AgentCoreStrandsStore": "runtime.integrations.strands_memory",
    "MeshMemory": "runtime.integrations.strands_memory",
    "MeshMemoryPlugin": "runtime.integrations.strands_memory",
    "MeshMemoryEditTools": "runtime.integrations.strands_memory",
    "MeshSessionManager": "runtime.integrations.session_manager",
    "WorkerMemory": "runtime.integrations.worker",
    "WorkerTurn": "runtime.integrations.worker",
    "S3VectorsStrandsStore": "runtime.integrations.strands_memory",
    "render_memory_entries": "runtime.integrations.strands_memory",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'runtime.integrations' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
