"""docs/testing.md's example of testing one's own constructs' policies runs as written."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

DOC = Path(__file__).resolve().parents[2] / "docs" / "testing.md"


def test_the_own_constructs_example_runs(monkeypatch: pytest.MonkeyPatch, aws_credentials: None) -> None:
    section = DOC.read_text().split("### Testing your own constructs' policies", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, re.S)
    assert code is not None
    namespace: dict[str, Any] = {}
    exec(compile(code.group(1), str(DOC), "exec"), namespace)  # noqa: S102 - the documented example itself
    namespace["test_my_tvm_sessions_stay_with_their_user"](monkeypatch)
