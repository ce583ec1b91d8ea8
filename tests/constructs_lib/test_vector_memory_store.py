"""VectorMemoryStore: the bucket only (user indexes are created at run time), grants, ABAC statements, imports."""

from __future__ import annotations

import pytest
from aws_cdk import RemovalPolicy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk.assertions import Match, Template

from constructs_lib import PropsError, VectorMemoryStore
from tests.constructs_lib.helpers import (
    ACTOR,
    TENANT,
    find_statement,
    lid,
    new_stack,
    policy_statements,
    ref,
    resources,
    template_of,
)

BUCKET_ARN = "arn:aws:s3vectors:eu-west-1:333333333333:bucket/team-vectors"


def _role(stack, id="Caller"):
    return iam.Role(stack, id, assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"))


def _index(store, suffix):
    return {"Fn::Join": ["", [ref(store.bucket, "VectorBucketArn"), f"/index/{suffix}"]]}


def test_creates_a_kms_encrypted_retained_bucket_and_no_index():
    stack = new_stack()
    store = VectorMemoryStore(stack, "Store")
    template = Template.from_stack(stack)
    template.resource_count_is("AWS::S3Vectors::Index", 0)
    template.has_resource("AWS::S3Vectors::VectorBucket", {
        "Properties": {"EncryptionConfiguration": {"SseType": "aws:kms", "KmsKeyArn": ref(store.encryption_key)}},
        "DeletionPolicy": "Retain", "UpdateReplacePolicy": "Retain"})
    template.has_resource_properties("AWS::KMS::Key", {"EnableKeyRotation": True})
    assert (store.dimension, store.distance_metric, store.index_prefix) == (1024, "cosine", "tenant-")


def test_the_key_lets_s3_vectors_indexing_decrypt_for_this_accounts_buckets_only():
    stack = new_stack()
    VectorMemoryStore(stack, "Store")
    Template.from_stack(stack).has_resource_properties("AWS::KMS::Key", {"KeyPolicy": {"Statement": Match.array_with([{
        "Sid": "AllowS3VectorsIndexing", "Action": "kms:Decrypt", "Effect": "Allow", "Resource": "*",
        "Principal": {"Service": "indexing.s3vectors.amazonaws.com"},
        "Condition": {"StringEquals": {"aws:SourceAccount": "111111111111"},
                      "ArnLike": {"aws:SourceArn": "arn:aws:s3vectors:us-east-1:111111111111:bucket/*"}}}])}})


def test_apply_removal_policy_reaches_the_bucket_and_its_own_key():
    stack = new_stack()
    store = VectorMemoryStore(stack, "Store")
    store.apply_removal_policy(RemovalPolicy.DESTROY)
    template = template_of(stack)
    assert template["Resources"][lid(store.bucket)]["DeletionPolicy"] == "Delete"
    assert template["Resources"][lid(store.encryption_key)]["DeletionPolicy"] == "Delete"


def test_apply_removal_policy_leaves_a_given_key_alone():
    stack = new_stack()
    key = kms.Key(stack, "Key", enable_key_rotation=True)
    store = VectorMemoryStore(stack, "Store", encryption_key=key)
    store.apply_removal_policy(RemovalPolicy.DESTROY)
    template = template_of(stack)
    assert template["Resources"][lid(store.bucket)]["DeletionPolicy"] == "Delete"
    assert template["Resources"][lid(key)]["DeletionPolicy"] == "Retain"


@pytest.mark.parametrize("props, message", [
    ({"dimension": 0}, "dimension=0: must be a whole number from 1 to 4096"),
    ({"dimension": 5000}, "dimension=5000: must be a whole number from 1 to 4096"),
    ({"distance_metric": "dot"}, "distance_metric='dot': must be one of 'cosine', 'euclidean'"),
    ({"index_prefix": "Tenant_"}, "index_prefix='Tenant_': must be 1-20 lowercase letters, digits, '-' or '.', "
                                  "starting with a letter or digit"),
    ({"vector_bucket_name": "My_Bucket"}, "vector_bucket_name='My_Bucket': must be 3-63 lowercase letters, digits "
                                          "and '-', starting and ending with a letter or digit"),
])
def test_each_bad_prop_has_its_message(props, message):
    with pytest.raises(PropsError) as err:
        VectorMemoryStore(new_stack(), "Store", **props)
    assert err.value.problems == [message]
    assert str(err.value) == f"VectorMemoryStore: invalid props (1 problem(s)):\n  - {message}"


def test_a_token_index_prefix_is_reported_as_literal_only():
    from aws_cdk import CfnParameter

    stack = new_stack()
    with pytest.raises(PropsError) as err:
        VectorMemoryStore(stack, "Store", index_prefix=CfnParameter(stack, "Prefix").value_as_string)
    assert err.value.problems == [
        "index_prefix=<deploy-time token>: must be a literal value, not a deploy-time token (it is written into a "
        "file or an IAM condition at synth)"]


def test_a_token_bucket_name_is_accepted():
    from aws_cdk import CfnParameter

    stack = new_stack()
    VectorMemoryStore(stack, "Store", vector_bucket_name=CfnParameter(stack, "Name").value_as_string)


def test_grants_name_the_tenant_prefixed_indexes_and_use_the_key_through_s3_vectors_only():
    stack = new_stack()
    store = VectorMemoryStore(stack, "Store")
    role = _role(stack)
    store.grant_read(role, tenant_id="acme")
    store.grant_write(role, tenant_id="acme")
    store.grant_delete_indexes(role)
    store.grant_list_indexes(role)
    stmts = policy_statements(template_of(stack), role)
    # Read and write on the same indexes merge into one statement (@aws-cdk/aws-iam:minimizePolicies).
    assert find_statement(stmts, "s3vectors:QueryVectors") == {
        "Action": ["s3vectors:GetIndex", "s3vectors:GetVectors", "s3vectors:ListVectors", "s3vectors:PutVectors",
                   "s3vectors:QueryVectors"],
        "Effect": "Allow", "Resource": _index(store, "tenant-acme.*")}
    assert find_statement(stmts, "s3vectors:DeleteIndex")["Resource"] == _index(store, "tenant-*")
    assert find_statement(stmts, "s3vectors:ListIndexes")["Resource"] == ref(store.bucket, "VectorBucketArn")
    assert find_statement(stmts, "kms:Decrypt") == {
        "Action": ["kms:Decrypt", "kms:GenerateDataKey"], "Effect": "Allow",
        "Condition": {"StringEquals": {"kms:ViaService": ["s3vectors.us-east-1.amazonaws.com"]}},
        "Resource": ref(store.encryption_key)}


def test_a_tenant_grant_checks_the_tenant_id():
    stack = new_stack()
    with pytest.raises(PropsError) as err:
        VectorMemoryStore(stack, "Store").grant_read(_role(stack), tenant_id="Acme")
    assert err.value.problems == ["tenant_id='Acme': must be 3-40 lowercase letters, digits and '-', starting and "
                                  "ending with a letter or digit"]


def test_user_session_access_requires_the_index_tags_of_the_sessions_own_user():
    stack = new_stack()
    store = VectorMemoryStore(stack, "Store")
    role = _role(stack)
    store.grant_session_access(role, isolation="user")
    stmts = policy_statements(template_of(stack), role)
    assert find_statement(stmts, "s3vectors:PutVectors") == {
        "Action": ["s3vectors:DeleteVectors", "s3vectors:GetIndex", "s3vectors:GetVectors", "s3vectors:ListVectors",
                   "s3vectors:PutVectors", "s3vectors:QueryVectors"],
        "Effect": "Allow",
        "Condition": {"StringEquals": {"aws:ResourceTag/TenantID": TENANT, "aws:ResourceTag/ActorID": ACTOR}},
        "Resource": _index(store, f"tenant-{TENANT}.*")}
    assert find_statement(stmts, "s3vectors:CreateIndex") == {
        "Action": ["s3vectors:CreateIndex", "s3vectors:TagResource"],
        "Effect": "Allow",
        "Condition": {
            "StringEquals": {"aws:RequestTag/TenantID": TENANT, "aws:RequestTag/ActorID": ACTOR},
            "Null": {"aws:RequestTag/TenantID": "false", "aws:RequestTag/ActorID": "false"},
            "ForAllValues:StringEquals": {"aws:TagKeys": ["TenantID", "ActorID"]},
            "StringEqualsIfExists": {"aws:ResourceTag/ActorID": ACTOR},
        },
        "Resource": _index(store, f"tenant-{TENANT}.*")}


def test_tenant_session_access_drops_the_actor_conditions():
    stack = new_stack()
    store = VectorMemoryStore(stack, "Store")
    role = _role(stack)
    store.grant_session_access(role, isolation="tenant")
    stmts = policy_statements(template_of(stack), role)
    assert find_statement(stmts, "s3vectors:PutVectors")["Condition"] == {
        "StringEquals": {"aws:ResourceTag/TenantID": TENANT}}
    assert find_statement(stmts, "s3vectors:CreateIndex")["Condition"] == {
        "StringEquals": {"aws:RequestTag/TenantID": TENANT},
        "Null": {"aws:RequestTag/TenantID": "false"},
        "ForAllValues:StringEquals": {"aws:TagKeys": ["TenantID", "ActorID"]},
        "StringEqualsIfExists": {"aws:ResourceTag/TenantID": TENANT},
    }


def test_worker_path_sessions_cannot_delete_vectors_or_create_indexes():
    stack = new_stack()
    store = VectorMemoryStore(stack, "Store")
    role = _role(stack)
    store.grant_session_access(role, isolation="user", worker_path=True)
    (vectors,) = [s for s in policy_statements(template_of(stack), role) if s["Action"] != ["kms:Decrypt",
                                                                                           "kms:GenerateDataKey"]]
    assert vectors["Action"] == ["s3vectors:GetIndex", "s3vectors:GetVectors", "s3vectors:ListVectors",
                                 "s3vectors:PutVectors", "s3vectors:QueryVectors"]


def test_an_unknown_isolation_level_is_refused():
    stack = new_stack()
    with pytest.raises(PropsError) as err:
        VectorMemoryStore(stack, "Store").grant_session_access(_role(stack), isolation="org")
    assert err.value.problems == ["isolation='org': must be one of 'tenant', 'user'"]


def test_an_import_keeps_its_own_account_and_region():
    stack = new_stack()
    key = kms.Key.from_key_arn(stack, "Key", "arn:aws:kms:eu-west-1:333333333333:key/11111111-2222-3333-4444-"
                                             "555555555555")
    store = VectorMemoryStore.from_vector_memory_store_attributes(
        stack, "Imported", vector_bucket_arn=BUCKET_ARN, index_prefix="team-", dimension=256, encryption_key=key)
    assert (store.env.account, store.env.region) == ("333333333333", "eu-west-1")
    assert (store.vector_bucket_name, store.dimension) == ("team-vectors", 256)
    role = _role(stack)
    store.grant_read(role)
    stmts = policy_statements(template_of(stack), role)
    # S3 Vectors calls KMS in the store's Region, not the importing stack's.
    assert find_statement(stmts, "kms:Decrypt")["Condition"] == {
        "StringEquals": {"kms:ViaService": ["s3vectors.eu-west-1.amazonaws.com"]}}
    assert find_statement(stmts, "s3vectors:QueryVectors")["Resource"] == f"{BUCKET_ARN}/index/team-*"


def test_an_import_checks_its_attributes():
    with pytest.raises(PropsError) as err:
        VectorMemoryStore.from_vector_memory_store_attributes(new_stack(), "Imported", vector_bucket_arn="bucket/x",
                                                              index_prefix="-x")
    assert err.value.problems == [
        "vector_bucket_arn='bucket/x': must be an S3 Vectors bucket ARN arn:aws:s3vectors:<region>:<account>:bucket/"
        "<name>",
        "index_prefix='-x': must be 1-20 lowercase letters, digits, '-' or '.', starting with a letter or digit",
    ]


def test_a_grantee_in_another_account_gets_a_bucket_policy_statement():
    stack = new_stack()
    store = VectorMemoryStore(stack, "Store")
    other = iam.Role.from_role_arn(stack, "Other", "arn:aws:iam::222222222222:role/reader")
    store.grant_read(other)
    (policy,) = resources(template_of(stack), "AWS::S3Vectors::VectorBucketPolicy").values()
    (statement,) = policy["Properties"]["Policy"]["Statement"]
    assert statement["Principal"] == {"AWS": "arn:aws:iam::222222222222:role/reader"}
    assert statement["Resource"] == _index(store, "tenant-*")
