# -*- coding: utf-8 -*-
# Copyright: inplace.kubernetes contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What a run has done so far (:class:`Progress`), and the module result built from it.

One ``Progress`` travels through the run: the batches, the rollback and the template sync add to
it, and every way the run ends (done, a failed batch, a closed window, a gone controller, a failed
sync) builds its result, or its failure's details, with :meth:`Progress.result`.
"""

from __future__ import annotations

import time

from ansible_collections.inplace.kubernetes.plugins.module_utils._inplace import states
from ansible_collections.inplace.kubernetes.plugins.module_utils._inplace.api_paths import api_path
from ansible_collections.inplace.kubernetes.plugins.module_utils._inplace.errors import ApiError
from ansible_collections.inplace.kubernetes.plugins.module_utils._inplace.patch import current_images
from ansible_collections.inplace.kubernetes.plugins.module_utils._inplace.report import diff_for, state_summary
from ansible_collections.inplace.kubernetes.plugins.module_utils._inplace.resize import add_template_diff


class Progress(object):
    """The state of one run: per-pod entries, what was patched, rolled back and synced, and why."""

    def __init__(self, kube, params, diff_mode=False):
        self.kube = kube
        self.params = params
        self.diff_mode = diff_mode
        self.started = time.monotonic()
        self.owner = None  # the owner summary of the result
        self.targets = None  # container -> image, once resolved
        self.resources = {}  # container -> CPU/memory resized in place (resize.py), once resolved
        self.template_resources = None  # the template's CPU/memory before the run, for the diff
        self.entries = {}  # pod name -> its entry in the result
        self.patched = []
        self.rolled_back = []
        self.batch_reports = []
        self.sync_steps = []
        self.sync_reason = ""  # why the template was not synced
        self.pdb_notes = []
        self.spec_notes = {}  # pod name -> why some of its containers are spec-only
        self.touched_batches = []  # the pods each finished batch patched, for rollback_all
        self.batch_touched = []  # the pods the running batch patched so far

    def result(self, changed, plans=None, synced=False, template_before=None, template_after=None, **extra):
        """The module result (or a failure's details); the diff, in diff mode, only when ``plans`` are given."""
        entries = [self.entries[name] for name in sorted(self.entries)]
        result = {"owner": self.owner, "targets": self.targets, "resources": self.resources}
        result.update(extra)
        result.update(
            {
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
                "template_synced": synced,
                "template_sync_steps": self.sync_steps,
                "api_requests": self.kube.requests,
                "seconds": round(time.monotonic() - self.started, 2),
                "summary": state_summary(entries),
            }
        )
        if self.pdb_notes:
            result["disruption_budget_notes"] = self.pdb_notes
        if self.sync_reason:
            result["template_sync"] = "not synced: " + self.sync_reason
        if self.diff_mode and plans is not None:
            after = (
                template_after
                if template_after is not None
                else (current_images(self._template_now()) if synced and template_before is not None else template_before)
            )
            result["diff"] = diff_for([p for p in plans if p["name"] in set(self.patched)], template_before, after)
            add_template_diff(result["diff"], self.template_resources, self.resources, synced or extra.get("template_sync") == "would sync")
        return result

    def _template_now(self):
        try:
            owner = self.kube.get(api_path(self.params.get("kind") or "Deployment", self.params["namespace"], self.params["name"]))
            return owner.get("spec", {}).get("template", {}).get("spec", {})
        except ApiError:
            return {}
