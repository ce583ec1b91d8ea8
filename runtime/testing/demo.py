"""A short story of the mesh, told in the in-process emulation: ``python -m runtime.testing.demo`` (``make demo``).

Two tenants share one memory home. A supervisor agent (a Bedrock Agent in the home account) answers users and
hands billing questions to a worker in another account; a support worker in a third account is an AgentCore
Runtime running a Strands agent on the shared memory. Alice tells the mesh something in one session and it is
recalled in the next; a user of another tenant sees none of it; then Alice asks to be forgotten.

Everything runs offline through the real handlers: moto and the runtime's fakes answer AWS, scripted agents
and a scripted model stand in for the LLMs. Needs the ``testing`` and ``agents`` extras.
"""

from __future__ import annotations

import io
import json
import os
import sys
import tempfile
import uuid
from collections.abc import Callable, Mapping
from contextlib import redirect_stdout
from pathlib import Path
from typing import Any

from runtime.testing.mesh_stacks import worker_roles

REGION = "us-east-1"
HOME = "111111111111"
BILLING_ACCOUNT = "222222222222"
SUPPORT_ACCOUNT = "333333333333"
ISSUER = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Demo"
SUPERVISOR = ("SUPERVIS01", "ALIASSUP01")
BILLING = ("BILLINGAG1", "ALIASBIL01")
SUPPORT_ARN = f"arn:aws:bedrock-agentcore:{REGION}:{SUPPORT_ACCOUNT}:runtime/support_agent-AbCdE12345"


class _Context:
    """The parts of a Lambda context the handlers read."""

    function_name = "mesh-orchestrator"
    memory_limit_in_mb = 1024
    invoked_function_arn = f"arn:aws:lambda:{REGION}:{HOME}:function:mesh-orchestrator"

    def __init__(self) -> None:
        self.aws_request_id = str(uuid.uuid4())

    def get_remaining_time_in_millis(self) -> int:
        return 29_000


def _event(method: str, template: str, claims: Mapping[str, str], *, params: Mapping[str, str] | None = None,
           body: Any = None) -> dict[str, Any]:
    path = template
    for name, value in (params or {}).items():
        path = path.replace("{" + name + "}", value)
    event: dict[str, Any] = {
        "version": "2.0", "routeKey": f"{method} {template}", "rawPath": path, "rawQueryString": "",
        "headers": {"content-type": "application/json"}, "isBase64Encoded": False,
        "requestContext": {"http": {"method": method, "path": path}, "requestId": str(uuid.uuid4()),
                           "routeKey": f"{method} {template}", "authorizer": {"jwt": {"claims": dict(claims)}}},
    }
    if params:
        event["pathParameters"] = dict(params)
    if body is not None:
        event["body"] = json.dumps(body)
    return event


def _claims(tenant: str, sub: str) -> dict[str, str]:
    return {"iss": ISSUER, "sub": sub, "custom:tenant_id": tenant}


def _best(entries: list[dict[str, Any]], question: str) -> str | None:
    """The remembered entry sharing most words with the question (vectors an agent wrote win ties)."""
    words = {w.strip("?.,").lower() for w in question.split() if len(w) > 3}
    scored = [(len(words & {w.strip("?.,").lower() for w in e["content"].split()}), e["source"] == "s3vectors",
               e["content"]) for e in entries if e.get("kind") != "summary"]
    scored = [item for item in scored if item[0]]
    return max(scored)[2] if scored else None


def _supervisor(prompt: str, attributes: Mapping[str, Any], caller: Any) -> str:
    if "invoice" in prompt.lower():
        return "Let me bring in our billing specialist.\nHANDOFF: billing"
    known = _best(json.loads(attributes.get("mesh_memories") or "[]"), prompt) if prompt.endswith("?") else None
    return f"I remember: {known}" if known else "Noted."


def _billing(prompt: str, attributes: Mapping[str, Any], caller: Any) -> str:
    facts = [e["content"] for e in json.loads(attributes.get("mesh_memories") or "[]")
             if e.get("kind") == "fact" and "pay" in e["content"].lower()]
    session = [entry["text"] for entry in json.loads(attributes.get("mesh_recent_turns") or "[]")
               if entry["role"] == "user" and "pay" in entry["text"].lower() and entry["text"] != prompt]
    found = facts or session
    where = "your records" if facts else "this conversation"
    return f"From {where}: {found[0]}" if found else "I have no payment details for you."


