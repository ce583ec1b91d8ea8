"""RuntimeBundle: one shared code asset + SDK layer, deterministic hashes, validation, and one real local bundle."""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

import pytest
from aws_cdk import App, Environment, Stack
from aws_cdk import aws_lambda as lambda_

from constructs_lib import PropsError, runtime_bundle
from constructs_lib.runtime_bundle import DEFAULT_SOURCE_DIR, NO_BYTECODE_WARNING_ID, RuntimeBundle, _bundled_files
from runtime.contract.problems import shown
from tests.constructs_lib.helpers import ACCOUNT, REGION, new_stack, resources, template_of

ROOT = Path(__file__).resolve().parents[2]


def _function(stack, bundle, id_="Fn", handler="runtime.handlers.orchestrator.handler"):
    return lambda_.Function(stack, id_, code=bundle.code, runtime=bundle.runtime, architecture=bundle.architecture,
                            layers=bundle.layers, handler=handler)


def _asset_keys(source_dir=None, requirements_file=None, **kwargs) -> tuple[str, str | None]:
    """(code S3 key, SDK layer S3 key) of a fresh stack with one function on a new bundle."""
    stack = new_stack()
    bundle = RuntimeBundle(stack, "Bundle", source_dir=source_dir, requirements_file=requirements_file, **kwargs)
    _function(stack, bundle)
    t = template_of(stack)
    (fn,) = resources(t, "AWS::Lambda::Function").values()
    layers = list(resources(t, "AWS::Lambda::LayerVersion").values())
    return fn["Properties"]["Code"]["S3Key"], (layers[0]["Properties"]["Content"]["S3Key"] if layers else None)


