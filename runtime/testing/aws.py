"""``emulated_aws()``: moto plus the project's fakes, serving every boto3 client created inside the context.

The seam is botocore's own event system, the one moto uses: on import this module appends handlers to
``botocore.handlers.BUILTIN_HANDLERS``, so every botocore session created afterwards (including
``boto3.Session(aws_access_key_id=...)`` sessions the credential broker builds) carries them. A
``before-call.<service>`` handler fires after botocore has validated the parameters against the model and
before anything is signed or sent; returning ``(http_response, parsed)`` there answers the call. The handlers
do nothing unless an ``emulated_aws()`` context is active, so after the context exits clients are served by
neither the fakes nor moto.

Served here: S3 Vectors (all of it) and the AgentCore Memory data plane; STS, SQS, DynamoDB, KMS and the
AgentCore control plane (memories and strategies) stay with moto. For S3 Vectors, AgentCore and STS calls the
emulation also applies the service-side half of the model (maximum sizes, enums, patterns), which botocore
leaves to the service. Every S3 Vectors, AgentCore, STS, SQS, DynamoDB and KMS call is authorized first by
``runtime.testing.authorizer`` against the policies deployed from synthesized templates.
"""

from __future__ import annotations

import os
import threading
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import botocore
from botocore.exceptions import NoCredentialsError
from botocore.handlers import BUILTIN_HANDLERS
from moto import mock_aws

from runtime.contract.memory import user_index_name
from runtime.testing import faults as _faults
from runtime.testing._model import (
    ServiceError,
    build_response,
    to_wire,
    validate_output,
    validate_request,
    validation_message,
)
from runtime.testing.agentcore_fake import FakeAgentCoreMemory
from runtime.testing.authorizer import IamAuthorizer
from runtime.testing.deploy import Deployment, deploy
from runtime.testing.iam import MissingRequestData
from runtime.testing.mesh_stacks import HOME_STACK, TVM_ROLE_NAME, WorkerRole, memory_home_assembly
from runtime.testing.s3vectors_fake import FakeS3Vectors, partition_for

_PARAMS_KEY = "runtime.testing.api_params"
_CALLER_KEY = "runtime.testing.caller_key"
#: Services the project's fakes answer; moto answers the others after IAM allowed the call.
_FAKED = ("s3vectors", "bedrock-agentcore")
#: Services whose every call the emulation authorizes.
_AUTHORIZED = ("s3vectors", "bedrock-agentcore", "sts", "sqs", "dynamodb", "kms")
# Credentials the helpers use for setup calls; IAM does not check them.
SETUP_ACCESS_KEY = "AKIAEMULATEDSETUP000"
_SETUP_SECRET = "emulated-setup-secret"

#: Strategies of the memory ``create_memory`` makes by default: the namespaces of ``runtime.contract.memory``.
DEFAULT_MEMORY_STRATEGIES: tuple[dict[str, Any], ...] = (
    {
        "summaryMemoryStrategy": {
            "name": "SessionSummaries",
            "namespaceTemplates": ["/summaries/{actorId}/{sessionId}/"],
        }
    },
    {"semanticMemoryStrategy": {"name": "Facts", "namespaceTemplates": ["/facts/{actorId}/"]}},
    {"userPreferenceMemoryStrategy": {"name": "Preferences", "namespaceTemplates": ["/preferences/{actorId}/"]}},
)


@dataclass(frozen=True)
class MeshLayout:
    """The resources ``setup_mesh`` created: what the runtime's settings point at."""

    bucket_name: str
    index_prefix: str
    dimension: int
    distance_metric: str
    tvm_role_arn: str
    non_filterable_keys: tuple[str, ...]
    memory_id: str
    state_table: str
    isolation: str = "user"
    deployment: Deployment | None = field(default=None, repr=False)

    def index_name(self, tenant_id: str, actor_id: str) -> str:
        """The user's index (``runtime.contract.memory.user_index_name``)."""
        return user_index_name(self.index_prefix, tenant_id, actor_id)


