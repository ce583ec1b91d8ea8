"""Lambda cold start benchmark: bundle sizes and each function's whole first invocation from the real bundle.

Run from the repository root: ``make bench-lambda`` (= ``.venv/bin/python benchmarks/lambda_cold_start.py``).
Writes ``benchmarks/results/lambda_cold_start.json`` and prints a summary table. Needs PyPI (or a mirror) for
the real local bundling; everything else is offline. Each function of the memory home is driven once in this
process over the emulation (``runtime.testing``) with one representative event, its AWS answers recorded; then
fresh interpreters on the synthesized code asset and SDK layer import the handler and serve the same event, the
recorded answers given at botocore's ``before-call`` seam. The orchestrator's first turn is measured by
``benchmarks/turn_latency.py`` (against a plain-boto3 handler) and is not repeated here. Not a test: numbers
depend on the machine. What each number includes is written in the JSON's ``scopes`` object and in
``benchmarks/README.md``.
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import io
import json
import os
import pickle
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "benchmarks" / "results" / "lambda_cold_start.json"
COMMAND = "make bench-lambda  (= .venv/bin/python benchmarks/lambda_cold_start.py)"
REGION = "us-east-1"
ACCOUNT_ID = "111111111111"
#: The six functions of the memory home (constructs_lib/orchestration/functions.py).
FUNCTIONS = ("orchestrator", "forget", "lifecycle", "summarizer", "tenants", "retention")
#: The functions whose first invocation is measured here; the orchestrator's is turn_latency's.
MEASURED = ("forget", "lifecycle", "summarizer", "tenants", "retention")
#: Lambda quotas the bundle must respect.
MAX_UNZIPPED_BYTES = 250 * 1024 * 1024  # function code + all its layers, unzipped
MAX_DIRECT_ZIP_BYTES = 50 * 1024 * 1024  # one zip uploaded directly
TARGET_ZIP_BYTES = 5 * 1024 * 1024
FORBIDDEN_IN_LAMBDA = ("strands", "numpy", "pydantic", "bedrock_agentcore", "moto")
#: A persistent pip download cache for re-runs (a temp dir, never the user's cache).
PIP_CACHE = Path(tempfile.gettempdir()) / "agent-memory-mesh-bench-pip-cache"
#: The child environment of every bundle interpreter: no profile files, no instance metadata lookups.
_CHILD_ENV_BASE = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": REGION,
    "AWS_REGION": REGION,
    "AWS_CONFIG_FILE": os.devnull,
    "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    "AWS_EC2_METADATA_DISABLED": "true",
    "LANG": "C.UTF-8",
}


class _Sink:
    """Stands in for stdout while handlers run: their JSON logs and EMF metrics are written and dropped."""

    def write(self, text: str) -> int:
        return len(text)

    def flush(self) -> None:
        pass


def _summary(values_ms: Sequence[float]) -> dict[str, Any]:
    return {"median_ms": round(statistics.median(values_ms), 1), "min_ms": round(min(values_ms), 1),
            "max_ms": round(max(values_ms), 1), "n": len(values_ms)}


# -- canned botocore answers (also copied into the cold-start child, so: stdlib + lazy botocore imports only) ---


class CannedBotocore:
    """Records botocore responses during the emulated run and answers calls with them at ``before-call``.

    ``before-call.<service>.<Operation>`` fires after botocore has validated the parameters against the model,
    resolved the endpoint and serialized the request, and before signing and sending; a handler returning
    ``(http_response, parsed)`` answers the call (botocore's documented event seam, the one moto and the
    project's emulation use). Answers are keyed by operation plus what tells calls of one handoff apart (the
    namespace, the agent, the role of a recorded turn, the assumed role); calls with the same key get the last
    answer recorded for it, or, with ``sequenced``, the answers in recorded order (the last repeating). Streaming
    members (the agent's event
    stream, InvokeModel and InvokeAgentRuntime bodies) are stored as their wire bytes and rebuilt as fresh
    botocore ``EventStream`` / ``StreamingBody`` objects per call, so the handler still decodes them.
    """

    PARAMS = "lambda_cold_start.params"

    def __init__(self) -> None:
        self.answers: dict[tuple[str, str, str | None],
                           list[tuple[dict[str, Any], dict[str, tuple[str, bytes]]]]] = {}
        self.capturing: dict[Any, Any] | None = None
        self.active = False
        self.served: dict[str, int] = {}
        self._next: dict[Any, int] = {}
        #: Answer a recorded error with its HTTP status, so botocore raises it (off: served as a 200).
        self.error_status = False
        self.sequenced = False
        self.missing: list[Any] = []
        self._ok: Any = None
        import threading as _threading

        self._local = _threading.local()

    def install(self, builtin_handlers: list[Any]) -> None:
        """Append the handlers to botocore's BUILTIN_HANDLERS: every session created afterwards carries them."""
        for name, handler in (("before-parameter-build", self.stash), ("before-call", self.answer),
                              ("after-call", self.capture)):
            if (name, handler) not in builtin_handlers:
                builtin_handlers.append((name, handler))

    @staticmethod
    def key(service: str, operation: str, params: Any) -> tuple[str, str, str | None]:
        detail = None
        if operation == "AssumeRole":
            detail = params.get("RoleArn")
        elif operation == "RetrieveMemoryRecords":
            detail = params.get("namespacePath") or params.get("namespace")
        elif operation == "InvokeAgent":
            detail = params.get("agentId")
        elif operation == "InvokeAgentRuntime":
            detail = params.get("agentRuntimeArn")
        elif operation == "CreateEvent":
            payload = (params.get("payload") or [{}])[0].get("conversational") or {}
            agent = ((params.get("metadata") or {}).get("agent") or {}).get("stringValue")
            detail = f"{payload.get('role')}/{agent}"
        return service, operation, detail

    def stash(self, params: Any, context: Any, **_: Any) -> None:
        if self.active or self.capturing is not None:
            context[self.PARAMS] = params
        if self.capturing is not None:
            self._local.depth = getattr(self._local, "depth", 0) + 1

    def capture(self, model: Any, parsed: Any, context: Any, **_: Any) -> None:
        if self.capturing is None:
            return
        depth = getattr(self._local, "depth", 1)
        self._local.depth = max(0, depth - 1)
        if depth > 1:  # a call the emulation made itself while serving the function's call: not the function's
            return
        import copy as _copy

        from botocore.eventstream import EventStream
        from botocore.response import StreamingBody

        plain, streams = {}, {}
        for member, value in parsed.items():
            if isinstance(value, (EventStream, StreamingBody)):
                raw = value._raw_stream  # the fakes' in-memory body: read without consuming it
                data = raw.getvalue() if hasattr(raw, "getvalue") else None
                if data is None:
                    data = value.read() if isinstance(value, StreamingBody) else b"".join(raw.stream())
                    parsed[member] = self._stream(model, member, "blob" if isinstance(value, StreamingBody)
                                                  else "event", data)
                streams[member] = ("blob" if isinstance(value, StreamingBody) else "event", data)
            else:
                plain[member] = value
        service = model.service_model.service_name
        key = self.key(service, model.name, context.get(self.PARAMS) or {})
        self.capturing.setdefault(key, []).append((_copy.deepcopy(plain), streams))

    def answer(self, model: Any, context: Any, **_: Any) -> Any:
        if not self.active:
            return None
        service = model.service_model.service_name
        key = self.key(service, model.name, context.get(self.PARAMS) or {})
        entries = self.answers.get(key)
        if not entries:
            self.missing.append(key)
            raise RuntimeError(f"no canned answer for {key}: the benchmark never sends a request")
        position = self._next.get(key, 0) if self.sequenced else len(entries) - 1
        self._next[key] = position + 1
        parsed, streams = entries[min(position, len(entries) - 1)]
        if streams:
            parsed = dict(parsed)
            for member, (kind, data) in streams.items():
                parsed[member] = self._stream(model, member, kind, data)
        from botocore.awsrequest import AWSResponse

        if self._ok is None:
            self._ok = AWSResponse("https://canned.invalid/", 200, {}, None)
        name = f"{service}.{model.name}"
        self.served[name] = self.served.get(name, 0) + 1
        if self.error_status and "Error" in parsed:  # botocore raises an error answer only for an error status
            status = (parsed.get("ResponseMetadata") or {}).get("HTTPStatusCode") or 400
            return AWSResponse("https://canned.invalid/", status, {}, None), parsed
        return self._ok, parsed

    @staticmethod
    def _stream(model: Any, member: str, kind: str, data: bytes) -> Any:
        import io as _io

        class _Raw(_io.BytesIO):
            def stream(self, **_: Any) -> Any:
                chunk = self.read(1024)
                while chunk:
                    yield chunk
                    chunk = self.read(1024)

        if kind == "blob":
            from botocore.response import StreamingBody

            return StreamingBody(_Raw(data), len(data))
        from botocore.eventstream import EventStream
        from botocore.parsers import EventStreamJSONParser

        return EventStream(_Raw(data), model.output_shape.members[member], EventStreamJSONParser(), model.name)


