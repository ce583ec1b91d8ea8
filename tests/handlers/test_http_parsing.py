"""Event parsing and responses: unit cases, then hypothesis fuzzing of parse_request and of the whole orchestrator.

Property: no event — JSON of any shape, bytes, text, None, API-like events with arbitrary headers, bodies and
claims — makes the handler raise or answer 500; every answer is well formed in the event's style, and every
error body is ``{"error": {"code", "message"}}``.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from runtime.errors import (
    AccessDeniedError,
    InvalidInputError,
    MemoryMeshError,
    NotFoundError,
    UpstreamError,
    UpstreamTimeoutError,
)
from runtime.handlers._http import (
    Request,
    as_upstream,
    error_body,
    error_response,
    handle_errors,
    is_api_event,
    match_route,
    parse_request,
    request_identity,
    respond,
)
from tests.handlers.lambda_events import ISSUER, FakeLambdaContext, actor_of, api_event, claims_for

ROUTES = ("POST /sessions/{session_id}/messages", "POST /sessions/{session_id}/end", "GET /memories")
STATUSES = {200, 202, 400, 403, 404, 502, 504}
HANDOFF_KEYS = {"session_id", "supervisor_response", "worker_response", "delegated", "worker", "memories_used"}


# -- unit cases ------------------------------------------------------------------------------------------------


def test_api_event_is_parsed_with_claims_route_and_body():
    event = api_event(ROUTES[0], claims=claims_for("acme", "alice"), body={"message": "hi"},
                      path_parameters={"session_id": "s1"})
    request = parse_request(event)
    assert request.api and request.method == "POST" and request.route_key == ROUTES[0]
    assert dict(request.body) == {"message": "hi"} and dict(request.path_parameters) == {"session_id": "s1"}
    assert request.claims is not None
    assert request.claims["sub"] == "alice" and request.request_id == event["requestContext"]["requestId"]
    assert match_route(request, ROUTES) == (ROUTES[0], {"session_id": "s1"})


def test_default_route_falls_back_to_method_and_path():
    event = api_event("GET /memories", claims=None)
    event["routeKey"] = "$default"
    event["rawPath"] = "/sessions/abc-1/end"
    event["requestContext"]["http"]["method"] = "POST"
    matched = match_route(parse_request(event), ROUTES)
    assert matched is not None
    route, params = matched
    assert route == ROUTES[1] and dict(params) == {"session_id": "abc-1"}
    event["rawPath"] = "/sessions/abc-1/end/extra"
    assert match_route(parse_request(event), ROUTES) is None


def test_direct_payload_is_the_body():
    request = parse_request({"message": "hi", "tenant_id": "acme", "actor_id": "a1"})
    assert not request.api and request.claims is None and request.body["message"] == "hi"


@pytest.mark.parametrize(
    ("event", "field"),
    [
        (None, "event"),
        ("text", "event"),
        (b"bytes", "event"),
        ([1, 2], "event"),
        ({1: "x"}, "payload"),
        ({"requestContext": "x"}, "requestContext"),
        ({"requestContext": {"http": {"method": 5}}}, "requestContext.http.method"),
        ({"routeKey": 5}, "routeKey"),
        ({"routeKey": "GET /memories", "pathParameters": {"session_id": 5}}, "pathParameters.session_id"),
        ({"routeKey": "GET /memories", "body": "e30", "isBase64Encoded": "yes"}, "isBase64Encoded"),
        ({"routeKey": "GET /memories", "body": "***", "isBase64Encoded": True}, "body"),
        ({"routeKey": "GET /memories", "body": "[" * 100_000}, "body"),
        ({"routeKey": "GET /memories", "body": "x" * 600_000}, "body"),
        ({"routeKey": "GET /memories", "body": 7}, "body"),
        ({"requestContext": {"authorizer": {"jwt": {"claims": "sub=x"}}}}, "claims"),
    ],
)
def test_malformed_events_are_invalid_input_naming_the_part(event, field):
    with pytest.raises(InvalidInputError) as info:
        parse_request(event)
    assert field in info.value.message


def test_base64_body_and_empty_body():
    body = base64.b64encode(json.dumps({"message": "hé"}).encode()).decode()
    request = parse_request({"routeKey": ROUTES[0], "body": body, "isBase64Encoded": True})
    assert request.body == {"message": "hé"}
    assert parse_request({"routeKey": ROUTES[2], "body": ""}).body == {}


def test_identity_from_claims_and_from_a_direct_payload():
    request = parse_request(api_event(ROUTES[2], claims=claims_for("acme", "alice")))
    identity = request_identity(request, tenant_claim="custom:tenant_id")
    assert (identity.tenant_id, identity.actor_id) == ("acme", actor_of("alice"))
    direct = parse_request({"tenant_id": "acme", "actor_id": "svc-1"})
    assert request_identity(direct, tenant_claim="custom:tenant_id").actor_id == "svc-1"
    with pytest.raises(AccessDeniedError, match="tenant_id='globex'"):
        request_identity(
            parse_request(api_event(ROUTES[2], claims=claims_for("acme", "a"), body={"tenant_id": "globex"})),
            tenant_claim="custom:tenant_id",
        )


def test_responses_in_both_styles():
    api = respond(200, {"a": 1}, api=True)
    assert api == {"statusCode": 200, "headers": {"content-type": "application/json", "cache-control": "no-store"},
                   "body": '{"a":1}', "isBase64Encoded": False}
    assert respond(202, {"a": 1}, api=False) == {"statusCode": 202, "a": 1}


@pytest.mark.parametrize(
    ("error", "status", "code", "message"),
    [
        (InvalidInputError("message", 5, "must be a string"), 400, "InvalidInput",
         "message=5 is invalid: must be a string"),
        (AccessDeniedError("no"), 403, "AccessDenied", "no"),
        (NotFoundError("gone"), 404, "NotFound", "gone"),
        (UpstreamError("S3 Vectors PutVectors failed for tenant 'acme' (x)"), 502, "UpstreamError",
         "an upstream service failed; the request can be retried"),
        (UpstreamTimeoutError("internal detail"), 504, "UpstreamTimeout",
         "an upstream service did not answer within the request's time budget"),
        (MemoryMeshError("internal"), 500, "InternalError", "the request failed because of an internal error"),
        (KeyError("secret user text"), 500, "InternalError", "the request failed because of an internal error"),
        (as_upstream(UpstreamError("x"), "the memory service"), 502, "UpstreamError",
         "the memory service failed; the request can be retried"),
        (as_upstream(UpstreamTimeoutError("x"), "worker 'billing'"), 504, "UpstreamTimeout",
         "worker 'billing' did not answer in time"),
    ],
)
def test_error_bodies_never_carry_internal_messages(error, status, code, message):
    response = error_response(error, api=False)
    assert response == {"statusCode": status, "error": {"code": code, "message": message}}
    assert error_body(error) == {"code": code, "message": message}


def test_handle_errors_answers_500_for_anything_unexpected():
    @handle_errors
    def broken(event: Any, context: Any) -> dict[str, Any]:
        raise RuntimeError("user said: my password is hunter2")

    response = broken(api_event(ROUTES[2], claims=None), None)
    assert response["statusCode"] == 500
    assert "hunter2" not in response["body"]
    assert json.loads(response["body"])["error"]["code"] == "InternalError"
    assert broken(None, None)["statusCode"] == 500


# -- fuzzing ---------------------------------------------------------------------------------------------------

json_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=20)
)
json_values = st.recursive(
    json_scalars,
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3),
    max_leaves=12,
)
tenants = st.one_of(st.sampled_from(["acme", "globex", "initech", "ACME", "a", "", "acme*", "-x-"]), json_values)
actors = st.one_of(st.sampled_from(["svc-user-1", actor_of("alice"), "A", "", "x" * 65]), json_values)
workers = st.one_of(st.sampled_from(["billing", "support", "legal", "Billing", ""]), json_values)
sessions = st.one_of(st.sampled_from(["s1", "s-2", "a", "bad id", "x" * 101]), st.text(max_size=12), json_values)
messages = st.one_of(st.text(max_size=60), st.sampled_from(["Tell me about my invoice", " ", ""]), json_values)
fields = {
    "message": messages,
    "worker": workers,
    "end_session": st.one_of(st.booleans(), json_values),
    "tenant_id": tenants,
    "actor_id": actors,
    "session_id": sessions,
}
bodies = st.fixed_dictionaries({}, optional=fields) | st.dictionaries(st.text(max_size=10), json_values, max_size=4)
claims = st.one_of(
    json_values,
    st.fixed_dictionaries(
        {},
        optional={
            "iss": st.one_of(st.just("https://issuer.example"), json_values),
            "sub": st.one_of(st.sampled_from(["alice", "bob"]), json_values),
            "custom:tenant_id": tenants,
            "email": st.text(max_size=20),
        },
    ),
)

# Mostly valid identities and bodies, so the fuzzing also reaches the handoff itself, not only validation.
valid_claims = st.fixed_dictionaries(
    {
        "iss": st.just(ISSUER),
        "sub": st.sampled_from(["alice", "bob", "carol"]),
        "custom:tenant_id": st.sampled_from(["acme", "globex", "initech"]),
    },
    optional={"email": st.text(max_size=20), "aud": json_values, "scope": st.text(max_size=10)},
)
optional_fields = {name: strategy for name, strategy in fields.items() if name != "message"}
valid_direct = st.fixed_dictionaries(
    {
        "message": st.text(min_size=1, max_size=60),
        "tenant_id": st.sampled_from(["acme", "globex", "initech"]),
        "actor_id": st.sampled_from(["svc-user-1", actor_of("alice")]),
    },
    optional={
        "worker": st.sampled_from(["billing", "support", "legal"]),
        "session_id": st.sampled_from(["s1", "svc-2"]),
        "end_session": st.booleans(),
    },
)


def _encoded(body: Any, as_base64: bool) -> Any:
    if isinstance(body, (dict, list)):
        text = json.dumps(body)
        return base64.b64encode(text.encode("utf-8", "surrogatepass")).decode() if as_base64 else text
    return body


@st.composite
def api_events(draw: Any) -> dict[str, Any]:
    route = draw(st.one_of(st.sampled_from([*ROUTES, "$default", "DELETE /memories"]), json_values))
    as_base64 = draw(st.booleans())
    body = draw(st.one_of(bodies, st.text(max_size=30), st.binary(max_size=30).map(lambda b: b.decode("latin-1")),
                          json_values))
    event: dict[str, Any] = {
        "version": draw(st.one_of(st.just("2.0"), json_values)),
        "routeKey": route,
        "rawPath": draw(st.one_of(st.sampled_from(["/memories", "/sessions/s1/messages", "/sessions/s1/end"]),
                                  json_values)),
        "headers": draw(st.dictionaries(st.text(max_size=10), st.text(max_size=10), max_size=3) | json_values),
        "isBase64Encoded": draw(st.one_of(st.just(as_base64), json_values)),
        "body": _encoded(body, as_base64),
        "pathParameters": draw(st.one_of(st.none(), st.fixed_dictionaries({"session_id": sessions}), json_values)),
        "requestContext": draw(
            st.one_of(
                json_values,
                st.fixed_dictionaries(
                    {
                        "http": st.one_of(
                            st.fixed_dictionaries({"method": st.sampled_from(["GET", "POST", "DELETE"]),
                                                   "path": st.text(max_size=20)}),
                            json_values,
                        ),
                        "authorizer": st.one_of(
                            st.none(),
                            json_values,
                            st.fixed_dictionaries({"jwt": st.fixed_dictionaries({"claims": valid_claims | claims})}),
                        ),
                        "requestId": st.one_of(st.text(max_size=10), json_values),
                    }
                ),
            )
        ),
    }
    drop = draw(st.sets(st.sampled_from(sorted(event)), max_size=3))
    return {key: value for key, value in event.items() if key not in drop}


any_event = st.one_of(
    json_values, st.binary(max_size=20), st.text(max_size=20), st.none(), bodies, valid_direct, api_events()
)


@settings(max_examples=300, deadline=None)
@given(event=any_event)
def test_parse_request_raises_only_invalid_input(event):
    try:
        request = parse_request(event)
    except InvalidInputError as error:
        assert error.status == 400 and error.message
        return
    assert isinstance(request, Request)
    assert request.api == is_api_event(event)
    assert all(isinstance(key, str) for key in request.body)


def _check_answer(event: Any, response: Any) -> None:
    assert isinstance(response, dict)
    status = response["statusCode"]
    assert status in STATUSES, response
    if is_api_event(event):
        assert set(response) == {"statusCode", "headers", "body", "isBase64Encoded"}
        assert response["headers"]["content-type"] == "application/json"
        body = json.loads(response["body"])
    else:
        body = {key: value for key, value in response.items() if key != "statusCode"}
    assert isinstance(body, dict)
    if status >= 400:
        assert set(body) == {"error"} and set(body["error"]) == {"code", "message"}
        assert all(isinstance(value, str) and value for value in body["error"].values())
    elif status == 200 and "memories" not in body:
        assert HANDOFF_KEYS <= set(body)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(event=any_event)
def test_orchestrator_never_raises_and_always_answers_well_formed(mesh, event):
    from runtime.handlers import orchestrator

    response = orchestrator.handler(event, FakeLambdaContext())
    _check_answer(event, response)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    body=st.fixed_dictionaries(
        {"message": messages}, optional={"worker": workers, "end_session": st.one_of(st.booleans(), json_values)}
    )
    | st.fixed_dictionaries({"message": messages}, optional=optional_fields),
    claims=st.one_of(valid_claims, claims),
)
def test_orchestrator_message_route_with_arbitrary_bodies_and_claims(mesh, body, claims):
    from runtime.handlers import orchestrator

    event = api_event(ROUTES[0], claims=claims if isinstance(claims, dict) else None, body=body,
                      path_parameters={"session_id": "s1"})
    response = orchestrator.handler(event, FakeLambdaContext())
    _check_answer(event, response)
