"""Turn latency: the memory plumbing of a handoff turn against its floor, the cold first turn, the recall budget.

Run from the repository root: ``.venv/bin/python benchmarks/turn_latency.py`` (``--help`` for the counts).
Writes ``benchmarks/results/turn_latency.json`` and ``turn_latency.png``. Offline: AWS is emulated in-process
(moto and ``runtime.testing``) and every memory call lasts the latency ``benchmarks/latency_table.py`` gives it
(the emulation's own work included); agent invocations take no added time and their time is subtracted.

Keys:

- ``warm_handoff_memory_ms``: median (min-max) wall time of a warm handoff turn (supervisor + worker, recent
  turns present) minus the time spent inside the two agent invocations: the memory plumbing's critical path.
- ``floor_ms``: the longest unavoidable chain of the same table: the recall round's slowest branch (embed then
  QueryVectors, or RetrieveMemoryRecords, or ListEvents; they are independent) plus the turn's one CreateEvent.
- ``ratio_to_floor`` = the two (target <= 1.2). ``create_event_calls_per_turn`` (target 1).
- ``cold_first_turn_ratio_vs_boto3``: fresh interpreters on the real bundle (RuntimeBundle's local bundling,
  bytecode compiled for this Python): the handler's import plus its first handoff turn, against a plain-boto3
  handler making the same AWS calls (sequentially, no framework) in the same kind of interpreter; both answered
  by the same recorded answers at botocore's ``before-call`` seam; pairs interleaved, median of the pair ratios.
- ``recall_budget_held``: with RetrieveMemoryRecords slowed by 4 s, the turn's memory time grows by at most the
  recall budget.
- ``sts_per_turn_10k_users_tenant``, ``sts_per_turn_10k_users_user``, ``client_create_ms_p50``,
  ``broker_mib_1024_slots``: credentials at scale, from ``benchmarks/credentials_scale.py`` run in a child
  process (its own emulation, none of this benchmark's latency handlers); see that module for what each means.
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import platform
import statistics
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "benchmarks" / "results" / "turn_latency.json"
COMMAND = ".venv/bin/python benchmarks/turn_latency.py"
REGION = "us-east-1"
ACCOUNT_ID = "111111111111"
DIMENSION = 256
MESSAGE = "I have a question about my invoice from March."
SLOW_BACKEND_S = 4.0

os.environ.update(
    AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing", AWS_SESSION_TOKEN="testing",
    AWS_DEFAULT_REGION=REGION, AWS_REGION=REGION, AWS_CONFIG_FILE="/nonexistent/aws-config",
    AWS_SHARED_CREDENTIALS_FILE="/nonexistent/aws-credentials", AWS_EC2_METADATA_DISABLED="true",
)
os.environ.pop("AWS_PROFILE", None)
for path in (str(REPO), str(REPO / "benchmarks")):
    if path not in sys.path:
        sys.path.insert(0, path)

import lambda_cold_start as cold  # noqa: E402  (the bundle, bytecode and canned-answer machinery)
from botocore.handlers import BUILTIN_HANDLERS  # noqa: E402
from latency_table import LATENCY_MS, latency_ms  # noqa: E402

AGENT_OPERATIONS = {("bedrock-agent-runtime", "InvokeAgent"), ("bedrock-agentcore", "InvokeAgentRuntime")}


class Clockwork:
    """botocore handlers: each memory call lasts its table latency; agent calls are timed (to subtract them)."""

    def __init__(self) -> None:
        self.enabled = False
        self.extra_s: dict[tuple[str, str], float] = {}
        self._local = threading.local()
        self._lock = threading.Lock()
        self.agent_s = 0.0

    def install(self) -> None:
        # Operation-specific names, first in BUILTIN_HANDLERS: botocore runs the most specific event name's
        # handlers first, in registration order, and the emulation's own 'before-call' handlers answer the call
        # (ending the chain), so these must come before them.
        for service, operation in (*LATENCY_MS, *AGENT_OPERATIONS):
            BUILTIN_HANDLERS.insert(0, (f"before-call.{service}.{operation}", self.before))
            BUILTIN_HANDLERS.append((f"after-call.{service}.{operation}", self.after))

    def before(self, model: Any, **_: Any) -> None:
        self._local.started = time.perf_counter()

    def after(self, model: Any, **_: Any) -> None:
        # A call lasts its table latency, the emulation's own work included (it is the service's part):
        # whatever the fake took, the call returns when its latency has passed since it started.
        key = (model.service_model.service_name, model.name)
        started = getattr(self._local, "started", None)
        if started is None:
            return
        self._local.started = None
        if key in AGENT_OPERATIONS:
            with self._lock:
                self.agent_s += time.perf_counter() - started
            return
        if self.enabled:
            due = started + latency_ms(*key) / 1000 + self.extra_s.get(key, 0.0)
            left = due - time.perf_counter()
            if left > 0:
                time.sleep(left)


CLOCKWORK = Clockwork()
CLOCKWORK.install()
CANNED = cold.CannedBotocore()
CANNED.install(BUILTIN_HANDLERS)


class _Sink:
    def write(self, text: str) -> int:
        return len(text)

    def flush(self) -> None:
        pass


def _summary(values_ms: list[float]) -> dict[str, float]:
    return {"median_ms": round(statistics.median(values_ms), 1), "min_ms": round(min(values_ms), 1),
            "max_ms": round(max(values_ms), 1), "n": len(values_ms)}


def _floor_ms() -> dict[str, Any]:
    embed_then_query = latency_ms("bedrock-runtime", "InvokeModel") + latency_ms("s3vectors", "QueryVectors")
    branches = {
        "embed + QueryVectors": embed_then_query,
        "RetrieveMemoryRecords (each kind, in parallel)": latency_ms("bedrock-agentcore", "RetrieveMemoryRecords"),
        "ListEvents (recent turns)": latency_ms("bedrock-agentcore", "ListEvents"),
    }
    slowest = max(branches.values())
    return {"floor_ms": slowest + latency_ms("bedrock-agentcore", "CreateEvent"), "recall_branches_ms": branches,
            "chain": "max(recall branches) + CreateEvent (written once the answer is known)"}


def bench_warm(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    """The handler in this process over the emulation, every memory call at its table latency."""
    from runtime.handlers import orchestrator
    from runtime.testing import emulated_aws
    from runtime.testing.agents_fake import scripted_agents
    from tests.handlers import lambda_events as ev

    with emulated_aws(REGION, ACCOUNT_ID, strict=False) as aws, scripted_agents(aws) as agents:
        env = _environment(aws, workdir)
        os.environ.update(env)
        agents.bedrock_agent(ev.SUPERVISOR_AGENT_ID, ev.SUPERVISOR_ALIAS_ID, ev.supervisor_script)
        agents.bedrock_agent(ev.BILLING_AGENT_ID, ev.BILLING_ALIAS_ID, ev.billing_script,
                             account_id=ev.WORKER_ACCOUNT, region=ev.WORKER_REGION)
        claims = ev.claims_for("acme", "alice")
        _seed(aws, ev.actor_of("alice"))
        orchestrator.reset()

        def turn(session: str) -> tuple[float, float, dict[str, Any]]:
            CLOCKWORK.agent_s = 0.0
            event = ev.message_event(session, claims, {"message": MESSAGE})
            real, sys.stdout = sys.stdout, _Sink()  # the function's JSON logs and EMF metrics, written and dropped
            try:
                started = time.perf_counter()
                status, body = ev.answer_of(orchestrator.handler(event, ev.FakeLambdaContext()))
                wall = time.perf_counter() - started
            finally:
                sys.stdout = real
            if status != 200 or not body.get("delegated"):
                raise SystemExit(f"the handoff turn failed: {status} {body}")
            return wall * 1000, CLOCKWORK.agent_s * 1000, body

        CLOCKWORK.enabled = True
        sessions = [f"bench-{i}" for i in range(5)]
        for session in sessions:  # warm-up: clients, credentials, a first turn in each session
            turn(session)
        before = aws.call_count("bedrock-agentcore", "CreateEvent")
        memory, walls, agent = [], [], []
        for i in range(args.turns):
            wall, agent_ms, _ = turn(sessions[i % len(sessions)])
            walls.append(wall)
            agent.append(agent_ms)
            memory.append(wall - agent_ms)
        create_events = (aws.call_count("bedrock-agentcore", "CreateEvent") - before) / args.turns

        CLOCKWORK.extra_s[("bedrock-agentcore", "RetrieveMemoryRecords")] = SLOW_BACKEND_S
        slow = []
        for i in range(args.slow_turns):
            wall, agent_ms, body = turn(sessions[i % len(sessions)])
            slow.append(wall - agent_ms)
            time.sleep(SLOW_BACKEND_S + 0.2)  # let the abandoned calls finish before the next turn
        CLOCKWORK.extra_s.clear()
        CLOCKWORK.enabled = False

        # Record the answers of one cold-like turn (a user never seen: credentials vended, nothing cached).
        CANNED.capturing = {}
        cold_claims = ev.claims_for("acme", "carol")
        event = ev.message_event("cold-1", cold_claims, {"message": MESSAGE})
        orchestrator.reset()
        real, sys.stdout = sys.stdout, _Sink()
        try:
            status, expected = ev.answer_of(orchestrator.handler(event, ev.FakeLambdaContext()))
        finally:
            sys.stdout = real
        answers, CANNED.capturing = CANNED.capturing, None
        if status != 200:
            raise SystemExit(f"the recorded turn failed: {expected}")
        (workdir / "answers.pickle").write_bytes(pickle.dumps(answers))
        (workdir / "event.json").write_text(json.dumps(event))
        orchestrator.reset()
        for name in env:
            os.environ.pop(name, None)

    warm = _summary(memory)
    budget_ms = orchestrator.RECALL_BUDGET_S * 1000
    extra = statistics.median(slow) - warm["median_ms"]
    return {
        "memory_ms": warm,
        "turn_wall_ms": _summary(walls),
        "agent_time_ms": _summary(agent),
        "create_event_calls_per_turn": create_events,
        "slow_backend": {"delay_s": SLOW_BACKEND_S, "operation": "RetrieveMemoryRecords",
                         "memory_ms": _summary(slow), "extra_ms_median": round(extra, 1),
                         "recall_budget_ms": budget_ms},
        "recall_budget_held": max(slow) - warm["median_ms"] <= budget_ms,
        "env": env,
        "recorded_calls": sorted({f"{k[0]}.{k[1]}" for k in answers}),
        "expected_body": expected,
    }


def _environment(aws: Any, workdir: Path) -> dict[str, str]:
    from runtime.testing.mesh_stacks import worker_roles
    from tests.handlers import lambda_events as ev

    # The workers' access roles are deployed too: the emulation refuses AssumeRole on a role never deployed.
    layout = aws.setup_mesh(dimension=DIMENSION, index_prefix="tenant-", workers=worker_roles(ev.workers_document()))
    sqs = aws.client("sqs")
    workers = workdir / "workers.json"
    workers.write_text(json.dumps(ev.workers_document()))
    return {
        "MESH_REGION": REGION, "MESH_VECTOR_BUCKET": layout.bucket_name, "MESH_INDEX_PREFIX": layout.index_prefix,
        "MESH_EMBEDDING_DIMENSION": str(DIMENSION), "MESH_DISTANCE_METRIC": "cosine",
        "MESH_EMBEDDING_MODEL_ID": "amazon.titan-embed-text-v2:0", "MESH_MEMORY_ID": layout.memory_id,
        "MESH_TVM_ROLE_ARN": layout.tvm_role_arn, "MESH_SUMMARY_MODEL_ID": "amazon.nova-lite-v1:0",
        "MESH_SUMMARY_QUEUE_URL": sqs.create_queue(QueueName="summaries")["QueueUrl"],
        "MESH_LIFECYCLE_QUEUE_URL": sqs.create_queue(QueueName="lifecycle")["QueueUrl"],
        "MESH_TENANT_CLAIM": ev.TENANT_CLAIM, "MESH_WORKERS_FILE": str(workers),
        "MESH_SUPERVISOR_AGENT": json.dumps(
            {"type": "bedrock-agent", "agent_id": ev.SUPERVISOR_AGENT_ID, "alias_id": ev.SUPERVISOR_ALIAS_ID}),
        "POWERTOOLS_SERVICE_NAME": "orchestrator", "POWERTOOLS_METRICS_NAMESPACE": "AgentMemoryMesh",
        "POWERTOOLS_LOGGER_LOG_EVENT": "false", "LOG_LEVEL": "INFO",
    }


def _seed(aws: Any, actor: str) -> None:
    from runtime.credentials import TenantCredentialBroker
    from runtime.embeddings import LocalHashEmbedder
    from runtime.identity import Identity
    from runtime.stores import S3VectorsMemoryStore

    broker = TenantCredentialBroker(aws.mesh.tvm_role_arn, region=REGION)
    store = S3VectorsMemoryStore(broker, bucket_name=aws.mesh.bucket_name, index_prefix="tenant-",
                                 embedder=LocalHashEmbedder(DIMENSION))
    for i in range(20):
        store.put_memory(Identity("acme", actor), f"Invoice note {i}: pays by bank transfer", kind="fact")
    for kind in ("facts", "preferences"):
        for i in range(5):
            aws.agentcore.add_record(aws.mesh.memory_id, f"/{kind}/acme:{actor}/", f"{kind} record {i} about invoices")


# -- cold: fresh interpreters on the real bundle ----------------------------------------------------------------

_MESH_CHILD = r"""
import sys, time
code, layer, answers_path, event_path = sys.argv[1:5]
sys.path[:0] = [code, layer]
_t0 = time.perf_counter()
import importlib
module = importlib.import_module("runtime.handlers.orchestrator")
ENTRY
"""

_PLAIN_CHILD = r"""
import sys, time
code, layer, answers_path, event_path = sys.argv[1:5]
sys.path[:0] = [code, layer]
_t0 = time.perf_counter()
import importlib
module = importlib.import_module("plain_handler")
ENTRY
"""

#: Both children: install the recorded answers, serve one handoff turn, print the whole first invocation.
_ENTRY = r"""
import json, pickle, uuid
from typing import Any
import botocore.handlers
CANNED_SOURCE
canned = CannedBotocore()
with open(answers_path, "rb") as handle:
    canned.answers = pickle.load(handle)
