"""IAM of the synthesized sample mesh, evaluated by the emulation: who may vend which session, and what a session,
a function role or a worker principal may reach. Every decision comes from the deployed templates' policies."""

from __future__ import annotations

import json

import pytest

from runtime.contract import memory
from runtime.testing.iam import UnknownOperation
from tests.isolation.sessions import assume, client_with, denied

pytestmark = pytest.mark.xdist_group("sample_mesh")

ORCHESTRATOR = "memory-mesh-orchestrator"
TENANTS = "memory-mesh-tenants"
TVM = "memory-mesh-tvm"
WORKER_TVM = "memory-mesh-tvm-external"
WORKER_AGENT = "billing-agent-tools"
WORKER_ACCESS = "memory-mesh-worker-billing"


def _home(deployment):
    return deployment.stack("memory-mesh-supervisor")


def test_deploy_resolves_every_output_and_function_environment(deployed):
    aws, deployment = deployed
    home = _home(deployment)
    assert home.outputs["TokenVendingMachineRoleArn"] == f"arn:aws:iam::{aws.account_id}:role/{TVM}"
    assert json.loads(home.outputs["WorkerMemoryEnvironment"])["MESH_MEMORY_ID"] == home.outputs["MemoryId"]
    orchestrator = deployment.function("Orchestrator")
    assert orchestrator.role_arn == deployment.role_arn(ORCHESTRATOR)
    assert orchestrator.environment["MESH_TVM_ROLE_ARN"] == deployment.role_arn(TVM)
    assert all("Fn::" not in value and "Ref" not in value for value in orchestrator.environment.values())
    bucket = orchestrator.environment["MESH_VECTOR_BUCKET"]
    assert aws.client("s3vectors").get_vector_bucket(vectorBucketName=bucket)["vectorBucket"]["vectorBucketName"] \
        == bucket
    # Roles carry their synthesized policies, not a copy: the TVM's is the template's DefaultPolicy.
    tvm_policy = next(r for k, r in home.template["Resources"].items()
                      if k.startswith("TokenVendingMachineRoleDefault"))
    assert len(aws.iam.role(deployment.role_arn(TVM)).policies) == 1
    assert len(aws.iam.role(deployment.role_arn(TVM)).policies[0]["Statement"]) \
        == len(tvm_policy["Properties"]["PolicyDocument"]["Statement"])


def test_a_function_role_session_vends_a_user_session_from_the_tvm(deployed):
    aws, deployment = deployed
    orchestrator = aws.vend(deployment.role_arn(ORCHESTRATOR))
    session = assume(orchestrator, deployment.role_arn(TVM), tenant="acme", actor="alice")
    [vended] = aws.iam.assume_role_calls(deployment.role_arn(TVM))
    assert (vended.tenant_id, vended.actor_id, vended.source_identity) == ("acme", "alice", "alice")
    assert vended.caller_arn.endswith(f"assumed-role/{ORCHESTRATOR}/emulated")
    assert session["AccessKeyId"] == vended.access_key_id


def test_iam_denies_a_tenant_wide_session_in_user_isolation(deployed):
    aws, deployment = deployed
    orchestrator = aws.vend(deployment.role_arn(ORCHESTRATOR))
    assert denied(assume, orchestrator, deployment.role_arn(TVM), tenant="acme") == "AccessDenied"


def test_iam_denies_a_source_identity_other_than_the_tagged_user(deployed):
    aws, deployment = deployed
    orchestrator = aws.vend(deployment.role_arn(ORCHESTRATOR))
    assert denied(assume, orchestrator, deployment.role_arn(TVM), tenant="acme", actor="alice",
                  source_identity="bob") == "AccessDenied"


def test_iam_denies_extra_session_tag_keys(deployed):
    aws, deployment = deployed
    orchestrator = aws.vend(deployment.role_arn(ORCHESTRATOR))
    assert denied(assume, orchestrator, deployment.role_arn(TVM), tenant="acme", actor="alice",
                  extra_tags={"Admin": "true"}) == "AccessDenied"


def test_iam_denies_vending_to_a_role_the_tvm_does_not_trust(deployed):
    aws, deployment = deployed
    tenants = aws.vend(deployment.role_arn(TENANTS))
    assert denied(assume, tenants, deployment.role_arn(TVM), tenant="acme", actor="alice") == "AccessDenied"


def test_iam_denies_a_function_role_a_call_no_policy_of_it_allows(deployed):
    aws, deployment = deployed
    tenants = client_with(aws.vend(deployment.role_arn(TENANTS)), "bedrock-agentcore")
    memory_id = _home(deployment).outputs["MemoryId"]
    assert denied(tenants.list_events, memoryId=memory_id, actorId="acme:alice", sessionId="s1") \
        == "AccessDeniedException"


