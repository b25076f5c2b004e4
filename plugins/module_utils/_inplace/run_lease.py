# -*- coding: utf-8 -*-
# Copyright: inplace.kubernetes contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The Lease one upgrade run holds (lease.py's :class:`LeaseLock`), when the upgrade module is given ``lease``.

Taken after the read-only planning and before the first write, and only when there is something to write;
renewed between batches when what is left of it could run out before the next chance; released at the end
whatever happened (unless ``release`` is false: later calls of the same run go on under it). In check mode
the lease is only tried as a server-side dry run, so a lease another run holds is refused there too; none
is taken. Its duration, when not given, is worked out here from the run's own options (the one place).
"""

from __future__ import annotations

import time

from ansible_collections.inplace.kubernetes.plugins.module_utils._inplace.errors import InplaceError
from ansible_collections.inplace.kubernetes.plugins.module_utils._inplace.lease import LeaseLock, default_holder, lease_name

SLACK_SECONDS = 300  # how much longer than its longest stretch without renewal a worked-out lease is valid


def stretch_seconds(params):
    """The longest a run goes without a chance to renew: a batch and its rollback, or the template sync."""
    per_batch = (params.get("wait_timeout") or 300) + (params.get("min_ready_seconds") or 0) + (params.get("pause_seconds") or 0) + 60
    return max(2 * per_batch, (params.get("sync_timeout") or 120) + 60)


def lease_duration(params):
    """``lease.duration_seconds`` when given, else the longest stretch without renewal plus a margin."""
    given = (params.get("lease") or {}).get("duration_seconds")
    return int(given) if given else stretch_seconds(params) + SLACK_SECONDS


class RunLease(object):
    """Take, renew and release the workload's Lease for one module call; :meth:`end` gives the result's ``lease``."""

    def __init__(self, kube, params, check_mode=False, warn=None, clock=time.monotonic):
        self.options = params.get("lease")
        self.check_mode = check_mode
        self.warn = warn or (lambda msg: None)
        self.clock = clock
        self.lock = None
        self.held = False
        self.valid_until = 0.0
        self.report = None
        if self.options is None:
            return
        self.duration = lease_duration(params)
        self.stretch = stretch_seconds(params)
        holder = self.options.get("holder") or default_holder()
        name = lease_name(params.get("kind") or "Deployment", params["name"])
        self.lock = LeaseLock(kube, params["namespace"], name, holder, self.duration)
        self.report = {
            "holder": holder,
            "name": name,
            "duration_seconds": self.duration,
            "action": "not_taken",
            "reason": "nothing to write",
            "renewals": 0,
            "held": False,
            "lease": {},
        }

    def take(self):
        """Before the first write: take the lease, or renew it when this holder has it (an earlier call of the run)."""
        if self.lock is None or self.held:
            return
        outcome = self._acquire()
        if self.check_mode:
            self.report.update(
                reason="check mode: no lease taken (a server-side dry run could have %s it)" % (outcome["action"].replace("_", " ")), lease=outcome["lease"]
            )
            return
        self.held = True
        self.report.pop("reason", None)
        self.report.update(action=outcome["action"], lease=outcome["lease"], held=True)
        if "previous_holder" in outcome:
            self.report["previous_holder"] = outcome["previous_holder"]

    def renew(self):
        """Between batches: renew when what is left of the lease could run out before the next chance."""
        if not self.held or self.valid_until - self.clock() >= self.stretch:
            return
        outcome = self._acquire()
        self.report["renewals"] += 1
        self.report["lease"] = outcome["lease"]

    def _acquire(self):
        try:
            outcome = self.lock.acquire()
        except InplaceError as exc:
            if not exc.details.get("held_by_other"):
                raise
            self.held = False
            self.report.update(action="refused" if self.report["action"] == "not_taken" else "lost", lease=exc.details.get("lease") or {}, held=False)
            raise InplaceError(exc.msg, held_by_other=True) from exc
        self.valid_until = self.clock() + self.duration
        return outcome

    def end(self):
        """At the end, whatever happened: release the lease unless told to keep it; the result's ``lease``."""
        if self.lock is None:
            return None
        if self.options.get("release", True) and not self.check_mode and (self.held or self.options.get("holder")):
            try:
                self.report["released"] = self.lock.release()["action"]
                self.held = False
            except InplaceError as exc:
                self.report["released"] = "failed: " + exc.msg
                self.warn(
                    "could not release Lease %s/%s (%s); it expires by itself at %s"
                    % (self.lock.namespace, self.lock.name, exc.msg, self.report["lease"].get("expires") or "its expiry")
                )
        self.report["held"] = self.held
        return self.report
