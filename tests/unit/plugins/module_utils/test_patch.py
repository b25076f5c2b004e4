# -*- coding: utf-8 -*-
# Copyright: inplace.kubernetes contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""patch.py: guarded RFC 6902 patches addressed by index resolved from the container name."""

from __future__ import annotations

import copy

import jsonpatch
import pytest

from ansible_collections.inplace.kubernetes.plugins.module_utils._inplace.errors import InplaceError
from ansible_collections.inplace.kubernetes.plugins.module_utils._inplace.patch import (
    check_containers,
    container_names,
    current_images,
    image_changes,
    image_patch,
    locate,
    with_images,
)


@pytest.fixture
def spec():
    return {
        "initContainers": [{"name": "init", "image": "busybox:1.35"}],
        "containers": [
            {"name": "sidecar", "image": "envoy:1.20"},
            {"name": "web", "image": "nginx:1.19"},
        ],
    }


def test_container_names_and_images(spec):
    assert container_names(spec) == ["sidecar", "web", "init"]
    assert current_images(spec) == {"sidecar": "envoy:1.20", "web": "nginx:1.19", "init": "busybox:1.35"}
    assert container_names({}) == []
    assert current_images({"containers": None}) == {}


@pytest.mark.parametrize("name, expected", [
    ("sidecar", ("containers", 0)),
    ("web", ("containers", 1)),
    ("init", ("initContainers", 0)),
    ("nope", None),
])
def test_locate(spec, name, expected):
    assert locate(spec, name) == expected


def test_check_containers_names_the_missing(spec):
    check_containers(spec, {"web": "nginx:1.20"})
    with pytest.raises(InplaceError) as exc:
        check_containers(spec, {"zeta": "a", "alpha": "b", "web": "c"}, what="pod web-0")
    assert exc.value.msg == "container(s) alpha, zeta not found in pod web-0; they have: sidecar, web, init"


def test_check_containers_without_containers():
    with pytest.raises(InplaceError) as exc:
        check_containers({}, {"web": "nginx"})
    assert exc.value.msg == "container(s) web not found in the pods; they have: none"


def test_image_changes(spec):
    changes = image_changes(spec, {"web": "nginx:1.20", "init": "busybox:1.36", "sidecar": "envoy:1.20"})
    assert changes == [
        {"name": "init", "before": "busybox:1.35", "after": "busybox:1.36", "init": True},
        {"name": "web", "before": "nginx:1.19", "after": "nginx:1.20", "init": False},
    ]


def test_image_changes_ignores_spelling(spec):
    assert image_changes(spec, {"web": "docker.io/library/nginx:1.19", "sidecar": "index.docker.io/library/envoy:1.20"}) == []


def test_image_changes_skips_unknown_containers(spec):
    assert image_changes(spec, {"ghost": "x:1"}) == []


def test_image_patch_is_guarded_and_by_index(spec):
    patch, changes = image_patch(spec, {"web": "nginx:1.20", "init": "busybox:1.36"})
    assert isinstance(patch, jsonpatch.JsonPatch)
    assert [c["name"] for c in changes] == ["init", "web"]
    assert patch.patch == [
        {"op": "test", "path": "/spec/initContainers/0/name", "value": "init"},
        {"op": "test", "path": "/spec/initContainers/0/image", "value": "busybox:1.35"},
        {"op": "replace", "path": "/spec/initContainers/0/image", "value": "busybox:1.36"},
        {"op": "test", "path": "/spec/containers/1/name", "value": "web"},
        {"op": "test", "path": "/spec/containers/1/image", "value": "nginx:1.19"},
        {"op": "replace", "path": "/spec/containers/1/image", "value": "nginx:1.20"},
    ]


def test_image_patch_applies_to_what_was_read(spec):
    original = copy.deepcopy(spec)
    patch, _changes = image_patch(spec, {"web": "nginx:1.20"})
    assert spec == original, "the spec that was read must not be modified"
    patched = patch.apply({"spec": spec})
    assert patched["spec"]["containers"][1] == {"name": "web", "image": "nginx:1.20"}
    assert patched["spec"]["containers"][0] == {"name": "sidecar", "image": "envoy:1.20"}


def test_image_patch_rejected_when_object_changed(spec):
    patch, _changes = image_patch(spec, {"web": "nginx:1.20"})
    moved = copy.deepcopy(spec)
    moved["containers"].reverse()  # somebody reordered the containers in between
    with pytest.raises(jsonpatch.JsonPatchTestFailed):
        patch.apply({"spec": moved})
    retagged = copy.deepcopy(spec)
    retagged["containers"][1]["image"] = "nginx:1.21"  # somebody else upgraded it
    with pytest.raises(jsonpatch.JsonPatchTestFailed):
        patch.apply({"spec": retagged})


def test_image_patch_template_prefix(spec):
    patch, _changes = image_patch(spec, {"sidecar": "envoy:1.21"}, prefix="/spec/template/spec")
    assert [op["path"] for op in patch.patch] == ["/spec/template/spec/containers/0/name"] + \
        ["/spec/template/spec/containers/0/image"] * 2
    result = patch.apply({"spec": {"template": {"spec": spec}}})
    assert result["spec"]["template"]["spec"]["containers"][0]["image"] == "envoy:1.21"


def test_image_patch_nothing_to_do(spec):
    patch, changes = image_patch(spec, {"web": "docker.io/library/nginx:1.19"})
    assert changes == []
    assert patch.patch == []


def test_image_patch_missing_container(spec):
    with pytest.raises(InplaceError):
        image_patch(spec, {"web": "nginx:1.20", "missing": "x:1"})


def test_image_patch_escapes_nothing_from_user_names():
    # The path is built from indices only, so a container name never ends up in a JSON pointer.
    spec = {"containers": [{"name": "a/b~c", "image": "x:1"}]}
    patch, _changes = image_patch(spec, {"a/b~c": "x:2"})
    assert patch.patch[0] == {"op": "test", "path": "/spec/containers/0/name", "value": "a/b~c"}


def test_with_images(spec):
    result = with_images(spec, {"web": "nginx:1.20", "init": "busybox:1.36", "ghost": "x:1"})
    assert current_images(result) == {"sidecar": "envoy:1.20", "web": "nginx:1.20", "init": "busybox:1.36"}
    assert spec["containers"][1]["image"] == "nginx:1.19"


def test_image_patch_tests_the_uid_first(spec):
    patch, _changes = image_patch(spec, {"web": "nginx:1.20"}, uid="u-1")
    assert patch.patch[0] == {"op": "test", "path": "/metadata/uid", "value": "u-1"}
    assert patch.apply({"metadata": {"uid": "u-1"}, "spec": spec})["spec"]["containers"][1]["image"] == "nginx:1.20"
    # A pod of the same name re-created meanwhile (another uid, same old images) is refused.
    with pytest.raises(jsonpatch.JsonPatchTestFailed):
        patch.apply({"metadata": {"uid": "u-2"}, "spec": spec})
    nothing, changes = image_patch(spec, {"web": "nginx:1.19"}, uid="u-1")
    assert changes == [] and nothing.patch == []
