"""The in-process AWS emulation is faithful: botocore validates requests, the fakes enforce the services'
limits with their error codes, answers match the botocore output model, IAM denies what the synthesized TVM policy
denies, and nothing is served once the context exits."""

from __future__ import annotations

import datetime as dt
import io
import math
import os
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import boto3
import numpy as np
import pytest
from botocore.awsrequest import AWSResponse
from botocore.exceptions import ClientError, NoCredentialsError, ParamValidationError

from runtime.testing import attach_client, emulated_aws, lexical_score, output_problems
from runtime.testing._model import validate_output
from runtime.testing.aws import _HANDLERS

# The conftest's ``aws`` fixture lays the mesh out with these.
REGION = "us-east-1"
ACCOUNT_ID = "111111111111"
BUCKET = "mesh-test-bucket"
INDEX = "fake-index"
INDEX_ARN = f"arn:aws:s3vectors:{REGION}:{ACCOUNT_ID}:bucket/{BUCKET}/index/{INDEX}"
NOW = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC)


def _error(excinfo: pytest.ExceptionInfo[ClientError]) -> tuple[str, int]:
    response = excinfo.value.response
    return response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"]


def _vector(key: str, *values: float, **metadata: Any) -> dict[str, Any]:
    item: dict[str, Any] = {"key": key, "data": {"float32": list(values)}}
    if metadata:
        item["metadata"] = metadata
    return item


@pytest.fixture
def s3v(aws):
    return boto3.client("s3vectors", region_name=REGION)


@pytest.fixture
def index(aws, s3v):
    """A 3-dimensional cosine index with ``content`` non-filterable."""
    aws.create_index(BUCKET, INDEX, dimension=3, non_filterable_keys=["content"])
    return {"vectorBucketName": BUCKET, "indexName": INDEX}


@pytest.fixture
def movies(s3v, index):
    s3v.put_vectors(
        **index,
        vectors=[
            _vector("m1", 1, 0, 0, genre="drama", year=2019, tags=["classic", "award"], rated=True),
            _vector("m2", 0.9, 0.1, 0, genre="comedy", year=2020, tags=["family"], rated=False),
            _vector("m3", 0, 1, 0, genre="drama", year=2021, content="long text"),
            _vector("m4", 0, 0, 1, genre="documentary", year=2024, tags=["award"]),
        ],
    )
    return index


# -- request validation --------------------------------------------------------------------------------


def test_botocore_itself_rejects_params_below_the_model_minimum(aws, s3v, index):
    with pytest.raises(ParamValidationError, match="topK"):
        s3v.query_vectors(**index, topK=0, queryVector={"float32": [1, 0, 0]})
    assert aws.call_count("s3vectors", "QueryVectors") == 0


def test_a_client_without_credentials_fails_as_botocore_does(aws, monkeypatch):
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name)
    client = boto3.session.Session(region_name=REGION).client("s3vectors")
    with pytest.raises(NoCredentialsError):
        client.list_vector_buckets()


@pytest.mark.parametrize(
    ("call", "fragment"),
    [
        (lambda c, i: c.put_vectors(**i, vectors=[_vector(f"k{n}", 1, 0, 0) for n in range(501)]), "/vectors"),
        (lambda c, i: c.put_vectors(**i, vectors=[_vector("k" * 1025, 1, 0, 0)]), "/vectors/0/key"),
        (lambda c, i: c.get_vectors(**i, keys=[f"k{n}" for n in range(101)]), "/keys"),
        (lambda c, i: c.delete_vectors(**i, keys=[f"k{n}" for n in range(501)]), "/keys"),
        (lambda c, i: c.list_vectors(**i, maxResults=1001), "/maxResults"),
        (lambda c, i: c.list_vectors(**i, segmentCount=17, segmentIndex=0), "/segmentCount"),
        (lambda c, i: c.create_index(vectorBucketName=BUCKET, indexName="x" * 64, dataType="float32",
                                     dimension=3, distanceMetric="cosine"), "/indexName"),
        (lambda c, i: c.create_index(vectorBucketName=BUCKET, indexName="big", dataType="float32",
                                     dimension=4097, distanceMetric="cosine"), "/dimension"),
        (lambda c, i: c.create_index(vectorBucketName=BUCKET, indexName="dot", dataType="float32",
                                     dimension=3, distanceMetric="dotProduct"), "enum value set"),
        (lambda c, i: c.create_index(vectorBucketName=BUCKET, indexName="many", dataType="float32",
                                     dimension=3, distanceMetric="cosine",
                                     metadataConfiguration={"nonFilterableMetadataKeys": [f"k{n}" for n in range(11)]}),
         "/metadataConfiguration/nonFilterableMetadataKeys"),
    ],
    ids=["501-vectors", "key-1025", "get-101", "delete-501", "page-1001", "segments-17", "index-name-64",
         "dimension-4097", "metric-enum", "non-filterable-11"],
)
def test_service_side_model_limits_answer_validation_exception(aws, s3v, index, call, fragment):
    with pytest.raises(ClientError) as excinfo:
        call(s3v, index)
    assert _error(excinfo) == ("ValidationException", 400)
    assert fragment in excinfo.value.response["Error"]["Message"]
    assert aws.s3vectors.index(BUCKET, INDEX).vectors == {}


# -- S3 Vectors limits and errors ------------------------------------------------------------------------


def test_top_k_is_capped_at_100(s3v, movies):
    assert s3v.query_vectors(**movies, topK=100, queryVector={"float32": [1, 0, 0]})["vectors"]
    with pytest.raises(ClientError, match="topK must be between 1 and 100") as excinfo:
        s3v.query_vectors(**movies, topK=101, queryVector={"float32": [1, 0, 0]})
    assert _error(excinfo) == ("ValidationException", 400)


def test_a_batch_with_one_bad_vector_writes_nothing(aws, s3v, index):
    with pytest.raises(ClientError, match="key 'bad'.*must have length 3, but has length 2"):
        s3v.put_vectors(**index, vectors=[_vector("good", 1, 0, 0), _vector("bad", 1, 0)])
    assert aws.s3vectors.index(BUCKET, INDEX).vectors == {}


