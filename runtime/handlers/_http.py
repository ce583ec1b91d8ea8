"""Events in, responses out: API Gateway HTTP API (payload format 2.0) and direct Lambda invoke, for every handler.

- :func:`parse_request` turns any event into a :class:`Request` or raises ``InvalidInputError``;
- :func:`request_identity` reads who the caller is: verified JWT claims on the API, the payload's
  ``tenant_id`` / ``actor_id`` on a direct (IAM-authorized, service-to-service) invoke;
- :func:`respond` / :func:`error_response` build the answer in the event's style; every error body is
  ``{"error": {"code", "message"}}`` and 5xx messages are generic unless marked public;
- :func:`handle_errors` wraps a handler so that no input makes it raise.
"""

from __future__ import annotations

import base64
import binascii
import functools
import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from runtime.errors import (
    AccessDeniedError,
    InvalidInputError,
    MemoryMeshError,
    ServiceUnavailableError,
    UpstreamError,
    UpstreamTimeoutError,
)
from runtime.identity import Identity, identity_from_claims, trusted_identity

__all__ = [
    "MAX_BODY_BYTES",
    "check_query",
    "Request",
    "as_upstream",
    "check_fields",
    "error_body",
    "error_response",
    "handle_errors",
    "is_api_event",
    "match_route",
    "public",
    "parse_request",
    "request_identity",
    "respond",
]

#: Largest request body accepted (the message itself is capped lower by each handler).
MAX_BODY_BYTES = 256 * 1024
_JSON_HEADERS = {"content-type": "application/json", "cache-control": "no-store"}
_EMPTY: Mapping[str, Any] = MappingProxyType({})
_PUBLIC_5XX = {
    500: ("InternalError", "the request failed because of an internal error"),
    502: ("UpstreamError", "an upstream service failed; the request can be retried"),
    503: ("ServiceUnavailable", "an upstream service is throttling; retry after the time Retry-After gives"),
    504: ("UpstreamTimeout", "an upstream service did not answer within the request's time budget"),
}
_PUBLIC_FLAG = "public"


@dataclass(frozen=True)
class Request:
    """One parsed invocation. ``body`` is the JSON object sent: the API body or the whole direct payload."""

    api: bool
    body: Mapping[str, Any] = field(default_factory=dict)
    method: str | None = None
    path: str | None = None
    route_key: str | None = None
    path_parameters: Mapping[str, str] = field(default_factory=dict)
    claims: Mapping[str, Any] | None = None
    request_id: str | None = None
    query: Mapping[str, str] = field(default_factory=dict)


def is_api_event(event: Any) -> bool:
    """True for an API Gateway HTTP API event (it has a ``requestContext``, ``routeKey`` or ``rawPath``)."""
    return isinstance(event, Mapping) and any(key in event for key in ("requestContext", "routeKey", "rawPath"))


def parse_request(event: Any) -> Request:
    """Parse an HTTP API v2 event or a direct-invoke payload; InvalidInputError names what is wrong."""
    if not isinstance(event, Mapping):
        raise InvalidInputError(
            "event", f"<{type(event).__name__}>", "must be a JSON object (an HTTP API event or a direct-invoke payload)"
        )
    if not is_api_event(event):
        _check_keys(event, "payload")
        return Request(api=False, body=MappingProxyType(dict(event)))
    from aws_lambda_powertools.utilities.data_classes.api_gateway_proxy_event import APIGatewayProxyEventV2

    api = APIGatewayProxyEventV2(dict(event))  # typed access; every value is still checked below
    context = _mapping(api.get("requestContext"), "requestContext")
    http = _mapping(context.get("http"), "requestContext.http")
    method = _optional_str(http.get("method"), "requestContext.http.method")
    path = _optional_str(api.get("rawPath"), "rawPath") or _optional_str(http.get("path"), "requestContext.http.path")
    route_key = _optional_str(api.get("routeKey"), "routeKey")
    params = _string_map(api.get("pathParameters"), "pathParameters")
    query = _string_map(api.get("queryStringParameters"), "queryStringParameters")
    authorizer = _mapping(context.get("authorizer"), "requestContext.authorizer")
    jwt = _mapping(authorizer.get("jwt"), "requestContext.authorizer.jwt")
    claims = jwt.get("claims")
    if claims is not None and not isinstance(claims, Mapping):
        raise InvalidInputError(
            "requestContext.authorizer.jwt.claims", f"<{type(claims).__name__}>", "must be an object"
        )
    request_id = context.get("requestId")
    return Request(
        api=True,
        body=MappingProxyType(_api_body(event)),
        method=method.upper() if method else None,
        path=path,
        route_key=route_key,
        path_parameters=MappingProxyType(dict(params)),
        claims=MappingProxyType(dict(claims)) if claims is not None else None,
        request_id=request_id if isinstance(request_id, str) else None,
        query=MappingProxyType(dict(query)),
    )


