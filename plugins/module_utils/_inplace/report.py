# -*- coding: utf-8 -*-
# Copyright: inplace.kubernetes contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The module's result: per-pod entries, the summary lists and the diff (pure)."""

from __future__ import annotations

from ansible_collections.inplace.kubernetes.plugins.module_utils._inplace import states
from ansible_collections.inplace.kubernetes.plugins.module_utils._inplace.patch import current_images
from ansible_collections.inplace.kubernetes.plugins.module_utils._inplace.resources import shown
from ansible_collections.inplace.kubernetes.plugins.module_utils._inplace.wait import find_status, pod_ready


def pod_entry(pod, changes=None, patched=False, state=None, reason=""):
    """One pod as the module reports it."""
    metadata = pod.get("metadata", {})
    status = pod.get("status") or {}
    names = [c.get("name") for c in (pod.get("spec", {}).get("containers") or []) + (pod.get("spec", {}).get("initContainers") or [])]
    by_name = dict((c["name"], c) for c in changes or [])
    images = current_images(pod.get("spec", {}))
    resources = dict(
        (c.get("name"), c.get("resources")) for c in (pod.get("spec", {}).get("containers") or []) + (pod.get("spec", {}).get("initContainers") or [])
    )
    containers = []
    for name in names:
        change = by_name.get(name)
        cs = find_status(pod, name) or {}
        containers.append(
            {
                "name": name,
                "before": change["before"] if change else images.get(name),
                "after": change["after"] if change else images.get(name),
                "image_status": cs.get("image"),
                "ready": cs.get("ready", False),
                "restart_count": cs.get("restartCount", 0),
                "resources": shown(resources.get(name)),
            }
        )
    return {
        "name": metadata.get("name"),
        "uid": metadata.get("uid"),
        "node": pod.get("spec", {}).get("nodeName"),
        "pod_ip": status.get("podIP"),
        "containers": containers,
        "patched": patched,
        "ready": pod_ready(pod),
        "restart_count": sum(c["restart_count"] for c in containers),
        "state": state or (states.READY if pod_ready(pod) else states.NOT_READY),
        "reason": reason,
    }


def diff_for(plans, template_before=None, template_after=None):
    """``{before, after}`` images per pod (and of the owner's template) for ``--diff``; resources resized in place
    per pod under ``resources``."""
    before, after = {"pods": {}}, {"pods": {}}
    for plan in plans:
        if plan["changes"]:
            before["pods"][plan["name"]] = dict((c["name"], c["before"]) for c in plan["changes"])
            after["pods"][plan["name"]] = dict((c["name"], c["after"]) for c in plan["changes"])
        for change in plan.get("resize") or []:
            before.setdefault("resources", {}).setdefault(plan["name"], {})[change["name"]] = shown(change["before"])
            after.setdefault("resources", {}).setdefault(plan["name"], {})[change["name"]] = shown(change["after"])
    if template_before is not None and template_before != template_after:
        before["template"] = template_before
        after["template"] = template_after
    return {"before": before, "after": after}


def state_summary(entries):
    """``"3 upgraded, 1 failed ..."`` for messages."""
    counts = {}
    for entry in entries:
        counts[entry["state"]] = counts.get(entry["state"], 0) + 1
    return ", ".join("%d %s" % (n, s) for s, n in sorted(counts.items()))


def names_text(names, limit=20):
    """``"a, b, c"``, or the first ``limit`` names ``"and N more"``, for messages."""
    names = list(names)
    return ", ".join(names) if len(names) <= limit else "%s and %d more" % (", ".join(names[:limit]), len(names) - limit)


def images_text(targets):
    """``"app=img:2, side=img:3"`` for messages and Events."""
    return ", ".join("%s=%s" % (k, v) for k, v in sorted((targets or {}).items()))


def run_report(plan, results, failed_result=None, rolled_back=()):
    """What a whole role run did to each pod, from the plan and the module results (pure).

    ``plan`` is the ``k8s_inplace_upgrade_info`` result, ``results`` the ``k8s_inplace_upgrade`` results
    in order (a later result's entry for a pod wins), ``failed_result`` the result of the task that
    failed (counted when it reports pods), ``rolled_back`` pods rolled back outside those results.
    """
    results = list(results or [])
    if failed_result and failed_result.get("pods") is not None:
        results.append(failed_result)
    by_name = {}
    for entry in (plan or {}).get("pods") or []:
        by_name[entry["name"]] = entry
    for result in results:
        for entry in result.get("pods") or []:
            by_name[entry["name"]] = entry
    rolled = set(rolled_back or [])
    for result in results:
        rolled.update(result.get("rolled_back") or [])
    rolled = sorted(name for name in rolled if name in by_name)
    for name in rolled:
        by_name[name] = dict(by_name[name], state=states.ROLLED_BACK)
    pods = [by_name[name] for name in sorted(by_name)]
    current = set(states.names_in(pods, states.ON_TARGET))
    failed = states.names_in(pods, states.FAILED_STATES)
    patched = set()
    for result in results:
        patched.update(result.get("patched") or [])
    last = results[-1] if results else {}
    return {
        "pods": pods,
        "upgraded": sorted(patched & set(states.names_in(pods, (states.UPGRADED, states.CURRENT)))),
        "spec_only": states.names_in(pods, (states.SPEC_ONLY,)),
        "already_current": list((plan or {}).get("already_current") or []),
        "rolled_back": rolled,
        "failed": failed,
        "left": sorted(set(by_name) - current - set(failed)),
        "template_synced": last["template_synced"] if "template_synced" in last else (plan or {}).get("template_current"),
        "disruption_budget_notes": [note for result in results for note in result.get("disruption_budget_notes") or []],
    }
