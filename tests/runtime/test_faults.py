"""runtime.testing.faults: injected faults travel through botocore's retry machinery, as AWS's would."""

from __future__ import annotations

import time

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError, ReadTimeoutError

from runtime.testing import Faults
from runtime.testing.faults import CREATE_EVENT_TPS_PER_ACTOR_SESSION

REGION = "us-east-1"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def agentcore(tenant_client, retries: dict | None = None):
    client = tenant_client("bedrock-agentcore", "acme", "alice1")
    if retries is None:
        return client
    creds = client._request_signer._credentials.get_frozen_credentials()
    return boto3.session.Session(
        aws_access_key_id=creds.access_key, aws_secret_access_key=creds.secret_key, aws_session_token=creds.token,
    ).client("bedrock-agentcore", region_name=REGION, config=Config(retries=retries))


def list_events(client, aws, session: str = "s1"):
    return client.list_events(memoryId=aws.mesh.memory_id, actorId="acme:alice1", sessionId=session)


def create_event(client, aws, session: str = "s1"):
    return client.create_event(
        memoryId=aws.mesh.memory_id, actorId="acme:alice1", sessionId=session, eventTimestamp=time.time(),
        payload=[{"conversational": {"content": {"text": "hi"}, "role": "USER"}}],
    )


@pytest.fixture
def faults(aws) -> Faults:
    return Faults(sleep=lambda s: None).attach(aws)


def test_throttling_is_retried_by_botocore_standard_mode(aws, tenant_client, faults):
    client = agentcore(tenant_client, {"mode": "standard", "total_max_attempts": 3})
    faults.throttle("bedrock-agentcore", "ListEvents", times=2)
    answer = list_events(client, aws)
    # Two throttled attempts, then the emulation's answer: botocore counted and retried them.
    assert answer["ResponseMetadata"]["RetryAttempts"] == 2
    assert faults.attempts[("bedrock-agentcore", "ListEvents")] == 3
    assert faults.injected[("bedrock-agentcore", "ListEvents", "throttle")] == 2


def test_throttling_past_the_retries_is_the_services_modeled_error(aws, tenant_client, faults):
    client = agentcore(tenant_client, {"mode": "standard", "total_max_attempts": 2})
    faults.throttle("bedrock-agentcore", "ListEvents")
    with pytest.raises(client.exceptions.ThrottledException) as raised:
        list_events(client, aws)
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 429
    assert raised.value.response["ResponseMetadata"]["RetryAttempts"] == 1
    assert faults.attempts[("bedrock-agentcore", "ListEvents")] == 2


def test_adaptive_mode_sees_the_throttling_too(aws, tenant_client, faults):
    client = agentcore(tenant_client, {"mode": "adaptive", "total_max_attempts": 2})
    faults.throttle("bedrock-agentcore", "ListEvents", times=1)
    assert list_events(client, aws)["ResponseMetadata"]["RetryAttempts"] == 1
    assert faults.attempts[("bedrock-agentcore", "ListEvents")] == 2


def test_legacy_single_attempt_client_gets_the_fault_at_once(aws, tenant_client, faults):
    client = agentcore(tenant_client, {"total_max_attempts": 1})
    faults.throttle("bedrock-agentcore", "ListEvents", times=1)
    with pytest.raises(ClientError):
        list_events(client, aws)
    assert list_events(client, aws)["events"] == []  # the rule was used up


def test_server_errors_are_retried_and_surface_as_the_modeled_5xx(aws, tenant_client, faults):
    client = agentcore(tenant_client, {"mode": "standard", "total_max_attempts": 3})
    faults.server_error("bedrock-agentcore", "ListEvents", times=1)
    assert list_events(client, aws)["ResponseMetadata"]["RetryAttempts"] == 1
    faults.server_error("s3vectors", "QueryVectors")
    vectors = tenant_client("s3vectors", "acme", "alice1")
    with pytest.raises(ClientError) as raised:
        vectors.query_vectors(vectorBucketName=aws.mesh.bucket_name, indexName="tenant-acme.x", topK=1,
                              queryVector={"float32": [0.0] * aws.mesh.dimension})
    assert raised.value.response["Error"]["Code"] == "InternalServerException"
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 500


