"""`RuntimeBundle`: the `runtime` package and its pinned Lambda dependencies, bundled once for every function.

Two assets, both shared by every function of the stack:

* ``code`` — the function code: ``runtime/`` (without its Strands integration, test helpers, tests and
  bytecode) plus the small pure-Python dependencies the handlers import (Powertools). About 1 MB zipped; it
  changes whenever the runtime does.
* ``sdk_layer`` — a ``LayerVersion`` with the pinned AWS SDK (boto3, botocore and their dependencies). About
  17 MB zipped; it changes only when the pins do, so a code change never re-uploads it, and every function's
  own zip stays small.

Why the SDK is pinned rather than taken from the Lambda runtime: the runtime-included boto3 varies by region and
is updated on Lambda's schedule, not ours, while the runtime needs clients that are recent in botocore terms
(s3vectors: botocore 1.39.5; bedrock-agentcore: 1.39.7; its BatchDeleteMemoryRecords: 1.40.46). Function code
(/var/task) and layers (/opt/python) both come before the runtime-included SDK on ``sys.path``,
so the pinned SDK wins. ``bundle_aws_sdk=False`` drops the layer for accounts that accept the runtime's SDK.

Both assets carry bytecode compiled for the functions' Python (``__pycache__/*.cpython-3XX.pyc``, unchecked
hash-based): Lambda's /var/task and /opt are read-only, so without it every cold start compiles each module it
imports; and timestamp-based .pyc files would never match their sources, which the CDK CLI zips with the mtime
1980-01-01. Compiling
needs an interpreter of that version: this one, ``python3.X`` on PATH or in pyenv, else Docker (the SAM build
image); without any, the assets are bundled without bytecode and the synth warns.

Why the runtime code is not a layer as well: it changes with every release, layer versions are immutable and
accumulate, and a function needs a code asset anyway; one shared code asset deploys the same bytes once.

Bundling runs locally (``pip install --platform manylinux… --only-binary=:all: --no-deps``: no Docker needed,
wheels for the functions' architecture whatever the build machine). Docker (the runtime's SAM build image,
same commands) is used only when this Python has no pip. The asset hashes are computed here from what goes
into each asset — the included runtime files' paths and bytes and the requirements file, never mtimes,
``__pycache__`` (the source's or the compiled bundle's) or absolute paths — so synths are byte-stable and
skipping bundling (unit tests) does not change them.
"""

from __future__ import annotations

import hashlib
import inspect
import os
import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache, lru_cache
from pathlib import Path
from typing import Any

import jsii
from aws_cdk import Annotations, AssetHashType, BundlingOptions, ILocalBundling
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from runtime.contract.problems import Problems

from .errors import new_problems, raise_if_any

#: Bumped when the bundle layout or the rules below change, so every asset hash changes with them.
BUNDLE_FORMAT = "agent-memory-mesh/runtime-bundle/1"
#: The runtime package directory bundled by default (a sibling of this package, in a checkout or installed).
DEFAULT_SOURCE_DIR = Path(__file__).resolve().parent.parent / "runtime"
REQUIREMENTS_FILE_NAME = "requirements-lambda.txt"
DEFAULT_ARCHITECTURE = lambda_.Architecture.ARM_64
DEFAULT_RUNTIME = lambda_.Runtime.PYTHON_3_12

#: Sub-packages of ``runtime`` that never go into a Lambda: the agent-framework (Strands) integration and
#: the in-process fakes for tests.
EXCLUDED_SUBPACKAGES = ("integrations", "testing")
#: Directory names dropped at any depth: bytecode, tool caches and tests.
EXCLUDED_DIR_NAMES = ("__pycache__", "tests", ".pytest_cache", ".mypy_cache", ".ruff_cache", ".hypothesis")
EXCLUDED_FILE_SUFFIXES = (".pyc", ".pyo")
EXCLUDED_FILE_NAMES = ("conftest.py", "py.typed", REQUIREMENTS_FILE_NAME)

