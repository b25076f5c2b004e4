# -*- coding: utf-8 -*-
# Copyright: inplace.kubernetes contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""discovery.py: the pure helpers (selectors, ownership, template matching, Workload)."""

from __future__ import annotations

import pytest

from ansible_collections.inplace.kubernetes.plugins.module_utils._inplace.discovery import (
    Workload,
    is_live,
    owned_by,
    selector_matches,
    selector_string,
    selectors_from_list,
    template_matches,
)
from ansible_collections.inplace.kubernetes.plugins.module_utils._inplace.errors import InplaceError


@pytest.mark.parametrize("selector, expected", [
    (None, ""),
    ({}, ""),
    ({"matchLabels": {"tier": "web", "app": "shop"}}, "app=shop,tier=web"),
    ({"matchExpressions": [{"key": "env", "operator": "In", "values": ["a", "b"]}]}, "env in (a,b)"),
    ({"matchExpressions": [{"key": "env", "operator": "NotIn", "values": ["x"]}]}, "env notin (x)"),
    ({"matchExpressions": [{"key": "canary", "operator": "Exists"}]}, "canary"),
    ({"matchExpressions": [{"key": "canary", "operator": "DoesNotExist"}]}, "!canary"),
    ({"matchLabels": {"app": "shop"},
      "matchExpressions": [{"key": "env", "operator": "In", "values": ["prod"]},
                           {"key": "legacy", "operator": "DoesNotExist"}]}, "app=shop,env in (prod),!legacy"),
])
def test_selector_string(selector, expected):
    assert selector_string(selector) == expected


def test_selector_string_unknown_operator():
    with pytest.raises(InplaceError) as exc:
        selector_string({"matchExpressions": [{"key": "a", "operator": "Gt", "values": ["1"]}]})
    assert exc.value.msg == "unsupported label selector operator 'Gt' on key 'a'"


@pytest.mark.parametrize("selectors, expected", [
    (None, ""),
    ([], ""),
    (["app=web", "  tier in (a,b) ", "", "   ", None], "app=web,tier in (a,b)"),
])
def test_selectors_from_list(selectors, expected):
    assert selectors_from_list(selectors) == expected


@pytest.mark.parametrize("selector, labels, expected", [
    (None, {"app": "web"}, True),
    ({}, None, True),
    ({"matchLabels": {"app": "web"}}, {"app": "web", "x": "y"}, True),
    ({"matchLabels": {"app": "web"}}, {"app": "db"}, False),
    ({"matchLabels": {"app": "web"}}, {}, False),
    ({"matchExpressions": [{"key": "env", "operator": "In", "values": ["a", "b"]}]}, {"env": "b"}, True),
    ({"matchExpressions": [{"key": "env", "operator": "In", "values": ["a", "b"]}]}, {"env": "c"}, False),
    ({"matchExpressions": [{"key": "env", "operator": "In", "values": ["a"]}]}, {}, False),
    ({"matchExpressions": [{"key": "env", "operator": "NotIn", "values": ["a"]}]}, {"env": "a"}, False),
    ({"matchExpressions": [{"key": "env", "operator": "NotIn", "values": ["a"]}]}, {"env": "b"}, True),
    ({"matchExpressions": [{"key": "env", "operator": "NotIn", "values": ["a"]}]}, {}, True),
    ({"matchExpressions": [{"key": "env", "operator": "Exists"}]}, {"env": ""}, True),
    ({"matchExpressions": [{"key": "env", "operator": "Exists"}]}, {}, False),
    ({"matchExpressions": [{"key": "env", "operator": "DoesNotExist"}]}, {"env": "x"}, False),
    ({"matchExpressions": [{"key": "env", "operator": "DoesNotExist"}]}, {}, True),
    ({"matchLabels": {"app": "web"}, "matchExpressions": [{"key": "env", "operator": "Exists"}]}, {"app": "web"}, False),
])
def test_selector_matches(selector, labels, expected):
    assert selector_matches(selector, labels) is expected


@pytest.mark.parametrize("refs, uids, expected", [
    ([{"uid": "a"}], {"a"}, True),
    ([{"uid": "b"}, {"uid": "a"}], {"a"}, True),
    ([{"uid": "b"}], {"a"}, False),
    (None, {"a"}, False),
    ([], set(), False),
])
def test_owned_by(refs, uids, expected):
    assert owned_by({"metadata": {"ownerReferences": refs}}, uids) is expected


def test_owned_by_without_metadata():
    assert owned_by({}, {"a"}) is False


@pytest.mark.parametrize("metadata, phase, expected", [
    ({}, "Running", True),
    ({}, "Pending", True),
    ({"deletionTimestamp": "2024-01-01T00:00:00Z"}, "Running", False),
    ({}, "Succeeded", False),
    ({}, "Failed", False),
])
def test_is_live(metadata, phase, expected):
    assert is_live({"metadata": metadata, "status": {"phase": phase}}) is expected


