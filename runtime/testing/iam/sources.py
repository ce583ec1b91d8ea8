"""Reading values out of botocore request parameters, per the source forms of actions.json."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


class MissingRequestData(KeyError):
    """The table needs a fact the caller did not give (region, account, a stored resource's attribute)."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "missing request data"


@dataclass(frozen=True)
class Inputs:
    """Everything a request's authorization context is built from."""

    params: Mapping[str, Any]
    resource_tags: Mapping[str, str] = field(default_factory=dict)
    stored: Mapping[str, Any] = field(default_factory=dict)
    arguments: Mapping[str, str | None] = field(default_factory=dict)


def walk(data: Any, path: str) -> list[Any]:
    """Values at a dotted path; a segment ending in ``[]`` walks every element of a list."""
    nodes = [data]
    for segment in path.split("."):
        name, spread = segment.removesuffix("[]"), segment.endswith("[]")
        found = [node[name] for node in nodes if isinstance(node, Mapping) and node.get(name) is not None]
        nodes = [item for value in found for item in value] if spread else found
    return nodes


def scalar(value: Any) -> str:
    """A request value as IAM sees it: booleans as ``true``/``false``, everything else as text."""
    return str(value).lower() if isinstance(value, bool) else str(value)


def read(source: Mapping[str, Any], inputs: Inputs) -> list[str] | dict[str, str] | None:
    """A source's values (a list), its key/value pairs (a dict, for ``${...}`` keys), or None when absent."""
    if "first" in source:
        for option in source["first"]:
            found = read(option, inputs)
            if found:
                return found
        return None
    if "param" in source:
        # An empty list or map (Tags=[], filter={}) is no value; an empty string is one (s3:prefix "").
        values = [scalar(value) for value in walk(inputs.params, source["param"]) if value not in ([], {})]
        return values or None
    if "param_true" in source:
        return ["true"] if any(value is True for value in walk(inputs.params, source["param_true"])) else None
    if "param_keys" in source:
        keys = [str(key) for value in walk(inputs.params, source["param_keys"]) for key in value]
        return keys or None
    if "param_map" in source:
        pairs = {str(k): scalar(v) for value in walk(inputs.params, source["param_map"]) for k, v in value.items()}
        return pairs or None
    if "param_pairs" in source:
        items = walk(inputs.params, source["param_pairs"] + "[]")
        return {scalar(item[source["key"]]): scalar(item[source["value"]]) for item in items} or None
    if source.get("from_resource") == "tags":
        return dict(inputs.resource_tags) or None
    if "from_resource" in source:
        value = inputs.stored.get(source["from_resource"])
        if value is None:
            return None
        if isinstance(value, Mapping):
            return {str(k): scalar(v) for k, v in value.items()} or None
        return [scalar(item) for item in value] if isinstance(value, list) else [scalar(value)]
    if "argument" in source:
        value = inputs.arguments.get(source["argument"])
        return None if value is None else [value]
    if "constant" in source:
        return [source["constant"]]
    raise ValueError(f"unknown source form {dict(source)!r}")