#: Distributions of the AWS SDK for Python; they go into the SDK layer, everything else into the code asset.
AWS_SDK_DISTRIBUTIONS = ("boto3", "botocore", "s3transfer", "jmespath", "python-dateutil", "six", "urllib3")
#: Distributions the Lambdas must not carry: the agent framework and the heavy libraries only agents use.
FORBIDDEN_DISTRIBUTIONS = {
    "strands-agents": "the Strands integration runs in agents, not in these Lambdas",
    "strands-agents-tools": "the Strands integration runs in agents, not in these Lambdas",
    "bedrock-agentcore": "the Lambdas call AgentCore through boto3",
    "numpy": "the Lambdas do no local vector math",
    "pydantic": "the handlers validate input without it",
    "pydantic-core": "the handlers validate input without it",
}
_PIN = re.compile(r"^([A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?)==([A-Za-z0-9][A-Za-z0-9.+!_-]*)$")
_PYTHON_RUNTIME = re.compile(r"^python3\.(\d+)$")
# The runtime package declares requires-python >= 3.11; python3.12 and later run on Amazon Linux 2023
# (glibc 2.34), earlier ones on Amazon Linux 2 (glibc 2.26).
MIN_PYTHON_MINOR = 11
AL2023_FROM_PYTHON_MINOR = 12
_MACHINES = {"arm64": "aarch64", "x86_64": "x86_64"}
_PIP_TIMEOUT_S = 900
_COMPILE_TIMEOUT_S = 600
#: Where each asset's files are at run time (what the compiled bytecode names in tracebacks, never the build dir).
CODE_RUNTIME_ROOT = "/var/task"
LAYER_RUNTIME_ROOT = "/opt/python"
NO_BYTECODE_WARNING_ID = "agent-memory-mesh:runtime-bundle-no-bytecode"
_THIS_PYTHON = f"{sys.version_info.major}.{sys.version_info.minor}"


@dataclass(frozen=True)
class Pin:
    """One ``name==version`` line of the Lambda requirements file."""

    name: str
    version: str

    @property
    def key(self) -> str:
        """The normalized distribution name (PEP 503), for comparisons."""
        return re.sub(r"[-_.]+", "-", self.name).lower()

    def __str__(self) -> str:
        return f"{self.name}=={self.version}"