def test_query_vector_dimension_must_match(s3v, movies):
    with pytest.raises(ClientError, match="must have length 3, but has length 4"):
        s3v.query_vectors(**movies, topK=1, queryVector={"float32": [1, 0, 0, 0]})


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ([0.0, 0.0, 0.0], "zero vectors are not allowed with the cosine distance metric"),
        ([1e-46, 0.0, 0.0], "zero vectors are not allowed"),  # rounds to 0 in float32
        ([math.nan, 1.0, 0.0], "only finite values"),
        ([math.inf, 1.0, 0.0], "only finite values"),
        ([1e39, 1.0, 0.0], "representable as float32"),
    ],
)
def test_invalid_vector_values_are_rejected(s3v, index, values, message):
    with pytest.raises(ClientError, match=message):
        s3v.put_vectors(**index, vectors=[{"key": "v", "data": {"float32": values}}])


def test_zero_vectors_are_fine_with_euclidean(aws, s3v):
    aws.create_index(BUCKET, "euclid", dimension=2, distance_metric="euclidean")
    s3v.put_vectors(vectorBucketName=BUCKET, indexName="euclid", vectors=[_vector("origin", 0, 0)])
    found = s3v.query_vectors(
        vectorBucketName=BUCKET, indexName="euclid", topK=1, queryVector={"float32": [3, 4]}, returnDistance=True
    )
    assert found["distanceMetric"] == "euclidean"
    assert found["vectors"][0]["distance"] == pytest.approx(5.0)


def test_values_are_stored_as_float32(s3v, index):
    s3v.put_vectors(**index, vectors=[_vector("v", 0.1, 1 / 3, 1e-3)])
    [got] = s3v.get_vectors(**index, keys=["v"], returnData=True)["vectors"]
    assert got["data"]["float32"] == np.asarray([0.1, 1 / 3, 1e-3], dtype=np.float32).tolist()
    assert got["data"]["float32"][0] != 0.1


def test_filterable_metadata_is_capped_at_2_kb_but_non_filterable_keys_may_be_larger(s3v, index):
    s3v.put_vectors(**index, vectors=[_vector("big-content", 1, 0, 0, actor="a", content="x" * 30_000)])
    with pytest.raises(ClientError, match=r"filterable metadata is \d+ bytes; the limit is 2048") as excinfo:
        s3v.put_vectors(**index, vectors=[_vector("big-filterable", 1, 0, 0, note="x" * 2100)])
    assert _error(excinfo) == ("ValidationException", 400)


def test_total_metadata_is_capped_at_40_kb(s3v, index):
    with pytest.raises(ClientError, match=r"metadata is \d+ bytes; the limit is 40960 bytes"):
        s3v.put_vectors(**index, vectors=[_vector("huge", 1, 0, 0, content="x" * 41_000)])


def test_metadata_is_capped_at_50_keys(s3v, index):
    fifty = {f"k{n}": n for n in range(50)}
    s3v.put_vectors(**index, vectors=[_vector("fifty", 1, 0, 0, **fifty)])
    with pytest.raises(ClientError, match="metadata has 51 keys; the limit is 50"):
        s3v.put_vectors(**index, vectors=[_vector("fifty-one", 1, 0, 0, **fifty, extra=1)])


@pytest.mark.parametrize("value", [{"nested": "object"}, None, [["nested"]], [{"a": 1}]])
def test_metadata_values_must_be_primitives_or_lists_of_them(s3v, index, value):
    with pytest.raises(ClientError, match="must be a string, number, boolean or a list of those"):
        s3v.put_vectors(**index, vectors=[_vector("v", 1, 0, 0, field=value)])


@pytest.mark.parametrize("name", ["Upper-case", "under_score", "-leading", "trailing-", "sp ace"])
def test_index_names_follow_the_naming_rules(s3v, aws, name):
    with pytest.raises(ClientError, match="Invalid index name") as excinfo:
        aws.create_index(BUCKET, name, dimension=3)
    assert _error(excinfo) == ("ValidationException", 400)


@pytest.mark.parametrize("name", ["has.dot", "UPPER", "-lead", "trail-"])
def test_bucket_names_follow_the_naming_rules(aws, name):
    with pytest.raises(ClientError, match="Invalid vector bucket name"):
        aws.create_vector_bucket(name)


def test_conflicts_and_quota_codes(aws, s3v, index):
    with pytest.raises(ClientError) as excinfo:
        aws.create_vector_bucket(BUCKET)
    assert _error(excinfo) == ("ConflictException", 409)
    with pytest.raises(ClientError) as excinfo:
        aws.create_index(BUCKET, INDEX, dimension=3)
    assert _error(excinfo) == ("ConflictException", 409)
    with pytest.raises(ClientError, match="not empty") as excinfo:
        s3v.delete_vector_bucket(vectorBucketName=BUCKET)
    assert _error(excinfo) == ("ConflictException", 409)


def test_missing_resources_answer_not_found(s3v, index):
    for call in (
        lambda: s3v.query_vectors(vectorBucketName=BUCKET, indexName="missing", topK=1, queryVector={"float32": [1]}),
        lambda: s3v.get_index(vectorBucketName="no-such-bucket", indexName=INDEX),
        lambda: s3v.list_indexes(vectorBucketName="no-such-bucket"),
        lambda: s3v.get_vector_bucket_policy(vectorBucketName=BUCKET),
        lambda: s3v.list_tags_for_resource(resourceArn=INDEX_ARN.replace(INDEX, "missing")),
    ):
        with pytest.raises(ClientError) as excinfo:
            call()
        assert _error(excinfo) == ("NotFoundException", 404)
        assert isinstance(excinfo.value, s3v.exceptions.NotFoundException)


def test_index_is_named_by_arn_or_by_bucket_and_name_but_not_both(s3v, movies):
    by_arn = s3v.get_vectors(indexArn=INDEX_ARN, keys=["m1"])["vectors"]
    assert by_arn == [{"key": "m1"}]
    with pytest.raises(ClientError, match="Must specify either indexArn or both"):
        s3v.get_vectors(indexArn=INDEX_ARN, vectorBucketName=BUCKET, keys=["m1"])
    with pytest.raises(ClientError, match="Must specify either indexArn or both"):
        s3v.get_vectors(vectorBucketName=BUCKET, keys=["m1"])


