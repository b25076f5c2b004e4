# -*- coding: utf-8 -*-
# Copyright: inplace.kubernetes contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Keeping the owner's template in step with pods upgraded in place, without recreating any.

Each recipe first records what it is about to change in an annotation on the owner, in the same
write that takes the controller's hands off (pause / partition / OnDelete). If the run dies
halfway, the next run finds the annotation and finishes the job from it.

The hands go back (unpause, strategy restored) only after the controller's own proof that its
informer cache sees the patched objects (:func:`hold_proof`); without that proof the hold stays on
with the sync recorded, the run fails with :class:`SyncHeld`, and a re-run finishes the sync.
The deployment controller copies the Deployment's annotations onto its ReplicaSet and ``rollout
undo`` copies them back, so the record is removed from every ReplicaSet once the controller has
observed its removal from the Deployment, and a resume checks it against the pods first
(:func:`stale_reason`): a record the pods do not run is dropped, never resumed.

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

from ansible_collections.inplace.kubernetes.plugins.module_utils._inplace.deps import jsonpatch
from ansible_collections.inplace.kubernetes.plugins.module_utils._inplace.api_paths import api_path
from ansible_collections.inplace.kubernetes.plugins.module_utils._inplace.discovery import (
    list_items,
    owned_by,
    selector_string,
    template_matches,
)
from ansible_collections.inplace.kubernetes.plugins.module_utils._inplace.errors import ApiError, InplaceError, WatchExpired
from ansible_collections.inplace.kubernetes.plugins.module_utils._inplace.patch import image_changes, image_patch
from ansible_collections.inplace.kubernetes.plugins.module_utils._inplace.resources import resize_patch, resource_changes
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
                           "pause/update strategy by hand" % (SYNC_ANNOTATION, owner["metadata"]["name"])) from None
    if not isinstance(state, dict) or not isinstance(state.get("target"), dict):
        raise InplaceError("annotation %s on %s has no target images" % (SYNC_ANNOTATION, owner["metadata"]["name"]))
    return state


def template_needs_sync(workload, targets, resources=None):
    """True when the owner's template (or a pending sync) still has to be brought to ``targets`` (and ``resources``)."""
    if not workload.owner:
        return False
    if pending_sync(workload.owner):
        return True
    return bool(image_changes(workload.template_spec, targets) or resource_changes(workload.template_spec, resources))


class SyncHeld(InplaceError):
    """The controller never proved it sees the synced templates: its hold is left on, the sync recorded."""


def _status_int(obj, field):
    return int((obj.get("status") or {}).get(field) or 0)


