"""`MeshStateTable`: the mesh's DynamoDB table of forget tombstones, jobs, tenant records and sweep cursors."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from aws_cdk import Arn, ArnFormat, RemovalPolicy
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk.interfaces import ResourceEnvironment
from constructs import Construct

from runtime.contract import rules, state

from . import perms
from ._resource import MeshResource, env_of_arn
from .errors import new_problems, raise_if_any
from .nag import acknowledge
from .vector_memory_store import ACTOR, TENANT, _isolation

__all__ = ["IMeshStateTable", "MeshStateTable", "MeshStateTableBase"]


@runtime_checkable
class IMeshStateTable(Protocol):
    """A mesh state table, created here or imported: what consumers read and the grants they call."""

    table_name: str
    table_arn: str
    encryption_key: kms.IKey | None

    @property
    def env(self) -> ResourceEnvironment:
        """The account and Region the resource lives in (an import's own, not the importing stack's)."""

    def grant_read_tombstone(self, grantee: iam.IGrantable, *, isolation: str) -> iam.Grant:
        """A vended session reads its own user's tombstone only (``user``), or its tenant's (``tenant``)."""

    def grant_tombstones(self, grantee: iam.IGrantable) -> iam.Grant:
        """Read and write any user's tombstone (forget-me and offboarding jobs)."""

    def grant_jobs(self, grantee: iam.IGrantable) -> iam.Grant:
        """Read and write jobs (start, advance and finish forget and offboarding jobs)."""

    def grant_read_jobs(self, grantee: iam.IGrantable) -> iam.Grant:
        """Read jobs (progress and receipts)."""

    def grant_tenant_records(self, grantee: iam.IGrantable) -> iam.Grant:
        """Read and write tenant onboarding records."""

    def grant_sweeps(self, grantee: iam.IGrantable) -> iam.Grant:
        """Read and write sweep cursors (the retention sweep resumes where it stopped)."""


class MeshStateTableBase(MeshResource):
    """Every grant of a mesh state table; each is limited by ``dynamodb:LeadingKeys`` to the item kinds it names."""

    _key_services = ("dynamodb",)
    table_name: str
    table_arn: str

    def grant_read_tombstone(self, grantee: iam.IGrantable, *, isolation: str) -> iam.Grant:
        """A vended session reads its own user's tombstone only (``user``), or its tenant's (``tenant``)."""
        if _isolation(isolation, "MeshStateTable.grant_read_tombstone"):
            condition = {"ForAllValues:StringEquals": {
                "dynamodb:LeadingKeys": [f"{state.ACTOR_PREFIX}{TENANT}:{ACTOR}"]}}
        else:
            condition = {"ForAllValues:StringLike": {"dynamodb:LeadingKeys": [f"{state.ACTOR_PREFIX}{TENANT}:*"]}}
        return self._grant(grantee, perms.ITEMS_READ, [self.table_arn], condition)

    def grant_tombstones(self, grantee: iam.IGrantable) -> iam.Grant:
        """Read and write any user's tombstone (forget-me and offboarding jobs)."""
        return self._grant_items(grantee, (*perms.ITEMS_READ, *perms.ITEMS_WRITE), [state.ACTOR_PREFIX])

    def grant_jobs(self, grantee: iam.IGrantable) -> iam.Grant:
        """Read and write jobs (start, advance and finish forget and offboarding jobs)."""
        return self._grant_items(grantee, (*perms.ITEMS_READ, *perms.ITEMS_WRITE), [state.JOB_PREFIX])

    def grant_read_jobs(self, grantee: iam.IGrantable) -> iam.Grant:
        """Read jobs (progress and receipts)."""
        return self._grant_items(grantee, perms.ITEMS_READ, [state.JOB_PREFIX])

    def grant_tenant_records(self, grantee: iam.IGrantable) -> iam.Grant:
        """Read and write tenant onboarding records."""
        return self._grant_items(grantee, (*perms.ITEMS_READ, *perms.ITEMS_WRITE), [state.TENANT_PREFIX])

    def grant_sweeps(self, grantee: iam.IGrantable) -> iam.Grant:
        """Read and write sweep cursors (the retention sweep resumes where it stopped)."""
        return self._grant_items(grantee, (*perms.ITEMS_READ, *perms.ITEMS_WRITE), [state.SWEEP_PREFIX])

    def _grant_items(self, grantee: iam.IGrantable, actions: Sequence[str], prefixes: Sequence[str]) -> iam.Grant:
        return self._grant(grantee, actions, [self.table_arn],
                           {"ForAllValues:StringLike": {"dynamodb:LeadingKeys": [f"{p}*" for p in prefixes]}})


