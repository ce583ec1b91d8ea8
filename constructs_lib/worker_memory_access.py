"""`WorkerMemoryAccess`: lets a worker agent's role assume the memory home's worker TVM, across accounts."""

from __future__ import annotations

from aws_cdk import Stack
from aws_cdk import aws_iam as iam
from constructs import Construct

from runtime.contract import MemorySettings, memory, rules
from runtime.contract.environment import DEFAULT_EMBEDDING_MODEL_ID

from . import perms
from .agent_memory import IAgentMemory
from .errors import new_problems, raise_if_any
from .mesh_state_table import IMeshStateTable
from .nag import acknowledge_inline_policy
from .token_vending_machine import ITokenVendingMachine
from .vector_memory_store import IVectorMemoryStore

__all__ = ["WorkerMemoryAccess"]

#: The service an AgentCore Runtime's execution role is assumed by.
AGENTCORE_SERVICE = "bedrock-agentcore.amazonaws.com"


class WorkerMemoryAccess(Construct):
    """The identity-policy side of a worker agent's memory access (the memory home's TVM trusts the role by name).

    The role may call ``sts:AssumeRole``, ``sts:TagSession`` and ``sts:SetSourceIdentity`` on exactly the TVM's
    role, only with both ``TenantID`` and ``ActorID`` session tags and no other tag keys. Give it an existing role
    (an AgentCore Runtime's execution role, a Lambda's role, ...) or let it create one for AgentCore Runtime.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        token_vending_machine: ITokenVendingMachine,
        role: iam.IRole | None = None,
        role_name: str | None = None,
    ) -> None:
        """:param token_vending_machine: the memory home's worker TVM (``TokenVendingMachine.
            from_token_vending_machine_attributes`` with its deterministic ARN); its isolation must be ``user``.
        :param role: the worker agent's existing role; default a new role assumed by AgentCore Runtime
            (``bedrock-agentcore.amazonaws.com``).
        :param role_name: the new role's name (required when ``role`` is not given: the TVM trusts it by name).
        """
        super().__init__(scope, id)
        problems = new_problems()
        problems.check(rules.ROLE_NAME, "role_name", role_name, required=role is None, literal=True)
        if role is not None and role_name is not None:
            problems.add("role_name", role_name, "must be omitted when role is given (it names a role to create)")
        if token_vending_machine.isolation != memory.ISOLATION_USER:
            problems.add("token_vending_machine.isolation", token_vending_machine.isolation,
                         "must be 'user': a worker agent's session reaches one user's memory")
        raise_if_any(type(self).__name__, problems)

        self.token_vending_machine = token_vending_machine
        if role is None:
            stack = Stack.of(self)
            created = iam.Role(
                self, "Role", role_name=role_name,
                description="Agent Memory Mesh worker agent: vends one user's memory session from the memory home",
                assumed_by=iam.ServicePrincipal(AGENTCORE_SERVICE, conditions={
                    "StringEquals": {"aws:SourceAccount": stack.account},
                    "ArnLike": {"aws:SourceArn": stack.format_arn(service="bedrock-agentcore", resource="*")},
                }))
            acknowledge_inline_policy(created)
            role = created
        self.role = role
        self.grant = iam.Grant.add_to_principal(
            grantee=role, actions=list(perms.ASSUME_TAGGED), resource_arns=[token_vending_machine.role_arn],
            conditions={
                "Null": {f"aws:RequestTag/{tag}": "false" for tag in memory.SESSION_TAG_KEYS},
                "ForAllValues:StringEquals": {"aws:TagKeys": list(memory.SESSION_TAG_KEYS)},
            })
        # The statement lands in the role's default policy (a role created in CDK) or in a policy this stack
        # attaches to an imported role; acknowledge the inline-policy findings on that policy only.
        for policy in role.node.children:
            if isinstance(policy, iam.Policy):
                acknowledge_inline_policy(policy)

    def memory_environment(
        self,
        *,
        vector_store: IVectorMemoryStore,
        agent_memory: IAgentMemory,
        state_table: IMeshStateTable | None = None,
        embedding_model_id: str = DEFAULT_EMBEDDING_MODEL_ID,
    ) -> dict[str, str]:
        """The ``MESH_*`` variables the worker agent needs (the contract's `MemorySettings`), with this TVM."""
        return self.environment_for(token_vending_machine=self.token_vending_machine, vector_store=vector_store,
                                    agent_memory=agent_memory, state_table=state_table,
                                    embedding_model_id=embedding_model_id)

    @staticmethod
    def environment_for(
        *,
        token_vending_machine: ITokenVendingMachine,
        vector_store: IVectorMemoryStore,
        agent_memory: IAgentMemory,
        state_table: IMeshStateTable | None = None,
        embedding_model_id: str = DEFAULT_EMBEDDING_MODEL_ID,
    ) -> dict[str, str]:
        """The worker agent's ``MESH_*`` variables for a worker TVM (also what the memory home can output)."""
        problems = new_problems()
        env = MemorySettings.env_for(
            problems,
            region=vector_store.env.region,
            vector_bucket_name=vector_store.vector_bucket_name,
            index_prefix=vector_store.index_prefix,
            embedding_dimension=vector_store.dimension,
            distance_metric=vector_store.distance_metric,
            embedding_model_id=embedding_model_id,
            memory_id=agent_memory.memory_id,
            tvm_role_arn=token_vending_machine.role_arn,
            isolation=memory.ISOLATION_USER,
            state_table_name=state_table.table_name if state_table is not None else None,
        )
        raise_if_any("WorkerMemoryAccess.memory_environment", problems)
        return env
