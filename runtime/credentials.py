"""The token vending machine client: tenant-scoped credentials from sts:AssumeRole with session tags.

IAM enforces isolation: the TVM role's policies name resources through ``${aws:PrincipalTag/TenantID}``
(and ``ActorID``), so a client from :meth:`TenantCredentialBroker.client` can only reach its tenant's data.
"""

from __future__ import annotations

import logging
import random
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from runtime.contract import memory, rules
from runtime.errors import AccessDeniedError, CredentialError, InvalidInputError, MemoryMeshError
from runtime.identity import validate_actor_id, validate_tenant_id
from runtime.settings import validate_region, validate_role_arn

TENANT_TAG_KEY = memory.TENANT_TAG
ACTOR_TAG_KEY = memory.ACTOR_TAG
SESSION_NAME_PREFIX = "mesh"
#: Characters of the actor id kept in the role session name: "mesh-<tenant <= 40>-<actor[:16]>" <= 62 <= 64.
SESSION_NAME_ACTOR_CHARS = 16

_THROTTLE_CODES = frozenset({"Throttling", "ThrottlingException", "RequestLimitExceeded", "TooManyRequestsException"})
_ACCESS_DENIED_CODES = frozenset({"AccessDenied", "AccessDeniedException"})
# sts:AssumeRole DurationSeconds is 900-43200 (the role's MaxSessionDuration caps it further).
_MIN_DURATION_S = 900
_MAX_DURATION_S = 43200

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ScopedCredentials:
    """Credentials vended for one (tenant, actor) tag set; ``expiration`` is epoch seconds."""

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


class _Entry:
    """Cache slot of one tag set: current credentials, their clients, an in-flight vend, a recent failure."""

    __slots__ = ("creds", "refresh_at", "clients", "pending", "failure", "failure_until")

    def __init__(self) -> None:
        self.creds: ScopedCredentials | None = None
        self.refresh_at = 0.0
        self.clients: dict[str, Any] = {}
        self.pending: Future[ScopedCredentials] | None = None
        self.failure: MemoryMeshError | None = None
        self.failure_until = 0.0


def role_session_name(tenant_id: str, actor_id: str | None = None) -> str:
    """``mesh-<tenant>[-<first 16 chars of actor>]``: attributes the session in CloudTrail, <= 64 chars."""
    name = f"{SESSION_NAME_PREFIX}-{tenant_id}"
    if actor_id:
        name += "-" + actor_id[:SESSION_NAME_ACTOR_CHARS]
    return name


