"""The typed, validated deployment config that `app.py` reads and the stacks take.

A config is plain JSON: the sample lives in cdk.json (context key `memoryMesh:sampleConfig`); a real one is
passed with `-c config=path.json`. `MeshConfig.from_dict` checks every field and
raises one `ConfigError` listing every problem, its value and what is allowed, so a bad config fails synth
with a single readable message.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from constructs_lib.naming import (
    INDEX_PREFIX_PATTERN,
    MAX_INDEX_NAME_LENGTH,
    TENANT_ID_MAX,
    TENANT_ID_MIN,
    TENANT_ID_PATTERN,
    WORKER_NAME_PATTERN,
    MESH_NAME_PATTERN,
)

ACCOUNT_PATTERN = re.compile(r"^\d{12}$")
REGION_PATTERN = re.compile(r"^[a-z]{2}(-gov)?-[a-z]+-\d$")
BEDROCK_AGENT_ID_PATTERN = re.compile(r"^[0-9a-zA-Z]{10}$")
BEDROCK_AGENT_ALIAS_PATTERN = re.compile(r"^(TSTALIASID|[0-9a-zA-Z]{10})$")
# AgentCore Runtime ARN: arn:aws:bedrock-agentcore:<region>:<account>:runtime/<name>-<10 chars>
AGENTCORE_RUNTIME_ARN_PATTERN = re.compile(
    r"^arn:aws[a-z-]*:bedrock-agentcore:(?P<region>[a-z0-9-]+):(?P<account>\d{12}):runtime/[a-zA-Z][a-zA-Z0-9_]{0,99}-[a-zA-Z0-9]{10}$"
)
KMS_KEY_ARN_PATTERN = re.compile(r"^arn:aws[a-z-]*:kms:(?P<region>[a-z0-9-]+):(?P<account>\d{12}):key/[a-f0-9-]{36}$")
# sts:ExternalId: 2-1224 chars of [\w+=,.@:/-]
EXTERNAL_ID_PATTERN = re.compile(r"^[\w+=,.@:/-]{2,1224}$")
ORG_ID_PATTERN = re.compile(r"^o-[a-z0-9]{10,32}$")
ROLE_ARN_PATTERN = re.compile(r"^arn:aws[a-z-]*:iam::(?P<account>\d{12}):role/[\w+=,.@/-]{1,512}$")
HTTPS_URL_PATTERN = re.compile(r"^https://[^\s/$.?#].[^\s]*$")
CLAIM_NAME_PATTERN = re.compile(r"^[A-Za-z0-9_:.\-]{1,128}$")
FOUNDATION_MODEL_PATTERN = re.compile(r"^[a-z0-9.:-]{3,128}$")
EMAIL_PATTERN = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
# EventBridge Scheduler expressions: cron(...) with six fields, or rate(<n> <unit>).
SCHEDULE_PATTERN = re.compile(r"^(cron\((\S+ ){5}\S+\)|rate\([1-9]\d* (minute|minutes|hour|hours|day|days)\))$")

DISTANCE_METRICS = ("cosine", "euclidean")
#: Embedding models the runtime supports and the output sizes each accepts (runtime.embeddings.MODEL_DIMENSIONS).
EMBEDDING_MODEL_DIMENSIONS = {
    "amazon.titan-embed-text-v2:0": (256, 512, 1024),
    "amazon.nova-2-multimodal-embeddings-v1:0": (256, 384, 1024, 3072),
}
GEO_PREFIXES = ("us", "eu", "apac", "us-gov", "global", "ca", "jp", "au")
RETENTION_DAYS_RANGE = (1, 3650)
DIMENSION_RANGE = (1, 4096)

#: How many tenants may be declared at deploy time. Each declared tenant is one AWS::S3Vectors::Index in the
#: supervisor stack; CloudFormation allows 500 resources per stack, and the rest of the stack needs room.
#: Every other tenant is onboarded at run time by the onboarding function.
MAX_DECLARED_TENANTS = 300
#: Workers: one small stack each, but the orchestrator's assume-role policy names every worker role.
MAX_WORKERS = 100
#: Default IAM trust policy size quota (characters). A TVM trust policy listing worker agent roles must fit.
TRUST_POLICY_MAX_CHARS = 2048


class ConfigError(ValueError):
    """The deployment config is invalid; the message lists every problem."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = list(problems)
        lines = "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(f"Invalid deployment config ({len(self.problems)} problem(s)):\n{lines}")


