# -*- coding: utf-8 -*-
# Copyright: inplace.kubernetes contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""resized.py and resize.py: the "resized" predicate over pods as the kubelet reports them, and support detection."""

from __future__ import annotations

import copy

import pytest

from ansible_collections.inplace.kubernetes.plugins.module_utils._inplace.errors import InplaceError
from ansible_collections.inplace.kubernetes.plugins.module_utils._inplace.resize import check_support, resize_support
from ansible_collections.inplace.kubernetes.plugins.module_utils._inplace.resized import (
    combined,
    reported_equal,
    resize_progress,
)
from ansible_collections.inplace.kubernetes.plugins.module_utils._inplace.states import DONE, FAILED, PENDING
from ansible_collections.inplace.kubernetes.plugins.module_utils._inplace.wait import baseline_of

OLD = {"requests": {"cpu": "50m", "memory": "64Mi"}, "limits": {"cpu": "200m", "memory": "128Mi"}}
NEW = {"requests": {"cpu": "100m", "memory": "96Mi"}, "limits": {"cpu": "400m", "memory": "256Mi"}}
WANTED = {"app": NEW}


def pod(spec_resources=None, status_resources=None, conditions=(), generation=2, observed=2, container_id="c1",
        restarts=0, ready=True):
    spec_resources = NEW if spec_resources is None else spec_resources
    status_resources = OLD if status_resources is None else status_resources
    app = {"name": "app", "image": "nginx:1", "resources": copy.deepcopy(spec_resources)}
    return {
        "metadata": {"name": "p", "uid": "u", "generation": generation},
        "spec": {"nodeName": "node-1", "containers": [app]},
        "status": {"observedGeneration": observed,
                   "conditions": [{"type": "Ready", "status": "True"}] + list(conditions),
                   "containerStatuses": [{"name": "app", "containerID": container_id, "restartCount": restarts,
                                          "ready": ready, "state": {"running": {}},
                                          "resources": copy.deepcopy(status_resources)}]},
    }


def test_done_when_the_kubelet_reports_the_spec():
    assert resize_progress(pod(status_resources=NEW), WANTED) == (DONE, "")


def test_pending_until_the_kubelet_reports_it():
    state, reason = resize_progress(pod(), WANTED)
    assert state == PENDING and "kubelet reports requests.cpu 50m (spec 100m)" in reason


def test_generation_gate():
    state, reason = resize_progress(pod(status_resources=NEW, observed=1), WANTED, generation=2)
    assert state == PENDING and "observedGeneration 1 < 2" in reason


def test_spec_not_resized_yet():
    state, reason = resize_progress(pod(spec_resources=OLD, status_resources=OLD), WANTED)
    assert state == PENDING and "spec has requests" in reason


def test_infeasible_fails_at_once_with_the_kubelets_message():
    cond = {"type": "PodResizePending", "status": "True", "reason": "Infeasible",
            "message": "Node didn't have enough capacity: cpu, requested: 4000, capacity: 1000"}
    state, reason = resize_progress(pod(conditions=[cond]), WANTED)
    assert state == FAILED
    assert reason == "resize infeasible on node node-1: Node didn't have enough capacity: cpu, requested: 4000, " \
                     "capacity: 1000"


def test_deferred_keeps_waiting_and_says_so():
    cond = {"type": "PodResizePending", "status": "True", "reason": "Deferred", "message": "Node didn't have enough "
            "resource: cpu, requested: 600, used: 500, capacity: 1000"}
    state, reason = resize_progress(pod(conditions=[cond]), WANTED)
    assert state == PENDING and reason.startswith("resize deferred by the kubelet: Node didn't have enough")


def test_in_progress_condition_keeps_it_pending_and_names_an_error():
    cond = {"type": "PodResizeInProgress", "status": "True"}
    assert resize_progress(pod(status_resources=NEW, conditions=[cond]), WANTED) == (PENDING, "resize in progress")
    cond = {"type": "PodResizeInProgress", "status": "True", "reason": "Error", "message": "cgroup write failed"}
    state, reason = resize_progress(pod(conditions=[cond]), WANTED)
    assert state == PENDING and "resize in progress (Error: cgroup write failed)" in reason


def test_cpu_request_compared_as_shares():
    # 1m is below the kernel's minimum of 2 shares: the runtime has 2 shares, which the kubelet reports as 2m.
    assert reported_equal("requests", "cpu", "2m", "1m")
    assert not reported_equal("requests", "cpu", "332m", "333m")  # 339 and 340 shares
    assert not reported_equal("limits", "cpu", "2m", "1m")
    assert reported_equal("limits", "memory", "268435456", "256Mi")
    assert not reported_equal("limits", "memory", None, "256Mi")


def test_restart_container_policy_waits_for_a_new_container():
    before = pod(status_resources=OLD)
    baseline = baseline_of(before, ["app"])
    state, reason = resize_progress(pod(status_resources=NEW), WANTED, ["app"], baseline)
    assert state == PENDING and "has not restarted it for the resize" in reason
    assert resize_progress(pod(status_resources=NEW, container_id="c2", restarts=1), WANTED, ["app"], baseline) \
        == (DONE, "")
    state, reason = resize_progress(pod(status_resources=NEW, container_id="c2", restarts=1, ready=False), WANTED,
                                    ["app"], baseline)
    assert state == PENDING and "not ready" in reason


def test_combined():
    assert combined((DONE, ""), (DONE, "")) == (DONE, "")
    assert combined((PENDING, "pod not Ready"), (FAILED, "infeasible")) == (FAILED, "infeasible")
    assert combined((PENDING, "a"), (PENDING, "b")) == (PENDING, "a; b")
    assert combined((DONE, ""), (PENDING, "b")) == (PENDING, "b")


def test_resize_support():
    served = {"resources": [{"name": "pods"}, {"name": "pods/resize"}]}
    assert resize_support({"gitVersion": "v1.37.2"}, served) == ""
    why = resize_support({"gitVersion": "v1.32.13"}, {"resources": [{"name": "pods"}, {"name": "pods/status"}]})
    assert "Kubernetes v1.32.13" in why and "pods/resize" in why and "1.33" in why


class FakeKube(object):
    def __init__(self, api):
        self.api = api
        self.paths = []

    def get(self, path, query=None, deadline=None):
        self.paths.append(path)
        return {"/version": {"gitVersion": "v1.32.13"}, "/api/v1": self.api}[path]


def test_check_support_refuses_a_cluster_without_the_subresource():
    kube = FakeKube({"resources": [{"name": "pods"}]})
    with pytest.raises(InplaceError, match="resources: nothing changed: the API server"):
        check_support(kube, WANTED)
    assert kube.paths == ["/version", "/api/v1"]
    check_support(kube, {})  # nothing asked without resources
    assert kube.paths == ["/version", "/api/v1"]
