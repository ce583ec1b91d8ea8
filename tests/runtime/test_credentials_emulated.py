"""The credential broker against the emulation (IAM on the synthesized TVM) with injected faults: isolation levels,
shared clients, stale credentials, the STS circuit breaker and its 503."""

from __future__ import annotations

import statistics
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from botocore.exceptions import ClientError, NoCredentialsError

from runtime import aws_clients
from runtime.credentials import TenantCredentialBroker
from runtime.errors import CredentialError, CredentialsUnavailableError
from runtime.handlers._http import error_response
from runtime.testing import Faults

REGION = "us-east-1"


def make_broker(aws, **kwargs) -> TenantCredentialBroker:
    kwargs.setdefault("sleep", lambda s: None)
    return TenantCredentialBroker(aws.mesh.tvm_role_arn, region=REGION, **kwargs)


def list_events(client, aws, actor: str, session: str = "s1"):
    return client.list_events(memoryId=aws.mesh.memory_id, actorId=f"acme:{actor}", sessionId=session)


def assumed(aws) -> list:
    return aws.iam.assume_role_calls(aws.mesh.tvm_role_arn)


# -- isolation levels --------------------------------------------------------------------------------


@pytest.mark.isolation("tenant")
def test_tenant_isolation_keys_and_tags_by_the_tenant_alone(aws):
    broker = make_broker(aws, isolation="tenant")
    for actor in ("alice1", "bob1", "carol1"):
        assert list_events(broker.client("bedrock-agentcore", "acme", actor), aws, actor)["events"] == []
    assert broker.stats.sts_calls == 1 and len(broker) == 1
    (session,) = assumed(aws)
    assert session.tenant_id == "acme" and session.actor_id is None  # no ActorID tag, no source identity


def test_user_isolation_keys_by_tenant_and_actor(aws):
    broker = make_broker(aws, isolation="user")
    for actor in ("alice1", "bob1", "alice1", "bob1"):
        list_events(broker.client("bedrock-agentcore", "acme", actor), aws, actor)
    assert broker.stats.sts_calls == 2 and len(broker) == 2
    assert sorted(s.actor_id for s in assumed(aws)) == ["alice1", "bob1"]
    # And IAM holds each session to its user: alice's credentials cannot read bob's events.
    with pytest.raises(ClientError) as denied:
        list_events(broker.client("bedrock-agentcore", "acme", "alice1"), aws, "bob1")
    assert denied.value.response["Error"]["Code"] == "AccessDeniedException"


def test_unknown_isolation_level_is_refused(aws):
    with pytest.raises(ValueError, match="isolation='team' is invalid: must be one of tenant, user"):
        make_broker(aws, isolation="team")


# -- one shared client, credentials per call ---------------------------------------------------------


def test_every_slot_shares_one_botocore_client_per_service(aws):
    broker = make_broker(aws)
    a = broker.client("bedrock-agentcore", "acme", "alice1")
    b = broker.client("bedrock-agentcore", "globex", "bob1")
    assert a is not b and a._client is b._client
    assert a._client is aws_clients.context_client("bedrock-agentcore", REGION, broker._client_config)
    assert make_broker(aws).client("bedrock-agentcore", "acme", "alice1")._client is a._client


def test_the_shared_client_has_no_credentials_outside_a_scoped_call(aws):
    broker = make_broker(aws)
    shared = broker.client("bedrock-agentcore", "acme", "alice1")._client
    with pytest.raises(NoCredentialsError):
        list_events(shared, aws, "alice1")


def test_concurrent_calls_of_many_tenants_each_sign_with_their_own_credentials(aws):
    broker = make_broker(aws)
    actors = [(tenant, f"user{n}") for tenant in ("acme", "globex") for n in range(6)]

    def call(pair):
        tenant, actor = pair
        client = broker.client("bedrock-agentcore", tenant, actor)
        return client.list_events(memoryId=aws.mesh.memory_id, actorId=f"{tenant}:{actor}", sessionId="s1")

    with ThreadPoolExecutor(max_workers=8) as pool:  # a crossed credential would be AccessDenied by ABAC
        answers = list(pool.map(call, actors * 10))
    assert all(answer["events"] == [] for answer in answers)
    assert broker.stats.sts_calls == len(actors)


def test_paginators_fetch_every_page_with_the_slots_credentials(aws):
    broker = make_broker(aws)
    client = broker.client("bedrock-agentcore", "acme", "alice1")
    for n in range(3):
        client.create_event(memoryId=aws.mesh.memory_id, actorId="acme:alice1", sessionId="s1",
                            eventTimestamp=time.time() + n,
                            payload=[{"conversational": {"content": {"text": f"m{n}"}, "role": "USER"}}])
    pages = client.get_paginator("list_events").paginate(
        memoryId=aws.mesh.memory_id, actorId="acme:alice1", sessionId="s1", PaginationConfig={"PageSize": 1})
    assert sum(len(page["events"]) for page in pages) == 3


# -- memory bound ------------------------------------------------------------------------------------


def test_cache_is_bounded_by_bytes_not_only_entries(aws):
    broker = make_broker(aws, max_entries=10_000, max_bytes=64 * 1024)
    for n in range(80):
        broker.credentials("acme", f"user{n:03d}")
    stats = broker.stats
    assert stats.cached_bytes <= 64 * 1024
    assert stats.evictions > 0 and len(broker) == 80 - stats.evictions
    per_slot = stats.cached_bytes / len(broker)
    assert 1_000 < per_slot < 8_000  # the estimate covers the credential strings and the slot


# -- stale credentials -------------------------------------------------------------------------------


