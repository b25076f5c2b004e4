# -*- coding: utf-8 -*-
# Copyright: inplace.kubernetes contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""In-place CPU/memory resize inside a rollout: does the cluster have it, what changes on each pod, the
write to the pod's ``resize`` subresource, and what the wait expects.

The run's resources (``Progress.resources``, from :func:`resolve_resources`) travel with it; planning,
patching, the batches, the rollback and the template sync ask the functions here at a few points, which
answer from :mod:`resources` (pure: checks, changes, the guarded patch) and :mod:`resized` (pure: the
predicate). Without the ``resources`` option the run's resources are empty, every answer is empty, and
the rollout is the image rollout it was.
"""

from __future__ import annotations

import time

from ansible_collections.inplace.kubernetes.plugins.module_utils._inplace.api_paths import api_path
from ansible_collections.inplace.kubernetes.plugins.module_utils._inplace.errors import InplaceError
from ansible_collections.inplace.kubernetes.plugins.module_utils._inplace.guarded_write import send_guarded
from ansible_collections.inplace.kubernetes.plugins.module_utils._inplace.patch import locate
from ansible_collections.inplace.kubernetes.plugins.module_utils._inplace.report import images_text
from ansible_collections.inplace.kubernetes.plugins.module_utils._inplace.resources import (
    applied,
    check_resources,
    check_spec,
    previous_of,
    resize_patch,
    resource_changes,
    resources_text,
    shown,
)
from ansible_collections.inplace.kubernetes.plugins.module_utils._inplace.upgrade_record import recorded_upgrade
from ansible_collections.inplace.kubernetes.plugins.module_utils._inplace.wait import baseline_of, pod_generation

SUBRESOURCE = "pods/resize"


def resize_support(version, api_resources):
    """Why this API server cannot resize pods in place (``""`` when it can), from ``/version`` and ``/api/v1``."""
    names = set(r.get("name") for r in (api_resources or {}).get("resources") or [])
    if SUBRESOURCE in names:
        return ""
    where = (version or {}).get("gitVersion") or "of unknown version"
    return (
        "the API server (Kubernetes %s) does not serve the %s subresource that in-place CPU/memory resize "
        "goes through: it exists from Kubernetes 1.33 (beta, on by default; feature gate "
        "InPlacePodVerticalScaling) and is GA from 1.35" % (where, SUBRESOURCE)
    )


def resolve_resources(params, workload):
    """Container name -> the CPU/memory this run resizes to: the option, or (rollback) the recorded previous ones."""
    if params.get("rollback"):
        return dict(((recorded_upgrade(workload.owner) or {}).get("resources") or {}).get("previous") or {})
    return check_resources(params.get("resources"))


def check_support(kube, wanted):
    """Refuse, before any write, a cluster without the ``resize`` subresource (asked only when resizing)."""
    if not wanted:
        return
    why = resize_support(kube.get("/version"), kube.get("/api/v1"))
    if why:
        raise InplaceError("resources: nothing changed: %s" % why)


def check_workload_resources(workload, wanted):
    """The checks of :func:`resources.check_spec` on the owner's template and on every pod."""
    if not wanted:
        return
    what = "%s %s/%s" % (workload.kind, workload.namespace, workload.name)
    if workload.owner:
        check_spec(workload.template_spec, wanted, "the pod template of " + what)
    for pod in workload.pods:
        check_spec(pod.get("spec", {}), wanted, "pod " + pod["metadata"]["name"])


def pod_changes(pod, wanted):
    """``[{name, before, after, restart, init}]`` of one pod against ``wanted``."""
    return resource_changes(pod.get("spec", {}), wanted) if wanted else []


def template_changes(workload, wanted):
    """The owner's template's containers whose resources differ from ``wanted``."""
    return resource_changes(workload.template_spec or {}, wanted) if workload.owner and wanted else []


def template_resources(workload, wanted):
    """The template's cpu/memory of the containers in ``wanted`` (for the diff), or ``None``."""
    if not workload.owner or not wanted:
        return None
    return dict((name, shown(_resources_of(workload.template_spec, name))) for name in sorted(wanted))


def with_record(record, workload, wanted):
    """``record`` (upgrade_record.new_record, or ``None``) with the template's previous resources added."""
    changes = template_changes(workload, wanted)
    if not changes:
        return record
    record = dict(record) if record else {"time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "target": {}, "previous": {}}
    record["resources"] = {"target": wanted, "previous": previous_of(changes)}
    return record


def resize_pod(kube, namespace, pod, wanted, deadline):
    """Resize one pod through ``pods/NAME/resize``; an outcome like ``patching.patch_one``'s (with ``resize``, the
    changes), or ``None`` when its resources already are the wanted ones."""
    name = pod["metadata"]["name"]
    ops, changes = resize_patch(pod.get("spec", {}), wanted, uid=pod["metadata"].get("uid"))
    if not ops:
        return None
    return send_guarded(
        kube,
        pod,
        api_path("Pod", namespace, name, subresource="resize"),
        api_path("Pod", namespace, name),
        ops,
        deadline,
        "resize",
        changes,
        lambda fresh: resource_changes(fresh.get("spec", {}), wanted),
        "resources already set by someone else",
        lambda fresh: "resources changed concurrently; not overwritten",
        lambda message: "the API server refused the resize: %s" % message,
    )


def expectation(pod, changes, wanted, with_baseline=True):
    """What a wait expects of a pod resized (``changes``) or of a pod read as it is (``with_baseline=False``)."""
    if not wanted:
        return None
    restart = sorted(c["name"] for c in changes or [] if c.get("restart"))
    return {
        "wanted": wanted,
        "restart": restart,
        "baseline": baseline_of(pod, restart) if with_baseline else {},
        "generation": pod_generation(pod) if with_baseline else None,
    }


def previous(changes):
    """The resources that undo ``changes`` (a rollback)."""
    return previous_of(changes)


def add_template_diff(diff, before, wanted, synced):
    """The template's resources before and after, in a ``--diff``."""
    if not wanted or before is None:
        return
    after = dict((name, shown(applied(before[name], wanted[name]))) for name in before) if synced else before
    if after != before:
        diff["before"]["template_resources"] = before
        diff["after"]["template_resources"] = after


def target_text(targets, wanted):
    """Images and resources of a run, for events."""
    return "; ".join(t for t in (images_text(targets), wanted and "resources " + resources_text(wanted)) if t)


def _resources_of(spec, name):
    where = locate(spec or {}, name)
    if where is None:
        return {}
    return spec[where[0]][where[1]].get("resources") or {}


def resize_entry(changes):
    """``{container: {before, after}}`` (cpu/memory only) for results and diffs."""
    return dict((c["name"], {"before": shown(c["before"]), "after": shown(c["after"])}) for c in changes or [])
