"""The memory routes through the HTTP handler: paging across every store, correcting and deleting one memory; bad
input refused with no AWS call."""

from __future__ import annotations

import json
from typing import Any

import pytest

from runtime.handlers import orchestrator
from runtime.handlers._memories import PAGE_BYTES
from tests.handlers.lambda_events import (
    SUPERVISOR_AGENT_ID,
    SUPERVISOR_ALIAS_ID,
    FakeLambdaContext,
    actor_of,
    answer_of,
    api_event,
    claims_for,
)

ALICE = claims_for("acme", "alice")
BOB = claims_for("acme", "bob")


def call(route: str, claims: dict[str, Any] = ALICE, *, key: str | None = None, query: dict[str, str] | None = None,
         body: Any = None) -> tuple[int, dict[str, Any]]:
    params = {"key": key} if key is not None else None
    event = api_event(route, claims=claims, path_parameters=params, query=query, body=body)
    return answer_of(orchestrator.handler(event, FakeLambdaContext()))


def aws_calls(mesh: Any) -> int:
    return sum(mesh.aws.call_count(service) for service in ("bedrock-agentcore", "s3vectors", "bedrock-agent-runtime"))


def _store(mesh: Any, **options: Any) -> Any:
    from runtime.credentials import TenantCredentialBroker
    from runtime.embeddings import LocalHashEmbedder
    from runtime.stores import S3VectorsMemoryStore

    broker = TenantCredentialBroker(mesh.aws.mesh.tvm_role_arn, region="us-east-1")
    return S3VectorsMemoryStore(broker, bucket_name=mesh.aws.mesh.bucket_name, index_prefix=mesh.aws.mesh.index_prefix,
                                embedder=LocalHashEmbedder(256), **options)


def _alice() -> Any:
    from runtime.identity import Identity

    return Identity("acme", actor_of("alice"))


def _seed(mesh: Any) -> set[str]:
    """Seven vectors, four AgentCore records and two Bedrock Agents summaries for alice; one vector for bob."""
    from runtime.identity import Identity

    store = _store(mesh)
    contents = {f"Alice fact number {i}: {word}" for i, word in enumerate("abcdefg")}
    for content in sorted(contents):
        store.put_memory(_alice(), content, kind="fact", agent="planner")
    store.put_memory(Identity("acme", actor_of("bob")), "Bob likes aisle seats.", kind="fact")
    actor = f"acme:{actor_of('alice')}"
    for text in ("Works in Lisbon", "Has a dog", "Speaks Portuguese"):
        mesh.aws.agentcore.add_record(mesh.memory_id, f"/facts/{actor}/", text)
        contents.add(text)
    mesh.aws.agentcore.add_record(mesh.memory_id, f"/preferences/{actor}/", "Prefers mornings")
    contents.add("Prefers mornings")
    from runtime.handlers._agents import bedrock_memory_id

    key = (f"{SUPERVISOR_AGENT_ID}/{SUPERVISOR_ALIAS_ID}", bedrock_memory_id(_alice()))
    for n in (1, 2):
        mesh.agents.session_summaries.setdefault(key, []).append(
            {"sessionId": f"agent-session-{n}", "summaryText": f"Summary {n}", "memoryId": key[1]})
        contents.add(f"Summary {n}")
    return contents


def _all_pages(query: dict[str, str], claims: dict[str, Any] = ALICE) -> list[list[dict[str, Any]]]:
    pages = []
    cursor = None
    while True:
        status, body = call("GET /memories", claims, query={**query, **({"cursor": cursor} if cursor else {})})
        assert status == 200, body
        pages.append(body["memories"])
        cursor = body["next_cursor"]
        if cursor is None:
            return pages


def test_memories_page_through_every_store_in_one_stable_order(mesh):
    expected = _seed(mesh)
    pages = _all_pages({"page_size": "3"})
    listed = [m for page in pages for m in page]
    assert all(len(page) <= 3 for page in pages) and len(pages) >= len(expected) // 3
    assert [m["content"] for m in listed if True] and {m["content"] for m in listed} == expected
    assert len(listed) == len(expected)  # nothing twice, nothing lost across the stores' pages
    # Vectors first, then AgentCore facts and preferences, then the supervisor's summaries.
    sources = [m["source"] for m in listed]
    assert sources == sorted(sources, key=["s3vectors", "agentcore", "bedrock-agent"].index)
    assert {m["agent"] for m in listed if m["source"] == "bedrock-agent"} == {"supervisor"}
    # The same order again, whatever the page size.
    again = [m["key"] for page in _all_pages({"page_size": "5"}) for m in page]
    assert again == [m["key"] for m in listed]
    assert not any("Bob" in m["content"] for m in listed)


