"""Deploy synthesized CloudFormation templates into the emulation: the resources the fakes and moto serve,
and every role, policy and resource policy the authorizer evaluates.

``deploy(aws, assembly_directory)`` reads a cloud assembly (``app.synth().directory``; synthesize with
bundling skipped), resolves ``Ref``/``Fn::GetAtt``/``Fn::Join``/``Fn::Sub``/``Fn::ImportValue`` to the
emulated resources' names and ARNs, creates vector buckets and indexes, AgentCore memories, DynamoDB tables and
SQS queues in the emulation's account, and registers roles (trust and identity policies), vector bucket, queue
and key policies, and which key encrypts what. Other resource types get deterministic names and ARNs only.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from runtime.testing.cfn import Resolver, UnresolvableIntrinsic
from runtime.testing.iam import ResourcePolicyKind

if TYPE_CHECKING:
    from runtime.testing.aws import EmulatedAws

__all__ = ["DeployedFunction", "DeployedStack", "Deployment", "deploy", "deploy_templates"]

_ENV = re.compile(r"^aws://(\d{12}|unknown-account)/([a-z0-9-]+|unknown-region)$")
#: Services of resource types whose ARN the fallback builds (``AWS::Lambda::Function`` -> lambda).
_ARN_SERVICES = {"Lambda": "lambda", "Logs": "logs", "SNS": "sns", "Events": "events", "ApiGatewayV2": "apigateway",
                 "Scheduler": "scheduler", "CloudWatch": "cloudwatch", "Cognito": "cognito-idp"}


@dataclass
class _Resource:
    logical_id: str
    type: str
    ref: str
    attributes: dict[str, Any]


@dataclass
class DeployedFunction:
    """A Lambda function of the template: its role and resolved environment."""

    name: str
    role_arn: str
    environment: dict[str, str]
    handler: str | None = None


@dataclass
class DeployedStack:
    """One deployed stack: resolved outputs and every resource's physical id and attributes."""

    name: str
    account: str
    region: str
    template: dict[str, Any] = field(repr=False)
    resources: dict[str, _Resource] = field(default_factory=dict)
    outputs: dict[str, Any] = field(default_factory=dict)
    functions: dict[str, DeployedFunction] = field(default_factory=dict)

    def ref(self, logical_id: str) -> str:
        """What ``Ref`` of a resource resolved to."""
        return self.resources[logical_id].ref

    def attribute(self, logical_id: str, name: str) -> Any:
        """What ``Fn::GetAtt`` of a resource resolved to."""
        return self.resources[logical_id].attributes[name]

    def logical_ids(self, resource_type: str) -> list[str]:
        """The logical ids of the template's resources of one type."""
        return [k for k, v in self.template.get("Resources", {}).items() if v["Type"] == resource_type]


@dataclass
class Deployment:
    """Everything one ``deploy`` call created."""

    stacks: dict[str, DeployedStack] = field(default_factory=dict)
    #: Role name -> ARN: the templates' roles and the roles they only attach policies to.
    roles: dict[str, str] = field(default_factory=dict)

    def stack(self, name: str) -> DeployedStack:
        """One deployed stack, by name."""
        return self.stacks[name]

    def role_arn(self, role_name: str) -> str:
        """The ARN of a deployed role, by its name."""
        if role_name not in self.roles:
            raise KeyError(f"no deployed role is named {role_name!r}")
        return self.roles[role_name]

    def attribute(self, resource_type: str, name: str) -> Any:
        """An attribute of the one deployed resource of a type (``"AWS::BedrockAgentCore::Memory"``, ``"MemoryId"``)."""
        found = [stack.attribute(logical, name) for stack in self.stacks.values()
                 for logical in stack.logical_ids(resource_type)]
        if len(found) != 1:
            raise KeyError(f"{len(found)} deployed resources are of type {resource_type}")
        return found[0]

    def function(self, name_part: str) -> DeployedFunction:
        """The one function whose logical id or name contains ``name_part``."""
        found = [f for s in self.stacks.values() for logical, f in s.functions.items()
                 if name_part in logical or name_part in f.name]
        if len(found) != 1:
            raise KeyError(f"{len(found)} deployed functions match {name_part!r}")
        return found[0]


