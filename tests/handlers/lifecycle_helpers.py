"""Seeding and reading one user's data in every store, for the forget, offboarding and retention tests."""

from __future__ import annotations

import functools
from typing import Any

from runtime.contract import memory
from runtime.credentials import TenantCredentialBroker
from runtime.identity import Identity
from runtime.stores.agentcore import AgentCoreMemoryBackend

INDEX_PREFIX = "tenant-"
DIMENSION = 256


def user_index(aws: Any, identity: Identity) -> str:
    return memory.user_index_name(aws.mesh.index_prefix, identity.tenant_id, identity.actor_id)


def create_user_index(aws: Any, identity: Identity) -> str:
    """The user's index, tagged as the user's first write tags it."""
    name = user_index(aws, identity)
    aws.client("s3vectors").create_index(
        vectorBucketName=aws.mesh.bucket_name, indexName=name, dataType="float32", dimension=aws.mesh.dimension,
        distanceMetric="cosine",
        metadataConfiguration={"nonFilterableMetadataKeys": list(aws.mesh.non_filterable_keys)},
        tags={memory.TENANT_TAG: identity.tenant_id, memory.ACTOR_TAG: identity.actor_id})
    return name


def seed_vectors(aws: Any, identity: Identity, count: int, *, stored_at: int = 1_700_000_000,
                 extra: dict[str, Any] | None = None) -> str:
    """``count`` vectors in the user's own index (created tagged as a first write would), with setup credentials."""
    name = user_index(aws, identity)
    client = aws.client("s3vectors")
    existing = {i["indexName"] for i in client.list_indexes(vectorBucketName=aws.mesh.bucket_name,
                                                             prefix=name)["indexes"]}
    if name not in existing:
        create_user_index(aws, identity)
    vectors = [{"key": f"v-{identity.actor_id}-{i}", "data": {"float32": [0.5 + (i % 7) * 0.01] * aws.mesh.dimension},
                "metadata": {"actor": identity.actor_id, "type": "fact", "stored_at": stored_at,
                             "content": f"fact {i}", **(extra or {})}}
               for i in range(count)]
    for start in range(0, len(vectors), 500):
        client.put_vectors(vectorBucketName=aws.mesh.bucket_name, indexName=name, vectors=vectors[start:start + 500])
    return name


def backend(aws: Any) -> AgentCoreMemoryBackend:
    broker = TenantCredentialBroker(aws.mesh.tvm_role_arn, region=aws.region)
    return AgentCoreMemoryBackend(functools.partial(broker.client, "bedrock-agentcore"), memory_id=aws.mesh.memory_id)


def seed_turns(aws: Any, identity: Identity, *texts: str, session_id: str = "s-1", extract: bool = True) -> None:
    """Turns as events through the user's vended session; then AgentCore's extraction makes long-term records."""
    memory_backend = backend(aws)
    for text in texts:
        memory_backend.record_turn(identity, session_id, "USER", text, agent="supervisor")
    if extract:
        aws.agentcore.extract(aws.mesh.memory_id, actor_id=identity.agentcore_actor_id)


def held(aws: Any, identity: Identity) -> dict[str, int]:
    """How many vectors (in the user's index), events and long-term records of the user the fakes hold."""
    name = user_index(aws, identity)
    try:
        vectors = len(aws.s3vectors.index(aws.mesh.bucket_name, name).vectors)
    except Exception:  # noqa: BLE001 - no index: nothing held
        vectors = 0
    events = len(aws.agentcore.events(aws.mesh.memory_id, actor_id=identity.agentcore_actor_id))
    segment = f"/{identity.agentcore_actor_id}/"
    records = len([r for r in aws.agentcore.records(aws.mesh.memory_id) if segment in r.namespace])
    return {"vectors": vectors, "events": events, "records": records}
