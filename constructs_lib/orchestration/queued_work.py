"""Work queues of the memory home: the summary pipeline and the lifecycle jobs, each with a DLQ and an alarm."""

from __future__ import annotations

from aws_cdk import Duration, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from .. import perms
from ..encryption import grant_key_via_service
from ..nag import acknowledge
from .alarms import MeshAlarms
from .mesh_function import MeshFunction

__all__ = ["LifecycleJobs", "QueuedWork", "SummaryPipeline", "encrypted_queue"]

# SQS: after 3 receives a message goes to the DLQ; AWS recommends a visibility timeout of at least 6x the
# consumer's timeout, so a throttled or retried batch is not redelivered while it still runs.
MAX_RECEIVE_COUNT = 3
VISIBILITY_TIMEOUT_FACTOR = 6
DLQ_RETENTION = Duration.days(14)


def encrypted_queue(scope: Construct, id: str, key: kms.IKey, **kwargs: object) -> sqs.Queue:
    """An SQS queue encrypted with ``key`` that refuses requests without TLS."""
    return sqs.Queue(scope, id, encryption=sqs.QueueEncryption.KMS, encryption_master_key=key, enforce_ssl=True,
                     **kwargs)  # type: ignore[arg-type]


def acknowledge_dead_letter_queue(queue: sqs.Queue) -> None:
    """A dead-letter queue needs no redrive of its own: its messages wait 14 days under an alarm."""
    acknowledge(queue, "Serverless::Serverless-SQSRedrivePolicy",
                "This queue is itself a dead-letter queue: messages stay 14 days and raise an alarm; another "
                "redrive hop would only hide them.")


class QueuedWork(Construct):
    """A KMS-encrypted work queue whose messages go to a dead-letter queue (with an alarm) after 3 receives."""

    #: SQS batch of one invocation and how long SQS gathers it.
    batch_size = 1
    batching_window: Duration | None = None
    #: What the alarm says when a message lands in the dead-letter queue.
    failure: str = "work failed 3 times and waits in the dead-letter queue"

    def __init__(self, scope: Construct, id: str, *, encryption_key: kms.IKey, consumer_timeout: Duration,
                 alarms: MeshAlarms, alarm_name: str) -> None:
        super().__init__(scope, id)
        self._key = encryption_key
        self.dead_letter_queue = encrypted_queue(self, "DeadLetters", encryption_key, retention_period=DLQ_RETENTION)
        acknowledge_dead_letter_queue(self.dead_letter_queue)
        self.queue = encrypted_queue(
            self, "Queue", encryption_key,
            visibility_timeout=Duration.seconds(VISIBILITY_TIMEOUT_FACTOR * consumer_timeout.to_seconds()),
            dead_letter_queue=sqs.DeadLetterQueue(max_receive_count=MAX_RECEIVE_COUNT, queue=self.dead_letter_queue))
        self.alarm = alarms.add_dead_letter_alarm(f"{id}DeadLettersAlarm", self.dead_letter_queue, name=alarm_name,
                                                  description=self.failure)
        self.event_source: lambda_.EventSourceMapping | None = None

    def grant_send(self, grantee: iam.IGrantable) -> iam.Grant:
        """Send messages to the queue (and encrypt them with its key, through SQS only)."""
        grant_key_via_service(self._key, grantee, ["sqs"], region=Stack.of(self).region)
        return iam.Grant.add_to_principal(grantee=grantee, actions=list(perms.QUEUE_SEND),
                                          resource_arns=[self.queue.queue_arn])

    def add_consumer(self, function: MeshFunction) -> lambda_.EventSourceMapping:
        """Let ``function`` (its ``live`` alias when it publishes versions) consume the queue.

        The mapping's maximum concurrency is the function's reserved concurrency, so pollers never hit a throttle
        that would count as a failed receive. The consume permissions are on exactly this queue (SqsEventSource
        would also grant kms:Decrypt without the kms:ViaService condition).
        """
        self.event_source = function.invoke_target.add_event_source_mapping(
            f"{self.node.id}Source",
            event_source_arn=self.queue.queue_arn,
            batch_size=self.batch_size,
            max_batching_window=self.batching_window,
            report_batch_item_failures=True,
            max_concurrency=function.options.reserved_concurrency,
        )
        function.function_role.add_to_principal_policy(iam.PolicyStatement(
            actions=list(perms.QUEUE_CONSUME), resources=[self.queue.queue_arn]))
        grant_key_via_service(self._key, function.function_role, ["sqs"], region=Stack.of(self).region)
        acknowledge(self.event_source, "Serverless::Serverless-LambdaEventSourceMappingDestination",
                    "SQS event source mappings take no on-failure destination; the queue's redrive policy moves a "
                    "message to its dead-letter queue after 3 receives, with an alarm.")
        return self.event_source


class SummaryPipeline(QueuedWork):
    """Session-summary jobs: batches of 5 gathered for up to 5 s, partial batch failures reported per job."""

    batch_size = 5
    batching_window = Duration.seconds(5)
    failure = "Session summaries failed 3 times and wait in the dead-letter queue"


class LifecycleJobs(QueuedWork):
    """Forget and offboarding job steps (each step queues the next) and deferred turn-event writes: one message
    per invocation, so a step has the whole timeout to itself."""

    batch_size = 1
    failure = "A forget/offboarding step or a deferred turn write failed 3 times and waits in the dead-letter queue"