def test_regions_do_not_share_state(aws, movies):
    west = boto3.client("s3vectors", region_name="us-west-2")
    with pytest.raises(ClientError) as excinfo:
        west.get_index(vectorBucketName=BUCKET, indexName=INDEX)
    assert _error(excinfo) == ("NotFoundException", 404)


# -- query semantics and filters -------------------------------------------------------------------------


def test_query_ranks_by_cosine_distance_and_returns_only_what_was_asked(s3v, movies):
    answer = s3v.query_vectors(**movies, topK=2, queryVector={"float32": [1, 0, 0]}, returnDistance=True)
    assert [v["key"] for v in answer["vectors"]] == ["m1", "m2"]
    assert answer["vectors"][0]["distance"] == pytest.approx(0.0, abs=1e-6)
    assert answer["vectors"][1]["distance"] == pytest.approx(1 - 0.9 / math.hypot(0.9, 0.1), abs=1e-6)
    assert "metadata" not in answer["vectors"][0]
    plain = s3v.query_vectors(**movies, topK=1, queryVector={"float32": [0, 1, 0]}, returnMetadata=True)
    assert plain["vectors"] == [{"key": "m3", "metadata": {"genre": "drama", "year": 2021, "content": "long text"}}]


@pytest.mark.parametrize(
    ("query_filter", "expected"),
    [
        ({"genre": "drama"}, {"m1", "m3"}),
        ({"genre": {"$eq": "drama"}}, {"m1", "m3"}),
        ({"tags": {"$eq": "award"}}, {"m1", "m4"}),
        ({"genre": {"$ne": "drama"}}, {"m2", "m4"}),
        ({"tags": {"$ne": "award"}}, {"m2", "m3"}),
        ({"year": {"$gt": 2020}}, {"m3", "m4"}),
        ({"year": {"$gte": 2020}}, {"m2", "m3", "m4"}),
        ({"year": {"$lt": 2020}}, {"m1"}),
        ({"year": {"$lte": 2020}}, {"m1", "m2"}),
        ({"year": {"$gte": 2020, "$lt": 2024}}, {"m2", "m3"}),
        ({"genre": {"$in": ["comedy", "documentary"]}}, {"m2", "m4"}),
        ({"genre": {"$nin": ["comedy", "documentary"]}}, {"m1", "m3"}),
        ({"tags": {"$exists": True}}, {"m1", "m2", "m4"}),
        ({"tags": {"$exists": False}}, {"m3"}),
        ({"rated": True}, {"m1"}),
        ({"rated": {"$eq": 1}}, set()),
        ({"$and": [{"genre": "drama"}, {"year": {"$gt": 2019}}]}, {"m3"}),
        ({"$or": [{"genre": "comedy"}, {"year": 2024}]}, {"m2", "m4"}),
        ({"$or": [{"$and": [{"genre": "drama"}, {"year": 2019}]}, {"tags": "family"}]}, {"m1", "m2"}),
    ],
)
def test_metadata_filter_operators(s3v, movies, query_filter, expected):
    answer = s3v.query_vectors(**movies, topK=10, queryVector={"float32": [1, 1, 1]}, filter=query_filter)
    assert {v["key"] for v in answer["vectors"]} == expected


@pytest.mark.parametrize(
    ("query_filter", "message"),
    [
        ({"content": "long text"}, "'content' is non-filterable"),
        ({"genre": {"$regex": "d.*"}}, "unsupported operator \\$regex"),
        ({"$not": {"genre": "drama"}}, "unsupported operator \\$not"),
        ({"genre": {"$in": []}}, "non-empty array"),
        ({"year": {"$gt": "2020"}}, "\\$gt takes a number"),
        ({"tags": {"$exists": "yes"}}, "\\$exists takes a boolean"),
        ({"$and": {"genre": "drama"}}, "\\$and takes a non-empty array"),
        ({"genre": {}}, "must not be empty"),
        ({"genre": ["drama"]}, "expected a string, number or boolean"),
    ],
)
def test_invalid_filters_answer_validation_exception(s3v, movies, query_filter, message):
    with pytest.raises(ClientError, match=message) as excinfo:
        s3v.query_vectors(**movies, topK=3, queryVector={"float32": [1, 0, 0]}, filter=query_filter)
    assert _error(excinfo) == ("ValidationException", 400)


def test_full_text_search_needs_an_enhanced_index(aws, s3v, movies):
    with pytest.raises(ClientError, match="require a vector index in ENHANCED mode"):
        s3v.query_vectors(**movies, topK=3, queryTexts=[{"text": "drama", "metadataKey": "genre"}])
    s3v.create_vector_bucket(vectorBucketName="enhanced-bucket")
    s3v.put_vector_bucket_default_index_mode(vectorBucketName="enhanced-bucket", defaultIndexMode="ENHANCED")
    s3v.create_index(
        vectorBucketName="enhanced-bucket", indexName="docs", dataType="float32", dimension=2,
        distanceMetric="cosine",
        metadataConfiguration={"textSearchConfigurations": [{"metadataKey": "body", "language": "en"}]},
    )
    target = {"vectorBucketName": "enhanced-bucket", "indexName": "docs"}
    s3v.put_vectors(**target, vectors=[
        _vector("a", 1, 0, body="green tea and green apples"),
        _vector("b", 0, 1, body="black coffee"),
        _vector("c", 1, 1, body="green light"),
    ])
    text = s3v.query_vectors(**target, topK=5, queryTexts=[{"text": "green", "metadataKey": "body"}],
                             returnScores=True)
    assert [v["key"] for v in text["vectors"]] == ["a", "c"]
    assert text["vectors"][0]["scores"]["bm25Scores"][0]["metadataKey"] == "body"
    hybrid = s3v.query_vectors(**target, topK=5, queryVector={"float32": [0, 1]},
                               queryTexts=[{"text": "green", "metadataKey": "body"}], returnScores=True)
    assert {v["key"] for v in hybrid["vectors"]} == {"a", "b", "c"}
    assert all("fused" in v["scores"] for v in hybrid["vectors"])
    assert output_problems(s3v, "QueryVectors", hybrid) == []
    with pytest.raises(ClientError, match="not configured for full-text search"):
        s3v.query_vectors(**target, topK=5, queryTexts=[{"text": "x", "metadataKey": "title"}])


