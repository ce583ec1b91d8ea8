"""cdk-nag: the packs the project holds itself to, and acknowledgments that name one finding and its reason."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import jsii
from aws_cdk import Acknowledgment, App, Stack, Validations
from aws_cdk import aws_iam as iam
from cdk_nag import AwsSolutionsChecks, HIPAASecurityChecks, NIST80053R5Checks, ServerlessChecks
from constructs import IConstruct, IValidation

__all__ = ["NAG_PACKS", "acknowledge", "acknowledge_inline_policy", "acknowledge_wildcard_resources",
           "add_nag_packs", "nag_resource"]

NAG_PACKS = ("AwsSolutions", "Serverless", "HIPAA.Security", "NIST.800.53.R5")


def add_nag_packs(app: App, *, verbose: bool = True) -> None:
    """Run AwsSolutions, Serverless, HIPAA.Security and NIST 800-53 R5 on every synth; errors fail it."""
    Validations.of(app).add_plugins(
        AwsSolutionsChecks(verbose=verbose),
        ServerlessChecks(verbose=verbose),
        HIPAASecurityChecks(verbose=verbose),
        NIST80053R5Checks(verbose=verbose),
    )


def acknowledge(scope: IConstruct, finding: str, reason: str) -> None:
    """Acknowledge one cdk-nag finding on one construct (and what it creates), with the reason."""
    Validations.of(scope).acknowledge(Acknowledgment(id=finding, reason=reason))


INLINE_POLICY_FINDINGS = ("HIPAA.Security::HIPAA.Security-IAMNoInlinePolicy",
                          "NIST.800.53.R5::NIST.800.53.R5-IAMNoInlinePolicy")
INLINE_POLICY_REASON = (
    "The role's policy is generated from least-privilege grants on exact ARNs, belongs to this one role only, and is "
    "versioned and rolled back with the stack; a managed policy would add reuse this role must not have."
)


def acknowledge_inline_policy(role: IConstruct) -> None:
    """Acknowledge the inline-policy findings for a role whose policy comes from CDK grants."""
    for finding in INLINE_POLICY_FINDINGS:
        acknowledge(role, finding, INLINE_POLICY_REASON)


def nag_resource(resolved: Any) -> str:
    """A policy resource as cdk-nag names it in a finding id (its flattening of CloudFormation references)."""
    if resolved is None:
        return ""
    if isinstance(resolved, str):
        return resolved.replace("${", "<").replace("}", ">")
    if isinstance(resolved, dict) and "Fn::Join" in resolved:
        delimiter, items = resolved["Fn::Join"]
        return str(delimiter).join(nag_resource(i) for i in items)
    if isinstance(resolved, dict) and "Fn::Sub" in resolved:
        return nag_resource(resolved["Fn::Sub"])
    if isinstance(resolved, dict) and "Fn::GetAtt" in resolved:
        resource, attribute = resolved["Fn::GetAtt"]
        return f"<{nag_resource(resource)}.{nag_resource(attribute)}>"
    if isinstance(resolved, dict) and "Fn::ImportValue" in resolved:
        return nag_resource(resolved["Fn::ImportValue"])
    if isinstance(resolved, dict) and "Ref" in resolved:
        return f"<{nag_resource(resolved['Ref'])}>"
    # cdk-nag falls back to JSON.stringify (e.g. for Fn::GetStackOutput of a weak cross-stack reference).
    return json.dumps(resolved, separators=(",", ":"), ensure_ascii=False)


def acknowledge_wildcard_resources(owner: IConstruct, matches: Callable[[str], bool], reason: str) -> None:
    """Acknowledge AwsSolutions-IAM5 for each wildcard resource under ``owner`` that ``matches`` accepts.

    The finding id embeds the resource as synthesized, which is known only after cross-stack references are
    resolved (a store in another stack is an output reference, not a GetAtt), so the ids are computed at synth.
    """
    owner.node.add_validation(_LateWildcardAcknowledgment(owner, matches, reason))


@jsii.implements(IValidation)
class _LateWildcardAcknowledgment:
    def __init__(self, owner: IConstruct, matches: Callable[[str], bool], reason: str) -> None:
        self._owner, self._matches, self._reason = owner, matches, reason

    def validate(self) -> list[str]:
        for resource in sorted(set(_wildcard_resources(self._owner))):
            if self._matches(resource):
                acknowledge(self._owner, f"AwsSolutions::AwsSolutions-IAM5[Resource::{resource}]", self._reason)
        return []


def _wildcard_resources(owner: IConstruct) -> Iterator[str]:
    for node in owner.node.find_all():
        if not isinstance(node, (iam.CfnPolicy, iam.CfnManagedPolicy)):
            continue
        document = Stack.of(node).resolve(node.policy_document)
        for statement in document.get("Statement", []):
            if statement.get("Effect") != "Allow":
                continue
            resources = statement.get("Resource", [])
            for resource in resources if isinstance(resources, list) else [resources]:
                flat = nag_resource(resource)
                if "*" in flat:
                    yield flat
