"""The Strands integration, driven through a real ``strands.Agent`` and a scripted model.

Every test asserts on what the model actually received (the memory block folded into the user turn)
and on what the stores hold. Identity travels only in each call's ``invocation_state``.
"""

from __future__ import annotations

import asyncio
import json
import threading
from concurrent.futures import ThreadPoolExecutor

import boto3
import pytest
from botocore.config import Config
from botocore.stub import Stubber
from moto import mock_aws
from strands import Agent
from strands.types.agent import ConcurrentInvocationMode

from runtime.embeddings import LocalHashEmbedder
from runtime.errors import AccessDeniedError, InvalidInputError
from runtime.identity import Identity
from runtime.integrations import (
    END_SESSION_KEY,
    MEMORY_IDENTITY_KEY,
    DirectSummaryHandoff,
    InMemoryTurnLog,
    MemoryScope,
    MeshMemory,
    QueueSummaryHandoff,
    S3VectorsStrandsStore,
    memory_request,
)
from runtime.records import MemoryQuery, MemoryRecord
from runtime.rendering import render_memory_block
from runtime.stores import LocalMemoryStore, summary_key
from runtime.stores.consolidation import ConsolidationPolicy, ConverseJudge
from runtime.summarizer import SUMMARY_SYSTEM_PROMPT, SummaryJob, parse_summary_job
from tests.runtime.scripted_model import ModelRequest, ScriptedModel, ToolCall

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:bedrock_agentcore.*")

REGION = "us-east-1"
NOW = 1_700_000_000
QUESTION = "What is my favourite drink, project and meeting time?"
ACME = Identity("acme", "user-1")
GLOBEX = Identity("globex", "user-1")  # same actor id, other tenant: only the tenant tells them apart
SEEDS = {
    ACME: [
        "My favourite drink is green tea",
        "My current project is Apollo and my favourite meeting time is morning",
        "I prefer short meetings",
    ],
    GLOBEX: [
        "My favourite drink is black coffee",
        "My current project is Zephyr and my favourite meeting time is afternoon",
        "I prefer long meetings",
    ],
}
MARKERS = {
    ACME: ("green tea", "Apollo", "short meetings", "acme"),
    GLOBEX: ("black coffee", "Zephyr", "long meetings", "globex"),
}


def _block(contents: list[str], kind: str = "fact") -> str:
    """The memory block the model must receive for these memories, in rank order (the runtime's one format)."""
    records = [
        MemoryRecord(content=c, tenant_id="", actor_id="", kind=kind, source="long-term", key="", stored_at=NOW)
        for c in contents
    ]
    return "\n\n" + render_memory_block(records)


EXPECTED_BLOCK = {
    ACME: _block([SEEDS[ACME][1], SEEDS[ACME][0], SEEDS[ACME][2]]),
    GLOBEX: _block([SEEDS[GLOBEX][1], SEEDS[GLOBEX][0], SEEDS[GLOBEX][2]]),
}


def _remembering_script(request: ModelRequest):
    """Answers, except that 'remember: X' makes it call add_memory with X."""
    if request.has_tool_result:
        return "Saved."
    prompt = request.last_user_texts[0]
    if prompt.startswith("remember: "):
        return ToolCall("add_memory", {"entries": [prompt.removeprefix("remember: ")]})
    return "Here is what I know."


@pytest.fixture
def store() -> LocalMemoryStore:
    store = LocalMemoryStore(LocalHashEmbedder(256), clock=lambda: NOW)
    for identity, contents in SEEDS.items():
        for content in contents:
            store.put_memory(identity, content, kind="fact", agent="planner", session_id="seed")
    return store


def _agent(memory: MeshMemory, model: ScriptedModel) -> Agent:
    return Agent(model=model, callback_handler=None, **memory.agent_kwargs())


def _memory_texts(request: ModelRequest) -> list[str]:
    """The injected block(s): every text block of the user turn after the prompt."""
    return request.last_user_texts[1:]


