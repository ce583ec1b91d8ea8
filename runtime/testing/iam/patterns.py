"""Wildcard patterns of the IAM policy language: ``*`` and ``?`` in actions, resources and condition values."""

from __future__ import annotations

import re
from collections.abc import Sequence
from enum import Enum
from functools import lru_cache


class Wildcard(Enum):
    """The two wildcard characters of the policy language."""

    STAR = "*"
    QMARK = "?"


STAR = Wildcard.STAR
QMARK = Wildcard.QMARK
#: A pattern is a sequence of literal text and wildcard markers.
Token = str | Wildcard
Pattern = tuple[Token, ...]


def parse_wildcards(text: str) -> Pattern:
    """Every ``*`` and ``?`` of ``text`` as a wildcard, the rest literal."""
    tokens: list[Token] = []
    for char in text:
        if char == "*":
            tokens.append(STAR)
        elif char == "?":
            tokens.append(QMARK)
        else:
            tokens.append(char)
    return tuple(tokens)


def _to_regex(pattern: Sequence[Token], *, segmented: bool) -> str:
    parts: list[str] = []
    for index, token in enumerate(pattern):
        if token is STAR:
            # Resource element: "*" stays within a colon-separated segment, except that a "*" ending a
            # segment "can expand to match beyond the colon boundaries" (reference_policies_elements_resource).
            following = pattern[index + 1] if index + 1 < len(pattern) else None
            ends_segment = following is None or following == ":"
            parts.append(".*" if not segmented or ends_segment else "[^:]*")
        elif token is QMARK:
            parts.append("[^:]" if segmented else ".")
        else:
            parts.append(re.escape(str(token)))
    return "".join(parts)


@lru_cache(maxsize=4096)
def _compiled(pattern: Pattern, segmented: bool, ignore_case: bool) -> re.Pattern[str]:
    flags = re.DOTALL | (re.IGNORECASE if ignore_case else 0)
    return re.compile(_to_regex(pattern, segmented=segmented), flags)


def matches(pattern: Pattern, value: str, *, ignore_case: bool = False, segmented: bool = False) -> bool:
    """Whether ``value`` matches the whole pattern (``segmented``: wildcards respect ARN colons)."""
    return _compiled(tuple(pattern), segmented, ignore_case).fullmatch(value) is not None


def action_matches(pattern: str, action: str) -> bool:
    """IAM action names compare case-insensitively; ``*`` and ``?`` are wildcards."""
    return matches(parse_wildcards(pattern), action, ignore_case=True)


def split_arn(value: str) -> list[str] | None:
    """The six colon-delimited components of an ARN (the last keeps its own colons), or None."""
    parts = value.split(":", 5)
    return parts if len(parts) == 6 else None


def arn_like(pattern: Pattern, value: str) -> bool:
    """ArnLike/ArnEquals: "Each of the six colon-delimited components of the ARN is checked separately"."""
    value_parts = split_arn(value)
    if value_parts is None:
        return False
    components: list[list[Token]] = [[]]
    for token in pattern:
        if token == ":" and len(components) < 6:
            components.append([])
        else:
            components[-1].append(token)
    if len(components) != 6:
        return False
    return all(matches(tuple(part), actual) for part, actual in zip(components, value_parts, strict=True))
