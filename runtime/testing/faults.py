"""Faults the emulation injects *through* botocore's retry machinery, per service and operation.

Attach with ``aws.faults = Faults()`` (or ``Faults().attach(aws)``) inside ``emulated_aws()``. The emulation
then answers S3 Vectors, AgentCore and STS calls at botocore's ``before-send`` seam, once per HTTP attempt,
instead of at ``before-call`` (which would answer the whole call, retries and all). A fault answers one
attempt with an HTTP response botocore parses (throttling, 5xx, expired token), raises botocore's own
``ReadTimeoutError`` (a timeout), or waits first (latency); botocore's standard and adaptive retry modes then
count, back off and retry exactly as they would against AWS.

:meth:`Faults.agentcore_create_event_quota` models AgentCore Memory's documented CreateEvent rate per actor
and session (and per account): calls above it answer ``ThrottledException``.

Faults reach only the three services above; STS attempts no fault answers are left to moto.
"""

from __future__ import annotations

import re
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ReadTimeoutError
from botocore.handlers import BUILTIN_HANDLERS

from runtime.testing._model import ServiceError, build_response

__all__ = ["CREATE_EVENT_TPS_PER_ACCOUNT", "CREATE_EVENT_TPS_PER_ACTOR_SESSION", "Fault", "Faults"]

#: Services whose calls the emulation answers per attempt when faults are attached.
SERVICES = ("s3vectors", "bedrock-agentcore", "sts")

# AgentCore Memory quotas, "Quotas for Amazon Bedrock AgentCore", section AgentCore Memory Service Quotas:
# https://docs.aws.amazon.com/bedrock-agentcore/latest/devguide/bedrock-agentcore-limits.html#memory-limits
# CreateEvent: 5 requests per second per actor per session for conversational payloads (10 for other
# payloads), and 200 requests per second per account and Region.
CREATE_EVENT_TPS_PER_ACTOR_SESSION = 5.0
CREATE_EVENT_TPS_PER_ACTOR_SESSION_BLOB = 10.0
CREATE_EVENT_TPS_PER_ACCOUNT = 200.0

#: The throttling error each service answers (its model's), and how STS spells it (query protocol, unmodeled).
_THROTTLE = {"s3vectors": ("TooManyRequestsException", 429), "bedrock-agentcore": ("ThrottledException", 429),
             "sts": ("Throttling", 400)}
_SERVER_ERROR = {"s3vectors": ("InternalServerException", 500), "bedrock-agentcore": ("ServiceException", 500),
                 "sts": ("InternalFailure", 500)}
_EXPIRED = {"s3vectors": ("ExpiredTokenException", 403), "bedrock-agentcore": ("ExpiredTokenException", 403),
            "sts": ("ExpiredToken", 403)}
_ANSWERED_URL = "https://answered.runtime-testing.invalid/"
_ACCESS_KEY = re.compile(r"Credential=([^/,\s]+)/")


@dataclass
class Fault:
    """One rule: which calls (service, operation or any), what happens, for how many attempts (None: all)."""

    kind: str
    service: str
    operation: str | None = None
    times: int | None = None
    seconds: float = 0.0
    code: str | None = None
    status: int | None = None
    access_keys: frozenset[str] | None = None
    fired: int = 0

    def matches(self, service: str, operation: str, access_key: str | None) -> bool:
        """Whether this rule applies to an attempt (and has attempts left)."""
        if self.service != service or (self.operation is not None and self.operation != operation):
            return False
        if self.access_keys is not None and access_key not in self.access_keys:
            return False
        return self.times is None or self.fired < self.times