def test_timeouts_are_botocores_own_and_retried(aws, tenant_client, faults):
    client = agentcore(tenant_client, {"mode": "standard", "total_max_attempts": 2})
    faults.timeout("bedrock-agentcore", "ListEvents", times=1)
    assert list_events(client, aws)["events"] == []
    faults.timeout("bedrock-agentcore", "ListEvents")
    with pytest.raises(ReadTimeoutError):
        list_events(client, aws)
    assert faults.injected[("bedrock-agentcore", "ListEvents", "timeout")] == 3


def test_latency_delays_the_attempt_then_it_is_answered(aws, tenant_client):
    faults = Faults().attach(aws)
    client = agentcore(tenant_client)
    faults.latency("bedrock-agentcore", "ListEvents", seconds=0.3, times=1)
    started = time.monotonic()
    assert list_events(client, aws)["events"] == []
    assert time.monotonic() - started >= 0.3


def test_expired_access_keys_are_refused_as_expired_tokens(aws, tenant_client, faults):
    client = agentcore(tenant_client)
    key = client._request_signer._credentials.get_frozen_credentials().access_key
    faults.expire([key])
    with pytest.raises(ClientError) as raised:
        list_events(client, aws)
    assert raised.value.response["Error"]["Code"] == "ExpiredTokenException"
    other = tenant_client("bedrock-agentcore", "acme", "alice1")  # a new session: not expired
    assert list_events(other, aws)["events"] == []


@pytest.mark.isolation("tenant")
def test_sts_throttling_comes_back_through_botocore(aws, faults):
    faults.throttle("sts", "AssumeRole", times=1)
    sts = boto3.client("sts", region_name=REGION, config=Config(retries={"mode": "standard", "total_max_attempts": 2}))
    answer = sts.assume_role(RoleArn=aws.mesh.tvm_role_arn, RoleSessionName="test",
                             Tags=[{"Key": "TenantID", "Value": "acme"}])
    assert answer["ResponseMetadata"]["RetryAttempts"] == 1
    assert faults.attempts[("sts", "AssumeRole")] == 2


def test_create_event_quota_per_actor_and_session(aws, tenant_client):
    clock = Clock()
    faults = Faults(clock=clock, sleep=lambda s: None).attach(aws)
    faults.agentcore_create_event_quota()
    client = agentcore(tenant_client, {"total_max_attempts": 1})
    allowed = int(CREATE_EVENT_TPS_PER_ACTOR_SESSION)
    for _ in range(allowed):
        create_event(client, aws)
    with pytest.raises(client.exceptions.ThrottledException):
        create_event(client, aws)
    create_event(client, aws, session="s2")  # another session has its own rate
    clock.now += 1 / CREATE_EVENT_TPS_PER_ACTOR_SESSION  # one token back
    create_event(client, aws)
    assert faults.injected[("bedrock-agentcore", "CreateEvent", "quota")] == 1
    assert len(aws.agentcore.events(aws.mesh.memory_id, actor_id="acme:alice1", session_id="s1")) == allowed + 1


def test_without_faults_the_emulation_answers_whole_calls(aws, tenant_client):
    client = agentcore(tenant_client)
    before = aws.call_count("bedrock-agentcore", "ListEvents")
    assert list_events(client, aws)["ResponseMetadata"]["RetryAttempts"] == 0
    assert aws.call_count("bedrock-agentcore", "ListEvents") == before + 1


def test_faults_reach_only_the_emulated_services():
    with pytest.raises(ValueError, match="not 'sqs'"):
        Faults().throttle("sqs")
