"""TenantCredentialBroker against moto's STS; STS calls are counted and inspected through botocore event hooks."""

from __future__ import annotations

import random
import statistics
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber
from moto import mock_aws

from runtime.credentials import (
    BrokerStats,
    ScopedCredentials,
    TenantCredentialBroker,
    role_session_name,
)
from runtime.errors import AccessDeniedError, CredentialError, InvalidInputError

ROLE_ARN = "arn:aws:iam::123456789012:role/mesh-tvm"
REGION = "us-east-1"
ACTOR = "0123456789abcdef" * 4  # a derived (64 hex) actor id


class FakeClock:
    """Wall clock the test moves by hand; starts at real time so moto's Expiration stays meaningful."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class StsRecorder:
    """Counts AssumeRole calls and captures the wire parameters via 'before-call'; can inject failures."""

    def __init__(self, sts_client) -> None:
        self.calls: list[dict] = []
        self.fail_with: dict[str, str] = {}  # RoleSessionName prefix -> error code
        self.fail_times: int | None = None  # None: fail every time
        self.delay_s = 0.0
        self._lock = threading.Lock()
        sts_client.meta.events.register("before-call.sts.AssumeRole", self._before_call)

    @property
    def count(self) -> int:
        return len(self.calls)

    def _before_call(self, params, **_kwargs):
        body = dict(params["body"])
        with self._lock:
            self.calls.append(body)
        if self.delay_s:
            time.sleep(self.delay_s)
        for prefix, code in self.fail_with.items():
            if body["RoleSessionName"].startswith(prefix):
                with self._lock:
                    if self.fail_times is not None:
                        if self.fail_times == 0:
                            return None
                        self.fail_times -= 1
                raise ClientError(
                    {"Error": {"Code": code, "Message": f"internal detail for {ROLE_ARN}"}}, "AssumeRole"
                )
        return None


@pytest.fixture
def aws(monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    with mock_aws():
        yield


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def make_broker(aws, clock, sleeps):
    def make(**kwargs) -> tuple[TenantCredentialBroker, StsRecorder]:
        kwargs.setdefault("clock", clock)
        kwargs.setdefault("sleep", sleeps.append)
        kwargs.setdefault("rng", random.Random(7))
        broker = TenantCredentialBroker(ROLE_ARN, region=REGION, **kwargs)
        return broker, StsRecorder(broker.sts_client)

    return make


class _Captured(Exception):
    pass


_PROBES = {
    "s3vectors": lambda c: c.list_vector_buckets(),
    "sts": lambda c: c.get_caller_identity(),
    "bedrock-agentcore": lambda c: c.list_sessions(memoryId="mesh_memory-0123456789", actorId="acme:a"),
}


def access_key(client) -> str:
    """The access key a scoped client's calls sign with, read at botocore's 'before-sign' seam (call aborted)."""
    seen: list[str] = []

    def capture(request_signer, **_):
        seen.append(request_signer._credentials.get_frozen_credentials().access_key)
        raise _Captured

    events = client.meta.events
    events.register_first("before-sign", capture, unique_id="test-capture-access-key")
    try:
        with pytest.raises(_Captured):
            _PROBES[client.meta.service_model.service_name](client)
    finally:
        events.unregister("before-sign", unique_id="test-capture-access-key")
    return seen[0]


# -- what is sent to STS -----------------------------------------------------------------------------


def test_assume_role_carries_tags_session_name_and_source_identity(make_broker):
    broker, sts = make_broker()
    broker.credentials("acme", ACTOR)
    assert sts.calls == [
        {
            "Action": "AssumeRole",
            "Version": "2011-06-15",
            "RoleArn": ROLE_ARN,
            "RoleSessionName": "mesh-acme-0123456789abcdef",
            "DurationSeconds": 3600,
            "Tags.member.1.Key": "TenantID",
            "Tags.member.1.Value": "acme",
            "Tags.member.2.Key": "ActorID",
            "Tags.member.2.Value": ACTOR,
            "SourceIdentity": ACTOR,
        }
    ]


def test_tenant_only_credentials_carry_only_the_tenant_tag(make_broker):
    broker, sts = make_broker(duration_seconds=900)
    broker.credentials("acme")
    (body,) = sts.calls
    assert body["RoleSessionName"] == "mesh-acme"
    assert body["DurationSeconds"] == 900
    assert [k for k in body if k.startswith("Tags.")] == ["Tags.member.1.Key", "Tags.member.1.Value"]
    assert "SourceIdentity" not in body
    assert not any(k.startswith("TransitiveTagKeys") for k in body)


def test_source_identity_can_be_turned_off(make_broker):
    broker, sts = make_broker(set_source_identity=False)
    broker.credentials("acme", "x")
    (body,) = sts.calls
    assert "SourceIdentity" not in body
    assert body["Tags.member.2.Value"] == "x"


def test_external_id_is_sent_on_every_assume_role(make_broker, clock):
    broker, sts = make_broker(external_id="mesh:billing", duration_seconds=900, refresh_margin_s=120)
    broker.credentials("acme", ACTOR)
    clock.advance(900)
    broker.credentials("acme", ACTOR)
    assert [body["ExternalId"] for body in sts.calls] == ["mesh:billing", "mesh:billing"]
    assert sts.calls[0]["SourceIdentity"] == ACTOR


def test_no_external_id_by_default(make_broker):
    broker, sts = make_broker()
    broker.credentials("acme")
    assert "ExternalId" not in sts.calls[0]


@pytest.mark.parametrize("external_id", ["q", "has space", "a" * 1225, 42])
def test_invalid_external_id_is_rejected_without_echoing_it(aws, external_id):
    with pytest.raises(InvalidInputError, match=r"external_id=.* is invalid: must be 2-1224 letters, digits") as info:
        TenantCredentialBroker(ROLE_ARN, region=REGION, external_id=external_id)
    if isinstance(external_id, str) and len(external_id) > 1:
        assert external_id not in str(info.value)


def test_role_session_name_fits_sts_for_the_longest_ids():
    tenant = "t" * 40
    name = role_session_name(tenant, ACTOR)
    assert name == f"mesh-{tenant}-0123456789abcdef"
    assert len(name) <= 64


def test_default_sts_client_is_regional_with_standard_retries(aws, monkeypatch):
    monkeypatch.setenv("AWS_STS_REGIONAL_ENDPOINTS", "legacy")
    broker = TenantCredentialBroker(ROLE_ARN, region="us-east-1")
    assert broker.sts_client.meta.endpoint_url == "https://sts.us-east-1.amazonaws.com"
    assert broker.sts_client.meta.config.retries == {"mode": "standard", "total_max_attempts": 2}
    eu = TenantCredentialBroker(ROLE_ARN, region="eu-west-1")
    assert eu.sts_client.meta.endpoint_url == "https://sts.eu-west-1.amazonaws.com"


def test_injected_sts_client_is_used_with_exact_parameters(clock):
    sts = boto3.client(
        "sts", region_name=REGION, aws_access_key_id="a", aws_secret_access_key="b", aws_session_token="c"
    )
    expiration = datetime.fromtimestamp(clock.now, tz=UTC) + timedelta(hours=1)
    with Stubber(sts) as stub:
        stub.add_response(
            "assume_role",
            {
                "Credentials": {
                    "AccessKeyId": "ASIASTUBBEDKEY000001",
                    "SecretAccessKey": "secret",
                    "SessionToken": "token",
                    "Expiration": expiration,
                }
            },
            {
                "RoleArn": ROLE_ARN,
                "RoleSessionName": "mesh-globex-svc-summarizer",
                "DurationSeconds": 1800,
                "Tags": [{"Key": "TenantID", "Value": "globex"}, {"Key": "ActorID", "Value": "svc-summarizer"}],
                "SourceIdentity": "svc-summarizer",
            },
        )
        broker = TenantCredentialBroker(
            ROLE_ARN, region=REGION, sts_client=sts, duration_seconds=1800, clock=clock
        )
        creds = broker.credentials("globex", "svc-summarizer")
        stub.assert_no_pending_responses()
    assert creds == ScopedCredentials(
        tenant_id="globex",
        actor_id="svc-summarizer",
        access_key_id="ASIASTUBBEDKEY000001",
        secret_access_key="secret",
        session_token="token",
        expiration=expiration.timestamp(),
    )
    assert "secret" not in repr(creds) and "token" not in repr(creds)


# -- single flight, cache, isolation -----------------------------------------------------------------


def test_fifty_threads_twenty_tenants_make_exactly_twenty_sts_calls(make_broker):
    broker, sts = make_broker()
    sts.delay_s = 0.05  # keep every vend in flight while the other threads pile up
    tenants = [f"tenant-{i:02d}" for i in range(20)]
    start = threading.Barrier(50)
    results: dict[int, dict[str, object]] = {}

    def worker(n: int) -> None:
        order = tenants[:]
        random.Random(n).shuffle(order)
        start.wait()
        results[n] = {t: broker.client("s3vectors", t) for t in order}

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(50)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sts.count == 20
    assert broker.stats.sts_calls == 20
    assert broker.stats.cache_misses > 20  # threads really waited on in-flight vends
    assert sorted(call["Tags.member.1.Value"] for call in sts.calls) == tenants
    for tenant in tenants:  # one client per tenant, shared by every thread
        assert len({id(results[n][tenant]) for n in range(50)}) == 1


def test_hundred_tenants_hundred_requests_each_make_one_call_per_tenant(make_broker):
    broker, sts = make_broker()
    requests = [f"t-{i:03d}" for i in range(100)] * 100
    random.Random(3).shuffle(requests)
    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(lambda t: broker.client("s3vectors", t), requests))
    assert sts.count == 100
    stats = broker.stats
    assert stats.sts_calls == 100
    assert stats.cache_hits + stats.cache_misses >= 10_000
    assert stats.failures == 0 and stats.evictions == 0


def test_no_credential_crosses_tenants(make_broker):
    broker, _ = make_broker()
    tenants = ["acme", "globex", "initech"]
    keys = {t: broker.credentials(t).access_key_id for t in tenants}
    assert len(set(keys.values())) == 3
    for tenant in tenants:
        client = broker.client("s3vectors", tenant)
        assert access_key(client) == keys[tenant]
        # moto resolves the caller from the access key: each client is its own tenant's session.
        arn = broker.client("sts", tenant).get_caller_identity()["Arn"]
        assert arn.endswith(f":assumed-role/mesh-tvm/mesh-{tenant}")


def test_actors_of_one_tenant_get_separate_credentials(make_broker):
    broker, sts = make_broker()
    a = broker.client("s3vectors", "acme", "actor-a")
    b = broker.client("s3vectors", "acme", "actor-b")
    t = broker.client("s3vectors", "acme")
    assert len({access_key(a), access_key(b), access_key(t)}) == 3
    assert sts.count == 3


def test_clients_are_reused_per_service_and_credential_set(make_broker):
    broker, sts = make_broker()
    s3v = broker.client("s3vectors", "acme")
    assert broker.client("s3vectors", "acme") is s3v
    agentcore = broker.client("bedrock-agentcore", "acme")
    assert agentcore is not s3v
    assert agentcore.meta.service_model.service_name == "bedrock-agentcore"
    assert s3v.meta.region_name == REGION
    assert s3v.meta.config.retries == {"mode": "standard", "total_max_attempts": 3}
    assert sts.count == 1
    assert broker.stats.clients_created == 2


def test_unknown_service_is_a_typed_error(make_broker):
    broker, _ = make_broker()
    with pytest.raises(InvalidInputError) as err:
        broker.client("no-such-service", "acme")
    assert str(err.value) == (
        "service_name='no-such-service' is invalid: must be an AWS service name known to botocore"
    )


def test_warm_cache_client_is_a_dictionary_lookup(make_broker):
    broker, _ = make_broker()
    broker.client("s3vectors", "acme", ACTOR)
    samples = []
    for _ in range(2000):
        began = time.perf_counter()
        broker.client("s3vectors", "acme", ACTOR)
        samples.append(time.perf_counter() - began)
    assert statistics.median(samples) < 0.0002


# -- expiry and refresh ------------------------------------------------------------------------------


def test_refresh_happens_ahead_of_the_credentials_own_expiration(make_broker, clock):
    broker, sts = make_broker()
    first = broker.credentials("acme")
    old_client = broker.client("s3vectors", "acme")
    clock.now = first.expiration - 300 - 1  # just before the 5-minute margin
    assert broker.credentials("acme") is first
    assert broker.client("s3vectors", "acme") is old_client
    assert sts.count == 1

    clock.now = first.expiration - 300 + 1  # inside the margin: refresh, although still valid
    second = broker.credentials("acme")
    assert sts.count == 2
    assert second.access_key_id != first.access_key_id
    # The client object stays: it reads the slot's credentials at each call, so it now signs with the new ones.
    assert broker.client("s3vectors", "acme") is old_client
    assert access_key(old_client) == second.access_key_id
    assert broker.stats.refreshes == 1


def test_refresh_follows_expiration_not_a_fixed_ttl(make_broker, clock):
    broker, sts = make_broker(duration_seconds=900, refresh_margin_s=120)
    started = clock.now
    creds = broker.credentials("acme")
    assert creds.expiration == pytest.approx(started + 900, abs=5)
    clock.now = creds.expiration - 121
    broker.credentials("acme")
    assert sts.count == 1
    clock.now = creds.expiration - 119
    broker.credentials("acme")
    assert sts.count == 2


def test_previous_credentials_serve_while_a_refresh_is_throttled(make_broker, clock):
    broker, sts = make_broker(max_sts_attempts=1)
    first = broker.credentials("acme")
    sts.fail_with["mesh-acme"] = "Throttling"
    clock.now = first.expiration - 200  # refresh due; 200 s of validity left (> margin / 2)
    assert broker.credentials("acme") is first
    assert broker.stats.failures == 1
    clock.now = first.expiration - 100  # under half the margin left: no longer served
    with pytest.raises(CredentialError):
        broker.credentials("acme")


def test_access_denied_on_refresh_drops_the_previous_credentials(make_broker, clock):
    broker, sts = make_broker()
    first = broker.credentials("acme")
    sts.fail_with["mesh-acme"] = "AccessDenied"
    clock.now = first.expiration - 200
    with pytest.raises(AccessDeniedError):
        broker.credentials("acme")
    with pytest.raises(AccessDeniedError):  # inside the backoff: fast, and the old credentials stay dropped
        broker.client("s3vectors", "acme")
    assert sts.count == 2


# -- LRU ---------------------------------------------------------------------------------------------


def test_least_recently_used_tag_set_is_evicted_with_its_clients(make_broker):
    broker, sts = make_broker(max_entries=3)
    clients = {t: broker.client("s3vectors", t) for t in ("aaa", "bbb", "ccc")}
    broker.client("s3vectors", "aaa")  # aaa is now the most recent
    broker.client("s3vectors", "ddd")  # evicts bbb, the oldest
    assert broker.stats.evictions == 1
    assert len(broker) == 3
    assert sts.count == 4
    assert broker.client("s3vectors", "aaa") is clients["aaa"]
    assert broker.client("s3vectors", "ccc") is clients["ccc"]
    assert sts.count == 4
    fresh_b = broker.client("s3vectors", "bbb")  # evicted: vended again, new client
    assert sts.count == 5
    assert fresh_b is not clients["bbb"]
    assert broker.stats.evictions == 2  # bbb's return pushed out aaa (least recent now)


# -- failures ----------------------------------------------------------------------------------------


def test_access_denied_is_typed_and_backs_off_then_retries(make_broker, clock):
    broker, sts = make_broker()
    sts.fail_with["mesh-denied"] = "AccessDenied"
    with pytest.raises(AccessDeniedError) as first:
        broker.client("s3vectors", "denied")
    assert str(first.value) == (
        "tenant_id='denied' may not receive credentials: the token vending machine role refused "
        "sts:AssumeRole (AccessDenied)"
    )
    assert first.value.status == 403
    assert ROLE_ARN not in str(first.value)

    clock.advance(0.5)  # inside the 1 s backoff: same error, no STS call
    with pytest.raises(AccessDeniedError) as second:
        broker.client("s3vectors", "denied")
    assert second.value is first.value
    assert sts.count == 1

    clock.advance(0.6)  # backoff over: a new attempt, which now succeeds
    del sts.fail_with["mesh-denied"]
    broker.client("s3vectors", "denied")
    assert sts.count == 2
    assert broker.stats.failures == 1


def test_failure_backoff_is_configurable(make_broker, clock):
    broker, sts = make_broker(failure_backoff_s=10)
    sts.fail_with["mesh-acme"] = "AccessDenied"
    for _ in range(3):
        with pytest.raises(AccessDeniedError):
            broker.credentials("acme")
        clock.advance(3)
    assert sts.count == 1
    clock.advance(2)
    with pytest.raises(AccessDeniedError):
        broker.credentials("acme")
    assert sts.count == 2


def test_failure_of_one_tenant_does_not_touch_another(make_broker):
    broker, sts = make_broker()
    sts.fail_with["mesh-denied"] = "AccessDenied"
    with pytest.raises(AccessDeniedError):
        broker.credentials("denied")
    assert broker.credentials("acme").tenant_id == "acme"


def test_waiting_threads_share_the_leaders_failure(make_broker):
    broker, sts = make_broker()
    sts.fail_with["mesh-denied"] = "AccessDenied"
    sts.delay_s = 0.05
    start = threading.Barrier(10)
    errors: list[Exception] = []

    def worker() -> None:
        start.wait()
        try:
            broker.client("s3vectors", "denied")
        except AccessDeniedError as err:
            errors.append(err)

    threads = [threading.Thread(target=worker) for _ in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(errors) == 10
    assert sts.count == 1


@pytest.mark.parametrize("code", ["Throttling", "ThrottlingException", "RequestLimitExceeded"])
def test_throttling_is_retried_with_full_jitter(make_broker, sleeps, code):
    broker, sts = make_broker(retry_base_delay_s=0.2, retry_max_delay_s=0.5)
    sts.fail_with["mesh-acme"] = code
    sts.fail_times = 3
    creds = broker.credentials("acme")
    assert creds.tenant_id == "acme"
    assert sts.count == 4
    assert broker.stats.sts_calls == 4
    assert len(sleeps) == 3
    for attempt, delay in enumerate(sleeps, start=1):
        assert 0 <= delay <= min(0.5, 0.2 * 2 ** (attempt - 1))
    assert len(set(sleeps)) == 3  # jittered, not a fixed schedule


def test_throttling_gives_up_after_bounded_attempts(make_broker, sleeps):
    broker, sts = make_broker(max_sts_attempts=3)
    sts.fail_with["mesh-acme"] = "Throttling"
    with pytest.raises(CredentialError) as err:
        broker.credentials("acme")
    assert str(err.value) == (
        "could not vend credentials for tenant_id='acme': STS throttled sts:AssumeRole after 3 attempts (Throttling)"
    )
    assert sts.count == 3
    assert len(sleeps) == 2
    assert broker.stats.failures == 1


def test_other_sts_errors_become_credential_errors_without_internals(make_broker):
    broker, sts = make_broker()
    sts.fail_with["mesh-acme"] = "RegionDisabledException"
    with pytest.raises(CredentialError) as err:
        broker.credentials("acme")
    assert str(err.value) == (
        "could not vend credentials for tenant_id='acme': sts:AssumeRole failed (RegionDisabledException)"
    )
    assert "internal detail" not in str(err.value)
    assert err.value.__cause__ is None and err.value.__suppress_context__
    assert sts.count == 1


# -- invalidation and validation ---------------------------------------------------------------------


def test_invalidate_drops_one_tag_set_or_the_whole_tenant(make_broker):
    broker, sts = make_broker()
    broker.credentials("acme")
    broker.credentials("acme", "actor-a")
    broker.credentials("acme", "actor-b")
    broker.credentials("globex")
    assert broker.invalidate("acme", "actor-a") == 1
    broker.credentials("acme", "actor-a")
    assert sts.count == 5
    assert broker.invalidate("acme") == 3
    assert len(broker) == 1
    broker.credentials("acme")
    broker.credentials("globex")
    assert sts.count == 6


@pytest.mark.parametrize(
    ("tenant", "actor", "message"),
    [
        (
            "ACME",
            None,
            "tenant_id='ACME' is invalid: must be 3-40 lowercase letters, digits and '-', "
            "starting and ending with a letter or digit",
        ),
        (
            "acme*",
            None,
            "tenant_id='acme*' is invalid: must be 3-40 lowercase letters, digits and '-', "
            "starting and ending with a letter or digit",
        ),
        (
            "acme",
            "actor/*",
            "actor_id='actor/*' is invalid: must be 1-64 lowercase letters, digits, '-' and '_', "
            "starting with a letter or digit",
        ),
        (
            "acme",
            "x",
            "actor_id='x' is invalid: must be at least 2 characters when the broker sets SourceIdentity "
            "(sts:AssumeRole SourceIdentity is 2-64 characters)",
        ),
        (
            ["acme"],
            None,
            "tenant_id=['acme'] is invalid: must be a string of 3-40 lowercase letters, digits "
            "and '-', starting and ending with a letter or digit",
        ),
    ],
)
def test_invalid_ids_are_rejected_before_any_sts_call(make_broker, tenant, actor, message):
    broker, sts = make_broker()
    with pytest.raises(InvalidInputError) as err:
        broker.client("s3vectors", tenant, actor)
    assert str(err.value) == message
    assert sts.count == 0
    assert len(broker) == 0


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"role_arn": "arn:aws:iam::123:role/x"},
            "role_arn='arn:aws:iam::123:role/x' is invalid: must be an IAM role ARN such as "
            "'arn:aws:iam::123456789012:role/name'",
        ),
        ({"region": "moon-1"}, "region='moon-1' is invalid: must be an AWS Region code such as 'us-east-1'"),
        ({"duration_seconds": 600}, "duration_seconds=600 is invalid: must be an integer from 900 to 43200"),
        ({"max_entries": 0}, "max_entries=0 is invalid: must be an integer from 1 to 1000000"),
        ({"refresh_margin_s": 3600}, "refresh_margin_s=3600 is invalid: must be a number from 0 to 3540"),
    ],
)
def test_broker_configuration_is_validated(aws, kwargs, message):
    args = {"role_arn": ROLE_ARN, "region": REGION} | kwargs
    role_arn = args.pop("role_arn")
    with pytest.raises(InvalidInputError) as err:
        TenantCredentialBroker(role_arn, **args)
    assert str(err.value) == message


def test_stats_are_a_snapshot(make_broker):
    broker, _ = make_broker()
    before = broker.stats
    broker.credentials("acme")
    assert before == BrokerStats()
    assert broker.stats.sts_calls == 1 and broker.stats.cache_misses == 1
