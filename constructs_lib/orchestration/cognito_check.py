"""Checks that a Cognito user pool keeps the tenant claim out of its users' hands."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from aws_cdk import Stack
from aws_cdk import aws_cognito as cognito

from runtime.contract.problems import Problems

__all__ = ["CUSTOM_PREFIX", "check_tenant_claim"]

CUSTOM_PREFIX = "custom:"


def check_tenant_claim(problems: Problems, field: str, *, tenant_claim: str, user_pool: cognito.IUserPool,
                       clients: Sequence[cognito.IUserPoolClient]) -> list[str]:
    """Add a problem when a user could set their own tenant; return warnings for what cannot be checked.

    The claim must be an immutable custom attribute (``mutable`` false: set at sign-up or by an administrator
    only) that no app client may write. A client without ``write_attributes`` may write every writable
    attribute (aws-cdk-lib's documented default), so it must name its write attributes explicitly.
    """
    warnings: list[str] = []
    if not tenant_claim.startswith(CUSTOM_PREFIX):
        problems.add(f"{field}.tenant_claim", tenant_claim,
                     "must be a custom attribute of the user pool ('custom:<name>'), or set "
                     "tenant_claim_set_by_trigger when a pre-token-generation trigger sets it")
        return warnings
    attribute = tenant_claim[len(CUSTOM_PREFIX):]
    pool = user_pool.node.default_child if isinstance(user_pool, cognito.UserPool) else None
    if not isinstance(pool, cognito.CfnUserPool):
        warnings.append(f"{field}.user_pool is imported: check yourself that {tenant_claim} is immutable and not in "
                        "any app client's write attributes")
    else:
        schema = _resolved(pool, pool.schema) or []
        # The L1's resolved schema uses the construct's property names (name, mutable), not CloudFormation's.
        entry = next((a for a in schema if isinstance(a, dict) and _get(a, "name") == attribute), None)
        if entry is None:
            problems.add(f"{field}.tenant_claim", tenant_claim, "must be a custom attribute of the user pool; it "
                         f"declares none named '{attribute}'")
        elif _get(entry, "mutable") is not False:
            problems.add(f"{field}.tenant_claim", tenant_claim,
                         "must be an immutable custom attribute (mutable=False): a mutable one lets users change "
                         "their own tenant")
    for i, client in enumerate(clients):
        cfn = client.node.default_child if isinstance(client, cognito.UserPoolClient) else None
        name = f"{field}.user_pool_clients[{i}].write_attributes"
        if not isinstance(cfn, cognito.CfnUserPoolClient):
            warnings.append(f"{field}.user_pool_clients[{i}] is imported: check yourself that its write attributes "
                            f"leave out {tenant_claim}")
            continue
        writable = _resolved(cfn, cfn.write_attributes)
        if writable is None:
            problems.add(name, "<all attributes>", f"must be set and leave out '{tenant_claim}': a client without "
                         "write_attributes may write every writable attribute")
        elif tenant_claim in writable:
            problems.add(name, sorted(writable), f"must leave out '{tenant_claim}': users could set their own tenant")
    return warnings


def _resolved(resource: Any, value: Any) -> Any:
    return Stack.of(resource).resolve(value) if value is not None else None


def _get(entry: dict[str, Any], key: str) -> Any:
    return entry.get(key, entry.get(key[:1].upper() + key[1:]))
