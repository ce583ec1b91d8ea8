"""MemoryOrchestrator options: SnapStart and provisioned concurrency wired to the alias, and every prop's message."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
from aws_cdk import Duration
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns

from constructs_lib import (
    FunctionOptions,
    FunctionSizing,
    ModelOptions,
    ObservabilityOptions,
    PropsError,
    RuntimeBundle,
)
from tests.constructs_lib.helpers import lid, resources
from tests.constructs_lib.orchestrator_fixtures import build

pytestmark = pytest.mark.xdist_group("orchestrator_options")

SIZING = FunctionSizing()
FAST = replace(SIZING,
               orchestrator=replace(SIZING.orchestrator, snap_start=True),
               summarizer=replace(SIZING.summarizer, snap_start=True),
               retention=replace(SIZING.retention, snap_start=True),
               forget=replace(SIZING.forget, provisioned_concurrency=2))


@pytest.fixture(scope="module")
def fast():
    return build(functions=FAST)


def _alias_ref(built, name):
    return {"Ref": lid(built.orchestration.functions[name].invoke_target)}


def test_snap_start_publishes_versions_behind_a_live_alias(fast):
    orchestrator = fast.orchestration.orchestrator
    props = fast.template["Resources"][lid(orchestrator)]["Properties"]
    assert props["SnapStart"] == {"ApplyOn": "PublishedVersions"}
    aliases = {a["Properties"]["FunctionName"]["Ref"]: a["Properties"]
               for a in resources(fast.template, "AWS::Lambda::Alias").values()}
    names = {lid(fast.orchestration.functions[n]): n for n in ("orchestrator", "summarizer", "retention", "forget")}
    assert sorted(names[k] for k in aliases) == ["forget", "orchestrator", "retention", "summarizer"]
    assert all(a["Name"] == "live" for a in aliases.values())
    forget = aliases[lid(fast.orchestration.forget)]
    assert forget["ProvisionedConcurrencyConfig"] == {"ProvisionedConcurrentExecutions": 2}
    assert "SnapStart" not in fast.template["Resources"][lid(fast.orchestration.forget)]["Properties"]


def test_the_api_event_sources_and_schedule_invoke_the_alias(fast):
    integrations = {i["Properties"]["IntegrationUri"]["Ref"] if "Ref" in i["Properties"]["IntegrationUri"]
                    else None for i in resources(fast.template, "AWS::ApiGatewayV2::Integration").values()}
    assert _alias_ref(fast, "orchestrator")["Ref"] in integrations
    assert _alias_ref(fast, "forget")["Ref"] in integrations
    mapping = fast.template["Resources"][lid(fast.orchestration.summary_event_source)]["Properties"]
    # The mapping names the alias as '<function name>:live' (taken from the alias ARN).
    assert mapping["FunctionName"]["Fn::Join"][1][1] == ":live"
    assert json.dumps(_alias_ref(fast, "summarizer")) in json.dumps(mapping["FunctionName"])
    (schedule,) = resources(fast.template, "AWS::Scheduler::Schedule").values()
    assert schedule["Properties"]["Target"]["Arn"] == _alias_ref(fast, "retention")
    # Unchanged functions are invoked directly.
    lifecycle = fast.template["Resources"][lid(fast.orchestration.lifecycle_event_source)]["Properties"]
    assert lifecycle["FunctionName"] == {"Ref": lid(fast.orchestration.lifecycle)}


def _options(**kwargs):
    return replace(SIZING.orchestrator, **kwargs)


@pytest.mark.parametrize("functions, message", [
    (replace(SIZING, orchestrator=_options(snap_start=True, provisioned_concurrency=2)),
     "functions.orchestrator.snap_start=True: cannot be combined with provisioned_concurrency (Lambda SnapStart does "
     "not support it); choose one"),
    (replace(SIZING, orchestrator=_options(provisioned_concurrency=60)),
     "functions.orchestrator.provisioned_concurrency=60: must be at most reserved_concurrency (50)"),
    (replace(SIZING, orchestrator=_options(timeout=Duration.seconds(31))),
     "functions.orchestrator.timeout='31s': must be at most 30 seconds behind the HTTP API (API Gateway ends an "
     "integration after 30 seconds)"),
    (replace(SIZING, retention=FunctionOptions(64, Duration.minutes(15), 1)),
     "functions.retention.memory_size=64: must be a whole number from 128 to 10240 MB"),
    (replace(SIZING, retention=FunctionOptions(512, Duration.minutes(16), 1)),
     "functions.retention.timeout='960s': must be from 1 second to 15 minutes (Lambda)"),
    (replace(SIZING, summarizer=FunctionOptions(512, Duration.seconds(120), 1)),
     "functions.summarizer.reserved_concurrency=1: must be at least 2: it is also the SQS event source's maximum "
     "concurrency (2-1000)"),
    (replace(SIZING, tenants=FunctionOptions(256, Duration.seconds(29), 0)),
     "functions.tenants.reserved_concurrency=0: must be a whole number from 1 to 1000"),
])
def test_each_function_option_has_its_message(functions, message):
    with pytest.raises(PropsError) as err:
        build(functions=functions)
    assert err.value.problems == [message]


def test_snap_start_needs_a_runtime_that_has_it():
    from tests.constructs_lib.helpers import new_stack

    bundle = RuntimeBundle(new_stack(), "Bundle", runtime=lambda_.Runtime.PYTHON_3_11)
    with pytest.raises(PropsError) as err:
        build(bundle=bundle, functions=replace(SIZING, orchestrator=_options(snap_start=True)))
    assert err.value.problems == ["functions.orchestrator.snap_start=True: needs a runtime with SnapStart (Python "
                                  "3.12 or later); the bundle's runtime is python3.11"]


@pytest.mark.parametrize("kwargs, message", [
    ({"retention_days": 0}, "retention_days=0: must be a whole number from 1 to 3650"),
    ({"content_max_bytes": 40000}, "content_max_bytes=40000: must be a whole number from 1 to 36864"),
    ({"observability": ObservabilityOptions(log_level="TRACE")},
     "observability.log_level='TRACE': must be one of 'DEBUG', 'INFO', 'WARNING', 'ERROR'"),
    ({"observability": ObservabilityOptions(log_group_prefix="logs/")},
     "observability.log_group_prefix='logs/': must be 2-400 characters starting with '/', then letters, digits and "
     ". - _ / #, not ending with '/'"),
    ({"observability": ObservabilityOptions(alarm_email="nobody")},
     "observability.alarm_email='nobody': must be an e-mail address such as 'ops@example.com'"),
    ({"role_name_prefix": "x" * 52},
     f"role_name_prefix='{'x' * 52}': must be at most 51 characters (IAM role names are at most 64, and "
     "'-orchestrator' follows)"),
    ({"models": ModelOptions(summary_model_id="eu.amazon.nova-lite-v1:0")},
     "models.summary_model_id='eu.amazon.nova-lite-v1:0': must be callable from us-east-1: an inference profile of "
     "geography 'eu' routes to eu-central-1, eu-north-1, eu-west-1, eu-west-3; use a profile or model of this Region"),
    ({"models": ModelOptions(embedding_model_id="Titan!")},
     "models.embedding_model_id='Titan!': must be a Bedrock model id, inference profile id or ARN such as "
     "'amazon.titan-embed-text-v2:0'"),
])
def test_each_orchestrator_prop_has_its_message(kwargs, message):
    with pytest.raises(PropsError) as err:
        build(**kwargs)
    assert err.value.problems == [message]
    assert str(err.value).startswith("MemoryOrchestrator: invalid props (1 problem(s)):")


def test_an_alarm_email_and_an_own_topic_are_exclusive():
    from tests.constructs_lib.helpers import new_stack

    topic = sns.Topic.from_topic_arn(new_stack(), "Topic", "arn:aws:sns:us-east-1:111111111111:ops")
    with pytest.raises(PropsError) as err:
        build(observability=ObservabilityOptions(alarm_email="ops@example.com", alarm_topic=topic))
    assert err.value.problems == ["observability.alarm_email='ops@example.com': must be omitted with alarm_topic: "
                                  "subscribe it to your own topic"]
