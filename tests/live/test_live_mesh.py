"""Opt-in checks against a deployed mesh (`make test-live`): tenant isolation is enforced by real IAM.

Needs AWS credentials for a principal the token vending machine trusts (e.g. a role added with
`TokenVendingMachine.trust`) and the deployed stack's outputs in the environment:
MESH_REGION, MESH_VECTOR_BUCKET, MESH_INDEX_PREFIX, MESH_MEMORY_ID, MESH_TVM_ROLE_ARN, MESH_EMBEDDING_DIMENSION,
MESH_LIVE_TENANT and MESH_LIVE_OTHER_TENANT (two onboarded tenants). Without them every test skips.
"""

from __future__ import annotations

import os
import uuid

import pytest

pytestmark = pytest.mark.live

REQUIRED = ("MESH_REGION", "MESH_VECTOR_BUCKET", "MESH_MEMORY_ID", "MESH_TVM_ROLE_ARN", "MESH_LIVE_TENANT",
            "MESH_LIVE_OTHER_TENANT")


@pytest.fixture(scope="module")
def live():
    missing = [name for name in REQUIRED if not os.environ.get(name)]
    if missing:
        pytest.skip(f"live settings missing: {', '.join(missing)}")
    import boto3

    if boto3.Session().get_credentials() is None:
        pytest.skip("no AWS credentials")
    from runtime import LocalHashEmbedder, MemorySettings, S3VectorsMemoryStore, TenantCredentialBroker

    settings = MemorySettings.from_env()
    broker = TenantCredentialBroker(settings.tvm_role_arn, region=settings.region)
    store = S3VectorsMemoryStore(broker, bucket_name=settings.vector_bucket_name, index_prefix=settings.index_prefix,
                                 embedder=LocalHashEmbedder(settings.embedding_dimension))
    return settings, broker, store


def test_a_tenant_session_writes_reads_and_forgets_its_own_index(live):
    from runtime import Identity, MemoryQuery

    settings, _, store = live
    tenant = os.environ["MESH_LIVE_TENANT"]
    actor = f"live-{uuid.uuid4().hex[:12]}"
    identity = Identity(tenant_id=tenant, actor_id=actor)
    store.put_memory(identity, "the live test prefers tea", kind="fact")
    found = store.search(MemoryQuery(tenant_id=tenant, actor_id=actor, text="tea"))
    assert [r.content for r in found] == ["the live test prefers tea"]
    assert store.delete_actor(tenant, actor).deleted == 1


def test_iam_denies_another_tenants_index_with_a_tenant_session(live):
    from botocore.exceptions import ClientError

    settings, broker, _ = live
    tenant, other = os.environ["MESH_LIVE_TENANT"], os.environ["MESH_LIVE_OTHER_TENANT"]
    client = broker.client("s3vectors", tenant)
    with pytest.raises(ClientError) as err:
        client.list_vectors(vectorBucketName=settings.vector_bucket_name,
                            indexName=f"{settings.index_prefix}{other}", maxResults=1)
    assert err.value.response["Error"]["Code"] == "AccessDeniedException"


def test_iam_scopes_agentcore_record_reads_to_the_tenant(live):
    from botocore.exceptions import ClientError

    settings, broker, _ = live
    tenant, other = os.environ["MESH_LIVE_TENANT"], os.environ["MESH_LIVE_OTHER_TENANT"]
    client = broker.client("bedrock-agentcore", tenant)
    # Own tenant's namespace path: allowed (possibly empty).
    client.list_memory_records(memoryId=settings.memory_id, namespacePath=f"/facts/{tenant}:probe/", maxResults=1)
    with pytest.raises(ClientError) as err:
        client.list_memory_records(memoryId=settings.memory_id, namespacePath=f"/facts/{other}:probe/", maxResults=1)
    assert err.value.response["Error"]["Code"] == "AccessDeniedException"
