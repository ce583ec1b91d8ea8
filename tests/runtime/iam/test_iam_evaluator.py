"""Evaluator behaviour beyond the documented corpus: reporting, refusals and undocumented ground."""

from __future__ import annotations

from typing import Any

import pytest

from runtime.testing.iam import (
    PolicyError,
    Principal,
    Reason,
    Request,
    UndocumentedEvaluation,
    evaluate,
    is_allowed,
    request_context,
)

MEMORY = "arn:aws:bedrock-agentcore:us-east-1:111111111111:memory/mesh-abcdefghij"


def doc(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def test_decision_names_the_deciding_statements() -> None:
    policy = doc({"Sid": "Read", "Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"},
                 {"Effect": "Deny", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::secret/*"})
    assert evaluate(Request("s3:GetObject", "arn:aws:s3:::open/k", identity_policies=[policy])).matched_statements == (
        "Read",)
    denied = evaluate(Request("s3:GetObject", "arn:aws:s3:::secret/k", identity_policies=[policy]))
    assert (denied.reason, denied.matched_statements) == (Reason.EXPLICIT_DENY, ("identity[0]#1",))


def test_unknown_condition_operator_is_refused() -> None:
    policy = doc({"Effect": "Allow", "Action": "*", "Resource": "*", "Condition": {"StringSortOf": {"k": "v"}}})
    with pytest.raises(PolicyError, match="StringSortOf"):
        is_allowed([policy], "s3:GetObject", "*", {"k": "v"})


def test_identity_policy_with_principal_is_refused() -> None:
    policy = doc({"Effect": "Allow", "Principal": "*", "Action": "*", "Resource": "*"})
    with pytest.raises(PolicyError, match="Principal"):
        is_allowed([policy], "s3:GetObject", "*", {})


def test_resource_policy_needs_a_principal() -> None:
    with pytest.raises(PolicyError, match="principal"):
        evaluate(Request("sqs:SendMessage", "arn:aws:sqs:us-east-1:111111111111:q",
                         resource_policy=doc({"Effect": "Allow", "Principal": "*", "Action": "*"})))


def test_service_principal_matches_service_statement() -> None:
    queue = "arn:aws:sqs:us-east-1:111111111111:q"
    policy = doc({"Effect": "Allow", "Principal": {"Service": "sns.amazonaws.com"}, "Action": "sqs:SendMessage",
                  "Resource": queue})
    assert evaluate(Request("sqs:SendMessage", queue, principal=Principal(service="sns.amazonaws.com"),
                            resource_policy=policy)).allowed
    assert not evaluate(Request("sqs:SendMessage", queue, principal=Principal(service="events.amazonaws.com"),
                                resource_policy=policy)).allowed


TENANT_POLICY = doc({"Effect": "Allow", "Action": "bedrock-agentcore:BatchDeleteMemoryRecords", "Resource": MEMORY,
                     "Condition": {"StringLike": {"bedrock-agentcore:namespace": "/facts/t1:*"}}})
SET_POLICY = doc({"Effect": "Allow", "Action": "bedrock-agentcore:BatchDeleteMemoryRecords", "Resource": MEMORY,
                  "Condition": {"ForAllValues:StringLike": {"bedrock-agentcore:namespace": "/facts/t1:*"},
                                "Null": {"bedrock-agentcore:namespace": "false"}}})


def batch(*namespaces: str) -> tuple[list[str], str, dict[str, Any]]:
    records = [{"memoryRecordId": f"mem-{index:036d}", "namespace": ns} for index, ns in enumerate(namespaces)]
    return request_context("bedrock-agentcore", "BatchDeleteMemoryRecords",
                           {"memoryId": "mesh-abcdefghij", "records": records}, region="us-east-1",
                           account="111111111111")


def test_plain_operator_on_agreeing_values_is_decided() -> None:
    actions, resource, context = batch("/facts/t1:a/", "/facts/t1:b/")
    assert is_allowed([TENANT_POLICY], actions[0], resource, context)
    actions, resource, context = batch("/facts/t2:a/", "/facts/t2:b/")
    assert not is_allowed([TENANT_POLICY], actions[0], resource, context)


def test_plain_operator_on_disagreeing_values_is_undocumented() -> None:
    actions, resource, context = batch("/facts/t1:a/", "/facts/t2:b/")
    with pytest.raises(UndocumentedEvaluation, match="ForAllValues"):
        is_allowed([TENANT_POLICY], actions[0], resource, context)


def test_set_operator_decides_mixed_batches() -> None:
    actions, resource, context = batch("/facts/t1:a/", "/facts/t2:b/")
    assert not is_allowed([SET_POLICY], actions[0], resource, context)
    actions, resource, context = batch("/facts/t1:a/", "/facts/t1:b/")
    assert is_allowed([SET_POLICY], actions[0], resource, context)
