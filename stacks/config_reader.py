"""Reads a raw deployment config into a `MeshConfig`, collecting every problem instead of stopping at the first."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from runtime.contract import AGENTCORE_RUNTIME, BEDROCK_AGENT, AgentRef, memory, rules
from runtime.contract.environment import RETENTION_DAYS_RANGE
from runtime.contract.problems import Problems

from .config import (
    AGENT_MEMORY_DAYS_RANGE,
    MAX_DECLARED_TENANTS,
    MAX_WORKERS,
    ApiConfig,
    ConfigError,
    MemoryConfig,
    MeshConfig,
    OperationsConfig,
    SupervisorConfig,
    WorkerConfig,
)

__all__ = ["read_config"]

_FIELDS = {
    "": ("mesh_name", "supervisor", "workers", "tenants", "memory", "organization_id", "api", "operations"),
    "supervisor": ("account", "region", "agent"),
    "workers[]": ("name", "account", "region", "agent", "allowed_tenants", "external_id", "agent_role_name",
                  "create_agent_role", "tvm_principal_arn"),
    "memory": ("isolation", "retention_days", "embedding_dimension", "distance_metric", "index_prefix",
               "kms_key_arn", "embedding_model_id", "summary_model_id"),
    "api": ("jwt_issuer", "jwt_audience", "tenant_claim"),
    "operations": ("alarm_email", "retention_schedule"),
}


def read_config(raw: Any) -> MeshConfig:
    """Check every field; raise one `ConfigError` naming each problem, else return the typed config."""
    reader = _Reader()
    config = reader.read(raw)
    if reader.problems or config is None:
        raise ConfigError(reader.problems)
    return config


class _Reader:
    def __init__(self) -> None:
        self.problems = Problems()
        self.warnings: list[str] = []
        self.mesh_name = "memory-mesh"

    def obj(self, value: Any, field: str, kind: str) -> Mapping[str, Any]:
        if value is None:
            return {}
        if not isinstance(value, Mapping):
            self.problems.add(field or "config", value, "must be an object")
            return {}
        for key in value:
            if key not in _FIELDS[kind]:
                self.problems.add(f"{field}.{key}" if field else str(key), value[key],
                                  f"is not a field here; fields are {', '.join(_FIELDS[kind])}")
        return value

    def text(self, obj: Mapping[str, Any], key: str, field: str, rule: rules.Rule, *, default: str | None = None,
             required: bool = False, redact: bool = False) -> str | None:
        value = obj.get(key, default)
        ok = self.problems.check(rule, field, value, required=required, redact=redact)
        return value if ok else None

    def number(self, obj: Mapping[str, Any], key: str, field: str, low: int, high: int, default: int) -> int:
        value = obj.get(key, default)
        return value if self.problems.check_range(field, value, low, high) else default

    # -- sections ---------------------------------------------------------------------------------------------

    def read(self, raw: Any) -> MeshConfig | None:
        root = self.obj(raw, "", "")
        mesh_name = self.text(root, "mesh_name", "mesh_name", rules.MESH_NAME, default="memory-mesh", required=True)
        self.mesh_name = mesh_name or self.mesh_name
        mem = self.memory(root.get("memory"))
        supervisor = self.supervisor(root.get("supervisor"), mem)
        tenants = self.tenants(root.get("tenants", []), mem.index_prefix)
        workers = self.workers(root.get("workers"), supervisor, mem)
        organization_id = self.text(root, "organization_id", "organization_id", rules.ORG_ID)
        api = self.api(root.get("api"))
        operations = self.operations(root.get("operations"))
        if self.problems or mesh_name is None or supervisor is None:
            return None
        return MeshConfig(mesh_name=mesh_name, supervisor=supervisor, workers=tuple(workers), tenants=tuple(tenants),
                          memory=mem, organization_id=organization_id, api=api, operations=operations,
                          warnings=tuple(self.warnings))

    def memory(self, raw: Any) -> MemoryConfig:
        obj = self.obj(raw, "memory", "memory")
        defaults = MemoryConfig()
        isolation = obj.get("isolation", defaults.isolation)
        self.problems.check_choice("memory.isolation", isolation, memory.ISOLATION_LEVELS)
        metric = obj.get("distance_metric", defaults.distance_metric)
        self.problems.check_choice("memory.distance_metric", metric, memory.DISTANCE_METRICS)
        config = MemoryConfig(
            isolation=isolation if isolation in memory.ISOLATION_LEVELS else defaults.isolation,
            retention_days=self.number(obj, "retention_days", "memory.retention_days", *RETENTION_DAYS_RANGE,
                                       defaults.retention_days),
            embedding_dimension=self.number(obj, "embedding_dimension", "memory.embedding_dimension", 1,
                                            memory.S3VECTORS.MAX_DIMENSION, defaults.embedding_dimension),
            distance_metric=metric if metric in memory.DISTANCE_METRICS else defaults.distance_metric,
            index_prefix=self.text(obj, "index_prefix", "memory.index_prefix", rules.INDEX_PREFIX,
                                   default=defaults.index_prefix) or defaults.index_prefix,
            kms_key_arn=self.text(obj, "kms_key_arn", "memory.kms_key_arn", rules.KMS_KEY_ARN),
            embedding_model_id=self.text(obj, "embedding_model_id", "memory.embedding_model_id", rules.MODEL_ID,
                                         default=defaults.embedding_model_id) or defaults.embedding_model_id,
            summary_model_id=self.text(obj, "summary_model_id", "memory.summary_model_id", rules.MODEL_ID,
                                       default=defaults.summary_model_id) or defaults.summary_model_id,
        )
        if "embedding_dimension" in obj or "embedding_model_id" in obj:
            why = memory.embedding_problem(config.embedding_model_id, config.embedding_dimension)
            if why is not None:
                field = "memory.embedding_model_id" if why.startswith("must") else "memory.embedding_dimension"
                value = config.embedding_model_id if why.startswith("must") else config.embedding_dimension
                self.problems.add(field, value, why)
        return config

    def agent(self, raw: Any, field: str, account: str | None, region: str | None,
              retention_days: int) -> tuple[AgentRef | None, int | None]:
        """An agent object, with the ``memory_days`` a Bedrock Agent must state."""
        if raw is None:
            self.problems.add(field, None, "is required: a bedrock-agent or agentcore-runtime agent object")
            return None, None
        if not isinstance(raw, Mapping):
            self.problems.add(field, raw, "must be an object with a 'type'")
            return None, None
        days: Any = raw.get("memory_days")
        agent = AgentRef.read({k: v for k, v in raw.items() if k != "memory_days"}, field, self.problems)
        if agent is None:
            return None, None
        if agent.kind == BEDROCK_AGENT:
            if self.problems.check_range(f"{field}.memory_days", days, *AGENT_MEMORY_DAYS_RANGE, unit=" days") \
                    and days > retention_days:
                self.warnings.append(
                    f"{field}.memory_days={days} exceeds memory.retention_days={retention_days}: the Bedrock Agent "
                    f"keeps session summaries longer than the mesh keeps memories; set its memory storageDays to at "
                    f"most {retention_days} (forget-me still erases them)")
        elif days is not None:
            self.problems.add(f"{field}.memory_days", days, f"is not a field of an {AGENTCORE_RUNTIME} agent (its "
                                                            "memory is the mesh's AgentCore Memory)")
        if agent.runtime_arn and account and region:
            if agent.account(account) != account:
                self.problems.add(f"{field}.runtime_arn", agent.runtime_arn, f"must be in the account {account} of "
                                                                             "its stack")
            elif agent.region(region) != region:
                self.problems.add(f"{field}.runtime_arn", agent.runtime_arn, f"must be in the Region {region} of "
                                                                             "its stack")
        return agent, days if agent.kind == BEDROCK_AGENT else None

    def supervisor(self, raw: Any, mem: MemoryConfig) -> SupervisorConfig | None:
        if raw is None:
            self.problems.add("supervisor", None, "is required: an object with account, region and agent")
            return None
        obj = self.obj(raw, "supervisor", "supervisor")
        if not isinstance(raw, Mapping):
            return None
        account = self.text(obj, "account", "supervisor.account", rules.ACCOUNT_ID, required=True)
        region = self.text(obj, "region", "supervisor.region", rules.REGION, required=True)
        agent, days = self.agent(obj.get("agent"), "supervisor.agent", account, region, mem.retention_days)
        if mem.kms_key_arn and account and region:
            found = rules.KMS_KEY_ARN.match(mem.kms_key_arn)
            if found and (found["account"], found["region"]) != (account, region):
                self.problems.add("memory.kms_key_arn", mem.kms_key_arn,
                                  f"must be a key of the supervisor's account and Region ({account}, {region})")
        if account is None or region is None or agent is None:
            return None
        return SupervisorConfig(account=account, region=region, agent=agent, agent_memory_days=days)

    def tenants(self, raw: Any, index_prefix: str) -> list[str]:
        if not isinstance(raw, list):
            self.problems.add("tenants", raw, "must be a list of tenant ids")
            return []
        if len(raw) > MAX_DECLARED_TENANTS:
            self.problems.add("tenants", f"<{len(raw)} tenants>", f"must declare at most {MAX_DECLARED_TENANTS} "
                              "tenants (a mesh bucket holds at most 10,000 user indexes)")
            return []
        tenants: list[str] = []
        for i, tenant in enumerate(raw):
            if self.tenant(tenant, f"tenants[{i}]", index_prefix):
                if tenant in tenants:
                    self.problems.add(f"tenants[{i}]", tenant, "must be declared once")
                else:
                    tenants.append(tenant)
        return tenants

    def tenant(self, value: Any, field: str, index_prefix: str) -> bool:
        if not self.problems.check(rules.TENANT_ID, field, value, required=True):
            return False
        why = memory.index_name_problem(index_prefix, value)
        if why is not None:
            self.problems.add(field, value, why)
            return False
        return True

    def workers(self, raw: Any, supervisor: SupervisorConfig | None, mem: MemoryConfig) -> list[WorkerConfig]:
        if not isinstance(raw, list) or not raw:
            self.problems.add("workers", raw, "must be a non-empty list of worker objects")
            return []
        if len(raw) > MAX_WORKERS:
            self.problems.add("workers", f"<{len(raw)} workers>", f"must list at most {MAX_WORKERS} workers (the "
                              "orchestrator's IAM policy names each worker role)")
            return []
        workers: list[WorkerConfig] = []
        for i, item in enumerate(raw):
            worker = self.worker(item, f"workers[{i}]", supervisor, mem)
            if worker is not None:
                if any(w.name == worker.name for w in workers):
                    self.problems.add(f"workers[{i}].name", worker.name, "must be unique among the workers")
                workers.append(worker)
        return workers

    def worker(self, raw: Any, field: str, supervisor: SupervisorConfig | None,
               mem: MemoryConfig) -> WorkerConfig | None:
        obj = self.obj(raw, field, "workers[]")
        if not obj:
            return None
        name = self.text(obj, "name", f"{field}.name", rules.WORKER_NAME, required=True)
        account = self.text(obj, "account", f"{field}.account", rules.ACCOUNT_ID, required=True)
        region = self.text(obj, "region", f"{field}.region", rules.REGION, required=True)
        if account and supervisor and account == supervisor.account:
            self.problems.add(f"{field}.account", account, "must be another account than the supervisor's")
        agent, days = self.agent(obj.get("agent"), f"{field}.agent", account, region, mem.retention_days)
        allowed = obj.get("allowed_tenants")
        if not isinstance(allowed, list) or not allowed:
            self.problems.add(f"{field}.allowed_tenants", allowed, "must be a non-empty list of tenant ids")
            allowed = []
        tenants = [t for j, t in enumerate(allowed)
                   if self.tenant(t, f"{field}.allowed_tenants[{j}]", mem.index_prefix)]
        external_id = self.text(obj, "external_id", f"{field}.external_id", rules.EXTERNAL_ID, redact=True)
        role_name = self.text(obj, "agent_role_name", f"{field}.agent_role_name", rules.ROLE_NAME)
        principal = self.text(obj, "tvm_principal_arn", f"{field}.tvm_principal_arn", rules.ROLE_ARN)
        create = obj.get("create_agent_role", False)
        if not isinstance(create, bool):
            self.problems.add(f"{field}.create_agent_role", create, "must be true or false")
            create = False
        if principal and account and principal.split(":")[4] != account:
            self.problems.add(f"{field}.tvm_principal_arn", principal,
                              f"must be a role of the worker's account {account}")
        if principal and (role_name or create):
            self.problems.add(f"{field}.tvm_principal_arn", principal, "must be omitted with agent_role_name or "
                                                                       "create_agent_role (it is their legacy form)")
        if create and not role_name and name:
            role_name = f"{self.mesh_name}-{name}-agent"
        if not (name and account and region and agent):
            return None
        return WorkerConfig(name=name, account=account, region=region, agent=agent,
                            allowed_tenants=tuple(dict.fromkeys(tenants)), external_id=external_id,
                            agent_role_name=role_name, create_agent_role=create, tvm_principal_arn=principal,
                            agent_memory_days=days)

    def api(self, raw: Any) -> ApiConfig | None:
        if raw is None:
            return None
        obj = self.obj(raw, "api", "api")
        issuer = self.text(obj, "jwt_issuer", "api.jwt_issuer", rules.HTTPS_URL, required=True)
        audience = obj.get("jwt_audience")
        if not isinstance(audience, list) or not audience or not all(isinstance(a, str) and a for a in audience):
            self.problems.add("api.jwt_audience", audience, "must be a non-empty list of client ids / audiences")
            audience = []
        claim = self.text(obj, "tenant_claim", "api.tenant_claim", rules.CLAIM_NAME,
                          default=ApiConfig.tenant_claim, required=True)
        if not (issuer and audience and claim):
            return None
        return ApiConfig(jwt_issuer=issuer, jwt_audience=tuple(audience), tenant_claim=claim)

    def operations(self, raw: Any) -> OperationsConfig:
        obj = self.obj(raw, "operations", "operations")
        return OperationsConfig(
            alarm_email=self.text(obj, "alarm_email", "operations.alarm_email", rules.EMAIL),
            retention_schedule=self.text(obj, "retention_schedule", "operations.retention_schedule", rules.SCHEDULE,
                                         default=OperationsConfig.retention_schedule)
            or OperationsConfig.retention_schedule)
