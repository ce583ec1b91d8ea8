"""The Python examples of docs/testing.md run as written (the emulation fixture example and fault injection)."""

from __future__ import annotations

import re
from pathlib import Path

DOC = Path(__file__).resolve().parents[2] / "docs" / "testing.md"


def block(containing: str) -> str:
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(), flags=re.S)
    (found,) = [b for b in blocks if containing in b]
    return found


def test_the_own_tests_example_passes(monkeypatch):
    namespace: dict = {}
    exec(compile(block("def test_a_tenant_session_sees_only_its_own_index"), str(DOC), "exec"), namespace)
    fixture = namespace["aws"]
    function = getattr(fixture, "_get_wrapped_function", lambda: fixture.__wrapped__)()
    emulation = function(monkeypatch)
    try:
        namespace["test_a_tenant_session_sees_only_its_own_index"](next(emulation))
    finally:
        emulation.close()


def test_the_fault_injection_example_runs(aws):
    from runtime.credentials import TenantCredentialBroker

    credentials = TenantCredentialBroker(aws.mesh.tvm_role_arn, region="us-east-1").credentials("acme", "alice")
    namespace = {"aws": aws, "credentials": credentials}
    exec(compile(block("faults = Faults().attach(aws)"), str(DOC), "exec"), namespace)
    assert namespace["faults"].attempts == {} and aws.faults is namespace["faults"]
