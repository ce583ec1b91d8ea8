"""request_context / authorization_checks on real botocore parameters, validated against the models."""

from __future__ import annotations

from typing import Any

import botocore.session
import pytest

from runtime.testing.iam import is_allowed
from runtime.testing.iam.sources import MissingRequestData
from runtime.testing.iam.table import (
    UnknownOperation,
    authorization_checks,
    load_table,
    request_context,
)

REGION, ACCOUNT = "us-east-1", "111111111111"
MEMORY_ID = "mesh_memory-abcdefghij"
MEMORY_ARN = f"arn:aws:bedrock-agentcore:{REGION}:{ACCOUNT}:memory/{MEMORY_ID}"
INDEX_ARN = f"arn:aws:s3vectors:{REGION}:{ACCOUNT}:bucket/mesh-bucket/index/tenant-t1"
ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/mesh-tvm"
RECORD_1, RECORD_2 = "mem-" + "a" * 36, "mem-" + "b" * 36


def validated(service: str, operation: str, params: dict[str, Any]) -> dict[str, Any]:
    """The parameters, after botocore's own validator accepted them for the operation."""
    session = botocore.session.get_session()
    model = session.get_service_model(service).operation_model(operation)
    from botocore.validate import ParamValidator

    report = ParamValidator().validate(params, model.input_shape)
    assert not report.has_errors(), report.generate_report()
    return params


def context_of(
    service: str, operation: str, params: dict[str, Any], **options: Any
) -> tuple[list[str], str, dict[str, Any]]:
    return request_context(service, operation, validated(service, operation, params), region=REGION, account=ACCOUNT,
                           **options)


def test_retrieve_with_namespace_fills_namespace_only() -> None:
    actions, resource, context = context_of("bedrock-agentcore", "RetrieveMemoryRecords", {
        "memoryId": MEMORY_ID, "namespace": "/facts/t1:alice/",
        "searchCriteria": {"searchQuery": "coffee", "memoryStrategyId": "facts-1"}})
    assert actions == ["bedrock-agentcore:RetrieveMemoryRecords"]
    assert resource == MEMORY_ARN
    assert context == {"bedrock-agentcore:namespace": "/facts/t1:alice/", "bedrock-agentcore:strategyId": "facts-1"}


def test_list_with_namespace_path_fills_namespace_path_only() -> None:
    _, _, context = context_of("bedrock-agentcore", "ListMemoryRecords", {
        "memoryId": MEMORY_ID, "namespacePath": "/facts/t1:"})
    assert context == {"bedrock-agentcore:namespacePath": "/facts/t1:"}


def test_namespace_condition_decides_retrieve() -> None:
    policy = {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Action": "bedrock-agentcore:RetrieveMemoryRecords", "Resource": MEMORY_ARN,
        "Condition": {"StringLike": {"bedrock-agentcore:namespace": "/facts/${aws:PrincipalTag/TenantID}:*"}}}]}
    for namespace, expected in (("/facts/t1:alice/", True), ("/facts/t2:bob/", False)):
        actions, resource, context = context_of("bedrock-agentcore", "RetrieveMemoryRecords", {
            "memoryId": MEMORY_ID, "namespace": namespace, "searchCriteria": {"searchQuery": "q"}})
        context["aws:PrincipalTag/TenantID"] = "t1"
        assert all(is_allowed([policy], action, resource, context) for action in actions) is expected
    # namespacePath carries a different key, so the namespace condition does not match it.
    actions, resource, context = context_of("bedrock-agentcore", "RetrieveMemoryRecords", {
        "memoryId": MEMORY_ID, "namespacePath": "/facts/t1:", "searchCriteria": {"searchQuery": "q"}})
    assert not is_allowed([policy], actions[0], resource, {**context, "aws:PrincipalTag/TenantID": "t1"})


def test_events_carry_actor_and_session() -> None:
    _, _, context = context_of("bedrock-agentcore", "ListEvents", {
        "memoryId": MEMORY_ID, "actorId": "t1:alice", "sessionId": "s-1"})
    assert context == {"bedrock-agentcore:actorId": "t1:alice", "bedrock-agentcore:sessionId": "s-1"}


