"""Botocore-model helpers for the fakes: server-side request checks, wire responses, output-shape checks.

botocore validates required members, types and *minimum* sizes on the client; the service itself enforces
maximum sizes, enums and patterns. ``validate_request`` reproduces that server half from the same model, and
``build_response`` turns a fake's wire-form answer into exactly what botocore's own parser would return.
"""

from __future__ import annotations

import datetime as _dt
import io
import json
import math
import re
import uuid
from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import Any
from xml.sax.saxutils import escape as _xml_escape

from botocore.awsrequest import AWSResponse
from botocore.model import OperationModel, Shape
from botocore.parsers import create_parser


class ServiceError(Exception):
    """An error the emulated service answers with: code, message, HTTP status and extra modeled fields."""

    def __init__(self, code: str, message: str, *, status: int | None = None, **fields: Any) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.status = status
        self.fields = fields


# Smithy patterns use Java regex classes Python's `re` lacks; these approximations only widen \p{..}.
_JAVA_CLASSES = {r"\p{L}": r"\w", r"\p{N}": r"\w", r"\p{Z}": r"\s"}


@lru_cache(maxsize=512)
def _compiled(pattern: str) -> re.Pattern[str]:
    for java, python in _JAVA_CLASSES.items():
        pattern = pattern.replace(java, python)
    return re.compile(pattern)


def pattern_matches(pattern: str, value: str) -> bool:
    """Whether ``value`` satisfies a model pattern; services anchor them, so this is a full match."""
    return _compiled(pattern).fullmatch(value) is not None


def _is_document(shape: Shape) -> bool:
    return bool(shape.metadata.get("document"))


def validate_request(shape: Shape | None, params: Any, *, path_style: str = "/") -> list[str]:
    """Server-side constraint violations of ``params`` (max sizes, enums, patterns) as service messages."""
    problems: list[str] = []
    if shape is not None:
        _check_input(shape, params, [], problems, path_style)
    return problems


def _render_path(parts: list[str], style: str) -> str:
    return "/" + "/".join(parts) if style == "/" else ".".join(parts)


def _check_input(shape: Shape, value: Any, path: list[str], out: list[str], style: str) -> None:
    if value is None or _is_document(shape):
        return
    meta = shape.metadata
    where = _render_path(path, style)
    kind = shape.type_name
    if kind == "structure" and isinstance(value, Mapping):
        for name, member in shape.members.items():
            if name in value:
                _check_input(member, value[name], [*path, name], out, style)
    elif kind == "list" and isinstance(value, Sequence) and not isinstance(value, str):
        if "max" in meta and len(value) > meta["max"]:
            out.append(
                f"Value at '{where}' failed to satisfy constraint: "
                f"Member must have length less than or equal to {meta['max']}"
            )
        member = shape.member
        if member.type_name in ("float", "double") and "max" not in member.metadata:
            return
        for index, item in enumerate(value):
            _check_input(member, item, [*path, str(index)], out, style)
    elif kind == "map" and isinstance(value, Mapping):
        if "max" in meta and len(value) > meta["max"]:
            out.append(
                f"Value at '{where}' failed to satisfy constraint: "
                f"Member must have length less than or equal to {meta['max']}"
            )
        for key, item in value.items():
            _check_input(shape.key, key, [*path, str(key)], out, style)
            _check_input(shape.value, item, [*path, str(key)], out, style)
    elif kind == "string" and isinstance(value, str):
        if "max" in meta and len(value) > meta["max"]:
            out.append(
                f"Value at '{where}' failed to satisfy constraint: "
                f"Member must have length less than or equal to {meta['max']}"
            )
        if shape.enum and value not in shape.enum:
            out.append(
                f"Value '{value}' at '{where}' failed to satisfy constraint: "
                f"Member must satisfy enum value set: [{', '.join(shape.enum)}]"
            )
        if "pattern" in meta and not pattern_matches(meta["pattern"], value):
            out.append(
                f"Value at '{where}' failed to satisfy constraint: "
                f"Member must satisfy regular expression pattern: {meta['pattern']}"
            )
    elif kind in ("integer", "long", "float", "double") and isinstance(value, int | float):
        if "max" in meta and value > meta["max"]:
            out.append(
                f"Value '{value}' at '{where}' failed to satisfy constraint: "
                f"Member must have value less than or equal to {meta['max']}"
            )


def validation_message(problems: Sequence[str], *, separator: str = ". ") -> str:
    """One service-style message for a list of constraint violations."""
    count = len(problems)
    return f"{count} validation error{'s' if count != 1 else ''} detected{separator}" + "; ".join(problems)


