# -*- coding: utf-8 -*-
# Copyright: inplace.kubernetes contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The writes to pods: guarded image patches, in parallel, each with what came of it; the upgrade record.

Each pod's outcome is ``{name, result, pod, changes[, reason]}`` with ``result`` one of ``patched``,
``current`` (nothing to change), ``vanished``, ``conflict`` (changed by someone else; not
overwritten) or ``error`` (the API server refused the patch).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from ansible_collections.inplace.kubernetes.plugins.module_utils._inplace.api_paths import api_path
from ansible_collections.inplace.kubernetes.plugins.module_utils._inplace.discovery import list_items
from ansible_collections.inplace.kubernetes.plugins.module_utils._inplace.errors import InplaceError
from ansible_collections.inplace.kubernetes.plugins.module_utils._inplace.guarded_write import send_guarded
from ansible_collections.inplace.kubernetes.plugins.module_utils._inplace.patch import current_images, image_changes, image_patch
from ansible_collections.inplace.kubernetes.plugins.module_utils._inplace.resize import resize_pod, with_record
from ansible_collections.inplace.kubernetes.plugins.module_utils._inplace.upgrade_record import annotation_patch, new_record

MAX_PARALLEL_WRITES = 16


def record_upgrade(kube, workload, targets, resources=None):
    """Write the record ``rollback: true`` undoes on the owner (images, and resources), before any pod is patched."""
    if not workload.owner:
        return
    record = with_record(new_record(current_images(workload.template_spec), targets), workload, resources)
    if record:
        kube.merge_patch(api_path(workload.kind, workload.namespace, workload.name), annotation_patch(record))


def patch_one(kube, namespace, pod, targets, deadline, resources=None):
    """Resize the pod to ``resources`` (resize.py; its outcome carries ``resize``, the changes), then patch it to
    ``targets``."""
    resized = resize_pod(kube, namespace, pod, resources, deadline) if resources else None
    if resized is None:
        return patch_images(kube, namespace, pod, targets, deadline)
    if resized["result"] != "patched":
        return dict(resized, changes=[])
    outcome = patch_images(kube, namespace, resized["pod"], targets, deadline)
    if outcome["result"] == "current":
        outcome.update(result="patched", reason=resized.get("reason", ""))
    outcome["resize"] = resized["resize"]
    return outcome


def patch_images(kube, namespace, pod, targets, deadline):
    """Patch one pod to ``targets``, guarded by its uid and the images the plan was made from."""
    name = pod["metadata"]["name"]
    path = api_path("Pod", namespace, name)
    try:
        patch, changes = image_patch(pod.get("spec", {}), targets, uid=pod["metadata"].get("uid"))
    except InplaceError as exc:
        return {"name": name, "result": "error", "reason": exc.msg, "pod": pod, "changes": []}
    if not changes:
        return {"name": name, "result": "current", "pod": pod, "changes": []}

    def conflict_reason(fresh):
        now = current_images(fresh.get("spec", {}))
        return "changed concurrently (now %s); not overwritten" % ", ".join("%s=%s" % (c["name"], now.get(c["name"])) for c in changes)

    return send_guarded(
        kube,
        pod,
        path,
        path,
        patch,
        deadline,
        "changes",
        changes,
        lambda fresh: image_changes(fresh.get("spec", {}), targets),
        "already set to the target by someone else",
        conflict_reason,
    )


def patch_many(kube, namespace, pods_and_targets, deadline):
    """:func:`patch_one` for each ``(pod, targets[, resources])``, up to ``MAX_PARALLEL_WRITES`` at once, outcomes
    in order."""
    if not pods_and_targets:
        return []
    workers = min(MAX_PARALLEL_WRITES, len(pods_and_targets))
    if workers == 1:
        return [patch_one(kube, namespace, item[0], item[1], deadline, *item[2:]) for item in pods_and_targets]
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(lambda item: patch_one(kube, namespace, item[0], item[1], deadline, *item[2:]), pods_and_targets))


def fresh_pods(kube, namespace, workload, names):
    """``{name: pod}`` of the named pods as they are now (one list of the workload's selector)."""
    items = list_items(kube, "Pod", namespace, workload.selector)
    wanted = set(names)
    return dict((p["metadata"]["name"], p) for p in items if p["metadata"]["name"] in wanted)
