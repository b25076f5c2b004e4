# -*- coding: utf-8 -*-
# Copyright: inplace.kubernetes contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What a failed batch says, in one place: the module's message and the role's (pure)."""

from __future__ import annotations

from ansible_collections.inplace.kubernetes.plugins.module_utils._inplace.report import names_text


def batch_failed(label, reasons, on_failure, rolled_back, not_rolled_back):
    """``batch 2/4 failed: <reasons>. on_failure=...: <what the module did about it>``.

    ``not_rolled_back`` is a list of ``(pod, why)`` pairs.
    """
    message = "batch %s failed: %s" % (label, "; ".join(reasons))
    if on_failure == "stop":
        return message + ". on_failure=stop: pods left as they are"
    message += ". on_failure=%s: rolled back %d of %d pods in place%s" % (
        on_failure,
        len(rolled_back),
        len(rolled_back) + len(not_rolled_back),
        (" (%s)" % names_text(rolled_back)) if rolled_back else "",
    )
    if not_rolled_back:
        message += "; not rolled back: " + "; ".join("%s (%s)" % tuple(item) for item in list(not_rolled_back)[:20])
    return message


def role_batch_failed(
    label, pods, phase, on_failure, error, failed_result=None, window_closed=False, not_after=None, left=None, undo_pods=None, undo_result=None
):
    """The role's message for batch ``label`` (``2/4``) that failed in ``phase`` (``upgrade`` or
    ``health``), with what its rescue rolled back (``undo_pods``, the rollback call's ``undo_result``).

    Returns ``{"message": ..., "rolled_back": [...]}``.
    """
    failed_result = failed_result or {}
    undo_pods = list(undo_pods or [])
    undo_result = undo_result or {}
    undo_failed = bool(undo_result.get("failed"))
    undone = [] if undo_failed else list(undo_result.get("patched") or [])
    if window_closed:
        left = list(left or [])
        head = "maintenance window closed (not_after %s) before batch %s: stopped between batches, %d pods left on the old images: %s" % (
            not_after,
            label,
            len(left),
            ", ".join(left),
        )
    elif phase == "health":
        head = "batch %s (%s) failed its health tasks: %s" % (label, ", ".join(pods or []), error)
    elif failed_result.get("failed_batch"):
        batch = failed_result["failed_batch"]
        head = batch_failed(label, batch["reasons"], batch["on_failure"], batch["rolled_back"], batch["not_rolled_back"])
    else:
        head = "batch %s failed: %s" % (label, error)
    if undo_pods:
        tail = ". on_failure=%s: %s" % (
            on_failure,
            ("rollback of %s FAILED: %s" % (", ".join(undo_pods), undo_result.get("msg", ""))) if undo_failed else "rolled back in place " + ", ".join(undone),
        )
    elif phase == "health" and on_failure == "stop":
        tail = ". on_failure=stop: pods left as they are"
    else:
        tail = ""
    return {"message": head + tail, "rolled_back": undone}