def template(image="nginx:1.19", labels=None):
    return {"metadata": {"labels": labels if labels is not None else {"app": "web"}},
            "spec": {"containers": [{"name": "web", "image": image}]}}


@pytest.mark.parametrize("a, b, expected", [
    (template(), template(), True),
    (template(labels={"app": "web", "pod-template-hash": "abc"}), template(), True),
    (template(labels={"app": "web", "pod-template-hash": "abc"}),
     template(labels={"app": "web", "pod-template-hash": "def"}), True),
    (template(), template(image="nginx:1.20"), False),
    (template(labels={"app": "web", "pod-template-hash": "abc"}), template(labels={"app": "db"}), False),
    (template(labels={}), {"spec": template()["spec"]}, True),
    (None, {}, True),
])
def test_template_matches(a, b, expected):
    assert template_matches(a, b) is expected


def test_template_matches_does_not_modify():
    a = template(labels={"app": "web", "pod-template-hash": "abc"})
    template_matches(a, template())
    assert a["metadata"]["labels"] == {"app": "web", "pod-template-hash": "abc"}


def replicaset(name, uid, image="nginx:1.19", created="2024-01-01T00:00:00Z"):
    return {"metadata": {"name": name, "uid": uid, "creationTimestamp": created},
            "spec": {"template": template(image, {"app": "web", "pod-template-hash": name[-5:]})}}


def pod(name, owner_uid):
    return {"metadata": {"name": name, "ownerReferences": [{"uid": owner_uid, "kind": "ReplicaSet"}]}}


@pytest.fixture
def deployment_workload():
    owner = {"metadata": {"name": "web", "uid": "d-1"}, "spec": {"replicas": 3, "template": template("nginx:1.20")}}
    replicasets = [replicaset("web-aaaaa", "rs-1"), replicaset("web-bbbbb", "rs-2", "nginx:1.20")]
    pods = [pod("web-aaaaa-1", "rs-1"), pod("web-bbbbb-1", "rs-2"), pod("web-aaaaa-2", "rs-1"), pod("stray", "x")]
    return Workload("Deployment", "web", "ns", owner=owner, pods=pods, replicasets=replicasets, selector="app=web")


def test_pod_replicasets(deployment_workload):
    expected = {"web-aaaaa": ["web-aaaaa-1", "web-aaaaa-2"], "web-bbbbb": ["web-bbbbb-1"]}
    assert deployment_workload.pod_replicasets() == expected


def test_current_replicaset(deployment_workload):
    assert deployment_workload.current_replicaset()["metadata"]["name"] == "web-bbbbb"


def test_current_replicaset_none():
    workload = Workload("Deployment", "web", "ns", owner={"spec": {"template": template("x:1")}},
                        replicasets=[replicaset("web-aaaaa", "rs-1")])
    assert workload.current_replicaset() is None


def test_current_replicaset_oldest_of_several():
    owner = {"spec": {"template": template()}}
    newer = replicaset("web-bbbbb", "rs-2", created="2024-02-01T00:00:00Z")
    older = replicaset("web-aaaaa", "rs-1", created="2024-01-01T00:00:00Z")
    workload = Workload("Deployment", "web", "ns", owner=owner, replicasets=[newer, older])
    assert workload.current_replicaset()["metadata"]["name"] == "web-aaaaa"


def test_current_replicaset_tie_broken_by_name():
    # The deployment controller sorts by creationTimestamp, then by name (ReplicaSetsByCreationTimestamp).
    owner = {"spec": {"template": template()}}
    second = replicaset("web-zzzzz", "rs-2")
    first = replicaset("web-aaaaa", "rs-1")
    workload = Workload("Deployment", "web", "ns", owner=owner, replicasets=[second, first])
    assert workload.current_replicaset()["metadata"]["name"] == "web-aaaaa"


@pytest.mark.parametrize("kind, owner, pods, expected", [
    ("Deployment", {"spec": {"replicas": 4}}, [], 4),
    ("Deployment", {"spec": {}}, [], 1),
    ("StatefulSet", {"spec": {"replicas": 0}}, [], 0),
    ("DaemonSet", {"spec": {}, "status": {"desiredNumberScheduled": 5}}, [], 5),
    ("DaemonSet", {"spec": {}, "status": {}}, [{}, {}], 2),
    (None, None, [{}, {}, {}], 3),
])
def test_replicas(kind, owner, pods, expected):
    assert Workload(kind, "x", "ns", owner=owner, pods=pods).replicas == expected


def test_summary_and_template_spec(deployment_workload):
    assert deployment_workload.summary() == {"kind": "Deployment", "name": "web", "namespace": "ns", "replicas": 3,
                                             "uid": "d-1", "selector": "app=web"}
    assert deployment_workload.template_spec == {"containers": [{"name": "web", "image": "nginx:1.20"}]}
    assert Workload(None, None, "ns").template_spec == {}
