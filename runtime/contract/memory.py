"""The memory data schema and the service limits both the constructs and the runtime rely on.

- Session tags and isolation levels (what the token vending machine's policies key on).
- The S3 Vectors layout: one index per (tenant, user), its name and tags, the metadata keys.
- The AgentCore Memory layout: actor ids and the namespaces of the three long-term strategies.
- The embedding models and the dimensions each accepts.
"""

from __future__ import annotations

import base64
import hashlib

from runtime.contract import rules

__all__ = [
    "ACTOR_TAG", "AGENTCORE", "DEFAULT_CONTENT_MAX_BYTES", "DISTANCE_METRICS", "EMBEDDING_MODEL_DIMENSIONS",
    "FACTS_NAMESPACE", "FILTERABLE_METADATA_KEYS", "INDEX_NAME_MAX", "ISOLATION_LEVELS", "ISOLATION_TENANT",
    "ISOLATION_USER", "MAX_CONTENT_BYTES", "MEMORY_KINDS", "NAMESPACE_ROOTS", "NAMESPACE_TEMPLATES",
    "NON_FILTERABLE_METADATA_KEYS", "PREFERENCES_NAMESPACE", "S3VECTORS", "SESSION_TAG_KEYS", "SUMMARY_NAMESPACE",
    "TENANT_TAG", "USER_PART_MAX", "USER_PART_MIN", "actor_namespaces", "agentcore_actor_id", "base_model_id",
    "index_name_problem", "tenant_index_prefix", "user_index_name",
]

# -- session tags and isolation -------------------------------------------------------------------------------

#: STS session tags the token vending machine accepts (``aws:TagKeys``) and its policies name.
TENANT_TAG = "TenantID"
ACTOR_TAG = "ActorID"
SESSION_TAG_KEYS = (TENANT_TAG, ACTOR_TAG)
#: ``tenant``: a vended session reaches every user of one tenant. ``user``: exactly one user of one tenant.
ISOLATION_TENANT = "tenant"
ISOLATION_USER = "user"
ISOLATION_LEVELS = (ISOLATION_TENANT, ISOLATION_USER)

# -- S3 Vectors --------------------------------------------------------------------------------------------

# Amazon S3 Vectors limits (S3 User Guide, "Limitations and restrictions"; botocore s3vectors model).
class S3VECTORS:  # noqa: N801 - a namespace of constants
    """S3 Vectors service limits."""

    MAX_VECTORS_PER_PUT = 500
    MAX_KEYS_PER_DELETE = 500
    MAX_KEYS_PER_GET = 100
    MAX_TOP_K = 100
    MAX_LIST_PAGE = 1000
    MAX_INDEX_LIST_PAGE = 500
    MAX_DIMENSION = 4096
    MAX_VECTOR_KEY_CHARS = 1024
    MAX_METADATA_BYTES = 40 * 1024
    MAX_FILTERABLE_METADATA_BYTES = 2 * 1024
    MAX_METADATA_KEYS = 50
    MAX_NON_FILTERABLE_KEYS = 10
    INDEXES_PER_BUCKET = 10_000


DISTANCE_METRICS = ("cosine", "euclidean")
#: Filterable metadata the runtime writes and filters on; ``content`` (and the history pointers) are stored
#: but never filtered on, so they may exceed the 2 KB filterable budget.
FILTERABLE_METADATA_KEYS = ("actor", "agent", "session", "type", "stored_at", "expires_at", "state")
NON_FILTERABLE_METADATA_KEYS = ("content", "supersedes", "superseded_by", "normalized")
DEFAULT_CONTENT_MAX_BYTES = 16384
#: Stored text may use what the 40 KB metadata budget leaves after 2 KB of filterable metadata and 2 KB of
#: JSON quoting headroom.
MAX_CONTENT_BYTES = 36 * 1024

INDEX_NAME_MAX = 63
#: Characters of the user part of an index name: at least 13 base32 characters (65 bits), at most 26 (130).
USER_PART_MIN = 13
USER_PART_MAX = 26


def tenant_index_prefix(index_prefix: str, tenant_id: str) -> str:
    """``<index_prefix><tenant_id>.``: every index of the tenant starts with it ('.' never occurs in a tenant id)."""
    return f"{index_prefix}{tenant_id}."


def index_name_problem(index_prefix: str, tenant_id: str) -> str | None:
    """Why ``<index_prefix><tenant_id>`` leaves too little room for the user part of an index name, or None."""
    room = INDEX_NAME_MAX - len(tenant_index_prefix(index_prefix, tenant_id))
    if room < USER_PART_MIN:
        longest = INDEX_NAME_MAX - 1 - USER_PART_MIN
        return (f"index_prefix {index_prefix!r} and tenant id together must be at most {longest} characters, so "
                f"the index '<prefix><tenant>.<user>' fits S3 Vectors' {INDEX_NAME_MAX} characters")
    return None


