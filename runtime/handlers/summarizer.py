"""Summarizer Lambda (SQS event source, ``ReportBatchItemFailures``): one session summary per job message.

For each record: parse the versioned job, read the session's turns from AgentCore Memory and write the
summary vector to the user's S3 Vectors index, both through TVM credentials for that tenant and actor,
under a deterministic key (a re-delivery overwrites). The write carries the job's enqueue time as its origin:
a user forgotten since then gets no summary (refused before the write, or removed right after it). A record
that fails — a malformed "poison" message included — is reported in ``batchItemFailures``: SQS retries it and
after ``maxReceiveCount`` moves it to the alarmed DLQ, so no job is silently lost. No threads; nothing runs
after the handler returns.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from runtime.errors import InvalidInputError, MemoryMeshError
from runtime.handlers import _observability as obs
from runtime.handlers._common import load_settings, remaining_ms
from runtime.lifecycle.tombstones import ActorForgottenError, write_origin
from runtime.settings import MemorySettings
from runtime.summarizer import SummaryJob, parse_summary_job, summarize_session

__all__ = ["MIN_RECORD_RESERVE_MS", "handler", "reset"]

#: A record after the first is started only with at least this much time left (or the slowest record so
#: far plus headroom, if longer); the rest of the batch is reported as failed, so SQS delivers it again
#: instead of Lambda timing out mid-batch.
MIN_RECORD_RESERVE_MS = 20_000
# Headroom kept after the slowest record so far, for reporting and the metrics flush.
_SAFETY_MS = 2_000


@dataclass(frozen=True)
class _Services:
    """What one container needs to summarize: the stores (TVM credentials) and the Converse client."""

    vector_store: Any
    turns: Any
    converse_client: Any
    model_id: str


def handler(event: Any, context: Any = None) -> dict[str, list[dict[str, str]]]:
    """Summarize each job of the SQS batch; answer ``{"batchItemFailures": [{"itemIdentifier": id}]}``."""
    obs.begin(context, handler="summarizer")
    try:
        return _handle(event, context)
    finally:
        obs.end()


def reset() -> None:
    """Forget the container's clients (tests; a changed configuration also rebuilds them)."""
    _services.cache_clear()


def _handle(event: Any, context: Any) -> dict[str, list[dict[str, str]]]:
    records = event.get("Records") if isinstance(event, Mapping) else None
    if not isinstance(records, list):
        # Not an SQS event: there is no message to retry or lose.
        obs.count("Errors")
        obs.log("error", "summarizer event is not an SQS batch", step="parse-event", code="InvalidInput")
        return {"batchItemFailures": []}

    failures: list[str] = []
    services: _Services | None = None
    slowest_ms = 0.0
    attempted = 0
    stop_reason: str | None = None
    for position, record in enumerate(records):
        message_id = _message_id(record)
        if message_id is None:
            obs.count("Errors")
            obs.log("error", "SQS record without a messageId skipped", step="parse-record", records=position)
            continue
        if stop_reason is not None:
            failures.append(message_id)
            continue
        if attempted and not _time_for_another(context, slowest_ms):
            stop_reason = "time-budget"
            obs.log("warning", "time budget spent; rest of the batch returned to the queue", step=stop_reason,
                    records=len(records) - position)
            failures.append(message_id)
            continue
        attempted += 1
        started = time.monotonic()
        if services is None:
            try:
                services = _services(load_settings())
            except Exception as error:
                # Configuration or client set-up failed: nothing in this batch can succeed now.
                _log_failure("set-up", error)
                stop_reason = "set-up"
                failures.append(message_id)
                continue
        succeeded = _process(record, services)
        slowest_ms = max(slowest_ms, (time.monotonic() - started) * 1000)
        if not succeeded:
            failures.append(message_id)
            if _is_fifo(record):
                # FIFO: later messages of the batch must not overtake the failed one; retry them all in order.
                stop_reason = "fifo-order"
    obs.log("info", "summarizer batch done", batch_size=len(records), failed=len(failures), step=stop_reason)
    return {"batchItemFailures": [{"itemIdentifier": message_id} for message_id in failures]}


