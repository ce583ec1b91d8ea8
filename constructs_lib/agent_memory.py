"""`AgentMemory`: Bedrock AgentCore Memory with summary, fact and preference strategies and scoped grants."""

from __future__ import annotations

import re
from typing import Sequence

from aws_cdk import CfnResource, Duration, Fn, RemovalPolicy, Stack, Token
from aws_cdk import aws_bedrockagentcore as agentcore
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from constructs import Construct

from . import perms
from .encryption import grant_key_via_service
from .nag import acknowledge, acknowledge_inline_policy
from .naming import ACTOR_TAG, TENANT_TAG
from .validation import Problems, PropsError

#: Long-term memory namespaces (DESIGN.md). The runtime's actor id is "<tenant>:<actor-hash>", so a namespace
#: condition on "<root><TenantID>:*" confines a tenant session to its own records.
SUMMARY_NAMESPACE = "/summaries/{actorId}/{sessionId}/"
FACTS_NAMESPACE = "/facts/{actorId}/"
PREFERENCES_NAMESPACE = "/preferences/{actorId}/"
NAMESPACE_ROOTS = ("/summaries/", "/facts/", "/preferences/")
MEMORY_NAME_PATTERN = re.compile(r"^[a-zA-Z][a-zA-Z0-9_]{0,47}$")
MEMORY_ARN_PATTERN = re.compile(r"^arn:aws[a-z-]*:bedrock-agentcore:[a-z0-9-]+:\d{12}:memory/[a-zA-Z][a-zA-Z0-9_-]{0,99}-[a-zA-Z0-9]{10}$")
# AgentCore Memory short-term event expiry: 7-365 days.
EXPIRY_DAYS_RANGE = (7, 365)


def tenant_actor_pattern(*, per_actor: bool = False) -> str:
    """The actor ids a tenant session may use: `<TenantID>:*`, or exactly `<TenantID>:<ActorID>`."""
    actor = f"${{aws:PrincipalTag/{ACTOR_TAG}}}" if per_actor else "*"
    return f"${{aws:PrincipalTag/{TENANT_TAG}}}:{actor}"


class _AgentMemoryBase(Construct):
    """Holds every grant; `AgentMemory` creates the memory, `from_agent_memory_attributes` imports one."""

    memory_arn: str
    memory_id: str
    encryption_key: kms.IKey | None

    # ---- grants --------------------------------------------------------------------------------------------

    def _grant(self, grantee: iam.IGrantable, actions: Sequence[str], conditions: dict | None = None) -> iam.Grant:
        account = grantee.grant_principal.principal_account
        own = Stack.of(self).account
        if account and not Token.is_unresolved(account) and not Token.is_unresolved(own) and account != own:
            # An identity policy added here cannot reach another account's role, and a silent no-op grant would
            # look like access: cross-account callers go through the TokenVendingMachine instead.
            raise PropsError(f"{type(self).__name__}.grant", [
                f"grantee account={account!r}: must be this stack's account {own}; give other accounts access "
                "through TokenVendingMachine.trust(role_arn, tenant_ids=...)"])
        return iam.Grant.add_to_principal(
            grantee=grantee, actions=list(actions), resource_arns=[self.memory_arn], conditions=conditions
        )

    @staticmethod
    def _actor_condition(actor_pattern: str | None) -> dict | None:
        return None if actor_pattern is None else {"StringLike": {"bedrock-agentcore:actorId": actor_pattern}}

    @staticmethod
    def _namespace_condition(actor_pattern: str | None) -> dict | None:
        if actor_pattern is None:
            return None
        # Records live under "<root><actorId>/..."; a pattern that names one actor exactly needs the "/*" tail.
        tail = "" if actor_pattern.endswith("*") else "/*"
        return {"StringLike": {"bedrock-agentcore:namespace": [f"{root}{actor_pattern}{tail}"
                                                               for root in NAMESPACE_ROOTS]}}

    def grant_write(self, grantee: iam.IGrantable, *, actor_pattern: str | None = None) -> iam.Grant:
        """Record conversation events, optionally only for actor ids matching `actor_pattern`."""
        self._grant_key(grantee)
        return self._grant(grantee, perms.MEMORY_EVENTS_WRITE, self._actor_condition(actor_pattern))

    def grant_read(self, grantee: iam.IGrantable, *, actor_pattern: str | None = None) -> iam.Grant:
        """Read events (actor-conditioned) and retrieve/list long-term records (namespace-conditioned)."""
        self._grant_key(grantee)
        grant = self._grant(grantee, perms.MEMORY_EVENTS_READ, self._actor_condition(actor_pattern))
        self._grant(grantee, perms.MEMORY_RECORDS_READ, self._namespace_condition(actor_pattern))
        return grant

    def grant_delete(self, grantee: iam.IGrantable) -> iam.Grant:
        """Erase events and long-term records (forget-me). Record deletes by id accept no actor condition."""
        self._grant_key(grantee)
        return self._grant(grantee, (*perms.MEMORY_EVENTS_DELETE, *perms.MEMORY_RECORDS_DELETE,
                                     *perms.MEMORY_RECORDS_READ_BY_ID, *perms.MEMORY_EVENTS_READ,
                                     *perms.MEMORY_RECORDS_READ))

    def grant_tenant_scoped(self, grantee: iam.IGrantable, *, per_actor: bool = False) -> iam.Grant:
        """Read and write only under the caller's `TenantID` (and `ActorID`) session tags."""
        pattern = tenant_actor_pattern(per_actor=per_actor)
        self.grant_write(grantee, actor_pattern=pattern)
        return self.grant_read(grantee, actor_pattern=pattern)

    def _grant_key(self, grantee: iam.IGrantable) -> None:
        if self.encryption_key is not None:
            grant_key_via_service(self.encryption_key, grantee, "bedrock-agentcore")


