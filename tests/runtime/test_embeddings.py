"""Embedders: BedrockEmbedder against a real bedrock-runtime client (Stubber / botocore send hooks), and
the offline LocalHashEmbedder."""

from __future__ import annotations

import io
import json
import math
import os
import subprocess
import sys
import threading

import boto3
import pytest
from botocore.awsrequest import AWSResponse
from botocore.response import StreamingBody
from botocore.stub import Stubber
from hypothesis import given, settings
from hypothesis import strategies as st

from runtime.embeddings import (
    NOVA_MULTIMODAL_V2,
    TITAN_TEXT_V2,
    BedrockEmbedder,
    Embedder,
    LocalHashEmbedder,
    allowed_dimensions,
)
from runtime.errors import AccessDeniedError, InvalidInputError, UpstreamError, UpstreamTimeoutError

REGION = "us-east-1"


@pytest.fixture
def aws_env(monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent/config")


@pytest.fixture
def runtime_client(aws_env):
    return boto3.client("bedrock-runtime", region_name=REGION)


def body_response(payload: dict) -> dict:
    raw = json.dumps(payload).encode()
    return {"body": StreamingBody(io.BytesIO(raw), len(raw)), "contentType": "application/json"}


def invoke_params(model_id: str, body: dict) -> dict:
    return {
        "modelId": model_id,
        "body": json.dumps(body).encode(),
        "contentType": "application/json",
        "accept": "application/json",
    }


def titan_body(text: str, dimension: int = 256) -> dict:
    return {"inputText": text, "dimensions": dimension, "normalize": True}


def nova_body(text: str, dimension: int, purpose: str) -> dict:
    return {
        "schemaVersion": "nova-multimodal-embed-v1",
        "taskType": "SINGLE_EMBEDDING",
        "singleEmbeddingParams": {
            "embeddingPurpose": purpose,
            "embeddingDimension": dimension,
            "text": {"truncationMode": "END", "value": text},
        },
    }


def vector(dimension: int, head: list[float]) -> list[float]:
    return head + [0.0] * (dimension - len(head))


# -- Titan Text Embeddings V2 ------------------------------------------------------------------------


def test_titan_request_and_normalized_result(runtime_client):
    embedder = BedrockEmbedder(TITAN_TEXT_V2, 256, client=runtime_client)
    with Stubber(runtime_client) as stub:
        stub.add_response(
            "invoke_model",
            body_response({"embedding": vector(256, [3.0, 4.0]), "inputTextTokenCount": 4}),
            invoke_params(TITAN_TEXT_V2, titan_body("likes green tea")),
        )
        result = embedder.embed_one("likes green tea")
        stub.assert_no_pending_responses()
    assert len(result) == 256
    assert result[:3] == pytest.approx([0.6, 0.8, 0.0])
    assert math.fsum(x * x for x in result) == pytest.approx(1.0)


def test_titan_dimension_must_be_one_the_model_offers(runtime_client):
    with pytest.raises(InvalidInputError) as err:
        BedrockEmbedder(TITAN_TEXT_V2, 384, client=runtime_client)
    assert str(err.value) == "dimension=384 is invalid: must be one of 256, 512, 1024"


# -- Nova Multimodal Embeddings ----------------------------------------------------------------------


def test_nova_request_uses_index_and_retrieval_purposes(runtime_client):
    embedder = BedrockEmbedder(NOVA_MULTIMODAL_V2, 384, client=runtime_client)
    with Stubber(runtime_client) as stub:
        stub.add_response(
            "invoke_model",
            body_response({"embeddings": [{"embeddingType": "TEXT", "embedding": vector(384, [0.0, 2.0])}]}),
            invoke_params(NOVA_MULTIMODAL_V2, nova_body("prefers aisle seats", 384, "GENERIC_INDEX")),
        )
        stub.add_response(
            "invoke_model",
            body_response(
                {"embeddings": [{"embeddingType": "TEXT", "embedding": vector(384, [1.0]), "truncatedCharLength": 9}]}
            ),
            invoke_params(NOVA_MULTIMODAL_V2, nova_body("seat?", 384, "GENERIC_RETRIEVAL")),
        )
        stored = embedder.embed_one("prefers aisle seats")
        query = embedder.embed_one("seat?", for_query=True)
        stub.assert_no_pending_responses()
    assert stored[:2] == [0.0, 1.0]
    assert query[0] == 1.0


def test_nova_inference_profile_id_keeps_the_nova_body(runtime_client):
    profile = "us." + NOVA_MULTIMODAL_V2
    embedder = BedrockEmbedder(profile, 3072, client=runtime_client)
    with Stubber(runtime_client) as stub:
        stub.add_response(
            "invoke_model",
            body_response({"embeddings": [{"embeddingType": "TEXT", "embedding": vector(3072, [1.0, 1.0])}]}),
            invoke_params(profile, nova_body("hello", 3072, "GENERIC_INDEX")),
        )
        assert embedder.embed_one("hello")[0] == pytest.approx(math.sqrt(0.5))


def test_nova_dimension_must_be_one_the_model_offers(runtime_client):
    with pytest.raises(InvalidInputError) as err:
        BedrockEmbedder(NOVA_MULTIMODAL_V2, 512, client=runtime_client)
    assert str(err.value) == "dimension=512 is invalid: must be one of 256, 384, 1024, 3072"


def test_unknown_model_is_rejected(runtime_client):
    with pytest.raises(InvalidInputError) as err:
        BedrockEmbedder("cohere.embed-english-v3", 1024, client=runtime_client)
    assert str(err.value) == (
        "model_id='cohere.embed-english-v3' is invalid: must be one of amazon.titan-embed-text-v2:0, "
        "amazon.nova-2-multimodal-embeddings-v1:0 (or an inference profile of one)"
    )


def test_allowed_dimensions_understands_arns_and_profiles():
    arn = "arn:aws:bedrock:eu-west-1:123456789012:inference-profile/eu.amazon.nova-2-multimodal-embeddings-v1:0"
    assert allowed_dimensions(arn) == (256, 384, 1024, 3072)
    assert allowed_dimensions("arn:aws:bedrock:us-east-1::foundation-model/amazon.titan-embed-text-v2:0") == (
        256,
        512,
        1024,
    )
    assert allowed_dimensions("cohere.embed-english-v3") is None


# -- input and output checks -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("texts", "message"),
    [
        ([""], "texts[0]='' is invalid: must contain at least one non-whitespace character"),
        (["ok", " \n\t"], "texts[1]=' \\n\\t' is invalid: must contain at least one non-whitespace character"),
        (["ok", None], "texts[1]='<NoneType>' is invalid: must be a string"),
        ("just a string", "texts='<str>' is invalid: must be a sequence of strings"),
        (["x" * 50_001], "texts[0]='<50001 characters>' is invalid: must be at most 50000 characters"),
    ],
)
def test_bad_text_is_rejected_before_any_request(runtime_client, texts, message):
    embedder = BedrockEmbedder(TITAN_TEXT_V2, 256, client=runtime_client)
    with Stubber(runtime_client) as stub:  # nothing queued: any request would fail differently
        with pytest.raises(InvalidInputError) as err:
            embedder.embed(texts)
        stub.assert_no_pending_responses()
    assert str(err.value) == message


