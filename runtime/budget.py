"""One time budget for a piece of work: what is left, and per-call timeouts and attempts derived from it.

A deadline on the monotonic clock; each AWS call gets connect/read timeouts and a retry count that fit what is
left. Callers that need the budget enforced on calls made with fixed-config clients run them on a pool and wait at
most :meth:`Budget.remaining` (see :func:`run_in_context`).
"""

from __future__ import annotations

import contextvars
import random
import time
from collections.abc import Callable
from concurrent.futures import Executor, Future
from typing import Any, TypeVar

__all__ = ["Budget", "backoff_delays", "run_in_context"]

T = TypeVar("T")

#: Below this many seconds a call gets one attempt: a retry could not finish in time anyway.
_RETRY_FLOOR_S = 1.0
_CONNECT_CAP_S = 1.0


class Budget:
    """Seconds left until ``deadline`` (``clock()`` time), never more than the parent's when nested."""

    def __init__(self, seconds: float, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self.deadline = clock() + max(0.0, float(seconds))

    def remaining(self) -> float:
        """Seconds left (0 when spent)."""
        return max(0.0, self.deadline - self._clock())

    def expired(self) -> bool:
        """True when nothing is left."""
        return self.remaining() <= 0.0

    def sub(self, seconds: float) -> Budget:
        """A budget of at most ``seconds`` that never outlives this one."""
        return Budget(min(float(seconds), self.remaining()), clock=self._clock)

    def timeouts(self) -> tuple[float, float, int]:
        """(connect timeout, read timeout, total attempts) for one call started now."""
        left = self.remaining()
        attempts = 1 if left < _RETRY_FLOOR_S else 2 if left < 4 * _RETRY_FLOOR_S else 3
        per_attempt = max(0.05, left / attempts)
        return min(_CONNECT_CAP_S, per_attempt), per_attempt, attempts

    def config(self) -> Any:
        """A botocore ``Config`` whose timeouts and retries fit what is left."""
        from botocore.config import Config

        connect, read, attempts = self.timeouts()
        return Config(connect_timeout=connect, read_timeout=read,
                      retries={"mode": "standard", "total_max_attempts": attempts})


def backoff_delays(budget: Budget, *, base_s: float = 0.1, cap_s: float = 1.0) -> Any:
    """Full-jitter exponential delays for retries, stopping when the next one would not fit the budget."""
    attempt = 0
    while True:
        delay = random.uniform(0, min(cap_s, base_s * 2**attempt))  # noqa: S311 - jitter, not security
        if delay >= budget.remaining():
            return
        yield delay
        attempt += 1


def run_in_context(executor: Executor, fn: Callable[..., T], *args: Any, **kwargs: Any) -> Future[T]:
    """Submit ``fn`` with a copy of the caller's context variables (a plain submit runs it without them)."""
    context = contextvars.copy_context()
    return executor.submit(context.run, fn, *args, **kwargs)
