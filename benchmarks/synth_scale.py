#!/usr/bin/env python3
"""Synth-scale benchmark: how long `cdk synth` takes, and how big the stacks get, as the mesh grows.

Run it with ``make bench-synth`` (or ``.venv/bin/python benchmarks/synth_scale.py``). It writes
``benchmarks/results/synth_scale.json`` and ``benchmarks/results/synth_scale.png``.

What it does, every figure coming from a real run on this machine:

* Copies the app's source (app.py, cdk.json, stacks/, constructs_lib/, runtime/, ...) to a temporary
  directory first, so every run synthesizes the same code even if the working tree changes meanwhile
  (``--in-place`` synthesizes in the working tree instead). The JSON's ``code`` records git HEAD and a hash of
  the source that was measured.
* Generates deployment configs as JSON files in a temporary directory: 10, 25 and 50 workers with 100
  declared tenants (each worker: unique name, its own 12-digit account, a Bedrock Agent or an AgentCore
  Runtime agent, alternating, and 3 of the declared tenants as ``allowed_tenants``).
* Synthesizes each one exactly as a user would, with the pinned CLI and the cdk-nag packs on::

      node_modules/.bin/cdk synth -c config=<file> -o <fresh tmp outdir> --quiet --no-notices

  (the sample config from ``cdk.json`` without ``-c config``), timing the whole process with
  ``time.perf_counter`` around ``subprocess.run``, plus the CPU seconds of the whole process tree. A fresh
  outdir means the Lambda assets are bundled (pip) in every run; each run is followed by two companions that
  are reported but not judged: the same command into the same outdir (already-staged assets are not bundled
  again) and a fresh-outdir run with ``MESH_SKIP_BUNDLING=1`` (what ``make synth`` does). Runs are interleaved
  round-robin over the configs so background load spreads evenly; the median of ``--runs`` runs is the
  figure, and every run is kept with the 1-minute load average seen just before it.
* Counts stacks, resources per stack and template bytes from the synthesized templates in the outdir.
* Fits synth time against workers (least squares over every run of the 100-tenant series, wall and CPU):
  slope with its 95 % interval, intercept, R², and the lack-of-fit F test (curvature). The ``linear_in_workers``
  target compares the CPU-seconds slope with the per-worker budget (45 s - sample) / 49.
* Limits check: the largest config the validator accepts (``MAX_DECLARED_TENANTS`` tenants with the longest
  allowed ids, ``MAX_WORKERS`` workers with the longest names, and as many direct-TVM workers as the trust
  policy check allows) is synthesized once and its supervisor stack measured against CloudFormation's
  500 resources / 1 MB; ``MAX_DECLARED_TENANTS + 1`` tenants must be rejected by the CLI with a clear error.
* If a time target is missed (or with ``--profile``), profiles where synth time goes: the ``python app.py``
  process alone (``CDK_OUTDIR``/``CDK_CONTEXT_JSON`` as the CLI sets them), the CLI with ``--no-validation``,
  and in-process builds of the app (fresh process each) with/without the cdk-nag packs, with/without
  aws-cdk-lib's built-in CloudFormation validation and with/without asset bundling, split into
  import / build / synth phases.

Flags: ``--runs N`` (default 3), ``--quick`` (1 run, no 25/50 workers, a 10-worker limits check) for a smoke
run, ``--profile`` / ``--no-profile``, ``--max-load L`` / ``--idle-timeout S`` (wait for a quiet machine before
each run), ``--keep`` (keep the temporary configs and outdirs), ``--in-place``, ``--replot``.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import hashlib
import json
import math
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
JSON_OUT = RESULTS / "synth_scale.json"
PNG_OUT = RESULTS / "synth_scale.png"
CDK = ROOT / "node_modules" / ".bin" / "cdk"
VENV_BIN = ROOT / ".venv" / "bin"
PYTHON = VENV_BIN / "python" if (VENV_BIN / "python").exists() else Path(sys.executable)
#: Where synth runs: a snapshot of the project's source (see snapshot_project), or ROOT with --in-place.
PROJECT = ROOT
#: Not copied into the snapshot: tool state, environments, build output and other benchmarks' results.
SNAPSHOT_IGNORE = (".git", ".venv", "node_modules", "cdk.out", "build", "dist", "*.egg-info", ".pytest_cache",
                   ".hypothesis", "__pycache__", ".mypy_cache", ".ruff_cache", "results", "cdk.context.json")

#: Synth-time targets for the sample config and for 50 workers (on a 2-core machine).
SAMPLE_TARGET_S = 12.0
WORKERS50_TARGET_S = 45.0
#: CloudFormation per-stack limits.
CFN_MAX_RESOURCES = 500
CFN_MAX_TEMPLATE_BYTES = 1_000_000

SCALE_TENANTS = 100
SCALE_WORKERS = (10, 25, 50)
QUICK_WORKERS = (10,)
ALLOWED_PER_WORKER = 3
SAMPLE_CONTEXT_KEY = "memoryMesh:sampleConfig"


# ---- environment -------------------------------------------------------------------------------------------


def cli_env() -> dict[str, str]:
    """The environment `make synth` gives the CLI: venv first on PATH, no telemetry, no Node EOL banner."""
    env = dict(os.environ)
    env["PATH"] = f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}"
    env["CDK_DISABLE_CLI_TELEMETRY"] = "true"
    env["JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION"] = "20"
    env.pop("CDK_CONTEXT_JSON", None)
    env.pop("CDK_OUTDIR", None)
    return env


def _cmd_version(cmd: list[str]) -> str:
    try:
        out = subprocess.run(cmd, cwd=ROOT, env=cli_env(), capture_output=True, text=True, timeout=120)
        return (out.stdout or out.stderr).strip().splitlines()[0]
    except Exception as exc:  # noqa: BLE001 - informational only
        return f"unavailable ({exc})"


def machine_info() -> dict[str, Any]:
    cpu_model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu_model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_total_mb = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_total_mb = int(line.split()[1]) // 1024
    except OSError:
        pass
    pkgs = {}
    pip_show = subprocess.run(
        [str(PYTHON), "-c",
         "import importlib.metadata as m, json;"
         "print(json.dumps({p: m.version(p) for p in ('aws-cdk-lib', 'cdk-nag', 'jsii', 'constructs')}))"],
        capture_output=True, text=True, env=cli_env())
    if pip_show.returncode == 0:
        pkgs = json.loads(pip_show.stdout)
    return {
        "cpu_count": os.cpu_count(),
        "cpus_available": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "cpu_model": cpu_model,
        "memory_mb": mem_total_mb,
        "platform": platform.platform(),
        "python": _cmd_version([str(PYTHON), "--version"]).replace("Python ", ""),
        "node": _cmd_version(["node", "--version"]),
        "cdk_cli": _cmd_version([str(CDK), "--version"]),
        "python_packages": pkgs,
    }


# ---- configs -----------------------------------------------------------------------------------------------


def project_context() -> dict[str, Any]:
    return dict(json.loads((PROJECT / "cdk.json").read_text(encoding="utf-8"))["context"])


def snapshot_project(destination: Path) -> Path:
    """Copies the project's source (app, stacks, constructs, runtime, cdk.json, ...) to ``destination``.

    Every run then synthesizes the same code even if the working tree changes during the benchmark; the app's
    own modules are imported from the snapshot (the script's directory comes first on sys.path)."""
    shutil.copytree(ROOT, destination, ignore=shutil.ignore_patterns(*SNAPSHOT_IGNORE), symlinks=True)
    return destination


def code_info(project: Path) -> dict[str, Any]:
    """The code that was measured: git HEAD, whether the tree had changes, and a hash of the source files."""
    def git(*a: str) -> str:
        r = subprocess.run(["git", *a], cwd=ROOT, capture_output=True, text=True)
        return r.stdout.strip() if r.returncode == 0 else ""

    digest = hashlib.sha256()
    files = 0
    for sub in ("app.py", "cdk.json", "stacks", "constructs_lib", "runtime"):
        base = project / sub
        paths = [base] if base.is_file() else sorted(p for p in base.rglob("*") if p.is_file()
                                                      and "__pycache__" not in p.parts)
        for p in paths:
            digest.update(str(p.relative_to(project)).encode() + b"\0" + p.read_bytes())
            files += 1
    status = git("status", "--porcelain", "--", "app.py", "cdk.json", "stacks", "constructs_lib", "runtime")
    return {"git_head": git("rev-parse", "HEAD"), "uncommitted_changes_in_app_source": bool(status),
            "source_files": files, "source_sha256": digest.hexdigest(),
            "synthesized_from": "snapshot of the working tree" if project != ROOT else "the working tree (--in-place)"}


def sample_config() -> dict[str, Any]:
    return json.loads(json.dumps(project_context()[SAMPLE_CONTEXT_KEY]))


def _agent(i: int, account: str, region: str) -> dict[str, Any]:
    """Even workers get a Bedrock Agent (30 days of session summaries, as in the sample), odd ones an AgentCore
    Runtime (same account and region)."""
    if i % 2 == 0:
        return {"type": "bedrock-agent", "agent_id": f"W{i:04d}AGENT", "alias_id": "LIVEALIAS1", "memory_days": 30}
    return {"type": "agentcore-runtime",
            "runtime_arn": f"arn:aws:bedrock-agentcore:{region}:{account}:runtime/worker_{i:04d}_agent-Rt{i:08d}"}


def scale_config(n_workers: int, n_tenants: int, *, tenant_len: int | None = None, worker_name_len: int | None = None,
                 allowed_per_worker: int = ALLOWED_PER_WORKER) -> dict[str, Any]:
    """The sample config grown to n_workers workers and n_tenants declared tenants."""
    cfg = sample_config()
    tenants = []
    for t in range(n_tenants):
        tid = f"org-{t:04d}"
        if tenant_len:
            tid = (tid + "-" + "x" * tenant_len)[: tenant_len - 1] + "z"
        tenants.append(tid)
    regions = ("us-east-1", "us-west-2", "eu-west-1")
    workers = []
    for i in range(n_workers):
        account = f"{300_000_000_000 + i * 1_001:012d}"
        region = regions[i % len(regions)]
        name = f"worker-{i:03d}"
        if worker_name_len:
            name = (name + "-" + "w" * worker_name_len)[:worker_name_len]
        workers.append({
            "name": name,
            "account": account,
            "region": region,
            "agent": _agent(i, account, region),
            "allowed_tenants": [tenants[(i * allowed_per_worker + k) % n_tenants] for k in range(allowed_per_worker)],
            "external_id": f"{cfg.get('mesh_name', 'memory-mesh')}-{name}-2026",
        })
    cfg["tenants"] = tenants
    cfg["workers"] = workers
    return cfg


def write_config(directory: Path, name: str, cfg: dict[str, Any]) -> Path:
    path = directory / f"{name}.json"
    path.write_text(json.dumps(cfg, indent=2), encoding="utf-8")
    return path


# ---- synth and measure -------------------------------------------------------------------------------------


def synth_cmd(config_path: Path | None, outdir: Path) -> list[str]:
    cmd = [str(CDK), "synth"]
    if config_path is not None:
        cmd += ["-c", f"config={config_path}"]
    return cmd + ["-o", str(outdir), "--quiet", "--no-notices"]


def _children_cpu() -> float:
    """User + system CPU of every waited-for descendant (CLI, python app.py, jsii Node kernel)."""
    import resource

    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def run_synth(config_path: Path | None, outdir: Path, *, reuse_outdir: bool = False,
              extra_env: dict[str, str] | None = None) -> tuple[float, subprocess.CompletedProcess[str], float]:
    """(wall seconds, completed process, CPU seconds of the whole process tree).

    A fresh outdir by default; ``reuse_outdir`` synthesizes into the previous run's outdir, where the CDK skips
    bundling assets whose (custom) hash is already staged, as in a developer's repeated ``make synth``."""
    if outdir.exists() and not reuse_outdir:
        shutil.rmtree(outdir)
    cmd = synth_cmd(config_path, outdir)
    if (extra_env or {}).get("MESH_SKIP_BUNDLING") == "1":
        cmd.append("--ignore-errors")  # as make synth: only the app's "not deployable" marker is an error there
    cpu0 = _children_cpu()
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=PROJECT, env={**cli_env(), **(extra_env or {})}, capture_output=True, text=True)
    elapsed = time.perf_counter() - t0
    return elapsed, proc, _children_cpu() - cpu0


