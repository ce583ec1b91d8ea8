"""The wheel as other projects install it: built once, installed into fresh virtualenvs, one per install shape.

* base install: the runtime (an agent container) — no aws-cdk-lib, constructs, jsii or cdk-nag;
* ``[cdk]``: the constructs synthesize a stack without cdk-nag installed;
* ``[cdk]`` beside cdk-nag 2 and cdklabs.generative-ai-cdk-constructs (which pins cdk-nag 2) still resolves;
* this repository's ``stacks`` package is not in the wheel; ``py.typed`` is.

Dependencies come from a wheelhouse in the temp dir (``pip download`` once, with the versions of the dev
environment as constraints), and every install is ``--no-index --find-links <wheelhouse>``: offline after the
first run. These tests share one pytest-xdist worker (``xdist_group``) and the session's wheel and venvs.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import tomllib
import venv
import zipfile
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.xdist_group("packaging")

#: Downloaded distributions, kept between runs (a temp dir, never the user's pip cache).
WHEELHOUSE = Path(tempfile.gettempdir()) / "agent-memory-mesh-test-wheelhouse"
#: The newest cdk-nag 2, and a construct library that requires cdk-nag 2 (cdk-nag>=2.38.2,<3,
#: aws-cdk-lib>=2.267.0,<3, constructs>=10.6.0,<11).
CDK_NAG_2 = "cdk-nag==2.38.2"
GENAI_CONSTRUCTS = "cdklabs.generative-ai-cdk-constructs==0.1.320"
CDK_MODULES = ("aws_cdk", "constructs", "jsii", "cdk_nag")
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
ENV = {**os.environ, "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20", "PIP_DISABLE_PIP_VERSION_CHECK": "1"}


def _run(*args: str | Path, timeout: int = 300, check: bool = True, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run([str(a) for a in args], capture_output=True, text=True, timeout=timeout, env=ENV, **kwargs)
    if check and proc.returncode != 0:
        pytest.fail(f"{' '.join(map(str, args))[:300]}\nexit {proc.returncode}\n{proc.stderr[-3000:]}")
    return proc


def _pip(*args: str | Path, check: bool = True, python: Path | None = None) -> subprocess.CompletedProcess[str]:
    """This environment's pip, acting on ``python``'s environment when given (the fresh venvs have no pip)."""
    target = ("--python", str(python)) if python is not None else ()
    return _run(sys.executable, "-m", "pip", *target, *args, check=check)


# ---- the wheel and the wheelhouse ----------------------------------------------------------------------------


@pytest.fixture(scope="session")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The project wheel, built once per session from a clean copy (no stale build/ or egg-info)."""
    src, out = tmp_path_factory.mktemp("src"), tmp_path_factory.mktemp("wheel")
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy2(ROOT / name, src / name)
    for package in ("constructs_lib", "runtime", "stacks"):  # stacks is copied so that excluding it is tested
        shutil.copytree(ROOT / package, src / package, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    _pip("wheel", "--no-deps", "--no-build-isolation", "--quiet", "--wheel-dir", out, src)
    (built,) = out.glob("*.whl")
    return built


@pytest.fixture(scope="session")
def wheelhouse(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Every distribution the installs below need, pinned to this dev environment's versions where it has them."""
    constraints = tmp_path_factory.mktemp("constraints") / "constraints.txt"
    frozen = _pip("freeze", "--exclude", "cdk-nag", "--exclude", PROJECT["name"]).stdout.splitlines()
    constraints.write_text("\n".join(line for line in frozen if "==" in line) + "\n")
    wanted = [f"{wheel}[cdk]", CDK_NAG_2, GENAI_CONSTRUCTS]
    WHEELHOUSE.mkdir(exist_ok=True)
    offline = _pip("download", "--quiet", "--no-index", "--find-links", WHEELHOUSE, "--dest", WHEELHOUSE,
                   "--constraint", constraints, *wanted, check=False)
    if offline.returncode != 0:
        online = _pip("download", "--quiet", "--only-binary=:all:", "--dest", WHEELHOUSE, "--constraint", constraints,
                      *wanted, check=False)
        if online.returncode != 0:
            pytest.skip(f"no package index reachable to fill the test wheelhouse: {online.stderr[-500:]}")
    for own in WHEELHOUSE.glob(wheel.name.split("-")[0] + "-*.whl"):
        own.unlink()  # the wheel under test is always passed by path
    return WHEELHOUSE


def _fresh_venv(path: Path) -> Path:
    venv.EnvBuilder(with_pip=False, clear=True).create(path)
    return path / "bin" / "python"


def _install(python: Path, wheelhouse: Path, *requirements: str, dry_run: bool = False) -> subprocess.CompletedProcess:
    extra = ("--dry-run", "--report", "-") if dry_run else ()
    # --no-compile: byte-compiling aws-cdk-lib's 400 MB of bindings takes a minute; imports compile what they use.
    return _pip("install", "--quiet", "--no-compile", "--no-index", "--find-links", wheelhouse, *extra,
                *requirements, python=python)


def _site_packages_mb(python: Path) -> float:
    purelib = _run(python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])").stdout.strip()
    total = sum(p.stat().st_size for p in Path(purelib).rglob("*") if p.is_file())
    return round(total / 1_000_000, 1)


def _probe(python: Path, code: str, cwd: Path, *args: str) -> dict[str, Any]:
    """Run ``code`` (which prints one JSON line) in the venv from ``cwd``, as a script there would run: the folder
    first on ``sys.path``, no PYTHON* variables (-E), no user site-packages (-s)."""
    out = _run(python, "-E", "-s", "-c", code, *args, cwd=cwd)
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="session")
def elsewhere(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Another project's folder, with its own ``stacks`` folder (a namespace package, as CDK apps often have: a
    regular ``stacks`` package in site-packages would shadow it)."""
    project = tmp_path_factory.mktemp("other-project")
    (project / "stacks").mkdir()
    (project / "stacks" / "consumer_stack.py").write_text("OWNER = 'the other project'\n")
    return project


# ---- base install --------------------------------------------------------------------------------------------

BASE_PROBE = r"""
import importlib, importlib.util, json, os, pkgutil, sys
import runtime, runtime.contract
def has_py_typed(package):
    return os.path.isfile(os.path.join(importlib.util.find_spec(package).submodule_search_locations[0], "py.typed"))
