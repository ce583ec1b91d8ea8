"""Exact `bedrock:InvokeModel` grants for a foundation model or a cross-Region inference profile."""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import Stack, Token
from aws_cdk import aws_iam as iam
from constructs import IConstruct

from runtime.contract import rules
from runtime.contract.problems import Problems

from . import perms

INVOKE_MODEL_ACTIONS = perms.MODEL_INVOKE
#: Source/destination Regions of the system-defined cross-Region inference profiles, by id prefix. A profile
#: routes a request to the model in any Region of its geography, so the caller needs the model in each of
#: them; pass `regions` when a model's profile covers a different set (Bedrock lists it per model).
INFERENCE_PROFILE_REGIONS: dict[str, tuple[str, ...]] = {
    "us": ("us-east-1", "us-east-2", "us-west-2"),
    "us-gov": ("us-gov-east-1", "us-gov-west-1"),
    "eu": ("eu-central-1", "eu-north-1", "eu-west-1", "eu-west-3"),
    "apac": ("ap-northeast-1", "ap-northeast-2", "ap-south-1", "ap-southeast-1", "ap-southeast-2"),
    "jp": ("ap-northeast-1", "ap-northeast-3"),
    "au": ("ap-southeast-2", "ap-southeast-4"),
    "ca": ("ca-central-1", "ca-west-1"),
}
#: Global profiles route to any commercial Region; their model ARN has no Region.
GLOBAL_PROFILE = "global"


def profile_geography(model_id: str) -> str | None:
    """The geography prefix of an inference profile id (`us.anthropic...` -> `us`), or None for a model id."""
    parts = model_id.split(".")
    if len(parts) >= 3 and (parts[0] in INFERENCE_PROFILE_REGIONS or parts[0] == GLOBAL_PROFILE):
        return parts[0]
    return None


def check_model_id(problems: Problems, prop: str, model_id: str, *, source_region: str,
                   regions: Sequence[str] | None = None) -> None:
    """A literal model or profile id that the stack's Region may call (it is written into IAM ARNs at synth)."""
    if not problems.check(rules.MODEL_ID, prop, model_id, required=True, literal=True):
        return
    for i, region in enumerate(regions or ()):
        problems.check(rules.REGION, f"{prop}_regions[{i}]", region, required=True, literal=True)
    geography = profile_geography(model_id)
    if geography is None or geography == GLOBAL_PROFILE or Token.is_unresolved(source_region):
        return
    covered = tuple(regions) if regions else INFERENCE_PROFILE_REGIONS[geography]
    if source_region not in covered:
        problems.add(prop, model_id, f"must be callable from {source_region}: an inference profile of geography "
                                     f"'{geography}' routes to {', '.join(covered)}; use a profile or model of this "
                                     "Region")


def model_invoke_statements(scope: IConstruct, model_id: str, *, regions: Sequence[str] | None = None,
                            sid: str | None = None) -> list[iam.PolicyStatement]:
    """`bedrock:InvokeModel` on exactly the model, or on the profile plus its models only *through* that profile.

    For an inference profile the foundation-model statement carries `bedrock:InferenceProfileArn`, so the role
    cannot call the model in those Regions directly.
    """
    stack = Stack.of(scope)
    geography = profile_geography(model_id)
    if geography is None:
        return [iam.PolicyStatement(sid=sid, actions=list(INVOKE_MODEL_ACTIONS),
                                    resources=[_foundation_model_arn(stack.partition, stack.region, model_id)])]
    model = model_id.split(".", 1)[1]
    profile_arn = f"arn:{stack.partition}:bedrock:{stack.region}:{stack.account}:inference-profile/{model_id}"
    if geography == GLOBAL_PROFILE:
        model_arns = [_foundation_model_arn(stack.partition, stack.region, model),
                      _foundation_model_arn(stack.partition, "", model)]
    else:
        model_arns = [_foundation_model_arn(stack.partition, r, model)
                      for r in (regions or INFERENCE_PROFILE_REGIONS[geography])]
    return [
        iam.PolicyStatement(sid=f"{sid}Profile" if sid else None, actions=list(INVOKE_MODEL_ACTIONS),
                            resources=[profile_arn]),
        iam.PolicyStatement(sid=f"{sid}ViaProfile" if sid else None, actions=list(INVOKE_MODEL_ACTIONS),
                            resources=model_arns,
                            conditions={"StringEquals": {"bedrock:InferenceProfileArn": profile_arn}}),
    ]


def grant_invoke_model(grantee: iam.IGrantable, scope: IConstruct, model_id: str, *,
                       regions: Sequence[str] | None = None, sid: str | None = None) -> None:
    """Add the statements of `model_invoke_statements` to `grantee`'s policy."""
    for statement in model_invoke_statements(scope, model_id, regions=regions, sid=sid):
        grantee.grant_principal.add_to_principal_policy(statement)


def _foundation_model_arn(partition: str, region: str, model: str) -> str:
    return f"arn:{partition}:bedrock:{region}::foundation-model/{model}"