@pytest.fixture
def runtime_copy(tmp_path: Path) -> Path:
    """A copy of the runtime package at another path, without bytecode (as a fresh checkout has)."""
    copy = tmp_path / "src" / "runtime"
    shutil.copytree(DEFAULT_SOURCE_DIR, copy, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    return copy


# ---- template ------------------------------------------------------------------------------------------------


def test_functions_share_one_code_asset_and_one_sdk_layer():
    stack = new_stack()
    bundle = RuntimeBundle(stack, "Bundle")
    _function(stack, bundle, "Orchestrator", "runtime.handlers.orchestrator.handler")
    _function(stack, bundle, "Summarizer", "runtime.handlers.summarizer.handler")
    t = template_of(stack)
    functions = resources(t, "AWS::Lambda::Function")
    (layer_id, layer), = resources(t, "AWS::Lambda::LayerVersion").items()
    assert len({json.dumps(f["Properties"]["Code"], sort_keys=True) for f in functions.values()}) == 1
    for fn in functions.values():
        assert fn["Properties"]["Runtime"] == "python3.12"
        assert fn["Properties"]["Architectures"] == ["arm64"]
        assert fn["Properties"]["Layers"] == [{"Ref": layer_id}]
    assert layer["Properties"]["CompatibleRuntimes"] == ["python3.12"]
    assert layer["Properties"]["CompatibleArchitectures"] == ["arm64"]
    assert "boto3==1.44.5, botocore==1.44.5" in layer["Properties"]["Description"]
    assert [str(p) for p in bundle.code_requirements] == ["aws-lambda-powertools==3.37.0", "typing-extensions==4.16.0"]
    assert {p.name for p in bundle.sdk_requirements} == {
        "boto3", "botocore", "s3transfer", "jmespath", "python-dateutil", "six", "urllib3"}


def test_x86_64_and_another_python_get_their_own_assets():
    stack = new_stack()
    bundle = RuntimeBundle(stack, "Bundle", architecture=lambda_.Architecture.X86_64,
                           runtime=lambda_.Runtime.PYTHON_3_13)
    _function(stack, bundle)
    t = template_of(stack)
    (fn,) = resources(t, "AWS::Lambda::Function").values()
    (layer,) = resources(t, "AWS::Lambda::LayerVersion").values()
    assert fn["Properties"]["Architectures"] == ["x86_64"]
    assert fn["Properties"]["Runtime"] == "python3.13"
    assert layer["Properties"]["CompatibleArchitectures"] == ["x86_64"]
    assert layer["Properties"]["CompatibleRuntimes"] == ["python3.13"]
    default_code, default_layer = _asset_keys()
    assert fn["Properties"]["Code"]["S3Key"] != default_code
    assert layer["Properties"]["Content"]["S3Key"] != default_layer


def test_without_the_sdk_layer_functions_use_the_lambda_runtime_sdk():
    stack = new_stack()
    bundle = RuntimeBundle(stack, "Bundle", bundle_aws_sdk=False)
    _function(stack, bundle)
    t = template_of(stack)
    assert bundle.layers == [] and bundle.sdk_requirements == ()
    assert resources(t, "AWS::Lambda::LayerVersion") == {}
    (fn,) = resources(t, "AWS::Lambda::Function").values()
    assert "Layers" not in fn["Properties"]
    assert fn["Properties"]["Code"]["S3Key"] == _asset_keys()[0]  # same code either way


# ---- deterministic hashes ------------------------------------------------------------------------------------


def test_asset_hashes_are_stable_across_synths_and_checkout_paths(runtime_copy: Path):
    first = _asset_keys()
    assert _asset_keys() == first
    assert _asset_keys(source_dir=runtime_copy) == first
    assert all(key is not None and re.fullmatch(r"[0-9a-f]{64}\.zip", key) for key in first)


def test_bytecode_caches_mtimes_and_excluded_subpackages_do_not_change_the_hash(runtime_copy: Path):
    clean = _asset_keys(source_dir=runtime_copy)
    cache = runtime_copy / "stores" / "__pycache__"
    cache.mkdir()
    (cache / "s3vectors.cpython-312.pyc").write_bytes(b"\x00bytecode")
    (runtime_copy / "stray.pyc").write_bytes(b"\x00bytecode")
    (runtime_copy / ".pytest_cache").mkdir()
    (runtime_copy / "tests").mkdir()
    (runtime_copy / "tests" / "test_x.py").write_text("def test_x(): pass\n")
    assert _asset_keys(source_dir=runtime_copy) == clean
    for path in (cache, runtime_copy / ".pytest_cache", runtime_copy / "tests"):
        shutil.rmtree(path)
    (runtime_copy / "stray.pyc").unlink()
    later = time.time() + 3600
    for path in runtime_copy.rglob("*"):
        os.utime(path, (later, later))
    assert _asset_keys(source_dir=runtime_copy) == clean
    # The Strands integration and the test fakes never reach a Lambda, so editing them changes nothing.
    with (runtime_copy / "integrations" / "strands_memory.py").open("a") as f:
        f.write("\n# edited\n")
    with (runtime_copy / "testing" / "__init__.py").open("a") as f:
        f.write("\n# edited\n")
    assert _asset_keys(source_dir=runtime_copy) == clean


def test_hash_follows_runtime_sources_and_the_pins(runtime_copy: Path):
    code, layer = _asset_keys(source_dir=runtime_copy)
    with (runtime_copy / "identity.py").open("a") as f:
        f.write("\n# edited\n")
    edited_code, edited_layer = _asset_keys(source_dir=runtime_copy)
    assert edited_code != code and edited_layer == layer
    requirements = runtime_copy / "requirements-lambda.txt"
    text = requirements.read_text()
    requirements.write_text(text.replace("typing-extensions==4.16.0", "typing-extensions==4.15.0"))
    pinned_code, pinned_layer = _asset_keys(source_dir=runtime_copy)
    assert pinned_code != edited_code and pinned_layer == layer  # the SDK layer depends on SDK pins only
    requirements.write_text(text.replace("botocore==1.44.5", "botocore==1.44.4"))
    assert _asset_keys(source_dir=runtime_copy)[1] != layer


def test_code_asset_holds_the_runtime_without_integrations_fakes_or_caches():
    files = [rel for rel, _ in _bundled_files(DEFAULT_SOURCE_DIR)]
    assert {"__init__.py", "identity.py", "credentials.py", "retriever.py", "summarizer.py",
            "stores/s3vectors.py", "stores/agentcore.py"} <= set(files)
    assert not [f for f in files if f.startswith(("integrations/", "testing/")) or "__pycache__" in f
                or f.endswith(".pyc") or f == "requirements-lambda.txt"]


def test_docker_fallback_copies_the_same_files_as_local_bundling(runtime_copy: Path, tmp_path: Path):
    """The fallback's inlined helpers (run here with this Python instead of the SAM image's) keep the same files."""
    from constructs_lib.runtime_bundle import _docker_script, _Target

    (runtime_copy / "__pycache__").mkdir()
    (runtime_copy / "__pycache__" / "identity.cpython-312.pyc").write_bytes(b"\x00")
    output = tmp_path / "asset-output"
    script = _docker_script(_Target("3.12", "aarch64", ("manylinux2014_aarch64",)), [], "/asset-output",
                            copy_runtime_to="/asset-output/runtime")
    assert "-m pip" not in script  # nothing to install without pins
    local_script = (script.replace("/asset-input", str(runtime_copy)).replace("/asset-output", str(output))
                    .replace("python -c", f"{sys.executable} -B -c")
                    .replace("(python -m compileall", f"({sys.executable} -m compileall"))
    subprocess.run(["bash", "-c", local_script], check=True, timeout=60)
    copied = sorted(p.relative_to(output / "runtime").as_posix() for p in (output / "runtime").rglob("*")
                    if p.is_file() and "__pycache__" not in p.parts)
    assert copied == [rel for rel, _ in _bundled_files(runtime_copy)]
    # Then compiled, by the image's python (here: this one), next to every module.
    tag = sys.implementation.cache_tag
    compiled = {p.relative_to(output / "runtime").as_posix() for p in (output / "runtime").rglob(f"*.{tag}.pyc")}
    assert "identity.py" in copied and f"__pycache__/identity.{tag}.pyc" in compiled


def test_lambda_pins_match_the_project_pins():
    def pins(path: Path) -> dict[str, str]:
        found = (re.match(r"^([A-Za-z0-9._-]+)==(\S+)", line) for line in path.read_text().splitlines())
        return {m.group(1).lower(): m.group(2) for m in found if m}

    project, lam = pins(ROOT / "requirements.txt"), pins(DEFAULT_SOURCE_DIR / "requirements-lambda.txt")
    shared = set(project) & set(lam)
    assert {"boto3", "aws-lambda-powertools"} <= shared
    assert {name: lam[name] for name in shared} == {name: project[name] for name in shared}


# ---- validation ----------------------------------------------------------------------------------------------


def test_validation_lists_every_bad_prop_in_one_error(tmp_path: Path):
    with pytest.raises(PropsError) as err:
        RuntimeBundle(new_stack(), "Bundle", architecture=lambda_.Architecture.custom("riscv64"),
                      runtime=lambda_.Runtime.PYTHON_3_10, source_dir=tmp_path)
    assert str(err.value) == (
        "RuntimeBundle: invalid props (4 problem(s)):\n"
        "  - architecture='riscv64': must be Architecture.ARM_64 or Architecture.X86_64\n"
        "  - runtime='python3.10': must be a Python Lambda runtime from python3.11 (the runtime package needs "
        "Python >= 3.11)\n"
        f"  - source_dir={shown(str(tmp_path))}: must be the runtime package directory (with __init__.py)\n"
        f"  - requirements_file={shown(str(tmp_path / 'requirements-lambda.txt'))}: must be an existing pinned "
        "requirements file")


def test_a_non_python_runtime_is_rejected():
    with pytest.raises(PropsError) as err:
        RuntimeBundle(new_stack(), "Bundle", runtime=lambda_.Runtime.NODEJS_22_X)
    assert err.value.problems == [
        "runtime='nodejs22.x': must be a Python Lambda runtime from python3.11 (the runtime package needs "
        "Python >= 3.11)"]


def test_requirements_must_be_exact_pins_without_agent_libraries(runtime_copy: Path):
    (runtime_copy / "requirements-lambda.txt").write_text(
        "# comment\n"
        "aws-lambda-powertools==3.37.0\n"
        "boto3>=1.40  # a range\n"
        "numpy==2.3.5\n"
        "strands-agents==1.62.0\n"
        "Pydantic==2.12.0\n"
        "AWS_Lambda_Powertools==3.37.0\n")
    with pytest.raises(PropsError) as err:
        RuntimeBundle(new_stack(), "Bundle", source_dir=runtime_copy)
    assert err.value.problems == [
        "requirements_file line 3='boto3>=1.40': must pin one distribution as name==version (installed with "
        "--no-deps, so the file lists the whole closure)",
        "requirements_file line 4='numpy==2.3.5': must not be bundled into the Lambdas: the Lambdas do no local "
        "vector math",
        "requirements_file line 5='strands-agents==1.62.0': must not be bundled into the Lambdas: the Strands "
        "integration runs in agents, not in these Lambdas",
        "requirements_file line 6='Pydantic==2.12.0': must not be bundled into the Lambdas: the handlers validate "
        "input without it",
        "requirements_file line 7='AWS_Lambda_Powertools==3.37.0': pins AWS_Lambda_Powertools a second time "
        "(first: aws-lambda-powertools==3.37.0)",
    ]


def test_requirements_file_must_live_in_the_source_dir(runtime_copy: Path, tmp_path: Path):
    outside = tmp_path / "requirements-lambda.txt"
    outside.write_text("six==1.17.0\n")
    with pytest.raises(PropsError) as err:
        RuntimeBundle(new_stack(), "Bundle", source_dir=runtime_copy, requirements_file=outside)
    assert err.value.problems == [
        f"requirements_file={shown(str(outside))}: must be inside source_dir '{runtime_copy}' (the Docker fallback "
        "sees only that directory)"]


# ---- bytecode ------------------------------------------------------------------------------------------------


def _bundle_runtime_only(tmp_path: Path, runtime_copy: Path) -> tuple[Path, Stack]:
    """Really bundle the code asset of a runtime copy whose requirements file pins nothing (no pip, no layer)."""
    (runtime_copy / "requirements-lambda.txt").write_text("# nothing to install\n")
    app = App(context=_bundling_context(), outdir=str(tmp_path / "cdk.out"))
    stack = Stack(app, "Bundled", env=Environment(account=ACCOUNT, region=REGION))
    _function(stack, RuntimeBundle(stack, "Bundle", source_dir=runtime_copy))
    assembly = app.synth()
    (fn,) = resources(template_of(stack), "AWS::Lambda::Function").values()
    return Path(assembly.directory, "asset." + fn["Properties"]["Code"]["S3Key"].removesuffix(".zip")), stack


def _warnings(stack: Stack) -> list[str]:
    from aws_cdk.assertions import Annotations, Match

    return [str(m.entry.data) for m in Annotations.from_stack(stack).find_warning("*", Match.any_value())]


def test_bytecode_is_compiled_for_the_functions_python(tmp_path: Path, runtime_copy: Path):
    python = runtime_bundle.bytecode_python("3.12")
    if python is None:
        pytest.skip("no Python 3.12 here (the no-interpreter case is the next test)")
    code_dir, stack = _bundle_runtime_only(tmp_path, runtime_copy)
    sources = {p for p in (code_dir / "runtime").rglob("*.py")}
    compiled = {p for p in (code_dir / "runtime").rglob("*.pyc")}
    assert sources and {p.name for p in compiled} == {f"{s.stem}.cpython-312.pyc" for s in sources}
    assert all(p.parent.name == "__pycache__" for p in compiled)
    # Unchecked hash-based .pyc (PEP 552): flags word 0b01, so the zip's mtimes never invalidate them.
    assert {int.from_bytes(p.read_bytes()[4:8], "little") for p in compiled} == {1}
    assert not [w for w in _warnings(stack) if "bytecode" in w]


def test_without_an_interpreter_of_the_target_version_the_bundle_has_no_bytecode_and_a_warning(
        tmp_path: Path, runtime_copy: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(runtime_bundle, "bytecode_python", lambda version: None)
    monkeypatch.setattr(runtime_bundle, "docker_available", lambda: False)
    code_dir, stack = _bundle_runtime_only(tmp_path, runtime_copy)
    assert (code_dir / "runtime" / "identity.py").is_file()  # the synth still bundles
    assert not list(code_dir.rglob("*.pyc"))
    (warning,) = [w for w in _warnings(stack) if "bytecode" in w]
    assert warning.startswith("RuntimeBundle: no Python 3.12 found") and "Install Python 3.12" in warning
    assert NO_BYTECODE_WARNING_ID in warning


# ---- real local bundling -------------------------------------------------------------------------------------

# Where the real-bundling test keeps pip's downloads between runs (a temp dir, never the user's cache).
PIP_CACHE = Path(tempfile.gettempdir()) / "agent-memory-mesh-test-pip-cache"
FORBIDDEN_TOP_LEVEL = re.compile(r"^(strands|strands_agents|bedrock_agentcore|numpy|pydantic|pydantic_core)([-_.].*)?$",
                                 re.IGNORECASE)
ELF_MACHINES = {"arm64": 183, "x86_64": 62}  # e_machine of an ELF header: EM_AARCH64, EM_X86_64
HANDLER_IMPORTS = r"""
import importlib, json, sys
code_dir, layer_dir = sys.argv[1], sys.argv[2]
sys.path[:0] = [code_dir, layer_dir]
result = {"imported": {}, "missing": []}
for name in ("runtime.identity", "runtime.credentials", "runtime.stores.s3vectors", "runtime.stores.agentcore",
             "runtime.retriever", "runtime.summarizer", "aws_lambda_powertools", "boto3", "botocore"):
    result["imported"][name] = importlib.import_module(name).__file__
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType
Logger(service="probe"); Metrics(namespace="Probe", service="probe"); BatchProcessor(event_type=EventType.SQS)
import boto3, botocore
result["botocore"] = botocore.__version__
for service in ("s3vectors", "bedrock-agentcore", "bedrock-runtime", "sts", "sqs"):
    result.setdefault("clients", []).append(type(boto3.client(service, region_name="us-east-1")).__name__)
for name in ("strands", "numpy", "pydantic", "bedrock_agentcore", "runtime.integrations", "runtime.testing"):
    try:
        importlib.import_module(name)
    except ModuleNotFoundError:
        result["missing"].append(name)
print(json.dumps(result))
"""


def _package_index_reachable(env: dict[str, str]) -> bool:
    with tempfile.TemporaryDirectory() as probe:
        return subprocess.run(
            [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:",
             "--platform", "manylinux2014_aarch64", "--python-version", "3.12", "-d", probe, "six==1.17.0"],
            capture_output=True, env=env, timeout=120).returncode == 0


def _zip_bytes(directory: Path) -> int:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(directory.rglob("*")):
            if path.is_file():
                archive.write(path, path.relative_to(directory).as_posix())
    return len(buffer.getvalue())


def _unsatisfied_requirements(*directories: Path) -> list[str]:
    """Requires-Dist of every bundled distribution not met by the bundle itself (the --no-deps closure check)."""
    from importlib.metadata import distributions

    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    dists = list(distributions(path=[str(d) for d in directories]))
    versions = {canonicalize_name(d.metadata["Name"]): d.version for d in dists}
    env = {"python_version": "3.12", "python_full_version": "3.12.0", "sys_platform": "linux",
           "platform_system": "Linux", "platform_machine": "aarch64", "os_name": "posix",
           "implementation_name": "cpython", "platform_python_implementation": "CPython", "extra": ""}
    unmet = []
    for dist in dists:
        for spec in dist.requires or []:
            req = Requirement(spec)
            if req.marker is not None and not req.marker.evaluate(env):
                continue
            have = versions.get(canonicalize_name(req.name))
            if have is None or not req.specifier.contains(have, prereleases=True):
                unmet.append(f"{dist.metadata['Name']} needs {spec} (bundled: {have})")
    return unmet


@pytest.mark.xdist_group("runtime_bundle_real")
def test_local_bundling_builds_an_importable_lean_bundle(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Bundles for real (pip, no Docker), then imports what handlers need with only the bundle on sys.path."""
    PIP_CACHE.mkdir(exist_ok=True)
    monkeypatch.setenv("PIP_CACHE_DIR", str(PIP_CACHE))
    if not _package_index_reachable(dict(os.environ)):
        pytest.skip("no Python package index reachable: real bundling needs PyPI (or a mirror)")

    app = App(context=_bundling_context(), outdir=str(tmp_path / "cdk.out"))
    stack = Stack(app, "Bundled", env=Environment(account=ACCOUNT, region=REGION))
    bundle = RuntimeBundle(stack, "Bundle")
    _function(stack, bundle)
    assembly = app.synth()
    template = json.loads(Path(assembly.directory, "Bundled.template.json").read_text())
    (fn,) = resources(template, "AWS::Lambda::Function").values()
    (layer,) = resources(template, "AWS::Lambda::LayerVersion").values()
    code_dir = Path(assembly.directory, "asset." + fn["Properties"]["Code"]["S3Key"].removesuffix(".zip"))
    layer_root = Path(assembly.directory, "asset." + layer["Properties"]["Content"]["S3Key"].removesuffix(".zip"))
    layer_dir = layer_root / "python"

    # Same hashes as the unit tests' synths, where bundling is skipped.
    assert (fn["Properties"]["Code"]["S3Key"], layer["Properties"]["Content"]["S3Key"]) == _asset_keys()

    assert sorted(p.name for p in layer_root.iterdir()) == ["python"]
    for module in ("identity.py", "credentials.py", "retriever.py", "summarizer.py", "stores/s3vectors.py"):
        assert (code_dir / "runtime" / module).is_file()
    for absent in ("runtime/integrations", "runtime/testing", "runtime/requirements-lambda.txt", "boto3",
                   "botocore", "bin"):
        assert not (code_dir / absent).exists(), absent
    assert (layer_dir / "boto3").is_dir() and not (layer_dir / "bin").exists()
    everything = [*code_dir.rglob("*"), *layer_dir.rglob("*")]
    assert not [p for p in everything if p.name == "tests" or p.suffix == ".pyo"]
    # Bytecode: only the functions' Python's (cpython-312), only in __pycache__, when an interpreter was found.
    bytecode = [p for p in everything if p.suffix == ".pyc"]
    assert all(p.parent.name == "__pycache__" and p.name.endswith(".cpython-312.pyc") for p in bytecode)
    python312 = runtime_bundle.bytecode_python("3.12")
    if python312 is not None:
        for package in (code_dir / "runtime", code_dir / "runtime" / "handlers", layer_dir / "boto3",
                        layer_dir / "botocore"):
            assert (package / "__pycache__" / "__init__.cpython-312.pyc").is_file(), package
    else:
        assert bytecode == []
    assert not [p.name for d in (code_dir, layer_dir) for p in d.iterdir() if FORBIDDEN_TOP_LEVEL.match(p.name)]
    # Built on this machine for arm64: anything compiled must be an aarch64 ELF (today everything is pure Python).
    for lib in (p for p in everything if p.suffix == ".so" or ".so." in p.name):
        assert int.from_bytes(lib.read_bytes()[18:20], "little") == ELF_MACHINES["arm64"], lib
    assert _unsatisfied_requirements(code_dir, layer_dir) == []

    code_zip, layer_zip = _zip_bytes(code_dir), _zip_bytes(layer_root)
    print(f"\nRuntimeBundle zip bytes: code={code_zip} sdk_layer={layer_zip}")
    assert code_zip < 5 * 1024 * 1024  # the per-function target (5 MB; the SDK layer is reported separately)
    assert layer_zip < 50 * 1024 * 1024

    # A fresh interpreter with no site-packages (-S), no environment paths (-I) and no bytecode written into the
    # bundle (-B): the bundle and the stdlib only.
    run = subprocess.run([sys.executable, "-I", "-S", "-B", "-c", HANDLER_IMPORTS, str(code_dir), str(layer_dir)],
                         capture_output=True, text=True, timeout=120,
                         env={"PATH": os.environ.get("PATH", ""), "HOME": str(tmp_path),
                              "AWS_CONFIG_FILE": os.devnull, "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
                              "AWS_EC2_METADATA_DISABLED": "true"})
    assert run.returncode == 0, run.stderr
    result = json.loads(run.stdout)
    for name, file in result["imported"].items():
        home = code_dir if name.startswith(("runtime", "aws_lambda_powertools")) else layer_dir
        assert Path(file).is_relative_to(home), (name, file)
    assert result["botocore"] == "1.44.5"
    assert result["clients"] == ["S3Vectors", "BedrockAgentCore", "BedrockRuntime", "STS", "SQS"]
    assert sorted(result["missing"]) == sorted(
        ["strands", "numpy", "pydantic", "bedrock_agentcore", "runtime.integrations", "runtime.testing"])
    if python312 is not None:
        _assert_imports_use_the_bundled_bytecode(python312, code_dir, layer_dir, tmp_path)


COLD_IMPORT = r"""
import importlib, json, sys
code_dir, layer_dir = sys.argv[1], sys.argv[2]
sys.path[:0] = [code_dir, layer_dir]
handler = importlib.import_module("runtime.handlers.orchestrator")
import boto3
boto3.client("s3vectors", region_name="us-east-1")
print(json.dumps({"cached": handler.__cached__, "dont_write_bytecode": sys.flags.dont_write_bytecode}))
"""


def _assert_imports_use_the_bundled_bytecode(python: str, code_dir: Path, layer_dir: Path, home: Path) -> None:
    """A fresh Python 3.12 (as Lambda's: read-only code, no bytecode written) imports a handler and boto3 from the
    bundle's .pyc files: `-v` names the file each module's code object came from."""
    def files() -> set[Path]:
        return {p for d in (code_dir, layer_dir) for p in d.rglob("*")}

    before = files()
    run = subprocess.run([python, "-I", "-S", "-B", "-v", "-c", COLD_IMPORT, str(code_dir), str(layer_dir)],
                         capture_output=True, text=True, timeout=120,
                         env={"PATH": os.environ.get("PATH", ""), "HOME": str(home), "AWS_CONFIG_FILE": os.devnull,
                              "AWS_SHARED_CREDENTIALS_FILE": os.devnull, "AWS_EC2_METADATA_DISABLED": "true"})
    assert run.returncode == 0, run.stderr[-3000:]
    result = json.loads(run.stdout.strip().splitlines()[-1])
    assert result["dont_write_bytecode"] == 1 and files() == before  # nothing written into the bundle
    assert Path(result["cached"]) == code_dir / "runtime/handlers/__pycache__/orchestrator.cpython-312.pyc"
    loaded = [line.removeprefix("# code object from ").strip("'") for line in run.stderr.splitlines()
              if line.startswith("# code object from ")]
    from_bundle = [Path(p) for p in loaded if p.startswith((str(code_dir), str(layer_dir)))]
    from_source = [p for p in from_bundle if p.suffix != ".pyc"]
    assert from_source == [], "modules compiled at import instead of loaded from the bundled bytecode"
    assert sum(p.is_relative_to(code_dir / "runtime") for p in from_bundle) >= 5
    assert sum(p.is_relative_to(layer_dir / "botocore") for p in from_bundle) >= 20


def _bundling_context() -> dict:
    from tests.conftest import app_context

    return app_context(**{"aws:cdk:bundling-stacks": ["**"]})
