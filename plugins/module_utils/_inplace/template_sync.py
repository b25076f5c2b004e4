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

- Deployment (sync_deployment.py): pause, patch the current ReplicaSet's template and then the
  Deployment's (the controller matches them ignoring ``pod-template-hash``), restore ``spec.paused``.
- StatefulSet (sync_held.py): partition = replicas (unless OnDelete), patch the template, label every
  pod with the new ``status.updateRevision``, restore the update strategy.
- DaemonSet (sync_held.py): OnDelete, patch the template, label every pod with the newest
  ControllerRevision's hash, restore the update strategy.

The record and the proofs, pure, are sync_proofs.py; this file is the order of it all.
"""

from __future__ import annotations

import json
import time

from ansible_collections.inplace.kubernetes.plugins.module_utils._inplace.api_paths import api_path
from ansible_collections.inplace.kubernetes.plugins.module_utils._inplace.errors import ApiError, InplaceError, WatchExpired
from ansible_collections.inplace.kubernetes.plugins.module_utils._inplace.patch import image_patch
from ansible_collections.inplace.kubernetes.plugins.module_utils._inplace.resources import resize_patch
from ansible_collections.inplace.kubernetes.plugins.module_utils._inplace.sync_deployment import DeploymentRecipe
from ansible_collections.inplace.kubernetes.plugins.module_utils._inplace.sync_held import HeldRecipe, StatefulSetRecipe
from ansible_collections.inplace.kubernetes.plugins.module_utils._inplace.sync_proofs import (
    RECORD_PATH,
    SYNC_ANNOTATION,
    SyncHeld,
    pending_sync,
    stale_reason,
)
from ansible_collections.inplace.kubernetes.plugins.module_utils._inplace.watch import wait_for_generation

RECIPES = {"Deployment": DeploymentRecipe, "StatefulSet": StatefulSetRecipe, "DaemonSet": HeldRecipe}


class TemplateSync(object):
    """Runs one recipe; ``steps`` records what was done (every write among it), ``wrote`` whether it wrote.

    The kind's :class:`Recipe` (``recipe``: sync_recipe.py, sync_deployment.py, sync_held.py) holds and restores
    the controller's hands and patches the templates; this is the order of it all, the resume, the barrier and
    the record.
    """

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
        self.restored = None  # the owner as the restore wrote it (a Deployment's)
        self.last_written = None  # the owner as last written: its generation is what the barrier waits for
        self.replicaset = None  # the Deployment's current ReplicaSet, once its template is patched
        self.wrote = False
        self.recipe = RECIPES.get(self.kind, HeldRecipe)(self)

    def writer(self):
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
            if not self.recipe.held(owner.get("spec", {}), state):
                # A resume takes the controller's hands off again before it touches a template.
                self.recipe.reapply(owner.get("spec", {}))
            self.targets = dict(state["target"], **self.targets) if self.targets else state["target"]
            self.resources = dict(state.get("resources") or {}, **self.resources)
        else:
            self.recipe.prepare(owner)
            state = self._take_over(owner)
        try:
            self.recipe.sync_templates()
        except SyncHeld:
            raise
        except InplaceError as exc:
            raise SyncHeld(
                "%s. Template sync of %s %s/%s not finished: left %s with the sync recorded in annotation %s; "
                "a re-run checks the record against the pods and finishes it. Written so far: %s"
                % (exc.msg, self.kind, self.namespace, self.name, self.recipe.WORDS.left, SYNC_ANNOTATION, "; ".join(self.steps)),
                template_sync_steps=list(self.steps),
            ) from exc
        self._barrier(state)
        self.recipe.restore(state)
        self.recipe.finish()
        return self.steps

    def _drop_stale(self, owner, stale):
        """A record the pods do not run (copied back by ``rollout undo``, or overtaken): remove it, resume nothing.

        With the hold still on, the record may be a real interrupted sync the pods have moved away from:
        refused, nothing changed, rather than guessing which template the controller should get.
        """
        if self.recipe.held(owner.get("spec", {}), pending_sync(owner)):
            raise InplaceError(
                "annotation %s on %s %s/%s (%s) records a template sync, but %s; not resumed and "
                "nothing changed: check the owner, then remove the annotation and restore its %s "
                "(recorded in the annotation)"
                % (SYNC_ANNOTATION, self.kind, self.namespace, self.name, self.recipe.WORDS.found, stale, self.recipe.WORDS.field)
            )
        ops = [{"op": "test", "path": "/metadata/uid", "value": owner["metadata"]["uid"]}, {"op": "remove", "path": RECORD_PATH}]
        self.writer().json_patch(self.path, ops, deadline=self.deadline)
        self.steps.append("dropped a stale template-sync record (%s); nothing resumed" % stale)
        self.recipe.clean_replicasets()
        return self.steps

    def _take_over(self, owner):
        """One write: the record of the sync, and the controller's hands off (the recipe's hold)."""
        state = {"target": self.targets, "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
        if self.resources:
            state["resources"] = self.resources
        patch = {"metadata": {"annotations": {}}}
        self.recipe.take_over(owner.get("spec", {}), state, patch)
        patch["metadata"]["annotations"][SYNC_ANNOTATION] = json.dumps(state, sort_keys=True)
        self.last_written = self.writer().merge_patch(self.path, patch, deadline=self.deadline)
        self.steps.append(self.recipe.WORDS.taken)
        return state

    def _barrier(self, state):
        """Wait, hold still on, for the controller's proof (:func:`hold_proof`); :class:`SyncHeld` without it."""
        written = self.last_written or self.kube.get(self.path, deadline=self.deadline)
        generation = written.get("metadata", {}).get("generation", 0)
        check = self.recipe.proof(generation, state)
        missing = _await(self.kube, self.kind, self.namespace, self.name, check, self.deadline, written)
        if missing:
            raise SyncHeld(
                "template sync of %s %s/%s not finished: the controller has not proven that it sees the synced "
                "objects (%s), and giving it its hands back without that proof could recreate pods. Left %s, with "
                "the sync recorded in annotation %s; no pod was recreated. A re-run (once the controller-manager "
                "answers) checks the record against the pods, waits for that proof and then restores the %s. "
                "Written so far: %s"
                % (
                    self.kind,
                    self.namespace,
                    self.name,
                    missing,
                    self.recipe.WORDS.left,
                    SYNC_ANNOTATION,
                    self.recipe.WORDS.restores,
                    "; ".join(self.steps) or "nothing",
                ),
                template_sync_steps=list(self.steps),
            )
        self.steps.append("the controller proved it sees the synced objects (%s)" % self.recipe.WORDS.proven)

    def patch_template(self, path, obj, what):
        """``obj``'s pod template (at ``path``) brought to the targets and resources; ``obj`` when it already is."""
        spec = obj.get("spec", {}).get("template", {}).get("spec", {})
        patch, changes = image_patch(spec, self.targets, prefix="/spec/template/spec")
        ops, resized = resize_patch(spec, self.resources, prefix="/spec/template/spec")
        if changes or resized:
            result = self.writer().json_patch(path, list(patch.patch) + ops, deadline=self.deadline)
            self.steps.append("patched the template of %s" % what)
            if path == self.path:
                self.last_written = result
            return result
        return obj

    def owner_now(self):
        """The owner as the hold left it: the response of the write that took the controller's hands off (or put
        them off again), else read now (a resume that found the hold on)."""
        return self.last_written or self.kube.get(self.path, deadline=self.deadline)

    def wait_observed(self, written):
        """The owner once its controller has observed the generation of ``written`` (the owner as last written)."""
        return wait_for_generation(self.kube, self.kind, self.namespace, self.name, written.get("metadata", {}).get("generation", 0), self.deadline, written)


def _await(kube, kind, namespace, name, check, deadline, current):
    """Watch the object until ``check(obj)`` is ``None``; what is still missing when ``deadline`` passes."""
    obj = current
    missing = check(obj)
    while missing:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return missing
        query = {"fieldSelector": "metadata.name=" + name, "resourceVersion": obj.get("metadata", {}).get("resourceVersion", "")}
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