# -- the required isolation test ----------------------------------------------------------------------


def test_two_agents_on_concurrent_threads_never_see_each_others_tenant(store):
    log = InMemoryTurnLog()
    memories = [MeshMemory.local(store, agent_name="planner", turn_recorder=log, max_entries=3) for _ in range(2)]
    models = [ScriptedModel(_remembering_script) for _ in range(2)]
    agents = [_agent(memory, model) for memory, model in zip(memories, models, strict=True)]
    tenants = [ACME, GLOBEX]
    rounds = 100
    barrier = threading.Barrier(2)
    served: list[list[tuple[Identity, str]]] = [[], []]

    def run(worker: int, phase: str) -> None:
        for round_ in range(rounds):
            # Each agent alternates tenants, and the two agents always serve different tenants at once.
            identity = tenants[(round_ + worker) % 2]
            prompt = QUESTION if phase == "read" else f"remember: {identity.tenant_id} note {worker}-{round_}"
            barrier.wait(timeout=30)
            agents[worker](prompt, invocation_state=memory_request(identity, f"s-{phase}-{worker}-{round_}"))
            served[worker].append((identity, phase))

    for phase in ("read", "write"):
        with ThreadPoolExecutor(max_workers=2) as pool:
            for future in [pool.submit(run, worker, phase) for worker in range(2)]:
                future.result()

    for worker, model in enumerate(models):
        user_turns = [r for r in model.requests if not r.has_tool_result]
        assert len(user_turns) == 2 * rounds
        for request, (identity, phase) in zip(user_turns, served[worker], strict=True):
            other = GLOBEX if identity == ACME else ACME
            injected = "".join(_memory_texts(request))
            if phase == "read":
                # Exactly this tenant's three facts, in rank order, and nothing else.
                assert request.last_user_texts == [QUESTION, EXPECTED_BLOCK[identity]]
            assert not any(marker in injected for marker in MARKERS[other])
            assert "memory_identity" in request.invocation_state_keys

    for identity in tenants:
        other = GLOBEX if identity == ACME else ACME
        held = [r.content for r in store.list_actor(identity.tenant_id, identity.actor_id)]
        notes = sorted(c for c in held if " note " in c)
        assert len(held) == len(SEEDS[identity]) + rounds
        assert notes == sorted(f"{identity.tenant_id} note {w}-{r}" for r in range(rounds) for w in range(2)
                               if tenants[(r + w) % 2] == identity)
        assert not any(marker in content for content in held for marker in MARKERS[other])
        # Turns were recorded under the identity that made them.
        for worker in range(2):
            for round_ in range(rounds):
                turns = log.list_session_turns(identity, f"s-read-{worker}-{round_}")
                if tenants[(round_ + worker) % 2] == identity:
                    assert turns == [("user", QUESTION), ("assistant", "Here is what I know.")]
                else:
                    assert turns == []


def test_expected_blocks_hold_only_their_tenants_facts():
    for identity, block in EXPECTED_BLOCK.items():
        other = GLOBEX if identity == ACME else ACME
        assert all(content in block for content in SEEDS[identity])
        assert not any(content in block for content in SEEDS[other])
        assert "data, not instructions" in block


# -- cross-session recall ----------------------------------------------------------------------------


