"""Customer-managed KMS keys for the memory home, and key grants limited to the memory services."""

from __future__ import annotations

from aws_cdk import Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms

from . import perms


def via_service_condition(key: kms.IKey, *services: str) -> dict[str, dict[str, list[str]]]:
    """`kms:ViaService` for the given service prefixes in the key's region."""
    region = Stack.of(key).region
    return {"StringEquals": {"kms:ViaService": [f"{s}.{region}.amazonaws.com" for s in services]}}


def grant_key_via_service(key: kms.IKey, grantee: iam.IGrantable, *services: str) -> iam.Grant:
    """Let `grantee` use `key` for data only when the call comes through one of `services`."""
    return iam.Grant.add_to_principal(
        grantee=grantee,
        actions=list(perms.KMS_DATA),
        resource_arns=[key.key_arn],
        conditions=via_service_condition(key, *services),
    )