@dataclass
class _Bucket:
    rate: float
    tokens: float
    stamp: float

    def take(self, now: float) -> bool:
        self.tokens = min(self.rate, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens < 1.0:
            return False
        self.tokens -= 1.0
        return True


@dataclass
class _Quota:
    per_actor_session: float
    per_actor_session_blob: float
    per_account: float
    account: _Bucket | None = None
    sessions: dict[tuple[str, str, bool], _Bucket] = field(default_factory=dict)


class Faults:
    """Fault rules and the CreateEvent quota model; counts every attempt it saw and every fault it injected."""

    def __init__(self, *, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self._clock = clock
        self._sleep = sleep
        self._rules: list[Fault] = []
        self._quota: _Quota | None = None
        self._lock = threading.Lock()
        self.attempts: Counter[tuple[str, str]] = Counter()
        self.injected: Counter[tuple[str, str, str]] = Counter()

    # -- rules ---------------------------------------------------------------------------------------

    def throttle(self, service: str, operation: str | None = None, *, times: int | None = None) -> Fault:
        """Answer the service's own throttling error (AgentCore ThrottledException, S3 Vectors
        TooManyRequestsException, STS Throttling)."""
        code, status = _THROTTLE[_known(service)]
        return self._add(Fault("throttle", service, operation, times, code=code, status=status))

    def server_error(self, service: str, operation: str | None = None, *, times: int | None = None,
                     code: str | None = None, status: int | None = None) -> Fault:
        """Answer a 5xx (default: the service's modeled internal error)."""
        default_code, default_status = _SERVER_ERROR[_known(service)]
        return self._add(Fault("error", service, operation, times, code=code or default_code,
                               status=status or default_status))

    def latency(self, service: str, operation: str | None = None, *, seconds: float,
                times: int | None = None) -> Fault:
        """Wait ``seconds`` before the attempt is answered (by a later rule or the emulation)."""
        return self._add(Fault("latency", _known(service), operation, times, seconds=seconds))

    def timeout(self, service: str, operation: str | None = None, *, after_s: float = 0.0,
                times: int | None = None) -> Fault:
        """Raise botocore's ``ReadTimeoutError`` after ``after_s`` (what a read timeout looks like to a retry)."""
        return self._add(Fault("timeout", _known(service), operation, times, seconds=after_s))

    def expire(self, access_keys: Iterable[str], *, service: str | None = None,
               operation: str | None = None) -> list[Fault]:
        """Refuse calls signed with these access keys as an expired token (ExpiredToken[Exception]), for good."""
        keys = frozenset(access_keys)
        services = (service,) if service else SERVICES
        faults = []
        for name in services:
            code, status = _EXPIRED[_known(name)]
            faults.append(self._add(Fault("expired", name, operation, None, code=code, status=status,
                                          access_keys=keys)))
        return faults

    def agentcore_create_event_quota(
        self,
        *,
        per_actor_session: float = CREATE_EVENT_TPS_PER_ACTOR_SESSION,
        per_actor_session_blob: float = CREATE_EVENT_TPS_PER_ACTOR_SESSION_BLOB,
        per_account: float = CREATE_EVENT_TPS_PER_ACCOUNT,
    ) -> None:
        """Throttle CreateEvent above the documented rates (token buckets; a burst of one second's worth)."""
        with self._lock:
            self._quota = _Quota(per_actor_session, per_actor_session_blob, per_account)

    def clear(self) -> None:
        """Drop every rule and the quota model (counters stay)."""
        with self._lock:
            self._rules.clear()
            self._quota = None

    def attach(self, aws: Any) -> Faults:
        """Let the active emulation answer through these faults."""
        aws.faults = self
        return self

    def _add(self, fault: Fault) -> Fault:
        with self._lock:
            self._rules.append(fault)
        return fault

    # -- the seam ------------------------------------------------------------------------------------

    def answer(self, emulation: Any, call: _Call, request: Any) -> Any:
        """One HTTP attempt: a fault's response (or raise), else the emulation's answer (None: moto's)."""
        service, operation = call.service, call.model.name
        access_key = _access_key_of(request)
        with self._lock:
            self.attempts[(service, operation)] += 1
            chosen: list[Fault] = []
            for rule in self._rules:
                if rule.matches(service, operation, access_key):
                    rule.fired += 1
                    chosen.append(rule)
                    if rule.kind != "latency":
                        break
            throttled = not any(r.kind != "latency" for r in chosen) and self._over_quota(call)
        for rule in chosen:
            if rule.kind == "latency":
                self._sleep(rule.seconds)
                continue
            self._count(service, operation, rule.kind)
            if rule.kind == "timeout":
                if rule.seconds:
                    self._sleep(rule.seconds)
                raise ReadTimeoutError(endpoint_url=getattr(request, "url", ""))
            error = ServiceError(rule.code or "InternalFailure", _message(rule.kind, operation), status=rule.status)
            return build_response(call.model, error, url=getattr(request, "url", ""))[0]
        if throttled:
            self._count(service, operation, "quota")
            error = ServiceError("ThrottledException", "Rate exceeded for CreateEvent", status=429)
            return build_response(call.model, error, url=getattr(request, "url", ""))[0]
        served = emulation._serve(call.model, call.params, call.signer, call.context)
        return None if served is None else served[0]

    def _count(self, service: str, operation: str, kind: str) -> None:
        with self._lock:
            self.injected[(service, operation, kind)] += 1

    def _over_quota(self, call: _Call) -> bool:
        """Under the lock: whether a CreateEvent attempt exceeds the modeled rates (and take its tokens)."""
        quota = self._quota
        if quota is None or call.service != "bedrock-agentcore" or call.model.name != "CreateEvent":
            return False
        from runtime.testing.aws import _PARAMS_KEY

        body = call.context.get(_PARAMS_KEY) or {}
        payload = body.get("payload") or []
        blob = bool(payload) and all("blob" in item for item in payload if isinstance(item, dict))
        now = self._clock()
        key = (str(body.get("actorId")), str(body.get("sessionId")), blob)
        rate = quota.per_actor_session_blob if blob else quota.per_actor_session
        session = quota.sessions.setdefault(key, _Bucket(rate, rate, now))
        if quota.account is None:
            quota.account = _Bucket(quota.per_account, quota.per_account, now)
        return not (session.take(now) and quota.account.take(now))


@dataclass
class _Call:
    """What botocore's ``before-call`` knew about the call whose attempts ``before-send`` now answers."""

    emulation: Any
    service: str
    model: Any
    params: Any
    signer: Any
    context: Any


_LOCAL = threading.local()


def defer(emulation: Any, model: Any, params: Any, signer: Any, context: Any) -> bool:
    """Called from the emulation's ``before-call``: True when faults will answer this call per attempt."""
    service = model.service_model.service_name
    if getattr(emulation, "faults", None) is None or service not in SERVICES:
        _LOCAL.call = None
        return False
    _LOCAL.call = _Call(emulation, service, model, params, signer, context)
    return True


def _before_send(request: Any, event_name: str = "", **_: Any) -> Any:
    call: _Call | None = getattr(_LOCAL, "call", None)
    if call is None or call.emulation.faults is None or not event_name.endswith("." + call.model.name):
        return None
    answer = call.emulation.faults.answer(call.emulation, call, request)
    if answer is not None:
        # botocore calls every 'before-send' handler, moto's catch-all one after this one; an address outside
        # AWS makes moto leave this attempt alone (botocore builds a new request for each retry).
        request.url = _ANSWERED_URL
    return answer


def _after_call(**_: Any) -> None:
    _LOCAL.call = None


def _known(service: str) -> str:
    if service not in SERVICES:
        raise ValueError(f"faults reach {', '.join(SERVICES)} only, not {service!r}")
    return service


def _message(kind: str, operation: str) -> str:
    return {"throttle": f"Rate exceeded for {operation}",
            "expired": "The security token included in the request is expired"}.get(
        kind, "We encountered an internal error. Please try again.")


def _access_key_of(request: Any) -> str | None:
    headers = getattr(request, "headers", {}) or {}
    authorization = headers.get("Authorization") or b""
    if isinstance(authorization, bytes):
        authorization = authorization.decode("ascii", "replace")
    found = _ACCESS_KEY.search(authorization)
    return found.group(1) if found else None


# The emulation's services answer here per attempt when faults are attached: 'before-send.<service>' handlers
# run before moto's catch-all 'before-send' handler (botocore runs the most specific event name's first).
_HANDLERS = [
    *((f"before-send.{service}", _before_send) for service in SERVICES),
    *((f"after-call.{service}", _after_call) for service in SERVICES),
]
for _event_name, _handler in _HANDLERS:
    if (_event_name, _handler) not in BUILTIN_HANDLERS:
        BUILTIN_HANDLERS.append((_event_name, _handler))