def test_memory_filters_narrow_the_listing(mesh):
    _seed(mesh)
    facts = [m for page in _all_pages({"kind": "preference"}) for m in page]
    assert [m["content"] for m in facts] == ["Prefers mornings"]
    planner = [m for page in _all_pages({"agent": "planner"}) for m in page]
    assert len(planner) == 7 and {m["source"] for m in planner} == {"s3vectors"}
    summaries = [m for page in _all_pages({"kind": "summary", "agent": "supervisor"}) for m in page]
    assert sorted(m["content"] for m in summaries) == ["Summary 1", "Summary 2"]
    assert [m for page in _all_pages({"after": "4102444800"}) for m in page] == []  # 2100: nothing yet


def test_bad_listing_input_is_refused_before_any_aws_call(mesh):
    _seed(mesh)
    status, first = call("GET /memories", query={"page_size": "2"})
    assert status == 200 and first["next_cursor"]
    before = aws_calls(mesh)
    for query, field in (
        ({"cursor": first["next_cursor"]}, "cursor"),  # bob presenting alice's cursor
        ({"cursor": "%%%"}, "cursor"),
        ({"page_size": "0"}, "page_size"),
        ({"page_size": "101"}, "page_size"),
        ({"page_size": "ten"}, "page_size"),
        ({"kind": "secret"}, "kind"),
        ({"include": "everything"}, "include"),
        ({"after": "-1"}, "after"),
        ({"after": "20", "before": "10"}, "after"),
        ({"agent": "no such agent!"}, "agent"),
        ({"sort": "asc"}, "query.sort"),
    ):
        status, body = call("GET /memories", BOB, query=query)
        assert status == 400 and body["error"]["code"] == "InvalidInput", (query, body)
        assert field in body["error"]["message"]
    # Alice's cursor under other filters is another listing's cursor.
    status, body = call("GET /memories", query={"cursor": first["next_cursor"], "kind": "fact"})
    assert status == 400 and "cursor" in body["error"]["message"]
    assert aws_calls(mesh) == before, "bad input reaches no AWS service"