def test_embed_one_rejects_empty_text(runtime_client):
    embedder = BedrockEmbedder(TITAN_TEXT_V2, 256, client=runtime_client)
    with pytest.raises(InvalidInputError) as err:
        embedder.embed_one("   ")
    assert str(err.value) == "text='   ' is invalid: must contain at least one non-whitespace character"


def test_empty_batch_makes_no_request(runtime_client):
    with Stubber(runtime_client):
        assert BedrockEmbedder(TITAN_TEXT_V2, 256, client=runtime_client).embed([]) == []


@pytest.mark.parametrize(
    ("embedding", "message"),
    [
        (
            [0.0] * 256,
            "Bedrock model amazon.titan-embed-text-v2:0 returned an all-zero or non-finite embedding; "
            "S3 Vectors rejects zero vectors under the cosine metric",
        ),
        (
            vector(256, [float("nan")]),
            "Bedrock model amazon.titan-embed-text-v2:0 returned an all-zero or non-finite embedding; "
            "S3 Vectors rejects zero vectors under the cosine metric",
        ),
        ([1.0] * 255, "Bedrock model amazon.titan-embed-text-v2:0 returned no 256-dimension float embedding"),
        (None, "Bedrock model amazon.titan-embed-text-v2:0 returned no 256-dimension float embedding"),
    ],
)
def test_bad_model_output_is_an_upstream_error(runtime_client, embedding, message):
    embedder = BedrockEmbedder(TITAN_TEXT_V2, 256, client=runtime_client)
    with Stubber(runtime_client) as stub:
        stub.add_response("invoke_model", body_response({"embedding": embedding}))
        with pytest.raises(UpstreamError) as err:
            embedder.embed_one("anything")
    assert str(err.value) == message


