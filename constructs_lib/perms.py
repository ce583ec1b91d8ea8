"""Every IAM action the constructs grant, by service and access level: the one place action lists live.

Each tuple is what one runtime path calls (noted); grants compose them and never add actions of their own.
"""

from __future__ import annotations

# -- S3 Vectors (vector and index actions take an index ARN; ListIndexes takes the bucket ARN) ---------------
# QueryVectors with a metadata filter or returnMetadata also needs GetVectors on the index.
VECTORS_READ = ("s3vectors:GetVectors", "s3vectors:ListVectors", "s3vectors:QueryVectors")
# Listing with returnMetadata also needs GetVectors (a sweep reads each vector's age).
VECTORS_SCAN = ("s3vectors:GetVectors", "s3vectors:ListVectors")
VECTORS_WRITE = ("s3vectors:PutVectors",)
VECTORS_DELETE = ("s3vectors:DeleteVectors",)
INDEX_READ = ("s3vectors:GetIndex",)
# Creating an index with tags also needs TagResource (S3 User Guide, "Creating vector indexes with tags").
INDEX_CREATE_TAGGED = ("s3vectors:CreateIndex", "s3vectors:TagResource")
INDEX_DELETE = ("s3vectors:DeleteIndex",)
INDEXES_LIST = ("s3vectors:ListIndexes",)

# -- AgentCore Memory (data plane, on the memory ARN) ---------------------------------------------------------
EVENTS_WRITE = ("bedrock-agentcore:CreateEvent",)
EVENTS_READ = ("bedrock-agentcore:GetEvent", "bedrock-agentcore:ListEvents", "bedrock-agentcore:ListSessions")
EVENTS_DELETE = ("bedrock-agentcore:DeleteEvent",)
ACTORS_LIST = ("bedrock-agentcore:ListActors",)
RECORDS_SEARCH = ("bedrock-agentcore:ListMemoryRecords", "bedrock-agentcore:RetrieveMemoryRecords")
RECORDS_GET = ("bedrock-agentcore:GetMemoryRecord",)
RECORDS_UPDATE = ("bedrock-agentcore:BatchUpdateMemoryRecords",)
RECORDS_DELETE = ("bedrock-agentcore:BatchDeleteMemoryRecords", "bedrock-agentcore:DeleteMemoryRecord")

# -- DynamoDB (the mesh state table; items are read and written one at a time) ---------------------------------
ITEMS_READ = ("dynamodb:GetItem",)
ITEMS_WRITE = ("dynamodb:PutItem", "dynamodb:UpdateItem")

# -- KMS data keys, always limited by kms:ViaService to the service that stores the data --------------------------
KMS_DATA = ("kms:Decrypt", "kms:GenerateDataKey")

# -- STS: a vended session carries session tags and a source identity --------------------------------------------
ASSUME_TAGGED = ("sts:AssumeRole", "sts:SetSourceIdentity", "sts:TagSession")
ASSUME = ("sts:AssumeRole",)
TAG_AND_ATTRIBUTE = ("sts:SetSourceIdentity", "sts:TagSession")

# -- SQS ----------------------------------------------------------------------------------------------------------
QUEUE_SEND = ("sqs:SendMessage",)
# What a Lambda SQS event source mapping needs on its queue.
QUEUE_CONSUME = ("sqs:ChangeMessageVisibility", "sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:ReceiveMessage")

# -- agents and models ----------------------------------------------------------------------------------------------
BEDROCK_AGENT_INVOKE = ("bedrock:InvokeAgent",)
# Forget-me erases the supervisor Bedrock Agent's own session-summary memory of the user.
BEDROCK_AGENT_MEMORY_DELETE = ("bedrock:DeleteAgentMemory",)
AGENTCORE_RUNTIME_INVOKE = ("bedrock-agentcore:InvokeAgentRuntime",)
# The Converse API is authorized as InvokeModel.
MODEL_INVOKE = ("bedrock:InvokeModel",)

# -- Lambda, API Gateway, CloudWatch Logs -----------------------------------------------------------------------------
FUNCTION_INVOKE = ("lambda:InvokeFunction",)
EXECUTE_API_INVOKE = ("execute-api:Invoke",)
LOGS_WRITE = ("logs:CreateLogStream", "logs:PutLogEvents")

# -- what a vended (TVM) session may do ----------------------------------------------------------------------------
#: Memory-home sessions (orchestrator, summarizer, lifecycle): read, write, delete one user's vectors.
SESSION_VECTORS = (*VECTORS_READ, *VECTORS_WRITE, *VECTORS_DELETE, *INDEX_READ)
#: Worker agents' sessions: read and write, never delete.
WORKER_SESSION_VECTORS = (*VECTORS_READ, *VECTORS_WRITE, *INDEX_READ)
SESSION_EVENTS = (*EVENTS_WRITE, *EVENTS_READ, *EVENTS_DELETE)
WORKER_SESSION_EVENTS = (*EVENTS_WRITE, *EVENTS_READ)
#: Record actions addressed by record id (GET/PATCH/DELETE /memories/{key}); conditioned on the namespace.
SESSION_RECORDS_BY_ID = (*RECORDS_GET, *RECORDS_DELETE)
#: Updating a record: authorized on the record's current namespace (``sourceNamespaces`` in the request).
SESSION_RECORDS_UPDATE = RECORDS_UPDATE
WORKER_SESSION_RECORDS_BY_ID = RECORDS_GET
