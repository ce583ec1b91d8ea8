"""The fast float32 request bodies equal what botocore itself would send."""

from __future__ import annotations

import json
import random
from typing import Any

import boto3

from runtime.stores import _vector_json


def _client():
    return boto3.client("s3vectors", region_name="us-east-1", aws_access_key_id="a", aws_secret_access_key="b")


def _serialize(client, operation, params):
    return client._serializer.serialize_to_request(params, client.meta.service_model.operation_model(operation))


def _vector(n=1024, seed=1):
    rng = random.Random(seed)
    return [rng.uniform(-1, 1) for _ in range(n)]


def test_query_and_put_bodies_equal_botocores_own():
    plain, fast = _client(), _vector_json.install(_client())
    query: dict[str, Any] = {"vectorBucketName": "bucket-1", "indexName": "tenant-acme", "topK": 5,
             "queryVector": {"float32": _vector()}, "filter": {"actor": {"$eq": "a1"}}, "returnMetadata": True}
    put = {"vectorBucketName": "bucket-1", "indexName": "tenant-acme",
           "vectors": [{"key": f"k{i}", "data": {"float32": _vector(seed=i)}, "metadata": {"actor": "a1"}}
                       for i in range(3)]}
    for operation, params in (("QueryVectors", query), ("PutVectors", put)):
        slow, quick = _serialize(plain, operation, params), _serialize(fast, operation, params)
        assert json.loads(quick["body"]) == json.loads(slow["body"])
        assert {k: v for k, v in quick.items() if k != "body"} == {k: v for k, v in slow.items() if k != "body"}
    assert query["queryVector"]["float32"] == _vector()  # the caller's parameters are untouched


def test_short_or_non_float_lists_take_botocores_path():
    plain, fast = _client(), _vector_json.install(_client())
    for vector in ([0.5, 0.25], [1] * 128):
        params = {"vectorBucketName": "bucket-1", "indexName": "tenant-acme", "topK": 1,
                  "queryVector": {"float32": vector}}
        assert _serialize(fast, "QueryVectors", params)["body"] == _serialize(plain, "QueryVectors", params)["body"]


def test_install_wraps_once():
    client = _client()
    _vector_json.install(client)
    wrapped = client._serializer
    assert _vector_json.install(client)._serializer is wrapped
