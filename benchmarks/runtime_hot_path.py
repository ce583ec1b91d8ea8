"""Runtime hot-path benchmark: credential vending, scoped clients, retrieval, Lambda imports, local search.

Run from the repository root: ``make bench-runtime`` (= ``.venv/bin/python benchmarks/runtime_hot_path.py``).
Writes ``benchmarks/results/runtime_hot_path.json`` and prints a summary table. Offline: AWS is emulated
in-process (moto for STS, the project's fakes from ``runtime.testing`` for S3 Vectors and AgentCore Memory).
Not a test: numbers depend on the machine; the ``targets`` object records each target and whether it was met.

What each headline number includes is written in the JSON's ``scopes`` object and in
``benchmarks/README.md``. ``--help`` lists the iteration counts; ``--profile-iterations 0`` skips cProfile.
"""

from __future__ import annotations

import argparse
import copy
import gc
import hashlib
import json
import math
import os
import platform
import random
import statistics
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "benchmarks" / "results" / "runtime_hot_path.json"
REGION = "us-east-1"
ACCOUNT_ID = "111111111111"
TENANT = "acme"
DIMENSION = 1024  # Titan Text Embeddings V2 / Nova default size

# Offline and deterministic: fake credentials, no profile files, no instance metadata lookups.
os.environ.update(
    AWS_ACCESS_KEY_ID="testing",
    AWS_SECRET_ACCESS_KEY="testing",
    AWS_SESSION_TOKEN="testing",
    AWS_DEFAULT_REGION=REGION,
    AWS_REGION=REGION,
    AWS_CONFIG_FILE="/nonexistent/aws-config",
    AWS_SHARED_CREDENTIALS_FILE="/nonexistent/aws-credentials",
    AWS_EC2_METADATA_DISABLED="true",
)
os.environ.pop("AWS_PROFILE", None)
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

#: Modules every Lambda handler path may import (their import time is measured against boto3's), then boto3 itself.
LAMBDA_MODULES = (
    "runtime.errors",
    "runtime.identity",
    "runtime.settings",
    "runtime.credentials",
    "runtime.embeddings",
    "runtime.stores.s3vectors",
    "runtime.stores.agentcore",
    "runtime.retriever",
    "runtime.summarizer",
    "boto3",
)
FORBIDDEN_IN_LAMBDA = ("strands", "numpy", "pydantic", "bedrock_agentcore")


# -- timing helpers ---------------------------------------------------------------------------------


def percentile(samples_ns: Sequence[int], pct: float) -> float:
    """Nearest-rank percentile of nanosecond samples, in milliseconds."""
    ordered = sorted(samples_ns)
    rank = max(1, math.ceil(pct / 100 * len(ordered)))
    return ordered[rank - 1] / 1e6


def summary_ms(samples_ns: Sequence[int]) -> dict[str, float]:
    """p50 / p90 / p99 / mean of nanosecond samples, in milliseconds (rounded to 0.1 microsecond)."""
    return {
        "p50_ms": round(percentile(samples_ns, 50), 4),
        "p90_ms": round(percentile(samples_ns, 90), 4),
        "p99_ms": round(percentile(samples_ns, 99), 4),
        "mean_ms": round(statistics.fmean(samples_ns) / 1e6, 4),
    }


def time_calls(call: Callable[[int], Any], iterations: int, *, warmup: int) -> list[int]:
    """Per-call ``perf_counter_ns`` samples of ``call(i)``, after ``warmup`` untimed calls."""
    for i in range(warmup):
        call(i)
    gc.collect()
    clock = time.perf_counter_ns
    samples = [0] * iterations
    for i in range(iterations):
        start = clock()
        call(i)
        samples[i] = clock() - start
    return samples


def time_calls_cpu(call: Callable[[int], Any], iterations: int, *, warmup: int) -> tuple[list[int], list[int]]:
    """Like :func:`time_calls`, plus per-call process CPU time (all threads): contention-resistant."""
    for i in range(warmup):
        call(i)
    gc.collect()
    clock, cpu_clock = time.perf_counter_ns, time.process_time_ns
    wall, cpu = [0] * iterations, [0] * iterations
    for i in range(iterations):
        start, cpu_start = clock(), cpu_clock()
        call(i)
        cpu[i] = cpu_clock() - cpu_start
        wall[i] = clock() - start
    return wall, cpu


def timer_floor_ns(iterations: int = 100_000) -> float:
    """Median cost of one ``perf_counter_ns`` pair around nothing: the resolution floor of every sample."""
    return float(statistics.median(time_calls(lambda i: None, iterations, warmup=1000)))


def actor_hash(name: str) -> str:
    """A derived actor id as production makes them (64 hex characters)."""
    return hashlib.sha256(f"https://issuer.example\x00{name}".encode()).hexdigest()


