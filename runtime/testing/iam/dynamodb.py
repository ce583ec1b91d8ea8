"""DynamoDB request facts for fine-grained access control: leading keys and attribute names."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from runtime.testing.iam.sources import MissingRequestData

_NAME_TOKEN = re.compile(r"#[A-Za-z0-9_]+|[A-Za-z_][A-Za-z0-9_.\[\]]*")
_UPDATE_CLAUSES = re.compile(r"\b(SET|REMOVE|ADD|DELETE)\b", re.IGNORECASE)
_FUNCTIONS = {"if_not_exists", "list_append", "size", "attribute_exists", "attribute_not_exists"}


def attribute_value(value: Mapping[str, Any]) -> str:
    """The text of a typed AttributeValue such as ``{"S": "tenant-1"}``."""
    (kind, inner), = value.items()
    return str(inner).lower() if kind == "BOOL" else str(inner)


def partition_key(stored: Mapping[str, Any]) -> str:
    """The table's partition key name, from ``stored`` (``MissingRequestData`` when it is not there)."""
    name = stored.get("partition_key")
    if not name:
        raise MissingRequestData("dynamodb:LeadingKeys needs stored={'partition_key': <the table's partition key>}")
    return str(name)


def leading_keys(items: list[Mapping[str, Any]], stored: Mapping[str, Any]) -> list[str]:
    """The partition key values of the given keys or items."""
    key = partition_key(stored)
    return [attribute_value(item[key]) for item in items if key in item]


def query_leading_keys(params: Mapping[str, Any], stored: Mapping[str, Any]) -> list[str]:
    """The partition key value a Query's key condition fixes with ``=``."""
    key = partition_key(stored)
    legacy = params.get("KeyConditions", {}).get(key)
    if legacy:
        return [attribute_value(value) for value in legacy.get("AttributeValueList", [])]
    names = {alias: name for alias, name in params.get("ExpressionAttributeNames", {}).items()}
    values = params.get("ExpressionAttributeValues", {})
    for left, right in re.findall(r"([#\w]+)\s*=\s*(:\w+)", params.get("KeyConditionExpression", "")):
        if names.get(left, left) == key and right in values:
            return [attribute_value(values[right])]
    return []


def _names(expression: str, aliases: Mapping[str, str]) -> list[str]:
    names: list[str] = []
    for token in _NAME_TOKEN.findall(expression):
        if token.lower() in _FUNCTIONS or _UPDATE_CLAUSES.fullmatch(token):
            continue
        top = aliases.get(token, token).split(".")[0].split("[")[0]
        if top and top not in names:
            names.append(aliases.get(top, top))
    return names


def attributes(params: Mapping[str, Any]) -> list[str]:
    """Attribute names the request reads or writes (projection, AttributesToGet, updates)."""
    aliases = params.get("ExpressionAttributeNames", {})
    found: list[str] = list(params.get("AttributesToGet", [])) + list(params.get("AttributeUpdates", {}))
    for field_name in ("ProjectionExpression", "UpdateExpression"):
        expression = re.sub(r":\w+", " ", params.get(field_name, ""))
        found += _names(expression, aliases)
    return list(dict.fromkeys(found))
