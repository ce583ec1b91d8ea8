"""`MemoryApi`: the JWT-authorized HTTP API in front of the orchestrator and forget functions."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import jsii
from aws_cdk import Annotations
from aws_cdk import aws_apigatewayv2 as apigwv2
from aws_cdk import aws_apigatewayv2_authorizers as authorizers
from aws_cdk import aws_apigatewayv2_integrations as integrations
from aws_cdk import aws_cognito as cognito
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct, IValidation

from runtime.contract import rules
from runtime.contract.environment import DEFAULT_TENANT_CLAIM
from runtime.contract.problems import Problems

from ..errors import new_problems, raise_if_any
from .cognito_check import check_tenant_claim
from .http_api import MAX_BURST_LIMIT, MAX_RATE_LIMIT, Route, add_routes, throttled_stage

__all__ = ["JwtApiOptions", "MEMORY_API_ROUTES", "MemoryApi"]

_GET, _POST, _PATCH, _DELETE = (apigwv2.HttpMethod.GET, apigwv2.HttpMethod.POST, apigwv2.HttpMethod.PATCH,
                                apigwv2.HttpMethod.DELETE)
#: Every route and the function that answers it (the handlers' contract, runtime/handlers).
MEMORY_API_ROUTES: tuple[Route, ...] = (
    (_POST, "/sessions/{session_id}/messages", "orchestrator"),
    (_POST, "/sessions/{session_id}/end", "orchestrator"),
    (_GET, "/sessions", "orchestrator"),
    (_GET, "/sessions/{session_id}", "orchestrator"),
    (_DELETE, "/sessions/{session_id}", "orchestrator"),
    (_GET, "/memories", "orchestrator"),
    (_PATCH, "/memories/{key}", "orchestrator"),
    (_DELETE, "/memories/{key}", "orchestrator"),
    (_DELETE, "/memories", "forget"),
    (_GET, "/forget/{job_id}", "forget"),
)


@dataclass(frozen=True)
class JwtApiOptions:
    """Which tokens the API accepts (one OIDC issuer, listed audiences) and where the tenant id is.

    :param jwt_issuer: the https issuer URL (the ``iss`` claim); derived from ``user_pool`` when given.
    :param jwt_audience: accepted ``aud`` / Cognito ``client_id`` values; default the ``user_pool_clients``' ids.
    :param tenant_claim: the verified claim holding the tenant id (default ``custom:tenant_id``). Users must not be
        able to set it: an immutable custom attribute no client may write, or set by a pre-token-generation trigger.
    :param throttling_rate_limit: steady requests per second for the whole stage (default 10).
    :param throttling_burst_limit: burst for the whole stage (default 20).
    :param user_pool: a Cognito user pool; synth fails when its tenant attribute is mutable or client-writable.
    :param user_pool_clients: the app clients whose tokens are accepted (and checked).
    :param tenant_claim_set_by_trigger: the claim is set by a pre-token-generation trigger (skips the attribute
        check; the trigger must overwrite it for every token).
    """

    jwt_issuer: str | None = None
    jwt_audience: Sequence[str] = ()
    tenant_claim: str = DEFAULT_TENANT_CLAIM
    throttling_rate_limit: int = 10
    throttling_burst_limit: int = 20
    user_pool: cognito.IUserPool | None = None
    user_pool_clients: Sequence[cognito.IUserPoolClient] = ()
    tenant_claim_set_by_trigger: bool = False

    @classmethod
    def from_user_pool(cls, user_pool: cognito.IUserPool, clients: Sequence[cognito.IUserPoolClient], *,
                       tenant_claim: str = DEFAULT_TENANT_CLAIM, **kwargs: object) -> JwtApiOptions:
        """Tokens of ``user_pool`` issued to ``clients``; the tenant attribute is checked at synth."""
        return cls(user_pool=user_pool, user_pool_clients=tuple(clients), tenant_claim=tenant_claim,
                   **kwargs)  # type: ignore[arg-type]

    @property
    def issuer(self) -> str | None:
        """The ``iss`` tokens must carry: ``jwt_issuer``, else the Cognito issuer URL of ``user_pool``."""
        if self.jwt_issuer is not None or self.user_pool is None:
            return self.jwt_issuer
        return f"https://cognito-idp.{self.user_pool.env.region}.amazonaws.com/{self.user_pool.user_pool_id}"

    @property
    def audience(self) -> list[str]:
        """The accepted ``aud`` values: ``jwt_audience``, else the ids of ``user_pool_clients``."""
        return list(self.jwt_audience) or [c.user_pool_client_id for c in self.user_pool_clients]

    def check(self, problems: Problems, field: str) -> None:
        """Add what is wrong with these options to ``problems`` (the user-pool checks run at synth)."""
        problems.check(rules.HTTPS_URL, f"{field}.jwt_issuer", self.issuer, required=True)
        audience = self.audience if not isinstance(self.jwt_audience, str) else []
        if not audience or not all(isinstance(a, str) and a for a in audience):
            problems.add(f"{field}.jwt_audience", self.jwt_audience, "must be a non-empty list of client ids / "
                                                                     "audiences (or give user_pool_clients)")
        problems.check(rules.CLAIM_NAME, f"{field}.tenant_claim", self.tenant_claim, required=True, literal=True)
        problems.check_range(f"{field}.throttling_rate_limit", self.throttling_rate_limit, 1, MAX_RATE_LIMIT)
        problems.check_range(f"{field}.throttling_burst_limit", self.throttling_burst_limit, 1, MAX_BURST_LIMIT)
        if self.user_pool_clients and self.user_pool is None:
            problems.add(f"{field}.user_pool", None, "is required with user_pool_clients")


class MemoryApi(Construct):
    """An HTTP API whose every route requires a valid JWT, with JSON access logs and stage throttling.

    Session and memory routes go to the orchestrator; ``DELETE /memories`` (forget me: 202 and a job id) and
    ``GET /forget/{job_id}`` to the forget function. Payload format 2.0; the functions read identity from the
    verified claims only.
    """

    def __init__(self, scope: Construct, id: str, *, orchestrator: lambda_.IFunction, forget: lambda_.IFunction,
                 options: JwtApiOptions, access_log_group: logs.ILogGroup) -> None:
        """:param orchestrator: answers the session and memory routes (pass the ``live`` alias with SnapStart).
        :param forget: answers ``DELETE /memories`` and ``GET /forget/{job_id}``.
        :param options: issuer, audience, tenant claim, throttling and an optional Cognito user pool.
        :param access_log_group: where the JSON access log goes (encrypt it).
        """
        super().__init__(scope, id)
        problems = new_problems()
        options.check(problems, "options")
        raise_if_any(type(self).__name__, problems)
        self.options = options
        self.authorizer = authorizers.HttpJwtAuthorizer(
            "Jwt", str(options.issuer), jwt_audience=options.audience, authorizer_name="jwt",
            identity_source=["$request.header.Authorization"])
        self.http_api = apigwv2.HttpApi(
            self, "HttpApi", create_default_stage=False, default_authorizer=self.authorizer,
            description="Agent Memory Mesh: sessions, memories and forget-me (JWT)")
        self.stage = throttled_stage(self, self.http_api, rate_limit=options.throttling_rate_limit,
                                     burst_limit=options.throttling_burst_limit, access_log_group=access_log_group)
        add_routes(self.http_api, MEMORY_API_ROUTES, {
            "orchestrator": integrations.HttpLambdaIntegration("Orchestrator", orchestrator),
            "forget": integrations.HttpLambdaIntegration("Forget", forget),
        })
        if options.user_pool is not None and not options.tenant_claim_set_by_trigger:
            self.node.add_validation(_TenantClaimCheck(self))

    @property
    def url(self) -> str:
        """The invoke URL of the default stage."""
        return str(self.stage.url)


@jsii.implements(IValidation)
class _TenantClaimCheck:
    """At synth (after the user pool and its clients are complete): the tenant claim is out of users' reach."""

    def __init__(self, api: MemoryApi) -> None:
        self._api = api

    def validate(self) -> list[str]:
        options = self._api.options
        assert options.user_pool is not None
        problems = new_problems()
        warnings = check_tenant_claim(problems, "options", tenant_claim=options.tenant_claim,
                                      user_pool=options.user_pool, clients=options.user_pool_clients)
        for warning in warnings:
            Annotations.of(self._api).add_warning_v2("@agent-memory-mesh/tenant-claim-unchecked", warning)
        return [f"MemoryApi: {line}" for line in problems.lines]
