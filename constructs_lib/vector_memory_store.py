"""`VectorMemoryStore`: the S3 Vectors bucket of the memory home; each user's index is created at run time."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from aws_cdk import Annotations, Arn, ArnComponents, ArnFormat, RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3vectors as s3vectors
from aws_cdk.interfaces import ResourceEnvironment
from constructs import Construct

from runtime.contract import memory, rules
from runtime.contract.environment import DEFAULT_EMBEDDING_DIMENSION

from . import perms
from ._resource import MeshResource, env_of_arn
from .errors import new_problems, raise_if_any

__all__ = ["IVectorMemoryStore", "VectorMemoryStore", "VectorMemoryStoreBase"]

TENANT = f"${{aws:PrincipalTag/{memory.TENANT_TAG}}}"
ACTOR = f"${{aws:PrincipalTag/{memory.ACTOR_TAG}}}"


@runtime_checkable
class IVectorMemoryStore(Protocol):
    """A vector memory store, created here or imported: what consumers read and the grants they call."""

    vector_bucket_name: str
    vector_bucket_arn: str
    index_prefix: str
    dimension: int
    distance_metric: str
    encryption_key: kms.IKey | None

    @property
    def env(self) -> ResourceEnvironment:
        """The account and Region the resource lives in (an import's own, not the importing stack's)."""

    def index_arn(self, index_name: str) -> str:
        """ARN of one index of this bucket (``index_name`` may hold policy variables or a trailing ``*``)."""

    def tenant_indexes_arn(self, tenant_id: str | None = None) -> str:
        """Every user index of one tenant (``<prefix><tenant>.*``), or of every tenant (``<prefix>*``)."""

    def grant_read(self, grantee: iam.IGrantable, *, tenant_id: str | None = None) -> iam.Grant:
        """Get, list and query vectors and describe indexes: of one tenant, or of every tenant."""

    def grant_scan(self, grantee: iam.IGrantable, *, tenant_id: str | None = None) -> iam.Grant:
        """List vectors with their metadata (sweeps; no query): of one tenant, or of every tenant."""

    def grant_write(self, grantee: iam.IGrantable, *, tenant_id: str | None = None) -> iam.Grant:
        """Put vectors into existing indexes: of one tenant, or of every tenant."""

    def grant_delete(self, grantee: iam.IGrantable, *, tenant_id: str | None = None) -> iam.Grant:
        """Delete vectors (retention): of one tenant, or of every tenant."""

    def grant_delete_indexes(self, grantee: iam.IGrantable, *, tenant_id: str | None = None) -> iam.Grant:
        """Delete whole user indexes (forget-me, offboarding): of one tenant, or of every tenant."""

    def grant_list_indexes(self, grantee: iam.IGrantable) -> iam.Grant:
        """List the bucket's indexes (by prefix: one tenant's users); ListIndexes takes the bucket ARN."""

    def grant_session_access(self, grantee: iam.IGrantable, *, isolation: str,
                             worker_path: bool = False) -> iam.Grant:
        """ABAC for a vended session: only indexes named ``<prefix><TenantID>.*`` *and* tagged as its own."""


class VectorMemoryStoreBase(MeshResource):
    """Every grant of a vector memory store; `VectorMemoryStore` creates one, the importer references one."""

    _key_services = ("s3vectors",)
    vector_bucket_name: str
    vector_bucket_arn: str
    index_prefix: str
    dimension: int
    distance_metric: str

    def index_arn(self, index_name: str) -> str:
        """ARN of one index of this bucket (``index_name`` may hold policy variables or a trailing ``*``)."""
        return f"{self.vector_bucket_arn}/index/{index_name}"

    def tenant_indexes_arn(self, tenant_id: str | None = None) -> str:
        """Every user index of one tenant (``<prefix><tenant>.*``), or of every tenant (``<prefix>*``)."""
        if tenant_id is None:
            return self.index_arn(f"{self.index_prefix}*")
        problems = new_problems()
        problems.check(rules.TENANT_ID, "tenant_id", tenant_id, required=True, literal=True)
        raise_if_any("VectorMemoryStore.tenant_indexes_arn", problems)
        return self.index_arn(f"{memory.tenant_index_prefix(self.index_prefix, tenant_id)}*")

    def grant_read(self, grantee: iam.IGrantable, *, tenant_id: str | None = None) -> iam.Grant:
        """Get, list and query vectors and describe indexes: of one tenant, or of every tenant."""
        return self._grant(grantee, (*perms.VECTORS_READ, *perms.INDEX_READ), [self.tenant_indexes_arn(tenant_id)])

    def grant_scan(self, grantee: iam.IGrantable, *, tenant_id: str | None = None) -> iam.Grant:
        """List vectors with their metadata (sweeps; no query): of one tenant, or of every tenant."""
        return self._grant(grantee, perms.VECTORS_SCAN, [self.tenant_indexes_arn(tenant_id)])

    def grant_write(self, grantee: iam.IGrantable, *, tenant_id: str | None = None) -> iam.Grant:
        """Put vectors into existing indexes: of one tenant, or of every tenant."""
        return self._grant(grantee, perms.VECTORS_WRITE, [self.tenant_indexes_arn(tenant_id)])

    def grant_delete(self, grantee: iam.IGrantable, *, tenant_id: str | None = None) -> iam.Grant:
        """Delete vectors (retention): of one tenant, or of every tenant."""
        return self._grant(grantee, perms.VECTORS_DELETE, [self.tenant_indexes_arn(tenant_id)])

    def grant_delete_indexes(self, grantee: iam.IGrantable, *, tenant_id: str | None = None) -> iam.Grant:
        """Delete whole user indexes (forget-me, offboarding): of one tenant, or of every tenant."""
        return self._grant(grantee, perms.INDEX_DELETE, [self.tenant_indexes_arn(tenant_id)])

    def grant_list_indexes(self, grantee: iam.IGrantable) -> iam.Grant:
        """List the bucket's indexes (by prefix: one tenant's users); ListIndexes takes the bucket ARN."""
        return self._grant(grantee, perms.INDEXES_LIST, [self.vector_bucket_arn])

    def grant_session_access(self, grantee: iam.IGrantable, *, isolation: str,
                             worker_path: bool = False) -> iam.Grant:
        """ABAC for a vended session: only indexes named ``<prefix><TenantID>.*`` *and* tagged as its own.

        ``user`` isolation matches both the ``TenantID`` and ``ActorID`` index tags to the session's tags;
        ``tenant`` only ``TenantID``. Unless ``worker_path``, the session may also delete vectors and create its
        user's index on first write (tagged with exactly its own tags); it can never delete an index.
        """
        per_user = _isolation(isolation, "VectorMemoryStore.grant_session_access")
        own = {f"aws:ResourceTag/{memory.TENANT_TAG}": TENANT,
               **({f"aws:ResourceTag/{memory.ACTOR_TAG}": ACTOR} if per_user else {})}
        indexes = [self.index_arn(f"{self.index_prefix}{TENANT}.*")]
        actions = perms.WORKER_SESSION_VECTORS if worker_path else perms.SESSION_VECTORS
        grant = self._grant(grantee, actions, indexes, {"StringEquals": own})
        if not worker_path:
            requested = {f"aws:RequestTag/{memory.TENANT_TAG}": TENANT,
                         **({f"aws:RequestTag/{memory.ACTOR_TAG}": ACTOR} if per_user else {})}
            self._grant(grantee, perms.INDEX_CREATE_TAGGED, indexes, {
                "StringEquals": requested,
                "Null": {key: "false" for key in requested},
                "ForAllValues:StringEquals": {"aws:TagKeys": list(memory.SESSION_TAG_KEYS)},
                # TagResource on an existing index: only an index already tagged as the session's own.
                "StringEqualsIfExists": ({f"aws:ResourceTag/{memory.ACTOR_TAG}": ACTOR} if per_user
                                         else {f"aws:ResourceTag/{memory.TENANT_TAG}": TENANT}),
            })
        return grant


def _isolation(isolation: str, construct: str) -> bool:
    """True for ``user`` isolation; a PropsError for anything but the contract's levels."""
    problems = new_problems()
    problems.check_choice("isolation", isolation, memory.ISOLATION_LEVELS)
    raise_if_any(construct, problems)
    return isolation == memory.ISOLATION_USER


