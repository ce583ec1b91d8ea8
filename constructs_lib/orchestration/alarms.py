"""`MeshAlarms`: the memory home's alarm topic (KMS-encrypted) and alarms that publish to it."""

from __future__ import annotations

from aws_cdk import ArnFormat, Duration, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from .._resource import lazy_any

__all__ = ["MeshAlarms"]


class MeshAlarms(Construct):
    """Alarms (one evaluation period, missing data not breaching) on a topic that only these alarms may publish to.

    The topic's name and the alarms' names are fixed (derived from ``name_prefix``), so the topic and key policies
    can name them without depending on the alarms (a cycle otherwise).
    """

    def __init__(self, scope: Construct, id: str, *, encryption_key: kms.IKey, name_prefix: str,
                 alarm_topic: sns.ITopic | None = None, alarm_email: str | None = None,
                 email_dead_letter_queue: sqs.IQueue | None = None) -> None:
        """:param encryption_key: encrypts a topic created here.
        :param name_prefix: alarms are ``<prefix>-<name>``, a created topic ``<prefix>-alarms``.
        :param alarm_topic: publish to this topic instead of creating one (its policies are its owner's).
        :param alarm_email: subscribe this address to the created topic.
        :param email_dead_letter_queue: where SNS puts notifications it cannot deliver to the e-mail address.
        """
        super().__init__(scope, id)
        self._key = encryption_key
        self._prefix = name_prefix
        self._alarm_names: list[str] = []
        self.alarms: list[cloudwatch.Alarm] = []
        self.topic: sns.ITopic = alarm_topic or self._create_topic(alarm_email, email_dead_letter_queue)

    def add_alarm(self, id: str, *, name: str, metric: cloudwatch.IMetric, description: str) -> cloudwatch.Alarm:
        """An alarm named ``<prefix>-<name>`` when ``metric`` reaches 1 in a period."""
        alarm_name = f"{self._prefix}-{name}"
        self._alarm_names.append(alarm_name)
        alarm = cloudwatch.Alarm(
            self, id, alarm_name=alarm_name, metric=metric, threshold=1, evaluation_periods=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING, alarm_description=description)
        alarm.add_alarm_action(cw_actions.SnsAction(self.topic))
        self.alarms.append(alarm)
        return alarm

    def add_dead_letter_alarm(self, id: str, queue: sqs.IQueue, *, name: str, description: str) -> cloudwatch.Alarm:
        """Alarm as soon as a message waits in the dead-letter ``queue``."""
        return self.add_alarm(id, name=name, description=description,
                              metric=queue.metric_approximate_number_of_messages_visible(
                                  period=Duration.minutes(5), statistic="Maximum"))

    def _create_topic(self, email: str | None, dead_letter_queue: sqs.IQueue | None) -> sns.ITopic:
        stack = Stack.of(self)
        topic_name = f"{self._prefix}-alarms"
        topic = sns.Topic(self, "Topic", topic_name=topic_name, master_key=self._key, enforce_ssl=True,
                          display_name="Agent Memory Mesh alarms")
        alarm_arns = lazy_any(lambda: [
            stack.format_arn(service="cloudwatch", resource="alarm", resource_name=name,
                             arn_format=ArnFormat.COLON_RESOURCE_NAME) for name in self._alarm_names])
        conditions = {"StringEquals": {"aws:SourceAccount": stack.account}, "ArnEquals": {"aws:SourceArn": alarm_arns}}
        # CloudWatch publishes alarm notifications as its service principal: the topic policy and the topic's key
        # must allow it, for these alarms only.
        topic.add_to_resource_policy(iam.PolicyStatement(
            sid="AllowCloudWatchAlarms", principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
            actions=["sns:Publish"], resources=[topic.topic_arn], conditions=conditions))
        self._key.add_to_resource_policy(iam.PolicyStatement(
            sid="AllowCloudWatchAlarmsToEncrypt", principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
            actions=["kms:Decrypt", "kms:GenerateDataKey"], resources=["*"], conditions=conditions,
        ), allow_no_op=True)
        if email:
            topic.add_subscription(subscriptions.EmailSubscription(email, dead_letter_queue=dead_letter_queue))
            topic_arn = stack.format_arn(service="sns", resource=topic_name, arn_format=ArnFormat.NO_RESOURCE_NAME)
            # SNS moves undeliverable notifications to the (KMS-encrypted) dead-letter queue as the SNS service.
            self._key.add_to_resource_policy(iam.PolicyStatement(
                sid="AllowSnsDeadLetters", principals=[iam.ServicePrincipal("sns.amazonaws.com")],
                actions=["kms:Decrypt", "kms:GenerateDataKey"], resources=["*"],
                conditions={"StringEquals": {"aws:SourceAccount": stack.account},
                            "ArnEquals": {"aws:SourceArn": topic_arn}},
            ), allow_no_op=True)
        return topic
