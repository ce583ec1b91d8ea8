"""The agents the mesh invokes: one value object for the config, the constructs and the handlers.

An agent is a Bedrock Agent reached through one alias, or an AgentCore Runtime reached on its DEFAULT endpoint.
Its JSON form (``{"type": "bedrock-agent", "agent_id", "alias_id"}`` or ``{"type": "agentcore-runtime",
"runtime_arn"}``) is what the deployment config holds and what the orchestrator reads from
``MESH_SUPERVISOR_AGENT`` and the workers file.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from runtime.contract import rules
from runtime.contract.problems import Problems

__all__ = ["AGENTCORE_RUNTIME", "AGENT_KINDS", "AgentRef", "BEDROCK_AGENT", "WorkerRef", "check_workers"]

BEDROCK_AGENT = "bedrock-agent"
AGENTCORE_RUNTIME = "agentcore-runtime"
AGENT_KINDS = (BEDROCK_AGENT, AGENTCORE_RUNTIME)
_FIELDS = {BEDROCK_AGENT: ("type", "agent_id", "alias_id"), AGENTCORE_RUNTIME: ("type", "runtime_arn")}
#: The AgentCore Runtime endpoint the mesh invokes (and grants): every runtime has it.
DEFAULT_ENDPOINT = "DEFAULT"


@dataclass(frozen=True)
class AgentRef:
    """A Bedrock Agent alias or an AgentCore Runtime; build one with the class methods or :meth:`parse`."""

    kind: str
    agent_id: str | None = None
    alias_id: str | None = None
    runtime_arn: str | None = None

    @classmethod
    def bedrock_agent(cls, *, agent_id: str, alias_id: str) -> AgentRef:
        """A Bedrock Agent invoked through one alias (``bedrock:InvokeAgent`` on exactly that alias)."""
        return cls(kind=BEDROCK_AGENT, agent_id=agent_id, alias_id=alias_id)

    @classmethod
    def agentcore_runtime(cls, *, runtime_arn: str) -> AgentRef:
        """An AgentCore Runtime invoked on its DEFAULT endpoint."""
        return cls(kind=AGENTCORE_RUNTIME, runtime_arn=runtime_arn)

    # -- reading and checking ---------------------------------------------------------------------------------

    @classmethod
    def read(cls, value: Any, field_name: str, problems: Problems) -> AgentRef | None:
        """Read the JSON form (a mapping, or its JSON text), adding what is wrong to ``problems``."""
        if isinstance(value, str):
            try:
                value = json.loads(value)
            except ValueError:
                problems.add(field_name, f"<{len(value)} characters>", "must be a JSON object with a 'type'")
                return None
        if not isinstance(value, Mapping):
            problems.add(field_name, value, "must be an object with a 'type' of "
                                            f"{BEDROCK_AGENT!r} or {AGENTCORE_RUNTIME!r}")
            return None
        kind = value.get("type")
        if kind not in _FIELDS:
            problems.add(f"{field_name}.type", kind, f"must be {BEDROCK_AGENT!r} or {AGENTCORE_RUNTIME!r}")
            return None
        for key in sorted(str(k) for k in value if k not in _FIELDS[kind]):
            problems.add(f"{field_name}.{key}", value[key],
                         f"is not a field of a {kind} agent; fields are {', '.join(_FIELDS[kind])}")
        if kind == BEDROCK_AGENT:
            agent = cls(kind=BEDROCK_AGENT, agent_id=value.get("agent_id"), alias_id=value.get("alias_id"))
        else:
            agent = cls(kind=AGENTCORE_RUNTIME, runtime_arn=value.get("runtime_arn"))
        before = len(problems)
        agent.check(problems, field_name, required=True)
        return agent if len(problems) == before else None

    @classmethod
    def parse(cls, value: Any, field: str) -> AgentRef:  # noqa: A002 - the name every caller uses
        """Read the JSON form; raise the runtime's InvalidInputError naming every problem."""
        from runtime.errors import InvalidInputError

        problems = Problems()
        agent = cls.read(value, field, problems)
        problems.raise_if_any(InvalidInputError.from_problems)
        assert agent is not None
        return agent

    def check(self, problems: Problems, field_name: str, *, required: bool = True, literal: bool = False) -> None:
        """Add what is wrong with this agent to ``problems`` (``literal``: tokens are not allowed)."""
        if self.kind == BEDROCK_AGENT:
            problems.check(rules.BEDROCK_AGENT_ID, f"{field_name}.agent_id", self.agent_id, required=required,
                           literal=literal)
            problems.check(rules.BEDROCK_ALIAS_ID, f"{field_name}.alias_id", self.alias_id, required=required,
                           literal=literal)
        elif self.kind == AGENTCORE_RUNTIME:
            problems.check(rules.AGENTCORE_RUNTIME_ARN, f"{field_name}.runtime_arn", self.runtime_arn,
                           required=required, literal=literal)
        else:
            problems.add(f"{field_name}.type", self.kind, f"must be {BEDROCK_AGENT!r} or {AGENTCORE_RUNTIME!r}")

    # -- using -------------------------------------------------------------------------------------------------

    def to_json(self) -> dict[str, str]:
        """The JSON form (``MESH_SUPERVISOR_AGENT``, the workers file, the deployment config)."""
        if self.kind == BEDROCK_AGENT:
            return {"type": BEDROCK_AGENT, "agent_id": str(self.agent_id), "alias_id": str(self.alias_id)}
        return {"type": AGENTCORE_RUNTIME, "runtime_arn": str(self.runtime_arn)}

    @property
    def service_name(self) -> str:
        """The boto3 service that invokes this agent."""
        return "bedrock-agent-runtime" if self.kind == BEDROCK_AGENT else "bedrock-agentcore"

    @property
    def invoke_actions(self) -> list[str]:
        """The IAM action that invokes this agent."""
        return ["bedrock:InvokeAgent"] if self.kind == BEDROCK_AGENT else ["bedrock-agentcore:InvokeAgentRuntime"]

    def invoke_arns(self, *, partition: str, region: str, account: str) -> list[str]:
        """Exact ARNs to invoke: the alias, or the runtime and its DEFAULT endpoint (never a wildcard)."""
        if self.kind == BEDROCK_AGENT:
            return [f"arn:{partition}:bedrock:{region}:{account}:agent-alias/{self.agent_id}/{self.alias_id}"]
        return [str(self.runtime_arn), f"{self.runtime_arn}/runtime-endpoint/{DEFAULT_ENDPOINT}"]

    def region(self, default: str) -> str:
        """The Region to call: the runtime ARN's own, else ``default``."""
        if self.runtime_arn:
            found = rules.AGENTCORE_RUNTIME_ARN.match(self.runtime_arn)
            if found:
                return found["region"]
        return default

    def account(self, default: str) -> str:
        """The account the agent lives in: the runtime ARN's own, else ``default``."""
        if self.runtime_arn:
            found = rules.AGENTCORE_RUNTIME_ARN.match(self.runtime_arn)
            if found:
                return found["account"]
        return default


