"""Isolation cases that run unchanged in the emulation and against a deployed mesh (``make test-live``).

A case vends a session from a token vending machine with the caller's credentials and makes one call with it;
its decision is ``allow`` (the call succeeded or failed for another reason, such as a missing resource) or
``deny`` (STS or the service answered access denied). ``World`` supplies the names of one deployment.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from runtime.contract import memory

ALLOW, DENY = "allow", "deny"
_DENIED = {"AccessDenied", "AccessDeniedException"}


@dataclass(frozen=True)
class World:
    """One deployment as the cases see it: the caller's credentials, a TVM it may vend from, and names."""

    caller: Callable[[str], Any]  # service name -> client on the caller's own credentials
    session: Callable[[dict[str, str], str], Any]  # (credentials, service) -> client
    tvm_role_arn: str
    memory_id: str
    bucket: str
    index_prefix: str
    tenant: str
    foreign_tenant: str
    external_id: str | None = None


@dataclass(frozen=True)
class Case:
    name: str
    expected: str
    run: Callable[[World], Any]


def vend(world: World, tenant: str | None, actor: str | None, *, source_identity: str | None = "same") -> dict:
    tags = ([{"Key": memory.TENANT_TAG, "Value": tenant}] if tenant else []) + \
           ([{"Key": memory.ACTOR_TAG, "Value": actor}] if actor else [])
    params: dict[str, Any] = {"RoleArn": world.tvm_role_arn, "RoleSessionName": f"isolation-{actor or 'tenant'}",
                              "Tags": tags, "DurationSeconds": 900}
    identity = actor if source_identity == "same" else source_identity
    if identity:
        params["SourceIdentity"] = identity
    if world.external_id:
        params["ExternalId"] = world.external_id
    answer = world.caller("sts").assume_role(**params)["Credentials"]
    return {k: answer[k] for k in ("AccessKeyId", "SecretAccessKey", "SessionToken")}


def _agentcore(world: World, actor: str = "alice") -> Any:
    return world.session(vend(world, world.tenant, actor), "bedrock-agentcore")


def _records(operation: str, key: str, owner: str, *, tenant: str | None = None) -> Callable[[World], Any]:
    def run(world: World) -> Any:
        namespace = f"/facts/{tenant or world.tenant}:{owner}/"
        client = _agentcore(world)
        if operation == "list":
            return client.list_memory_records(memoryId=world.memory_id, maxResults=1, **{key: namespace})
        return client.retrieve_memory_records(memoryId=world.memory_id, maxResults=1, **{key: namespace},
                                              searchCriteria={"searchQuery": "probe", "topK": 1})
    return run


def _events(owner: str) -> Callable[[World], Any]:
    def run(world: World) -> Any:
        return _agentcore(world).list_events(memoryId=world.memory_id, actorId=f"{world.tenant}:{owner}",
                                             sessionId="isolation-probe", maxResults=1)
    return run


def _vectors(owner: str) -> Callable[[World], Any]:
    def run(world: World) -> Any:
        client = world.session(vend(world, world.tenant, "alice"), "s3vectors")
        index = memory.user_index_name(world.index_prefix, world.tenant, owner)
        return client.list_vectors(vectorBucketName=world.bucket, indexName=index, maxResults=1)
    return run


CASES: tuple[Case, ...] = (
    Case("vend a user session", ALLOW, lambda w: vend(w, w.tenant, "alice")),
    Case("vend a tenant-wide session (no ActorID)", DENY, lambda w: vend(w, w.tenant, None)),
    Case("vend for a tenant not allowed", DENY, lambda w: vend(w, w.foreign_tenant, "alice")),
    Case("vend with SourceIdentity of another user", DENY, lambda w: vend(w, w.tenant, "alice", source_identity="bob")),
    Case("list records, namespacePath, own", ALLOW, _records("list", "namespacePath", "alice")),
    Case("list records, namespace, own", ALLOW, _records("list", "namespace", "alice")),
    Case("retrieve records, namespacePath, own", ALLOW, _records("retrieve", "namespacePath", "alice")),
    Case("retrieve records, namespace, own", ALLOW, _records("retrieve", "namespace", "alice")),
    Case("list records, namespacePath, other user", DENY, _records("list", "namespacePath", "bob")),
    Case("list records, namespace, other user", DENY, _records("list", "namespace", "bob")),
    Case("retrieve records, namespacePath, other user", DENY, _records("retrieve", "namespacePath", "bob")),
    Case("list records, namespacePath, other tenant", DENY,
         lambda w: _records("list", "namespacePath", "alice", tenant=w.foreign_tenant)(w)),
    Case("list events, own actor", ALLOW, _events("alice")),
    Case("list events, other user", DENY, _events("bob")),
    Case("list vectors, other user's index", DENY, _vectors("bob")),
)


def decide(case: Case, world: World) -> str:
    """``deny`` when STS or the service refused the call as access denied, else ``allow``."""
    try:
        case.run(world)
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") in _DENIED:
            return DENY
    return ALLOW