def match_route(request: Request, routes: Iterable[str]) -> tuple[str, Mapping[str, str]] | None:
    """The route template (``"POST /sessions/{session_id}/end"``) the request matches, with its path parameters.

    The HTTP API's ``routeKey`` decides; a ``$default`` route falls back to matching method and path.
    """
    routes = tuple(routes)
    if request.route_key in routes:
        return str(request.route_key), request.path_parameters
    if request.method is None or request.path is None:
        return None
    for route in routes:
        method, _, template = route.partition(" ")
        if method != request.method:
            continue
        found = _template_regex(template).fullmatch(request.path)
        if found:
            return route, MappingProxyType(found.groupdict())
    return None


def check_fields(body: Mapping[str, Any], allowed: Iterable[str], *, where: str = "body") -> None:
    """Reject a field that is not in ``allowed``, naming it."""
    allowed = tuple(allowed)
    for name in body:
        if name not in allowed:
            raise InvalidInputError(
                f"{where}.{name}", f"<{type(body[name]).__name__}>",
                f"is not a known field; allowed fields are {', '.join(allowed)}",
            )


def check_query(query: Mapping[str, str], allowed: Iterable[str]) -> None:
    """Reject a query parameter that is not in ``allowed``, naming it."""
    allowed = tuple(allowed)
    for name in query:
        if name not in allowed:
            rule = f"is not a known query parameter; allowed are {', '.join(allowed)}" if allowed else \
                "is not a known query parameter; this route takes none"
            raise InvalidInputError(f"query.{name[:40]}", "<string>", rule)


def request_identity(request: Request, *, tenant_claim: str, index_prefix: str = "") -> Identity:
    """Who the request acts for.

    On the API: tenant from the verified ``tenant_claim``, actor = SHA-256 of ``iss`` + NUL + ``sub``; a
    ``tenant_id`` or ``actor_id`` in the body must equal them (else AccessDeniedError). On a direct invoke:
    the payload's ``tenant_id`` and ``actor_id``, validated.
    """
    body = request.body
    if not request.api:
        for name in ("tenant_id", "actor_id"):
            if body.get(name) is None:
                raise InvalidInputError(name, None, "is required when the function is invoked directly")
        return trusted_identity(body["tenant_id"], body["actor_id"], index_prefix=index_prefix)
    if request.claims is None:
        raise AccessDeniedError(
            "the request carries no verified JWT claims; call the API with a token its JWT authorizer accepts"
        )
    try:
        identity = identity_from_claims(request.claims, tenant_claim=tenant_claim, index_prefix=index_prefix)
    except InvalidInputError as error:
        raise AccessDeniedError(f"the verified token does not identify a tenant and user: {error.message}") from None
    for name, expected in (("tenant_id", identity.tenant_id), ("actor_id", identity.actor_id)):
        if name in body and body[name] != expected:
            value = body[name]
            shown = value if isinstance(value, str) and len(value) <= 80 else f"<{type(value).__name__}>"
            raise AccessDeniedError(f"{name}={shown!r} in the body does not match the verified token's {name}")
    return identity


# -- responses ----------------------------------------------------------------------------------------------


def respond(status: int, body: Mapping[str, Any], *, api: bool) -> dict[str, Any]:
    """The handler's answer: an HTTP API response, or for a direct invoke the body plus ``statusCode``."""
    if api:
        return {
            "statusCode": status,
            "headers": dict(_JSON_HEADERS),
            "body": json.dumps(body, separators=(",", ":"), default=str),
            "isBase64Encoded": False,
        }
    return {"statusCode": status, **body}


def public(error: MemoryMeshError) -> MemoryMeshError:
    """Mark an error's message as safe to show callers even when its status is 5xx."""
    setattr(error, _PUBLIC_FLAG, True)
    return error


def as_upstream(error: MemoryMeshError, what: str) -> MemoryMeshError:
    """Turn an error raised by an upstream step into a public 502 / 504 that names only ``what`` failed."""
    if isinstance(error, UpstreamTimeoutError):
        return public(UpstreamTimeoutError(f"{what} did not answer in time"))
    if isinstance(error, ServiceUnavailableError):
        return error
    return public(UpstreamError(f"{what} failed; the request can be retried"))


def error_body(error: BaseException) -> dict[str, str]:
    """``{"code", "message"}`` for a caller: 4xx messages as raised, 5xx generic unless marked public."""
    if isinstance(error, MemoryMeshError):
        if 400 <= error.status < 500 or (getattr(error, _PUBLIC_FLAG, False) and error.status in _PUBLIC_5XX):
            return {"code": error.code, "message": error.message}
        status = error.status if error.status in _PUBLIC_5XX else 500
    else:
        status = 500
    code, message = _PUBLIC_5XX[status]
    return {"code": code, "message": message}