def test_a_page_of_large_memories_stays_under_the_lambda_response_limit(mesh):
    from runtime.contract.memory import MAX_CONTENT_BYTES
    from runtime.stores import MemoryDraft

    # The largest memories a store may hold, in text JSON escapes to six bytes a character (\u00e9).
    store = _store(mesh, content_max_bytes=MAX_CONTENT_BYTES)
    big = [MemoryDraft(f"{i} " + "é" * (MAX_CONTENT_BYTES // 2 - 4), kind="note") for i in range(100)]
    store.put_memories(_alice(), big)
    status, page = call("GET /memories", query={"page_size": "100"})
    size = len(json.dumps(page))
    assert status == 200 and size <= PAGE_BYTES < 6 * 1024 * 1024
    assert 0 < len(page["memories"]) < 100 and page["next_cursor"]
    rest = [m for p in _all_pages({"page_size": "100", "cursor": page["next_cursor"]}) for m in p]
    assert len(page["memories"]) + len(rest) == 100


def test_one_memory_is_corrected_and_deleted_in_either_store(mesh):
    _seed(mesh)
    listed = [m for page in _all_pages({"page_size": "100"}) for m in page]
    vector = next(m for m in listed if m["source"] == "s3vectors")
    record = next(m for m in listed if m["content"] == "Works in Lisbon")

    for memory, text in ((vector, "Alice fact, corrected"), (record, "Works in Porto")):
        status, body = call("PATCH /memories/{key}", key=memory["key"], body={"content": text})
        assert status == 200 and body == {"key": memory["key"], "updated": True}
    now = {m["key"]: m["content"] for page in _all_pages({"page_size": "100"}) for m in page}
    assert now[vector["key"]] == "Alice fact, corrected" and now[record["key"]] == "Works in Porto"

    for memory in (vector, record):
        assert call("DELETE /memories/{key}", key=memory["key"]) == (200, {"key": memory["key"], "deleted": True})
        status, body = call("DELETE /memories/{key}", key=memory["key"])
        assert status == 404 and body["error"]["code"] == "NotFound"
    left = {m["key"] for page in _all_pages({"page_size": "100"}) for m in page}
    assert vector["key"] not in left and record["key"] not in left and len(left) == len(listed) - 2


def test_another_users_or_a_malformed_key_is_refused_before_any_aws_call(mesh):
    _seed(mesh)
    mine = [m for page in _all_pages({"page_size": "100"}) for m in page]
    before = aws_calls(mesh)
    for memory in mine[:1] + [m for m in mine if m["source"] == "agentcore"][:1]:
        for route, body in (("PATCH /memories/{key}", {"content": "mine now"}), ("DELETE /memories/{key}", None)):
            status, answer = call(route, BOB, key=memory["key"], body=body)
            assert status == 404 and answer["error"] == {"code": "NotFound", "message": "memory not found"}
    for key in ("nope", "a.b.c", "e30.0000000000000000", "%%%.abc"):
        status, answer = call("DELETE /memories/{key}", key=key)
        assert status == 400 and "key" in answer["error"]["message"], key
    summary = next(m for m in mine if m["source"] == "bedrock-agent")
    status, answer = call("PATCH /memories/{key}", key=summary["key"], body={"content": "x"})
    assert status == 400 and "DELETE /sessions" in answer["error"]["message"]
    bad_bodies: tuple[dict[str, Any], ...] = (
        {}, {"content": " "}, {"content": 3}, {"content": "x" * 20000}, {"content": "x", "extra": 1})
    for bad in bad_bodies:
        status, answer = call("PATCH /memories/{key}", key=mine[0]["key"], body=bad)
        assert status == 400, bad
    assert aws_calls(mesh) == before, "bad input reaches no AWS service"
    # Nothing of alice's changed.
    assert [m["content"] for page in _all_pages({"page_size": "100"}) for m in page] == [m["content"] for m in mine]


@pytest.mark.parametrize("include", [None, "history"])
def test_superseded_memories_are_listed_only_as_history(mesh, include):
    from runtime.stores.consolidation import ConsolidationPolicy

    store = _store(mesh)
    store.consolidation = ConsolidationPolicy(supersede_similarity=0.5)
    first = store.write_memory(_alice(), "Alice's favourite city is Lisbon", kind="preference")
    second = store.write_memory(_alice(), "Alice's favourite city is Porto now", kind="preference")
    assert (first.outcome, second.outcome, second.superseded) == ("created", "superseded", (first.key,))
    listed = [m for page in _all_pages({"include": include} if include else {}) for m in page]
    if include is None:
        assert [m["content"] for m in listed] == ["Alice's favourite city is Porto now"]
        assert listed[0]["state"] == "current" and len(listed[0]["supersedes"]) == 1
        return
    (old,) = [m for m in listed if m["state"] == "superseded"]
    (new,) = [m for m in listed if m["state"] == "current"]
    assert old["content"].endswith("Lisbon") and old["superseded_by"] == new["key"]
    assert new["supersedes"] == [old["key"]]


# -- recall filters on the direct invoke ------------------------------------------------------------------------


def _recalled(mesh: Any, **recall: Any) -> tuple[int, str]:
    from tests.handlers.test_orchestrator import SUPERVISOR

    payload = {"message": "What about Alice's seats and dogs?", "tenant_id": "acme", "actor_id": actor_of("alice")}
    response = orchestrator.handler({**payload, **({"recall": recall} if recall else {})}, FakeLambdaContext())
    assert response["statusCode"] == 200, response
    state = mesh.agents.calls_to(SUPERVISOR)[-1].params["sessionState"]
    return response["memories_used"], state["promptSessionAttributes"].get("mesh_memory_context", "")


def test_the_direct_invoke_narrows_recall_by_kind_agent_and_time(mesh):
    from runtime.identity import Identity

    store = _store(mesh)
    alice = Identity("acme", actor_of("alice"))
    store.put_memory(alice, "Alice likes window seats", kind="preference", agent="planner")
    store.put_memory(alice, "Alice has a dog called Rex", kind="fact", agent="travel")
    mesh.aws.agentcore.add_record(mesh.memory_id, f"/facts/acme:{actor_of('alice')}/", "Alice's dog sits by seats")

    count, block = _recalled(mesh)
    assert count == 3 and "window seats" in block and "Rex" in block and "sits by" in block
    count, block = _recalled(mesh, kinds=["preference"])
    assert count == 1 and "window seats" in block
    count, block = _recalled(mesh, agent="travel")  # AgentCore's records were written by no agent
    assert count == 1 and "Rex" in block
    count, block = _recalled(mesh, after=4102444800)
    assert count == 0 and block == ""
    count, block = _recalled(mesh, min_score=1.0)
    assert count == 0


@pytest.mark.parametrize(("recall", "field"), [
    ("facts", "recall"), ({"kinds": "fact"}, "recall.kind"), ({"kinds": ["secret"]}, "recall.kind"),
    ({"agent": "bad agent!"}, "recall.agent"), ({"after": -5}, "recall.after"), ({"min_score": 2}, "recall.min_score"),
    ({"after": 9, "before": 3}, "recall.after"), ({"top": 3}, "recall.top"),
])
def test_a_bad_recall_filter_is_refused_before_any_aws_call(mesh, recall, field):
    before = aws_calls(mesh)
    payload = {"message": "hi", "tenant_id": "acme", "actor_id": "a1", "recall": recall}
    response = orchestrator.handler(payload, FakeLambdaContext())
    assert response["statusCode"] == 400 and field in response["error"]["message"], response
    assert aws_calls(mesh) == before
