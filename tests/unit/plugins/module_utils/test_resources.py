# -*- coding: utf-8 -*-
# Copyright: inplace.kubernetes contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""quantity.py and resources.py: quantities, the resources option, QoS, the guarded resize patch (pure)."""

from __future__ import annotations

import copy
from fractions import Fraction

import jsonpatch
import pytest

from ansible_collections.inplace.kubernetes.plugins.module_utils._inplace.errors import InplaceError
from ansible_collections.inplace.kubernetes.plugins.module_utils._inplace.quantity import parse_quantity, same_quantity
from ansible_collections.inplace.kubernetes.plugins.module_utils._inplace.resources import (
    BEST_EFFORT,
    BURSTABLE,
    GUARANTEED,
    check_resources,
    check_spec,
    previous_of,
    qos_class,
    resize_patch,
    resource_changes,
    resources_text,
)


@pytest.mark.parametrize("text, value", [
    ("250m", Fraction(1, 4)), ("0.5", Fraction(1, 2)), ("1", 1), (1, 1), (0.5, Fraction(1, 2)), ("2.", 2),
    (".5", Fraction(1, 2)), ("128Mi", 128 * 2 ** 20), ("1Gi", 2 ** 30), ("1k", 1000), ("1M", 10 ** 6),
    ("1e3", 1000), ("1E-3", Fraction(1, 1000)), ("100n", Fraction(1, 10 ** 7)), ("+2", 2), ("1Ei", 2 ** 60),
])
def test_parse_quantity(text, value):
    assert parse_quantity(text) == value


@pytest.mark.parametrize("bad", ["", " 1", "1 ", "1mi", "1ki", "1Kb", "abc", "1.2.3", "--1", True, None, "m", "1" * 65])
def test_parse_quantity_refuses(bad):
    with pytest.raises(ValueError):
        parse_quantity(bad)


def test_same_quantity():
    assert same_quantity("0.5", "500m")
    assert same_quantity("1Gi", "1024Mi")
    assert same_quantity(1, "1000m")
    assert not same_quantity("1G", "1Gi")
    assert same_quantity(None, None) and not same_quantity(None, "1")


def test_check_resources_normalises():
    assert check_resources(None) == {}
    assert check_resources({"app": {"requests": {"cpu": 0.5, "memory": "128Mi"}, "limits": {"cpu": 1}}}) == {
        "app": {"requests": {"cpu": "0.5", "memory": "128Mi"}, "limits": {"cpu": "1"}}}


@pytest.mark.parametrize("value, fragment", [
    ("x", "must be a mapping"),
    ({"App": {"limits": {"cpu": "1"}}}, "not a valid container name"),
    ({"app": {}}, "give requests and/or limits"),
    ({"app": {"request": {"cpu": "1"}}}, "'request' is not requests or limits"),
    ({"app": {"limits": {"ephemeral-storage": "1Gi"}}}, "limits.ephemeral-storage cannot be resized in place"),
    ({"app": {"limits": {"nvidia.com/gpu": "1"}}}, "only cpu and memory"),
    ({"app": {"limits": {"memory": "1mi"}}}, "limits.memory: '1mi' is not a quantity"),
    ({"app": {"limits": {"memory": "0"}}}, "must be more than 0"),
    ({"app": {"requests": {"cpu": "-1"}}}, "must be more than 0"),
    ({"app": {"requests": {"cpu": "2"}, "limits": {"cpu": "1"}}}, "requests.cpu 2 is above limits.cpu 1"),
    ({"app": {"limits": []}}, "limits must map cpu and/or memory"),
])
def test_check_resources_refuses(value, fragment):
    with pytest.raises(InplaceError) as err:
        check_resources(value)
    assert fragment in err.value.msg


def spec(app=None, side=None, init=None, resize_policy=None):
    containers = [{"name": "app", "image": "nginx:1", "resources": copy.deepcopy(app if app is not None else {})}]
    if resize_policy:
        containers[0]["resizePolicy"] = resize_policy
    result = {"containers": containers, "initContainers": []}
    if side is not None:
        result["initContainers"].append({"name": "side", "image": "envoy:1", "restartPolicy": "Always",
                                         "resources": copy.deepcopy(side)})
    if init is not None:
        result["initContainers"].append({"name": "init", "image": "busybox:1", "resources": copy.deepcopy(init)})
    return result


SMALL = {"requests": {"cpu": "50m", "memory": "64Mi"}, "limits": {"cpu": "200m", "memory": "128Mi"}}
EQUAL = {"requests": {"cpu": "100m", "memory": "64Mi"}, "limits": {"cpu": "100m", "memory": "64Mi"}}


def test_qos_class():
    assert qos_class(spec()) == BEST_EFFORT
    assert qos_class(spec(SMALL)) == BURSTABLE
    assert qos_class(spec(EQUAL)) == GUARANTEED
    assert qos_class(spec(EQUAL, side={"requests": {"cpu": "10m"}})) == BURSTABLE
    assert qos_class(spec(EQUAL, side=EQUAL)) == GUARANTEED
    assert qos_class(spec({"limits": {"cpu": "1", "memory": "1Gi"}, "requests": {"cpu": "1000m", "memory": "1024Mi"}})) \
        == GUARANTEED


