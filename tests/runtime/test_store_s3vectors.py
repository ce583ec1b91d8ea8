"""S3VectorsMemoryStore against emulated AWS: moto STS, the S3 Vectors fake and IAM evaluating the synthesized TVM.

Every store here gets its clients from a real TenantCredentialBroker, so each call carries TenantID/ActorID
session tags and the emulation evaluates the TVM policy the constructs synthesize for that session.
"""

from __future__ import annotations

import hashlib
import threading
from concurrent.futures import ThreadPoolExecutor

import boto3
import pytest
from botocore.stub import Stubber

from runtime.credentials import TenantCredentialBroker
from runtime.embeddings import LocalHashEmbedder
from runtime.errors import (
    AccessDeniedError,
    InvalidInputError,
    UpstreamError,
    UpstreamTimeoutError,
)
from runtime.identity import Identity
from runtime.records import MemoryBackend, MemoryQuery
from runtime.stores import MemoryDraft, S3VectorsMemoryStore, summary_key
from runtime.stores._limits import NON_FILTERABLE_KEYS

DIM = 256  # the conftest mesh's index dimension
NOW = 1_700_000_000
ALICE = Identity("acme", "alice")
BOB = Identity("acme", "bob")
GLOBEX_ALICE = Identity("globex", "alice")


class _Clock:
    def __init__(self, now: float = NOW) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class _FixedEmbedder:
    """Returns one fixed vector for every text (to exercise zero, NaN and wrong-size embeddings)."""

    def __init__(self, vector: list[float], dimension: int = DIM) -> None:
        self.vector = vector
        self.dimension = dimension

    def embed(self, texts, *, for_query=False):
        return [list(self.vector) for _ in texts]

    def embed_one(self, text, *, for_query=False):
        return list(self.vector)


@pytest.fixture
def clock() -> _Clock:
    return _Clock()


@pytest.fixture
def broker(aws) -> TenantCredentialBroker:
    return TenantCredentialBroker(aws.mesh.tvm_role_arn, region=aws.region)


@pytest.fixture
def make_store(aws, broker, clock):
    def make(embedder=None, store_class=S3VectorsMemoryStore, **kwargs) -> S3VectorsMemoryStore:
        kwargs.setdefault("clock", clock)
        return store_class(
            broker,
            bucket_name=aws.mesh.bucket_name,
            index_prefix=aws.mesh.index_prefix,
            embedder=embedder or LocalHashEmbedder(DIM),
            **kwargs,
        )

    return make


@pytest.fixture
def store(make_store) -> S3VectorsMemoryStore:
    return make_store(index_dimension=DIM)


def _vectors(aws, tenant_id: str) -> dict:
    """Every stored vector of the tenant's user indexes, straight from the fake's state."""
    indexes = aws.s3vectors.bucket(aws.mesh.bucket_name).indexes
    prefix = f"{aws.mesh.index_prefix}{tenant_id}."
    return {key: v for name, index in indexes.items() if name.startswith(prefix) for key, v in index.vectors.items()}


def _data_calls(aws) -> int:
    """S3 Vectors data-plane calls so far (setup calls such as CreateIndex are not counted)."""
    return sum(aws.call_count("s3vectors", op) for op in ("PutVectors", "QueryVectors", "ListVectors", "DeleteVectors"))


def _query(identity: Identity, text: str, **kwargs) -> MemoryQuery:
    return MemoryQuery(tenant_id=identity.tenant_id, actor_id=identity.actor_id, text=text, **kwargs)


# -- round trip and metadata ---------------------------------------------------------------------------


def test_round_trip_put_and_search(aws, store: S3VectorsMemoryStore) -> None:
    assert isinstance(store, MemoryBackend) and store.name == "s3vectors"
    store.put_memory(ALICE, "prefers window seats on long flights", kind="preference", agent="travel")
    store.put_memory(ALICE, "allergic to peanuts", kind="fact", session_id="s-1")
    store.put_memory(ALICE, "works on the billing migration project", kind="note")

    records = store.search(_query(ALICE, "window seats flights", top_k=2))

    assert len(records) == 2
    top = records[0]
    assert top.content == "prefers window seats on long flights"
    assert (top.tenant_id, top.actor_id, top.kind, top.source, top.agent, top.stored_at) == (
        "acme", "alice", "preference", "s3vectors", "travel", NOW,
    )
    assert records[1].score is not None and top.score is not None
    assert 0 < records[1].score <= top.score <= 1.0


