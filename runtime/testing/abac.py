"""Evaluates the token vending machine's IAM rules in-process, so tenant isolation is testable offline.

moto's STS accepts any session tags and nothing evaluates IAM, so without this a store that built the wrong
index name or namespace would still succeed in tests. The simulator remembers every sts:AssumeRole (its
request tags and the access key it returned) and then answers data-plane calls made with a tagged key the
way IAM would under the TVM role's policy (DESIGN.md, "Security model"):

- S3 Vectors: only the data-plane actions (and creating the index), and only on the user indexes
  ``bucket/<bucket>/index/<prefix><TenantID>.*`` (the actor's own with an ActorID tag); anything else is
  AccessDeniedException.
- AgentCore Memory: ``actorId`` must start with ``<TenantID>:`` (and equal ``<TenantID>:<ActorID>`` when the
  ActorID tag is present); a ``namespace``/``namespacePath`` must hold the actor segment ``/<TenantID>:``
  (``/<TenantID>:<ActorID>/`` with an ActorID tag); calls carrying neither are denied.
- Optionally, the TVM role's trust policy: AssumeRole on it must tag ``TenantID`` and use no other tag keys
  than ``TenantID``/``ActorID`` (``aws:TagKeys``); else STS answers AccessDenied.

Calls made with untagged credentials (service roles, the test's own keys) are not restricted.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from runtime.contract.memory import user_index_name
from runtime.testing._model import ServiceError
from runtime.testing.s3vectors_fake import partition_for

TENANT_TAG = "TenantID"
ACTOR_TAG = "ActorID"

#: What the TVM policy grants on the tenant's own index.
S3VECTORS_TENANT_ACTIONS = frozenset(
    {"PutVectors", "GetVectors", "ListVectors", "QueryVectors", "DeleteVectors", "GetIndex", "CreateIndex"}
)
#: AgentCore actions the TVM grants on actor ids ``<TenantID>:*`` (``bedrock-agentcore:actorId``).
AGENTCORE_ACTOR_ACTIONS = frozenset({"CreateEvent", "GetEvent", "ListEvents", "ListSessions"})
#: AgentCore actions the TVM grants on namespaces ``<root><TenantID>:*`` (``bedrock-agentcore:namespace``).
AGENTCORE_NAMESPACE_ACTIONS = frozenset({"RetrieveMemoryRecords", "ListMemoryRecords"})
#: What the memory home's TVM also grants on the caller's own events and records (session deletion, and
#: PATCH / DELETE /memories/{key}), as the constructs' SESSION_RECORDS_BY_ID does, on the namespace. No batch
#: delete: forget erases with its own role.
AGENTCORE_ACTOR_DELETE_ACTIONS = frozenset({"DeleteEvent"})
AGENTCORE_NAMESPACE_DELETE_ACTIONS = frozenset({"GetMemoryRecord", "DeleteMemoryRecord", "BatchUpdateMemoryRecords"})
#: The namespace roots of the AgentMemory strategies (constructs_lib.agent_memory.NAMESPACE_ROOTS).
NAMESPACE_ROOTS = ("/summaries/", "/facts/", "/preferences/")


@dataclass(frozen=True)
class AssumedSession:
    """One sts:AssumeRole the emulation answered: who asked for what, and the key it handed out."""

    access_key_id: str
    role_arn: str
    role_session_name: str
    tags: Mapping[str, str] = field(default_factory=dict)
    source_identity: str | None = None
    external_id: str | None = None
    duration_seconds: int | None = None

    def tag(self, key: str) -> str | None:
        """A session tag's value; IAM compares tag keys case-insensitively."""
        for name, value in self.tags.items():
            if name.lower() == key.lower():
                return value
        return None

    @property
    def tenant_id(self) -> str | None:
        return self.tag(TENANT_TAG)

    @property
    def actor_id(self) -> str | None:
        return self.tag(ACTOR_TAG)

    def principal_arn(self, account_id: str) -> str:
        role_name = self.role_arn.rsplit("/", 1)[-1]
        return f"arn:aws:sts::{account_id}:assumed-role/{role_name}/{self.role_session_name}"


