# -*- coding: utf-8 -*-
# Copyright: inplace.kubernetes contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""sync_proofs.py: the pure bits (the interrupted-sync annotation, whether a sync is needed, the controller's
proof before the hold is released, stale records, older ReplicaSets holding the target template)."""

from __future__ import annotations

import json

import pytest

from ansible_collections.inplace.kubernetes.plugins.module_utils._inplace.discovery import Workload
from ansible_collections.inplace.kubernetes.plugins.module_utils._inplace.errors import InplaceError
from ansible_collections.inplace.kubernetes.plugins.module_utils._inplace.sync_proofs import (
    SYNC_ANNOTATION,
    _escape,
    hold_proof,
    older_matches,
    pending_sync,
    stale_reason,
    target_template,
    template_needs_sync,
)


def owner(annotation=None, image="nginx:1.19"):
    metadata = {"name": "web", "uid": "d-1"}
    if annotation is not None:
        metadata["annotations"] = {SYNC_ANNOTATION: annotation, "other": "x"}
    return {"metadata": metadata, "spec": {"template": {"spec": {"containers": [{"name": "web", "image": image}]}}}}


@pytest.mark.parametrize("obj", [owner(), owner(""), {"metadata": {"annotations": None}}, {}])
def test_no_pending_sync(obj):
    assert pending_sync(obj) is None


def test_pending_sync():
    state = {"target": {"web": "nginx:1.20"}, "paused": False, "started": "2024-01-01T00:00:00Z"}
    assert pending_sync(owner(json.dumps(state))) == state


@pytest.mark.parametrize("raw, message", [
    ("{not json", "annotation inplace.kubernetes.io/template-sync on web is not valid JSON; remove it after checking "
                  "the owner's pause/update strategy by hand"),
    ("[]", "annotation inplace.kubernetes.io/template-sync on web has no target images"),
    ('"text"', "annotation inplace.kubernetes.io/template-sync on web has no target images"),
    ('{"paused": true}', "annotation inplace.kubernetes.io/template-sync on web has no target images"),
    ('{"target": ["web"]}', "annotation inplace.kubernetes.io/template-sync on web has no target images"),
])
def test_bad_pending_sync(raw, message):
    with pytest.raises(InplaceError) as exc:
        pending_sync(owner(raw))
    assert exc.value.msg == message


def test_template_needs_sync():
    assert template_needs_sync(Workload("Deployment", "web", "ns", owner=owner()), {"web": "nginx:1.20"}) is True
    assert template_needs_sync(Workload("Deployment", "web", "ns", owner=owner()), {"web": "docker.io/library/nginx:1.19"}) is False
    resumed = owner(json.dumps({"target": {"web": "nginx:1.19"}}))
    assert template_needs_sync(Workload("Deployment", "web", "ns", owner=resumed), {"web": "nginx:1.19"}) is True
    assert template_needs_sync(Workload(None, None, "ns"), {"web": "nginx:1.20"}) is False


@pytest.mark.parametrize("key, expected", [
    ("inplace.kubernetes.io/template-sync", "inplace.kubernetes.io~1template-sync"),
    ("a~b/c", "a~0b~1c"),
])
def test_escape(key, expected):
    assert _escape(key) == expected


def dep(generation=5, observed=5, replicas=4, updated=4):
    return {"metadata": {"name": "web", "generation": generation}, "spec": {"replicas": replicas},
            "status": {"observedGeneration": observed, "updatedReplicas": updated}}


def rs(name="web-1", replicas=4, status=None, image="nginx:1.20", hash_label="abc"):
    return {"metadata": {"name": name},
            "spec": {"replicas": replicas, "template": {
                "metadata": {"labels": {"app": "web", "pod-template-hash": hash_label}},
                "spec": {"containers": [{"name": "web", "image": image}]}}},
            "status": {"replicas": replicas if status is None else status}}


@pytest.mark.parametrize("obj, generation, replicaset, missing", [
    (dep(), 5, rs(), None),
    (dep(observed=6), 5, rs(), None),
    (dep(observed=4), 5, rs(), "observedGeneration 4 < 5"),
    # The controller's cache has not seen the ReplicaSet patch: no ReplicaSet matches, updatedReplicas 0.
    (dep(updated=0), 5, rs(), "updatedReplicas 0, spec.replicas 4, ReplicaSet web-1 replicas 4"),
    # Being scaled: the proof waits for all three to agree.
    (dep(replicas=5), 5, rs(), "updatedReplicas 4, spec.replicas 5, ReplicaSet web-1 replicas 4"),
    (dep(), 5, rs(replicas=3), "updatedReplicas 4, spec.replicas 4, ReplicaSet web-1 replicas 3"),
    ({"metadata": {}, "spec": {}, "status": {}}, 1, rs(), "observedGeneration 0 < 1"),
])
def test_deployment_proof(obj, generation, replicaset, missing):
    assert hold_proof("Deployment", obj, generation, replicaset) == missing


def test_deployment_proof_mid_rollout():
    """allow_mid_rollout: other ReplicaSets still hold pods, so only the current ReplicaSet's count must match."""
    assert hold_proof("Deployment", dep(replicas=4, updated=2), 5, rs(replicas=2), mid_rollout=True) is None
    assert hold_proof("Deployment", dep(replicas=4, updated=0), 5, rs(replicas=2), mid_rollout=True) == \
        "updatedReplicas 0, spec.replicas 4, ReplicaSet web-1 replicas 2"
    assert hold_proof("Deployment", dep(replicas=4, updated=2), 5, rs(replicas=2)) == \
        "updatedReplicas 2, spec.replicas 4, ReplicaSet web-1 replicas 2"


