"""Credentials at scale: AssumeRole calls per turn in a simulated fleet, and what a cache miss costs.

Run from the repository root: ``.venv/bin/python benchmarks/credentials_scale.py`` (``--help`` for the counts);
``benchmarks/turn_latency.py`` runs it in a child process and merges its keys into ``turn_latency.json``.
Offline: STS is moto's, behind the project's emulation (ABAC on), reached through the production broker
(:class:`runtime.credentials.TenantCredentialBroker`) and its clients (:mod:`runtime.aws_clients`).

Keys:

- ``sts_per_turn_10k_users_tenant`` / ``sts_per_turn_10k_users_user``: AssumeRole calls (counted by the
  emulation) per turn in a fleet simulation: 10 turns/s for one simulated hour (36,000 turns), 10,000 users
  in ``--tenants`` tenants, each turn from a uniformly random user to a uniformly random warm container (Lambda
  keeps no affinity); the warm fleet grows from 10 to 50 containers and back over the hour (a new container
  starts with an empty cache, a retired one takes its cache with it). Each container is one broker with the
  production settings (1-hour credentials, refreshed 5 minutes before they expire), isolation ``tenant`` or
  ``user``. The ``user`` figure is compared with ``active_credentials``: the number of credentials the fleet
  needs at least (a (container, cache key) pair first used, or used again after its credential's refresh
  time), computed by the simulation independently of the broker.
- ``client_create_ms_p50`` / ``client_create_kib_p50``: a cache miss's client, credentials already vended:
  ``broker.client(service, tenant, actor)`` for a new (tenant, actor), time and memory (tracemalloc) per
  client; beside it what a botocore client per credential from the same warm session costs (the design not
  taken).
- ``broker_mib_1024_slots``: memory (tracemalloc) of one broker holding 1,024 (tenant, actor) slots, each with
  S3 Vectors and AgentCore clients; the container's shared clients are reported apart (paid once).

moto stamps ``Expiration`` with the wall clock; the simulation's clock runs an hour in seconds, so an
``after-call.sts.AssumeRole`` handler moves each Expiration onto the simulated clock (the lifetime stays the
requested 3,600 s).
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import os
import random
import statistics
import sys
import time
import tracemalloc
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
REGION = "us-east-1"
ACCOUNT_ID = "111111111111"
TURNS_PER_S = 10
HOUR_S = 3600
USERS = 10_000
MIN_CONTAINERS, MAX_CONTAINERS = 10, 50

os.environ.update(
    AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing", AWS_SESSION_TOKEN="testing",
    AWS_DEFAULT_REGION=REGION, AWS_REGION=REGION, AWS_CONFIG_FILE="/nonexistent/aws-config",
    AWS_SHARED_CREDENTIALS_FILE="/nonexistent/aws-credentials", AWS_EC2_METADATA_DISABLED="true",
)
os.environ.pop("AWS_PROFILE", None)
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from botocore.handlers import BUILTIN_HANDLERS  # noqa: E402

import runtime.testing.aws  # noqa: E402,F401  (the emulation's handlers, before any session exists)


class SimulatedClock:
    """The brokers' clock in the fleet simulation; an after-call handler puts moto's Expiration on it."""

    def __init__(self) -> None:
        self.start = time.time()
        self.now = self.start

    def __call__(self) -> float:
        return self.now

    def shift_expiration(self, parsed: Any, **_: Any) -> None:
        credentials = parsed.get("Credentials") if isinstance(parsed, dict) else None
        if credentials and isinstance(credentials.get("Expiration"), datetime):
            offset = timedelta(seconds=self.now - time.time())
            credentials["Expiration"] = credentials["Expiration"] + offset


CLOCK = SimulatedClock()
BUILTIN_HANDLERS.append(("after-call.sts.AssumeRole", CLOCK.shift_expiration))


def _fleet_size(t: float) -> int:
    """10 warm containers at the start and end of the hour, 50 at its middle."""
    return MIN_CONTAINERS + round((MAX_CONTAINERS - MIN_CONTAINERS) * (0.5 - 0.5 * math.cos(2 * math.pi * t / HOUR_S)))


def simulate_fleet(aws: Any, *, isolation: str, tenants: int, seed: int, hours: float = 1.0) -> dict[str, Any]:
    """One simulated hour; returns AssumeRole calls, turns and the independent floor of active credentials."""
    from runtime.credentials import TenantCredentialBroker

    rng = random.Random(seed)
    users = [(f"t{n % tenants:03d}", f"user{n:05d}") for n in range(USERS)]
    brokers: dict[int, TenantCredentialBroker] = {}
    floor: dict[tuple[int, tuple[str, str | None]], float] = {}  # (container, key) -> refresh time
    needed = 0
    before = aws.call_count("sts", "AssumeRole")
    turns = round(TURNS_PER_S * HOUR_S * hours)
    started = time.perf_counter()
    for turn in range(turns):
        CLOCK.now = CLOCK.start + turn / TURNS_PER_S
        size = _fleet_size(turn / TURNS_PER_S)
        for retired in [c for c in brokers if c >= size]:
            del brokers[retired]
            floor = {k: v for k, v in floor.items() if k[0] != retired}
        container = rng.randrange(size)
        broker = brokers.get(container)
        if broker is None:
            broker = brokers[container] = TenantCredentialBroker(
                aws.mesh.tvm_role_arn, region=REGION, isolation=isolation, clock=CLOCK)
        tenant, actor = users[rng.randrange(USERS)]
        broker.client("bedrock-agentcore", tenant, actor)
        key = (container, broker.cache_key(tenant, actor))
        if CLOCK.now >= floor.get(key, -1.0):
            needed += 1
            floor[key] = CLOCK.now + 3600 - 300
        if turn % 6000 == 5999:
            print(f"  {isolation} seed {seed}: {turn + 1} turns, {time.perf_counter() - started:.0f} s",
                  file=sys.stderr, flush=True)
    sts_calls = aws.call_count("sts", "AssumeRole") - before
    return {"turns": turns, "seed": seed, "tenants": tenants, "sts_calls": sts_calls, "active_credentials": needed,
            "sts_per_turn": round(sts_calls / turns, 4), "wall_s": round(time.perf_counter() - started, 1)}


def bench_client_create(aws: Any, samples: int) -> dict[str, Any]:
    """A miss's client with its credentials already vended, against a botocore client per credential."""
    from runtime import aws_clients
    from runtime.credentials import TenantCredentialBroker

    broker = TenantCredentialBroker(aws.mesh.tvm_role_arn, region=REGION)
    broker.client("bedrock-agentcore", "warm", "user-warm")  # the container's shared client exists
    pairs = [("acme", f"new{n:05d}") for n in range(samples)]
    vended = [broker.credentials(t, a) for t, a in pairs]
    times = []
    for tenant, actor in pairs:
        began = time.perf_counter()
        broker.client("bedrock-agentcore", tenant, actor)
        times.append((time.perf_counter() - began) * 1000)
    # Memory per client: the same on fresh slots, traced.
    more = [("acme", f"mem{n:05d}") for n in range(samples)]
    for tenant, actor in more:
        broker.credentials(tenant, actor)
    gc.collect()
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    kept = [broker.client("bedrock-agentcore", t, a) for t, a in more]
    per_client_kib = (tracemalloc.get_traced_memory()[0] - base) / len(kept) / 1024
    tracemalloc.stop()

    session = aws_clients.shared_session()
    raw_times, raw_kib = [], []
    for creds in vended[: min(samples, 50)]:
        gc.collect()
        tracemalloc.start()
        began = time.perf_counter()
        client = session.client("bedrock-agentcore", region_name=REGION, **creds.client_kwargs())
        raw_times.append((time.perf_counter() - began) * 1000)
        raw_kib.append(tracemalloc.get_traced_memory()[0] / 1024)
        tracemalloc.stop()
        del client
    return {
        "client_create_ms": _summary(times),
        "client_create_kib_per_client": round(per_client_kib, 2),
        "botocore_client_per_credential_ms": _summary(raw_times),
        "botocore_client_per_credential_kib_p50": round(statistics.median(raw_kib), 1),
        "samples": samples,
    }