# -- pagination -----------------------------------------------------------------------------------------


def test_list_vectors_pages_with_next_token_and_paginator(s3v, index):
    s3v.put_vectors(**index, vectors=[_vector(f"k{n:02d}", 1, n, 0, n=n) for n in range(25)])
    keys, token, pages = [], None, 0
    while True:
        page = s3v.list_vectors(**index, maxResults=10, **({"nextToken": token} if token else {}))
        assert output_problems(s3v, "ListVectors", page) == []
        assert all(set(v) == {"key"} for v in page["vectors"])
        keys += [v["key"] for v in page["vectors"]]
        pages += 1
        token = page.get("nextToken")
        if not token:
            break
    assert pages == 3 and keys == [f"k{n:02d}" for n in range(25)]
    paginated = s3v.get_paginator("list_vectors").paginate(
        **index, returnMetadata=True, returnData=True, PaginationConfig={"PageSize": 7}
    )
    everything = [v for page in paginated for v in page["vectors"]]
    assert len(everything) == 25 and everything[3]["metadata"] == {"n": 3}
    assert everything[3]["data"]["float32"] == [1.0, 3.0, 0.0]


def test_list_vectors_rejects_tokens_it_did_not_issue(s3v, movies):
    with pytest.raises(ClientError, match="nextToken is not valid"):
        s3v.list_vectors(**movies, nextToken="bm90LWEtdG9rZW4=")
    first = s3v.list_vectors(**movies, maxResults=1)["nextToken"]
    with pytest.raises(ClientError, match="nextToken is not valid"):
        s3v.list_vectors(**movies, maxResults=1, nextToken=first, segmentCount=2, segmentIndex=0)


def test_parallel_segments_partition_the_index(s3v, index):
    s3v.put_vectors(**index, vectors=[_vector(f"k{n}", 1, n, 0) for n in range(40)])
    seen = [
        {v["key"] for v in s3v.list_vectors(**index, segmentCount=4, segmentIndex=i)["vectors"]} for i in range(4)
    ]
    assert set().union(*seen) == {f"k{n}" for n in range(40)}
    assert sum(len(s) for s in seen) == 40
    with pytest.raises(ClientError, match="must be less than segmentCount"):
        s3v.list_vectors(**index, segmentCount=2, segmentIndex=2)
    with pytest.raises(ClientError, match="must be specified together"):
        s3v.list_vectors(**index, segmentCount=2)


def test_a_list_vectors_page_stops_near_1_mb_of_data(aws, s3v):
    aws.create_index(BUCKET, "wide", dimension=4096)
    rng = np.random.default_rng(7)
    target = {"vectorBucketName": BUCKET, "indexName": "wide"}
    s3v.put_vectors(**target, vectors=[
        {"key": f"w{n:02d}", "data": {"float32": rng.random(4096).tolist()}} for n in range(30)
    ])
    page = s3v.list_vectors(**target, returnData=True, maxResults=1000)
    assert 0 < len(page["vectors"]) < 30 and page["nextToken"]


def test_list_indexes_and_buckets_page_and_filter_by_prefix(aws, s3v):
    for n in range(5):
        aws.create_index(BUCKET, f"page-{n}", dimension=2)
    first = s3v.list_indexes(vectorBucketName=BUCKET, prefix="page-", maxResults=3)
    rest = s3v.list_indexes(vectorBucketName=BUCKET, prefix="page-", maxResults=3, nextToken=first["nextToken"])
    assert [i["indexName"] for i in first["indexes"] + rest["indexes"]] == [f"page-{n}" for n in range(5)]
    assert "nextToken" not in rest
    assert [b["vectorBucketName"] for b in s3v.list_vector_buckets(prefix="mesh-")["vectorBuckets"]] == [BUCKET]


# -- response shapes ---------------------------------------------------------------------------------------


def test_every_s3vectors_answer_matches_the_output_model(aws, s3v, movies):
    calls = {
        "GetVectorBucket": s3v.get_vector_bucket(vectorBucketName=BUCKET),
        "ListVectorBuckets": s3v.list_vector_buckets(),
        "GetIndex": s3v.get_index(**movies),
        "ListIndexes": s3v.list_indexes(vectorBucketName=BUCKET),
        "GetVectors": s3v.get_vectors(**movies, keys=["m1", "nope", "m3"], returnData=True, returnMetadata=True),
        "ListVectors": s3v.list_vectors(**movies, returnData=True, returnMetadata=True),
        "QueryVectors": s3v.query_vectors(**movies, topK=3, queryVector={"float32": [1, 0, 0]},
                                          returnMetadata=True, returnDistance=True, filter={"year": {"$gt": 0}}),
        "ListTagsForResource": s3v.list_tags_for_resource(resourceArn=INDEX_ARN),
    }
    for operation, response in calls.items():
        assert output_problems(s3v, operation, response) == [], operation
    index = calls["GetIndex"]["index"]
    assert index["metadataConfiguration"] == {"nonFilterableMetadataKeys": ["content"]}
    assert isinstance(index["creationTime"], dt.datetime)
    assert [v["key"] for v in calls["GetVectors"]["vectors"]] == ["m1", "m3"]
    assert calls["GetVectorBucket"]["vectorBucket"]["encryptionConfiguration"]["sseType"] == "aws:kms"


def test_tags_policy_and_index_lifecycle(aws, s3v, movies):
    s3v.tag_resource(resourceArn=INDEX_ARN, tags={"team": "mesh"})
    assert s3v.list_tags_for_resource(resourceArn=INDEX_ARN)["tags"] == {"team": "mesh"}
    s3v.untag_resource(resourceArn=INDEX_ARN, tagKeys=["team"])
    assert s3v.list_tags_for_resource(resourceArn=INDEX_ARN)["tags"] == {}
    with pytest.raises(ClientError, match="not valid JSON"):
        s3v.put_vector_bucket_policy(vectorBucketName=BUCKET, policy="{nope")
    s3v.put_vector_bucket_policy(vectorBucketName=BUCKET, policy='{"Version":"2012-10-17","Statement":[]}')
    assert "Statement" in s3v.get_vector_bucket_policy(vectorBucketName=BUCKET)["policy"]
    s3v.delete_vectors(**movies, keys=["m1", "never-there"])
    assert sorted(aws.s3vectors.index(BUCKET, INDEX).vectors) == ["m2", "m3", "m4"]
    s3v.delete_index(**movies)
    with pytest.raises(ClientError, match="index could not be found"):
        s3v.get_index(**movies)