class EmulatedAws:
    """Handle on an active emulation: the fakes' state, IAM (``iam``) and setup helpers."""

    def __init__(self, region: str, account_id: str, *, strict: bool = True) -> None:
        self.region = region
        self.account_id = account_id
        self.strict = strict
        self.s3vectors = FakeS3Vectors(account_id, region=region)
        self.agentcore = FakeAgentCoreMemory(account_id, region=region)
        self.iam = IamAuthorizer(account_id=account_id, region=region)
        self.iam.stored_facts = self._stored_facts
        self.mesh: MeshLayout | None = None
        #: A :class:`runtime.testing.faults.Faults`: answers this emulation's calls per HTTP attempt.
        self.faults: _faults.Faults | None = None
        self._counts: Counter[tuple[str, str]] = Counter()
        self._counts_lock = threading.Lock()

    # ------------------------------------------------------------------------------------------ helpers

    def client(self, service_name: str, *, region: str | None = None) -> Any:
        """A boto3 client with setup credentials IAM does not check; served only while an emulation is active."""
        return _setup_client(service_name, region or self.region)

    def create_vector_bucket(self, name: str) -> str:
        """Create a vector bucket through the API; returns its ARN."""
        return self.client("s3vectors").create_vector_bucket(vectorBucketName=name)["vectorBucketArn"]

    def create_index(
        self,
        bucket: str,
        name: str,
        *,
        dimension: int,
        distance_metric: str = "cosine",
        non_filterable_keys: Sequence[str] = (),
        tags: Mapping[str, str] | None = None,
        region: str | None = None,
    ) -> str:
        """Create a float32 vector index through the API; returns its ARN."""
        params: dict[str, Any] = {
            "vectorBucketName": bucket,
            "indexName": name,
            "dataType": "float32",
            "dimension": dimension,
            "distanceMetric": distance_metric,
        }
        if non_filterable_keys:
            params["metadataConfiguration"] = {"nonFilterableMetadataKeys": list(non_filterable_keys)}
        if tags:
            params["tags"] = dict(tags)
        return self.client("s3vectors", region=region).create_index(**params)["indexArn"]

    def create_memory(
        self,
        name: str = "mesh_memory",
        *,
        strategies: Sequence[Mapping[str, Any]] = DEFAULT_MEMORY_STRATEGIES,
        event_expiry_days: int = 30,
        region: str | None = None,
    ) -> str:
        """Create an AgentCore memory (moto's control plane) with summary/fact/preference strategies."""
        answer = self.client("bedrock-agentcore-control", region=region).create_memory(
            name=name, eventExpiryDuration=event_expiry_days, memoryStrategies=[dict(s) for s in strategies]
        )
        return answer["memory"]["id"]

    def deploy(self, assembly_directory: str | Path) -> Deployment:
        """Deploy a synthesized cloud assembly: its resources and every role and policy IAM evaluates."""
        return deploy(self, assembly_directory)

    def setup_mesh(
        self,
        *,
        bucket_name: str = "mesh-test-bucket",
        index_prefix: str = "tenant-",
        dimension: int = 256,
        distance_metric: str = "cosine",
        non_filterable_keys: Sequence[str] = ("content",),
        isolation: str = "user",
        trusted_role_arns: Sequence[str] | None = None,
        workers: Sequence[WorkerRole] = (),
        orchestrator_role_arn: str | None = None,
        omit_statements: Sequence[str] = (),
    ) -> MeshLayout:
        """Deploy a memory home synthesized from the constructs: vector bucket, AgentCore memory, state table and
        a token vending machine (``isolation``) trusting ``trusted_role_arns`` (default: the test's own
        credentials, role ``emulated-admin``), plus ``workers``' access roles trusting ``orchestrator_role_arn``."""
        trusted = tuple(trusted_role_arns) if trusted_role_arns is not None else (self.iam.admin_role_arn,)
        assembly = memory_home_assembly(
            account=self.account_id, region=self.region, isolation=isolation, bucket_name=bucket_name,
            index_prefix=index_prefix, dimension=dimension, distance_metric=distance_metric,
            memory_name="mesh_memory", trusted_role_arns=trusted, workers=tuple(workers),
            orchestrator_role_arn=orchestrator_role_arn, omit_statements=tuple(omit_statements))
        deployment = self.deploy(assembly)
        home = deployment.stack(HOME_STACK)
        [memory] = home.logical_ids("AWS::BedrockAgentCore::Memory")
        [table] = home.logical_ids("AWS::DynamoDB::Table")
        self.mesh = MeshLayout(
            bucket_name=bucket_name,
            index_prefix=index_prefix,
            dimension=dimension,
            distance_metric=distance_metric,
            tvm_role_arn=deployment.role_arn(TVM_ROLE_NAME),
            non_filterable_keys=tuple(non_filterable_keys),
            memory_id=home.attribute(memory, "MemoryId"),
            isolation=isolation,
            state_table=home.ref(table),
            deployment=deployment,
        )
        return self.mesh

    def vend(self, role_arn: str, *, service_principal: str = "lambda.amazonaws.com",
             session_name: str = "emulated") -> dict[str, str]:
        """Credentials of ``role_arn`` as the service that runs it gets them (its trust policy must allow that
        service): ``AccessKeyId``, ``SecretAccessKey``, ``SessionToken``."""
        self.iam.check_trust(role_arn, service_principal)
        params = {"RoleArn": role_arn, "RoleSessionName": session_name}
        answer = self.client("sts").assume_role(**params)
        self.iam.record_assume_role(params, answer)
        return {k: answer["Credentials"][k] for k in ("AccessKeyId", "SecretAccessKey", "SessionToken")}

    def run_as(self, role_arn: str, monkeypatch: Any, *, service_principal: str = "lambda.amazonaws.com") -> None:
        """Make ``role_arn``'s session the process's default credentials (as Lambda gives a function its role's)."""
        credentials = self.vend(role_arn, service_principal=service_principal)
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", credentials["AccessKeyId"])
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", credentials["SecretAccessKey"])
        monkeypatch.setenv("AWS_SESSION_TOKEN", credentials["SessionToken"])
        # A new container: the runtime's one botocore session resolves these credentials afresh.
        from runtime import aws_clients

        aws_clients.reset()

    def stored_vectors(self, tenant_id: str, actor_id: str | None = None) -> dict[str, Any]:
        """The vectors stored for one user (or every user of a tenant), by key, straight from the fake's state."""
        if self.mesh is None:
            raise RuntimeError("call setup_mesh() before stored_vectors()")
        indexes = self.s3vectors.bucket(self.mesh.bucket_name).indexes
        if actor_id is not None:
            index = indexes.get(self.mesh.index_name(tenant_id, actor_id))
            return dict(index.vectors) if index is not None else {}
        prefix = f"{self.mesh.index_prefix}{tenant_id}."
        return {key: vector for name, index in indexes.items() if name.startswith(prefix)
                for key, vector in index.vectors.items()}

    def call_count(self, service: str, operation: str | None = None) -> int:
        """How many calls to a service (or one operation) the emulation saw, including refused ones."""
        with self._counts_lock:
            if operation is not None:
                return self._counts[(service, operation)]
            return sum(n for (s, _), n in self._counts.items() if s == service)

    # ------------------------------------------------------------------------------------------ serving

    def _serve(self, model: Any, request: Mapping[str, Any], signer: Any, context: dict[str, Any]) -> Any:
        service = model.service_model.service_name
        operation = model.name
        params = context.get(_PARAMS_KEY) or {}
        access_key = _access_key(signer)
        context[_CALLER_KEY] = access_key
        with self._counts_lock:
            self._counts[(service, operation)] += 1
        try:
            if service in (*_FAKED, "sts"):
                problems = validate_request(model.input_shape, params,
                                            path_style="/" if service == "s3vectors" else ".")
                if problems:
                    raise _validation_error(service, problems)
            region = context.get("client_region") or self.region
            try:
                self.iam.authorize(service, operation, params, access_key, region)
            except MissingRequestData:
                # A request that names no resource (no index name, no ARN) is the service's to refuse; one it
                # would accept must be authorizable, so the gap in the table fails loudly.
                if service in _FAKED:
                    self._handle(service, operation, params, region)
                raise
            if service not in _FAKED:
                return None
            body = self._handle(service, operation, params, region)
            if body is None:
                return None
        except ServiceError as error:
            return build_response(model, error, url=request.get("url", ""))
        wire = to_wire(body)
        if self.strict:
            problems = validate_output(model.output_shape, wire)
            if problems:
                raise AssertionError(f"runtime.testing: {service} {operation} answer breaks the model: {problems}")
        return build_response(model, wire, url=request.get("url", ""))

    def _handle(self, service: str, operation: str, params: Mapping[str, Any], region: str) -> Any:
        if service == "s3vectors":
            return self.s3vectors.handle(operation, params, region)
        return self.agentcore.handle(operation, params, region)

    def _stored_facts(self, service: str, operation: str, params: Mapping[str, Any], region: str,
                      account: str) -> tuple[dict[str, str], dict[str, Any]]:
        """Facts of the stored resource IAM reads and the request does not carry (tags, a record's namespace)."""
        if service == "s3vectors":
            index = params.get("indexArn")
            bucket = params.get("vectorBucketArn") or (
                f"arn:{partition_for(region)}:s3vectors:{region}:{account}:bucket/{params['vectorBucketName']}"
                if params.get("vectorBucketName") else None)
            if index is None and bucket and params.get("indexName"):
                index = f"{bucket}/index/{params['indexName']}"
            if index and not bucket:
                bucket = index.split("/index/", 1)[0]
            target = index or bucket or params.get("resourceArn")
            tags = self.s3vectors.tags_of(target, region) if target else {}
            bucket_tags = self.s3vectors.tags_of(bucket, region) if bucket else {}
            return tags, {"vector_bucket_tags": bucket_tags} if bucket_tags else {}
        if service == "bedrock-agentcore" and params.get("memoryRecordId") and params.get("memoryId"):
            namespace = self.agentcore.record_namespace(params["memoryId"], params["memoryRecordId"], region)
            return {}, {"namespace": namespace} if namespace else {}
        if service == "dynamodb":
            names = [params.get("TableName"), *(params.get("RequestItems") or {}),
                     *(next(iter(item.values())).get("TableName") for item in params.get("TransactItems") or [])]
            for name in filter(None, names):
                arn = name if str(name).startswith("arn:") else \
                    f"arn:{partition_for(region)}:dynamodb:{region}:{account}:table/{name}"
                if arn in self.iam.partition_keys:
                    return {}, {"partition_key": self.iam.partition_keys[arn]}
            return {}, {"partition_key": _partition_key(self.client("dynamodb", region=region), names)}
        return {}, {}

    def _record_memory_templates(self, params: Mapping[str, Any], parsed: Mapping[str, Any]) -> None:
        requested = params.get("memoryStrategies") or []
        created = (parsed.get("memory") or {}).get("strategies") or []
        for spec, strategy in zip(requested, created, strict=False):
            body: Mapping[str, Any] = next(iter(spec.values()), {})
            templates = body.get("namespaceTemplates")
            if templates:
                self.agentcore.register_strategy_templates(strategy["strategyId"], templates)


