"""AgentCoreMemoryBackend against emulated AWS: the AgentCore Memory fake, moto STS and the synthesized TVM's policy."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import boto3
import pytest
from botocore.stub import Stubber

from runtime.credentials import TenantCredentialBroker
from runtime.errors import AccessDeniedError, InvalidInputError, NotFoundError, UpstreamError
from runtime.identity import Identity
from runtime.records import MemoryBackend, MemoryQuery
from runtime.stores import AgentCoreMemoryBackend, actor_namespaces

NOW = 1_700_000_000.0
ALICE = Identity("acme", "alice")
BOB = Identity("acme", "bob")
GLOBEX_ALICE = Identity("globex", "alice")


class _Clock:
    def __init__(self, now: float = NOW) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> _Clock:
    return _Clock()


@pytest.fixture
def broker(aws) -> TenantCredentialBroker:
    return TenantCredentialBroker(aws.mesh.tvm_role_arn, region=aws.region)


@pytest.fixture
def memory_id(aws) -> str:
    return aws.mesh.memory_id


@pytest.fixture
def backend(broker, memory_id, clock) -> AgentCoreMemoryBackend:
    def client_for(tenant_id: str, actor_id: str):
        return broker.client("bedrock-agentcore", tenant_id, actor_id)

    return AgentCoreMemoryBackend(client_for, memory_id=memory_id, clock=clock)


def _add(aws, memory_id: str, kind: str, identity: Identity, text: str, session: str | None = None) -> str:
    namespace = actor_namespaces(identity.agentcore_actor_id)[kind]
    if session is not None:
        namespace += f"{session}/"
    return aws.agentcore.add_record(memory_id, namespace, text)


def _query(identity: Identity, text: str, **kwargs) -> MemoryQuery:
    return MemoryQuery(tenant_id=identity.tenant_id, actor_id=identity.actor_id, text=text, **kwargs)


# -- short-term: turns ---------------------------------------------------------------------------------


def test_turns_round_trip_in_order(aws, backend: AgentCoreMemoryBackend, memory_id, clock) -> None:
    assert isinstance(backend, MemoryBackend) and backend.name == "agentcore"
    first = backend.record_turn(ALICE, "s-1", "user", "I prefer aisle seats", agent="travel")
    backend.record_turn(ALICE, "s-1", "ASSISTANT", "Noted: aisle seats.")  # same timestamp as the first
    clock.now += 1
    backend.record_turn(ALICE, "s-1", "user", "Book Lisbon for May")
    backend.record_turn(BOB, "s-1", "user", "bob's own session with the same id")

    assert backend.list_session_turns(ALICE, "s-1") == [
        ("USER", "I prefer aisle seats"),
        ("ASSISTANT", "Noted: aisle seats."),
        ("USER", "Book Lisbon for May"),
    ]
    (stored, *_) = aws.agentcore.events(memory_id, actor_id="acme:alice", session_id="s-1")
    assert stored.event_id == first
    assert stored.metadata == {"agent": {"stringValue": "travel"}}
    assert stored.timestamp.timestamp() == NOW
    assert backend.list_session_turns(ALICE, "s-2") == []


def test_turn_listing_follows_pages(backend) -> None:
    for i in range(230):
        backend.record_turn(ALICE, "long-session", "user", f"turn {i}")
    turns = backend.list_session_turns(ALICE, "long-session")
    assert [text for _, text in turns] == [f"turn {i}" for i in range(230)]


def test_client_token_makes_a_retry_idempotent(aws, backend, memory_id) -> None:
    one = backend.record_turn(ALICE, "s-1", "user", "hello", client_token="turn-1-of-s-1")
    two = backend.record_turn(ALICE, "s-1", "user", "hello", client_token="turn-1-of-s-1")
    assert one == two
    assert len(aws.agentcore.events(memory_id)) == 1


@pytest.mark.parametrize(
    ("args", "kwargs", "field"),
    [
        (("s-1", "system", "hi"), {}, "role"),
        (("s-1", None, "hi"), {}, "role"),
        (("s-1", "user", "   "), {}, "text"),
        (("s-1", "user", None), {}, "text"),
        (("s_1", "user", "hi"), {}, "session_id"),
        (("", "user", "hi"), {}, "session_id"),
        (("s-1", "user", "hi"), {"agent": "bad agent"}, "agent"),
        (("s-1", "user", "hi"), {"client_token": ""}, "client_token"),
    ],
)
def test_bad_turns_are_rejected_and_nothing_is_written(aws, backend, memory_id, args, kwargs, field) -> None:
    with pytest.raises(InvalidInputError, match=field):
        backend.record_turn(ALICE, *args, **kwargs)
    assert aws.agentcore.events(memory_id) == []
    assert aws.call_count("bedrock-agentcore") == 0


def test_oversize_turn_text_is_cut_to_the_api_limit(aws, backend, memory_id) -> None:
    backend.record_turn(ALICE, "s-1", "user", "x" * 100_500)
    (event,) = aws.agentcore.events(memory_id)
    assert len(event.messages()[0][1]) == 100_000


# -- long-term: search and listing -----------------------------------------------------------------------


def test_search_covers_the_actors_namespaces_only(aws, backend, memory_id) -> None:
    fact = _add(aws, memory_id, "fact", ALICE, "alice likes green tea")
    _add(aws, memory_id, "preference", ALICE, "alice prefers tea over coffee")
    _add(aws, memory_id, "summary", ALICE, "session about tea shopping", session="s-7")
    _add(aws, memory_id, "fact", BOB, "bob likes green tea")
    _add(aws, memory_id, "fact", GLOBEX_ALICE, "globex alice likes green tea")
    aws.agentcore.add_record(memory_id, "/facts/acme:alice-evil/", "lookalike actor likes green tea")

    records = backend.search(_query(ALICE, "green tea", top_k=10))

    assert {r.content for r in records} == {
        "alice likes green tea", "alice prefers tea over coffee", "session about tea shopping",
    }
    assert records[0].key == fact and records[0].kind == "fact"
    assert all((r.tenant_id, r.actor_id, r.source) == ("acme", "alice", "agentcore") for r in records)
    assert [r.score for r in records] == sorted((r.score for r in records), reverse=True)
    (summary,) = [r for r in records if r.kind == "summary"]
    assert summary.session_id == "s-7"
    assert abs(summary.stored_at - time.time()) < 60


def test_search_by_kind_queries_only_those_namespaces(aws, backend, memory_id) -> None:
    _add(aws, memory_id, "fact", ALICE, "alice likes tea")
    _add(aws, memory_id, "preference", ALICE, "alice prefers tea")

    records = backend.search(_query(ALICE, "tea", kinds=("preference",)))

    assert [r.content for r in records] == ["alice prefers tea"]
    assert aws.call_count("bedrock-agentcore", "RetrieveMemoryRecords") == 1
    assert backend.search(_query(ALICE, "tea", kinds=("note", "turn"))) == []
    assert aws.call_count("bedrock-agentcore", "RetrieveMemoryRecords") == 1


def test_search_applies_top_k_and_time_range(aws, backend, memory_id) -> None:
    for i in range(12):
        _add(aws, memory_id, "fact", ALICE, f"alice fact number {i} about tea")
    assert len(backend.search(_query(ALICE, "tea", top_k=5))) == 5
    future = int(time.time()) + 3600
    assert backend.search(_query(ALICE, "tea", stored_after=future)) == []
    assert len(backend.search(_query(ALICE, "tea", stored_before=future, top_k=100))) == 12


def test_search_input_is_validated_before_any_call(aws, backend) -> None:
    for query, field in [
        (_query(ALICE, ""), "query.text"),
        (_query(ALICE, "tea", top_k=101), "top_k"),
        (MemoryQuery(tenant_id="acme", actor_id="*", text="tea"), "actor_id"),
        (MemoryQuery(tenant_id=None, actor_id="alice", text="tea"), "tenant_id"),  # type: ignore[arg-type]  # under test
    ]:
        with pytest.raises(InvalidInputError, match=field):
            backend.search(query)
    assert aws.call_count("bedrock-agentcore") == 0


def test_list_actor_pages_through_every_namespace(aws, backend, memory_id) -> None:
    ids = {_add(aws, memory_id, "fact", ALICE, f"fact {i}") for i in range(230)}
    ids.add(_add(aws, memory_id, "summary", ALICE, "summary", session="s-1"))
    ids.add(_add(aws, memory_id, "preference", ALICE, "preference"))
    _add(aws, memory_id, "fact", BOB, "bob fact")

    records = backend.list_actor("acme", "alice")

    assert {r.key for r in records} == ids
    assert {r.actor_id for r in records} == {"alice"}


# -- isolation through IAM -----------------------------------------------------------------------------


def test_credentials_for_another_actor_are_denied(aws, broker, memory_id) -> None:
    def wrong_actor(tenant_id: str, actor_id: str):
        return broker.client("bedrock-agentcore", tenant_id, "mallory")  # bug: not the requested actor

    buggy = AgentCoreMemoryBackend(wrong_actor, memory_id=memory_id)
    _add(aws, memory_id, "fact", ALICE, "alice likes tea")

    with pytest.raises(AccessDeniedError, match="tenant 'acme' was denied") as denied:
        buggy.record_turn(ALICE, "s-1", "user", "hello")
    with pytest.raises(AccessDeniedError):
        buggy.search(_query(ALICE, "tea"))
    with pytest.raises(AccessDeniedError):
        buggy.delete_actor("acme", "alice")
    assert aws.agentcore.events(memory_id) == []
    assert len(aws.agentcore.records(memory_id)) == 1
    assert "arn:" not in denied.value.message


def test_unknown_memory_is_not_found(aws) -> None:
    admin = aws.client("bedrock-agentcore")  # untagged credentials: IAM lets the call reach the service
    backend = AgentCoreMemoryBackend(lambda tenant_id, actor_id: admin, memory_id="missing_memory-AbCdE12345")
    with pytest.raises(NotFoundError, match="missing_memory-AbCdE12345"):
        backend.search(_query(ALICE, "tea"))


@pytest.mark.parametrize("memory_id", ["", "mem", "bad memory-AbCdE12345", None])
def test_memory_id_is_validated(memory_id) -> None:
    with pytest.raises(InvalidInputError, match="memory_id"):
        AgentCoreMemoryBackend(lambda t, a: None, memory_id=memory_id)


# -- forgetting ----------------------------------------------------------------------------------------


def test_delete_actor_removes_records_and_events_and_is_idempotent(aws, backend, memory_id) -> None:
    for session in ("s-1", "s-2", "s-3"):
        for i in range(45):
            backend.record_turn(ALICE, session, "user", f"I like item {i} of {session}")
    backend.record_turn(BOB, "s-1", "user", "I like bob things")
    backend.record_turn(GLOBEX_ALICE, "s-1", "user", "I like globex things")
    aws.agentcore.extract(memory_id)  # the service's asynchronous extraction, deterministically
    record_ids = {_add(aws, memory_id, "fact", ALICE, f"extra fact {i}") for i in range(150)}
    alice_records = {r.record_id for r in aws.agentcore.records(memory_id) if "/acme:alice/" in r.namespace}
    assert record_ids < alice_records

    # The user's own TVM session may erase that user: its policy grants deletes on its actor id and namespaces.
    eraser = backend
    report = eraser.delete_actor("acme", "alice")

    assert report.backend == "agentcore"
    assert report.deleted == len(alice_records) + 135
    assert alice_records <= set(report.keys)
    assert aws.agentcore.events(memory_id, actor_id="acme:alice") == []
    assert not [r for r in aws.agentcore.records(memory_id) if "/acme:alice/" in r.namespace]
    assert backend.search(_query(ALICE, "item")) == []
    assert backend.list_session_turns(ALICE, "s-1") == []
    # Everyone else is untouched.
    assert backend.list_session_turns(BOB, "s-1") == [("USER", "I like bob things")]
    assert backend.list_session_turns(GLOBEX_ALICE, "s-1") == [("USER", "I like globex things")]
    assert backend.list_actor("acme", "bob")

    again = eraser.delete_actor("acme", "alice")
    assert (again.deleted, again.keys) == (0, ())


# -- upstream errors -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "status", "error", "message"),
    [
        ("ThrottledException", 429, UpstreamError, "throttled"),
        ("ServiceQuotaExceededException", 402, UpstreamError, "throttled"),
        ("ServiceException", 500, UpstreamError, "RetrieveMemoryRecords failed"),
        ("ValidationException", 400, InvalidInputError, "rejected the request"),
        ("AccessDeniedException", 403, AccessDeniedError, "was denied"),
    ],
)
def test_upstream_failures_surface_as_typed_errors(aws_credentials, code, status, error, message) -> None:
    client = boto3.client("bedrock-agentcore", region_name="us-east-1")
    backend = AgentCoreMemoryBackend(lambda tenant_id, actor_id: client, memory_id="mesh_memory-AbCdE12345")
    with Stubber(client) as stub:
        stub.add_client_error(
            "retrieve_memory_records", service_error_code=code, service_message="internal detail",
            http_status_code=status,
        )
        with pytest.raises(error, match=message) as raised:
            backend.search(_query(ALICE, "tea", kinds=("fact",)))
    assert "internal detail" not in str(raised.value)


# -- concurrency -----------------------------------------------------------------------------------------


def test_concurrent_actors_never_see_each_others_turns_or_records(aws, backend, memory_id) -> None:
    identities = [Identity(tenant, actor) for tenant in ("acme", "globex", "initech") for actor in ("ann", "ben")]
    for identity in identities:
        _add(aws, memory_id, "fact", identity, f"{identity.tenant_id}-{identity.actor_id} likes tea")
    errors: list[str] = []
    barrier = threading.Barrier(len(identities))

    def work(identity: Identity) -> None:
        barrier.wait()
        marker = f"{identity.tenant_id}-{identity.actor_id}"
        for i in range(10):
            backend.record_turn(identity, "shared-session", "user", f"{marker} turn {i}")
            for record in backend.search(_query(identity, "likes tea")):
                if not record.content.startswith(marker + " ") or record.actor_id != identity.actor_id:
                    errors.append(f"{marker} saw {record.content!r}")
            for _, text in backend.list_session_turns(identity, "shared-session"):
                if not text.startswith(marker + " "):
                    errors.append(f"{marker} saw turn {text!r}")

    with ThreadPoolExecutor(max_workers=len(identities)) as pool:
        list(pool.map(work, identities))

    assert errors == []
    for identity in identities:
        assert len(backend.list_session_turns(identity, "shared-session")) == 10
