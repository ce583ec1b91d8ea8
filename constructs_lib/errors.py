"""Prop validation: constructs check their props with the contract's rules and raise one `PropsError`."""

from __future__ import annotations

from collections.abc import Iterable

from aws_cdk import Token

from runtime.contract.problems import Problem, Problems, ProblemsError

__all__ = ["PropsError", "new_problems", "props_error", "raise_if_any"]


class PropsError(ProblemsError):
    """Props break a rule; the message lists every problem as ``field=value: rule``."""

    def __init__(self, construct: str, problems: Iterable[Problem]) -> None:
        items = tuple(problems)
        body = "\n".join(f"  - {p}" for p in items)
        super().__init__(f"{construct}: invalid props ({len(items)} problem(s)):\n{body}", items)
        self.construct = construct


def new_problems() -> Problems:
    """A collector that skips deploy-time tokens (checked when resolved) and shows them as such."""
    return Problems(is_token=Token.is_unresolved)


def raise_if_any(construct: str, problems: Problems) -> None:
    """Raise one `PropsError` naming ``construct`` when ``problems`` holds any."""
    problems.raise_if_any(lambda items: PropsError(construct, items))


def props_error(construct: str, field: str, value: object, rule: str) -> PropsError:
    """A `PropsError` with one problem (for checks that depend on more than one prop)."""
    problems = new_problems()
    problems.add(field, value, rule)
    return PropsError(construct, problems)
