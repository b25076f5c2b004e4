# -*- coding: utf-8 -*-
# Copyright: inplace.kubernetes contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Keeping the owner's template in step with pods upgraded in place, without recreating any.

Each recipe first records what it is about to change in an annotation on the owner, in the same
write that takes the controller's hands off (pause / partition / OnDelete). If the run dies
halfway, the next run finds the annotation and finishes the job from it; nothing is left paused.

- Deployment: pause, patch the current ReplicaSet's template and then the Deployment's (the
  controller matches them ignoring ``pod-template-hash``), restore ``spec.paused``.
- StatefulSet: partition = replicas (unless OnDelete), patch the template, label every pod with
  the new ``status.updateRevision``, restore the update strategy.
- DaemonSet: OnDelete, patch the template, label every pod with the newest ControllerRevision's
  hash, restore the update strategy.
"""

from __future__ import annotations

import json
import time

from ansible_collections.inplace.kubernetes.plugins.module_utils._inplace.client import api_path
from ansible_collections.inplace.kubernetes.plugins.module_utils._inplace.discovery import (
    list_items,
    owned_by,
    selector_string,
    template_matches,
)
from ansible_collections.inplace.kubernetes.plugins.module_utils._inplace.errors import InplaceError
from ansible_collections.inplace.kubernetes.plugins.module_utils._inplace.patch import image_changes, image_patch
from ansible_collections.inplace.kubernetes.plugins.module_utils._inplace.watch import wait_for_generation

SYNC_ANNOTATION = "inplace.kubernetes.io/template-sync"
REVISION_LABEL = "controller-revision-hash"


def _escape(key):
    return key.replace("~", "~0").replace("/", "~1")


def pending_sync(owner):
    """The state a previous, interrupted template sync recorded on the owner, or ``None``."""
    raw = (owner.get("metadata", {}).get("annotations") or {}).get(SYNC_ANNOTATION)
    if not raw:
        return None
    try:
        state = json.loads(raw)
    except ValueError:
        raise InplaceError("annotation %s on %s is not valid JSON; remove it after checking the owner's "
                           "pause/update strategy by hand" % (SYNC_ANNOTATION, owner["metadata"]["name"]))
    if not isinstance(state, dict) or not isinstance(state.get("target"), dict):
        raise InplaceError("annotation %s on %s has no target images" % (SYNC_ANNOTATION, owner["metadata"]["name"]))
    return state


def template_needs_sync(workload, targets):
    """True when the owner's template (or a pending sync) still has to be brought to ``targets``."""
    if not workload.owner:
        return False
    if pending_sync(workload.owner):
        return True
    return bool(image_changes(workload.template_spec, targets))


