"""The forget-me Lambda against the S3 Vectors and AgentCore fakes: everything of one actor goes, nothing else."""

from __future__ import annotations

import functools
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from runtime.credentials import TenantCredentialBroker
from runtime.embeddings import LocalHashEmbedder
from runtime.handlers import forget
from runtime.identity import Identity
from runtime.stores import AgentCoreMemoryBackend, S3VectorsMemoryStore
from tests.handlers.lambda_events import TENANT_CLAIM, actor_of, answer_of, api_event, claims_for

BUCKET = "mesh-test-bucket"
ROUTE = "DELETE /memories"
ALICE = Identity("acme", "alice")
BOB = Identity("acme", "bob")
GLOBEX_ALICE = Identity("globex", "alice")  # same actor id, other tenant
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=12,
)


class _Mesh:
    """Writes memories the way the orchestrator does (TVM credentials) and reads what the fakes hold."""

    def __init__(self, aws: Any) -> None:
        self.aws = aws
        broker = TenantCredentialBroker(aws.mesh.tvm_role_arn, region=aws.region)
        self.vectors = S3VectorsMemoryStore(
            broker, bucket_name=BUCKET, index_prefix="tenant-", embedder=LocalHashEmbedder(256)
        )
        self.memory = AgentCoreMemoryBackend(
            functools.partial(broker.client, "bedrock-agentcore"), memory_id=aws.mesh.memory_id
        )

    def remember(self, identity: Identity, *facts: str, session_id: str = "s-1") -> None:
        for fact in facts:
            self.vectors.put_memory(identity, fact, kind="fact", agent="supervisor", session_id=session_id)
            self.memory.record_turn(identity, session_id, "USER", fact, agent="supervisor")
        self.aws.agentcore.extract(self.aws.mesh.memory_id, actor_id=identity.agentcore_actor_id)

    def held(self, identity: Identity) -> dict[str, int]:
        """How many vectors, events and long-term records of the actor the fakes hold."""
        vectors = self.aws.stored_vectors(identity.tenant_id, identity.actor_id)
        memory_id = self.aws.mesh.memory_id
        events = self.aws.agentcore.events(memory_id, actor_id=identity.agentcore_actor_id)
        segment = f"/{identity.agentcore_actor_id}/"
        records = [r for r in self.aws.agentcore.records(memory_id) if segment in r.namespace]
        return {"vectors": len(vectors), "events": len(events), "records": len(records)}