def _physical_name(stack: str, logical: str, limit: int, *, lower: bool = False) -> str:
    name = f"{stack}-{logical}"
    if lower:
        name = re.sub(r"[^a-z0-9-]", "-", name.lower())
    return name[:limit].strip("-")


class _StackDeployer:
    def __init__(self, aws: EmulatedAws, deployment: Deployment, stack: DeployedStack,
                 exports: dict[str, tuple[_StackDeployer, str]]) -> None:
        self.aws = aws
        self.deployment = deployment
        self.stack = stack
        self.exports = exports
        self.local = stack.account == aws.account_id
        self.partition = "aws"
        self.resolver = Resolver(
            stack_name=stack.name, account=stack.account, region=stack.region, partition=self.partition,
            ref=self._ref, get_att=self._get_att, import_value=self._import_value,
            conditions=stack.template.get("Conditions", {}))
        self._creating: set[str] = set()

    # -- resolution -------------------------------------------------------------------------------------

    def _definition(self, logical: str) -> dict[str, Any]:
        try:
            return dict(self.stack.template["Resources"][logical])
        except KeyError:
            raise UnresolvableIntrinsic(f"{self.stack.name}: no resource or parameter {logical!r}") from None

    def _ref(self, logical: str) -> str:
        parameters = self.stack.template.get("Parameters", {})
        if logical in parameters and logical not in self.stack.template.get("Resources", {}):
            return str(parameters[logical].get("Default", ""))
        return self.create(logical).ref

    def _get_att(self, logical: str, attribute: str) -> Any:
        resource = self.create(logical)
        if attribute not in resource.attributes:
            resource.attributes[attribute] = self._fallback_attribute(resource, attribute)
        return resource.attributes[attribute]

    def _import_value(self, name: str) -> Any:
        if name not in self.exports:
            raise UnresolvableIntrinsic(f"no deployed stack exports {name!r}")
        owner, output = self.exports[name]
        return owner.resolve(owner.stack.template["Outputs"][output]["Value"])

    def resolve(self, value: Any) -> Any:
        return self.resolver.resolve(value)

    def properties(self, logical: str) -> dict[str, Any]:
        return dict(self.resolve(self._definition(logical).get("Properties", {})))

    # -- creation ---------------------------------------------------------------------------------------

    def create(self, logical: str) -> _Resource:
        if logical in self.stack.resources:
            return self.stack.resources[logical]
        if logical in self._creating:
            raise UnresolvableIntrinsic(f"{self.stack.name}: circular reference through {logical}")
        self._creating.add(logical)
        kind = self._definition(logical)["Type"]
        creator = getattr(self, "_create_" + kind.replace("::", "_").lower(), None)
        resource = creator(logical) if creator else self._generic(logical, kind)
        self.stack.resources[logical] = resource
        self._creating.discard(logical)
        return resource

    def _arn(self, service: str, resource: str, *, region: str | None = None, account: str | None = None) -> str:
        return f"arn:{self.partition}:{service}:{self.stack.region if region is None else region}:" \
               f"{self.stack.account if account is None else account}:{resource}"

    def _generic(self, logical: str, kind: str) -> _Resource:
        name = _physical_name(self.stack.name, logical, 64)
        return _Resource(logical, kind, name, {})

    def _fallback_attribute(self, resource: _Resource, attribute: str) -> Any:
        parts = resource.type.split("::")
        service = _ARN_SERVICES.get(parts[1], parts[1].lower()) if len(parts) == 3 else "emulated"
        if attribute == "Arn" or attribute.endswith("Arn"):
            if resource.type == "AWS::Lambda::Function":
                return self._arn("lambda", f"function:{resource.ref}")
            if resource.type == "AWS::Logs::LogGroup":
                return self._arn("logs", f"log-group:{resource.ref}:*")
            return self._arn(service, f"{parts[-1].lower()}/{resource.ref}")
        return f"{resource.ref}.{attribute}"

    def _create_aws_iam_role(self, logical: str) -> _Resource:
        definition = self._definition(logical).get("Properties", {})
        name = self.resolve(definition.get("RoleName")) or _physical_name(self.stack.name, logical, 64)
        path = self.resolve(definition.get("Path")) or "/"
        arn = f"arn:{self.partition}:iam::{self.stack.account}:role{path}{name}"
        self.deployment.roles[name] = arn
        role_id = f"AROA{uuid.uuid5(uuid.NAMESPACE_URL, arn).hex[:17].upper()}"
        return _Resource(logical, "AWS::IAM::Role", name, {"Arn": arn, "RoleId": role_id})

    def _create_aws_kms_key(self, logical: str) -> _Resource:
        key_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"{self.stack.account}/{self.stack.name}/{logical}"))
        return _Resource(logical, "AWS::KMS::Key", key_id, {"Arn": self._arn("kms", f"key/{key_id}"), "KeyId": key_id})

    def _create_aws_s3vectors_vectorbucket(self, logical: str) -> _Resource:
        props = self.properties(logical)
        name = props.get("VectorBucketName") or _physical_name(self.stack.name, logical, 63, lower=True)
        arn = self._arn("s3vectors", f"bucket/{name}")
        encryption = props.get("EncryptionConfiguration") or {}
        if self.local:
            params: dict[str, Any] = {"vectorBucketName": name}
            if encryption.get("SseType"):
                params["encryptionConfiguration"] = {"sseType": encryption["SseType"],
                                                     **({"kmsKeyArn": encryption["KmsKeyArn"]}
                                                        if encryption.get("KmsKeyArn") else {})}
            arn = self.aws.client("s3vectors", region=self.stack.region).create_vector_bucket(**params)[
                "vectorBucketArn"]
        if encryption.get("KmsKeyArn"):
            self.aws.iam.encryption_keys[arn] = encryption["KmsKeyArn"]
        return _Resource(logical, "AWS::S3Vectors::VectorBucket", arn,
                         {"VectorBucketArn": arn, "VectorBucketName": name})

    def _create_aws_s3vectors_index(self, logical: str) -> _Resource:
        props = self.properties(logical)
        bucket = props.get("VectorBucketName") or str(props["VectorBucketArn"]).rsplit("/", 1)[-1]
        name = props.get("IndexName") or _physical_name(self.stack.name, logical, 63, lower=True)
        arn = self._arn("s3vectors", f"bucket/{bucket}/index/{name}")
        if self.local:
            keys = (props.get("MetadataConfiguration") or {}).get("NonFilterableMetadataKeys") or ()
            arn = self.aws.create_index(bucket, name, dimension=int(props["Dimension"]),
                                        distance_metric=props.get("DistanceMetric", "cosine"),
                                        non_filterable_keys=keys, region=self.stack.region)
        return _Resource(logical, "AWS::S3Vectors::Index", arn, {"IndexArn": arn, "IndexName": name})

    def _create_aws_bedrockagentcore_memory(self, logical: str) -> _Resource:
        props = self.properties(logical)
        strategies = []
        for spec in props.get("MemoryStrategies") or []:
            ((kind, body),) = spec.items()
            strategy: dict[str, Any] = {"name": body["Name"]}
            if body.get("Namespaces"):
                strategy["namespaceTemplates"] = list(body["Namespaces"])
            strategies.append({kind[0].lower() + kind[1:]: strategy})
        name = props.get("Name") or _physical_name(self.stack.name, logical, 48).replace("-", "_")
        memory_id = f"{name}-emulated"
        if self.local:
            memory_id = self.aws.create_memory(name, strategies=strategies,
                                               event_expiry_days=int(props.get("EventExpiryDuration", 90)),
                                               region=self.stack.region)
        arn = self._arn("bedrock-agentcore", f"memory/{memory_id}")
        if props.get("EncryptionKeyArn"):
            self.aws.iam.encryption_keys[arn] = props["EncryptionKeyArn"]
        return _Resource(logical, "AWS::BedrockAgentCore::Memory", arn,
                         {"MemoryId": memory_id, "MemoryArn": arn, "Arn": arn})

    def _create_aws_dynamodb_table(self, logical: str) -> _Resource:
        props = self.properties(logical)
        name = props.get("TableName") or _physical_name(self.stack.name, logical, 255)
        arn = self._arn("dynamodb", f"table/{name}")
        if self.local:
            params: dict[str, Any] = {"TableName": name, "KeySchema": props["KeySchema"],
                                      "AttributeDefinitions": props["AttributeDefinitions"],
                                      "BillingMode": props.get("BillingMode", "PAY_PER_REQUEST")}
            if props.get("GlobalSecondaryIndexes"):
                params["GlobalSecondaryIndexes"] = props["GlobalSecondaryIndexes"]
            if params["BillingMode"] == "PROVISIONED":
                params["ProvisionedThroughput"] = props["ProvisionedThroughput"]
            arn = self.aws.client("dynamodb", region=self.stack.region).create_table(**params)[
                "TableDescription"]["TableArn"]
        hash_key = next(k["AttributeName"] for k in props["KeySchema"] if k["KeyType"] == "HASH")
        self.aws.iam.partition_keys[arn] = hash_key
        key = (props.get("SSESpecification") or {}).get("KMSMasterKeyId")
        if key:
            self.aws.iam.encryption_keys[arn] = key
        return _Resource(logical, "AWS::DynamoDB::Table", name, {"Arn": arn, "StreamArn": f"{arn}/stream/emulated"})

    def _create_aws_sqs_queue(self, logical: str) -> _Resource:
        props = self.properties(logical)
        fifo = bool(props.get("FifoQueue"))
        name = props.get("QueueName") or _physical_name(self.stack.name, logical, 75) + (".fifo" if fifo else "")
        url = f"https://sqs.{self.stack.region}.amazonaws.com/{self.stack.account}/{name}"
        if self.local:
            attributes = {"FifoQueue": "true"} if fifo else {}
            for prop in ("VisibilityTimeout", "MessageRetentionPeriod", "DelaySeconds"):
                if prop in props:
                    attributes[prop] = str(props[prop])
            if props.get("RedrivePolicy"):
                attributes["RedrivePolicy"] = json.dumps(props["RedrivePolicy"])
            url = self.aws.client("sqs", region=self.stack.region).create_queue(
                QueueName=name, Attributes=attributes)["QueueUrl"]
        arn = self._arn("sqs", name)
        if props.get("KmsMasterKeyId"):
            self.aws.iam.encryption_keys[arn] = props["KmsMasterKeyId"]
        return _Resource(logical, "AWS::SQS::Queue", url, {"Arn": arn, "QueueName": name, "QueueUrl": url})

    def _create_aws_lambda_function(self, logical: str) -> _Resource:
        definition = self._definition(logical).get("Properties", {})
        name = self.resolve(definition.get("FunctionName")) or _physical_name(self.stack.name, logical, 64)
        return _Resource(logical, "AWS::Lambda::Function", name,
                         {"Arn": self._arn("lambda", f"function:{name}")})

    # -- after every resource exists: policies and functions ---------------------------------------------

    def register(self) -> None:
        iam = self.aws.iam
        template = self.stack.template
        for logical, definition in template.get("Resources", {}).items():
            kind = definition["Type"]
            if kind == "AWS::IAM::Role":
                props = self.properties(logical)
                role = iam.register_role(self.stack.attribute(logical, "Arn"),
                                         trust_policy=props.get("AssumeRolePolicyDocument"),
                                         tags={t["Key"]: t["Value"] for t in props.get("Tags") or []})
                role.policies.extend(p["PolicyDocument"] for p in props.get("Policies") or [])
        for logical, definition in template.get("Resources", {}).items():
            kind = definition["Type"]
            if kind in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
                props = self.properties(logical)
                for role_name in props.get("Roles") or []:
                    self._role_named(str(role_name)).policies.append(props["PolicyDocument"])
            elif kind == "AWS::KMS::Key":
                props = self.properties(logical)
                if props.get("KeyPolicy"):
                    iam.set_resource_policy(self.stack.attribute(logical, "Arn"), props["KeyPolicy"],
                                            ResourcePolicyKind.KMS_KEY)
            elif kind == "AWS::S3Vectors::VectorBucketPolicy":
                props = self.properties(logical)
                bucket = props.get("VectorBucketArn") or self._arn("s3vectors", f"bucket/{props['VectorBucketName']}")
                policy = props["Policy"]
                iam.set_resource_policy(bucket, json.loads(policy) if isinstance(policy, str) else policy)
            elif kind == "AWS::SQS::QueuePolicy":
                props = self.properties(logical)
                for url in props.get("Queues") or []:
                    queue = str(url).rstrip("/").rsplit("/", 2)
                    iam.set_resource_policy(self._arn("sqs", queue[-1], account=queue[-2]), props["PolicyDocument"])
            elif kind == "AWS::Lambda::Function":
                props = self.properties(logical)
                variables = (props.get("Environment") or {}).get("Variables") or {}
                self.stack.functions[logical] = DeployedFunction(
                    self.stack.ref(logical), str(props["Role"]), {k: str(v) for k, v in variables.items()},
                    props.get("Handler"))
        for name, output in template.get("Outputs", {}).items():
            self.stack.outputs[name] = self.resolve(output["Value"])

    def _role_named(self, name: str) -> Any:
        for arn, role in self.aws.iam.roles.items():
            if arn.rsplit("/", 1)[-1] == name and role.account == self.stack.account:
                return role
        # A role the template imports (created elsewhere): it carries only the policies templates attach to it.
        arn = f"arn:{self.partition}:iam::{self.stack.account}:role/{name}"
        self.deployment.roles[name] = arn
        return self.aws.iam.register_role(arn)