def test_validate_output_reports_what_breaks_the_model(s3v):
    shape = s3v.meta.service_model.operation_model("QueryVectors").output_shape
    assert validate_output(shape, {"vectors": [{"key": "k"}], "distanceMetric": "cosine"}) == []
    problems = validate_output(shape, {"vectors": [{"key": "", "extra": 1}], "distanceMetric": "manhattan"})
    assert any("unknown member 'extra'" in p for p in problems)
    assert any("below the minimum 1" in p for p in problems)
    assert any("'manhattan' is not one of" in p for p in problems)
    assert validate_output(shape, {"vectors": []}) == [
        "/: missing required member 'distanceMetric' of QueryVectorsOutput"
    ]


# -- AgentCore Memory -----------------------------------------------------------------------------------


@pytest.fixture
def agentcore(aws):
    return boto3.client("bedrock-agentcore", region_name=REGION)


@pytest.fixture
def memory_id(aws):
    return aws.mesh.memory_id


def _turn(role: str, text: str) -> dict[str, Any]:
    return {"conversational": {"role": role, "content": {"text": text}}}


def _event(client, memory_id, actor, session, *turns, at=NOW, **extra):
    return client.create_event(
        memoryId=memory_id, actorId=actor, sessionId=session, eventTimestamp=at, payload=list(turns), **extra
    )["event"]


def test_events_list_newest_first_with_pagination_and_optional_payloads(agentcore, memory_id):
    ids = [
        _event(agentcore, memory_id, "acme:alice", "s1", _turn("USER", f"message {n}"),
               at=NOW + dt.timedelta(seconds=n))["eventId"]
        for n in range(5)
    ]
    first = agentcore.list_events(memoryId=memory_id, actorId="acme:alice", sessionId="s1", maxResults=2)
    assert [e["eventId"] for e in first["events"]] == ids[:-3:-1]
    assert first["events"][0]["payload"] == [_turn("USER", "message 4")]
    everything = [
        e for page in agentcore.get_paginator("list_events").paginate(
            memoryId=memory_id, actorId="acme:alice", sessionId="s1", includePayloads=False,
            PaginationConfig={"PageSize": 2})
        for e in page["events"]
    ]
    assert [e["eventId"] for e in everything] == ids[::-1]
    assert all(e["payload"] == [] for e in everything)
    assert output_problems(agentcore, "ListEvents", first) == []


def test_event_lifecycle_sessions_and_actors(agentcore, memory_id):
    event = _event(agentcore, memory_id, "acme:alice", "s1", _turn("USER", "hi"), _turn("ASSISTANT", "hello"),
                   metadata={"agent": {"stringValue": "planner"}})
    _event(agentcore, memory_id, "acme:alice", "s2", _turn("USER", "again"))
    _event(agentcore, memory_id, "acme:bob", "s1", _turn("USER", "bob here"))
    got = agentcore.get_event(memoryId=memory_id, actorId="acme:alice", sessionId="s1", eventId=event["eventId"])
    assert got["event"] == event and output_problems(agentcore, "GetEvent", got) == []
    sessions = agentcore.list_sessions(memoryId=memory_id, actorId="acme:alice")
    assert {s["sessionId"] for s in sessions["sessionSummaries"]} == {"s1", "s2"}
    assert output_problems(agentcore, "ListSessions", sessions) == []
    actors = agentcore.list_actors(memoryId=memory_id)
    assert [a["actorId"] for a in actors["actorSummaries"]] == ["acme:alice", "acme:bob"]
    filtered = agentcore.list_events(
        memoryId=memory_id, actorId="acme:alice", sessionId="s1",
        filter={"eventMetadata": [{"left": {"metadataKey": "agent"}, "operator": "EQUALS_TO",
                                   "right": {"metadataValue": {"stringValue": "planner"}}}]},
    )
    assert [e["eventId"] for e in filtered["events"]] == [event["eventId"]]
    deleted = agentcore.delete_event(memoryId=memory_id, actorId="acme:alice", sessionId="s1",
                                     eventId=event["eventId"])
    assert deleted["eventId"] == event["eventId"]
    with pytest.raises(ClientError) as excinfo:
        agentcore.get_event(memoryId=memory_id, actorId="acme:alice", sessionId="s1", eventId=event["eventId"])
    assert _error(excinfo) == ("ResourceNotFoundException", 404)


def test_create_event_is_idempotent_per_client_token(aws, agentcore, memory_id):
    token = str(uuid.uuid4())
    first = _event(agentcore, memory_id, "acme:alice", "s1", _turn("USER", "once"), clientToken=token)
    again = _event(agentcore, memory_id, "acme:alice", "s1", _turn("USER", "once"), clientToken=token)
    assert first["eventId"] == again["eventId"]
    assert len(aws.agentcore.events(memory_id)) == 1


def test_agentcore_errors(agentcore, memory_id):
    with pytest.raises(ClientError) as excinfo:
        _event(agentcore, "unknownmem-0123456789", "acme:alice", "s1", _turn("USER", "hi"))
    assert _error(excinfo) == ("ResourceNotFoundException", 404)
    with pytest.raises(ClientError, match="actorId") as excinfo:
        _event(agentcore, memory_id, "acme alice!", "s1", _turn("USER", "hi"))
    assert _error(excinfo) == ("ValidationException", 400)
    assert excinfo.value.response["reason"] == "FieldValidationFailed"
    with pytest.raises(ClientError, match="searchCriteria.topK") as excinfo:
        agentcore.retrieve_memory_records(memoryId=memory_id, namespace="/facts/acme:alice/",
                                          searchCriteria={"searchQuery": "x", "topK": 101})
    with pytest.raises(ClientError, match="Either namespace or namespacePath"):
        agentcore.retrieve_memory_records(memoryId=memory_id, searchCriteria={"searchQuery": "x"})
    with pytest.raises(ClientError, match="payload must contain at least one item"):
        _event(agentcore, memory_id, "acme:alice", "s1")
    with pytest.raises(ParamValidationError):
        agentcore.list_events(memoryId=memory_id, actorId="acme:alice", sessionId="s1", maxResults=0)


