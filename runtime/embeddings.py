"""Text embedders: Amazon Bedrock models for real recall, a feature-hashing embedder for offline runs.

Every vector returned is L2-normalized and never all-zero: S3 Vectors rejects zero vectors under the
cosine metric, and unit vectors make cosine and euclidean rank the same way.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Sequence
from functools import lru_cache
from typing import Any, Protocol, runtime_checkable

from runtime.contract import memory
from runtime.errors import (
    AccessDeniedError,
    InvalidInputError,
    UpstreamError,
    UpstreamTimeoutError,
)

TITAN_TEXT_V2 = "amazon.titan-embed-text-v2:0"
NOVA_MULTIMODAL_V2 = "amazon.nova-2-multimodal-embeddings-v1:0"

#: Output sizes each model accepts (Titan ``dimensions``; Nova ``embeddingDimension``).
MODEL_DIMENSIONS: dict[str, tuple[int, ...]] = memory.EMBEDDING_MODEL_DIMENSIONS
# Both models hard-reject text longer than 50,000 characters (Titan V2 also caps input at 8,192 tokens;
# Nova truncates at its 8K-token context when truncationMode is END).
MAX_TEXT_CHARS = 50_000
MAX_LOCAL_DIMENSION = 4096

_THROTTLED = frozenset(
    {"ThrottlingException", "ServiceUnavailableException", "ModelNotReadyException", "ServiceQuotaExceededException"}
)
_TIMEOUTS = frozenset({"ModelTimeoutException"})


@runtime_checkable
class Embedder(Protocol):
    """Turns text into unit vectors of a fixed ``dimension``; ``for_query`` marks search queries."""

    @property
    def dimension(self) -> int:
        """Length of every vector this embedder returns."""

    def embed(self, texts: Sequence[str], *, for_query: bool = False) -> list[list[float]]:
        """Embed each text, in order."""

    def embed_one(self, text: str, *, for_query: bool = False) -> list[float]:
        """Embed a single text."""


def base_model_id(model_id: str) -> str:
    """Strip an ARN and a cross-Region inference-profile prefix: ``us.amazon.x:0`` -> ``amazon.x:0``."""
    return memory.base_model_id(model_id)


def allowed_dimensions(model_id: str) -> tuple[int, ...] | None:
    """Dimensions the model accepts, or None when the model is not one this module knows."""
    return MODEL_DIMENSIONS.get(base_model_id(model_id))


def _check_text(text: Any, field: str = "text") -> str:
    if not isinstance(text, str):
        raise InvalidInputError(field, f"<{type(text).__name__}>", "must be a string")
    if not text.strip():
        raise InvalidInputError(field, text, "must contain at least one non-whitespace character")
    return text


def _check_texts(texts: Any) -> list[str]:
    if isinstance(texts, str) or not isinstance(texts, Sequence):
        raise InvalidInputError("texts", f"<{type(texts).__name__}>", "must be a sequence of strings")
    return [_check_text(text, f"texts[{i}]") for i, text in enumerate(texts)]


def _check_dimension(dimension: Any, allowed: Sequence[int] | None = None) -> int:
    if isinstance(dimension, bool) or not isinstance(dimension, int):
        raise InvalidInputError("dimension", dimension, "must be an integer")
    if allowed is not None:
        if dimension not in allowed:
            raise InvalidInputError("dimension", dimension, f"must be one of {', '.join(map(str, allowed))}")
    elif not 1 <= dimension <= MAX_LOCAL_DIMENSION:
        raise InvalidInputError("dimension", dimension, f"must be from 1 to {MAX_LOCAL_DIMENSION}")
    return dimension


def l2_normalize(vector: Sequence[float]) -> list[float]:
    """Scale ``vector`` to unit length; raise UpstreamError for a zero or non-finite vector."""
    norm = math.hypot(*vector)
    if not math.isfinite(norm) or norm == 0.0:
        raise UpstreamError(
            "embedding is all-zero or not finite; S3 Vectors rejects zero vectors under the cosine metric"
        )
    return [float(x) / norm for x in vector]


class BedrockEmbedder:
    """Embeds text with Titan Text Embeddings V2 or Nova Multimodal Embeddings through ``InvokeModel``.

    Neither model has a synchronous batch API (one text per ``InvokeModel``; Nova's segmented batch is
    asynchronous, results in S3), so :meth:`embed` fans a batch out over a small bounded thread pool that is
    joined before it returns: lower latency than a loop, no work left running after a Lambda handler returns,
    and a bound on the burst that keeps throttling down. Throttling is retried by botocore's standard mode.
    """

    def __init__(
        self,
        model_id: str = TITAN_TEXT_V2,
        dimension: int = 1024,
        *,
        client: Any = None,
        region: str | None = None,
        max_workers: int = 4,
        max_attempts: int = 5,
    ) -> None:
        if not isinstance(model_id, str) or allowed_dimensions(model_id) is None:
            raise InvalidInputError(
                "model_id", model_id, f"must be one of {', '.join(MODEL_DIMENSIONS)} (or an inference profile of one)"
            )
        self.model_id = model_id
        self._family = base_model_id(model_id)
        self._dimension = _check_dimension(dimension, allowed_dimensions(model_id))
        if isinstance(max_workers, bool) or not isinstance(max_workers, int) or not 1 <= max_workers <= 16:
            raise InvalidInputError("max_workers", max_workers, "must be an integer from 1 to 16")
        if isinstance(max_attempts, bool) or not isinstance(max_attempts, int) or not 1 <= max_attempts <= 10:
            raise InvalidInputError("max_attempts", max_attempts, "must be an integer from 1 to 10")
        self._max_workers = max_workers
        self.client = client if client is not None else _bedrock_runtime_client(region, max_attempts)

    @property
    def dimension(self) -> int:
        """Length of every vector this embedder returns."""
        return self._dimension

    def embed(self, texts: Sequence[str], *, for_query: bool = False) -> list[list[float]]:
        """Embed each text (order kept); every text is validated before any request is sent."""
        checked = _check_texts(texts)
        for i, text in enumerate(checked):
            if len(text) > MAX_TEXT_CHARS:
                raise InvalidInputError(
                    f"texts[{i}]", f"<{len(text)} characters>", f"must be at most {MAX_TEXT_CHARS} characters"
                )
        if len(checked) <= 1 or self._max_workers == 1:
            return [self._invoke(text, for_query) for text in checked]
        from concurrent.futures import ThreadPoolExecutor

        pool = ThreadPoolExecutor(max_workers=min(self._max_workers, len(checked)))
        try:
            futures = [pool.submit(self._invoke, text, for_query) for text in checked]
            return [future.result() for future in futures]
        finally:
            # Joined here in every case: no request outlives the call (Lambda freezes after return).
            pool.shutdown(wait=True, cancel_futures=True)

    def embed_one(self, text: str, *, for_query: bool = False) -> list[float]:
        """Embed a single text."""
        return self.embed([_check_text(text)], for_query=for_query)[0]

    def _request_body(self, text: str, for_query: bool) -> dict[str, Any]:
        if self._family == TITAN_TEXT_V2:
            return {"inputText": text, "dimensions": self._dimension, "normalize": True}
        return {
            "schemaVersion": "nova-multimodal-embed-v1",
            "taskType": "SINGLE_EMBEDDING",
            "singleEmbeddingParams": {
                "embeddingPurpose": "GENERIC_RETRIEVAL" if for_query else "GENERIC_INDEX",
                "embeddingDimension": self._dimension,
                "text": {"truncationMode": "END", "value": text},
            },
        }

    def _vector_from(self, payload: Any) -> Any:
        if not isinstance(payload, dict):
            return None
        if self._family == TITAN_TEXT_V2:
            return payload.get("embedding")
        embeddings = payload.get("embeddings")
        if isinstance(embeddings, list) and embeddings and isinstance(embeddings[0], dict):
            return embeddings[0].get("embedding")
        return None

    def _invoke(self, text: str, for_query: bool) -> list[float]:
        from botocore.exceptions import BotoCoreError, ClientError, ConnectTimeoutError, ReadTimeoutError

        try:
            response = self.client.invoke_model(
                modelId=self.model_id,
                body=json.dumps(self._request_body(text, for_query)).encode(),
                contentType="application/json",
                accept="application/json",
            )
            payload = json.loads(response["body"].read())
        except ClientError as err:
            raise self._translate(err.response.get("Error", {}).get("Code", ""), len(text)) from None
        except (ReadTimeoutError, ConnectTimeoutError):
            raise UpstreamTimeoutError(f"Bedrock model {self.model_id} did not answer in time") from None
        except BotoCoreError as err:
            raise UpstreamError(f"Bedrock model {self.model_id} could not be reached ({type(err).__name__})") from None
        except ValueError:
            raise UpstreamError(f"Bedrock model {self.model_id} returned a body that is not JSON") from None
        vector = self._vector_from(payload)
        if (
            not isinstance(vector, list)
            or len(vector) != self._dimension
            or not all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in vector)
        ):
            raise UpstreamError(
                f"Bedrock model {self.model_id} returned no {self._dimension}-dimension float embedding"
            )
        try:
            return l2_normalize(vector)
        except UpstreamError:
            raise UpstreamError(
                f"Bedrock model {self.model_id} returned an all-zero or non-finite embedding; "
                "S3 Vectors rejects zero vectors under the cosine metric"
            ) from None

    def _translate(self, code: str, text_chars: int) -> Exception:
        if code == "AccessDeniedException":
            return AccessDeniedError(f"not allowed to invoke Bedrock model {self.model_id} (AccessDeniedException)")
        if code == "ValidationException":
            return InvalidInputError(
                "text", f"<{text_chars} characters>", f"rejected by Bedrock model {self.model_id} (ValidationException)"
            )
        if code in _TIMEOUTS:
            return UpstreamTimeoutError(f"Bedrock model {self.model_id} timed out ({code})")
        if code in _THROTTLED:
            return UpstreamError(f"Bedrock model {self.model_id} is throttling or unavailable after retries ({code})")
        if code == "ResourceNotFoundException":
            return UpstreamError(f"Bedrock model {self.model_id} is not available in this Region or account ({code})")
        return UpstreamError(f"Bedrock model {self.model_id} failed ({code or 'unknown error'})")


def _bedrock_runtime_client(region: str | None, max_attempts: int) -> Any:
    import boto3
    from botocore.config import Config
    from botocore.exceptions import NoRegionError

    config = Config(
        retries={"mode": "standard", "total_max_attempts": max_attempts},
        connect_timeout=5,
        read_timeout=60,
        max_pool_connections=16,
    )
    try:
        return boto3.client("bedrock-runtime", region_name=region, config=config)
    except NoRegionError:
        raise InvalidInputError("region", region, "must be given or set in AWS_REGION") from None


_WORD_RE = re.compile(r"\w+")


@lru_cache(maxsize=65536)
def _slot(feature: str, dimension: int) -> tuple[int, float]:
    digest = int.from_bytes(hashlib.blake2b(feature.encode(), digest_size=8).digest(), "big")
    return digest % dimension, (1.0 if digest >> 63 else -1.0)


class LocalHashEmbedder:
    """Deterministic, offline embedder for tests and local runs: feature hashing, no model, no network.

    It hashes lowercase word tokens and character trigrams of each word into ``dimension`` signed buckets.
    Similarity therefore reflects shared words and word fragments (lexical overlap), NOT meaning: "car" and
    "automobile" are unrelated to it. Text without word characters (e.g. "?!") falls back to its raw
    character trigrams, and a vector whose features cancel out falls back to one hashed slot, so the result
    is never all-zero.
    """

    model_id = "local-feature-hash-v1"

    def __init__(self, dimension: int = 1024) -> None:
        self._dimension = _check_dimension(dimension)

    @property
    def dimension(self) -> int:
        """Length of every vector this embedder returns."""
        return self._dimension

    def embed(self, texts: Sequence[str], *, for_query: bool = False) -> list[list[float]]:
        """Embed each text; ``for_query`` is accepted for interface parity and has no effect."""
        return [self._vector(text) for text in _check_texts(texts)]

    def embed_one(self, text: str, *, for_query: bool = False) -> list[float]:
        """Embed a single text."""
        return self._vector(_check_text(text))

    def _features(self, text: str) -> list[tuple[str, float]]:
        words = _WORD_RE.findall(text.lower())
        if not words:
            raw = text.strip()
            return [("r:" + raw[i : i + 3], 1.0) for i in range(max(1, len(raw) - 2))]
        features = [("w:" + word, 1.0) for word in words]
        for word in words:
            padded = f"<{word}>"
            features.extend(("c:" + padded[i : i + 3], 0.5) for i in range(len(padded) - 2))
        return features

    def _vector(self, text: str) -> list[float]:
        vector = [0.0] * self._dimension
        for feature, weight in self._features(text):
            index, sign = _slot(feature, self._dimension)
            vector[index] += sign * weight
        if not any(vector):
            vector[_slot("t:" + text, self._dimension)[0]] = 1.0
        return l2_normalize(vector)
