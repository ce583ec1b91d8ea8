"""Typed errors of the runtime: each carries an HTTP-style status and a stable code for handlers."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from runtime.contract.problems import Problem


class MemoryMeshError(Exception):
    """Base of every error the runtime raises on purpose."""

    status = 500
    code = "InternalError"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def to_dict(self) -> dict[str, str]:
        """``{"code", "message"}`` of the error."""
        return {"code": self.code, "message": self.message}


class InvalidInputError(MemoryMeshError, ValueError):
    """A caller-supplied value breaks a rule; the message names the field, the value and the rule."""

    status = 400
    code = "InvalidInput"

    def __init__(self, field: str, value: Any, rule: str) -> None:
        shown = value if not isinstance(value, str) or len(value) <= 80 else value[:77] + "..."
        super().__init__(f"{field}={shown!r} is invalid: {rule}")
        self.field = field
        self.value = value
        self.rule = rule

    @classmethod
    def from_problems(cls, problems: Sequence[Problem]) -> InvalidInputError:
        """One error for every problem a :class:`runtime.contract.Problems` collected (the first one named)."""
        first = problems[0]
        error = cls.__new__(cls)
        message = "; ".join(
            f"{p.field}={p.value} {p.rule}" if p.rule.startswith("is ") else f"{p.field}={p.value} is invalid: {p.rule}"
            for p in problems
        )
        MemoryMeshError.__init__(error, message)
        error.field, error.value, error.rule = first.field, first.value, first.rule
        return error


class AccessDeniedError(MemoryMeshError):
    """The caller may not act for this tenant or actor (identity mismatch, IAM AccessDenied)."""

    status = 403
    code = "AccessDenied"


class NotFoundError(MemoryMeshError):
    """A named thing (worker, tenant index, session) does not exist."""

    status = 404
    code = "NotFound"


class UpstreamError(MemoryMeshError):
    """An AWS call failed after retries; the message never carries the upstream's internals."""

    status = 502
    code = "UpstreamError"


class UpstreamTimeoutError(UpstreamError):
    """An AWS call did not answer within its budget."""

    status = 504
    code = "UpstreamTimeout"


class CredentialError(UpstreamError):
    """The token vending machine could not vend tenant-scoped credentials."""

    code = "CredentialError"


class ServiceUnavailableError(UpstreamError):
    """A dependency is shedding load (a circuit breaker is open): retry after ``retry_after_s`` seconds."""

    status = 503
    code = "ServiceUnavailable"

    def __init__(self, message: str, *, retry_after_s: float = 1.0) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class CredentialsUnavailableError(ServiceUnavailableError, CredentialError):
    """STS is throttling: the credential broker's circuit breaker refuses to call it for a while."""

    code = "ServiceUnavailable"