def test_get_memory_record_namespace_from_parameter_or_stored_record() -> None:
    params = {"memoryId": MEMORY_ID, "memoryRecordId": RECORD_1}
    _, _, context = context_of("bedrock-agentcore", "GetMemoryRecord", params, stored={"namespace": "/facts/t1:a/"})
    assert context == {"bedrock-agentcore:namespace": "/facts/t1:a/"}
    _, _, context = context_of("bedrock-agentcore", "DeleteMemoryRecord", {**params, "namespace": "/facts/t1:b/"})
    assert context == {"bedrock-agentcore:namespace": "/facts/t1:b/"}


def test_batch_delete_collects_every_record_namespace() -> None:
    _, _, context = context_of("bedrock-agentcore", "BatchDeleteMemoryRecords", {"memoryId": MEMORY_ID, "records": [
        {"memoryRecordId": RECORD_1, "namespace": "/facts/t1:a/"},
        {"memoryRecordId": RECORD_2, "namespace": "/facts/t2:b/"}]})
    assert context == {"bedrock-agentcore:namespace": ["/facts/t1:a/", "/facts/t2:b/"]}


def test_index_arn_from_names_equals_index_arn_parameter() -> None:
    by_name = context_of("s3vectors", "GetVectors", {
        "vectorBucketName": "mesh-bucket", "indexName": "tenant-t1", "keys": ["k"]})
    by_arn = context_of("s3vectors", "GetVectors", {"indexArn": INDEX_ARN, "keys": ["k"]})
    assert by_name == by_arn == (["s3vectors:GetVectors"], INDEX_ARN, {})


def test_index_by_name_needs_region_and_account() -> None:
    with pytest.raises(MissingRequestData, match="Region"):
        request_context("s3vectors", "GetIndex", {"vectorBucketName": "b", "indexName": "i"})


@pytest.mark.parametrize(("extra", "actions"), [
    ({}, ["s3vectors:QueryVectors"]),
    ({"returnDistance": True, "returnMetadata": False}, ["s3vectors:QueryVectors"]),
    ({"filter": {"tenant": "t1"}}, ["s3vectors:QueryVectors", "s3vectors:GetVectors"]),
    ({"returnMetadata": True}, ["s3vectors:QueryVectors", "s3vectors:GetVectors"]),
])
def test_query_vectors_needs_get_vectors_for_filter_or_metadata(extra: dict[str, Any], actions: list[str]) -> None:
    params = {"indexArn": INDEX_ARN, "topK": 3, "queryVector": {"float32": [0.1, 0.2]}, **extra}
    assert context_of("s3vectors", "QueryVectors", params)[0] == actions


def test_create_index_with_tags_carries_request_tags_and_needs_tag_resource() -> None:
    actions, resource, context = context_of("s3vectors", "CreateIndex", {
        "vectorBucketName": "mesh-bucket", "indexName": "tenant-t1", "dataType": "float32", "dimension": 4,
        "distanceMetric": "cosine", "tags": {"TenantID": "t1"}})
    assert actions == ["s3vectors:CreateIndex", "s3vectors:TagResource"]
    assert resource == INDEX_ARN
    assert context == {"aws:RequestTag/TenantID": "t1", "aws:TagKeys": ["TenantID"]}


def test_resource_tags_come_from_the_resource() -> None:
    _, _, context = context_of("s3vectors", "PutVectors", {"indexArn": INDEX_ARN, "vectors": [
        {"key": "k", "data": {"float32": [0.1]}}]}, resource_tags={"TenantID": "t1"},
        stored={"vector_bucket_tags": {"team": "mesh"}})
    assert context == {"aws:ResourceTag/TenantID": "t1", "s3vectors:VectorBucketTag/team": "mesh"}