def test_metadata_layout_follows_the_data_model(aws, store) -> None:
    key = store.put_memory(ALICE, "allergic to peanuts", kind="fact", agent="health", session_id="s-1")

    stored = _vectors(aws, "acme")[key]
    assert stored.metadata == {
        "actor": "alice", "type": "fact", "stored_at": NOW, "agent": "health", "session": "s-1",
        "content": "allergic to peanuts", "state": "current",
        "normalized": hashlib.sha256(b"allergic to peanuts").hexdigest()[:32],  # the digest, never the text
    }
    assert len(stored.data) == DIM
    index = aws.s3vectors.index(aws.mesh.bucket_name, aws.mesh.index_name("acme", "alice"))
    assert index.non_filterable_keys == NON_FILTERABLE_KEYS
    assert index.tags == {"TenantID": "acme", "ActorID": "alice"}  # what IAM matches to the session's tags
    assert list(index.vectors) == [key]


def test_requests_use_actor_tagged_tvm_credentials(aws, store) -> None:
    store.put_memory(ALICE, "hello", kind="note")
    store.search(_query(ALICE, "hello"))
    tags = [dict(session.tags) for session in aws.iam.assume_role_calls(aws.mesh.tvm_role_arn)]
    assert tags == [{"TenantID": "acme", "ActorID": "alice"}]


# -- isolation -----------------------------------------------------------------------------------------


def test_other_actor_and_other_tenant_are_never_returned(aws, store) -> None:
    store.put_memory(ALICE, "alice likes green tea", kind="preference")
    store.put_memory(BOB, "bob likes green tea", kind="preference")
    store.put_memory(GLOBEX_ALICE, "globex alice likes green tea", kind="preference")

    for identity in (ALICE, BOB, GLOBEX_ALICE):
        found = store.search(_query(identity, "likes green tea", top_k=100))
        listed = store.list_actor(identity.tenant_id, identity.actor_id)
        assert len(found) == len(listed) == 1
        for record in (*found, *listed):
            assert (record.tenant_id, record.actor_id) == (identity.tenant_id, identity.actor_id)
    assert store.search(_query(Identity("acme", "carol"), "green tea")) == []
    assert store.list_actor("acme", "carol") == []


def test_results_are_rechecked_even_if_the_filter_were_wrong(aws, store, monkeypatch) -> None:
    store.put_memory(ALICE, "alice likes green tea", kind="preference")
    store.put_memory(BOB, "bob likes green tea", kind="preference")
    # Simulate a filter bug that drops the actor condition: the service then returns both actors' vectors.
    monkeypatch.setattr("runtime.stores.s3vectors.vector_filter", lambda query: {"type": {"$in": ["preference"]}})

    records = store.search(_query(ALICE, "likes green tea", top_k=10))

    assert [r.content for r in records] == ["alice likes green tea"]


def test_wrong_index_name_is_denied_by_iam_not_served(aws, make_store, store) -> None:
    store.put_memory(GLOBEX_ALICE, "globex alice's own", kind="note")

    class _BuggyStore(S3VectorsMemoryStore):
        def index_name(self, tenant_id: str, actor_id: str) -> str:
            return super().index_name("globex", actor_id)  # bug: always the other tenant's index

    buggy = make_store(store_class=_BuggyStore)

    with pytest.raises(AccessDeniedError, match="tenant 'acme' was denied") as denied:
        buggy.put_memory(ALICE, "should never land in globex", kind="note")
    # Reads and deletes see a refused index as one that is not there: nothing served, nothing deleted.
    assert buggy.search(_query(ALICE, "anything")) == []
    assert buggy.delete_actor("acme", "alice").deleted == 0
    assert [v.metadata["content"] for v in _vectors(aws, "globex").values()] == ["globex alice's own"]
    assert "arn:" not in denied.value.message  # no upstream internals in the message


