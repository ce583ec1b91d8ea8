"""Policy variables: ``${key}``, ``${key, 'default'}`` and the escapes ``${*}``, ``${?}``, ``${$}``."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from runtime.testing.iam.patterns import Pattern, Token, parse_wildcards

_VARIABLE = re.compile(r"\$\{([^}]*)\}")
_DEFAULT = re.compile(r"^\s*([^,]+?)\s*,\s*'(.*)'\s*$", re.DOTALL)
#: The predefined variables that stand for a character that otherwise has a special meaning.
_ESCAPES = {"*": "*", "?": "?", "$": "$"}

Context = Mapping[str, Sequence[str]]


class Unresolved(Exception):
    """A variable names a key the request does not carry (and gives no default)."""


def _resolve(body: str, context: Context) -> str:
    match = _DEFAULT.match(body)
    name, default = (match.group(1), match.group(2)) if match else (body.strip(), None)
    values = context.get(name.lower())
    # "You can use any single-valued condition key as a variable. You can't use a multivalued condition key."
    if values is not None and len(values) == 1:
        return values[0]
    if default is not None:
        return default
    raise Unresolved(name)


def expand_pattern(text: str, context: Context, *, enabled: bool, wildcards: bool = True) -> Pattern | None:
    """``text`` as a pattern with variables substituted (as literal text), or None if one is unresolved.

    With ``enabled`` False (a policy without ``"Version": "2012-10-17"``) variables stay literal strings,
    as IAM documents. With ``wildcards`` False, ``*`` and ``?`` are ordinary characters.
    """
    tokens: list[Token] = []
    position = 0
    for match in _VARIABLE.finditer(text) if enabled else ():
        tokens.extend(_literal(text[position : match.start()], wildcards))
        body = match.group(1)
        if body in _ESCAPES:
            tokens.append(_ESCAPES[body])
        else:
            try:
                tokens.extend(_resolve(body, context))
            except Unresolved:
                return None
        position = match.end()
    tokens.extend(_literal(text[position:], wildcards))
    return tuple(tokens)


def expand_text(text: str, context: Context, *, enabled: bool) -> str | None:
    """``text`` with variables substituted, for exact comparisons; None if a variable is unresolved."""
    pattern = expand_pattern(text, context, enabled=enabled, wildcards=False)
    return None if pattern is None else "".join(str(token) for token in pattern)


def _literal(text: str, wildcards: bool) -> list[Token]:
    return list(parse_wildcards(text)) if wildcards else list(text)