# ---------------------------------------------------------------------------------------------------------
# Output shapes
# ---------------------------------------------------------------------------------------------------------


def validate_output(shape: Shape | None, value: Any, *, wire: bool = True) -> list[str]:
    """Ways ``value`` breaks the output ``shape``: missing required or unknown members, types, constraints.

    ``wire=True`` checks the JSON a service sends (timestamps as epoch numbers); ``wire=False`` checks what
    botocore hands the caller (timestamps as datetimes, ``ResponseMetadata`` ignored at the top level).
    """
    problems: list[str] = []
    if shape is None:
        if isinstance(value, Mapping) and set(value) - {"ResponseMetadata"}:
            problems.append("/: operation has no output but the response has members")
        return problems
    if not wire and isinstance(value, Mapping):
        value = {k: v for k, v in value.items() if k != "ResponseMetadata"}
    _check_output(shape, value, "", problems, wire)
    return problems


def _check_output(shape: Shape, value: Any, where: str, out: list[str], wire: bool) -> None:
    here = where or "/"
    if _is_document(shape):
        if not _is_json_value(value):
            out.append(f"{here}: document value is not JSON data")
        return
    kind = shape.type_name
    meta = shape.metadata
    if kind == "structure":
        if not isinstance(value, Mapping):
            out.append(f"{here}: expected structure {shape.name}, got {type(value).__name__}")
            return
        for name in value:
            if name not in shape.members:
                out.append(f"{here}: unknown member {name!r} for {shape.name}")
        for name in shape.required_members:
            if name not in value:
                out.append(f"{here}: missing required member {name!r} of {shape.name}")
        if shape.metadata.get("union") and len([k for k, v in value.items() if v is not None]) != 1:
            out.append(f"{here}: union {shape.name} must set exactly one member, got {sorted(value)}")
        for name, item in value.items():
            if name in shape.members:
                if item is None:
                    out.append(f"{where}/{name}: null is not a valid {shape.members[name].type_name}")
                    continue
                _check_output(shape.members[name], item, f"{where}/{name}", out, wire)
    elif kind == "list":
        if not isinstance(value, list):
            out.append(f"{here}: expected list, got {type(value).__name__}")
            return
        _check_size(meta, len(value), here, out)
        member = shape.member
        if member.type_name in ("float", "double") and not _is_document(member):
            if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in value):
                out.append(f"{here}: list of {member.type_name} holds a non-number")
            return
        for index, item in enumerate(value):
            _check_output(member, item, f"{where}/{index}", out, wire)
    elif kind == "map":
        if not isinstance(value, Mapping):
            out.append(f"{here}: expected map, got {type(value).__name__}")
            return
        _check_size(meta, len(value), here, out)
        for key, item in value.items():
            _check_output(shape.key, key, f"{where}/{key}", out, wire)
            _check_output(shape.value, item, f"{where}/{key}", out, wire)
    elif kind == "string":
        if not isinstance(value, str):
            out.append(f"{here}: expected string, got {type(value).__name__}")
            return
        _check_size(meta, len(value), here, out)
        if shape.enum and value not in shape.enum:
            out.append(f"{here}: {value!r} is not one of {shape.enum}")
        if "pattern" in meta and not pattern_matches(meta["pattern"], value):
            out.append(f"{here}: {value!r} does not match pattern {meta['pattern']}")
    elif kind in ("integer", "long"):
        if not isinstance(value, int) or isinstance(value, bool):
            out.append(f"{here}: expected integer, got {type(value).__name__}")
            return
        _check_range(meta, value, here, out)
    elif kind in ("float", "double"):
        if not isinstance(value, int | float) or isinstance(value, bool):
            out.append(f"{here}: expected number, got {type(value).__name__}")
            return
        _check_range(meta, value, here, out)
    elif kind == "boolean":
        if not isinstance(value, bool):
            out.append(f"{here}: expected boolean, got {type(value).__name__}")
    elif kind == "timestamp":
        if wire and (not isinstance(value, int | float) or isinstance(value, bool)):
            out.append(f"{here}: expected epoch-seconds timestamp on the wire, got {type(value).__name__}")
        if not wire and not isinstance(value, _dt.datetime):
            out.append(f"{here}: expected datetime, got {type(value).__name__}")
    elif kind == "blob":
        if not isinstance(value, str | bytes | bytearray):
            out.append(f"{here}: expected blob, got {type(value).__name__}")


def _check_size(meta: Mapping[str, Any], size: int, where: str, out: list[str]) -> None:
    if "min" in meta and size < meta["min"]:
        out.append(f"{where}: size {size} is below the minimum {meta['min']}")
    if "max" in meta and size > meta["max"]:
        out.append(f"{where}: size {size} is above the maximum {meta['max']}")