class MeshStateTable(MeshStateTableBase):
    """DynamoDB table ``pk``/``sk`` (strings): on-demand, customer-managed key, point-in-time recovery, TTL on
    ``expires_at``, deletion protection and RETAIN, so no deploy loses a tombstone (forgotten users stay forgotten).
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        encryption_key: kms.IKey | None = None,
        table_name: str | None = None,
        removal_policy: RemovalPolicy = RemovalPolicy.RETAIN,
    ) -> None:
        """:param encryption_key: customer-managed key; default a new key with rotation enabled.
        :param table_name: default generated by CloudFormation.
        :param removal_policy: of the table and a key created here; default RETAIN.
        """
        super().__init__(scope, id, physical_name=table_name)
        problems = new_problems()
        problems.check(rules.TABLE_NAME, "table_name", table_name)
        raise_if_any(type(self).__name__, problems)

        self._own_key = encryption_key is None
        self.encryption_key = encryption_key or kms.Key(
            self, "Key", enable_key_rotation=True, description="Agent Memory Mesh state table",
            removal_policy=removal_policy)
        self.table = dynamodb.Table(
            self, "Table",
            table_name=table_name,
            partition_key=dynamodb.Attribute(name=state.PARTITION_KEY, type=dynamodb.AttributeType.STRING),
            sort_key=dynamodb.Attribute(name=state.SORT_KEY, type=dynamodb.AttributeType.STRING),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            encryption=dynamodb.TableEncryption.CUSTOMER_MANAGED,
            encryption_key=self.encryption_key,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True),
            time_to_live_attribute=state.TTL_ATTRIBUTE,
            deletion_protection=True,
            removal_policy=removal_policy,
        )
        self.table_name = self.table.table_name
        self.table_arn = self.table.table_arn
        for pack in ("HIPAA.Security", "NIST.800.53.R5"):
            acknowledge(self.table, f"{pack}::{pack}-DynamoDBInBackupPlan",
                        "Point-in-time recovery (35 days) protects the table; enrolling it in an AWS Backup plan "
                        "is the account's backup policy, not the construct's (tag or select it in your plan).")

    def apply_removal_policy(self, policy: RemovalPolicy) -> None:
        """Apply ``policy`` to the table (and to the key, when this construct created it)."""
        self.table.apply_removal_policy(policy)
        if self._own_key and isinstance(self.encryption_key, kms.Key):
            self.encryption_key.apply_removal_policy(policy)

    def add_to_resource_policy(self, statement: iam.PolicyStatement) -> iam.AddToResourcePolicyResult:
        """Grantees in other accounts: a statement in the table's resource-based policy."""
        return self.table.add_to_resource_policy(statement)

    @classmethod
    def from_mesh_state_table_attributes(cls, scope: Construct, id: str, *, table_arn: str,
                                         encryption_key: kms.IKey | None = None) -> IMeshStateTable:
        """Reference an existing table (``arn:...:dynamodb:<region>:<account>:table/<name>``) to grant on it."""
        problems = new_problems()
        arn_ok = isinstance(table_arn, str) and ":dynamodb:" in table_arn and ":table/" in table_arn
        if not problems.is_token(table_arn) and not arn_ok:
            problems.add("table_arn", table_arn, "must be a DynamoDB table ARN arn:aws:dynamodb:<region>:<account>:"
                                                 "table/<name>")
        raise_if_any(f"{cls.__name__}.from_mesh_state_table_attributes", problems)
        return _ImportedMeshStateTable(scope, id, table_arn=table_arn, encryption_key=encryption_key)


class _ImportedMeshStateTable(MeshStateTableBase):
    def __init__(self, scope: Construct, id: str, *, table_arn: str, encryption_key: kms.IKey | None) -> None:
        super().__init__(scope, id, **env_of_arn(table_arn))
        self.table_arn = table_arn
        self.table_name = str(Arn.split(table_arn, ArnFormat.SLASH_RESOURCE_NAME).resource_name)
        self.encryption_key = encryption_key