# -- 1. the real bundle -----------------------------------------------------------------------------------------

_SYNTH_CHILD = r"""
import json, sys
from pathlib import Path
repo, outdir = sys.argv[1], sys.argv[2]
sys.path.insert(0, repo)
from aws_cdk import App
from stacks import MeshConfig
from stacks.mesh import build_mesh, project_context, sample_config_dict

app = App(context={**project_context(), "aws:cdk:bundling-stacks": ["**"]}, outdir=outdir)
mesh = build_mesh(app, MeshConfig.from_dict(sample_config_dict()))
assembly = app.synth()
stack = mesh.supervisor.stack_name
template = json.loads(Path(assembly.directory, stack + ".template.json").read_text())
resources = template["Resources"]

def asset_dir(code):
    return str(Path(assembly.directory, "asset." + code["S3Key"].removesuffix(".zip")))

layers = {lid: {"dir": asset_dir(r["Properties"]["Content"]), "description": r["Properties"].get("Description", "")}
          for lid, r in resources.items() if r["Type"] == "AWS::Lambda::LayerVersion"}
functions = {}
for lid, r in resources.items():
    p = r["Properties"]
    if r["Type"] != "AWS::Lambda::Function" or not str(p.get("Handler", "")).startswith("runtime.handlers."):
        continue
    name = p["Handler"].split(".")[2]
    functions[name] = {"logical_id": lid, "handler": p["Handler"], "code_dir": asset_dir(p["Code"]),
                       "code_key": p["Code"]["S3Key"], "runtime": p["Runtime"], "architectures": p["Architectures"],
                       "memory_mb": p.get("MemorySize"), "layers": [l["Ref"] for l in p.get("Layers", [])],
                       "environment": p.get("Environment", {}).get("Variables", {})}
print(json.dumps({"stack": stack, "assembly": assembly.directory, "functions": functions, "layers": layers}))
"""


def synthesize_bundle(workdir: Path) -> dict[str, Any]:
    """Synthesize the sample mesh with bundling on (RuntimeBundle's local pip bundling) in a child process."""
    PIP_CACHE.mkdir(exist_ok=True)
    env = {**os.environ, "PIP_CACHE_DIR": str(PIP_CACHE), "PYTHONDONTWRITEBYTECODE": "1"}
    started = time.perf_counter()
    child = subprocess.run([sys.executable, "-c", _SYNTH_CHILD, str(REPO), str(workdir / "cdk.out")], cwd=REPO,
                           env=env, capture_output=True, text=True, timeout=900)
    if child.returncode != 0:
        raise SystemExit(f"synth with bundling failed (exit {child.returncode}):\n{child.stderr[-4000:]}")
    info = json.loads(child.stdout.strip().splitlines()[-1])
    info["synth_and_bundle_wall_s"] = round(time.perf_counter() - started, 1)
    return info