def _process(record: Mapping[str, Any], services: _Services) -> bool:
    """Summarize one record's job; False when it must be retried (or, once retries are spent, dead-lettered)."""
    body = record.get("body")
    try:
        if not isinstance(body, str):  # SQS bodies are always strings
            raise InvalidInputError("body", f"<{type(body).__name__}>", "must be the JSON text of a summary job")
        job = parse_summary_job(body)
    except Exception as error:
        # A malformed message never succeeds; reporting it sends it to the DLQ after maxReceiveCount.
        obs.count("PoisonMessages")
        obs.count("Errors")
        code = error.code if isinstance(error, MemoryMeshError) else None
        obs.log("error", "summary job message is malformed", step="parse-job", code=code,
                error_type=type(error).__name__)
        return False
    try:
        with write_origin(_origin_ms(record)):
            result = _summarize(job, services)
    except ActorForgottenError:
        # The user was forgotten after the session ended: the summary is dropped (or was undone), never kept.
        obs.count("SummariesDropped")
        obs.log("info", "summary dropped: the user was forgotten", tenant_id=job.tenant_id, actor=job.actor_id,
                step="forgotten")
        return True
    except Exception as error:
        _log_failure("summarize", error, job)
        obs.count("SummaryFailures")
        return False
    if result.written:
        obs.count("SummariesStored")
    else:
        obs.count("SummariesSkipped")
    obs.log(
        "info",
        "session summarized" if result.written else "session not summarized",
        tenant_id=job.tenant_id,
        actor=job.actor_id,
        session_ref=obs.session_ref(job.session_id),
        step=result.skipped_reason or "stored",
        events=result.turns,
    )
    return True


def _summarize(job: SummaryJob, services: _Services) -> Any:
    return summarize_session(
        job.identity,
        job.session_id,
        agent=job.agent,
        turns_source=services.turns,
        vector_store=services.vector_store,
        converse_client=services.converse_client,
        model_id=services.model_id,
    )


def _origin_ms(record: Mapping[str, Any]) -> int:
    """When the job was queued (SQS ``SentTimestamp``): the summary's data is from then, not from its retry."""
    sent = (record.get("attributes") or {}).get("SentTimestamp")
    now_ms = int(time.time() * 1000)
    return min(int(sent), now_ms) if isinstance(sent, str) and sent.isdigit() else now_ms


def _log_failure(step: str, error: BaseException, job: SummaryJob | None = None) -> None:
    obs.count("Errors")
    # Typed errors log their code; anything else only its type (its message may hold request data).
    code = error.code if isinstance(error, MemoryMeshError) else None
    obs.log(
        "error",
        "summary job failed; SQS will retry it",
        step=step,
        code=code,
        error_type=type(error).__name__,
        tenant_id=job.tenant_id if job else None,
        actor=job.actor_id if job else None,
        session_ref=obs.session_ref(job.session_id) if job else None,
    )


def _message_id(record: Any) -> str | None:
    if not isinstance(record, Mapping):
        return None
    message_id = record.get("messageId")
    return message_id if isinstance(message_id, str) and message_id else None


def _is_fifo(record: Mapping[str, Any]) -> bool:
    source = record.get("eventSourceARN")
    return isinstance(source, str) and source.endswith(".fifo")


def _time_for_another(context: Any, slowest_ms: float) -> bool:
    remaining = remaining_ms(context)
    return remaining is None or remaining >= max(MIN_RECORD_RESERVE_MS, slowest_ms + _SAFETY_MS)


@functools.lru_cache(maxsize=1)
def _services(settings: MemorySettings) -> _Services:
    """Built once per container (per settings): TVM broker, the two stores, the Bedrock client."""
    import boto3
    from botocore.config import Config

    from runtime.credentials import TenantCredentialBroker
    from runtime.embeddings import BedrockEmbedder
    from runtime.stores.agentcore import AgentCoreMemoryBackend
    from runtime.stores.s3vectors import S3VectorsMemoryStore

    broker = TenantCredentialBroker(settings.tvm_role_arn, region=settings.region, isolation=settings.isolation)
    # The function's own role invokes the models (the TVM role reaches only memory): Converse and
    # InvokeModel for the embeddings share one client. Three 30 s attempts stay inside a 2-minute function
    # timeout; a record that still outlives it is redelivered with its batch and overwrites (same key).
    bedrock = boto3.client(
        "bedrock-runtime",
        region_name=settings.region,
        config=Config(retries={"mode": "standard", "total_max_attempts": 3}, connect_timeout=5, read_timeout=30),
    )
    embedder = BedrockEmbedder(
        settings.embedding_model_id, settings.embedding_dimension, client=bedrock, max_workers=1
    )
    store = S3VectorsMemoryStore.from_settings(broker, settings, embedder)
    turns = AgentCoreMemoryBackend(functools.partial(broker.client, "bedrock-agentcore"), memory_id=settings.memory_id)
    return _Services(vector_store=store, turns=turns, converse_client=bedrock, model_id=settings.summary_model_id)
