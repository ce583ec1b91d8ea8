"""`MeshFunction`: a memory-home Lambda that owns its role, log group, environment and cdk-nag acknowledgments."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import ClassVar

import jsii
from aws_cdk import CfnResource, IStableListProducer, Lazy, PhysicalName, RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from runtime.contract import ENV
from runtime.contract.environment import METRICS_NAMESPACE
from runtime.contract.problems import Problems

from .. import perms
from ..encryption import grant_key_via_service
from ..errors import raise_if_any
from ..nag import acknowledge, acknowledge_inline_policy
from ..runtime_bundle import RuntimeBundle
from .function_options import FunctionOptions

__all__ = ["FunctionShared", "MeshFunction"]

#: Python's level names where Lambda's differ.
_LAMBDA_LOG_LEVELS = {"WARNING": "WARN"}
#: The alias that SnapStart and provisioned concurrency need (callers and event sources invoke it).
LIVE_ALIAS = "live"


@dataclass(frozen=True)
class FunctionShared:
    """What every function of one memory home shares.

    :param bundle: code asset and SDK layer.
    :param encryption_key: encrypts environments, log groups and the dead-letter queue.
    :param memory_environment: the contract's `MemorySettings` variables (every function gets them).
    :param log_group_prefix: log groups are ``<prefix>/<function>``.
    :param dead_letter_queue: failed asynchronous invocations of any function.
    :param role_name_prefix: roles are ``<prefix>-<function>`` (literal, so a TVM in another stack trusts them
        by name); None lets CloudFormation name them.
    """

    bundle: RuntimeBundle
    encryption_key: kms.IKey
    memory_environment: Mapping[str, str]
    log_group_prefix: str
    log_retention: logs.RetentionDays
    log_level: str
    dead_letter_queue: sqs.IQueue
    role_name_prefix: str | None = None


class MeshFunction(lambda_.Function):
    """A function of the memory home on the shared bundle: arm64 Python, active tracing, a KMS-encrypted
    environment and log group (retained, with retention), an asynchronous-invocation DLQ, and a role of its own
    that may write its own logs only. Subclasses name the handler and grant what their handler calls."""

    #: ``runtime/handlers/<handler_name>.py``; also the role and log group suffix.
    handler_name: ClassVar[str]
    #: What the function does (role and function description).
    purpose: ClassVar[str]

    def __init__(self, scope: Construct, id: str, *, shared: FunctionShared, options: FunctionOptions,
                 environment: Mapping[str, str], layers: Sequence[lambda_.ILayerVersion] = ()) -> None:
        name = self.handler_name
        role = iam.Role(
            scope, f"{id}Role",
            role_name=(f"{shared.role_name_prefix}-{name}" if shared.role_name_prefix
                       else PhysicalName.GENERATE_IF_NEEDED),
            description=f"Agent Memory Mesh {name}: {self.purpose}",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"))
        log_group = logs.LogGroup(scope, f"{id}Logs", log_group_name=f"{shared.log_group_prefix}/{name}",
                                  retention=shared.log_retention, encryption_key=shared.encryption_key,
                                  removal_policy=RemovalPolicy.RETAIN)
        super().__init__(
            scope, id,
            description=f"Agent Memory Mesh {name}: {self.purpose}",
            code=shared.bundle.code,
            handler=f"runtime.handlers.{name}.handler",
            runtime=shared.bundle.runtime,
            architecture=shared.bundle.architecture,
            layers=[*shared.bundle.layers, *layers],
            role=role,
            memory_size=options.memory_size,
            timeout=options.timeout,
            reserved_concurrent_executions=options.reserved_concurrency,
            snap_start=lambda_.SnapStartConf.ON_PUBLISHED_VERSIONS if options.snap_start else None,
            tracing=lambda_.Tracing.ACTIVE,
            environment={
                **shared.memory_environment, **environment,
                ENV.LOG_LEVEL: shared.log_level,
                ENV.POWERTOOLS_SERVICE_NAME: name,
                ENV.POWERTOOLS_METRICS_NAMESPACE: METRICS_NAMESPACE,
                # Never log incoming events: they carry message text and raw claims.
                ENV.POWERTOOLS_LOGGER_LOG_EVENT: "false",
            },
            environment_encryption=shared.encryption_key,
            log_group=log_group,
            logging_format=lambda_.LoggingFormat.JSON,
            application_log_level_v2=getattr(lambda_.ApplicationLogLevel, _LAMBDA_LOG_LEVELS.get(shared.log_level,
                                                                                                  shared.log_level)),
            system_log_level_v2=lambda_.SystemLogLevel.WARN,
            dead_letter_queue=shared.dead_letter_queue,
        )
        self.function_role = role
        self.function_log_group = log_group
        self.options = options
        # Lambda writes to the function's own log group only (no AWSLambdaBasicExecutionRole).
        role.add_to_principal_policy(iam.PolicyStatement(
            sid="WriteOwnLogs", actions=list(perms.LOGS_WRITE), resources=[log_group.log_group_arn]))
        # The asynchronous dead-letter queue is KMS-encrypted (Lambda adds sqs:SendMessage itself).
        grant_key_via_service(shared.encryption_key, role, ["sqs"], region=Stack.of(self).region)
        #: What callers, the API and event sources invoke: the ``live`` alias when versions are published.
        self.invoke_target: lambda_.IFunction = self
        if options.publishes_versions:
            self.invoke_target = lambda_.Alias(
                self, "Live", alias_name=LIVE_ALIAS, version=self.current_version,
                provisioned_concurrent_executions=options.provisioned_concurrency)
        _depend_on_role_policy_only(self, role)
        self._acknowledge(role, shared)

    def _acknowledge(self, role: iam.Role, shared: FunctionShared) -> None:
        acknowledge_inline_policy(role)
        acknowledge(role, "AwsSolutions::AwsSolutions-IAM5[Resource::*]",
                    "X-Ray PutTraceSegments/PutTelemetryRecords support no resource-level permissions; '*' is the "
                    "only resource IAM accepts for active tracing.")
        for pack in ("HIPAA.Security", "NIST.800.53.R5"):
            acknowledge(self, f"{pack}::{pack}-LambdaInsideVPC",
                        f"The {self.handler_name} function calls only AWS APIs over TLS with SigV4; it reaches no "
                        "private network resource, so a VPC would add NAT or endpoints without isolating anything.")
        if shared.bundle.runtime.name != _latest_python_runtime():
            for finding in ("AwsSolutions::AwsSolutions-L1", "Serverless::Serverless-LambdaLatestVersion"):
                acknowledge(self, finding,
                            f"{shared.bundle.runtime.name} is a supported Lambda runtime that the bundled wheels "
                            "and the runtime package are tested on; RuntimeBundle(runtime=...) moves every "
                            "function to a newer Python together.")

    def grant_invoke_target(self, grantee: iam.IGrantable) -> iam.Grant:
        """``lambda:InvokeFunction`` on exactly what callers invoke (the function, or its ``live`` alias)."""
        return iam.Grant.add_to_principal(grantee=grantee, actions=list(perms.FUNCTION_INVOKE),
                                          resource_arns=[self.invoke_target.function_arn])


def check_environment(construct: str, problems: Problems) -> None:
    """Raise the `PropsError` of a function's environment (values from the contract's rules)."""
    raise_if_any(construct, problems)


def _latest_python_runtime() -> str:
    versions = [r.name for r in lambda_.Runtime.ALL if r.name.startswith("python3.")]
    return max(versions, key=lambda n: int(n.split(".")[1]))


def _depend_on_role_policy_only(function: lambda_.Function, role: iam.Role) -> None:
    """Drop the function's explicit DependsOn on its role, keeping the others (e.g. the role's policy).

    The ``Role`` property already references the role, so the DependsOn aws-cdk-lib adds for it is redundant
    (cfn-lint W3005). The policy dependency matters: the function must not run before it may log.
    """
    cfn_function = function.node.default_child
    cfn_role = role.node.default_child
    if isinstance(cfn_function, lambda_.CfnFunction) and isinstance(cfn_role, iam.CfnRole):
        cfn_function.add_override("DependsOn", Lazy.list(_DependenciesExcept(cfn_function, cfn_role)))


@jsii.implements(IStableListProducer)
class _DependenciesExcept:
    """Produces, at synth (after construct dependencies became DependsOn), a resource's DependsOn minus one."""

    def __init__(self, resource: CfnResource, excluded: CfnResource) -> None:
        self._resource = resource
        self._excluded = excluded.node.path

    def produce(self, *_: object) -> list[str]:
        stack = Stack.of(self._resource)
        return sorted(stack.resolve(d.logical_id) for d in self._resource.obtain_dependencies()
                      if isinstance(d, CfnResource) and d.node.path != self._excluded)
