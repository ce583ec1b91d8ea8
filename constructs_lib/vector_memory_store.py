"""`VectorMemoryStore`: an S3 Vectors bucket with one index per tenant, KMS-encrypted, with scoped grants."""

from __future__ import annotations

from typing import Sequence

import jsii
from aws_cdk import Annotations, Arn, ArnComponents, ArnFormat, RemovalPolicy, Resource, Stack, Token
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3vectors as s3vectors
from constructs import Construct

from . import perms
from .encryption import grant_key_via_service
from .naming import (
    INDEX_PREFIX_PATTERN,
    MAX_INDEX_NAME_LENGTH,
    MIN_INDEX_NAME_LENGTH,
    TENANT_ID_MAX,
    TENANT_ID_MIN,
    TENANT_ID_PATTERN,
    TENANT_TAG,
    VECTOR_BUCKET_NAME_PATTERN,
)
from .validation import Problems, PropsError

#: Filterable metadata the runtime writes (DESIGN.md); everything else must be declared non-filterable.
FILTERABLE_METADATA_KEYS = ("actor", "agent", "session", "type", "stored_at")
#: Large metadata the runtime stores but never filters on (S3 Vectors: filterable metadata is capped at 2 KB).
DEFAULT_NON_FILTERABLE_KEYS = ("content",)
# S3 Vectors: up to 10 non-filterable metadata keys per index, each 1-63 characters.
MAX_NON_FILTERABLE_KEYS = 10
DISTANCE_METRICS = ("cosine", "euclidean")


class IVectorMemoryStore:
    """What consumers of a vector memory store rely on (implemented by `VectorMemoryStore` and its imports)."""

    vector_bucket_name: str
    vector_bucket_arn: str
    index_prefix: str
    encryption_key: kms.IKey | None

    def index_arn(self, index_name: str) -> str:  # pragma: no cover - interface
        raise NotImplementedError