def test_a_worker_agent_vends_only_user_sessions_of_its_allowed_tenants(deployed):
    aws, deployment = deployed
    agent = aws.vend(deployment.role_arn(WORKER_AGENT), service_principal="bedrock.amazonaws.com")
    worker_tvm = deployment.role_arn(WORKER_TVM)
    assume(agent, worker_tvm, tenant="acme", actor="alice")
    assert denied(assume, agent, worker_tvm, tenant="acme") == "AccessDenied"
    assert denied(assume, agent, worker_tvm, tenant="initech", actor="alice") == "AccessDenied"
    assert denied(assume, agent, worker_tvm, tenant="acme", actor="alice", source_identity="bob") == "AccessDenied"


def test_iam_denies_the_worker_tvm_session_index_management_and_deletes(deployed):
    aws, deployment = deployed
    agent = aws.vend(deployment.role_arn(WORKER_AGENT), service_principal="bedrock.amazonaws.com")
    session = client_with(assume(agent, deployment.role_arn(WORKER_TVM), tenant="acme", actor="alice"), "s3vectors")
    bucket = deployment.function("Orchestrator").environment["MESH_VECTOR_BUCKET"]
    index = memory.user_index_name("tenant-", "acme", "alice")
    aws.create_index(bucket, index, dimension=1024, tags={"TenantID": "acme", "ActorID": "alice"})
    session.list_vectors(vectorBucketName=bucket, indexName=index)
    assert denied(session.delete_vectors, vectorBucketName=bucket, indexName=index, keys=["k"]) \
        == "AccessDeniedException"
    assert denied(session.delete_index, vectorBucketName=bucket, indexName=index) == "AccessDeniedException"


def test_the_orchestrator_assumes_a_worker_access_role_only_as_its_trust_says(deployed):
    aws, deployment = deployed
    orchestrator = aws.vend(deployment.role_arn(ORCHESTRATOR))
    role = deployment.role_arn(WORKER_ACCESS)
    external_id = aws.iam.role(role).trust_policy["Statement"][0]["Condition"]["StringEquals"]["sts:ExternalId"]
    assume(orchestrator, role, tenant="acme", actor="alice", external_id=external_id)
    assert denied(assume, orchestrator, role, tenant="acme", actor="alice") == "AccessDenied"
    assert denied(assume, orchestrator, role, tenant="initech", actor="alice", external_id=external_id) \
        == "AccessDenied"
    assert denied(assume, orchestrator, role, tenant="acme", external_id=external_id) == "AccessDenied"
    summarizer = aws.vend(deployment.role_arn("memory-mesh-summarizer"))
    assert denied(assume, summarizer, role, tenant="acme", actor="alice", external_id=external_id) == "AccessDenied"


def test_the_state_table_tombstone_read_is_bounded_by_leading_keys(deployed):
    aws, deployment = deployed
    orchestrator = aws.vend(deployment.role_arn(ORCHESTRATOR))
    table = _home(deployment).outputs["StateTableName"]
    dynamodb = client_with(assume(orchestrator, deployment.role_arn(TVM), tenant="acme", actor="alice"), "dynamodb")
    dynamodb.get_item(TableName=table, Key={"pk": {"S": "ACTOR#acme:alice"}, "sk": {"S": "TOMBSTONE"}})
    assert denied(dynamodb.get_item, TableName=table,
                  Key={"pk": {"S": "ACTOR#acme:bob"}, "sk": {"S": "TOMBSTONE"}}) == "AccessDeniedException"
    assert denied(dynamodb.put_item, TableName=table,
                  Item={"pk": {"S": "ACTOR#acme:alice"}, "sk": {"S": "TOMBSTONE"}}) == "AccessDeniedException"


def test_sqs_sends_follow_the_function_roles_policies(deployed):
    aws, deployment = deployed
    queue = _home(deployment).outputs["SummaryQueueUrl"]
    client_with(aws.vend(deployment.role_arn(ORCHESTRATOR)), "sqs").send_message(QueueUrl=queue, MessageBody="{}")
    tenants = client_with(aws.vend(deployment.role_arn(TENANTS)), "sqs")
    assert denied(tenants.send_message, QueueUrl=queue, MessageBody="{}") == "AccessDenied"


def test_an_operation_missing_from_the_table_fails_loudly(deployed):
    aws, deployment = deployed
    session = client_with(aws.vend(deployment.role_arn(ORCHESTRATOR)), "s3vectors")
    with pytest.raises(UnknownOperation, match="s3vectors:UpdateMetadataConfiguration is not in"):
        session.update_metadata_configuration(vectorBucketName="anything", indexName="anything")