def test_a_new_user_has_no_index_until_the_first_write(aws, store) -> None:
    # IAM refuses calls on an index that does not exist yet (the TVM's tag conditions find no tags): reads find
    # nothing, and the first write creates the user's index, tagged as theirs, and writes again.
    newcomer = Identity("initech", "alice")
    assert store.search(_query(newcomer, "anything")) == []
    assert store.list_actor("initech", "alice") == []
    assert store.delete_actor("initech", "alice").deleted == 0
    assert aws.call_count("s3vectors", "CreateIndex") == 0

    store.put_memory(newcomer, "first memory", kind="note")
    store.put_memory(newcomer, "second memory", kind="note")

    assert aws.call_count("s3vectors", "CreateIndex") == 1
    assert [r.content for r in store.list_actor("initech", "alice")] == ["second memory", "first memory"] or \
        {r.content for r in store.list_actor("initech", "alice")} == {"first memory", "second memory"}


class _OwnRoleBroker:
    """Clients on the test's own (unrestricted) credentials, as a function's own role would use."""

    def __init__(self, aws) -> None:
        self._aws = aws

    def client(self, service_name: str, tenant_id: str, actor_id: str | None = None):
        return self._aws.client(service_name)


def test_a_missing_bucket_is_an_upstream_error_not_an_empty_memory(aws) -> None:
    store = S3VectorsMemoryStore(_OwnRoleBroker(aws), bucket_name="no-such-bucket",
                                 index_prefix=aws.mesh.index_prefix, embedder=LocalHashEmbedder(DIM))
    # S3 Vectors answers an index call in a missing bucket with "index not found" (a new user's reads are
    # empty); the write's CreateIndex names the bucket, so a broken deployment fails loudly.
    with pytest.raises(UpstreamError, match="'no-such-bucket' does not exist"):
        store.put_memory(ALICE, "anything", kind="note")


# -- keys, batching, limits ------------------------------------------------------------------------------


def test_summary_key_is_deterministic_and_overwrites(aws, store) -> None:
    first = store.put_summary(ALICE, agent="planner", session_id="s-1", content="first draft")
    second = store.put_summary(ALICE, agent="planner", session_id="s-1", content="final summary")

    assert first == second == summary_key("acme", "alice", "planner", "s-1")
    vectors = _vectors(aws, "acme")
    assert list(vectors) == [first]
    assert vectors[first].metadata["content"] == "final summary"
    assert vectors[first].metadata["type"] == "summary"
    assert summary_key("acme", "bob", "planner", "s-1") != first
    assert summary_key("acme", "alice", "planner", "s-2") != first


def test_caller_keys_cannot_overwrite_another_actor(aws, store) -> None:
    mine = store.put_memory(ALICE, "alice v1", kind="note", key="shared-key")
    store.put_memory(ALICE, "alice v2", kind="note", key="shared-key")
    theirs = store.put_memory(BOB, "bob's", kind="note", key="shared-key")

    assert mine != theirs
    assert {v.metadata["content"] for v in _vectors(aws, "acme").values()} == {"alice v2", "bob's"}


def test_large_batches_are_split_at_500(aws, store) -> None:
    keys = store.put_memories(ALICE, [MemoryDraft(content=f"memory number {i}") for i in range(1201)])

    assert len(set(keys)) == 1201
    assert len(_vectors(aws, "acme")) == 1201
    # 3 batches, and one first attempt that found no index yet (the user's first write creates it).
    assert aws.call_count("s3vectors", "PutVectors") == 4
    assert aws.call_count("s3vectors", "CreateIndex") == 1
    assert len(store.list_actor("acme", "alice")) == 1201  # more than one ListVectors page
    assert aws.call_count("s3vectors", "ListVectors") >= 2


@pytest.mark.parametrize("top_k", [0, 101, True])
def test_top_k_outside_1_to_100_is_rejected_before_any_call(aws, store, top_k) -> None:
    with pytest.raises(InvalidInputError, match="top_k"):
        store.search(_query(ALICE, "anything", top_k=top_k))
    assert _data_calls(aws) == 0


def test_top_k_of_100_is_accepted(store) -> None:
    store.put_memories(ALICE, [MemoryDraft(content=f"note {i}") for i in range(120)])
    assert len(store.search(_query(ALICE, "note", top_k=100))) == 100