def test_retrieve_matches_namespaces_exactly_or_by_path_and_ranks_lexically(aws, agentcore, memory_id):
    add = aws.agentcore.add_record
    add(memory_id, "/facts/acme:alice/", "Alice prefers aisle seats on long flights")
    add(memory_id, "/facts/acme:alice/", "Alice lives in Lisbon")
    add(memory_id, "/summaries/acme:alice/s1/", "Booked a flight to Lisbon with an aisle seat")
    add(memory_id, "/facts/acme:bob/", "Bob prefers window seats")
    exact = agentcore.retrieve_memory_records(
        memoryId=memory_id, namespace="/facts/acme:alice/", searchCriteria={"searchQuery": "aisle seats", "topK": 5}
    )
    texts = [r["content"]["text"] for r in exact["memoryRecordSummaries"]]
    assert texts == ["Alice prefers aisle seats on long flights", "Alice lives in Lisbon"]
    scores = [r["score"] for r in exact["memoryRecordSummaries"]]
    assert scores[0] == lexical_score("aisle seats", texts[0]) > 0 and scores[1] == 0.0
    assert output_problems(agentcore, "RetrieveMemoryRecords", exact) == []
    subtree = agentcore.retrieve_memory_records(
        memoryId=memory_id, namespacePath="/summaries/acme:alice", searchCriteria={"searchQuery": "Lisbon"}
    )
    assert [r["namespaces"] for r in subtree["memoryRecordSummaries"]] == [["/summaries/acme:alice/s1/"]]
    assert agentcore.retrieve_memory_records(
        memoryId=memory_id, namespace="/facts/acme", searchCriteria={"searchQuery": "seats"}
    )["memoryRecordSummaries"] == []
    top1 = agentcore.retrieve_memory_records(
        memoryId=memory_id, namespacePath="/", searchCriteria={"searchQuery": "seats", "topK": 1}
    )
    assert len(top1["memoryRecordSummaries"]) == 1


def test_memory_records_list_get_and_delete(aws, agentcore, memory_id):
    ids = [aws.agentcore.add_record(memory_id, "/facts/acme:alice/", f"fact number {n}") for n in range(5)]
    other = aws.agentcore.add_record(memory_id, "/facts/acme:bob/", "bob fact")
    page = agentcore.list_memory_records(memoryId=memory_id, namespace="/facts/acme:alice/", maxResults=3)
    rest = agentcore.list_memory_records(memoryId=memory_id, namespace="/facts/acme:alice/", maxResults=3,
                                         nextToken=page["nextToken"])
    listed = [r["memoryRecordId"] for r in page["memoryRecordSummaries"] + rest["memoryRecordSummaries"]]
    assert sorted(listed) == sorted(ids) and output_problems(agentcore, "ListMemoryRecords", page) == []
    record = agentcore.get_memory_record(memoryId=memory_id, memoryRecordId=ids[0])
    assert record["memoryRecord"]["content"]["text"] == "fact number 0"
    assert output_problems(agentcore, "GetMemoryRecord", record) == []
    with pytest.raises(ClientError) as excinfo:
        agentcore.get_memory_record(memoryId=memory_id, memoryRecordId=other, namespace="/facts/acme:alice/")
    assert _error(excinfo) == ("ResourceNotFoundException", 404)
    agentcore.delete_memory_record(memoryId=memory_id, memoryRecordId=ids[0], namespace="/facts/acme:alice/")
    batch = agentcore.batch_delete_memory_records(
        memoryId=memory_id,
        records=[{"memoryRecordId": ids[1]}, {"memoryRecordId": ids[0]}, {"memoryRecordId": other,
                                                                          "namespace": "/facts/acme:alice/"}],
    )
    assert [r["memoryRecordId"] for r in batch["successfulRecords"]] == [ids[1]]
    assert [(r["memoryRecordId"], r["errorCode"]) for r in batch["failedRecords"]] == [(ids[0], 404), (other, 404)]
    assert output_problems(agentcore, "BatchDeleteMemoryRecords", batch) == []
    created = agentcore.batch_create_memory_records(
        memoryId=memory_id,
        records=[{"requestIdentifier": "r1", "namespaces": ["/facts/acme:carol/"], "content": {"text": "new"},
                  "timestamp": NOW}],
    )
    assert created["successfulRecords"][0]["requestIdentifier"] == "r1"
    assert {r.namespace for r in aws.agentcore.records(memory_id)} == {"/facts/acme:alice/", "/facts/acme:bob/",
                                                                      "/facts/acme:carol/"}


def test_extraction_lets_a_later_session_recall_what_an_earlier_one_said(aws, agentcore, memory_id):
    _event(agentcore, memory_id, "acme:alice", "s1",
           _turn("USER", "I always prefer aisle seats. My passport expires in March. Can you book Lisbon?"),
           _turn("ASSISTANT", "Booked Lisbon with an aisle seat."))
    _event(agentcore, memory_id, "acme:alice", "s1", _turn("USER", "Please ignore this remark entirely."),
           extractionMode="SKIP")
    created = aws.agentcore.extract(memory_id)
    assert created and aws.agentcore.extract(memory_id) == []
    by_namespace: dict[str, list[str]] = {}
    for record in aws.agentcore.records(memory_id):
        by_namespace.setdefault(record.namespace, []).append(record.text)
    assert by_namespace["/facts/acme:alice/"] == ["I always prefer aisle seats.", "My passport expires in March."]
    assert by_namespace["/preferences/acme:alice/"] == ["I always prefer aisle seats."]
    [summary] = by_namespace["/summaries/acme:alice/s1/"]
    assert "user said: I always prefer aisle seats." in summary and "assistant said: Booked Lisbon" in summary
    assert "ignore this remark" not in summary

    recalled = agentcore.retrieve_memory_records(
        memoryId=memory_id, namespace="/facts/acme:alice/", searchCriteria={"searchQuery": "which seats do I prefer"}
    )["memoryRecordSummaries"]
    assert recalled[0]["content"]["text"] == "I always prefer aisle seats."
    _event(agentcore, memory_id, "acme:alice", "s1", _turn("USER", "Also add travel insurance please."))
    aws.agentcore.extract(memory_id, actor_id="acme:alice", session_id="s1")
    [summary] = [r.text for r in aws.agentcore.records(memory_id) if r.namespace == "/summaries/acme:alice/s1/"]
    assert "travel insurance" in summary


