"""The common base of the memory home's data resources: grants on exact ARNs, KMS through the owning service."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import jsii
from aws_cdk import Arn, ArnFormat, IStableAnyProducer, IStableStringProducer, Lazy, Resource, Token
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms

from .encryption import grant_key_via_service


@jsii.implements(iam.IResourceWithPolicyV2)
class MeshResource(Resource):
    """Grants are identity-policy statements on exact ARNs; a grantee in another account also gets a statement
    in the resource's policy when the resource has one (created here), and the key is usable only through the
    service that stores the data, in the resource's own Region."""

    #: The service prefixes whose calls may use the key (kms:ViaService).
    _key_services: tuple[str, ...] = ()
    encryption_key: kms.IKey | None = None

    def _grant(self, grantee: iam.IGrantable, actions: Sequence[str], resource_arns: Sequence[str],
               conditions: Mapping[str, Mapping[str, Any]] | None = None) -> iam.Grant:
        if self.encryption_key is not None:
            grant_key_via_service(self.encryption_key, grantee, self._key_services, region=self.env.region)
        return iam.Grant.add_to_principal_or_resource(
            grantee=grantee, actions=sorted(set(actions)), resource_arns=list(resource_arns), resource=self,
            conditions=dict(conditions) if conditions else None)

    def add_to_resource_policy(self, statement: iam.PolicyStatement) -> iam.AddToResourcePolicyResult:
        """Imported resources have no policy this app may change."""
        return iam.AddToResourcePolicyResult(statement_added=False)


def env_of_arn(arn: str) -> dict[str, str]:
    """The account and Region of an ARN (parsed at synth when literal, else by CloudFormation)."""
    parts = Arn.split(arn, ArnFormat.SLASH_RESOURCE_NAME) if Token.is_unresolved(arn) else None
    if parts is not None:
        return {"account": str(parts.account), "region": str(parts.region)}
    fields = arn.split(":")
    return {"account": fields[4], "region": fields[3]}



@jsii.implements(IStableAnyProducer)
class _AnyProducer:
    def __init__(self, produce: Callable[[], Any]) -> None:
        self._produce = produce

    def produce(self, *_: Any) -> Any:
        return self._produce()


@jsii.implements(IStableStringProducer)
class _StringProducer:
    def __init__(self, produce: Callable[[], str]) -> None:
        self._produce = produce

    def produce(self, *_: Any) -> str:
        return self._produce()


def lazy_any(produce: Callable[[], Any]) -> Any:
    """A value computed at synth (after every construct has had its say)."""
    return Lazy.any(_AnyProducer(produce))


def lazy_string(produce: Callable[[], str]) -> str:
    """A string computed at synth."""
    return Lazy.string(_StringProducer(produce))