_SETUP_LOCK = threading.Lock()
_SETUP_CLIENTS: dict[tuple[str, str], Any] = {}


def _setup_client(service_name: str, region: str) -> Any:
    # Creating sessions and clients costs tens of milliseconds (model loading); the handlers that serve them
    # are global and inert outside an emulation, so one client per service and region is reused across them.
    with _SETUP_LOCK:
        key = (service_name, region)
        if key not in _SETUP_CLIENTS:
            session = boto3.session.Session(
                aws_access_key_id=SETUP_ACCESS_KEY, aws_secret_access_key=_SETUP_SECRET, region_name=region
            )
            _SETUP_CLIENTS[key] = session.client(service_name, region_name=region)
        return _SETUP_CLIENTS[key]


def _partition_key(client: Any, names: Sequence[Any]) -> str | None:
    for name in filter(None, names):
        try:
            schema = client.describe_table(TableName=name)["Table"]["KeySchema"]
        except client.exceptions.ResourceNotFoundException:
            continue
        return next(k["AttributeName"] for k in schema if k["KeyType"] == "HASH")
    return None


def _access_key(signer: Any) -> str | None:
    credentials = getattr(signer, "_credentials", None)
    if credentials is None:
        if getattr(signer, "signature_version", None) == botocore.UNSIGNED:
            return None
        # What botocore raises when it signs a request without credentials.
        raise NoCredentialsError()
    return credentials.get_frozen_credentials().access_key


