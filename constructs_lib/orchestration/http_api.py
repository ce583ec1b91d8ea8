"""What the memory home's HTTP APIs share: a JSON access log without personal data and a throttled stage."""

from __future__ import annotations

import json
from collections.abc import Sequence

import jsii
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_apigatewayv2 as apigwv2
from aws_cdk import aws_logs as logs
from constructs import Construct

__all__ = ["ACCESS_LOG_FIELDS", "MAX_BURST_LIMIT", "MAX_RATE_LIMIT", "Route", "throttled_stage"]

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
# API Gateway: stage throttling is bounded by the account's 10,000 requests/s (5,000 burst) per Region.
MAX_RATE_LIMIT = 10000
MAX_BURST_LIMIT = 5000

#: (method, path, target) of one route.
Route = tuple[apigwv2.HttpMethod, str, str]


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


def throttled_stage(scope: Construct, http_api: apigwv2.HttpApi, *, rate_limit: int, burst_limit: int,
                    access_log_group: logs.ILogGroup) -> apigwv2.HttpStage:
    """The ``$default`` stage, auto-deployed, throttled and access-logged."""
    return apigwv2.HttpStage(
        scope, "DefaultStage", http_api=http_api, auto_deploy=True,
        throttle=apigwv2.ThrottleSettings(rate_limit=rate_limit, burst_limit=burst_limit),
        access_log_settings=_AccessLogSettings(access_log_group))


def add_routes(http_api: apigwv2.HttpApi, routes: Sequence[Route],
               integrations: dict[str, apigwv2.HttpRouteIntegration]) -> None:
    """Add each route to its target's integration."""
    for method, path, target in routes:
        http_api.add_routes(path=path, methods=[method], integration=integrations[target])
