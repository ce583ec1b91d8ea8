"""The retention sweeper Lambda against the S3 Vectors fake: old records go, in every tenant index, nothing else."""

from __future__ import annotations

import time
import uuid
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from runtime.credentials import TenantCredentialBroker
from runtime.embeddings import LocalHashEmbedder
from runtime.errors import UpstreamError
from runtime.handlers import retention
from runtime.identity import Identity
from runtime.stores import S3VectorsMemoryStore
from tests.handlers.lambda_events import FakeLambdaContext

BUCKET = "mesh-test-bucket"
DAY = 86_400
RETENTION_DAYS = 30  # mesh_env's MESH_RETENTION_DAYS
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=12,
)


def scheduled_event(event_id: str | None = None) -> dict[str, Any]:
    """An EventBridge Scheduler / scheduled-rule event."""
    return {
        "version": "0",
        "id": event_id or str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": "111111111111",
        "time": "2026-11-23T03:00:00Z",
        "region": "us-east-1",
        "resources": ["arn:aws:events:us-east-1:111111111111:rule/mesh-retention"],
        "detail": {},
    }


@pytest.fixture
def env(mesh_env: dict[str, str], tenants: tuple[str, ...]) -> dict[str, str]:
    retention.reset()
    yield mesh_env
    retention.reset()


def _store(aws: Any, stored_at: float) -> S3VectorsMemoryStore:
    broker = TenantCredentialBroker(aws.mesh.tvm_role_arn, region=aws.region)
    return S3VectorsMemoryStore(
        broker, bucket_name=BUCKET, index_prefix="tenant-", embedder=LocalHashEmbedder(256), clock=lambda: stored_at
    )


def _remember(aws: Any, identity: Identity, age_days: float, *facts: str) -> None:
    store = _store(aws, time.time() - age_days * DAY)
    for fact in facts:
        store.put_memory(identity, fact, kind="fact")


def _ix(aws: Any, tenant_id: str, actor_id: str) -> str:
    return aws.mesh.index_name(tenant_id, actor_id)


def _contents(aws: Any, index: str) -> set[str]:
    return {(v.metadata or {}).get("content") for v in aws.s3vectors.index(BUCKET, index).vectors.values()}


def _put_raw(aws: Any, index: str, key: str, stored_at: int) -> None:
    aws.client("s3vectors").put_vectors(
        vectorBucketName=BUCKET,
        indexName=index,
        vectors=[{"key": key, "data": {"float32": [1.0] + [0.0] * 255},
                  "metadata": {"actor": "x", "stored_at": stored_at, "content": key}}],
    )


def test_only_records_older_than_the_cutoff_are_deleted_in_every_tenant_index(aws, env, lambda_context):
    _remember(aws, Identity("acme", "alice"), 45, "acme old fact")
    _remember(aws, Identity("acme", "bob"), RETENTION_DAYS + 1, "acme just expired")
    _remember(aws, Identity("acme", "alice"), RETENTION_DAYS - 1, "acme still fresh")
    _remember(aws, Identity("globex", "carol"), 400, "globex ancient")
    _remember(aws, Identity("globex", "carol"), 1, "globex new")
    # An index outside the prefix, and one inside it that is no user index: neither is the sweeper's.
    aws.create_index(BUCKET, "archive-acme", dimension=256, non_filterable_keys=("content",))
    _put_raw(aws, "archive-acme", "archived", stored_at=0)
    aws.create_index(BUCKET, "tenant-odd.name", dimension=256, non_filterable_keys=("content",))
    _put_raw(aws, "tenant-odd.name", "odd", stored_at=0)
    aws.create_index(BUCKET, "tenant-odd", dimension=256, non_filterable_keys=("content",))

    before = int(time.time())
    report = retention.handler(scheduled_event(), lambda_context)

    assert before - RETENTION_DAYS * DAY <= report["cutoff"] <= int(time.time()) - RETENTION_DAYS * DAY
    alice, bob, carol = _ix(aws, "acme", "alice"), _ix(aws, "acme", "bob"), _ix(aws, "globex", "carol")
    # 'tenant-odd.name' has the shape of a user index of tenant 'odd': it is swept like one.
    assert report["deleted_per_index"] == {alice: 1, bob: 1, carol: 1, "tenant-odd.name": 1}
    assert report["deleted"] == 4 and report["statusCode"] == 200 and report["complete"] is True
    assert report["skipped"] == ["tenant-odd"] and report["failed"] == {}
    assert report["indexes_total"] == 5 and report["indexes_swept"] == 4
    assert _contents(aws, alice) == {"acme still fresh"} and _contents(aws, bob) == set()
    assert _contents(aws, carol) == {"globex new"}
    assert _contents(aws, "archive-acme") == {"archived"}
    assert _contents(aws, "tenant-odd.name") == set()

    again = retention.handler(scheduled_event(), lambda_context)
    assert again["deleted"] == 0


