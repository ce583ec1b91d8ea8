"""CloudFormation intrinsics resolved against emulated resources: Ref, GetAtt, Join, Sub, Select, Split, If,
ImportValue and the pseudo parameters."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

_SUB_VARIABLE = re.compile(r"\$\{([^}!][^}]*)\}")


class UnresolvableIntrinsic(ValueError):
    """A template value the emulation cannot resolve (an unknown function or a missing export)."""


class Resolver:
    """Resolves one stack's template values; ``ref`` and ``get_att`` answer for its resources."""

    def __init__(
        self,
        *,
        stack_name: str,
        account: str,
        region: str,
        partition: str,
        ref: Callable[[str], str],
        get_att: Callable[[str, str], Any],
        import_value: Callable[[str], Any],
        conditions: Mapping[str, Any],
    ) -> None:
        self.pseudo = {
            "AWS::AccountId": account,
            "AWS::Region": region,
            "AWS::Partition": partition,
            "AWS::URLSuffix": "amazonaws.com.cn" if partition == "aws-cn" else "amazonaws.com",
            "AWS::StackName": stack_name,
            "AWS::StackId": f"arn:{partition}:cloudformation:{region}:{account}:stack/{stack_name}/emulated",
            "AWS::NoValue": None,
        }
        self._ref = ref
        self._get_att = get_att
        self._import_value = import_value
        self._conditions = conditions
        self._condition_values: dict[str, bool] = {}

    def condition(self, name: str) -> bool:
        """A template condition's value (evaluated once)."""
        if name not in self._condition_values:
            self._condition_values[name] = bool(self.resolve(self._conditions[name]))
        return self._condition_values[name]

    def resolve(self, value: Any) -> Any:
        """The value with every intrinsic function replaced by what it stands for."""
        if isinstance(value, list):
            return [item for item in (self.resolve(v) for v in value) if item is not None]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            ((name, argument),) = value.items()
            if name == "Ref" or name.startswith("Fn::") or name == "Condition":
                return self._function(name, argument)
        return {k: v for k, v in ((k, self.resolve(v)) for k, v in value.items()) if v is not None}

    def _function(self, name: str, argument: Any) -> Any:
        if name == "Ref":
            return self.pseudo[argument] if argument in self.pseudo else self._ref(argument)
        if name == "Fn::GetAtt":
            logical, attribute = argument.split(".", 1) if isinstance(argument, str) else argument
            return self._get_att(logical, self.resolve(attribute))
        if name == "Fn::Join":
            separator, items = argument
            return str(separator).join(str(item) for item in self.resolve(items))
        if name == "Fn::Select":
            index, items = argument
            return self.resolve(items)[int(self.resolve(index))]
        if name == "Fn::Split":
            separator, text = argument
            return str(self.resolve(text)).split(separator)
        if name == "Fn::Sub":
            return self._sub(argument)
        if name == "Fn::ImportValue":
            return self._import_value(str(self.resolve(argument)))
        if name == "Fn::If":
            condition, when_true, when_false = argument
            return self.resolve(when_true if self.condition(condition) else when_false)
        if name == "Condition":
            return self.condition(argument)
        if name == "Fn::Equals":
            left, right = self.resolve(argument)
            return left == right
        if name == "Fn::Not":
            return not self.resolve(argument[0])
        if name == "Fn::And":
            return all(self.resolve(item) for item in argument)
        if name == "Fn::Or":
            return any(self.resolve(item) for item in argument)
        if name == "Fn::GetAZs":
            region = self.resolve(argument) or self.pseudo["AWS::Region"]
            return [f"{region}a", f"{region}b", f"{region}c"]
        if name == "Fn::Base64":
            import base64

            return base64.b64encode(str(self.resolve(argument)).encode()).decode()
        raise UnresolvableIntrinsic(f"{name} is not supported by the emulation's template resolver")

    def _sub(self, argument: Any) -> str:
        text, variables = (argument, {}) if isinstance(argument, str) else argument
        values = {k: self.resolve(v) for k, v in variables.items()}

        def substitute(match: re.Match[str]) -> str:
            name = match.group(1)
            if ":" in name and name not in self.pseudo and name not in values:
                return match.group(0)  # an IAM policy variable such as ${aws:PrincipalTag/TenantID}
            if name in values:
                return str(values[name])
            if name in self.pseudo:
                return str(self.pseudo[name])
            if "." in name:
                logical, attribute = name.split(".", 1)
                return str(self._get_att(logical, attribute))
            return str(self._ref(name))

        # "${!Literal}" stands for the literal text "${Literal}".
        return _SUB_VARIABLE.sub(substitute, text).replace("${!", "${")
