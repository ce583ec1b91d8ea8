"""An offline IAM policy evaluator and the request context each emulated AWS operation carries."""

from runtime.testing.iam.conditions import PolicyError, UndocumentedEvaluation
from runtime.testing.iam.evaluate import (
    Decision,
    Reason,
    Request,
    ResourcePolicyKind,
    evaluate,
    is_allowed,
)
from runtime.testing.iam.principals import Principal
from runtime.testing.iam.sources import MissingRequestData
from runtime.testing.iam.table import (
    AuthorizationCheck,
    UnknownOperation,
    authorization_checks,
    request_context,
)

__all__ = [
    "AuthorizationCheck",
    "Decision",
    "MissingRequestData",
    "PolicyError",
    "Principal",
    "Reason",
    "Request",
    "ResourcePolicyKind",
    "UndocumentedEvaluation",
    "UnknownOperation",
    "authorization_checks",
    "evaluate",
    "is_allowed",
    "request_context",
]
