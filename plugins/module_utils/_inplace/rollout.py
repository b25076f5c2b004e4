# -*- coding: utf-8 -*-
# Copyright: inplace.kubernetes contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The upgrade itself: plan, patch batch after batch, wait, handle failure, sync the template."""

from __future__ import annotations

import datetime
import time
from concurrent.futures import ThreadPoolExecutor

from ansible_collections.inplace.kubernetes.plugins.module_utils._inplace import events
from ansible_collections.inplace.kubernetes.plugins.module_utils._inplace.client import api_path
from ansible_collections.inplace.kubernetes.plugins.module_utils._inplace.controller import ControllerWatch
from ansible_collections.inplace.kubernetes.plugins.module_utils._inplace.discovery import discover, disruption_budgets, list_items
from ansible_collections.inplace.kubernetes.plugins.module_utils._inplace.durable import (
    TemplateSync,
    pending_sync,
    template_needs_sync,
)
from ansible_collections.inplace.kubernetes.plugins.module_utils._inplace.errors import ApiError, InplaceError, PreconditionFailed
from ansible_collections.inplace.kubernetes.plugins.module_utils._inplace.inputs import check_batching, check_name, check_targets
from ansible_collections.inplace.kubernetes.plugins.module_utils._inplace.patch import (
    check_containers,
    current_images,
    image_changes,
    image_patch,
)
from ansible_collections.inplace.kubernetes.plugins.module_utils._inplace.plan import plan_batches
from ansible_collections.inplace.kubernetes.plugins.module_utils._inplace import states
from ansible_collections.inplace.kubernetes.plugins.module_utils._inplace.report import diff_for, pod_entry, state_summary
from ansible_collections.inplace.kubernetes.plugins.module_utils._inplace.resize import Resizer
from ansible_collections.inplace.kubernetes.plugins.module_utils._inplace.resized import combined, expected_progress
from ansible_collections.inplace.kubernetes.plugins.module_utils._inplace.resources import check_resources
from ansible_collections.inplace.kubernetes.plugins.module_utils._inplace.upgrade_record import (
    LAST_UPGRADE_ANNOTATION, annotation_patch, new_record, recorded_upgrade, stale_reason)
from ansible_collections.inplace.kubernetes.plugins.module_utils._inplace.window import parse_timestamp
from ansible_collections.inplace.kubernetes.plugins.module_utils._inplace.wait import (
    DONE,
    FAILED,
    VANISHED,
    baseline_of,
    plan_baseline,
    pod_generation,
    pod_progress,
    pod_ready,
    spec_only_reason,
)
from ansible_collections.inplace.kubernetes.plugins.module_utils._inplace.watch import Expectation, wait_for_pods

MAX_PARALLEL_WRITES = 16
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


def parse_not_after(value):
    """An aware datetime from an ISO 8601 string with offset (``Z`` allowed), or ``None``."""
    if not value:
        return None
    try:
        moment = parse_timestamp(value)
    except ValueError:
        raise InplaceError("not_after %r is not an ISO 8601 date-time such as 2026-11-25T04:00:00+00:00" % value)
    if moment.tzinfo is None:
        raise InplaceError("not_after %r has no UTC offset; add one, e.g. +00:00" % value)
    return moment


