"""`AgentMemory`: Bedrock AgentCore Memory with the mesh's summary, fact and preference strategies."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol, runtime_checkable

from aws_cdk import Arn, ArnFormat, CfnResource, Duration, RemovalPolicy, Stack, Token
from aws_cdk import aws_bedrockagentcore as agentcore
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk.interfaces import ResourceEnvironment
from constructs import Construct

from runtime.contract import memory, rules

from . import perms
from ._resource import MeshResource, env_of_arn, lazy_string
from .errors import new_problems, props_error, raise_if_any
from .nag import acknowledge, acknowledge_inline_policy
from .vector_memory_store import ACTOR, TENANT, _isolation

__all__ = ["AgentMemory", "AgentMemoryBase", "IAgentMemory", "session_actor_id", "session_namespaces"]


def session_actor_id(isolation: str) -> str:
    """The AgentCore actor id a vended session may use: ``<TenantID>:<ActorID>``, or ``<TenantID>:*``."""
    return f"{TENANT}:{ACTOR if isolation == memory.ISOLATION_USER else '*'}"


def session_namespaces(isolation: str) -> list[str]:
    """The long-term namespaces a vended session may read: under ``<root><TenantID>:<ActorID>/`` per root."""
    if isolation == memory.ISOLATION_USER:
        return [f"{root}{TENANT}:{ACTOR}/*" for root in memory.NAMESPACE_ROOTS]
    return [f"{root}{TENANT}:*" for root in memory.NAMESPACE_ROOTS]


@runtime_checkable
class IAgentMemory(Protocol):
    """An AgentCore Memory, created here or imported: what consumers read and the grants they call."""

    memory_arn: str
    memory_id: str
    encryption_key: kms.IKey | None

    @property
    def env(self) -> ResourceEnvironment:
        """The account and Region the resource lives in (an import's own, not the importing stack's)."""

    def grant_write_events(self, grantee: iam.IGrantable, *, actor_id: str | None = None) -> iam.Grant:
        """Create events, of actor ids matching ``actor_id`` (may hold ``*`` and policy variables), or any."""

    def grant_read_events(self, grantee: iam.IGrantable, *, actor_id: str | None = None) -> iam.Grant:
        """Get and list events and sessions, of actor ids matching ``actor_id``, or any."""

    def grant_delete_events(self, grantee: iam.IGrantable) -> iam.Grant:
        """Delete events of any actor (forget-me and offboarding jobs)."""

    def grant_list_actors(self, grantee: iam.IGrantable) -> iam.Grant:
        """List the memory's actors (offboarding finds a tenant's users by the ``<tenant>:`` prefix)."""

    def grant_search_records(self, grantee: iam.IGrantable, *,
                             namespaces: Sequence[str] | None = None) -> iam.Grant:
        """Retrieve and list long-term records, in namespaces matching one of ``namespaces``, or any."""

    def grant_delete_records(self, grantee: iam.IGrantable) -> iam.Grant:
        """Delete long-term records of any actor by id (forget-me and offboarding jobs)."""

    def grant_session_access(self, grantee: iam.IGrantable, *, isolation: str,
                             worker_path: bool = False) -> iam.Grant:
        """ABAC for a vended session: events of its own actor id, records of its own namespaces only."""


class AgentMemoryBase(MeshResource):
    """Every grant of an AgentCore Memory; `AgentMemory` creates one, the importer references one."""

    _key_services = ("bedrock-agentcore",)
    #: A memory created here can take statements for grantees in other accounts; an imported one cannot.
    _has_resource_policy = False
    memory_arn: str
    memory_id: str

    def _grant_on_memory(self, grantee: iam.IGrantable, actions: Sequence[str],
                         conditions: Mapping[str, Mapping[str, Any]] | None = None) -> iam.Grant:
        self._check_reachable(grantee)
        return self._grant(grantee, actions, [self.memory_arn], conditions)

    def grant_write_events(self, grantee: iam.IGrantable, *, actor_id: str | None = None) -> iam.Grant:
        """Create events, of actor ids matching ``actor_id`` (may hold ``*`` and policy variables), or any."""
        return self._grant_on_memory(grantee, perms.EVENTS_WRITE, _actor_condition(actor_id))

    def grant_read_events(self, grantee: iam.IGrantable, *, actor_id: str | None = None) -> iam.Grant:
        """Get and list events and sessions, of actor ids matching ``actor_id``, or any."""
        return self._grant_on_memory(grantee, perms.EVENTS_READ, _actor_condition(actor_id))

    def grant_delete_events(self, grantee: iam.IGrantable) -> iam.Grant:
        """Delete events of any actor (forget-me and offboarding jobs)."""
        return self._grant_on_memory(grantee, perms.EVENTS_DELETE)

    def grant_list_actors(self, grantee: iam.IGrantable) -> iam.Grant:
        """List the memory's actors (offboarding finds a tenant's users by the ``<tenant>:`` prefix)."""
        return self._grant_on_memory(grantee, perms.ACTORS_LIST)

    def grant_search_records(self, grantee: iam.IGrantable, *,
                             namespaces: Sequence[str] | None = None) -> iam.Grant:
        """Retrieve and list long-term records, in namespaces matching one of ``namespaces``, or any."""
        condition = None if namespaces is None else {
            "StringLike": {"bedrock-agentcore:namespace": list(namespaces)}}
        return self._grant_on_memory(grantee, perms.RECORDS_SEARCH, condition)

    def grant_delete_records(self, grantee: iam.IGrantable) -> iam.Grant:
        """Delete long-term records of any actor by id (forget-me and offboarding jobs)."""
        return self._grant_on_memory(grantee, perms.RECORDS_DELETE)

    def grant_session_access(self, grantee: iam.IGrantable, *, isolation: str,
                             worker_path: bool = False) -> iam.Grant:
        """ABAC for a vended session: events of its own actor id, records of its own namespaces only.

        Events are conditioned on ``bedrock-agentcore:actorId``; record searches on both ``namespace`` and
        ``namespacePath`` (one statement each, as requests name one or the other); records addressed by id on
        ``namespace``. Unless ``worker_path``, the session may also delete events and update or delete records; an
        update is authorized on the record's current namespace (``bedrock-agentcore:sourceNamespace``, from the
        request's ``sourceNamespaces``) and may not move it to another user's (``namespace`` if present).
        """
        _isolation(isolation, "AgentMemory.grant_session_access")
        actor = session_actor_id(isolation)
        operator = "StringEquals" if isolation == memory.ISOLATION_USER else "StringLike"
        namespaces = session_namespaces(isolation)
        grant = self._grant_on_memory(grantee, perms.WORKER_SESSION_EVENTS if worker_path else perms.SESSION_EVENTS,
                                      {operator: {"bedrock-agentcore:actorId": actor}})
        self._grant_on_memory(grantee, perms.RECORDS_SEARCH,
                              {"StringLike": {"bedrock-agentcore:namespace": namespaces}})
        self._grant_on_memory(grantee, perms.RECORDS_SEARCH,
                              {"StringLike": {"bedrock-agentcore:namespacePath": namespaces}})
        self._grant_on_memory(grantee, perms.WORKER_SESSION_RECORDS_BY_ID if worker_path
                              else perms.SESSION_RECORDS_BY_ID,
                              {"StringLike": {"bedrock-agentcore:namespace": namespaces}})
        if not worker_path:
            self._grant_on_memory(grantee, perms.SESSION_RECORDS_UPDATE, {
                "StringLike": {"bedrock-agentcore:sourceNamespace": namespaces},
                "StringLikeIfExists": {"bedrock-agentcore:namespace": namespaces}})
        return grant

    def _check_reachable(self, grantee: iam.IGrantable) -> None:
        """A grantee in another account needs this memory's resource policy, which only a created memory has."""
        account = grantee.grant_principal.principal_account
        own = self.env.account
        if self._has_resource_policy or not account or Token.is_unresolved(account) \
                or Token.is_unresolved(own) or account == own:
            return
        raise props_error("AgentMemory.grant", "grantee account", account,
                          f"must be the memory's account {own}: an imported memory's resource policy belongs to its "
                          "owner; reach it through a TokenVendingMachine of the memory's account")