def test_memories_created_with_legacy_namespaces_extract_too(aws, agentcore):
    memory_id = aws.create_memory(
        "legacy_memory", strategies=[{"semanticMemoryStrategy": {"name": "Facts", "namespaces": ["/kb/{actorId}/"]}}]
    )
    _event(agentcore, memory_id, "acme:alice", "s1", _turn("USER", "The deploy window is Friday evening."))
    aws.agentcore.extract(memory_id)
    assert [r.namespace for r in aws.agentcore.records(memory_id)] == ["/kb/acme:alice/"]


# -- IAM: the TVM the constructs synthesize, evaluated ---------------------------------------------------


def _user_index(tenant: str, actor: str) -> str:
    from runtime.contract import memory

    return memory.user_index_name("tenant-", tenant, actor)


def test_tvm_sessions_reach_only_their_own_user_index(aws, tenant_client):
    for tenant, actor in (("acme", "alice"), ("acme", "bob"), ("globex", "alice")):
        aws.create_index(BUCKET, _user_index(tenant, actor), dimension=256,
                         tags={"TenantID": tenant, "ActorID": actor})
    alice = tenant_client("s3vectors", "acme", "alice")
    own = {"vectorBucketName": BUCKET, "indexName": _user_index("acme", "alice")}
    alice.put_vectors(**own, vectors=[{"key": "k", "data": {"float32": [1.0] * 256}}])
    assert alice.query_vectors(**own, topK=1, queryVector={"float32": [1.0] * 256})["vectors"][0]["key"] == "k"
    index_arn = f"arn:aws:s3vectors:{REGION}:{ACCOUNT_ID}:bucket/{BUCKET}/index/"
    assert alice.get_index(indexArn=index_arn + own["indexName"])["index"]["indexName"] == own["indexName"]
    # An index named like alice's but tagged for bob: the tag condition refuses it.
    aws.create_index(BUCKET, "tenant-acme.mislabelled", dimension=256, tags={"TenantID": "acme", "ActorID": "bob"})
    denied = [
        lambda: alice.list_vectors(vectorBucketName=BUCKET, indexName=_user_index("acme", "bob")),
        lambda: alice.list_vectors(indexArn=index_arn + _user_index("globex", "alice")),
        lambda: alice.list_vectors(vectorBucketName=BUCKET, indexName="tenant-acme.mislabelled"),
        lambda: alice.list_vectors(vectorBucketName="other-bucket", indexName=own["indexName"]),
        lambda: alice.list_indexes(vectorBucketName=BUCKET),
        lambda: alice.delete_index(**own),
        lambda: alice.create_index(vectorBucketName=BUCKET, indexName=_user_index("acme", "carol"),
                                   dataType="float32", dimension=3, distanceMetric="cosine",
                                   tags={"TenantID": "acme", "ActorID": "carol"}),
    ]
    for call in denied:
        with pytest.raises(ClientError, match="is not authorized to perform: s3vectors:") as excinfo:
            call()
        assert _error(excinfo) == ("AccessDeniedException", 403)
    # The test's own credentials act as the account's administrator: not limited by the TVM's policy.
    admin = boto3.client("s3vectors", region_name=REGION)
    assert admin.list_vectors(vectorBucketName=BUCKET, indexName=_user_index("acme", "bob"))["vectors"] == []


def test_a_session_creates_its_own_user_index_tagged_for_itself_only(aws, tenant_client):
    alice = tenant_client("s3vectors", "acme", "alice")
    params = {"vectorBucketName": BUCKET, "dataType": "float32", "dimension": 3, "distanceMetric": "cosine"}
    alice.create_index(**params, indexName=_user_index("acme", "alice"), tags={"TenantID": "acme", "ActorID": "alice"})
    for name, tags in ((_user_index("acme", "alice") + "x", None),
                       (_user_index("acme", "bob"), {"TenantID": "acme", "ActorID": "bob"}),
                       (_user_index("acme", "alice") + "y", {"TenantID": "acme", "ActorID": "alice", "Team": "x"})):
        with pytest.raises(ClientError) as excinfo:
            alice.create_index(**params, indexName=name, **({"tags": tags} if tags else {}))
        assert _error(excinfo) == ("AccessDeniedException", 403)


def test_agentcore_calls_are_scoped_by_tenant_and_actor(aws, tenant_client):
    memory_id = aws.mesh.memory_id
    alice = tenant_client("bedrock-agentcore", "acme", "alice")
    _event(alice, memory_id, "acme:alice", "s1", _turn("USER", "hello"))
    aws.agentcore.add_record(memory_id, "/facts/acme:alice/", "alice fact")
    bob_record = aws.agentcore.add_record(memory_id, "/facts/acme:bob/", "bob fact")
    assert alice.retrieve_memory_records(
        memoryId=memory_id, namespace="/facts/acme:alice/", searchCriteria={"searchQuery": "fact"}
    )["memoryRecordSummaries"]
    assert alice.list_memory_records(memoryId=memory_id, namespacePath="/facts/acme:alice/")
    denied = [
        lambda: _event(alice, memory_id, "globex:alice", "s1", _turn("USER", "x")),
        lambda: _event(alice, memory_id, "acme:bob", "s1", _turn("USER", "x")),
        lambda: alice.list_events(memoryId=memory_id, actorId="acme:alicex", sessionId="s1"),
        lambda: alice.retrieve_memory_records(memoryId=memory_id, namespace="/facts/globex:alice/",
                                              searchCriteria={"searchQuery": "x"}),
        lambda: alice.list_memory_records(memoryId=memory_id, namespacePath="/facts/acme:al"),
        lambda: alice.list_memory_records(memoryId=memory_id, namespacePath="/facts/acme:bob/"),
        lambda: alice.list_memory_records(memoryId=memory_id, namespacePath="/"),
        lambda: alice.list_actors(memoryId=memory_id),
        lambda: alice.get_memory_record(memoryId=memory_id, memoryRecordId=bob_record),
        lambda: alice.delete_memory_record(memoryId=memory_id, memoryRecordId=bob_record),
        lambda: alice.batch_delete_memory_records(
            memoryId=memory_id, records=[{"memoryRecordId": bob_record, "namespace": "/facts/acme:bob/"}]),
    ]
    for call in denied:
        with pytest.raises(ClientError, match="bedrock-agentcore:") as excinfo:
            call()
        assert _error(excinfo) == ("AccessDeniedException", 403)