def _check_range(meta: Mapping[str, Any], value: float, where: str, out: list[str]) -> None:
    if "min" in meta and value < meta["min"]:
        out.append(f"{where}: {value} is below the minimum {meta['min']}")
    if "max" in meta and value > meta["max"]:
        out.append(f"{where}: {value} is above the maximum {meta['max']}")


def _is_json_value(value: Any) -> bool:
    if value is None or isinstance(value, str | bool | int):
        return True
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, list):
        return all(_is_json_value(v) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and _is_json_value(v) for k, v in value.items())
    return False


def output_problems(client: Any, operation_name: str, response: Mapping[str, Any]) -> list[str]:
    """Check a parsed boto3 response against the client's output model (for tests)."""
    operation = client.meta.service_model.operation_model(operation_name)
    return validate_output(operation.output_shape, response, wire=False)


# ---------------------------------------------------------------------------------------------------------
# Responses
# ---------------------------------------------------------------------------------------------------------


class _RawBody(io.BytesIO):
    """A raw HTTP body AWSResponse can stream, like urllib3's."""

    def stream(self, **_: Any) -> Any:
        chunk = self.read()
        while chunk:
            yield chunk
            chunk = self.read()


def _protocol(operation: OperationModel) -> str:
    protocol = getattr(operation.service_model, "resolved_protocol", None)
    return protocol or operation.metadata["protocol"]


def to_wire(answer: Mapping[str, Any]) -> dict[str, Any]:
    """JSON-ready copy of a fake's answer: top-level None members dropped (an unset ``nextToken``), and
    datetimes as epoch seconds, as rest-json sends them."""
    return {k: _wire_value(v) for k, v in answer.items() if v is not None}


def _wire_value(value: Any) -> Any:
    if isinstance(value, _dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=_dt.UTC)
        return value.timestamp()
    if isinstance(value, Mapping):
        return {k: _wire_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_wire_value(v) for v in value]
    return value


def build_response(
    operation: OperationModel, body: Mapping[str, Any] | ServiceError, *, url: str = ""
) -> tuple[AWSResponse, dict[str, Any]]:
    """The (http response, parsed dict) pair a 'before-call' handler returns, parsed by botocore itself."""
    protocol = _protocol(operation)
    request_id = str(uuid.uuid4())
    if isinstance(body, ServiceError):
        status = body.status or error_status(operation, body.code)
        raw, headers = _error_payload(protocol, body, request_id)
    else:
        status = int(operation.http.get("responseCode", 200))
        raw = json.dumps(body, separators=(",", ":")).encode()
        headers = {"content-type": "application/json", "x-amzn-requestid": request_id}
    headers["content-length"] = str(len(raw))
    response_dict = {"status_code": status, "headers": headers, "body": raw, "context": {}}
    parser = create_parser(protocol)
    parsed = parser.parse(response_dict, operation.output_shape)
    if status >= 300:
        code = parsed.get("Error", {}).get("Code")
        error_shape = operation.service_model.shape_for_error_code(code) if code else None
        if error_shape is not None:
            parsed.update(parser.parse(response_dict, error_shape))
    parsed.setdefault("ResponseMetadata", {})["RetryAttempts"] = 0
    http = AWSResponse(url, status, headers, _RawBody(raw))
    return http, parsed


def _error_payload(protocol: str, error: ServiceError, request_id: str) -> tuple[bytes, dict[str, str]]:
    if protocol in ("query", "ec2"):
        xml = (
            '<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type>'
            f"<Code>{_xml_escape(error.code)}</Code><Message>{_xml_escape(error.message)}</Message></Error>"
            f"<RequestId>{request_id}</RequestId></ErrorResponse>"
        )
        return xml.encode(), {"content-type": "text/xml", "x-amzn-requestid": request_id}
    payload = {"message": error.message, **error.fields}
    if protocol == "json":  # awsJson 1.0/1.1 name the error in the body
        payload["__type"] = error.code
    headers = {
        "content-type": "application/json",
        "x-amzn-errortype": error.code,
        "x-amzn-requestid": request_id,
    }
    return json.dumps(to_wire(payload), separators=(",", ":")).encode(), headers


def error_status(operation: OperationModel, code: str, default: int = 400) -> int:
    """The HTTP status the model declares for an error code."""
    shape = operation.service_model.shape_for_error_code(code)
    if shape is None:
        return default
    return int(shape.metadata.get("error", {}).get("httpStatusCode", default))
