# -*- coding: utf-8 -*-
# Copyright: inplace.kubernetes contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The batch loop: pause, lease renewal, stop checks (window, controller), PodDisruptionBudget chunks, patch, wait, settle;
and the catch-up batches for pods that appeared during the run."""

from __future__ import annotations

import datetime
import time

from ansible_collections.inplace.kubernetes.plugins.module_utils._inplace import events, states
from ansible_collections.inplace.kubernetes.plugins.module_utils._inplace.discovery import disruption_budgets
from ansible_collections.inplace.kubernetes.plugins.module_utils._inplace.errors import InplaceError
from ansible_collections.inplace.kubernetes.plugins.module_utils._inplace.patching import fresh_pods, patch_many
from ansible_collections.inplace.kubernetes.plugins.module_utils._inplace.plan import plan_batches
from ansible_collections.inplace.kubernetes.plugins.module_utils._inplace.planning import (
    discover_workload,
    owner_summary,
    parse_not_after,
    plan_pods,
    spec_only_containers,
    without,
)
from ansible_collections.inplace.kubernetes.plugins.module_utils._inplace.report import images_text, pod_entry
from ansible_collections.inplace.kubernetes.plugins.module_utils._inplace.resize import expectation, target_text
from ansible_collections.inplace.kubernetes.plugins.module_utils._inplace.wait import DONE, FAILED, VANISHED, baseline_of, pod_generation
from ansible_collections.inplace.kubernetes.plugins.module_utils._inplace.watch import Expectation, wait_for_pods


class Batches(object):
    """Runs batches of pods to ``targets``; a failed batch goes to ``rollback.on_failure``, which raises."""

    def __init__(self, kube, params, progress, recorder, controller, rollback, lease):
        self.kube = kube
        self.params = params
        self.namespace = params["namespace"]
        self.progress = progress
        self.recorder = recorder
        self.controller = controller
        self.rollback = rollback
        self.lease = lease  # run_lease.RunLease, renewed between batches
        self.cursor = {}  # where the pod watch of the next batch starts (watch.wait_for_pods)

    def _discover(self):
        return discover_workload(self.kube, self.params)

    def _plan(self, workload, targets):
        return plan_pods(self.params, workload, targets, self.progress.resources)

    def run(self, batches, done, count, workload, targets, by_name, plans, template_before):
        """Batches ``done + 1 .. done + len(batches)`` of ``count``: pause between batches, renew the lease, stop
        when the maintenance window has closed or the controller is gone, then patch and wait."""
        self.cursor = {"resourceVersion": workload.resource_version}
        for offset, batch in enumerate(batches):
            index = done + offset
            if index and self.params.get("pause_seconds"):
                time.sleep(self.params["pause_seconds"])
            if index:
                self.lease.renew()
            self._check_stop(index, count, batches[offset:], workload, plans, template_before, targets)
            self.progress.batch_touched = []
            self._run_batch(index, count, batch, workload, targets, by_name)

    def catch_up(self, workload, targets, by_name, plans, done_batches, template_before, rounds=3):
        """Upgrade pods that appeared during the run (replacements, scale-up) before the template sync.

        Until the template is synced, the controller creates pods from the old template; they are found by a
        fresh discovery and upgraded in further batches of the same size (with the same pause and the same
        maintenance window), so the run ends with every live pod on the target images.

        Returns the last discovery when nothing was written after it (for the template sync), else ``None``.
        """
        params = self.params
        if not self.progress.patched:
            return None
        catch_up = workload.owner and not params.get("pods") and not params.get("max_pods")
        known = set(p["pod"]["metadata"]["uid"] for p in plans)
        for dummy in range(rounds):
            fresh = self._discover()
            self._reconcile(fresh)
            new = [p for p in self._plan(fresh, targets) if p["pod"]["metadata"]["uid"] not in known and (p["changes"] or p["resize"])]
            if not new or not catch_up:
                return fresh
            for plan in new:
                known.add(plan["pod"]["metadata"]["uid"])
                by_name[plan["name"]] = plan
                self.progress.entries[plan["name"]] = pod_entry(plan["pod"], state=plan["status"], reason="appeared during the run")
            extra = plan_batches([p["name"] for p in new], params.get("batch_size"), None, total=len(fresh.pods))
            count = done_batches + len(extra)
            self.run(extra, done_batches, count, fresh, targets, by_name, plans, template_before)
            done_batches = count
        return None

    def _reconcile(self, workload):
        """Pods the report still lists but that are gone now (scale-down, eviction) are reported as vanished."""
        live = set(p["metadata"]["uid"] for p in workload.pods)
        for entry in self.progress.entries.values():
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
        result = self.progress.result(
            changed=bool(self.progress.patched), plans=plans, template_before=template_before, owner=owner_summary(workload, self.namespace)
        )
        result["left"] = left
        where = "before batch %d/%d: stopped between batches, %d pods left on the old images: %s" % (index + 1, count, len(left), ", ".join(left))
        if closed:
            result["window_closed"] = True
            raise InplaceError("maintenance window closed (not_after %s) %s" % (self.params["not_after"], where), **result)
        result["controller_gone"] = True
        message = "the Ansible controller that started this run is gone (process %d exited) %s" % (orphaned, where)
        self.recorder.record(workload.owner, workload.kind or "Pod", events.ABANDONED, message, warning=True)
        raise InplaceError(message, **result)

    def _run_batch(self, index, count, batch, workload, targets, by_name):
        started = time.monotonic()
        remaining = list(batch)
        failed = []
        while remaining and not failed:
            chunk = self._pdb_chunk(workload, remaining) if self.params.get("respect_pdb") else remaining
            remaining = [name for name in remaining if name not in set(chunk)]
            failed = self._run_chunk(chunk, workload, targets, by_name)
        report = {"batch": index + 1, "of": count, "pods": batch, "seconds": round(time.monotonic() - started, 2), "state": "failed" if failed else "done"}
        self.progress.batch_reports.append(report)
        if failed:
            self.rollback.on_failure(index, count, workload, failed)
        self.progress.touched_batches.append(self.progress.batch_touched)

    def _pdb_chunk(self, workload, names):
        """The first pods of ``names`` that the PodDisruptionBudgets allow to restart now; waits for a budget."""
        deadline = time.monotonic() + float(self.params.get("wait_timeout") or 300)
        while True:
            fresh = list(fresh_pods(self.kube, self.namespace, workload, [p["metadata"]["name"] for p in workload.pods]).values())
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
                    self.progress.pdb_notes.append(
                        "PodDisruptionBudget(s) %s allowed %d of %d pods at once" % (", ".join(sorted(b["name"] for b in budgets)), len(chunk), len(names))
                    )
                return chunk
            if time.monotonic() >= deadline:
                blocking = ", ".join(
                    "%s (disruptionsAllowed=%s)" % (b["name"], b["disruptions_allowed"]) for b in budgets if any(n in b["pods"] for n in names)
                )
                raise InplaceError(
                    "PodDisruptionBudget %s allowed no pod to restart within %ss; %d pods left: %s"
                    % (blocking, self.params.get("wait_timeout"), len(names), ", ".join(names)),
                    **self.progress.result(changed=bool(self.progress.patched), owner=owner_summary(workload, self.namespace)),
                )
            time.sleep(1.0)

    def _run_chunk(self, batch, workload, targets, by_name):
        progress = self.progress
        deadline = time.monotonic() + float(self.params.get("wait_timeout") or 300) + 60
        # The guarded patch tests the uid and the images the plan was made from: a pod replaced, or changed by
        # someone else, since discovery is refused by the API server, never overwritten. No re-read is needed.
        outcomes = patch_many(self.kube, self.namespace, [(by_name[name]["pod"], targets, progress.resources) for name in batch], deadline)
        patched_at = time.monotonic()
        touched, expectations, errors, written = [], [], [], {}
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
                progress.patched.append(name)
                notes = "; ".join(spec_only[n] for n in sorted(spec_only))
                if notes:
                    progress.spec_notes[name] = notes
                if not waited and not outcome.get("resize"):
                    progress.entries[name] = pod_entry(outcome["pod"], outcome["changes"], patched=True, state=states.SPEC_ONLY, reason=notes)
                    continue
                progress.entries[name] = pod_entry(
                    outcome["pod"], outcome["changes"], patched=True, state=states.PATCHED, reason="; ".join(r for r in (outcome.get("reason", ""), notes) if r)
                )
                expectations.append(
                    Expectation(
                        name,
                        outcome["pod"]["metadata"]["uid"],
                        waited,
                        outcome["baseline"],
                        pod_generation(outcome["pod"]),
                        patched_at,
                        resize=expectation(outcome["pod"], outcome.get("resize"), progress.resources),
                    )
                )
                written[name] = outcome["pod"]
            elif outcome["result"] == "vanished":
                progress.entries[name].update(state=states.VANISHED_POD, reason=outcome["reason"])
            elif outcome["result"] == "current":
                progress.entries[name].update(state=states.CURRENT)
            else:
                reason = outcome["reason"]
                if outcome.get("resize"):
                    # The resize landed before the image patch was refused: on_failure undoes the resize
                    # (and only it: the images someone else set are not this run's to put back).
                    touched.append(dict(outcome, changes=[], spec_only={}, baseline=baseline_of(outcome["pod"], {})))
                    mode = self.params.get("on_failure") or "rollback"
                    reason += "; its resize had landed (%s)" % ("left as it is, on_failure=stop" if mode == "stop" else "undone by on_failure=" + mode)
                progress.entries[name] = pod_entry(outcome["pod"], outcome["changes"], patched=False, state=outcome["result"], reason=reason)
                errors.append("%s: %s" % (name, reason))
        progress.batch_touched.extend(touched)
        # The watch goes on from where the last one (or the discovery) left off, the pods as the patches returned them.
        waited = self.wait(expectations, workload, on_done=self._upgraded(targets), seen=written)
        self.recorder.flush()
        failed = self.settle(waited, [e.name for e in expectations], states.UPGRADED)
        return failed + errors

    def wait(self, expectations, workload, on_done=None, seen=None):
        """Wait for the pods to be done (``{name: None}`` without ``wait``); ``seen``: the pods as written."""
        if not self.params.get("wait", True) or not expectations:
            return dict((e.name, None) for e in expectations)
        return wait_for_pods(
            self.kube,
            self.namespace,
            expectations,
            float(self.params.get("wait_timeout") or 300),
            selector=workload.selector,
            min_ready_seconds=self.params.get("min_ready_seconds") or 0,
            on_done=on_done,
            cursor=self.cursor,
            seen=seen,
        )

    def _upgraded(self, targets):
        """The ``on_done`` of a batch's wait: the pod's Event, stamped the moment the pod is seen done, is held until
        the batch has settled (events.py)."""
        resources = self.progress.resources
        message = "changed in place: %s" % target_text(targets, resources) if resources else "containers restarted in place on %s" % images_text(targets)
        return lambda name, pod: self.recorder.record(pod, "Pod", events.POD_UPGRADED, message, held=True)

    def settle(self, outcomes, names, done_state):
        """Each waited pod's entry from its outcome; the failures, as ``"name: why"``."""
        entries = self.progress.entries
        failed = []
        batch_failed = any(o is not None and o.state == FAILED for o in outcomes.values())
        for name in names:
            outcome = outcomes.get(name)
            entry = entries.get(name, {})
            if outcome is None:  # wait: false
                continue
            pod = outcome.pod or {}
            if outcome.pod:
                fresh_entry = pod_entry(pod, state=entry.get("state"), patched=entry.get("patched", False))
                for fresh_c, old_c in zip(fresh_entry["containers"], entry.get("containers", [])):
                    fresh_c["before"] = old_c.get("before")
                entry = fresh_entry
            if outcome.state == DONE:
                entry.update(state=done_state, reason=self.progress.spec_notes.get(name, ""))
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
            entries[name] = entry
        return failed