def _support_worker(aws: Any) -> Callable[[str, Mapping[str, Any], Any], Any]:
    """The support worker: a Strands agent with WorkerMemory, on its own account's credentials."""
    import boto3
    from strands import Agent
    from strands.models.model import Model

    from runtime.credentials import TenantCredentialBroker
    from runtime.embeddings import LocalHashEmbedder
    from runtime.integrations import WorkerMemory
    from runtime.settings import MemorySettings

    class RememberingModel(Model):
        """Stands in for the LLM: 'remember that ...' becomes an add_memory call."""

        def update_config(self, **config: Any) -> None:
            """No configuration."""

        def get_config(self) -> dict[str, Any]:
            """No configuration."""
            return {}

        async def structured_output(self, *args: Any, **kwargs: Any) -> Any:
            """Not used by the demo."""
            raise NotImplementedError
            yield  # pragma: no cover

        async def stream(self, messages: Any, tool_specs: Any = None, system_prompt: Any = None,
                         **kwargs: Any) -> Any:
            """Call add_memory once for 'remember that', then answer."""
            last = messages[-1]["content"]
            if any("toolResult" in block for block in last):
                text = "Saved to your shared memory."
                yield {"messageStart": {"role": "assistant"}}
                yield {"contentBlockDelta": {"contentBlockIndex": 0, "delta": {"text": text}}}
                yield {"contentBlockStop": {"contentBlockIndex": 0}}
                yield {"messageStop": {"stopReason": "end_turn"}}
                return
            prompt = last[0].get("text", "")
            fact = prompt.split("remember that", 1)[-1].strip(" .")
            yield {"messageStart": {"role": "assistant"}}
            yield {"contentBlockStart": {"contentBlockIndex": 0,
                                         "start": {"toolUse": {"toolUseId": "t1", "name": "add_memory"}}}}
            yield {"contentBlockDelta": {"contentBlockIndex": 0, "delta": {"toolUse": {"input": json.dumps(
                {"entries": [f"The user's {fact}" if not fact.startswith("my ") else f"The user's {fact[3:]}"]})}}}}
            yield {"contentBlockStop": {"contentBlockIndex": 0}}
            yield {"messageStop": {"stopReason": "tool_use"}}

    own_role = boto3.Session(aws_access_key_id="AKIASUPPORTWORKER001", aws_secret_access_key="demo",
                             region_name=REGION)
    broker = TenantCredentialBroker(aws.mesh.tvm_role_arn, region=REGION, session=own_role)
    memory = WorkerMemory.from_settings(MemorySettings.from_env(), agent_name="support", broker=broker,
                                        embedder=LocalHashEmbedder(aws.mesh.dimension))
    agent = Agent(model=RememberingModel(), callback_handler=None, **memory.agent_kwargs())

    def entrypoint(prompt: str, payload: Mapping[str, Any], caller: Any) -> dict[str, Any]:
        turn = memory.turn(dict(payload))
        return {"result": str(agent(turn.prompt, invocation_state=turn.invocation_state())).strip()}

    return entrypoint