def _validation_error(service: str, problems: list[str]) -> ServiceError:
    if service == "sts":
        return ServiceError("ValidationError", validation_message(problems, separator=": "), status=400)
    if service == "bedrock-agentcore":
        return ServiceError(
            "ValidationException", validation_message(problems, separator=": "), reason="FieldValidationFailed"
        )
    return ServiceError("ValidationException", validation_message(problems))


class _Dispatcher:
    """The botocore handlers; inert unless an emulation is active."""

    def __init__(self) -> None:
        self.active: EmulatedAws | None = None

    def stash_params(self, params: Any, context: dict[str, Any], **_: Any) -> None:
        if self.active is not None:
            context[_PARAMS_KEY] = params

    def before_call(self, model: Any, params: Any, request_signer: Any, context: Any, **_: Any) -> Any:
        emulation = self.active
        if emulation is None:
            return None
        if _faults.defer(emulation, model, params, request_signer, context):
            return None  # answered per attempt at 'before-send', through botocore's retries
        return emulation._serve(model, params, request_signer, context)

    def after_assume_role(self, http_response: Any, parsed: Any, context: Any, **_: Any) -> None:
        if self.active is not None and http_response.status_code < 300:
            self.active.iam.record_assume_role(context.get(_PARAMS_KEY) or {}, parsed,
                                               context.get(_CALLER_KEY))

    def after_create_memory(self, http_response: Any, parsed: Any, context: Any, **_: Any) -> None:
        if self.active is not None and http_response.status_code < 300:
            self.active._record_memory_templates(context.get(_PARAMS_KEY) or {}, parsed)