def wait_for_idle(max_load: float | None, timeout_s: float) -> float:
    """Waits until the 1-minute load average is below max_load (or timeout); returns seconds waited."""
    if max_load is None:
        return 0.0
    t0 = time.perf_counter()
    while os.getloadavg()[0] > max_load and time.perf_counter() - t0 < timeout_s:
        time.sleep(5)
    return time.perf_counter() - t0


def measure_outdir(outdir: Path) -> dict[str, Any]:
    """Stacks, resources per stack and template bytes, read from the synthesized cloud assembly."""
    manifest = json.loads((outdir / "manifest.json").read_text(encoding="utf-8"))
    stacks = {}
    digest = hashlib.sha256()
    digest_no_asset_path = hashlib.sha256()
    for art_id, art in sorted(manifest.get("artifacts", {}).items()):
        if art.get("type") != "aws:cloudformation:stack":
            continue
        template_path = outdir / art["properties"]["templateFile"]
        raw = template_path.read_bytes()
        digest.update(raw)
        template = json.loads(raw)
        for res in template.get("Resources", {}).values():
            res.get("Metadata", {}).pop("aws:asset:path", None)  # staged dir vs source dir when not bundled
        digest_no_asset_path.update(json.dumps(template, sort_keys=True).encode())
        stacks[art_id] = {"resources": len(template.get("Resources", {})), "template_bytes": len(raw)}
    resources = [s["resources"] for s in stacks.values()]
    sizes = [s["template_bytes"] for s in stacks.values()]
    supervisor = next((k for k in stacks if k.endswith("-supervisor")), None)
    worker_res = [s["resources"] for k, s in stacks.items() if k != supervisor]
    return {
        "stacks": len(stacks),
        "max_resources_per_stack": max(resources),
        "total_resources": sum(resources),
        "max_template_bytes": max(sizes),
        "total_template_bytes": sum(sizes),
        "supervisor_stack": supervisor,
        "supervisor_resources": stacks[supervisor]["resources"] if supervisor else None,
        "supervisor_template_bytes": stacks[supervisor]["template_bytes"] if supervisor else None,
        "worker_resources_max": max(worker_res) if worker_res else None,
        "per_stack": stacks,
        "templates_sha256": digest.hexdigest(),
        "templates_sha256_without_asset_paths": digest_no_asset_path.hexdigest(),
    }