failed = {}
for info in pkgutil.walk_packages(runtime.__path__, "runtime."):
    if info.name.startswith(("runtime.integrations", "runtime.testing")):
        continue  # extras `agents` and `testing`
    try:
        importlib.import_module(info.name)
    except Exception as exc:
        failed[info.name] = repr(exc)
try:
    import constructs_lib
    constructs_error = None
except ModuleNotFoundError as exc:
    constructs_error = str(exc)
print(json.dumps({
    "version": runtime.__version__, "runtime": runtime.__file__, "failed": failed,
    "present": [m for m in MODULES if importlib.util.find_spec(m) is not None],
    "installed_stacks": [p for p in sys.path if p and os.path.isdir(os.path.join(p, "stacks"))],
    "constructs_error": constructs_error, "py_typed": [has_py_typed(p) for p in ("runtime", "constructs_lib")],
}))
""".replace("MODULES", repr(CDK_MODULES))


@pytest.fixture(scope="session")
def base_env(wheel: Path, wheelhouse: Path, tmp_path_factory: pytest.TempPathFactory, elsewhere: Path) -> dict:
    python = _fresh_venv(tmp_path_factory.mktemp("venv-base") / "venv")
    _install(python, wheelhouse, str(wheel))
    return {"probe": _probe(python, BASE_PROBE, elsewhere), "size_mb": _site_packages_mb(python)}


def test_base_install_is_the_runtime_without_the_cdk(base_env: dict):
    probe = base_env["probe"]
    print(f"\nbase install: {base_env['size_mb']} MB of site-packages")
    assert probe["failed"] == {}, "runtime modules that need more than the base dependencies"
    assert probe["version"] == PROJECT["version"]
    assert probe["present"] == [], "CDK libraries installed by the base install"
    assert "pip install 'agent-memory-mesh[cdk]'" in probe["constructs_error"]


def test_stacks_is_not_shipped(wheel: Path, base_env: dict):
    top_level = {name.split("/")[0] for name in zipfile.ZipFile(wheel).namelist()}
    assert {"constructs_lib", "runtime"} <= top_level
    assert not top_level & {"stacks", "app.py", "tests", "benchmarks", "docs"}
    assert base_env["probe"]["installed_stacks"] == [], "a stacks folder on the installed sys.path"


def test_py_typed_and_license_are_shipped(wheel: Path, base_env: dict):
    names = zipfile.ZipFile(wheel).namelist()
    assert {"constructs_lib/py.typed", "runtime/py.typed"} <= set(names)
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names)
    assert base_env["probe"]["py_typed"] == [True, True]


# ---- [cdk] install, then cdk-nag 2 beside it ----------------------------------------------------------------

CDK_PROBE = r"""
import importlib, importlib.metadata, importlib.util, json, subprocess, sys, tempfile
from pathlib import Path
from aws_cdk import App, Aspects, Stack
import constructs_lib
from constructs_lib import VectorMemoryStore, add_nag_packs
from constructs_lib.nag import NagUnavailableError
from stacks.consumer_stack import OWNER

