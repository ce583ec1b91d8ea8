"""Snapshot of every stack of the sample config: any template change shows up in review."""

from __future__ import annotations

import json
import re

import pytest
from syrupy.extensions.json import JSONSnapshotExtension

# The session's sample mesh is synthesized once, on the worker that runs this group.
pytestmark = pytest.mark.xdist_group("sample_mesh")

SAMPLE_STACKS = ["memory-mesh-supervisor", "memory-mesh-worker-billing"]


@pytest.fixture
def snapshot_json(snapshot):
    return snapshot.use_extension(JSONSnapshotExtension)


def test_sample_config_has_exactly_these_stacks(sample_mesh):
    assert sorted(sample_mesh.templates) == sorted(SAMPLE_STACKS)


ASSET_KEY = re.compile(r"^[0-9a-f]{64}\.zip$")


def _mask_asset_keys(value):
    """Asset zip names are content hashes of runtime/ (tested in test_runtime_bundle); mask them so a runtime
    edit does not churn the snapshot, while every other template change still shows."""
    if isinstance(value, dict):
        return {k: ("<asset-hash>.zip" if k == "S3Key" and isinstance(v, str) and ASSET_KEY.match(v)
                    else _mask_asset_keys(v)) for k, v in value.items()}
    if isinstance(value, list):
        return [_mask_asset_keys(v) for v in value]
    return value


@pytest.mark.parametrize("stack_name", SAMPLE_STACKS)
def test_stack_template_snapshot(sample_mesh, snapshot_json, stack_name):
    assert _mask_asset_keys(sample_mesh.template(stack_name)) == snapshot_json


def test_only_asset_keys_are_masked(sample_mesh):
    template = sample_mesh.template("memory-mesh-supervisor")
    masked = _mask_asset_keys(template)
    assert "<asset-hash>.zip" in json.dumps(masked)
    assert json.dumps(masked).count("<asset-hash>.zip") == json.dumps(template).count(".zip\"")


def test_synth_is_deterministic(sample_mesh):
    from tests.conftest import synth_mesh

    again = synth_mesh(nag=False)
    assert again.templates == sample_mesh.templates