class TemplateSync(object):
    """Runs one recipe; ``steps`` records what was done, for the report."""

    def __init__(self, kube, workload, targets, deadline):
        self.kube = kube
        self.workload = workload
        self.kind = workload.kind
        self.namespace = workload.namespace
        self.name = workload.name
        self.targets = targets
        self.deadline = deadline
        self.steps = []
        self.path = api_path(self.kind, self.namespace, self.name)
        self._restored = None

    def run(self):
        owner = self.workload.owner
        state = pending_sync(owner)
        if state:
            self.steps.append("resumed an interrupted template sync")
            self.targets = dict(state["target"], **self.targets) if self.targets else state["target"]
        else:
            state = self._take_over(owner)
        if self.kind == "Deployment":
            self._deployment()
        elif self.kind == "StatefulSet":
            self._statefulset()
        else:
            self._daemonset()
        self._restore(state)
        if self.kind == "Deployment":
            self._verify_deployment()
        return self.steps

    def _verify_deployment(self):
        """After the sync the controller must still pick the same ReplicaSet: no new one, no pod recreated."""
        deployment = self._wait_observed(self._restored)
        uid = deployment["metadata"]["uid"]
        replicasets = [rs for rs in list_items(self.kube, "ReplicaSet", self.namespace, _owner_selector(deployment))
                       if owned_by(rs, set([uid]))]
        current = [rs["metadata"]["name"] for rs in replicasets
                   if template_matches(rs.get("spec", {}).get("template"), deployment.get("spec", {}).get("template"))]
        if current != [self.replicaset]:
            raise InplaceError("after the template sync of Deployment %s/%s the controller's current ReplicaSet is %s, "
                               "not %s" % (self.namespace, self.name, ", ".join(current) or "none", self.replicaset))
        self.steps.append("verified: ReplicaSet %s is still current, no new ReplicaSet" % self.replicaset)

    # -- taking the controller's hands off, and giving them back -----------------------------

    def _take_over(self, owner):
        spec = owner.get("spec", {})
        state = {"target": self.targets, "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
        patch = {"metadata": {"annotations": {}}}
        if self.kind == "Deployment":
            state["paused"] = bool(spec.get("paused"))
            patch["spec"] = {"paused": True}
        else:
            strategy = spec.get("updateStrategy") or {"type": "RollingUpdate"}
            state["updateStrategy"] = strategy
            if strategy.get("type") != "OnDelete":
                if self.kind == "StatefulSet":
                    hold = {"type": "RollingUpdate", "rollingUpdate": {"partition": int(spec.get("replicas", 1))}}
                else:
                    hold = {"type": "OnDelete", "rollingUpdate": None}
                patch["spec"] = {"updateStrategy": hold}
        patch["metadata"]["annotations"][SYNC_ANNOTATION] = json.dumps(state, sort_keys=True)
        self.kube.merge_patch(self.path, patch, deadline=self.deadline)
        self.steps.append("paused %s" % self.kind if self.kind == "Deployment" else "held the update strategy")
        return state

    def _restore(self, state):
        if self.kind == "Deployment":
            patch = {"metadata": {"annotations": {SYNC_ANNOTATION: None}}, "spec": {"paused": bool(state.get("paused"))}}
            self._restored = self.kube.merge_patch(self.path, patch, deadline=self.deadline)
            self.steps.append("restored spec.paused=%s" % bool(state.get("paused")))
            return
        ops = [{"op": "remove", "path": "/metadata/annotations/" + _escape(SYNC_ANNOTATION)},
               {"op": "replace", "path": "/spec/updateStrategy", "value": state["updateStrategy"]}]
        self.kube.json_patch(self.path, ops, deadline=self.deadline)
        self.steps.append("restored the update strategy")

    # -- recipes ----------------------------------------------------------------------------

    def _patch_template(self, path, obj, what):
        spec = obj.get("spec", {}).get("template", {}).get("spec", {})
        patch, changes = image_patch(spec, self.targets, prefix="/spec/template/spec")
        if changes:
            result = self.kube.json_patch(path, patch, deadline=self.deadline)
            self.steps.append("patched the template of %s" % what)
            return result
        return obj

    def _deployment(self):
        deployment = self.kube.get(self.path)
        replicasets = [rs for rs in list_items(self.kube, "ReplicaSet", self.namespace, _owner_selector(deployment))
                       if owned_by(rs, set([deployment["metadata"]["uid"]]))]
        current = _replicaset_for(deployment, replicasets, self.workload)
        if current is None:
            raise InplaceError("cannot tell which ReplicaSet of Deployment %s/%s is current; template not synced"
                               % (self.namespace, self.name))
        rs_name = current["metadata"]["name"]
        self._patch_template(api_path("ReplicaSet", self.namespace, rs_name), current, "ReplicaSet " + rs_name)
        self._patch_template(self.path, deployment, "Deployment " + self.name)
        self.replicaset = rs_name

    def _wait_observed(self, written):
        """The owner once its controller has observed the generation of ``written`` (the owner as last written)."""
        return wait_for_generation(self.kube, self.kind, self.namespace, self.name,
                                   written.get("metadata", {}).get("generation", 0), self.deadline, written)

    def _label_pods(self, revision):
        pods = [p for p in list_items(self.kube, "Pod", self.namespace, _owner_selector(self.workload.owner))
                if owned_by(p, set([self.workload.owner["metadata"]["uid"]])) and not p["metadata"].get("deletionTimestamp")]
        stale = []
        for pod in pods:
            if image_changes(pod.get("spec", {}), self.targets):
                stale.append(pod["metadata"]["name"])
                continue
            if (pod["metadata"].get("labels") or {}).get(REVISION_LABEL) != revision:
                self.kube.merge_patch(api_path("Pod", self.namespace, pod["metadata"]["name"]),
                                      {"metadata": {"labels": {REVISION_LABEL: revision}}}, deadline=self.deadline)
        if stale:
            self.steps.append("left pods not on the target images unlabelled: %s" % ", ".join(stale))
        self.steps.append("labelled %d pods %s=%s" % (len(pods) - len(stale), REVISION_LABEL, revision))

    def _statefulset(self):
        owner = self.kube.get(self.path)
        result = self._patch_template(self.path, owner, "StatefulSet " + self.name)
        owner = self._wait_observed(result)
        revision = owner.get("status", {}).get("updateRevision")
        if not revision:
            raise InplaceError("StatefulSet %s/%s reports no updateRevision" % (self.namespace, self.name))
        self._label_pods(revision)

    def _daemonset(self):
        owner = self.kube.get(self.path)
        result = self._patch_template(self.path, owner, "DaemonSet " + self.name)
        owner = self._wait_observed(result)
        uid = owner["metadata"]["uid"]
        revisions = [r for r in list_items(self.kube, "ControllerRevision", self.namespace, _owner_selector(owner))
                     if owned_by(r, set([uid]))]
        if not revisions:
            raise InplaceError("DaemonSet %s/%s has no ControllerRevision yet" % (self.namespace, self.name))
        newest = max(revisions, key=lambda r: r.get("revision", 0))
        revision = (newest["metadata"].get("labels") or {}).get(REVISION_LABEL)
        if not revision:
            raise InplaceError("ControllerRevision %s has no %s label" % (newest["metadata"]["name"], REVISION_LABEL))
        self._label_pods(revision)


def _owner_selector(owner):
    return selector_string(owner.get("spec", {}).get("selector"))


def _replicaset_for(deployment, replicasets, workload):
    """The ReplicaSet holding the Deployment's pods, or matching its template (a resumed sync)."""
    groups = workload.pod_replicasets()
    if len(groups) == 1:
        name = list(groups)[0]
        for rs in replicasets:
            if rs["metadata"]["name"] == name:
                return rs
    template = deployment.get("spec", {}).get("template")
    for rs in replicasets:
        if template_matches(rs.get("spec", {}).get("template"), template):
            return rs
    return None
