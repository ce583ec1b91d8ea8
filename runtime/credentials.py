"""The token vending machine client: tenant-scoped credentials from sts:AssumeRole with session tags.

IAM enforces isolation: the TVM role's policies name resources through ``${aws:PrincipalTag/TenantID}``
(and ``ActorID``), so a client from :meth:`TenantCredentialBroker.client` can only reach its tenant's data.
The cache key follows the isolation level: ``tenant`` keys (and tags) by the tenant alone, ``user`` by
(tenant, actor). Clients cost no botocore client per credential: see :mod:`runtime.aws_clients`.
"""

from __future__ import annotations

import logging
import random
import sys
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from runtime import aws_clients
from runtime.contract import memory, rules
from runtime.errors import (
    AccessDeniedError,
    CredentialError,
    CredentialsUnavailableError,
    InvalidInputError,
    MemoryMeshError,
)
from runtime.identity import validate_actor_id, validate_tenant_id
from runtime.settings import validate_region, validate_role_arn

TENANT_TAG_KEY = memory.TENANT_TAG
ACTOR_TAG_KEY = memory.ACTOR_TAG
SESSION_NAME_PREFIX = "mesh"
#: Characters of the actor id kept in the role session name: "mesh-<tenant <= 40>-<actor[:16]>" <= 62 <= 64.
SESSION_NAME_ACTOR_CHARS = 16

_THROTTLE_CODES = frozenset({"Throttling", "ThrottlingException", "RequestLimitExceeded", "TooManyRequestsException"})
_ACCESS_DENIED_CODES = frozenset({"AccessDenied", "AccessDeniedException"})
#: What services answer for a session token that expired or that they no longer accept (query and JSON
#: protocols spell them differently).
STALE_CREDENTIAL_CODES = frozenset({
    "ExpiredToken", "ExpiredTokenException", "InvalidClientTokenId", "UnrecognizedClientException",
})
# sts:AssumeRole DurationSeconds is 900-43200 (the role's MaxSessionDuration caps it further).
_MIN_DURATION_S = 900
_MAX_DURATION_S = 43200
#: Bytes one cache slot costs besides its credential strings: the slot, the credentials object, the LRU
#: link and a few scoped-client views (measured with tracemalloc by benchmarks/credentials_scale.py).
SLOT_OVERHEAD_BYTES = 1536
SCOPED_CLIENT_BYTES = 160

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ScopedCredentials:
    """Credentials vended for one tag set (TenantID[, ActorID]); ``expiration`` is epoch seconds."""

    tenant_id: str
    actor_id: str | None
    access_key_id: str
    secret_access_key: str = field(repr=False)
    session_token: str = field(repr=False)
    expiration: float

    def client_kwargs(self) -> dict[str, str]:
        """Keyword arguments for ``boto3.client(...)`` / ``Session.client(...)``."""
        return {
            "aws_access_key_id": self.access_key_id,
            "aws_secret_access_key": self.secret_access_key,
            "aws_session_token": self.session_token,
        }


@dataclass(frozen=True)
class BrokerStats:
    """Counters of a broker; ``sts_calls`` counts every AssumeRole call made, retries included."""

    sts_calls: int = 0
    cache_hits: int = 0
    cache_misses: int = 0
    evictions: int = 0
    failures: int = 0
    refreshes: int = 0
    clients_created: int = 0
    invalidations: int = 0
    revends: int = 0
    breaker_rejections: int = 0
    cached_bytes: int = 0


class _Entry:
    """Cache slot of one tag set: current credentials, scoped clients, an in-flight vend, a recent failure."""

    __slots__ = ("creds", "refresh_at", "clients", "pending", "failure", "failure_until", "bytes", "denied_at")

    def __init__(self) -> None:
        self.creds: ScopedCredentials | None = None
        self.refresh_at = 0.0
        self.clients: dict[str, ScopedClient] = {}
        self.pending: Future[ScopedCredentials] | None = None
        self.failure: MemoryMeshError | None = None
        self.failure_until = 0.0
        self.bytes = SLOT_OVERHEAD_BYTES
        self.denied_at = float("-inf")


