"""Registers the cdk-nag packs the project holds itself to (cdk-nag 3: validation plugins on the app)."""

from __future__ import annotations

from aws_cdk import Acknowledgment, App, Validations
from constructs import IConstruct
from cdk_nag import AwsSolutionsChecks, HIPAASecurityChecks, NIST80053R5Checks, ServerlessChecks

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


INLINE_POLICY_FINDINGS = ("HIPAA.Security::HIPAA.Security-IAMNoInlinePolicy", "NIST.800.53.R5::NIST.800.53.R5-IAMNoInlinePolicy")
INLINE_POLICY_REASON = (
    "The role's policy is generated from least-privilege grants on exact ARNs, belongs to this one role only, and is "
    "versioned and rolled back with the stack; a managed policy would add reuse this role must not have."
)


def acknowledge_inline_policy(role: IConstruct) -> None:
    """Acknowledge the inline-policy findings for a role whose policy comes from CDK grants."""
    for finding in INLINE_POLICY_FINDINGS:
        acknowledge(role, finding, INLINE_POLICY_REASON)
