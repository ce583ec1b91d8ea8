"""The worker registry: ``MESH_WORKERS_FILE`` (a JSON list shipped in the config layer), loaded once per container.

Each entry is ``{"name", "role_arn", "external_id", "region", "agent": {...}, "allowed_tenants": [...]}``, the
``agent`` in the shape of ``MESH_SUPERVISOR_AGENT``. The file lives in a layer because a hundred workers do
not fit Lambda's 4 KB of environment variables. A missing file means no workers; an invalid one fails every
delegation with a 500 whose details go to the log only.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Mapping
from typing import Any

from runtime.contract import rules
from runtime.contract.agents import WorkerRef
from runtime.contract.environment import ENV, WORKERS_FILE
from runtime.contract.problems import Problems
from runtime.errors import AccessDeniedError, InvalidInputError, MemoryMeshError, NotFoundError

__all__ = [
    "DEFAULT_WORKERS_FILE",
    "WorkerRegistry",
    "WorkerSpec",
    "WorkersFileError",
    "load_workers",
    "validate_worker_name",
]

DEFAULT_WORKERS_FILE = WORKERS_FILE
#: A worker of the registry: the contract's worker reference.
WorkerSpec = WorkerRef


class WorkersFileError(MemoryMeshError):
    """The workers file is unreadable or invalid (an operator error: callers get a generic 500)."""


def validate_worker_name(value: Any, *, field: str = "worker") -> str:
    """Return ``value`` if it is a valid worker name."""
    if not rules.WORKER_NAME.matches(value):
        shown = value if isinstance(value, str) else f"<{type(value).__name__}>"
        raise InvalidInputError(field, shown, f"must be a worker name: {rules.WORKER_NAME.sentence}")
    return str(value)


class WorkerRegistry:
    """The configured workers by name."""

    def __init__(self, workers: Mapping[str, WorkerSpec]) -> None:
        self._workers = dict(workers)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(sorted(self._workers))

    def __len__(self) -> int:
        return len(self._workers)

    def get(self, name: str) -> WorkerSpec:
        """The worker called ``name``; NotFoundError (404) when none is configured."""
        worker = self._workers.get(name)
        if worker is None:
            raise NotFoundError(f"worker={name!r} is not configured in this mesh")
        return worker

    def for_tenant(self, name: str, tenant_id: str) -> WorkerSpec:
        """The worker, if it may serve ``tenant_id``; AccessDeniedError (403) when it may not."""
        worker = self.get(name)
        if not worker.allows(tenant_id):
            raise AccessDeniedError(f"worker={name!r} is not allowed to serve tenant_id={tenant_id!r}")
        return worker

    @classmethod
    def parse(cls, raw: Any, *, source: str = "workers file") -> WorkerRegistry:
        """Validate a decoded workers file; WorkersFileError lists every problem."""
        if not isinstance(raw, list):
            raise WorkersFileError(f"{source}: must be a JSON list of workers, got {type(raw).__name__}")
        problems = Problems()
        workers: dict[str, WorkerRef] = {}
        for index, entry in enumerate(raw):
            where = f"{source}[{index}]"
            worker = WorkerRef.read(entry, where, problems)
            if worker is None:
                continue
            if worker.name in workers:
                problems.add(f"{where}.name", worker.name, "must be unique among the workers")
                continue
            workers[worker.name] = worker
        if problems:
            raise WorkersFileError(f"{source} has {len(problems)} problem(s): " + "; ".join(problems.lines))
        return cls(workers)


_cache_lock = threading.Lock()
_cache: dict[str, WorkerRegistry] = {}


def load_workers(path: str | None = None) -> WorkerRegistry:
    """The registry in ``path`` (default ``MESH_WORKERS_FILE``, then /opt/mesh/workers.json), read and validated
    once per container; a missing file is an empty registry."""
    path = path or os.environ.get(ENV.WORKERS_FILE) or DEFAULT_WORKERS_FILE
    with _cache_lock:
        cached = _cache.get(path)
    if cached is not None:
        return cached
    try:
        with open(path, encoding="utf-8") as handle:
            raw = json.load(handle)
    except FileNotFoundError:
        return WorkerRegistry({})
    except (OSError, ValueError) as error:
        raise WorkersFileError(f"workers file {path!r} is not readable JSON ({type(error).__name__})") from None
    registry = WorkerRegistry.parse(raw, source=path)
    with _cache_lock:
        _cache[path] = registry
    return registry
