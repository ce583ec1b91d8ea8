"""Every Python example of the construct docs and the README's construct example runs and synthesizes.

A block whose info string is ``python no-run`` is a fragment (it needs names from the page around it); they are
counted and kept few.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCS = sorted((ROOT / "docs" / "constructs").glob("*.md"))
README_SECTION = "## Using the constructs in your own CDK app"
BLOCK = re.compile(r"^```(python[^\n]*)\n(.*?)^```", re.MULTILINE | re.DOTALL)
MAX_FRAGMENTS = 3



def _blocks(text: str) -> list[tuple[str, str]]:
    return [(info.strip(), code) for info, code in BLOCK.findall(text)]


def _readme_blocks() -> list[tuple[str, str]]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    start = text.index(README_SECTION)
    end = text.find("\n## ", start + len(README_SECTION))
    return _blocks(text[start:end if end != -1 else len(text)])


def _examples() -> list[tuple[str, str]]:
    examples = [(f"{doc.name}#{i}", code) for doc in DOCS
                for i, (info, code) in enumerate(_blocks(doc.read_text(encoding="utf-8"))) if info == "python"]
    examples += [(f"README.md#{i}", code) for i, (info, code) in enumerate(_readme_blocks()) if info == "python"]
    return examples


def test_fragments_are_marked_and_few():
    fragments = [(doc.name, info) for doc in DOCS for info, _ in _blocks(doc.read_text(encoding="utf-8"))
                 if info != "python"]
    assert all(info == "python no-run" for _, info in fragments), fragments
    assert len(fragments) <= MAX_FRAGMENTS, fragments
    assert _readme_blocks(), f"README.md has no Python block under {README_SECTION!r}"


@pytest.mark.parametrize("name, code", _examples(), ids=[name for name, _ in _examples()])
def test_example_runs_and_synthesizes_cleanly(name, code, tmp_path, monkeypatch):
    import aws_cdk

    class ExampleApp(aws_cdk.App):
        """The examples' `App()`, writing into the test's directory and skipping Lambda bundling (pip), as every
        unit test does (the jsii process started before the test, so environment variables would not reach it)."""

        def __init__(self, **kwargs: object) -> None:
            kwargs.setdefault("outdir", str(tmp_path))
            kwargs["context"] = {**dict(kwargs.get("context") or {}), "aws:cdk:bundling-stacks": []}  # type: ignore[call-overload]
            super().__init__(**kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(aws_cdk, "App", ExampleApp)
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, object] = {"__name__": f"docs_example_{re.sub(r'[^a-z0-9]+', '_', name.lower())}"}
    exec(compile(code, name, "exec"), namespace)  # noqa: S102 - the examples are the project's own docs
    if "synth()" in code:
        assert list(tmp_path.glob("*.template.json")), f"{name} synthesized no stack"
    report = tmp_path / "validation-report.json"
    if report.exists():
        violations = [(p["pluginName"], v["ruleName"]) for p in json.loads(report.read_text())["pluginReports"]
                      for v in p["violations"]]
        assert violations == [], violations
