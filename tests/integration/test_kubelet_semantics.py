"""What the module does with what a real kubelet reports (issue 13's "done when"), on every tested version.

A pull failure and a crash loop fail their batch far below ``wait_timeout`` and are rolled back in place; a
re-run with a good image is clean; a sidecar upgrade completes in place; a digest-pinned workload's re-run
is ``changed: false`` at once. Times are compared with the configured timeout, never with a fixed figure.
"""

import pytest

from helpers import ReadinessWatcher, container, container_status, create_deployment, init_container, pods_of, snapshot
from module_helpers import (CRASHING, NEW, OLD, PULL_REASONS, UNPULLABLE, assert_clean_failure, deployment, normalised,
                            run_module)

pytestmark = [pytest.mark.integration, pytest.mark.compat]

SEL = "app=web"
TIMEOUT = 300


def assert_failed_fast_and_rolled_back(k8s, cluster, namespace, bad, reasons):
    before = deployment(k8s, namespace, 4)
    res, result = run_module(cluster, {"name": "web", "namespace": namespace, "containers": {"app": bad},
                                       "batch_size": 2, "on_failure": "rollback", "wait_timeout": TIMEOUT})
    msg = assert_clean_failure(res, result, "batch 1/2", "rollback")
    assert any(reason in msg for reason in reasons), msg
    first = result["batches"][0]
    assert first["state"] == "failed" and len(result["batches"]) == 1, result["batches"]
    # Decided from the kubelet's reason, not at the timeout: the failed batch took a small part of it.
    assert first["seconds"] < TIMEOUT / 10, "the failed batch took %ss of a %ss timeout" % (first["seconds"], TIMEOUT)
    assert sorted(result["rolled_back"]) == sorted(first["pods"]), (result["rolled_back"], msg)
    assert "rolled back 2 of 2 pods" in msg, msg
    after = snapshot(k8s, namespace, SEL)
    assert sorted(after) == sorted(before), "pods were replaced"
    for name in before:
        assert after[name]["uid"] == before[name]["uid"]
        assert after[name]["specImages"]["app"] == OLD
        assert after[name]["images"]["app"] == normalised(OLD)
        assert after[name]["ready"]
    dep = k8s.apps.read_namespaced_deployment("web", namespace)
    assert dep.spec.template.spec.containers[0].image == OLD and not dep.spec.paused

    # A re-run with a good image is clean: every pod upgraded in place, nothing left over.
    res, result = run_module(cluster, {"name": "web", "namespace": namespace, "containers": {"app": NEW},
                                       "batch_size": 2, "wait_timeout": 120})
    assert res.ok, res.describe()
    assert sorted(result["patched"]) == sorted(before) and result["failed_pods"] == []
    final = snapshot(k8s, namespace, SEL)
    for name in before:
        assert final[name]["uid"] == before[name]["uid"] and final[name]["images"]["app"] == normalised(NEW)
    assert k8s.apps.read_namespaced_deployment("web", namespace).spec.template.spec.containers[0].image == NEW


def test_pull_failure_fails_its_batch_far_below_the_timeout_and_is_rolled_back(k8s, cluster, namespace, faults):
    faults(pull_fail=[UNPULLABLE])
    assert_failed_fast_and_rolled_back(k8s, cluster, namespace, UNPULLABLE, PULL_REASONS)


def test_crash_loop_fails_its_batch_far_below_the_timeout_and_is_rolled_back(k8s, cluster, namespace, faults):
    faults(crash=[CRASHING])
    assert_failed_fast_and_rolled_back(k8s, cluster, namespace, CRASHING, ("CrashLoopBackOff", "Error", "exited"))