class CachedQueryEmbedder:
    """An embedder whose vectors are computed once per text and then served from a dict (no embedding cost)."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner
        self.dimension = inner.dimension
        self._cache: dict[str, list[float]] = {}

    def embed(self, texts: Sequence[str], *, for_query: bool = False) -> list[list[float]]:
        return [self.embed_one(text, for_query=for_query) for text in texts]

    def embed_one(self, text: str, *, for_query: bool = False) -> list[float]:
        vector = self._cache.get(text)
        if vector is None:
            vector = self._cache[text] = self._inner.embed_one(text, for_query=for_query)
        return vector


class PrecomputedEmbedder:
    """Hands out rows of a precomputed unit-vector matrix for stored texts; a fixed vector for queries."""

    def __init__(self, rows: list[list[float]], query_vector: list[float]) -> None:
        self.dimension = len(query_vector)
        self._rows = iter(rows)
        self._query = query_vector

    def embed(self, texts: Sequence[str], *, for_query: bool = False) -> list[list[float]]:
        return [next(self._rows) for _ in texts]

    def embed_one(self, text: str, *, for_query: bool = False) -> list[float]:
        return self._query


# -- 1. STS calls and the broker's warm cache ---------------------------------------------------------


def bench_sts_and_broker(aws: Any, args: argparse.Namespace) -> dict[str, Any]:
    """10,000 requests of 2,000 users over 100 tenants, with the production cache key of each isolation level
    (``tenant``: the tenant; ``user``: tenant and actor); one broker per run; then the warm-cache lookup."""
    from runtime.credentials import TenantCredentialBroker

    tenants = [f"tenant-{n:03d}" for n in range(100)]
    users = [(tenants[n % len(tenants)], actor_hash(f"user-{n}")) for n in range(2_000)]
    rng = random.Random(20240601)
    requests = [rng.choice(users) for _ in range(10_000)]
    spread = Counter(tenant for tenant, _ in requests)
    result: dict[str, Any] = {
        "requests": len(requests),
        "tenants": len(tenants),
        "users": len(users),
        "distinct_users_requesting": len(set(requests)),
        "request_order": "seeded random (random.Random(20240601).choice over the users), every tenant at least once",
        "requests_per_tenant_min": min(spread.values()),
        "requests_per_tenant_max": max(spread.values()),
        "credential_duration_s": 3600,
    }
    assert len(spread) == len(tenants), "every tenant must be asked for at least once"

    brokers = {}
    for isolation in ("tenant", "user"):
        for mode, workers in (("sequential", 1), ("threads_8", 8)):
            broker = TenantCredentialBroker(aws.mesh.tvm_role_arn, region=REGION, duration_seconds=3600,
                                            isolation=isolation)
            hooked: Counter[str] = Counter()
            broker.sts_client.meta.events.register(
                "before-call.sts.AssumeRole", lambda hooked=hooked, **_: hooked.update(["AssumeRole"])
            )
            emulated_before = aws.call_count("sts", "AssumeRole")
            started = time.perf_counter()
            if workers == 1:
                for tenant, actor in requests:
                    broker.client("s3vectors", tenant, actor)
            else:
                chunks = [requests[i::workers] for i in range(workers)]
                with ThreadPoolExecutor(max_workers=workers) as pool:
                    list(pool.map(
                        lambda chunk, broker=broker: [broker.client("s3vectors", t, a) for t, a in chunk], chunks))
            elapsed = time.perf_counter() - started
            stats = broker.stats
            result[f"{isolation}_isolation_{mode}"] = {
                "assume_role_calls_botocore_hook": hooked["AssumeRole"],
                "assume_role_calls_seen_by_emulation": aws.call_count("sts", "AssumeRole") - emulated_before,
                "broker_stats": {k: getattr(stats, k) for k in stats.__dataclass_fields__},
                "wall_s": round(elapsed, 3),
            }
            brokers[(isolation, mode)] = broker
    result["sts_calls_tenant_isolation"] = result["tenant_isolation_threads_8"]["assume_role_calls_botocore_hook"]
    result["sts_calls_user_isolation"] = result["user_isolation_threads_8"]["assume_role_calls_botocore_hook"]

    # Warm-cache lookups on the sequential user-isolation broker: every requesting user holds credentials and an
    # s3vectors client.
    broker = brokers[("user", "sequential")]
    order = requests * (args.broker_iterations // len(requests) + 1)
    lookup = broker.client
    samples = time_calls(lambda i: lookup("s3vectors", *order[i]), args.broker_iterations, warmup=10_000)
    actor = actor_hash("alice")
    lookup("s3vectors", TENANT, actor)
    actor_samples = time_calls(lambda i: lookup("s3vectors", TENANT, actor), args.broker_iterations, warmup=10_000)
    sts_before = broker.stats.sts_calls
    result["broker_warm"] = {
        "iterations": args.broker_iterations,
        "warmup": 10_000,
        "user_isolation_mixed_users": summary_ms(samples),
        "user_isolation_one_user": summary_ms(actor_samples),
        "sts_calls_during_timing": broker.stats.sts_calls - sts_before,
    }
    return result


def bench_client_per_request(aws: Any, args: argparse.Namespace) -> dict[str, Any]:
    """What a TVM that builds a new boto3 client on every request pays, from already-cached credentials."""
    import boto3

    from runtime.credentials import TenantCredentialBroker

    broker = TenantCredentialBroker(aws.mesh.tvm_role_arn, region=REGION)
    creds = broker.credentials("tenant-000").client_kwargs()

    def default_session_client(_: int) -> Any:
        return boto3.client("s3vectors", region_name=REGION, **creds)

    def new_session_client(_: int) -> Any:
        return boto3.session.Session(region_name=REGION, **creds).client("s3vectors")

    default = time_calls(default_session_client, args.client_iterations, warmup=20)
    fresh = time_calls(new_session_client, args.session_iterations, warmup=3)
    return {
        "boto3_client_per_request": {"iterations": args.client_iterations, **summary_ms(default)},
        "boto3_session_and_client_per_request": {"iterations": args.session_iterations, **summary_ms(fresh)},
    }


# -- 2. retrieve: emulated end to end, and the runtime's own overhead ----------------------------------


class CannedAnswers:
    """Answers botocore calls at its ``before-call`` event with parsed responses captured from the emulation.

    ``before-call.<service>.<Operation>`` fires after botocore has validated and serialized the request and
    before signing and sending; a handler returning ``(http_response, parsed)`` answers the call (botocore's
    documented event seam). ``before-parameter-build`` stashes the AgentCore namespace so each of the three
    RetrieveMemoryRecords calls gets the answer captured for its namespace.
    """

    def __init__(self) -> None:
        from botocore.awsrequest import AWSResponse

        self._ok = AWSResponse("https://canned.invalid/", 200, {}, None)
        self.answers: dict[tuple[str, str | None], dict[str, Any]] = {}
        self.served: Counter[str] = Counter()

    # capture (inside the emulation)

    def capture(self, client: Any, service_id: str, operation: str) -> Callable[[], None]:
        def stash(params: Any, context: dict, **_: Any) -> None:
            context["bench.namespace"] = params.get("namespacePath")

        def keep(parsed: Any, context: dict, **_: Any) -> None:
            self.answers[(operation, context.get("bench.namespace"))] = parsed

        events = client.meta.events
        events.register(f"before-parameter-build.{service_id}.{operation}", stash)
        events.register(f"after-call.{service_id}.{operation}", keep)

        def stop() -> None:
            events.unregister(f"before-parameter-build.{service_id}.{operation}", stash)
            events.unregister(f"after-call.{service_id}.{operation}", keep)

        return stop

    # replay (outside the emulation)

    def install(self, client: Any, service_id: str, operation: str) -> None:
        def stash(params: Any, context: dict, **_: Any) -> None:
            context["bench.namespace"] = params.get("namespacePath")

        def answer(context: dict, **_: Any) -> Any:
            key = (operation, context.get("bench.namespace"))
            self.served[operation] += 1
            return self._ok, self.answers[key]

        client.meta.events.register_first(f"before-parameter-build.{service_id}.{operation}", stash)
        client.meta.events.register_first(f"before-call.{service_id}.{operation}", answer)


def _seed(aws: Any, store: Any, actors: list[str], vectors_per_actor: int, records_per_namespace: int) -> None:
    from runtime.identity import Identity
    from runtime.stores import MemoryDraft
    from runtime.stores.agentcore import actor_namespaces

    topics = ["window seats", "green tea", "billing migration", "Lisbon trip", "python typing", "quarterly review"]
    for a, actor in enumerate(actors):
        drafts = [
            MemoryDraft(
                content=f"Note {i} of actor {a}: prefers {topics[i % len(topics)]}; decided to follow up in week {i}.",
                kind=("fact", "preference", "note", "summary")[i % 4],
                agent="travel" if i % 2 else "support",
                session_id=f"s-{i % 7}",
            )
            for i in range(vectors_per_actor)
        ]
        store.put_memories(Identity(TENANT, actor), drafts)
    memory_id = aws.mesh.memory_id
    for a, actor in enumerate(actors):
        namespaces = actor_namespaces(f"{TENANT}:{actor}")
        for i in range(records_per_namespace):
            topic = topics[(i + a) % len(topics)]
            summary_namespace = f"{namespaces['summary']}s-{i % 5}/"
            aws.agentcore.add_record(memory_id, summary_namespace, f"Session {i}: talked about {topic}.")
            aws.agentcore.add_record(memory_id, namespaces["fact"], f"Fact {i}: the user works with {topic}.")
            aws.agentcore.add_record(memory_id, namespaces["preference"], f"Preference {i}: the user likes {topic}.")


def bench_retrieve(args: argparse.Namespace) -> dict[str, Any]:
    """(a) retrieve + render through emulated AWS; (b) the same objects with botocore answered at before-call."""
    from runtime.credentials import TenantCredentialBroker
    from runtime.embeddings import LocalHashEmbedder
    from runtime.records import MemoryQuery
    from runtime.retriever import MemoryRetriever, render_memory_block
    from runtime.stores import AgentCoreMemoryBackend, S3VectorsMemoryStore
    from runtime.testing import emulated_aws

    actors = [actor_hash(f"user-{n}") for n in range(args.retrieve_actors)]
    actor = actors[0]
    text = "what does the user prefer for travel and tea?"
    hash_embedder = LocalHashEmbedder(DIMENSION)
    embedder = CachedQueryEmbedder(hash_embedder)
    canned = CannedAnswers()

    with emulated_aws(REGION, ACCOUNT_ID, strict=True) as aws:
        mesh = aws.setup_mesh(dimension=DIMENSION, index_prefix="tenant-")
        broker = TenantCredentialBroker(mesh.tvm_role_arn, region=REGION)
        vectors = S3VectorsMemoryStore(
            broker, bucket_name=mesh.bucket_name, index_prefix=mesh.index_prefix, embedder=embedder,
            index_dimension=DIMENSION,
        )
        agentcore = AgentCoreMemoryBackend(
            lambda tenant_id, actor_id: broker.client("bedrock-agentcore", tenant_id, actor_id),
            memory_id=mesh.memory_id,
        )
        seed_started = time.perf_counter()
        _seed(aws, vectors, actors, args.vectors_per_actor, args.records_per_namespace)
        seed_s = time.perf_counter() - seed_started
        retriever = MemoryRetriever([vectors, agentcore])
        query = MemoryQuery(tenant_id=TENANT, actor_id=actor, text=text, top_k=5)

        def emulated(_: int) -> str:
            return render_memory_block(retriever.retrieve(query))

        emulated_samples = time_calls(emulated, args.emulated_iterations, warmup=20)
        s3_client = broker.client("s3vectors", TENANT, actor)
        ac_client = broker.client("bedrock-agentcore", TENANT, actor)
        stops = [
            canned.capture(s3_client, "s3vectors", "QueryVectors"),
            canned.capture(ac_client, "bedrock-agentcore", "RetrieveMemoryRecords"),
        ]
        block_emulated = emulated(0)
        records_emulated = retriever.retrieve(query)
        for stop in stops:
            stop()
        data_calls = {
            op: aws.call_count(service, op)
            for service, op in (("s3vectors", "QueryVectors"), ("bedrock-agentcore", "RetrieveMemoryRecords"))
        }
        sts_calls_in_emulation = broker.stats.sts_calls

    # Outside the emulation: the same broker (warm), stores, retriever and clients; botocore answers instantly.
    canned.install(s3_client, "s3vectors", "QueryVectors")
    canned.install(ac_client, "bedrock-agentcore", "RetrieveMemoryRecords")
    snapshot = copy.deepcopy(canned.answers)

    def overhead(_: int) -> str:
        request = MemoryQuery(tenant_id=TENANT, actor_id=actor, text=text, top_k=5)
        return render_memory_block(retriever.retrieve(request))

    block_canned = overhead(0)
    assert block_canned == block_emulated, "canned answers must reproduce the emulated retrieve exactly"
    overhead_samples, overhead_cpu = time_calls_cpu(overhead, args.overhead_iterations, warmup=200)

    # Where the time goes: each part alone, the same way (wall and process CPU per call).
    vector = embedder.embed_one(text, for_query=True)
    raw_query = {
        "vectorBucketName": mesh.bucket_name, "indexName": mesh.index_name(TENANT, actor), "topK": 5,
        "queryVector": {"float32": vector}, "filter": {"actor": {"$eq": actor}},
        "returnMetadata": True, "returnDistance": True,
    }
    small_query = {**raw_query, "queryVector": {"float32": vector[:4]}}
    raw_retrieve = {
        "memoryId": mesh.memory_id, "namespacePath": f"/facts/{TENANT}:{actor}/",
        "searchCriteria": {"searchQuery": text, "topK": 5}, "maxResults": 5,
    }
    from runtime.stores._limits import check_vector

    def inline(_: int) -> str:
        vectors.search(query)
        agentcore.search(query)
        return render_memory_block(records_emulated)

    part_calls: dict[str, Callable[[int], Any]] = {
        "s3vectors_search": lambda i: vectors.search(query),
        "agentcore_search_3_namespaces": lambda i: agentcore.search(query),
        "both_searches_and_render_inline": inline,
        "render_memory_block": lambda i: render_memory_block(records_emulated),
        "check_vector_1024": lambda i: check_vector(vector, DIMENSION),
        "botocore_query_vectors_call_1024_floats": lambda i: s3_client.query_vectors(**raw_query),
        "botocore_query_vectors_call_4_floats": lambda i: s3_client.query_vectors(**small_query),
        "botocore_retrieve_memory_records_call": lambda i: ac_client.retrieve_memory_records(**raw_retrieve),
        "json_dumps_query_vector_1024": lambda i: json.dumps(vector),
    }
    parts: dict[str, Any] = {"iterations": args.part_iterations}
    for name, call in part_calls.items():
        wall, cpu = time_calls_cpu(call, args.part_iterations, warmup=100)
        parts[name] = {**summary_ms(wall), "process_cpu_p50_ms": round(percentile(cpu, 50), 4)}
    total_cpu = percentile(overhead_cpu, 50)
    inline_cpu = parts["both_searches_and_render_inline"]["process_cpu_p50_ms"]
    parts["derived_fanout_and_merge_process_cpu_p50_ms"] = round(total_cpu - inline_cpu, 4)
    parts["derived_botocore_client_side_p50_ms"] = round(
        parts["botocore_query_vectors_call_1024_floats"]["process_cpu_p50_ms"]
        + 3 * parts["botocore_retrieve_memory_records_call"]["process_cpu_p50_ms"],
        4,
    )
    parts["derived_query_vector_serialization_p50_ms"] = round(
        parts["botocore_query_vectors_call_1024_floats"]["process_cpu_p50_ms"]
        - parts["botocore_query_vectors_call_4_floats"]["process_cpu_p50_ms"],
        4,
    )
    profile = _profile(inline, args.profile_iterations) if args.profile_iterations else None
    hash_embed = time_calls(lambda i: hash_embedder.embed_one(text, for_query=True), 300, warmup=20)
    retriever.close()
    assert canned.answers == snapshot, "runtime mutated a botocore answer"

    return {
        "seed": {
            "actors": len(actors),
            "s3vectors_vectors": len(actors) * args.vectors_per_actor,
            "vectors_of_queried_actor": args.vectors_per_actor,
            "agentcore_records": len(actors) * args.records_per_namespace * 3,
            "agentcore_records_of_queried_actor": args.records_per_namespace * 3,
            "dimension": DIMENSION,
            "seed_wall_s": round(seed_s, 2),
        },
        "query": {"top_k": 5, "records_returned": len(records_emulated), "block_bytes": len(block_emulated.encode())},
        "emulated": {"iterations": args.emulated_iterations, **summary_ms(emulated_samples)},
        "emulated_calls": data_calls,
        "sts_calls": sts_calls_in_emulation,
        "overhead": {"iterations": args.overhead_iterations, **summary_ms(overhead_samples)},
        "overhead_process_cpu": summary_ms(overhead_cpu),
        "canned_calls_served": dict(canned.served),
        "overhead_parts": parts,
        "local_hash_embed_one_1024": summary_ms(hash_embed),
        **({"profile_inline": profile} if profile else {}),
    }


def _searcher(store: Any, query: Any) -> Callable[[int], Any]:
    """One search of ``store`` for ``query`` per call (the argument is the call's index)."""
    return lambda i: store.search(query)


def _profile(call: Callable[[int], Any], iterations: int) -> dict[str, Any]:
    """Profile of ``iterations`` calls under cProfile: own time by package and the 12 costliest functions.

    cProfile adds a fixed cost per Python call, so code made of many tiny calls (botocore's per-float
    serializer) looks larger here than in the wall-clock parts; use it for where, the parts for how much.
    """
    import cProfile
    import pstats

    profiler = cProfile.Profile()
    profiler.enable()
    for i in range(iterations):
        call(i)
    profiler.disable()
    stats = pstats.Stats(profiler).stats  # type: ignore[attr-defined]
    total = sum(value[2] for value in stats.values()) or 1.0

    def package(file: str) -> str:
        for name in ("botocore", "boto3", "runtime", "numpy"):
            if f"/{name}/" in file:
                return name
        return "python stdlib and builtins"

    by_package: Counter[str] = Counter()
    for (file, _, _), value in stats.items():
        by_package[package(file)] += value[2]
    rows = sorted(stats.items(), key=lambda item: -item[1][2])[:12]
    return {
        "profiled": "S3VectorsMemoryStore.search + AgentCoreMemoryBackend.search + render_memory_block, inline",
        "iterations": iterations,
        "own_time_share_by_package": {name: round(t / total, 3) for name, t in by_package.most_common()},
        "top_functions": [
            {
                "function": f"{package(file)}:{Path(file).name}:{line}({name})",
                "calls_per_retrieve": round(value[1] / iterations, 1),
                "own_share": round(value[2] / total, 3),
            }
            for (file, line, name), value in rows
        ],
    }


# -- 3. Lambda import cost ----------------------------------------------------------------------------

_IMPORT_PROBE = """
import time
_start, _cpu = time.perf_counter(), time.process_time()
{imports}
_elapsed, _cpu = time.perf_counter() - _start, time.process_time() - _cpu
import json, sys
_forbidden = sorted({{m for m in sys.modules for f in {forbidden!r} if m == f or m.startswith(f + ".")}})
print(json.dumps({{"s": _elapsed, "cpu_s": _cpu, "forbidden": _forbidden, "modules": len(sys.modules)}}))
"""


def _probe(modules: Sequence[str], extra_flags: Sequence[str] = ()) -> subprocess.CompletedProcess:
    code = _IMPORT_PROBE.format(imports="\n".join(f"import {m}" for m in modules), forbidden=FORBIDDEN_IN_LAMBDA)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    return subprocess.run(
        [sys.executable, *extra_flags, "-c", code], cwd=REPO, env=env, capture_output=True, text=True, check=True
    )


def _importtime(modules: Sequence[str]) -> dict[str, tuple[int, int]]:
    """``-X importtime``: module -> (self us, cumulative us)."""
    table = {}
    for line in _probe(modules, ["-X", "importtime"]).stderr.splitlines():
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        self_us, cumulative_us, name = line[len("import time:"):].split("|")
        table[name.strip()] = (int(self_us), int(cumulative_us))
    return table


def bench_lambda_imports(args: argparse.Namespace) -> dict[str, Any]:
    """Fresh interpreters, interleaved: the Lambda handler modules + boto3 vs ``import boto3`` alone."""
    for _ in range(2):  # warm the OS page cache and __pycache__
        _probe(LAMBDA_MODULES)
        _probe(("boto3",))
    full, boto3_only, full_cpu, boto3_cpu, forbidden, modules = [], [], [], [], set(), {}
    for _ in range(args.import_runs):
        answer = json.loads(_probe(LAMBDA_MODULES).stdout)
        full.append(answer["s"])
        full_cpu.append(answer["cpu_s"])
        forbidden.update(answer["forbidden"])
        modules["lambda"] = answer["modules"]
        answer = json.loads(_probe(("boto3",)).stdout)
        boto3_only.append(answer["s"])
        boto3_cpu.append(answer["cpu_s"])
        modules["boto3"] = answer["modules"]
    full_ms, boto3_ms = statistics.median(full) * 1e3, statistics.median(boto3_only) * 1e3
    # Per-module self time beyond boto3's own modules: median of 5 -X importtime runs each.
    runs = [_importtime(LAMBDA_MODULES) for _ in range(5)]
    baseline = _importtime(("boto3",))
    extra = {
        name: (statistics.median(run.get(name, (0, 0))[0] for run in runs), 0)
        for name in runs[0]
        if name not in baseline
    }
    top = sorted(extra.items(), key=lambda item: -item[1][0])[:12]
    return {
        "runs": args.import_runs,
        "lambda_modules": list(LAMBDA_MODULES),
        "lambda_import_median_ms": round(full_ms, 2),
        "boto3_import_median_ms": round(boto3_ms, 2),
        "lambda_import_samples_ms": [round(s * 1e3, 2) for s in full],
        "boto3_import_samples_ms": [round(s * 1e3, 2) for s in boto3_only],
        "ratio": round(full_ms / boto3_ms, 3),
        "ratio_of_median_process_cpu": round(statistics.median(full_cpu) / statistics.median(boto3_cpu), 3),
        "lambda_import_median_cpu_ms": round(statistics.median(full_cpu) * 1e3, 2),
        "boto3_import_median_cpu_ms": round(statistics.median(boto3_cpu) * 1e3, 2),
        "forbidden": sorted(forbidden),
        "sys_modules_count": modules,
        "modules_beyond_boto3": len(extra),
        "modules_beyond_boto3_self_ms_total": round(sum(t[0] for t in extra.values()) / 1e3, 2),
        "top_modules_beyond_boto3_self_ms": {name: round(t[0] / 1e3, 2) for name, t in top},
    }


# -- 4. local store query -----------------------------------------------------------------------------


def bench_local_store(args: argparse.Namespace) -> dict[str, Any]:
    """LocalMemoryStore.search over 10,000 unit vectors of dimension 1024, filtered by one actor."""
    import numpy as np

    from runtime.identity import Identity
    from runtime.records import MemoryQuery
    from runtime.stores import LocalMemoryStore, MemoryDraft

    total = 10_000
    rng = np.random.default_rng(7)
    matrix = rng.standard_normal((total, DIMENSION), dtype=np.float32)
    matrix /= np.linalg.norm(matrix, axis=1, keepdims=True)
    query_vector = rng.standard_normal(DIMENSION).astype(np.float32)
    query_vector = (query_vector / np.linalg.norm(query_vector)).tolist()

    def build(owners: list[int]) -> tuple[Any, list[str], float]:
        actors = [actor_hash(f"local-{n}") for n in range(max(owners) + 1)]
        store = LocalMemoryStore(PrecomputedEmbedder(matrix.tolist(), query_vector), index_dimension=DIMENSION)
        started = time.perf_counter()
        by_actor: dict[int, list[MemoryDraft]] = {}
        for i, owner in enumerate(owners):
            draft = MemoryDraft(content=f"memory {i} of actor {owner}", kind=("fact", "note")[i % 2])
            by_actor.setdefault(owner, []).append(draft)
        # Rows are handed out in call order, so every vector is stored exactly once.
        for owner, drafts in by_actor.items():
            for start in range(0, len(drafts), 500):
                store.put_memories(Identity(TENANT, actors[owner]), drafts[start : start + 500])
        assert store.count(TENANT) == total
        return store, actors, time.perf_counter() - started

    owner_rng = random.Random(11)
    mixed_owners = [owner_rng.randrange(args.local_actors) for _ in range(total)]
    results: dict[str, Any] = {"vectors": total, "dimension": DIMENSION, "top_k": 5}
    for label, owners in (("mixed_actors", mixed_owners), ("single_actor", [0] * total)):
        store, actors, build_s = build(owners)
        query = MemoryQuery(tenant_id=TENANT, actor_id=actors[0], text="where does the user like to sit?", top_k=5)
        assert len(store.search(query)) == 5
        samples, cpu = time_calls_cpu(_searcher(store, query), args.local_iterations, warmup=20)
        results[label] = {
            "actors": len(actors),
            "records_of_queried_actor": owners.count(0),
            "build_s": round(build_s, 2),
            "iterations": args.local_iterations,
            **summary_ms(samples),
            "process_cpu": summary_ms(cpu),
        }
        del store
    # The store's kernel (gather the actor's rows, then BLAS matmul) against a BLAS-free einsum, same data.
    selected = np.flatnonzero(np.asarray(mixed_owners) == 0)
    unit = np.asarray(query_vector, dtype=np.float32)
    kernels = {
        "gather_matmul_mixed": lambda i: matrix[selected] @ unit,
        "gather_einsum_mixed": lambda i: np.einsum("ij,j->i", matrix[selected], unit),
        "full_matmul_10k": lambda i: matrix @ unit,
        "full_einsum_10k": lambda i: np.einsum("ij,j->i", matrix, unit),
    }
    results["kernels"] = {
        name: summary_ms(time_calls(kernel, args.local_iterations, warmup=20)) for name, kernel in kernels.items()
    }
    return results


def bench_local_store_one_blas_thread(args: argparse.Namespace) -> dict[str, Any]:
    """The same local-store benchmark in a child process with OpenBLAS limited to one thread."""
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    command = [
        sys.executable, str(Path(__file__).resolve()), "--local-only",
        "--local-actors", str(args.local_actors), "--local-iterations", str(args.local_iterations),
    ]
    child = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, check=True)
    return json.loads(child.stdout)


