"""The runtime and its test emulation agree with the constructs on names, tags and namespace roots."""

from __future__ import annotations


def test_abac_simulator_mirrors_the_tvm_policy():
    from constructs_lib import agent_memory, naming, perms
    from runtime.testing import abac

    assert abac.NAMESPACE_ROOTS == agent_memory.NAMESPACE_ROOTS
    assert (abac.TENANT_TAG, abac.ACTOR_TAG) == (naming.TENANT_TAG, naming.ACTOR_TAG)
    granted_events = {a.split(":")[1] for a in (*perms.MEMORY_EVENTS_WRITE, *perms.MEMORY_EVENTS_READ)}
    assert abac.AGENTCORE_ACTOR_ACTIONS == granted_events
    assert abac.AGENTCORE_NAMESPACE_ACTIONS == {a.split(":")[1] for a in perms.MEMORY_RECORDS_READ}
    assert abac.S3VECTORS_TENANT_ACTIONS == {a.split(":")[1] for a in (
        *perms.VECTORS_READ, *perms.VECTORS_WRITE, *perms.VECTORS_DELETE)}


def test_runtime_tags_match_the_constructs():
    from constructs_lib import naming
    from runtime import credentials

    assert (credentials.TENANT_TAG_KEY, credentials.ACTOR_TAG_KEY) == (naming.TENANT_TAG, naming.ACTOR_TAG)


def test_config_knows_the_runtimes_embedding_models():
    from runtime.embeddings import MODEL_DIMENSIONS
    from stacks.config import EMBEDDING_MODEL_DIMENSIONS

    assert EMBEDDING_MODEL_DIMENSIONS == MODEL_DIMENSIONS