def _actor_condition(actor_id: str | None) -> dict[str, dict[str, Any]] | None:
    return None if actor_id is None else {"StringLike": {"bedrock-agentcore:actorId": actor_id}}


class AgentMemory(AgentMemoryBase):
    """AgentCore Memory (the aws-cdk-lib L2) with the mesh's three strategies on the contract's namespaces.

    Secure defaults: encrypted with the given customer-managed key (or a new one with rotation), events expire
    after ``expiration_days`` (default 90), retained on removal, grants conditioned on actor id and namespace.
    """

    _has_resource_policy = True

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        expiration_days: int = 90,
        encryption_key: kms.IKey | None = None,
        memory_name: str | None = None,
        description: str = "Agent Memory Mesh shared long-term memory",
        removal_policy: RemovalPolicy = RemovalPolicy.RETAIN,
    ) -> None:
        """:param expiration_days: short-term event expiry, 7-365 (default 90).
        :param encryption_key: customer-managed key; default a new key with rotation enabled.
        :param memory_name: default derived from the construct path; letters, digits and '_', starting with a letter.
        :param removal_policy: of the memory and a key created here; default RETAIN.
        """
        super().__init__(scope, id)
        problems = new_problems()
        problems.check_range("expiration_days", expiration_days, *memory.AGENTCORE.EVENT_EXPIRY_DAYS)
        problems.check(rules.MEMORY_NAME, "memory_name", memory_name)
        raise_if_any(type(self).__name__, problems)

        self._own_key = encryption_key is None
        self.encryption_key = encryption_key or kms.Key(
            self, "Key", enable_key_rotation=True, description="Agent Memory Mesh AgentCore Memory",
            removal_policy=removal_policy)
        self.memory = agentcore.Memory(
            self, "Memory",
            memory_name=memory_name,
            description=description,
            expiration_duration=Duration.days(expiration_days),
            kms_key=self.encryption_key,
            memory_strategies=[
                agentcore.MemoryStrategy.using_summarization(
                    strategy_name="SessionSummaries", namespaces=[memory.SUMMARY_NAMESPACE],
                    description="Summary of each session, per actor"),
                agentcore.MemoryStrategy.using_semantic(
                    strategy_name="Facts", namespaces=[memory.FACTS_NAMESPACE],
                    description="Facts the user stated, per actor"),
                agentcore.MemoryStrategy.using_user_preference(
                    strategy_name="Preferences", namespaces=[memory.PREFERENCES_NAMESPACE],
                    description="Preferences the user expressed, per actor"),
            ],
        )
        cfn_memory = self.memory.node.find_child("Memory")
        assert isinstance(cfn_memory, CfnResource)
        self.cfn_memory = cfn_memory
        cfn_memory.apply_removal_policy(removal_policy)
        self.memory_arn = self.memory.memory_arn
        self.memory_id = self.memory.memory_id
        self._policy_document: iam.PolicyDocument | None = None
        # The L2 creates an execution role for the built-in strategies and grants it encrypt/decrypt on the key.
        service_role = self.memory.node.try_find_child("ServiceRole")
        if service_role is not None:
            acknowledge_inline_policy(service_role)
            acknowledge(service_role, "AwsSolutions::AwsSolutions-IAM5[Action::kms:ReEncrypt*]",
                        "aws-cdk-lib's Memory grants its own execution role encrypt/decrypt (incl. kms:ReEncrypt*) on "
                        "the memory's one key ARN so AgentCore can store extracted records; no other key is reachable.")

    def apply_removal_policy(self, policy: RemovalPolicy) -> None:
        """Apply ``policy`` to the memory (and to the key, when this construct created it)."""
        self.cfn_memory.apply_removal_policy(policy)
        if self._own_key and isinstance(self.encryption_key, kms.Key):
            self.encryption_key.apply_removal_policy(policy)

    def add_to_resource_policy(self, statement: iam.PolicyStatement) -> iam.AddToResourcePolicyResult:
        """Add a statement to the memory's resource-based policy (created on first use): grantees in other accounts."""
        if self._policy_document is None:
            self._policy_document = iam.PolicyDocument()
            stack = Stack.of(self)
            document = self._policy_document
            self._policy = agentcore.CfnResourcePolicy(
                self, "Policy", resource_arn=self.memory_arn,
                policy=lazy_string(lambda: stack.to_json_string(document.to_json())))
        self._policy_document.add_statements(statement)
        return iam.AddToResourcePolicyResult(statement_added=True, policy_dependable=self._policy)

    @classmethod
    def from_agent_memory_attributes(cls, scope: Construct, id: str, *, memory_arn: str,
                                     encryption_key: kms.IKey | None = None) -> IAgentMemory:
        """Reference an existing memory (``...:memory/<id>``, in its own account and Region) to grant on it."""
        problems = new_problems()
        problems.check(rules.MEMORY_ARN, "memory_arn", memory_arn, required=True)
        raise_if_any(f"{cls.__name__}.from_agent_memory_attributes", problems)
        return _ImportedAgentMemory(scope, id, memory_arn=memory_arn, encryption_key=encryption_key)


class _ImportedAgentMemory(AgentMemoryBase):
    def __init__(self, scope: Construct, id: str, *, memory_arn: str, encryption_key: kms.IKey | None) -> None:
        super().__init__(scope, id, **env_of_arn(memory_arn))
        self.memory_arn = memory_arn
        self.memory_id = str(Arn.split(memory_arn, ArnFormat.SLASH_RESOURCE_NAME).resource_name)
        self.encryption_key = encryption_key

