"""The typed, validated deployment config that `app.py` reads and the stacks take.

A config is plain JSON: the sample lives in cdk.json (context key ``memoryMesh:sampleConfig``); a real one is
passed with ``-c config=path.json``. `MeshConfig.from_dict` checks every field with the shared contract's rules
and raises one `ConfigError` listing every problem, its value and what is allowed.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from constructs_lib.orchestration.retention_schedule import DEFAULT_RETENTION_SCHEDULE
from runtime.contract import AgentRef, WorkerRef, memory
from runtime.contract.environment import (
    DEFAULT_EMBEDDING_DIMENSION,
    DEFAULT_EMBEDDING_MODEL_ID,
    DEFAULT_RETENTION_DAYS,
    DEFAULT_SUMMARY_MODEL_ID,
    DEFAULT_TENANT_CLAIM,
)
from runtime.contract.problems import Problem, Problems, ProblemsError

__all__ = ["ApiConfig", "ConfigError", "MAX_DECLARED_TENANTS", "MAX_WORKERS", "MemoryConfig", "MeshConfig",
           "OperationsConfig", "SupervisorConfig", "WorkerConfig", "derived_external_id"]

#: At most this many tenants can be declared: a mesh's vector bucket holds at most 10,000 indexes (one per user,
#: an S3 Vectors quota), so a config cannot usefully name more tenants than that.
MAX_DECLARED_TENANTS = memory.S3VECTORS.INDEXES_PER_BUCKET
#: The orchestrator's IAM policy names every worker access role (IAM: 10,240 characters of inline policy per role).
MAX_WORKERS = 100
#: Bedrock Agents keep session summaries 0-365 days (MemoryConfiguration.storageDays; 0: memory off).
AGENT_MEMORY_DAYS_RANGE = (0, 365)


class _Line(Problem):
    """A problem given as a finished line (callers that build the message themselves)."""

    def __str__(self) -> str:
        return self.field


class ConfigError(ProblemsError):
    """The deployment config is invalid; the message lists every problem."""

    def __init__(self, problems: Problems | Sequence[Problem | str]) -> None:
        items = [_Line(p, "", "") if isinstance(p, str) else p for p in problems]
        body = "\n".join(f"  - {p}" for p in items)
        super().__init__(f"Invalid deployment config ({len(items)} problem(s)):\n{body}", items)


@dataclass(frozen=True)
class SupervisorConfig:
    """The memory home: the account and Region of the supervisor stack, and its supervisor agent."""

    account: str
    region: str
    agent: AgentRef
    #: A Bedrock Agent's session-summary memory (storageDays); None for an AgentCore Runtime.
    agent_memory_days: int | None = None


@dataclass(frozen=True)
class WorkerConfig:
    """One worker account: its agent, the tenants whose conversations it may take, and its memory access."""

    name: str
    account: str
    region: str
    agent: AgentRef
    allowed_tenants: tuple[str, ...]
    external_id: str | None = None
    #: The worker agent's own role, which may vend that worker's tenants' memory from the worker TVM.
    agent_role_name: str | None = None
    #: Create ``agent_role_name`` in the worker stack (trusted by AgentCore Runtime) instead of using an existing one.
    create_agent_role: bool = False
    #: Legacy form of ``agent_role_name``: the full role ARN (in the worker's account).
    tvm_principal_arn: str | None = None
    agent_memory_days: int | None = None

    def agent_role_arn(self, partition: str = "aws") -> str | None:
        """The worker agent role the worker TVM trusts, or None when the worker has no direct memory access."""
        if self.tvm_principal_arn:
            return self.tvm_principal_arn
        if self.agent_role_name:
            return f"arn:{partition}:iam::{self.account}:role/{self.agent_role_name}"
        return None


@dataclass(frozen=True)
class MemoryConfig:
    """How memories are kept: isolation level, retention, embeddings, index names, key and summary model."""

    isolation: str = memory.ISOLATION_USER
    retention_days: int = DEFAULT_RETENTION_DAYS
    embedding_dimension: int = DEFAULT_EMBEDDING_DIMENSION
    distance_metric: str = "cosine"
    index_prefix: str = "tenant-"
    kms_key_arn: str | None = None
    embedding_model_id: str = DEFAULT_EMBEDDING_MODEL_ID
    summary_model_id: str = DEFAULT_SUMMARY_MODEL_ID


@dataclass(frozen=True)
class ApiConfig:
    """JWT settings of the HTTP API (issuer and audiences of any OIDC provider, e.g. a Cognito user pool)."""

    jwt_issuer: str
    jwt_audience: tuple[str, ...]
    tenant_claim: str = DEFAULT_TENANT_CLAIM


@dataclass(frozen=True)
class OperationsConfig:
    """Who hears about alarms, and when the retention sweep runs."""

    alarm_email: str | None = None
    retention_schedule: str = DEFAULT_RETENTION_SCHEDULE


@dataclass(frozen=True)
class MeshConfig:
    """Everything `app.py` needs to build the supervisor stack and one stack per worker."""

    mesh_name: str
    supervisor: SupervisorConfig
    workers: tuple[WorkerConfig, ...]
    tenants: tuple[str, ...]
    memory: MemoryConfig = field(default_factory=MemoryConfig)
    organization_id: str | None = None
    api: ApiConfig | None = None
    operations: OperationsConfig = field(default_factory=OperationsConfig)
    #: Accepted but worth a look (synth warnings): e.g. an agent keeping memories longer than the retention.
    warnings: tuple[str, ...] = ()

    # Names peers must know are derived from the config, so the stacks deploy in any order without exports.
    @property
    def role_name_prefix(self) -> str:
        """Function roles are ``<mesh_name>-<function>`` (``-orchestrator``, ``-summarizer``, ``-lifecycle``...)."""
        return self.mesh_name

    @property
    def orchestrator_role_name(self) -> str:
        """The orchestrator function's role, which assumes the worker access roles."""
        return f"{self.mesh_name}-orchestrator"

    @property
    def tvm_role_name(self) -> str:
        """The memory home's token vending machine (its own functions' sessions)."""
        return f"{self.mesh_name}-tvm"

    @property
    def worker_tvm_role_name(self) -> str:
        """The token vending machine that worker agents' own roles assume for direct memory access."""
        return f"{self.mesh_name}-tvm-external"

    def orchestrator_role_arn(self, partition: str = "aws") -> str:
        """ARN of `orchestrator_role_name` in the supervisor's account."""
        return f"arn:{partition}:iam::{self.supervisor.account}:role/{self.orchestrator_role_name}"

    def worker_tvm_role_arn(self, partition: str = "aws") -> str:
        """ARN of `worker_tvm_role_name` in the supervisor's account."""
        return f"arn:{partition}:iam::{self.supervisor.account}:role/{self.worker_tvm_role_name}"

    def worker_role_name(self, worker: WorkerConfig) -> str:
        """The worker access role in ``worker``'s account, which the orchestrator assumes."""
        return f"{self.mesh_name}-worker-{worker.name}"

    def worker_role_arn(self, worker: WorkerConfig, partition: str = "aws") -> str:
        """ARN of `worker_role_name` in ``worker``'s account."""
        return f"arn:{partition}:iam::{worker.account}:role/{self.worker_role_name(worker)}"

    def worker_external_id(self, worker: WorkerConfig, *, secret: str | None) -> str:
        """The configured external id, else one derived from the deploy-time ``secret``; neither is a ConfigError."""
        if worker.external_id:
            return worker.external_id
        if secret:
            return derived_external_id(secret, self.mesh_name, worker)
        index = self.workers.index(worker)
        problems = Problems()
        problems.add(f"workers[{index}].external_id", None,
                     "is required when no deploy-time secret is given: set it, or set MESH_EXTERNAL_ID_SECRET (or "
                     "-c memoryMesh:externalIdSecret=...) to derive one per worker")
        raise ConfigError(problems)

    def worker_refs(self, *, secret: str | None, partition: str = "aws") -> list[WorkerRef]:
        """The workers file the orchestrator reads (role ARNs and external ids derived from this config)."""
        return [WorkerRef(name=w.name, role_arn=self.worker_role_arn(w, partition),
                          external_id=self.worker_external_id(w, secret=secret), region=w.region, agent=w.agent,
                          allowed_tenants=w.allowed_tenants) for w in self.workers]

    def worker(self, name: str) -> WorkerConfig:
        """The worker called ``name``; KeyError when there is none."""
        for w in self.workers:
            if w.name == name:
                return w
        raise KeyError(name)

    # ---- loading ---------------------------------------------------------------------------------------------

    @classmethod
    def from_file(cls, path: str | Path) -> MeshConfig:
        """Read and validate a JSON config file; a missing, unreadable or invalid file is a `ConfigError`."""
        p = Path(path)
        problems = Problems()
        try:
            raw = json.loads(p.read_text(encoding="utf-8"))
        except FileNotFoundError:
            problems.add("config", str(path), "must name an existing file")
            raise ConfigError(problems) from None
        except json.JSONDecodeError as exc:
            problems.add("config", str(path), f"must be valid JSON ({exc.msg} at line {exc.lineno})")
            raise ConfigError(problems) from None
        except (OSError, UnicodeDecodeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else type(exc).__name__
            problems.add("config", str(path), f"must be readable as UTF-8 JSON ({reason})")
            raise ConfigError(problems) from None
        return cls.from_dict(raw)

    @classmethod
    def from_dict(cls, raw: Any) -> MeshConfig:
        """Validate parsed JSON; `ConfigError` lists every problem at once."""
        from .config_reader import read_config

        return read_config(raw)


def derived_external_id(secret: str, mesh_name: str, worker: WorkerConfig) -> str:
    """HMAC-SHA256 of the worker's identity under the deploy-time secret: stable, per worker, not guessable."""
    message = f"{mesh_name}\0{worker.name}\0{worker.account}".encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()

