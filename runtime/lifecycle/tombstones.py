"""Forget tombstones as every writer checks them: before a write and after it, so forget always wins.

A write carries an *origin*: when the work that produced it began (the turn's start, the summary job's enqueue
time). A write whose origin is not after the user's tombstone is refused before it is made; one that raced
the tombstone (checked clean, then forget started) finds it on the second check and removes what it wrote.
Handlers set the origin with :func:`write_origin`; without one, the write's own start is its origin.
"""

from __future__ import annotations

import contextvars
import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from runtime.errors import MemoryMeshError
from runtime.identity import Identity, log_ref

__all__ = ["ActorForgottenError", "TombstoneGuard", "current_origin_ms", "guard_from_settings", "write_origin"]

logger = logging.getLogger(__name__)
T = TypeVar("T")

_ORIGIN: contextvars.ContextVar[int | None] = contextvars.ContextVar("mesh_write_origin_ms", default=None)


class ActorForgottenError(MemoryMeshError):
    """The user was forgotten after this write's work began: the write was refused (or undone)."""

    status = 410
    code = "ActorForgotten"


@contextmanager
def write_origin(origin_ms: int) -> Iterator[None]:
    """Writes made inside the block carry ``origin_ms`` (epoch milliseconds) as their origin."""
    token = _ORIGIN.set(int(origin_ms))
    try:
        yield
    finally:
        _ORIGIN.reset(token)


def current_origin_ms(clock: Callable[[], float] = time.time) -> int:
    """The origin set by :func:`write_origin`, or now."""
    origin = _ORIGIN.get()
    return origin if origin is not None else int(clock() * 1000)


class TombstoneGuard:
    """Checks a user's tombstone around writes; ``forgotten_at(identity)`` reads it (epoch ms or None)."""

    def __init__(self, forgotten_at: Callable[[Identity], int | None], *,
                 clock: Callable[[], float] = time.time) -> None:
        self._forgotten_at = forgotten_at
        self._clock = clock

    def forgotten_at(self, identity: Identity) -> int | None:
        """When the user was forgotten (epoch ms), or None."""
        return self._forgotten_at(identity)

    def write(self, identity: Identity, write: Callable[[], T], undo: Callable[[T], None]) -> T:
        """Run ``write`` unless the user was forgotten after this write's origin; undo it if forget raced it."""
        origin = current_origin_ms(self._clock)
        self._refuse_if_forgotten(identity, origin, "before")
        written = write()
        try:
            self._refuse_if_forgotten(identity, origin, "after")
        except ActorForgottenError:
            undo(written)
            raise
        return written

    def _refuse_if_forgotten(self, identity: Identity, origin_ms: int, when: str) -> None:
        tombstone = self._forgotten_at(identity)
        if tombstone is not None and origin_ms <= tombstone:
            logger.info("write refused: the user was forgotten after it began",
                        extra={"tenant": identity.tenant_id, "actor_ref": log_ref(identity.actor_id), "check": when})
            raise ActorForgottenError("the user was forgotten after this write began; nothing was kept")


def guard_from_settings(broker: Any, settings: Any) -> TombstoneGuard | None:
    """A guard reading tombstones with the user's own vended session (``broker``), when a state table is set.

    The vended session's policy reaches only its own tombstone item (``dynamodb:LeadingKeys``).
    """
    table_name = getattr(settings, "state_table_name", None)
    if not table_name:
        return None
    from runtime.lifecycle.state import StateTable

    def forgotten_at(identity: Identity) -> int | None:
        client = broker.client("dynamodb", identity.tenant_id, identity.actor_id)
        return StateTable(client, table_name).forgotten_at(identity.tenant_id, identity.actor_id)

    return TombstoneGuard(forgotten_at)