class TenantCredentialBroker:
    """Vends and caches tenant-scoped credentials and the boto3 clients bound to them.

    - one cache slot per tag set (tenant, actor), refreshed ``refresh_margin_s`` before the credentials'
      own ``Expiration``; bounded LRU of ``max_entries`` slots;
    - single flight: concurrent callers of a cold slot wait on one AssumeRole call (per-slot future, the
      broker lock is never held during a network call);
    - a failed vend is remembered only for ``failure_backoff_s``; throttling is retried with full-jitter
      exponential backoff, at most ``max_sts_attempts`` calls;
    - while a refresh is in flight or backing off, callers keep getting the previous credentials as long as
      at least half the refresh margin of their lifetime remains.

    ``external_id`` is sent as ``ExternalId`` on every AssumeRole, for roles whose trust policy requires
    ``sts:ExternalId`` (the cross-account worker access roles).
    """

    def __init__(
        self,
        role_arn: str,
        *,
        region: str,
        sts_client: Any = None,
        session: Any = None,
        duration_seconds: int = 3600,
        refresh_margin_s: float = 300.0,
        max_entries: int = 1024,
        failure_backoff_s: float = 1.0,
        max_sts_attempts: int = 4,
        retry_base_delay_s: float = 0.2,
        retry_max_delay_s: float = 2.0,
        set_source_identity: bool = True,
        client_config: Any = None,
        external_id: str | None = None,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
    ) -> None:
        self.role_arn = validate_role_arn(role_arn)
        self.region = validate_region(region)
        _check_number("duration_seconds", duration_seconds, _MIN_DURATION_S, _MAX_DURATION_S, integer=True)
        _check_number("refresh_margin_s", refresh_margin_s, 0, duration_seconds - 60)
        _check_number("max_entries", max_entries, 1, 1_000_000, integer=True)
        _check_number("failure_backoff_s", failure_backoff_s, 0, 300)
        _check_number("max_sts_attempts", max_sts_attempts, 1, 10, integer=True)
        _check_number("retry_base_delay_s", retry_base_delay_s, 0, 60)
        _check_number("retry_max_delay_s", retry_max_delay_s, 0, 300)
        if external_id is not None and not rules.EXTERNAL_ID.matches(external_id):
            shown = f"<{len(external_id)} characters>" if isinstance(external_id, str) else external_id
            raise InvalidInputError(
                "external_id", shown, f"must be {rules.EXTERNAL_ID.sentence} (sts:ExternalId)"
            )
        self.duration_seconds = duration_seconds
        self.set_source_identity = set_source_identity
        self.external_id = external_id
        self._refresh_margin = float(refresh_margin_s)
        self._max_entries = max_entries
        self._failure_backoff = float(failure_backoff_s)
        self._max_attempts = max_sts_attempts
        self._base_delay = float(retry_base_delay_s)
        self._max_delay = float(retry_max_delay_s)
        self._clock = clock
        self._sleep = sleep
        self._rng = rng or random.Random()

        from botocore.config import Config

        self._client_config = client_config or Config(retries={"mode": "standard", "total_max_attempts": 3})
        self._session = session if session is not None else _new_session()
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
        # Client creation from one shared session is serialized: sessions are not documented thread-safe.
        self._client_lock = threading.Lock()
        self._entries: OrderedDict[tuple[str, str | None], _Entry] = OrderedDict()
        self._counts = dict.fromkeys(BrokerStats.__dataclass_fields__, 0)

    # -- public API -------------------------------------------------------------------------------

    @property
    def stats(self) -> BrokerStats:
        """A snapshot of the counters."""
        with self._lock:
            return BrokerStats(**self._counts)

    def __len__(self) -> int:
        return len(self._entries)

    def client(self, service_name: str, tenant_id: str, actor_id: str | None = None) -> Any:
        """A boto3 client for ``service_name`` bound to the tag set's credentials; reused while they are fresh."""
        key = (tenant_id, actor_id)
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
        """Credentials for the tag set (TenantID[, ActorID]), vending them if the cache has none fresh."""
        return self._acquire(tenant_id, actor_id)[1]

    def invalidate(self, tenant_id: str, actor_id: str | None = None) -> int:
        """Drop cached credentials and clients: of one tag set, or with ``actor_id=None`` all of the tenant's."""
        with self._lock:
            keys = [
                key
                for key in self._entries
                if key[0] == tenant_id and (actor_id is None or key[1] == actor_id)
            ]
            for key in keys:
                self._entries.pop(key).clients = {}
        return len(keys)

    # -- cache ------------------------------------------------------------------------------------

    def _client_slow(self, service_name: str, tenant_id: str, actor_id: str | None) -> Any:
        if not isinstance(service_name, str) or not service_name:
            raise InvalidInputError("service_name", service_name, "must be an AWS service name such as 's3vectors'")
        entry, creds = self._acquire(tenant_id, actor_id)
        with self._lock:
            client = entry.clients.get(service_name) if entry.creds is creds else None
        if client is not None:
            return client
        from botocore.exceptions import UnknownServiceError

        with self._client_lock:
            with self._lock:
                client = entry.clients.get(service_name) if entry.creds is creds else None
            if client is not None:
                return client
            try:
                client = self._session.client(
                    service_name, region_name=self.region, config=self._client_config, **creds.client_kwargs()
                )
            except UnknownServiceError:
                raise InvalidInputError(
                    "service_name", service_name, "must be an AWS service name known to botocore"
                ) from None
            with self._lock:
                self._counts["clients_created"] += 1
                if entry.creds is creds:
                    entry.clients[service_name] = client
        return client

    def _acquire(self, tenant_id: str, actor_id: str | None) -> tuple[_Entry, ScopedCredentials]:
        self._validate_key(tenant_id, actor_id)
        key = (tenant_id, actor_id)
        with self._lock:
            now = self._clock()
            entry = self._entries.get(key)
            if entry is None:
                entry = self._entries[key] = _Entry()
                self._evict_over_limit()
            else:
                self._entries.move_to_end(key)
            creds = entry.creds
            if creds is not None and now < entry.refresh_at:
                self._counts["cache_hits"] += 1
                return entry, creds
            still_usable = creds is not None and now < creds.expiration - self._refresh_margin / 2
            if entry.pending is not None or (entry.failure is not None and now < entry.failure_until):
                if still_usable:
                    self._counts["cache_hits"] += 1
                    return entry, creds  # type: ignore[return-value]
                if entry.pending is None:  # inside the backoff: fail fast, no STS call
                    raise entry.failure.with_traceback(None)  # type: ignore[union-attr]
                future, leader = entry.pending, False
            else:
                future, leader = Future(), True
                entry.pending = future
            self._counts["cache_misses"] += 1
        if not leader:
            return entry, future.result()
        return entry, self._vend_as_leader(entry, future, tenant_id, actor_id)

    def _vend_as_leader(
        self, entry: _Entry, future: Future[ScopedCredentials], tenant_id: str, actor_id: str | None
    ) -> ScopedCredentials:
        try:
            creds = self._assume_role(tenant_id, actor_id)
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
            entry.clients = {}
            entry.refresh_at = self._refresh_time(creds)
            entry.pending = None
            entry.failure = None
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
                entry.creds, entry.clients = None, {}
                return None
            if creds is not None and now < creds.expiration - self._refresh_margin / 2:
                return creds
        return None

    def _refresh_time(self, creds: ScopedCredentials) -> float:
        lifetime = creds.expiration - self._clock()
        return creds.expiration - min(self._refresh_margin, max(lifetime, 0.0) / 2)

    def _evict_over_limit(self) -> None:
        while len(self._entries) > self._max_entries:
            _, evicted = self._entries.popitem(last=False)
            evicted.clients = {}
            self._counts["evictions"] += 1

    def _validate_key(self, tenant_id: Any, actor_id: Any) -> None:
        validate_tenant_id(tenant_id)
        if actor_id is not None:
            validate_actor_id(actor_id)
            if self.set_source_identity and len(actor_id) < 2:
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
            with self._lock:
                self._counts["sts_calls"] += 1
            try:
                response = self.sts_client.assume_role(**params)
            except ClientError as err:
                code = err.response.get("Error", {}).get("Code", "") or "Unknown"
                if code in _THROTTLE_CODES and attempt < self._max_attempts:
                    self._sleep(self._rng.uniform(0, min(self._max_delay, self._base_delay * 2 ** (attempt - 1))))
                    continue
                logger.warning("sts:AssumeRole failed for tenant %s: %s (attempt %d)", tenant_id, code, attempt)
                raise _translate(code, tenant_id, attempt) from None
            except BotoCoreError as err:
                logger.warning("sts:AssumeRole failed for tenant %s: %s", tenant_id, type(err).__name__)
                raise CredentialError(
                    f"could not vend credentials for tenant_id={tenant_id!r}: STS unreachable ({type(err).__name__})"
                ) from None
            return _scoped(response["Credentials"], tenant_id, actor_id)
        raise AssertionError("unreachable")  # pragma: no cover