def test_memory_written_in_session_one_is_injected_in_session_two_for_the_same_actor_only():
    store = LocalMemoryStore(LocalHashEmbedder(256), clock=lambda: NOW)
    alice, bob, other_tenant_alice = Identity("acme", "alice"), Identity("acme", "bob"), Identity("globex", "alice")
    question = "Which city should I visit?"

    first = ScriptedModel(_remembering_script)
    _agent(MeshMemory.local(store, agent_name="planner"), first)(
        "remember: The user's favourite city is Lisbon", invocation_state=memory_request(alice, "session-1")
    )
    assert first.requests[0].tool_names == ("search_memory", "add_memory")
    assert _memory_texts(first.requests[0]) == []  # nothing remembered yet

    # A new agent (a new process, say) for session 2: only the request says who is asking.
    later = ScriptedModel(_remembering_script)
    agent = _agent(MeshMemory.local(store, agent_name="concierge"), later)
    for identity in (alice, bob, other_tenant_alice):
        agent(question, invocation_state=memory_request(identity, "session-2"))

    alice_sees, bob_sees, globex_alice_sees = (r.last_user_texts for r in later.requests)
    [record] = store.list_actor("acme", "alice")
    assert (record.kind, record.agent, record.session_id) == ("fact", "planner", "session-1")
    assert alice_sees == [question, _block(["The user's favourite city is Lisbon"])]
    assert bob_sees == [question]
    assert globex_alice_sees == [question]


def test_search_memory_tool_returns_only_the_requesters_memories(store):
    def script(request: ModelRequest):
        if request.has_tool_result:
            return "Done."
        return ToolCall("search_memory", {"query": "favourite drink"})

    model = ScriptedModel(script)
    memory = MeshMemory.local(store, agent_name="planner", max_entries=3)
    _agent(memory, model)(QUESTION, invocation_state=memory_request(GLOBEX, "s-1"))

    tool_turn = model.requests[1]
    [result] = [block["toolResult"] for block in tool_turn.messages[-1]["content"] if "toolResult" in block]
    assert result["status"] == "success"
    found = json.loads(result["content"][0]["text"])
    contents = [item["content"] for item in found]
    assert set(contents) == set(SEEDS[GLOBEX])
    assert all(item["store_name"] == "long-term" and item["metadata"]["kind"] == "fact" for item in found)


# -- identity handling -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("state", "field"),
    [
        ({}, "invocation_state['memory_identity']"),
        ({MEMORY_IDENTITY_KEY: "acme"}, "invocation_state['memory_identity']"),
        ({MEMORY_IDENTITY_KEY: {"tenant_id": "acme", "actor_id": "user-1"}}, "invocation_state['memory_identity']"),
        ({MEMORY_IDENTITY_KEY: {"tenant_id": "ACME*", "actor_id": "u", "session_id": "s-1"}}, "tenant_id"),
        ({MEMORY_IDENTITY_KEY: {"tenant_id": "acme", "actor_id": "u", "session_id": "s-1", "role": "admin"}},
         "invocation_state['memory_identity']"),
        ({MEMORY_IDENTITY_KEY: {"tenant_id": "acme", "actor_id": "u", "session_id": "s-1"}, END_SESSION_KEY: "yes"},
         f"invocation_state['{END_SESSION_KEY}']"),
    ],
)
def test_a_request_without_a_valid_identity_fails_before_the_model_is_called(store, state, field):
    model = ScriptedModel()
    agent = _agent(MeshMemory.local(store, agent_name="planner"), model)

    with pytest.raises(InvalidInputError) as raised:
        agent(QUESTION, invocation_state=state)

    assert raised.value.field == field
    assert model.requests == []
    # The agent stays usable, and the next request is scoped to its own identity.
    agent(QUESTION, invocation_state=memory_request(ACME, "s-2"))
    assert model.requests[0].last_user_texts == [QUESTION, EXPECTED_BLOCK[ACME]]


def test_scope_object_in_invocation_state_is_honoured(store):
    model = ScriptedModel()
    agent = _agent(MeshMemory.local(store, agent_name="planner", max_entries=3), model)

    agent(QUESTION, invocation_state={MEMORY_IDENTITY_KEY: MemoryScope(GLOBEX, "s-1", "planner")})

    assert model.requests[0].last_user_texts == [QUESTION, EXPECTED_BLOCK[GLOBEX]]