@pytest.mark.parametrize(
    ("code", "status", "error_type", "message"),
    [
        (
            "AccessDeniedException",
            403,
            AccessDeniedError,
            "not allowed to invoke Bedrock model amazon.titan-embed-text-v2:0 (AccessDeniedException)",
        ),
        (
            "ValidationException",
            400,
            InvalidInputError,
            "text='<5 characters>' is invalid: rejected by Bedrock model amazon.titan-embed-text-v2:0 "
            "(ValidationException)",
        ),
        (
            "ThrottlingException",
            429,
            UpstreamError,
            "Bedrock model amazon.titan-embed-text-v2:0 is throttling or unavailable after retries "
            "(ThrottlingException)",
        ),
        (
            "ModelTimeoutException",
            408,
            UpstreamTimeoutError,
            "Bedrock model amazon.titan-embed-text-v2:0 timed out (ModelTimeoutException)",
        ),
        (
            "ResourceNotFoundException",
            404,
            UpstreamError,
            "Bedrock model amazon.titan-embed-text-v2:0 is not available in this Region or account "
            "(ResourceNotFoundException)",
        ),
    ],
)
def test_service_errors_are_typed_without_internals(runtime_client, code, status, error_type, message):
    embedder = BedrockEmbedder(TITAN_TEXT_V2, 256, client=runtime_client)
    with Stubber(runtime_client) as stub:
        stub.add_client_error(
            "invoke_model", service_error_code=code, service_message="secret internals", http_status_code=status
        )
        with pytest.raises(error_type) as err:
            embedder.embed_one("hello")
    assert str(err.value) == message
    assert type(err.value) is error_type


# -- the real client path: retries and batching through botocore's send hook -------------------------


class _RawBody(io.BytesIO):
    def stream(self, **_kwargs):
        yield self.getvalue()


class BedrockResponder:
    """Answers InvokeModel at 'before-send' (after signing and retry handling), like an endpoint would."""

    def __init__(self, client, *, throttle_first: int = 0, reject: str | None = None) -> None:
        self.requests: list[dict] = []
        self.threads: set[int] = set()
        self.throttle_first = throttle_first
        self.reject = reject
        self._lock = threading.Lock()
        client.meta.events.register("before-send.bedrock-runtime.InvokeModel", self)

    def __call__(self, request, **_kwargs):
        body = json.loads(request.body)
        with self._lock:
            self.requests.append(body)
            self.threads.add(threading.get_ident())
            throttled = self.throttle_first > 0
            self.throttle_first -= 1
        if throttled:
            return self._respond(request, 429, {"message": "Too many requests"}, "ThrottlingException")
        if body["inputText"] == self.reject:
            return self._respond(request, 400, {"message": "Malformed input"}, "ValidationException")
        # Embedding with the text's length in a distinct slot: lets the test check order.
        return self._respond(request, 200, {"embedding": vector(256, [0.0] * (len(body["inputText"]) % 256) + [5.0])})

    @staticmethod
    def _respond(request, status: int, payload: dict, error_type: str | None = None) -> AWSResponse:
        raw = json.dumps(payload).encode()
        headers = {"Content-Type": "application/json", "Content-Length": str(len(raw))}
        if error_type:
            headers["x-amzn-ErrorType"] = error_type
        return AWSResponse(request.url, status, headers, _RawBody(raw))


def test_default_client_uses_standard_retries(aws_env):
    embedder = BedrockEmbedder(TITAN_TEXT_V2, 256, region="eu-central-1")
    assert embedder.client.meta.region_name == "eu-central-1"
    assert embedder.client.meta.config.retries == {"mode": "standard", "total_max_attempts": 5}


def test_throttling_is_retried_by_botocore(aws_env):
    embedder = BedrockEmbedder(TITAN_TEXT_V2, 256, region=REGION)
    responder = BedrockResponder(embedder.client, throttle_first=1)
    result = embedder.embed_one("abc")
    assert len(responder.requests) == 2
    assert result[3] == 1.0


def test_batch_runs_on_a_bounded_pool_joined_before_return(aws_env):
    embedder = BedrockEmbedder(TITAN_TEXT_V2, 256, region=REGION, max_workers=3)
    responder = BedrockResponder(embedder.client)
    texts = ["x" * n for n in range(1, 13)]
    before = threading.active_count()
    result = embedder.embed(texts)
    assert threading.active_count() == before  # no worker outlives the call
    assert len(responder.requests) == 12
    assert len(responder.threads) <= 3
    for n, vec in enumerate(result, start=1):  # order kept
        assert vec[n] == 1.0


def test_batch_failure_raises_and_leaves_no_thread(aws_env):
    embedder = BedrockEmbedder(TITAN_TEXT_V2, 256, region=REGION, max_workers=4)
    BedrockResponder(embedder.client, reject="bad")
    before = threading.active_count()
    with pytest.raises(InvalidInputError) as err:
        embedder.embed(["good", "bad", "fine", "ok"])
    assert err.value.field == "text"
    assert threading.active_count() == before


