"""cdk-nag (four packs) and cfn-lint over every synthesized template: zero unacknowledged findings."""

from __future__ import annotations

import json
import re

import pytest

from constructs_lib import NAG_PACKS

# The session's sample mesh is synthesized once, on the worker that runs this group.
pytestmark = pytest.mark.xdist_group("sample_mesh")


def test_all_four_nag_packs_ran_and_found_nothing_unacknowledged(sample_mesh):
    report = sample_mesh.validation_report
    assert report is not None, "cdk-nag wrote no validation report"
    by_pack = {p["pluginName"]: p for p in report["pluginReports"]}
    # The Serverless pack only reports when the app has serverless resources (Lambda, API Gateway, SQS...).
    has_serverless = any(r["Type"].startswith(("AWS::Lambda::", "AWS::ApiGatewayV2::", "AWS::SQS::"))
                         for t in sample_mesh.templates.values() for r in t["Resources"].values())
    expected = [p for p in NAG_PACKS if p != "Serverless" or has_serverless]
    assert sorted(by_pack) == sorted(expected)
    for name, pack in by_pack.items():
        assert pack["conclusion"] == "success", name
        assert pack["violations"] == [], (name, pack["violations"])


# Wildcard findings that are acknowledged, each for its documented reason: aws-cdk-lib's Memory execution role
# (kms:ReEncrypt*), X-Ray (no resource-level permissions: Resource::*), the user indexes of the session's own tenant
# (TVM: named by the TenantID tag, bound by resource-tag conditions), the user indexes of every tenant that forget,
# lifecycle and retention reach (created at run time), and the retention function's versions (the schedule's role).
DOCUMENTED_WILDCARD_FINDINGS = re.compile(
    r"(\[Action::kms:ReEncrypt\*\]|\[Resource::\*\]|/index/tenant-\*\]|/index/tenant-<aws:PrincipalTag/TenantID>\.\*\]"
    r"|<OrchestrationRetention[0-9A-F]{8}\.Arn>:\*\])$")


def test_every_acknowledgment_names_one_finding_and_a_reason(sample_mesh):
    for pack in sample_mesh.validation_report["pluginReports"]:
        for suppressed in pack.get("suppressedViolations", []):
            finding = suppressed["acknowledgedId"]
            assert "::" in finding and ("*]" not in finding or DOCUMENTED_WILDCARD_FINDINGS.search(finding)), finding
            assert len(suppressed["reason"]) >= 40, suppressed


def test_nag_warnings_are_findings_too(sample_mesh):
    # cdk-nag warnings do not fail synth; the project still allows none.
    for pack in sample_mesh.validation_report["pluginReports"]:
        assert [v for v in pack["violations"] if v.get("severity") == "warning"] == []


@pytest.mark.parametrize("stack_name", ["memory-mesh-supervisor", "memory-mesh-worker-billing"])
def test_cfn_lint_finds_nothing(sample_mesh, stack_name):
    from cfnlint.api import lint

    matches = lint(json.dumps(sample_mesh.template(stack_name)), regions=["us-east-1", "us-west-2"])
    assert [str(m) for m in matches] == []


def test_no_identity_policy_uses_a_star_resource_except_documented_cases(sample_mesh):
    # Actions without resource-level support that need "*": X-Ray's (active tracing of the Lambdas). Key policies
    # use "*" to mean "this key" and are not identity policies.
    allowed_star_actions = {"xray:PutTraceSegments", "xray:PutTelemetryRecords"}
    for template in sample_mesh.templates.values():
        for res in template["Resources"].values():
            if res["Type"] != "AWS::IAM::Policy":
                continue
            for stmt in res["Properties"]["PolicyDocument"]["Statement"]:
                resources = stmt["Resource"] if isinstance(stmt["Resource"], list) else [stmt["Resource"]]
                if "*" in resources:
                    actions = stmt["Action"] if isinstance(stmt["Action"], list) else [stmt["Action"]]
                    assert set(actions) <= allowed_star_actions, stmt