def hold_proof(kind, owner, generation, replicaset=None, original_on_delete=False, mid_rollout=False):
    """``None`` once ``owner``'s controller has proven it sees the synced objects, else what is missing.

    Deployment (paused): ``observedGeneration >= generation`` and ``updatedReplicas`` (the pods of the
    ReplicaSet the controller finds for the new template, ``FindNewReplicaSet``) equal to
    ``spec.replicas`` and to ``replicaset``'s ``spec.replicas`` (only the latter ``mid_rollout``, when other
    ReplicaSets still hold pods: ``allow_mid_rollout``). StatefulSet: ``updatedReplicas ==
    replicas`` and ``currentRevision == updateRevision`` (``completeUpdate``; with an OnDelete strategy
    of its own 1.32 never completes, so there only ``updatedReplicas``). DaemonSet:
    ``updatedNumberScheduled == desiredNumberScheduled`` and ``numberMisscheduled == 0``.
    """
    status = owner.get("status") or {}
    observed = int(status.get("observedGeneration") or 0)
    if observed < generation:
        return "observedGeneration %d < %d" % (observed, generation)
    spec = owner.get("spec") or {}
    if kind == "Deployment":
        wanted = int(spec.get("replicas", 1) if spec.get("replicas") is not None else 1)
        updated = _status_int(owner, "updatedReplicas")
        rs_replicas = int(((replicaset or {}).get("spec") or {}).get("replicas") or 0)
        if updated != rs_replicas or (not mid_rollout and updated != wanted):
            return "updatedReplicas %d, spec.replicas %d, ReplicaSet %s replicas %d" % (
                updated, wanted, ((replicaset or {}).get("metadata") or {}).get("name", "?"), rs_replicas)
        return None
    if kind == "StatefulSet":
        wanted = int(spec.get("replicas", 1) if spec.get("replicas") is not None else 1)
        updated = _status_int(owner, "updatedReplicas")
        if updated != wanted:
            return "updatedReplicas %d of %d" % (updated, wanted)
        if not original_on_delete and status.get("currentRevision") != status.get("updateRevision"):
            return "currentRevision %s != updateRevision %s" % (status.get("currentRevision"), status.get("updateRevision"))
        return None
    updated, desired = _status_int(owner, "updatedNumberScheduled"), _status_int(owner, "desiredNumberScheduled")
    if updated != desired:
        return "updatedNumberScheduled %d of %d" % (updated, desired)
    misscheduled = _status_int(owner, "numberMisscheduled")
    if misscheduled:
        # Pods on nodes the controller thinks should not run them (e.g. tainted unreachable for a moment after a
        # controller-manager stall) are in no count, so "all updated" would hold even at 0 of 0 and prove nothing.
        return "numberMisscheduled %d (pods on nodes the controller does not count, e.g. tainted not-ready)" % (
            misscheduled)
    return None


def stale_reason(state, pods):
    """Why a recorded sync does not describe these pods (they do not run its target), or ``None``."""
    off = []
    for pod in pods:
        if pod.get("metadata", {}).get("deletionTimestamp"):
            continue
        spec = pod.get("spec", {})
        if image_changes(spec, state["target"]) or resource_changes(spec, state.get("resources")):
            off.append(pod["metadata"]["name"])
    if off:
        return "pods %s do not run its target %s" % (", ".join(sorted(off)[:10]), ", ".join(
            "%s=%s" % item for item in sorted(state["target"].items())))
    return None


def target_template(template, targets, resources=None):
    """``template`` with ``targets`` (and ``resources``) applied (what the Deployment's template becomes)."""
    template = json.loads(json.dumps(template or {}))
    patch, changes = image_patch(template.get("spec") or {}, targets, prefix="")
    if changes:
        template["spec"] = patch.apply(template.get("spec") or {})
    ops, changes = resize_patch(template.get("spec") or {}, resources, prefix="")
    if changes:
        template["spec"] = jsonpatch.JsonPatch(ops).apply(template.get("spec") or {})
    return template


def older_matches(target, replicasets, current_name, pod_counts):
    """Other ReplicaSets already holding ``target``: ``(deletable, blocking)``.

    ``FindNewReplicaSet`` takes the oldest ReplicaSet matching the Deployment's template, so after the
    unpause the controller would scale such a one up and the current one down (every pod recreated).
    One with 0 replicas (spec and status) and no pods can be deleted first; any other blocks the sync.
    """
    deletable, blocking = [], []
    for rs in replicasets:
        name = rs["metadata"]["name"]
        if name == current_name or not template_matches(rs.get("spec", {}).get("template"), target):
            continue
        if int(rs.get("spec", {}).get("replicas") or 0) == 0 and _status_int(rs, "replicas") == 0 \
                and not pod_counts.get(name):
            deletable.append(rs)
        else:
            blocking.append(rs)
    return deletable, blocking


