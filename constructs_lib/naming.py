"""Name rules shared by the constructs and the deployment config (kept equal to runtime.identity by a test)."""

from __future__ import annotations

import re

# Tenant ids end up in an STS tag value, an S3 Vectors index name (<prefix><tenant>, 3-63 chars of [a-z0-9-.])
# and an AgentCore actor id / namespace, so they use the intersection of those alphabets.
TENANT_ID_MIN = 3
TENANT_ID_MAX = 40
TENANT_ID_PATTERN = re.compile(r"^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$")
INDEX_PREFIX_PATTERN = re.compile(r"^[a-z0-9][a-z0-9.-]{0,19}$")
MIN_INDEX_NAME_LENGTH = 3
MAX_INDEX_NAME_LENGTH = 63
# S3 Vectors bucket names: 3-63 chars, lowercase letters, digits and hyphens, start and end alphanumeric.
VECTOR_BUCKET_NAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$")
MESH_NAME_PATTERN = re.compile(r"^[a-z][a-z0-9-]{2,23}$")
# Worker names also name agents and roles: single hyphens between letters/digits, no trailing hyphen.
WORKER_NAME_PATTERN = re.compile(r"^[a-z](?:[a-z0-9]|-(?=[a-z0-9])){0,23}$")
# Session tag keys the token vending machine accepts (aws:TagKeys).
TENANT_TAG = "TenantID"
ACTOR_TAG = "ActorID"