def bench_broker_memory(aws: Any, slots: int) -> dict[str, Any]:
    """Memory of one broker holding ``slots`` (tenant, actor) slots with two clients each."""
    from runtime import aws_clients
    from runtime.credentials import TenantCredentialBroker

    shared_before = len(aws_clients._clients)
    gc.collect()
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    warm = TenantCredentialBroker(aws.mesh.tvm_role_arn, region=REGION)
    for service in ("s3vectors", "bedrock-agentcore"):
        warm.client(service, "warm", "user-warm")
    shared_mib = (tracemalloc.get_traced_memory()[0] - base) / 2**20
    del warm
    gc.collect()
    base = tracemalloc.get_traced_memory()[0]
    broker = TenantCredentialBroker(aws.mesh.tvm_role_arn, region=REGION)
    for n in range(slots):
        for service in ("s3vectors", "bedrock-agentcore"):
            broker.client(service, f"t{n % 16:02d}", f"user{n:05d}")
    gc.collect()
    mib = (tracemalloc.get_traced_memory()[0] - base) / 2**20
    tracemalloc.stop()
    return {"mib": round(mib, 3), "estimate_mib": round(broker.stats.cached_bytes / 2**20, 3),
            "shared_clients_mib_once_per_container": round(shared_mib, 2) if shared_before == 0 else None,
            "slots": len(broker)}