class RuntimeBundle(Construct):
    """The shared Lambda code (``runtime`` + Powertools) and, by default, a pinned AWS SDK layer.

    Create one per stack and hand ``code``, ``runtime``, ``architecture`` and ``layers`` to every function;
    handlers are addressed as ``runtime.<module>.<function>``. An ``AssetCode`` binds to one stack, so a second
    stack needs its own bundle (same hash: the asset is uploaded once).
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        architecture: lambda_.Architecture = DEFAULT_ARCHITECTURE,
        runtime: lambda_.Runtime = DEFAULT_RUNTIME,
        bundle_aws_sdk: bool = True,
        source_dir: str | os.PathLike[str] | None = None,
        requirements_file: str | os.PathLike[str] | None = None,
    ) -> None:
        """Validate the props and define the code asset and, by default, the SDK layer.

        :param architecture: the functions' architecture; wheels are chosen for it (default arm64).
        :param runtime: the functions' Python runtime, python3.11 or later (default python3.12).
        :param bundle_aws_sdk: ship the pinned boto3/botocore as a shared layer (default); if false, the
            functions use the Lambda runtime's SDK (and its jmespath, which Powertools imports), which must then
            already have the s3vectors and bedrock-agentcore clients (botocore >= 1.40.46) in every region.
        :param source_dir: the ``runtime`` package directory (default: the one installed beside this library).
        :param requirements_file: the pinned Lambda dependencies, inside ``source_dir``
            (default ``<source_dir>/requirements-lambda.txt``).
        """
        super().__init__(scope, id)
        source = Path(source_dir) if source_dir is not None else DEFAULT_SOURCE_DIR
        requirements = Path(requirements_file) if requirements_file is not None else source / REQUIREMENTS_FILE_NAME

        problems = new_problems()
        machine = _MACHINES.get(getattr(architecture, "name", None))  # type: ignore[arg-type]
        if machine is None:
            problems.add("architecture", getattr(architecture, "name", architecture),
                         "must be Architecture.ARM_64 or Architecture.X86_64")
        python_minor = _python_minor(runtime)
        if python_minor is None or python_minor < MIN_PYTHON_MINOR:
            problems.add("runtime", getattr(runtime, "name", runtime),
                         f"must be a Python Lambda runtime from python3.{MIN_PYTHON_MINOR} (the runtime package "
                         f"needs Python >= 3.{MIN_PYTHON_MINOR})")
        if not (source / "__init__.py").is_file():
            problems.add("source_dir", str(source), "must be the runtime package directory (with __init__.py)")
        pins: tuple[Pin, ...] = ()
        if not requirements.is_file():
            problems.add("requirements_file", str(requirements), "must be an existing pinned requirements file")
        elif not _is_within(requirements, source):
            problems.add("requirements_file", str(requirements),
                         f"must be inside source_dir {str(source)!r} (the Docker fallback sees only that directory)")
        else:
            pins = _parse_requirements(requirements, problems)
        raise_if_any(type(self).__name__, problems)
        assert machine is not None and python_minor is not None

        sdk_keys = set(AWS_SDK_DISTRIBUTIONS)
        self.architecture = architecture
        self.runtime = runtime
        self.source_dir = source
        self.requirements_file = requirements
        #: Installed next to ``runtime/`` in the code asset.
        self.code_requirements: tuple[Pin, ...] = tuple(p for p in pins if p.key not in sdk_keys)
        #: Installed into the SDK layer (empty when ``bundle_aws_sdk`` is false).
        self.sdk_requirements: tuple[Pin, ...] = tuple(p for p in pins if p.key in sdk_keys) if bundle_aws_sdk else ()

        target = _Target(python_version=f"3.{python_minor}", machine=machine,
                         platforms=_platform_tags(machine, python_minor))
        #: Custom asset hashes: what goes into each asset, independent of mtimes, caches and checkout path.
        self.code_fingerprint = _fingerprint(
            f"{BUNDLE_FORMAT}:code", target, requirements.read_bytes(), _bundled_files(source)
        )
        #: The function code every function shares.
        self.code: lambda_.Code = lambda_.Code.from_asset(
            str(source),
            asset_hash_type=AssetHashType.CUSTOM,
            asset_hash=self.code_fingerprint,
            bundling=BundlingOptions(
                image=runtime.bundling_image,
                command=["bash", "-c", _docker_script(target, self.code_requirements, "/asset-output",
                                                      copy_runtime_to="/asset-output/runtime")],
                environment={"PIP_NO_CACHE_DIR": "1", "PYTHONDONTWRITEBYTECODE": "1"},
                local=_LocalPipBundling(target, self.code_requirements, "", copy_runtime_from=source,
                                        image=runtime.bundling_image.image, warn_on=self),
            ),
        )

        self.sdk_layer: lambda_.LayerVersion | None = None
        self.sdk_layer_fingerprint: str | None = None
        if self.sdk_requirements:
            self.sdk_layer_fingerprint = _fingerprint(
                f"{BUNDLE_FORMAT}:sdk-layer", target, "\n".join(map(str, self.sdk_requirements)).encode(), []
            )
            versions = ", ".join(str(p) for p in self.sdk_requirements if p.key in ("boto3", "botocore"))
            #: The pinned AWS SDK, shared by every function (on /opt/python, ahead of the runtime's own SDK).
            self.sdk_layer = lambda_.LayerVersion(
                self,
                "AwsSdk",
                code=lambda_.Code.from_asset(
                    str(source),
                    asset_hash_type=AssetHashType.CUSTOM,
                    asset_hash=self.sdk_layer_fingerprint,
                    bundling=BundlingOptions(
                        image=runtime.bundling_image,
                        command=["bash", "-c", _docker_script(target, self.sdk_requirements, "/asset-output/python")],
                        environment={"PIP_NO_CACHE_DIR": "1", "PYTHONDONTWRITEBYTECODE": "1"},
                        local=_LocalPipBundling(target, self.sdk_requirements, "python",
                                                image=runtime.bundling_image.image, warn_on=self),
                    ),
                ),
                compatible_runtimes=[runtime],
                compatible_architectures=[architecture],
                description=f"Pinned AWS SDK for Python for Agent Memory Mesh ({versions}; "
                            f"{runtime.name}, {architecture.name})",
            )

    @property
    def layers(self) -> list[lambda_.ILayerVersion]:
        """The layers every function needs (the SDK layer, or none)."""
        return [self.sdk_layer] if self.sdk_layer is not None else []


# ---- what goes into the code asset ---------------------------------------------------------------------------


def _keep(parts: tuple[str, ...], is_dir: bool) -> bool:
    """Whether a path inside the runtime package (split into parts) belongs in a Lambda bundle."""
    name = parts[-1]
    if name.startswith("."):
        return False
    if len(parts) == 1 and is_dir and name in EXCLUDED_SUBPACKAGES:
        return False
    if is_dir:
        return name not in EXCLUDED_DIR_NAMES
    if len(parts) == 1 and name == REQUIREMENTS_FILE_NAME:
        return False
    return not (name.endswith(EXCLUDED_FILE_SUFFIXES) or name in EXCLUDED_FILE_NAMES or name.startswith("test_"))


def _walk_kept(root: str) -> list[tuple[str, ...]]:
    """Relative paths (as parts) of every kept regular file under ``root``, sorted; symlinks are skipped."""
    kept = []
    for current, dirs, files in os.walk(root):
        rel = os.path.relpath(current, root)
        prefix = () if rel == "." else tuple(rel.split(os.sep))
        dirs[:] = sorted(d for d in dirs
                         if not os.path.islink(os.path.join(current, d)) and _keep(prefix + (d,), True))
        for f in files:
            path = os.path.join(current, f)
            if os.path.isfile(path) and not os.path.islink(path) and _keep(prefix + (f,), False):
                kept.append(prefix + (f,))
    return sorted(kept)


def _copy_runtime(source: str, destination: str) -> None:
    """Copy the kept files of the runtime package to ``destination`` (the ``runtime`` dir of the bundle)."""
    for parts in _walk_kept(source):
        target = os.path.join(destination, *parts)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        shutil.copyfile(os.path.join(source, *parts), target)


def _strip_installed(target: str) -> None:
    """Drop what pip adds that a Lambda never runs: console scripts and bytecode (dist-info metadata stays)."""
    shutil.rmtree(os.path.join(target, "bin"), ignore_errors=True)
    for current, dirs, files in os.walk(target):
        for d in [d for d in dirs if d == "__pycache__"]:
            shutil.rmtree(os.path.join(current, d))
            dirs.remove(d)
        for f in files:
            if f.endswith((".pyc", ".pyo")):
                os.remove(os.path.join(current, f))


def _bundled_files(source: Path) -> list[tuple[str, bytes]]:
    """(relative POSIX path, content) of every runtime file the code asset contains."""
    return [("/".join(parts), source.joinpath(*parts).read_bytes()) for parts in _walk_kept(str(source))]


# ---- requirements, targets and hashes ------------------------------------------------------------------------


@dataclass(frozen=True)
class _Target:
    python_version: str
    machine: str
    platforms: tuple[str, ...]

    def pip_args(self) -> list[str]:
        platforms = [arg for tag in self.platforms for arg in ("--platform", tag)]
        return [
            "install", "--no-deps", "--no-compile", "--only-binary=:all:", *platforms,
            "--implementation", "cp", "--python-version", self.python_version,
            "--abi", "cp" + self.python_version.replace(".", ""),
            "--disable-pip-version-check", "--no-input", "--quiet",
        ]


def _python_minor(runtime: Any) -> int | None:
    if not isinstance(runtime, lambda_.Runtime) or runtime.family != lambda_.RuntimeFamily.PYTHON:
        return None
    match = _PYTHON_RUNTIME.match(runtime.name)
    return int(match.group(1)) if match else None


def _platform_tags(machine: str, python_minor: int) -> tuple[str, ...]:
    # manylinux2014 (glibc 2.17) runs on every Python runtime; pip expands it to the older manylinux tags.
    # Amazon Linux 2023 runtimes also take manylinux_2_28 / _2_34 wheels, which some projects publish alone.
    tags = [f"manylinux2014_{machine}"]
    if python_minor >= AL2023_FROM_PYTHON_MINOR:
        tags += [f"manylinux_2_28_{machine}", f"manylinux_2_34_{machine}"]
    return tuple(tags)


def _parse_requirements(path: Path, problems: Problems) -> tuple[Pin, ...]:
    pins: dict[str, Pin] = {}
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        prop = f"requirements_file line {number}"
        match = _PIN.match(line)
        if match is None:
            problems.add(prop, line, "must pin one distribution as name==version (installed with --no-deps, "
                                     "so the file lists the whole closure)")
            continue
        pin = Pin(match.group(1), match.group(2))
        if pin.key in FORBIDDEN_DISTRIBUTIONS:
            problems.add(prop, line, f"must not be bundled into the Lambdas: {FORBIDDEN_DISTRIBUTIONS[pin.key]}")
        elif pin.key in pins:
            problems.add(prop, line, f"pins {pin.name} a second time (first: {pins[pin.key]})")
        else:
            pins[pin.key] = pin
    return tuple(pins.values())


def _fingerprint(kind: str, target: _Target, requirements: bytes, files: Sequence[tuple[str, bytes]]) -> str:
    digest = hashlib.sha256()
    for part in (kind, target.python_version, target.machine, *target.platforms):
        digest.update(part.encode() + b"\0")
    digest.update(hashlib.sha256(requirements).digest())
    for rel, content in files:
        digest.update(rel.encode() + b"\0" + hashlib.sha256(content).digest())
    return digest.hexdigest()


def _is_within(path: Path, directory: Path) -> bool:
    try:
        path.resolve().relative_to(directory.resolve())
    except ValueError:
        return False
    return True


# ---- bundlers ------------------------------------------------------------------------------------------------


@lru_cache(maxsize=1)
def _local_pip_available() -> bool:
    try:
        return subprocess.run([sys.executable, "-m", "pip", "--version"], capture_output=True,
                              timeout=60).returncode == 0
    except (OSError, subprocess.SubprocessError):
        return False


@jsii.implements(ILocalBundling)
class _LocalPipBundling:
    """Installs pinned wheels for the Lambda platform with this Python's pip; no Docker involved."""

    def __init__(self, target: _Target, pins: Sequence[Pin], subdir: str, *, copy_runtime_from: Path | None = None,
                 image: str, warn_on: Construct) -> None:
        self._target = target
        self._pins = [str(p) for p in pins]
        self._subdir = subdir
        self._runtime_source = copy_runtime_from
        self._image = image
        self._warn_on = warn_on

    def try_bundle(self, output_dir: str, options: Any = None, **_: Any) -> bool:
        if not _local_pip_available():
            return False  # CDK falls back to the Docker image with the same commands
        install_dir = os.path.join(output_dir, self._subdir) if self._subdir else output_dir
        os.makedirs(install_dir, exist_ok=True)
        if self._pins:
            command = [sys.executable, "-m", "pip", *self._target.pip_args(), "--target", install_dir, *self._pins]
            env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
            result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=_PIP_TIMEOUT_S)
            if result.returncode != 0:
                # Docker would run the same pip with the same pins and fail the same way: report, don't fall back.
                tail = "\n".join((result.stderr or result.stdout).strip().splitlines()[-20:])
                raise RuntimeError(
                    f"RuntimeBundle: pip could not install {', '.join(self._pins)} for python"
                    f"{self._target.python_version}/{self._target.machine} (exit {result.returncode}):\n{tail}\n"
                    f"command: {shlex.join(command)}"
                )
            _strip_installed(install_dir)
        if self._runtime_source is not None:
            _copy_runtime(str(self._runtime_source), os.path.join(output_dir, "runtime"))
        root = CODE_RUNTIME_ROOT if not self._subdir else LAYER_RUNTIME_ROOT
        problem = compile_bytecode(install_dir, root, self._target.python_version, self._image)
        if problem is not None:
            Annotations.of(self._warn_on).add_warning_v2(NO_BYTECODE_WARNING_ID, problem)
        return True


