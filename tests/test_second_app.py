"""The constructs compose in someone else's CDK app, with nothing from this project's stacks or runtime."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_second_app_synthesizes_clean_with_only_constructs_lib(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT), "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20"}
    proc = subprocess.run([sys.executable, str(ROOT / "tests/second_app/app.py"), str(tmp_path)],
                          capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert json.loads(proc.stdout.strip().splitlines()[-1]) == {"project_modules_loaded": []}

    template = json.loads((tmp_path / "team-memory.template.json").read_text())
    types = [r["Type"] for r in template["Resources"].values()]
    assert types.count("AWS::S3Vectors::Index") == 2
    assert types.count("AWS::BedrockAgentCore::Memory") == 1
    tvm_role = next(r for k, r in template["Resources"].items() if k.startswith("TvmRole") and r["Type"] ==
                    "AWS::IAM::Role")
    (trust,) = tvm_role["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Condition"]["StringEquals"] == {"aws:RequestTag/TenantID": ["red"]}
    assert tvm_role["Properties"]["MaxSessionDuration"] == 7200
    report = json.loads((tmp_path / "validation-report.json").read_text())
    assert all(p["violations"] == [] for p in report["pluginReports"])