class TemplateSync(object):
    """Runs one recipe; ``steps`` records what was done (every write among it), ``wrote`` whether it wrote."""

    def __init__(self, kube, workload, targets, deadline, resources=None):
        self.kube = kube
        self.workload = workload
        self.kind = workload.kind
        self.namespace = workload.namespace
        self.name = workload.name
        self.targets = targets
        self.resources = resources or {}  # CPU/memory per container, resized in place (resize.py)
        self.deadline = deadline
        self.steps = []
        self.path = api_path(self.kind, self.namespace, self.name)
        self._restored = None
        self._last_written = None
        self.replicaset = None
        self.wrote = False

    def _writer(self):
        """The client, for a write: from here on a failure has changed something (``wrote``)."""
        self.wrote = True
        return self.kube

    def run(self):
        owner = self.workload.owner
        state = pending_sync(owner)
        if state:
            stale = stale_reason(state, self.workload.pods)
            if stale:
                return self._drop_stale(owner, stale)
            self.steps.append("resumed an interrupted template sync")
            self._reapply_hold(owner, state)
            self.targets = dict(state["target"], **self.targets) if self.targets else state["target"]
            self.resources = dict(state.get("resources") or {}, **self.resources)
        else:
            if self.kind == "Deployment":
                self._clear_older_matches(owner)
            state = self._take_over(owner)
        try:
            if self.kind == "Deployment":
                self._deployment()
            elif self.kind == "StatefulSet":
                self._statefulset()
            else:
                self._daemonset()
        except SyncHeld:
            raise
        except InplaceError as exc:
            raise SyncHeld("%s. Template sync of %s %s/%s not finished: left %s with the sync recorded in annotation %s; "
                           "a re-run checks the record against the pods and finishes it. Written so far: %s" % (
                               exc.msg, self.kind, self.namespace, self.name,
                               "paused" if self.kind == "Deployment" else "with its update strategy held",
                               SYNC_ANNOTATION, "; ".join(self.steps)), template_sync_steps=list(self.steps)) from exc
        self._barrier(state)
        self._restore(state)
        if self.kind == "Deployment":
            self._verify_deployment()
            self._clean_replicasets()
        return self.steps

    def _drop_stale(self, owner, stale):
        """A record the pods do not run (copied back by ``rollout undo``, or overtaken): remove it, resume nothing.

        With the hold still on, the record may be a real interrupted sync the pods have moved away from:
        refused, nothing changed, rather than guessing which template the controller should get.
        """
        if self._held(owner.get("spec", {}), pending_sync(owner)):
            what = "paused" if self.kind == "Deployment" else "held (update strategy)"
            raise InplaceError("annotation %s on %s %s/%s (%s) records a template sync, but %s; not resumed and "
                               "nothing changed: check the owner, then remove the annotation and restore its %s "
                               "(recorded in the annotation)" % (
                                   SYNC_ANNOTATION, self.kind, self.namespace, self.name, what, stale,
                                   "spec.paused" if self.kind == "Deployment" else "updateStrategy"))
        ops = [{"op": "test", "path": "/metadata/uid", "value": owner["metadata"]["uid"]},
               {"op": "remove", "path": "/metadata/annotations/" + _escape(SYNC_ANNOTATION)}]
        self._writer().json_patch(self.path, ops, deadline=self.deadline)
        self.steps.append("dropped a stale template-sync record (%s); nothing resumed" % stale)
        if self.kind == "Deployment":
            self._clean_replicasets()
        return self.steps

    def _reapply_hold(self, owner, state):
        """A resume takes the controller's hands off again before it touches a template."""
        spec = owner.get("spec", {})
        if self._held(spec, state):
            return
        if self.kind == "Deployment":
            self._last_written = self._writer().merge_patch(self.path, {"spec": {"paused": True}}, deadline=self.deadline)
            self.steps.append("re-applied the pause of Deployment %s" % self.name)
            return
        self._last_written = self._writer().merge_patch(self.path, {"spec": {"updateStrategy": self._hold(spec)}},
                                                        deadline=self.deadline)
        self.steps.append("re-applied the update strategy hold")

    def _held(self, spec, state):
        """Whether the controller's hands are off (for a StatefulSet/DaemonSet on OnDelete of its own, always)."""
        if self.kind == "Deployment":
            return bool(spec.get("paused"))
        if ((state or {}).get("updateStrategy") or {}).get("type") == "OnDelete":
            return True
        strategy = spec.get("updateStrategy") or {}
        if strategy.get("type") == "OnDelete":
            return True
        if self.kind == "StatefulSet":
            partition = int((strategy.get("rollingUpdate") or {}).get("partition") or 0)
            return partition >= int(spec.get("replicas", 1))
        return False

    def _hold(self, spec):
        if self.kind == "StatefulSet":
            return {"type": "RollingUpdate", "rollingUpdate": {"partition": int(spec.get("replicas", 1))}}
        return {"type": "OnDelete", "rollingUpdate": None}

    def _owned_replicasets(self, deployment):
        uid = deployment["metadata"]["uid"]
        return [rs for rs in list_items(self.kube, "ReplicaSet", self.namespace, _owner_selector(deployment))
                if owned_by(rs, set([uid]))]

    def _clear_older_matches(self, owner):
        """Before any write: an older ReplicaSet holding the target template is deleted if empty, else refused."""
        replicasets = self._owned_replicasets(owner)
        current = _replicaset_for(owner, replicasets, self.workload)
        if current is None:
            return  # _deployment() refuses, before any template is touched
        target = target_template(owner.get("spec", {}).get("template"), self.targets, self.resources)
        counts = {}
        for pod in list_items(self.kube, "Pod", self.namespace, _owner_selector(owner)):
            for ref in pod["metadata"].get("ownerReferences") or []:
                if ref.get("kind") == "ReplicaSet":
                    counts[ref.get("name")] = counts.get(ref.get("name"), 0) + 1
        deletable, blocking = older_matches(target, replicasets, current["metadata"]["name"], counts)
        if blocking:
            raise InplaceError(
                "template sync of Deployment %s/%s refused before any template write: ReplicaSet %s already holds "
                "the target template and has replicas or pods; the deployment controller would make it current "
                "and recreate the pods of %s. Pods upgraded in place keep running; scale %s to 0 (or delete it) "
                "and re-run" % (self.namespace, self.name, ", ".join(r["metadata"]["name"] for r in blocking),
                                current["metadata"]["name"], blocking[0]["metadata"]["name"]))
        for rs in deletable:
            name = rs["metadata"]["name"]
            self._writer().request("DELETE", api_path("ReplicaSet", self.namespace, name), body={
                "apiVersion": "v1", "kind": "DeleteOptions", "propagationPolicy": "Background",
                "preconditions": {"uid": rs["metadata"]["uid"], "resourceVersion": rs["metadata"]["resourceVersion"]}},
                deadline=self.deadline)
            self.steps.append("deleted ReplicaSet %s (revision %s, 0 replicas, 0 pods): it already held the target "
                              "template, and the controller would have made it current and recreated every pod; "
                              "that revision leaves the rollout history" % (
                                  name, (rs["metadata"].get("annotations") or {}).get(
                                      "deployment.kubernetes.io/revision", "?")))

    def _barrier(self, state):
        """Wait, hold still on, for the controller's proof (:func:`hold_proof`); :class:`SyncHeld` without it."""
        written = self._last_written or self.kube.get(self.path, deadline=self.deadline)
        generation = written.get("metadata", {}).get("generation", 0)
        original_on_delete = (state.get("updateStrategy") or {}).get("type") == "OnDelete"
        if self.kind == "Deployment":
            rs_path = api_path("ReplicaSet", self.namespace, self.replicaset)

            mid_rollout = len(self.workload.pod_replicasets()) > 1

            def check(obj):
                return hold_proof(self.kind, obj, generation, self.kube.get(rs_path, deadline=self.deadline),
                                  mid_rollout=mid_rollout)
        else:
            def check(obj):
                return hold_proof(self.kind, obj, generation, original_on_delete=original_on_delete)
        missing = _await(self.kube, self.kind, self.namespace, self.name, check, self.deadline, written)
        if missing:
            hold = "paused" if self.kind == "Deployment" else "with its update strategy held"
            raise SyncHeld(
                "template sync of %s %s/%s not finished: the controller has not proven that it sees the synced "
                "objects (%s), and giving it its hands back without that proof could recreate pods. Left %s, with "
                "the sync recorded in annotation %s; no pod was recreated. A re-run (once the controller-manager "
                "answers) checks the record against the pods, waits for that proof and then restores the %s. "
                "Written so far: %s" % (self.kind, self.namespace, self.name, missing, hold, SYNC_ANNOTATION,
                                        "pause" if self.kind == "Deployment" else "update strategy",
                                        "; ".join(self.steps) or "nothing"),
                template_sync_steps=list(self.steps))
        self.steps.append("the controller proved it sees the synced objects (%s)" % (
            "updatedReplicas == replicas at the synced generation" if self.kind == "Deployment" else
            "all pods updated at the synced generation"))

    def _clean_replicasets(self):
        """Remove the sync record the controller copied onto ReplicaSets (``rollout undo`` would copy it back)."""
        deployment = self.kube.get(self.path, deadline=self.deadline)
        for rs in self._owned_replicasets(deployment):
            if SYNC_ANNOTATION in (rs["metadata"].get("annotations") or {}):
                self._writer().json_patch(api_path("ReplicaSet", self.namespace, rs["metadata"]["name"]), [
                    {"op": "remove", "path": "/metadata/annotations/" + _escape(SYNC_ANNOTATION)}],
                    deadline=self.deadline)
                self.steps.append("removed the sync record the controller copied onto ReplicaSet %s"
                                  % rs["metadata"]["name"])

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
        if self.resources:
            state["resources"] = self.resources
        patch = {"metadata": {"annotations": {}}}
        if self.kind == "Deployment":
            state["paused"] = bool(spec.get("paused"))
            patch["spec"] = {"paused": True}
        else:
            strategy = spec.get("updateStrategy") or {"type": "RollingUpdate"}
            state["updateStrategy"] = strategy
            if strategy.get("type") != "OnDelete":
                patch["spec"] = {"updateStrategy": self._hold(spec)}
        patch["metadata"]["annotations"][SYNC_ANNOTATION] = json.dumps(state, sort_keys=True)
        self._last_written = self._writer().merge_patch(self.path, patch, deadline=self.deadline)
        self.steps.append("paused %s" % self.kind if self.kind == "Deployment" else "held the update strategy")
        return state

    def _restore(self, state):
        if self.kind == "Deployment":
            patch = {"metadata": {"annotations": {SYNC_ANNOTATION: None}}, "spec": {"paused": bool(state.get("paused"))}}
            self._restored = self._writer().merge_patch(self.path, patch, deadline=self.deadline)
            self.steps.append("restored spec.paused=%s" % bool(state.get("paused")))
            return
        ops = [{"op": "remove", "path": "/metadata/annotations/" + _escape(SYNC_ANNOTATION)},
               {"op": "replace", "path": "/spec/updateStrategy", "value": state["updateStrategy"]}]
        self._writer().json_patch(self.path, ops, deadline=self.deadline)
        self.steps.append("restored the update strategy")

    # -- recipes ----------------------------------------------------------------------------

    def _patch_template(self, path, obj, what):
        spec = obj.get("spec", {}).get("template", {}).get("spec", {})
        patch, changes = image_patch(spec, self.targets, prefix="/spec/template/spec")
        ops, resized = resize_patch(spec, self.resources, prefix="/spec/template/spec")
        if changes or resized:
            result = self._writer().json_patch(path, list(patch.patch) + ops, deadline=self.deadline)
            self.steps.append("patched the template of %s" % what)
            if path == self.path:
                self._last_written = result
            return result
        return obj

    def _deployment(self):
        deployment = self.kube.get(self.path)
        replicasets = self._owned_replicasets(deployment)
        current = _replicaset_for(deployment, replicasets, self.workload)
        if current is None:
            raise InplaceError("cannot tell which ReplicaSet of Deployment %s/%s is current; template not synced"
                               % (self.namespace, self.name))
        rs_name = current["metadata"]["name"]
        self._patch_template(api_path("ReplicaSet", self.namespace, rs_name), current, "ReplicaSet " + rs_name)
        self.replicaset = rs_name
        written = self._patch_template(self.path, deployment, "Deployment " + self.name)
        if self._last_written is None or written.get("metadata", {}).get("generation", 0) > \
                self._last_written.get("metadata", {}).get("generation", 0):
            self._last_written = written

    def _wait_observed(self, written):
        """The owner once its controller has observed the generation of ``written`` (the owner as last written)."""
        return wait_for_generation(self.kube, self.kind, self.namespace, self.name,
                                   written.get("metadata", {}).get("generation", 0), self.deadline, written)

    def _label_pods(self, revision):
        pods = [p for p in list_items(self.kube, "Pod", self.namespace, _owner_selector(self.workload.owner))
                if owned_by(p, set([self.workload.owner["metadata"]["uid"]])) and not p["metadata"].get("deletionTimestamp")]
        stale = []
        for pod in pods:
            if image_changes(pod.get("spec", {}), self.targets) or resource_changes(pod.get("spec", {}), self.resources):
                stale.append(pod["metadata"]["name"])
                continue
            if (pod["metadata"].get("labels") or {}).get(REVISION_LABEL) != revision:
                self._writer().merge_patch(api_path("Pod", self.namespace, pod["metadata"]["name"]),
                                           {"metadata": {"labels": {REVISION_LABEL: revision}}}, deadline=self.deadline)
        if stale:
            self.steps.append("left pods not on the target images unlabelled: %s" % ", ".join(stale))
        self.steps.append("labelled %d pods %s=%s" % (len(pods) - len(stale), REVISION_LABEL, revision))

    def _statefulset(self):
        owner = self.kube.get(self.path)
        result = self._patch_template(self.path, owner, "StatefulSet " + self.name)
        self._last_written = result
        owner = self._wait_observed(result)
        revision = owner.get("status", {}).get("updateRevision")
        if not revision:
            raise InplaceError("StatefulSet %s/%s reports no updateRevision" % (self.namespace, self.name))
        self._label_pods(revision)

    def _daemonset(self):
        owner = self.kube.get(self.path)
        result = self._patch_template(self.path, owner, "DaemonSet " + self.name)
        self._last_written = result
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


def _await(kube, kind, namespace, name, check, deadline, current):
    """Watch the object until ``check(obj)`` is ``None``; what is still missing when ``deadline`` passes."""
    obj = current
    missing = check(obj)
    while missing:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return missing
        query = {"fieldSelector": "metadata.name=" + name,
                 "resourceVersion": obj.get("metadata", {}).get("resourceVersion", "")}
        try:
            for kind_seen, seen in kube.watch(api_path(kind, namespace), query, max(1, min(remaining, 20))):
                if kind_seen == "DELETED":
                    raise InplaceError("%s %s/%s was deleted during its template sync" % (kind, namespace, name))
                if kind_seen in ("ADDED", "MODIFIED"):
                    obj = seen
                    missing = check(obj)
                    if not missing:
                        return None
        except WatchExpired:
            pass
        except ApiError as exc:
            if exc.status and exc.status < 500:
                raise
            # A broken watch (API server restarting): the re-read below retries until the deadline.
        # The Deployment proof also reads the ReplicaSet, which this watch does not follow: re-read both.
        obj = kube.get(api_path(kind, namespace, name), deadline=deadline)
        missing = check(obj)
    return None


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
