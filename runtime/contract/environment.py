"""The Lambda environment contract: every ``MESH_*`` variable, its default and its rule, written by the constructs
(``to_env``) and read by the handlers and agents (``from_env``).

:class:`MemorySettings` is what any code needs to reach the memory home (functions and agents alike);
:class:`FunctionSettings` adds what only the functions read (tenant claim, agents, queues, state table).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import MISSING, dataclass, fields
from typing import Any

from runtime.contract import memory, rules
from runtime.contract.agents import AgentRef
from runtime.contract.problems import Problems

__all__ = [
    "DEFAULT_TENANT_CLAIM", "ENV", "FunctionSettings", "LOG_LEVELS", "METRICS_NAMESPACE", "MemorySettings",
    "TENANTS_FILE", "WORKERS_FILE",
]

#: The JWT claim that holds the tenant id, unless the deployment names another.
DEFAULT_TENANT_CLAIM = "custom:tenant_id"
DEFAULT_EMBEDDING_MODEL_ID = "amazon.titan-embed-text-v2:0"
DEFAULT_SUMMARY_MODEL_ID = "amazon.nova-lite-v1:0"
DEFAULT_EMBEDDING_DIMENSION = 1024
DEFAULT_RETENTION_DAYS = 90
RETENTION_DAYS_RANGE = (1, 3650)
METRICS_NAMESPACE = "AgentMemoryMesh"
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
#: Where the orchestrator's config layer puts the worker directory (layers are extracted under /opt).
WORKERS_FILE = "/opt/mesh/workers.json"
#: The tenants declared in the deployment config (offboarding refuses them), in the same layer.
TENANTS_FILE = "/opt/mesh/tenants.json"


class ENV:  # noqa: N801 - a namespace of constants
    """Every environment variable of the contract."""

    REGION = "MESH_REGION"
    VECTOR_BUCKET = "MESH_VECTOR_BUCKET"
    INDEX_PREFIX = "MESH_INDEX_PREFIX"
    EMBEDDING_DIMENSION = "MESH_EMBEDDING_DIMENSION"
    DISTANCE_METRIC = "MESH_DISTANCE_METRIC"
    EMBEDDING_MODEL_ID = "MESH_EMBEDDING_MODEL_ID"
    MEMORY_ID = "MESH_MEMORY_ID"
    TVM_ROLE_ARN = "MESH_TVM_ROLE_ARN"
    ISOLATION = "MESH_ISOLATION"
    STATE_TABLE = "MESH_STATE_TABLE"
    SUMMARY_MODEL_ID = "MESH_SUMMARY_MODEL_ID"
    SUMMARY_QUEUE_URL = "MESH_SUMMARY_QUEUE_URL"
    RETENTION_DAYS = "MESH_RETENTION_DAYS"
    CONTENT_MAX_BYTES = "MESH_CONTENT_MAX_BYTES"
    TENANT_CLAIM = "MESH_TENANT_CLAIM"
    SUPERVISOR_AGENT = "MESH_SUPERVISOR_AGENT"
    WORKERS_FILE = "MESH_WORKERS_FILE"
    TENANTS_FILE = "MESH_TENANTS_FILE"
    KMS_KEY_ARN = "MESH_KMS_KEY_ARN"
    LIFECYCLE_QUEUE_URL = "MESH_LIFECYCLE_QUEUE_URL"
    EVENT_QUEUE_URL = "MESH_EVENT_QUEUE_URL"
    LOG_LEVEL = "LOG_LEVEL"
    POWERTOOLS_SERVICE_NAME = "POWERTOOLS_SERVICE_NAME"
    POWERTOOLS_METRICS_NAMESPACE = "POWERTOOLS_METRICS_NAMESPACE"
    POWERTOOLS_LOGGER_LOG_EVENT = "POWERTOOLS_LOGGER_LOG_EVENT"
    #: Region variables Lambda sets; the memory home's Region falls back to them.
    AWS_REGION = "AWS_REGION"
    AWS_DEFAULT_REGION = "AWS_DEFAULT_REGION"


def _text(environ: Mapping[str, str], name: str) -> str | None:
    value = environ.get(name)
    if value is None or not value.strip():
        return None
    return value.strip()


def _number(raw: str | None, default: int) -> Any:
    if raw is None:
        return default
    return int(raw) if raw.isdigit() and len(raw) <= 9 else raw


def _check_memory(values: Mapping[str, Any], problems: Problems, name: Callable[[str], str]) -> None:
    problems.check(rules.REGION, name("region"), values["region"], required=True)
    problems.check(rules.VECTOR_BUCKET_NAME, name("vector_bucket_name"), values["vector_bucket_name"], required=True)
    problems.check(rules.INDEX_PREFIX, name("index_prefix"), values["index_prefix"], required=True)
    dimension_ok = problems.check_range(name("embedding_dimension"), values["embedding_dimension"], 1,
                                        memory.S3VECTORS.MAX_DIMENSION)
    problems.check_choice(name("distance_metric"), values["distance_metric"], memory.DISTANCE_METRICS)
    model_ok = problems.check(rules.MODEL_ID, name("embedding_model_id"), values["embedding_model_id"], required=True)
    if dimension_ok and model_ok and not problems.is_token(values["embedding_model_id"]) \
            and not problems.is_token(values["embedding_dimension"]):
        why = memory.embedding_problem(values["embedding_model_id"], values["embedding_dimension"])
        if why is not None:
            problems.add(name("embedding_dimension"), values["embedding_dimension"], why)
    problems.check(rules.MEMORY_ID, name("memory_id"), values["memory_id"], required=True)
    problems.check(rules.ROLE_ARN, name("tvm_role_arn"), values["tvm_role_arn"], required=True)
    problems.check_choice(name("isolation"), values["isolation"], memory.ISOLATION_LEVELS)
    problems.check(rules.TABLE_NAME, name("state_table_name"), values["state_table_name"])
    problems.check(rules.MODEL_ID, name("summary_model_id"), values["summary_model_id"], required=True)
    problems.check(rules.QUEUE_URL, name("summary_queue_url"), values["summary_queue_url"])
    problems.check_range(name("retention_days"), values["retention_days"], *RETENTION_DAYS_RANGE)
    problems.check_range(name("content_max_bytes"), values["content_max_bytes"], 1, memory.MAX_CONTENT_BYTES)


@dataclass(frozen=True)
class MemorySettings:
    """Everything code needs to reach the memory home: names, model ids, isolation and limits (validated)."""

    region: str
    vector_bucket_name: str
    index_prefix: str
    embedding_dimension: int
    distance_metric: str
    embedding_model_id: str
    memory_id: str
    tvm_role_arn: str
    isolation: str = memory.ISOLATION_USER
    state_table_name: str | None = None
    summary_model_id: str = DEFAULT_SUMMARY_MODEL_ID
    summary_queue_url: str | None = None
    retention_days: int = DEFAULT_RETENTION_DAYS
    content_max_bytes: int = memory.DEFAULT_CONTENT_MAX_BYTES

    #: The variable of each field.
    VARIABLES = {
        "region": ENV.REGION,
        "vector_bucket_name": ENV.VECTOR_BUCKET,
        "index_prefix": ENV.INDEX_PREFIX,
        "embedding_dimension": ENV.EMBEDDING_DIMENSION,
        "distance_metric": ENV.DISTANCE_METRIC,
        "embedding_model_id": ENV.EMBEDDING_MODEL_ID,
        "memory_id": ENV.MEMORY_ID,
        "tvm_role_arn": ENV.TVM_ROLE_ARN,
        "isolation": ENV.ISOLATION,
        "state_table_name": ENV.STATE_TABLE,
        "summary_model_id": ENV.SUMMARY_MODEL_ID,
        "summary_queue_url": ENV.SUMMARY_QUEUE_URL,
        "retention_days": ENV.RETENTION_DAYS,
        "content_max_bytes": ENV.CONTENT_MAX_BYTES,
    }

    def __post_init__(self) -> None:
        from runtime.errors import InvalidInputError

        problems = Problems()
        _check_memory(vars(self), problems, lambda attr: attr)
        problems.raise_if_any(InvalidInputError.from_problems)

    def user_index_name(self, tenant_id: str, actor_id: str) -> str:
        """The S3 Vectors index of one user of one tenant."""
        return memory.user_index_name(self.index_prefix, tenant_id, actor_id)

    def to_env(self) -> dict[str, str]:
        """The variables a function or agent gets (unset optional fields are left out)."""
        return _to_env({f.name: getattr(self, f.name) for f in fields(self)}, self.VARIABLES)

    @classmethod
    def env_for(cls, problems: Problems, **values: Any) -> dict[str, str]:
        """Check ``values`` (deploy-time tokens allowed) into ``problems`` and return the variables."""
        merged = {f.name: f.default for f in fields(cls) if f.default is not MISSING}
        merged.update(values)
        _check_memory(merged, problems, lambda attr: attr)
        return _to_env(merged, cls.VARIABLES)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> MemorySettings:
        """Read the ``MESH_*`` variables; InvalidInputError names every missing or invalid variable.

        The Region falls back to ``AWS_REGION`` (set by Lambda), then ``AWS_DEFAULT_REGION``.
        """
        from runtime.errors import InvalidInputError

        environ = os.environ if environ is None else environ
        region_var = next((v for v in (ENV.REGION, ENV.AWS_REGION, ENV.AWS_DEFAULT_REGION) if _text(environ, v)),
                          ENV.REGION)
        names = {**cls.VARIABLES, "region": region_var}
        values: dict[str, Any] = {
            "region": _text(environ, region_var),
            "vector_bucket_name": _text(environ, ENV.VECTOR_BUCKET),
            "index_prefix": _text(environ, ENV.INDEX_PREFIX),
            "embedding_dimension": _number(_text(environ, ENV.EMBEDDING_DIMENSION), DEFAULT_EMBEDDING_DIMENSION),
            "distance_metric": _text(environ, ENV.DISTANCE_METRIC) or "cosine",
            "embedding_model_id": _text(environ, ENV.EMBEDDING_MODEL_ID) or DEFAULT_EMBEDDING_MODEL_ID,
            "memory_id": _text(environ, ENV.MEMORY_ID),
            "tvm_role_arn": _text(environ, ENV.TVM_ROLE_ARN),
            "isolation": _text(environ, ENV.ISOLATION) or memory.ISOLATION_USER,
            "state_table_name": _text(environ, ENV.STATE_TABLE),
            "summary_model_id": _text(environ, ENV.SUMMARY_MODEL_ID) or DEFAULT_SUMMARY_MODEL_ID,
            "summary_queue_url": _text(environ, ENV.SUMMARY_QUEUE_URL),
            "retention_days": _number(_text(environ, ENV.RETENTION_DAYS), DEFAULT_RETENTION_DAYS),
            "content_max_bytes": _number(_text(environ, ENV.CONTENT_MAX_BYTES), memory.DEFAULT_CONTENT_MAX_BYTES),
        }
        problems = Problems()
        _check_memory(values, problems, lambda attr: names[attr])
        problems.raise_if_any(InvalidInputError.from_problems)
        return cls(**values)


@dataclass(frozen=True)
class FunctionSettings:
    """What only the memory home's functions read, beside :class:`MemorySettings`."""

    tenant_claim: str = DEFAULT_TENANT_CLAIM
    supervisor_agent: AgentRef | None = None
    workers_file: str | None = None
    tenants_file: str | None = None
    kms_key_arn: str | None = None
    lifecycle_queue_url: str | None = None
    event_queue_url: str | None = None

    VARIABLES = {
        "tenant_claim": ENV.TENANT_CLAIM,
        "supervisor_agent": ENV.SUPERVISOR_AGENT,
        "workers_file": ENV.WORKERS_FILE,
        "tenants_file": ENV.TENANTS_FILE,
        "kms_key_arn": ENV.KMS_KEY_ARN,
        "lifecycle_queue_url": ENV.LIFECYCLE_QUEUE_URL,
        "event_queue_url": ENV.EVENT_QUEUE_URL,
    }

    @staticmethod
    def check(values: Mapping[str, Any], problems: Problems, name: Callable[[str], str] = lambda a: a) -> None:
        """Add what is wrong with the checked fields of ``values`` to ``problems``, each named by ``name(field)``."""
        problems.check(rules.CLAIM_NAME, name("tenant_claim"), values.get("tenant_claim"), required=True)
        problems.check(rules.KMS_KEY_ARN, name("kms_key_arn"), values.get("kms_key_arn"))
        problems.check(rules.QUEUE_URL, name("lifecycle_queue_url"), values.get("lifecycle_queue_url"))
        problems.check(rules.QUEUE_URL, name("event_queue_url"), values.get("event_queue_url"))

    @classmethod
    def env_for(cls, problems: Problems, **values: Any) -> dict[str, str]:
        """Check ``values`` (deploy-time tokens allowed) into ``problems`` and return the variables."""
        merged: dict[str, Any] = {"tenant_claim": DEFAULT_TENANT_CLAIM, **values}
        cls.check(merged, problems)
        agent = merged.get("supervisor_agent")
        if isinstance(agent, AgentRef):
            agent.check(problems, "supervisor_agent")
            merged["supervisor_agent"] = agent.to_json()
        # A caller whose agent holds deploy-time tokens passes the JSON text it rendered itself.
        return _to_env(merged, cls.VARIABLES)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> FunctionSettings:
        """Read the function variables; InvalidInputError names every invalid one."""
        from runtime.errors import InvalidInputError

        environ = os.environ if environ is None else environ
        problems = Problems()
        raw_agent = _text(environ, ENV.SUPERVISOR_AGENT)
        agent = AgentRef.read(raw_agent, ENV.SUPERVISOR_AGENT, problems) if raw_agent else None
        values: dict[str, Any] = {
            "tenant_claim": _text(environ, ENV.TENANT_CLAIM) or DEFAULT_TENANT_CLAIM,
            "supervisor_agent": agent,
            "workers_file": _text(environ, ENV.WORKERS_FILE),
            "tenants_file": _text(environ, ENV.TENANTS_FILE),
            "kms_key_arn": _text(environ, ENV.KMS_KEY_ARN),
            "lifecycle_queue_url": _text(environ, ENV.LIFECYCLE_QUEUE_URL),
            "event_queue_url": _text(environ, ENV.EVENT_QUEUE_URL),
        }
        cls.check(values, problems, lambda attr: cls.VARIABLES[attr])
        problems.raise_if_any(InvalidInputError.from_problems)
        return cls(**values)


def _to_env(values: Mapping[str, Any], variables: Mapping[str, str]) -> dict[str, str]:
    import json

    env: dict[str, str] = {}
    for attr, var in variables.items():
        value = values.get(attr)
        if value is None:
            continue
        if isinstance(value, Mapping):
            env[var] = json.dumps(value, separators=(",", ":"), sort_keys=True)
        else:
            env[var] = str(value)
    return env