def test_oversize_content_is_capped_on_a_character_boundary(aws, make_store) -> None:
    store = make_store(content_max_bytes=10)
    key = store.put_memory(ALICE, "abcdefgh😀 and more", kind="note")  # byte 10 falls inside the emoji
    emoji_key = store.put_memory(BOB, "ab😀😀😀", kind="note")

    vectors = _vectors(aws, "acme")
    assert vectors[key].metadata["content"] == "abcdefgh"
    assert vectors[emoji_key].metadata["content"] == "ab😀😀"
    assert len("ab😀😀".encode()) == 10


def test_default_cap_keeps_metadata_under_the_service_limits(aws, store) -> None:
    key = store.put_memory(ALICE, "é" * 30_000, kind="note")  # 60,000 bytes
    assert len(_vectors(aws, "acme")[key].metadata["content"].encode()) == 16384


# -- bad input: typed errors, nothing written -------------------------------------------------------------


@pytest.mark.parametrize(
    ("vector", "message"),
    [
        ([0.0] * DIM, "all zeros"),
        ([1.0] * (DIM - 1), "exactly 256 values"),
        ([float("inf")] + [1.0] * (DIM - 1), "finite"),
    ],
)
def test_bad_embeddings_are_rejected_and_nothing_is_written(aws, make_store, vector, message) -> None:
    store = make_store(embedder=_FixedEmbedder(vector))
    with pytest.raises(InvalidInputError, match=message):
        store.put_memories(ALICE, [MemoryDraft(content="one"), MemoryDraft(content="two")])
    with pytest.raises(InvalidInputError, match=message):
        store.search(_query(ALICE, "query"))
    assert _vectors(aws, "acme") == {}
    assert _data_calls(aws) == 0


def test_embedder_dimension_must_equal_the_index_dimension(aws, make_store) -> None:
    with pytest.raises(InvalidInputError, match="index dimension 256"):
        make_store(embedder=LocalHashEmbedder(128), index_dimension=DIM)
    # Without the configured dimension the service itself refuses: still typed, still nothing written.
    make_store(index_dimension=DIM).create_user_index("acme", "alice")
    unchecked = make_store(embedder=LocalHashEmbedder(128))
    with pytest.raises(InvalidInputError, match="index dimension matches the embedder"):
        unchecked.put_memory(ALICE, "hello", kind="note")
    assert _vectors(aws, "acme") == {}


def test_one_bad_item_rejects_the_whole_batch(aws, store) -> None:
    drafts = [MemoryDraft(content=f"fine {i}") for i in range(600)]
    for bad, field in [
        (MemoryDraft(content=""), "content"),
        (MemoryDraft(content="x", kind="secret"), "kind"),
        (MemoryDraft(content="x", agent="no spaces allowed"), "agent"),
        (MemoryDraft(content="x", session_id="s_1"), "session_id"),
        (MemoryDraft(content="x", key=""), "key"),
    ]:
        with pytest.raises(InvalidInputError, match=field):
            store.put_memories(ALICE, [*drafts, bad])
    assert _data_calls(aws) == 0


@pytest.mark.parametrize(
    ("tenant_id", "actor_id", "field"),
    [
        (None, "alice", "tenant_id"),
        ("", "alice", "tenant_id"),
        ("ACME", "alice", "tenant_id"),
        ("acme/*", "alice", "tenant_id"),
        ("acme", "", "actor_id"),
        ("acme", "*", "actor_id"),
        ("acme", None, "actor_id"),
    ],
)
def test_invalid_ids_are_rejected_before_any_call(aws, store, tenant_id, actor_id, field) -> None:
    with pytest.raises(InvalidInputError, match=field):
        store.search(MemoryQuery(tenant_id=tenant_id, actor_id=actor_id, text="hello"))
    with pytest.raises(InvalidInputError, match=field):
        store.list_actor(tenant_id, actor_id)
    with pytest.raises(InvalidInputError, match=field):
        store.delete_actor(tenant_id, actor_id)
    assert _data_calls(aws) == 0
    assert aws.iam.sessions == []


@pytest.mark.parametrize("text", ["", "  \n", None])
def test_empty_query_is_rejected(aws, store, text) -> None:
    with pytest.raises(InvalidInputError, match="query.text"):
        store.search(_query(ALICE, text))
    assert _data_calls(aws) == 0