def cdk_zip_bytes(directory: Path) -> tuple[int, int, int]:
    """(zip bytes, unzipped bytes, files) of ``directory`` zipped as the CDK CLI zips an asset directory.

    cdk-assets (aws-cdk ``writeZipFile``): every regular file (dot files included, symlinks followed), no
    directory entries, a fixed 1980-01-01 DOS timestamp, the file's mode, deflate at zlib's default level.
    """
    buffer = io.BytesIO()
    unzipped = files = 0
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=6) as archive:
        for path in sorted(p for p in directory.rglob("*") if p.is_file()):
            data = path.read_bytes()
            info = zipfile.ZipInfo(path.relative_to(directory).as_posix(), date_time=(1980, 1, 1, 0, 0, 0))
            info.external_attr = (path.stat().st_mode & 0xFFFF) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, data, compresslevel=6)
            unzipped += len(data)
            files += 1
    return len(buffer.getvalue()), unzipped, files


def _native_libraries(*directories: Path) -> list[str]:
    return [str(p) for d in directories for p in d.rglob("*")
            if p.is_file() and (p.suffix == ".so" or ".so." in p.name)]


def bench_bundle(synth: dict[str, Any]) -> dict[str, Any]:
    """Sizes of the synthesized code asset and layers, zipped as cdk-assets zips them, per function."""
    functions, layers = synth["functions"], synth["layers"]
    missing = sorted(set(FUNCTIONS) - set(functions))
    if missing:
        raise SystemExit(f"the synthesized stack has no function for {missing}")
    code_keys = {fn["code_key"] for fn in functions.values()}
    sdk_ids = [lid for lid, layer in layers.items() if "Pinned AWS SDK" in layer["description"]]
    config_ids = [lid for lid, layer in layers.items() if "Agent Memory Mesh config" in layer["description"]]
    if len(sdk_ids) != 1 or len(config_ids) != 1:
        raise SystemExit(f"expected one SDK layer and one config layer, got {layers}")
    zips: dict[str, tuple[int, int, int]] = {}
    for directory in {*(fn["code_dir"] for fn in functions.values()), *(layer["dir"] for layer in layers.values())}:
        zips[directory] = cdk_zip_bytes(Path(directory))
    code_dir = Path(functions["orchestrator"]["code_dir"])
    sdk_dir = Path(layers[sdk_ids[0]]["dir"])
    per_function = {}
    for name in FUNCTIONS:
        fn = functions[name]
        code_zip, code_unzipped, code_files = zips[fn["code_dir"]]
        layer_zips = {lid: zips[layers[lid]["dir"]] for lid in fn["layers"]}
        total_unzipped = code_unzipped + sum(z[1] for z in layer_zips.values())
        per_function[name] = {
            "handler": fn["handler"],
            "runtime": fn["runtime"],
            "architectures": fn["architectures"],
            "memory_mb": fn["memory_mb"],
            "code_zip_bytes": code_zip,
            "code_unzipped_bytes": code_unzipped,
            "code_files": code_files,
            "layers": ["sdk" if lid in sdk_ids else "config" if lid in config_ids else lid for lid in fn["layers"]],
            "code_and_layers_zip_bytes": code_zip + sum(z[0] for z in layer_zips.values()),
            "code_and_layers_unzipped_bytes": total_unzipped,
            "unzipped_quota_share": round(total_unzipped / MAX_UNZIPPED_BYTES, 3),
        }
    top_level = sorted(p.name for p in code_dir.iterdir())
    return {
        "synth_and_bundle_wall_s": synth["synth_and_bundle_wall_s"],
        "stack": synth["stack"],
        "shared_code_asset": len(code_keys) == 1,
        "code_asset_key": sorted(code_keys)[0] if len(code_keys) == 1 else sorted(code_keys),
        "code_dir": str(code_dir),
        "sdk_layer_dir": str(sdk_dir),
        "config_layer_dir": layers[config_ids[0]]["dir"],
        "code_asset_top_level": top_level,
        "code_zip": dict(zip(("zip_bytes", "unzipped_bytes", "files"), zips[str(code_dir)], strict=True)),
        "sdk_layer_zip": dict(zip(("zip_bytes", "unzipped_bytes", "files"), zips[str(sdk_dir)], strict=True)),
        "sdk_layer_description": layers[sdk_ids[0]]["description"],
        "config_layer_zip": dict(zip(("zip_bytes", "unzipped_bytes", "files"), zips[layers[config_ids[0]]["dir"]],
                                      strict=True)),
        "per_function": per_function,
        "native_libraries": _native_libraries(code_dir, sdk_dir),
        "bytecode_files_in_bundle": sum(1 for d in (code_dir, sdk_dir) for p in d.rglob("*")
                                        if p.suffix in (".pyc", ".pyo") or p.name == "__pycache__"),
        "zip_method": "zipfile, deflate level 6, files only, 1980-01-01 timestamps, file modes (as cdk-assets' "
                      "writeZipFile with yazl does)",
    }



# -- helpers: the bundle's interpreter, a precompiled copy ----------------------------------------------------


def _bundle_python(args: Sequence[str], *, env: dict[str, str] | None = None, importtime: bool = False,
                   timeout: float = 120, python: str | None = None) -> subprocess.CompletedProcess:
    """A Python (this one by default) without site-packages (-S), environment or cwd on the path (-I), bytecode
    never written (-B)."""
    flags = ["-I", "-S", "-B", *(["-X", "importtime"] if importtime else [])]
    return subprocess.run([python or sys.executable, *flags, *args], capture_output=True, text=True, timeout=timeout,
                          env=env or {**_CHILD_ENV_BASE, "PATH": os.environ.get("PATH", ""),
                                      "HOME": tempfile.gettempdir()})



