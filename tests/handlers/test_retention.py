"""The retention sweeper on every copy: old vectors in every user index, expired per-memory TTLs, old AgentCore
long-term records; deadline-aware and resumable through its cursor in the state table (a killed run too)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from runtime.contract import memory
from runtime.errors import MemoryMeshError
from runtime.handlers import retention
from runtime.identity import Identity
from runtime.lifecycle.retention import expired
from runtime.lifecycle.state import StateTable
from tests.handlers.lambda_events import FakeLambdaContext
from tests.handlers.lifecycle_helpers import seed_vectors, user_index
from tests.handlers.test_forget import TickingContext

DAY = 86_400
RETENTION_DAYS = 30  # mesh_env's MESH_RETENTION_DAYS
ALICE, BOB, CAROL = Identity("acme", "alice"), Identity("acme", "bob"), Identity("globex", "carol")
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=12,
)


def scheduled_event(event_id: str | None = None) -> dict[str, Any]:
    """An EventBridge Scheduler / scheduled-rule event."""
    return {"version": "0", "id": event_id or str(uuid.uuid4()), "detail-type": "Scheduled Event",
            "source": "aws.events", "account": "111111111111", "time": "2026-11-23T03:00:00Z",
            "region": "us-east-1", "resources": ["arn:aws:events:us-east-1:111111111111:rule/mesh-retention"],
            "detail": {}}


@pytest.fixture
def env(mesh_env: dict[str, str], state_table: str) -> Iterator[dict[str, str]]:
    retention.reset()
    yield mesh_env
    retention.reset()


def _days_ago(days: float) -> int:
    return int(time.time() - days * DAY)


def _contents(aws: Any, identity: Identity) -> list[int]:
    index = aws.s3vectors.index(aws.mesh.bucket_name, user_index(aws, identity))
    return sorted(int(v.key.rsplit("-", 1)[1]) for v in index.vectors.values())


def _old_records(aws: Any, monkeypatch: pytest.MonkeyPatch, identity: Identity, age_days: float, count: int) -> None:
    monkeypatch.setattr(aws.agentcore, "_clock", lambda: time.time() - age_days * DAY)
    for i in range(count):
        aws.agentcore.add_record(aws.mesh.memory_id, f"/facts/{identity.agentcore_actor_id}/", f"fact {age_days} {i}")
    monkeypatch.setattr(aws.agentcore, "_clock", None)


def test_one_retention_period_holds_for_vectors_ttls_and_long_term_records(aws, env, monkeypatch):
    seed_vectors(aws, ALICE, 3, stored_at=_days_ago(45))
    seed_vectors(aws, BOB, 2, stored_at=_days_ago(RETENTION_DAYS - 1))
    seed_vectors(aws, CAROL, 2, stored_at=_days_ago(400))
    # Fresh, but with a per-memory TTL that has passed: swept too.
    aws.client("s3vectors").put_vectors(vectorBucketName=aws.mesh.bucket_name, indexName=user_index(aws, BOB),
                                        vectors=[{"key": "v-bob-9", "data": {"float32": [0.3] * 256},
                                                  "metadata": {"actor": "bob", "stored_at": _days_ago(1),
                                                               "expires_at": _days_ago(0.5), "content": "ttl"}}])
    _old_records(aws, monkeypatch, ALICE, 45, 3)
    _old_records(aws, monkeypatch, BOB, 2, 2)
    # An index outside the prefix, and one inside it that is no user index: neither is the sweeper's.
    for name in ("archive-acme", "tenant-odd"):
        aws.create_index(aws.mesh.bucket_name, name, dimension=256, non_filterable_keys=("content",))

    report = retention.handler(scheduled_event(), FakeLambdaContext(900_000))

    assert report["complete"] is True and report["statusCode"] == 200
    assert report["deleted"] == {"s3vectors": 6, "agentcore_records": 3}
    assert report["indexes_swept"] == 3
    assert _contents(aws, ALICE) == [] and _contents(aws, BOB) == [0, 1] and _contents(aws, CAROL) == []
    facts = [r.text for r in aws.agentcore.records(aws.mesh.memory_id)]
    assert facts == ["fact 2 0", "fact 2 1"]

    again = retention.handler(scheduled_event(), FakeLambdaContext(900_000))
    assert again["run"] == report["run"] + 1 and again["deleted"] == {"s3vectors": 0, "agentcore_records": 0}


class Killed(BaseException):
    """The Lambda runtime ending an invocation (timeout, out of memory): nothing after it runs."""


def test_retention_resumes_after_a_kill(aws, env, monkeypatch):
    users = [Identity("acme", f"user{i}") for i in range(4)]
    for identity in users:
        seed_vectors(aws, identity, 5, stored_at=_days_ago(60))
    original = aws.s3vectors._op_delete_vectors
    deletes: list[str] = []

    def killed_on_the_third(params: dict[str, Any], region: str) -> Any:
        deletes.append(params["indexName"])
        answer = original(params, region)
        if len(deletes) == 3:
            raise Killed()
        return answer

    monkeypatch.setattr(aws.s3vectors, "_op_delete_vectors", killed_on_the_third)
    with pytest.raises(Killed):
        retention.handler(scheduled_event("run-1"), FakeLambdaContext(900_000))
    monkeypatch.setattr(aws.s3vectors, "_op_delete_vectors", original)
    listed_before = aws.call_count("s3vectors", "ListVectors")

    report = retention.handler(scheduled_event("run-2"), FakeLambdaContext(900_000))

    assert report["complete"] is True and report["run"] == 1 and report["invocations"] == 2
    assert all(_contents(aws, identity) == [] for identity in users)
    # It resumed: the two indexes finished before the kill were not listed again.
    assert aws.call_count("s3vectors", "ListVectors") - listed_before == 2
    # The kill came after the third index's delete but before its page was recorded: that index's vectors are
    # gone, uncounted; everything recorded before the kill was kept.
    assert report["deleted"]["s3vectors"] == 15


def test_a_run_stops_at_its_deadline_and_the_next_invocation_continues_it(aws, env):
    users = [Identity("acme", f"user{i}") for i in range(5)]
    for identity in users:
        seed_vectors(aws, identity, 2, stored_at=_days_ago(60))

    first = retention.handler(scheduled_event(), TickingContext(int(retention.RESERVE_S * 1000) + 1_000, 300))
    assert first["complete"] is False and 0 < first["indexes_swept"] < 5
    cursor = StateTable(aws.client("dynamodb"), str(aws.mesh.state_table)).get_cursor()
    assert cursor is not None and cursor["complete"] is False

    later = None
    for _ in range(10):
        later = retention.handler(scheduled_event(), TickingContext(int(retention.RESERVE_S * 1000) + 1_000, 300))
        if later["complete"]:
            break
    assert later is not None and later["complete"] and later["run"] == first["run"]
    assert later["deleted"]["s3vectors"] == 10


def test_a_missing_bucket_fails_the_invocation_loudly(aws, env, monkeypatch):
    monkeypatch.setenv("MESH_VECTOR_BUCKET", "no-such-bucket")
    with pytest.raises(MemoryMeshError, match="s3vectors ListIndexes failed: NotFoundException"):
        retention.handler(scheduled_event(), FakeLambdaContext(900_000))


def test_retention_uses_the_functions_own_role(aws, env):
    retention.handler(scheduled_event(), FakeLambdaContext(900_000))
    assert aws.iam.assume_role_calls() == []


def test_broken_configuration_raises_without_naming_values(aws, env, monkeypatch):
    monkeypatch.setenv("MESH_RETENTION_DAYS", "forever")
    with pytest.raises(Exception, match="function configuration is invalid: MESH_RETENTION_DAYS$"):
        retention.handler(scheduled_event(), FakeLambdaContext())


@pytest.mark.parametrize("metadata, now, cutoff, gone", [
    ({"stored_at": 10}, 100, 50, True),
    ({"stored_at": 60}, 100, 50, False),
    ({"stored_at": 60, "expires_at": 99}, 100, 50, True),
    ({"stored_at": 60, "expires_at": 101}, 100, 50, False),
    ({"stored_at": "0"}, 100, 50, False),
    ({"expires_at": True}, 100, None, False),
])
def test_what_counts_as_expired(metadata, now, cutoff, gone):
    assert expired(metadata, now_s=now, cutoff_s=cutoff) is gone


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(event=JSON_VALUES | st.builds(scheduled_event, st.text(max_size=40)))
def test_no_event_makes_retention_raise(aws, env, event):
    report = retention.handler(event, FakeLambdaContext(900_000))
    assert report["statusCode"] == 200 and report["complete"] is True


def test_list_page_sizes_are_the_service_maximums():
    assert memory.S3VECTORS.MAX_LIST_PAGE == 1000 and memory.AGENTCORE.MAX_PAGE == 100


def test_recall_ignores_a_memory_whose_ttl_has_passed(aws, env):
    from runtime.credentials import TenantCredentialBroker
    from runtime.embeddings import LocalHashEmbedder
    from runtime.records import MemoryQuery
    from runtime.stores import S3VectorsMemoryStore

    broker = TenantCredentialBroker(aws.mesh.tvm_role_arn, region=aws.region)
    store = S3VectorsMemoryStore(broker, bucket_name=aws.mesh.bucket_name, index_prefix="tenant-",
                                 embedder=LocalHashEmbedder(256))
    store.put_memory(ALICE, "I live in Lisbon.", kind="fact")
    index_name = user_index(aws, ALICE)
    index = aws.s3vectors.index(aws.mesh.bucket_name, index_name)
    key, vector = next(iter(index.vectors.items()))
    aws.client("s3vectors").put_vectors(vectorBucketName=aws.mesh.bucket_name, indexName=index_name, vectors=[
        {"key": key, "data": {"float32": [float(x) for x in vector.data]},
         "metadata": {**vector.metadata, "expires_at": _days_ago(0.01)}}])

    assert store.search(MemoryQuery("acme", "alice", "Where do I live?", top_k=5)) == []
