# -*- coding: utf-8 -*-
# Copyright: inplace.kubernetes contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What a failed batch leads to (``on_failure``): the pods put back on their previous images in place, or left."""

from __future__ import annotations

import time

from ansible_collections.inplace.kubernetes.plugins.module_utils._inplace import events, states
from ansible_collections.inplace.kubernetes.plugins.module_utils._inplace.errors import InplaceError
from ansible_collections.inplace.kubernetes.plugins.module_utils._inplace.failure_text import batch_failed
from ansible_collections.inplace.kubernetes.plugins.module_utils._inplace.patching import fresh_pods, patch_many
from ansible_collections.inplace.kubernetes.plugins.module_utils._inplace.planning import owner_summary, without
from ansible_collections.inplace.kubernetes.plugins.module_utils._inplace.report import images_text, pod_entry
from ansible_collections.inplace.kubernetes.plugins.module_utils._inplace.resize import expectation as resize_expectation
from ansible_collections.inplace.kubernetes.plugins.module_utils._inplace.resize import previous as previous_resources
from ansible_collections.inplace.kubernetes.plugins.module_utils._inplace.wait import DONE, baseline_of, pod_generation
from ansible_collections.inplace.kubernetes.plugins.module_utils._inplace.watch import Expectation, wait_for_pods


class Rollback(object):
    def __init__(self, kube, params, progress, recorder):
        self.kube = kube
        self.params = params
        self.namespace = params["namespace"]
        self.progress = progress
        self.recorder = recorder

    def on_failure(self, index, count, workload, failed):
        """Answer the failure of batch ``index`` as ``on_failure`` says, then raise with the whole result."""
        progress = self.progress
        mode = self.params.get("on_failure") or "rollback"
        # The failed batch first, then (rollback_all) the earlier batches, newest first, one batch at a time,
        # so a rollback never has more pods restarting at once than a batch.
        groups = []
        if mode in ("rollback", "rollback_all"):
            groups.append(progress.batch_touched)
        if mode == "rollback_all":
            groups.extend(reversed(progress.touched_batches))
        rolled, not_rolled = [], []
        for group in groups:
            if group:
                done, left = self.roll_back(group, workload)
                rolled.extend(done)
                not_rolled.extend(left)
        self.recorder.record(
            workload.owner, workload.kind or "Pod", events.FAILED, "batch %d/%d failed: %s" % (index + 1, count, "; ".join(failed)[:900]), warning=True
        )
        message = batch_failed("%d/%d" % (index + 1, count), failed, mode, rolled, not_rolled)
        failed_batch = {
            "batch": index + 1,
            "of": count,
            "reasons": failed,
            "on_failure": mode,
            "rolled_back": rolled,
            "not_rolled_back": [list(item) for item in not_rolled],
        }
        raise InplaceError(message, failed_batch=failed_batch, **progress.result(changed=True, owner=owner_summary(workload, self.namespace)))

    def roll_back(self, touched, workload):
        """Patch ``touched`` pods back to their previous images and wait for them; ``(rolled, [(name, why)])``.

        On the real kubelet the upgrade has usually killed the old container already, so the rollback
        is a new container on the old image; where the original container was never killed (the new
        image never got that far), that container still running counts as rolled back.
        """
        entries = self.progress.entries
        names = [t["name"] for t in touched]
        fresh = fresh_pods(self.kube, self.namespace, workload, names)
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
            resized_back[item["name"]] = previous_resources(item.get("resize"))
            work.append((pod, back, resized_back[item["name"]]))
        deadline = time.monotonic() + float(self.params.get("wait_timeout") or 300) + 60
        outcomes = patch_many(self.kube, self.namespace, work, deadline)
        patched_at = time.monotonic()
        expectations, rolled = [], []
        for outcome in outcomes:
            name = outcome["name"]
            if outcome["result"] not in ("patched", "current"):
                not_rolled.append((name, "rollback patch %s: %s" % (outcome["result"], outcome.get("reason", ""))))
                entry = entries.get(name, {})
                entry.update(
                    state=states.ROLLBACK_FAILED,
                    reason="rollback patch %s: %s (after: %s)" % (outcome["result"], outcome.get("reason", ""), entry.get("reason", "")),
                )
                entries[name] = entry
            elif not previous[name] and not resized_back.get(name):
                rolled.append(name)
                entries[name] = pod_entry(outcome["pod"], state=states.ROLLED_BACK, reason=entries.get(name, {}).get("reason", ""))
            else:
                expectations.append(
                    Expectation(
                        name,
                        outcome["pod"]["metadata"]["uid"],
                        previous[name],
                        baselines[name],
                        pod_generation(outcome["pod"]),
                        patched_at,
                        resize=resize_expectation(outcome["pod"], outcome.get("resize"), resized_back[name]),
                    )
                )
        waited = (
            wait_for_pods(self.kube, self.namespace, expectations, float(self.params.get("wait_timeout") or 300), selector=workload.selector, fail_fast=False)
            if expectations
            else {}
        )
        for expectation in expectations:
            outcome = waited.get(expectation.name)
            entry = entries.get(expectation.name, {})
            if outcome is not None and outcome.state == DONE:
                entry = pod_entry(outcome.pod, state=states.ROLLED_BACK, reason=entry.get("reason", ""))
                rolled.append(expectation.name)
                self.recorder.record(outcome.pod, "Pod", events.ROLLED_BACK, "restored %s in place" % images_text(expectation.targets))
            else:
                why = outcome.reason if outcome else "not seen"
                entry["state"] = states.ROLLBACK_FAILED
                entry["reason"] = "rollback not done: %s (after: %s)" % (why, entry.get("reason", ""))
                not_rolled.append((expectation.name, why))
            entries[expectation.name] = entry
        self.progress.rolled_back.extend(rolled)
        return rolled, not_rolled
