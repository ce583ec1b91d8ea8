"""The worker registry: ``MESH_WORKERS_FILE`` (a JSON list shipped in the config layer), loaded once per container.

Each entry is ``{"name", "role_arn", "external_id", "region", "agent": {...}, "allowed_tenants": [...]}``, the
``agent`` in the shape of ``MESH_SUPERVISOR_AGENT``. The file lives in a layer because a hundred workers do
not fit Lambda's 4 KB of environment variables. A missing file means no workers; an invalid one fails every
delegation with a 500 whose details go to the log only.
"""

from __future__ import annotations

import json
import os
import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from runtime.errors import AccessDeniedError, InvalidInputError, MemoryMeshError, NotFoundError
from runtime.handlers._agents import AgentRef
from runtime.identity import validate_agent_name, validate_tenant_id
from runtime.settings import validate_region, validate_role_arn

__all__ = [
    "DEFAULT_WORKERS_FILE",
    "WorkerRegistry",
    "WorkerSpec",
    "WorkersFileError",
    "load_workers",
    "validate_worker_name",
]

DEFAULT_WORKERS_FILE = "/opt/mesh/workers.json"
#: Worker names as the deployment config allows them (constructs_lib.naming.WORKER_NAME_PATTERN).
_WORKER_NAME_RE = re.compile(r"[a-z][a-z0-9-]{0,23}")
_WORKER_NAME_RULE = "1-24 characters of lowercase letters, digits and '-', starting with a letter"
# sts:AssumeRole ExternalId: 2-1224 characters of [\w+=,.@:/-].
_EXTERNAL_ID_RE = re.compile(r"[\w+=,.@:/-]{2,1224}")
_FIELDS = ("name", "role_arn", "external_id", "region", "agent", "allowed_tenants")


class WorkersFileError(MemoryMeshError):
    """The workers file is unreadable or invalid (an operator error: callers get a generic 500)."""


@dataclass(frozen=True)
class WorkerSpec:
    """One worker: its access role (with external id), Region, agent and the tenants it may serve."""

    name: str
    role_arn: str
    external_id: str
    region: str
    agent: AgentRef
    allowed_tenants: frozenset[str]

    def allows(self, tenant_id: str) -> bool:
        return tenant_id in self.allowed_tenants


def validate_worker_name(value: Any, *, field: str = "worker") -> str:
    """Return ``value`` if it is a valid worker name."""
    if not isinstance(value, str) or not _WORKER_NAME_RE.fullmatch(value):
        shown = value if isinstance(value, str) else f"<{type(value).__name__}>"
        raise InvalidInputError(field, shown, f"must be a worker name: {_WORKER_NAME_RULE}")
    return validate_agent_name(value, field=field)


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
        problems: list[str] = []
        workers: dict[str, WorkerSpec] = {}
        for index, entry in enumerate(raw):
            where = f"{source}[{index}]"
            try:
                worker = _parse_worker(entry, where)
            except InvalidInputError as error:
                problems.append(error.message)
                continue
            if worker.name in workers:
                problems.append(f"{where}.name={worker.name!r} is invalid: names must be unique")
                continue
            workers[worker.name] = worker
        if problems:
            raise WorkersFileError(f"{source} has {len(problems)} problem(s): " + "; ".join(problems))
        return cls(workers)


def _parse_worker(entry: Any, where: str) -> WorkerSpec:
    if not isinstance(entry, Mapping):
        raise InvalidInputError(where, f"<{type(entry).__name__}>", "must be an object")
    unknown = sorted(str(key) for key in entry if key not in _FIELDS)
    if unknown:
        raise InvalidInputError(f"{where}.{unknown[0]}", "<present>", f"is not a worker field; fields are {_FIELDS}")
    name = validate_worker_name(entry.get("name"), field=f"{where}.name")
    external_id = entry.get("external_id")
    if not isinstance(external_id, str) or not _EXTERNAL_ID_RE.fullmatch(external_id):
        raise InvalidInputError(f"{where}.external_id", "<redacted>", "must be 2-1224 characters of [\\w+=,.@:/-]")
    tenants = entry.get("allowed_tenants")
    if not isinstance(tenants, list):
        shown = f"<{type(tenants).__name__}>"
        raise InvalidInputError(f"{where}.allowed_tenants", shown, "must be a list of tenant ids")
    return WorkerSpec(
        name=name,
        role_arn=validate_role_arn(entry.get("role_arn"), field=f"{where}.role_arn"),
        external_id=external_id,
        region=validate_region(entry.get("region"), field=f"{where}.region"),
        agent=AgentRef.parse(entry.get("agent"), field=f"{where}.agent"),
        allowed_tenants=frozenset(
            validate_tenant_id(tenant, field=f"{where}.allowed_tenants[{i}]") for i, tenant in enumerate(tenants)
        ),
    )


_cache_lock = threading.Lock()
_cache: dict[str, WorkerRegistry] = {}


def load_workers(path: str | None = None) -> WorkerRegistry:
    """The registry in ``path`` (default ``MESH_WORKERS_FILE``, then /opt/mesh/workers.json), read and validated
    once per container; a missing file is an empty registry."""
    path = path or os.environ.get("MESH_WORKERS_FILE") or DEFAULT_WORKERS_FILE
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