def _translate(code: str, tenant_id: str, attempts: int) -> MemoryMeshError:
    if code in _ACCESS_DENIED_CODES:
        return AccessDeniedError(
            f"tenant_id={tenant_id!r} may not receive credentials: the token vending machine role "
            f"refused sts:AssumeRole ({code})"
        )
    if code in _THROTTLE_CODES:
        return CredentialError(
            f"could not vend credentials for tenant_id={tenant_id!r}: STS throttled "
            f"sts:AssumeRole after {attempts} attempts ({code})"
        )
    return CredentialError(f"could not vend credentials for tenant_id={tenant_id!r}: sts:AssumeRole failed ({code})")


def _scoped(raw: dict[str, Any], tenant_id: str, actor_id: str | None) -> ScopedCredentials:
    expiration = raw["Expiration"]
    if isinstance(expiration, datetime):
        if expiration.tzinfo is None:
            expiration = expiration.replace(tzinfo=timezone.utc)
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


def _new_session() -> Any:
    import boto3
    import botocore.session

    core = botocore.session.Session()
    core.set_config_variable("sts_regional_endpoints", "regional")
    return boto3.session.Session(botocore_session=core)


def _check_number(name: str, value: Any, low: float, high: float, *, integer: bool = False) -> None:
    kinds = (int,) if integer else (int, float)
    if isinstance(value, bool) or not isinstance(value, kinds) or not low <= value <= high:
        kind = "an integer" if integer else "a number"
        raise InvalidInputError(name, value, f"must be {kind} from {low} to {high}")
