# -*- coding: utf-8 -*-
# Copyright: inplace.kubernetes contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The Lease lock against a fake API: take, renew, refuse, take over a stale lease, release only our own."""

from __future__ import annotations

import copy
import datetime

import pytest

from ansible_collections.inplace.kubernetes.plugins.module_utils._inplace.errors import ApiError, InplaceError
from ansible_collections.inplace.kubernetes.plugins.module_utils._inplace.lease import LeaseLock, expiry, lease_name

PATH = "/apis/coordination.k8s.io/v1/namespaces/shop/leases/inplace-upgrade-deployment-web"
NOW = datetime.datetime(2026, 11, 25, 3, 0, 0, tzinfo=datetime.timezone.utc)


class FakeKube(object):
    """One Lease object with resourceVersion checks, the way the API server keeps it."""

    def __init__(self, lease=None, dry_run=False):
        self.lease = copy.deepcopy(lease)
        self.dry_run = dry_run
        self.version = 1
        self.writes = []
        if self.lease:
            self.lease["metadata"].update(resourceVersion="1", uid="u1")

    def get(self, path):
        assert path == PATH
        if not self.lease:
            raise ApiError("not found", status=404)
        return copy.deepcopy(self.lease)

    def post(self, path, body):
        self.writes.append(("POST", body))
        if self.lease:
            raise ApiError("exists", status=409)
        if not self.dry_run:
            self.version += 1
            self.lease = copy.deepcopy(body)
            self.lease["metadata"].update(resourceVersion=str(self.version), uid="u2")
        return copy.deepcopy(body)

    def request(self, method, path, body=None, **_):
        self.writes.append((method, body))
        if body.get("metadata", {}).get("resourceVersion", (body.get("preconditions") or {}).get("resourceVersion")) \
                != self.lease["metadata"]["resourceVersion"]:
            raise ApiError("conflict", status=409)
        if self.dry_run:
            return copy.deepcopy(body) if method == "PUT" else {}
        if method == "DELETE":
            self.lease = None
            return {}
        self.version += 1
        self.lease = copy.deepcopy(body)
        self.lease["metadata"].update(resourceVersion=str(self.version), uid="u1")
        return copy.deepcopy(self.lease)


def lease(holder, renewed, duration=60):
    stamp = renewed.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return {"metadata": {"name": "inplace-upgrade-deployment-web", "namespace": "shop"},
            "spec": {"holderIdentity": holder, "leaseDurationSeconds": duration, "acquireTime": stamp,
                     "renewTime": stamp}}


def lock(kube, holder="me", now=NOW):
    return LeaseLock(kube, "shop", lease_name("Deployment", "web"), holder, 120, clock=lambda: now)


def test_name_is_derived_and_lowercased():
    assert lease_name("Deployment", "web") == "inplace-upgrade-deployment-web"
    assert lease_name("StatefulSet", "db.main") == "inplace-upgrade-statefulset-db.main"


def test_takes_a_free_lease_and_renewing_it_is_not_a_change():
    kube = FakeKube()
    first = lock(kube).acquire()
    assert first["changed"] and first["action"] == "acquired" and kube.lease["spec"]["holderIdentity"] == "me"
    later = lock(kube, now=NOW + datetime.timedelta(seconds=30)).acquire()
    assert later["action"] == "renewed" and not later["changed"]
    assert expiry(kube.lease) == NOW + datetime.timedelta(seconds=150)
    assert kube.lease["spec"]["acquireTime"] == first["lease"]["acquire_time"]


def test_refuses_a_lease_someone_else_holds_naming_holder_and_expiry():
    kube = FakeKube(lease("other-run", NOW - datetime.timedelta(seconds=10)))
    with pytest.raises(InplaceError) as caught:
        lock(kube).acquire()
    assert "other-run" in caught.value.msg and "2026-11-25T03:00:50" in caught.value.msg
    assert caught.value.details["held_by_other"] is True
    assert kube.writes == []


def test_takes_over_a_stale_lease():
    kube = FakeKube(lease("dead-run", NOW - datetime.timedelta(minutes=5)))
    result = lock(kube).acquire()
    assert result["action"] == "took_over" and result["changed"] and result["previous_holder"] == "dead-run"
    assert kube.lease["spec"]["holderIdentity"] == "me" and kube.lease["spec"]["leaseTransitions"] == 1


def test_releases_only_its_own_lease():
    kube = FakeKube(lease("other-run", NOW))
    assert lock(kube).release() == {"changed": False, "action": "not_ours", "lease": lock(kube).release()["lease"]}
    assert kube.lease is not None
    kube = FakeKube(lease("me", NOW))
    assert lock(kube).release()["action"] == "released" and kube.lease is None
    assert lock(kube).release() == {"changed": False, "action": "absent", "lease": {}}


def test_check_mode_release_sends_dry_run_in_the_delete_body():
    kube = FakeKube(lease("me", NOW), dry_run=True)
    result = lock(kube).release()
    assert result["changed"] and kube.lease is not None
    assert kube.writes[-1][1]["dryRun"] == ["All"]
