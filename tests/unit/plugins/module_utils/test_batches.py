# -*- coding: utf-8 -*-
# Copyright: inplace.kubernetes contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""batches.py's catch-up against the recording fake API of conftest.py: pods that appear during the run
(a replacement, a scale-up, made by the controller from the old template) are upgraded in further batches
before the template sync; table-driven."""

from __future__ import annotations

import pytest

from ansible_collections.inplace.kubernetes.plugins.module_utils._inplace import states
from ansible_collections.inplace.kubernetes.plugins.module_utils._inplace.rollout import Rollout

OLD = "registry.example.com/web:1"
NEW = "registry.example.com/web:2"


def params(kind, **extra):
    base = {"namespace": "ns", "kind": kind, "name": "web", "containers": {"app": NEW}, "wait": True,
            "wait_timeout": 30, "on_failure": "rollback", "events": False, "stop_when_orphaned": False,
            "sync_template": True, "sync_timeout": 10}
    base.update(extra)
    return base


# kind, batch_size, {patched pod: pods that appear then}, the batches run (number, of, pods)
CATCH_UP = [
    ("Deployment", 1, {"web-1": 1}, [(1, 3, ["web-0"]), (2, 3, ["web-1"]), (3, 3, ["web-2"]), (4, 4, ["web-3"])]),
    ("StatefulSet", 1, {"web-1": 1}, [(1, 3, ["web-0"]), (2, 3, ["web-1"]), (3, 3, ["web-2"]), (4, 4, ["web-3"])]),
    ("DaemonSet", 1, {"web-1": 1}, [(1, 3, ["web-0"]), (2, 3, ["web-1"]), (3, 3, ["web-2"]), (4, 4, ["web-3"])]),
    # Catch-up batches have the run's batch size.
    ("Deployment", 2, {"web-0": 2}, [(1, 2, ["web-0", "web-1"]), (2, 2, ["web-2"]), (3, 3, ["web-3", "web-4"])]),
    # A pod that appears during a catch-up batch is caught up in the next round.
    ("Deployment", 2, {"web-2": 1, "web-3": 1}, [(1, 2, ["web-0", "web-1"]), (2, 2, ["web-2"]), (3, 3, ["web-3"]),
                                                 (4, 4, ["web-4"])]),
]


@pytest.mark.parametrize("kind, batch_size, appear, batches", CATCH_UP)
def test_pods_that_appear_during_the_run_are_upgraded_in_a_catch_up_batch(fake_kube, kind, batch_size, appear, batches):
    fake_kube.own(kind)
    fake_kube.appear_on_patch.update(appear)

    result = Rollout(fake_kube, params(kind, batch_size=batch_size)).run()

    names = ["web-%d" % i for i in range(3 + sum(appear.values()))]
    assert [(b["batch"], b["of"], b["pods"]) for b in result["batches"]] == batches
    assert set(b["state"] for b in result["batches"]) == {"done"}
    assert result["patched"] == names and fake_kube.patched()[:len(names)] == names
    assert dict((p["name"], p["state"]) for p in result["pods"]) == dict((n, states.UPGRADED) for n in names)
    assert fake_kube.images() == dict((n, NEW) for n in names)
    # Every live pod on the target, so the template was synced, and nothing was recreated.
    assert result["template_synced"] is True
    assert fake_kube.owner()["spec"]["template"]["spec"]["containers"] == [{"name": "app", "image": NEW}]
    assert fake_kube.recreated == [] and fake_kube.new_replicasets == []


@pytest.mark.parametrize("extra", [{"max_pods": 3}, {"pods": ["web-0", "web-1", "web-2"]}])
def test_a_run_limited_to_some_pods_catches_none_up_and_leaves_the_template(fake_kube, extra):
    fake_kube.own("Deployment")
    fake_kube.appear_on_patch["web-1"] = 1

    result = Rollout(fake_kube, params("Deployment", batch_size=1, **extra)).run()

    assert [b["pods"] for b in result["batches"]] == [["web-0"], ["web-1"], ["web-2"]]
    assert fake_kube.images() == {"web-0": NEW, "web-1": NEW, "web-2": NEW, "web-3": OLD}
    assert result["template_synced"] is False
    assert result["template_sync"] == "not synced: 1 pods are not on the target images yet (web-3)"
    assert fake_kube.owner()["spec"]["template"]["spec"]["containers"] == [{"name": "app", "image": OLD}]
