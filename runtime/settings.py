"""Runtime configuration read once from the environment the constructs set on each Lambda.

The variables, their defaults and their rules are the shared contract (:mod:`runtime.contract.environment`);
this module keeps the runtime's names for them and two validators the clients use.
"""

from __future__ import annotations

from typing import Any

from runtime.contract import rules
from runtime.contract.environment import (
    DEFAULT_EMBEDDING_DIMENSION,
    DEFAULT_EMBEDDING_MODEL_ID,
    DEFAULT_RETENTION_DAYS,
    DEFAULT_SUMMARY_MODEL_ID,
    FunctionSettings,
    MemorySettings,
)
from runtime.contract.memory import DEFAULT_CONTENT_MAX_BYTES, DISTANCE_METRICS
from runtime.contract.memory import MAX_CONTENT_BYTES as CONTENT_MAX_BYTES_LIMIT
from runtime.errors import InvalidInputError

__all__ = [
    "CONTENT_MAX_BYTES_LIMIT",
    "DEFAULT_CONTENT_MAX_BYTES",
    "DEFAULT_EMBEDDING_DIMENSION",
    "DEFAULT_EMBEDDING_MODEL_ID",
    "DEFAULT_RETENTION_DAYS",
    "DEFAULT_SUMMARY_MODEL_ID",
    "DISTANCE_METRICS",
    "ENV_VARS",
    "FunctionSettings",
    "MemorySettings",
    "validate_region",
    "validate_role_arn",
]

#: Environment variable of each field, so errors name what the operator must fix.
ENV_VARS = dict(MemorySettings.VARIABLES)


def validate_region(value: Any, *, field: str = "region") -> str:
    """Return ``value`` if it is an AWS Region code such as ``us-east-1``."""
    if not rules.REGION.matches(value):
        raise InvalidInputError(field, value, f"must be {rules.REGION.sentence}")
    return value


def validate_role_arn(value: Any, *, field: str = "role_arn") -> str:
    """Return ``value`` if it is an IAM role ARN (``arn:<partition>:iam::<12 digits>:role/<path/name>``)."""
    if not rules.ROLE_ARN.matches(value):
        raise InvalidInputError(field, value, f"must be {rules.ROLE_ARN.sentence}")
    return value