_DISPATCHER = _Dispatcher()
_HANDLERS = [
    *((f"before-parameter-build.{s}", _DISPATCHER.stash_params) for s in (*_AUTHORIZED, "bedrock-agentcore-control")),
    *((f"before-call.{s}", _DISPATCHER.before_call) for s in _AUTHORIZED),
    ("after-call.sts.AssumeRole", _DISPATCHER.after_assume_role),
    ("after-call.bedrock-agentcore-control.CreateMemory", _DISPATCHER.after_create_memory),
]
for _event_name, _handler in _HANDLERS:
    if (_event_name, _handler) not in BUILTIN_HANDLERS:
        BUILTIN_HANDLERS.append((_event_name, _handler))


def attach_client(client: Any) -> Any:
    """Let the emulation serve a client created before this module was imported (later ones need nothing)."""
    registered = client.meta.events
    for event_name, handler in _HANDLERS:
        registered.register(event_name, handler, unique_id=f"runtime.testing:{event_name}")
    return client


@contextmanager
def emulated_aws(
    region: str = "us-east-1", account_id: str = "111111111111", *, strict: bool = True
) -> Iterator[EmulatedAws]:
    """Emulate AWS in-process: moto for what it does faithfully, the project's fakes for the rest.

    ``strict`` checks every answer the fakes produce against the botocore output model (a fake bug raises
    AssertionError); benchmarks may turn it off. Not re-entrant.
    """
    if _DISPATCHER.active is not None:
        raise RuntimeError("emulated_aws() is already active; nested emulations are not supported")
    previous_account = os.environ.get("MOTO_ACCOUNT_ID")
    # moto files every request under this account (its first rule), so ARNs agree with the fakes'.
    os.environ["MOTO_ACCOUNT_ID"] = account_id
    mock = mock_aws()
    mock.start()
    emulation = EmulatedAws(region, account_id, strict=strict)
    _DISPATCHER.active = emulation
    try:
        yield emulation
    finally:
        _DISPATCHER.active = None
        mock.stop()
        if previous_account is None:
            os.environ.pop("MOTO_ACCOUNT_ID", None)
        else:
            os.environ["MOTO_ACCOUNT_ID"] = previous_account