class Rollout(object):

    def __init__(self, kube, params, check_mode=False, diff_mode=False, warn=None):
        self.kube = kube
        self.params = params
        self.check_mode = check_mode
        self.diff_mode = diff_mode
        self.warn = warn or (lambda msg: None)
        self.namespace = params["namespace"]
        self.kind = params.get("kind") or "Deployment"
        self.recorder = events.Recorder(kube, enabled=params.get("events", True), warn=self.warn)
        self.controller = None
        self.entries = {}
        self.patched = []
        self.rolled_back = []
        self.batch_reports = []
        self.sync_steps = []
        self.started = time.monotonic()
        self._touched_batches = []
        self._batch_touched = []
        self.pdb_notes = []
        self.spec_notes = {}
        self.resize = Resizer(kube, params)  # in-place CPU/memory resize (resize.py); empty without resources

    def _owner_summary(self, workload):
        if workload.owner:
            return workload.summary()
        return {"kind": None, "selector": workload.selector, "namespace": self.namespace}

    # -- planning ---------------------------------------------------------------------------

    def _discover(self):
        return discover(self.kube, self.kind, self.params.get("name"), self.namespace, self.params.get("label_selectors"))

    def _resolve_targets(self, workload):
        params = self.params
        if params.get("rollback"):
            record = recorded_upgrade(workload.owner)
            if not record:
                raise InplaceError("%s %s/%s has no recorded upgrade (annotation %s) to roll back"
                                   % (self.kind, self.namespace, params["name"], LAST_UPGRADE_ANNOTATION))
            stale = stale_reason(record, current_images(workload.template_spec or {}), workload.pods)
            if stale:
                raise InplaceError(
                    "%s %s/%s: the recorded upgrade (annotation %s, %s) no longer describes the workload: %s. It changed "
                    "since (a rollout, `kubectl rollout undo`, which copies a ReplicaSet's annotations back, or an "
                    "edit); nothing was changed. Name the images to go to with containers instead of rollback"
                    % (self.kind, self.namespace, params["name"], LAST_UPGRADE_ANNOTATION, record.get("time") or "undated",
                       stale))
            self.resize.wanted = self.resize.recorded_previous(record)
            return dict(record["previous"])
        if params.get("image"):
            spec = workload.template_spec or (workload.pods[0]["spec"] if workload.pods else {})
            names = [c.get("name") for c in spec.get("containers") or []]
            if len(names) != 1:
                raise InplaceError("image is a shorthand for pods with exactly one container; these have %d (%s): "
                                   "use containers instead" % (len(names), ", ".join(names)))
            return {names[0]: params["image"]}
        return dict(params.get("containers") or {})

    def _check_workload(self, workload, targets):
        what = "%s %s/%s" % (workload.kind, self.namespace, workload.name)
        self.resize.check(workload)
        if workload.owner:
            check_containers(workload.template_spec, targets, "the pod template of " + what)
        for pod in workload.pods:
            check_containers(pod.get("spec", {}), targets, "pod " + pod["metadata"]["name"])
        if workload.kind == "Deployment" and not self.params.get("allow_mid_rollout"):
            groups = workload.pod_replicasets()
            if len(groups) > 1:
                raise InplaceError(
                    "%s is in the middle of a rollout: its pods belong to %d ReplicaSets (%s); wait for the rollout "
                    "to finish or set allow_mid_rollout" % (what, len(groups), ", ".join(
                        "%s: %d pods" % (k, len(v)) for k, v in sorted(groups.items()))))
            if workload.current_replicaset() is None and workload.owner.get("spec", {}).get("paused") \
                    and not pending_sync(workload.owner):
                raise InplaceError("%s is paused with a pod template that no ReplicaSet runs yet (a pending rollout); "
                                   "resume it first or set allow_mid_rollout" % what)

    def _plan(self, workload, targets):
        plans = []
        for pod in workload.pods:
            name = pod["metadata"]["name"]
            if MIRROR_ANNOTATION in (pod["metadata"].get("annotations") or {}):
                plans.append({"name": name, "pod": pod, "changes": [], "resize": [], "spec_only": {}, "status": states.SKIPPED,
                              "reason": "mirror pod of a static pod: the kubelet runs the manifest on its node and "
                                        "never an edited mirror pod; change the manifest instead"})
                continue
            changes = image_changes(pod.get("spec", {}), targets)
            spec_only = spec_only_containers(pod, targets)
            waited = without(targets, spec_only)
            state, reason = pod_progress(pod, waited) if waited else (DONE, "")
            resize = self.resize.changes(pod)
            if self.resize:
                state, reason = combined((state, reason), expected_progress(
                    pod, self.resize.expectation(pod, [], with_baseline=False)))
            changed = set(c["name"] for c in changes)
            notes = [spec_only[n] for n in sorted(spec_only) if n in changed]
            plans.append({"name": name, "pod": pod, "changes": changes, "resize": resize,
                          "spec_only": dict((n, r) for n, r in spec_only.items() if n in changed),
                          "status": states.NEEDS_UPGRADE if changes or resize else (
                              states.CURRENT if state == DONE else states.IN_PROGRESS),
                          "reason": "; ".join(([reason] if reason and not (changes or resize) else []) + notes)})
        wanted = self.params.get("pods")
        if wanted:
            known = set(p["name"] for p in plans)
            unknown = sorted(set(wanted) - known)
            if unknown:
                raise InplaceError("pods %s are not live pods of %s %s/%s" % (
                    ", ".join(unknown), workload.kind or "selector", self.namespace, workload.name or workload.selector))
            plans = [p for p in plans if p["name"] in set(wanted)]
        return plans

    def describe(self):
        """What the info module reports: pods, their state against the targets, the plan, budgets."""
        params = self.params
        workload = self._discover()
        targets = None
        if params.get("containers") or params.get("image") or params.get("rollback") or self.resize:
            targets = self._resolve_targets(workload)
            self._check_workload(workload, targets)
        plans = self._plan(workload, targets) if targets is not None else [
            {"name": p["metadata"]["name"], "pod": p, "changes": [], "resize": [], "spec_only": {},
             "status": states.READY if pod_ready(p) else states.NOT_READY, "reason": ""} for p in workload.pods]
        todo = [p["name"] for p in plans if p["changes"] or p["resize"]]
        if params.get("max_pods"):
            todo = todo[:params["max_pods"]]
        entries = [pod_entry(p["pod"], p["changes"], state=p["status"], reason=p["reason"]) for p in plans]
        not_ready = sorted(p["name"] for p in plans if not pod_ready(p["pod"]))
        return {
            "changed": False,
            "owner": self._owner_summary(workload),
            "targets": targets,
            "resources": self.resize.wanted,
            "pods": entries,
            "needs_upgrade": sorted(p["name"] for p in plans if p["changes"] or p["resize"]),
            "in_progress": sorted(p["name"] for p in plans if p["status"] == states.IN_PROGRESS),
            "already_current": sorted(p["name"] for p in plans if p["status"] == states.CURRENT),
            "spec_only": sorted(p["name"] for p in plans if p["spec_only"]),
            "skipped": sorted(p["name"] for p in plans if p["status"] == states.SKIPPED),
            "not_ready": not_ready,
            "planned_batches": plan_batches(todo, params.get("batch_size"), params.get("canary"), total=len(workload.pods)),
            "template_images": current_images(workload.template_spec) if workload.owner else {},
            "template_current": bool(workload.owner and (targets or self.resize) and not image_changes(
                workload.template_spec, targets or {}) and not self.resize.template_changes(workload)),
            "pending_template_sync": bool(workload.owner and pending_sync(workload.owner)),
            "last_upgrade": recorded_upgrade(workload.owner),
            "disruption_budgets": disruption_budgets(self.kube, self.namespace, workload.pods) if workload.pods else [],
            "api_requests": self.kube.requests,
        }

    # -- writes -----------------------------------------------------------------------------

    def _record_upgrade(self, workload, targets):
        if not workload.owner:
            return
        record = self.resize.record(new_record(current_images(workload.template_spec), targets), workload)
        if record:
            self.kube.merge_patch(api_path(workload.kind, self.namespace, workload.name), annotation_patch(record))

    def _patch_one(self, pod, targets, deadline, resources=None):
        """Resize the pod (``resources``, default this run's; resize.py), then patch its images."""
        resized = self.resize.patch(pod, deadline, wanted=resources)
        if resized is None:
            return self._patch_images(pod, targets, deadline)
        if resized["result"] != "patched":
            return dict(resized, changes=[])
        outcome = self._patch_images(resized["pod"], targets, deadline)
        if outcome["result"] == "current":
            outcome.update(result="patched", reason=resized.get("reason", ""))
        outcome["resize"] = resized["resize"]
        return outcome

    def _patch_images(self, pod, targets, deadline):
        name = pod["metadata"]["name"]
        path = api_path("Pod", self.namespace, name)
        try:
            patch, changes = image_patch(pod.get("spec", {}), targets, uid=pod["metadata"].get("uid"))
        except InplaceError as exc:
            return {"name": name, "result": "error", "reason": exc.msg, "pod": pod, "changes": []}
        if not changes:
            return {"name": name, "result": "current", "pod": pod, "changes": []}
        try:
            return {"name": name, "result": "patched", "pod": self.kube.json_patch(path, patch, deadline=deadline),
                    "changes": changes}
        except PreconditionFailed:
            try:
                fresh = self.kube.get(path, deadline=deadline)
            except ApiError as exc:
                if exc.status == 404:
                    return {"name": name, "result": "vanished", "reason": "pod was deleted", "pod": pod, "changes": changes}
                raise
            if fresh["metadata"].get("uid") != pod["metadata"].get("uid"):
                return {"name": name, "result": "vanished", "pod": pod, "changes": changes,
                        "reason": "pod was deleted (a new pod of the same name replaced it)"}
            if not image_changes(fresh.get("spec", {}), targets):
                return {"name": name, "result": "patched", "pod": fresh, "changes": changes,
                        "reason": "already set to the target by someone else"}
            now = current_images(fresh.get("spec", {}))
            return {"name": name, "result": "conflict", "pod": fresh, "changes": changes,
                    "reason": "changed concurrently (now %s); not overwritten" % ", ".join(
                        "%s=%s" % (c["name"], now.get(c["name"])) for c in changes)}
        except ApiError as exc:
            if exc.status == 404:
                return {"name": name, "result": "vanished", "reason": "pod was deleted", "pod": pod, "changes": changes}
            return {"name": name, "result": "error", "reason": exc.msg, "pod": pod, "changes": changes}

    def _patch_many(self, pods_and_targets, deadline):
        if not pods_and_targets:
            return []
        workers = min(MAX_PARALLEL_WRITES, len(pods_and_targets))
        if workers == 1:
            return [self._patch_one(item[0], item[1], deadline, *item[2:]) for item in pods_and_targets]
        with ThreadPoolExecutor(max_workers=workers) as pool:
            return list(pool.map(lambda item: self._patch_one(item[0], item[1], deadline, *item[2:]), pods_and_targets))

    def _fresh_pods(self, workload, names):
        selector = workload.selector
        items = list_items(self.kube, "Pod", self.namespace, selector)
        wanted = set(names)
        return dict((p["metadata"]["name"], p) for p in items if p["metadata"]["name"] in wanted)

    def _wait(self, expectations, workload, on_done=None):
        if not self.params.get("wait", True) or not expectations:
            return dict((e.name, None) for e in expectations)
        return wait_for_pods(self.kube, self.namespace, expectations, float(self.params.get("wait_timeout") or 300),
                             selector=workload.selector, min_ready_seconds=self.params.get("min_ready_seconds") or 0,
                             on_done=on_done)

    def _upgraded(self, targets):
        """The ``on_done`` of a batch's wait: the pod's Event is queued the moment the pod is seen done."""
        message = ("containers restarted in place on %s" if not self.resize else "changed in place: %s") % (
            self._target_text(targets))
        return lambda name, pod: self.recorder.record(pod, "Pod", events.POD_UPGRADED, message)

    # -- the run ----------------------------------------------------------------------------

    def run(self):
        # Remembered now, while the controller that started the run is surely there (describe() never needs it).
        self.controller = ControllerWatch(enabled=self.params.get("stop_when_orphaned", True) and not self.check_mode)
        try:
            return self._run()
        finally:
            self.recorder.close()

    def _run(self):
        params = self.params
        workload = self._discover()
        if workload.owner and pending_sync(workload.owner) and not self.check_mode:
            # A previous run died in the middle of the template sync: finish it before anything else.
            self._run_sync(TemplateSync(self.kube, workload, {}, time.monotonic() + 120), workload)
            workload = self._discover()
        targets = self._resolve_targets(workload)
        self._targets = targets
        self._check_workload(workload, targets)
        plans = self._plan(workload, targets)
        todo = [p for p in plans if p["changes"] or p["resize"]]
        if params.get("max_pods"):
            todo = todo[:params["max_pods"]]
        batches = plan_batches([p["name"] for p in todo], params.get("batch_size"), params.get("canary"),
                               total=len(workload.pods))
        by_name = dict((p["name"], p) for p in plans)
        result = {"owner": self._owner_summary(workload), "targets": targets, "resources": self.resize.wanted,
                  "planned_batches": batches}
        sync_wanted = bool(params.get("sync_template", True) and workload.owner)
        template_before = current_images(workload.template_spec) if workload.owner else None
        self._check_spec_only(todo)
        self._warn_ephemeral(todo)

        if self.check_mode:
            return self._check_run(workload, targets, plans, todo, batches, result, sync_wanted, template_before)

        if todo:
            self._record_upgrade(workload, targets)
            self.recorder.record(workload.owner, workload.kind, events.STARTED,
                                 "in-place upgrade of %d pods in %d batches to %s" % (
                                     len(todo), len(batches), self._target_text(targets)))
        for plan in plans:
            self.entries[plan["name"]] = pod_entry(plan["pod"], state=plan["status"], reason=plan["reason"])
        in_progress = [p for p in plans if p["status"] == states.IN_PROGRESS]
        if in_progress and params.get("wait", True):
            # Pods a previous run patched, still restarting: wait for them before touching more.
            expectations = []
            for plan in in_progress:
                waited = without(targets, spec_only_containers(plan["pod"], targets))
                expectations.append(Expectation(plan["name"], plan["pod"]["metadata"]["uid"], waited,
                                                plan_baseline(plan["pod"], waited),
                                                resize=self.resize.expectation(plan["pod"], [], with_baseline=False)))
            outcomes = self._wait(expectations, workload)
            self._settle(outcomes, [p["name"] for p in in_progress], states.CURRENT)
        self._run_batches(batches, 0, len(batches), workload, targets, by_name, plans, template_before)

        current = self._catch_up(workload, targets, by_name, plans, len(batches), template_before)
        synced = self._sync_template(workload, targets, sync_wanted, current)
        if self.patched:
            self.recorder.record(workload.owner, workload.kind, events.COMPLETED,
                                 "%d pods upgraded in place to %s" % (len(self.patched), self._target_text(targets)))
        return self._result(result, plans, synced, template_before, targets, changed=bool(self.patched or self.sync_steps))

    def _check_spec_only(self, todo):
        """Refuse, before any write, image changes the kubelet would never apply to the live pods."""
        blocked = {}
        for plan in todo:
            for reason in plan.get("spec_only", {}).values():
                blocked.setdefault(reason, []).append(plan["name"])
        if not blocked or self.params.get("allow_spec_only"):
            return
        raise InplaceError(
            "nothing patched: %s. Set allow_spec_only=true to accept this as a spec-only change (the pods' spec and "
            "the owner's template get the new image, the pods are reported spec_only and not waited for)" % "; ".join(
                "%s (pods %s)" % (reason, _names_text(names)) for reason, names in sorted(blocked.items())))

    def _warn_ephemeral(self, todo):
        for plan in todo:
            changed = set(c["name"] for c in plan["changes"])
            for ephemeral in plan["pod"].get("spec", {}).get("ephemeralContainers") or []:
                if ephemeral.get("targetContainerName") in changed:
                    self.warn("pod %s: ephemeral container %s targets container %s, which the upgrade restarts; it "
                              "keeps the old container's process namespace and is never restarted" % (
                                  plan["name"], ephemeral.get("name"), ephemeral["targetContainerName"]))

    def _run_batches(self, batches, done, count, workload, targets, by_name, plans, template_before):
        """Batches ``done + 1 .. done + len(batches)`` of ``count``: pause between batches, stop when the
        maintenance window has closed or the controller is gone, then patch and wait."""
        for offset, batch in enumerate(batches):
            index = done + offset
            if index and self.params.get("pause_seconds"):
                time.sleep(self.params["pause_seconds"])
            self._check_stop(index, count, batches[offset:], workload, plans, template_before, targets)
            self._batch_touched = []
            self._run_batch(index, count, batch, workload, targets, by_name)

    def _catch_up(self, workload, targets, by_name, plans, done_batches, template_before, rounds=3):
        """Upgrade pods that appeared during the run (replacements, scale-up) before the template sync.

        Until the template is synced, the controller creates pods from the old template; they are found by a
        fresh discovery and upgraded in further batches of the same size (with the same pause and the same
        maintenance window), so the run ends with every live pod on the target images.

        Returns the last discovery when nothing was written after it (for the template sync), else ``None``.
        """
        params = self.params
        if not self.patched:
            return None
        catch_up = workload.owner and not params.get("pods") and not params.get("max_pods")
        known = set(p["pod"]["metadata"]["uid"] for p in plans)
        for dummy in range(rounds):
            fresh = self._discover()
            self._reconcile(fresh)
            new = [p for p in self._plan(fresh, targets) if p["pod"]["metadata"]["uid"] not in known
                   and (p["changes"] or p["resize"])]
            if not new or not catch_up:
                return fresh
            for plan in new:
                known.add(plan["pod"]["metadata"]["uid"])
                by_name[plan["name"]] = plan
                self.entries[plan["name"]] = pod_entry(plan["pod"], state=plan["status"],
                                                       reason="appeared during the run")
            extra = plan_batches([p["name"] for p in new], params.get("batch_size"), None, total=len(fresh.pods))
            count = done_batches + len(extra)
            self._run_batches(extra, done_batches, count, fresh, targets, by_name, plans, template_before)
            done_batches = count
        return None

    def _reconcile(self, workload):
        """Pods the report still lists but that are gone now (scale-down, eviction) are reported as vanished."""
        live = set(p["metadata"]["uid"] for p in workload.pods)
        for entry in self.entries.values():
            if entry.get("uid") not in live and entry["state"] != states.VANISHED_POD:
                entry["reason"] = "pod was deleted during the run (it was %s)" % entry["state"]
                entry["state"] = states.VANISHED_POD

    def _check_stop(self, index, count, left_batches, workload, plans, template_before, targets):
        """Stop between batches when the maintenance window has closed or the Ansible controller is gone."""
        not_after = parse_not_after(self.params.get("not_after"))
        closed = not_after is not None and datetime.datetime.now(datetime.timezone.utc) >= not_after
        orphaned = None if closed or not index else self.controller.gone()
        if not closed and orphaned is None:
            return
        left = [name for batch in left_batches for name in batch]
        result = self._result({"owner": self._owner_summary(workload), "targets": targets}, plans, False,
                              template_before, targets, changed=bool(self.patched))
        result["left"] = left
        where = "before batch %d/%d: stopped between batches, %d pods left on the old images: %s" % (
            index + 1, count, len(left), ", ".join(left))
        if closed:
            result["window_closed"] = True
            raise InplaceError("maintenance window closed (not_after %s) %s" % (self.params["not_after"], where),
                               **result)
        result["controller_gone"] = True
        message = "the Ansible controller that started this run is gone (process %d exited) %s" % (orphaned, where)
        self.recorder.record(workload.owner, workload.kind or "Pod", events.ABANDONED, message, warning=True)
        raise InplaceError(message, **result)

    def _check_run(self, workload, targets, plans, todo, batches, result, sync_wanted, template_before):
        deadline = time.monotonic() + 60
        outcomes = self._patch_many([(p["pod"], targets) for p in todo], deadline)
        problems = ["%s: %s" % (o["name"], o.get("reason")) for o in outcomes if o["result"] not in ("patched", "current")]
        would_patch = set(p["name"] for p in todo)
        for plan in plans:
            would = plan["name"] in would_patch
            self.entries[plan["name"]] = pod_entry(plan["pod"], plan["changes"] if would else None, patched=would,
                                                   state=states.WOULD_UPGRADE if would else plan["status"],
                                                   reason=plan["reason"])
        needs_sync = sync_wanted and template_needs_sync(workload, targets, self.resize.wanted) and len(todo) == len(
            [p for p in plans if p["changes"] or p["resize"]])
        result["template_synced"] = False
        result["template_sync"] = "would sync" if needs_sync else "not needed" if sync_wanted else "disabled"
        if problems:
            raise InplaceError("check mode: the API server would reject these patches: " + "; ".join(problems),
                               **self._result(result, plans, False, template_before, targets, changed=False))
        self.patched = [p["name"] for p in todo]
        return self._result(result, plans, False, template_before, targets, changed=bool(todo or needs_sync),
                            template_after=_apply(template_before, targets) if needs_sync else template_before)

    def _run_batch(self, index, count, batch, workload, targets, by_name):
        started = time.monotonic()
        remaining = list(batch)
        failed = []
        while remaining and not failed:
            chunk = self._pdb_chunk(workload, remaining) if self.params.get("respect_pdb") else remaining
            remaining = [name for name in remaining if name not in set(chunk)]
            failed = self._run_chunk(chunk, workload, targets, by_name)
        report = {"batch": index + 1, "of": count, "pods": batch, "seconds": round(time.monotonic() - started, 2),
                  "state": "failed" if failed else "done"}
        self.batch_reports.append(report)
        if failed:
            self._on_failure(index, count, workload, failed)
        self._touched_batches.append(self._batch_touched)

    def _pdb_chunk(self, workload, names):
        """The first pods of ``names`` that the PodDisruptionBudgets allow to restart now; waits for a budget."""
        deadline = time.monotonic() + float(self.params.get("wait_timeout") or 300)
        while True:
            fresh = list(self._fresh_pods(workload, [p["metadata"]["name"] for p in workload.pods]).values())
            budgets = disruption_budgets(self.kube, self.namespace, fresh)
            chunk = []
            used = dict((b["name"], 0) for b in budgets)
            for name in names:
                covering = [b for b in budgets if name in b["pods"]]
                if all(used[b["name"]] < b["disruptions_allowed"] for b in covering):
                    chunk.append(name)
                    for b in covering:
                        used[b["name"]] += 1
                elif chunk:
                    break
            if chunk:
                if len(chunk) < len(names):
                    self.pdb_notes.append("PodDisruptionBudget(s) %s allowed %d of %d pods at once" % (
                        ", ".join(sorted(b["name"] for b in budgets)), len(chunk), len(names)))
                return chunk
            if time.monotonic() >= deadline:
                blocking = ", ".join("%s (disruptionsAllowed=%s)" % (b["name"], b["disruptions_allowed"]) for b in budgets
                                     if any(n in b["pods"] for n in names))
                raise InplaceError("PodDisruptionBudget %s allowed no pod to restart within %ss; %d pods left: %s" % (
                    blocking, self.params.get("wait_timeout"), len(names), ", ".join(names)),
                    **self._result({"owner": self._owner_summary(workload)}, None, False, None, None,
                                   changed=bool(self.patched)))
            time.sleep(1.0)

    def _run_chunk(self, batch, workload, targets, by_name):
        params = self.params
        deadline = time.monotonic() + float(params.get("wait_timeout") or 300) + 60
        # The guarded patch tests the uid and the images the plan was made from: a pod replaced, or changed by
        # someone else, since discovery is refused by the API server, never overwritten. No re-read is needed.
        outcomes = self._patch_many([(by_name[name]["pod"], targets) for name in batch], deadline)
        patched_at = time.monotonic()
        touched, expectations, errors = [], [], []
        for outcome in outcomes:
            name = outcome["name"]
            if outcome["result"] == "patched":
                # What the containers looked like when the patch landed (the response's status, which the
                # patch did not change), or at discovery when someone else had already set the images.
                before = by_name[name]["pod"] if outcome.get("reason") else outcome["pod"]
                spec_only = spec_only_containers(by_name[name]["pod"], targets)
                waited = without(targets, spec_only)
                outcome["baseline"] = baseline_of(before, waited)
                outcome["spec_only"] = spec_only
                touched.append(outcome)
                self.patched.append(name)
                notes = "; ".join(spec_only[n] for n in sorted(spec_only))
                if notes:
                    self.spec_notes[name] = notes
                if not waited and not outcome.get("resize"):
                    self.entries[name] = pod_entry(outcome["pod"], outcome["changes"], patched=True,
                                                   state=states.SPEC_ONLY, reason=notes)
                    continue
                self.entries[name] = pod_entry(outcome["pod"], outcome["changes"], patched=True, state=states.PATCHED,
                                               reason="; ".join(r for r in (outcome.get("reason", ""), notes) if r))
                expectations.append(Expectation(name, outcome["pod"]["metadata"]["uid"], waited, outcome["baseline"],
                                                pod_generation(outcome["pod"]), patched_at,
                                                resize=self.resize.expectation(outcome["pod"], outcome.get("resize"))))
            elif outcome["result"] == "vanished":
                self.entries[name].update(state=states.VANISHED_POD, reason=outcome["reason"])
            elif outcome["result"] == "current":
                self.entries[name].update(state=states.CURRENT)
            else:
                self.entries[name] = pod_entry(outcome["pod"], outcome["changes"], patched=False,
                                               state=outcome["result"], reason=outcome["reason"])
                errors.append("%s: %s" % (name, outcome["reason"]))
        self._batch_touched.extend(touched)
        waited = self._wait(expectations, workload, on_done=self._upgraded(targets))
        failed = self._settle(waited, [e.name for e in expectations], states.UPGRADED)
        return failed + errors

    def _settle(self, outcomes, names, done_state):
        failed = []
        batch_failed = any(o is not None and o.state == FAILED for o in outcomes.values())
        for name in names:
            outcome = outcomes.get(name)
            entry = self.entries.get(name, {})
            if outcome is None:  # wait: false
                continue
            pod = outcome.pod or {}
            if outcome.pod:
                fresh_entry = pod_entry(pod, state=entry.get("state"), patched=entry.get("patched", False))
                for fresh_c, old_c in zip(fresh_entry["containers"], entry.get("containers", [])):
                    fresh_c["before"] = old_c.get("before")
                entry = fresh_entry
            if outcome.state == DONE:
                entry.update(state=done_state, reason=self.spec_notes.get(name, ""))
            elif outcome.state == VANISHED:
                entry.update(state=states.VANISHED_POD, reason=outcome.reason)
            elif outcome.state == FAILED:
                entry.update(state=states.FAILED_POD, reason=outcome.reason)
                failed.append("%s: %s" % (name, outcome.reason))
            elif batch_failed:
                entry.update(state=states.INTERRUPTED, reason="not done when the batch failed (%s)" % outcome.reason)
            else:
                entry.update(state=states.TIMED_OUT, reason=outcome.reason)
                failed.append("%s: not done after %ss (%s)" % (name, self.params.get("wait_timeout"), outcome.reason))
            self.entries[name] = entry
        return failed

    def _on_failure(self, index, count, workload, failed):
        mode = self.params.get("on_failure") or "rollback"
        # The failed batch first, then (rollback_all) the earlier batches, newest first, one batch at a time,
        # so a rollback never has more pods restarting at once than a batch.
        groups = []
        if mode in ("rollback", "rollback_all"):
            groups.append(self._batch_touched)
        if mode == "rollback_all":
            groups.extend(reversed(self._touched_batches))
        rolled, not_rolled = [], []
        for group in groups:
            if group:
                done, left = self._roll_back(group, workload)
                rolled.extend(done)
                not_rolled.extend(left)
        self.recorder.record(workload.owner, workload.kind or "Pod", events.FAILED,
                             "batch %d/%d failed: %s" % (index + 1, count, "; ".join(failed)[:900]), warning=True)
        message = "batch %d/%d failed: %s" % (index + 1, count, "; ".join(failed))
        if mode == "stop":
            message += ". on_failure=stop: pods left as they are"
        else:
            message += ". on_failure=%s: rolled back %d of %d pods in place%s" % (
                mode, len(rolled), len(rolled) + len(not_rolled), (" (%s)" % _names_text(rolled)) if rolled else "")
            if not_rolled:
                message += "; not rolled back: " + "; ".join("%s (%s)" % item for item in not_rolled[:20])
        details = self._result({"owner": self._owner_summary(workload), "targets": self._targets}, [],
                               False, None, None, changed=True)
        raise InplaceError(message, **details)

    def _roll_back(self, touched, workload):
        """Patch ``touched`` pods back to their previous images and wait for them; ``(rolled, [(name, why)])``.

        On the real kubelet the upgrade has usually killed the old container already, so the rollback
        is a new container on the old image; where the original container was never killed (the new
        image never got that far), that container still running counts as rolled back.
        """
        names = [t["name"] for t in touched]
        fresh = self._fresh_pods(workload, names)
        work, baselines, previous, not_rolled, resized_back = [], {}, {}, [], {}
        for item in touched:
            pod = fresh.get(item["name"])
            if pod is None:
                not_rolled.append((item["name"], "pod no longer exists"))
                continue
            back = dict((c["name"], c["before"]) for c in item["changes"])
            waited = without(back, item.get("spec_only") or {})
            previous[item["name"]] = waited
            baselines[item["name"]] = baseline_of(pod, waited)
            for name, base in baselines[item["name"]].items():
                original = (item.get("baseline") or {}).get(name) or {}
                if original.get("running") and original.get("containerID"):
                    base["accept"] = original["containerID"]
            resized_back[item["name"]] = self.resize.previous(item.get("resize"))
            work.append((pod, back, resized_back[item["name"]]))
        deadline = time.monotonic() + float(self.params.get("wait_timeout") or 300) + 60
        outcomes = self._patch_many(work, deadline)
        patched_at = time.monotonic()
        expectations, rolled = [], []
        for outcome in outcomes:
            name = outcome["name"]
            if outcome["result"] not in ("patched", "current"):
                not_rolled.append((name, "rollback patch %s: %s" % (outcome["result"], outcome.get("reason", ""))))
                entry = self.entries.get(name, {})
                entry.update(state=states.ROLLBACK_FAILED, reason="rollback patch %s: %s (after: %s)" % (
                    outcome["result"], outcome.get("reason", ""), entry.get("reason", "")))
                self.entries[name] = entry
            elif not previous[name] and not resized_back.get(name):
                rolled.append(name)
                self.entries[name] = pod_entry(outcome["pod"], state=states.ROLLED_BACK,
                                               reason=self.entries.get(name, {}).get("reason", ""))
            else:
                expectations.append(Expectation(name, outcome["pod"]["metadata"]["uid"], previous[name],
                                                baselines[name], pod_generation(outcome["pod"]), patched_at,
                                                resize=self.resize.expectation(outcome["pod"], outcome.get("resize"),
                                                                               wanted=resized_back[name])))
        waited = wait_for_pods(self.kube, self.namespace, expectations, float(self.params.get("wait_timeout") or 300),
                               selector=workload.selector, fail_fast=False) if expectations else {}
        for expectation in expectations:
            outcome = waited.get(expectation.name)
            entry = self.entries.get(expectation.name, {})
            if outcome is not None and outcome.state == DONE:
                entry = pod_entry(outcome.pod, state=states.ROLLED_BACK, reason=entry.get("reason", ""))
                rolled.append(expectation.name)
                self.recorder.record(outcome.pod, "Pod", events.ROLLED_BACK, "restored %s in place" % _images_text(
                    expectation.targets))
            else:
                why = outcome.reason if outcome else "not seen"
                entry["state"] = states.ROLLBACK_FAILED
                entry["reason"] = "rollback not done: %s (after: %s)" % (why, entry.get("reason", ""))
                not_rolled.append((expectation.name, why))
            self.entries[expectation.name] = entry
        self.rolled_back.extend(rolled)
        return rolled, not_rolled

    def _sync_template(self, workload, targets, wanted, current=None):
        if not wanted:
            return False
        fresh = current or (self._discover() if self.patched or self.rolled_back else workload)
        lagging = [p["metadata"]["name"] for p in fresh.pods if image_changes(p.get("spec", {}), targets)
                   or self.resize.changes(p)]
        if lagging:
            self.sync_steps_reason = "%d pods are not on the target images yet (%s)" % (
                len(lagging), ", ".join(lagging[:10]))
            return False
        if not template_needs_sync(fresh, targets, self.resize.wanted):
            return True
        before = len(self.sync_steps)
        self._run_sync(TemplateSync(self.kube, fresh, targets, time.monotonic() + 120, resources=self.resize.wanted),
                       fresh)
        steps = self.sync_steps[before:]
        self.recorder.record(fresh.owner, fresh.kind, events.TEMPLATE_SYNCED,
                             "pod template set to %s without recreating pods: %s" % (self._target_text(targets),
                                                                                     "; ".join(steps)))
        return True

    def _run_sync(self, sync, workload):
        """Run one template sync; a failure after any write reports ``changed`` and what was written."""
        try:
            steps = sync.run()
        except InplaceError as exc:
            self.sync_steps.extend(sync.steps)
            if not (sync.wrote or self.patched or self.rolled_back):
                raise
            details = self._result({"owner": self._owner_summary(workload),
                                    "targets": getattr(self, "_targets", None) or sync.targets},
                                   None, False, None, None, changed=True)
            details.update(dict((k, v) for k, v in exc.details.items() if k not in details))
            raise InplaceError(exc.msg, **details)
        self.sync_steps.extend(steps)

    def _result(self, result, plans, synced, template_before, targets, changed, template_after=None):
        entries = [self.entries[name] for name in sorted(self.entries)]
        result.update({
            "changed": changed,
            "pods": entries,
            "patched": sorted(self.patched),
            "already_current": states.names_in(entries, (states.CURRENT,)),
            "spec_only": states.names_in(entries, (states.SPEC_ONLY,)),
            "skipped": states.names_in(entries, (states.SKIPPED,)),
            "pending": states.names_in(entries, states.PENDING_STATES),
            "failed_pods": states.names_in(entries, states.FAILED_STATES),
            "rolled_back": sorted(self.rolled_back),
            "batches": self.batch_reports,
            "template_synced": synced if "template_synced" not in result else result["template_synced"],
            "template_sync_steps": self.sync_steps,
            "api_requests": self.kube.requests,
            "seconds": round(time.monotonic() - self.started, 2),
            "summary": state_summary(entries),
        })
        if self.pdb_notes:
            result["disruption_budget_notes"] = self.pdb_notes
        if getattr(self, "sync_steps_reason", None):
            result["template_sync"] = "not synced: " + self.sync_steps_reason
        if self.diff_mode and plans is not None and targets is not None:
            after = template_after if template_after is not None else (
                current_images(self._template_now()) if synced and template_before is not None else template_before)
            result["diff"] = diff_for([p for p in plans if p["name"] in set(self.patched)], template_before, after)
            self.resize.add_template_diff(result["diff"], synced or result.get("template_sync") == "would sync")
        return result

    def _target_text(self, targets):
        return "; ".join(t for t in (_images_text(targets), self.resize.text() and "resources " + self.resize.text()) if t)

    def _template_now(self):
        try:
            owner = self.kube.get(api_path(self.kind, self.namespace, self.params["name"]))
            return owner.get("spec", {}).get("template", {}).get("spec", {})
        except ApiError:
            return {}


def _apply(images, targets):
    if images is None:
        return None
    result = dict(images)
    result.update(dict((k, v) for k, v in targets.items() if k in result))
    return result


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


def _names_text(names, limit=20):
    names = list(names)
    return ", ".join(names) if len(names) <= limit else "%s and %d more" % (", ".join(names[:limit]), len(names) - limit)


def _images_text(targets):
    return ", ".join("%s=%s" % (k, v) for k, v in sorted((targets or {}).items()))