def test_configuration_is_validated(aws, broker) -> None:
    common = {"bucket_name": aws.mesh.bucket_name, "index_prefix": "tenant-", "embedder": LocalHashEmbedder(DIM)}
    with pytest.raises(InvalidInputError, match="content_max_bytes"):
        S3VectorsMemoryStore(broker, **common | {"content_max_bytes": 50_000})
    with pytest.raises(InvalidInputError, match="index_prefix"):
        S3VectorsMemoryStore(broker, **common | {"index_prefix": "Tenant_"})
    with pytest.raises(InvalidInputError, match="bucket_name"):
        S3VectorsMemoryStore(broker, **common | {"bucket_name": "x"})


# -- search filters ------------------------------------------------------------------------------------


def test_filters_agent_kind_and_time_range(store, clock) -> None:
    store.put_memory(ALICE, "trip to lisbon planned", kind="note", agent="travel")
    clock.now += 100
    store.put_memory(ALICE, "trip budget approved", kind="fact", agent="finance")
    clock.now += 100
    store.put_memory(ALICE, "trip summary", kind="summary", agent="travel", session_id="s-9")

    def contents(**kwargs) -> set[str]:
        return {r.content for r in store.search(_query(ALICE, "trip", top_k=10, **kwargs))}

    assert contents() == {"trip to lisbon planned", "trip budget approved", "trip summary"}
    assert contents(agent="travel") == {"trip to lisbon planned", "trip summary"}
    assert contents(kinds=("fact", "summary")) == {"trip budget approved", "trip summary"}
    assert contents(stored_after=NOW + 100) == {"trip budget approved", "trip summary"}
    assert contents(stored_before=NOW + 100) == {"trip to lisbon planned"}
    assert contents(agent="travel", kinds=("summary",), stored_after=NOW + 1) == {"trip summary"}


# -- forgetting and retention -----------------------------------------------------------------------------


def test_delete_actor_removes_everything_of_that_actor_and_is_idempotent(aws, store) -> None:
    alice_keys = store.put_memories(ALICE, [MemoryDraft(content=f"alice {i}") for i in range(620)])
    alice_keys.append(store.put_summary(ALICE, agent="planner", session_id="s-1", content="alice summary"))
    store.put_memories(BOB, [MemoryDraft(content=f"bob {i}") for i in range(30)])
    store.put_memory(GLOBEX_ALICE, "globex alice", kind="note")

    report = store.delete_actor("acme", "alice")

    assert (report.backend, report.deleted) == ("s3vectors", 621)
    assert set(report.keys) == set(alice_keys)
    assert aws.call_count("s3vectors", "DeleteVectors") == 2  # 500 + 121
    remaining = _vectors(aws, "acme").values()
    assert {v.metadata["actor"] for v in remaining} == {"bob"} and len(remaining) == 30
    assert store.search(_query(ALICE, "alice 3")) == []
    assert len(store.list_actor("globex", "alice")) == 1

    again = store.delete_actor("acme", "alice")
    assert (again.deleted, again.keys) == (0, ())


def test_delete_older_than_enforces_retention_for_every_actor(aws, store, clock) -> None:
    store.put_memory(ALICE, "old alice", kind="note")
    store.put_memory(BOB, "old bob", kind="note")
    clock.now += 86_400
    store.put_memory(ALICE, "new alice", kind="note")
    store.put_memory(GLOBEX_ALICE, "old globex", kind="note")

    sweeper_client = aws.client("s3vectors")  # the retention Lambda's own role
    deleted = [store.delete_older_than(store.index_name("acme", actor), NOW + 1, client=sweeper_client).deleted
               for actor in ("alice", "bob")]

    assert deleted == [1, 1]
    assert {v.metadata["content"] for v in _vectors(aws, "acme").values()} == {"new alice"}
    assert len(_vectors(aws, "globex")) == 1
    with pytest.raises(InvalidInputError, match="cutoff_epoch"):
        store.delete_older_than(store.index_name("acme", "alice"), -5, client=sweeper_client)
    with pytest.raises(InvalidInputError, match="must be a user index"):
        store.delete_older_than("tenant-acme", NOW, client=sweeper_client)


# -- index management ------------------------------------------------------------------------------------


