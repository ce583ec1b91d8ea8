"""Prop validation that collects every problem into one error naming the prop and what is allowed."""

from __future__ import annotations

import re
from typing import Any, Iterable

from aws_cdk import Token


class PropsError(ValueError):
    """Raised by a construct whose props break a rule; lists every problem."""

    def __init__(self, construct: str, problems: Iterable[str]) -> None:
        self.problems = list(problems)
        body = "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(f"{construct}: invalid props ({len(self.problems)} problem(s)):\n{body}")


class Problems:
    """Accumulates problems; values that are unresolved tokens are skipped (they are known only at deploy)."""

    def __init__(self) -> None:
        self.items: list[str] = []

    def check_pattern(self, prop: str, value: Any, pattern: re.Pattern[str], allowed: str) -> None:
        if value is None or (isinstance(value, str) and Token.is_unresolved(value)):
            return
        if not isinstance(value, str) or not pattern.match(value):
            self.items.append(f"{prop}={value!r}: {allowed}")

    def check_range(self, prop: str, value: Any, lo: int, hi: int) -> None:
        if value is None or (isinstance(value, (int, float)) and Token.is_unresolved(value)):
            return
        if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
            self.items.append(f"{prop}={value!r}: must be a whole number from {lo} to {hi}")

    def add(self, prop: str, value: Any, rule: str) -> None:
        self.items.append(f"{prop}={value!r}: {rule}")

    def raise_if_any(self, construct: str) -> None:
        if self.items:
            raise PropsError(construct, self.items)