def _summary(values: list[float]) -> dict[str, float]:
    return {"p50": round(statistics.median(values), 4), "min": round(min(values), 4),
            "max": round(max(values), 4), "n": len(values)}


def _spread(values: list[float]) -> dict[str, float]:
    return {"median": round(statistics.median(values), 4), "min": round(min(values), 4),
            "max": round(max(values), 4)}


def measure(args: argparse.Namespace) -> dict[str, Any]:
    """Every key of this benchmark, side by side in one run."""
    import logging

    from runtime.testing import emulated_aws

    logging.getLogger("runtime.credentials").setLevel(logging.ERROR)
    fleets: dict[str, list[dict[str, Any]]] = {"tenant": [], "user": []}
    # Each isolation level against a TVM synthesized for it (a user-isolation TVM refuses tenant-wide sessions).
    with emulated_aws(REGION, ACCOUNT_ID, strict=False) as aws:
        aws.setup_mesh(isolation="user")
        client = bench_client_create(aws, args.client_samples)
        memory_runs = [bench_broker_memory(aws, 1024) for _ in range(args.memory_runs)]
        for seed in range(args.user_seeds):
            fleets["user"].append(simulate_fleet(aws, isolation="user", tenants=args.tenants, seed=seed,
                                                 hours=args.hours))
    with emulated_aws(REGION, ACCOUNT_ID, strict=False) as aws:
        aws.setup_mesh(isolation="tenant")
        for seed in range(args.seeds):
            fleets["tenant"].append(simulate_fleet(aws, isolation="tenant", tenants=args.tenants, seed=seed,
                                                   hours=args.hours))
        sweep = {str(n): simulate_fleet(aws, isolation="tenant", tenants=n, seed=0, hours=args.hours)["sts_per_turn"]
                 for n in args.tenant_sweep}
    user_runs = fleets["user"]
    return {
        "sts_per_turn_10k_users_tenant": statistics.median(r["sts_per_turn"] for r in fleets["tenant"]),
        "sts_per_turn_10k_users_user": statistics.median(r["sts_per_turn"] for r in user_runs),
        "sts_calls_equal_active_credentials_user": all(r["sts_calls"] == r["active_credentials"] for r in user_runs),
        "client_create_ms_p50": client["client_create_ms"]["p50"],
        "client_create_kib_p50": client["client_create_kib_per_client"],
        "broker_mib_1024_slots": statistics.median(r["mib"] for r in memory_runs),
        "targets_credentials": {"sts_per_turn_10k_users_tenant": "<= 0.05",
                                "sts_per_turn_10k_users_user": "== active credentials",
                                "client_create_ms_p50": "<= 2", "client_create_kib_p50": "<= 50",
                                "broker_mib_1024_slots": "<= 100"},
        "credentials_detail": {
            "fleet": {"turns_per_s": TURNS_PER_S, "users": USERS, "tenants": args.tenants,
                      "containers": f"{MIN_CONTAINERS}-{MAX_CONTAINERS} (cosine over the hour)",
                      "seeds": {"tenant": args.seeds, "user": args.user_seeds}, "hours": args.hours,
                      "sts_per_turn_tenant": _spread([r["sts_per_turn"] for r in fleets["tenant"]]),
                      "sts_per_turn_user": _spread([r["sts_per_turn"] for r in user_runs]),
                      "runs": fleets,
                      "sts_per_turn_tenant_by_tenant_count": sweep},
            "client_create": client,
            "broker_memory_1024_slots": {"mib": _spread([r["mib"] for r in memory_runs]), "runs": memory_runs},
        },
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tenants", type=int, default=20, help="tenants the 10,000 users belong to (default 20)")
    parser.add_argument("--seeds", type=int, default=3, help="fleet simulations with tenant isolation (default 3)")
    parser.add_argument("--user-seeds", type=int, default=1,
                        help="fleet simulations with user isolation (default 1: ~34,000 AssumeRole calls each)")
    parser.add_argument("--hours", type=float, default=1.0, help="simulated hours (default 1; less for a smoke run)")
    parser.add_argument("--tenant-sweep", type=int, nargs="*", default=[10, 50, 100],
                        help="tenant counts also simulated once with tenant isolation")
    parser.add_argument("--client-samples", type=int, default=500)
    parser.add_argument("--memory-runs", type=int, default=3)
    parser.add_argument("--json", action="store_true", help="print the report as one JSON line (for turn_latency)")
    args = parser.parse_args(argv)
    report = measure(args)
    if args.json:
        print(json.dumps(report))
        return 0
    for key in ("sts_per_turn_10k_users_tenant", "sts_per_turn_10k_users_user",
                "sts_calls_equal_active_credentials_user", "client_create_ms_p50", "client_create_kib_p50",
                "broker_mib_1024_slots"):
        print(f"{key:42} {report[key]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
