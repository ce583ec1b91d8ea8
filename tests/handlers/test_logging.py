"""At every level, no message text, memory content, credential, token or claim reaches the logs.

A full handoff turn (recall, supervisor, worker in another account, the turn's event) runs with LOG_LEVEL=DEBUG
and the root logger at DEBUG; every record of every logger (root, botocore, urllib3, Powertools, runtime) and
everything written to stdout is scanned.
"""

from __future__ import annotations

import logging

import pytest

from runtime.handlers import _observability, orchestrator
from tests.handlers.lambda_events import (
    ISSUER,
    FakeLambdaContext,
    actor_of,
    answer_of,
    claims_for,
    message_event,
)

SUB = "alice-private-subject-7"
SESSION = "session-xyzzy-4242"
SECRET_MESSAGE = "My passport number is X9981276 and I pay by transfer; question about my invoice"
MEMORY = "The user's locker code is 4711-QUUX"


@pytest.fixture
def debug_logs(mesh, monkeypatch, caplog):
    monkeypatch.setenv("LOG_LEVEL", "DEBUG")
    _observability.reset()
    orchestrator.reset()
    caplog.set_level(logging.DEBUG)  # the root logger and pytest's capture at DEBUG
    for name in ("botocore", "urllib3", "boto3"):
        logging.getLogger(name).setLevel(logging.DEBUG)  # as a careless earlier import might have left them
    yield caplog
    _observability.reset()


def test_a_full_turn_at_debug_logs_no_content_credentials_or_claims(mesh, debug_logs, capsys):
    claims = claims_for("acme", SUB)
    mesh.aws.agentcore.add_record(mesh.memory_id, f"/facts/acme:{actor_of(SUB)}/", MEMORY)
    status, answer = answer_of(orchestrator.handler(
        message_event(SESSION, claims, {"message": SECRET_MESSAGE}), FakeLambdaContext()))
    assert status == 200 and answer["delegated"] is True and answer["memories_used"] >= 1

    mesh_state = orchestrator._mesh()
    vended = mesh_state.broker.credentials("acme", actor_of(SUB))
    worker = mesh_state.agents._brokers["billing"].credentials("acme", actor_of(SUB))
    records = debug_logs.records
    assert any(r.levelno == logging.DEBUG for r in records), "DEBUG was really on"
    text = "\n".join(_render(r) for r in records) + "\n" + capsys.readouterr().out
    assert "handoff answered" in text
    forbidden = {
        "message text": "X9981276",
        "message words": "passport number",
        "memory content": "4711-QUUX",
        "vended secret key": vended.secret_access_key,
        "vended session token": vended.session_token[:40],
        "worker secret key": worker.secret_access_key,
        "worker session token": worker.session_token[:40],
        "claim sub": SUB,
        "claim email": f"{SUB}@example.com",
        "claim issuer": ISSUER,
        "actor id": actor_of(SUB),
        "session id": SESSION,
        "authorization header": "Authorization",
    }
    leaked = {what for what, needle in forbidden.items() if needle and needle in text}
    assert not leaked, leaked
    wire = [r for r in records if r.name.split(".")[0] in ("botocore", "urllib3", "boto3")]
    assert all(r.levelno >= logging.WARNING for r in wire)


def _render(record: logging.LogRecord) -> str:
    extras = {k: v for k, v in vars(record).items() if k not in logging.LogRecord("", 0, "", 0, "", (), None).__dict__}
    try:
        message = record.getMessage()
    except Exception:  # noqa: BLE001
        message = str(record.msg)
    return f"{record.name} {record.levelname} {message} {extras!r} {record.args!r}"


def test_wire_loggers_are_held_at_warning_whatever_level_was_set(mesh, debug_logs):
    logging.getLogger("botocore.endpoint").setLevel(logging.DEBUG)
    _observability.quiet_wire_logs()
    assert logging.getLogger("botocore").getEffectiveLevel() == logging.WARNING
    assert logging.getLogger("botocore.endpoint").getEffectiveLevel() == logging.WARNING
    assert logging.getLogger("urllib3.connectionpool").getEffectiveLevel() == logging.WARNING