def test_changes_by_value_and_restart_policy():
    policy = [{"resourceName": "memory", "restartPolicy": "RestartContainer"}]
    current = spec(SMALL, resize_policy=policy)
    assert resource_changes(current, {"app": {"requests": {"cpu": "0.05"}}}) == []
    [change] = resource_changes(current, {"app": {"requests": {"cpu": "100m"}, "limits": {"memory": "256Mi"}}})
    assert change["name"] == "app" and change["init"] is False
    assert change["after"] == {"requests": {"cpu": "100m", "memory": "64Mi"}, "limits": {"cpu": "200m", "memory": "256Mi"}}
    assert change["before"] == SMALL
    assert change["restart"] == ["memory"]
    [change] = resource_changes(current, {"app": {"limits": {"cpu": "300m"}}})
    assert change["restart"] == []


def test_check_spec():
    check_spec(spec(SMALL, side=SMALL), {"app": {"limits": {"memory": "1Gi"}}, "side": {"requests": {"cpu": "100m"}}}, "p")
    with pytest.raises(InplaceError, match="regular init container"):
        check_spec(spec(SMALL, init=SMALL), {"init": {"limits": {"memory": "1Gi"}}}, "p")
    with pytest.raises(InplaceError, match="container nope not found"):
        check_spec(spec(SMALL), {"nope": {"limits": {"memory": "1Gi"}}}, "p")
    with pytest.raises(InplaceError, match="QoS class would change from Guaranteed to Burstable"):
        check_spec(spec(EQUAL), {"app": {"limits": {"memory": "128Mi"}}}, "p")
    check_spec(spec(EQUAL), {"app": {"limits": {"memory": "128Mi"}, "requests": {"memory": "128Mi"}}}, "p")
    with pytest.raises(InplaceError, match="QoS class would change from BestEffort to Burstable"):
        check_spec(spec(), {"app": {"requests": {"cpu": "100m"}}}, "p")
    with pytest.raises(InplaceError, match="requests.cpu 300m would be above limits.cpu 200m"):
        check_spec(spec(SMALL), {"app": {"requests": {"cpu": "300m"}}}, "pod p")


def test_resize_patch_is_guarded_and_applies():
    current = spec(SMALL, side=SMALL)
    wanted = {"side": {"limits": {"memory": "256Mi"}}, "app": {"requests": {"cpu": "0.05"}}}
    ops, changes = resize_patch(current, wanted, uid="u-1")
    assert [c["name"] for c in changes] == ["side"]
    assert ops[0] == {"op": "test", "path": "/metadata/uid", "value": "u-1"}
    assert ops[1] == {"op": "test", "path": "/spec/initContainers/0/name", "value": "side"}
    assert ops[2] == {"op": "test", "path": "/spec/initContainers/0/resources", "value": SMALL}
    assert ops[3]["op"] == "replace" and ops[3]["value"]["limits"]["memory"] == "256Mi"
    pod = {"metadata": {"uid": "u-1"}, "spec": copy.deepcopy(current)}
    patched = jsonpatch.JsonPatch(ops).apply(pod)
    assert patched["spec"]["initContainers"][0]["resources"]["limits"] == {"cpu": "200m", "memory": "256Mi"}
    # Someone changed the resources since: the patch's test fails, nothing is overwritten.
    pod["spec"]["initContainers"][0]["resources"]["limits"]["memory"] = "192Mi"
    with pytest.raises(jsonpatch.JsonPatchTestFailed):
        jsonpatch.JsonPatch(ops).apply(pod)
    assert resize_patch(current, {"app": {"limits": {"cpu": "0.2"}}}) == ([], [])


def test_resize_patch_keeps_other_resources():
    current = spec({"requests": {"cpu": "50m", "ephemeral-storage": "1Gi"}, "claims": [{"name": "gpu"}]})
    ops, dummy = resize_patch(current, {"app": {"requests": {"cpu": "100m"}}}, prefix="/spec/template/spec")
    assert ops[0]["path"] == "/spec/template/spec/containers/0/name"
    assert ops[-1]["value"] == {"requests": {"cpu": "100m", "ephemeral-storage": "1Gi"}, "claims": [{"name": "gpu"}]}


def test_previous_of_restores_what_changed_only():
    changes = resource_changes(spec(SMALL), {"app": {"requests": {"cpu": "100m"}, "limits": {"cpu": "0.2"}}})
    assert previous_of(changes) == {"app": {"requests": {"cpu": "50m"}}}
    added = resource_changes(spec({"requests": {"cpu": "50m"}}), {"app": {"limits": {"cpu": "1"}}})
    assert previous_of(added) == {}


def test_resources_text():
    assert resources_text({"app": {"requests": {"cpu": "1"}, "limits": {"memory": "1Gi"}}}) == \
        "app requests.cpu=1 limits.memory=1Gi"