class AbacSimulator:
    """Remembers vended sessions and enforces the TVM policy on calls made with their keys."""

    def __init__(self, *, account_id: str, region: str) -> None:
        self.account_id = account_id
        self.region = region
        self.enabled = True
        self.bucket_name: str | None = None
        self.index_prefix = ""
        self.tvm_role_arn: str | None = None
        self.memory_ids: frozenset[str] | None = None
        self.allowed_tag_keys: frozenset[str] = frozenset({TENANT_TAG, ACTOR_TAG})
        self.s3vectors_actions: frozenset[str] = S3VECTORS_TENANT_ACTIONS
        self._lock = threading.Lock()
        self._sessions: dict[str, AssumedSession] = {}
        self._calls: list[AssumedSession] = []

    def configure(
        self,
        *,
        bucket_name: str,
        index_prefix: str = "",
        tvm_role_arn: str | None = None,
        memory_ids: Iterable[str] | None = None,
        allowed_tag_keys: Iterable[str] = (TENANT_TAG, ACTOR_TAG),
        s3vectors_actions: Iterable[str] = S3VECTORS_TENANT_ACTIONS,
    ) -> None:
        """Set what the TVM policy names: the vector bucket, the index prefix, the role, the memories and
        the S3 Vectors actions granted on the tenant's index."""
        self.bucket_name = bucket_name
        self.index_prefix = index_prefix
        self.tvm_role_arn = tvm_role_arn
        self.memory_ids = frozenset(memory_ids) if memory_ids is not None else None
        self.allowed_tag_keys = frozenset(allowed_tag_keys)
        self.s3vectors_actions = frozenset(s3vectors_actions)

    def enable(self) -> None:
        self.enabled = True

    def disable(self) -> None:
        """Stop enforcing (sessions are still recorded)."""
        self.enabled = False

    # ------------------------------------------------------------------------------------------ records

    @property
    def sessions(self) -> list[AssumedSession]:
        """Every AssumeRole answered so far, in order."""
        with self._lock:
            return list(self._calls)

    def assume_role_calls(self, role_arn: str | None = None) -> list[AssumedSession]:
        """AssumeRole calls, optionally only those on one role."""
        return [s for s in self.sessions if role_arn in (None, s.role_arn)]

    def session_for(self, access_key_id: str) -> AssumedSession | None:
        """The session an access key came from, if the emulation vended it."""
        with self._lock:
            return self._sessions.get(access_key_id)

    def record_assume_role(self, params: Mapping[str, Any], parsed: Mapping[str, Any]) -> None:
        """Remember a successful AssumeRole (called from the 'after-call' hook)."""
        credentials = parsed.get("Credentials") or {}
        key = credentials.get("AccessKeyId")
        if not key:
            return
        session = AssumedSession(
            access_key_id=key,
            role_arn=params.get("RoleArn", ""),
            role_session_name=params.get("RoleSessionName", ""),
            tags=MappingProxyType({t["Key"]: t["Value"] for t in params.get("Tags") or []}),
            source_identity=params.get("SourceIdentity"),
            external_id=params.get("ExternalId"),
            duration_seconds=params.get("DurationSeconds"),
        )
        with self._lock:
            self._sessions[key] = session
            self._calls.append(session)

    # ------------------------------------------------------------------------------------------ checks

    def check_assume_role(self, params: Mapping[str, Any]) -> None:
        """The TVM role's trust policy: TenantID must be tagged, and only the allowed tag keys used."""
        if not self.enabled or not self.tvm_role_arn or params.get("RoleArn") != self.tvm_role_arn:
            return
        keys = {t["Key"] for t in params.get("Tags") or []}
        tenant = next((t["Value"] for t in params.get("Tags") or [] if t["Key"] == TENANT_TAG), "")
        if not tenant or not keys <= self.allowed_tag_keys:
            raise ServiceError(
                "AccessDenied",
                f"User: arn:aws:iam::{self.account_id}:user/emulated is not authorized to perform: "
                f"sts:TagSession on resource: {self.tvm_role_arn}",
                status=403,
            )

    def check(self, service: str, operation: str, params: Mapping[str, Any], access_key: str | None) -> None:
        """Raise AccessDeniedException as IAM would for a call made with a tenant-tagged key."""
        if not self.enabled or access_key is None:
            return
        session = self.session_for(access_key)
        if session is None or not session.tags:
            return
        if service == "s3vectors":
            self._check_s3vectors(session, operation, params)
        elif service == "bedrock-agentcore":
            self._check_agentcore(session, operation, params)

    def index_allowed(self, resource: str, tenant_id: str, actor_id: str | None) -> bool:
        """A user index of the session's tenant (``<prefix><TenantID>.*``), the actor's own with an ActorID tag."""
        base = (f"arn:{partition_for(self.region)}:s3vectors:{self.region}:{self.account_id}:"
                f"bucket/{self.bucket_name}/index/")
        if actor_id is not None:
            return resource == base + user_index_name(self.index_prefix, tenant_id, actor_id)
        return resource.startswith(f"{base}{self.index_prefix}{tenant_id}.")

    def _deny(self, session: AssumedSession, service: str, operation: str, resource: str) -> ServiceError:
        return ServiceError(
            "AccessDeniedException",
            f"User: {session.principal_arn(self.account_id)} is not authorized to perform: "
            f"{service}:{operation} on resource: {resource} because no identity-based policy allows the "
            f"{service}:{operation} action",
        )

    def _check_s3vectors(self, session: AssumedSession, operation: str, params: Mapping[str, Any]) -> None:
        partition = partition_for(self.region)
        bucket_arn = f"arn:{partition}:s3vectors:{self.region}:{self.account_id}:bucket/"
        if params.get("indexArn"):
            resource = params["indexArn"]
        elif params.get("indexName"):
            resource = f"{bucket_arn}{params.get('vectorBucketName', '')}/index/{params['indexName']}"
        else:
            resource = params.get("vectorBucketArn") or f"{bucket_arn}{params.get('vectorBucketName', '*')}"
        tenant = session.tenant_id
        allowed = (
            tenant is not None
            and self.bucket_name is not None
            and operation in self.s3vectors_actions
            and self.index_allowed(resource, tenant, session.actor_id)
        )
        if not allowed:
            raise self._deny(session, "s3vectors", operation, resource)
        # QueryVectors and ListVectors API references: filters, metadata, data or queryTexts in the answer
        # also need s3vectors:GetVectors.
        reads_more = (
            operation == "QueryVectors"
            and any(params.get(k) for k in ("filter", "returnMetadata", "queryTexts"))
            or operation == "ListVectors"
            and any(params.get(k) for k in ("returnData", "returnMetadata"))
        )
        if reads_more and "GetVectors" not in self.s3vectors_actions:
            raise self._deny(session, "s3vectors", "GetVectors", resource)

    def _check_agentcore(self, session: AssumedSession, operation: str, params: Mapping[str, Any]) -> None:
        memory_id = str(params.get("memoryId", "")).rsplit("memory/", 1)[-1]
        resource = f"arn:aws:bedrock-agentcore:{self.region}:{self.account_id}:memory/{memory_id}"
        tenant, actor = session.tenant_id, session.actor_id
        if tenant is None or (self.memory_ids is not None and memory_id not in self.memory_ids):
            raise self._deny(session, "bedrock-agentcore", operation, resource)
        if operation in AGENTCORE_ACTOR_ACTIONS | AGENTCORE_ACTOR_DELETE_ACTIONS:
            actor_id = params.get("actorId", "")
            ok = actor_id.startswith(f"{tenant}:") and (actor is None or actor_id == f"{tenant}:{actor}")
        elif operation in AGENTCORE_NAMESPACE_ACTIONS | AGENTCORE_NAMESPACE_DELETE_ACTIONS:
            namespaces = _namespaces_of(operation, params)
            ok = bool(namespaces) and all(_namespace_allowed(ns, tenant, actor) for ns in namespaces)
        else:
            ok = False
        if not ok:
            raise self._deny(session, "bedrock-agentcore", operation, resource)


def _namespaces_of(operation: str, params: Mapping[str, Any]) -> list[str | None]:
    if operation == "BatchDeleteMemoryRecords":
        return [r.get("namespace") for r in params.get("records") or []]
    if operation in ("BatchCreateMemoryRecords", "BatchUpdateMemoryRecords"):
        found: list[str | None] = []
        for record in params.get("records") or []:
            names = [*(record.get("namespaces") or []), *(record.get("sourceNamespaces") or [])]
            found.extend(names or [None])
        return found
    return [params.get("namespace") or params.get("namespacePath")]


def _namespace_allowed(namespace: str | None, tenant: str, actor: str | None) -> bool:
    """StringLike ``<root><TenantID>:*`` (or ``<root><TenantID>:<ActorID>/*``), as the TVM policy says."""
    if not namespace:
        return False
    owned = f"{tenant}:" if actor is None else f"{tenant}:{actor}/"
    return any(namespace.startswith(root + owned) for root in NAMESPACE_ROOTS)
