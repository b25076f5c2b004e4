# -*- coding: utf-8 -*-
# Copyright: inplace.kubernetes contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""rollout.py against a fake API that answers as the real kubelet would (selector mode, no owner):
spec-only init containers refused or accepted, a bad image failing fast and rolled back truthfully."""

from __future__ import annotations

import copy

import pytest

from ansible_collections.inplace.kubernetes.plugins.module_utils._inplace.errors import InplaceError
from ansible_collections.inplace.kubernetes.plugins.module_utils._inplace.rollout import Rollout

OLD_ID = "docker.io/library/nginx@sha256:" + "1" * 64


def live_pod(init=False):
    spec = {"containers": [{"name": "web", "image": "nginx:1.19"}]}
    statuses = {"containerStatuses": [{"name": "web", "image": "docker.io/library/nginx:1.19", "imageID": OLD_ID,
                                       "containerID": "containerd://a", "restartCount": 0, "ready": True,
                                       "started": True, "state": {"running": {"startedAt": "2024-01-01T00:00:00Z"}}}]}
    if init:
        spec["initContainers"] = [{"name": "setup", "image": "busybox:1"}]
        statuses["initContainerStatuses"] = [{"name": "setup", "image": "docker.io/library/busybox:1", "ready": True,
                                              "containerID": "containerd://s", "restartCount": 0,
                                              "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}}]
    status = {"phase": "Running", "conditions": [{"type": "Initialized", "status": "True"},
                                                 {"type": "Ready", "status": "True"}]}
    status.update(statuses)
    return {"metadata": {"name": "web-0", "uid": "uid-0", "namespace": "ns", "resourceVersion": "1", "generation": 1,
                         "labels": {"app": "web"}},
            "spec": spec, "status": status}


class Kubelet(object):
    """Stores one pod; a patch changes its spec; each watch call plays ``react(pod)`` once."""

    dry_run = False

    def __init__(self, pod, reactions=()):
        self.pod = pod
        self.reactions = list(reactions)
        self.patches = []
        self.requests = 0

    def get(self, path, query=None, deadline=None):
        self.requests += 1
        return {"metadata": {"resourceVersion": "10"}, "items": [copy.deepcopy(self.pod)]}

    def json_patch(self, path, patch, deadline=None):
        self.requests += 1
        self.patches.append(patch.patch)
        self.pod = patch.apply(self.pod)
        self.pod["metadata"]["generation"] += 1
        return copy.deepcopy(self.pod)

    def watch(self, path, query, timeout_seconds):
        if self.reactions:
            self.reactions.pop(0)(self.pod)
            yield "MODIFIED", copy.deepcopy(self.pod)


def params(**extra):
    base = {"namespace": "ns", "label_selectors": ["app=web"], "kind": "Deployment", "wait": True, "wait_timeout": 300,
            "on_failure": "rollback", "events": False, "stop_when_orphaned": False, "sync_template": True}
    base.update(extra)
    return base


def test_completed_init_container_is_refused_before_any_write():
    kube = Kubelet(live_pod(init=True))
    with pytest.raises(InplaceError) as exc:
        Rollout(kube, params(containers={"setup": "busybox:2"})).run()
    assert exc.value.msg.startswith(
        "nothing patched: init container setup has completed: the kubelet never re-runs a completed init container on "
        "a live pod, so its new image takes effect only when the pod is recreated (pods web-0). Set allow_spec_only=true")
    assert kube.patches == []


def test_completed_init_container_accepted_as_spec_only():
    kube = Kubelet(live_pod(init=True))
    result = Rollout(kube, params(containers={"setup": "busybox:2"}, allow_spec_only=True)).run()
    assert result["changed"] is True and result["spec_only"] == ["web-0"]
    assert [p["state"] for p in result["pods"]] == ["spec_only"]
    assert result["pending"] == [] and result["failed_pods"] == []
    assert kube.pod["spec"]["initContainers"][0]["image"] == "busybox:2"


def pull_fails(pod):
    web = pod["status"]["containerStatuses"][0]
    web.update(ready=False, state={"waiting": {"reason": "ErrImagePull",
                                               "message": 'failed to pull and unpack image "docker.io/library/nginx:nope"'}},
               lastState={"terminated": {"exitCode": 0, "reason": "Completed", "containerID": "containerd://a"}})
    pod["status"]["conditions"][1]["status"] = "False"


def restarted_on_old_image(pod):
    web = pod["status"]["containerStatuses"][0]
    web.update(containerID="containerd://c", restartCount=1, ready=True,
               state={"running": {"startedAt": "2024-01-01T00:05:00Z"}})
    pod["status"]["conditions"][1]["status"] = "True"


def test_bad_image_fails_fast_and_the_rollback_is_reported_truthfully():
    kube = Kubelet(live_pod(), [pull_fails, restarted_on_old_image])
    with pytest.raises(InplaceError) as exc:
        Rollout(kube, params(containers={"web": "nginx:nope"})).run()
    assert exc.value.msg == (
        'batch 1/1 failed: web-0: container web: ErrImagePull: failed to pull and unpack image '
        '"docker.io/library/nginx:nope". on_failure=rollback: rolled back 1 of 1 pods in place (web-0)')
    assert kube.pod["spec"]["containers"][0]["image"] == "nginx:1.19"
    assert exc.value.details["rolled_back"] == ["web-0"] and exc.value.details["failed_pods"] == []


def test_mirror_pods_are_skipped():
    pod = live_pod()
    pod["metadata"]["annotations"] = {"kubernetes.io/config.mirror": "abc"}
    kube = Kubelet(pod)
    result = Rollout(kube, params(containers={"web": "nginx:1.20"})).run()
    assert result["changed"] is False and result["skipped"] == ["web-0"] and kube.patches == []