@pytest.fixture
def env(mesh_env: dict[str, str], tenants: tuple[str, ...], monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    monkeypatch.setenv("MESH_TENANT_CLAIM", TENANT_CLAIM)
    forget.reset()
    yield mesh_env
    forget.reset()


@pytest.fixture
def mesh(aws: Any, env: Any) -> _Mesh:
    return _Mesh(aws)


def _everyone(mesh: _Mesh) -> None:
    mesh.remember(ALICE, "I live in Lisbon.", "I prefer trains over planes.")
    mesh.remember(ALICE, "My dog is called Rex.", session_id="s-2")
    mesh.remember(BOB, "I live in Porto.")
    mesh.remember(GLOBEX_ALICE, "I work at Globex.")


def test_forget_leaves_nothing_of_the_actor_and_is_idempotent(aws, mesh, lambda_context):
    _everyone(mesh)
    alice_before = mesh.held(ALICE)
    others_before = {identity: mesh.held(identity) for identity in (BOB, GLOBEX_ALICE)}
    assert all(alice_before.values()) and all(all(held.values()) for held in others_before.values())

    first = forget.handler({"tenant_id": "acme", "actor_id": "alice"}, lambda_context)

    assert first == {
        "statusCode": 200,
        "tenant_id": "acme",
        "actor_id": "alice",
        "deleted": {
            "s3vectors": alice_before["vectors"],
            "agentcore": alice_before["events"] + alice_before["records"],
        },
    }
    assert mesh.held(ALICE) == {"vectors": 0, "events": 0, "records": 0}
    assert {identity: mesh.held(identity) for identity in (BOB, GLOBEX_ALICE)} == others_before

    second = forget.handler({"tenant_id": "acme", "actor_id": "alice"}, lambda_context)
    assert second["statusCode"] == 200
    assert second["deleted"] == {"s3vectors": 0, "agentcore": 0}


def test_the_api_forgets_the_caller_derived_from_the_verified_claims(aws, mesh, lambda_context):
    caller = Identity("acme", actor_of("alice-sub"))
    mesh.remember(caller, "I live in Lisbon.")
    mesh.remember(BOB, "I live in Porto.")
    bob_before = mesh.held(BOB)

    status, body = answer_of(forget.handler(api_event(ROUTE, claims=claims_for("acme", "alice-sub")), lambda_context))

    assert status == 200
    assert body["actor_id"] == caller.actor_id and body["tenant_id"] == "acme"
    assert body["deleted"] == {"s3vectors": 1, "agentcore": 3}  # 1 vector; 1 event + a fact and a summary record
    assert mesh.held(caller) == {"vectors": 0, "events": 0, "records": 0}
    assert mesh.held(BOB) == bob_before


def test_the_api_refuses_to_forget_someone_else(aws, mesh, lambda_context):
    mesh.remember(BOB, "I live in Porto.")
    event = api_event(ROUTE, claims=claims_for("acme", "alice-sub"), body={"actor_id": "bob"})
    status, body = answer_of(forget.handler(event, lambda_context))
    assert status == 403 and body["error"]["code"] == "AccessDenied"
    assert mesh.held(BOB)["vectors"] == 1


def test_the_api_without_claims_is_denied(aws, mesh, lambda_context):
    status, body = answer_of(forget.handler(api_event(ROUTE, claims=None), lambda_context))
    assert status == 403


def test_other_api_routes_are_not_served(aws, mesh, lambda_context):
    mesh.remember(Identity("acme", actor_of("alice-sub")), "I live in Lisbon.")
    status, body = answer_of(forget.handler(api_event("GET /memories", claims=claims_for("acme", "alice-sub")),
                                            lambda_context))
    assert status == 404 and body["error"]["code"] == "NotFound"
    assert mesh.held(Identity("acme", actor_of("alice-sub")))["vectors"] == 1


def test_a_tenant_without_an_index_has_nothing_to_forget(aws, mesh, lambda_context):
    answer = forget.handler({"tenant_id": "initech", "actor_id": "alice"}, lambda_context)
    assert answer["statusCode"] == 200
    assert answer["deleted"] == {"s3vectors": 0, "agentcore": 0}


def test_forget_uses_the_functions_own_role(aws, mesh, lambda_context):
    forget.handler({"tenant_id": "acme", "actor_id": "alice"}, lambda_context)
    assert aws.iam.assume_role_calls() == []


@pytest.mark.parametrize(
    ("payload", "starts"),
    [
        ({"actor_id": "alice"}, "tenant_id=None"),
        ({"tenant_id": "acme"}, "actor_id=None"),
        ({"tenant_id": "ACME", "actor_id": "alice"}, "tenant_id='ACME'"),
        ({"tenant_id": "acme", "actor_id": "Alice!"}, "actor_id='Alice!'"),
        ({"tenant_id": "acme", "actor_id": "*"}, "actor_id='*'"),
        ({"tenant_id": "acme", "actor_id": "alice", "everything": True}, "payload.everything"),
        ([], "event="),
    ],
)
def test_invalid_input_is_rejected_with_400(aws, mesh, lambda_context, payload, starts):
    mesh.remember(ALICE, "I live in Lisbon.")
    answer = forget.handler(payload, lambda_context)
    assert answer["statusCode"] == 400
    assert answer["error"]["code"] == "InvalidInput"
    assert answer["error"]["message"].startswith(starts)
    assert mesh.held(ALICE)["vectors"] == 1


def test_a_backend_failure_answers_502_with_what_was_deleted(aws, mesh, lambda_context, monkeypatch):
    mesh.remember(ALICE, "I live in Lisbon.")

    def unavailable(*_: Any) -> Any:
        from runtime.testing import ServiceError

        raise ServiceError("ServiceUnavailableException", "scripted outage")

    with monkeypatch.context() as outage:
        outage.setattr(aws.agentcore, "_op_list_memory_records", unavailable)
        answer = forget.handler({"tenant_id": "acme", "actor_id": "alice"}, lambda_context)

    assert answer["statusCode"] == 502
    assert answer["failed"] == ["agentcore"]
    assert answer["deleted"] == {"s3vectors": 1}
    assert answer["error"]["code"] == "UpstreamError" and "retry" in answer["error"]["message"]
    retried = forget.handler({"tenant_id": "acme", "actor_id": "alice"}, lambda_context)
    assert retried["statusCode"] == 200 and retried["deleted"]["s3vectors"] == 0
    assert mesh.held(ALICE) == {"vectors": 0, "events": 0, "records": 0}


_PAYLOADS = st.fixed_dictionaries(
    {},
    optional={
        "tenant_id": st.sampled_from(["acme", "globex", "initech", "ACME", ""]) | JSON_VALUES,
        "actor_id": st.sampled_from(["alice", "bob", "-x", "a" * 65]) | JSON_VALUES,
        "other": JSON_VALUES,
    },
) | JSON_VALUES
_API_EVENTS = st.builds(
    lambda claims, body: api_event(ROUTE, claims=claims, body=body),
    st.none() | st.fixed_dictionaries({}, optional={"iss": JSON_VALUES, "sub": JSON_VALUES, TENANT_CLAIM: JSON_VALUES})
    | st.builds(claims_for, st.sampled_from(["acme", "globex", "Bad!"]), st.text(min_size=1, max_size=10)),
    st.none() | st.text(max_size=30) | JSON_VALUES,
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(event=_PAYLOADS | _API_EVENTS)
def test_no_event_makes_forget_raise(aws, mesh, event):
    status, body = answer_of(forget.handler(event, None))
    assert status in (200, 400, 403)
    assert ("error" in body) == (status != 200)