_WORKER_FIELDS = ("name", "role_arn", "external_id", "region", "agent", "allowed_tenants")


@dataclass(frozen=True)
class WorkerRef:
    """A worker agent in another account, reached by assuming its access role (one entry of the workers file)."""

    name: str
    role_arn: str
    external_id: str
    region: str
    agent: AgentRef
    allowed_tenants: tuple[str, ...] = field(default_factory=tuple)

    def allows(self, tenant_id: str) -> bool:
        """True when this worker may take conversations of ``tenant_id``."""
        return tenant_id in self.allowed_tenants

    def check(self, problems: Problems, field_name: str) -> None:
        """Every field literal (the workers file is written at synth) and valid."""
        problems.check(rules.WORKER_NAME, f"{field_name}.name", self.name, required=True, literal=True)
        problems.check(rules.ROLE_ARN, f"{field_name}.role_arn", self.role_arn, required=True, literal=True)
        problems.check(rules.EXTERNAL_ID, f"{field_name}.external_id", self.external_id, required=True,
                       literal=True, redact=True)
        problems.check(rules.REGION, f"{field_name}.region", self.region, required=True, literal=True)
        self.agent.check(problems, f"{field_name}.agent", literal=True)
        for i, tenant in enumerate(self.allowed_tenants):
            problems.check(rules.TENANT_ID, f"{field_name}.allowed_tenants[{i}]", tenant, required=True,
                           literal=True)

    def to_json(self) -> dict[str, Any]:
        """One entry of the workers file."""
        return {
            "name": self.name,
            "role_arn": self.role_arn,
            "external_id": self.external_id,
            "region": self.region,
            "agent": self.agent.to_json(),
            "allowed_tenants": list(self.allowed_tenants),
        }

    @classmethod
    def read(cls, value: Any, field_name: str, problems: Problems) -> WorkerRef | None:
        """Read one workers-file entry, adding what is wrong to ``problems``."""
        if not isinstance(value, Mapping):
            problems.add(field_name, value, "must be an object")
            return None
        for key in sorted(str(k) for k in value if k not in _WORKER_FIELDS):
            problems.add(f"{field_name}.{key}", "<present>", f"is not a worker field; fields are "
                                                             f"{', '.join(_WORKER_FIELDS)}")
        tenants = value.get("allowed_tenants")
        if not isinstance(tenants, list):
            problems.add(f"{field_name}.allowed_tenants", tenants, "must be a list of tenant ids")
            tenants = []
        before = len(problems)
        agent = AgentRef.read(value.get("agent"), f"{field_name}.agent", problems)
        worker = cls(name=value.get("name"), role_arn=value.get("role_arn"),  # type: ignore[arg-type]
                     external_id=value.get("external_id"), region=value.get("region"),  # type: ignore[arg-type]
                     agent=agent or AgentRef(kind=BEDROCK_AGENT), allowed_tenants=tuple(tenants))
        if agent is not None:
            worker_problems = Problems()
            worker.check(worker_problems, field_name)
            problems.extend(worker_problems)
        return worker if len(problems) == before else None


def check_workers(problems: Problems, field_name: str, workers: Sequence[WorkerRef]) -> None:
    """Each worker valid, names unique (the handoff addresses workers by name)."""
    seen: set[str] = set()
    for i, worker in enumerate(workers):
        worker.check(problems, f"{field_name}[{i}]")
        if worker.name in seen:
            problems.add(f"{field_name}[{i}].name", worker.name, "must be unique among the workers")
        seen.add(worker.name)