def _compiled_copy(source: Path, target: Path) -> float:
    """Copy a bundle directory and precompile it for this Python (unchecked-hash .pyc: mtime-independent)."""
    shutil.copytree(source, target)
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "compileall", "-q", "-j", "0", "--invalidation-mode", "unchecked-hash",
                    str(target)], check=True, capture_output=True, timeout=600)
    return time.perf_counter() - started




# -- 2. one representative invocation per function, recorded over the emulation ---------------------------------


def outcome(response: Any) -> dict[str, Any]:
    """What the recorded and the replayed invocation must agree on: status, failed batch items, report keys."""
    if not isinstance(response, dict):
        return {"type": type(response).__name__}
    if "statusCode" in response:
        return {"statusCode": response["statusCode"]}
    if "batchItemFailures" in response:
        return {"batchItemFailures": len(response["batchItemFailures"])}
    return {"keys": sorted(response)}


def _seed_user(aws: Any, sub: str, vectors: int, **extra: Any) -> Any:
    from runtime.identity import Identity
    from tests.handlers.lambda_events import actor_of
    from tests.handlers.lifecycle_helpers import seed_turns, seed_vectors

    identity = Identity("acme", actor_of(sub))
    seed_vectors(aws, identity, vectors, **extra)
    seed_turns(aws, identity, "I live in Lisbon.", "I prefer trains.", session_id="s-1")
    return identity


def _forget_event(aws: Any) -> dict[str, Any]:
    """DELETE /memories for a user with vectors, events and long-term records."""
    from tests.handlers.lambda_events import api_event, claims_for

    _seed_user(aws, "alice-sub", 20)
    return api_event("DELETE /memories", claims=claims_for("acme", "alice-sub"))


def _lifecycle_event(aws: Any) -> dict[str, Any]:
    """One job-step message: a forget job whose first invocation ran out of time, continued from the queue."""
    from runtime.handlers import forget
    from runtime.lifecycle.jobs import job_message
    from tests.handlers.lambda_events import answer_of, api_event, claims_for
    from tests.handlers.test_forget import TickingContext

    _seed_user(aws, "alice-sub", 20)
    status, body = answer_of(forget.handler(api_event("DELETE /memories", claims=claims_for("acme", "alice-sub")),
                                            TickingContext(3_050, 10)))
    if status != 202 or body.get("status") != "running":
        raise SystemExit(f"the forget job meant to wait on the lifecycle queue did not: {status} {body}")
    return {"Records": [{"messageId": "m-1", "receiptHandle": "r", "body": json.dumps(job_message(body["job_id"])),
                         "eventSource": "aws:sqs", "awsRegion": REGION,
                         "eventSourceARN": f"arn:aws:sqs:{REGION}:{ACCOUNT_ID}:mesh-lifecycle"}]}


def _summarizer_event(aws: Any) -> dict[str, Any]:
    """One summary job for a session of two turns of a user whose index exists."""
    from runtime.identity import Identity
    from runtime.summarizer import summary_job_message
    from tests.handlers.lambda_events import actor_of
    from tests.handlers.lifecycle_helpers import create_user_index, seed_turns

    alice = Identity("acme", actor_of("alice-sub"))
    create_user_index(aws, alice)
    seed_turns(aws, alice, "I am moving to Lisbon in May.", "I prefer trains.", session_id="s-lisbon", extract=False)
    return {"Records": [{"messageId": "m-1", "receiptHandle": "r", "body": summary_job_message(alice, "s-lisbon",
                                                                                               "supervisor"),
                         "attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": "1700000000000"},
                         "messageAttributes": {}, "eventSource": "aws:sqs", "awsRegion": REGION,
                         "eventSourceARN": f"arn:aws:sqs:{REGION}:{ACCOUNT_ID}:mesh-summaries"}]}


def _tenants_event(aws: Any) -> dict[str, Any]:
    """PUT /tenants/{tenant_id} (the IAM-authorized operator API: no JWT claims)."""
    from tests.handlers.lambda_events import api_event

    return api_event("PUT /tenants/{tenant_id}", claims=None, path_parameters={"tenant_id": "newco"})


def _retention_event(aws: Any) -> dict[str, Any]:
    """A scheduled event, with two users' vectors past the retention period."""
    from tests.handlers.test_retention import scheduled_event

    old = int(time.time()) - 400 * 86_400
    _seed_user(aws, "alice-sub", 10, stored_at=old)
    _seed_user(aws, "bob-sub", 5, stored_at=old)
    return scheduled_event()


SCENARIOS: dict[str, Callable[[Any], dict[str, Any]]] = {
    "forget": _forget_event, "lifecycle": _lifecycle_event, "summarizer": _summarizer_event,
    "tenants": _tenants_event, "retention": _retention_event,
}


def _emulated_resources(aws: Any, workdir: Path) -> dict[str, str]:
    """The values of the environment variables that name resources, pointing at the emulation."""
    from tests.handlers.lambda_events import workers_document

    sqs = aws.client("sqs")
    (workdir / "workers.json").write_text(json.dumps(workers_document()))
    (workdir / "tenants.json").write_text(json.dumps(["acme", "globex"]))
    return {
        "MESH_REGION": REGION, "MESH_VECTOR_BUCKET": aws.mesh.bucket_name, "MESH_MEMORY_ID": aws.mesh.memory_id,
        "MESH_TVM_ROLE_ARN": aws.mesh.tvm_role_arn, "MESH_STATE_TABLE": str(aws.mesh.state_table),
        "MESH_SUMMARY_QUEUE_URL": sqs.create_queue(QueueName="mesh-summaries")["QueueUrl"],
        "MESH_LIFECYCLE_QUEUE_URL": sqs.create_queue(QueueName="mesh-lifecycle")["QueueUrl"],
        "MESH_WORKERS_FILE": str(workdir / "workers.json"), "MESH_TENANTS_FILE": str(workdir / "tenants.json"),
        "MESH_EVENT_QUEUE_URL": sqs.create_queue(QueueName="mesh-events")["QueueUrl"],
    }


