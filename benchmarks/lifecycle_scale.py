"""Lifecycle at scale: forgetting a heavy user of a large tenant, the first page of their memories, retention
that resumes after a kill, and how each grows with the tenant's size.

Run from the repository root: ``.venv/bin/python benchmarks/lifecycle_scale.py`` (``--quick`` for a smoke run).
Writes ``benchmarks/results/lifecycle_scale.json`` and ``lifecycle_scale.png``. Offline: AWS is emulated
in-process (moto and ``runtime.testing``); the production handlers run unchanged (``forget``, ``lifecycle``,
``orchestrator``, ``retention``).

Time is modeled, not slept: a botocore ``before-call`` handler adds each call's latency from
``benchmarks/latency_table.py`` (the turn benchmark's table) to the invocation's modeled clock. The erasers'
parallel deletes run through :class:`ModeledPool` instead of the thread pool: item ``i`` of a batch goes to lane
``i % 10``, each lane's calls add up, and the batch lasts as long as its slowest lane, as 10 threads would. Each
Lambda invocation gets a context whose remaining time is 29 s minus its modeled time, so the handlers' deadlines
act on modeled time.

The tenant: ``--users`` users (default 200) holding ``--vectors`` vectors of 2 KB (default 50,000), one of them
heavy, with ``--heavy-vectors`` vectors (5,000), ``--heavy-events`` AgentCore events (10,000, in sessions of 100)
and 300 long-term records; every user has their own S3 Vectors index (the per-user layout). Vectors are seeded
straight into the S3 Vectors fake's index objects (seeding is not measured); everything measured goes through
the API.

Keys: ``forget_user_completes``, ``forget_user_invocations`` (29 s invocations that advanced the job; target <= 3),
``forget_user_modeled_s``, ``get_memories_first_page_modeled_s`` (target <= 1.5), ``get_memories_vectors_read_per_
returned`` (vectors read to return the first page / the page's size; target <= 2), ``retention_resumes_after_kill``.
``growth`` repeats forget and the first page for smaller tenants (the heavy user unchanged).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import threading
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "benchmarks" / "results" / "lifecycle_scale.json"
COMMAND = ".venv/bin/python benchmarks/lifecycle_scale.py"
REGION = "us-east-1"
ACCOUNT_ID = "111111111111"
DIMENSION = 256
LAMBDA_MS = 29_000
CONTENT = ("x" * 1990) + " {i:06d}"  # 2 KB of metadata content per vector

os.environ.update(
    AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing", AWS_SESSION_TOKEN="testing",
    AWS_DEFAULT_REGION=REGION, AWS_REGION=REGION, AWS_CONFIG_FILE="/nonexistent/aws-config",
    AWS_SHARED_CREDENTIALS_FILE="/nonexistent/aws-credentials", AWS_EC2_METADATA_DISABLED="true",
    POWERTOOLS_METRICS_NAMESPACE="AgentMemoryMesh", LOG_LEVEL="ERROR",
)
os.environ.pop("AWS_PROFILE", None)
for path in (str(REPO), str(REPO / "benchmarks")):
    if path not in sys.path:
        sys.path.insert(0, path)

from botocore.handlers import BUILTIN_HANDLERS  # noqa: E402
from latency_table import LATENCY_MS, latency_ms  # noqa: E402

_READS = ("ListVectors", "GetVectors", "QueryVectors")


class Killed(BaseException):
    """The Lambda runtime ending an invocation mid-call (timeout, out of memory)."""


class ModeledTime:
    """A modeled clock fed by botocore: each call adds its table latency to the invocation's time, or, inside a
    parallel section (:class:`ModeledPool`), to its lane's; a section lasts as long as its slowest lane."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._main_ms = 0.0
        self._lanes: dict[int, float] | None = None
        self.lane: int | None = None
        self.calls: dict[tuple[str, str], int] = {}
        self.vectors_read = 0
        self.kill_after_ms: float | None = None

    def install(self) -> None:
        # Operation-specific names first in BUILTIN_HANDLERS: they run before the emulation answers the call.
        for service, operation in LATENCY_MS:
            BUILTIN_HANDLERS.insert(0, (f"before-call.{service}.{operation}", self.before))
        for operation in _READS:
            BUILTIN_HANDLERS.append((f"after-call.s3vectors.{operation}", self.after_read))

    def reset(self) -> None:
        with self._lock:
            self._main_ms = 0.0
            self._lanes = None
            self.calls.clear()
            self.vectors_read = 0

    def open_section(self) -> None:
        self._lanes = {}

    def close_section(self) -> None:
        lanes, self._lanes, self.lane = self._lanes or {}, None, None
        self._main_ms += max(lanes.values(), default=0.0)

    def before(self, model: Any, **_: Any) -> None:
        key = (model.service_model.service_name, model.name)
        with self._lock:
            if self._lanes is not None and self.lane is not None:
                self._lanes[self.lane] = self._lanes.get(self.lane, 0.0) + latency_ms(*key)
            else:
                self._main_ms += latency_ms(*key)
            self.calls[key] = self.calls.get(key, 0) + 1
        if self.kill_after_ms is not None and self.elapsed_ms() > self.kill_after_ms:
            self.kill_after_ms = None
            raise Killed()

    def after_read(self, http_response: Any, parsed: Any, **_: Any) -> None:
        with self._lock:
            self.vectors_read += len(parsed.get("vectors") or [])

    def elapsed_ms(self) -> float:
        """The invocation's modeled time so far (a section in progress counts its slowest lane so far)."""
        return self._main_ms + max((self._lanes or {}).values(), default=0.0)


