# -*- coding: utf-8 -*-
# Copyright: inplace.kubernetes contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The template sync's record and proofs (pure: imports no HTTP client).

The record an interrupted sync leaves on the owner (:func:`pending_sync`) and whether it still
describes the pods (:func:`stale_reason`); whether a sync is needed (:func:`template_needs_sync`)
and what the Deployment's template becomes (:func:`target_template`); the controller's proof that
its informer cache sees the synced objects (:func:`hold_proof`), without which the hold stays on
(:class:`SyncHeld`); older ReplicaSets already holding the target (:func:`older_matches`).
The recipes that write are template_sync.py (the orchestration), sync_deployment.py and sync_held.py.
"""

from __future__ import annotations

import json

from ansible_collections.inplace.kubernetes.plugins.module_utils._inplace.deps import jsonpatch
from ansible_collections.inplace.kubernetes.plugins.module_utils._inplace.discovery import template_matches
from ansible_collections.inplace.kubernetes.plugins.module_utils._inplace.errors import InplaceError
from ansible_collections.inplace.kubernetes.plugins.module_utils._inplace.patch import image_changes, image_patch
from ansible_collections.inplace.kubernetes.plugins.module_utils._inplace.resources import resize_patch, resource_changes

SYNC_ANNOTATION = "inplace.kubernetes.io/template-sync"


def _escape(key):
    return key.replace("~", "~0").replace("/", "~1")


RECORD_PATH = "/metadata/annotations/" + _escape(SYNC_ANNOTATION)  # the JSON Pointer of the record, to remove it


def pending_sync(owner):
    """The state a previous, interrupted template sync recorded on the owner, or ``None``."""
    raw = (owner.get("metadata", {}).get("annotations") or {}).get(SYNC_ANNOTATION)
    if not raw:
        return None
    try:
        state = json.loads(raw)
    except ValueError:
        raise InplaceError(
            "annotation %s on %s is not valid JSON; remove it after checking the owner's "
            "pause/update strategy by hand" % (SYNC_ANNOTATION, owner["metadata"]["name"])
        ) from None
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
                updated,
                wanted,
                ((replicaset or {}).get("metadata") or {}).get("name", "?"),
                rs_replicas,
            )
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
        return "numberMisscheduled %d (pods on nodes the controller does not count, e.g. tainted not-ready)" % (misscheduled)
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
        return "pods %s do not run its target %s" % (", ".join(sorted(off)[:10]), ", ".join("%s=%s" % item for item in sorted(state["target"].items())))
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
        if int(rs.get("spec", {}).get("replicas") or 0) == 0 and _status_int(rs, "replicas") == 0 and not pod_counts.get(name):
            deletable.append(rs)
        else:
            blocking.append(rs)
    return deletable, blocking