def test_create_user_index_is_idempotent(aws, store) -> None:
    assert store.create_user_index("initech", "alice") is True
    assert store.create_user_index("initech", "alice") is False
    index = aws.s3vectors.index(aws.mesh.bucket_name, store.index_name("initech", "alice"))
    assert (index.dimension, index.distance_metric, index.non_filterable_keys) == (DIM, "cosine", NON_FILTERABLE_KEYS)
    store.put_memory(Identity("initech", "alice"), "first", kind="note")
    assert len(index.vectors) == 1
    assert store.index_name("initech", "alice").startswith("tenant-initech.")
    assert store.index_name("initech", "bob") != store.index_name("initech", "alice")


# -- upstream errors --------------------------------------------------------------------------------------


class _SingleClientBroker:
    """Hands out one pre-built client (a botocore Stubber drives it), to script upstream failures."""

    def __init__(self, client) -> None:
        self._client = client

    def client(self, service_name, tenant_id, actor_id=None):
        return self._client


@pytest.mark.parametrize(
    ("code", "status", "error", "message"),
    [
        ("TooManyRequestsException", 429, UpstreamError, "throttled"),
        ("ServiceUnavailableException", 503, UpstreamError, "throttled"),
        ("InternalServerException", 500, UpstreamError, "QueryVectors failed"),
        ("RequestTimeoutException", 408, UpstreamTimeoutError, "timed out"),
        ("KmsDisabledException", 400, UpstreamError, "KmsDisabledException"),
    ],
)
def test_upstream_failures_map_to_typed_errors_without_internals(aws_credentials, code, status, error, message) -> None:
    client = boto3.client("s3vectors", region_name="us-east-1")
    store = S3VectorsMemoryStore(
        _SingleClientBroker(client),
        bucket_name="mesh-test-bucket",
        index_prefix="tenant-",
        embedder=LocalHashEmbedder(DIM),
    )
    with Stubber(client) as stub:
        stub.add_client_error(
            "query_vectors", service_error_code=code, service_message="secret internal detail", http_status_code=status
        )
        with pytest.raises(error, match=message) as raised:
            store.search(_query(ALICE, "hello"))
    assert "secret internal detail" not in raised.value.message
    assert type(raised.value) is error


# -- concurrency -----------------------------------------------------------------------------------------


def test_concurrent_tenants_and_actors_never_see_each_others_records(aws, store) -> None:
    identities = [Identity(tenant, actor) for tenant in ("acme", "globex") for actor in ("ann", "ben", "cy", "dee")]
    errors: list[str] = []
    barrier = threading.Barrier(len(identities))

    def work(identity: Identity) -> None:
        barrier.wait()
        marker = f"{identity.tenant_id}-{identity.actor_id}"
        for i in range(12):
            store.put_memory(identity, f"{marker} remembers item {i}", kind="note")
            for record in store.search(_query(identity, f"remembers item {i}", top_k=10)):
                if (record.tenant_id, record.actor_id) != (identity.tenant_id, identity.actor_id):
                    errors.append(f"{marker} saw {record.tenant_id}/{record.actor_id}")
                if not record.content.startswith(marker + " "):
                    errors.append(f"{marker} saw another actor's content")

    with ThreadPoolExecutor(max_workers=len(identities)) as pool:
        list(pool.map(work, identities))

    assert errors == []
    for identity in identities:
        listed = store.list_actor(identity.tenant_id, identity.actor_id)
        assert len(listed) == 12
        assert all(r.content.startswith(f"{identity.tenant_id}-{identity.actor_id} ") for r in listed)
    # One STS call per (tenant, actor) tag set, however many threads asked.
    assert len(aws.iam.assume_role_calls(aws.mesh.tvm_role_arn)) == len(identities)


# -- consolidation and one-memory edits ---------------------------------------------------------------------


class _Judge:
    """A judge that replaces what ``replaced`` names and records what it was asked (None: it failed)."""

    def __init__(self, replaced: set[str] | None) -> None:
        self.replaced = replaced
        self.asked: list[tuple[str, list[str]]] = []

    def superseded(self, new, candidates):
        self.asked.append((new, list(candidates)))
        return None if self.replaced is None else [c in self.replaced for c in candidates]


