"""Faster request bodies for S3 Vectors calls that carry float32 vectors.

botocore serializes a JSON list element by element (about 1 ms for one 1024-float query vector, about 0.5 s of
CPU for a 500-vector PutVectors batch); ``json.dumps`` writes the same list in a fraction of that. The wrapper
serializes the request with one-element placeholders, then writes the real lists into the JSON body. The call's
parameters are untouched, so botocore's event hooks see the real request; the store has already checked every
vector (finite floats of the index's dimension).
"""

from __future__ import annotations

import json
from typing import Any

_MARK = "_mesh_vector_json"
#: Lists shorter than this are cheap for botocore too.
_MIN_FLOATS = 64


def install(client: Any) -> Any:
    """Wrap ``client``'s serializer once; a client without the expected attribute is left as it is."""
    serializer = getattr(client, "_serializer", None)
    if serializer is None or getattr(serializer, _MARK, False):
        return client
    client._serializer = _VectorJsonSerializer(serializer)
    return client


class _VectorJsonSerializer:
    def __init__(self, inner: Any) -> None:
        self._inner = inner
        setattr(self, _MARK, True)

    def serialize_to_request(self, parameters: Any, operation_model: Any) -> Any:
        name = operation_model.name
        if name == "QueryVectors":
            return self._query(parameters, operation_model)
        if name == "PutVectors":
            return self._put(parameters, operation_model)
        return self._inner.serialize_to_request(parameters, operation_model)

    def _query(self, parameters: Any, model: Any) -> Any:
        query = parameters.get("queryVector")
        vector = query.get("float32") if isinstance(query, dict) else None
        if not _long_float_list(vector):
            return self._inner.serialize_to_request(parameters, model)
        request = self._inner.serialize_to_request(
            {**parameters, "queryVector": {**query, "float32": [0.0]}}, model)
        body = json.loads(request["body"])
        body["queryVector"]["float32"] = vector
        request["body"] = json.dumps(body).encode("utf-8")
        return request

    def _put(self, parameters: Any, model: Any) -> Any:
        vectors = parameters.get("vectors")
        if not isinstance(vectors, list) or not vectors:
            return self._inner.serialize_to_request(parameters, model)
        lists = [v.get("data", {}).get("float32") if isinstance(v, dict) and isinstance(v.get("data"), dict) else None
                 for v in vectors]
        if not all(_long_float_list(values) for values in lists):
            return self._inner.serialize_to_request(parameters, model)
        placeholders = [{**v, "data": {**v["data"], "float32": [0.0]}} for v in vectors]
        request = self._inner.serialize_to_request({**parameters, "vectors": placeholders}, model)
        body = json.loads(request["body"])
        for item, values in zip(body["vectors"], lists, strict=True):
            item["data"]["float32"] = values
        request["body"] = json.dumps(body).encode("utf-8")
        return request


def _long_float_list(values: Any) -> bool:
    return (isinstance(values, list) and len(values) >= _MIN_FLOATS
            and all(type(x) is float for x in values))
