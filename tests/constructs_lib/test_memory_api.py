"""MemoryApi and OperatorApi: routes, authorizers, the Cognito tenant-claim check, grants and messages."""

from __future__ import annotations

import pytest
from aws_cdk import aws_cognito as cognito
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs

from constructs_lib import JwtApiOptions, MemoryApi, OperatorApi, PropsError
from tests.constructs_lib.helpers import new_stack, policy_statements, resources, synth, template_of

ISSUER = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_EXAMPLE01"


def _function(stack, id):
    return lambda_.Function(stack, id, runtime=lambda_.Runtime.PYTHON_3_12, handler="index.handler",
                            code=lambda_.Code.from_inline("def handler(e, c): return {}"))


def _api(stack, options):
    return MemoryApi(stack, "Api", orchestrator=_function(stack, "Orchestrator"), forget=_function(stack, "Forget"),
                     options=options, access_log_group=logs.LogGroup(stack, "Logs"))


def _pool(stack, *, mutable=False, attribute="tenant_id"):
    return cognito.UserPool(stack, "Pool", custom_attributes={attribute: cognito.StringAttribute(mutable=mutable)})


def _synth_errors(stack):
    with pytest.raises(Exception) as err:
        synth(stack)
    return str(err.value)


def test_a_user_pool_gives_the_issuer_and_the_audience():
    stack = new_stack()
    pool = _pool(stack)
    client = pool.add_client("App", write_attributes=cognito.ClientAttributes().with_standard_attributes(email=True))
    _api(stack, JwtApiOptions.from_user_pool(pool, [client]))
    (authorizer,) = resources(template_of(stack), "AWS::ApiGatewayV2::Authorizer").values()
    config = authorizer["Properties"]["JwtConfiguration"]
    assert config["Audience"] == [{"Ref": stack.resolve(client.node.default_child.logical_id)}]
    assert "cognito-idp.us-east-1.amazonaws.com/" in str(config["Issuer"])


def test_a_mutable_tenant_attribute_and_a_client_that_may_write_everything_fail_synth():
    stack = new_stack()
    pool = _pool(stack, mutable=True)
    _api(stack, JwtApiOptions.from_user_pool(pool, [pool.add_client("App")]))
    errors = _synth_errors(stack)
    assert ("MemoryApi: options.tenant_claim='custom:tenant_id': must be an immutable custom attribute "
            "(mutable=False): a mutable one lets users change their own tenant") in errors
    assert ("MemoryApi: options.user_pool_clients[0].write_attributes='<all attributes>': must be set and leave out "
            "'custom:tenant_id': a client without write_attributes may write every writable attribute") in errors


def test_a_client_that_may_write_the_tenant_attribute_fails_synth():
    stack = new_stack()
    pool = _pool(stack)
    client = pool.add_client("App", write_attributes=cognito.ClientAttributes().with_custom_attributes("tenant_id"))
    _api(stack, JwtApiOptions.from_user_pool(pool, [client]))
    assert ("MemoryApi: options.user_pool_clients[0].write_attributes=['custom:tenant_id']: must leave out "
            "'custom:tenant_id': users could set their own tenant") in _synth_errors(stack)


def test_a_claim_the_pool_does_not_declare_fails_synth():
    stack = new_stack()
    pool = _pool(stack, attribute="org")
    _api(stack, JwtApiOptions.from_user_pool(pool, [], jwt_audience=["app-client"]))
    assert ("MemoryApi: options.tenant_claim='custom:tenant_id': must be a custom attribute of the user pool; it "
            "declares none named 'tenant_id'") in _synth_errors(stack)


def test_a_non_custom_claim_needs_a_trigger():
    stack = new_stack()
    pool = _pool(stack)
    _api(stack, JwtApiOptions.from_user_pool(pool, [], tenant_claim="tenant", jwt_audience=["app-client"]))
    assert ("MemoryApi: options.tenant_claim='tenant': must be a custom attribute of the user pool ('custom:<name>'), "
            "or set tenant_claim_set_by_trigger when a pre-token-generation trigger sets it") in _synth_errors(stack)


def test_an_immutable_attribute_no_client_writes_passes_and_a_trigger_skips_the_check():
    stack = new_stack()
    pool = _pool(stack)
    client = pool.add_client("App", write_attributes=cognito.ClientAttributes().with_standard_attributes(email=True))
    _api(stack, JwtApiOptions.from_user_pool(pool, [client]))
    synth(stack)
    other = new_stack()
    pool = _pool(other, mutable=True)
    _api(other, JwtApiOptions.from_user_pool(pool, [pool.add_client("App")], tenant_claim_set_by_trigger=True))
    synth(other)


@pytest.mark.parametrize("options, message", [
    (JwtApiOptions(jwt_issuer="http://insecure", jwt_audience=["a"]),
     "options.jwt_issuer='http://insecure': must be an https:// URL with a host and no query or fragment, such as "
     "'https://cognito-idp.us-east-1.amazonaws.com/us-east-1_EXAMPLE01'"),
    (JwtApiOptions(jwt_issuer=ISSUER, jwt_audience=[]),
     "options.jwt_audience=[]: must be a non-empty list of client ids / audiences (or give user_pool_clients)"),
    (JwtApiOptions(jwt_issuer=ISSUER, jwt_audience=["a"], tenant_claim="tenant id"),
     "options.tenant_claim='tenant id': must be a JWT claim name of 1-128 letters, digits and _:.-"),
    (JwtApiOptions(jwt_issuer=ISSUER, jwt_audience=["a"], throttling_rate_limit=0),
     "options.throttling_rate_limit=0: must be a whole number from 1 to 10000"),
    (JwtApiOptions(jwt_issuer=ISSUER, jwt_audience=["a"], throttling_burst_limit=6000),
     "options.throttling_burst_limit=6000: must be a whole number from 1 to 5000"),
])
def test_each_bad_option_has_its_message(options, message):
    with pytest.raises(PropsError) as err:
        _api(new_stack(), options)
    assert err.value.problems == [message]


def test_the_operator_api_grants_execute_api_on_its_three_routes_only():
    stack = new_stack()
    api = OperatorApi(stack, "Operator", tenants=_function(stack, "Tenants"),
                      access_log_group=logs.LogGroup(stack, "L"))
    operator = iam.Role(stack, "Operator2", assumed_by=iam.AccountRootPrincipal())
    api.grant_invoke(operator)
    (stmt,) = policy_statements(template_of(stack), operator)
    assert stmt["Action"] == "execute-api:Invoke"
    paths = sorted(part["Fn::Join"][1][-1] if isinstance(part, dict) else part for part in stmt["Resource"])
    assert paths == ["/$default/DELETE/tenants/*", "/$default/GET/jobs/*", "/$default/PUT/tenants/*"]
