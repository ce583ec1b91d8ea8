"""VectorMemoryStore: encryption, per-tenant indexes, grants (exact ARNs), cross-account policy, validation."""

from __future__ import annotations

import pytest
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms

from constructs_lib import PropsError, VectorMemoryStore
from tests.constructs_lib.helpers import as_list, find_statement, new_stack, resources, statements, template_of

def _store(stack, **kwargs):
    return VectorMemoryStore(stack, "Store", **{"tenant_ids": ["acme", "globex"], **kwargs})


def _bucket_arn(template):
    (logical_id,) = resources(template, "AWS::S3Vectors::VectorBucket")
    return {"Fn::GetAtt": [logical_id, "VectorBucketArn"]}


def test_bucket_is_encrypted_with_a_new_rotating_customer_managed_key():
    stack = new_stack()
    _store(stack)
    t = template_of(stack)
    (key_id, key), = resources(t, "AWS::KMS::Key").items()
    assert key["Properties"]["EnableKeyRotation"] is True
    (bucket,) = resources(t, "AWS::S3Vectors::VectorBucket").values()
    assert bucket["Properties"]["EncryptionConfiguration"] == {
        "SseType": "aws:kms", "KmsKeyArn": {"Fn::GetAtt": [key_id, "Arn"]}}


def test_given_key_is_used_and_no_key_is_created():
    stack = new_stack()
    key = kms.Key.from_key_arn(stack, "Imported",
                               "arn:aws:kms:us-east-1:111111111111:key/11111111-2222-3333-4444-555555555555")
    _store(stack, encryption_key=key)
    t = template_of(stack)
    assert resources(t, "AWS::KMS::Key") == {}
    for res in [*resources(t, "AWS::S3Vectors::VectorBucket").values(), *resources(t, "AWS::S3Vectors::Index").values()]:
        assert res["Properties"]["EncryptionConfiguration"]["KmsKeyArn"] == key.key_arn


def test_one_index_per_tenant_with_design_properties():
    stack = new_stack()
    _store(stack, dimension=512, distance_metric="euclidean", index_prefix="t.")
    t = template_of(stack)
    indexes = sorted(resources(t, "AWS::S3Vectors::Index").values(), key=lambda r: r["Properties"]["IndexName"])
    assert [i["Properties"]["IndexName"] for i in indexes] == ["t.acme", "t.globex"]
    for idx in indexes:
        p = idx["Properties"]
        assert p["DataType"] == "float32"
        assert p["Dimension"] == 512
        assert p["DistanceMetric"] == "euclidean"
        assert p["MetadataConfiguration"] == {"NonFilterableMetadataKeys": ["content"]}
        assert p["EncryptionConfiguration"]["SseType"] == "aws:kms"
        assert p["VectorBucketArn"] == _bucket_arn(t)


def test_add_tenant_index_is_idempotent_and_validated():
    stack = new_stack()
    store = _store(stack, tenant_ids=[])
    first = store.add_tenant_index("initech")
    assert store.add_tenant_index("initech") is first
    with pytest.raises(PropsError) as err:
        store.add_tenant_index("Bad_Tenant")
    assert str(err.value) == (
        "VectorMemoryStore.add_tenant_index: invalid props (1 problem(s)):\n"
        "  - tenant_id='Bad_Tenant': tenant ids are 3-40 lowercase letters, digits and '-', starting and ending "
        "with a letter or digit")
    assert len(resources(template_of(stack), "AWS::S3Vectors::Index")) == 1


def test_key_policy_lets_s3_vectors_indexing_decrypt_for_this_account_only():
    stack = new_stack()
    _store(stack)
    (key,) = resources(template_of(stack), "AWS::KMS::Key").values()
    (stmt,) = [s for s in key["Properties"]["KeyPolicy"]["Statement"] if s.get("Sid") == "AllowS3VectorsIndexing"]
    assert stmt["Principal"] == {"Service": "indexing.s3vectors.amazonaws.com"}
    assert stmt["Action"] == "kms:Decrypt"
    assert stmt["Condition"]["StringEquals"] == {"aws:SourceAccount": "111111111111"}
    assert stmt["Condition"]["ArnLike"] == {"aws:SourceArn": "arn:aws:s3vectors:us-east-1:111111111111:bucket/*"}


