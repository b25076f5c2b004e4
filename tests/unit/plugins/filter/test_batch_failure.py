# -*- coding: utf-8 -*-
# Copyright: inplace.kubernetes contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A failed batch's message, as the module and the role's batch-by-batch rescue say it (failure_text.py)."""

from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.inplace.kubernetes.plugins.filter.batch_failure import FilterModule
from ansible_collections.inplace.kubernetes.plugins.module_utils._inplace.failure_text import batch_failed

batch_failure = FilterModule().filters()["batch_failure"]
PULL = "web-a container app: ErrImagePull"
MODULE_BATCH = {"batch": 1, "of": 1, "reasons": [PULL], "on_failure": "rollback", "rolled_back": ["web-a"], "not_rolled_back": []}


@pytest.mark.parametrize("reasons, mode, rolled, not_rolled, expected", [
    ([PULL], "stop", [], [], "batch 2/4 failed: %s. on_failure=stop: pods left as they are" % PULL),
    ([PULL, "web-b container app: CrashLoopBackOff"], "rollback", ["web-a", "web-b"], [],
     "batch 2/4 failed: %s; web-b container app: CrashLoopBackOff. on_failure=rollback: rolled back 2 of 2 pods in place (web-a, web-b)" % PULL),
    ([PULL], "rollback_all", [], [("web-a", "pod no longer exists")],
     "batch 2/4 failed: %s. on_failure=rollback_all: rolled back 0 of 1 pods in place; not rolled back: web-a (pod no longer exists)" % PULL),
])
def test_the_module_sentence(reasons, mode, rolled, not_rolled, expected):
    assert batch_failed("2/4", reasons, mode, rolled, not_rolled) == expected


def test_an_upgrade_failure_is_the_modules_account_under_the_roles_batch_number():
    out = batch_failure("3/4", pods=["web-a"], failed_result={"msg": "batch 1/1 failed: ...", "failed_batch": MODULE_BATCH},
                        error="batch 1/1 failed: ...")
    assert out == {"message": "batch 3/4 failed: %s. on_failure=rollback: rolled back 1 of 1 pods in place (web-a)" % PULL,
                   "rolled_back": []}


def test_an_upgrade_failure_without_the_modules_account_keeps_the_error():
    out = batch_failure("1/2", error="lease renewal refused", failed_result={"msg": "lease renewal refused"})
    assert out["message"] == "batch 1/2 failed: lease renewal refused"


@pytest.mark.parametrize("mode, undo, expected_tail, rolled", [
    ("rollback", {"patched": ["web-a", "web-b"]}, ". on_failure=rollback: rolled back in place web-a, web-b", ["web-a", "web-b"]),
    ("rollback_all", {"failed": True, "msg": "timed out", "patched": ["web-a"]},
     ". on_failure=rollback_all: rollback of web-a, web-b FAILED: timed out", []),
])
def test_a_health_failure_says_what_the_rescue_rolled_back(mode, undo, expected_tail, rolled):
    out = batch_failure("2/4", pods=["web-a", "web-b"], phase="health", on_failure=mode, error="smoke test failed",
                        undo_pods=["web-a", "web-b"], undo_result=undo)
    assert out == {"message": "batch 2/4 (web-a, web-b) failed its health tasks: smoke test failed" + expected_tail, "rolled_back": rolled}


def test_a_health_failure_with_stop_leaves_the_pods():
    out = batch_failure("2/4", pods=["web-a"], phase="health", on_failure="stop", error="smoke test failed")
    assert out["message"] == "batch 2/4 (web-a) failed its health tasks: smoke test failed. on_failure=stop: pods left as they are"


def test_a_closed_window_names_the_pods_left():
    out = batch_failure("3/4", window_closed=True, not_after="2026-12-03T08:00:00Z", left=["web-c", "web-d"],
                        failed_result={"window_closed": True})
    assert out["message"] == ("maintenance window closed (not_after 2026-12-03T08:00:00Z) before batch 3/4: stopped between "
                              "batches, 2 pods left on the old images: web-c, web-d")


def test_an_unknown_phase_is_refused():
    with pytest.raises(AnsibleFilterError, match="phase must be upgrade or health"):
        batch_failure("1/1", phase="later")