@jsii.implements(iam.IResourceWithPolicyV2)
class _VectorMemoryStoreBase(Resource, IVectorMemoryStore):
    """Holds every grant; subclasses provide the bucket name/ARN and the policy resource."""

    vector_bucket_name: str
    vector_bucket_arn: str
    index_prefix: str
    encryption_key: kms.IKey | None
    _policy_document: iam.PolicyDocument | None = None

    def index_arn(self, index_name: str) -> str:
        """ARN of one index in this bucket (`index_name` may contain policy variables)."""
        return f"{self.vector_bucket_arn}/index/{index_name}"

    def tenant_index_arn(self, tenant_id: str) -> str:
        return self.index_arn(f"{self.index_prefix}{tenant_id}")

    @property
    def tagged_tenant_index_arn(self) -> str:
        """The index whose name is `<prefix>${aws:PrincipalTag/TenantID}`: the only index a tenant session reaches."""
        return self.index_arn(f"{self.index_prefix}${{aws:PrincipalTag/{TENANT_TAG}}}")

    # ---- grants ------------------------------------------------------------------------------------------

    def _grant(self, grantee: iam.IGrantable, actions: Sequence[str], resource_arns: Sequence[str]) -> iam.Grant:
        return iam.Grant.add_to_principal_or_resource(
            grantee=grantee, actions=list(actions), resource_arns=list(resource_arns), resource=self
        )

    def _grant_key(self, grantee: iam.IGrantable) -> None:
        if self.encryption_key is not None:
            grant_key_via_service(self.encryption_key, grantee, "s3vectors")

    def grant_read(self, grantee: iam.IGrantable, *, tenant_ids: Sequence[str] | None = None) -> iam.Grant:
        """Query, get and list vectors; on the named tenants' indexes, or every index of this bucket."""
        self._grant_key(grantee)
        return self._grant(grantee, perms.VECTORS_READ, self._index_arns(tenant_ids))

    def grant_write(self, grantee: iam.IGrantable, *, tenant_ids: Sequence[str] | None = None) -> iam.Grant:
        """Put vectors (and read the index they go to)."""
        self._grant_key(grantee)
        return self._grant(grantee, (*perms.VECTORS_WRITE, "s3vectors:GetIndex"), self._index_arns(tenant_ids))

    def grant_delete(self, grantee: iam.IGrantable, *, tenant_ids: Sequence[str] | None = None) -> iam.Grant:
        """Delete vectors, plus the list/get needed to find an actor's records (erasure, retention)."""
        self._grant_key(grantee)
        return self._grant(
            grantee,
            (*perms.VECTORS_DELETE, "s3vectors:ListVectors", "s3vectors:GetVectors", "s3vectors:GetIndex"),
            self._index_arns(tenant_ids),
        )

    def grant_create_indexes(self, grantee: iam.IGrantable) -> iam.Grant:
        """Create and describe tenant indexes at run time (onboarding), never delete them."""
        self._grant_key(grantee)
        return self._grant(grantee, ("s3vectors:CreateIndex", "s3vectors:GetIndex"),
                           [self.index_arn(f"{self.index_prefix}*")])

    def grant_manage_indexes(self, grantee: iam.IGrantable) -> iam.Grant:
        """Create, describe and delete tenant indexes at run time (onboarding); list indexes on the bucket."""
        self._grant_key(grantee)
        grant = self._grant(grantee, perms.INDEX_MANAGE_ON_INDEX, [self.index_arn(f"{self.index_prefix}*")])
        self._grant(grantee, perms.INDEX_MANAGE_ON_BUCKET, [self.vector_bucket_arn])
        return grant

    def grant_tenant_scoped(
        self, grantee: iam.IGrantable, *, read: bool = True, write: bool = True, delete: bool = True
    ) -> iam.Grant:
        """Data-plane access to exactly the index of the caller's `TenantID` session tag (ABAC)."""
        actions: list[str] = []
        if read:
            actions += perms.VECTORS_READ
        if write:
            actions += perms.VECTORS_WRITE
        if delete:
            actions += perms.VECTORS_DELETE
        if not actions:
            raise PropsError(type(self).__name__, ["grant_tenant_scoped(): at least one of read, write, delete"])
        self._grant_key(grantee)
        return self._grant(grantee, sorted(set(actions)), [self.tagged_tenant_index_arn])

    def _index_arns(self, tenant_ids: Sequence[str] | None) -> list[str]:
        if tenant_ids is None:
            return [self.index_arn(f"{self.index_prefix}*")]
        return [self.tenant_index_arn(t) for t in tenant_ids]

    # ---- resource policy (cross-account grantees) ---------------------------------------------------------

    _auto_create_policy = False
    _policy_resource: s3vectors.CfnVectorBucketPolicy | None = None

    def add_to_resource_policy(self, statement: iam.PolicyStatement) -> iam.AddToResourcePolicyResult:
        """Add a statement to the vector bucket policy, created on first use (an empty policy is invalid)."""
        if self._policy_document is None:
            if not self._auto_create_policy:
                return iam.AddToResourcePolicyResult(statement_added=False)
            self._policy_document = iam.PolicyDocument()
            self._policy_resource = s3vectors.CfnVectorBucketPolicy(
                self, "Policy", vector_bucket_arn=self.vector_bucket_arn, policy=self._policy_document
            )
        self._policy_document.add_statements(statement)
        return iam.AddToResourcePolicyResult(statement_added=True, policy_dependable=self._policy_resource)