def _role(stack, name="Grantee"):
    return iam.Role(stack, name, assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"))


def test_tenant_scoped_grant_names_only_the_tagged_tenant_index():
    stack = new_stack()
    store = _store(stack)
    store.grant_tenant_scoped(_role(stack))
    t = template_of(stack)
    stmt = find_statement(statements(t), "s3vectors:QueryVectors")
    assert sorted(as_list(stmt["Action"])) == [
        "s3vectors:DeleteVectors", "s3vectors:GetIndex", "s3vectors:GetVectors", "s3vectors:ListVectors",
        "s3vectors:PutVectors", "s3vectors:QueryVectors"]
    assert stmt["Resource"] == {"Fn::Join": ["", [_bucket_arn(t), "/index/tenant-${aws:PrincipalTag/TenantID}"]]}


def test_read_write_delete_grants_on_named_tenants_use_exact_index_arns():
    stack = new_stack()
    store = _store(stack)
    role = _role(stack)
    store.grant_read(role, tenant_ids=["acme"])
    store.grant_write(role, tenant_ids=["acme"])
    store.grant_delete(role, tenant_ids=["globex"])
    t = template_of(stack)
    stmts = list(statements(t))
    acme = {"Fn::Join": ["", [_bucket_arn(t), "/index/tenant-acme"]]}
    globex = {"Fn::Join": ["", [_bucket_arn(t), "/index/tenant-globex"]]}
    assert find_statement(stmts, "s3vectors:QueryVectors")["Resource"] == acme
    assert find_statement(stmts, "s3vectors:PutVectors")["Resource"] == acme
    assert find_statement(stmts, "s3vectors:DeleteVectors")["Resource"] == globex
    kms_stmt = find_statement(stmts, "kms:Decrypt")
    assert kms_stmt["Condition"] == {"StringEquals": {"kms:ViaService": ["s3vectors.us-east-1.amazonaws.com"]}}


def test_manage_indexes_lists_on_the_bucket_and_creates_only_prefixed_indexes():
    stack = new_stack()
    store = _store(stack)
    store.grant_manage_indexes(_role(stack))
    t = template_of(stack)
    stmts = list(statements(t))
    assert find_statement(stmts, "s3vectors:ListIndexes")["Resource"] == _bucket_arn(t)
    assert find_statement(stmts, "s3vectors:CreateIndex")["Resource"] == {
        "Fn::Join": ["", [_bucket_arn(t), "/index/tenant-*"]]}


def test_no_grant_ever_names_bucket_wildcard():
    stack = new_stack()
    store = _store(stack)
    role = _role(stack)
    store.grant_read(role)
    store.grant_write(role)
    store.grant_delete(role)
    store.grant_manage_indexes(role)
    store.grant_tenant_scoped(role)
    for stmt in statements(template_of(stack)):
        for res in as_list(stmt["Resource"]):
            assert res != "*"
            rendered = str(res)
            assert "bucket/*" not in rendered and "/index/*'" not in rendered


def test_same_account_grantee_gets_no_bucket_policy():
    stack = new_stack()
    _store(stack).grant_read(_role(stack))
    assert resources(template_of(stack), "AWS::S3Vectors::VectorBucketPolicy") == {}


def test_cross_account_grantee_gets_a_vector_bucket_policy_statement():
    stack = new_stack()
    store = _store(stack)
    peer = iam.Role.from_role_arn(stack, "Peer", "arn:aws:iam::222222222222:role/worker-agent")
    store.grant_read(peer, tenant_ids=["acme"])
    t = template_of(stack)
    (policy,) = resources(t, "AWS::S3Vectors::VectorBucketPolicy").values()
    assert policy["Properties"]["VectorBucketArn"] == _bucket_arn(t)
    (stmt,) = policy["Properties"]["Policy"]["Statement"]
    assert stmt["Principal"] == {"AWS": "arn:aws:iam::222222222222:role/worker-agent"}
    assert stmt["Resource"] == {"Fn::Join": ["", [_bucket_arn(t), "/index/tenant-acme"]]}
    assert "s3vectors:QueryVectors" in stmt["Action"]


def test_imported_store_grants_on_the_given_arn():
    stack = new_stack()
    store = VectorMemoryStore.from_vector_memory_store_attributes(
        stack, "Imported", vector_bucket_arn="arn:aws:s3vectors:us-east-1:111111111111:bucket/shared-memory",
        index_prefix="tenant-")
    store.grant_tenant_scoped(_role(stack), write=False, delete=False)
    stmt = find_statement(statements(template_of(stack)), "s3vectors:QueryVectors")
    assert stmt["Resource"] == ("arn:aws:s3vectors:us-east-1:111111111111:bucket/shared-memory"
                                "/index/tenant-${aws:PrincipalTag/TenantID}")
    assert store.vector_bucket_name == "shared-memory"


def test_imported_store_rejects_a_non_vector_bucket_arn():
    with pytest.raises(PropsError) as err:
        VectorMemoryStore.from_vector_memory_store_attributes(new_stack(), "X", vector_bucket_arn="arn:aws:s3:::bucket")
    assert "vector_bucket_arn='arn:aws:s3:::bucket': must be an arn:<partition>:s3vectors:... bucket ARN" in str(err.value)


def test_validation_lists_every_bad_prop_in_one_error():
    with pytest.raises(PropsError) as err:
        VectorMemoryStore(new_stack(), "Store", dimension=5000, distance_metric="dot", index_prefix="Tenant_",
                          tenant_ids=["ok-tenant", "x", "ok-tenant"], vector_bucket_name="Bad_Name",
                          non_filterable_metadata_keys=["content", "actor"])
    assert err.value.problems == [
        "dimension=5000: must be a whole number from 1 to 4096",
        "distance_metric='dot': must be one of cosine, euclidean",
        "index_prefix='Tenant_': 1-20 lowercase letters, digits, '-' or '.', starting with a letter or digit",
        "vector_bucket_name='Bad_Name': 3-63 lowercase letters, digits and '-', starting and ending with a letter or "
        "digit",
        "non_filterable_metadata_keys='actor': the runtime filters on actor, agent, session, type, stored_at; they "
        "must stay filterable",
        "tenant_ids='x': tenant ids are 3-40 lowercase letters, digits and '-', starting and ending with a letter or "
        "digit",
        "tenant_ids=['ok-tenant', 'x', 'ok-tenant']: each tenant may be listed once",
    ]
    assert str(err.value).startswith("VectorMemoryStore: invalid props (7 problem(s)):\n  - dimension=5000")


def test_too_many_non_filterable_keys_is_rejected():
    with pytest.raises(PropsError) as err:
        VectorMemoryStore(new_stack(), "Store", non_filterable_metadata_keys=[f"k{i}" for i in range(11)])
    assert err.value.problems == [
        f"non_filterable_metadata_keys={[f'k{i}' for i in range(11)]!r}: 1-10 distinct keys (S3 Vectors limit)"]


def test_bucket_indexes_and_created_key_are_retained_by_default():
    stack = new_stack()
    _store(stack)
    t = template_of(stack)
    for type_ in ["AWS::S3Vectors::VectorBucket", "AWS::S3Vectors::Index", "AWS::KMS::Key"]:
        for res in resources(t, type_).values():
            assert (res["DeletionPolicy"], res["UpdateReplacePolicy"]) == ("Retain", "Retain"), type_


def test_removal_policy_can_be_destroy_for_throwaway_environments():
    from aws_cdk import RemovalPolicy

    stack = new_stack()
    _store(stack, removal_policy=RemovalPolicy.DESTROY)
    for res in resources(template_of(stack), "AWS::S3Vectors::Index").values():
        assert res["DeletionPolicy"] == "Delete"


def test_tenant_scoped_grant_includes_kms_via_s3vectors():
    stack = new_stack()
    _store(stack).grant_tenant_scoped(_role(stack))
    kms_stmt = find_statement(statements(template_of(stack)), "kms:Decrypt")
    assert kms_stmt["Condition"] == {"StringEquals": {"kms:ViaService": ["s3vectors.us-east-1.amazonaws.com"]}}


def test_cross_account_grantee_also_gets_a_key_policy_statement():
    stack = new_stack()
    store = _store(stack)
    store.grant_read(iam.Role.from_role_arn(stack, "Peer", "arn:aws:iam::222222222222:role/worker-agent"),
                     tenant_ids=["acme"])
    (key,) = resources(template_of(stack), "AWS::KMS::Key").values()
    (stmt,) = [s for s in key["Properties"]["KeyPolicy"]["Statement"]
               if s.get("Principal") == {"AWS": "arn:aws:iam::222222222222:role/worker-agent"}]
    assert stmt["Condition"] == {"StringEquals": {"kms:ViaService": ["s3vectors.us-east-1.amazonaws.com"]}}
    assert sorted(stmt["Action"]) == ["kms:Decrypt", "kms:GenerateDataKey"]


def test_an_imported_key_gets_a_warning_about_its_key_policy():
    from aws_cdk.assertions import Annotations, Match

    stack = new_stack()
    key = kms.Key.from_key_arn(stack, "Imported",
                               "arn:aws:kms:us-east-1:111111111111:key/11111111-2222-3333-4444-555555555555")
    _store(stack, encryption_key=key)
    Annotations.from_stack(stack).has_warning("/Test/Store", Match.string_like_regexp(
        "encryption_key is imported.*indexing.s3vectors.amazonaws.com kms:Decrypt"))