def test_tvm_trust_policy_and_recorded_sessions(aws):
    sts = boto3.client("sts", region_name=REGION)
    role = aws.mesh.tvm_role_arn
    refused: tuple[dict[str, Any], ...] = (
        {"Tags": []},
        {"Tags": [{"Key": "TenantID", "Value": "acme"}]},
        {"Tags": [{"Key": "TenantID", "Value": "acme"}, {"Key": "ActorID", "Value": "alice"}]},
        {"Tags": [{"Key": "TenantID", "Value": "acme"}, {"Key": "ActorID", "Value": "alice"},
                  {"Key": "Team", "Value": "x"}], "SourceIdentity": "alice"},
        {"Tags": [{"Key": "TenantID", "Value": "acme"}, {"Key": "ActorID", "Value": "alice"}],
         "SourceIdentity": "bob"},
    )
    for params in refused:
        with pytest.raises(ClientError, match="sts:") as excinfo:
            sts.assume_role(RoleArn=role, RoleSessionName="nope", **params)
        assert _error(excinfo) == ("AccessDenied", 403)
    vended = sts.assume_role(
        RoleArn=role, RoleSessionName="orchestrator", SourceIdentity="alice",
        Tags=[{"Key": "TenantID", "Value": "acme"}, {"Key": "ActorID", "Value": "alice"}],
    )["Credentials"]
    with pytest.raises(ClientError, match="not deployed"):
        sts.assume_role(RoleArn=f"arn:aws:iam::{ACCOUNT_ID}:role/worker-access", RoleSessionName="untagged")
    [session] = aws.iam.assume_role_calls(role)
    assert session.access_key_id == vended["AccessKeyId"]
    assert (session.tenant_id, session.actor_id, session.source_identity) == ("acme", "alice", "alice")
    assert aws.iam.session_for(vended["AccessKeyId"]) == session
    assert len(aws.iam.sessions) == 1 and aws.call_count("sts", "AssumeRole") == 7


def test_sts_limits_the_service_enforces(aws):
    sts = boto3.client("sts", region_name=REGION)
    with pytest.raises(ClientError, match="roleSessionName|RoleSessionName") as excinfo:
        sts.assume_role(RoleArn=aws.mesh.tvm_role_arn, RoleSessionName="s" * 65,
                        Tags=[{"Key": "TenantID", "Value": "acme"}])
    assert _error(excinfo) == ("ValidationError", 400)


# -- lifecycle -----------------------------------------------------------------------------------------


class _Raw(io.BytesIO):
    def stream(self, **_):
        yield self.read()


def _refused_if_sent(client) -> None:
    """Answer 418 at the send stage, so a call that gets that far shows no fake served it."""

    def teapot(request, **_):
        return AWSResponse(request.url, 418, {}, _Raw(b""))

    client.meta.events.register("before-send", teapot)


def test_nothing_is_served_after_the_context_exits(aws_credentials):
    before = os.environ.get("MOTO_ACCOUNT_ID")
    with emulated_aws() as emulation:
        emulation.create_vector_bucket("short-lived")
        inside = boto3.client("s3vectors", region_name=REGION)
        assert inside.list_vector_buckets()["vectorBuckets"]
        with pytest.raises(RuntimeError, match="already active"):
            with emulated_aws():
                pass
    assert os.environ.get("MOTO_ACCOUNT_ID") == before
    for client in (inside, boto3.client("s3vectors", region_name=REGION),
                   boto3.session.Session(aws_access_key_id="a", aws_secret_access_key="b").client(
                       "bedrock-agentcore", region_name=REGION)):
        _refused_if_sent(client)
        with pytest.raises(ClientError) as excinfo:
            if client.meta.service_model.service_name == "s3vectors":
                client.list_vector_buckets()
            else:
                client.list_actors(memoryId="mesh_memory-0123456789")
        assert excinfo.value.response["ResponseMetadata"]["HTTPStatusCode"] == 418
    with emulated_aws() as fresh:
        assert boto3.client("s3vectors", region_name=REGION).list_vector_buckets()["vectorBuckets"] == []
        assert fresh.call_count("s3vectors") == 1


def test_attach_client_serves_a_client_that_missed_the_handlers(aws):
    client = boto3.client("s3vectors", region_name=REGION)
    for event_name, handler in _HANDLERS:
        client.meta.events.unregister(event_name, handler)
    assert client.list_vector_buckets()["vectorBuckets"] == []  # moto's own, empty s3vectors backend
    attach_client(client)
    assert [b["vectorBucketName"] for b in client.list_vector_buckets()["vectorBuckets"]] == [BUCKET]


def test_concurrent_tenants_are_served_consistently(aws, tenant_client):
    tenants = [f"t{n}" for n in range(6)]
    clients = {}
    for tenant in tenants:
        aws.create_index(BUCKET, _user_index(tenant, "uu"), dimension=256, tags={"TenantID": tenant, "ActorID": "uu"})
        clients[tenant] = tenant_client("s3vectors", tenant, "uu")

    def work(tenant: str) -> list[str]:
        target = {"vectorBucketName": BUCKET, "indexName": _user_index(tenant, "uu")}
        client = clients[tenant]
        for n in range(10):
            vector = [0.0] * 256
            vector[n] = 1.0
            client.put_vectors(**target, vectors=[{"key": f"{tenant}-{n}", "data": {"float32": vector},
                                                   "metadata": {"tenant": tenant}}])
            client.query_vectors(**target, topK=3, queryVector={"float32": vector}, filter={"tenant": tenant})
        return [v["key"] for v in client.list_vectors(**target)["vectors"]]

    with ThreadPoolExecutor(max_workers=6) as pool:
        listed = dict(zip(tenants, pool.map(work, tenants), strict=True))
    for tenant, keys in listed.items():
        assert sorted(keys) == sorted(f"{tenant}-{n}" for n in range(10))