def _store_as(aws, deployment, function: str, monkeypatch):
    """The runtime's S3 Vectors store as a deployed function builds it: its role's session as the default
    credentials, its resolved MESH_* environment."""
    from runtime.credentials import TenantCredentialBroker
    from runtime.embeddings import LocalHashEmbedder
    from runtime.settings import MemorySettings
    from runtime.stores import S3VectorsMemoryStore

    deployed_function = deployment.function(function)
    for name, value in deployed_function.environment.items():
        if name.startswith("MESH_"):
            monkeypatch.setenv(name, value)
    aws.run_as(deployed_function.role_arn, monkeypatch)
    settings = MemorySettings.from_env()
    broker = TenantCredentialBroker(settings.tvm_role_arn, region=settings.region)
    return S3VectorsMemoryStore.from_settings(broker, settings, LocalHashEmbedder(settings.embedding_dimension))


def test_the_orchestrator_function_role_writes_and_reads_one_users_memory(deployed, monkeypatch):
    from runtime.identity import Identity
    from runtime.records import MemoryQuery

    aws, deployment = deployed
    store = _store_as(aws, deployment, "Orchestrator", monkeypatch)
    store.put_memory(Identity("acme", "alice"), "alice prefers tea", kind="preference")
    found = store.search(MemoryQuery(tenant_id="acme", actor_id="alice", text="tea"))
    assert [r.content for r in found] == ["alice prefers tea"]
    assert {s.caller_arn.split("/")[1] for s in aws.iam.assume_role_calls(deployment.role_arn(TVM))} == {ORCHESTRATOR}


def test_iam_denies_the_tenants_function_role_a_user_session(deployed, monkeypatch):
    from runtime.errors import AccessDeniedError
    from runtime.identity import Identity

    aws, deployment = deployed
    store = _store_as(aws, deployment, "Tenants", monkeypatch)
    with pytest.raises(AccessDeniedError):
        store.put_memory(Identity("acme", "alice"), "never stored", kind="note")


def test_iam_denies_updating_another_users_record_or_moving_one_into_it(deployed):
    aws, deployment = deployed
    orchestrator = aws.vend(deployment.role_arn(ORCHESTRATOR))
    session = client_with(assume(orchestrator, deployment.role_arn(TVM), tenant="acme", actor="alice"),
                          "bedrock-agentcore")
    memory_id = _home(deployment).outputs["MemoryId"]

    def update(source: str, target: str | None = None):
        record = {"memoryRecordId": "mem-" + "0" * 40, "timestamp": 0, "content": {"text": "x"},
                  "sourceNamespaces": [source], **({"namespaces": [target]} if target else {})}
        return session.batch_update_memory_records(memoryId=memory_id, records=[record])

    own, bobs = "/facts/acme:alice/", "/facts/acme:bob/"
    # The own record is authorized by its current namespace (the request's sourceNamespaces); the record
    # does not exist, so the service answers the item as failed, not access denied.
    update(own)
    assert denied(update, bobs) == "AccessDeniedException"
    assert denied(update, own, bobs) == "AccessDeniedException"


def test_iam_denies_a_user_session_another_users_existing_index(deployed):
    aws, deployment = deployed
    orchestrator = aws.vend(deployment.role_arn(ORCHESTRATOR))
    alice = client_with(assume(orchestrator, deployment.role_arn(TVM), tenant="acme", actor="alice"), "s3vectors")
    bucket = deployment.function("Orchestrator").environment["MESH_VECTOR_BUCKET"]
    mine, bobs = (memory.user_index_name("tenant-", "acme", actor) for actor in ("alice", "bob"))
    for index, actor in ((mine, "alice"), (bobs, "bob")):
        aws.create_index(bucket, index, dimension=1024, tags={"TenantID": "acme", "ActorID": actor})
    alice.list_vectors(vectorBucketName=bucket, indexName=mine)
    # Bob's index exists and carries the session's TenantID: only its ActorID tag keeps alice out.
    assert denied(alice.list_vectors, vectorBucketName=bucket, indexName=bobs) == "AccessDeniedException"
    assert denied(alice.get_vectors, vectorBucketName=bucket, indexName=bobs, keys=["k"]) == "AccessDeniedException"
    assert denied(alice.put_vectors, vectorBucketName=bucket, indexName=bobs,
                  vectors=[{"key": "k", "data": {"float32": [0.5] * 1024}}]) == "AccessDeniedException"
