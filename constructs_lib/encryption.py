"""KMS grants limited with `kms:ViaService` to the service that stores the data, in that service's Region."""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import Stack, Token
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms

from . import perms


def via_service_condition(services: Sequence[str], region: str) -> dict[str, dict[str, list[str]]]:
    """`kms:ViaService` for the given service prefixes in ``region`` (where the data and its service live)."""
    return {"StringEquals": {"kms:ViaService": [f"{s}.{region}.amazonaws.com" for s in services]}}


def grant_key_via_service(key: kms.IKey, grantee: iam.IGrantable, services: Sequence[str], *,
                          region: str) -> iam.Grant:
    """Let ``grantee`` use ``key`` for data keys only through ``services`` in ``region``.

    ``region`` is the Region of the resource the key encrypts (an imported store may live in another Region
    than the stack that grants on it). A grantee in another account also gets a key-policy statement with the
    same condition, when the key is defined in this app; an imported key's policy belongs to its owner.
    """
    conditions = via_service_condition(services, region)
    grant = iam.Grant.add_to_principal(grantee=grantee, actions=list(perms.KMS_DATA), resource_arns=[key.key_arn],
                                       conditions=conditions)
    account = grantee.grant_principal.principal_account
    key_account = Stack.of(key).account if isinstance(key, kms.Key) else None
    if account and key_account and not Token.is_unresolved(account) and not Token.is_unresolved(key_account) \
            and account != key_account:
        # A principal in another account needs the key policy to allow it too (its own policy is not enough).
        key.add_to_resource_policy(iam.PolicyStatement(
            actions=list(perms.KMS_DATA), principals=[grantee.grant_principal], resources=["*"],
            conditions=conditions), allow_no_op=True)
    return grant
