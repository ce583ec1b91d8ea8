"""The six functions of the memory home; each names its handler and grants exactly what that handler calls."""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import Stack
from aws_cdk import aws_iam as iam
from constructs import Construct

from runtime.contract import BEDROCK_AGENT, AgentRef, FunctionSettings
from runtime.contract.environment import DEFAULT_TENANT_CLAIM, TENANTS_FILE, WORKERS_FILE

from .. import perms
from ..agent_memory import IAgentMemory
from ..bedrock_models import grant_invoke_model
from ..errors import new_problems, raise_if_any
from ..mesh_state_table import IMeshStateTable
from ..nag import acknowledge_wildcard_resources
from ..token_vending_machine import ITokenVendingMachine
from ..vector_memory_store import IVectorMemoryStore
from .config_layer import MeshConfigLayer
from .function_options import FunctionOptions
from .mesh_function import FunctionShared, MeshFunction
from .queued_work import LifecycleJobs, SummaryPipeline

__all__ = ["ForgetFunction", "LifecycleFunction", "OrchestratorFunction", "RetentionFunction", "SummarizerFunction",
           "TenantsFunction"]


def _environment(construct: str, **values: object) -> dict[str, str]:
    problems = new_problems()
    env = FunctionSettings.env_for(problems, **values)
    raise_if_any(construct, problems)
    return env


def _agent_arns(scope: Construct, agent: AgentRef) -> list[str]:
    stack = Stack.of(scope)
    return agent.invoke_arns(partition=stack.partition, region=agent.region(stack.region),
                             account=agent.account(stack.account))


def _grant_erase(function: MeshFunction, *, vector_store: IVectorMemoryStore, agent_memory: IAgentMemory,
                 supervisor_agent: AgentRef) -> None:
    """What forgetting a user (or a tenant) deletes: user indexes, events and records of any actor, and the
    supervisor Bedrock Agent's own session memory of the user."""
    role = function.function_role
    vector_store.grant_delete_indexes(role)
    agent_memory.grant_read_events(role)
    agent_memory.grant_delete_events(role)
    agent_memory.grant_search_records(role)
    agent_memory.grant_delete_records(role)
    if supervisor_agent.kind == BEDROCK_AGENT:
        role.add_to_principal_policy(iam.PolicyStatement(
            sid="EraseSupervisorAgentMemory", actions=list(perms.BEDROCK_AGENT_MEMORY_DELETE),
            resources=_agent_arns(function, supervisor_agent)))
    acknowledge_wildcard_resources(
        role, lambda resource: resource.endswith(f"/index/{vector_store.index_prefix}*"),
        f"Forgetting deletes the user indexes of any tenant ('<bucket>/index/{vector_store.index_prefix}*', created "
        "at run time); only DeleteIndex, and the function validates every tenant and actor id it is given.")


class OrchestratorFunction(MeshFunction):
    """The JWT API's session and memory routes and direct invokes: vends user sessions, hands off to workers."""

    handler_name = "orchestrator"
    purpose = "answers turns, hands off to workers, lists and edits one user's memories"

    def __init__(self, scope: Construct, id: str, *, shared: FunctionShared, options: FunctionOptions,
                 token_vending_machine: ITokenVendingMachine, supervisor_agent: AgentRef,
                 config_layer: MeshConfigLayer, summaries: SummaryPipeline, lifecycle: LifecycleJobs,
                 embedding_model_id: str, tenant_claim: str = DEFAULT_TENANT_CLAIM) -> None:
        environment = _environment(type(self).__name__, tenant_claim=tenant_claim, supervisor_agent=supervisor_agent,
                                   workers_file=WORKERS_FILE, lifecycle_queue_url=lifecycle.queue.queue_url,
                                   event_queue_url=lifecycle.queue.queue_url)
        super().__init__(scope, id, shared=shared, options=options, environment=environment,
                         layers=[config_layer.layer])
        role = self.function_role
        token_vending_machine.grant_assume(role)
        grant_invoke_model(role, self, embedding_model_id, sid="InvokeEmbeddingModel")
        role.add_to_principal_policy(iam.PolicyStatement(
            sid="InvokeSupervisorAgent", actions=supervisor_agent.invoke_actions,
            resources=_agent_arns(self, supervisor_agent)))
        if config_layer.workers:
            # Exactly the configured worker access roles (deterministic names; they need not exist yet).
            role.add_to_principal_policy(iam.PolicyStatement(
                sid="AssumeWorkerAccessRoles", actions=list(perms.ASSUME_TAGGED),
                resources=[w.role_arn for w in config_layer.workers]))
        summaries.grant_send(role)
        # Turn events that stay throttled past the turn's budget are queued and written by the lifecycle function.
        lifecycle.grant_send(role)