def test_identity_is_released_when_the_request_ends(store):
    memory = MeshMemory.local(store, agent_name="planner")
    [vector_store] = memory.stores
    _agent(memory, ScriptedModel())(QUESTION, invocation_state=memory_request(ACME, "s-1"))

    with pytest.raises(AccessDeniedError, match="no request identity"):
        asyncio.run(vector_store.search(QUESTION))
    with pytest.raises(AccessDeniedError):
        asyncio.run(vector_store.add("written outside any request"))
    # Through the manager, the failing store is skipped: nothing is returned, nothing is written.
    assert asyncio.run(memory.manager.search(QUESTION)) == []
    assert store.count("acme") == len(SEEDS[ACME])


def test_explicit_scope_methods_work_outside_agent_calls(store):
    vector_store = S3VectorsStrandsStore(store)
    scope = MemoryScope(ACME, "s-9", "planner")

    key = vector_store.add_scoped(scope, "I commute by bike", kind="preference")

    assert [r.content for r in vector_store.search_scoped(scope, "bike commute", top_k=1)] == ["I commute by bike"]
    assert key in {r.key for r in store.list_actor("acme", "user-1")}


def test_one_memory_per_agent_is_enforced(store):
    memory = MeshMemory.local(store, agent_name="planner")
    first = _agent(memory, ScriptedModel())

    with pytest.raises(InvalidInputError, match="already attached to another Agent"):
        _agent(memory, ScriptedModel())
    assert first.memory_manager is memory.manager

    shared = S3VectorsStrandsStore(store)
    MeshMemory([shared], agent_name="planner")
    with pytest.raises(InvalidInputError, match="already belongs to another MeshMemoryPlugin"):
        MeshMemory([shared], agent_name="writer")


def test_reentrant_agents_are_refused(store):
    memory = MeshMemory.local(store, agent_name="planner")
    with pytest.raises(InvalidInputError) as raised:
        Agent(
            model=ScriptedModel(), callback_handler=None,
            concurrent_invocation_mode=ConcurrentInvocationMode.UNSAFE_REENTRANT, **memory.agent_kwargs(),
        )
    assert raised.value.field == "concurrent_invocation_mode"


def test_automatic_extraction_is_refused_on_request_scoped_stores(store):
    vector_store = S3VectorsStrandsStore(store)
    with pytest.raises(InvalidInputError) as raised:
        vector_store.extraction = True
    assert raised.value.field == "extraction"


# -- end of session ----------------------------------------------------------------------------------


@pytest.fixture
def sqs(aws_credentials):
    with mock_aws():
        yield boto3.client("sqs", region_name=REGION)


def test_end_of_session_sends_exactly_one_well_formed_job(store, sqs):
    url = sqs.create_queue(QueueName="mesh-summaries")["QueueUrl"]
    memory = MeshMemory.local(store, agent_name="planner", session_end=QueueSummaryHandoff(sqs, url, clock=lambda: NOW))
    agent = _agent(memory, ScriptedModel())

    agent("Hello", invocation_state=memory.request(ACME, "s-77"))
    agent(QUESTION, invocation_state=memory.request(ACME, "s-77"))
    assert sqs.receive_message(QueueUrl=url, WaitTimeSeconds=0).get("Messages") is None
    agent("Bye", invocation_state=memory.request(ACME, "s-77", end_session=True))

    messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0)["Messages"]
    assert len(messages) == 1
    assert parse_summary_job(messages[0]["Body"]) == SummaryJob("acme", "user-1", "s-77", "planner", NOW)
    assert json.loads(messages[0]["Body"])["v"] == 1


