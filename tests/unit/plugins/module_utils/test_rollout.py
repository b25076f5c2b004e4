# -*- coding: utf-8 -*-
# Copyright: inplace.kubernetes contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The orchestration (rollout.py over batches, rollback, result) against the recording fake API of
conftest.py: on_failure modes, check mode, a closed window, wait: false; table-driven and fast."""

from __future__ import annotations

import pytest

from ansible_collections.inplace.kubernetes.plugins.module_utils._inplace import states
from ansible_collections.inplace.kubernetes.plugins.module_utils._inplace.errors import InplaceError
from ansible_collections.inplace.kubernetes.plugins.module_utils._inplace.rollout import Rollout

OLD = "registry.example.com/web:1"
NEW = "registry.example.com/web:2"


def params(**extra):
    base = {"namespace": "ns", "label_selectors": ["app=web"], "containers": {"app": NEW}, "wait": True,
            "wait_timeout": 30, "on_failure": "rollback", "events": False, "stop_when_orphaned": False,
            "sync_template": True}
    base.update(extra)
    return base


def states_of(result):
    return dict((p["name"], p["state"]) for p in result["pods"])


def test_batches_upgrade_every_pod_in_order(fake_kube):
    result = Rollout(fake_kube, params(batch_size=1)).run()
    assert result["changed"] is True and result["patched"] == ["web-0", "web-1", "web-2"]
    assert states_of(result) == {"web-0": states.UPGRADED, "web-1": states.UPGRADED, "web-2": states.UPGRADED}
    assert [(b["batch"], b["of"], b["pods"], b["state"]) for b in result["batches"]] == [
        (1, 3, ["web-0"], "done"), (2, 3, ["web-1"], "done"), (3, 3, ["web-2"], "done")]
    assert fake_kube.patched() == ["web-0", "web-1", "web-2"]
    assert set(fake_kube.images().values()) == {NEW}


def test_without_plan_pods_the_pods_are_listed_once_also_when_refused_before_any_write(fake_kube):
    full = Rollout(fake_kube, params()).run()
    assert [p["name"] for p in full["plan"]["pods"]] == ["web-0", "web-1", "web-2"]
    compact = Rollout(type(fake_kube)(), params(plan_pods=False)).run()
    assert "pods" not in compact["plan"] and states_of(compact) == states_of(full)
    assert compact["plan"] == dict((k, v) for k, v in full["plan"].items() if k != "pods")

    unhealthy = type(fake_kube)()
    unhealthy.pods["web-2"]["status"]["conditions"][0]["status"] = "False"
    with pytest.raises(InplaceError) as caught:
        Rollout(unhealthy, params(batch_size=1, allow_unhealthy=False, plan_pods=False)).run()
    assert "pods" not in caught.value.details["plan"]
    assert states_of(caught.value.details) == {"web-0": states.NEEDS_UPGRADE, "web-1": states.NEEDS_UPGRADE, "web-2": states.NEEDS_UPGRADE}


def test_a_second_run_changes_nothing(fake_kube):
    Rollout(fake_kube, params()).run()
    calls = len(fake_kube.calls)
    result = Rollout(fake_kube, params()).run()
    assert result["changed"] is False and result["already_current"] == ["web-0", "web-1", "web-2"]
    assert fake_kube.patched() == ["web-0", "web-1", "web-2"] and len(fake_kube.calls) > calls


# on_failure, with web-1 (the second of three batches of one) failing to pull the new image: what is
# rolled back, and where each pod ends.
@pytest.mark.parametrize("mode, rolled_back, images, pod_states, message_end", [
    ("rollback", ["web-1"], {"web-0": NEW, "web-1": OLD, "web-2": OLD},
     {"web-0": states.UPGRADED, "web-1": states.ROLLED_BACK, "web-2": states.NEEDS_UPGRADE},
     "on_failure=rollback: rolled back 1 of 1 pods in place (web-1)"),
    ("rollback_all", ["web-0", "web-1"], {"web-0": OLD, "web-1": OLD, "web-2": OLD},
     {"web-0": states.ROLLED_BACK, "web-1": states.ROLLED_BACK, "web-2": states.NEEDS_UPGRADE},
     "on_failure=rollback_all: rolled back 2 of 2 pods in place (web-1, web-0)"),
    ("stop", [], {"web-0": NEW, "web-1": NEW, "web-2": OLD},
     {"web-0": states.UPGRADED, "web-1": states.FAILED_POD, "web-2": states.NEEDS_UPGRADE},
     "on_failure=stop: pods left as they are"),
])
def test_a_failed_batch_is_answered_as_on_failure_says(fake_kube, mode, rolled_back, images, pod_states, message_end):
    fake_kube.unpullable.add(("web-1", NEW))
    with pytest.raises(InplaceError) as exc:
        Rollout(fake_kube, params(batch_size=1, on_failure=mode)).run()
    details = exc.value.details
    assert exc.value.msg.startswith("batch 2/3 failed: web-1: container app: ErrImagePull")
    assert exc.value.msg.endswith(message_end)
    assert details["changed"] is True and details["rolled_back"] == sorted(rolled_back)
    assert states_of(details) == pod_states
    assert fake_kube.images() == images
    assert [b["state"] for b in details["batches"]] == ["done", "failed"]
    assert details["failed_pods"] == (["web-1"] if mode == "stop" else [])


def test_check_mode_patches_nothing_and_says_what_it_would_do(fake_kube):
    fake_kube.dry_run = True
    result = Rollout(fake_kube, params(batch_size=2), check_mode=True, diff_mode=True).run()
    assert result["changed"] is True and result["patched"] == ["web-0", "web-1", "web-2"]
    assert set(states_of(result).values()) == {states.WOULD_UPGRADE}
    assert result["pending"] == ["web-0", "web-1", "web-2"]
    assert result["planned_batches"] == [["web-0", "web-1"], ["web-2"]]
    assert result["diff"]["after"]["pods"]["web-0"] == {"app": NEW}
    assert set(fake_kube.images().values()) == {OLD}


def test_a_closed_window_stops_before_the_first_batch(fake_kube):
    with pytest.raises(InplaceError) as exc:
        Rollout(fake_kube, params(batch_size=1, not_after="2020-01-01T00:00:00+00:00")).run()
    assert exc.value.msg.startswith("maintenance window closed (not_after 2020-01-01T00:00:00+00:00) before batch 1/3")
    assert exc.value.details["window_closed"] is True and exc.value.details["changed"] is False
    assert exc.value.details["left"] == ["web-0", "web-1", "web-2"]
    assert fake_kube.patched() == []


def test_without_wait_the_pods_are_patched_and_pending(fake_kube):
    result = Rollout(fake_kube, params(wait=False)).run()
    assert set(states_of(result).values()) == {states.PATCHED}
    assert result["pending"] == ["web-0", "web-1", "web-2"] and result["failed_pods"] == []
    assert not [c for c in fake_kube.calls if c[0] == "WATCH"]


def test_a_pod_changed_by_someone_else_is_a_conflict_never_overwritten(fake_kube):
    other = "registry.example.com/web:3"
    fake_kube.edit_before_patch["web-0"] = other
    with pytest.raises(InplaceError) as exc:
        Rollout(fake_kube, params(on_failure="stop")).run()
    assert states_of(exc.value.details)["web-0"] == states.CONFLICT
    assert fake_kube.images()["web-0"] == other