class VectorMemoryStore(_VectorMemoryStoreBase):
    """An S3 Vectors bucket encrypted with a customer-managed KMS key and one index per declared tenant.

    Secure defaults: SSE-KMS with the given key, or a new key with rotation on; indexes only for validated tenant
    ids; grants never name `bucket/*` — the tenant-scoped grant names the one index of the caller's tenant tag.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        dimension: int = 1024,
        distance_metric: str = "cosine",
        index_prefix: str = "tenant-",
        tenant_ids: Sequence[str] = (),
        encryption_key: kms.IKey | None = None,
        vector_bucket_name: str | None = None,
        non_filterable_metadata_keys: Sequence[str] = DEFAULT_NON_FILTERABLE_KEYS,
        removal_policy: RemovalPolicy = RemovalPolicy.RETAIN,
    ) -> None:
        """
        :param dimension: embedding dimension of every index, 1-4096 (default 1024, Titan Text Embeddings V2).
        :param distance_metric: "cosine" (default) or "euclidean".
        :param index_prefix: tenant indexes are named `<index_prefix><tenant_id>` (default "tenant-").
        :param tenant_ids: tenants whose index is created at deploy time; onboard others at run time.
        :param encryption_key: customer-managed key; default a new key with rotation enabled.
        :param vector_bucket_name: default: generated by CloudFormation.
        :param non_filterable_metadata_keys: metadata stored but never filtered on (default: "content").
        :param removal_policy: for the bucket, its indexes and a key created here; default RETAIN, so removing a
            tenant from the config, renaming the prefix or deleting the stack never deletes stored memories.
        """
        super().__init__(scope, id, physical_name=vector_bucket_name)
        problems = Problems()
        problems.check_range("dimension", dimension, 1, 4096)
        if distance_metric not in DISTANCE_METRICS:
            problems.add("distance_metric", distance_metric, f"must be one of {', '.join(DISTANCE_METRICS)}")
        problems.check_pattern("index_prefix", index_prefix, INDEX_PREFIX_PATTERN,
                               "1-20 lowercase letters, digits, '-' or '.', starting with a letter or digit")
        problems.check_pattern("vector_bucket_name", vector_bucket_name, VECTOR_BUCKET_NAME_PATTERN,
                               "3-63 lowercase letters, digits and '-', starting and ending with a letter or digit")
        keys = list(non_filterable_metadata_keys)
        if not 1 <= len(keys) <= MAX_NON_FILTERABLE_KEYS or len(set(keys)) != len(keys):
            problems.add("non_filterable_metadata_keys", keys,
                         f"1-{MAX_NON_FILTERABLE_KEYS} distinct keys (S3 Vectors limit)")
        for k in keys:
            if k in FILTERABLE_METADATA_KEYS:
                problems.add("non_filterable_metadata_keys", k,
                             f"the runtime filters on {', '.join(FILTERABLE_METADATA_KEYS)}; they must stay filterable")
            elif not isinstance(k, str) or not 1 <= len(k) <= 63:
                problems.add("non_filterable_metadata_keys", k, "keys are 1-63 characters")
        for t in tenant_ids:
            self._check_tenant(problems, "tenant_ids", t, index_prefix)
        if len(set(tenant_ids)) != len(list(tenant_ids)):
            problems.add("tenant_ids", list(tenant_ids), "each tenant may be listed once")
        problems.raise_if_any(type(self).__name__)

        self.dimension = dimension
        self.distance_metric = distance_metric
        self.index_prefix = index_prefix
        self.non_filterable_metadata_keys = tuple(keys)
        self.removal_policy = removal_policy
        self.encryption_key = encryption_key or kms.Key(
            self, "Key", enable_key_rotation=True, description="Agent Memory Mesh vector memory (S3 Vectors)",
            removal_policy=removal_policy)

        self.bucket = s3vectors.CfnVectorBucket(
            self,
            "Bucket",
            vector_bucket_name=vector_bucket_name,
            encryption_configuration=s3vectors.CfnVectorBucket.EncryptionConfigurationProperty(
                sse_type="aws:kms", kms_key_arn=self.encryption_key.key_arn
            ),
        )
        self.bucket.apply_removal_policy(removal_policy)
        self.vector_bucket_arn = self.bucket.attr_vector_bucket_arn
        self.vector_bucket_name = vector_bucket_name or str(
            Arn.split(self.vector_bucket_arn, ArnFormat.SLASH_RESOURCE_NAME).resource_name)
        self._allow_s3vectors_service_on_key()

        self.indexes: dict[str, s3vectors.CfnIndex] = {}
        for tenant in tenant_ids:
            self.add_tenant_index(tenant)

        self._auto_create_policy = True

    @staticmethod
    def _check_tenant(problems: Problems, prop: str, tenant: str, prefix: str) -> None:
        if not isinstance(tenant, str) or not TENANT_ID_PATTERN.match(tenant) or not (
            TENANT_ID_MIN <= len(tenant) <= TENANT_ID_MAX
        ):
            problems.add(prop, tenant, f"tenant ids are {TENANT_ID_MIN}-{TENANT_ID_MAX} lowercase letters, digits and "
                                       "'-', starting and ending with a letter or digit")
            return
        name = prefix + tenant
        if not MIN_INDEX_NAME_LENGTH <= len(name) <= MAX_INDEX_NAME_LENGTH:
            problems.add(prop, tenant, f"index name {name!r} must be {MIN_INDEX_NAME_LENGTH}-{MAX_INDEX_NAME_LENGTH} "
                                       "characters (S3 Vectors)")

    def add_tenant_index(self, tenant_id: str) -> s3vectors.CfnIndex:
        """Create the index `<prefix><tenant_id>` at deploy time (idempotent per tenant within this store)."""
        if tenant_id in self.indexes:
            return self.indexes[tenant_id]
        problems = Problems()
        self._check_tenant(problems, "tenant_id", tenant_id, self.index_prefix)
        problems.raise_if_any(f"{type(self).__name__}.add_tenant_index")
        index = s3vectors.CfnIndex(
            self,
            f"Index-{tenant_id}",
            vector_bucket_arn=self.vector_bucket_arn,
            index_name=f"{self.index_prefix}{tenant_id}",
            data_type="float32",
            dimension=self.dimension,
            distance_metric=self.distance_metric,
            metadata_configuration=s3vectors.CfnIndex.MetadataConfigurationProperty(
                non_filterable_metadata_keys=list(self.non_filterable_metadata_keys)
            ),
            encryption_configuration=s3vectors.CfnIndex.EncryptionConfigurationProperty(
                sse_type="aws:kms", kms_key_arn=self.encryption_key.key_arn
            ),
        )
        index.apply_removal_policy(self.removal_policy)
        self.indexes[tenant_id] = index
        return index

    def _allow_s3vectors_service_on_key(self) -> None:
        # S3 Vectors decrypts with its indexing service principal in the background; the key policy must allow it,
        # limited to vector buckets of this account and region (confused-deputy protection; naming the bucket's own
        # ARN here would make the key depend on the bucket that depends on the key).
        stack = Stack.of(self)
        self.encryption_key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AllowS3VectorsIndexing",
                principals=[iam.ServicePrincipal("indexing.s3vectors.amazonaws.com")],
                actions=["kms:Decrypt"],
                resources=["*"],
                conditions={
                    "StringEquals": {"aws:SourceAccount": stack.account},
                    "ArnLike": {"aws:SourceArn": Arn.format(
                        ArnComponents(service="s3vectors", resource="bucket", resource_name="*",
                                      arn_format=ArnFormat.SLASH_RESOURCE_NAME), stack)},
                },
            ),
            allow_no_op=True,
        )
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
        encryption_key: kms.IKey | None = None,
    ) -> "_VectorMemoryStoreBase":
        """Import an existing store (e.g. from another stack or account) to grant on it."""
        problems = Problems()
        problems.check_pattern("index_prefix", index_prefix, INDEX_PREFIX_PATTERN,
                               "1-20 lowercase letters, digits, '-' or '.', starting with a letter or digit")
        if not Token.is_unresolved(vector_bucket_arn) and ":s3vectors:" not in vector_bucket_arn:
            problems.add("vector_bucket_arn", vector_bucket_arn, "must be an arn:<partition>:s3vectors:... bucket ARN")
        problems.raise_if_any(f"{cls.__name__}.from_vector_memory_store_attributes")
        return _ImportedVectorMemoryStore(scope, id, vector_bucket_arn=vector_bucket_arn, index_prefix=index_prefix,
                                          encryption_key=encryption_key)


class _ImportedVectorMemoryStore(_VectorMemoryStoreBase):
    def __init__(self, scope: Construct, id: str, *, vector_bucket_arn: str, index_prefix: str,
                 encryption_key: kms.IKey | None) -> None:
        parsed = Arn.split(vector_bucket_arn, ArnFormat.SLASH_RESOURCE_NAME)
        super().__init__(scope, id, account=parsed.account, region=parsed.region)
        self.vector_bucket_arn = vector_bucket_arn
        self.vector_bucket_name = str(parsed.resource_name)
        self.index_prefix = index_prefix
        self.encryption_key = encryption_key