class AgentMemory(_AgentMemoryBase):
    """AgentCore Memory (the stable L2) with the mesh's three strategies on the namespaces of DESIGN.md.

    Secure defaults: encrypted with the given customer-managed key (or a new one with rotation), events expire
    after `expiration_days` (default 90), grants can be confined to actor ids and namespaces by a pattern.
    """

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
        """
        :param expiration_days: short-term event expiry, 7-365 (default 90).
        :param encryption_key: customer-managed key; default a new key with rotation enabled.
        :param memory_name: default: derived from the construct path. Letters, digits and '_', starts with a letter.
        :param removal_policy: what happens to the memory (and a key created here) when removed from the stack;
            default RETAIN, so a deploy never deletes what users' agents remember.
        """
        super().__init__(scope, id)
        problems = Problems()
        problems.check_range("expiration_days", expiration_days, *EXPIRY_DAYS_RANGE)
        problems.check_pattern("memory_name", memory_name, MEMORY_NAME_PATTERN,
                               "1-48 letters, digits and '_', starting with a letter")
        problems.raise_if_any(type(self).__name__)

        self.encryption_key = encryption_key or kms.Key(
            self, "Key", enable_key_rotation=True, description="Agent Memory Mesh AgentCore Memory",
            removal_policy=removal_policy)
        self.memory = agentcore.Memory(
            self,
            "Memory",
            memory_name=memory_name,
            description=description,
            expiration_duration=Duration.days(expiration_days),
            kms_key=self.encryption_key,
            memory_strategies=[
                agentcore.MemoryStrategy.using_summarization(
                    strategy_name="SessionSummaries", namespaces=[SUMMARY_NAMESPACE],
                    description="Summary of each session, per actor"),
                agentcore.MemoryStrategy.using_semantic(
                    strategy_name="Facts", namespaces=[FACTS_NAMESPACE],
                    description="Facts the user stated, per actor"),
                agentcore.MemoryStrategy.using_user_preference(
                    strategy_name="Preferences", namespaces=[PREFERENCES_NAMESPACE],
                    description="Preferences the user expressed, per actor"),
            ],
        )
        cfn_memory = self.memory.node.find_child("Memory")
        assert isinstance(cfn_memory, CfnResource)
        cfn_memory.apply_removal_policy(removal_policy)
        self.memory_arn = self.memory.memory_arn
        self.memory_id = self.memory.memory_id
        # The L2 creates an execution role for the built-in strategies and grants it encrypt/decrypt on the key.
        service_role = self.memory.node.try_find_child("ServiceRole")
        if service_role is not None:
            acknowledge_inline_policy(service_role)
            acknowledge(service_role, "AwsSolutions::AwsSolutions-IAM5[Action::kms:ReEncrypt*]",
                        "aws-cdk-lib's Memory grants its own execution role encrypt/decrypt (incl. kms:ReEncrypt*) on "
                        "the memory's one key ARN so AgentCore can store extracted records; no other key is reachable.")

    @classmethod
    def from_agent_memory_attributes(
        cls, scope: Construct, id: str, *, memory_arn: str, encryption_key: kms.IKey | None = None
    ) -> _AgentMemoryBase:
        """Import an existing AgentCore Memory (ARN `...:memory/<id>`) to grant on it."""
        problems = Problems()
        if not Token.is_unresolved(memory_arn) and not MEMORY_ARN_PATTERN.match(memory_arn):
            problems.add("memory_arn", memory_arn, "must be an arn:<partition>:bedrock-agentcore:<region>:<account>:memory/<id> ARN")
        problems.raise_if_any(f"{cls.__name__}.from_agent_memory_attributes")
        return _ImportedAgentMemory(scope, id, memory_arn=memory_arn, encryption_key=encryption_key)


class _ImportedAgentMemory(_AgentMemoryBase):
    def __init__(self, scope: Construct, id: str, *, memory_arn: str, encryption_key: kms.IKey | None) -> None:
        super().__init__(scope, id)
        self.memory_arn = memory_arn
        self.memory_id = Fn.select(1, Fn.split("memory/", memory_arn)) if Token.is_unresolved(memory_arn) \
            else memory_arn.split("memory/", 1)[1]
        self.encryption_key = encryption_key