class Demo:
    """The mesh in the emulation, and a transcript of what happens."""

    def __init__(self, out: Callable[[str], None] = print) -> None:
        self.out = out

    def say(self, who: str, tenant: str, session: str, message: str, **body: Any) -> dict[str, Any]:
        """One message through the orchestrator's HTTP handler, printed with the answers."""
        from runtime.handlers import orchestrator

        self.out(f"  {who} ({tenant}, session {session}): {message}")
        answer = self._call(orchestrator.handler, _event("POST", "/sessions/{session_id}/messages",
                                                          _claims(tenant, who), params={"session_id": session},
                                                          body={"message": message, **body}))
        self.out(f"    supervisor: {answer['supervisor_response']}")
        if answer.get("worker_response"):
            self.out(f"    {answer['worker']} (another account): {answer['worker_response']}")
        return answer

    def _call(self, handler: Callable[[Any, Any], dict[str, Any]], event: dict[str, Any]) -> dict[str, Any]:
        with redirect_stdout(io.StringIO()):  # the functions' JSON logs and metrics
            response = handler(event, _Context())
        body = json.loads(response["body"])
        body["_status"] = response["statusCode"]
        return body

    def run(self) -> dict[str, Any]:
        """Tell the story; returns what a test checks."""
        from runtime.handlers import forget, orchestrator
        from runtime.testing import emulated_aws
        from runtime.testing.agents_fake import scripted_agents

        seen: dict[str, Any] = {}
        with tempfile.TemporaryDirectory() as tmp, emulated_aws(REGION, HOME) as aws, \
                scripted_agents(aws) as agents:
            memory_id = self._environment(aws, Path(tmp))
            agents.bedrock_agent(*SUPERVISOR, _supervisor)
            agents.bedrock_agent(*BILLING, _billing, account_id=BILLING_ACCOUNT, region="us-west-2")
            agents.agentcore_runtime(SUPPORT_ARN, _support_worker(aws))
            orchestrator.reset()
            forget.reset()

            self.out("1. Alice (tenant acme) talks to the supervisor.")
            self.say("alice", "acme", "monday", "I always pay by bank transfer from my Lisbon account.")
            first = self.say("alice", "acme", "monday", "How do I pay my invoices?")
            seen["same_session"] = first["worker_response"]
            self.out("    (the billing worker knew it from the session itself: nothing was extracted yet)")
            self.say("alice", "acme", "monday", "Please remember that my favourite airline is TAP.",
                     worker="support")
            self._call(orchestrator.handler, _event("POST", "/sessions/{session_id}/end", _claims("acme", "alice"),
                                                    params={"session_id": "monday"}))
            aws.agentcore.extract(memory_id)  # AgentCore's asynchronous long-term extraction, done now
            self.out("2. The next day, a new session (AgentCore has extracted Monday's facts meanwhile).")
            second = self.say("alice", "acme", "tuesday", "How do I usually pay my invoices?")
            seen["next_session"] = second["worker_response"]
            airline = self.say("alice", "acme", "tuesday", "Which airline do I like?")
            seen["airline"] = airline["supervisor_response"]
            self.out("3. A user of another tenant asks the same.")
            other = self.say("gina", "globex", "tuesday", "How do I usually pay my invoices?")
            seen["other_tenant"] = other["worker_response"]
            self.out("4. Alice asks to be forgotten.")
            gone = self._call(forget.handler, _event("DELETE", "/memories", _claims("acme", "alice")))
            self.out(f"    forget answered {gone['_status']}, job {gone.get('status')}: "
                     f"{json.dumps(gone.get('receipt', {}).get('deleted', gone))}")
            after = self.say("alice", "acme", "wednesday", "How do I usually pay my invoices?")
            seen["after_forget"] = after["worker_response"]
            listed = self._call(orchestrator.handler, _event("GET", "/memories", _claims("acme", "alice")))
            seen["memories_after_forget"] = listed["count"]
            self.out(f"    memories about alice now: {listed['count']}")
            orchestrator.reset()
            forget.reset()
        return seen

    @staticmethod
    def _environment(aws: Any, tmp: Path) -> str:
        sqs = aws.client("sqs")
        workers = [
            {"name": "billing", "role_arn": f"arn:aws:iam::{BILLING_ACCOUNT}:role/mesh-worker-billing",
             "external_id": "mesh:billing", "region": "us-west-2", "allowed_tenants": ["acme", "globex"],
             "agent": {"type": "bedrock-agent", "agent_id": BILLING[0], "alias_id": BILLING[1]}},
            {"name": "support", "role_arn": f"arn:aws:iam::{SUPPORT_ACCOUNT}:role/mesh-worker-support",
             "external_id": "mesh:support", "region": REGION, "allowed_tenants": ["acme"],
             "agent": {"type": "agentcore-runtime", "runtime_arn": SUPPORT_ARN}},
        ]
        (tmp / "workers.json").write_text(json.dumps(workers))
        layout = aws.setup_mesh(dimension=256, index_prefix="tenant-", workers=worker_roles(workers))
        os.environ.update({
            "MESH_STATE_TABLE": layout.state_table,  # the deployed state table: tombstones and jobs
            "MESH_REGION": REGION, "MESH_VECTOR_BUCKET": layout.bucket_name, "MESH_INDEX_PREFIX": "tenant-",
            "MESH_EMBEDDING_DIMENSION": "256", "MESH_EMBEDDING_MODEL_ID": "amazon.titan-embed-text-v2:0",
            "MESH_MEMORY_ID": layout.memory_id, "MESH_TVM_ROLE_ARN": layout.tvm_role_arn,
            "MESH_SUMMARY_QUEUE_URL": sqs.create_queue(QueueName="summaries")["QueueUrl"],
            "MESH_LIFECYCLE_QUEUE_URL": sqs.create_queue(QueueName="lifecycle")["QueueUrl"],
            "MESH_TENANT_CLAIM": "custom:tenant_id", "MESH_WORKERS_FILE": str(tmp / "workers.json"),
            "MESH_SUPERVISOR_AGENT": json.dumps({"type": "bedrock-agent", "agent_id": SUPERVISOR[0],
                                                 "alias_id": SUPERVISOR[1]}),
            "POWERTOOLS_SERVICE_NAME": "demo", "LOG_LEVEL": "WARNING",
        })
        return str(layout.memory_id)


def main() -> int:
    """Run the demo with fake, local-only credentials."""
    for name, value in {"AWS_ACCESS_KEY_ID": "demo", "AWS_SECRET_ACCESS_KEY": "demo", "AWS_SESSION_TOKEN": "demo",
                        "AWS_DEFAULT_REGION": REGION, "AWS_REGION": REGION, "AWS_EC2_METADATA_DISABLED": "true",
                        "AWS_CONFIG_FILE": os.devnull, "AWS_SHARED_CREDENTIALS_FILE": os.devnull}.items():
        os.environ[name] = value
    import logging

    logging.disable(logging.WARNING)  # the fakes' and stores' own warnings would interleave with the story
    Demo().run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
