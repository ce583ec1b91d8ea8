"""`pip install .` makes constructs_lib, stacks and runtime importable from another project."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_wheel_installs_the_three_packages_for_another_project(tmp_path):
    wheel_dir, target, elsewhere = tmp_path / "wheel", tmp_path / "site", tmp_path / "other-project"
    elsewhere.mkdir()
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w",
                    str(wheel_dir), str(ROOT)], check=True, capture_output=True, timeout=300)
    (wheel,) = wheel_dir.glob("*.whl")
    top_level = {name.split("/")[0] for name in zipfile.ZipFile(wheel).namelist()}
    assert {"constructs_lib", "stacks", "runtime"} <= top_level
    assert "tests" not in top_level and "benchmarks" not in top_level

    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(target), str(wheel)],
                   check=True, capture_output=True, timeout=300)
    probe = ("import constructs_lib, stacks, runtime, sys; "
             "print('\\n'.join(m.__file__ for m in (constructs_lib, stacks, runtime)))")
    env = {**os.environ, "PYTHONPATH": str(target), "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20"}
    out = subprocess.run([sys.executable, "-c", probe], cwd=elsewhere, env=env, capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert all(line.startswith(str(target)) for line in out.stdout.split())