def test_vectors_without_a_numeric_stored_at_are_left_alone(aws, env, lambda_context):
    index = _ix(aws, "acme", "alice")
    aws.create_index(BUCKET, index, dimension=256, non_filterable_keys=("content",))
    aws.client("s3vectors").put_vectors(
        vectorBucketName=BUCKET,
        indexName=index,
        vectors=[{"key": "foreign", "data": {"float32": [1.0] + [0.0] * 255}, "metadata": {"stored_at": "0"}}],
    )
    assert retention.handler(scheduled_event(), lambda_context)["deleted"] == 0
    assert list(aws.s3vectors.index(BUCKET, index).vectors) == ["foreign"]


def test_index_listing_follows_next_tokens(aws, env, lambda_context, monkeypatch):
    monkeypatch.setattr(retention, "_LIST_PAGE", 1)
    for tenant in ("acme", "globex", "initech"):
        _remember(aws, Identity(tenant, "alice"), 90, f"{tenant} old")
    report = retention.handler(scheduled_event(), lambda_context)
    assert report["deleted_per_index"] == {_ix(aws, t, "alice"): 1 for t in ("acme", "globex", "initech")}


def test_a_failing_index_is_reported_and_raised_after_the_others_are_swept(aws, env, lambda_context, monkeypatch):
    _remember(aws, Identity("acme", "alice"), 90, "acme old")
    _remember(aws, Identity("globex", "carol"), 90, "globex old")
    from runtime.testing import ServiceError

    original = aws.s3vectors._op_list_vectors

    def acme_unavailable(params: dict[str, Any], region: str) -> Any:
        if params.get("indexName") == _ix(aws, "acme", "alice"):
            raise ServiceError("ServiceUnavailableException", "scripted outage")
        return original(params, region)

    monkeypatch.setattr(aws.s3vectors, "_op_list_vectors", acme_unavailable)
    failing = _ix(aws, "acme", "alice")
    with pytest.raises(UpstreamError, match=rf"retention failed for 1 of 2 index\(es\) \({failing}\)"):
        retention.handler(scheduled_event(), lambda_context)

    assert _contents(aws, _ix(aws, "acme", "alice")) == {"acme old"}
    assert _contents(aws, _ix(aws, "globex", "carol")) == set()


def test_a_run_stops_at_its_time_budget_and_later_runs_reach_every_index(aws, env):
    indexes = {_ix(aws, tenant, "alice") for tenant in ("acme", "globex", "initech")}
    for index in indexes:
        aws.create_index(BUCKET, index, dimension=256, non_filterable_keys=("content",))
    short = FakeLambdaContext(remaining_ms=retention.INDEX_RESERVE_MS - 1)

    first = retention.handler(scheduled_event("run-1"), short)
    assert first["indexes_swept"] == 1 and first["complete"] is False
    assert len(first["not_reached"]) == 2
    assert set(first["deleted_per_index"]) | set(first["not_reached"]) == indexes
    swept_first = set()
    for run in range(30):
        swept_first |= set(retention.handler(scheduled_event(f"run-{run}"), short)["deleted_per_index"])
    assert swept_first == indexes


def test_retention_uses_the_functions_own_role(aws, env, lambda_context):
    retention.handler(scheduled_event(), lambda_context)
    assert aws.iam.assume_role_calls() == []


def test_broken_configuration_raises_without_naming_values(aws, env, lambda_context, monkeypatch):
    monkeypatch.setenv("MESH_RETENTION_DAYS", "forever")
    with pytest.raises(Exception, match="function configuration is invalid: MESH_RETENTION_DAYS$"):
        retention.handler(scheduled_event(), lambda_context)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(event=JSON_VALUES | st.builds(scheduled_event, st.text(max_size=40)))
def test_no_event_makes_retention_raise(aws, env, event):
    report = retention.handler(event, FakeLambdaContext())
    assert report["statusCode"] == 200 and report["complete"] is True