def deploy_templates(aws: EmulatedAws, stacks: Mapping[str, tuple[Mapping[str, Any], str, str]]) -> Deployment:
    """Deploy templates given as ``{stack name: (template, account, region)}``."""
    deployment = Deployment()
    exports: dict[str, tuple[_StackDeployer, str]] = {}
    deployers = []
    for name, (template, account, region) in stacks.items():
        stack = DeployedStack(name, account, region, json.loads(json.dumps(template)))
        deployment.stacks[name] = stack
        deployers.append(_StackDeployer(aws, deployment, stack, exports))
    for deployer in deployers:
        for output, spec in deployer.stack.template.get("Outputs", {}).items():
            if "Export" in spec:
                exports[str(deployer.resolve(spec["Export"]["Name"]))] = (deployer, output)
    for deployer in deployers:
        for logical in deployer.stack.template.get("Resources", {}):
            deployer.create(logical)
    for deployer in deployers:
        deployer.register()
    return deployment


def deploy(aws: EmulatedAws, assembly_directory: str | Path) -> Deployment:
    """Deploy every stack of a synthesized cloud assembly (``app.synth().directory``)."""
    directory = Path(assembly_directory)
    manifest = json.loads((directory / "manifest.json").read_text())
    stacks: dict[str, tuple[Mapping[str, Any], str, str]] = {}
    for artifact_id, artifact in manifest.get("artifacts", {}).items():
        if artifact.get("type") != "aws:cloudformation:stack":
            continue
        match = _ENV.match(artifact.get("environment", ""))
        account = match.group(1) if match and match.group(1) != "unknown-account" else aws.account_id
        region = match.group(2) if match and match.group(2) != "unknown-region" else aws.region
        properties = artifact.get("properties", {})
        template = json.loads((directory / properties["templateFile"]).read_text())
        stacks[properties.get("stackName") or artifact_id] = (template, account, region)
    return deploy_templates(aws, stacks)
