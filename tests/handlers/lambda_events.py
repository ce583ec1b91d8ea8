"""Lambda events, JWT claims, a fake Lambda context and the workers file of the handler tests."""

from __future__ import annotations

import base64
import json
import uuid
from typing import Any

from runtime.identity import actor_id_from_claims

ISSUER = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Example"
TENANT_CLAIM = "custom:tenant_id"
SUPERVISOR_AGENT_ID = "SUPERVIS01"
SUPERVISOR_ALIAS_ID = "ALIASSUP01"
WORKER_ACCOUNT = "222222222222"
WORKER_REGION = "us-west-2"
BILLING_AGENT_ID = "BILLINGAG1"
BILLING_ALIAS_ID = "ALIASBIL01"
BILLING_ROLE_ARN = f"arn:aws:iam::{WORKER_ACCOUNT}:role/mesh-worker-billing"
BILLING_EXTERNAL_ID = "mesh:billing"
SUPPORT_ACCOUNT = "333333333333"
SUPPORT_RUNTIME_ARN = f"arn:aws:bedrock-agentcore:eu-west-1:{SUPPORT_ACCOUNT}:runtime/support_agent-AbCdE12345"
SUPPORT_ROLE_ARN = f"arn:aws:iam::{SUPPORT_ACCOUNT}:role/mesh-worker-support"
SUPPORT_EXTERNAL_ID = "mesh:support"
QUEUE_NAME = "mesh-summaries"


class FakeLambdaContext:
    """The parts of the Lambda context the handlers read; its clock only moves when a test advances it."""

    def __init__(self, remaining_ms: int = 30_000) -> None:
        self.aws_request_id = str(uuid.uuid4())
        self.function_name = "mesh-orchestrator"
        self.function_version = "$LATEST"
        self.memory_limit_in_mb = 1024
        self.invoked_function_arn = "arn:aws:lambda:us-east-1:111111111111:function:mesh-orchestrator"
        self.log_group_name = "/agent-memory-mesh/test/orchestrator"
        self.log_stream_name = "2026/12/02/[$LATEST]0123456789abcdef"
        self._remaining_ms = remaining_ms

    def get_remaining_time_in_millis(self) -> int:
        return self._remaining_ms

    def advance(self, seconds: float) -> None:
        self._remaining_ms = max(0, self._remaining_ms - int(seconds * 1000))


def claims_for(tenant: str, sub: str, **extra: Any) -> dict[str, Any]:
    """Claims as an HTTP API JWT authorizer hands them over (strings)."""
    return {
        "iss": ISSUER, "sub": sub, TENANT_CLAIM: tenant, "aud": "mesh-client", "email": f"{sub}@example.com", **extra
    }


def actor_of(sub: str) -> str:
    return actor_id_from_claims({"iss": ISSUER, "sub": sub})


def api_event(
    route_key: str,
    *,
    claims: dict[str, Any] | None,
    body: Any = None,
    path_parameters: dict[str, str] | None = None,
    base64_body: bool = False,
    query: dict[str, str] | None = None,
) -> dict[str, Any]:
    """An HTTP API payload-format-2.0 event for ``route_key`` ("POST /sessions/{session_id}/messages")."""
    method, template = route_key.split(" ", 1)
    path = template
    for name, value in (path_parameters or {}).items():
        path = path.replace("{" + name + "}", value)
    raw = body if isinstance(body, str) or body is None else json.dumps(body)
    if raw is not None and base64_body:
        raw = base64.b64encode(raw.encode()).decode()
    context: dict[str, Any] = {
        "accountId": "111111111111",
        "apiId": "abc123",
        "domainName": "abc123.execute-api.us-east-1.amazonaws.com",
        "http": {"method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": "192.0.2.1", "userAgent": "t"},
        "requestId": str(uuid.uuid4()),
        "routeKey": route_key,
        "stage": "$default",
    }
    if claims is not None:
        context["authorizer"] = {"jwt": {"claims": claims, "scopes": None}}
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": route_key,
        "rawPath": path,
        "rawQueryString": "",
        "headers": {"content-type": "application/json", "authorization": "Bearer redacted"},
        "requestContext": context,
        "isBase64Encoded": base64_body,
    }
    if path_parameters:
        event["pathParameters"] = path_parameters
    if query:
        from urllib.parse import urlencode

        event["queryStringParameters"] = dict(query)
        event["rawQueryString"] = urlencode(query)
    if raw is not None:
        event["body"] = raw
    return event


def message_event(session_id: str, claims: dict[str, Any] | None, body: Any) -> dict[str, Any]:
    return api_event(
        "POST /sessions/{session_id}/messages", claims=claims, body=body, path_parameters={"session_id": session_id}
    )


def answer_of(response: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    """(status, decoded body) of an API or direct-invoke response."""
    if "body" in response and "headers" in response:
        return response["statusCode"], json.loads(response["body"])
    body = dict(response)
    return body.pop("statusCode"), body


def workers_document() -> list[dict[str, Any]]:
    return [
        {
            "name": "billing",
            "role_arn": BILLING_ROLE_ARN,
            "external_id": BILLING_EXTERNAL_ID,
            "region": WORKER_REGION,
            "agent": {"type": "bedrock-agent", "agent_id": BILLING_AGENT_ID, "alias_id": BILLING_ALIAS_ID},
            "allowed_tenants": ["acme", "globex"],
        },
        {
            "name": "support",
            "role_arn": SUPPORT_ROLE_ARN,
            "external_id": SUPPORT_EXTERNAL_ID,
            "region": "eu-west-1",
            "agent": {"type": "agentcore-runtime", "runtime_arn": SUPPORT_RUNTIME_ARN},
            "allowed_tenants": ["acme"],
        },
    ]


# -- scripted agents ---------------------------------------------------------------------------------------------


def supervisor_script(prompt: str, attributes: Any, caller: Any) -> str:
    """The supervisor: acknowledges, and hands anything about invoices or billing to the billing worker."""
    if any(word in prompt.lower() for word in ("invoice", "billing")):
        return "Let me bring in our billing specialist.\nHANDOFF: billing"
    return "Noted, I will remember that."


def remembered(attributes: Any) -> list[str]:
    """The memory contents a Bedrock Agent received in its session attributes (and nothing else)."""
    return [entry["content"] for entry in json.loads(attributes.get("mesh_memories") or "[]")]


def billing_script(prompt: str, attributes: Any, caller: Any) -> str:
    """The billing worker answers ONLY from the memories in its session attributes, never from the prompt."""
    facts = remembered(attributes)
    if not facts:
        return "I have no records about you yet."
    return "From your records: " + " | ".join(facts)


def support_script(prompt: str, payload: Any, caller: Any) -> dict[str, Any]:
    """The AgentCore Runtime support worker: answers from the payload's ``memory`` object."""
    facts = [entry["content"] for entry in payload["memory"]["records"]]
    text = "Support knows: " + (" | ".join(facts) or "nothing")
    return {"result": {"role": "assistant", "content": [{"text": text}]}}
