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

__all__ = [
    "Decision",
    "PolicyError",
    "Principal",
    "Reason",
    "Request",
    "ResourcePolicyKind",
    "UndocumentedEvaluation",
    "evaluate",
    "is_allowed",
]
