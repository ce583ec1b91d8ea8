"""Opt-in (`make test-live`): the isolation cases against a deployed mesh, each decided by real IAM and by the
emulation evaluating the same deployed templates, printed side by side. Any disagreement fails: it is a bug in
the emulator's request table (runtime/testing/iam/actions.json) or evaluator.

Environment: MESH_LIVE_STACKS (comma-separated CloudFormation stack names of the mesh, the memory home first),
MESH_LIVE_TENANT (a tenant the caller may vend for), optionally MESH_LIVE_TVM_ROLE_ARN (default: the memory
home's WorkerTokenVendingMachineRoleArn output), MESH_LIVE_FOREIGN_TENANT (default ``mesh-live-foreign``),
MESH_LIVE_EXTERNAL_ID and MESH_LIVE_REGION (default MESH_REGION or the credentials' Region). The credentials
must belong to a role that TVM trusts, e.g. the worker agent role (``tvm_principal_arn``).
"""

from __future__ import annotations

import json
import os
from typing import Any

import pytest

from tests.isolation.cases import CASES, World, decide

pytestmark = pytest.mark.live


def _settings() -> dict[str, str]:
    missing = [name for name in ("MESH_LIVE_STACKS", "MESH_LIVE_TENANT") if not os.environ.get(name)]
    if missing:
        pytest.skip(f"live settings missing: {', '.join(missing)}")
    import boto3

    session = boto3.session.Session()
    if session.get_credentials() is None:
        pytest.skip("no AWS credentials")
    region = os.environ.get("MESH_LIVE_REGION") or os.environ.get("MESH_REGION") or session.region_name
    if not region:
        pytest.skip("no Region: set MESH_LIVE_REGION")
    return {"region": region, "stacks": os.environ["MESH_LIVE_STACKS"], "tenant": os.environ["MESH_LIVE_TENANT"],
            "foreign": os.environ.get("MESH_LIVE_FOREIGN_TENANT", "mesh-live-foreign")}


def _deployed_stacks(region: str, names: list[str]) -> dict[str, tuple[dict[str, Any], str, str, dict[str, str]]]:
    """Each stack's processed template, account, Region and outputs, as CloudFormation holds them."""
    import boto3

    cloudformation = boto3.client("cloudformation", region_name=region)
    found = {}
    for name in names:
        stack = cloudformation.describe_stacks(StackName=name)["Stacks"][0]
        body = cloudformation.get_template(StackName=name, TemplateStage="Processed")["TemplateBody"]
        template = json.loads(body) if isinstance(body, str) else body
        account = stack["StackId"].split(":")[4]
        outputs = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
        found[name] = (template, account, region, outputs)
    return found


def _world(outputs: dict[str, str], settings: dict[str, str], caller: Any, session: Any) -> World:
    environment = json.loads(outputs.get("WorkerMemoryEnvironment", "{}"))
    tvm = os.environ.get("MESH_LIVE_TVM_ROLE_ARN") or outputs["WorkerTokenVendingMachineRoleArn"]
    return World(caller=caller, session=session, tvm_role_arn=tvm, memory_id=outputs["MemoryId"],
                 bucket=outputs["VectorBucketArn"].rsplit("/", 1)[-1],
                 index_prefix=environment.get("MESH_INDEX_PREFIX", "tenant-"), tenant=settings["tenant"],
                 foreign_tenant=settings["foreign"], external_id=os.environ.get("MESH_LIVE_EXTERNAL_ID"))


def _client_on(credentials: dict[str, str], service: str, region: str) -> Any:
    import boto3

    return boto3.session.Session(aws_access_key_id=credentials["AccessKeyId"],
                                 aws_secret_access_key=credentials["SecretAccessKey"],
                                 aws_session_token=credentials["SessionToken"], region_name=region).client(service)


def _caller_role_arn(region: str) -> str:
    import boto3

    arn = boto3.client("sts", region_name=region).get_caller_identity()["Arn"]
    if ":assumed-role/" not in arn:
        return arn
    partition, account = arn.split(":")[1], arn.split(":")[4]
    return f"arn:{partition}:iam::{account}:role/{arn.split('/')[1]}"


def _emulated_decisions(stacks: dict[str, Any], settings: dict[str, str], caller_role: str) -> list[str]:
    import boto3

    from runtime.testing import emulated_aws
    from runtime.testing.deploy import deploy_templates

    first = next(iter(stacks.values()))
    region, account = first[2], first[1]
    saved = {k: os.environ.get(k) for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
                                            "AWS_PROFILE")}
    os.environ.update({"AWS_ACCESS_KEY_ID": "emulated", "AWS_SECRET_ACCESS_KEY": "emulated",
                       "AWS_SESSION_TOKEN": "emulated"})
    os.environ.pop("AWS_PROFILE", None)
    try:
        with emulated_aws(region, account) as aws:
            deployment = deploy_templates(aws, {n: (t, a, r) for n, (t, a, r, _) in stacks.items()})
            aws.iam.default_caller_arn = caller_role
            outputs = next(s.outputs for s in deployment.stacks.values() if "MemoryId" in s.outputs)

            def caller(service: str) -> Any:
                return boto3.session.Session(region_name=region).client(service)

            world = _world(outputs, settings, caller, lambda creds, service: _client_on(creds, service, region))
            return [decide(case, world) for case in CASES]
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def test_live_isolation_cases_agree_with_the_emulator(capsys: pytest.CaptureFixture[str]) -> None:
    import boto3

    settings = _settings()
    region = settings["region"]
    stacks = _deployed_stacks(region, [n.strip() for n in settings["stacks"].split(",") if n.strip()])
    caller_role = _caller_role_arn(region)
    outputs = next(o for (_, _, _, o) in stacks.values() if "MemoryId" in o)
    live_world = _world(outputs, settings, lambda service: boto3.client(service, region_name=region),
                        lambda creds, service: _client_on(creds, service, region))
    aws_decisions = [decide(case, live_world) for case in CASES]
    emulator_decisions = _emulated_decisions(stacks, settings, caller_role)
    rows = list(zip([c.name for c in CASES], emulator_decisions, aws_decisions, strict=True))
    width = max(len(name) for name, _, _ in rows)
    with capsys.disabled():
        print(f"\n{'case'.ljust(width)}  emulator  AWS")
        for name, emulated, real in rows:
            print(f"{name.ljust(width)}  {emulated.ljust(8)}  {real}{'' if emulated == real else '   <- DISAGREE'}")
    disagreements = [name for name, emulated, real in rows if emulated != real]
    assert not disagreements, f"the emulator disagrees with AWS on: {disagreements}"
