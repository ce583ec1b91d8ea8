"""CloudFormation's per-stack limits, checked at synth so no accepted config yields an undeployable stack."""

from __future__ import annotations

import jsii
from aws_cdk import CfnResource, Stack
from constructs import IValidation

#: CloudFormation: 500 resources per stack; templates up to 1 MB (uploaded through the bootstrap bucket).
MAX_RESOURCES = 500
MAX_TEMPLATE_BYTES = 1_000_000


def count_resources(stack: Stack) -> int:
    return sum(1 for c in stack.node.find_all() if isinstance(c, CfnResource) and Stack.of(c) is stack)


@jsii.implements(IValidation)
class _ResourceLimit:
    def __init__(self, stack: Stack) -> None:
        self._stack = stack

    def validate(self) -> list[str]:
        n = count_resources(self._stack)
        if n > MAX_RESOURCES:
            return [f"{self._stack.stack_name} has {n} resources; CloudFormation allows {MAX_RESOURCES} per stack. "
                    "Declare fewer tenants in the config and onboard the rest at run time (docs/deploy.md#tenants)"]
        return []


def enforce_cloudformation_limits(stack: Stack) -> None:
    stack.node.add_validation(_ResourceLimit(stack))


def check_template_sizes(template_bytes: dict[str, int]) -> list[str]:
    """Problems for synthesized templates over the 1 MB limit (called by app.py after synth)."""
    return [f"{name}: template is {size} bytes; CloudFormation allows {MAX_TEMPLATE_BYTES}. Declare fewer tenants "
            "and onboard the rest at run time (docs/deploy.md#tenants)"
            for name, size in sorted(template_bytes.items()) if size > MAX_TEMPLATE_BYTES]

