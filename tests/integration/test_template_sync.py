"""Issue 14: the template sync of a Deployment never recreates a pod, also where the controller's history
works against it: a downgrade to images an older ReplicaSet already holds, and ``rollout undo`` copying a
ReplicaSet's annotations back onto the Deployment."""

import json
import os
import subprocess
import sys

import pytest

from helpers import container, create_daemonset, create_deployment, create_statefulset, live_pods, snapshot, wait_for
from module_helpers import NEW, OLD, THIRD, deployment, run_module

pytestmark = [pytest.mark.integration, pytest.mark.compat]

SEL = "app=web"
SYNC_ANNOTATION = "inplace.kubernetes.io/template-sync"
REVISION = "deployment.kubernetes.io/revision"


def owned_replicasets(k8s, namespace):
    """Oldest revision first (creationTimestamp has one-second resolution: two ReplicaSets may share it)."""
    return sorted(k8s.apps.list_namespaced_replica_set(namespace).items,
                  key=lambda r: int((r.metadata.annotations or {}).get(REVISION, 0)))


def set_image_and_settle(k8s, namespace, image, replicas):
    """What ``kubectl set image`` does: a new revision, its pods recreated by the controller (test setup)."""
    k8s.apps.patch_namespaced_deployment("web", namespace, {"spec": {"template": {"spec": {
        "containers": [{"name": "app", "image": image}]}}}})
    settle(k8s, namespace, image, replicas)


def settle(k8s, namespace, image, replicas):
    def done():
        dep = k8s.apps.read_namespaced_deployment("web", namespace)
        st = dep.status
        pods = live_pods(k8s, namespace, SEL)
        all_pods = k8s.core.list_namespaced_pod(namespace, label_selector=SEL).items
        return (st.observed_generation >= dep.metadata.generation and st.updated_replicas == replicas
                and st.ready_replicas == replicas and (st.replicas or 0) == replicas and len(all_pods) == replicas
                and all(p.spec.containers[0].image == image for p in pods))
    wait_for(done, 180, message="Deployment web settled on %s" % image)


def rollout_undo(k8s, namespace):
    """``kubectl rollout undo`` through the API, as kubectl's DeploymentRollbacker does it: the previous
    revision's ReplicaSet template (without pod-template-hash) and its annotations onto the Deployment."""
    dep = k8s.apps.read_namespaced_deployment("web", namespace)
    current = int(dep.metadata.annotations[REVISION])
    previous = max((r for r in owned_replicasets(k8s, namespace) if int(r.metadata.annotations[REVISION]) < current),
                   key=lambda r: int(r.metadata.annotations[REVISION]))
    template = k8s.api.sanitize_for_serialization(previous.spec.template)
    template["metadata"]["labels"].pop("pod-template-hash", None)
    skip = {"kubectl.kubernetes.io/last-applied-configuration", REVISION, "deployment.kubernetes.io/revision-history",
            "deployment.kubernetes.io/desired-replicas", "deployment.kubernetes.io/max-replicas",
            "deprecated.deployment.rollback.to"}
    annotations = dict((k, v) for k, v in (dep.metadata.annotations or {}).items() if k in skip)
    annotations.update((k, v) for k, v in (previous.metadata.annotations or {}).items() if k not in skip)
    k8s.apps.patch_namespaced_deployment("web", namespace, [
        {"op": "replace", "path": "/spec/template", "value": template},
        {"op": "replace", "path": "/metadata/annotations", "value": annotations}],
        _content_type="application/json-patch+json")
    return previous


def uids(k8s, namespace):
    return dict((n, s["uid"]) for n, s in snapshot(k8s, namespace, SEL).items())


def assert_synced_and_released(k8s, namespace, image):
    dep = k8s.apps.read_namespaced_deployment("web", namespace)
    assert dep.spec.template.spec.containers[0].image == image
    assert not dep.spec.paused, "Deployment left paused"
    assert SYNC_ANNOTATION not in (dep.metadata.annotations or {})
    for rs in owned_replicasets(k8s, namespace):
        assert SYNC_ANNOTATION not in (rs.metadata.annotations or {}), "sync record left on %s" % rs.metadata.name


