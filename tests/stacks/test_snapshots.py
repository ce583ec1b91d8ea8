"""Snapshot of every stack of the sample config: any template change shows up in review."""

from __future__ import annotations

import pytest
from syrupy.extensions.json import JSONSnapshotExtension

SAMPLE_STACKS = ["memory-mesh-supervisor", "memory-mesh-worker-billing"]


@pytest.fixture
def snapshot_json(snapshot):
    return snapshot.use_extension(JSONSnapshotExtension)


def test_sample_config_has_exactly_these_stacks(sample_mesh):
    assert sorted(sample_mesh.templates) == sorted(SAMPLE_STACKS)


@pytest.mark.parametrize("stack_name", SAMPLE_STACKS)
def test_stack_template_snapshot(sample_mesh, snapshot_json, stack_name):
    assert sample_mesh.template(stack_name) == snapshot_json


def test_synth_is_deterministic(sample_mesh):
    from tests.conftest import synth_mesh

    again = synth_mesh(nag=False)
    assert again.templates == sample_mesh.templates