def test_assume_role_with_tags_and_source_identity() -> None:
    actions, resource, context = context_of("sts", "AssumeRole", {
        "RoleArn": ROLE_ARN, "RoleSessionName": "t1-alice", "ExternalId": "ext-1", "SourceIdentity": "alice",
        "Tags": [{"Key": "TenantID", "Value": "t1"}, {"Key": "ActorID", "Value": "alice"}],
        "TransitiveTagKeys": ["TenantID"]})
    assert actions == ["sts:AssumeRole", "sts:TagSession", "sts:SetSourceIdentity"]
    assert resource == ROLE_ARN
    assert context == {
        "aws:RequestTag/TenantID": "t1", "aws:RequestTag/ActorID": "alice", "aws:TagKeys": ["TenantID", "ActorID"],
        "sts:TransitiveTagKeys": ["TenantID"], "sts:ExternalId": "ext-1", "sts:SourceIdentity": "alice",
        "sts:RoleSessionName": "t1-alice"}


def test_assume_role_without_tags_needs_only_assume_role() -> None:
    actions, _, context = context_of("sts", "AssumeRole", {"RoleArn": ROLE_ARN, "RoleSessionName": "s1", "Tags": []})
    assert actions == ["sts:AssumeRole"]
    assert context == {"sts:RoleSessionName": "s1"}


def test_get_caller_identity_needs_no_permission() -> None:
    assert request_context("sts", "GetCallerIdentity", {}) == ([], "*", {})


def test_sqs_queue_arn_from_queue_url() -> None:
    url = f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/mesh-jobs"
    assert context_of("sqs", "SendMessage", {"QueueUrl": url, "MessageBody": "x"})[:2] == (
        ["sqs:SendMessage"], f"arn:aws:sqs:{REGION}:{ACCOUNT}:mesh-jobs")


def test_converse_is_authorized_as_invoke_model() -> None:
    actions, resource, _ = context_of("bedrock-runtime", "Converse", {"modelId": "us.amazon.nova-lite-v1:0"})
    assert actions == ["bedrock:InvokeModel"]
    assert resource == f"arn:aws:bedrock:{REGION}:{ACCOUNT}:inference-profile/us.amazon.nova-lite-v1:0"
    _, resource, _ = context_of("bedrock-runtime", "InvokeModel", {"modelId": "amazon.titan-embed-text-v2:0"})
    assert resource == f"arn:aws:bedrock:{REGION}::foundation-model/amazon.titan-embed-text-v2:0"


def test_invoke_agent_runtime_checks_runtime_and_endpoint() -> None:
    runtime = f"arn:aws:bedrock-agentcore:{REGION}:{ACCOUNT}:runtime/mesh_agent-abc1234567"
    checks = authorization_checks("bedrock-agentcore", "InvokeAgentRuntime", validated(
        "bedrock-agentcore", "InvokeAgentRuntime", {"agentRuntimeArn": runtime, "payload": b"{}"}))
    assert [check.resource for check in checks] == [runtime, f"{runtime}/runtime-endpoint/DEFAULT"]
    with pytest.raises(ValueError, match="authorization_checks"):
        request_context("bedrock-agentcore", "InvokeAgentRuntime", {"agentRuntimeArn": runtime, "payload": b"{}"})


def test_kms_via_service_and_encryption_context() -> None:
    key = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    actions, resource, context = context_of("kms", "GenerateDataKey", {
        "KeyId": key, "EncryptionContext": {"tenant": "t1"}, "KeySpec": "AES_256"},
        via_service=f"s3vectors.{REGION}.amazonaws.com")
    assert (actions, resource) == (["kms:GenerateDataKey"], key)
    assert context == {"kms:EncryptionContext:tenant": "t1", "kms:EncryptionContextKeys": ["tenant"],
                       "kms:ViaService": f"s3vectors.{REGION}.amazonaws.com"}
    _, resource, _ = context_of("kms", "Decrypt", {"CiphertextBlob": b"x"}, stored={"key_arn": key})
    assert resource == key