def test_downgrade_to_a_previous_revisions_images_recreates_no_pod(k8s, cluster, namespace):
    deployment(k8s, namespace, 3)
    set_image_and_settle(k8s, namespace, NEW, 3)
    old_rs, current_rs = owned_replicasets(k8s, namespace)
    assert old_rs.spec.template.spec.containers[0].image == OLD and old_rs.spec.replicas == 0
    before = uids(k8s, namespace)

    res, result = run_module(cluster, {"name": "web", "namespace": namespace, "containers": {"app": OLD},
                                       "wait_timeout": 90})
    assert res.ok and result["template_synced"] is True, res.describe()
    steps = result["template_sync_steps"]
    assert any(s.startswith("deleted ReplicaSet %s " % old_rs.metadata.name) for s in steps), steps
    assert any(s.startswith("the controller proved") for s in steps), steps
    assert_synced_and_released(k8s, namespace, OLD)
    settle(k8s, namespace, OLD, 3)
    assert [r.metadata.uid for r in owned_replicasets(k8s, namespace)] == [current_rs.metadata.uid]
    assert uids(k8s, namespace) == before, "pods recreated by the downgrade"


def test_rollout_undo_after_an_in_place_upgrade_resumes_nothing(k8s, cluster, namespace):
    deployment(k8s, namespace, 3)
    res, result = run_module(cluster, {"name": "web", "namespace": namespace, "containers": {"app": NEW},
                                       "wait_timeout": 90})
    assert res.ok and result["template_synced"] is True, res.describe()
    assert_synced_and_released(k8s, namespace, NEW)
    set_image_and_settle(k8s, namespace, THIRD, 3)
    previous = rollout_undo(k8s, namespace)
    settle(k8s, namespace, NEW, 3)
    dep = k8s.apps.read_namespaced_deployment("web", namespace)
    assert SYNC_ANNOTATION not in (dep.metadata.annotations or {}), "undo copied a sync record back"
    assert previous.spec.template.spec.containers[0].image == NEW
    before = uids(k8s, namespace)

    res, result = run_module(cluster, {"name": "web", "namespace": namespace, "containers": {"app": OLD},
                                       "wait_timeout": 90})
    assert res.ok and result["template_synced"] is True, res.describe()
    steps = result["template_sync_steps"]
    assert not any("resumed" in s or "stale" in s for s in steps), steps
    assert_synced_and_released(k8s, namespace, OLD)
    settle(k8s, namespace, OLD, 3)
    assert uids(k8s, namespace) == before, "pods recreated"


def test_a_stale_sync_record_copied_back_by_rollout_undo_is_dropped_not_resumed(k8s, cluster, namespace):
    """The record an older run left on a ReplicaSet (the controller copies the Deployment's annotations onto
    it), brought back by ``rollout undo``: the pods do not run its target, so it is dropped, nothing paused."""
    deployment(k8s, namespace, 3)
    first = owned_replicasets(k8s, namespace)[0]
    stale = {"target": {"app": THIRD}, "paused": False, "started": "2026-01-01T00:00:00Z"}
    k8s.apps.patch_namespaced_replica_set(first.metadata.name, namespace, {
        "metadata": {"annotations": {SYNC_ANNOTATION: json.dumps(stale, sort_keys=True)}}})
    set_image_and_settle(k8s, namespace, NEW, 3)
    rollout_undo(k8s, namespace)
    settle(k8s, namespace, OLD, 3)
    dep = k8s.apps.read_namespaced_deployment("web", namespace)
    assert SYNC_ANNOTATION in (dep.metadata.annotations or {}), "setup: undo did not copy the record back"
    before = uids(k8s, namespace)

    res, result = run_module(cluster, {"name": "web", "namespace": namespace, "containers": {"app": NEW},
                                       "wait_timeout": 90})
    assert res.ok and result["template_synced"] is True, res.describe()
    steps = result["template_sync_steps"]
    assert any(s.startswith("dropped a stale template-sync record") for s in steps), steps
    assert "resumed an interrupted template sync" not in steps, steps
    assert_synced_and_released(k8s, namespace, NEW)
    settle(k8s, namespace, NEW, 3)
    assert uids(k8s, namespace) == before, "pods recreated"


