# -*- coding: utf-8 -*-
# Copyright: inplace.kubernetes contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The lease inside the upgrade (run_lease.py through rollout.py), against the recording fake API of conftest.py:
taken before the first write and only when there is one, refused when another run holds it (nothing written),
renewed between batches, released at the end whatever happened; the unhealthy start refused; max_batches."""

from __future__ import annotations

import datetime

import pytest

from ansible_collections.inplace.kubernetes.plugins.module_utils._inplace.errors import InplaceError
from ansible_collections.inplace.kubernetes.plugins.module_utils._inplace.lease import format_time
from ansible_collections.inplace.kubernetes.plugins.module_utils._inplace.rollout import Rollout
from ansible_collections.inplace.kubernetes.plugins.module_utils._inplace.run_lease import lease_duration

NEW = "registry.example.com/web:2"
LEASE = "/apis/coordination.k8s.io/v1/namespaces/ns/leases/inplace-upgrade-daemonset-web"


def params(**extra):
    base = {"namespace": "ns", "kind": "DaemonSet", "name": "web", "containers": {"app": NEW}, "wait": True,
            "wait_timeout": 30, "on_failure": "rollback", "events": False, "stop_when_orphaned": False,
            "sync_template": False, "lease": {"holder": None, "duration_seconds": None, "release": True}}
    base.update(extra)
    return base


@pytest.fixture
def kube(fake_kube):
    fake_kube.own("DaemonSet")
    return fake_kube


def lease_calls(kube):
    return [(i, method) for i, (method, path) in enumerate(kube.calls) if path.startswith(LEASE.rsplit("/", 1)[0])]


def first_patch(kube):
    return min(i for i, (method, path) in enumerate(kube.calls) if method == "PATCH" and "/pods/" in path)


def other_holder(kube, expires_in=600):
    now = datetime.datetime.now(datetime.timezone.utc)
    kube.leases[LEASE] = {"metadata": {"name": LEASE.rsplit("/", 1)[1], "namespace": "ns", "resourceVersion": "1",
                                       "uid": "uid-other"},
                          "spec": {"holderIdentity": "other-run", "leaseDurationSeconds": expires_in,
                                   "acquireTime": format_time(now), "renewTime": format_time(now)}}


def test_the_lease_is_taken_before_the_first_write_and_released_at_the_end(kube):
    result = Rollout(kube, params(batch_size=1)).run()
    assert result["patched"] == ["web-0", "web-1", "web-2"]
    lease = result["lease"]
    assert lease["action"] == "acquired" and lease["released"] == "released" and lease["held"] is False
    assert lease["lease"]["holder"] == lease["holder"] and lease["name"] == "inplace-upgrade-daemonset-web"
    calls = lease_calls(kube)
    assert calls[1][1] == "POST" and calls[1][0] < first_patch(kube), kube.calls
    assert calls[-1][1] == "DELETE" and kube.leases == {}
    # The plan the role reports from: the info module's fields, as planned before the first write.
    plan = result["plan"]
    assert plan["needs_upgrade"] == ["web-0", "web-1", "web-2"] and plan["planned_batches"] == [["web-0"], ["web-1"], ["web-2"]]
    assert plan["already_current"] == [] and plan["in_progress"] == [] and plan["not_ready"] == []
    assert [p["state"] for p in plan["pods"]] == ["needs_upgrade"] * 3


def test_api_requests_count_every_request_the_lease_release_and_the_last_events_included(kube):
    result = Rollout(kube, params(batch_size=2, events=True)).run()
    assert lease_calls(kube)[-1][1] == "DELETE" and any(m == "POST" and "/events" in p for m, p in kube.calls), kube.calls
    assert result["api_requests"] == kube.requests == len(kube.calls)


def test_nothing_to_write_takes_no_lease(kube):
    Rollout(kube, params(lease=None)).run()
    calls = len(kube.calls)
    result = Rollout(kube, params()).run()
    assert result["changed"] is False and result["plan"]["already_current"] == ["web-0", "web-1", "web-2"]
    assert result["lease"]["action"] == "not_taken" and result["lease"]["reason"] == "nothing to write"
    assert not [c for c in kube.calls[calls:] if "/leases" in c[1]] and kube.leases == {}


def test_a_lease_another_run_holds_is_refused_and_nothing_is_written(kube):
    other_holder(kube)
    before = dict(kube.leases[LEASE])
    with pytest.raises(InplaceError) as caught:
        Rollout(kube, params(batch_size=1)).run()
    details = caught.value.details
    assert "another upgrade run holds Lease ns/inplace-upgrade-daemonset-web: holder other-run" in caught.value.msg
    assert details["held_by_other"] is True and details["changed"] is False
    assert details["lease"]["action"] == "refused" and details["lease"]["lease"]["holder"] == "other-run"
    assert details["plan"]["needs_upgrade"] == ["web-0", "web-1", "web-2"]
    assert [m for m, p in kube.calls if m not in ("GET", "WATCH")] == [], kube.calls
    assert kube.leases[LEASE] == before


def test_an_expired_lease_is_taken_over(kube):
    other_holder(kube, expires_in=1)
    kube.leases[LEASE]["spec"]["renewTime"] = format_time(datetime.datetime.now(datetime.timezone.utc)
                                                          - datetime.timedelta(minutes=5))
    result = Rollout(kube, params()).run()
    assert result["lease"]["action"] == "took_over" and result["lease"]["previous_holder"] == "other-run"
    assert kube.leases == {}


def test_the_lease_is_released_after_a_failed_batch_and_its_rollback(kube):
    kube.unpullable.add(("web-1", NEW))
    with pytest.raises(InplaceError) as caught:
        Rollout(kube, params(batch_size=1, on_failure="rollback_all")).run()
    details = caught.value.details
    assert caught.value.msg.startswith("batch 2/3 failed") and details["rolled_back"] == ["web-0", "web-1"]
    assert details["lease"]["action"] == "acquired" and details["lease"]["released"] == "released"
    assert kube.leases == {}
    assert lease_calls(kube)[-1][0] > max(i for i, (m, p) in enumerate(kube.calls) if m == "PATCH")


def test_release_false_keeps_the_lease_for_the_next_call_which_renews_and_releases_it(kube):
    first = Rollout(kube, params(batch_size=1, max_batches=1,
                                 lease={"holder": None, "duration_seconds": 900, "release": False})).run()
    assert first["patched"] == ["web-0"] and first["planned_batches"] == [["web-0"], ["web-1"], ["web-2"]]
    assert first["lease"]["held"] is True and "released" not in first["lease"]
    assert kube.leases[LEASE]["spec"]["holderIdentity"] == first["lease"]["holder"]
    assert kube.leases[LEASE]["spec"]["leaseDurationSeconds"] == 900
    again = Rollout(kube, params(pods=["web-1", "web-2"],
                                 lease={"holder": first["lease"]["holder"], "duration_seconds": 900, "release": True})).run()
    assert again["patched"] == ["web-1", "web-2"]
    assert again["lease"]["action"] == "renewed" and again["lease"]["released"] == "released"
    assert kube.leases == {}


def test_a_call_with_nothing_to_write_still_releases_the_lease_of_its_run(kube):
    first = Rollout(kube, params(lease={"holder": None, "duration_seconds": None, "release": False})).run()
    assert first["lease"]["held"] is True
    last = Rollout(kube, params(lease={"holder": first["lease"]["holder"], "duration_seconds": None,
                                       "release": True})).run()
    assert last["lease"]["action"] == "not_taken" and last["lease"]["released"] == "released"
    assert kube.leases == {}


def test_check_mode_takes_no_lease_and_says_so(kube):
    kube.dry_run = True
    result = Rollout(kube, params(), check_mode=True).run()
    assert result["lease"]["action"] == "not_taken" and result["lease"]["reason"].startswith("check mode: no lease")
    assert kube.leases == {} and "released" not in result["lease"]


def test_check_mode_refuses_a_lease_another_run_holds(kube):
    other_holder(kube)
    kube.dry_run = True
    with pytest.raises(InplaceError) as caught:
        Rollout(kube, params(), check_mode=True).run()
    assert caught.value.details["held_by_other"] is True


def test_the_lease_is_renewed_between_batches_when_it_could_run_out(kube):
    # A 1 s lease is shorter than a batch could take: renewed before every batch after the first.
    result = Rollout(kube, params(batch_size=1, lease={"holder": None, "duration_seconds": 1, "release": True})).run()
    assert result["lease"]["renewals"] == 2
    assert [m for i, m in lease_calls(kube)] == ["GET", "POST", "GET", "PUT", "GET", "PUT", "GET", "DELETE"]
    # The worked-out lease outlasts this short run: never renewed, 4 lease requests in all.
    kube2 = type(kube)()
    kube2.own("DaemonSet")
    assert Rollout(kube2, params(batch_size=1)).run()["lease"]["renewals"] == 0
    assert len(lease_calls(kube2)) == 4


def test_the_lease_duration_is_worked_out_from_the_run():
    assert lease_duration(params(wait_timeout=300, min_ready_seconds=10, pause_seconds=5)) == 2 * (300 + 10 + 5 + 60) + 300
    assert lease_duration(params(wait_timeout=10, sync_timeout=600)) == 600 + 60 + 300
    assert lease_duration(params(lease={"duration_seconds": 42})) == 42


def test_an_unhealthy_start_is_refused_before_any_write_when_asked(kube):
    kube.pods["web-2"]["status"]["conditions"][0]["status"] = "False"
    with pytest.raises(InplaceError) as caught:
        Rollout(kube, params(batch_size=1, allow_unhealthy=False)).run()
    assert caught.value.msg.startswith(
        "DaemonSet ns/web is not healthy to begin with: 1 pods are not Ready (web-2), as many as a batch (1) may take "
        "down; nothing was changed")
    assert [m for m, p in kube.calls if m not in ("GET", "WATCH")] == [] and kube.leases == {}
    # By default the module starts anyway (as it always did); the role passes its own setting.
    kube.pods["web-2"]["status"]["conditions"][0]["status"] = "True"
    kube.pods["web-1"]["status"]["conditions"][0]["status"] = "False"
    assert Rollout(kube, params(batch_size=2)).run()["changed"] is True


def test_max_batches_runs_the_first_batches_only_and_leaves_the_template(kube):
    result = Rollout(kube, params(batch_size=1, max_batches=1, sync_template=True)).run()
    assert result["patched"] == ["web-0"] and [b["batch"] for b in result["batches"]] == [1]
    assert result["batches"][0]["of"] == 3 and result["template_synced"] is False
    assert result["template_sync"] == "not synced: 2 batches left for later calls"
    assert kube.images() == {"web-0": NEW, "web-1": "registry.example.com/web:1", "web-2": "registry.example.com/web:1"}
