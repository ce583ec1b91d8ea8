"""`MemoryApi`: the JWT-authorized HTTP API in front of the orchestrator and forget functions."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Sequence

import jsii
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_apigatewayv2 as apigwv2
from aws_cdk import aws_apigatewayv2_authorizers as authorizers
from aws_cdk import aws_apigatewayv2_integrations as integrations
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from .validation import Problems

HTTPS_URL_PATTERN = re.compile(r"^https://[^\s/$.?#][^\s]*$")
CLAIM_NAME_PATTERN = re.compile(r"^[A-Za-z0-9_:.\-]{1,128}$")
#: (method, path, function) of every route; paths and bodies are the handler contract (runtime/handlers).
ROUTES = (
    (apigwv2.HttpMethod.POST, "/sessions/{session_id}/messages", "orchestrator"),
    (apigwv2.HttpMethod.POST, "/sessions/{session_id}/end", "orchestrator"),
    (apigwv2.HttpMethod.GET, "/memories", "orchestrator"),
    (apigwv2.HttpMethod.DELETE, "/memories", "forget"),
)
#: One JSON object per request. No claims, no source IP and no bodies: the log holds no personal data.
ACCESS_LOG_FIELDS = {
    "requestId": "$context.requestId",
    "requestTime": "$context.requestTime",
    "routeKey": "$context.routeKey",
    "status": "$context.status",
    "protocol": "$context.protocol",
    "responseLength": "$context.responseLength",
    "responseLatency": "$context.responseLatency",
    "integrationLatency": "$context.integrationLatency",
    "integrationError": "$context.integrationErrorMessage",
    "authorizerError": "$context.authorizer.error",
}
# API Gateway: stage throttling is per account and Region up to 10,000 requests/s by default.
MAX_RATE_LIMIT = 10000
# HTTP APIs end an integration after at most 30 seconds.
MAX_INTEGRATION_TIMEOUT_S = 30


@dataclass(frozen=True)
class JwtApiOptions:
    """What the HTTP API accepts: tokens of one OIDC issuer (e.g. a Cognito user pool) for listed audiences.

    :param jwt_issuer: the https issuer URL (the `iss` claim).
    :param jwt_audience: accepted `aud` (or Cognito `client_id`) values.
    :param tenant_claim: the claim holding the tenant id (default `custom:tenant_id`).
    :param throttling_rate_limit: steady requests per second for the whole stage (default 10).
    :param throttling_burst_limit: burst for the whole stage (default 20).
    """

    jwt_issuer: str
    jwt_audience: Sequence[str]
    tenant_claim: str = "custom:tenant_id"
    throttling_rate_limit: int = 10
    throttling_burst_limit: int = 20

    def problems(self, problems: Problems, prop: str) -> None:
        problems.check_pattern(f"{prop}.jwt_issuer", self.jwt_issuer, HTTPS_URL_PATTERN,
                               "must be the https:// issuer URL")
        audience = list(self.jwt_audience) if not isinstance(self.jwt_audience, str) else []
        if not audience or not all(isinstance(a, str) and a for a in audience):
            problems.add(f"{prop}.jwt_audience", self.jwt_audience,
                         "must be a non-empty list of client ids / audiences")
        problems.check_pattern(f"{prop}.tenant_claim", self.tenant_claim, CLAIM_NAME_PATTERN, "a JWT claim name")
        problems.check_range(f"{prop}.throttling_rate_limit", self.throttling_rate_limit, 1, MAX_RATE_LIMIT)
        problems.check_range(f"{prop}.throttling_burst_limit", self.throttling_burst_limit, 1, 5000)


@jsii.implements(apigwv2.IAccessLogSettings)
class _AccessLogSettings:
    def __init__(self, log_group: logs.ILogGroup) -> None:
        self._log_group = log_group

    @property
    def destination(self) -> apigwv2.IAccessLogDestination:
        return apigwv2.LogGroupLogDestination(self._log_group)

    @property
    def format(self) -> apigw.AccessLogFormat:
        return apigw.AccessLogFormat.custom(json.dumps(ACCESS_LOG_FIELDS, separators=(",", ":")))


class MemoryApi(Construct):
    """An HTTP API whose every route requires a valid JWT, with JSON access logs and stage throttling.

    Routes: `POST /sessions/{session_id}/messages` and `POST /sessions/{session_id}/end` and `GET /memories`
    go to the orchestrator, `DELETE /memories` to the forget function (payload format 2.0; the functions read
    identity from the verified claims only).
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        orchestrator: lambda_.IFunction,
        forget: lambda_.IFunction,
        options: JwtApiOptions,
        access_log_group: logs.ILogGroup,
    ) -> None:
        """
        :param orchestrator: handles the session and memory-listing routes.
        :param forget: handles `DELETE /memories`.
        :param options: JWT issuer/audience, tenant claim and throttling.
        :param access_log_group: where the JSON access log goes (encrypt it; it is given, not created, so its
            name and key policy stay with the owner of the key).
        """
        super().__init__(scope, id)
        problems = Problems()
        options.problems(problems, "options")
        problems.raise_if_any(type(self).__name__)

        self.authorizer = authorizers.HttpJwtAuthorizer(
            "Jwt", options.jwt_issuer, jwt_audience=list(options.jwt_audience),
            authorizer_name="jwt", identity_source=["$request.header.Authorization"])
        self.http_api = apigwv2.HttpApi(
            self, "HttpApi",
            description="Agent Memory Mesh: handoffs, session end, list and forget memories (JWT)",
            create_default_stage=False,
            default_authorizer=self.authorizer,
        )
        self.stage = apigwv2.HttpStage(
            self, "DefaultStage",
            http_api=self.http_api,
            auto_deploy=True,
            throttle=apigwv2.ThrottleSettings(rate_limit=options.throttling_rate_limit,
                                              burst_limit=options.throttling_burst_limit),
            access_log_settings=_AccessLogSettings(access_log_group),
        )
        targets = {
            "orchestrator": integrations.HttpLambdaIntegration("Orchestrator", orchestrator),
            "forget": integrations.HttpLambdaIntegration("Forget", forget),
        }
        for method, path, target in ROUTES:
            self.http_api.add_routes(path=path, methods=[method], integration=targets[target])

    @property
    def url(self) -> str:
        """The invoke URL of the default stage."""
        return self.stage.url
