"""The evaluator against IAM decisions the AWS documentation states (tests/runtime/iam/corpus.py)."""

from __future__ import annotations

from typing import Any

import pytest

from runtime.testing.iam import (
    Principal,
    Reason,
    Request,
    ResourcePolicyKind,
    evaluate,
    is_allowed,
)
from tests.runtime.iam.corpus import CASES


def _request(spec: dict[str, Any]) -> Request:
    principal = spec.get("principal")
    return Request(
        action=spec["action"],
        resource=spec["resource"],
        context=spec.get("context", {}),
        identity_policies=spec.get("identity_policies", []),
        principal=Principal(**principal) if principal else None,
        resource_policy=spec.get("resource_policy"),
        resource_policy_kind=ResourcePolicyKind[spec.get("resource_policy_kind", "STANDARD")],
        resource_account=spec.get("resource_account"),
    )


def test_corpus_is_large_and_cited() -> None:
    assert len(CASES) >= 45
    assert len({case["name"] for case in CASES}) == len(CASES), "case names must be unique"
    for case in CASES:
        assert case["source"].startswith("https://docs.aws.amazon.com/"), case["name"]
        assert case["expect"] in Reason.__members__, case["name"]


@pytest.mark.parametrize("case", CASES, ids=[case["name"] for case in CASES])
def test_documented_decision(case: dict[str, Any]) -> None:
    decision = evaluate(_request(case["request"]))
    assert decision.reason is Reason[case["expect"]], f"{case['name']} ({case['source']})"
    assert decision.allowed is (case["expect"] == "ALLOW")


@pytest.mark.parametrize(
    "case",
    [case for case in CASES if set(case["request"]) <= {"action", "resource", "context", "identity_policies"}],
    ids=lambda case: case["name"],
)
def test_is_allowed_agrees_with_evaluate(case: dict[str, Any]) -> None:
    spec = case["request"]
    assert is_allowed(spec.get("identity_policies", []), spec["action"], spec["resource"], spec.get("context", {})) is (
        case["expect"] == "ALLOW"
    )
