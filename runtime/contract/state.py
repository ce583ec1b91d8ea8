"""The mesh state table (DynamoDB): its key schema, the item kinds and their keys.

One table holds forget tombstones, jobs (forget, offboarding), tenant records and sweep cursors. Items are
addressed by a partition key that starts with their kind, so IAM can confine each party to its kinds with
``dynamodb:LeadingKeys`` (a vended session reads its own tombstone only).
"""

from __future__ import annotations

__all__ = [
    "ACTOR_PREFIX", "CURSOR_SORT_KEY", "JOB_PREFIX", "JOB_SORT_KEY", "PARTITION_KEY", "RETENTION_SWEEP",
    "SORT_KEY", "SWEEP_PREFIX", "TENANT_PREFIX", "TENANT_SORT_KEY", "TOMBSTONE_SORT_KEY", "TTL_ATTRIBUTE",
    "job_key", "sweep_key", "tenant_key", "tombstone_key",
]

PARTITION_KEY = "pk"
SORT_KEY = "sk"
#: Epoch seconds after which DynamoDB's TTL may delete the item (jobs and their receipts age out).
TTL_ATTRIBUTE = "expires_at"

#: ``ACTOR#<tenant>:<actor>`` / ``TOMBSTONE``: ``{forgotten_at (epoch ms), job_id}``.
ACTOR_PREFIX = "ACTOR#"
TOMBSTONE_SORT_KEY = "TOMBSTONE"
#: ``JOB#<id>`` / ``JOB``: a forget or offboarding job, its progress, cursors and receipt.
JOB_PREFIX = "JOB#"
JOB_SORT_KEY = "JOB"
#: ``TENANT#<tenant>`` / ``TENANT``: the onboarding record of a tenant.
TENANT_PREFIX = "TENANT#"
TENANT_SORT_KEY = "TENANT"
#: ``SWEEP#retention`` / ``CURSOR``: where the retention sweep resumes.
SWEEP_PREFIX = "SWEEP#"
RETENTION_SWEEP = "retention"
CURSOR_SORT_KEY = "CURSOR"


def tombstone_key(tenant_id: str, actor_id: str) -> dict[str, str]:
    """The key of one user's forget tombstone."""
    return {PARTITION_KEY: f"{ACTOR_PREFIX}{tenant_id}:{actor_id}", SORT_KEY: TOMBSTONE_SORT_KEY}


def job_key(job_id: str) -> dict[str, str]:
    """The key of one job."""
    return {PARTITION_KEY: f"{JOB_PREFIX}{job_id}", SORT_KEY: JOB_SORT_KEY}


def tenant_key(tenant_id: str) -> dict[str, str]:
    """The key of one tenant's onboarding record."""
    return {PARTITION_KEY: f"{TENANT_PREFIX}{tenant_id}", SORT_KEY: TENANT_SORT_KEY}


def sweep_key(name: str = RETENTION_SWEEP) -> dict[str, str]:
    """The key of a sweep's cursor."""
    return {PARTITION_KEY: f"{SWEEP_PREFIX}{name}", SORT_KEY: CURSOR_SORT_KEY}