CLOCK = ModeledTime()
CLOCK.install()


class ModeledPool:
    """Stands in for the erasers' thread pool: ``map`` runs item ``i`` in lane ``i % workers``, one lane after
    another, so each lane's calls are sequential and the section lasts as long as its slowest lane, as
    ``workers`` threads making those calls at the table's latencies would."""

    def __init__(self, workers: int) -> None:
        self.workers = workers

    def map(self, fn: Any, items: Any) -> Any:
        items = list(items)
        CLOCK.open_section()
        results: list[Any] = [None] * len(items)
        try:
            for lane in range(self.workers):
                CLOCK.lane = lane
                for i in range(lane, len(items), self.workers):
                    results[i] = fn(items[i])
        finally:
            CLOCK.close_section()
        return iter(results)


def _install_modeled_pool() -> None:
    from runtime.lifecycle import erase, service

    pool = ModeledPool(erase.DELETE_EVENT_PARALLELISM)
    service.delete_pool = lambda: pool  # type: ignore[assignment, return-value]


class ModeledContext:
    """A Lambda context whose remaining time is its timeout less the modeled time spent."""

    def __init__(self, timeout_ms: int = LAMBDA_MS) -> None:
        import uuid

        CLOCK.reset()
        self.timeout_ms = timeout_ms
        self.aws_request_id = str(uuid.uuid4())
        self.function_name = "mesh-lifecycle"
        self.function_version = "$LATEST"
        self.memory_limit_in_mb = 512
        self.invoked_function_arn = f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:mesh-lifecycle"

    def get_remaining_time_in_millis(self) -> int:
        return int(max(0.0, self.timeout_ms - CLOCK.elapsed_ms()))


# -- the mesh ------------------------------------------------------------------------------------------------


def _environment(aws: Any, workdir: Path) -> dict[str, str]:
    from tests.handlers import lambda_events as ev

    layout = aws.setup_mesh(dimension=DIMENSION, index_prefix="tenant-")
    sqs = aws.client("sqs")
    workers = workdir / "workers.json"
    workers.write_text(json.dumps(ev.workers_document()))
    return {
        "MESH_REGION": REGION, "MESH_VECTOR_BUCKET": layout.bucket_name, "MESH_INDEX_PREFIX": layout.index_prefix,
        "MESH_EMBEDDING_DIMENSION": str(DIMENSION), "MESH_DISTANCE_METRIC": "cosine",
        "MESH_EMBEDDING_MODEL_ID": "amazon.titan-embed-text-v2:0", "MESH_MEMORY_ID": layout.memory_id,
        "MESH_TVM_ROLE_ARN": layout.tvm_role_arn, "MESH_SUMMARY_MODEL_ID": "amazon.nova-lite-v1:0",
        "MESH_STATE_TABLE": layout.state_table, "MESH_RETENTION_DAYS": "90",
        "MESH_SUMMARY_QUEUE_URL": sqs.create_queue(QueueName="summaries")["QueueUrl"],
        "MESH_LIFECYCLE_QUEUE_URL": sqs.create_queue(QueueName="lifecycle")["QueueUrl"],
        "MESH_TENANT_CLAIM": ev.TENANT_CLAIM, "MESH_WORKERS_FILE": str(workers),
        "MESH_SUPERVISOR_AGENT": json.dumps(
            {"type": "bedrock-agent", "agent_id": ev.SUPERVISOR_AGENT_ID, "alias_id": ev.SUPERVISOR_ALIAS_ID}),
        "POWERTOOLS_SERVICE_NAME": "lifecycle-bench",
    }


