"""cdk-nag: the packs the project holds itself to, and acknowledgments that name one finding and its reason.

cdk-nag is optional for the constructs (extra ``nag``): it is imported only when ``add_nag_packs`` runs, so an
app on cdk-nag 2, or with no cdk-nag at all, imports ``constructs_lib`` without it. The acknowledgments below
use aws-cdk-lib's own ``Validations`` API and need no cdk-nag.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from importlib import import_module, metadata
from types import ModuleType
from typing import Any

import jsii
from aws_cdk import Acknowledgment, App, Stack, Validations
from aws_cdk import aws_iam as iam
from constructs import IConstruct, IValidation

__all__ = ["NAG_PACKS", "NagUnavailableError", "acknowledge", "acknowledge_inline_policy",
           "acknowledge_wildcard_resources", "add_nag_packs", "nag_resource"]

NAG_PACKS = ("AwsSolutions", "Serverless", "HIPAA.Security", "NIST.800.53.R5")
#: The cdk-nag major version whose packs are validation plugins (cdk-nag 2's packs are Aspects).
NAG_MAJOR = 3


class NagUnavailableError(ImportError):
    """cdk-nag 3 is not installed, so the packs cannot be registered as validation plugins."""


def add_nag_packs(app: App, *, verbose: bool = True) -> None:
    """Run AwsSolutions, Serverless, HIPAA.Security and NIST 800-53 R5 on every synth; errors fail it."""
    nag = _cdk_nag()
    Validations.of(app).add_plugins(
        nag.AwsSolutionsChecks(verbose=verbose),
        nag.ServerlessChecks(verbose=verbose),
        nag.HIPAASecurityChecks(verbose=verbose),
        nag.NIST80053R5Checks(verbose=verbose),
    )


def _cdk_nag() -> ModuleType:
    """The ``cdk_nag`` module, if cdk-nag 3 is installed; else an error that says what to install."""
    try:
        installed = metadata.version("cdk-nag")
    except metadata.PackageNotFoundError:
        raise NagUnavailableError(
            "add_nag_packs needs cdk-nag 3 (not installed): pip install 'agent-memory-mesh[nag]'") from None
    if installed.split(".")[0] != str(NAG_MAJOR):
        raise NagUnavailableError(
            f"add_nag_packs needs cdk-nag {NAG_MAJOR} (validation plugins); cdk-nag {installed} is installed. "
            "With cdk-nag 2, add its packs as Aspects instead, e.g. Aspects.of(app).add(AwsSolutionsChecks()); "
            "the constructs' acknowledgments are cdk-nag 3 acknowledgments and do not suppress cdk-nag 2 findings")
    return import_module("cdk_nag")


def acknowledge(scope: IConstruct, finding: str, reason: str) -> None:
    """Acknowledge one cdk-nag finding on one construct (and what it creates), with the reason."""
    Validations.of(scope).acknowledge(Acknowledgment(id=finding, reason=reason))


INLINE_POLICY_FINDINGS = (
    "HIPAA.Security::HIPAA.Security-IAMNoInlinePolicy",
    "NIST.800.53.R5::NIST.800.53.R5-IAMNoInlinePolicy",
)
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
