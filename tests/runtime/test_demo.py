"""``make demo`` tells its story: recalled in the session and the next one, never across tenants, gone after forget."""

from __future__ import annotations

from pathlib import Path

from runtime.testing.demo import Demo

README = Path(__file__).resolve().parents[2] / "README.md"


def _readme_transcript() -> str:
    text = README.read_text(encoding="utf-8")
    start = text.index("```text\n", text.index("## See it work")) + len("```text\n")
    return text[start:text.index("\n```", start)]


def test_the_demo_story_holds(aws_credentials):
    lines: list[str] = []
    seen = Demo(out=lines.append).run()
    assert "Lisbon" in seen["same_session"] and "this conversation" in seen["same_session"]
    assert "Lisbon" in seen["next_session"] and "your records" in seen["next_session"]
    assert "TAP" in seen["airline"]
    assert seen["other_tenant"] == "I have no payment details for you."
    assert seen["after_forget"] == "I have no payment details for you."
    assert seen["memories_after_forget"] == 0
    transcript = "\n".join(lines)
    assert "1. Alice" in transcript and "4. Alice asks to be forgotten." in transcript
    assert transcript == _readme_transcript()  # the README shows exactly what `make demo` prints
