"""The contract the constructs, the deployment config and the runtime share: identifier rules, the problem
collector, the agent reference, the Lambda environment and the memory schema. Standard library only."""

from runtime.contract import memory, rules
from runtime.contract.agents import AGENTCORE_RUNTIME, BEDROCK_AGENT, AgentRef, WorkerRef, check_workers
from runtime.contract.environment import ENV, FunctionSettings, MemorySettings
from runtime.contract.problems import Problem, Problems, ProblemsError
from runtime.contract.rules import Rule

__all__ = [
    "AGENTCORE_RUNTIME",
    "AgentRef",
    "BEDROCK_AGENT",
    "ENV",
    "FunctionSettings",
    "MemorySettings",
    "Problem",
    "Problems",
    "ProblemsError",
    "Rule",
    "WorkerRef",
    "check_workers",
    "memory",
    "rules",
]