# -- report -------------------------------------------------------------------------------------------


def _machine() -> dict[str, Any]:
    import boto3
    import botocore
    import moto
    import numpy

    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        meminfo = Path("/proc/meminfo").read_text().splitlines()
        mem_kb = next(int(line.split()[1]) for line in meminfo if line.startswith("MemTotal"))
    except (OSError, StopIteration):
        mem_kb = 0
    return {
        "date_utc": datetime.now(UTC).isoformat(timespec="seconds"),
        "platform": platform.platform(),
        "cpu_model": cpu,
        "cpu_count": os.cpu_count(),
        "memory_gb": round(mem_kb / 1024 / 1024, 1),
        "python": platform.python_version(),
        "boto3": boto3.__version__,
        "botocore": botocore.__version__,
        "moto": moto.__version__,
        "numpy": numpy.__version__,
    }


def _target(value: Any, rule: str, ok: bool) -> dict[str, Any]:
    return {"value": value, "target": rule, "pass": bool(ok)}


def build_report(args: argparse.Namespace) -> dict[str, Any]:
    from runtime.testing import emulated_aws

    started = time.perf_counter()
    load_before = os.getloadavg()
    floor_ns = timer_floor_ns()
    with emulated_aws(REGION, ACCOUNT_ID, strict=True) as aws:
        aws.setup_mesh(dimension=DIMENSION)
        sts = bench_sts_and_broker(aws, args)
        per_request = bench_client_per_request(aws, args)
    retrieve = bench_retrieve(args)
    imports = bench_lambda_imports(args)
    local = bench_local_store(args)
    local["one_blas_thread"] = bench_local_store_one_blas_thread(args)
    load_after = os.getloadavg()

    warm = sts["broker_warm"]["user_isolation_mixed_users"]
    overhead = retrieve["overhead"]
    report: dict[str, Any] = {
        "benchmark": "runtime_hot_path",
        "command": "make bench-runtime  (= .venv/bin/python benchmarks/runtime_hot_path.py)",
        "machine": {
            **_machine(),
            "load_average_1m_at_start": round(load_before[0], 2),
            "load_average_1m_at_end": round(load_after[0], 2),
        },
        "timer_floor_ns": floor_ns,
        # -- required keys
        "sts_calls_10k_requests_100_tenants_tenant_isolation": sts["sts_calls_tenant_isolation"],
        "sts_calls_10k_requests_2000_users_user_isolation": sts["sts_calls_user_isolation"],
        "distinct_users_in_the_10k_requests": sts["distinct_users_requesting"],
        "new_client_per_request_p50_ms": per_request["boto3_client_per_request"]["p50_ms"],
        "broker_p50_ms": warm["p50_ms"],
        "broker_p99_ms": warm["p99_ms"],
        "retrieve_emulated_p50_ms": retrieve["emulated"]["p50_ms"],
        "retrieve_emulated_p99_ms": retrieve["emulated"]["p99_ms"],
        "retrieve_overhead_p50_ms": overhead["p50_ms"],
        "retrieve_overhead_p99_ms": overhead["p99_ms"],
        "retrieve_overhead_process_cpu_p50_ms": retrieve["overhead_process_cpu"]["p50_ms"],
        "lambda_import_ratio": imports["ratio"],
        "lambda_import_ratio_process_cpu": imports["ratio_of_median_process_cpu"],
        "lambda_import_modules_forbidden": imports["forbidden"],
        "local_query_p50_ms_10k": local["mixed_actors"]["p50_ms"],
        "local_query_p99_ms_10k": local["mixed_actors"]["p99_ms"],
        "local_query_actor_records": local["mixed_actors"]["records_of_queried_actor"],
        "local_query_p50_ms_10k_one_blas_thread": local["one_blas_thread"]["mixed_actors"]["p50_ms"],
        # -- details
        "sts": sts,
        "client_per_request": per_request,
        "retrieve": retrieve,
        "lambda_imports": imports,
        "local_store": local,
        "scopes": {
            "sts_calls_10k_requests_100_tenants_tenant_isolation": (
                "AssumeRole calls counted by a 'before-call.sts.AssumeRole' handler on the broker's STS client "
                "(cross-checked with the emulation's call log and broker.stats) while one TenantCredentialBroker "
                "(duration 3600 s) serves broker.client('s3vectors', tenant, actor) for 10,000 requests of 2,000 "
                "users over 100 tenants from 8 threads, with the production cache key of the isolation level "
                "(tenant: the tenant; user: tenant and actor); sequential runs are in sts. STS is moto. One "
                "container; the fleet's figure per turn is turn_latency's sts_per_turn_10k_users_*."
            ),
            "new_client_per_request_p50_ms": (
                "boto3.client('s3vectors', region_name=..., aws_access_key_id=..., ...) from already-vended "
                "credentials, per call (boto3's default session, so botocore's model cache is warm). A new "
                "boto3.Session per request costs more: see client_per_request.boto3_session_and_client_per_request."
            ),
            "broker_p50_ms": (
                "broker.client('s3vectors', tenant, actor) on a warm user-isolation cache (the requesting users, "
                "credentials fresh, client cached), one perf_counter_ns pair per call, after 10,000 warm-up calls; "
                "includes the timer floor."
            ),
            "retrieve_emulated_p50_ms": (
                "MemoryRetriever([S3VectorsMemoryStore, AgentCoreMemoryBackend]).retrieve(top_k=5) + "
                "render_memory_block, clients from a warm TenantCredentialBroker, every call served by "
                "emulated_aws(strict=True): botocore signing, the fake's request/response validation against the "
                "model, the ABAC simulator, the fakes' search (numpy for S3 Vectors), and botocore response "
                "parsing. Query embedding excluded (cached vector)."
            ),
            "retrieve_overhead_p50_ms": (
                "The same retriever, stores, broker and clients, with botocore answered at "
                "'before-call.s3vectors.QueryVectors' and 'before-call.bedrock-agentcore.RetrieveMemoryRecords' by "
                "parsed responses captured from the emulated run (so the records and block are identical). "
                "Included: query validation, broker lookups, check_vector on the 1024-float query vector, the "
                "retriever's thread-pool fan-out and join, botocore's client-side pipeline up to before-call "
                "(parameter validation against the model, endpoint rule resolution, JSON serialization incl. the "
                "query vector) for 1 QueryVectors + 3 RetrieveMemoryRecords calls, record building, the "
                "namespace/metadata re-checks, merge, de-duplication, ranking and rendering. Excluded: query "
                "embedding (cached vector), request signing, HTTP, service latency and response parsing. "
                "Wall clock per call (perf_counter_ns); retrieve_overhead_process_cpu_p50_ms is the process CPU "
                "time of the same calls (all threads), which other processes on the machine do not inflate."
            ),
            "lambda_import_ratio": (
                "Median over fresh interpreters (interleaved, after 2 warm-up pairs) of time.perf_counter() around "
                "importing LAMBDA_MODULES (runtime handler modules + boto3), divided by the median of the same "
                "around 'import boto3' alone. lambda_import_ratio_process_cpu is the same with time.process_time()."
            ),
            "local_query_p50_ms_10k": (
                "LocalMemoryStore.search(top_k=5) over 10,000 unit vectors (dimension 1024, one tenant) whose "
                "actors are drawn at random from local_store.mixed_actors.actors actors; filtered by the queried "
                "actor as the store always does. Query embedding excluded (fixed vector); validation, check_vector, "
                "masking, the product, argpartition and record building included. single_actor shows the case "
                "where one actor owns all 10,000. numpy's default BLAS threading as installed; "
                "local_query_p50_ms_10k_one_blas_thread repeats it in a child with OPENBLAS_NUM_THREADS=1."
            ),
        },
    }
    report["targets"] = {
        "sts_calls_10k_requests_100_tenants_tenant_isolation": _target(
            sts["sts_calls_tenant_isolation"],
            "== 100 (8 threads and sequential)",
            sts["sts_calls_tenant_isolation"] == 100
            and sts["tenant_isolation_sequential"]["assume_role_calls_botocore_hook"] == 100,
        ),
        "sts_calls_10k_requests_2000_users_user_isolation": _target(
            sts["sts_calls_user_isolation"],
            "== distinct users requesting (8 threads and sequential)",
            sts["sts_calls_user_isolation"] == sts["distinct_users_requesting"]
            and sts["user_isolation_sequential"]["assume_role_calls_botocore_hook"] == sts["distinct_users_requesting"],
        ),
        "broker_p50_ms": _target(warm["p50_ms"], "<= 0.2", warm["p50_ms"] <= 0.2),
        "retrieve_overhead_p50_ms": _target(overhead["p50_ms"], "<= 2.0", overhead["p50_ms"] <= 2.0),
        "lambda_import_ratio": _target(imports["ratio"], "<= 1.3", imports["ratio"] <= 1.3),
        "lambda_import_modules_forbidden": _target(imports["forbidden"], "== []", not imports["forbidden"]),
        "local_query_p50_ms_10k": _target(
            local["mixed_actors"]["p50_ms"], "<= 10", local["mixed_actors"]["p50_ms"] <= 10
        ),
    }
    report["iterations"] = {k: v for k, v in vars(args).items() if k not in ("output", "local_only")}
    report["total_wall_s"] = round(time.perf_counter() - started, 1)
    return report


