"""The newcomer's path: `make` checks before it builds, `npx cdk` finds the app, config mistakes read as
messages, and a synth that skipped bundling refuses to deploy (checked with the pinned CDK CLI, offline)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CDK_CLI = ROOT / "node_modules" / ".bin" / "cdk"
pytestmark = pytest.mark.xdist_group("app_cli")

# No credentials and an endpoint nothing listens on: whatever the CLI tried against AWS could not succeed.
OFFLINE_AWS = {"AWS_CONFIG_FILE": os.devnull, "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
               "AWS_EC2_METADATA_DISABLED": "true", "AWS_ENDPOINT_URL": "http://127.0.0.1:9",
               "AWS_REGION": "us-east-1", "CDK_DISABLE_CLI_TELEMETRY": "true",
               "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20"}


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("AWS_", "CDK_", "MESH_")) and k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL")}
    return {**env, **OFFLINE_AWS, **extra}


def _run(args: list[str | Path], *, cwd: Path = ROOT, timeout: int = 300, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(a) for a in args], cwd=cwd, env=_env(**env), capture_output=True, text=True,
                          timeout=timeout)


# ---- config errors: a message, never a traceback or a silent sample -------------------------------------------


@pytest.fixture
def app_main(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]):
    """Run app.py's main() in this process with a CDK context; returns (exit code, stderr)."""
    import app

    def run(context: dict) -> tuple[int, str]:
        monkeypatch.setenv("MESH_SKIP_BUNDLING", "1")  # never bundle, should a config be accepted by mistake
        code = app.main(context)
        return code, capsys.readouterr().err

    return run


def test_an_empty_config_value_is_an_error_not_the_sample(app_main):
    code, err = app_main({"config": ""})
    assert code == 1
    assert "config='': must be the path of a JSON config file" in err


def test_a_directory_as_config_is_an_error(app_main, tmp_path: Path):
    code, err = app_main({"config": str(tmp_path)})
    assert code == 1
    assert f"config={str(tmp_path)!r}: is a directory; must be the path of a JSON config file" in err


def test_a_binary_config_file_is_an_error(app_main, tmp_path: Path):
    config = tmp_path / "config.json"
    config.write_bytes(b"\xff\xfe\x00binary")
    code, err = app_main({"config": str(config)})
    assert (code, "must be readable as UTF-8 JSON" in err) == (1, True)


def test_a_missing_field_says_is_required_never_none(app_main, tmp_path: Path):
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"mesh_name": "team-mesh", "workers": []}))
    code, err = app_main({"config": str(config)})
    assert code == 1
    assert "supervisor: is required" in err
    assert "None" not in err
    config.write_text(json.dumps({"mesh_name": "team-mesh", "supervisor": {}, "workers": []}))
    code, err = app_main({"config": str(config)})
    assert code == 1
    assert "supervisor.account: is required" in err
    assert "None" not in err


def test_the_cdk_app_script_reports_a_config_error_without_a_traceback(tmp_path: Path):
    """As `npx cdk synth -c config=<dir>` runs it: cdk.json's app command, the venv's Python, app.py."""
    command = json.loads((ROOT / "cdk.json").read_text())["app"]
    proc = _run(["sh", "-c", command], CDK_CONTEXT_JSON=json.dumps({"config": str(tmp_path)}),
                CDK_OUTDIR=str(tmp_path / "out"))
    assert proc.returncode == 1
    assert "is a directory" in proc.stderr and "Traceback" not in proc.stderr


def test_the_cdk_app_script_says_what_to_do_without_the_packages(tmp_path: Path):
    """A checkout whose .venv Python lacks aws-cdk-lib (e.g. `npx cdk` before `make`)."""
    (tmp_path / "scripts").mkdir()
    shutil.copy2(ROOT / "scripts" / "cdk-app", tmp_path / "scripts" / "cdk-app")
    (tmp_path / ".venv" / "bin").mkdir(parents=True)
    base = Path(getattr(sys, "_base_executable", sys.executable))
    (tmp_path / ".venv" / "bin" / "python").symlink_to(base)
    proc = _run(["sh", "scripts/cdk-app"], cwd=tmp_path)
    if proc.returncode == 0 or "lacks" not in proc.stderr:
        pytest.skip(f"{base} has aws-cdk-lib and cdk-nag installed globally")
    assert "run 'make deps'" in proc.stderr