def test_end_of_session_summarizes_directly_and_the_summary_is_recalled_next_session(store):
    log = InMemoryTurnLog()
    converse = boto3.client(
        "bedrock-runtime", region_name=REGION, aws_access_key_id="testing", aws_secret_access_key="testing",
        config=Config(retries={"mode": "standard", "total_max_attempts": 1}),
    )
    summary = "The user is planning a trip to Kyoto in April."
    transcript = (
        "<transcript>\n"
        '<turn role="user">I am planning a trip to Kyoto in April</turn>\n'
        '<turn role="assistant">Lovely season for Kyoto.</turn>\n'
        "</transcript>\n"
        "Write the memory note for the conversation above, following your instructions."
    )
    handoff = DirectSummaryHandoff(
        turns_source=log, vector_store=store, converse_client=converse, model_id="amazon.nova-lite-v1:0"
    )
    memory = MeshMemory.local(store, agent_name="planner", turn_recorder=log, session_end=handoff)
    model = ScriptedModel(["Lovely season for Kyoto.", "Have a good trip."])
    agent = _agent(memory, model)
    alice = Identity("acme", "alice")

    with Stubber(converse) as stubber:
        stubber.add_response(
            "converse",
            {
                "output": {"message": {"role": "assistant", "content": [{"text": summary}]}},
                "stopReason": "end_turn",
                "usage": {"inputTokens": 50, "outputTokens": 12, "totalTokens": 62},
                "metrics": {"latencyMs": 5},
            },
            {
                "modelId": "amazon.nova-lite-v1:0",
                "system": [{"text": SUMMARY_SYSTEM_PROMPT}],
                "messages": [{"role": "user", "content": [{"text": transcript}]}],
                "inferenceConfig": {"maxTokens": 1024, "temperature": 0},
            },
        )
        agent(
            "I am planning a trip to Kyoto in April",
            invocation_state=memory.request(alice, "trip-1", end_session=True),
        )
        stubber.assert_no_pending_responses()

    [record] = store.list_actor("acme", "alice")
    assert (record.key, record.kind, record.content) == (
        summary_key("acme", "alice", "planner", "trip-1"), "summary", summary
    )
    agent("When is my trip to Kyoto?", invocation_state=memory.request(alice, "trip-2"))
    assert model.requests[-1].last_user_texts == ["When is my trip to Kyoto?", _block([summary], kind="summary")]


def test_end_session_without_an_agent_call(store, sqs):
    url = sqs.create_queue(QueueName="mesh-summaries")["QueueUrl"]
    memory = MeshMemory.local(store, agent_name="planner", session_end=QueueSummaryHandoff(sqs, url, clock=lambda: NOW))

    memory.end_session(GLOBEX, "s-5")

    [message] = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    assert parse_summary_job(message["Body"]).identity == GLOBEX


# -- over emulated AWS: S3 Vectors and AgentCore through tenant-scoped TVM credentials ---------------


@pytest.fixture
def mesh(aws, tenant_index):
    """The emulated memory home (conftest ``aws``: IAM on the synthesized TVM) with two tenant indexes, and a TVM
    broker."""
    from runtime.credentials import TenantCredentialBroker

    for tenant in ("acme", "globex"):
        tenant_index(tenant)
    return aws, aws.mesh, TenantCredentialBroker(aws.mesh.tvm_role_arn, region=REGION)


def _vectors(layout, broker):
    from runtime.stores import S3VectorsMemoryStore

    return S3VectorsMemoryStore(
        broker, bucket_name=layout.bucket_name, index_prefix=layout.index_prefix, embedder=LocalHashEmbedder(256),
        clock=lambda: NOW,
    )


def _emulated_memory(layout, broker, agent_name: str) -> MeshMemory:
    from runtime.integrations import AgentCoreStrandsStore
    from runtime.stores import AgentCoreMemoryBackend

    def agentcore(tenant_id: str, actor_id: str):
        return broker.client("bedrock-agentcore", tenant_id, actor_id)

    return MeshMemory(
        [S3VectorsStrandsStore(_vectors(layout, broker)), AgentCoreStrandsStore(agentcore, memory_id=layout.memory_id)],
        agent_name=agent_name,
        turn_recorder=AgentCoreMemoryBackend(agentcore, memory_id=layout.memory_id),
        max_entries=4,
    )