def test_consolidation_outcomes_in_the_users_index(aws, make_store) -> None:
    from runtime.stores.consolidation import ConsolidationPolicy

    judge = _Judge({"Alice lives in Lisbon"})
    store = make_store(consolidation=ConsolidationPolicy(judge=judge))
    created = store.write_memory(ALICE, "Alice lives in Lisbon", kind="fact")
    assert created.outcome == "created"
    calls = aws.call_count("s3vectors", "PutVectors")
    # The same normalized text: nothing written, and the judge is not asked.
    duplicate = store.write_memory(ALICE, "  alice LIVES in lisbon ", kind="fact")
    assert (duplicate.key, duplicate.outcome) == (created.key, "duplicate") and judge.asked == []
    assert aws.call_count("s3vectors", "PutVectors") == calls
    # Another kind, another user: never consolidated with it.
    assert store.write_memory(ALICE, "Alice lives in Lisbon", kind="note").outcome == "created"
    assert store.write_memory(BOB, "Alice lives in Lisbon", kind="fact").outcome == "created"
    # The judge says Porto replaces Lisbon: Lisbon stays, superseded, and leaves recall.
    moved = store.write_memory(ALICE, "Alice now lives in Porto", kind="fact")
    assert (moved.outcome, moved.superseded) == ("superseded", (created.key,))
    assert judge.asked == [("Alice now lives in Porto", ["Alice lives in Lisbon"])]
    stored = _vectors(aws, "acme")
    assert stored[created.key].metadata["state"] == "superseded"
    assert stored[created.key].metadata["superseded_by"] == moved.key
    assert stored[moved.key].metadata["supersedes"] == created.key
    found = store.search(_query(ALICE, "where does Alice live", top_k=10, kinds=("fact",)))
    assert [r.content for r in found] == ["Alice now lives in Porto"]


def test_near_duplicates_update_and_the_band_supersedes_without_a_judge(aws, make_store) -> None:
    from runtime.stores.consolidation import ConsolidationPolicy

    store = make_store(consolidation=ConsolidationPolicy(duplicate_similarity=0.9, supersede_similarity=0.6))
    first = store.write_memory(ALICE, "Alice's favourite colour is dark blue", kind="preference")
    near = store.write_memory(ALICE, "Alice's favourite colour is dark blue!", kind="preference")
    assert (near.key, near.outcome) == (first.key, "updated")
    assert [r.content for r in store.list_actor("acme", "alice")] == ["Alice's favourite colour is dark blue!"]
    changed = store.write_memory(ALICE, "Alice's favourite colour is green", kind="preference")
    assert (changed.outcome, changed.superseded) == ("superseded", (first.key,))
    unrelated = store.write_memory(ALICE, "Alice enjoys long walks on the beach", kind="preference")
    assert unrelated.outcome == "created"


def test_a_failing_judge_falls_back_to_the_band(aws, make_store) -> None:
    from runtime.stores.consolidation import ConsolidationPolicy

    judge = _Judge(None)
    store = make_store(consolidation=ConsolidationPolicy(judge=judge, supersede_similarity=0.99,
                                                         duplicate_similarity=0.995))
    store.write_memory(ALICE, "Alice lives in Lisbon", kind="fact")
    assert store.write_memory(ALICE, "Alice now lives in Porto", kind="fact").outcome == "created"
    assert len(judge.asked) == 1


def test_one_memory_is_updated_and_deleted_only_in_its_owners_index(aws, make_store) -> None:
    from runtime.errors import NotFoundError

    store = make_store()
    key = store.put_memory(ALICE, "Alice's team is Falcon", kind="fact", agent="planner", session_id="s-1")
    assert store.update_memory(ALICE, key, "Alice's team is Osprey").outcome == "updated"
    (record,) = store.list_actor("acme", "alice")
    assert (record.key, record.content, record.agent, record.session_id) == (key, "Alice's team is Osprey",
                                                                              "planner", "s-1")
    # Bob's and globex alice's indexes do not hold it: not found, nothing changed.
    for other in (BOB, GLOBEX_ALICE):
        with pytest.raises(NotFoundError):
            store.update_memory(other, key, "hijacked")
        assert store.delete_memory(other, key) is False
    assert [r.content for r in store.list_actor("acme", "alice")] == ["Alice's team is Osprey"]
    before = aws.call_count("s3vectors")
    for bad in ("../other", "mem-XYZ", "", 7):
        with pytest.raises(InvalidInputError):
            store.delete_memory(ALICE, bad)
    assert aws.call_count("s3vectors") == before
    assert store.delete_memory(ALICE, key) is True
    assert store.list_actor("acme", "alice") == [] and store.delete_memory(ALICE, key) is False
