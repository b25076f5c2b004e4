# -*- coding: utf-8 -*-
# Copyright: inplace.kubernetes contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The Deployment's template sync: pause, patch the current ReplicaSet's template and then the
Deployment's (the controller matches them ignoring ``pod-template-hash``), restore ``spec.paused``.

Before the pause an older ReplicaSet already holding the target template is deleted when empty, else
the sync is refused (:func:`older_matches`); after the restore the controller must still pick the same
ReplicaSet, and the sync record it copied onto ReplicaSets is removed (``rollout undo`` copies it back).
A :class:`Recipe` (sync_recipe.py), run by :class:`TemplateSync` (template_sync.py).
"""

from __future__ import annotations

from ansible_collections.inplace.kubernetes.plugins.module_utils._inplace.api_paths import api_path
from ansible_collections.inplace.kubernetes.plugins.module_utils._inplace.discovery import (
    list_items,
    owned_by,
    owner_selector,
    template_matches,
)
from ansible_collections.inplace.kubernetes.plugins.module_utils._inplace.errors import InplaceError
from ansible_collections.inplace.kubernetes.plugins.module_utils._inplace.sync_recipe import HoldWords, Recipe
from ansible_collections.inplace.kubernetes.plugins.module_utils._inplace.wait import observed
from ansible_collections.inplace.kubernetes.plugins.module_utils._inplace.sync_proofs import (
    RECORD_PATH,
    SYNC_ANNOTATION,
    hold_proof,
    older_matches,
    target_template,
)


class DeploymentRecipe(Recipe):
    """The Deployment's hold (``spec.paused``) and its ReplicaSets."""

    WORDS = HoldWords(
        left="paused",
        found="paused",
        field="spec.paused",
        restores="pause",
        taken="paused Deployment",
        proven="updatedReplicas == replicas at the synced generation",
    )

    def held(self, spec, state):
        """Whether the controller's hands are off."""
        return bool(spec.get("paused"))

    def take_over(self, spec, state, patch):
        """The pause, and what to restore, into the take-over's ``patch`` and the record ``state``."""
        state["paused"] = bool(spec.get("paused"))
        patch["spec"] = {"paused": True}

    def reapply(self, spec):
        sync = self.sync
        sync.last_written = sync.writer().merge_patch(sync.path, {"spec": {"paused": True}}, deadline=sync.deadline)
        sync.steps.append("re-applied the pause of Deployment %s" % sync.name)

    def restore(self, state):
        sync = self.sync
        patch = {"metadata": {"annotations": {SYNC_ANNOTATION: None}}, "spec": {"paused": bool(state.get("paused"))}}
        sync.restored = sync.writer().merge_patch(sync.path, patch, deadline=sync.deadline)
        sync.steps.append("restored spec.paused=%s" % bool(state.get("paused")))

    def proof(self, generation, state):
        """The check of the barrier: :func:`hold_proof` against the current ReplicaSet as it is now."""
        sync = self.sync
        rs_path = api_path("ReplicaSet", sync.namespace, sync.replicaset)

        mid_rollout = len(sync.workload.pod_replicasets()) > 1

        def check(obj):
            if not observed(obj, generation):
                return hold_proof(sync.kind, obj, generation)  # what is missing, without reading the ReplicaSet
            return hold_proof(sync.kind, obj, generation, sync.kube.get(rs_path, deadline=sync.deadline), mid_rollout=mid_rollout)

        return check

    def _owned_replicasets(self, deployment):
        uid = deployment["metadata"]["uid"]
        return [rs for rs in list_items(self.sync.kube, "ReplicaSet", self.sync.namespace, owner_selector(deployment)) if owned_by(rs, set([uid]))]

    def prepare(self, owner):
        """Before any write: an older ReplicaSet holding the target template is deleted if empty, else refused.

        The ReplicaSets are the workload's (its discovery has just read them, nothing written since); the pods,
        terminating ones included, are counted only when an older ReplicaSet holds the target template.
        """
        sync = self.sync
        replicasets = sync.workload.replicasets
        current = _replicaset_for(owner, replicasets, sync.workload)
        if current is None:
            return  # sync_templates() refuses, before any template is touched
        target = target_template(owner.get("spec", {}).get("template"), sync.targets, sync.resources)
        deletable, blocking = older_matches(target, replicasets, current["metadata"]["name"], {})
        if not (deletable or blocking):
            return
        counts = {}
        for pod in list_items(sync.kube, "Pod", sync.namespace, owner_selector(owner)):
            for ref in pod["metadata"].get("ownerReferences") or []:
                if ref.get("kind") == "ReplicaSet":
                    counts[ref.get("name")] = counts.get(ref.get("name"), 0) + 1
        deletable, blocking = older_matches(target, replicasets, current["metadata"]["name"], counts)
        if blocking:
            raise InplaceError(
                "template sync of Deployment %s/%s refused before any template write: ReplicaSet %s already holds "
                "the target template and has replicas or pods; the deployment controller would make it current "
                "and recreate the pods of %s. Pods upgraded in place keep running; scale %s to 0 (or delete it) "
                "and re-run"
                % (sync.namespace, sync.name, ", ".join(r["metadata"]["name"] for r in blocking), current["metadata"]["name"], blocking[0]["metadata"]["name"])
            )
        for rs in deletable:
            name = rs["metadata"]["name"]
            sync.writer().request(
                "DELETE",
                api_path("ReplicaSet", sync.namespace, name),
                body={
                    "apiVersion": "v1",
                    "kind": "DeleteOptions",
                    "propagationPolicy": "Background",
                    "preconditions": {"uid": rs["metadata"]["uid"], "resourceVersion": rs["metadata"]["resourceVersion"]},
                },
                deadline=sync.deadline,
            )
            sync.steps.append(
                "deleted ReplicaSet %s (revision %s, 0 replicas, 0 pods): it already held the target "
                "template, and the controller would have made it current and recreated every pod; "
                "that revision leaves the rollout history" % (name, (rs["metadata"].get("annotations") or {}).get("deployment.kubernetes.io/revision", "?"))
            )

    def sync_templates(self):
        """The current ReplicaSet's template, then the Deployment's."""
        sync = self.sync
        deployment = sync.owner_now()
        replicasets = self._owned_replicasets(deployment)
        current = _replicaset_for(deployment, replicasets, sync.workload)
        if current is None:
            raise InplaceError("cannot tell which ReplicaSet of Deployment %s/%s is current; template not synced" % (sync.namespace, sync.name))
        rs_name = current["metadata"]["name"]
        sync.patch_template(api_path("ReplicaSet", sync.namespace, rs_name), current, "ReplicaSet " + rs_name)
        sync.replicaset = rs_name
        written = sync.patch_template(sync.path, deployment, "Deployment " + sync.name)
        if sync.last_written is None or written.get("metadata", {}).get("generation", 0) > sync.last_written.get("metadata", {}).get("generation", 0):
            sync.last_written = written

    def finish(self):
        """After the restore: the same ReplicaSet still current, and no sync record left on any ReplicaSet."""
        self.clean_replicasets(self._verify())

    def clean_replicasets(self, replicasets=None):
        """Remove the sync record the controller copied onto ReplicaSets (``rollout undo`` would copy it back).

        ``replicasets``: the Deployment's, as read after its controller observed the record's removal (it copies
        annotations, never removes them, so nothing is copied after that); read now when not given.
        """
        sync = self.sync
        if replicasets is None:
            replicasets = self._owned_replicasets(sync.kube.get(sync.path, deadline=sync.deadline))
        for rs in replicasets:
            if SYNC_ANNOTATION in (rs["metadata"].get("annotations") or {}):
                sync.writer().json_patch(
                    api_path("ReplicaSet", sync.namespace, rs["metadata"]["name"]), [{"op": "remove", "path": RECORD_PATH}], deadline=sync.deadline
                )
                sync.steps.append("removed the sync record the controller copied onto ReplicaSet %s" % rs["metadata"]["name"])

    def _verify(self):
        """After the sync the controller must still pick the same ReplicaSet: no new one, no pod recreated. Returns
        the ReplicaSets read."""
        sync = self.sync
        deployment = sync.wait_observed(sync.restored)
        replicasets = self._owned_replicasets(deployment)
        current = [
            rs["metadata"]["name"] for rs in replicasets if template_matches(rs.get("spec", {}).get("template"), deployment.get("spec", {}).get("template"))
        ]
        if current != [sync.replicaset]:
            raise InplaceError(
                "after the template sync of Deployment %s/%s the controller's current ReplicaSet is %s, "
                "not %s" % (sync.namespace, sync.name, ", ".join(current) or "none", sync.replicaset)
            )
        sync.steps.append("verified: ReplicaSet %s is still current, no new ReplicaSet" % sync.replicaset)
        return replicasets


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
