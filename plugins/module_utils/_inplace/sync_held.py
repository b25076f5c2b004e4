# -*- coding: utf-8 -*-
# Copyright: inplace.kubernetes contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The StatefulSet's and the DaemonSet's template sync: hold the update strategy, patch the template,
label every pod with the controller's new revision, restore the update strategy.

- StatefulSet: partition = replicas (unless OnDelete of its own); the revision is ``status.updateRevision``.
- DaemonSet: OnDelete; the revision is the newest ControllerRevision's hash.

Two :class:`Recipe` classes (sync_recipe.py), run by :class:`TemplateSync` (template_sync.py).
"""

from __future__ import annotations

from ansible_collections.inplace.kubernetes.plugins.module_utils._inplace.api_paths import api_path
from ansible_collections.inplace.kubernetes.plugins.module_utils._inplace.discovery import list_items, owned_by, owner_selector
from ansible_collections.inplace.kubernetes.plugins.module_utils._inplace.errors import InplaceError
from ansible_collections.inplace.kubernetes.plugins.module_utils._inplace.patch import image_changes
from ansible_collections.inplace.kubernetes.plugins.module_utils._inplace.resources import resource_changes
from ansible_collections.inplace.kubernetes.plugins.module_utils._inplace.sync_proofs import RECORD_PATH, hold_proof
from ansible_collections.inplace.kubernetes.plugins.module_utils._inplace.sync_recipe import HoldWords, Recipe

REVISION_LABEL = "controller-revision-hash"


class HeldRecipe(Recipe):
    """The update strategy held (:meth:`hold`): the DaemonSet's recipe, and the StatefulSet's but for the hold."""

    WORDS = HoldWords(
        left="with its update strategy held",
        found="held (update strategy)",
        field="updateStrategy",
        restores="update strategy",
        taken="held the update strategy",
        proven="all pods updated at the synced generation",
    )

    def held(self, spec, state):
        """Whether the controller's hands are off (on OnDelete of its own, always)."""
        if ((state or {}).get("updateStrategy") or {}).get("type") == "OnDelete":
            return True
        strategy = spec.get("updateStrategy") or {}
        return strategy.get("type") == "OnDelete" or self._partition_holds(spec, strategy)

    @staticmethod
    def _partition_holds(spec, strategy):
        """Whether a RollingUpdate ``strategy`` holds every pod (only a StatefulSet's partition can)."""
        return False

    @staticmethod
    def hold(spec):
        """The update strategy that takes the controller's hands off."""
        return {"type": "OnDelete", "rollingUpdate": None}

    def take_over(self, spec, state, patch):
        """The hold, and the strategy to restore, into the take-over's ``patch`` and the record ``state``."""
        strategy = spec.get("updateStrategy") or {"type": "RollingUpdate"}
        state["updateStrategy"] = strategy
        if strategy.get("type") != "OnDelete":
            patch["spec"] = {"updateStrategy": self.hold(spec)}

    def reapply(self, spec):
        sync = self.sync
        sync.last_written = sync.writer().merge_patch(sync.path, {"spec": {"updateStrategy": self.hold(spec)}}, deadline=sync.deadline)
        sync.steps.append("re-applied the update strategy hold")

    def restore(self, state):
        sync = self.sync
        ops = [{"op": "remove", "path": RECORD_PATH}, {"op": "replace", "path": "/spec/updateStrategy", "value": state["updateStrategy"]}]
        sync.writer().json_patch(sync.path, ops, deadline=sync.deadline)
        sync.steps.append("restored the update strategy")

    def proof(self, generation, state):
        """The check of the barrier: :func:`hold_proof`, the pods counted as the original strategy counts them."""
        original_on_delete = (state.get("updateStrategy") or {}).get("type") == "OnDelete"
        kind = self.sync.kind

        def check(obj):
            return hold_proof(kind, obj, generation, original_on_delete=original_on_delete)

        return check

    def sync_templates(self):
        """The template, then every pod labelled with the revision the controller made of it."""
        sync = self.sync
        owner = sync.owner_now()
        result = sync.patch_template(sync.path, owner, "%s %s" % (sync.kind, sync.name))
        sync.last_written = result
        owner = sync.wait_observed(result)
        self._label_pods(self.revision(owner))

    def revision(self, owner):
        """The newest ControllerRevision's hash (the DaemonSet's)."""
        sync = self.sync
        uid = owner["metadata"]["uid"]
        revisions = [r for r in list_items(sync.kube, "ControllerRevision", sync.namespace, owner_selector(owner)) if owned_by(r, set([uid]))]
        if not revisions:
            raise InplaceError("DaemonSet %s/%s has no ControllerRevision yet" % (sync.namespace, sync.name))
        newest = max(revisions, key=lambda r: r.get("revision", 0))
        revision = (newest["metadata"].get("labels") or {}).get(REVISION_LABEL)
        if not revision:
            raise InplaceError("ControllerRevision %s has no %s label" % (newest["metadata"]["name"], REVISION_LABEL))
        return revision

    def _label_pods(self, revision):
        sync = self.sync
        owner = sync.workload.owner
        pods = [
            p
            for p in list_items(sync.kube, "Pod", sync.namespace, owner_selector(owner))
            if owned_by(p, set([owner["metadata"]["uid"]])) and not p["metadata"].get("deletionTimestamp")
        ]
        stale = []
        for pod in pods:
            if image_changes(pod.get("spec", {}), sync.targets) or resource_changes(pod.get("spec", {}), sync.resources):
                stale.append(pod["metadata"]["name"])
                continue
            if (pod["metadata"].get("labels") or {}).get(REVISION_LABEL) != revision:
                sync.writer().merge_patch(
                    api_path("Pod", sync.namespace, pod["metadata"]["name"]), {"metadata": {"labels": {REVISION_LABEL: revision}}}, deadline=sync.deadline
                )
        if stale:
            sync.steps.append("left pods not on the target images unlabelled: %s" % ", ".join(stale))
        sync.steps.append("labelled %d pods %s=%s" % (len(pods) - len(stale), REVISION_LABEL, revision))


class StatefulSetRecipe(HeldRecipe):
    """The StatefulSet's hold is partition = replicas; its revision is ``status.updateRevision``."""

    @staticmethod
    def _partition_holds(spec, strategy):
        partition = int((strategy.get("rollingUpdate") or {}).get("partition") or 0)
        return partition >= int(spec.get("replicas", 1))

    @staticmethod
    def hold(spec):
        return {"type": "RollingUpdate", "rollingUpdate": {"partition": int(spec.get("replicas", 1))}}

    def revision(self, owner):
        revision = owner.get("status", {}).get("updateRevision")
        if not revision:
            raise InplaceError("StatefulSet %s/%s reports no updateRevision" % (self.sync.namespace, self.sync.name))
        return revision