class ForgetFunction(MeshFunction):
    """``DELETE /memories`` (tombstone, job, first steps; 202) and ``GET /forget/{job_id}``."""

    handler_name = "forget"
    purpose = "forgets one user: tombstone first, then deletes their memories in every store"

    def __init__(self, scope: Construct, id: str, *, shared: FunctionShared, options: FunctionOptions,
                 supervisor_agent: AgentRef, vector_store: IVectorMemoryStore, agent_memory: IAgentMemory,
                 state_table: IMeshStateTable, lifecycle: LifecycleJobs,
                 tenant_claim: str = DEFAULT_TENANT_CLAIM) -> None:
        environment = _environment(type(self).__name__, tenant_claim=tenant_claim, supervisor_agent=supervisor_agent,
                                   lifecycle_queue_url=lifecycle.queue.queue_url)
        super().__init__(scope, id, shared=shared, options=options, environment=environment)
        state_table.grant_tombstones(self.function_role)
        state_table.grant_jobs(self.function_role)
        lifecycle.grant_send(self.function_role)
        _grant_erase(self, vector_store=vector_store, agent_memory=agent_memory, supervisor_agent=supervisor_agent)
        # The user's index is found by ListIndexes (its exact name as prefix): a missing bucket fails the job,
        # a missing index is an honest 0.
        vector_store.grant_list_indexes(self.function_role)


class LifecycleFunction(MeshFunction):
    """Lifecycle queue (batch size 1): forget and offboarding steps, each queuing the next; deferred turn writes."""

    handler_name = "lifecycle"
    purpose = "runs forget and offboarding steps and writes deferred turn events"

    def __init__(self, scope: Construct, id: str, *, shared: FunctionShared, options: FunctionOptions,
                 token_vending_machine: ITokenVendingMachine, supervisor_agent: AgentRef,
                 config_layer: MeshConfigLayer, vector_store: IVectorMemoryStore, agent_memory: IAgentMemory,
                 state_table: IMeshStateTable, lifecycle: LifecycleJobs) -> None:
        environment = _environment(type(self).__name__, supervisor_agent=supervisor_agent, workers_file=WORKERS_FILE,
                                   tenants_file=TENANTS_FILE, lifecycle_queue_url=lifecycle.queue.queue_url,
                                   event_queue_url=lifecycle.queue.queue_url)
        super().__init__(scope, id, shared=shared, options=options, environment=environment,
                         layers=[config_layer.layer])
        role = self.function_role
        # Deferred turn events are written in the user's own session.
        token_vending_machine.grant_assume(role)
        _grant_erase(self, vector_store=vector_store, agent_memory=agent_memory, supervisor_agent=supervisor_agent)
        # Offboarding finds a tenant's users: indexes by the '<prefix><tenant>.' prefix, actors by '<tenant>:'.
        vector_store.grant_list_indexes(role)
        agent_memory.grant_list_actors(role)
        state_table.grant_tombstones(role)
        state_table.grant_jobs(role)
        state_table.grant_tenant_records(role)
        lifecycle.grant_send(role)


class SummarizerFunction(MeshFunction):
    """Summary queue: summarizes ended sessions into the user's index, in the user's own session."""

    handler_name = "summarizer"
    purpose = "summarizes ended sessions into each user's memory"

    def __init__(self, scope: Construct, id: str, *, shared: FunctionShared, options: FunctionOptions,
                 token_vending_machine: ITokenVendingMachine, embedding_model_id: str, summary_model_id: str,
                 summary_model_regions: Sequence[str] | None = None) -> None:
        super().__init__(scope, id, shared=shared, options=options, environment={})
        role = self.function_role
        token_vending_machine.grant_assume(role)
        grant_invoke_model(role, self, embedding_model_id, sid="InvokeEmbeddingModel")
        grant_invoke_model(role, self, summary_model_id, regions=summary_model_regions, sid="InvokeSummaryModel")


class TenantsFunction(MeshFunction):
    """The operator API: onboard a tenant, offboard one (not a declared one; 202 and a job id), read jobs."""

    handler_name = "tenants"
    purpose = "onboards and offboards tenants for operators"

    def __init__(self, scope: Construct, id: str, *, shared: FunctionShared, options: FunctionOptions,
                 config_layer: MeshConfigLayer, state_table: IMeshStateTable, lifecycle: LifecycleJobs) -> None:
        environment = _environment(type(self).__name__, tenants_file=TENANTS_FILE,
                                   lifecycle_queue_url=lifecycle.queue.queue_url)
        super().__init__(scope, id, shared=shared, options=options, environment=environment,
                         layers=[config_layer.layer])
        state_table.grant_tenant_records(self.function_role)
        state_table.grant_jobs(self.function_role)
        lifecycle.grant_send(self.function_role)


class RetentionFunction(MeshFunction):
    """The retention schedule: deletes vectors and AgentCore long-term records older than the retention period,
    resuming from its cursor (AgentCore events expire natively)."""

    handler_name = "retention"
    purpose = "deletes memories older than the retention period in every store"

    def __init__(self, scope: Construct, id: str, *, shared: FunctionShared, options: FunctionOptions,
                 vector_store: IVectorMemoryStore, agent_memory: IAgentMemory, state_table: IMeshStateTable) -> None:
        super().__init__(scope, id, shared=shared, options=options, environment={})
        role = self.function_role
        vector_store.grant_list_indexes(role)
        vector_store.grant_scan(role)
        vector_store.grant_delete(role)
        # Long-term records are listed by namespace root (every actor) and deleted by id, by creation time.
        agent_memory.grant_search_records(role)
        agent_memory.grant_delete_records(role)
        state_table.grant_sweeps(role)
        acknowledge_wildcard_resources(
            role, lambda resource: resource.endswith(f"/index/{vector_store.index_prefix}*"),
            "The sweep lists and deletes expired vectors in every user index of every tenant (created at run "
            f"time), limited to this bucket's '{vector_store.index_prefix}*' indexes; it cannot delete an index.")