def user_index_name(index_prefix: str, tenant_id: str, actor_id: str) -> str:
    """The S3 Vectors index of one user: ``<prefix><tenant>.<base32 of SHA-256(tenant NUL actor)>``.

    Deterministic, so every writer finds the same index without a lookup. Identity is bound by the index's
    ``TenantID``/``ActorID`` tags, which IAM checks; the name only has to be unique, and the tenant part lets one
    tenant's indexes be listed by prefix.
    """
    prefix = tenant_index_prefix(index_prefix, tenant_id)
    room = min(USER_PART_MAX, INDEX_NAME_MAX - len(prefix))
    if room < USER_PART_MIN:
        raise ValueError(index_name_problem(index_prefix, tenant_id))
    digest = hashlib.sha256(f"{tenant_id}\x00{actor_id}".encode()).digest()
    user_part = base64.b32encode(digest).decode("ascii").lower().rstrip("=")
    return prefix + user_part[:room]


# -- AgentCore Memory --------------------------------------------------------------------------------------

class AGENTCORE:  # noqa: N801 - a namespace of constants
    """AgentCore Memory limits (botocore bedrock-agentcore model; AgentCore quotas)."""

    MAX_TURN_CHARS = 100_000
    MAX_SEARCH_QUERY_CHARS = 10_000
    MAX_PAGE = 100
    MAX_BATCH_RECORDS = 100
    MAX_RECORD_TEXT = 16_000
    MAX_ACTOR_ID_CHARS = 255
    EVENT_EXPIRY_DAYS = (7, 365)


#: Long-term namespaces of the three strategies. The actor id is ``<tenant>:<actor>``, so IAM conditions on
#: ``<root>${TenantID}:...`` confine a session to its tenant (and user).
SUMMARY_NAMESPACE = "/summaries/{actorId}/{sessionId}/"
FACTS_NAMESPACE = "/facts/{actorId}/"
PREFERENCES_NAMESPACE = "/preferences/{actorId}/"
NAMESPACE_ROOTS = ("/summaries/", "/facts/", "/preferences/")
#: The namespace (path) of each long-term kind for one actor; summaries sit one level down, per session.
NAMESPACE_TEMPLATES = {
    "summary": "/summaries/{actorId}/",
    "fact": "/facts/{actorId}/",
    "preference": "/preferences/{actorId}/",
}
#: Kinds of memory: the three long-term strategies, conversation turns and notes agents add.
MEMORY_KINDS = ("summary", "fact", "preference", "turn", "note")


def agentcore_actor_id(tenant_id: str, actor_id: str) -> str:
    """AgentCore Memory actor id ``<tenant>:<actor>``, so IAM conditions can scope by tenant (and user)."""
    return f"{tenant_id}:{actor_id}"


def actor_namespaces(agentcore_actor: str) -> dict[str, str]:
    """The actor's long-term namespace per kind."""
    return {kind: template.format(actorId=agentcore_actor) for kind, template in NAMESPACE_TEMPLATES.items()}


# -- embedding models -----------------------------------------------------------------------------------------

#: Embedding models the runtime supports and the output sizes each accepts.
EMBEDDING_MODEL_DIMENSIONS: dict[str, tuple[int, ...]] = {
    "amazon.titan-embed-text-v2:0": (256, 512, 1024),
    "amazon.nova-2-multimodal-embeddings-v1:0": (256, 384, 1024, 3072),
}
#: Cross-Region inference profile prefixes (``us.amazon.nova-...``).
GEO_PREFIXES = ("us", "eu", "apac", "us-gov", "global", "ca", "jp", "au")


def base_model_id(model_id: str) -> str:
    """The foundation model behind an id, inference profile id or ARN (``us.x`` and ``.../x`` give ``x``)."""
    model = model_id.rsplit("/", 1)[-1]
    head, _, rest = model.partition(".")
    return rest if head in GEO_PREFIXES and rest else model


def embedding_problem(model_id: str, dimension: int) -> str | None:
    """Why the model cannot embed at ``dimension``, or None."""
    allowed = EMBEDDING_MODEL_DIMENSIONS.get(base_model_id(model_id))
    if allowed is None:
        return f"must be one of {', '.join(sorted(EMBEDDING_MODEL_DIMENSIONS))} (or an inference profile of one)"
    if dimension not in allowed:
        return f"{base_model_id(model_id)} embeds at {', '.join(map(str, allowed))}"
    return None


# Every tenant id is valid in every place it reaches only together with a prefix that leaves room.
assert rules.TENANT_ID.max_len + rules.INDEX_PREFIX.min_len + 1 + USER_PART_MIN <= INDEX_NAME_MAX