@dataclass(frozen=True)
class AgentRef:
    """An agent to invoke: a Bedrock Agent (id + alias) or an AgentCore Runtime (ARN)."""

    kind: str  # "bedrock-agent" | "agentcore-runtime"
    agent_id: str | None = None
    alias_id: str | None = None
    runtime_arn: str | None = None

    def arns(self, account: str, region: str, partition: str = "aws") -> list[str]:
        """The exact ARNs an invoker needs: the agent alias, or the runtime and its DEFAULT endpoint."""
        if self.kind == "bedrock-agent":
            return [f"arn:{partition}:bedrock:{region}:{account}:agent-alias/{self.agent_id}/{self.alias_id}"]
        return [str(self.runtime_arn), f"{self.runtime_arn}/runtime-endpoint/DEFAULT"]


@dataclass(frozen=True)
class AccountConfig:
    account: str
    region: str


@dataclass(frozen=True)
class SupervisorConfig(AccountConfig):
    agent: AgentRef | None = None


@dataclass(frozen=True)
class WorkerConfig(AccountConfig):
    name: str = ""
    agent: AgentRef = field(default_factory=lambda: AgentRef(kind="bedrock-agent"))
    allowed_tenants: tuple[str, ...] = ()
    external_id: str | None = None
    #: An agent role in the worker account that may call the TVM directly (for its allowed tenants only).
    tvm_principal_arn: str | None = None


@dataclass(frozen=True)
class MemorySettingsConfig:
    retention_days: int = 90
    embedding_dimension: int = 1024
    distance_metric: str = "cosine"
    index_prefix: str = "tenant-"
    kms_key_arn: str | None = None
    embedding_model_id: str = "amazon.titan-embed-text-v2:0"
    summary_model_id: str = "amazon.nova-lite-v1:0"


@dataclass(frozen=True)
class ApiConfig:
    """JWT settings for the HTTP API (issuer/audience of any OIDC provider, e.g. a Cognito user pool)."""

    jwt_issuer: str
    jwt_audience: tuple[str, ...]
    tenant_claim: str = "custom:tenant_id"


@dataclass(frozen=True)
class OperationsConfig:
    """Operations settings of the memory home: who hears about alarms, when the retention sweeper runs."""

    alarm_email: str | None = None
    retention_schedule: str = "cron(15 3 * * ? *)"