def sts(updated=3, current="r1", update="r2", replicas=3, observed=2):
    return {"spec": {"replicas": replicas}, "status": {"observedGeneration": observed, "updatedReplicas": updated,
                                                       "currentRevision": current, "updateRevision": update}}


@pytest.mark.parametrize("obj, on_delete, missing", [
    (sts(current="r2"), False, None),
    (sts(updated=2, current="r2"), False, "updatedReplicas 2 of 3"),
    (sts(), False, "currentRevision r1 != updateRevision r2"),
    # A StatefulSet on OnDelete of its own: 1.32's completeRollingUpdate never moves currentRevision.
    (sts(), True, None),
    (sts(observed=1, current="r2"), False, "observedGeneration 1 < 2"),
])
def test_statefulset_proof(obj, on_delete, missing):
    assert hold_proof("StatefulSet", obj, 2, original_on_delete=on_delete) == missing


@pytest.mark.parametrize("status, missing", [
    ({"observedGeneration": 3, "updatedNumberScheduled": 2, "desiredNumberScheduled": 2}, None),
    ({"observedGeneration": 3, "updatedNumberScheduled": 1, "desiredNumberScheduled": 2}, "updatedNumberScheduled 1 of 2"),
    ({"observedGeneration": 2, "updatedNumberScheduled": 2, "desiredNumberScheduled": 2}, "observedGeneration 2 < 3"),
    # seen on 1.32 right after a controller-manager stall: both nodes tainted unreachable, so 0 of 0 "updated"
    ({"observedGeneration": 3, "desiredNumberScheduled": 0, "numberMisscheduled": 2},
     "numberMisscheduled 2 (pods on nodes the controller does not count, e.g. tainted not-ready)"),
])
def test_daemonset_proof(status, missing):
    assert hold_proof("DaemonSet", {"spec": {}, "status": status}, 3) == missing


def pod(name, image, deleting=False):
    metadata = {"name": name}
    if deleting:
        metadata["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    return {"metadata": metadata, "spec": {"containers": [{"name": "web", "image": image}]}}


def test_stale_reason():
    state = {"target": {"web": "nginx:1.20"}}
    assert stale_reason(state, [pod("a", "nginx:1.20"), pod("b", "docker.io/library/nginx:1.20")]) is None
    assert stale_reason(state, [pod("a", "nginx:1.20"), pod("b", "nginx:1.19", deleting=True)]) is None
    assert stale_reason(state, [pod("b", "nginx:1.19"), pod("a", "nginx:1.19")]) == \
        "pods a, b do not run its target web=nginx:1.20"
    assert stale_reason(state, []) is None


def test_target_template_changes_only_images():
    template = rs(image="nginx:1.19")["spec"]["template"]
    result = target_template(template, {"web": "nginx:1.20"})
    assert result["spec"]["containers"] == [{"name": "web", "image": "nginx:1.20"}]
    assert result["metadata"] == template["metadata"]
    assert template["spec"]["containers"][0]["image"] == "nginx:1.19", "the input is not modified"
    assert target_template(template, {"web": "nginx:1.19"}) == template


def test_older_matches():
    target = rs(image="nginx:1.19", hash_label="new")["spec"]["template"]
    current = rs("web-cur", image="nginx:1.20")
    empty = rs("web-old", replicas=0, image="nginx:1.19", hash_label="old")
    other = rs("web-other", replicas=0, image="nginx:1.18")
    # A downgrade to the images an empty old revision holds: delete it (the hash label is ignored).
    assert older_matches(target, [current, empty, other], "web-cur", {"web-cur": 4}) == ([empty], [])
    # Scaled to 0 but its status still counts pods, or pods still owned: blocks.
    draining = rs("web-old", replicas=0, status=1, image="nginx:1.19")
    assert older_matches(target, [current, draining], "web-cur", {}) == ([], [draining])
    assert older_matches(target, [current, empty], "web-cur", {"web-old": 1}) == ([], [empty])
    running = rs("web-old", replicas=2, image="nginx:1.19")
    assert older_matches(target, [current, running], "web-cur", {}) == ([], [running])
    # The current ReplicaSet itself never counts.
    assert older_matches(rs("web-cur")["spec"]["template"], [current], "web-cur", {}) == ([], [])