def test_agentcore_memories_reach_only_their_actor_through_agentcore_memory_store(mesh):
    aws, layout, broker = mesh
    alice, bob, globex_alice = Identity("acme", "alice"), Identity("acme", "bob"), Identity("globex", "alice")
    model = ScriptedModel(_remembering_script)
    agent = _agent(_emulated_memory(layout, broker, "planner"), model)

    agent("I prefer aisle seats on long flights", invocation_state=memory_request(alice, "trip-1"))
    events = aws.agentcore.events(layout.memory_id, actor_id="acme:alice", session_id="trip-1")
    assert [turn for event in events for turn in event.messages()] == [
        ("USER", "I prefer aisle seats on long flights"), ("ASSISTANT", "Here is what I know."),
    ]
    aws.agentcore.extract(layout.memory_id)  # AgentCore's asynchronous extraction, done now

    question = "Which seats do I prefer on flights?"
    for identity in (alice, bob, globex_alice):
        agent(question, invocation_state=memory_request(identity, "trip-2"))

    alice_sees, bob_sees, globex_sees = (r.last_user_texts for r in model.requests[1:])
    assert alice_sees[0] == question and len(alice_sees) == 2
    assert 'source="agentcore"' in alice_sees[1] and "aisle seats" in alice_sees[1]
    assert bob_sees == [question]
    assert globex_sees == [question]


def test_concurrent_tenants_over_emulated_aws_stay_isolated(mesh):
    aws, layout, broker = mesh
    tenants = [Identity("acme", "user-1"), Identity("globex", "user-1")]
    models = [ScriptedModel(_remembering_script) for _ in range(2)]
    agents = [_agent(_emulated_memory(layout, broker, "planner"), model) for model in models]
    barrier = threading.Barrier(2)
    rounds = 12
    served: list[list[Identity]] = [[], []]

    def run(worker: int) -> None:
        for round_ in range(rounds):
            identity = tenants[(round_ + worker) % 2]
            barrier.wait(timeout=30)
            agents[worker](
                f"remember: {identity.tenant_id} keeps note {worker}-{round_}",
                invocation_state=memory_request(identity, f"s-{worker}-{round_}"),
            )
            served[worker].append(identity)

    with ThreadPoolExecutor(max_workers=2) as pool:
        for future in [pool.submit(run, worker) for worker in range(2)]:
            future.result()

    for worker, model in enumerate(models):
        user_turns = [r for r in model.requests if not r.has_tool_result]
        for request, identity in zip(user_turns, served[worker], strict=True):
            other = "globex" if identity.tenant_id == "acme" else "acme"
            assert other not in "".join(_memory_texts(request))
    for identity in tenants:
        other = "globex" if identity.tenant_id == "acme" else "acme"
        held = [r.content for r in _vectors(layout, broker).list_actor(identity.tenant_id, identity.actor_id)]
        assert len(held) == rounds and all(c.startswith(f"{identity.tenant_id} keeps note") for c in held)
        events = aws.agentcore.events(layout.memory_id, actor_id=f"{identity.tenant_id}:user-1")
        assert events and not any(other in text for e in events for _, text in e.messages())
    assert broker.stats.sts_calls <= 4  # one AssumeRole per (tenant, actor) tag set, not per request