# ---- bytecode ------------------------------------------------------------------------------------------------


def _compileall_args(directory: str, runtime_root: str) -> list[str]:
    """``compileall`` over ``directory``: unchecked hash-based .pyc (valid whatever the zip's mtimes), with file
    names as the function sees them (``runtime_root``), not the build directory. One process: the SDK layer
    compiles in about a second, less than a worker pool takes to start."""
    return ["-m", "compileall", "-q", "--invalidation-mode", "unchecked-hash",
            "-s", directory, "-p", runtime_root, directory]


def _python_version_of(command: str) -> str | None:
    try:
        run = subprocess.run([command, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
                             capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.SubprocessError):
        return None
    return run.stdout.strip() if run.returncode == 0 else None


@cache
def bytecode_python(python_version: str) -> str | None:
    """A local interpreter of ``python_version`` ("3.12"): this one, ``python3.12`` on PATH (pyenv shims of an
    inactive version do not run, so they are skipped), or a pyenv-installed 3.12.x. None if there is none."""
    if _THIS_PYTHON == python_version:
        return sys.executable
    candidates = [shutil.which(f"python{python_version}")]
    pyenv_root = Path(os.environ.get("PYENV_ROOT") or Path.home() / ".pyenv")
    installed = pyenv_root.glob(f"versions/{python_version}.*/bin/python{python_version}")
    candidates += [str(p) for p in sorted(installed, key=lambda p: _version_key(p.parents[1].name), reverse=True)]
    for candidate in candidates:
        if candidate and _python_version_of(candidate) == python_version:
            return candidate
    return None


def _version_key(version: str) -> tuple[int, ...]:
    return tuple(int(part) if part.isdigit() else -1 for part in version.split("."))


@lru_cache(maxsize=1)
def docker_available() -> bool:
    """Whether a Docker daemon answers (the CLI alone is not enough)."""
    docker = shutil.which("docker")
    if docker is None:
        return False
    try:
        return subprocess.run([docker, "version", "--format", "{{.Server.Version}}"], capture_output=True,
                              timeout=30).returncode == 0
    except (OSError, subprocess.SubprocessError):
        return False


def compile_bytecode(directory: str, runtime_root: str, python_version: str, image: str) -> str | None:
    """Compile every module under ``directory`` for ``python_version``; None, or why there is no bytecode.

    A failure never fails the synth: the bundle works without bytecode, only its cold starts are slower.
    """
    python = bytecode_python(python_version)
    if python is not None:
        command = [python, *_compileall_args(directory, runtime_root)]
    elif docker_available():
        user = f"{os.getuid()}:{os.getgid()}" if hasattr(os, "getuid") else "0:0"
        command = ["docker", "run", "--rm", "-u", user, "-v", f"{directory}:/asset-output:z", image, "python",
                   *_compileall_args("/asset-output", runtime_root)]
    else:
        return (f"RuntimeBundle: no Python {python_version} found (this Python is "
                f"{_THIS_PYTHON}; no python{python_version} on PATH or in pyenv; no Docker "
                f"daemon), so the Lambda assets are bundled without bytecode: they work, but each cold start "
                f"compiles what it imports. Install Python {python_version} or start Docker to bundle bytecode.")
    try:
        run = subprocess.run(command, capture_output=True, text=True, timeout=_COMPILE_TIMEOUT_S)
    except (OSError, subprocess.SubprocessError) as exc:
        return f"RuntimeBundle: compiling bytecode failed ({exc}); the Lambda assets are bundled without it."
    if run.returncode != 0:
        tail = "\n".join((run.stderr or run.stdout).strip().splitlines()[-10:])
        return (f"RuntimeBundle: compiling bytecode with {shlex.join(command[:2])}... failed (exit {run.returncode}); "
                f"some modules have no bytecode:\n{tail}")
    return None


def _docker_script(target: _Target, pins: Sequence[Pin], install_dir: str, *,
                   copy_runtime_to: str | None = None) -> str:
    """The Docker fallback: the same pip command, then the same Python helpers, inside the SAM build image."""
    helpers = [
        f"EXCLUDED_SUBPACKAGES = {EXCLUDED_SUBPACKAGES!r}",
        f"EXCLUDED_DIR_NAMES = {EXCLUDED_DIR_NAMES!r}",
        f"EXCLUDED_FILE_SUFFIXES = {EXCLUDED_FILE_SUFFIXES!r}",
        f"EXCLUDED_FILE_NAMES = {EXCLUDED_FILE_NAMES!r}",
        f"REQUIREMENTS_FILE_NAME = {REQUIREMENTS_FILE_NAME!r}",
        *(inspect.getsource(f) for f in (_keep, _walk_kept, _copy_runtime, _strip_installed)),
        f"_strip_installed({install_dir!r})",
    ]
    if copy_runtime_to:
        helpers.append(f"_copy_runtime('/asset-input', {copy_runtime_to!r})")
    script = "import os, shutil\n" + "\n".join(helpers)
    steps = [f"mkdir -p {shlex.quote(install_dir)}"]
    if pins:
        steps.append(shlex.join(["python", "-m", "pip", *target.pip_args(), "--target", install_dir,
                                 *(str(p) for p in pins)]))
    steps.append(f"python -c {shlex.quote(script)}")
    runtime_root = CODE_RUNTIME_ROOT if copy_runtime_to else LAYER_RUNTIME_ROOT
    # The image's python is the functions' version; a compile failure leaves modules without bytecode, no more.
    steps.append(f"({shlex.join(['python', *_compileall_args(install_dir, runtime_root)])} || true)")
    return " && ".join(steps)
