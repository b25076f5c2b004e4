# -*- coding: utf-8 -*-
# Copyright: inplace.kubernetes contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Read-only: the input checks, the targets, each pod's plan, and :func:`describe` (all the info module needs).

Nothing here writes to the API server; the upgrade (``rollout.py``) plans with the same functions.
"""

from __future__ import annotations

from ansible_collections.inplace.kubernetes.plugins.module_utils._inplace import states
from ansible_collections.inplace.kubernetes.plugins.module_utils._inplace.discovery import discover, disruption_budgets
from ansible_collections.inplace.kubernetes.plugins.module_utils._inplace.errors import InplaceError
from ansible_collections.inplace.kubernetes.plugins.module_utils._inplace.inputs import check_batching, check_name, check_targets
from ansible_collections.inplace.kubernetes.plugins.module_utils._inplace.patch import check_containers, current_images, image_changes
from ansible_collections.inplace.kubernetes.plugins.module_utils._inplace.plan import plan_batches
from ansible_collections.inplace.kubernetes.plugins.module_utils._inplace.report import names_text, pod_entry
from ansible_collections.inplace.kubernetes.plugins.module_utils._inplace.resize import (
    check_support,
    check_workload_resources,
    expectation,
    pod_changes,
    resolve_resources,
    template_changes,
)
from ansible_collections.inplace.kubernetes.plugins.module_utils._inplace.resized import combined, expected_progress
from ansible_collections.inplace.kubernetes.plugins.module_utils._inplace.resources import check_resources
from ansible_collections.inplace.kubernetes.plugins.module_utils._inplace.sync_proofs import pending_sync
from ansible_collections.inplace.kubernetes.plugins.module_utils._inplace.upgrade_record import LAST_UPGRADE_ANNOTATION, recorded_upgrade, stale_reason
from ansible_collections.inplace.kubernetes.plugins.module_utils._inplace.wait import DONE, pod_progress, pod_ready, spec_only_reason
from ansible_collections.inplace.kubernetes.plugins.module_utils._inplace.window import parse_timestamp

MIRROR_ANNOTATION = "kubernetes.io/config.mirror"


def validate(params, require_targets=True):
    """Every check that needs no API call; runs before the client is even built."""
    if not params.get("name") and not [s for s in params.get("label_selectors") or [] if s and s.strip()]:
        raise InplaceError("give name (the workload) or label_selectors (the pods)")
    if params.get("name"):
        check_name(params["name"], "name")
    check_name(params["namespace"], "namespace", label=True)
    for pod in params.get("pods") or []:
        check_name(pod, "pod name")
    resources = check_resources(params.get("resources"))
    if params.get("rollback"):
        if params.get("containers") or params.get("image"):
            raise InplaceError("rollback restores the images recorded before the last upgrade; do not give containers or image")
        if resources:
            raise InplaceError("rollback restores the resources recorded before the last upgrade; do not give resources")
        if not params.get("name"):
            raise InplaceError("rollback needs name: the recorded images live on the workload")
    elif (require_targets and not resources) or params.get("containers") or params.get("image"):
        check_targets(params.get("containers"), params.get("image"))
    check_batching(params.get("batch_size"), params.get("canary"), params.get("max_pods"))
    parse_not_after(params.get("not_after"))
    for option in ("wait_timeout", "pause_seconds", "min_ready_seconds"):
        if (params.get(option) or 0) < 0:
            raise InplaceError("%s must not be negative" % option)
    if params.get("sync_timeout") is not None and params["sync_timeout"] < 1:
        raise InplaceError("sync_timeout must be at least 1 second")
    if params.get("max_batches") is not None and params["max_batches"] < 1:
        raise InplaceError("max_batches must be at least 1")
    lease = params.get("lease")
    if lease is not None:
        if not params.get("name"):
            raise InplaceError("lease needs name: the Lease belongs to the workload")
        if lease.get("duration_seconds") is not None and lease["duration_seconds"] < 1:
            raise InplaceError("lease duration_seconds must be at least 1, got %s" % lease["duration_seconds"])


def parse_not_after(value):
    """An aware datetime from an ISO 8601 string with offset (``Z`` allowed), or ``None``."""
    if not value:
        return None
    try:
        moment = parse_timestamp(value)
    except ValueError:
        raise InplaceError("not_after %r is not an ISO 8601 date-time such as 2026-11-25T04:00:00+00:00" % value) from None
    if moment.tzinfo is None:
        raise InplaceError("not_after %r has no UTC offset; add one, e.g. +00:00" % value)
    return moment


def kind_of(params):
    return params.get("kind") or "Deployment"


def discover_workload(kube, params):
    """The owner and its live pods (or the pods of the label selectors)."""
    return discover(kube, kind_of(params), params.get("name"), params["namespace"], params.get("label_selectors"))


def owner_summary(workload, namespace):
    if workload.owner:
        return workload.summary()
    return {"kind": None, "selector": workload.selector, "namespace": namespace}


def resolve_targets(params, workload):
    """Container name -> image: the given ones, the ``image`` shorthand, or (rollback) the recorded previous ones."""
    kind, namespace = kind_of(params), params["namespace"]
    if params.get("rollback"):
        record = recorded_upgrade(workload.owner)
        if not record:
            raise InplaceError("%s %s/%s has no recorded upgrade (annotation %s) to roll back" % (kind, namespace, params["name"], LAST_UPGRADE_ANNOTATION))
        stale = stale_reason(record, current_images(workload.template_spec or {}), workload.pods, workload.template_spec)
        if stale:
            raise InplaceError(
                "%s %s/%s: the recorded upgrade (annotation %s, %s) no longer describes the workload: %s. It changed "
                "since (a rollout, `kubectl rollout undo`, which copies a ReplicaSet's annotations back, or an "
                "edit); nothing was changed. Name the images to go to with containers instead of rollback"
                % (kind, namespace, params["name"], LAST_UPGRADE_ANNOTATION, record.get("time") or "undated", stale)
            )
        return dict(record["previous"])
    if params.get("image"):
        spec = workload.template_spec or (workload.pods[0]["spec"] if workload.pods else {})
        names = [c.get("name") for c in spec.get("containers") or []]
        if len(names) != 1:
            raise InplaceError(
                "image is a shorthand for pods with exactly one container; these have %d (%s): use containers instead" % (len(names), ", ".join(names))
            )
        return {names[0]: params["image"]}
    return dict(params.get("containers") or {})


def check_workload(params, workload, targets, resources=None):
    """Refuse targets a container does not exist for, resources the API server would refuse (resize.py), and
    (unless allowed) a Deployment mid-rollout."""
    what = "%s %s/%s" % (workload.kind, params["namespace"], workload.name)
    check_workload_resources(workload, resources)
    if workload.owner:
        check_containers(workload.template_spec, targets, "the pod template of " + what)
    for pod in workload.pods:
        check_containers(pod.get("spec", {}), targets, "pod " + pod["metadata"]["name"])
    if workload.kind == "Deployment" and not params.get("allow_mid_rollout"):
        groups = workload.pod_replicasets()
        if len(groups) > 1:
            raise InplaceError(
                "%s is in the middle of a rollout: its pods belong to %d ReplicaSets (%s); wait for the rollout "
                "to finish or set allow_mid_rollout" % (what, len(groups), ", ".join("%s: %d pods" % (k, len(v)) for k, v in sorted(groups.items())))
            )
        if workload.current_replicaset() is None and workload.owner.get("spec", {}).get("paused") and not pending_sync(workload.owner):
            raise InplaceError(
                "%s is paused with a pod template that no ReplicaSet runs yet (a pending rollout); resume it first or set allow_mid_rollout" % what
            )


def plan_pods(params, workload, targets, resources=None):
    """One plan per live pod (only the ``pods`` asked for): ``{name, pod, changes, resize, spec_only, status, reason}``;
    ``resize`` the containers whose ``resources`` differ (resize.py)."""
    plans = []
    for pod in workload.pods:
        name = pod["metadata"]["name"]
        if MIRROR_ANNOTATION in (pod["metadata"].get("annotations") or {}):
            plans.append(
                {
                    "name": name,
                    "pod": pod,
                    "changes": [],
                    "resize": [],
                    "spec_only": {},
                    "status": states.SKIPPED,
                    "reason": "mirror pod of a static pod: the kubelet runs the manifest on its node and "
                    "never an edited mirror pod; change the manifest instead",
                }
            )
            continue
        changes = image_changes(pod.get("spec", {}), targets)
        spec_only = spec_only_containers(pod, targets)
        waited = without(targets, spec_only)
        state, reason = pod_progress(pod, waited) if waited else (DONE, "")
        resize = pod_changes(pod, resources)
        if resources:
            state, reason = combined((state, reason), expected_progress(pod, expectation(pod, [], resources, with_baseline=False)))
        changed = set(c["name"] for c in changes)
        notes = [spec_only[n] for n in sorted(spec_only) if n in changed]
        plans.append(
            {
                "name": name,
                "pod": pod,
                "changes": changes,
                "resize": resize,
                "spec_only": dict((n, r) for n, r in spec_only.items() if n in changed),
                "status": states.NEEDS_UPGRADE if changes or resize else (states.CURRENT if state == DONE else states.IN_PROGRESS),
                "reason": "; ".join(([reason] if reason and not (changes or resize) else []) + notes),
            }
        )
    wanted = params.get("pods")
    if wanted:
        known = set(p["name"] for p in plans)
        unknown = sorted(set(wanted) - known)
        if unknown:
            raise InplaceError(
                "pods %s are not live pods of %s %s/%s"
                % (", ".join(unknown), workload.kind or "selector", params["namespace"], workload.name or workload.selector)
            )
        plans = [p for p in plans if p["name"] in set(wanted)]
    return plans


def to_do(plans, params):
    """The plans of the pods this run patches: those with changes, at most ``max_pods``."""
    todo = [p for p in plans if p["changes"] or p.get("resize")]
    return todo[: params["max_pods"]] if params.get("max_pods") else todo


def check_spec_only(todo, allowed):
    """Refuse, before any write, image changes the kubelet would never apply to the live pods."""
    blocked = {}
    for plan in todo:
        for reason in plan.get("spec_only", {}).values():
            blocked.setdefault(reason, []).append(plan["name"])
    if not blocked or allowed:
        return
    raise InplaceError(
        "nothing patched: %s. Set allow_spec_only=true to accept this as a spec-only change (the pods' spec and "
        "the owner's template get the new image, the pods are reported spec_only and not waited for)"
        % "; ".join("%s (pods %s)" % (reason, names_text(names)) for reason, names in sorted(blocked.items()))
    )


def ephemeral_warnings(todo):
    """A warning per ephemeral container that targets a container the upgrade restarts."""
    warnings = []
    for plan in todo:
        changed = set(c["name"] for c in plan["changes"])
        for ephemeral in plan["pod"].get("spec", {}).get("ephemeralContainers") or []:
            if ephemeral.get("targetContainerName") in changed:
                warnings.append(
                    "pod %s: ephemeral container %s targets container %s, which the upgrade restarts; it "
                    "keeps the old container's process namespace and is never restarted"
                    % (plan["name"], ephemeral.get("name"), ephemeral["targetContainerName"])
                )
    return warnings


def describe(kube, params):
    """What the info module reports: pods, their state against the targets, the plan, budgets."""
    namespace = params["namespace"]
    workload = discover_workload(kube, params)
    targets, resources = None, resolve_resources(params, workload)
    if params.get("containers") or params.get("image") or params.get("rollback") or resources:
        targets = resolve_targets(params, workload)
        check_support(kube, resources)
        check_workload(params, workload, targets, resources)
    plans = (
        plan_pods(params, workload, targets, resources)
        if targets is not None
        else [
            {
                "name": p["metadata"]["name"],
                "pod": p,
                "changes": [],
                "resize": [],
                "spec_only": {},
                "status": states.READY if pod_ready(p) else states.NOT_READY,
                "reason": "",
            }
            for p in workload.pods
        ]
    )
    result = {"changed": False}
    result.update(summary(params, workload, plans, targets, resources))
    result["disruption_budgets"] = disruption_budgets(kube, namespace, workload.pods) if workload.pods else []
    result["api_requests"] = kube.requests
    return result


def summary(params, workload, plans, targets, resources):
    """The plan as both modules report it (the info module's result, the upgrade module's ``plan``)."""
    todo = [p["name"] for p in to_do(plans, params)]
    return {
        "owner": owner_summary(workload, params["namespace"]),
        "targets": targets,
        "resources": resources,
        "pods": [pod_entry(p["pod"], p["changes"], state=p["status"], reason=p["reason"]) for p in plans],
        "needs_upgrade": sorted(p["name"] for p in plans if p["changes"] or p["resize"]),
        "in_progress": states.names_in(plans, (states.IN_PROGRESS,), key="status"),
        "already_current": states.names_in(plans, (states.CURRENT,), key="status"),
        "spec_only": sorted(p["name"] for p in plans if p["spec_only"]),
        "skipped": states.names_in(plans, (states.SKIPPED,), key="status"),
        "not_ready": sorted(p["name"] for p in plans if not pod_ready(p["pod"])),
        "planned_batches": plan_batches(todo, params.get("batch_size"), params.get("canary"), total=len(workload.pods)),
        "template_images": current_images(workload.template_spec) if workload.owner else {},
        "template_current": bool(
            workload.owner and (targets or resources) and not image_changes(workload.template_spec, targets or {}) and not template_changes(workload, resources)
        ),
        "pending_template_sync": bool(workload.owner and pending_sync(workload.owner)),
        "last_upgrade": recorded_upgrade(workload.owner),
    }


def check_healthy(plan, allowed):
    """Refuse, before any write, to start on a workload with as many pods not Ready as a batch may take down
    (pods an earlier run left restarting do not count: the run waits for them first)."""
    unready = [name for name in plan["not_ready"] if name not in set(plan["in_progress"])]
    budget = max([len(batch) for batch in plan["planned_batches"]] or [1])
    if allowed or len(unready) < budget:
        return
    owner = plan["owner"]
    what = (
        "%s %s/%s" % (owner.get("kind"), owner.get("namespace"), owner.get("name"))
        if owner.get("kind")
        else "the pods of %s in %s" % (owner.get("selector"), owner.get("namespace"))
    )
    raise InplaceError(
        "%s is not healthy to begin with: %d pods are not Ready (%s), as many as a batch (%d) may take down; nothing "
        "was changed. Fix them first, or set allow_unhealthy (the role's inplace_upgrade_allow_unhealthy) to start "
        "anyway." % (what, len(unready), ", ".join(unready), budget)
    )


def spec_only_containers(pod, targets):
    """``{container: why}`` for the targets this live pod's kubelet would only carry in its spec."""
    found = {}
    for name in targets:
        reason = spec_only_reason(pod, name)
        if reason:
            found[name] = reason
    return found


def without(targets, names):
    return dict((k, v) for k, v in targets.items() if k not in names)
