"""CloudFormation's per-stack limits, checked at synth so no accepted config yields an undeployable stack."""

from __future__ import annotations

import jsii
from aws_cdk import CfnResource, Stack
from constructs import IValidation

#: CloudFormation: 500 resources per stack; templates up to 1 MB (uploaded through the bootstrap bucket).
MAX_RESOURCES = 500
MAX_TEMPLATE_BYTES = 1_000_000


def count_resources(stack: Stack) -> int:
    """How many CloudFormation resources ``stack``'s own template holds."""
    return sum(1 for c in stack.node.find_all() if isinstance(c, CfnResource) and Stack.of(c) is stack)


@jsii.implements(IValidation)
class _ResourceLimit:
    def __init__(self, stack: Stack) -> None:
        self._stack = stack

    def validate(self) -> list[str]:
        n = count_resources(self._stack)
        if n > MAX_RESOURCES:
            return [f"{self._stack.stack_name} has {n} resources; CloudFormation allows {MAX_RESOURCES} per stack. "
                    "Split the memory home into a data stack and a compute stack (docs/deploy.md#splitting-the-"
                    "memory-home)"]
        return []


def enforce_cloudformation_limits(stack: Stack) -> None:
    """Make synth fail when ``stack`` has more resources than CloudFormation allows in one stack."""
    stack.node.add_validation(_ResourceLimit(stack))


def check_template_sizes(template_bytes: dict[str, int]) -> list[str]:
    """Problems for synthesized templates over the 1 MB limit (called by app.py after synth)."""
    return [f"{name}: template is {size} bytes; CloudFormation allows {MAX_TEMPLATE_BYTES}. Split the memory home "
            "into a data stack and a compute stack (docs/deploy.md#splitting-the-memory-home)"
            for name, size in sorted(template_bytes.items()) if size > MAX_TEMPLATE_BYTES]

