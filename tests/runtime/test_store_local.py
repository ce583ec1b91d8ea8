"""LocalMemoryStore: same validation, limits and isolation rules as the S3 Vectors store, in process."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from runtime.embeddings import LocalHashEmbedder
from runtime.errors import InvalidInputError
from runtime.identity import Identity
from runtime.records import MemoryBackend, MemoryQuery
from runtime.stores import LocalMemoryStore, MemoryDraft, summary_key

DIM = 64
ALICE = Identity("acme", "alice")
BOB = Identity("acme", "bob")
EVE = Identity("globex", "alice")


class _Clock:
    def __init__(self, now: float = 1_700_000_000.0) -> None:
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
def store(clock: _Clock) -> LocalMemoryStore:
    return LocalMemoryStore(LocalHashEmbedder(DIM), clock=clock)


def _query(identity: Identity, text: str, **kwargs) -> MemoryQuery:
    return MemoryQuery(tenant_id=identity.tenant_id, actor_id=identity.actor_id, text=text, **kwargs)


def test_is_a_memory_backend(store: LocalMemoryStore) -> None:
    assert isinstance(store, MemoryBackend)
    assert store.name == "local"


def test_round_trip_put_and_search(store: LocalMemoryStore) -> None:
    store.put_memory(ALICE, "prefers window seats on long flights", kind="preference", agent="travel")
    store.put_memory(ALICE, "allergic to peanuts", kind="fact")
    store.put_memory(ALICE, "works on the billing migration project", kind="note")

    records = store.search(_query(ALICE, "window seats flights", top_k=2))

    assert [r.content for r in records][0] == "prefers window seats on long flights"
    assert len(records) == 2
    assert records[0].score is not None and records[1].score is not None
    assert records[0].score >= records[1].score
    top = records[0]
    assert (top.tenant_id, top.actor_id, top.kind, top.source, top.agent) == (
        "acme", "alice", "preference", "local", "travel",
    )
    assert top.stored_at == 1_700_000_000


def test_other_actor_and_other_tenant_are_never_returned(store: LocalMemoryStore) -> None:
    store.put_memory(ALICE, "alice likes green tea", kind="preference")
    store.put_memory(BOB, "bob likes green tea", kind="preference")
    store.put_memory(EVE, "globex alice likes green tea", kind="preference")

    for identity in (ALICE, BOB, EVE):
        found = store.search(_query(identity, "likes green tea", top_k=100))
        listed = store.list_actor(identity.tenant_id, identity.actor_id)
        assert len(found) == len(listed) == 1
        for record in (*found, *listed):
            assert (record.tenant_id, record.actor_id) == (identity.tenant_id, identity.actor_id)
    assert store.search(_query(Identity("acme", "carol"), "green tea")) == []
    assert store.search(_query(Identity("initech", "alice"), "green tea")) == []


def test_summary_key_is_deterministic_and_overwrites(store: LocalMemoryStore) -> None:
    first = store.put_summary(ALICE, agent="planner", session_id="s-1", content="first draft of the summary")
    second = store.put_summary(ALICE, agent="planner", session_id="s-1", content="final summary")

    assert first == second == summary_key("acme", "alice", "planner", "s-1")
    assert [r.content for r in store.list_actor("acme", "alice")] == ["final summary"]
    assert summary_key("acme", "bob", "planner", "s-1") != first


def test_caller_key_is_idempotent_per_actor(store: LocalMemoryStore) -> None:
    a1 = store.put_memory(ALICE, "v1", kind="note", key="k")
    a2 = store.put_memory(ALICE, "v2", kind="note", key="k")
    b1 = store.put_memory(BOB, "bob's own", kind="note", key="k")

    assert a1 == a2 != b1
    assert [r.content for r in store.list_actor("acme", "alice")] == ["v2"]
    assert [r.content for r in store.list_actor("acme", "bob")] == ["bob's own"]


def test_large_batch_is_stored_whole(store: LocalMemoryStore) -> None:
    keys = store.put_memories(ALICE, [MemoryDraft(content=f"memory number {i}") for i in range(1201)])
    assert len(set(keys)) == 1201
    assert store.count("acme") == 1201
    assert len(store.search(_query(ALICE, "memory number 7", top_k=100))) == 100


@pytest.mark.parametrize("top_k", [0, 101, -1, True, 5.0])
def test_top_k_outside_1_to_100_is_rejected(store: LocalMemoryStore, top_k) -> None:
    with pytest.raises(InvalidInputError, match="top_k"):
        store.search(_query(ALICE, "anything", top_k=top_k))


def test_oversize_content_is_capped_on_a_character_boundary(clock: _Clock) -> None:
    store = LocalMemoryStore(LocalHashEmbedder(DIM), content_max_bytes=10, clock=clock)
    store.put_memory(ALICE, "ab😀😀😀", kind="note")  # 2 + 3*4 bytes

    (record,) = store.list_actor("acme", "alice")
    assert record.content == "ab😀😀"
    assert len(record.content.encode()) == 10
    store.put_memory(BOB, "abcdefgh😀", kind="note")  # byte 10 falls inside the emoji
    assert store.list_actor("acme", "bob")[0].content == "abcdefgh"


@pytest.mark.parametrize("value", [0, 40 * 1024, "16", None])
def test_content_cap_must_fit_the_metadata_limit(value) -> None:
    with pytest.raises(InvalidInputError, match="content_max_bytes"):
        LocalMemoryStore(LocalHashEmbedder(DIM), content_max_bytes=value)


@pytest.mark.parametrize(
    ("vector", "message"),
    [
        ([0.0] * DIM, "all zeros"),
        ([1.0] * (DIM - 1), "exactly 64 values"),
        ([float("nan")] + [1.0] * (DIM - 1), "finite"),
    ],
)
def test_bad_embeddings_are_rejected_and_nothing_is_written(vector, message) -> None:
    store = LocalMemoryStore(_FixedEmbedder(vector))
    with pytest.raises(InvalidInputError, match=message):
        store.put_memories(ALICE, [MemoryDraft(content="one"), MemoryDraft(content="two")])
    assert store.count("acme") == 0
    with pytest.raises(InvalidInputError, match=message):
        store.search(_query(ALICE, "query"))


def test_embedder_must_match_the_index_dimension() -> None:
    with pytest.raises(InvalidInputError, match="index dimension 1024"):
        LocalMemoryStore(LocalHashEmbedder(DIM), index_dimension=1024)


def test_one_bad_item_rejects_the_whole_batch(store: LocalMemoryStore) -> None:
    drafts = [MemoryDraft(content="fine"), MemoryDraft(content="   "), MemoryDraft(content="also fine")]
    with pytest.raises(InvalidInputError, match="content"):
        store.put_memories(ALICE, drafts)
    with pytest.raises(InvalidInputError, match="kind"):
        store.put_memories(ALICE, [MemoryDraft(content="fine"), MemoryDraft(content="x", kind="secret")])
    with pytest.raises(InvalidInputError, match="session_id"):
        store.put_memories(ALICE, [MemoryDraft(content="fine"), MemoryDraft(content="x", session_id="bad id!")])
    assert store.count("acme") == 0


@pytest.mark.parametrize(
    ("tenant_id", "actor_id", "field"),
    [
        (None, "alice", "tenant_id"),
        ("", "alice", "tenant_id"),
        ("Acme", "alice", "tenant_id"),
        ("acme*", "alice", "tenant_id"),
        ("acme", "", "actor_id"),
        ("acme", "al/ice", "actor_id"),
        ("acme", None, "actor_id"),
    ],
)
def test_invalid_ids_are_rejected(store: LocalMemoryStore, tenant_id, actor_id, field: str) -> None:
    with pytest.raises(InvalidInputError, match=field):
        Identity(tenant_id, actor_id)
    with pytest.raises(InvalidInputError, match=field):
        store.search(MemoryQuery(tenant_id=tenant_id, actor_id=actor_id, text="content"))
    with pytest.raises(InvalidInputError, match=field):
        store.list_actor(tenant_id, actor_id)
    with pytest.raises(InvalidInputError, match=field):
        store.delete_actor(tenant_id, actor_id)


def test_tenant_must_fit_the_index_name_with_the_prefix() -> None:
    store = LocalMemoryStore(LocalHashEmbedder(DIM), index_prefix="memory-mesh-tenant.")
    tenant = Identity("t" * 40, "alice")  # valid alone; 19 + 40 leaves no room for the user part of index names
    with pytest.raises(InvalidInputError, match="at most 49 characters"):
        store.put_memory(tenant, "content", kind="note")
    assert store._tenants == {}


def test_not_an_identity_is_rejected(store: LocalMemoryStore) -> None:
    with pytest.raises(InvalidInputError, match="identity"):
        store.put_memory(("acme", "alice"), "content", kind="note")  # type: ignore[arg-type]  # the wrong type is the test


@pytest.mark.parametrize("text", ["", "   \n\t", None])
def test_empty_query_text_is_rejected(store: LocalMemoryStore, text) -> None:
    with pytest.raises(InvalidInputError, match="query.text"):
        store.search(_query(ALICE, text))


def test_filters_agent_kind_and_time_range(store: LocalMemoryStore, clock: _Clock) -> None:
    store.put_memory(ALICE, "trip to lisbon planned", kind="note", agent="travel")
    clock.now += 100
    store.put_memory(ALICE, "trip budget approved", kind="fact", agent="finance")
    clock.now += 100
    store.put_memory(ALICE, "trip summary", kind="summary", agent="travel", session_id="s-9")
    start = 1_700_000_000

    def contents(**kwargs) -> set[str]:
        return {r.content for r in store.search(_query(ALICE, "trip", top_k=10, **kwargs))}

    assert contents(agent="travel") == {"trip to lisbon planned", "trip summary"}
    assert contents(kinds=("fact", "summary")) == {"trip budget approved", "trip summary"}
    assert contents(stored_after=start + 100) == {"trip budget approved", "trip summary"}
    assert contents(stored_before=start + 100) == {"trip to lisbon planned"}
    assert contents(stored_after=start + 50, stored_before=start + 150) == {"trip budget approved"}
    assert contents(agent="nobody") == set()
    with pytest.raises(InvalidInputError, match="stored_after"):
        contents(stored_after=start + 10, stored_before=start)


def test_delete_actor_removes_everything_and_is_idempotent(store: LocalMemoryStore) -> None:
    alice_keys = store.put_memories(ALICE, [MemoryDraft(content=f"alice {i}") for i in range(30)])
    store.put_memories(BOB, [MemoryDraft(content=f"bob {i}") for i in range(20)])

    report = store.delete_actor("acme", "alice")

    assert (report.backend, report.deleted) == ("local", 30)
    assert set(report.keys) == set(alice_keys)
    assert store.list_actor("acme", "alice") == []
    assert store.search(_query(ALICE, "alice 3")) == []
    assert len(store.list_actor("acme", "bob")) == 20
    assert {r.content for r in store.search(_query(BOB, "bob 7", top_k=1))} == {"bob 7"}
    assert store.delete_actor("acme", "alice").deleted == 0


def test_delete_older_than_keeps_recent_memories(store: LocalMemoryStore, clock: _Clock) -> None:
    store.put_memory(ALICE, "old alice", kind="note")
    store.put_memory(BOB, "old bob", kind="note")
    clock.now += 86_400
    store.put_memory(ALICE, "new alice", kind="note")

    report = store.delete_older_than("acme", clock.now)

    assert report.deleted == 2
    assert [r.content for r in store.list_actor("acme", "alice")] == ["new alice"]
    assert store.list_actor("acme", "bob") == []
    assert store.delete_older_than("acme", clock.now).deleted == 0


def test_concurrent_writers_and_readers_never_cross_tenants_or_actors(store: LocalMemoryStore) -> None:
    identities = [Identity(tenant, actor) for tenant in ("acme", "globex", "initech") for actor in ("ann", "ben", "cy")]
    errors: list[str] = []
    barrier = threading.Barrier(len(identities))

    def work(identity: Identity) -> None:
        barrier.wait()
        marker = f"{identity.tenant_id}-{identity.actor_id}"
        for i in range(40):
            store.put_memory(identity, f"{marker} remembers item {i}", kind="note")
            for record in store.search(_query(identity, f"remembers item {i}", top_k=5)):
                if (record.tenant_id, record.actor_id) != (identity.tenant_id, identity.actor_id):
                    errors.append(f"{marker} saw {record.tenant_id}/{record.actor_id}")
                if not record.content.startswith(marker + " "):
                    errors.append(f"{marker} saw content of another actor")
            if i % 10 == 0:
                store.delete_older_than(identity.tenant_id, 0)  # concurrent no-op deletes take the lock too

    with ThreadPoolExecutor(max_workers=len(identities)) as pool:
        list(pool.map(work, identities))

    assert errors == []
    for identity in identities:
        listed = store.list_actor(identity.tenant_id, identity.actor_id)
        assert len(listed) == 40
        assert all(r.content.startswith(f"{identity.tenant_id}-{identity.actor_id} ") for r in listed)
