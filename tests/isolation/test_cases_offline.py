"""The live suite's isolation cases in the emulation, on the synthesized sample mesh: the worker agent role vends
from the worker TVM. These are the emulator's decisions `make test-live` compares with AWS's."""

from __future__ import annotations

import pytest

from tests.isolation.cases import ALLOW, CASES, DENY, World, decide
from tests.isolation.sessions import client_with

pytestmark = pytest.mark.xdist_group("sample_mesh")


def emulated_world(aws, deployment, *, caller_credentials, tvm_role_arn, tenant="acme") -> World:
    home = next(s for s in deployment.stacks.values() if "MemoryId" in s.outputs)
    environment = next(f.environment for s in deployment.stacks.values() for f in s.functions.values()
                       if "MESH_VECTOR_BUCKET" in f.environment)
    return World(
        caller=lambda service: client_with(caller_credentials, service) if caller_credentials
        else aws_client(service),
        session=lambda credentials, service: client_with(credentials, service),
        tvm_role_arn=tvm_role_arn, memory_id=home.outputs["MemoryId"], bucket=environment["MESH_VECTOR_BUCKET"],
        index_prefix=environment["MESH_INDEX_PREFIX"], tenant=tenant, foreign_tenant="initech")


def aws_client(service: str):
    import boto3

    return boto3.client(service, region_name="us-east-1")


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_iam_denies_or_allows_each_isolation_case_as_expected(deployed, case):
    aws, deployment = deployed
    agent = aws.vend(deployment.role_arn("billing-agent-tools"), service_principal="bedrock.amazonaws.com")
    world = emulated_world(aws, deployment, caller_credentials=agent,
                           tvm_role_arn=deployment.role_arn("memory-mesh-tvm-external"))
    assert decide(case, world) == case.expected
    assert case.expected in (ALLOW, DENY)


def test_the_live_suites_emulated_side_replays_the_cases_from_templates(sample_mesh, aws_credentials):
    """What `make test-live` runs against CloudFormation's copy of the templates, here on the synthesized ones."""
    from tests.live.test_live_isolation import _emulated_decisions

    stacks = {name: (template, *_environment(sample_mesh, name), {})
              for name, template in sample_mesh.templates.items()}
    settings = {"tenant": "acme", "foreign": "initech"}
    decisions = _emulated_decisions(stacks, settings, "arn:aws:iam::222222222222:role/billing-agent-tools")
    assert decisions == [case.expected for case in CASES]


def _environment(sample_mesh, name):
    import json

    manifest = json.loads((sample_mesh.directory / "manifest.json").read_text())
    environment = next(a["environment"] for a in manifest["artifacts"].values()
                       if a.get("properties", {}).get("stackName", "") == name or a.get("displayName") == name)
    account, region = environment.removeprefix("aws://").split("/")
    return account, region
