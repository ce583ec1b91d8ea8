"""``make demo`` tells its story: recalled in the session and the next one, never across tenants, gone after forget."""

from __future__ import annotations

from runtime.testing.demo import Demo


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
