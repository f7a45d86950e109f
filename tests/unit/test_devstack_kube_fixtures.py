"""Reading the upstream GitOps fixtures: every object is found and the namespace override copies."""

from __future__ import annotations

from pathlib import Path

import pytest

from torghut_sim.devstack.errors import DevstackError
from torghut_sim.devstack.kube_fixtures import read_objects, with_namespace


def test_reads_the_four_upstream_objects(upstream_dir: Path) -> None:
    objects = read_objects(upstream_dir / "gitops")
    kinds = {(o["apiVersion"], o["kind"], o["metadata"]["name"]) for o in objects}
    assert kinds == {
        ("argoproj.io/v1alpha1", "ApplicationSet", "product"),
        ("serving.knative.dev/v1", "Service", "torghut-sim"),
        ("v1", "ConfigMap", "torghut-ta-sim-config"),
        ("flink.apache.org/v1beta1", "FlinkDeployment", "torghut-ta-sim"),
    }


def test_namespace_override_leaves_the_original_alone(upstream_dir: Path) -> None:
    original = read_objects(upstream_dir / "gitops")[0]
    moved = with_namespace(original, "elsewhere")
    assert moved["metadata"]["namespace"] == "elsewhere"
    assert original["metadata"]["namespace"] != "elsewhere"
    assert with_namespace(original, None) == original


def test_missing_directory_is_a_stable_error(tmp_path: Path) -> None:
    with pytest.raises(DevstackError) as err:
        read_objects(tmp_path / "nope")
    assert err.value.reason == "fixtures_missing"


def test_document_without_kind_is_refused(tmp_path: Path) -> None:
    (tmp_path / "bad.yaml").write_text("metadata: {name: x}\n")
    with pytest.raises(DevstackError) as err:
        read_objects(tmp_path)
    assert err.value.reason == "fixture_not_an_object"
