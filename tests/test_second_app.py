"""The constructs compose in someone else's CDK app, through their interfaces, with nothing from this project's
stacks and nothing of the runtime but its standard-library contract."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _resources(template, type_):
    return {k: r for k, r in template["Resources"].items() if r["Type"] == type_}


def test_second_app_synthesizes_clean_with_only_constructs_lib_and_the_contract(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT), "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20"}
    proc = subprocess.run([sys.executable, str(ROOT / "tests/second_app/app.py"), str(tmp_path)],
                          capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert all(m == "runtime" or m.startswith("runtime.contract") for m in result["project_modules_loaded"]), result
    assert result["partner_environment"]["MESH_TVM_ROLE_ARN"] == "arn:aws:iam::333333333333:role/team-memory-partners"
    assert result["partner_environment"]["MESH_ISOLATION"] == "user"

    home = json.loads((tmp_path / "team-memory.template.json").read_text())
    assert not _resources(home, "AWS::S3Vectors::Index")
    assert len(_resources(home, "AWS::BedrockAgentCore::Memory")) == len(_resources(home, "AWS::DynamoDB::Table")) == 1
    tvm = next(r for k, r in _resources(home, "AWS::IAM::Role").items() if k.startswith("TvmRole"))
    (trust,) = tvm["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    # Tenant isolation: the TenantID tag (one of the allowed) is required; no ActorID binding.
    assert trust["Condition"]["StringEquals"] == {"aws:RequestTag/TenantID": ["red"]}
    assert trust["Condition"]["Null"] == {"aws:RequestTag/TenantID": "false"}
    assert tvm["Properties"]["MaxSessionDuration"] == 7200

    partner = json.loads((tmp_path / "partner-agent.template.json").read_text())
    (policy,) = _resources(partner, "AWS::IAM::Policy").values()
    assert policy["Properties"]["PolicyDocument"]["Statement"][0]["Resource"] == (
        "arn:aws:iam::333333333333:role/team-memory-partners")
    report = json.loads((tmp_path / "validation-report.json").read_text())
    assert all(p["violations"] == [] for p in report["pluginReports"])