class ScopedClient:
    """A tag set's view of a shared botocore client: every API call signs with that tag set's credentials.

    Credentials are looked up per call (a refresh needs no new client); a call refused because they expired or
    were revoked is retried once with freshly vended ones. Paginators fetch each page through the view; waiters
    are not scoped. Anything else (``meta``, ``exceptions``, ...) is the shared client's.
    """

    __slots__ = ("_broker", "_key", "_client")

    def __init__(self, broker: TenantCredentialBroker, key: tuple[str, str | None], client: Any) -> None:
        object.__setattr__(self, "_broker", broker)
        object.__setattr__(self, "_key", key)
        object.__setattr__(self, "_client", client)

    def __getattr__(self, name: str) -> Any:
        target = getattr(self._client, name)
        if name not in self._client.meta.method_to_api_mapping:
            return target
        broker, key = self._broker, self._key

        def call(*args: Any, **kwargs: Any) -> Any:
            return broker._call(key, target, args, kwargs)

        call.__name__ = name
        return call

    def __setattr__(self, name: str, value: Any) -> None:
        setattr(self._client, name, value)

    def get_paginator(self, operation_name: str) -> Any:
        """The shared client's paginator, each page fetched through this view (signed as this slot)."""
        paginator = self._client.get_paginator(operation_name)
        paginator._method = getattr(self, operation_name)  # botocore's Paginator calls self._method per page
        return paginator

    def __repr__(self) -> str:
        service = self._client.meta.service_model.service_name
        return f"<ScopedClient {service} tenant={self._key[0]!r} actor={self._key[1]!r}>"


class _StsBreaker:
    """Bounds AssumeRole calls once STS throttles: a token bucket, then a breaker that stops calls for a while.

    While STS answers normally nothing is limited (single flight already makes one call per slot). After a
    throttled answer, calls pass a token bucket of ``rate_per_s``; ``threshold`` throttled answers in a row
    open the breaker for ``cooldown_s`` (doubling while STS keeps throttling, up to ``max_cooldown_s``), then
    one call probes. Refused callers get :class:`CredentialsUnavailableError` at once, without an STS call.
    """

    def __init__(self, rate_per_s: float, threshold: int, cooldown_s: float, max_cooldown_s: float,
                 clock: Callable[[], float]) -> None:
        self._rate = float(rate_per_s)
        self._burst = max(1.0, float(rate_per_s))
        self._tokens = self._burst
        self._threshold = threshold
        self._base_cooldown = float(cooldown_s)
        self._max_cooldown = float(max_cooldown_s)
        self._cooldown = float(cooldown_s)
        self._clock = clock
        self._stamp = clock()
        self._streak = 0
        self._open_until = float("-inf")
        self._probing = False
        self._lock = threading.Lock()

    def acquire(self) -> None:
        """Allow one AssumeRole call or raise :class:`CredentialsUnavailableError`."""
        with self._lock:
            now = self._clock()
            self._tokens = min(self._burst, self._tokens + max(0.0, now - self._stamp) * self._rate)
            self._stamp = now
            if self._streak == 0:
                return
            if now < self._open_until:
                raise _unavailable(self._open_until - now)
            if self._streak >= self._threshold:  # half-open: one probe at a time
                if self._probing:
                    raise _unavailable(min(self._cooldown, 1.0))
                self._probing = True
            elif self._tokens < 1.0:
                raise _unavailable((1.0 - self._tokens) / self._rate)
            self._tokens = max(0.0, self._tokens - 1.0)

    def record(self, *, throttled: bool) -> None:
        """The outcome of a call :meth:`acquire` allowed."""
        with self._lock:
            self._probing = False
            if not throttled:
                self._streak, self._cooldown = 0, self._base_cooldown
                return
            self._streak += 1
            if self._streak >= self._threshold:
                self._open_until = self._clock() + self._cooldown
                self._cooldown = min(self._max_cooldown, self._cooldown * 2)


class _BreakerOpen(CredentialsUnavailableError):
    """The breaker refused a call: nothing was asked of STS."""


def _unavailable(retry_after_s: float) -> CredentialsUnavailableError:
    seconds = max(1, int(retry_after_s + 0.999))
    return _BreakerOpen(
        f"the token vending machine is throttled; retry after {seconds} s", retry_after_s=seconds
    )


