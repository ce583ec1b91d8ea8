"""IAM actions by access level for the memory home's data stores (one place, used by every grant)."""

from __future__ import annotations

# S3 Vectors data plane; every action here takes an index ARN.
# QueryVectors with a metadata filter or returnMetadata also needs GetVectors on the index.
VECTORS_READ = ("s3vectors:GetVectors", "s3vectors:QueryVectors", "s3vectors:ListVectors", "s3vectors:GetIndex")
VECTORS_WRITE = ("s3vectors:PutVectors",)
VECTORS_DELETE = ("s3vectors:DeleteVectors",)
# Index lifecycle (run-time tenant onboarding). CreateIndex/DeleteIndex/GetIndex take the index ARN;
# ListIndexes takes the bucket ARN (granting it on an index ARN has no effect).
INDEX_MANAGE_ON_INDEX = ("s3vectors:CreateIndex", "s3vectors:GetIndex", "s3vectors:DeleteIndex")
INDEX_MANAGE_ON_BUCKET = ("s3vectors:ListIndexes", "s3vectors:GetVectorBucket")

# AgentCore Memory data plane. Events accept the bedrock-agentcore:actorId condition key; long-term record
# reads (Retrieve/List) accept bedrock-agentcore:namespace.
MEMORY_EVENTS_WRITE = ("bedrock-agentcore:CreateEvent",)
MEMORY_EVENTS_READ = ("bedrock-agentcore:GetEvent", "bedrock-agentcore:ListEvents", "bedrock-agentcore:ListSessions")
MEMORY_EVENTS_DELETE = ("bedrock-agentcore:DeleteEvent",)
MEMORY_RECORDS_READ = ("bedrock-agentcore:RetrieveMemoryRecords", "bedrock-agentcore:ListMemoryRecords")
MEMORY_RECORDS_READ_BY_ID = ("bedrock-agentcore:GetMemoryRecord",)
MEMORY_RECORDS_DELETE = ("bedrock-agentcore:DeleteMemoryRecord", "bedrock-agentcore:BatchDeleteMemoryRecords")
MEMORY_ACTORS_LIST = ("bedrock-agentcore:ListActors",)

# KMS use by a data-plane caller, limited with kms:ViaService to the memory services.
KMS_DATA = ("kms:Decrypt", "kms:GenerateDataKey")

# Cross-account handoff.
BEDROCK_AGENT_INVOKE = ("bedrock:InvokeAgent",)
AGENTCORE_RUNTIME_INVOKE = ("bedrock-agentcore:InvokeAgentRuntime",)