class VectorMemoryStore(VectorMemoryStoreBase):
    """An S3 Vectors bucket encrypted with a customer-managed key; the runtime creates each user's index.

    Layout: one index per (tenant, user), ``<index_prefix><tenant>.<hash of the user>``, created on the user's
    first write by the user's own vended session and tagged ``TenantID``/``ActorID`` (see the contract's
    ``memory.user_index_name``). The bucket holds at most 10,000 indexes (an S3 Vectors quota), so about
    10,000 users per bucket. Retained by default: no deploy deletes what users' agents remember.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        dimension: int = DEFAULT_EMBEDDING_DIMENSION,
        distance_metric: str = "cosine",
        index_prefix: str = "tenant-",
        encryption_key: kms.IKey | None = None,
        vector_bucket_name: str | None = None,
        removal_policy: RemovalPolicy = RemovalPolicy.RETAIN,
    ) -> None:
        """:param dimension: embedding dimension of every user index, 1-4096 (default 1024, Titan Text Embeddings V2).
        :param distance_metric: ``cosine`` (default) or ``euclidean``.
        :param index_prefix: literal; user indexes are named ``<index_prefix><tenant>.<user>`` (default ``tenant-``).
        :param encryption_key: customer-managed key; default a new key with rotation enabled.
        :param vector_bucket_name: default generated by CloudFormation; unique per account and Region.
        :param removal_policy: of the bucket and a key created here; default RETAIN.
        """
        super().__init__(scope, id, physical_name=vector_bucket_name)
        problems = new_problems()
        problems.check_range("dimension", dimension, 1, memory.S3VECTORS.MAX_DIMENSION)
        problems.check_choice("distance_metric", distance_metric, memory.DISTANCE_METRICS)
        problems.check(rules.INDEX_PREFIX, "index_prefix", index_prefix, required=True, literal=True)
        problems.check(rules.VECTOR_BUCKET_NAME, "vector_bucket_name", vector_bucket_name)
        raise_if_any(type(self).__name__, problems)

        self.dimension = dimension
        self.distance_metric = distance_metric
        self.index_prefix = index_prefix
        self._own_key = encryption_key is None
        self.encryption_key = encryption_key or kms.Key(
            self, "Key", enable_key_rotation=True, description="Agent Memory Mesh vector memory (S3 Vectors)",
            removal_policy=removal_policy)
        self.bucket = s3vectors.CfnVectorBucket(
            self, "Bucket",
            vector_bucket_name=vector_bucket_name,
            encryption_configuration=s3vectors.CfnVectorBucket.EncryptionConfigurationProperty(
                sse_type="aws:kms", kms_key_arn=self.encryption_key.key_arn),
        )
        self.bucket.apply_removal_policy(removal_policy)
        self.vector_bucket_arn = self.bucket.attr_vector_bucket_arn
        self.vector_bucket_name = vector_bucket_name or str(
            Arn.split(self.vector_bucket_arn, ArnFormat.SLASH_RESOURCE_NAME).resource_name)
        self._policy_document: iam.PolicyDocument | None = None
        self._policy: s3vectors.CfnVectorBucketPolicy | None = None
        self._allow_s3vectors_service_on_key()

    def apply_removal_policy(self, policy: RemovalPolicy) -> None:
        """Apply ``policy`` to the bucket (and to the key, when this store created it)."""
        self.bucket.apply_removal_policy(policy)
        if self._own_key and isinstance(self.encryption_key, kms.Key):
            self.encryption_key.apply_removal_policy(policy)

    def add_to_resource_policy(self, statement: iam.PolicyStatement) -> iam.AddToResourcePolicyResult:
        """Add a statement to the vector bucket policy, created on first use (an empty policy is invalid)."""
        if self._policy_document is None:
            self._policy_document = iam.PolicyDocument()
            self._policy = s3vectors.CfnVectorBucketPolicy(
                self, "Policy", vector_bucket_arn=self.vector_bucket_arn, policy=self._policy_document)
        self._policy_document.add_statements(statement)
        return iam.AddToResourcePolicyResult(statement_added=True, policy_dependable=self._policy)

    def _allow_s3vectors_service_on_key(self) -> None:
        # S3 Vectors decrypts with its indexing service principal in the background; the key policy must allow it,
        # limited to vector buckets of this account and Region (confused-deputy protection; naming the bucket's own
        # ARN here would make the key depend on the bucket that depends on the key).
        stack = Stack.of(self)
        assert self.encryption_key is not None
        self.encryption_key.add_to_resource_policy(iam.PolicyStatement(
            sid="AllowS3VectorsIndexing",
            principals=[iam.ServicePrincipal("indexing.s3vectors.amazonaws.com")],
            actions=["kms:Decrypt"],
            resources=["*"],
            conditions={
                "StringEquals": {"aws:SourceAccount": stack.account},
                "ArnLike": {"aws:SourceArn": Arn.format(ArnComponents(
                    service="s3vectors", resource="bucket", resource_name="*",
                    arn_format=ArnFormat.SLASH_RESOURCE_NAME), stack)},
            },
        ), allow_no_op=True)
        if not isinstance(self.encryption_key, kms.Key):
            Annotations.of(self).add_warning_v2(
                "@agent-memory-mesh/imported-key-policy",
                "encryption_key is imported, so its key policy cannot be changed here: allow "
                "indexing.s3vectors.amazonaws.com kms:Decrypt on it (see docs/constructs/vector-memory-store.md)")

    @classmethod
    def from_vector_memory_store_attributes(
        cls,
        scope: Construct,
        id: str,
        *,
        vector_bucket_arn: str,
        index_prefix: str = "tenant-",
        dimension: int = DEFAULT_EMBEDDING_DIMENSION,
        distance_metric: str = "cosine",
        encryption_key: kms.IKey | None = None,
    ) -> IVectorMemoryStore:
        """Reference an existing store (another stack, account or Region) to grant on it and to read its settings.

        :param vector_bucket_arn: ``arn:<partition>:s3vectors:<region>:<account>:bucket/<name>``; its account and
            Region are the store's (grants name its Region in ``kms:ViaService``).
        """
        problems = new_problems()
        problems.check(rules.VECTOR_BUCKET_ARN, "vector_bucket_arn", vector_bucket_arn, required=True)
        problems.check(rules.INDEX_PREFIX, "index_prefix", index_prefix, required=True, literal=True)
        problems.check_range("dimension", dimension, 1, memory.S3VECTORS.MAX_DIMENSION)
        problems.check_choice("distance_metric", distance_metric, memory.DISTANCE_METRICS)
        raise_if_any(f"{cls.__name__}.from_vector_memory_store_attributes", problems)
        return _ImportedVectorMemoryStore(scope, id, vector_bucket_arn=vector_bucket_arn, index_prefix=index_prefix,
                                          dimension=dimension, distance_metric=distance_metric,
                                          encryption_key=encryption_key)


class _ImportedVectorMemoryStore(VectorMemoryStoreBase):
    def __init__(self, scope: Construct, id: str, *, vector_bucket_arn: str, index_prefix: str, dimension: int,
                 distance_metric: str, encryption_key: kms.IKey | None) -> None:
        super().__init__(scope, id, **env_of_arn(vector_bucket_arn))
        self.vector_bucket_arn = vector_bucket_arn
        self.vector_bucket_name = str(Arn.split(vector_bucket_arn, ArnFormat.SLASH_RESOURCE_NAME).resource_name)
        self.index_prefix = index_prefix
        self.dimension = dimension
        self.distance_metric = distance_metric
        self.encryption_key = encryption_key
