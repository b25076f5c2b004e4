# -*- coding: utf-8 -*-
# Copyright: inplace.kubernetes contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""report.py: per-pod entries and the diff."""

from __future__ import annotations

import pytest

from ansible_collections.inplace.kubernetes.plugins.module_utils._inplace.report import diff_for, pod_entry, run_report, state_summary


@pytest.fixture
def pod():
    return {
        "metadata": {"name": "web-0", "uid": "u-0"},
        "spec": {"nodeName": "node-a",
                 "initContainers": [{"name": "init", "image": "busybox:1"}],
                 "containers": [{"name": "web", "image": "nginx:1.20",
                                 "resources": {"requests": {"cpu": "250m", "ephemeral-storage": "1Gi"},
                                               "limits": {"memory": "256Mi"}}},
                                {"name": "side", "image": "envoy:1"}]},
        "status": {"podIP": "10.0.0.7",
                   "conditions": [{"type": "Ready", "status": "True"}],
                   "containerStatuses": [
                       {"name": "web", "image": "docker.io/library/nginx:1.20", "ready": True, "restartCount": 2},
                       {"name": "side", "image": "docker.io/library/envoy:1", "ready": True, "restartCount": 1}],
                   "initContainerStatuses": [{"name": "init", "image": "docker.io/library/busybox:1", "ready": False}]},
    }


def test_pod_entry(pod):
    changes = [{"name": "web", "before": "nginx:1.19", "after": "nginx:1.20", "init": False}]
    assert pod_entry(pod, changes, patched=True, state="upgraded") == {
        "name": "web-0",
        "uid": "u-0",
        "node": "node-a",
        "pod_ip": "10.0.0.7",
        "containers": [
            {"name": "web", "before": "nginx:1.19", "after": "nginx:1.20", "image_status": "docker.io/library/nginx:1.20",
             "ready": True, "restart_count": 2, "resources": {"requests": {"cpu": "250m"}, "limits": {"memory": "256Mi"}}},
            {"name": "side", "before": "envoy:1", "after": "envoy:1", "image_status": "docker.io/library/envoy:1",
             "ready": True, "restart_count": 1, "resources": {}},
            {"name": "init", "before": "busybox:1", "after": "busybox:1", "image_status": "docker.io/library/busybox:1",
             "ready": False, "restart_count": 0, "resources": {}},
        ],
        "patched": True,
        "ready": True,
        "restart_count": 3,
        "state": "upgraded",
        "reason": "",
    }


def test_pod_entry_default_state(pod):
    assert pod_entry(pod)["state"] == "ready"
    pod["status"]["conditions"][0]["status"] = "False"
    entry = pod_entry(pod, reason="pod not Ready")
    assert (entry["state"], entry["ready"], entry["reason"], entry["patched"]) == ("not_ready", False, "pod not Ready", False)


def test_pod_entry_minimal_pod():
    entry = pod_entry({"metadata": {"name": "p"}, "spec": {"containers": [{"name": "c", "image": "x:1"}]}})
    assert entry["containers"] == [{"name": "c", "before": "x:1", "after": "x:1", "image_status": None,
                                    "ready": False, "restart_count": 0, "resources": {}}]
    assert (entry["node"], entry["pod_ip"], entry["restart_count"], entry["state"]) == (None, None, 0, "not_ready")


def test_diff_for():
    plans = [
        {"name": "web-0", "changes": [{"name": "web", "before": "nginx:1.19", "after": "nginx:1.20"}]},
        {"name": "web-1", "changes": []},
    ]
    assert diff_for(plans) == {"before": {"pods": {"web-0": {"web": "nginx:1.19"}}},
                               "after": {"pods": {"web-0": {"web": "nginx:1.20"}}}}


def test_diff_for_template():
    before = {"web": "nginx:1.19"}
    after = {"web": "nginx:1.20"}
    diff = diff_for([], before, after)
    assert diff == {"before": {"pods": {}, "template": before}, "after": {"pods": {}, "template": after}}


def test_diff_for_unchanged_template():
    assert diff_for([], {"web": "x"}, {"web": "x"}) == {"before": {"pods": {}}, "after": {"pods": {}}}


def test_state_summary():
    entries = [{"state": "upgraded"}, {"state": "failed"}, {"state": "upgraded"}, {"state": "current"}]
    assert state_summary(entries) == "1 current, 1 failed, 2 upgraded"
    assert state_summary([]) == ""


# --- the account of a whole role run ---------------------------------------------------------------

def entry(name, state, **extra):
    return dict({"name": name, "state": state}, **extra)


PLAN = {"pods": [entry("web-a", "needs_upgrade"), entry("web-b", "needs_upgrade"), entry("web-c", "needs_upgrade"),
                 entry("web-d", "current")],
        "already_current": ["web-d"], "template_current": False}


def test_run_report_later_results_win_and_lists_are_consistent():
    first = {"pods": [entry("web-a", "upgraded"), entry("web-b", "upgraded")], "patched": ["web-a", "web-b"],
             "template_synced": False, "disruption_budget_notes": ["pdb web allowed 1 of 2 pods at once"]}
    second = {"pods": [entry("web-b", "rolled_back"), entry("web-c", "failed", reason="CrashLoopBackOff")],
              "patched": ["web-c"], "rolled_back": ["web-b"], "template_synced": False}
    report = run_report(PLAN, [first, second])
    assert [(p["name"], p["state"]) for p in report["pods"]] == [
        ("web-a", "upgraded"), ("web-b", "rolled_back"), ("web-c", "failed"), ("web-d", "current")]
    assert report["upgraded"] == ["web-a"]
    assert report["already_current"] == ["web-d"]
    assert report["rolled_back"] == ["web-b"]
    assert report["failed"] == ["web-c"]
    assert report["left"] == ["web-b"]
    assert report["template_synced"] is False
    assert report["disruption_budget_notes"] == ["pdb web allowed 1 of 2 pods at once"]


def test_run_report_counts_the_failed_result_and_extra_rollbacks():
    failed = {"failed": True, "msg": "batch 2/2 failed", "pods": [entry("web-a", "upgraded"), entry("web-b", "timed_out")],
              "patched": ["web-a", "web-b"], "template_synced": False}
    report = run_report(PLAN, [], failed, rolled_back=["web-a", "not-a-pod"])
    assert report["rolled_back"] == ["web-a"]
    assert report["failed"] == ["web-b"]
    assert report["upgraded"] == []
    assert report["left"] == ["web-a", "web-c"]


def test_run_report_without_results_reports_the_plan():
    report = run_report(PLAN, [], {"failed": True, "msg": "lease held"})  # a failure without pods adds nothing
    assert [p["state"] for p in report["pods"]] == ["needs_upgrade"] * 3 + ["current"]
    assert report["upgraded"] == [] and report["failed"] == []
    assert report["left"] == ["web-a", "web-b", "web-c"]
    assert report["template_synced"] is False  # from the plan
    done = run_report(dict(PLAN, template_current=True), [{"pods": [], "template_synced": True}])
    assert done["template_synced"] is True