def synth(aspect=None):
    app = App(outdir=tempfile.mkdtemp())
    VectorMemoryStore(Stack(app, "Consumer"), "Vectors", dimension=256)
    if aspect is not None:
        Aspects.of(app).add(aspect)
    return app, json.loads(Path(app.synth().directory, "Consumer.template.json").read_text())

def nag_error(app):
    try:
        add_nag_packs(app)
    except NagUnavailableError as exc:
        return str(exc)

result = {"version": constructs_lib.__version__, "stacks_owner": OWNER}
app, template = synth()
result["without_nag"] = {"cdk_nag_installed": importlib.util.find_spec("cdk_nag") is not None,
                         "types": sorted({r["Type"] for r in template["Resources"].values()}),
                         "nag_error": nag_error(app)}
# A cdk-nag 2 user's app: cdk-nag 2 installed now (same process: constructs_lib is already imported), its
# AwsSolutions pack added the cdk-nag 2 way, as an Aspect.
subprocess.run(json.loads(sys.argv[1]), check=True)
importlib.invalidate_caches()
import cdk_nag
app, template = synth(cdk_nag.AwsSolutionsChecks())
result["with_nag_2"] = {"cdk_nag_version": importlib.metadata.version("cdk-nag"), "nag_error": nag_error(app),
                        "types": sorted({r["Type"] for r in template["Resources"].values()})}
print(json.dumps(result))
"""


@pytest.fixture(scope="session")
def cdk_env(wheel: Path, wheelhouse: Path, tmp_path_factory: pytest.TempPathFactory, elsewhere: Path) -> dict:
    """``[cdk]`` installed and probed without cdk-nag; then cdk-nag 2 resolved (dry run), installed, and used."""
    python = _fresh_venv(tmp_path_factory.mktemp("venv-cdk") / "venv")
    _install(python, wheelhouse, f"{wheel}[cdk]")
    result: dict[str, Any] = {"size_mb": _site_packages_mb(python)}
    report = json.loads(_install(python, wheelhouse, f"{wheel}[cdk]", CDK_NAG_2, GENAI_CONSTRUCTS,
                                 dry_run=True).stdout)
    result["dry_run"] = {i["metadata"]["name"].lower(): i["metadata"]["version"] for i in report["install"]}
    install_nag_2 = [sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet", "--no-compile",
                     "--no-index", "--find-links", str(wheelhouse), CDK_NAG_2]
    result.update(_probe(python, CDK_PROBE, elsewhere, json.dumps(install_nag_2)))
    result["pip_check"] = _pip("check", python=python, check=False).stdout.strip()
    return result


def test_cdk_extra_synthesizes_without_cdk_nag(cdk_env: dict):
    probe = cdk_env["without_nag"]
    print(f"\n[cdk] install: {cdk_env['size_mb']} MB of site-packages")
    assert probe["cdk_nag_installed"] is False  # so importing constructs_lib did not need it
    assert "AWS::S3Vectors::VectorBucket" in probe["types"]
    assert cdk_env["version"] == PROJECT["version"]
    assert "pip install 'agent-memory-mesh[nag]'" in probe["nag_error"]
    assert cdk_env["stacks_owner"] == "the other project"  # the consumer's own stacks/ is not shadowed


def test_cdk_extra_resolves_beside_cdk_nag_2_and_generative_ai_constructs(cdk_env: dict):
    # Resolved in the [cdk] venv: only the two additions, every installed version (aws-cdk-lib, ...) is kept.
    assert cdk_env["dry_run"] == {"cdk-nag": CDK_NAG_2.split("==")[1],
                                  "cdklabs.generative-ai-cdk-constructs": GENAI_CONSTRUCTS.split("==")[1]}
    assert cdk_env["pip_check"] == "No broken requirements found."
    probe = cdk_env["with_nag_2"]
    assert probe["cdk_nag_version"] == CDK_NAG_2.split("==")[1]
    assert "AWS::S3Vectors::VectorBucket" in probe["types"]  # synthesized with cdk-nag 2's AwsSolutions aspect
    assert f"cdk-nag {CDK_NAG_2.split('==')[1]} is installed" in probe["nag_error"]