def function_environment(synthesized: dict[str, Any], emulated: dict[str, str]) -> tuple[dict[str, str], list[str]]:
    """The function's synthesized environment: its literal values as synthesized, resource names emulated.

    Returns the environment and the variables that reference a resource the emulation has no value for.
    """
    env: dict[str, str] = {}
    unresolved = []
    for name, value in synthesized.items():
        if name in emulated:
            env[name] = emulated[name]
        elif isinstance(value, str):
            env[name] = value
        else:
            unresolved.append(name)
    return env, unresolved


def record_invocation(name: str, function: dict[str, Any], workdir: Path, canned: CannedBotocore) -> dict[str, Any]:
    """Drive the function's handler once, cold, over the emulation; keep the event, its answers and the outcome."""
    from runtime.handlers import _observability
    from runtime.testing import emulated_aws
    from runtime.testing.agents_fake import scripted_agents
    from tests.handlers.lambda_events import (
        SUPERVISOR_AGENT_ID,
        SUPERVISOR_ALIAS_ID,
        FakeLambdaContext,
        supervisor_script,
    )

    folder = workdir / "recorded" / name
    folder.mkdir(parents=True)
    synthesized = function["environment"]
    with emulated_aws(REGION, ACCOUNT_ID) as aws, scripted_agents(aws) as agents:
        aws.setup_mesh(dimension=int(synthesized.get("MESH_EMBEDDING_DIMENSION", "1024")),
                       index_prefix=synthesized.get("MESH_INDEX_PREFIX", "tenant-"),
                       isolation=synthesized.get("MESH_ISOLATION", "user"))
        agents.bedrock_agent(SUPERVISOR_AGENT_ID, SUPERVISOR_ALIAS_ID, supervisor_script)
        env, unresolved = function_environment(synthesized, _emulated_resources(aws, folder))
        saved = {key: os.environ.get(key) for key in env}
        os.environ.update(env)
        try:
            handlers = [importlib.import_module(f"runtime.handlers.{other}") for other in FUNCTIONS]
            event = SCENARIOS[name](aws)
            for module in handlers:  # a cold container: no clients, credentials or settings cached
                module.reset()
            _observability.reset()
            module = importlib.import_module(f"runtime.handlers.{name}")
            canned.capturing = {}
            real, sys.stdout = sys.stdout, _Sink()
            try:
                response = module.handler(event, FakeLambdaContext())
            finally:
                sys.stdout = real
            answers, canned.capturing = canned.capturing, None
            for module in handlers:
                module.reset()
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value
    done = outcome(response)
    if done.get("batchItemFailures", 0) or not 200 <= done.get("statusCode", 200) < 300:
        raise SystemExit(f"the representative {name} invocation failed over the emulation: {response}")
    (folder / "answers.pickle").write_bytes(pickle.dumps(answers))
    (folder / "event.json").write_text(json.dumps(event))
    return {"folder": str(folder), "env": env, "unresolved_env": unresolved, "outcome": outcome(response),
            "recorded_calls": _call_counts(answers)}