def _seed(aws: Any, tenant: str, users: list[str], heavy: str, args: argparse.Namespace, *, old_share: float) -> None:
    """Per-user indexes holding the tenant's vectors (``old_share`` of each user's stored past retention)."""
    from runtime.identity import Identity
    from runtime.testing.s3vectors_fake import StoredVector
    from tests.handlers.lifecycle_helpers import create_user_index

    now = int(time.time())
    light = (args.vectors - args.heavy_vectors) // max(1, len(users) - 1)
    data = [0.5] * DIMENSION
    for user in users:
        name = create_user_index(aws, Identity(tenant, user))
        index = aws.s3vectors.index(aws.mesh.bucket_name, name)
        count = args.heavy_vectors if user == heavy else light
        old = int(count * old_share)
        for i in range(count):
            stored_at = now - (200 if i < old else 1) * 86_400
            index.vectors[f"mem-{i:06d}"] = StoredVector(
                f"mem-{i:06d}", data, {"actor": user, "type": "fact", "stored_at": stored_at,
                                       "content": CONTENT.format(i=i)})
        index.changed()
    events = aws.client("bedrock-agentcore")
    from datetime import UTC, datetime

    actor = f"{tenant}:{heavy}"
    for i in range(args.heavy_events):
        events.create_event(memoryId=aws.mesh.memory_id, actorId=actor, sessionId=f"s-{i // 100:04d}",
                            eventTimestamp=datetime.now(UTC),
                            payload=[{"conversational": {"content": {"text": f"turn {i}"}, "role": "USER"}}])
    for i in range(300):
        aws.agentcore.add_record(aws.mesh.memory_id, f"/facts/{actor}/", f"fact {i}")


def _drain(aws: Any, queue_url: str, limit: int = 50) -> list[float]:
    """Deliver each visible lifecycle message to the lifecycle handler in a fresh 29 s context; their modeled ms."""
    from runtime.handlers import lifecycle

    sqs = aws.client("sqs")
    spent: list[float] = []
    for _ in range(limit):
        messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=1).get("Messages", [])
        if not messages:
            return spent
        message = messages[0]
        record = {"messageId": message["MessageId"], "body": message["Body"], "receiptHandle": "r"}
        context = ModeledContext()
        answer = lifecycle.handler({"Records": [record]}, context)
        spent.append(CLOCK.elapsed_ms())
        if not answer["batchItemFailures"]:
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
    raise RuntimeError("the lifecycle queue did not drain")


def _forget(aws: Any, env: dict[str, str], tenant: str, heavy_sub: str) -> dict[str, Any]:
    from runtime.handlers import forget
    from runtime.lifecycle.state import StateTable
    from tests.handlers.lambda_events import answer_of, api_event, claims_for

    forget.reset()
    context = ModeledContext()
    status, body = answer_of(forget.handler(api_event("DELETE /memories", claims=claims_for(tenant, heavy_sub)),
                                            context))
    first_ms = CLOCK.elapsed_ms()
    later = _drain(aws, env["MESH_LIFECYCLE_QUEUE_URL"])
    job = StateTable(aws.client("dynamodb"), env["MESH_STATE_TABLE"]).get_job(body["job_id"])
    return {"status": status, "job": job, "modeled_ms": [first_ms, *later]}


def _first_page(env: dict[str, str], tenant: str, sub: str) -> dict[str, Any]:
    from runtime.handlers import orchestrator
    from tests.handlers.lambda_events import answer_of, api_event, claims_for

    orchestrator.reset()
    event = api_event("GET /memories", claims=claims_for(tenant, sub))
    ModeledContext()  # warm: the container's first request builds its clients
    answer_of(orchestrator.handler(event, ModeledContext()))
    context = ModeledContext()
    status, body = answer_of(orchestrator.handler(event, context))
    returned = len(body.get("memories", []))
    return {"status": status, "modeled_s": CLOCK.elapsed_ms() / 1000, "vectors_read": CLOCK.vectors_read,
            "returned": returned, "calls": {f"{s}:{o}": n for (s, o), n in sorted(CLOCK.calls.items())}}