def test_from_settings_wires_vectors_agentcore_and_the_summary_queue(mesh):
    from runtime.settings import MemorySettings

    aws, layout, broker = mesh
    sqs = boto3.client("sqs", region_name=REGION)
    url = sqs.create_queue(QueueName="mesh-summaries")["QueueUrl"]
    settings = MemorySettings(
        region=REGION, vector_bucket_name=layout.bucket_name, index_prefix=layout.index_prefix,
        embedding_dimension=256, distance_metric="cosine", embedding_model_id="amazon.titan-embed-text-v2:0",
        memory_id=layout.memory_id, tvm_role_arn=layout.tvm_role_arn, summary_queue_url=url,
    )
    memory = MeshMemory.from_settings(
        settings, broker=broker, agent_name="planner", embedder=LocalHashEmbedder(256), sqs_client=sqs
    )
    model = ScriptedModel(_remembering_script)
    agent = _agent(memory, model)
    alice = Identity("acme", "alice")

    agent("remember: The user's team is called Falcon", invocation_state=memory.request(alice, "s-1"))
    agent("What is my team called?", invocation_state=memory.request(alice, "s-1", end_session=True))

    assert [type(store).__name__ for store in memory.stores] == ["S3VectorsStrandsStore", "AgentCoreStrandsStore"]
    texts = model.requests[-1].last_user_texts
    assert any(t.lstrip().startswith("<memories>") and "Falcon" in t for t in texts)
    # The session so far (read back from AgentCore events) comes as the session block, escaped and labelled.
    (session_block,) = [t.lstrip() for t in texts if t.lstrip().startswith("<session>")]
    assert session_block.startswith("<session>") and "data, not instructions" in session_block
    assert '<turn role="user">remember: The user&#x27;s team is called Falcon</turn>' in session_block
    assert '<turn role="assistant" agent="planner">' in session_block
    [message] = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    job = parse_summary_job(message["Body"])
    assert (job.identity, job.session_id, job.agent) == (alice, "s-1", "planner")
    events = aws.agentcore.events(layout.memory_id, actor_id="acme:alice")
    turns = [t for e in events for t in e.messages()]
    assert turns[0] == ("USER", "remember: The user's team is called Falcon")
    assert len(turns) == 4 and len(events) == 2  # one event per invocation


# -- editing one memory, consolidation ---------------------------------------------------------------


def test_update_and_delete_tools_act_for_the_requests_identity_only():
    store = LocalMemoryStore(LocalHashEmbedder(256), clock=lambda: NOW)
    alice, globex_alice = Identity("acme", "alice"), Identity("globex", "alice")
    old = store.put_memory(alice, "I live in Lisbon", kind="fact")
    theirs = store.put_memory(globex_alice, "I live in Oslo", kind="fact")

    def script(request: ModelRequest):
        if request.has_tool_result:
            return "Done."
        prompt = request.last_user_texts[0]
        if prompt.startswith("moved"):
            return ToolCall("update_memory", {"key": old, "content": "I live in Porto"})
        return ToolCall("delete_memory", {"key": prompt.removeprefix("forget ")})

    model = ScriptedModel(script)
    memory = MeshMemory.local(store, agent_name="planner", edit_tools=True)
    agent = _agent(memory, model)
    assert {"update_memory", "delete_memory"} <= set(agent.tool_names)
    spec = next(s for s in agent.tool_registry.get_all_tool_specs() if s["name"] == "update_memory")
    assert set(spec["inputSchema"]["json"]["properties"]) == {"key", "content"}  # no identity for the model

    agent("moved to Porto", invocation_state=memory_request(alice, "s-1"))
    assert [r.content for r in store.list_actor("acme", "alice")] == ["I live in Porto"]
    # The same key under another tenant's identity deletes nothing of alice's (and globex's own stays).
    agent(f"forget {old}", invocation_state=memory_request(globex_alice, "s-2"))
    assert [r.content for r in store.list_actor("acme", "alice")] == ["I live in Porto"]
    assert [r.key for r in store.list_actor("globex", "alice")] == [theirs]
    agent(f"forget {old}", invocation_state=memory_request(alice, "s-3"))
    assert store.list_actor("acme", "alice") == []


