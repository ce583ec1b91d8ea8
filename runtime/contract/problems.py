"""One way to collect what is wrong with some input, rendered by each layer's own error type.

A problem names the field, the value and the rule: ``tenants[2]='Acme': must be 3-40 lowercase letters, ...``.
The constructs raise ``PropsError``, the deployment config ``ConfigError`` and the runtime
``InvalidInputError``; all three render the same problems. Values that are deploy-time tokens (CDK) are
recognised by a predicate the caller supplies, since this module cannot import the CDK.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from runtime.contract.rules import Rule

__all__ = ["Problem", "Problems", "ProblemsError", "TOKEN_SHOWN", "shown"]

#: How a deploy-time token is shown: its placeholder text (``${Token[...]}``) is not the value the rule judges.
TOKEN_SHOWN = "<deploy-time token>"
#: Longest value shown in a message; longer text is cut (it may be user data).
MAX_SHOWN_CHARS = 80


def shown(value: Any) -> str:
    """``repr`` of a value for a message: strings cut to 80 characters, containers summarised."""
    if isinstance(value, str):
        return repr(value if len(value) <= MAX_SHOWN_CHARS else value[: MAX_SHOWN_CHARS - 3] + "...")
    if isinstance(value, (list, tuple)) and len(repr(value)) > MAX_SHOWN_CHARS:
        return f"<{len(value)} items>"
    if isinstance(value, dict) and len(repr(value)) > MAX_SHOWN_CHARS:
        return f"<object with {len(value)} fields>"
    return repr(value)


@dataclass(frozen=True)
class Problem:
    """One invalid field: its path, the offending value (already safe to show) and the rule it breaks."""

    field: str
    value: str
    rule: str

    def __str__(self) -> str:
        # A missing value (None) is not shown: `field: is required: ...`.
        return f"{self.field}: {self.rule}" if self.value == "None" else f"{self.field}={self.value}: {self.rule}"


class ProblemsError(ValueError):
    """Base of the layer-specific errors that carry a list of problems."""

    def __init__(self, message: str, problems: Iterable[Problem]) -> None:
        super().__init__(message)
        self.problem_list = tuple(problems)

    @property
    def problems(self) -> list[str]:
        """Each problem as one line ``field=value: rule``."""
        return [str(p) for p in self.problem_list]


class Problems:
    """Collects every problem instead of stopping at the first.

    ``is_token`` tells deploy-time tokens apart (the constructs pass ``Token.is_unresolved``): a token is not
    checked against a rule (its value is known only at deploy time) unless the field is literal-only, in which
    case it is reported as such.
    """

    def __init__(self, *, is_token: Callable[[Any], bool] | None = None) -> None:
        self._items: list[Problem] = []
        self._is_token = is_token or (lambda _value: False)

    def __iter__(self) -> Iterator[Problem]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __bool__(self) -> bool:
        return bool(self._items)

    @property
    def lines(self) -> list[str]:
        """Each problem as the line it is shown as (``field=value: rule``)."""
        return [str(p) for p in self._items]

    def is_token(self, value: Any) -> bool:
        """True when ``value`` is a deploy-time token (by the ``is_token`` predicate given at construction)."""
        try:
            return bool(self._is_token(value))
        except Exception:  # a predicate that cannot judge a value (e.g. a dict) means "not a token"
            return False

    def add(self, field: str, value: Any, rule: str, *, redact: bool = False) -> None:
        """Record that ``field`` holds ``value``, which breaks ``rule`` (a sentence starting with a verb).

        A deploy-time token is shown as ``<deploy-time token>``: its placeholder text is not the value.
        """
        value_text = "<redacted>" if redact else TOKEN_SHOWN if self.is_token(value) else shown(value)
        self._items.append(Problem(field, value_text, rule))

    def check(self, rule: Rule, field: str, value: Any, *, required: bool = False, literal: bool = False,
              redact: bool = False) -> bool:
        """Check ``value`` against ``rule``; ``None`` passes unless ``required``. Returns True when valid."""
        if value is None:
            if required:
                self.add(field, None, f"is required: {rule.sentence}")
            return not required
        if self.is_token(value):
            if literal:
                self.add(field, value, "must be a literal value, not a deploy-time token (it is written into a "
                                       "file or an IAM condition at synth)")
                return False
            return True
        if not rule.matches(value):
            self.add(field, value, f"must be {rule.sentence}", redact=redact)
            return False
        return True

    def check_range(self, field: str, value: Any, low: float, high: float, *, integer: bool = True,
                    required: bool = True, unit: str = "") -> bool:
        """Check a number in ``[low, high]``; tokens pass (known at deploy)."""
        if value is None:
            if required:
                self.add(field, None, f"is required: a number from {low:g} to {high:g}{unit}")
            return not required
        if self.is_token(value):
            return True
        kinds = (int,) if integer else (int, float)
        if isinstance(value, bool) or not isinstance(value, kinds) or not low <= value <= high:
            kind = "a whole number" if integer else "a number"
            self.add(field, value, f"must be {kind} from {low:g} to {high:g}{unit}")
            return False
        return True

    def check_choice(self, field: str, value: Any, choices: Iterable[str]) -> bool:
        """Check that ``value`` is one of ``choices``."""
        options = tuple(choices)
        if value not in options:
            self.add(field, value, f"must be one of {', '.join(repr(c) for c in options)}")
            return False
        return True

    def extend(self, other: Problems) -> None:
        """Add every problem of ``other``."""
        self._items.extend(other)

    def raise_if_any(self, factory: Callable[[list[Problem]], Exception]) -> None:
        """Raise ``factory(problems)`` when any problem was recorded."""
        if self._items:
            raise factory(list(self._items))