def test_sidecar_upgrade_completes_in_place(k8s, cluster, namespace):
    # Kubelets 1.32+ restart a running sidecar whose definition changed (computeInitContainerActions).
    create_deployment(k8s, namespace, "web", replicas=2, containers=[container("app", OLD)],
                      init_containers=[init_container("proxy", OLD, sidecar=True)])
    pods = {p.metadata.name: p for p in pods_of(k8s, namespace, SEL)}
    res, result = run_module(cluster, {"name": "web", "namespace": namespace, "containers": {"proxy": NEW},
                                       "wait_timeout": 120})
    assert res.ok, res.describe()
    assert sorted(result["patched"]) == sorted(pods)
    assert {p["name"]: p["state"] for p in result["pods"]} == {n: "upgraded" for n in pods}
    for pod in pods_of(k8s, namespace, SEL):
        old = pods[pod.metadata.name]
        side, side0 = container_status(pod, "proxy", init=True), container_status(old, "proxy", init=True)
        assert pod.metadata.uid == old.metadata.uid and pod.status.pod_ip == old.status.pod_ip
        assert side.image == normalised(NEW) and side.ready and side.state.running
        assert side.container_id != side0.container_id and side.restart_count == side0.restart_count + 1
        assert container_status(pod, "app").container_id == container_status(old, "app").container_id
    dep = k8s.apps.read_namespaced_deployment("web", namespace)
    assert dep.spec.template.spec.init_containers[0].image == NEW


def test_digest_pinned_workload_rerun_is_unchanged_at_once(k8s, cluster, namespace):
    first, second = "nginx@sha256:" + "1a" * 32, "nginx@sha256:" + "2b" * 32
    before = deployment(k8s, namespace, 3, containers=[container("app", first)])
    args = {"name": "web", "namespace": namespace, "containers": {"app": second}, "wait_timeout": 120}
    res, result = run_module(cluster, args)
    assert res.ok and result["changed"], res.describe()
    after = snapshot(k8s, namespace, SEL)
    for name in before:
        assert after[name]["uid"] == before[name]["uid"]
        assert after[name]["imageIDs"]["app"] == "docker.io/library/nginx@sha256:" + "2b" * 32
        # containerd names an image pulled by digest only by its ID
        assert after[name]["images"]["app"].startswith("sha256:")
    res, result = run_module(cluster, args)
    assert res.ok and not result["changed"], res.describe()
    assert sorted(result["already_current"]) == sorted(before)
    assert result["patched"] == [], result["patched"]
    assert snapshot(k8s, namespace, SEL) == after


def test_a_flip_back_held_in_the_kubelets_restart_back_off_is_waited_for_not_failed(k8s, cluster, namespace):
    """The kubelet keeps a restart back-off per pod, container, image and resources for 600 s after its last
    update (kuberuntime_manager.go doBackOff, helpers.go GetBackoffKey). Flipped back within it to an image it
    ran seconds ago, a pod's new spec waits in CrashLoopBackOff before any container of it starts: an upgrade
    after a rollback, a re-run. That is no crash of the image: each run waits it out and upgrades in place."""
    before = deployment(k8s, namespace, 2)
    images = [OLD]
    with ReadinessWatcher(k8s.core, namespace, SEL) as watcher:
        for image in [NEW, OLD, NEW, OLD, NEW, OLD]:
            res, result = run_module(cluster, {"name": "web", "namespace": namespace, "containers": {"app": image},
                                               "wait_timeout": TIMEOUT})
            assert res.ok, res.describe()
            assert sorted(result["patched"]) == sorted(before), result["patched"]
            images.append(image)
            if any(seen[1] == "CrashLoopBackOff" for seen in watcher.waiting_reasons):
                break
    held = sorted(pod for pod, reason in watcher.waiting_reasons if reason == "CrashLoopBackOff")
    assert held, "no flip was held in the kubelet's back-off, so this test tested nothing: %s" % sorted(watcher.waiting_reasons)
    after = snapshot(k8s, namespace, SEL)
    assert sorted(after) == sorted(before), "pods were replaced"
    for name in before:
        assert after[name]["uid"] == before[name]["uid"]
        assert after[name]["specImages"]["app"] == images[-1]
        assert after[name]["images"]["app"] == normalised(images[-1])
        assert after[name]["ready"]
        assert after[name]["restartCounts"]["app"] == before[name]["restartCounts"]["app"] + len(images) - 1
