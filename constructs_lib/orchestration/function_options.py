"""Size, concurrency and start-up options of each memory-home function, with the rules Lambda imposes."""

from __future__ import annotations

from dataclasses import dataclass, field

from aws_cdk import Duration, Token
from aws_cdk import aws_lambda as lambda_

from runtime.contract.problems import Problems

__all__ = ["FUNCTION_NAMES", "FunctionOptions", "FunctionSizing"]

#: The handler module of each function (``runtime/handlers/<name>.py``, function ``handler``).
FUNCTION_NAMES = ("orchestrator", "forget", "lifecycle", "summarizer", "tenants", "retention")
# Lambda: 128-10240 MB, 1-900 s. HTTP APIs end an integration after 30 seconds.
MEMORY_RANGE = (128, 10240)
TIMEOUT_RANGE_S = (1, 900)
MAX_API_TIMEOUT_S = 30
CONCURRENCY_RANGE = (1, 1000)
# An SQS event source's maximum concurrency is 2-1000; it is set to the consumer's reserved concurrency.
MIN_SQS_MAX_CONCURRENCY = 2


@dataclass(frozen=True)
class FunctionOptions:
    """Size, limits and start-up of one function.

    :param memory_size: MB, 128-10240 (CPU scales with it).
    :param timeout: 1-900 seconds; at most 30 behind an HTTP API.
    :param reserved_concurrency: caps the function and guarantees it that capacity (None: unreserved). At most
        ``reserved_concurrency / average duration in seconds`` requests per second reach it; more are throttled.
    :param provisioned_concurrency: environments kept initialized on the ``live`` alias (billed while
        provisioned); at most the reserved concurrency.
    :param snap_start: Lambda SnapStart on published versions (Python 3.12+; not with provisioned concurrency):
        restores from a snapshot of the initialized function instead of cold-starting it.
    """

    memory_size: int
    timeout: Duration
    reserved_concurrency: int | None = None
    provisioned_concurrency: int | None = None
    snap_start: bool = False

    @property
    def publishes_versions(self) -> bool:
        """SnapStart and provisioned concurrency both need a published version behind an alias."""
        return self.snap_start or self.provisioned_concurrency is not None

    def check(self, problems: Problems, field_name: str, *, runtime: lambda_.Runtime, behind_api: bool,
              event_source: bool = False) -> None:
        """Add what is wrong with these options to ``problems``."""
        problems.check_range(f"{field_name}.memory_size", self.memory_size, *MEMORY_RANGE, unit=" MB")
        seconds = self.timeout.to_seconds()
        if not Token.is_unresolved(seconds):
            if not TIMEOUT_RANGE_S[0] <= seconds <= TIMEOUT_RANGE_S[1]:
                problems.add(f"{field_name}.timeout", f"{seconds:g}s", "must be from 1 second to 15 minutes (Lambda)")
            elif behind_api and seconds > MAX_API_TIMEOUT_S:
                problems.add(f"{field_name}.timeout", f"{seconds:g}s", f"must be at most {MAX_API_TIMEOUT_S} seconds "
                             "behind the HTTP API (API Gateway ends an integration after 30 seconds)")
        reserved = self.reserved_concurrency
        if reserved is not None and problems.check_range(f"{field_name}.reserved_concurrency", reserved,
                                                         *CONCURRENCY_RANGE) and event_source \
                and reserved < MIN_SQS_MAX_CONCURRENCY:
            problems.add(f"{field_name}.reserved_concurrency", reserved, f"must be at least "
                         f"{MIN_SQS_MAX_CONCURRENCY}: it is also the SQS event source's maximum concurrency (2-1000)")
        provisioned = self.provisioned_concurrency
        if provisioned is not None and problems.check_range(f"{field_name}.provisioned_concurrency", provisioned,
                                                            *CONCURRENCY_RANGE) \
                and reserved is not None and provisioned > reserved:
            problems.add(f"{field_name}.provisioned_concurrency", provisioned,
                         f"must be at most reserved_concurrency ({reserved})")
        if self.snap_start:
            if provisioned is not None:
                problems.add(f"{field_name}.snap_start", True, "cannot be combined with provisioned_concurrency "
                                                              "(Lambda SnapStart does not support it); choose one")
            if not runtime.supports_snap_start:
                problems.add(f"{field_name}.snap_start", True, f"needs a runtime with SnapStart (Python 3.12 or "
                                                              f"later); the bundle's runtime is {runtime.name}")


@dataclass(frozen=True)
class FunctionSizing:
    """Options of every function. Defaults reserve 68 executions in all (an account needs a concurrency quota of at
    least 168: Lambda keeps 100 unreserved); none uses SnapStart or provisioned concurrency.

    The orchestrator and forget answer the HTTP API, so they stop at 29 s. The summarizer's and lifecycle's
    reserved concurrency is also their SQS event source's maximum concurrency (pollers never hit a throttle that
    would count as a failed receive). One retention sweeper runs at a time.
    """

    orchestrator: FunctionOptions = field(default_factory=lambda: FunctionOptions(1024, Duration.seconds(29), 50))
    forget: FunctionOptions = field(default_factory=lambda: FunctionOptions(512, Duration.seconds(29), 5))
    lifecycle: FunctionOptions = field(default_factory=lambda: FunctionOptions(512, Duration.minutes(5), 5))
    summarizer: FunctionOptions = field(default_factory=lambda: FunctionOptions(512, Duration.seconds(120), 5))
    tenants: FunctionOptions = field(default_factory=lambda: FunctionOptions(256, Duration.seconds(29), 2))
    retention: FunctionOptions = field(default_factory=lambda: FunctionOptions(512, Duration.minutes(15), 1))

    def of(self, name: str) -> FunctionOptions:
        """The options of the function ``name`` (one of `FUNCTION_NAMES`)."""
        options: FunctionOptions = getattr(self, name)
        return options

    def check(self, problems: Problems, field_name: str, *, runtime: lambda_.Runtime, jwt_api: bool,
              operator_api: bool) -> None:
        """Check every function's options."""
        api_functions = {"orchestrator", "forget"} if jwt_api else set()
        if operator_api:
            api_functions.add("tenants")
        for name in FUNCTION_NAMES:
            self.of(name).check(problems, f"{field_name}.{name}", runtime=runtime, behind_api=name in api_functions,
                                event_source=name in ("summarizer", "lifecycle"))