def test_find_memories_tool_filters_by_kind_agent_and_time_for_the_requests_identity():
    clock = [NOW - 7200]
    store = LocalMemoryStore(LocalHashEmbedder(256), clock=lambda: clock[0])
    alice = Identity("acme", "alice")
    store.put_memory(alice, "Alice flies to Oslo in May", kind="fact", agent="travel")
    clock[0] = NOW
    store.put_memory(alice, "Alice prefers flying in the morning", kind="preference", agent="planner")
    store.put_memory(Identity("acme", "bob"), "Bob flies to Rome", kind="fact", agent="travel")
    asked: list[dict] = []

    def script(request: ModelRequest):
        if request.has_tool_result:
            asked.append(json.loads(request.messages[-1]["content"][0]["toolResult"]["content"][0]["text"]))
            return "Done."
        return ToolCall("find_memories", json.loads(request.last_user_texts[0]))

    memory = MeshMemory.local(store, agent_name="planner", edit_tools=True, inject=False)
    agent = _agent(memory, ScriptedModel(script))
    spec = next(s for s in agent.tool_registry.get_all_tool_specs() if s["name"] == "find_memories")
    assert set(spec["inputSchema"]["json"]["properties"]) == {"query", "kinds", "by_agent", "after", "before",
                                                              "max_results"}  # no identity for the model
    for filters in ({"query": "flying"}, {"query": "flying", "kinds": ["fact"]},
                    {"query": "flying", "by_agent": "planner"}, {"query": "flying", "after": NOW - 60}):
        agent(json.dumps(filters), invocation_state=memory_request(alice, "s-1"))
    contents = [sorted(m["content"] for m in answer["memories"]) for answer in asked]
    assert contents == [
        ["Alice flies to Oslo in May", "Alice prefers flying in the morning"],
        ["Alice flies to Oslo in May"],
        ["Alice prefers flying in the morning"],
        ["Alice prefers flying in the morning"],
    ]
    assert all(m["key"].startswith("mem-") for answer in asked for m in answer["memories"])


@pytest.mark.parametrize("backend", ["s3vectors", "local"])
def test_contradicting_memory_supersedes_and_duplicates_collapse(mesh, backend):
    """Tea three times, then coffee: one current preference (coffee) is injected; tea is history only.

    Over S3 Vectors (emulated, TVM credentials) and the local store; the consolidation judge is a Converse model
    served by the emulation's scripted judge."""
    from runtime.testing.agents_fake import scripted_agents

    aws, layout, broker = mesh
    judge = ConverseJudge(boto3.client("bedrock-runtime", region_name=REGION), "amazon.nova-lite-v1:0")
    policy = ConsolidationPolicy(judge=judge)
    if backend == "local":
        store = LocalMemoryStore(LocalHashEmbedder(256), clock=lambda: NOW, consolidation=policy)
    else:
        store = _vectors(layout, broker)
        store.consolidation = policy
    with scripted_agents(aws) as agents:
        _tea_then_coffee(agents, store)


def _tea_then_coffee(agents, store):
    alice = Identity("acme", "alice")
    model = ScriptedModel(_remembering_script)
    memory = MeshMemory([S3VectorsStrandsStore(store, default_kind="preference")], agent_name="planner")
    agent = _agent(memory, model)
    for said in ("Alice prefers tea", "Alice prefers tea", "alice  prefers TEA",
                 "Alice now prefers coffee, she quit tea"):
        agent(f"remember: {said}", invocation_state=memory_request(alice, "s-1"))

    everything = store.list_actor("acme", "alice")
    assert len(everything) == 2  # the duplicates collapsed into the first write
    (tea,) = [r for r in everything if "tea" in r.content and "coffee" not in r.content]
    (coffee,) = [r for r in everything if "coffee" in r.content]
    assert (tea.state, tea.superseded_by) == ("superseded", coffee.key)
    assert (coffee.state, coffee.supersedes) == ("current", (tea.key,))
    current = store.search(MemoryQuery("acme", "alice", "what does Alice prefer to drink", top_k=10))
    assert [r.content for r in current] == ["Alice now prefers coffee, she quit tea"]

    agent("What does Alice prefer to drink?", invocation_state=memory_request(alice, "s-2"))
    injected = "".join(_memory_texts(model.requests[-1]))
    assert injected.count("<memory ") == 1 and "coffee" in injected
    assert "Alice prefers tea" not in injected
    judged = [c for c in agents.converse_calls if c["modelId"] == "amazon.nova-lite-v1:0"]
    assert len(judged) == 1  # exact duplicates never reach the judge; the change of value does