# ---- a skip-bundling assembly refuses to deploy ------------------------------------------------------------


@pytest.fixture(scope="module")
def skip_bundling_assembly(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sample config synthesized as `make synth` does (CLI, MESH_SKIP_BUNDLING=1, --ignore-errors)."""
    out = tmp_path_factory.mktemp("cdk.out")
    if CDK_CLI.exists():
        proc = _run([CDK_CLI, "synth", "--no-notices", "--quiet", "--no-version-reporting", "--ignore-errors",
                     "-o", out], MESH_SKIP_BUNDLING="1")
    else:  # no CDK CLI installed (make test installs it): the app alone
        proc = _run([sys.executable, "app.py"], MESH_SKIP_BUNDLING="1", CDK_OUTDIR=str(out))
    assert proc.returncode == 0, proc.stderr[-3000:]
    return out


def test_every_stack_of_a_skip_bundling_synth_carries_the_refusal(skip_bundling_assembly: Path):
    from app import NOT_DEPLOYABLE, NOT_DEPLOYABLE_RULE

    manifest = json.loads((skip_bundling_assembly / "manifest.json").read_text())
    stacks = [name for name, a in manifest["artifacts"].items() if a["type"] == "aws:cloudformation:stack"]
    assert sorted(stacks) == ["memory-mesh-supervisor", "memory-mesh-worker-billing"]
    for name in stacks:
        metadata = json.loads((skip_bundling_assembly / f"{name}.metadata.json").read_text())
        errors = [e["data"] for entries in metadata.values() for e in entries if e["type"] == "aws:cdk:error"]
        assert errors == [NOT_DEPLOYABLE], name
        rule = json.loads((skip_bundling_assembly / f"{name}.template.json").read_text())["Rules"][NOT_DEPLOYABLE_RULE]
        (assertion,) = rule["Assertions"]
        assert assertion["AssertDescription"] == NOT_DEPLOYABLE
        # Never true: the bootstrap version parameter is a number.
        assert assertion["Assert"] == {"Fn::Contains": [["lambda-code-not-bundled"], {"Ref": "BootstrapVersion"}]}


@pytest.mark.skipif(not CDK_CLI.exists(), reason="the pinned CDK CLI is not installed (make deps installs it)")
def test_cdk_deploy_of_a_skip_bundling_assembly_fails_before_touching_aws(skip_bundling_assembly: Path):
    from app import NOT_DEPLOYABLE

    proc = _run([CDK_CLI, "deploy", "--app", skip_bundling_assembly, "--all", "--require-approval", "never",
                 "--no-notices", "-v"], timeout=180)
    output = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert NOT_DEPLOYABLE in output
    assert "bypass synth" in output  # it read the assembly, and stopped there
    for later_step in ("publishing", "Publishing", "deploying...", "CreateChangeSet", "changeset"):
        assert later_step not in output, later_step


# ---- make: checks first, repairs a broken .venv, lists its targets -------------------------------------------


@pytest.fixture
def project_copy(tmp_path: Path) -> Path:
    """The Makefile and its scripts, with requirement files that install nothing (so a venv builds offline)."""
    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    for name in ("Makefile", "pyproject.toml", "package.json", "package-lock.json"):
        shutil.copy2(ROOT / name, tmp_path / name)
    shutil.copytree(ROOT / "scripts", tmp_path / "scripts")
    for name in ("requirements.txt", "requirements-dev.txt"):
        (tmp_path / name).write_text("# nothing to install in this test\n")
    return tmp_path


def _fake(path: Path, output: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"#!/bin/sh\necho {output}\n")
    path.chmod(0o755)
    return path


def test_make_refuses_an_old_python_before_creating_anything(project_copy: Path):
    old = _fake(project_copy / "bin" / "python3.9", "3.9.18")
    proc = _run(["make", "venv", f"PYTHON={old}"], cwd=project_copy)
    assert proc.returncode != 0
    assert f"'{old}' is Python 3.9.18; this project needs Python >= 3.11" in proc.stderr
    assert "make PYTHON=python3.12" in proc.stderr
    assert not (project_copy / ".venv").exists()


def test_make_refuses_an_old_node_before_creating_anything(project_copy: Path):
    fake_bin = project_copy / "bin"
    _fake(fake_bin / "node", "18.19.0")
    proc = _run(["make", "venv", f"PYTHON={sys.executable}"], cwd=project_copy,
                PATH=f"{fake_bin}{os.pathsep}{os.environ['PATH']}")
    assert proc.returncode != 0
    assert "node is 18.19.0; the CDK needs Node.js >= 20" in proc.stderr
    assert "Install Node.js 22 or later" in proc.stderr
    assert not (project_copy / ".venv").exists()


def test_make_rebuilds_a_venv_made_by_an_old_python(project_copy: Path):
    venv = project_copy / ".venv"
    _fake(venv / "bin" / "python", "3.10.13")
    (venv / ".installed").touch()  # the stamp looks up to date
    proc = _run(["make", "venv", f"PYTHON={sys.executable}"], cwd=project_copy)
    assert proc.returncode == 0, proc.stderr
    assert ".venv is broken: it was created by Python 3.10.13 (needs >= 3.11). Rebuilding it" in proc.stderr
    version = _run([venv / "bin" / "python", "-c", "import sys; print(sys.version_info[:2] >= (3, 11))"])
    assert version.stdout.strip() == "True"
    again = _run(["make", "venv", f"PYTHON={sys.executable}"], cwd=project_copy)  # healthy now: nothing to do
    assert again.returncode == 0 and "broken" not in again.stderr and "Creating" not in again.stdout


def test_a_venv_without_its_python_is_reported_broken(tmp_path: Path):
    (tmp_path / ".venv" / "bin").mkdir(parents=True)
    (tmp_path / ".venv" / "bin" / "python").symlink_to(tmp_path / "removed-python")
    proc = _run(["sh", ROOT / "scripts" / "dev-env", "venv-state", tmp_path / ".venv"])
    assert proc.stdout.strip() == "it has no bin/python (its Python was removed or moved)"


def test_make_help_describes_every_target():
    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    makefile = (ROOT / "Makefile").read_text()
    phony = next(line for line in makefile.splitlines() if line.startswith(".PHONY:")).split()[1:]
    listed = {line.split()[0]: line for line in _run(["make", "help"]).stdout.splitlines()[1:]}
    assert sorted(listed) == sorted(t for t in phony if t != "FORCE")
    assert all(len(line.split(maxsplit=1)) == 2 for line in listed.values())


def test_make_test_runs_ruff_and_mypy_before_pytest():
    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    recipe = _run(["make", "-n", "test", "VENV_FORCE=", "-o", ".venv/.installed", "-o", "node_modules/.installed"])
    lines = recipe.stdout.splitlines()
    lint = next(i for i, line in enumerate(lines) if "-m ruff check ." in line and "-m mypy" in line)
    tests = next(i for i, line in enumerate(lines) if "-m pytest" in line)
    assert lint < tests


def test_make_synth_counts_only_this_synths_templates():
    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    recipe = _run(["make", "-n", "synth", "VENV_FORCE=", "-o", ".venv/.installed", "-o", "node_modules/.installed"])
    lines = recipe.stdout.splitlines()
    clean = next(i for i, line in enumerate(lines) if line.startswith("rm -f cdk.out/manifest.json"))
    synth = next(i for i, line in enumerate(lines) if " synth " in line and "MESH_SKIP_BUNDLING=1" in line)
    assert clean < synth and "cdk.out/*.template.json" in lines[clean]
    assert "--ignore-errors" in lines[synth]
    bundled = _run(["make", "-n", "synth", "BUNDLE=1", "-o", ".venv/.installed", "-o", "node_modules/.installed"])
    assert "MESH_SKIP_BUNDLING=0" in bundled.stdout and "--ignore-errors" not in bundled.stdout
