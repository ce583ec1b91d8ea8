"""`OperatorApi`: the IAM-authorized HTTP API of tenant onboarding, offboarding and job status."""

from __future__ import annotations

from aws_cdk import aws_apigatewayv2 as apigwv2
from aws_cdk import aws_apigatewayv2_authorizers as authorizers
from aws_cdk import aws_apigatewayv2_integrations as integrations
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from .. import perms
from ..errors import new_problems, raise_if_any
from .http_api import MAX_BURST_LIMIT, MAX_RATE_LIMIT, Route, add_routes, throttled_stage

__all__ = ["OPERATOR_API_ROUTES", "OperatorApi"]

#: Every route of the operator API; all go to the tenants function.
OPERATOR_API_ROUTES: tuple[Route, ...] = (
    (apigwv2.HttpMethod.PUT, "/tenants/{tenant_id}", "tenants"),
    (apigwv2.HttpMethod.DELETE, "/tenants/{tenant_id}", "tenants"),
    (apigwv2.HttpMethod.GET, "/jobs/{job_id}", "tenants"),
)


class OperatorApi(Construct):
    """Onboard (``PUT /tenants/{tenant_id}``), offboard (``DELETE``: 202 and a job id; declared tenants are
    refused) and read jobs (``GET /jobs/{job_id}``). Every route needs SigV4 with ``execute-api:Invoke`` on it:
    only principals given ``grant_invoke`` may call."""

    def __init__(self, scope: Construct, id: str, *, tenants: lambda_.IFunction, access_log_group: logs.ILogGroup,
                 throttling_rate_limit: int = 5, throttling_burst_limit: int = 10) -> None:
        """:param tenants: the tenants function (its ``live`` alias with SnapStart).
        :param access_log_group: where the JSON access log goes (encrypt it).
        :param throttling_rate_limit: steady requests per second (default 5).
        :param throttling_burst_limit: burst (default 10).
        """
        super().__init__(scope, id)
        problems = new_problems()
        problems.check_range("throttling_rate_limit", throttling_rate_limit, 1, MAX_RATE_LIMIT)
        problems.check_range("throttling_burst_limit", throttling_burst_limit, 1, MAX_BURST_LIMIT)
        raise_if_any(type(self).__name__, problems)
        self.http_api = apigwv2.HttpApi(
            self, "HttpApi", create_default_stage=False, default_authorizer=authorizers.HttpIamAuthorizer(),
            description="Agent Memory Mesh operator API: onboard and offboard tenants, read jobs (IAM)")
        self.stage = throttled_stage(self, self.http_api, rate_limit=throttling_rate_limit,
                                     burst_limit=throttling_burst_limit, access_log_group=access_log_group)
        add_routes(self.http_api, OPERATOR_API_ROUTES,
                   {"tenants": integrations.HttpLambdaIntegration("Tenants", tenants)})

    @property
    def url(self) -> str:
        """The invoke URL of the default stage."""
        return str(self.stage.url)

    def grant_invoke(self, grantee: iam.IGrantable) -> iam.Grant:
        """``execute-api:Invoke`` on exactly the operator routes (any tenant or job id in the path)."""
        arns = [self.http_api.arn_for_execute_api(str(method.value), _path_pattern(path), self.stage.stage_name)
                for method, path, _ in OPERATOR_API_ROUTES]
        return iam.Grant.add_to_principal(grantee=grantee, actions=list(perms.EXECUTE_API_INVOKE),
                                          resource_arns=arns)


def _path_pattern(path: str) -> str:
    """``/tenants/{tenant_id}`` -> ``/tenants/*``: execute-api ARNs carry the request path."""
    return "/".join("*" if part.startswith("{") else part for part in path.split("/"))
