# -*- coding: utf-8 -*-
# Copyright: inplace.kubernetes contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one vocabulary of pod states, and the groups the results are built from (pure).

Every per-pod ``state`` the modules report is one of these names, and every summary list
(``already_current``, ``pending``, ``failed_pods``, the ``upgrade_report`` filter's ``failed`` and
``left``) is built from the groups below, so a state means the same thing everywhere.
"""

from __future__ import annotations

# What a wait decides about one pod (wait.py); never reported as a pod's state.
DONE = "done"
PENDING = "pending"
FAILED = "failed"
VANISHED = "vanished"

# A pod's state in a result.
CURRENT = "current"  # already ran the target images before this run
UPGRADED = "upgraded"  # patched by this run, seen running the target images
SPEC_ONLY = "spec_only"  # spec set; the kubelet will not restart the container (allow_spec_only)
WOULD_UPGRADE = "would_upgrade"  # check mode: would be patched
NEEDS_UPGRADE = "needs_upgrade"  # its spec does not have the target images yet
IN_PROGRESS = "in_progress"  # its spec has them, the kubelet does not run them Ready yet
PATCHED = "patched"  # patched, not waited for (wait: false)
INTERRUPTED = "interrupted"  # patched, not done when another pod of its batch failed
TIMED_OUT = "timed_out"  # patched, not done within wait_timeout
FAILED_POD = FAILED  # patched, failed (bad image, crash loop, sidecar not restarted)
CONFLICT = "conflict"  # changed by someone else; not overwritten
ERROR = "error"  # the API server refused the patch
ROLLED_BACK = "rolled_back"  # restored to its previous images in place
ROLLBACK_FAILED = "rollback_failed"  # the rollback patch failed or was not seen done in time
VANISHED_POD = VANISHED  # deleted (or replaced by a pod of the same name) during the run
SKIPPED = "skipped"  # never touched (a mirror pod); the reason says why
READY = "ready"  # info module without targets
NOT_READY = "not_ready"  # info module without targets

ALL = (
    CURRENT,
    UPGRADED,
    SPEC_ONLY,
    WOULD_UPGRADE,
    NEEDS_UPGRADE,
    IN_PROGRESS,
    PATCHED,
    INTERRUPTED,
    TIMED_OUT,
    FAILED_POD,
    CONFLICT,
    ERROR,
    ROLLED_BACK,
    ROLLBACK_FAILED,
    VANISHED_POD,
    SKIPPED,
    READY,
    NOT_READY,
)

# On the target images (as far as a live pod can be): nothing left to do for it.
ON_TARGET = (CURRENT, UPGRADED, SPEC_ONLY)
# Not on the target yet and not failed: a later run (or the kubelet) still has work to do.
PENDING_STATES = (WOULD_UPGRADE, NEEDS_UPGRADE, IN_PROGRESS, PATCHED, INTERRUPTED)
# The run failed for this pod; the batch failed because of it. A timeout is a failure.
FAILED_STATES = (FAILED_POD, TIMED_OUT, CONFLICT, ERROR, ROLLBACK_FAILED)
# Neither: restored, gone, or never touched.
OTHER_STATES = (ROLLED_BACK, VANISHED_POD, SKIPPED, READY, NOT_READY)


def group_of(state):
    """``"on_target"``, ``"pending"``, ``"failed"`` or ``"other"``; raises ``ValueError`` for an unknown state."""
    for name, members in (("on_target", ON_TARGET), ("pending", PENDING_STATES), ("failed", FAILED_STATES), ("other", OTHER_STATES)):
        if state in members:
            return name
    raise ValueError("unknown pod state %r" % (state,))


def names_in(entries, group, key="state"):
    """Sorted names of the entries (or plans, ``key="status"``) whose state is in ``group``."""
    return sorted(e["name"] for e in entries if e.get(key) in group)