canned.install(botocore.handlers.BUILTIN_HANDLERS)
canned.active = True
with open(event_path) as handle:
    event = json.load(handle)

class Context:
    aws_request_id = str(uuid.uuid4())
    function_name = "mesh-orchestrator"
    memory_limit_in_mb = 1024
    invoked_function_arn = "arn:aws:lambda:us-east-1:111111111111:function:mesh-orchestrator"
    def get_remaining_time_in_millis(self):
        return 29000

class Sink:
    def write(self, text):
        return len(text)
    def flush(self):
        pass

real, sys.stdout = sys.stdout, Sink()
answer = module.handler(event, Context())
_t1 = time.perf_counter()
sys.stdout = real
print(json.dumps({"first_invocation_s": _t1 - _t0, "status": answer.get("statusCode"),
                  "served": canned.served, "missing": [list(k) for k in canned.missing]}))
"""

#: The baseline: the same AWS calls with plain boto3, one after the other, no framework, no threads.
_PLAIN_HANDLER = r'''
"""A plain-boto3 handoff handler: the same calls as the mesh's orchestrator, written the obvious way."""
import base64
import hashlib
import json
import os

import boto3


def handler(event, context):
    body = json.loads(event["body"])
    claims = event["requestContext"]["authorizer"]["jwt"]["claims"]
    tenant = claims["custom:tenant_id"]
    actor = hashlib.sha256(f"{claims['iss']}\0{claims['sub']}".encode()).hexdigest()
    message, session = body["message"], event["pathParameters"]["session_id"]
    env = os.environ
    sts = boto3.client("sts", region_name=env["MESH_REGION"])
    tags = [{"Key": "TenantID", "Value": tenant}, {"Key": "ActorID", "Value": actor}]
    creds = sts.assume_role(RoleArn=env["MESH_TVM_ROLE_ARN"], RoleSessionName=f"mesh-{tenant}",
                            Tags=tags, SourceIdentity=actor)["Credentials"]
    scoped = boto3.session.Session(aws_access_key_id=creds["AccessKeyId"],
                                   aws_secret_access_key=creds["SecretAccessKey"],
                                   aws_session_token=creds["SessionToken"], region_name=env["MESH_REGION"])
    runtime = boto3.client("bedrock-runtime", region_name=env["MESH_REGION"])
    answer = runtime.invoke_model(modelId=env["MESH_EMBEDDING_MODEL_ID"],
                                  body=json.dumps({"inputText": message, "dimensions": 256}))
    vector = json.loads(answer["body"].read())["embedding"]
    vectors = scoped.client("s3vectors")
    # The user's own index: <prefix><tenant>.<base32 of SHA-256(tenant NUL actor)>, at most 63 characters.
    prefix = f"{env['MESH_INDEX_PREFIX']}{tenant}."
    digest = base64.b32encode(hashlib.sha256(f"{tenant}\0{actor}".encode()).digest()).decode().lower()
    index = prefix + digest.rstrip("=")[:min(26, 63 - len(prefix))]
    found = vectors.query_vectors(vectorBucketName=env["MESH_VECTOR_BUCKET"], indexName=index,
                                  queryVector={"float32": vector}, topK=8, filter={"actor": actor},
                                  returnMetadata=True, returnDistance=True).get("vectors", [])
    memory = scoped.client("bedrock-agentcore")
    records = []
    for root in ("summaries", "facts", "preferences"):
        records += memory.retrieve_memory_records(
            memoryId=env["MESH_MEMORY_ID"], namespacePath=f"/{root}/{tenant}:{actor}/",
            searchCriteria={"searchQuery": message, "topK": 8}, maxResults=8)["memoryRecordSummaries"]
    memory.list_events(memoryId=env["MESH_MEMORY_ID"], actorId=f"{tenant}:{actor}", sessionId=session,
                       maxResults=10)
    facts = [v["metadata"]["content"] for v in found] + [r["content"]["text"] for r in records]
    state = {"sessionAttributes": {"mesh_memories": json.dumps(facts)}}
    agents = boto3.client("bedrock-agent-runtime", region_name=env["MESH_REGION"])
    supervisor = json.loads(env["MESH_SUPERVISOR_AGENT"])
    stream = agents.invoke_agent(agentId=supervisor["agent_id"], agentAliasId=supervisor["alias_id"],
                                 sessionId=hashlib.sha256(session.encode()).hexdigest(), inputText=message,
                                 sessionState=state)["completion"]
    reply = "".join(e["chunk"]["bytes"].decode() for e in stream if "chunk" in e)
    with open(env["MESH_WORKERS_FILE"]) as handle:
        worker = json.load(handle)[0]
    worker_creds = sts.assume_role(RoleArn=worker["role_arn"], RoleSessionName=f"mesh-{tenant}",
                                   ExternalId=worker["external_id"], Tags=tags, SourceIdentity=actor)["Credentials"]
    worker_agents = boto3.session.Session(
        aws_access_key_id=worker_creds["AccessKeyId"], aws_secret_access_key=worker_creds["SecretAccessKey"],
        aws_session_token=worker_creds["SessionToken"]).client("bedrock-agent-runtime", region_name=worker["region"])
    stream = worker_agents.invoke_agent(agentId=worker["agent"]["agent_id"], agentAliasId=worker["agent"]["alias_id"],
                                        sessionId=hashlib.sha256(session.encode()).hexdigest(), inputText=message,
                                        sessionState=state)["completion"]
    worker_reply = "".join(e["chunk"]["bytes"].decode() for e in stream if "chunk" in e)
    import datetime
    memory.create_event(memoryId=env["MESH_MEMORY_ID"], actorId=f"{tenant}:{actor}", sessionId=session,
                        eventTimestamp=datetime.datetime.now(datetime.timezone.utc),
                        payload=[{"conversational": {"content": {"text": t}, "role": r}}
                                 for r, t in (("USER", message), ("ASSISTANT", reply), ("ASSISTANT", worker_reply))])
    return {"statusCode": 200, "body": json.dumps({"supervisor_response": reply, "worker_response": worker_reply})}