def print_summary(report: dict[str, Any]) -> None:
    """One line per headline number, with its target and verdict."""
    imports, machine = report["lambda_imports"], report["machine"]
    rows = [
        ("sts_calls (tenant isolation, 100 tenants)", "sts_calls_10k_requests_100_tenants_tenant_isolation",
         f"{report['sts_calls_10k_requests_100_tenants_tenant_isolation']}"),
        ("sts_calls (user isolation, 2,000 users)", "sts_calls_10k_requests_2000_users_user_isolation",
         f"{report['sts_calls_10k_requests_2000_users_user_isolation']} "
         f"(distinct users {report['distinct_users_in_the_10k_requests']})"),
        ("new_client_per_request_p50_ms", None, f"{report['new_client_per_request_p50_ms']:.3f}"),
        ("broker_p50_ms / p99", "broker_p50_ms", f"{report['broker_p50_ms']:.4f} / {report['broker_p99_ms']:.4f}"),
        ("retrieve_emulated_p50_ms / p99", None,
         f"{report['retrieve_emulated_p50_ms']:.3f} / {report['retrieve_emulated_p99_ms']:.3f}"),
        ("retrieve_overhead_p50_ms / p99", "retrieve_overhead_p50_ms",
         f"{report['retrieve_overhead_p50_ms']:.3f} / {report['retrieve_overhead_p99_ms']:.3f}"),
        ("  (process CPU p50)", None, f"{report['retrieve_overhead_process_cpu_p50_ms']:.3f}"),
        ("lambda_import_ratio", "lambda_import_ratio",
         f"{report['lambda_import_ratio']:.3f} ({imports['lambda_import_median_ms']:.1f} ms"
         f" / {imports['boto3_import_median_ms']:.1f} ms)"),
        ("  (process CPU ratio)", None, f"{report['lambda_import_ratio_process_cpu']:.3f}"),
        ("lambda_import_modules_forbidden", "lambda_import_modules_forbidden",
         str(report["lambda_import_modules_forbidden"])),
        ("local_query_p50_ms_10k", "local_query_p50_ms_10k",
         f"{report['local_query_p50_ms_10k']:.3f} (actor has {report['local_query_actor_records']} of 10000)"),
        ("  (OpenBLAS 1 thread)", None, f"{report['local_query_p50_ms_10k_one_blas_thread']:.3f}"),
    ]
    width = max(len(name) for name, _, _ in rows)
    print(f"{'metric':<{width}}  {'value':<36} target")
    print("-" * (width + 60))
    for name, target_key, value in rows:
        target = report["targets"].get(target_key) if target_key else None
        verdict = f"{target['target']:<12} {'PASS' if target['pass'] else 'FAIL'}" if target else "(reference)"
        print(f"{name:<{width}}  {value:<36} {verdict}")
    print(
        f"\nmachine: {machine['cpu_model']} x{machine['cpu_count']}, Python {machine['python']}, "
        f"boto3 {machine['boto3']}, load average {machine['load_average_1m_at_start']} -> "
        f"{machine['load_average_1m_at_end']}; total {report['total_wall_s']} s"
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=RESULTS, help="where to write the JSON results")
    parser.add_argument("--broker-iterations", type=int, default=200_000)
    parser.add_argument("--client-iterations", type=int, default=300)
    parser.add_argument("--session-iterations", type=int, default=30)
    parser.add_argument("--retrieve-actors", type=int, default=10)
    parser.add_argument("--vectors-per-actor", type=int, default=100)
    parser.add_argument("--records-per-namespace", type=int, default=20)
    parser.add_argument("--emulated-iterations", type=int, default=300)
    parser.add_argument("--overhead-iterations", type=int, default=3000)
    parser.add_argument("--part-iterations", type=int, default=1000)
    parser.add_argument("--profile-iterations", type=int, default=300, help="cProfile retrieves (0: none)")
    parser.add_argument("--import-runs", type=int, default=15)
    parser.add_argument("--local-actors", type=int, default=10)
    parser.add_argument("--local-iterations", type=int, default=300)
    parser.add_argument("--local-only", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.local_only:  # child of bench_local_store_one_blas_thread
        print(json.dumps(bench_local_store(args)))
        return 0
    if args.import_runs < 7:
        parser.error("--import-runs must be at least 7")

    import logging

    logging.basicConfig(level=logging.WARNING)
    report = build_report(args)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2, sort_keys=False) + "\n")
    print_summary(report)
    print(f"results: {args.output.relative_to(REPO) if args.output.is_relative_to(REPO) else args.output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