def run_size(users: int, args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    """One tenant of ``users`` users: GET /memories' first page, then forget the heavy user."""
    from runtime.identity import Identity, actor_id_from_claims
    from runtime.testing import emulated_aws
    from runtime.testing.agents_fake import scripted_agents
    from tests.handlers import lambda_events as ev
    from tests.handlers.lifecycle_helpers import held

    scale = users / args.users
    sized = argparse.Namespace(**{**vars(args), "vectors": int(args.vectors * scale)})
    heavy_sub = "heavy-user"
    heavy = actor_id_from_claims({"iss": ev.ISSUER, "sub": heavy_sub})
    names = [heavy] + [f"user{i:04d}" for i in range(users - 1)]
    with emulated_aws(REGION, ACCOUNT_ID, strict=False) as aws, scripted_agents(aws) as agents:
        env = _environment(aws, workdir)
        os.environ.update(env)
        agents.bedrock_agent(ev.SUPERVISOR_AGENT_ID, ev.SUPERVISOR_ALIAS_ID, ev.supervisor_script)
        started = time.perf_counter()
        _seed(aws, "acme", names, heavy, sized, old_share=0.0)
        seeded_s = time.perf_counter() - started
        try:
            page = _first_page(env, "acme", heavy_sub)
        except Exception as error:  # noqa: BLE001 - reported, not hidden
            page = {"error": f"{type(error).__name__}: {error}"[:300]}
        before_other = held(aws, Identity("acme", names[1]))
        forgotten = _forget(aws, env, "acme", heavy_sub)
        job = forgotten["job"]
        left = held(aws, Identity("acme", heavy))
        completes = (job["status"] == "succeeded" and left == {"vectors": 0, "events": 0, "records": 0}
                     and held(aws, Identity("acme", names[1])) == before_other)
        return {
            "users": users, "vectors": sized.vectors, "seed_wall_s": round(seeded_s, 1),
            "forget": {"completes": completes, "http_status": forgotten["status"],
                       "invocations": job["invocations"], "invocation_modeled_s":
                       [round(ms / 1000, 2) for ms in forgotten["modeled_ms"]],
                       "modeled_s": round(sum(forgotten["modeled_ms"]) / 1000, 2),
                       "deleted": {n: s["deleted"] for n, s in job["stores"].items()}},
            "first_page": page,
        }


def retention_after_kill(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    """A retention run killed mid-way, then the next invocation: it resumes and deletes exactly what expired."""
    from runtime.handlers import retention
    from runtime.testing import emulated_aws

    users = [f"user{i:04d}" for i in range(args.retention_users)]
    sized = argparse.Namespace(**{**vars(args), "vectors": args.retention_users * 100, "heavy_vectors": 100,
                                  "heavy_events": 0})
    with emulated_aws(REGION, ACCOUNT_ID, strict=False) as aws:
        env = _environment(aws, workdir)
        os.environ.update(env)
        _seed(aws, "acme", users, users[0], sized, old_share=0.5)
        expected = _expired_left(aws)
        retention.reset()
        context = ModeledContext()
        CLOCK.kill_after_ms = args.kill_after_s * 1000
        killed = False
        try:
            retention.handler({"id": "run-1"}, context)
        except Killed:
            killed = True
        CLOCK.kill_after_ms = None
        listed_before = _list_vector_calls = 0
        reports = []
        for attempt in range(10):
            context = ModeledContext()
            reports.append(retention.handler({"id": f"run-{attempt + 2}"}, context))
            listed_before += CLOCK.calls.get(("s3vectors", "ListVectors"), 0)
            if reports[-1]["complete"]:
                break
        final = reports[-1]
        left = _expired_left(aws)
        _list_vector_calls = listed_before
        return {
            "killed": killed, "resumed_same_run": final["run"] == 1, "complete": final["complete"],
            "expired_before": expected, "expired_left": left, "recorded_deleted": final["deleted"],
            "invocations_after_kill": len(reports), "list_vectors_calls_after_kill": _list_vector_calls,
            "indexes": len(users),
        }


def _expired_left(aws: Any) -> int:
    """Vectors stored before the 90-day cutoff still in any index."""
    cutoff = time.time() - 90 * 86_400
    return sum(1 for name in _index_names(aws) for v in aws.s3vectors.index(aws.mesh.bucket_name, name)
               .vectors.values() if (v.metadata or {}).get("stored_at", cutoff) < cutoff)


def _index_names(aws: Any) -> list[str]:
    return [i["indexName"] for i in aws.client("s3vectors").list_indexes(
        vectorBucketName=aws.mesh.bucket_name, maxResults=500)["indexes"]]


def _plot(report: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sizes = report["growth"]
    xs = [s["vectors"] for s in sizes]
    fig, ax = plt.subplots(figsize=(7, 4))
    ax.plot(xs, [s["forget"]["modeled_s"] for s in sizes], marker="o", label="forget the heavy user (modeled s)")
    pages = [s["first_page"].get("modeled_s") for s in sizes]
    if all(isinstance(p, (int, float)) for p in pages):
        ax.plot(xs, pages, marker="s", label="GET /memories first page (modeled s)")
    ax.set_xlabel("vectors in the tenant (users scale with them; the heavy user is fixed)")
    ax.set_ylabel("modeled seconds")
    ax.set_title("Lifecycle cost against tenant size")
    ax.grid(True, alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=200)
    parser.add_argument("--vectors", type=int, default=50_000)
    parser.add_argument("--heavy-vectors", type=int, default=5_000)
    parser.add_argument("--heavy-events", type=int, default=10_000)
    parser.add_argument("--growth", default="50,100", help="smaller tenants (users) for the growth curve")
    parser.add_argument("--retention-users", type=int, default=40)
    parser.add_argument("--kill-after-s", type=float, default=5.0, help="modeled seconds into the killed run")
    parser.add_argument("--quick", action="store_true", help="a smoke run: 20 users, 2,000 vectors")
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    _install_modeled_pool()
    if args.quick:
        args.users, args.vectors, args.heavy_vectors, args.heavy_events = 20, 2_000, 500, 1_000
        args.growth, args.retention_users, args.kill_after_s = "10", 10, 1.0
    import logging
    import tempfile

    logging.disable(logging.INFO)
    sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - the handlers' JSON logs and metrics go to stdout
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        sizes = sorted({int(n) for n in args.growth.split(",") if n} | {args.users})
        growth = [run_size(n, args, workdir) for n in sizes]
        main_size = next(s for s in growth if s["users"] == args.users)
        kill = retention_after_kill(args, workdir)
    sys.stdout = sys.__stdout__
    page = main_size["first_page"]
    returned = page.get("returned") or 0
    report = {
        "command": COMMAND + (" --quick" if args.quick else ""),
        "tenant": {"users": args.users, "vectors": args.vectors, "vector_content_bytes": len(CONTENT.format(i=0)),
                   "heavy_user": {"vectors": args.heavy_vectors, "events": args.heavy_events, "records": 300}},
        "forget_user_completes": main_size["forget"]["completes"],
        "forget_user_invocations": main_size["forget"]["invocations"],
        "forget_user_modeled_s": main_size["forget"]["modeled_s"],
        "get_memories_first_page_modeled_s": page.get("modeled_s"),
        "get_memories_vectors_read_per_returned": round(page["vectors_read"] / returned, 2) if returned else None,
        "retention_resumes_after_kill": bool(kill["killed"] and kill["resumed_same_run"] and kill["complete"]
                                             and kill["expired_left"] == 0),
        "targets": {"forget_user_invocations": "<= 3", "get_memories_first_page_modeled_s": "<= 1.5",
                    "get_memories_vectors_read_per_returned": "<= 2"},
        "forget": main_size["forget"],
        "first_page": page,
        "retention_after_kill": kill,
        "growth": growth,
        "model": {"latency_table": "benchmarks/latency_table.py", "lambda_timeout_ms": LAMBDA_MS,
                  "time": "modeled per call (before-call), parallel deletes on the critical path"},
        "wall_s": round(time.perf_counter() - started, 1),
        "python": platform.python_version(),
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2, sort_keys=False) + "\n")
    _plot(report, args.output.with_suffix(".png"))
    print(json.dumps({k: report[k] for k in ("forget_user_completes", "forget_user_invocations",
                                            "forget_user_modeled_s", "get_memories_first_page_modeled_s",
                                            "get_memories_vectors_read_per_returned",
                                            "retention_resumes_after_kill", "wall_s")}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
