"""Clients on sessions the way the mesh's principals get them: a function role's own session, then sts:AssumeRole
with session tags, source identity and external id."""

from __future__ import annotations

from typing import Any

import boto3

from tests.runtime.conftest import REGION


def client_with(credentials: dict[str, str], service: str, region: str = REGION) -> Any:
    session = boto3.session.Session(aws_access_key_id=credentials["AccessKeyId"],
                                    aws_secret_access_key=credentials["SecretAccessKey"],
                                    aws_session_token=credentials["SessionToken"], region_name=region)
    return session.client(service)


def assume(caller: dict[str, str], role_arn: str, *, tenant: str | None = None, actor: str | None = None,
           source_identity: str | None = "same", external_id: str | None = None,
           extra_tags: dict[str, str] | None = None) -> dict[str, str]:
    """sts:AssumeRole made with ``caller``'s credentials; ``source_identity="same"`` sends the actor id."""
    tags = [{"Key": "TenantID", "Value": tenant}] if tenant is not None else []
    if actor is not None:
        tags.append({"Key": "ActorID", "Value": actor})
    tags += [{"Key": k, "Value": v} for k, v in (extra_tags or {}).items()]
    params: dict[str, Any] = {"RoleArn": role_arn, "RoleSessionName": f"s-{tenant or 'none'}-{actor or 'none'}"}
    if tags:
        params["Tags"] = tags
    identity = actor if source_identity == "same" else source_identity
    if identity is not None:
        params["SourceIdentity"] = identity
    if external_id is not None:
        params["ExternalId"] = external_id
    answer = client_with(caller, "sts").assume_role(**params)["Credentials"]
    return {k: answer[k] for k in ("AccessKeyId", "SecretAccessKey", "SessionToken")}


def denied(call: Any, *args: Any, **kwargs: Any) -> str:
    """The error code a denied call answers with; fails the test if the call succeeds."""
    from botocore.exceptions import ClientError

    try:
        call(*args, **kwargs)
    except ClientError as error:
        return str(error.response["Error"]["Code"])
    raise AssertionError(f"{getattr(call, '__name__', call)} was allowed")
