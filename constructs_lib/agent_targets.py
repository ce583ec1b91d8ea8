"""The agents the orchestrator talks to: the supervisor it invokes and the workers it hands off to."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Sequence

from aws_cdk import Token

from .naming import TENANT_ID_MAX, TENANT_ID_MIN, TENANT_ID_PATTERN, WORKER_NAME_PATTERN
from .token_vending_machine import ROLE_ARN_PATTERN
from .validation import Problems

BEDROCK_AGENT_ID_PATTERN = re.compile(r"^[0-9a-zA-Z]{10}$")
BEDROCK_AGENT_ALIAS_PATTERN = re.compile(r"^(TSTALIASID|[0-9a-zA-Z]{10})$")
AGENTCORE_RUNTIME_ARN_PATTERN = re.compile(
    r"^arn:aws[a-z-]*:bedrock-agentcore:[a-z0-9-]+:\d{12}:runtime/[a-zA-Z][a-zA-Z0-9_]{0,99}-[a-zA-Z0-9]{10}$")
REGION_PATTERN = re.compile(r"^[a-z]{2}(-gov)?-[a-z]+-\d$")
# sts:ExternalId: 2-1224 characters of [\w+=,.@:/-].
EXTERNAL_ID_PATTERN = re.compile(r"^[\w+=,.@:/-]{2,1224}$")

BEDROCK_AGENT = "bedrock-agent"
AGENTCORE_RUNTIME = "agentcore-runtime"


@dataclass(frozen=True)
class AgentTarget:
    """A Bedrock Agent alias or an AgentCore Runtime; build one with `bedrock_agent()` or `agentcore_runtime()`."""

    kind: str
    agent_id: str | None = None
    alias_id: str | None = None
    runtime_arn: str | None = None

    @classmethod
    def bedrock_agent(cls, *, agent_id: str, alias_id: str) -> "AgentTarget":
        """A Bedrock Agent invoked through one alias (`bedrock:InvokeAgent` on exactly that alias)."""
        return cls(kind=BEDROCK_AGENT, agent_id=agent_id, alias_id=alias_id)

    @classmethod
    def agentcore_runtime(cls, *, runtime_arn: str) -> "AgentTarget":
        """An AgentCore Runtime invoked on its DEFAULT endpoint."""
        return cls(kind=AGENTCORE_RUNTIME, runtime_arn=runtime_arn)

    def problems(self, problems: Problems, prop: str, *, literal: bool = True) -> None:
        """Add what is wrong with this target to `problems`; `literal`: no tokens (it goes into a file at synth)."""
        check = _literal if literal else _pattern
        if self.kind == BEDROCK_AGENT:
            check(problems, f"{prop}.agent_id", self.agent_id, BEDROCK_AGENT_ID_PATTERN,
                  "a Bedrock Agent id is 10 letters or digits")
            check(problems, f"{prop}.alias_id", self.alias_id, BEDROCK_AGENT_ALIAS_PATTERN,
                  "a Bedrock Agent alias id is 10 letters or digits, or TSTALIASID")
        elif self.kind == AGENTCORE_RUNTIME:
            check(problems, f"{prop}.runtime_arn", self.runtime_arn, AGENTCORE_RUNTIME_ARN_PATTERN,
                  "an AgentCore Runtime ARN arn:aws:bedrock-agentcore:<region>:<account>:runtime/<id>")
        else:
            problems.add(f"{prop}.kind", self.kind, f"must be '{BEDROCK_AGENT}' or '{AGENTCORE_RUNTIME}'")

    def to_json(self) -> dict[str, str]:
        """The shape the handlers read (MESH_SUPERVISOR_AGENT, workers.json)."""
        if self.kind == BEDROCK_AGENT:
            return {"type": BEDROCK_AGENT, "agent_id": str(self.agent_id), "alias_id": str(self.alias_id)}
        return {"type": AGENTCORE_RUNTIME, "runtime_arn": str(self.runtime_arn)}

    @property
    def invoke_actions(self) -> list[str]:
        return ["bedrock:InvokeAgent"] if self.kind == BEDROCK_AGENT else ["bedrock-agentcore:InvokeAgentRuntime"]

    def invoke_arns(self, *, partition: str, region: str, account: str) -> list[str]:
        """Exact ARNs to invoke: the alias, or the runtime and its DEFAULT endpoint (never a wildcard)."""
        if self.kind == BEDROCK_AGENT:
            return [f"arn:{partition}:bedrock:{region}:{account}:agent-alias/{self.agent_id}/{self.alias_id}"]
        return [str(self.runtime_arn), f"{self.runtime_arn}/runtime-endpoint/DEFAULT"]


@dataclass(frozen=True)
class WorkerTarget:
    """A worker agent in another account, reached by assuming its `WorkerAccessRole`."""

    name: str
    role_arn: str
    external_id: str
    region: str
    agent: AgentTarget
    allowed_tenants: tuple[str, ...] = field(default_factory=tuple)

    def problems(self, problems: Problems, prop: str) -> None:
        _literal(problems, f"{prop}.name", self.name, WORKER_NAME_PATTERN,
                 "1-24 lowercase letters, digits and '-', starting with a letter")
        _literal(problems, f"{prop}.role_arn", self.role_arn, ROLE_ARN_PATTERN,
                 "an IAM role ARN arn:aws:iam::<account>:role/<name>")
        _literal(problems, f"{prop}.external_id", self.external_id, EXTERNAL_ID_PATTERN,
                 "2-1224 characters of letters, digits and +=,.@:/-_")
        _literal(problems, f"{prop}.region", self.region, REGION_PATTERN, "an AWS region such as us-east-1")
        self.agent.problems(problems, f"{prop}.agent")
        for tenant in self.allowed_tenants:
            if not isinstance(tenant, str) or not TENANT_ID_PATTERN.match(tenant) or not (
                TENANT_ID_MIN <= len(tenant) <= TENANT_ID_MAX
            ):
                problems.add(f"{prop}.allowed_tenants", tenant,
                             f"tenant ids are {TENANT_ID_MIN}-{TENANT_ID_MAX} lowercase letters, digits and '-', "
                             "starting and ending with a letter or digit")

    def to_json(self) -> dict[str, Any]:
        """One entry of workers.json (the handler contract)."""
        return {
            "name": self.name,
            "role_arn": self.role_arn,
            "external_id": self.external_id,
            "region": self.region,
            "agent": self.agent.to_json(),
            "allowed_tenants": list(self.allowed_tenants),
        }


def check_workers(problems: Problems, prop: str, workers: Sequence[WorkerTarget]) -> None:
    """Each worker valid, names unique (the handoff addresses workers by name)."""
    seen: set[str] = set()
    for i, worker in enumerate(workers):
        worker.problems(problems, f"{prop}[{i}]")
        if worker.name in seen:
            problems.add(f"{prop}[{i}].name", worker.name, "worker names must be unique")
        seen.add(worker.name)


def _pattern(problems: Problems, prop: str, value: Any, pattern: re.Pattern[str], allowed: str) -> None:
    if isinstance(value, str) and Token.is_unresolved(value):
        return
    if not isinstance(value, str) or not pattern.match(value):
        problems.add(prop, value, allowed)


def _literal(problems: Problems, prop: str, value: Any, pattern: re.Pattern[str], allowed: str) -> None:
    if isinstance(value, str) and Token.is_unresolved(value):
        problems.add(prop, value, "must be a literal value, not a deploy-time token (it is written into the "
                                  "functions' configuration at synth)")
        return
    _pattern(problems, prop, value, pattern, allowed)