def test_single_worker_runs_sequentially_in_the_callers_thread(aws_env):
    embedder = BedrockEmbedder(TITAN_TEXT_V2, 256, region=REGION, max_workers=1)
    responder = BedrockResponder(embedder.client)
    embedder.embed(["a", "bb", "ccc"])
    assert responder.threads == {threading.get_ident()}
    assert [r["inputText"] for r in responder.requests] == ["a", "bb", "ccc"]


def test_missing_region_is_a_typed_error(monkeypatch):
    for var in ("AWS_REGION", "AWS_DEFAULT_REGION"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent/config")
    with pytest.raises(InvalidInputError) as err:
        BedrockEmbedder(TITAN_TEXT_V2, 256)
    assert str(err.value) == "region=None is invalid: must be given or set in AWS_REGION"


@pytest.mark.parametrize(
    ("kwargs", "field"), [({"max_workers": 0}, "max_workers"), ({"max_attempts": 0}, "max_attempts")]
)
def test_pool_and_retry_bounds_are_validated(runtime_client, kwargs, field):
    with pytest.raises(InvalidInputError) as err:
        BedrockEmbedder(TITAN_TEXT_V2, 256, client=runtime_client, **kwargs)
    assert err.value.field == field


# -- LocalHashEmbedder -------------------------------------------------------------------------------


def cosine(a: list[float], b: list[float]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True))


def test_local_vectors_are_unit_length_and_deterministic():
    one, two = LocalHashEmbedder(384), LocalHashEmbedder(384)
    vec = one.embed_one("The user prefers window seats on morning flights")
    assert len(vec) == 384
    assert math.fsum(x * x for x in vec) == pytest.approx(1.0)
    assert vec == two.embed_one("The user prefers window seats on morning flights")


def test_local_vectors_are_stable_across_processes():
    code = (
        "from runtime.embeddings import LocalHashEmbedder;"
        "print(repr(LocalHashEmbedder(64).embed_one('Stable across runs?')))"
    )
    outputs = set()
    for seed in ("1", "2"):
        env = dict(os.environ, PYTHONHASHSEED=seed)
        run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
        outputs.add(run.stdout.strip())
    assert outputs == {repr(LocalHashEmbedder(64).embed_one("Stable across runs?"))}


def test_local_similarity_is_lexical_overlap():
    embedder = LocalHashEmbedder(1024)
    stored = embedder.embed_one("Alice prefers window seats on flights")
    related = embedder.embed_one("Which seats does Alice prefer?")
    unrelated = embedder.embed_one("Quarterly revenue grew by ten percent")
    synonym = embedder.embed_one("automobile")
    assert cosine(stored, related) > cosine(stored, unrelated) + 0.2
    # Honest limit: synonyms without shared letters are not similar.
    assert abs(cosine(embedder.embed_one("car"), synonym)) < 0.2


@pytest.mark.parametrize("text", ["?!", "...", "—", "🙂", " . "])
def test_local_text_without_words_is_never_zero(text):
    vec = LocalHashEmbedder(256).embed_one(text)
    assert any(vec)
    assert math.fsum(x * x for x in vec) == pytest.approx(1.0)


@settings(max_examples=300, deadline=None)
@given(st.text(min_size=1, max_size=60).filter(str.strip), st.sampled_from([1, 2, 3, 16, 1024]))
def test_local_vectors_are_never_all_zero(text, dimension):
    vec = LocalHashEmbedder(dimension).embed_one(text)
    assert len(vec) == dimension
    assert math.fsum(x * x for x in vec) == pytest.approx(1.0)


def test_local_batch_matches_single():
    embedder = LocalHashEmbedder(128)
    texts = ["alpha beta", "gamma", "alpha"]
    assert embedder.embed(texts, for_query=True) == [embedder.embed_one(t) for t in texts]


@pytest.mark.parametrize(
    ("dimension", "message"),
    [
        (0, "dimension=0 is invalid: must be from 1 to 4096"),
        (4097, "dimension=4097 is invalid: must be from 1 to 4096"),
        ("256", "dimension='256' is invalid: must be an integer"),
        (True, "dimension=True is invalid: must be an integer"),
    ],
)
def test_local_dimension_is_validated(dimension, message):
    with pytest.raises(InvalidInputError) as err:
        LocalHashEmbedder(dimension)
    assert str(err.value) == message


def test_local_rejects_empty_text():
    with pytest.raises(InvalidInputError) as err:
        LocalHashEmbedder(8).embed([""])
    assert str(err.value) == "texts[0]='' is invalid: must contain at least one non-whitespace character"


def test_both_embedders_satisfy_the_protocol(runtime_client):
    assert isinstance(LocalHashEmbedder(8), Embedder)
    assert isinstance(BedrockEmbedder(TITAN_TEXT_V2, 256, client=runtime_client), Embedder)
