"""One latency per AWS operation, for benchmarks that drive the emulation at production-like speed.

Each row says where its number comes from. AWS documents a latency for very few of these operations; where it
does not, the row says so and the value is an assumption chosen to be of the right order (a same-Region call
of a managed API). Benchmarks report ratios computed from this one table (a turn's critical path against the
longest unavoidable chain of the same operations), so the conclusions hold for any table of the same shape;
absolute milliseconds do not transfer to AWS.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["LATENCY_MS", "Latency", "latency_ms"]


@dataclass(frozen=True)
class Latency:
    """A per-call latency in milliseconds and its source (a URL, or the reason it is assumed)."""

    ms: float
    source: str


_UNDOCUMENTED = "assumed: AWS documents no latency for this operation"

#: (service, operation) -> latency of one call.
LATENCY_MS: dict[tuple[str, str], Latency] = {
    ("s3vectors", "QueryVectors"): Latency(
        100.0,
        "'as low as 100 milliseconds for warm queries': Amazon S3 User Guide, S3 Vectors best practices, "
        "https://docs.aws.amazon.com/AmazonS3/latest/userguide/s3-vectors-best-practices.html",
    ),
    ("s3vectors", "PutVectors"): Latency(100.0, _UNDOCUMENTED + " (same order as a warm query)"),
    ("s3vectors", "ListVectors"): Latency(100.0, _UNDOCUMENTED + " (same order as a warm query)"),
    ("bedrock-runtime", "InvokeModel"): Latency(60.0, _UNDOCUMENTED + " (one short Titan Text Embeddings V2 call)"),
    ("bedrock-agentcore", "RetrieveMemoryRecords"): Latency(150.0, _UNDOCUMENTED + " (a semantic search)"),
    ("bedrock-agentcore", "ListMemoryRecords"): Latency(80.0, _UNDOCUMENTED),
    ("bedrock-agentcore", "ListEvents"): Latency(50.0, _UNDOCUMENTED + " (a keyed read)"),
    ("bedrock-agentcore", "CreateEvent"): Latency(50.0, _UNDOCUMENTED + " (a keyed write)"),
    ("bedrock-agentcore", "ListSessions"): Latency(50.0, _UNDOCUMENTED),
    ("bedrock-agentcore", "DeleteEvent"): Latency(50.0, _UNDOCUMENTED),
    ("sts", "AssumeRole"): Latency(40.0, _UNDOCUMENTED + " (regional STS endpoint)"),
    ("sqs", "SendMessage"): Latency(20.0, _UNDOCUMENTED),
    # Lifecycle (forget, offboarding, retention).
    ("s3vectors", "ListIndexes"): Latency(100.0, _UNDOCUMENTED + " (same order as a warm query)"),
    ("s3vectors", "DeleteIndex"): Latency(100.0, _UNDOCUMENTED + " (same order as a warm query)"),
    ("s3vectors", "DeleteVectors"): Latency(100.0, _UNDOCUMENTED + " (same order as a warm query)"),
    ("bedrock-agentcore", "ListActors"): Latency(50.0, _UNDOCUMENTED),
    ("bedrock-agentcore", "BatchDeleteMemoryRecords"): Latency(100.0, _UNDOCUMENTED + " (up to 100 records)"),
    ("bedrock-agent-runtime", "DeleteAgentMemory"): Latency(100.0, _UNDOCUMENTED),
    ("dynamodb", "GetItem"): Latency(
        10.0, "'single-digit millisecond performance at any scale': Amazon DynamoDB, https://aws.amazon.com/dynamodb/"),
    ("dynamodb", "PutItem"): Latency(
        10.0, "'single-digit millisecond performance at any scale': Amazon DynamoDB, https://aws.amazon.com/dynamodb/"),
}


def latency_ms(service: str, operation: str) -> float:
    """The table's latency of one call, 0 for operations the table leaves out (agent invocations: agent time)."""
    entry = LATENCY_MS.get((service, operation))
    return entry.ms if entry is not None else 0.0
