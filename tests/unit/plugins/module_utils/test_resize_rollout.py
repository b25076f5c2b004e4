# -*- coding: utf-8 -*-
# Copyright: inplace.kubernetes contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The rollout with ``resources`` (resize.py hooked into planning, patching, batches, rollback) against the
recording fake API of conftest.py, with a "kubelet" that reports a resize done, or Infeasible."""

from __future__ import annotations

import copy

import pytest

from ansible_collections.inplace.kubernetes.plugins.module_utils._inplace import states
from ansible_collections.inplace.kubernetes.plugins.module_utils._inplace.deps import jsonpatch
from ansible_collections.inplace.kubernetes.plugins.module_utils._inplace.errors import InplaceError
from ansible_collections.inplace.kubernetes.plugins.module_utils._inplace.rollout import Rollout

SMALL = {"requests": {"cpu": "50m", "memory": "64Mi"}, "limits": {"cpu": "200m", "memory": "128Mi"}}
BIG = {"requests": {"cpu": "100m", "memory": "96Mi"}, "limits": {"cpu": "400m", "memory": "256Mi"}}


class ResizingKube(object):
    """The fake API with the ``resize`` subresource (unless ``served`` is false, as on 1.32) and a kubelet that
    reports a resize in ``status.containerStatuses[].resources`` by the next read, or, for a pod in
    ``infeasible``, sets ``PodResizePending`` reason ``Infeasible`` until the spec is back at what it runs
    (``handlePodResourcesResize`` clears the condition when desired equals allocated)."""

    def __init__(self, inner, served=True):
        self.inner = inner
        self.served = served
        self.infeasible = set()
        self._resizing = set()
        for pod in inner.pods.values():
            pod["spec"]["containers"][0]["resources"] = copy.deepcopy(SMALL)
            pod["status"]["containerStatuses"][0]["resources"] = copy.deepcopy(SMALL)

    @property
    def requests(self):
        return self.inner.requests

    def resized(self):
        return [path.split("/")[-2] for method, path in self.inner.calls if method == "PATCH" and path.endswith("/resize")]

    def _kubelet(self):
        """Act on the resizes; the names of the pods it changed."""
        changed = sorted(self._resizing)
        for name in changed:
            pod = self.inner.pods[name]
            conditions = [c for c in pod["status"]["conditions"] if c["type"] == "Ready"]
            spec = pod["spec"]["containers"][0]["resources"]
            if name in self.infeasible and spec != pod["status"]["containerStatuses"][0]["resources"]:
                conditions.append({"type": "PodResizePending", "status": "True", "reason": "Infeasible",
                                   "message": "Node didn't have enough capacity: cpu, requested: 4000, capacity: 1000"})
            else:
                pod["status"]["containerStatuses"][0]["resources"] = copy.deepcopy(spec)
            pod["status"]["conditions"] = conditions
        self._resizing.clear()
        return changed

    def get(self, path, query=None, deadline=None):
        if path == "/version":
            self.inner._record("GET", path)
            return {"gitVersion": "v1.37.2" if self.served else "v1.32.13"}
        if path == "/api/v1":
            self.inner._record("GET", path)
            return {"resources": [{"name": "pods"}, {"name": "pods/status"}] + (
                [{"name": "pods/resize"}] if self.served else [])}
        self._kubelet()
        return self.inner.get(path, query, deadline)

    def json_patch(self, path, patch, deadline=None):
        if not path.endswith("/resize"):
            return self.inner.json_patch(path, patch, deadline)
        self.inner._record("PATCH", path)
        name = path.split("/")[-2]
        result = jsonpatch.JsonPatch(list(patch)).apply(self.inner.pods[name])
        result["metadata"]["generation"] += 1
        self.inner.pods[name] = result
        self._resizing.add(name)
        return copy.deepcopy(result)

    def merge_patch(self, path, patch, deadline=None):
        return self.inner.merge_patch(path, patch, deadline)

    def post(self, path, body, deadline=None):
        return self.inner.post(path, body, deadline)

    def watch(self, path, query, timeout_seconds):
        """The inner watch; of pods, also the pods this kubelet changes now."""
        resized = self._kubelet() if path.endswith("/pods") else []
        events = [e for e in self.inner.watch(path, query, timeout_seconds) if e[1]["metadata"]["name"] not in resized]
        return iter(events + [("MODIFIED", copy.deepcopy(self.inner.pods[n])) for n in resized])


def params(**extra):
    base = {"namespace": "ns", "label_selectors": ["app=web"], "resources": {"app": BIG}, "wait": True,
            "wait_timeout": 5, "on_failure": "rollback", "events": False, "stop_when_orphaned": False,
            "sync_template": True}
    base.update(extra)
    return base


def spec_resources(kube):
    return dict((name, pod["spec"]["containers"][0]["resources"]) for name, pod in sorted(kube.inner.pods.items()))


def test_resources_alone_resize_every_pod_through_the_subresource_and_a_rerun_changes_nothing(fake_kube):
    kube = ResizingKube(fake_kube)
    result = Rollout(kube, params(batch_size=2)).run()
    assert result["changed"] is True and result["resources"] == {"app": BIG}
    assert kube.resized() == ["web-0", "web-1", "web-2"]
    assert fake_kube.patched() == ["resize"] * 3, "an image patch was sent"
    assert [b["pods"] for b in result["batches"]] == [["web-0", "web-1"], ["web-2"]]
    assert set(p["state"] for p in result["pods"]) == {states.UPGRADED}
    assert all(r == BIG for r in spec_resources(kube).values())
    again = Rollout(kube, params(batch_size=2)).run()
    assert again["changed"] is False and again["patched"] == []
    assert sorted(again["already_current"]) == ["web-0", "web-1", "web-2"]
    assert kube.resized() == ["web-0", "web-1", "web-2"]


def test_infeasible_fails_the_batch_at_once_and_rolls_the_resize_back(fake_kube):
    kube = ResizingKube(fake_kube)
    kube.infeasible.add("web-1")
    with pytest.raises(InplaceError) as err:
        Rollout(kube, params(batch_size=1, wait_timeout=300)).run()
    msg = err.value.msg
    assert "resize infeasible on node node-1: Node didn't have enough capacity" in msg, msg
    assert "rolled back 1 of 1 pods in place (web-1)" in msg, msg
    assert err.value.details["seconds"] < 60
    assert spec_resources(kube) == {"web-0": BIG, "web-1": SMALL, "web-2": SMALL}
    assert kube.resized() == ["web-0", "web-1", "web-1"]


def test_a_cluster_without_the_resize_subresource_is_refused_before_any_write(fake_kube):
    kube = ResizingKube(fake_kube, served=False)
    with pytest.raises(InplaceError) as err:
        Rollout(kube, params()).run()
    assert "does not serve the pods/resize subresource" in err.value.msg and "v1.32.13" in err.value.msg
    assert [m for m, p in fake_kube.calls if m != "GET"] == []


@pytest.mark.parametrize("on_failure, web1_after, web1_state", [("rollback", SMALL, states.ROLLED_BACK), ("stop", BIG, states.CONFLICT)])
def test_a_resize_that_landed_before_its_image_patch_was_refused_is_undone_with_the_batch(fake_kube, on_failure, web1_after,
                                                                                          web1_state):
    """Images and resources together: web-1 is resized, then someone else changes its image, so the guarded image
    patch is refused. The resize is this run's write and on_failure undoes it (stop leaves it, and says so); the
    other writer's image is not this run's to put back."""
    kube = ResizingKube(fake_kube)
    fake_kube.edit_before_patch["web-1"] = "registry.example.com/web:other"
    with pytest.raises(InplaceError) as err:
        Rollout(kube, params(batch_size=3, containers={"app": "registry.example.com/web:2"}, on_failure=on_failure)).run()
    msg = err.value.msg
    assert "changed concurrently" in msg and "its resize had landed" in msg, msg
    assert spec_resources(kube)["web-1"] == web1_after
    assert fake_kube.pods["web-1"]["spec"]["containers"][0]["image"] == "registry.example.com/web:other"
    entry = dict((p["name"], p) for p in err.value.details["pods"])["web-1"]
    assert entry["state"] == web1_state and "changed concurrently" in entry["reason"], entry
    assert ("web-1" in err.value.details["rolled_back"]) is (on_failure == "rollback")