def _call_counts(answers: dict[Any, list[Any]]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for (service, operation, _), entries in answers.items():
        counts[f"{service}.{operation}"] = counts.get(f"{service}.{operation}", 0) + len(entries)
    return dict(sorted(counts.items()))


# -- 3. fresh interpreters on the bundle: import, init and the first invocation ----------------------------------

_FIRST_CHILD = r"""
import sys, time
code, layer, module_name, answers_path, event_path, function_name, memory_mb = sys.argv[1:8]
sys.path[:0] = [code, layer]
class Sink:
    def write(self, text):
        return len(text)
    def flush(self):
        pass
real_stdout, sys.stdout = sys.stdout, Sink()
_t0 = time.perf_counter()
import importlib
module = importlib.import_module(module_name)
_t1 = time.perf_counter()
import json, pickle, uuid
from typing import Any
import botocore.handlers
CANNED_SOURCE
OUTCOME_SOURCE
canned = CannedBotocore()
canned.error_status = canned.sequenced = True
with open(answers_path, "rb") as handle:
    canned.answers = pickle.load(handle)
canned.install(botocore.handlers.BUILTIN_HANDLERS)
canned.active = True
with open(event_path) as handle:
    event = json.load(handle)

class Context:
    aws_request_id = str(uuid.uuid4())
    function_name = function_name
    function_version = "$LATEST"
    memory_limit_in_mb = int(memory_mb)
    invoked_function_arn = "arn:aws:lambda:us-east-1:111111111111:function:" + function_name
    def get_remaining_time_in_millis(self):
        return 30000

response = module.handler(event, Context())
_t2 = time.perf_counter()
sys.stdout = real_stdout
import os
stdlib = os.path.dirname(os.__file__)
elsewhere = sorted(name for name, mod in list(sys.modules.items()) if getattr(mod, "__file__", None)
                   and not mod.__file__.startswith((code + os.sep, layer + os.sep))
                   and not (mod.__file__.startswith(stdlib + os.sep) and "site-packages" not in mod.__file__))
loaded = {name.split(".")[0] for name in sys.modules}
bundled = [m for m in list(sys.modules.values())
           if str(getattr(m, "__file__", None) or "").startswith((code + os.sep, layer + os.sep))]
from_bytecode = sum(1 for m in bundled if getattr(m, "__cached__", None) and os.path.exists(m.__cached__))
print(json.dumps({"python": sys.version.split()[0], "bundled_modules": len(bundled), "from_bytecode": from_bytecode,
                  "import_s": _t1 - _t0, "first_invocation_s": _t2 - _t0, "outcome": outcome(response),
                  "served": canned.served, "missing": [list(k) for k in canned.missing],
                  "modules": len(sys.modules), "elsewhere": elsewhere,
                  "forbidden": sorted(n for n in FORBIDDEN if n in loaded),
                  "boto3_file": getattr(sys.modules.get("boto3"), "__file__", None),
                  "site_imported": "site" in sys.modules}))
"""

#: Reference only: ``import boto3`` alone in the same kind of interpreter (the handlers import it lazily).
_BOTO3_CHILD = r"""
import sys, time
sys.path[:0] = sys.argv[1:3]
_t0 = time.perf_counter()
import boto3
_t1 = time.perf_counter()
import json
print(json.dumps({"import_s": _t1 - _t0, "boto3_file": boto3.__file__, "python": sys.version.split()[0]}))
"""


def _bundle_child(name: str, code: Path, layer: Path, python: str, function: dict[str, Any],
                  recorded: dict[str, Any]) -> dict[str, Any]:
    if name == "boto3":
        child = _bundle_python(["-c", _BOTO3_CHILD, str(code), str(layer)], python=python)
    else:
        source = (_FIRST_CHILD.replace("CANNED_SOURCE", inspect.getsource(CannedBotocore))
                  .replace("OUTCOME_SOURCE", inspect.getsource(outcome))
                  .replace("FORBIDDEN", repr(FORBIDDEN_IN_LAMBDA)))
        folder = Path(recorded["folder"])
        env = {**_CHILD_ENV_BASE, **recorded["env"], "PATH": os.environ.get("PATH", ""),
               "HOME": tempfile.gettempdir(), "AWS_LAMBDA_FUNCTION_NAME": f"mesh-{name}",
               "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(function["memory_mb"])}
        child = _bundle_python(["-c", source, str(code), str(layer), f"runtime.handlers.{name}",
                                str(folder / "answers.pickle"), str(folder / "event.json"), f"mesh-{name}",
                                str(function["memory_mb"])], env=env, python=python)
    if child.returncode != 0:
        raise SystemExit(f"the cold {name} child failed:\n{child.stderr[-3000:]}")
    answer: dict[str, Any] = json.loads(child.stdout.strip().splitlines()[-1])
    if name != "boto3" and (answer["missing"] or answer["outcome"] != recorded["outcome"]
                            or dict(sorted(answer["served"].items())) != recorded["recorded_calls"]):
        raise SystemExit(f"the cold {name} child answered differently from the recorded run: {answer} vs "
                         f"{recorded['outcome']} {recorded['recorded_calls']}")
    return answer


def runtime_python(runtime: str) -> str:
    """The functions' Python (``python3.12``), so that the bundle's own bytecode is what gets loaded."""
    from constructs_lib.runtime_bundle import bytecode_python

    python = bytecode_python(runtime.removeprefix("python"))
    if python is None:
        raise SystemExit(f"no local {runtime} interpreter: the bundle's bytecode is for {runtime} (pyenv install)")
    return python


def bench_first_invocations(synth: dict[str, Any], recorded: dict[str, dict[str, Any]],
                            args: argparse.Namespace) -> dict[str, Any]:
    """Fresh interpreters of the functions' Python per function, rounds interleaved (function order rotated)."""
    functions = synth["functions"]
    sdk = next(Path(layer["dir"]) for layer in synth["layers"].values()
               if "Pinned AWS SDK" in layer["description"]) / "python"
    code = Path(functions["forget"]["code_dir"])
    python = runtime_python(functions["forget"]["runtime"])
    names = (*MEASURED, "boto3")
    samples: dict[str, list[dict[str, Any]]] = {n: [] for n in names}
    for round_ in range(args.warmup + args.runs):
        order = names[round_ % len(names):] + names[:round_ % len(names)]
        for name in order:
            answer = _bundle_child(name, code, sdk, python, functions.get(name, {}), recorded.get(name, {}))
            if round_ >= args.warmup:
                samples[name].append(answer)
    result: dict[str, Any] = {"runs": args.runs, "warmup_rounds": args.warmup, "python": python,
                              "python_version": samples["boto3"][-1].get("python") or
                              samples[MEASURED[0]][-1]["python"]}
    for name in MEASURED:
        runs = samples[name]
        result[name] = {
            "first_invocation_ms": _summary([r["first_invocation_s"] * 1e3 for r in runs]),
            "import_only_ms": _summary([r["import_s"] * 1e3 for r in runs]),
            "samples_ms": [round(r["first_invocation_s"] * 1e3, 1) for r in runs],
            "outcome": runs[-1]["outcome"],
            "calls_served": dict(sorted(runs[-1]["served"].items())),
            "sys_modules_after": runs[-1]["modules"],
            "bundled_modules_loaded": runs[-1]["bundled_modules"],
            "bundled_modules_from_bytecode": runs[-1]["from_bytecode"],
            "forbidden_loaded": sorted({f for r in runs for f in r["forbidden"]}),
            "modules_from_elsewhere": sorted({m for r in runs for m in r["elsewhere"]}),
            "boto3_file": runs[-1]["boto3_file"],
            "site_imported": any(r["site_imported"] for r in runs),
        }
    result["boto3 (import only)"] = {"import_only_ms": _summary([r["import_s"] * 1e3 for r in samples["boto3"]])}
    result["sdk_layer_python_dir"] = str(sdk)
    return result


def _machine() -> dict[str, Any]:
    import boto3
    import botocore

    cpu, mem_kb = "", 0
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        meminfo = Path("/proc/meminfo").read_text().splitlines()
        mem_kb = next(int(line.split()[1]) for line in meminfo if line.startswith("MemTotal"))
    except (OSError, StopIteration):
        pass
    versions: dict[str, str | None] = {}
    for dist in ("aws-lambda-powertools", "aws-cdk-lib", "moto"):
        try:
            from importlib.metadata import version

            versions[dist] = version(dist)
        except Exception:
            versions[dist] = None
    return {
        "date_utc": datetime.now(UTC).isoformat(timespec="seconds"),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpu_model": cpu,
        "cpu_count": os.cpu_count(),
        "memory_gb": round(mem_kb / 1024 / 1024, 1),
        "python": platform.python_version(),
        "python_executable": sys.executable,
        "boto3": boto3.__version__,
        "botocore": botocore.__version__,
        **versions,
    }


def _target(value: Any, rule: str, ok: bool) -> dict[str, Any]:
    return {"value": value, "target": rule, "pass": bool(ok)}




def build_report(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    started = time.perf_counter()
    load_before = os.getloadavg()
    synth = synthesize_bundle(workdir)
    bundle = bench_bundle(synth)
    canned = CannedBotocore()
    from botocore.handlers import BUILTIN_HANDLERS

    canned.install(BUILTIN_HANDLERS)
    recorded = {name: record_invocation(name, synth["functions"][name], workdir, canned) for name in MEASURED}
    first = bench_first_invocations(synth, recorded, args)
    load_after = os.getloadavg()

    zip_by_function = {name: bundle["per_function"][name]["code_zip_bytes"] for name in FUNCTIONS}
    orchestrator = ("not measured here: benchmarks/results/turn_latency.json (cold_first_turn_ratio_vs_boto3, "
                    "detail.cold.mesh_first_invocation_ms) measures its whole first turn from this bundle")
    report: dict[str, Any] = {
        "benchmark": "lambda_cold_start",
        "command": COMMAND,
        "machine": {**_machine(), "load_average_1m_at_start": round(load_before[0], 2),
                    "load_average_1m_at_end": round(load_after[0], 2)},
        "bundle_zip_bytes": zip_by_function,
        "bundle_zip_bytes_note": "all six functions share ONE code asset (same S3 key); each value is that asset "
                                 "zipped. The SDK layer (boto3/botocore) and the config layer "
                                 "(/opt/mesh/workers.json, tenants.json) are separate zips, reported below.",
        "sdk_layer_zip_bytes": bundle["sdk_layer_zip"]["zip_bytes"],
        "config_layer_zip_bytes": bundle["config_layer_zip"]["zip_bytes"],
        # The headline: import + module init + one representative event, as the bundle ships (source only).
        "first_invocation_ms": {"orchestrator": orchestrator,
                                **{name: first[name]["first_invocation_ms"] for name in MEASURED}},
        "import_only_ms": {name: first[name]["import_only_ms"]["median_ms"] for name in MEASURED},
        "import_only_ms_boto3": first["boto3 (import only)"]["import_only_ms"]["median_ms"],
        "events": {
            "forget": "DELETE /memories (HTTP API, JWT claims) for a user with 20 vectors, events and records",
            "lifecycle": "one SQS job-step message continuing a forget job that ran out of time",
            "summarizer": "one SQS summary job for a session of two turns (the user's index exists)",
            "tenants": "PUT /tenants/{tenant_id} (operator API, IAM-authorized)",
            "retention": "an EventBridge scheduled event; two users' vectors past the retention period",
        },
        "orchestrator_turn": "see benchmarks/results/turn_latency.json",
        "bundle": bundle,
        "first_invocations": first,
        "recorded": {name: {k: v for k, v in r.items() if k not in ("folder", "env")}
                     | {"env_names": sorted(r["env"])} for name, r in recorded.items()},
        "scopes": _scopes(),
    }
    sdk_prefix = first["sdk_layer_python_dir"] + os.sep
    every = [first[name] for name in MEASURED]
    report["targets"] = {
        "bundle_zip_bytes": _target(max(zip_by_function.values()), f"<= {TARGET_ZIP_BYTES} B (5 MiB) per function",
                                    max(zip_by_function.values()) <= TARGET_ZIP_BYTES),
        "bundle_within_lambda_quotas": _target(
            max(f["code_and_layers_unzipped_bytes"] for f in bundle["per_function"].values()),
            "unzipped code+layers <= 250 MiB, zips <= 50 MiB",
            all(f["code_and_layers_unzipped_bytes"] <= MAX_UNZIPPED_BYTES for f in bundle["per_function"].values())
            and max(bundle["sdk_layer_zip"]["zip_bytes"], *zip_by_function.values()) <= MAX_DIRECT_ZIP_BYTES),
        "shared_code_asset": _target(bundle["shared_code_asset"], "one code asset for all six functions",
                                     bundle["shared_code_asset"]),
        "boto3_from_sdk_layer": _target(
            sorted({str(m["boto3_file"]) for m in every}),
            "boto3 from the SDK layer only, nothing from outside the bundle and the stdlib, no site",
            all(str(m["boto3_file"]).startswith(sdk_prefix) and not m["modules_from_elsewhere"]
                and not m["site_imported"] for m in every)),
        "bundle_bytecode_used": _target(
            {name: f"{first[name]['bundled_modules_from_bytecode']}/{first[name]['bundled_modules_loaded']}"
             for name in MEASURED},
            "every module loaded from the code asset and the SDK layer comes from the bundle's own .pyc",
            all(m["bundled_modules_from_bytecode"] == m["bundled_modules_loaded"] for m in every)),
        "forbidden_modules": _target(sorted({f for m in every for f in m["forbidden_loaded"]}), "none loaded",
                                     not any(m["forbidden_loaded"] for m in every)),
        "replayed_as_recorded": _target({name: recorded[name]["outcome"] for name in MEASURED},
                                        "every child: same outcome, same calls, none unanswered",
                                        True),  # a child that does not raises SystemExit
        "environment_resolved": _target({name: recorded[name]["unresolved_env"] for name in MEASURED},
                                        "every synthesized variable has a value",
                                        not any(recorded[name]["unresolved_env"] for name in MEASURED)),
    }
    report["iterations"] = {"runs": args.runs, "warmup_rounds": args.warmup, "note": args.note}
    report["total_wall_s"] = round(time.perf_counter() - started, 1)
    return report


def _scopes() -> dict[str, str]:
    return {
        "bundle_zip_bytes": (
            "The sample mesh (cdk.json) synthesized in a child process with bundling on: RuntimeBundle's local pip "
            "bundling (arm64, python3.12 wheels), one code asset shared by the six functions (runtime/ without "
            "integrations and testing, plus aws-lambda-powertools and typing-extensions), zipped as cdk-assets "
            "zips an asset directory. The SDK layer (boto3, botocore, s3transfer, jmespath, python-dateutil, six, "
            "urllib3) and the config layer (/opt/mesh/workers.json and tenants.json, for the functions that read "
            "them) are separate zips."
        ),
        "first_invocation_ms": (
            "Per function, median (min, max, n) over fresh interpreters of time.perf_counter() from before "
            "importing runtime.handlers.<name> to the return of its first handler call with one representative "
            "event (see events): import, module init, settings, sessions and clients, service models and endpoint "
            "rules, credentials (AssumeRole answered), the handler's work, Powertools logs and metrics (written to "
            "a discarding stdout). The child is the functions' Python (the synthesized Runtime, from pyenv: see "
            "first_invocations.python) with -I -S -B (no site-packages, no PYTHON* environment, no cwd on "
            "sys.path, no bytecode written); sys.path starts with the synthesized code asset directory and the SDK "
            "layer's python/ directory, as Lambda puts /var/task and /opt/python first, so the bundle's own "
            "unchecked-hash .pyc files are loaded as on Lambda (targets.bundle_bytecode_used). Its environment is "
            "the function's synthesized Environment.Variables (literal values as synthesized, resource names "
            "pointed at the emulation). Every AWS call is answered at botocore's before-call seam with the parsed "
            "response the emulation gave the same invocation in this process (in recorded order per operation, "
            "error answers with their status); so signing, HTTP and service time are excluded, and the child must "
            "reach the same outcome with the same calls and none unanswered. The canned-answer set-up (importing "
            "botocore.handlers, unpickling the answers) is inside the timed span. Rounds interleave the functions "
            "(order rotated) after warm-up rounds. The bundle holds pure-Python wheels only for arm64, so it runs "
            "unchanged on this x86_64 machine; Lambda's CPU (one vCPU at 1,769 MB, less below) gives other "
            "absolute numbers."
        ),
        "import_only_ms": (
            "Import only: the part of the same span up to the end of importing runtime.handlers.<name>. The "
            "handlers import boto3, Powertools and the stores lazily, so this is not a cold start. "
            "'boto3 (import only)' is import boto3 alone in the same kind of interpreter, for reference."
        ),
        "orchestrator": (
            "The orchestrator's first invocation (a delegated handoff turn) is measured from the same bundle by "
            "benchmarks/turn_latency.py against a plain-boto3 handler making the same calls; not repeated here."
        ),
    }


def print_summary(report: dict[str, Any]) -> None:
    targets, machine, first = report["targets"], report["machine"], report["first_invocations"]
    print(f"{'function':<14} {'first invocation ms, median (min-max)':<40} import only ms")
    for name in MEASURED:
        total, imported = first[name]["first_invocation_ms"], first[name]["import_only_ms"]
        print(f"{name:<14} {total['median_ms']:>7.1f} ({total['min_ms']:.0f}-{total['max_ms']:.0f}, n={total['n']})"
              f"{'':<18} {imported['median_ms']:.1f}")
    print(f"{'orchestrator':<14} see benchmarks/results/turn_latency.json")
    print(f"reference: import boto3 alone {report['import_only_ms_boto3']:.1f} ms (import only); "
          f"Python {first['python_version']}")
    print(f"bundle: code asset {max(report['bundle_zip_bytes'].values()):,} B zipped, SDK layer "
          f"{report['sdk_layer_zip_bytes']:,} B")
    for key, target in targets.items():
        print(f"  {key:<28} {'PASS' if target['pass'] else 'FAIL'}  ({target['target']})")
    print(f"machine: {machine['cpu_model']} x{machine['cpu_count']}, load average "
          f"{machine['load_average_1m_at_start']} -> {machine['load_average_1m_at_end']}; "
          f"total {report['total_wall_s']} s")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=RESULTS, help="where to write the JSON results")
    parser.add_argument("--runs", type=int, default=7, help="fresh interpreters per function and variant")
    parser.add_argument("--warmup", type=int, default=1, help="untimed rounds first (page cache)")
    parser.add_argument("--note", default="", help="a note kept in the results (e.g. why fewer runs)")
    parser.add_argument("--keep-workdir", action="store_true", help="keep the bundle and answers for inspection")
    args = parser.parse_args(argv)
    if args.runs < 5:
        parser.error("--runs must be at least 5")

    # Offline and deterministic for the in-process part: fake credentials, no profile files, no IMDS.
    os.environ.update({k: v for k, v in _CHILD_ENV_BASE.items() if k != "LANG"})
    os.environ["AWS_CONFIG_FILE"] = "/nonexistent/aws-config"
    os.environ["AWS_SHARED_CREDENTIALS_FILE"] = "/nonexistent/aws-credentials"
    os.environ.pop("AWS_PROFILE", None)
    if str(REPO) not in sys.path:
        sys.path.insert(0, str(REPO))
    import logging

    logging.basicConfig(level=logging.WARNING)
    workdir = Path(tempfile.mkdtemp(prefix="lambda-cold-start-"))
    try:
        report = build_report(args, workdir)
    finally:
        if args.keep_workdir:
            print(f"work directory kept: {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2) + "\n")
    print_summary(report)
    print(f"results: {args.output.relative_to(REPO) if args.output.is_relative_to(REPO) else args.output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
