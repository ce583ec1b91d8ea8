"""Registers the cdk-nag packs the project holds itself to (cdk-nag 3: validation plugins on the app).

cdk-nag is optional for the constructs (extra ``nag``): it is imported only when ``add_nag_packs`` runs, so an
app on cdk-nag 2, or with no cdk-nag at all, imports ``constructs_lib`` without it. The acknowledgments below
use aws-cdk-lib's own ``Validations`` API and need no cdk-nag.
"""

from __future__ import annotations

from importlib import import_module, metadata
from types import ModuleType

from aws_cdk import Acknowledgment, App, Validations
from constructs import IConstruct

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
