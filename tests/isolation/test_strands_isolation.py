"""Isolation through the Strands integration, enforced by IAM: the application's identity binding is switched off
(every call uses one user's session) and the policies synthesized for the TVM still keep other users and
tenants out. The TVM is built by the constructs at each isolation level and deployed into the emulation."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.isolation.agentcore_mesh import ALICE, BOB, CAROL, FACTS, Home, misbound, run_turn, seed, strands_memory
from tests.runtime.conftest import ACCOUNT_ID, REGION

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:bedrock_agentcore.*")


def _home(isolation: str, **options: Any) -> Iterator[Home]:
    from runtime.testing import emulated_aws

    with emulated_aws(REGION, ACCOUNT_ID) as aws:
        layout = aws.setup_mesh(isolation=isolation, **options)
        seed(aws, str(layout.memory_id))
        yield Home(aws, str(layout.memory_id), isolation)


@pytest.fixture(params=["tenant", "user"])
def home(request: pytest.FixtureRequest, aws_credentials: None) -> Iterator[Home]:
    yield from _home(request.param)


@pytest.fixture
def user_home(aws_credentials: None) -> Iterator[Home]:
    yield from _home("user")


def test_a_user_session_recalls_its_own_facts(home):
    broker = home.broker()
    _, texts, error = run_turn(strands_memory(lambda t, a: broker.client("bedrock-agentcore", t, a), home.memory_id),
                               ALICE)
    assert error is None
    assert any(FACTS[ALICE] in text for text in texts)
    assert not any(FACTS[BOB] in text or FACTS[CAROL] in text for text in texts)
    assert len(home.aws.agentcore.events(home.memory_id, actor_id="acme:alice")) == 1
    assert home.denials("bedrock-agentcore:RetrieveMemoryRecords") == []


def test_iam_denies_a_tenant_a_session_tenant_b_records(home):
    provider = misbound(home.broker(), ALICE)
    _, texts, _ = run_turn(strands_memory(provider, home.memory_id), CAROL)
    assert not any(FACTS[CAROL] in text for text in texts)
    assert home.denials("bedrock-agentcore:RetrieveMemoryRecords")


def test_iam_denies_a_tenant_a_session_writing_tenant_b_events(home):
    provider = misbound(home.broker(), ALICE)
    run_turn(strands_memory(provider, home.memory_id), CAROL)
    assert home.denials("bedrock-agentcore:CreateEvent")
    assert home.aws.agentcore.events(home.memory_id, actor_id="globex:carol") == []


def test_iam_denies_user_x_reading_user_y_in_user_isolation(user_home):
    provider = misbound(user_home.broker(), ALICE)
    _, texts, _ = run_turn(strands_memory(provider, user_home.memory_id), BOB)
    assert not any(FACTS[BOB] in text for text in texts)
    assert user_home.denials("bedrock-agentcore:RetrieveMemoryRecords")


def test_iam_denies_user_x_writing_user_y_events_in_user_isolation(user_home):
    provider = misbound(user_home.broker(), ALICE)
    run_turn(strands_memory(provider, user_home.memory_id), BOB)
    assert user_home.denials("bedrock-agentcore:CreateEvent")
    assert user_home.aws.agentcore.events(user_home.memory_id, actor_id="acme:bob") == []


def test_iam_denies_user_x_deleting_user_y_in_user_isolation(user_home):
    from runtime.errors import AccessDeniedError
    from runtime.stores.agentcore import AgentCoreMemoryBackend

    backend = AgentCoreMemoryBackend(misbound(user_home.broker(), ALICE), memory_id=user_home.memory_id)
    with pytest.raises(AccessDeniedError):
        backend.delete_actor(BOB.tenant_id, BOB.actor_id)
    assert any(r.namespace == "/facts/acme:bob/" for r in user_home.aws.agentcore.records(user_home.memory_id))


def test_without_the_actor_condition_a_cross_user_read_is_allowed(aws_credentials):
    """Mutation proof: the same misbound read succeeds against a TVM built without the ActorID condition (the
    construct's ``tenant`` isolation), so the denial above comes from the policy, not from the emulator."""
    for home in _home("tenant"):
        provider = misbound(home.broker(), ALICE)
        _, texts, error = run_turn(strands_memory(provider, home.memory_id), BOB)
        assert error is None
        assert any(FACTS[BOB] in text for text in texts)
        assert not home.denials("bedrock-agentcore:RetrieveMemoryRecords")


def test_without_the_namespace_path_statement_agentcore_recall_is_denied(aws_credentials):
    """Mutation proof: a TVM without its ``bedrock-agentcore:namespacePath`` statement denies the runtime's
    recall (it sends ``namespacePath``), as real IAM would: a condition on a key the request lacks fails."""
    for home in _home("user", omit_statements=("bedrock-agentcore:namespacePath",)):
        provider = home.broker().client
        _, texts, _ = run_turn(strands_memory(lambda t, a: provider("bedrock-agentcore", t, a),  # noqa: B023
                                              home.memory_id), ALICE)
        assert not any(FACTS[ALICE] in text for text in texts)
        assert home.denials("bedrock-agentcore:RetrieveMemoryRecords")
