"""The Condition element: operators, ``...IfExists``, ``ForAllValues:``/``ForAnyValue:`` and ``Null``.

Rules implemented, from the IAM User Guide:

- Several operators, and several keys under one operator, are ANDed; several values for one key are ORed,
  and for a negated operator NORed (reference_policies_condition-logic-multiple-context-keys-or-values).
- A key absent from the request makes the condition false, "If the policy condition requires that the key
  is *not* matched, such as StringNotLike or ArnNotLike, and the right key is not present, the condition is
  true"; ``...IfExists`` is true for an absent key; ``Null`` tests presence itself
  (reference_policies_elements_condition_operators).
- ``ForAllValues`` "also returns true if there are no context keys in the request, or if the context key
  value resolves to a null dataset, such as an empty string"; ``ForAnyValue`` returns false then
  (reference_policies_condition_examples-multi-valued-context-keys).
- Key names compare case-insensitively; values case-sensitively except for the ``IgnoreCase`` operators.
- Policy variables work in String, ARN and Bool operators only; a variable with no value is "effectively
  null": positive operators do not match it, negated ones do (reference_policies_variables).
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from runtime.testing.iam.patterns import arn_like, matches
from runtime.testing.iam.variables import Context, expand_pattern, expand_text


class PolicyError(ValueError):
    """A policy the evaluator cannot interpret (unknown operator, malformed element)."""


class UndocumentedEvaluation(PolicyError):
    """The outcome depends on behaviour AWS does not document (see ``evaluate_condition``)."""


@dataclass(frozen=True)
class _Operator:
    name: str
    test: Callable[[str, str, Context, bool], bool]
    negated: bool = False


def _string_equals(request: str, policy: str, context: Context, variables: bool) -> bool:
    return request == expand_text(policy, context, enabled=variables)


def _string_equals_ignore_case(request: str, policy: str, context: Context, variables: bool) -> bool:
    expected = expand_text(policy, context, enabled=variables)
    return expected is not None and request.casefold() == expected.casefold()


def _string_like(request: str, policy: str, context: Context, variables: bool) -> bool:
    pattern = expand_pattern(policy, context, enabled=variables)
    return pattern is not None and matches(pattern, request)


def _arn_like(request: str, policy: str, context: Context, variables: bool) -> bool:
    pattern = expand_pattern(policy, context, enabled=variables)
    return pattern is not None and arn_like(pattern, request)


def _bool(request: str, policy: str, context: Context, variables: bool) -> bool:
    expected = expand_text(policy, context, enabled=variables)
    return expected is not None and request.lower() == expected.lower()


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def _date(text: str) -> float | None:
    """ISO 8601 (W3C profile) or epoch seconds, as a UTC timestamp."""
    if text.strip().lstrip("-").isdigit():
        return float(text)
    try:
        parsed = datetime.fromisoformat(text.strip())
    except ValueError:
        return None
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).timestamp()


def _compare(parse: Callable[[str], float | None], relation: Callable[[float, float], bool]) -> Callable[
    [str, str, Context, bool], bool
]:
    def test(request: str, policy: str, context: Context, variables: bool) -> bool:
        left, right = parse(request), parse(policy)
        return left is not None and right is not None and relation(left, right)

    return test


def _binary_equals(request: str, policy: str, context: Context, variables: bool) -> bool:
    """Request values of binary keys are given base64-encoded, like the policy value."""
    try:
        return base64.b64decode(request, validate=True) == base64.b64decode(policy, validate=True)
    except (binascii.Error, ValueError):
        return False


def _ip_address(request: str, policy: str, context: Context, variables: bool) -> bool:
    try:
        # "If you specify an IP address without the associated routing prefix, IAM uses ... /32".
        network = ipaddress.ip_network(policy.strip(), strict=False)
        return ipaddress.ip_address(request.strip()) in network
    except ValueError:
        return False


def _operators() -> dict[str, _Operator]:
    table: dict[str, _Operator] = {}

    def add(name: str, test: Callable[[str, str, Context, bool], bool], negation: str | None = None) -> None:
        table[name] = _Operator(name, test)
        if negation:
            table[negation] = _Operator(negation, test, negated=True)

    add("StringEquals", _string_equals, "StringNotEquals")
    add("StringEqualsIgnoreCase", _string_equals_ignore_case, "StringNotEqualsIgnoreCase")
    add("StringLike", _string_like, "StringNotLike")
    add("ArnEquals", _arn_like, "ArnNotEquals")  # "ArnEquals and ArnLike behave identically"
    add("ArnLike", _arn_like, "ArnNotLike")
    add("NumericEquals", _compare(_number, lambda a, b: a == b), "NumericNotEquals")
    add("NumericLessThan", _compare(_number, lambda a, b: a < b))
    add("NumericLessThanEquals", _compare(_number, lambda a, b: a <= b))
    add("NumericGreaterThan", _compare(_number, lambda a, b: a > b))
    add("NumericGreaterThanEquals", _compare(_number, lambda a, b: a >= b))
    add("DateEquals", _compare(_date, lambda a, b: a == b), "DateNotEquals")
    add("DateLessThan", _compare(_date, lambda a, b: a < b))
    add("DateLessThanEquals", _compare(_date, lambda a, b: a <= b))
    add("DateGreaterThan", _compare(_date, lambda a, b: a > b))
    add("DateGreaterThanEquals", _compare(_date, lambda a, b: a >= b))
    add("Bool", _bool)
    add("BinaryEquals", _binary_equals)
    add("IpAddress", _ip_address, "NotIpAddress")
    return table


_OPERATORS = _operators()
#: Operator families whose values may hold policy variables (reference_policies_elements_condition_operators).
_VARIABLE_FAMILIES = ("String", "Arn", "Bool")


def _policy_values(raw: Any) -> list[str]:
    values = raw if isinstance(raw, list) else [raw]
    return [str(value).lower() if isinstance(value, bool) else str(value) for value in values]


def _is_empty(values: Sequence[str] | None) -> bool:
    return values is None or len(values) == 0 or list(values) == [""]


def evaluate_condition(condition: Mapping[str, Any], context: Context, *, variables: bool) -> bool:
    """Whether a statement's Condition element holds for the request context (keys lower-cased).

    A non-set operator applied to a key holding several request values is not documented by AWS; it is
    evaluated both as "any value" and "every value" and raises ``UndocumentedEvaluation`` if they differ.
    """
    for operator_name, keys in condition.items():
        if not isinstance(keys, Mapping):
            raise PolicyError(f"condition operator {operator_name!r} must map keys to values")
        for key, raw_values in keys.items():
            if not _evaluate_one(operator_name, key, _policy_values(raw_values), context, variables):
                return False
    return True


def _evaluate_one(operator_name: str, key: str, policy: list[str], context: Context, variables: bool) -> bool:
    qualifier, _, base = operator_name.rpartition(":")
    if qualifier not in ("", "ForAllValues", "ForAnyValue"):
        raise PolicyError(f"unknown condition set operator {qualifier!r}")
    request = context.get(key.lower())
    if base == "Null":
        # "true (the key doesn't exist — it is null) or false (the key exists and its value is not null)".
        return any((value.lower() == "true") == _is_empty(request) for value in policy)
    if_exists = base.endswith("IfExists")
    operator = _OPERATORS.get(base.removesuffix("IfExists"))
    if operator is None:
        raise PolicyError(f"unknown condition operator {operator_name!r}")
    # A set operator also treats "a null dataset, such as an empty string" as no value.
    if request is None or not request or (qualifier and _is_empty(request)):
        if if_exists:
            return True
        if qualifier == "ForAllValues":
            return True
        if qualifier == "ForAnyValue":
            return False
        return operator.negated
    assert request is not None
    allow_variables = variables and operator.name.startswith(_VARIABLE_FAMILIES)

    def holds(value: str) -> bool:
        matched = any(operator.test(value, expected, context, allow_variables) for expected in policy)
        return not matched if operator.negated else matched

    results = [holds(value) for value in request]
    if qualifier == "ForAllValues":
        return all(results)
    if qualifier == "ForAnyValue":
        return any(results)
    if len(results) == 1 or all(results) or not any(results):
        return results[0]
    raise UndocumentedEvaluation(
        f"{operator_name} on {key!r}, which holds several request values, has no documented result; "
        "use ForAllValues: or ForAnyValue:"
    )