def test_dynamodb_leading_keys_from_the_partition_key() -> None:
    actions, resource, context = context_of("dynamodb", "GetItem", {
        "TableName": "mesh", "Key": {"pk": {"S": "t1#alice"}, "sk": {"S": "1"}}, "ProjectionExpression": "#n, body",
        "ExpressionAttributeNames": {"#n": "name"}}, stored={"partition_key": "pk"})
    assert (actions, resource) == (["dynamodb:GetItem"], f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/mesh")
    assert context == {"dynamodb:LeadingKeys": ["t1#alice"], "dynamodb:Attributes": ["name", "body"]}
    with pytest.raises(MissingRequestData, match="partition_key"):
        request_context("dynamodb", "PutItem", {"TableName": "mesh", "Item": {"pk": {"S": "x"}}}, region=REGION,
                        account=ACCOUNT)


def test_dynamodb_query_and_transactions() -> None:
    _, resource, context = context_of("dynamodb", "Query", {
        "TableName": "mesh", "IndexName": "by-date", "KeyConditionExpression": "pk = :p AND sk > :s",
        "ExpressionAttributeValues": {":p": {"S": "t1"}, ":s": {"S": "0"}}, "Select": "COUNT"},
        stored={"partition_key": "pk"})
    assert resource == f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/mesh/index/by-date"
    assert context == {"dynamodb:LeadingKeys": ["t1"], "dynamodb:Select": "COUNT"}
    checks = authorization_checks("dynamodb", "TransactWriteItems", validated("dynamodb", "TransactWriteItems", {
        "TransactItems": [{"Put": {"TableName": "a", "Item": {"pk": {"S": "t1"}}}},
                          {"Delete": {"TableName": "b", "Key": {"pk": {"S": "t2"}}}}]}),
        stored={"partition_key": "pk"}, region=REGION, account=ACCOUNT)
    assert [(c.action, c.resource.rsplit("/", 1)[1], c.context) for c in checks] == [
        ("dynamodb:PutItem", "a", {"dynamodb:LeadingKeys": ["t1"]}),
        ("dynamodb:DeleteItem", "b", {"dynamodb:LeadingKeys": ["t2"]})]


def test_unknown_operation_fails_loudly() -> None:
    with pytest.raises(UnknownOperation, match="s3vectors:UpdateMetadataConfiguration") as raised:
        request_context("s3vectors", "UpdateMetadataConfiguration", {})
    assert isinstance(raised.value, KeyError)


REQUIRED = {
    "s3vectors": ["PutVectors", "GetVectors", "ListVectors", "QueryVectors", "DeleteVectors", "CreateIndex",
                  "DeleteIndex", "GetIndex", "ListIndexes", "TagResource", "UntagResource", "ListTagsForResource",
                  "GetVectorBucket", "CreateVectorBucket"],
    "bedrock-agentcore": ["CreateEvent", "GetEvent", "ListEvents", "DeleteEvent", "ListSessions", "ListActors",
                          "RetrieveMemoryRecords", "ListMemoryRecords", "GetMemoryRecord", "DeleteMemoryRecord",
                          "BatchCreateMemoryRecords", "BatchUpdateMemoryRecords", "BatchDeleteMemoryRecords",
                          "InvokeAgentRuntime"],
    "bedrock-agent-runtime": ["InvokeAgent", "GetAgentMemory", "DeleteAgentMemory"],
    "bedrock-runtime": ["InvokeModel", "Converse"],
    "sts": ["AssumeRole", "GetCallerIdentity"],
    "sqs": ["SendMessage", "ReceiveMessage", "DeleteMessage", "ChangeMessageVisibility", "GetQueueAttributes"],
    "dynamodb": ["GetItem", "PutItem", "UpdateItem", "DeleteItem", "Query", "BatchWriteItem", "TransactWriteItems"],
    "kms": ["Decrypt", "GenerateDataKey", "Encrypt"],
}


def test_table_covers_the_required_operations() -> None:
    services = load_table()["services"]
    for service, operations in REQUIRED.items():
        assert set(operations) <= set(services[service]["operations"]), service
