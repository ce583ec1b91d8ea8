"""Small helpers for construct tests: a fixed-env stack and policy-statement lookups."""

from __future__ import annotations

from typing import Any, Iterator

from aws_cdk import App, Environment, Stack
from aws_cdk.assertions import Template

ACCOUNT = "111111111111"
REGION = "us-east-1"


def new_stack(account: str = ACCOUNT, region: str = REGION, *, stack_id: str = "Test") -> Stack:
    from tests.conftest import app_context

    app = App(context=app_context())
    return Stack(app, stack_id, env=Environment(account=account, region=region))


def template_of(stack: Stack) -> dict[str, Any]:
    return Template.from_stack(stack).to_json()


def resources(template: dict[str, Any], type_: str) -> dict[str, dict[str, Any]]:
    return {k: r for k, r in template["Resources"].items() if r["Type"] == type_}


def statements(template: dict[str, Any], *, role_logical_prefix: str | None = None) -> Iterator[dict[str, Any]]:
    """Every statement of every AWS::IAM::Policy (optionally of roles whose logical id starts with a prefix)."""
    for logical_id, res in resources(template, "AWS::IAM::Policy").items():
        if role_logical_prefix and not any(r.get("Ref", "").startswith(role_logical_prefix)
                                           for r in res["Properties"].get("Roles", [])):
            continue
        yield from res["Properties"]["PolicyDocument"]["Statement"]


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def find_statement(stmts: Any, action: str) -> dict[str, Any]:
    matches = [s for s in stmts if action in as_list(s["Action"])]
    assert len(matches) == 1, f"expected one statement with {action}, got {matches}"
    return matches[0]