def fail(msg: str, proc: subprocess.CompletedProcess[str] | None = None) -> None:
    print(f"ERROR: {msg}", file=sys.stderr)
    if proc is not None:
        print(proc.stdout[-4000:], file=sys.stderr)
        print(proc.stderr[-4000:], file=sys.stderr)
    sys.exit(1)


def linear_budget(fit: dict[str, Any] | None, sample_s: float) -> dict[str, Any]:
    """Growth is at most linear when the per-worker cost stays within the 50-worker budget's straight line.

    R² is no test here: when synth time is dominated by a fixed cost and barely grows, there is no trend for R²
    to explain, although that is the best case. The slope is fitted on CPU seconds (less sensitive to load).
    """
    budget = (WORKERS50_TARGET_S - sample_s) / 49
    if fit is None:
        return {"rule": "per-worker cost ≤ (45 s − sample) / 49", "pass": None}
    return {"rule": "least-squares per-worker cost (CPU s, 10/25/50 workers) ≤ (45 s − sample) / 49",
            "slope_s_per_worker": fit["slope_s_per_worker"], "budget_s_per_worker": round(budget, 4),
            "r2": fit["r2"], "slope_ci95": fit.get("slope_ci95"),
            "lack_of_fit_p": (fit.get("lack_of_fit") or {}).get("p_value"),
            "pass": fit["slope_s_per_worker"] <= budget}


def _betacf(a: float, b: float, x: float) -> float:
    """Continued fraction of the regularized incomplete beta function (Numerical Recipes, 6.4)."""
    tiny = 1e-300

    def nz(v: float) -> float:
        return v if abs(v) > tiny else tiny

    qab, qap, qam = a + b, a + 1.0, a - 1.0
    c, d = 1.0, 1.0 / nz(1.0 - qab * x / qap)
    h = d
    for m in range(1, 300):
        m2 = 2 * m
        aa = m * (b - m) * x / ((qam + m2) * (a + m2))
        d = 1.0 / nz(1.0 + aa * d)
        c = nz(1.0 + aa / c)
        h *= d * c
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))
        d = 1.0 / nz(1.0 + aa * d)
        c = nz(1.0 + aa / c)
        delta = d * c
        h *= delta
        if abs(delta - 1.0) < 1e-12:
            break
    return h


def _betai(a: float, b: float, x: float) -> float:
    """Regularized incomplete beta I_x(a, b)."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    ln_front = math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log(1.0 - x)
    if x < (a + 1.0) / (a + b + 2.0):
        return math.exp(ln_front) * _betacf(a, b, x) / a
    return 1.0 - math.exp(ln_front) * _betacf(b, a, 1.0 - x) / b


def f_sf(f: float, d1: int, d2: int) -> float:
    """P(F > f) for an F(d1, d2) distribution (no SciPy needed)."""
    if f <= 0:
        return 1.0
    return _betai(d2 / 2.0, d1 / 2.0, d2 / (d2 + d1 * f))


def t_quantile_975(df: int) -> float:
    """The 97.5 % quantile of Student's t with df degrees of freedom (bisection on the F(1, df) tail)."""
    lo, hi = 0.0, 1000.0
    for _ in range(200):
        mid = (lo + hi) / 2
        if f_sf(mid * mid, 1, df) > 0.05:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2


def linear_fit(xs: list[float], ys: list[float]) -> dict[str, Any] | None:
    """Ordinary least squares y = slope*x + intercept, with R², the slope's 95 % confidence interval and, when
    there are repeated runs at 3+ worker counts, the lack-of-fit F test (do the per-count means lie on a straight
    line within the run-to-run noise? p < 0.05 would mean curvature, e.g. superlinear growth)."""
    n = len(xs)
    if n < 3 or len(set(xs)) < 2:
        return None
    mx, my = sum(xs) / n, sum(ys) / n
    sxx = sum((x - mx) ** 2 for x in xs)
    sxy = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True))
    slope = sxy / sxx
    intercept = my - slope * mx
    ss_res = sum((y - (slope * x + intercept)) ** 2 for x, y in zip(xs, ys, strict=True))
    ss_tot = sum((y - my) ** 2 for y in ys)
    r2 = 1.0 - ss_res / ss_tot if ss_tot > 0 else 1.0
    out: dict[str, Any] = {"slope_s_per_worker": round(slope, 4), "intercept_s": round(intercept, 3),
                           "r2": round(r2, 4), "points": n}
    se = math.sqrt(ss_res / (n - 2) / sxx)
    t = t_quantile_975(n - 2)
    out["slope_ci95"] = [round(slope - t * se, 4), round(slope + t * se, 4)]
    levels: dict[float, list[float]] = {}
    for x, y in zip(xs, ys, strict=True):
        levels.setdefault(x, []).append(y)
    c = len(levels)
    ss_pe = sum((y - sum(v) / len(v)) ** 2 for v in levels.values() for y in v)
    if c >= 3 and n > c and ss_pe > 0:
        d1, d2 = c - 2, n - c
        f = ((ss_res - ss_pe) / d1) / (ss_pe / d2)
        out["lack_of_fit"] = {"F": round(f, 4), "df": [d1, d2], "p_value": round(f_sf(f, d1, d2), 4)}
    return out


# ---- limits check (run in a child so this process never starts a jsii kernel during timing) -----------------


