# -*- coding: utf-8 -*-
# Copyright: inplace.kubernetes contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""report.py: per-pod entries and the diff."""

from __future__ import annotations

import pytest

from ansible_collections.inplace.kubernetes.plugins.module_utils._inplace.report import diff_for, pod_entry, state_summary


@pytest.fixture
def pod():
    return {
        "metadata": {"name": "web-0", "uid": "u-0"},
        "spec": {"nodeName": "node-a",
                 "initContainers": [{"name": "init", "image": "busybox:1"}],
                 "containers": [{"name": "web", "image": "nginx:1.20"}, {"name": "side", "image": "envoy:1"}]},
        "status": {"podIP": "10.0.0.7",
                   "conditions": [{"type": "Ready", "status": "True"}],
                   "containerStatuses": [
                       {"name": "web", "image": "docker.io/library/nginx:1.20", "ready": True, "restartCount": 2},
                       {"name": "side", "image": "docker.io/library/envoy:1", "ready": True, "restartCount": 1}],
                   "initContainerStatuses": [{"name": "init", "image": "docker.io/library/busybox:1", "ready": False}]},
    }


def test_pod_entry(pod):
    changes = [{"name": "web", "before": "nginx:1.19", "after": "nginx:1.20", "init": False}]
    assert pod_entry(pod, changes, patched=True, state="upgraded") == {
        "name": "web-0",
        "uid": "u-0",
        "node": "node-a",
        "pod_ip": "10.0.0.7",
        "containers": [
            {"name": "web", "before": "nginx:1.19", "after": "nginx:1.20", "image_status": "docker.io/library/nginx:1.20",
             "ready": True, "restart_count": 2},
            {"name": "side", "before": "envoy:1", "after": "envoy:1", "image_status": "docker.io/library/envoy:1",
             "ready": True, "restart_count": 1},
            {"name": "init", "before": "busybox:1", "after": "busybox:1", "image_status": "docker.io/library/busybox:1",
             "ready": False, "restart_count": 0},
        ],
        "patched": True,
        "ready": True,
        "restart_count": 3,
        "state": "upgraded",
        "reason": "",
    }


def test_pod_entry_default_state(pod):
    assert pod_entry(pod)["state"] == "ready"
    pod["status"]["conditions"][0]["status"] = "False"
    entry = pod_entry(pod, reason="pod not Ready")
    assert (entry["state"], entry["ready"], entry["reason"], entry["patched"]) == ("not_ready", False, "pod not Ready", False)


def test_pod_entry_minimal_pod():
    entry = pod_entry({"metadata": {"name": "p"}, "spec": {"containers": [{"name": "c", "image": "x:1"}]}})
    assert entry["containers"] == [{"name": "c", "before": "x:1", "after": "x:1", "image_status": None,
                                    "ready": False, "restart_count": 0}]
    assert (entry["node"], entry["pod_ip"], entry["restart_count"], entry["state"]) == (None, None, 0, "not_ready")


def test_diff_for():
    plans = [
        {"name": "web-0", "changes": [{"name": "web", "before": "nginx:1.19", "after": "nginx:1.20"}]},
        {"name": "web-1", "changes": []},
    ]
    assert diff_for(plans) == {"before": {"pods": {"web-0": {"web": "nginx:1.19"}}},
                               "after": {"pods": {"web-0": {"web": "nginx:1.20"}}}}


def test_diff_for_template():
    before = {"web": "nginx:1.19"}
    after = {"web": "nginx:1.20"}
    diff = diff_for([], before, after)
    assert diff == {"before": {"pods": {}, "template": before}, "after": {"pods": {}, "template": after}}


def test_diff_for_unchanged_template():
    assert diff_for([], {"web": "x"}, {"web": "x"}) == {"before": {"pods": {}}, "after": {"pods": {}}}


def test_state_summary():
    entries = [{"state": "upgraded"}, {"state": "failed"}, {"state": "upgraded"}, {"state": "current"}]
    assert state_summary(entries) == "1 current, 1 failed, 2 upgraded"
    assert state_summary([]) == ""
