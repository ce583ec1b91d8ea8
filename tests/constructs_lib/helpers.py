"""Construct-test helpers: a fixed-env stack, a memory home built from the constructs, policy lookups."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aws_cdk import App, Environment, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk.assertions import Template

ACCOUNT = "111111111111"
REGION = "us-east-1"
TENANT = "${aws:PrincipalTag/TenantID}"
ACTOR = "${aws:PrincipalTag/ActorID}"


def new_app(**context: Any) -> App:
    from tests.conftest import app_context

    return App(context=app_context(**context), builtin_cloud_formation_validation=False)


def new_stack(account: str = ACCOUNT, region: str = REGION, *, stack_id: str = "Test", app: App | None = None) -> Stack:
    return Stack(app or new_app(), stack_id, env=Environment(account=account, region=region))


def template_of(stack: Stack) -> dict[str, Any]:
    return dict(Template.from_stack(stack).to_json())


def synth(stack: Stack) -> None:
    """Synthesize the app that holds ``stack``, running every validation the constructs added."""
    app = stack.node.root
    assert isinstance(app, App)
    app.synth()


def resources(template: dict[str, Any], type_: str) -> dict[str, dict[str, Any]]:
    return {k: r for k, r in template["Resources"].items() if r["Type"] == type_}


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def lid(construct: Any) -> str:
    """The logical id of a construct's CloudFormation resource."""
    node = construct.node.default_child or construct
    return str(Stack.of(construct).resolve(node.logical_id))


def ref(construct: Any, attribute: str = "Arn") -> dict[str, Any]:
    return {"Fn::GetAtt": [lid(construct), attribute]}


def policy_statements(template: dict[str, Any], role: iam.IRole | Any) -> list[dict[str, Any]]:
    """Every statement of every policy attached to ``role`` (an iam.Role of the template)."""
    role_ref = {"Ref": lid(role)}
    return [s for p in resources(template, "AWS::IAM::Policy").values() if role_ref in p["Properties"]["Roles"]
            for s in p["Properties"]["PolicyDocument"]["Statement"]]


def statements_with(stmts: list[dict[str, Any]], action: str) -> list[dict[str, Any]]:
    return [s for s in stmts if action in as_list(s["Action"])]


def find_statement(stmts: list[dict[str, Any]], action: str) -> dict[str, Any]:
    matches = statements_with(stmts, action)
    assert len(matches) == 1, f"expected one statement with {action}, got {json.dumps(matches, indent=1)}"
    return matches[0]


def actions_of(stmts: list[dict[str, Any]]) -> set[str]:
    return {a for s in stmts for a in as_list(s["Action"])}


def trust_of(template: dict[str, Any], role: Any) -> list[dict[str, Any]]:
    statements: list[dict[str, Any]] = template["Resources"][lid(role)]["Properties"]["AssumeRolePolicyDocument"][
        "Statement"]
    return statements


@dataclass
class MemoryHome:
    """The data side of a memory home, built from the constructs in one stack."""

    stack: Stack
    key: kms.Key
    store: Any
    memory: Any
    table: Any


def memory_home(stack: Stack | None = None) -> MemoryHome:
    from constructs_lib import AgentMemory, MeshStateTable, VectorMemoryStore

    stack = stack or new_stack()
    key = kms.Key(stack, "Key", enable_key_rotation=True)
    return MemoryHome(stack, key, VectorMemoryStore(stack, "Store", encryption_key=key),
                      AgentMemory(stack, "Memory", encryption_key=key),
                      MeshStateTable(stack, "State", encryption_key=key))


def synth_report(app: App) -> tuple[Path, dict[str, Any]]:
    """Synthesize ``app`` with the four cdk-nag packs; return the assembly directory and the validation report."""
    from constructs_lib import add_nag_packs

    add_nag_packs(app, verbose=False)
    assembly = app.synth()
    report = json.loads(Path(assembly.directory, "validation-report.json").read_text())
    return Path(assembly.directory), report


def unacknowledged(report: dict[str, Any]) -> list[tuple[str, str]]:
    return [(p["pluginName"], v["ruleName"]) for p in report["pluginReports"] for v in p["violations"]]


def iter_statements(template: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for policy in resources(template, "AWS::IAM::Policy").values():
        yield from policy["Properties"]["PolicyDocument"]["Statement"]
