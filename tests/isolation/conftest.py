"""Isolation fixtures: the session's synthesized sample mesh deployed into a fresh emulation per test."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

import runtime.testing.aws  # noqa: F401  (installs the emulation's botocore handlers early)
from tests.runtime.conftest import ACCOUNT_ID, REGION, aws_credentials  # noqa: F401  (shared fixture)


@pytest.fixture
def deployed(sample_mesh: Any, aws_credentials: None) -> Iterator[Any]:  # noqa: F811
    """The sample mesh's synthesized templates deployed into an active emulation: ``(aws, deployment)``."""
    from runtime.testing import emulated_aws

    with emulated_aws(REGION, ACCOUNT_ID) as aws:
        yield aws, aws.deploy(sample_mesh.directory)
