# -*- coding: utf-8 -*-
# Copyright: inplace.kubernetes contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The record of the last in-place upgrade on an owner, which ``rollback: true`` undoes: pure.

The record is an annotation on the owner (``{time, target, previous}``, images per container). The
Deployment controller copies a Deployment's annotations onto its ReplicaSets and ``kubectl rollout
undo`` copies a ReplicaSet's annotations back, so a record can come back long after the upgrade it
describes. A record is trusted only while the owner's template and every pod run, per recorded
container, its ``target`` or its ``previous`` image (a finished upgrade, or one that failed part-way);
anything else means the workload changed since, and the record is refused as stale. The same holds
for the CPU/memory a record of ``resources`` holds.
"""

from __future__ import annotations

import json
import time

from ansible_collections.inplace.kubernetes.plugins.module_utils._inplace.images import same_image
from ansible_collections.inplace.kubernetes.plugins.module_utils._inplace.patch import current_images
from ansible_collections.inplace.kubernetes.plugins.module_utils._inplace.resources import foreign_resources

LAST_UPGRADE_ANNOTATION = "inplace.kubernetes.io/last-upgrade"


def recorded_upgrade(owner):
    """The record of the last upgrade on an owner (``{time, target, previous}``) or ``None``."""
    raw = ((owner or {}).get("metadata", {}).get("annotations") or {}).get(LAST_UPGRADE_ANNOTATION)
    if not raw:
        return None
    try:
        record = json.loads(raw)
    except ValueError:
        return None
    return record if isinstance(record, dict) and isinstance(record.get("previous"), dict) else None


def new_record(template_images, targets):
    """The record to write before upgrading to ``targets``, or ``None`` when the template already has them."""
    previous = dict((name, template_images.get(name)) for name in targets)
    if all(previous[name] == targets[name] for name in targets):
        return None
    return {"time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "target": dict(targets), "previous": previous}


def annotation_patch(record):
    return {"metadata": {"annotations": {LAST_UPGRADE_ANNOTATION: json.dumps(record, sort_keys=True)}}}


def stale_reason(record, template_images, pods, template_spec=None):
    """Why ``record`` no longer describes the workload (``""`` when it does).

    ``template_images`` are the owner's template images per container, ``pods`` the pod dicts,
    ``template_spec`` the owner's pod template spec (for the record's ``resources``: CPU/memory compared by value).
    A container the record has no ``target`` for (a record of an older release) is not checked.
    """
    previous = record.get("previous") or {}
    target = record.get("target") or {}
    names = sorted(name for name in previous if target.get(name))

    def foreign(images, where):
        for name in names:
            image = images.get(name)
            if image is not None and not any(known and same_image(image, known) for known in (target[name], previous[name])):
                return "%s container %s has %s, neither the recorded target %s nor the previous image %s" % (where, name, image, target[name], previous[name])
        return ""

    places = [(template_images, "the pod template's")] + [(current_images(pod.get("spec") or {}), "pod %s's" % pod["metadata"]["name"]) for pod in pods]
    for images, where in places:
        reason = foreign(images, where)
        if reason:
            return reason
    if record.get("resources"):
        for spec, where in [(template_spec, "the pod template's")] + [(pod.get("spec") or {}, "pod %s's" % pod["metadata"]["name"]) for pod in pods]:
            reason = foreign_resources(record["resources"], spec, where) if spec is not None else ""
            if reason:
                return reason
    return ""