'''


def bench_cold(args: argparse.Namespace, workdir: Path, env: dict[str, str]) -> dict[str, Any]:
    """Interleaved pairs of fresh interpreters: the bundle's orchestrator vs the plain-boto3 handler."""
    import inspect

    bundle = cold.synthesize_bundle(workdir)
    function = bundle["functions"]["orchestrator"]
    sdk_layer = next(Path(layer["dir"]) for layer in bundle["layers"].values()
                     if "Pinned AWS SDK" in layer["description"]) / "python"
    plain_dir = workdir / "plain"
    plain_dir.mkdir()
    (plain_dir / "plain_handler.py").write_text(_PLAIN_HANDLER)
    compile_s = cold._compiled_copy(Path(function["code_dir"]), workdir / "pyc" / "code")
    compile_s += cold._compiled_copy(sdk_layer, workdir / "pyc" / "layer")
    compile_s += cold._compiled_copy(plain_dir, workdir / "pyc" / "plain")
    entry = _ENTRY.replace("CANNED_SOURCE", inspect.getsource(cold.CannedBotocore))
    child_env = {**cold._CHILD_ENV_BASE, **env, "PATH": os.environ.get("PATH", ""), "HOME": str(workdir),
                 "AWS_LAMBDA_FUNCTION_NAME": "mesh-orchestrator"}
    children = {
        "mesh": (_MESH_CHILD.replace("ENTRY", entry), workdir / "pyc" / "code"),
        "boto3": (_PLAIN_CHILD.replace("ENTRY", entry), workdir / "pyc" / "plain"),
    }
    runs: dict[str, list[float]] = {"mesh": [], "boto3": []}
    served: dict[str, Any] = {}
    for i in range(args.pairs + 1):
        order = ("mesh", "boto3") if i % 2 == 0 else ("boto3", "mesh")
        for name in order:
            source, code = children[name]
            child = cold._bundle_python(["-c", source, str(code), str(workdir / "pyc" / "layer"),
                                         str(workdir / "answers.pickle"), str(workdir / "event.json")],
                                        env=child_env)
            if child.returncode != 0:
                raise SystemExit(f"cold {name} run failed:\n{child.stderr[-3000:]}")
            answer = json.loads(child.stdout.strip().splitlines()[-1])
            if answer["status"] != 200 or answer["missing"]:
                raise SystemExit(f"cold {name} run answered differently: {answer}")
            served[name] = answer["served"]
            if i:  # the first pair warms the page cache
                runs[name].append(answer["first_invocation_s"] * 1000)
    ratios = [m / b for m, b in zip(runs["mesh"], runs["boto3"], strict=True)]
    return {
        "pairs": args.pairs,
        "mesh_first_invocation_ms": _summary(runs["mesh"]),
        "boto3_first_invocation_ms": _summary(runs["boto3"]),
        "ratio": {"median": round(statistics.median(ratios), 3), "min": round(min(ratios), 3),
                  "max": round(max(ratios), 3)},
        "calls_served": served,
        "bundle": {"code_asset": function["code_key"], "runtime": function["runtime"],
                   "bytecode_compile_s": round(compile_s, 2), "synth_and_bundle_wall_s":
                   bundle.get("synth_and_bundle_wall_s")},
        "scope": ("each sample: a fresh `python -I -S -B` on the bundle's code asset and pinned SDK layer "
                  "(bytecode precompiled, unchecked-hash); from before importing the handler module to the end of "
                  "its first handoff turn, recorded answers installed at botocore's before-call seam in both"),
    }


CREDENTIAL_KEYS = ("sts_per_turn_10k_users_tenant", "sts_per_turn_10k_users_user",
                   "sts_calls_equal_active_credentials_user", "client_create_ms_p50", "client_create_kib_p50",
                   "broker_mib_1024_slots")


def _credentials_scale(args: argparse.Namespace) -> dict[str, Any]:
    """benchmarks/credentials_scale.py in a child process: its report (one JSON line)."""
    import subprocess

    child = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "credentials_scale.py"), "--json",
         "--seeds", str(args.credential_seeds)],
        capture_output=True, text=True, check=False, cwd=REPO,
    )
    if child.returncode != 0:
        raise SystemExit(f"credentials_scale failed:\n{child.stderr[-3000:]}")
    report: dict[str, Any] = json.loads(child.stdout.strip().splitlines()[-1])
    return report


def _plot(report: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    warm = report["detail"]["warm"]
    figure, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    labels = ["floor", "warm turn\n(memory)", "slow backend\n(memory)"]
    values = [report["floor_ms"], warm["memory_ms"]["median_ms"], warm["slow_backend"]["memory_ms"]["median_ms"]]
    left.bar(labels, values, color=["#999999", "#1f77b4", "#d62728"])
    left.axhline(report["floor_ms"] * 1.2, color="black", linestyle="--", linewidth=1, label="1.2 x floor")
    left.set_ylabel("ms (agent time excluded)")
    left.set_title("Memory critical path of a handoff turn")
    left.legend()
    coldpart = report["detail"].get("cold")
    if coldpart:
        names = ["plain boto3", "mesh orchestrator"]
        medians = [coldpart["boto3_first_invocation_ms"]["median_ms"],
                   coldpart["mesh_first_invocation_ms"]["median_ms"]]
        right.bar(names, medians, color=["#999999", "#1f77b4"])
        right.set_title(f"Cold first turn (ratio {coldpart['ratio']['median']})")
        right.set_ylabel("ms: import + first invocation")
    figure.tight_layout()
    figure.savefig(path, dpi=110)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--turns", type=int, default=21, help="measured warm handoff turns (default 21)")
    parser.add_argument("--slow-turns", type=int, default=3, help="turns with a backend slowed by 4 s (default 3)")
    parser.add_argument("--pairs", type=int, default=7, help="cold pairs, after one warm-up pair (default 7)")
    parser.add_argument("--skip-cold", action="store_true", help="skip the bundle and the cold pairs")
    parser.add_argument("--skip-credentials", action="store_true", help="skip the credentials-at-scale child")
    parser.add_argument("--credential-seeds", type=int, default=3,
                        help="fleet simulations per isolation level (default 3)")
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="turn-latency-") as tmp:
        workdir = Path(tmp)
        warm = bench_warm(args, workdir)
        coldpart = None if args.skip_cold else bench_cold(args, workdir, warm.pop("env"))
    warm.pop("env", None)
    warm.pop("expected_body", None)
    credentials = None if args.skip_credentials else _credentials_scale(args)
    floor = _floor_ms()
    memory = warm["memory_ms"]
    report: dict[str, Any] = {
        "command": COMMAND,
        "generated_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": {"python": platform.python_version(), "platform": platform.platform(),
                    "cpus": os.cpu_count()},
        "warm_handoff_memory_ms": memory["median_ms"],
        "warm_handoff_memory_min_max_ms": [memory["min_ms"], memory["max_ms"]],
        "floor_ms": floor["floor_ms"],
        "ratio_to_floor": round(memory["median_ms"] / floor["floor_ms"], 3),
        "create_event_calls_per_turn": warm["create_event_calls_per_turn"],
        "cold_first_turn_ratio_vs_boto3": coldpart["ratio"]["median"] if coldpart else None,
        "recall_budget_held": warm["recall_budget_held"],
        **{key: (credentials or {}).get(key) for key in CREDENTIAL_KEYS},
        "targets": {"ratio_to_floor": "<= 1.2", "create_event_calls_per_turn": "== 1",
                    "cold_first_turn_ratio_vs_boto3": "<= 1.1", "recall_budget_held": "true",
                    **(credentials or {}).get("targets_credentials", {})},
        "latency_table": {f"{s}.{o}": {"ms": v.ms, "source": v.source} for (s, o), v in LATENCY_MS.items()},
        "floor": floor,
        "detail": {"warm": warm, "cold": coldpart,
                   "credentials": (credentials or {}).get("credentials_detail")},
        "run_id": uuid.uuid4().hex[:8],
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2) + "\n")
    _plot(report, args.output.with_suffix(".png"))
    for key in ("warm_handoff_memory_ms", "floor_ms", "ratio_to_floor", "create_event_calls_per_turn",
                "cold_first_turn_ratio_vs_boto3", "recall_budget_held", *CREDENTIAL_KEYS):
        print(f"{key:34} {report[key]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