@dataclass(frozen=True)
class MeshConfig:
    """Everything `app.py` needs to build the supervisor stack and one stack per worker."""

    mesh_name: str
    supervisor: SupervisorConfig
    workers: tuple[WorkerConfig, ...]
    tenants: tuple[str, ...]
    memory: MemorySettingsConfig
    organization_id: str | None = None
    api: ApiConfig | None = None
    operations: OperationsConfig = field(default_factory=OperationsConfig)

    # Role names peers must know are deterministic, so stacks deploy in any order without exports.
    @property
    def orchestrator_role_name(self) -> str:
        return f"{self.mesh_name}-orchestrator"

    @property
    def summarizer_role_name(self) -> str:
        return f"{self.mesh_name}-summarizer"

    @property
    def tvm_role_name(self) -> str:
        return f"{self.mesh_name}-tvm"

    def orchestrator_role_arn(self, partition: str = "aws") -> str:
        return f"arn:{partition}:iam::{self.supervisor.account}:role/{self.orchestrator_role_name}"

    def worker_role_name(self, worker: WorkerConfig) -> str:
        return f"{self.mesh_name}-worker-{worker.name}"

    def worker_role_arn(self, worker: WorkerConfig, partition: str = "aws") -> str:
        return f"arn:{partition}:iam::{worker.account}:role/{self.worker_role_name(worker)}"

    def worker_external_id(self, worker: WorkerConfig) -> str:
        """The configured external id, or a deterministic one so the sts:ExternalId condition is always on."""
        return worker.external_id or f"{self.mesh_name}:{worker.name}"

    def worker(self, name: str) -> WorkerConfig:
        for w in self.workers:
            if w.name == name:
                return w
        raise KeyError(name)

    # ---- loading -------------------------------------------------------------------------------------------

    @classmethod
    def from_file(cls, path: str | Path) -> "MeshConfig":
        p = Path(path)
        try:
            raw = json.loads(p.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError([f"config={str(path)!r}: file not found"]) from None
        except json.JSONDecodeError as exc:
            raise ConfigError([f"config={str(path)!r}: not valid JSON ({exc.msg} at line {exc.lineno})"]) from None
        except (OSError, UnicodeDecodeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else type(exc).__name__
            raise ConfigError([f"config={str(path)!r}: cannot be read as UTF-8 JSON ({reason})"]) from None
        return cls.from_dict(raw)

    @classmethod
    def from_dict(cls, raw: Any) -> "MeshConfig":
        return _Parser(raw).parse()


# ---- parsing and validation ---------------------------------------------------------------------------------


class _Parser:
    """Reads a raw mapping into a MeshConfig, collecting every problem instead of stopping at the first."""

    def __init__(self, raw: Any) -> None:
        self.raw = raw
        self.problems: list[str] = []

    def bad(self, path: str, value: Any, rule: str) -> None:
        # A missing field has no value to show: `supervisor.account: is required; ...`, never `=None`.
        self.problems.append(f"{path}: {rule}" if value is None else f"{path}={value!r}: {rule}")

    def _mapping(self, value: Any, path: str) -> Mapping[str, Any]:
        if isinstance(value, Mapping):
            return value
        self.bad(path, value, "is required: must be an object" if value is None else "must be an object")
        return {}

    def _unknown_keys(self, obj: Mapping[str, Any], path: str, allowed: set[str]) -> None:
        for key in obj:
            if key not in allowed:
                self.bad(f"{path}.{key}" if path else key, obj[key], f"unknown field; allowed: {', '.join(sorted(allowed))}")

    def _str(self, obj: Mapping[str, Any], key: str, path: str, pattern: re.Pattern[str], rule: str,
             default: str | None = None, required: bool = True) -> str | None:
        value = obj.get(key, default)
        full = f"{path}.{key}" if path else key
        if value is None:
            if required:
                self.bad(full, None, f"is required; {rule}")
            return None
        if not isinstance(value, str) or not pattern.match(value):
            self.bad(full, value, rule)
            return None
        return value

    def _int(self, obj: Mapping[str, Any], key: str, path: str, bounds: tuple[int, int], default: int) -> int:
        value = obj.get(key, default)
        lo, hi = bounds
        if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
            self.bad(f"{path}.{key}", value, f"must be a whole number from {lo} to {hi}")
            return default
        return value

    def _tenant(self, value: Any, path: str, prefix: str) -> str | None:
        if not isinstance(value, str) or not TENANT_ID_PATTERN.match(value) or not (
            TENANT_ID_MIN <= len(value) <= TENANT_ID_MAX
        ):
            self.bad(path, value, f"tenant ids are {TENANT_ID_MIN}-{TENANT_ID_MAX} lowercase letters, digits and '-', "
                                  "starting and ending with a letter or digit")
            return None
        if len(prefix) + len(value) > MAX_INDEX_NAME_LENGTH:
            self.bad(path, value, f"index name {prefix + value!r} would be {len(prefix) + len(value)} characters; "
                                  f"S3 Vectors allows {MAX_INDEX_NAME_LENGTH}")
            return None
        return value

    def _agent(self, value: Any, path: str, account: str | None, region: str | None) -> AgentRef | None:
        obj = self._mapping(value, path)
        if not obj:
            return None
        kind = obj.get("type")
        if kind == "bedrock-agent":
            self._unknown_keys(obj, path, {"type", "agent_id", "alias_id"})
            agent_id = self._str(obj, "agent_id", path, BEDROCK_AGENT_ID_PATTERN, "a Bedrock Agent id is 10 letters or digits")
            alias_id = self._str(obj, "alias_id", path, BEDROCK_AGENT_ALIAS_PATTERN,
                                 "a Bedrock Agent alias id is 10 letters or digits, or TSTALIASID")
            return AgentRef(kind=kind, agent_id=agent_id, alias_id=alias_id)
        if kind == "agentcore-runtime":
            self._unknown_keys(obj, path, {"type", "runtime_arn"})
            arn = self._str(obj, "runtime_arn", path, AGENTCORE_RUNTIME_ARN_PATTERN,
                            "must be an AgentCore Runtime ARN arn:aws:bedrock-agentcore:<region>:<account>:runtime/<id>")
            if arn:
                m = AGENTCORE_RUNTIME_ARN_PATTERN.match(arn)
                assert m is not None
                if account and m["account"] != account:
                    self.bad(f"{path}.runtime_arn", arn, f"must be in the same account ({account}) as its stack")
                if region and m["region"] != region:
                    self.bad(f"{path}.runtime_arn", arn, f"must be in the same region ({region}) as its stack")
            return AgentRef(kind=kind, runtime_arn=arn)
        self.bad(f"{path}.type", kind, "must be 'bedrock-agent' or 'agentcore-runtime'")
        return None

    def parse(self) -> MeshConfig:
        root = self._mapping(self.raw, "config")
        self._unknown_keys(root, "", {"mesh_name", "supervisor", "workers", "tenants", "memory", "organization_id", "api",
                                      "operations"})
        mesh_name = self._str(root, "mesh_name", "", MESH_NAME_PATTERN,
                              "3-24 lowercase letters, digits and '-', starting with a letter", default="memory-mesh")

        mem_raw = self._mapping(root.get("memory", {}), "memory")
        self._unknown_keys(mem_raw, "memory", {f for f in MemorySettingsConfig.__dataclass_fields__})
        prefix = self._str(mem_raw, "index_prefix", "memory", INDEX_PREFIX_PATTERN,
                           "1-20 lowercase letters, digits, '-' or '.', starting with a letter or digit",
                           default="tenant-") or "tenant-"
        metric = mem_raw.get("distance_metric", "cosine")
        if metric not in DISTANCE_METRICS:
            self.bad("memory.distance_metric", metric, f"must be one of {', '.join(DISTANCE_METRICS)}")
        kms_key_arn = self._str(mem_raw, "kms_key_arn", "memory", KMS_KEY_ARN_PATTERN,
                                "must be a KMS key ARN arn:aws:kms:<region>:<account>:key/<uuid>", required=False)
        memory = MemorySettingsConfig(
            retention_days=self._int(mem_raw, "retention_days", "memory", RETENTION_DAYS_RANGE, 90),
            embedding_dimension=self._int(mem_raw, "embedding_dimension", "memory", DIMENSION_RANGE, 1024),
            distance_metric=metric if metric in DISTANCE_METRICS else "cosine",
            index_prefix=prefix,
            kms_key_arn=kms_key_arn,
            embedding_model_id=self._str(mem_raw, "embedding_model_id", "memory", FOUNDATION_MODEL_PATTERN,
                                         "a Bedrock model id", default=MemorySettingsConfig.embedding_model_id)
            or MemorySettingsConfig.embedding_model_id,
            summary_model_id=self._str(mem_raw, "summary_model_id", "memory", FOUNDATION_MODEL_PATTERN,
                                       "a Bedrock model or inference profile id",
                                       default=MemorySettingsConfig.summary_model_id)
            or MemorySettingsConfig.summary_model_id,
        )
        self._check_embedding(memory)

        sup_raw = self._mapping(root.get("supervisor"), "supervisor")
        self._unknown_keys(sup_raw, "supervisor", {"account", "region", "agent"})
        sup_account = self._str(sup_raw, "account", "supervisor", ACCOUNT_PATTERN, "must be a 12-digit AWS account id")
        sup_region = self._str(sup_raw, "region", "supervisor", REGION_PATTERN, "must be an AWS region such as us-east-1")
        sup_agent = (self._agent(sup_raw["agent"], "supervisor.agent", sup_account, sup_region)
                     if sup_raw.get("agent") is not None else None)
        if sup_raw and sup_raw.get("agent") is None:
            self.bad("supervisor.agent", None, "is required: the orchestrator hands every conversation to the "
                                               "supervisor agent first (a bedrock-agent or agentcore-runtime)")
        if kms_key_arn and sup_account and sup_region:
            m = KMS_KEY_ARN_PATTERN.match(kms_key_arn)
            assert m is not None
            if (m["account"], m["region"]) != (sup_account, sup_region):
                self.bad("memory.kms_key_arn", kms_key_arn,
                         f"must be a key in the supervisor account and region ({sup_account}, {sup_region})")

        tenants_raw = root.get("tenants", [])
        tenants: list[str] = []
        if not isinstance(tenants_raw, list):
            self.bad("tenants", tenants_raw, "must be a list of tenant ids")
            tenants_raw = []
        for i, t in enumerate(tenants_raw):
            tid = self._tenant(t, f"tenants[{i}]", prefix)
            if tid is not None:
                if tid in tenants:
                    self.bad(f"tenants[{i}]", tid, "is declared twice")
                else:
                    tenants.append(tid)
        if len(tenants_raw) > MAX_DECLARED_TENANTS:
            self.bad("tenants", f"<{len(tenants_raw)} tenants>",
                     f"at most {MAX_DECLARED_TENANTS} tenants can be declared at deploy time (each is one CloudFormation "
                     "resource; a stack holds 500). Declare fewer and onboard the rest at run time with the tenant "
                     "onboarding function (see docs/deploy.md#tenants)")

        workers_raw = root.get("workers", [])
        workers: list[WorkerConfig] = []
        if not isinstance(workers_raw, list) or not workers_raw:
            self.bad("workers", workers_raw, "must be a non-empty list of worker accounts")
            workers_raw = [] if not isinstance(workers_raw, list) else workers_raw
        if len(workers_raw) > MAX_WORKERS:
            self.bad("workers", f"<{len(workers_raw)} workers>",
                     f"at most {MAX_WORKERS} workers (the orchestrator's IAM policy names each worker role)")
        names: set[str] = set()
        for i, w_raw in enumerate(workers_raw):
            path = f"workers[{i}]"
            w = self._mapping(w_raw, path)
            if not w:
                continue
            self._unknown_keys(w, path, {"name", "account", "region", "agent", "allowed_tenants", "external_id",
                                         "tvm_principal_arn"})
            name = self._str(w, "name", path, WORKER_NAME_PATTERN,
                             "1-24 lowercase letters, digits and single '-' between them, starting with a letter")
            if name is not None:
                if name in names:
                    self.bad(f"{path}.name", name, "duplicate worker name; names must be unique")
                names.add(name)
            account = self._str(w, "account", path, ACCOUNT_PATTERN, "must be a 12-digit AWS account id")
            region = self._str(w, "region", path, REGION_PATTERN, "must be an AWS region such as us-east-1")
            if account and account == sup_account:
                self.bad(f"{path}.account", account, "a worker must be in another account than the supervisor")
            agent = self._agent(w.get("agent"), f"{path}.agent", account, region)
            allowed_raw = w.get("allowed_tenants", [])
            allowed: list[str] = []
            if not isinstance(allowed_raw, list) or not allowed_raw:
                self.bad(f"{path}.allowed_tenants", allowed_raw, "must be a non-empty list of tenant ids")
            else:
                for j, t in enumerate(allowed_raw):
                    tid = self._tenant(t, f"{path}.allowed_tenants[{j}]", prefix)
                    if tid is not None and tid not in allowed:
                        allowed.append(tid)
            external_id = self._str(w, "external_id", path, EXTERNAL_ID_PATTERN,
                                    "2-1224 characters of letters, digits and +=,.@:/-_", required=False)
            tvm_principal = self._str(w, "tvm_principal_arn", path, ROLE_ARN_PATTERN,
                                      "must be an IAM role ARN in the worker's account", required=False)
            if tvm_principal and account and ROLE_ARN_PATTERN.match(tvm_principal)["account"] != account:  # type: ignore[index]
                self.bad(f"{path}.tvm_principal_arn", tvm_principal, f"must be a role in the worker's account {account}")
            if name and account and region and agent:
                workers.append(WorkerConfig(account=account, region=region, name=name, agent=agent,
                                            allowed_tenants=tuple(allowed), external_id=external_id,
                                            tvm_principal_arn=tvm_principal))

        self._check_trust_policy_size(workers)

        org_id = self._str(root, "organization_id", "", ORG_ID_PATTERN, "must be an AWS Organizations id o-xxxxxxxxxx",
                           required=False)

        api = None
        if root.get("api") is not None:
            api_raw = self._mapping(root["api"], "api")
            self._unknown_keys(api_raw, "api", {"jwt_issuer", "jwt_audience", "tenant_claim"})
            issuer = self._str(api_raw, "jwt_issuer", "api", HTTPS_URL_PATTERN, "must be the https:// issuer URL")
            audience = api_raw.get("jwt_audience")
            if not isinstance(audience, list) or not audience or not all(isinstance(a, str) and a for a in audience):
                self.bad("api.jwt_audience", audience, "must be a non-empty list of client ids / audiences")
                audience = []
            claim = self._str(api_raw, "tenant_claim", "api", CLAIM_NAME_PATTERN, "a JWT claim name",
                              default="custom:tenant_id")
            if issuer and audience and claim:
                api = ApiConfig(jwt_issuer=issuer, jwt_audience=tuple(audience), tenant_claim=claim)

        ops_raw = self._mapping(root["operations"] if root.get("operations") is not None else {}, "operations")
        self._unknown_keys(ops_raw, "operations", {"alarm_email", "retention_schedule"})
        operations = OperationsConfig(
            alarm_email=self._str(ops_raw, "alarm_email", "operations", EMAIL_PATTERN, "an e-mail address",
                                  required=False),
            retention_schedule=self._str(ops_raw, "retention_schedule", "operations", SCHEDULE_PATTERN,
                                         "an EventBridge Scheduler expression such as 'cron(15 3 * * ? *)' or "
                                         "'rate(1 day)'", default=OperationsConfig.retention_schedule)
            or OperationsConfig.retention_schedule,
        )

        if self.problems:
            raise ConfigError(self.problems)
        assert mesh_name and sup_account and sup_region
        return MeshConfig(
            mesh_name=mesh_name,
            supervisor=SupervisorConfig(account=sup_account, region=sup_region, agent=sup_agent),
            workers=tuple(workers),
            tenants=tuple(tenants),
            memory=memory,
            organization_id=org_id,
            api=api,
            operations=operations,
        )

    def _check_embedding(self, memory: MemorySettingsConfig) -> None:
        # The Lambdas embed with this model at the index's dimension; both must be a pair the model supports.
        model = memory.embedding_model_id.rsplit("/", 1)[-1]
        model = model.split(".", 1)[1] if model.split(".", 1)[0] in GEO_PREFIXES else model
        allowed = EMBEDDING_MODEL_DIMENSIONS.get(model)
        if allowed is None:
            self.bad("memory.embedding_model_id", memory.embedding_model_id,
                     f"must be one of {', '.join(sorted(EMBEDDING_MODEL_DIMENSIONS))}")
        elif memory.embedding_dimension not in allowed:
            self.bad("memory.embedding_dimension", memory.embedding_dimension,
                     f"{model} embeds at {', '.join(map(str, allowed))}")

    def _check_trust_policy_size(self, workers: list[WorkerConfig]) -> None:
        # Rough, conservative size of the TVM trust policy: a fixed part for the supervisor's own roles plus one
        # statement per worker agent role that may call the TVM directly, with its tenant allowlist.
        size = 900
        for w in workers:
            if w.tvm_principal_arn:
                size += 420 + len(w.tvm_principal_arn) + sum(len(t) + 3 for t in w.allowed_tenants)
        if size > TRUST_POLICY_MAX_CHARS:
            self.bad("workers[*].tvm_principal_arn", f"<{sum(1 for w in workers if w.tvm_principal_arn)} roles>",
                     f"the token vending machine's trust policy would be about {size} characters; IAM allows "
                     f"{TRUST_POLICY_MAX_CHARS} by default. Give fewer workers direct TVM access (the orchestrator "
                     "vends for them) or shorten their tenant lists")
