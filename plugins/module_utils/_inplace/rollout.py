# -*- coding: utf-8 -*-
# Copyright: inplace.kubernetes contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The upgrade itself, a short orchestrator: plan (planning.py), hold the workload's lease (run_lease.py), patch
batch after batch and wait (batches.py), answer a failure (rollback.py), sync the template (template_sync.py),
report (result.py)."""

from __future__ import annotations

import time

from ansible_collections.inplace.kubernetes.plugins.module_utils._inplace import events, states
from ansible_collections.inplace.kubernetes.plugins.module_utils._inplace.batches import Batches
from ansible_collections.inplace.kubernetes.plugins.module_utils._inplace.orphan_watch import ControllerWatch
from ansible_collections.inplace.kubernetes.plugins.module_utils._inplace.errors import InplaceError
from ansible_collections.inplace.kubernetes.plugins.module_utils._inplace.patch import current_images, image_changes
from ansible_collections.inplace.kubernetes.plugins.module_utils._inplace.patching import patch_many, record_upgrade
from ansible_collections.inplace.kubernetes.plugins.module_utils._inplace.planning import (
    check_healthy,
    check_spec_only,
    check_workload,
    discover_workload,
    ephemeral_warnings,
    owner_summary,
    plan_pods,
    resolve_targets,
    spec_only_containers,
    summary,
    to_do,
    without,
)
from ansible_collections.inplace.kubernetes.plugins.module_utils._inplace.report import pod_entry
from ansible_collections.inplace.kubernetes.plugins.module_utils._inplace.resize import (
    check_support,
    expectation,
    pod_changes,
    resolve_resources,
    target_text,
    template_resources,
)
from ansible_collections.inplace.kubernetes.plugins.module_utils._inplace.result import Progress
from ansible_collections.inplace.kubernetes.plugins.module_utils._inplace.rollback import Rollback
from ansible_collections.inplace.kubernetes.plugins.module_utils._inplace.run_lease import RunLease
from ansible_collections.inplace.kubernetes.plugins.module_utils._inplace.sync_proofs import pending_sync, template_needs_sync
from ansible_collections.inplace.kubernetes.plugins.module_utils._inplace.template_sync import TemplateSync
from ansible_collections.inplace.kubernetes.plugins.module_utils._inplace.wait import plan_baseline
from ansible_collections.inplace.kubernetes.plugins.module_utils._inplace.watch import Expectation


class Rollout(object):
    def __init__(self, kube, params, check_mode=False, diff_mode=False, warn=None):
        self.kube = kube
        self.params = params
        self.check_mode = check_mode
        self.warn = warn or (lambda msg: None)
        self.namespace = params["namespace"]
        self.recorder = events.Recorder(kube, enabled=params.get("events", True), warn=self.warn)
        # Remembered now, while the controller that started the run is surely there.
        self.controller = ControllerWatch(enabled=params.get("stop_when_orphaned", True) and not check_mode)
        self.progress = Progress(kube, params, diff_mode=diff_mode)
        self.rollback = Rollback(kube, params, self.progress, self.recorder)
        self.lease = RunLease(kube, params, check_mode=check_mode, warn=self.warn)
        self.batches = Batches(kube, params, self.progress, self.recorder, self.controller, self.rollback, self.lease)
        self.plan = None

    def run(self):
        """The run; its result, or its failure's details, carry the ``plan`` and the ``lease`` (released here)."""
        outcome = None
        try:
            outcome = self._run()
            return outcome
        except InplaceError as exc:
            outcome = exc.details
            if self.plan is not None and "pods" not in outcome:
                # Raised without the run's state (a check before the first write, the lease): add it.
                progress = self.progress
                for key, value in progress.result(changed=bool(progress.patched or progress.sync_steps)).items():
                    outcome.setdefault(key, value)
            raise
        finally:
            lease = self.lease.end()
            self.recorder.close()
            if outcome is not None:
                if self.plan is not None:
                    outcome.setdefault("plan", self.plan)
                if lease is not None:
                    outcome["lease"] = lease
                if "api_requests" in outcome:
                    # Every request of the run: the lease's release and the last Events included.
                    outcome["api_requests"] = self.kube.requests

    def _run(self):
        params, progress = self.params, self.progress
        workload = discover_workload(self.kube, params)
        if workload.owner and pending_sync(workload.owner) and not self.check_mode:
            # A previous run died in the middle of the template sync: finish it before anything else.
            self.lease.take()
            self._run_sync(TemplateSync(self.kube, workload, {}, time.monotonic() + params.get("sync_timeout", 120)), workload)
            workload = discover_workload(self.kube, params)
        targets, resources = resolve_targets(params, workload), resolve_resources(params, workload)
        progress.owner, progress.targets = owner_summary(workload, self.namespace), targets
        progress.resources, progress.template_resources = resources, template_resources(workload, resources)
        check_support(self.kube, resources)
        check_workload(params, workload, targets, resources)
        plans = plan_pods(params, workload, targets, resources)
        todo = to_do(plans, params)
        self.plan = summary(params, workload, plans, targets, resources)
        if not params.get("plan_pods", True):
            # The pods as planned once, as the result's entries from the start (plan_pods).
            del self.plan["pods"]
            self._enter_plans(plans)
        batches = self.plan["planned_batches"]
        by_name = dict((p["name"], p) for p in plans)
        sync_wanted = bool(params.get("sync_template", True) and workload.owner)
        template_before = current_images(workload.template_spec) if workload.owner else None
        check_spec_only(todo, params.get("allow_spec_only"))
        if todo or self.plan["in_progress"] or (sync_wanted and template_needs_sync(workload, targets, resources)):
            # Something to write: the last checks before the first write, then the lease.
            check_healthy(self.plan, params.get("allow_unhealthy", True))
            self.lease.take()
        for warning in ephemeral_warnings(todo):
            self.warn(warning)

        if self.check_mode:
            return self._check_run(workload, targets, plans, todo, batches, sync_wanted, template_before)

        if todo:
            record_upgrade(self.kube, workload, targets, resources)
            self.recorder.record(
                workload.owner,
                workload.kind,
                events.STARTED,
                "in-place upgrade of %d pods in %d batches to %s" % (len(todo), len(batches), target_text(targets, resources)),
            )
        if params.get("plan_pods", True):
            self._enter_plans(plans)  # (without plan_pods, entered once, right after the plan)
        self._wait_in_progress(workload, targets, plans)
        now = batches[: params["max_batches"]] if params.get("max_batches") else batches
        self.batches.run(now, 0, len(batches), workload, targets, by_name, plans, template_before)

        if len(now) < len(batches):
            # max_batches: the rest is for later calls; no catch-up, and the template waits for every pod.
            synced = False
            if sync_wanted:
                self.progress.sync_reason = "%d batches left for later calls" % (len(batches) - len(now))
        else:
            current = self.batches.catch_up(workload, targets, by_name, plans, len(batches), template_before)
            synced = self._sync_template(workload, targets, sync_wanted, current)
        if progress.patched:
            self.recorder.record(
                workload.owner,
                workload.kind,
                events.COMPLETED,
                "%d pods upgraded in place to %s" % (len(progress.patched), target_text(targets, progress.resources)),
            )
        return progress.result(
            changed=bool(progress.patched or progress.sync_steps), plans=plans, synced=synced, template_before=template_before, planned_batches=batches
        )

    def _enter_plans(self, plans):
        """Each planned pod's entry in the result, in its planned state."""
        for plan in plans:
            self.progress.entries[plan["name"]] = pod_entry(plan["pod"], state=plan["status"], reason=plan["reason"])

    def _wait_in_progress(self, workload, targets, plans):
        """Pods a previous run patched, still restarting: wait for them before touching more."""
        in_progress = [p for p in plans if p["status"] == states.IN_PROGRESS]
        if not in_progress or not self.params.get("wait", True):
            return
        expectations = []
        for plan in in_progress:
            waited = without(targets, spec_only_containers(plan["pod"], targets))
            expectations.append(
                Expectation(
                    plan["name"],
                    plan["pod"]["metadata"]["uid"],
                    waited,
                    plan_baseline(plan["pod"], waited),
                    resize=expectation(plan["pod"], [], self.progress.resources, with_baseline=False),
                )
            )
        outcomes = self.batches.wait(expectations, workload)
        self.batches.settle(outcomes, [p["name"] for p in in_progress], states.CURRENT)

    def _check_run(self, workload, targets, plans, todo, batches, sync_wanted, template_before):
        """Check mode: every patch sent as a server-side dry run, nothing waited for, nothing synced."""
        progress = self.progress
        outcomes = patch_many(self.kube, self.namespace, [(p["pod"], targets, progress.resources) for p in todo], time.monotonic() + 60)
        problems = ["%s: %s" % (o["name"], o.get("reason")) for o in outcomes if o["result"] not in ("patched", "current")]
        would_patch = set(p["name"] for p in todo)
        for plan in plans:
            would = plan["name"] in would_patch
            progress.entries[plan["name"]] = pod_entry(
                plan["pod"], plan["changes"] if would else None, patched=would, state=states.WOULD_UPGRADE if would else plan["status"], reason=plan["reason"]
            )
        needs_sync = (
            sync_wanted and template_needs_sync(workload, targets, progress.resources) and len(todo) == len([p for p in plans if p["changes"] or p["resize"]])
        )
        sync = "would sync" if needs_sync else "not needed" if sync_wanted else "disabled"
        if problems:
            raise InplaceError(
                "check mode: the API server would reject these patches: " + "; ".join(problems),
                **progress.result(changed=False, plans=plans, template_before=template_before, planned_batches=batches, template_sync=sync),
            )
        progress.patched = [p["name"] for p in todo]
        return progress.result(
            changed=bool(todo or needs_sync),
            plans=plans,
            template_before=template_before,
            template_after=_apply(template_before, targets) if needs_sync else template_before,
            planned_batches=batches,
            template_sync=sync,
        )

    def _sync_template(self, workload, targets, wanted, current=None):
        if not wanted:
            return False
        progress = self.progress
        fresh = current or (discover_workload(self.kube, self.params) if progress.patched or progress.rolled_back else workload)
        lagging = [p["metadata"]["name"] for p in fresh.pods if image_changes(p.get("spec", {}), targets) or pod_changes(p, progress.resources)]
        if lagging:
            progress.sync_reason = "%d pods are not on the target images yet (%s)" % (len(lagging), ", ".join(lagging[:10]))
            return False
        if not template_needs_sync(fresh, targets, progress.resources):
            return True
        before = len(progress.sync_steps)
        self.lease.renew()
        self._run_sync(TemplateSync(self.kube, fresh, targets, time.monotonic() + self.params.get("sync_timeout", 120), resources=progress.resources), fresh)
        steps = progress.sync_steps[before:]
        self.recorder.record(
            fresh.owner,
            fresh.kind,
            events.TEMPLATE_SYNCED,
            "pod template set to %s without recreating pods: %s" % (target_text(targets, progress.resources), "; ".join(steps)),
        )
        return True

    def _run_sync(self, sync, workload):
        """Run one template sync; a failure after any write reports ``changed`` and what was written."""
        progress = self.progress
        try:
            steps = sync.run()
        except InplaceError as exc:
            progress.sync_steps.extend(sync.steps)
            if not (sync.wrote or progress.patched or progress.rolled_back):
                raise
            details = progress.result(changed=True, owner=owner_summary(workload, self.namespace), targets=progress.targets or sync.targets)
            details.update(dict((k, v) for k, v in exc.details.items() if k not in details))
            raise InplaceError(exc.msg, **details) from exc
        progress.sync_steps.extend(steps)


def _apply(images, targets):
    if images is None:
        return None
    result = dict(images)
    result.update(dict((k, v) for k, v in targets.items() if k in result))
    return result
