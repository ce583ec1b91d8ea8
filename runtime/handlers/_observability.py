"""Structured JSON logs and EMF metrics for the handlers (Powertools), set up once per container, lazily.

Logs never carry message text, raw claims or other request data: :func:`log` keeps only the fields named
in :data:`LOG_FIELDS`, and actors and sessions appear only as short hashes (``actor_ref``, ``session_ref``).
Metrics go to the ``AgentMemoryMesh`` namespace (``POWERTOOLS_METRICS_NAMESPACE``) and are flushed at the end of each
invocation by :func:`runtime.handlers._http.handle_errors`.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import traceback
import warnings
from typing import Any

from runtime.identity import log_ref

__all__ = [
    "LOG_FIELDS", "WIRE_LOGGERS", "begin", "count", "end", "failed", "lambda_lifecycle", "log", "logger", "metrics",
    "session_ref",
]

DEFAULT_SERVICE = "agent-memory-mesh"
DEFAULT_NAMESPACE = "AgentMemoryMesh"
#: The only fields a handler log line may carry (anything else is dropped before logging).
LOG_FIELDS = frozenset(
    {
        "handler", "route", "status", "code", "error_type", "raised_at", "tenant_id", "actor_ref", "session_ref",
        "worker", "delegated", "memories", "duration_ms", "step", "agent_kind", "backend", "backends_failed",
        "records", "deleted", "batch_size", "failed", "events", "indexes", "queued", "backends_ok", "turns",
        "complete", "sessions",
    }
)
#: Libraries whose DEBUG output carries request and response bodies, headers or credentials (botocore logs the
#: signed request, the Authorization header and every body at DEBUG): held at WARNING whatever LOG_LEVEL says.
WIRE_LOGGERS = ("botocore", "boto3", "urllib3", "s3transfer", "aws_xray_sdk")

_lock = threading.Lock()
_logger: Any = None
_metrics: Any = None


def logger() -> Any:
    """The container's Powertools Logger (JSON to stdout); the ``runtime`` package logs through it in Lambda."""
    global _logger
    if _logger is None:
        with _lock:
            if _logger is None:
                from aws_lambda_powertools import Logger

                level = os.environ.get("LOG_LEVEL") or None
                service = os.environ.get("POWERTOOLS_SERVICE_NAME") or DEFAULT_SERVICE
                created = Logger(service=service, level=level, stream=_CurrentStdout())  # type: ignore[arg-type]
                quiet_wire_logs()
                if os.environ.get("AWS_LAMBDA_FUNCTION_NAME"):
                    _route_runtime_logs(created)
                _logger = created
    return _logger


def reset() -> None:
    """Forget the container's logger and metrics (tests changing LOG_LEVEL)."""
    global _logger, _metrics
    with _lock:
        _logger = None
        _metrics = None


def metrics() -> Any:
    """The container's Powertools Metrics (CloudWatch EMF)."""
    global _metrics
    if _metrics is None:
        with _lock:
            if _metrics is None:
                from aws_lambda_powertools import Metrics

                namespace = os.environ.get("POWERTOOLS_METRICS_NAMESPACE") or DEFAULT_NAMESPACE
                _metrics = Metrics(namespace=namespace)
    return _metrics


def log(level: str, message: str, **fields: Any) -> None:
    """Log ``message`` with the allowed ``fields`` (others and None values are dropped); never raises."""
    try:
        if "actor" in fields:
            # An actor id from a service caller may be personal: logs carry only a short hash of it.
            fields["actor_ref"] = log_ref(fields.pop("actor"))
        extra = {key: value for key, value in fields.items() if key in LOG_FIELDS and value is not None}
        getattr(logger(), level)(message, extra=extra)
    except Exception:  # logging must never turn an answer into a failure
        pass


def count(name: str, value: float = 1) -> None:
    """Add to a Count metric of this invocation; never raises."""
    try:
        from aws_lambda_powertools.metrics import MetricUnit

        metrics().add_metric(name=name, unit=MetricUnit.Count, value=value)
    except Exception:
        log("warning", "metric not recorded", step=name)