# -- soak: many syncs in a row on busy cores ----------------------------------------------------------------


SOAK = [("Deployment", 10, 100), ("StatefulSet", 10, 30), ("DaemonSet", None, 30)]


def _owned_uids(k8s, namespace, selector):
    return dict((p.metadata.name, p.metadata.uid) for p in live_pods(k8s, namespace, selector))


@pytest.mark.slow
@pytest.mark.parametrize("kind, replicas, rounds", SOAK, ids=[case[0] for case in SOAK])
def test_soak_alternating_upgrades_with_template_sync_recreate_no_pod(k8s, cluster, namespace, kind, replicas, rounds):
    """Issue 14's soak: ``rounds`` in-place upgrades with template sync while two busy loops keep both cores
    loaded: 0 new ReplicaSets (Deployment), 0 pod UIDs changed, never left paused/held.
    ``INPLACE_SOAK_ROUNDS`` overrides the round count (for a quick check).

    The images alternate between two repositories, with a tag of their own per round: the kubelet keys its
    restart back-off by the container's spec hash (image included), so going back to an image a container
    ran a few rounds earlier meets that container's back-off (``CrashLoopBackOff`` reported for ~10 s, seen
    from the fourth round on), which fails the batch - a hazard of the upgrade itself, not of the sync."""
    rounds = int(os.environ.get("INPLACE_SOAK_ROUNDS") or rounds)
    name, selector = "soak", "app=soak"
    if kind == "Deployment":
        create_deployment(k8s, namespace, name, replicas=replicas, containers=[container("app", OLD)], timeout=240)
    elif kind == "StatefulSet":
        create_statefulset(k8s, namespace, name, replicas=replicas, containers=[container("app", OLD)], timeout=400)
    else:
        create_daemonset(k8s, namespace, name, containers=[container("app", OLD)], timeout=240)
    before = _owned_uids(k8s, namespace, selector)
    rs_before = sorted(r.metadata.uid for r in k8s.apps.list_namespaced_replica_set(namespace).items)
    burners = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _burner in range(2)]
    try:
        for index in range(rounds):
            image = "%s:soak-%d" % ("nginx" if index % 2 == 0 else "registry.example.com/soak/app", index)
            res, result = run_module(cluster, {"kind": kind, "name": name, "namespace": namespace,
                                               "containers": {"app": image}, "batch_size": 5, "wait_timeout": 180})
            assert res.ok and result["template_synced"] is True, "round %d: %s" % (index, res.describe())
            now = _owned_uids(k8s, namespace, selector)
            assert now == before, "round %d: pods recreated: %s" % (index, sorted(set(now.items()) ^ set(before.items())))
            rs_now = sorted(r.metadata.uid for r in k8s.apps.list_namespaced_replica_set(namespace).items)
            assert rs_now == rs_before, "round %d: a new ReplicaSet" % index
            owner = getattr(k8s.apps, {"Deployment": "read_namespaced_deployment",
                                       "StatefulSet": "read_namespaced_stateful_set",
                                       "DaemonSet": "read_namespaced_daemon_set"}[kind])(name, namespace)
            assert SYNC_ANNOTATION not in (owner.metadata.annotations or {}), "round %d: record left" % index
            assert owner.spec.template.spec.containers[0].image == image, "round %d: template not in step" % index
            if kind == "Deployment":
                assert not owner.spec.paused, "round %d: left paused" % index
    finally:
        for proc in burners:
            proc.kill()
            proc.wait()
