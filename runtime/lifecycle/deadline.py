"""How long a lifecycle step may keep working: the Lambda's remaining time less a reserve, optionally capped."""

from __future__ import annotations

from typing import Any

__all__ = ["StepDeadline"]


class StepDeadline:
    """Reads ``context.get_remaining_time_in_millis()`` at every check; ``cap_s`` bounds the step from its start.

    ``reserve_s`` is kept back for saving the job, queuing the next step and flushing metrics.
    """

    def __init__(self, context: Any, *, reserve_s: float, cap_s: float | None = None,
                 default_s: float = 60.0) -> None:
        self._getter = getattr(context, "get_remaining_time_in_millis", None)
        self._reserve_ms = reserve_s * 1000
        self._default_ms = default_s * 1000
        start = self._raw_ms()
        self._floor_ms = start - cap_s * 1000 if cap_s is not None else None

    def _raw_ms(self) -> float:
        if callable(self._getter):
            try:
                return float(self._getter())
            except Exception:  # noqa: BLE001 - no usable context: fall back to the default budget
                pass
        return self._default_ms

    def remaining_ms(self) -> float:
        """Milliseconds this step may still use (never negative)."""
        raw = self._raw_ms()
        left = raw - self._reserve_ms
        if self._floor_ms is not None:
            left = min(left, raw - self._floor_ms)
        return max(0.0, left)

    def expired(self) -> bool:
        """True when nothing is left for this step."""
        return self.remaining_ms() <= 0.0

    def lease_ms(self) -> float:
        """How long this invocation may still run at all (the job's lease lasts this long)."""
        return max(0.0, self._raw_ms())
