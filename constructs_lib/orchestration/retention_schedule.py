"""`RetentionSchedule`: runs the retention sweeper on an EventBridge Scheduler schedule, with retries and a DLQ."""

from __future__ import annotations

from aws_cdk import Duration, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_scheduler as scheduler
from aws_cdk import aws_scheduler_targets as targets
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from runtime.contract import rules

from ..encryption import grant_key_via_service
from ..errors import new_problems, raise_if_any
from ..nag import acknowledge_inline_policy, acknowledge_wildcard_resources
from .mesh_function import MeshFunction

__all__ = ["DEFAULT_RETENTION_SCHEDULE", "RetentionSchedule"]

#: Daily at 03:15 UTC.
DEFAULT_RETENTION_SCHEDULE = "cron(15 3 * * ? *)"
# EventBridge Scheduler retries a failed delivery twice within an hour, then sends the event to the DLQ.
RETRY_ATTEMPTS = 2
MAX_EVENT_AGE = Duration.hours(1)


class RetentionSchedule(Construct):
    """Invokes the retention function (its ``live`` alias when it publishes versions) on ``schedule``.

    The schedule's role may invoke exactly that function and send failed deliveries to the dead-letter queue.
    """

    def __init__(self, scope: Construct, id: str, *, function: MeshFunction, dead_letter_queue: sqs.IQueue,
                 encryption_key: kms.IKey, schedule: str = DEFAULT_RETENTION_SCHEDULE) -> None:
        """:param function: the retention function.
        :param dead_letter_queue: receives the event after the retries (KMS-encrypted with ``encryption_key``).
        :param schedule: ``cron(...)``, ``rate(...)`` or ``at(...)`` (default daily 03:15 UTC).
        """
        super().__init__(scope, id)
        problems = new_problems()
        problems.check(rules.SCHEDULE, "schedule", schedule, required=True)
        raise_if_any(type(self).__name__, problems)
        stack = Stack.of(self)
        self.role = iam.Role(
            self, "Role", description="Agent Memory Mesh retention schedule: invokes the retention sweeper",
            assumed_by=iam.ServicePrincipal("scheduler.amazonaws.com",
                                            conditions={"StringEquals": {"aws:SourceAccount": stack.account}}))
        grant_key_via_service(encryption_key, self.role, ["sqs"], region=stack.region)
        target = targets.LambdaInvoke(
            function.invoke_target, role=self.role, dead_letter_queue=dead_letter_queue,
            retry_attempts=RETRY_ATTEMPTS, max_event_age=MAX_EVENT_AGE,
            input=scheduler.ScheduleTargetInput.from_object({
                "source": "aws.scheduler", "detail-type": "Scheduled Event",
                "time": scheduler.ContextAttribute.scheduled_time, "detail": {}}),
        )
        self.schedule = scheduler.Schedule(
            self, "Schedule", schedule=scheduler.ScheduleExpression.expression(schedule), target=target,
            description="Agent Memory Mesh: delete vector memories older than the retention period")
        acknowledge_inline_policy(self.role)
        acknowledge_wildcard_resources(
            self.role, lambda resource: resource.endswith(":*"),
            "aws-cdk-lib's LambdaInvoke grants the schedule's role lambda:InvokeFunction on the retention function "
            "and its versions ('<arn>:*'); it can invoke nothing else.")