def session_ref(session_id: str | None) -> str | None:
    """A short, stable reference to a session for logs (session ids are caller-chosen and may hold PII)."""
    return log_ref(session_id) if session_id else None


def quiet_wire_logs() -> None:
    """Hold the AWS SDK's wire loggers (and any child given its own level) at WARNING: their DEBUG and INFO
    lines hold request paths (actor and session ids), bodies, headers and signatures."""
    names = [n for n in list(logging.root.manager.loggerDict) if n.split(".", 1)[0] in WIRE_LOGGERS]
    for name in {*WIRE_LOGGERS, *names}:
        wire = logging.getLogger(name)
        if name in WIRE_LOGGERS and wire.level < logging.WARNING:
            wire.setLevel(logging.WARNING)
        elif name not in WIRE_LOGGERS and logging.NOTSET < wire.level < logging.WARNING:
            wire.setLevel(logging.NOTSET)  # a child inherits the pinned level of its root


def lambda_lifecycle(handler: Any, *, name: str) -> Any:
    """Wrap a handler in Powertools' lifecycle decorators: ``Logger.inject_lambda_context`` (request id, cold
    start, function name on every line; never the event) and ``Metrics.log_metrics`` (flush per invocation).

    Without a Lambda context (direct calls in tests and tools) the same keys are set by hand.
    """
    import functools

    decorated: list[Any] = []

    @functools.wraps(handler)
    def wrapper(event: Any, context: Any = None) -> Any:
        quiet_wire_logs()  # every invocation: code run since may have lowered them
        if not _is_lambda_context(context):
            begin(context, handler=name)
            try:
                return handler(event, context)
            finally:
                end()
        if not decorated:
            inner = metrics().log_metrics(handler)
            decorated.append(logger().inject_lambda_context(inner, log_event=False, clear_state=True))
        logger().append_keys(handler=name)
        try:
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", message="No application metrics to publish")
                return decorated[0](event, context)
        finally:
            try:
                logger().remove_keys(["handler"])
            except Exception:
                pass

    return wrapper


def _is_lambda_context(context: Any) -> bool:
    return all(
        hasattr(context, attribute)
        for attribute in ("function_name", "memory_limit_in_mb", "invoked_function_arn", "aws_request_id")
    )


def begin(context: Any, *, handler: str) -> None:
    """Per-invocation setup: the request id joins every log line of this invocation."""
    try:
        request_id = getattr(context, "aws_request_id", None)
        logger().append_keys(request_id=request_id if isinstance(request_id, str) else None, handler=handler)
    except Exception:
        pass


def failed(error: BaseException, *, status: int) -> None:
    """Log and count an error answer: its type, code and (for unexpected errors) where it was raised."""
    code = getattr(error, "code", None)
    if status >= 500:
        count("Errors")
        raised_at = _raised_at(error) if code is None else None
        log("error", "request failed", status=status, code=code, error_type=type(error).__name__, raised_at=raised_at)
    else:
        count("RejectedRequests")
        log("info", "request rejected", status=status, code=code)


def end() -> None:
    """Per-invocation teardown: flush this invocation's metrics and forget its log keys; never raises."""
    try:
        current = metrics()
        if current.metric_set:
            current.flush_metrics()
    except Exception:
        pass
    try:
        logger().remove_keys(["request_id", "handler"])
    except Exception:
        pass


def _raised_at(error: BaseException) -> str | None:
    frames = traceback.extract_tb(error.__traceback__)
    if not frames:
        return None
    last = frames[-1]
    return f"{os.path.basename(last.filename)}:{last.lineno}:{last.name}"


class _CurrentStdout:
    """Writes to whatever ``sys.stdout`` is at the time (as ``print`` does for the EMF metrics)."""

    def write(self, text: str) -> int:
        return sys.stdout.write(text)

    def flush(self) -> None:
        sys.stdout.flush()


def _route_runtime_logs(source: Any) -> None:
    # The runtime package logs through stdlib loggers; in Lambda give them the Powertools JSON handler.
    runtime_logger = logging.getLogger("runtime")
    runtime_logger.handlers = [source.registered_handler]
    runtime_logger.setLevel(source.log_level)
    runtime_logger.propagate = False