def _child_make_limit_configs(directory: str, n_workers: int) -> None:
    """Writes max.json (largest accepted config) and max_plus_one.json; prints the limits it used as JSON."""
    sys.path.insert(0, str(PROJECT))
    from runtime.contract import memory, rules
    from stacks.config import MAX_DECLARED_TENANTS, MAX_WORKERS, ConfigError, MeshConfig

    d = Path(directory)
    workers = MAX_WORKERS if n_workers <= 0 else min(n_workers, MAX_WORKERS)
    base = sample_config()
    prefix = base.get("memory", {}).get("index_prefix", "tenant-")
    # The longest tenant id that leaves room for the user part of an index name.
    tenant_len = max(n for n in range(rules.TENANT_ID.min_len, rules.TENANT_ID.max_len + 1)
                     if memory.index_name_problem(prefix, "x" * n) is None)
    cfg = scale_config(workers, MAX_DECLARED_TENANTS, tenant_len=tenant_len, worker_name_len=24)
    MeshConfig.from_dict(cfg)  # must be accepted as is
    # Give as many workers direct TVM access as the validator's trust-policy check accepts (largest TVM role).
    tvm_workers = 0
    for w in cfg["workers"]:
        w["tvm_principal_arn"] = f"arn:aws:iam::{w['account']}:role/{w['name']}-agent-role"
        try:
            MeshConfig.from_dict(cfg)
            tvm_workers += 1
        except ConfigError:
            del w["tvm_principal_arn"]
            break
    MeshConfig.from_dict(cfg)
    write_config(d, "max", cfg)

    plus = json.loads(json.dumps(cfg))
    plus["tenants"].append(("org-extra-" + "x" * tenant_len)[: tenant_len - 1] + "z")
    in_process_error = None
    try:
        MeshConfig.from_dict(plus)
    except ConfigError as exc:
        in_process_error = str(exc)
    write_config(d, "max_plus_one", plus)
    print(json.dumps({
        "MAX_DECLARED_TENANTS": MAX_DECLARED_TENANTS,
        "MAX_WORKERS": MAX_WORKERS,
        "workers": workers,
        "tenant_id_length": tenant_len,
        "worker_name_length": 24,
        "tvm_principal_workers": tvm_workers,
        "in_process_error": in_process_error,
    }))


def limits_check(tmp: Path, quick: bool) -> dict[str, Any]:
    cfg_dir = tmp / "configs"
    cfg_dir.mkdir(exist_ok=True)
    child = subprocess.run(
        [str(PYTHON), __file__, "--_project", str(PROJECT), "--_make-limit-configs", str(cfg_dir),
         "--_workers", "10" if quick else "0"],
        cwd=PROJECT, env=cli_env(), capture_output=True, text=True)
    if child.returncode != 0:
        fail("could not build the limit configs", child)
    info = json.loads(child.stdout.strip().splitlines()[-1])
    n_max = info["MAX_DECLARED_TENANTS"]

    print(f"  limits: synth with MAX_DECLARED_TENANTS={n_max} tenants, {info['workers']} workers ...", flush=True)
    elapsed, proc, _ = run_synth(cfg_dir / "max.json", tmp / "out-max")
    if proc.returncode != 0:
        fail(f"the largest accepted config ({n_max} tenants) did not synth", proc)
    m = measure_outdir(tmp / "out-max")

    print(f"  limits: synth with {n_max + 1} tenants (must be rejected) ...", flush=True)
    rej_elapsed, rej, _ = run_synth(cfg_dir / "max_plus_one.json", tmp / "out-max-plus-one")
    err_lines = [ln for ln in (rej.stderr or "").splitlines() if ln.strip()]
    tenants_line = next((ln.strip() for ln in err_lines if ln.strip().startswith("- tenants=")), None)
    first_line = err_lines[0].strip() if err_lines else ""
    return {
        "config": {k: v for k, v in info.items() if k != "in_process_error"},
        "max_declared_tenants": n_max,
        "synth_s": round(elapsed, 2),
        "supervisor_resources": m["supervisor_resources"],
        "supervisor_template_bytes": m["supervisor_template_bytes"],
        "stacks": m["stacks"],
        "max_resources_per_stack": m["max_resources_per_stack"],
        "max_template_bytes": m["max_template_bytes"],
        "under_cloudformation_limits": (m["max_resources_per_stack"] <= CFN_MAX_RESOURCES
                                        and m["max_template_bytes"] <= CFN_MAX_TEMPLATE_BYTES),
        "headroom_resources": CFN_MAX_RESOURCES - m["max_resources_per_stack"],
        "headroom_template_bytes": CFN_MAX_TEMPLATE_BYTES - m["max_template_bytes"],
        "plus_one": {
            "tenants": n_max + 1,
            "exit_code": rej.returncode,
            "rejected": rej.returncode != 0,
            "error_first_line": first_line,
            "error_tenants_line": tenants_line,
            "points_to_runtime_onboarding": bool(tenants_line and "onboard" in tenants_line),
            "wall_s": round(rej_elapsed, 2),
            "in_process_error_matches": bool(info.get("in_process_error")
                                             and tenants_line and tenants_line in info["in_process_error"]),
        },
    }


# ---- profile: where synth time goes ------------------------------------------------------------------------


def _child_profile(config_path: str, outdir: str, nag: bool, bundling: bool = True, validation: bool = True) -> None:
    """One in-process build of the app, split into phases; prints JSON."""
    t0 = time.perf_counter()
    sys.path.insert(0, str(PROJECT))
    import cdk_nag  # noqa: F401
    from aws_cdk import App  # starts the jsii kernel

    from constructs_lib import add_nag_packs
    from stacks import build_mesh
    from stacks.config import MeshConfig

    t1 = time.perf_counter()
    ctx = project_context()
    ctx.update({"aws:cdk:enable-path-metadata": True, "aws:cdk:enable-asset-metadata": True})
    if not bundling:
        ctx["aws:cdk:bundling-stacks"] = []  # what `cdk synth` sets to skip asset bundling
    app = App(outdir=outdir, context=ctx, builtin_cloud_formation_validation=validation)
    config = MeshConfig.from_file(config_path) if config_path != "-" else MeshConfig.from_dict(sample_config())
    build_mesh(app, config)
    t2 = time.perf_counter()
    if nag:
        add_nag_packs(app)
    app.synth()
    t3 = time.perf_counter()
    print(json.dumps({"import_s": round(t1 - t0, 3), "build_s": round(t2 - t1, 3), "synth_s": round(t3 - t2, 3),
                      "in_process_total_s": round(t3 - t0, 3), "python_cpu_s": round(time.process_time(), 3)}))


