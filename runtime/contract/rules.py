"""Every identifier rule of the mesh, once: the pattern, the lengths and the sentence that explains it.

The constructs, the deployment config and the runtime all validate with these rules, so a value accepted at
synth is accepted by the Lambdas and agents, and the other way round. Each rule is the intersection of the AWS
places its value reaches (noted per rule); none admits an IAM or namespace wildcard (``* ? $ { }``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

__all__ = [
    "ACCOUNT_ID", "ACTOR_ID", "AGENTCORE_RUNTIME_ARN", "AGENTCORE_RUNTIME_ENDPOINT_ARN", "AGENT_NAME",
    "BEDROCK_AGENT_ID", "BEDROCK_ALIAS_ID", "CLAIM_NAME", "EMAIL", "EXTERNAL_ID", "HTTPS_URL", "INDEX_PREFIX",
    "KMS_KEY_ARN", "LOG_GROUP_PREFIX", "MEMORY_ARN", "MEMORY_ID", "MEMORY_NAME", "MESH_NAME", "MODEL_ID",
    "ORG_ID", "QUEUE_URL", "REGION", "ROLE_ARN", "ROLE_NAME", "Rule", "SCHEDULE", "SESSION_ID", "TABLE_NAME",
    "TENANT_ID", "VECTOR_BUCKET_ARN", "VECTOR_BUCKET_NAME", "WORKER_NAME",
]

_PARTITION = r"aws(?:-[a-z]+)*"
_REGION = r"[a-z]{2}(?:-[a-z]+)+-\d{1,2}"


@dataclass(frozen=True)
class Rule:
    """A named identifier rule: ``value`` is valid when it is a string of allowed length matching ``pattern``."""

    name: str
    pattern: re.Pattern[str]
    sentence: str
    min_len: int = 1
    max_len: int = 2048

    def matches(self, value: Any) -> bool:
        """True when ``value`` is a string that satisfies the rule."""
        return (
            isinstance(value, str)
            and self.min_len <= len(value) <= self.max_len
            and self.pattern.fullmatch(value) is not None
        )

    def match(self, value: str) -> re.Match[str] | None:
        """The regex match (for the named groups), or None when the value breaks the rule."""
        return self.pattern.fullmatch(value) if self.matches(value) else None


def _rule(name: str, pattern: str, sentence: str, min_len: int = 1, max_len: int = 2048) -> Rule:
    return Rule(name, re.compile(pattern), sentence, min_len, max_len)


# -- who a request acts for --------------------------------------------------------------------------------

# STS tag value, S3 Vectors index name part, AgentCore actor id / namespace part, role session name part.
TENANT_ID = _rule(
    "tenant id", r"[a-z0-9](?:[a-z0-9-]*[a-z0-9])?",
    "3-40 lowercase letters, digits and '-', starting and ending with a letter or digit", 3, 40)
# AgentCore actor id part, STS tag value and SourceIdentity (2-64), role session name part. Derived actor ids
# are 64 hex characters (SHA-256 of issuer and subject).
ACTOR_ID = _rule(
    "actor id", r"[a-z0-9][a-z0-9_-]*",
    "1-64 lowercase letters, digits, '-' and '_', starting with a letter or digit", 1, 64)
# AgentCore sessionId allows '_' but not '.' or ':'; Bedrock Agents sessionId allows '.' and ':' but not '_'.
SESSION_ID = _rule(
    "session id", r"[A-Za-z0-9][A-Za-z0-9-]*",
    "2-100 letters, digits and '-', starting with a letter or digit (fits AgentCore and Bedrock Agents "
    "session ids)", 2, 100)
AGENT_NAME = _rule(
    "agent name", r"[A-Za-z0-9]+(?:[_-][A-Za-z0-9]+)*",
    "1-64 letters and digits, optionally separated by single '-' or '_'", 1, 64)

# -- names in the deployment ---------------------------------------------------------------------------------

# Worker names also name roles ("<mesh>-worker-<name>") and the handoff signal.
WORKER_NAME = _rule(
    "worker name", r"[a-z](?:[a-z0-9]|-(?=[a-z0-9]))*",
    "1-24 lowercase letters, digits and single '-' between them, starting with a letter", 1, 24)
MESH_NAME = _rule(
    "mesh name", r"[a-z][a-z0-9-]*", "3-24 lowercase letters, digits and '-', starting with a letter", 3, 24)
# S3 Vectors index names are 3-63 of [a-z0-9.-]; the prefix starts every index name of the mesh.
INDEX_PREFIX = _rule(
    "index prefix", r"[a-z0-9][a-z0-9.-]*",
    "1-20 lowercase letters, digits, '-' or '.', starting with a letter or digit", 1, 20)
VECTOR_BUCKET_NAME = _rule(
    "vector bucket name", r"[a-z0-9][a-z0-9-]*[a-z0-9]",
    "3-63 lowercase letters, digits and '-', starting and ending with a letter or digit", 3, 63)
VECTOR_BUCKET_ARN = _rule(
    "vector bucket ARN",
    rf"arn:{_PARTITION}:s3vectors:(?P<region>{_REGION}):(?P<account>\d{{12}}):bucket/(?P<name>[a-z0-9][a-z0-9-]{{1,61}}[a-z0-9])",
    "an S3 Vectors bucket ARN arn:aws:s3vectors:<region>:<account>:bucket/<name>")
MEMORY_NAME = _rule(
    "memory name", r"[a-zA-Z][a-zA-Z0-9_]*", "1-48 letters, digits and '_', starting with a letter", 1, 48)
MEMORY_ID = _rule(
    "memory id",
    rf"(?:arn:{_PARTITION}:bedrock-agentcore:{_REGION}:\d{{12}}:memory/)?[a-zA-Z][a-zA-Z0-9_-]{{0,99}}-[a-zA-Z0-9]{{10}}",
    "an AgentCore Memory id such as 'mesh_memory-AbCdE12345' or its ARN")
MEMORY_ARN = _rule(
    "memory ARN",
    rf"arn:{_PARTITION}:bedrock-agentcore:(?P<region>{_REGION}):(?P<account>\d{{12}}):memory/"
    r"(?P<id>[a-zA-Z][a-zA-Z0-9_-]{0,99}-[a-zA-Z0-9]{10})",
    "an AgentCore Memory ARN arn:aws:bedrock-agentcore:<region>:<account>:memory/<id>")
TABLE_NAME = _rule(
    "table name", r"[A-Za-z0-9_.-]+", "3-255 letters, digits, '_', '-' and '.' (a DynamoDB table name)", 3, 255)

# -- AWS identifiers ------------------------------------------------------------------------------------------

ACCOUNT_ID = _rule("account id", r"\d{12}", "a 12-digit AWS account id", 12, 12)
REGION = _rule("region", _REGION, "an AWS Region code such as 'us-east-1'", 9, 25)
ROLE_NAME = _rule("role name", r"[\w+=,.@-]+", "1-64 letters, digits and +=,.@_-", 1, 64)
ROLE_ARN = _rule(
    "role ARN", rf"arn:{_PARTITION}:iam::(?P<account>\d{{12}}):role/(?:[\w+=,.@-]+/)*(?P<name>[\w+=,.@-]{{1,64}})",
    "an IAM role ARN such as 'arn:aws:iam::123456789012:role/name'")
# sts:AssumeRole ExternalId.
EXTERNAL_ID = _rule("external id", r"[\w+=,.@:/-]+", "2-1224 letters, digits and _+=,.@:/-", 2, 1224)
ORG_ID = _rule("organization id", r"o-[a-z0-9]{10,32}", "an AWS Organizations id such as 'o-a1b2c3d4e5'")
KMS_KEY_ARN = _rule(
    "KMS key ARN",
    rf"arn:{_PARTITION}:kms:(?P<region>{_REGION}):(?P<account>\d{{12}}):key/(?:[a-f0-9-]{{36}}|mrk-[a-f0-9]{{32}})",
    "a KMS key ARN arn:aws:kms:<region>:<account>:key/<key-id>")
QUEUE_URL = _rule(
    "queue URL",
    r"https://(?:sqs\.[a-z0-9-]+\.amazonaws\.com(?:\.cn)?|queue\.amazonaws\.com)/\d{12}/[A-Za-z0-9_-]{1,80}(?:\.fifo)?",
    "an SQS queue URL such as 'https://sqs.us-east-1.amazonaws.com/123456789012/name'")
BEDROCK_AGENT_ID = _rule("agent id", r"[0-9a-zA-Z]{10}", "a Bedrock agent id (10 letters or digits)")
BEDROCK_ALIAS_ID = _rule(
    "alias id", r"TSTALIASID|[0-9a-zA-Z]{10}", "a Bedrock agent alias id (10 letters or digits, or TSTALIASID)")
AGENTCORE_RUNTIME_ARN = _rule(
    "runtime ARN",
    rf"arn:{_PARTITION}:bedrock-agentcore:(?P<region>{_REGION}):(?P<account>\d{{12}}):"
    r"runtime/[a-zA-Z][a-zA-Z0-9_]{0,99}-[a-zA-Z0-9]{10}",
    "an AgentCore Runtime ARN arn:aws:bedrock-agentcore:<region>:<account>:runtime/<name>-<id>")
AGENTCORE_RUNTIME_ENDPOINT_ARN = _rule(
    "runtime or runtime endpoint ARN",
    AGENTCORE_RUNTIME_ARN.pattern.pattern + r"(?:/runtime-endpoint/[a-zA-Z][a-zA-Z0-9_]{0,47})?",
    "an AgentCore Runtime ARN ...:runtime/<name>-<id>, optionally with /runtime-endpoint/<endpoint>")
# Foundation-model ids, cross-Region inference profile ids (us.…, eu.…) and model/profile ARNs.
MODEL_ID = _rule(
    "model id",
    rf"arn:{_PARTITION}:(?:bedrock|sagemaker):[a-z0-9-]*:\d{{0,12}}:[A-Za-z0-9:/._-]+|[a-z0-9][a-z0-9.:_-]*",
    "a Bedrock model id, inference profile id or ARN such as 'amazon.titan-embed-text-v2:0'", 3, 2048)

# -- API, operations ------------------------------------------------------------------------------------------

# An OIDC issuer: https, a host, an optional port and path, no query or fragment.
HTTPS_URL = _rule(
    "https URL", r"https://[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?(?::\d{1,5})?(?:/[^\s?#]*)?",
    "an https:// URL with a host and no query or fragment, such as "
    "'https://cognito-idp.us-east-1.amazonaws.com/us-east-1_EXAMPLE01'", 9, 2048)
CLAIM_NAME = _rule("claim name", r"[A-Za-z0-9_:.\-]+", "a JWT claim name of 1-128 letters, digits and _:.-", 1, 128)
# EventBridge Scheduler: cron() with six fields, rate(<n> <unit>) or at(<yyyy-mm-ddThh:mm:ss>).
SCHEDULE = _rule(
    "schedule",
    r"cron\((?:\S+ ){5}\S+\)|rate\([1-9]\d* (?:minute|minutes|hour|hours|day|days)\)"
    r"|at\(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\)",
    "an EventBridge Scheduler expression such as 'cron(15 3 * * ? *)', 'rate(1 day)' or "
    "'at(2030-01-01T00:00:00)'", 7, 256)
EMAIL = _rule("e-mail address", r"[^@\s]+@[^@\s]+\.[^@\s]+", "an e-mail address such as 'ops@example.com'", 3, 254)
# CloudWatch Logs group names: 1-512 of [.\-_/#A-Za-z0-9]; the prefix is followed by "/<function>".
LOG_GROUP_PREFIX = _rule(
    "log group prefix", r"/[.\-_/#A-Za-z0-9]*[^/]",
    "2-400 characters starting with '/', then letters, digits and . - _ / #, not ending with '/'", 2, 400)