def error_status(error: BaseException) -> int:
    """The HTTP status answered for ``error`` (anything unexpected is 500)."""
    if isinstance(error, MemoryMeshError) and (400 <= error.status < 500 or error.status in _PUBLIC_5XX):
        return error.status
    return 500


def error_response(error: BaseException, *, api: bool) -> dict[str, Any]:
    """The response for ``error``: its status and ``{"error": {"code", "message"}}`` (and Retry-After for 503)."""
    response = respond(error_status(error), {"error": error_body(error)}, api=api)
    if isinstance(error, ServiceUnavailableError):
        seconds = str(max(1, int(error.retry_after_s + 0.999)))
        if api:
            response["headers"]["retry-after"] = seconds
        else:
            response["retryAfterSeconds"] = int(seconds)
    return response


def handle_errors(handler: Callable[[Any, Any], dict[str, Any]]) -> Callable[[Any, Any], dict[str, Any]]:
    """Wrap a Lambda handler: Powertools' lifecycle (log keys, metrics flushed per invocation), and no exception
    escapes.

    Typed errors become their status; anything else is logged by type and place (never its message, which
    may hold request data) and answered 500 InternalError.
    """
    from runtime.handlers import _observability

    @functools.wraps(handler)
    def guarded(event: Any, context: Any = None) -> dict[str, Any]:
        api = is_api_event(event)
        try:
            return handler(event, context)
        except MemoryMeshError as error:
            _observability.failed(error, status=error_status(error))
            return error_response(error, api=api)
        except Exception as error:  # the contract: no input makes a handler raise
            _observability.failed(error, status=500)
            return error_response(error, api=api)

    wrapper: Callable[[Any, Any], dict[str, Any]] = _observability.lambda_lifecycle(
        guarded, name=handler.__module__.rsplit(".", 1)[-1]
    )
    return wrapper


# -- parsing helpers ----------------------------------------------------------------------------------------


def _mapping(value: Any, field: str) -> Mapping[str, Any]:
    if value is None:
        return _EMPTY
    if not isinstance(value, Mapping):
        raise InvalidInputError(field, f"<{type(value).__name__}>", "must be an object")
    _check_keys(value, field)
    return value


def _check_keys(value: Mapping[Any, Any], field: str) -> None:
    for key in value:
        if not isinstance(key, str):
            raise InvalidInputError(field, f"<{type(key).__name__} key>", "must have string keys")


def _string_map(value: Any, field: str) -> Mapping[str, str]:
    found = _mapping(value, field)
    for name, item in found.items():
        if not isinstance(item, str):
            raise InvalidInputError(f"{field}.{name}", f"<{type(item).__name__}>", "must be a string")
    return found


def _optional_str(value: Any, field: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidInputError(field, f"<{type(value).__name__}>", "must be a string")
    return value


def _api_body(event: Mapping[str, Any]) -> dict[str, Any]:
    raw = event.get("body")
    if raw is None or raw == "":
        return {}
    if not isinstance(raw, str):
        raise InvalidInputError("body", f"<{type(raw).__name__}>", "must be a string holding a JSON object")
    encoded = event.get("isBase64Encoded", False)
    if not isinstance(encoded, bool):
        raise InvalidInputError("isBase64Encoded", f"<{type(encoded).__name__}>", "must be a boolean")
    if len(raw) > MAX_BODY_BYTES * 2:
        raise InvalidInputError("body", f"<{len(raw)} characters>", f"must be at most {MAX_BODY_BYTES} bytes")
    if encoded:
        try:
            data = base64.b64decode(raw, validate=True)
        except (binascii.Error, ValueError):
            rule = "must be valid base64 (isBase64Encoded)"
            raise InvalidInputError("body", f"<{len(raw)} characters>", rule) from None
    else:
        data = raw.encode("utf-8", errors="surrogatepass")
    if len(data) > MAX_BODY_BYTES:
        raise InvalidInputError("body", f"<{len(data)} bytes>", f"must be at most {MAX_BODY_BYTES} bytes")
    try:
        parsed = json.loads(data.decode("utf-8"), parse_constant=_reject_constant)
    except (ValueError, RecursionError):
        raise InvalidInputError("body", f"<{len(data)} bytes>", "must be a UTF-8 JSON object") from None
    if not isinstance(parsed, dict):
        raise InvalidInputError("body", f"<JSON {type(parsed).__name__}>", "must be a JSON object")
    return parsed


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


@functools.lru_cache(maxsize=64)
def _template_regex(template: str) -> re.Pattern[str]:
    parts = re.split(r"\{(\w+)\}", template)
    pattern = "".join(re.escape(part) if i % 2 == 0 else f"(?P<{part}>[^/]+)" for i, part in enumerate(parts))
    return re.compile(pattern)