def profile(tmp: Path, targets: list[tuple[str, Path | None]], cli_medians: dict[str, float],
            max_load: float | None = None, idle_timeout: float = 300) -> dict[str, Any]:
    """For each config: where the CLI's wall time goes (single runs of each variant).

    * ``app_process_s``: ``python app.py`` alone, with CDK_OUTDIR / CDK_CONTEXT_JSON as the CLI sets them;
      ``cli_overhead_s`` = CLI median - that (Node CLI start-up, reading the assembly).
    * ``cli_no_builtin_validation_s``: the same CLI command plus ``--no-validation`` (CDK_VALIDATION=false),
      which turns off aws-cdk-lib's built-in "CloudFormation Validate" plugin (cdk-nag still runs).
    * ``inproc``: the app built in one fresh process, with/without the cdk-nag packs and with/without the
      built-in validation, split into import / build / synth phases.
    """
    out: dict[str, Any] = {}
    ctx_base = project_context()
    ctx_base.update({"aws:cdk:enable-path-metadata": True, "aws:cdk:enable-asset-metadata": True})
    variants = (
        ("nag_on_validation_on", True, True, True),      # aws-cdk-lib's default App + this project's nag packs
        ("nag_off_validation_on", False, True, True),
        ("nag_on_validation_off", True, False, True),
        ("nag_off_validation_off", False, False, True),  # bare CDK synth, Lambda assets still bundled
        ("nag_off_validation_off_no_bundling", False, False, False),  # ... and asset bundling skipped
    )
    for name, cfg_path in targets:
        print(f"  profile: {name} ...", flush=True)
        entry: dict[str, Any] = {"cli_median_s": cli_medians.get(name)}
        # 1. the app process alone, as the CLI runs it.
        ctx = dict(ctx_base)
        if cfg_path is not None:
            ctx["config"] = str(cfg_path)
        env = cli_env()
        env["CDK_OUTDIR"] = str(tmp / f"prof-app-{name}")
        env["CDK_CONTEXT_JSON"] = json.dumps(ctx)
        wait_for_idle(max_load, idle_timeout)
        cpu0 = _children_cpu()
        t0 = time.perf_counter()
        p = subprocess.run([str(PYTHON), "app.py"], cwd=PROJECT, env=env, capture_output=True, text=True)
        entry["app_process_s"] = round(time.perf_counter() - t0, 2)
        entry["app_process_cpu_s"] = round(_children_cpu() - cpu0, 2)
        if p.returncode != 0:
            fail(f"python app.py failed for {name}", p)
        if entry["cli_median_s"] is not None:
            entry["cli_overhead_s"] = round(entry["cli_median_s"] - entry["app_process_s"], 2)
        # 2. the user's command with the built-in CloudFormation validation off.
        outdir = tmp / f"prof-cli-noval-{name}"
        cmd = synth_cmd(cfg_path, outdir) + ["--no-validation"]
        wait_for_idle(max_load, idle_timeout)
        t0 = time.perf_counter()
        p = subprocess.run(cmd, cwd=PROJECT, env=cli_env(), capture_output=True, text=True)
        entry["cli_no_builtin_validation_s"] = round(time.perf_counter() - t0, 2)
        if p.returncode != 0:
            fail(f"cdk synth --no-validation failed for {name}", p)
        # 3. in-process phases.
        inproc: dict[str, Any] = {}
        for label, nag, validation, bundling in variants:
            env = cli_env()
            wait_for_idle(max_load, idle_timeout)
            cpu0 = _children_cpu()
            t0 = time.perf_counter()
            c = subprocess.run([str(PYTHON), __file__, "--_project", str(PROJECT),
                                "--_profile-child", str(cfg_path) if cfg_path else "-",
                                "--_outdir", str(tmp / f"prof-{label}-{name}")] + ([] if nag else ["--_no-nag"])
                               + ([] if bundling else ["--_no-bundling"])
                               + ([] if validation else ["--_no-validation"]),
                               cwd=PROJECT, env=env, capture_output=True, text=True)
            wall = time.perf_counter() - t0
            if c.returncode != 0:
                fail(f"profile child failed for {name} ({label})", c)
            phases = json.loads(c.stdout.strip().splitlines()[-1])
            phases["process_wall_s"] = round(wall, 2)
            phases["process_tree_cpu_s"] = round(_children_cpu() - cpu0, 2)
            # CPU of the tree minus Python's own = the jsii Node kernel (where the construct code runs).
            phases["node_kernel_cpu_s"] = round(phases["process_tree_cpu_s"] - phases["python_cpu_s"], 2)
            inproc[label] = phases
        entry["inproc"] = inproc
        syn = {k: v["synth_s"] for k, v in inproc.items()}
        cpu = {k: v["process_tree_cpu_s"] for k, v in inproc.items()}
        # The same split from CPU seconds of each whole process (less sensitive to background load).
        entry["breakdown_cpu_s"] = {
            "bare_process": cpu["nag_off_validation_off"],
            "lambda_asset_bundling": round(cpu["nag_off_validation_off"]
                                           - cpu["nag_off_validation_off_no_bundling"], 2),
            "cdk_nag_packs": round(cpu["nag_on_validation_off"] - cpu["nag_off_validation_off"], 2),
            "builtin_cloudformation_validation": round(cpu["nag_off_validation_on"] - cpu["nag_off_validation_off"], 2),
            "nag_plus_validation_together": round(cpu["nag_on_validation_on"] - cpu["nag_off_validation_off"], 2),
        }
        entry["breakdown_s"] = {
            "import_and_kernel_start": inproc["nag_on_validation_on"]["import_s"],
            "build_constructs_without_bundling": inproc["nag_off_validation_off_no_bundling"]["build_s"],
            "lambda_asset_bundling": round(inproc["nag_off_validation_off"]["build_s"]
                                           - inproc["nag_off_validation_off_no_bundling"]["build_s"], 2),
            "synth_bare": syn["nag_off_validation_off"],
            "cdk_nag_packs": round(syn["nag_on_validation_off"] - syn["nag_off_validation_off"], 2),
            "builtin_cloudformation_validation": round(syn["nag_off_validation_on"] - syn["nag_off_validation_off"], 2),
            "nag_plus_validation_together": round(syn["nag_on_validation_on"] - syn["nag_off_validation_off"], 2),
            "cli_and_process_overhead": entry.get("cli_overhead_s"),
        }
        out[name] = entry
    return out


# ---- plot --------------------------------------------------------------------------------------------------