def test_expired_cached_credentials_are_revended_once_and_the_call_succeeds(aws):
    faults = Faults().attach(aws)
    broker = make_broker(aws)
    client = broker.client("bedrock-agentcore", "acme", "alice1")
    old = broker.credentials("acme", "alice1")
    faults.expire([old.access_key_id])
    for _ in range(20):  # every later request works, one new STS call in all
        assert list_events(client, aws, "alice1")["events"] == []
    assert broker.stats.sts_calls == 2 and broker.stats.revends == 1
    assert broker.credentials("acme", "alice1").access_key_id != old.access_key_id


def test_a_revoked_session_access_denied_is_revended_once(aws):
    broker = make_broker(aws)
    client = broker.client("bedrock-agentcore", "acme", "alice1")
    assert list_events(client, aws, "alice1")["events"] == []
    time.sleep(0.01)
    aws.iam.revoke_older_sessions(aws.mesh.tvm_role_arn)  # IAM's "Revoke active sessions" on the TVM role
    time.sleep(0.01)
    assert list_events(client, aws, "alice1")["events"] == []  # denied (explicit deny), re-vended, served
    assert broker.stats.revends == 1 and broker.stats.sts_calls == 2


def test_a_denial_that_no_policy_allows_is_not_revended(aws):
    broker = make_broker(aws)
    client = broker.client("bedrock-agentcore", "acme", "alice1")
    assert list_events(client, aws, "alice1")["events"] == []
    for _ in range(3):
        with pytest.raises(ClientError, match="no identity-based policy allows"):
            list_events(client, aws, "bob1")  # another user's events: an answer, not a stale session
    assert broker.stats.revends == 0 and broker.stats.sts_calls == 1


def test_access_denied_on_fresh_credentials_is_the_answer(aws):
    broker = make_broker(aws)
    client = broker.client("bedrock-agentcore", "acme", "alice1")
    with pytest.raises(ClientError):
        list_events(client, aws, "bob1")  # the first call vends, and its denial is the answer
    with pytest.raises(ClientError):
        list_events(client, aws, "bob1")  # cached credentials, but no explicit deny: no further vend
    with pytest.raises(ClientError):
        list_events(client, aws, "bob1")
    assert broker.stats.sts_calls == 1


def test_credentials_that_stay_expired_are_revended_only_once_per_call(aws):
    faults = Faults().attach(aws)
    broker = make_broker(aws)
    client = broker.client("bedrock-agentcore", "acme", "alice1")
    expired = faults.server_error("bedrock-agentcore", code="ExpiredTokenException", status=403)
    with pytest.raises(ClientError) as raised:
        list_events(client, aws, "alice1")
    assert raised.value.response["Error"]["Code"] == "ExpiredTokenException"
    assert broker.stats.sts_calls == 2  # the first vend and one re-vend, no loop
    assert expired.fired >= 2


# -- STS throttling storm ----------------------------------------------------------------------------


def test_sts_throttling_storm_is_stopped_by_the_circuit_breaker(aws):
    faults = Faults().attach(aws)
    faults.throttle("sts", "AssumeRole")  # every AssumeRole attempt, for good
    broker = make_broker(aws, breaker_cooldown_s=0.5)
    tenants = [f"t{n:03d}" for n in range(200)]
    outcomes: list[tuple[str, float]] = []
    lock = threading.Lock()
    deadline = time.monotonic() + 2.0

    def hammer(offset: int) -> None:
        n = offset
        while time.monotonic() < deadline:
            started = time.perf_counter()
            try:
                broker.credentials(tenants[n % len(tenants)])
                kind = "ok"
            except CredentialsUnavailableError:
                kind = "503"
            except CredentialError:
                kind = "502"
            with lock:
                outcomes.append((kind, time.perf_counter() - started))
            n += 7

    threads = [threading.Thread(target=hammer, args=(i,)) for i in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    attempts = faults.attempts[("sts", "AssumeRole")]
    # The first wave (16 threads, two botocore attempts each) opens the breaker; then one probe per cooldown
    # (0.5, 1, 2 s ...): bounded, where an unguarded broker keeps every thread calling STS.
    assert attempts <= 48, attempts
    assert broker.stats.breaker_rejections > 100
    fast = [seconds for kind, seconds in outcomes if kind == "503"]
    assert len(fast) > 100 and statistics.median(fast) < 0.005
    assert not [kind for kind, _ in outcomes if kind == "ok"]


def test_the_breakers_refusal_is_a_503_with_retry_after(aws):
    Faults().attach(aws).throttle("sts", "AssumeRole")
    broker = make_broker(aws, breaker_threshold=2, breaker_cooldown_s=3)
    with pytest.raises(CredentialError):
        broker.credentials("acme")  # throttled past its retries: the breaker opens
    with pytest.raises(CredentialsUnavailableError) as refused:
        broker.credentials("globex")
    assert refused.value.retry_after_s == 3
    response = error_response(refused.value, api=True)
    assert response["statusCode"] == 503 and response["headers"]["retry-after"] == "3"
    assert '"code":"ServiceUnavailable"' in response["body"]


@pytest.mark.isolation("tenant")
def test_the_breaker_closes_when_sts_recovers(aws):
    faults = Faults().attach(aws)
    faults.throttle("sts", "AssumeRole", times=8)
    now = [time.time()]
    broker = make_broker(aws, breaker_threshold=2, breaker_cooldown_s=1, clock=lambda: now[0])
    with pytest.raises(CredentialError):
        broker.credentials("acme")
    with pytest.raises(CredentialsUnavailableError):
        broker.credentials("acme")
    now[0] += 1.5  # past the cooldown: a probe goes out (the throttling rule is used up by then)
    faults.clear()
    assert broker.credentials("acme").tenant_id == "acme"
    assert broker.credentials("globex").tenant_id == "globex"  # closed again: no limit