def role_session_name(tenant_id: str, actor_id: str | None = None) -> str:
    """``mesh-<tenant>[-<first 16 chars of actor>]``: attributes the session in CloudTrail, <= 64 chars."""
    name = f"{SESSION_NAME_PREFIX}-{tenant_id}"
    if actor_id:
        name += "-" + actor_id[:SESSION_NAME_ACTOR_CHARS]
    return name


class TenantCredentialBroker:
    """Vends and caches tenant-scoped credentials, and hands out clients that sign with them.

    - the cache key follows ``isolation``: ``tenant`` one slot (and one AssumeRole, tagged TenantID only)
      per tenant, ``user`` one per (tenant, actor); a call without an actor always gets a tenant-only slot;
    - each slot is refreshed ``refresh_margin_s`` before the credentials' own ``Expiration``; the LRU is
      bounded by ``max_entries`` slots and by ``max_bytes`` (an estimate of what the slots hold);
    - single flight: concurrent callers of a cold slot wait on one AssumeRole call (per-slot future, the
      broker lock is never held during a network call);
    - a failed vend is remembered only for ``failure_backoff_s``; throttling is retried with full-jitter
      exponential backoff, at most ``max_sts_attempts`` calls; once STS throttles, calls pass a circuit
      breaker (``max_sts_per_s`` calls per second; ``breaker_threshold`` throttled answers in a row stop calls
      for ``breaker_cooldown_s``, doubling to 30 s) that fails fast with a 503 and a Retry-After;
    - while a refresh is in flight or backing off, callers keep getting the previous credentials as long as
      at least half the refresh margin of their lifetime remains;
    - a call refused with an expired or unknown token, or AccessDenied with cached credentials (a revoked
      session), drops the slot's credentials, re-vends once and repeats the call once.

    ``external_id`` is sent as ``ExternalId`` on every AssumeRole, for roles whose trust policy requires
    ``sts:ExternalId`` (the cross-account worker access roles). ``session`` makes the STS client; the tenant
    clients always come from the container's shared session (:func:`runtime.aws_clients.shared_session`).
    """

    def __init__(
        self,
        role_arn: str,
        *,
        region: str,
        sts_client: Any = None,
        session: Any = None,
        isolation: str = memory.ISOLATION_USER,
        duration_seconds: int = 3600,
        refresh_margin_s: float = 300.0,
        max_entries: int = 4096,
        max_bytes: int = 64 * 1024 * 1024,
        failure_backoff_s: float = 1.0,
        max_sts_attempts: int = 4,
        retry_base_delay_s: float = 0.2,
        retry_max_delay_s: float = 2.0,
        max_sts_per_s: float = 50.0,
        breaker_threshold: int = 5,
        breaker_cooldown_s: float = 1.0,
        denied_revend_interval_s: float = 60.0,
        set_source_identity: bool = True,
        client_config: Any = None,
        external_id: str | None = None,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
    ) -> None:
        self.role_arn = validate_role_arn(role_arn)
        self.region = validate_region(region)
        if isolation not in memory.ISOLATION_LEVELS:
            raise InvalidInputError("isolation", isolation, f"must be one of {', '.join(memory.ISOLATION_LEVELS)}")
        _check_number("duration_seconds", duration_seconds, _MIN_DURATION_S, _MAX_DURATION_S, integer=True)
        _check_number("refresh_margin_s", refresh_margin_s, 0, duration_seconds - 60)
        _check_number("max_entries", max_entries, 1, 1_000_000, integer=True)
        _check_number("max_bytes", max_bytes, 64 * 1024, 64 * 1024**3, integer=True)
        _check_number("failure_backoff_s", failure_backoff_s, 0, 300)
        _check_number("max_sts_attempts", max_sts_attempts, 1, 10, integer=True)
        _check_number("retry_base_delay_s", retry_base_delay_s, 0, 60)
        _check_number("retry_max_delay_s", retry_max_delay_s, 0, 300)
        _check_number("max_sts_per_s", max_sts_per_s, 0.1, 10_000)
        _check_number("breaker_threshold", breaker_threshold, 1, 1000, integer=True)
        _check_number("breaker_cooldown_s", breaker_cooldown_s, 0.01, 300)
        _check_number("denied_revend_interval_s", denied_revend_interval_s, 0, 86_400)
        if external_id is not None and not rules.EXTERNAL_ID.matches(external_id):
            shown = f"<{len(external_id)} characters>" if isinstance(external_id, str) else external_id
            raise InvalidInputError(
                "external_id", shown, f"must be {rules.EXTERNAL_ID.sentence} (sts:ExternalId)"
            )
        self.isolation = isolation
        self.duration_seconds = duration_seconds
        self.set_source_identity = set_source_identity
        self.external_id = external_id
        self._refresh_margin = float(refresh_margin_s)
        self._max_entries = max_entries
        self._max_bytes = max_bytes
        self._failure_backoff = float(failure_backoff_s)
        self._max_attempts = max_sts_attempts
        self._base_delay = float(retry_base_delay_s)
        self._max_delay = float(retry_max_delay_s)
        self._denied_interval = float(denied_revend_interval_s)
        self._clock = clock
        self._sleep = sleep
        self._rng = rng or random.Random()
        self._breaker = _StsBreaker(max_sts_per_s, breaker_threshold, breaker_cooldown_s, 30.0, clock)

        from botocore.config import Config

        self._client_config = client_config or _default_client_config()
        self._session = session if session is not None else aws_clients.shared_session()
        if sts_client is None:
            # Regional STS endpoint (lower latency, survives a us-east-1 outage); botocore's standard mode
            # retries transient errors once, the broker's own loop retries throttling with full jitter.
            sts_client = self._session.client(
                "sts",
                region_name=self.region,
                config=Config(
                    retries={"mode": "standard", "total_max_attempts": 2}, connect_timeout=3, read_timeout=10
                ),
            )
        self.sts_client = sts_client

        self._lock = threading.Lock()
        self._entries: OrderedDict[tuple[str, str | None], _Entry] = OrderedDict()
        self._bytes = 0
        self._counts = dict.fromkeys(BrokerStats.__dataclass_fields__, 0)

    # -- public API -------------------------------------------------------------------------------

    @property
    def stats(self) -> BrokerStats:
        """A snapshot of the counters."""
        with self._lock:
            return BrokerStats(**{**self._counts, "cached_bytes": self._bytes})

    def __len__(self) -> int:
        return len(self._entries)

    def cache_key(self, tenant_id: str, actor_id: str | None = None) -> tuple[str, str | None]:
        """The slot a (tenant, actor) request uses: the tenant alone under ``tenant`` isolation."""
        return (tenant_id, actor_id if self.isolation == memory.ISOLATION_USER else None)

    def client(self, service_name: str, tenant_id: str, actor_id: str | None = None) -> Any:
        """A client for ``service_name`` whose calls sign with the tag set's credentials (vended if needed)."""
        key = self.cache_key(tenant_id, actor_id)
        try:
            with self._lock:
                entry = self._entries.get(key)
                if entry is not None and entry.creds is not None and self._clock() < entry.refresh_at:
                    client = entry.clients.get(service_name)
                    if client is not None:
                        self._entries.move_to_end(key)
                        self._counts["cache_hits"] += 1
                        return client
        except TypeError:  # unhashable id: let validation name it
            pass
        return self._client_slow(service_name, tenant_id, actor_id)

    def credentials(self, tenant_id: str, actor_id: str | None = None) -> ScopedCredentials:
        """Credentials for the request's slot, vending them if the cache has none fresh."""
        return self._acquire(tenant_id, actor_id)[1]

    def invalidate(self, tenant_id: str, actor_id: str | None = None) -> int:
        """Drop cached credentials and clients: of one tag set, or with ``actor_id=None`` all of the tenant's."""
        with self._lock:
            keys = [
                key
                for key in self._entries
                if key[0] == tenant_id and (actor_id is None or key[1] == self.cache_key(tenant_id, actor_id)[1])
            ]
            for key in keys:
                self._drop_entry(key)
            self._counts["invalidations"] += len(keys)
        return len(keys)

    # -- cache ------------------------------------------------------------------------------------

    def _client_slow(self, service_name: str, tenant_id: str, actor_id: str | None) -> Any:
        if not isinstance(service_name, str) or not service_name:
            raise InvalidInputError("service_name", service_name, "must be an AWS service name such as 's3vectors'")
        entry, _ = self._acquire(tenant_id, actor_id)
        key = self.cache_key(tenant_id, actor_id)
        with self._lock:
            client = entry.clients.get(service_name)
        if client is not None:
            return client
        from botocore.exceptions import UnknownServiceError

        try:
            shared = aws_clients.context_client(service_name, self.region, self._client_config)
        except UnknownServiceError:
            raise InvalidInputError(
                "service_name", service_name, "must be an AWS service name known to botocore"
            ) from None
        with self._lock:
            client = entry.clients.get(service_name)
            if client is None:
                client = entry.clients[service_name] = ScopedClient(self, key, shared)
                self._counts["clients_created"] += 1
                self._resize(entry, entry.bytes + SCOPED_CLIENT_BYTES)
        return client

    def _call(self, key: tuple[str, str | None], method: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        """One API call of a scoped client: sign with the slot's credentials; re-vend once if they went stale."""
        from botocore.exceptions import ClientError

        entry, creds, fresh = self._acquire_ex(*key)
        try:
            with aws_clients.bound(creds.access_key_id, creds.secret_access_key, creds.session_token):
                return method(*args, **kwargs)
        except ClientError as error:
            if fresh or not self._stale(error, entry):
                raise
            code = error.response.get("Error", {}).get("Code", "")
        logger.warning("cached credentials of tenant %s were refused (%s); vending new ones", key[0], code)
        with self._lock:
            if entry.creds is creds:
                entry.creds, entry.refresh_at = None, 0.0
            self._counts["revends"] += 1
        entry, creds, _ = self._acquire_ex(*key)
        with aws_clients.bound(creds.access_key_id, creds.secret_access_key, creds.session_token):
            return method(*args, **kwargs)

    def _stale(self, error: Any, entry: _Entry) -> bool:
        code = error.response.get("Error", {}).get("Code", "")
        if code in STALE_CREDENTIAL_CODES:
            return True
        if code not in _ACCESS_DENIED_CODES:
            return False
        # IAM's "revoke active sessions" is an explicit deny on sessions issued before it (aws:TokenIssueTime),
        # and AWS names an explicit deny in the message; "no policy allows" is an answer, not a stale session
        # (e.g. a user index that does not exist yet has no tags to match). Still at most once per interval.
        message = str(error.response.get("Error", {}).get("Message", ""))
        if "explicit deny" not in message:
            return False
        with self._lock:
            now = self._clock()
            if now - entry.denied_at < self._denied_interval:
                return False
            entry.denied_at = now
            return True

    def _acquire(self, tenant_id: str, actor_id: str | None) -> tuple[_Entry, ScopedCredentials]:
        entry, creds, _ = self._acquire_ex(tenant_id, actor_id)
        return entry, creds

    def _acquire_ex(self, tenant_id: str, actor_id: str | None) -> tuple[_Entry, ScopedCredentials, bool]:
        """(slot, credentials, whether they were vended for this caller rather than taken from the cache)."""
        self._validate_key(tenant_id, actor_id)
        key = self.cache_key(tenant_id, actor_id)
        with self._lock:
            now = self._clock()
            entry = self._entries.get(key)
            if entry is None:
                entry = self._entries[key] = _Entry()
                self._bytes += entry.bytes
                self._evict_over_limit()
            else:
                self._entries.move_to_end(key)
            creds = entry.creds
            if creds is not None and now < entry.refresh_at:
                self._counts["cache_hits"] += 1
                return entry, creds, False
            still_usable = creds is not None and now < creds.expiration - self._refresh_margin / 2
            if entry.pending is not None or (entry.failure is not None and now < entry.failure_until):
                if still_usable:
                    self._counts["cache_hits"] += 1
                    return entry, creds, False  # type: ignore[return-value]
                if entry.pending is None:  # inside the backoff: fail fast, no STS call
                    raise entry.failure.with_traceback(None)  # type: ignore[union-attr]
                future, leader = entry.pending, False
            else:
                future, leader = Future(), True
                entry.pending = future
            self._counts["cache_misses"] += 1
        if not leader:
            return entry, future.result(), True
        return entry, self._vend_as_leader(entry, future, *key), True

    def _vend_as_leader(
        self, entry: _Entry, future: Future[ScopedCredentials], tenant_id: str, actor_id: str | None
    ) -> ScopedCredentials:
        try:
            creds = self._assume_role(tenant_id, actor_id)
        except _BreakerOpen as err:
            # The breaker refused: nothing was asked of STS, so nothing is remembered for the slot.
            with self._lock:
                entry.pending = None
                fallback = entry.creds
                usable = fallback is not None and self._clock() < fallback.expiration - self._refresh_margin / 2
            if usable:
                future.set_result(fallback)  # type: ignore[arg-type]
                return fallback  # type: ignore[return-value]
            future.set_exception(err)
            raise
        except MemoryMeshError as err:
            error = err
        except Exception:
            logger.exception("credential vend failed unexpectedly for tenant %s", tenant_id)
            error = CredentialError(f"could not vend credentials for tenant_id={tenant_id!r} (internal error)")
        except BaseException:
            # Interrupted (KeyboardInterrupt, SystemExit): release the waiters, remember nothing.
            with self._lock:
                entry.pending = None
            future.set_exception(CredentialError("credential vend was interrupted"))
            raise
        else:
            return self._store(entry, future, creds)
        fallback = self._record_failure(entry, error)
        if fallback is not None:
            future.set_result(fallback)
            return fallback
        future.set_exception(error)
        raise error

    def _store(
        self, entry: _Entry, future: Future[ScopedCredentials], creds: ScopedCredentials
    ) -> ScopedCredentials:
        with self._lock:
            if entry.creds is not None:
                self._counts["refreshes"] += 1
            entry.creds = creds
            entry.refresh_at = self._refresh_time(creds)
            entry.pending = None
            entry.failure = None
            size = SLOT_OVERHEAD_BYTES + len(entry.clients) * SCOPED_CLIENT_BYTES + _creds_bytes(creds)
            self._resize(entry, size)
        future.set_result(creds)
        return creds

    def _record_failure(self, entry: _Entry, error: MemoryMeshError) -> ScopedCredentials | None:
        """Remember ``error`` for the backoff; return the previous credentials if they may still be served."""
        with self._lock:
            now = self._clock()
            entry.pending = None
            entry.failure = error
            entry.failure_until = now + self._failure_backoff
            self._counts["failures"] += 1
            creds = entry.creds
            if isinstance(error, AccessDeniedError):
                entry.creds = None
                return None
            if creds is not None and now < creds.expiration - self._refresh_margin / 2:
                return creds
        return None

    def _refresh_time(self, creds: ScopedCredentials) -> float:
        lifetime = creds.expiration - self._clock()
        return creds.expiration - min(self._refresh_margin, max(lifetime, 0.0) / 2)

    def _resize(self, entry: _Entry, size: int) -> None:
        """Under the lock: account for a slot's new size and evict others if the cache outgrew its bounds."""
        self._bytes += size - entry.bytes
        entry.bytes = size
        self._evict_over_limit()

    def _evict_over_limit(self) -> None:
        while len(self._entries) > 1 and (
            len(self._entries) > self._max_entries or self._bytes > self._max_bytes
        ):
            key = next(iter(self._entries))
            self._drop_entry(key)
            self._counts["evictions"] += 1

    def _drop_entry(self, key: tuple[str, str | None]) -> None:
        evicted = self._entries.pop(key)
        self._bytes -= evicted.bytes
        evicted.clients = {}

    def _validate_key(self, tenant_id: Any, actor_id: Any) -> None:
        validate_tenant_id(tenant_id)
        if actor_id is not None:
            validate_actor_id(actor_id)
            if self.set_source_identity and self.isolation == memory.ISOLATION_USER and len(actor_id) < 2:
                raise InvalidInputError(
                    "actor_id",
                    actor_id,
                    "must be at least 2 characters when the broker sets SourceIdentity "
                    "(sts:AssumeRole SourceIdentity is 2-64 characters)",
                )

    # -- STS --------------------------------------------------------------------------------------

    def _assume_role_params(self, tenant_id: str, actor_id: str | None) -> dict[str, Any]:
        tags = [{"Key": TENANT_TAG_KEY, "Value": tenant_id}]
        if actor_id is not None:
            tags.append({"Key": ACTOR_TAG_KEY, "Value": actor_id})
        params: dict[str, Any] = {
            "RoleArn": self.role_arn,
            "RoleSessionName": role_session_name(tenant_id, actor_id),
            "DurationSeconds": self.duration_seconds,
            "Tags": tags,
        }
        if actor_id is not None and self.set_source_identity:
            params["SourceIdentity"] = actor_id
        if self.external_id is not None:
            params["ExternalId"] = self.external_id
        return params

    def _assume_role(self, tenant_id: str, actor_id: str | None) -> ScopedCredentials:
        from botocore.exceptions import BotoCoreError, ClientError

        params = self._assume_role_params(tenant_id, actor_id)
        for attempt in range(1, self._max_attempts + 1):
            try:
                self._breaker.acquire()
            except _BreakerOpen:
                with self._lock:
                    self._counts["breaker_rejections"] += 1
                logger.warning("sts:AssumeRole not called for tenant %s: the circuit breaker is open", tenant_id)
                raise
            with self._lock:
                self._counts["sts_calls"] += 1
            try:
                response = self.sts_client.assume_role(**params)
            except ClientError as err:
                code = err.response.get("Error", {}).get("Code", "") or "Unknown"
                throttled = code in _THROTTLE_CODES
                self._breaker.record(throttled=throttled)
                if throttled and attempt < self._max_attempts:
                    self._sleep(self._rng.uniform(0, min(self._max_delay, self._base_delay * 2 ** (attempt - 1))))
                    continue
                logger.warning("sts:AssumeRole failed for tenant %s: %s (attempt %d)", tenant_id, code, attempt)
                raise _translate(code, tenant_id, attempt, self._failure_backoff) from None
            except BotoCoreError as err:
                self._breaker.record(throttled=False)
                logger.warning("sts:AssumeRole failed for tenant %s: %s", tenant_id, type(err).__name__)
                raise CredentialError(
                    f"could not vend credentials for tenant_id={tenant_id!r}: STS unreachable ({type(err).__name__})"
                ) from None
            self._breaker.record(throttled=False)
            return _scoped(response["Credentials"], tenant_id, actor_id)
        raise AssertionError("unreachable")  # pragma: no cover


def _translate(code: str, tenant_id: str, attempts: int, retry_after_s: float) -> MemoryMeshError:
    if code in _ACCESS_DENIED_CODES:
        return AccessDeniedError(
            f"tenant_id={tenant_id!r} may not receive credentials: the token vending machine role "
            f"refused sts:AssumeRole ({code})"
        )
    if code in _THROTTLE_CODES:
        return CredentialsUnavailableError(
            f"could not vend credentials for tenant_id={tenant_id!r}: STS throttled "
            f"sts:AssumeRole after {attempts} attempts ({code})", retry_after_s=max(1.0, retry_after_s)
        )
    return CredentialError(f"could not vend credentials for tenant_id={tenant_id!r}: sts:AssumeRole failed ({code})")


def _scoped(raw: dict[str, Any], tenant_id: str, actor_id: str | None) -> ScopedCredentials:
    expiration = raw["Expiration"]
    if isinstance(expiration, datetime):
        if expiration.tzinfo is None:
            expiration = expiration.replace(tzinfo=UTC)
        expires_at = expiration.timestamp()
    else:
        expires_at = float(expiration)
    return ScopedCredentials(
        tenant_id=tenant_id,
        actor_id=actor_id,
        access_key_id=raw["AccessKeyId"],
        secret_access_key=raw["SecretAccessKey"],
        session_token=raw["SessionToken"],
        expiration=expires_at,
    )


def _creds_bytes(creds: ScopedCredentials) -> int:
    strings = (creds.tenant_id, creds.actor_id, creds.access_key_id, creds.secret_access_key, creds.session_token)
    return sum(sys.getsizeof(s) for s in strings if s is not None)


_DEFAULT_CONFIG: Any = None


def _default_client_config() -> Any:
    """One Config object for every broker without its own: the shared clients are keyed by it."""
    global _DEFAULT_CONFIG
    if _DEFAULT_CONFIG is None:
        from botocore.config import Config

        _DEFAULT_CONFIG = Config(retries={"mode": "standard", "total_max_attempts": 3})
    return _DEFAULT_CONFIG


def _check_number(name: str, value: Any, low: float, high: float, *, integer: bool = False) -> None:
    kinds = (int,) if integer else (int, float)
    if isinstance(value, bool) or not isinstance(value, kinds) or not low <= value <= high:
        kind = "an integer" if integer else "a number"
        raise InvalidInputError(name, value, f"must be {kind} from {low} to {high}")