def plot(results: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    configs = results["configs"]
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(12, 5.8))
    scale = [c for c in configs.values() if c["kind"] == "scale"]
    sample = configs["sample"]

    for c in scale:
        ax.scatter([c["workers"]] * len(c["runs_s"]), c["runs_s"], color="tab:blue", alpha=0.35, s=18)
    ax.plot([c["workers"] for c in scale], [c["median_s"] for c in scale], "o", color="tab:blue",
            markersize=8, label=f"{SCALE_TENANTS} tenants: median of runs")
    ax.scatter([sample["workers"]] * len(sample["runs_s"]), sample["runs_s"], color="tab:green", alpha=0.35, s=18)
    ax.plot([sample["workers"]], [sample["median_s"]], "s", color="tab:green", markersize=8,
            label=f"sample config ({sample['tenants']} tenants): median")
    ax.plot([c["workers"] for c in [sample, *scale]], [c["reuse_outdir_median_s"] for c in [sample, *scale]], "x",
            color="tab:purple", markersize=8, label="median, outdir reused (assets already bundled)")
    ax.plot([c["workers"] for c in [sample, *scale]], [c["skip_bundling_median_s"] for c in [sample, *scale]], "+",
            color="tab:orange", markersize=10, label="median, MESH_SKIP_BUNDLING=1 (as make synth)")
    ax.plot([c["workers"] for c in [sample, *scale]], [c["median_cpu_s"] for c in [sample, *scale]], "o",
            mfc="none", color="tab:gray", markersize=8, label="median CPU seconds (process tree)")
    fit = results.get("fit")
    xmax = max([c["workers"] for c in scale] + [10]) * 1.08
    if fit:
        xs = [0, xmax]
        ax.plot(xs, [fit["slope_s_per_worker"] * x + fit["intercept_s"] for x in xs], "--", color="tab:blue",
                label=f"least squares: {fit['slope_s_per_worker']:.3f} s/worker + {fit['intercept_s']:.1f} s "
                      f"(R²={fit['r2']:.3f})")
    ax.plot([50], [WORKERS50_TARGET_S], "rv", markersize=9, label=f"target: 50 workers ≤ {WORKERS50_TARGET_S:.0f} s")
    ax.plot([1], [SAMPLE_TARGET_S], "r^", markersize=9, label=f"target: sample ≤ {SAMPLE_TARGET_S:.0f} s")
    ax.set_xlim(0, xmax)
    ax.set_ylim(0, None)
    ax.set_xlabel("worker accounts (stacks = workers + 1)")
    ax.set_ylabel("cdk synth, whole process (s)")
    ax.set_title("Synth wall time vs workers (cdk-nag packs on)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7.5, loc="upper center", bbox_to_anchor=(0.5, -0.13), ncol=2, frameon=False)

    xs = [c["workers"] for c in scale]
    ax2.plot(xs, [c["measure"]["total_template_bytes"] / 1024 for c in scale], "o-", label="all templates (KiB)")
    ax2.plot(xs, [c["measure"]["supervisor_template_bytes"] / 1024 for c in scale], "s-",
             label="supervisor template (KiB)")
    ax2.set_xlim(0, xmax)
    ax2.set_xlabel("worker accounts")
    ax2.set_ylabel("template size (KiB)")
    ax2.set_ylim(0, None)
    ax2.grid(alpha=0.3)
    ax3 = ax2.twinx()
    ax3.plot(xs, [c["measure"]["max_resources_per_stack"] for c in scale], "^:", color="tab:red",
             label="max resources per stack")
    ax3.set_ylabel("resources")
    ax3.set_ylim(0, max(c["measure"]["max_resources_per_stack"] for c in scale) * 1.3)
    h1, l1 = ax2.get_legend_handles_labels()
    h2, l2 = ax3.get_legend_handles_labels()
    ax2.legend(h1 + h2, l1 + l2, fontsize=7.5, loc="upper center", bbox_to_anchor=(0.5, -0.13), ncol=2,
               frameon=False)
    lim = results.get("limits_check") or {}
    ax2.set_title(f"Template size and resources ({SCALE_TENANTS} tenants)"
                  + (f"\nlargest accepted config: {lim.get('supervisor_resources')} resources, "
                     f"{lim.get('supervisor_template_bytes', 0) / 1e6:.2f} MB" if lim else ""), fontsize=10)
    m = results["machine"]
    loads = [x for c in configs.values() for x in c["load_avg_1m_before"]]
    fig.suptitle(f"Agent Memory Mesh synth scale — {results['date']}, {m['cpus_available']} CPU, "
                 f"node {m['node']}, cdk {m['cdk_cli'].split()[0]}, {results['runs_per_config']} runs/config, "
                 f"1-min load before runs {min(loads):.1f}–{max(loads):.1f}", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


# ---- main --------------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=3, help="timed runs per config (median reported; default 3)")
    ap.add_argument("--quick", action="store_true", help="smoke run: 1 run, 10 workers only, small limits check")
    prof = ap.add_mutually_exclusive_group()
    prof.add_argument("--profile", action="store_true", help="always profile where synth time goes")
    prof.add_argument("--no-profile", action="store_true", help="never profile, even if a target is missed")
    ap.add_argument("--max-load", type=float, default=None, metavar="L",
                    help="before each timed run, wait until the 1-minute load average is below L")
    ap.add_argument("--idle-timeout", type=float, default=300, metavar="S",
                    help="longest wait for --max-load before running anyway (default 300 s)")
    ap.add_argument("--keep", action="store_true", help="keep the temporary configs and cloud assemblies")
    ap.add_argument("--in-place", action="store_true",
                    help="synthesize in the working tree instead of a snapshot of it taken at start")
    ap.add_argument("--replot", action="store_true", help="only redraw the PNG from the existing JSON")
    ap.add_argument("--_project", dest="child_project", help=argparse.SUPPRESS)
    ap.add_argument("--output", type=Path, default=JSON_OUT, help=argparse.SUPPRESS)
    # internal child modes
    ap.add_argument("--_make-limit-configs", dest="make_limit_configs", help=argparse.SUPPRESS)
    ap.add_argument("--_workers", dest="child_workers", type=int, default=0, help=argparse.SUPPRESS)
    ap.add_argument("--_profile-child", dest="profile_child", help=argparse.SUPPRESS)
    ap.add_argument("--_outdir", dest="child_outdir", help=argparse.SUPPRESS)
    ap.add_argument("--_no-nag", dest="child_no_nag", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--_no-bundling", dest="child_no_bundling", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--_no-validation", dest="child_no_validation", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)

    global PROJECT
    if args.child_project:
        PROJECT = Path(args.child_project)
    if args.replot:
        plot(json.loads(args.output.read_text(encoding="utf-8")), args.output.with_suffix(".png"))
        print(f"wrote {args.output.with_suffix('.png')}")
        return 0
    if args.make_limit_configs:
        _child_make_limit_configs(args.make_limit_configs, args.child_workers)
        return 0
    if args.profile_child:
        _child_profile(args.profile_child, args.child_outdir, nag=not args.child_no_nag,
                       bundling=not args.child_no_bundling, validation=not args.child_no_validation)
        return 0

    runs = 1 if args.quick else args.runs
    if runs < 1:
        ap.error("--runs must be at least 1")
    worker_counts = QUICK_WORKERS if args.quick else SCALE_WORKERS
    if not CDK.exists():
        fail(f"{CDK} not found: run `make deps` (npm ci) first")

    started = _dt.datetime.now(_dt.UTC)
    tmp = Path(tempfile.mkdtemp(prefix="synth-scale-"))
    print(f"synth_scale: {runs} run(s) per config, workers {list(worker_counts)}; temp dir {tmp}", flush=True)
    try:
        if not args.in_place:
            PROJECT = snapshot_project(tmp / "project")
        code = code_info(PROJECT)
        machine = machine_info()
        cfg_dir = tmp / "configs"
        cfg_dir.mkdir()
        sample_cfg = sample_config()
        # name -> (config path or None for cdk.json's sample, workers, tenants)
        plan: dict[str, tuple[Path | None, int, int]] = {
            "sample": (None, len(sample_cfg["workers"]), len(sample_cfg["tenants"])),
        }
        for n in worker_counts:
            cfg_path = write_config(cfg_dir, f"workers{n}_tenants{SCALE_TENANTS}", scale_config(n, SCALE_TENANTS))
            plan[f"workers{n}"] = (cfg_path, n, SCALE_TENANTS)

        # Warm-up (file caches, first Node start); timed and reported, not counted.
        print("  warm-up synth (sample, not counted) ...", flush=True)
        warm_s, warm, _ = run_synth(None, tmp / "out-warmup")
        if warm.returncode != 0:
            fail("warm-up synth of the sample config failed", warm)

        configs: dict[str, Any] = {}
        for name, (path, workers, tenants) in plan.items():
            configs[name] = {"kind": "sample" if path is None else "scale", "workers": workers, "tenants": tenants,
                             "command": " ".join(synth_cmd(Path(f"<{path.name}>") if path else None,
                                                           Path("<tmp outdir>"))).replace(str(ROOT) + "/", ""),
                             "templates_differ_between_runs": False,
                             "runs_s": [], "cpu_s": [], "load_avg_1m_before": [], "waited_for_idle_s": [],
                             "reuse_outdir_runs_s": [], "reuse_outdir_cpu_s": [],
                             "skip_bundling_runs_s": [], "skip_bundling_cpu_s": [],
                             "skip_bundling_templates_differ": False,
                             "skip_bundling_templates_differ_beyond_asset_path_metadata": False,
                             "measure": None}
        for r in range(runs):
            for name, (path, _, _) in plan.items():
                waited = wait_for_idle(args.max_load, args.idle_timeout)
                load = os.getloadavg()[0]
                outdir = tmp / f"out-{name}"
                elapsed, proc, cpu = run_synth(path, outdir)
                if proc.returncode != 0:
                    fail(f"synth failed for {name}", proc)
                m = measure_outdir(outdir)
                c = configs[name]
                if c["measure"] is None:
                    c["measure"] = m
                elif m["templates_sha256"] != c["measure"]["templates_sha256"]:
                    c["templates_differ_between_runs"] = True
                c["runs_s"].append(round(elapsed, 2))
                c["cpu_s"].append(round(cpu, 2))
                c["load_avg_1m_before"].append(round(load, 2))
                c["waited_for_idle_s"].append(round(waited, 1))
                # Again into the same outdir: already-staged assets are not bundled again.
                r_elapsed, r_proc, r_cpu = run_synth(path, outdir, reuse_outdir=True)
                if r_proc.returncode != 0:
                    fail(f"synth (reused outdir) failed for {name}", r_proc)
                c["reuse_outdir_runs_s"].append(round(r_elapsed, 2))
                c["reuse_outdir_cpu_s"].append(round(r_cpu, 2))
                # As `make synth` runs it: the app skips Lambda bundling (MESH_SKIP_BUNDLING=1), fresh outdir.
                m_out = tmp / f"out-{name}-skip-bundling"
                m_elapsed, m_proc, m_cpu = run_synth(path, m_out, extra_env={"MESH_SKIP_BUNDLING": "1"})
                if m_proc.returncode != 0:
                    fail(f"synth (MESH_SKIP_BUNDLING=1) failed for {name}", m_proc)
                m_skip = measure_outdir(m_out)
                if m_skip["templates_sha256"] != m["templates_sha256"]:
                    c["skip_bundling_templates_differ"] = True
                if m_skip["templates_sha256_without_asset_paths"] != m["templates_sha256_without_asset_paths"]:
                    c["skip_bundling_templates_differ_beyond_asset_path_metadata"] = True
                c["skip_bundling_runs_s"].append(round(m_elapsed, 2))
                c["skip_bundling_cpu_s"].append(round(m_cpu, 2))
                print(f"  run {r + 1}/{runs} {name:>10}: {elapsed:6.2f} s (reused outdir {r_elapsed:5.2f} s, "
                      f"skip bundling {m_elapsed:5.2f} s)  "
                      f"stacks={m['stacks']:3d}  max res/stack={m['max_resources_per_stack']:3d}  "
                      f"max bytes={m['max_template_bytes']:,}  (cpu {cpu:.1f} s, load {load:.2f})", flush=True)
        for c in configs.values():
            c["median_s"] = round(statistics.median(c["runs_s"]), 2)
            c["min_s"], c["max_s"] = min(c["runs_s"]), max(c["runs_s"])
            c["median_cpu_s"] = round(statistics.median(c["cpu_s"]), 2)
            c["min_cpu_s"] = min(c["cpu_s"])
            c["reuse_outdir_median_s"] = round(statistics.median(c["reuse_outdir_runs_s"]), 2)
            c["skip_bundling_median_s"] = round(statistics.median(c["skip_bundling_runs_s"]), 2)
            c["stacks"] = c["measure"]["stacks"]
            c["max_resources_per_stack"] = c["measure"]["max_resources_per_stack"]
            c["max_template_bytes"] = c["measure"]["max_template_bytes"]
            c["total_template_bytes"] = c["measure"]["total_template_bytes"]

        scale = [c for c in configs.values() if c["kind"] == "scale"]
        fit = linear_fit([c["workers"] for c in scale for _ in c["runs_s"]], [t for c in scale for t in c["runs_s"]])
        fit_medians = linear_fit([c["workers"] for c in scale], [c["median_s"] for c in scale])
        if fit:
            series = ", ".join(str(c["workers"]) for c in scale)
            fit["fitted_on"] = f"every run of the {SCALE_TENANTS}-tenant series ({series} workers)"
            fit["predicted_s"] = {
                str(c["workers"]): round(fit["slope_s_per_worker"] * c["workers"] + fit["intercept_s"], 2)
                for c in scale}
        if fit_medians:
            fit_medians["fitted_on"] = "medians"
        fit_reuse = linear_fit([c["workers"] for c in scale for _ in c["reuse_outdir_runs_s"]],
                               [t for c in scale for t in c["reuse_outdir_runs_s"]])
        if fit_reuse:
            fit_reuse["fitted_on"] = "every reused-outdir run of the same series"
        fit_cpu = linear_fit([c["workers"] for c in scale for _ in c["cpu_s"]], [t for c in scale for t in c["cpu_s"]])
        if fit_cpu:
            fit_cpu["fitted_on"] = "CPU seconds (process tree) of every fresh-outdir run: less sensitive to load"

        limits = limits_check(tmp, args.quick)

        sample_s = configs["sample"]["median_s"]
        w50 = configs.get("workers50", {}).get("median_s")
        targets = {
            "sample_synth_le_12s": {"target_s": SAMPLE_TARGET_S, "measured_s": sample_s,
                                    "pass": sample_s <= SAMPLE_TARGET_S},
            "workers50_synth_le_45s": {"target_s": WORKERS50_TARGET_S, "measured_s": w50,
                                       "pass": None if w50 is None else w50 <= WORKERS50_TARGET_S},
            "linear_in_workers": linear_budget(fit_cpu, sample_s),
            "max_declared_tenants_under_cfn_limits": {
                "rule": f"≤ {CFN_MAX_RESOURCES} resources and ≤ {CFN_MAX_TEMPLATE_BYTES} bytes per stack",
                "resources": limits["max_resources_per_stack"], "template_bytes": limits["max_template_bytes"],
                "pass": limits["under_cloudformation_limits"]},
            "max_declared_tenants_plus_one_rejected": {
                "rule": "synth fails with the validator's message pointing to run-time onboarding",
                "pass": limits["plus_one"]["rejected"] and limits["plus_one"]["points_to_runtime_onboarding"]},
        }

        all_measured = [c["measure"] for c in configs.values()]
        results: dict[str, Any] = {
            "benchmark": "synth_scale",
            "date": started.date().isoformat(),
            "started_utc": started.isoformat(timespec="seconds"),
            "command": ("make bench-synth" if not (argv or sys.argv[1:]) else
                        "benchmarks/synth_scale.py " + " ".join(argv if argv is not None else sys.argv[1:])),
            "code": code,
            "runs_per_config": runs,
            "max_load_wait": {"max_load": args.max_load, "idle_timeout_s": args.idle_timeout}
            if args.max_load is not None else None,
            "quick": args.quick,
            "sample_synth_s": sample_s,
            "workers10_synth_s": configs.get("workers10", {}).get("median_s"),
            "workers25_synth_s": configs.get("workers25", {}).get("median_s"),
            "workers50_synth_s": w50,
            "max_resources_per_stack": max(m["max_resources_per_stack"] for m in all_measured),
            "max_template_bytes": max(m["max_template_bytes"] for m in all_measured),
            "max_declared_tenants": limits["max_declared_tenants"],
            "max_declared_tenants_resources": limits["supervisor_resources"],
            "max_declared_tenants_template_bytes": limits["supervisor_template_bytes"],
            "max_declared_tenants_plus_one_error": limits["plus_one"]["error_first_line"],
            "fit": fit,
            "fit_medians": fit_medians,
            "fit_reuse_outdir": fit_reuse,
            "fit_cpu": fit_cpu,
            "targets": targets,
            "all_targets_pass": all(t["pass"] for t in targets.values() if t["pass"] is not None),
            "warmup_s": round(warm_s, 2),
            "machine": machine,
            "configs": configs,
            "limits_check": limits,
            "notes": [
                "Wall time of the whole `cdk synth` process (Node CLI + python app.py + jsii kernel + cdk-nag), "
                "measured with time.perf_counter around subprocess.run; runs interleaved round-robin over configs.",
                "max_resources_per_stack / max_template_bytes are over the sample and scale configs; the limits "
                "check (largest accepted config) is reported separately under max_declared_tenants_*.",
                "load_avg_1m_before records the machine's 1-minute load average before each run: other work on the "
                "machine inflates wall times. cpu_s is the user+system CPU of the whole synth process tree (CLI, "
                "python app.py, jsii Node kernel), which background load affects much less than wall time.",
            ],
        }

        time_missed = (targets["sample_synth_le_12s"]["pass"] is False
                       or targets["workers50_synth_le_45s"]["pass"] is False)
        if args.profile or (time_missed and not args.no_profile):
            prof_targets: list[tuple[str, Path | None]] = [("sample", None)]
            biggest = max(scale, key=lambda c: c["workers"]) if scale else None
            if biggest:
                prof_targets.append((f"workers{biggest['workers']}", plan[f"workers{biggest['workers']}"][0]))
            results["profile"] = profile(tmp, prof_targets, {k: v["median_s"] for k, v in configs.items()},
                                         args.max_load, args.idle_timeout)
            results["profile_note"] = (
                "Single runs. app_process_s: `python app.py` alone with CDK_OUTDIR/CDK_CONTEXT_JSON as the CLI sets "
                "them; cli_overhead_s = CLI median - app_process_s (Node CLI start, assembly read). "
                "cli_no_builtin_validation_s: the same CLI command with --no-validation (CDK_VALIDATION=false: "
                "aws-cdk-lib's built-in 'CloudFormation Validate' plugin off, cdk-nag still on). In-process phases "
                "(fresh process each): import_s (aws_cdk + cdk_nag + project, jsii kernel start), build_s (App + "
                "build_mesh, incl. Lambda asset bundling unless the variant skips it via aws:cdk:bundling-stacks=[]), "
                "synth_s (app.synth(), incl. the validation plugins that are on). breakdown_s derives "
                "the cost of cdk-nag and of the built-in validation from the synth_s differences. node_kernel_cpu_s "
                "= process-tree CPU - Python's own CPU (the jsii Node kernel).")

        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
        png = args.output.with_suffix(".png")
        plot(results, png)
    finally:
        if args.keep:
            print(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)

    # ---- summary ------------------------------------------------------------------------------------------
    print()
    print(f"{'config':<12}{'workers':>8}{'tenants':>8}{'stacks':>7}{'median s':>10}  {'runs s':<30}{'reuse s':>8}"
          f"{'skip-b s':>9}{'cpu s':>7}"
          f"{'max res':>8}{'max bytes':>11}{'total bytes':>12}")
    for name, c in configs.items():
        runs_txt = ", ".join(f"{t:.1f}" for t in c["runs_s"])
        print(f"{name:<12}{c['workers']:>8}{c['tenants']:>8}{c['stacks']:>7}{c['median_s']:>10.2f}  {runs_txt:<30}"
              f"{c['reuse_outdir_median_s']:>8.2f}{c['skip_bundling_median_s']:>9.2f}{c['median_cpu_s']:>7.1f}"
              f"{c['max_resources_per_stack']:>8}{c['max_template_bytes']:>11,}{c['total_template_bytes']:>12,}")
    if fit:
        lof = fit.get("lack_of_fit") or {}
        print(f"\nfit: {fit['slope_s_per_worker']:.3f} s/worker (95% CI {fit['slope_ci95']}) + "
              f"{fit['intercept_s']:.2f} s, R² = {fit['r2']:.4f}, lack-of-fit p = {lof.get('p_value')}")
        if fit_cpu:
            print(f"fit (CPU s): {fit_cpu['slope_s_per_worker']:.3f} s/worker (95% CI {fit_cpu['slope_ci95']}) + "
                  f"{fit_cpu['intercept_s']:.2f} s, R² = {fit_cpu['r2']:.4f}, "
                  f"lack-of-fit p = {(fit_cpu.get('lack_of_fit') or {}).get('p_value')}")
    lim = results["limits_check"]
    print(f"limits: {lim['max_declared_tenants']} tenants -> supervisor {lim['supervisor_resources']} resources, "
          f"{lim['supervisor_template_bytes']:,} bytes; +1 tenant rejected: {lim['plus_one']['rejected']} "
          f"({lim['plus_one']['error_tenants_line']})")
    print("targets:")
    for k, t in targets.items():
        verdict = "n/a" if t["pass"] is None else ("PASS" if t["pass"] else "FAIL")
        print(f"  {k:<42} {verdict}")
    if "profile" in results:
        print("profile (single runs, s):")
        for name, p in results["profile"].items():
            b = p["breakdown_s"]
            print(f"  {name:<10} cli {p['cli_median_s']}  cli --no-validation {p['cli_no_builtin_validation_s']}  "
                  f"app.py {p['app_process_s']} | import {b['import_and_kernel_start']}  "
                  f"build {b['build_constructs_without_bundling']}  bundling {b['lambda_asset_bundling']}  "
                  f"bare synth {b['synth_bare']}  cdk-nag {b['cdk_nag_packs']}  "
                  f"built-in validation {b['builtin_cloudformation_validation']}  "
                  f"cli overhead {b['cli_and_process_overhead']}")
    print(f"\nwrote {args.output.relative_to(ROOT) if args.output.is_relative_to(ROOT) else args.output} and "
          f"{png.relative_to(ROOT) if png.is_relative_to(ROOT) else png}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
