"""Integration tests of inplace.kubernetes.k8s_inplace_upgrade, part two (issue 5): whole batched
rollouts in one task, failure handling per on_failure, StatefulSets and DaemonSets kept durable,
undo in place, mid-rollout Deployments refused, Events.

Every test runs the module through ansible-playbook, in its own namespace, and checks the cluster
through the API afterwards (a watcher thread follows pod readiness during the batched rollout).
"""

import json
import time

import pytest

from helpers import (ReadinessWatcher, container, create_daemonset, create_deployment, live_pods, resource_versions,
                     snapshot, value_when, wait_for, wait_pods_ready)
from module_helpers import (CRASHING, NEVER_READY, NEW, OLD, PULL_REASONS, SIDECAR, UNPULLABLE, after_run, assert_clean_failure,
                            assert_restarted_on, assert_untouched, deployment, events_for, normalised, run_module, run_witnessed,
                            spec_images, wait_deployment_settled)

pytestmark = [pytest.mark.integration, pytest.mark.compat]

SEL = "app=web"
LAST_UPGRADE = "inplace.kubernetes.io/last-upgrade"


def replicaset_uids(k8s, namespace):
    return sorted(r.metadata.uid for r in k8s.apps.list_namespaced_replica_set(namespace).items)


# -- batched rollout in one task --------------------------------------------------------------------


def test_rollout_of_12_pods_in_batches_of_3_in_one_task(k8s, cluster, namespace):
    # A readiness probe that first checks 2 s after the start, as real services need: without it the
    # fake runtime restarts a container within one kubelet status write, the API never shows the pod
    # unready, and the batch bound below could not fail. (1 s is not enough: the prober's first tick
    # after the restart may come a second late and set "not ready" and "ready" in one go.)
    probe = {"exec": {"command": ["true"]}, "periodSeconds": 1, "initialDelaySeconds": 2}
    before = deployment(k8s, namespace, 12, containers=[container("app", OLD, readinessProbe=probe)], timeout=120)
    rs_before = replicaset_uids(k8s, namespace)

    watcher = ReadinessWatcher(k8s.core, namespace, SEL).start()
    try:
        res, result = run_module(cluster, {"name": "web", "namespace": namespace, "containers": {"app": NEW},
                                           "batch_size": 3, "wait_timeout": 90})
    finally:
        watcher.stop()
    assert res.ok, res.describe()

    # One Ansible task did the whole job.
    assert res.task_names() == ["upgrade"], res.task_names()
    assert len(result["batches"]) == 4 and all(b["state"] == "done" for b in result["batches"]), result["batches"]
    assert [len(b) for b in result["planned_batches"]] == [3, 3, 3, 3]
    assert sorted(sum(result["planned_batches"], [])) == sorted(before)

    # Never more than a batch unready at once, and every pod did go through a restart.
    assert watcher.max_unready <= 3, "batches %s; %s" % (result["planned_batches"], watcher.describe())
    assert watcher.went_unready == set(before), sorted(set(before) - watcher.went_unready)

    after = after_run(k8s, namespace, SEL, watcher)
    assert sorted(after) == sorted(before), "pods were replaced"
    for name in before:
        assert_restarted_on(before[name], after[name], "app", NEW)
    assert replicaset_uids(k8s, namespace) == rs_before
    dep = k8s.apps.read_namespaced_deployment("web", namespace)
    assert dep.spec.template.spec.containers[0].image == NEW and not dep.spec.paused


# -- failures per on_failure -----------------------------------------------------------------------


def test_bad_image_batch_is_rolled_back_and_untouched_pods_never_restart(k8s, cluster, namespace, faults):
    before = deployment(k8s, namespace, 6)
    faults(pull_fail=[UNPULLABLE])

    started = time.monotonic()
    res, result = run_module(cluster, {"name": "web", "namespace": namespace, "containers": {"app": UNPULLABLE},
                                       "batch_size": 3, "on_failure": "rollback", "wait_timeout": 60})
    took = time.monotonic() - started
    assert not res.ok
    msg = assert_clean_failure(res, result, "batch 1/2", "rollback")
    assert any(reason in msg for reason in PULL_REASONS), msg
    # While the pull fails the real kubelet keeps the old container's image in the status and only changes
    # state.waiting.reason (convertToAPIContainerStatuses): the batch must fail from that reason within
    # seconds (pull tried right after the kill, seen on the next sync), not at wait_timeout; the rollback
    # is one more restart in place (~1-3 s).
    assert took < 40, "bad batch and rollback took %.1f s with wait_timeout 60: not failing fast" % took
    first = result["batches"][0]["pods"]  # planned_batches is documented for success only
    untouched = [n for n in before if n not in first]
    assert len(first) == 3 and len(untouched) == 3
    assert sorted(result["rolled_back"]) == sorted(first), result["rolled_back"]
    assert len(result["batches"]) == 1, "the module went on after a failed batch: %s" % result["batches"]

    wait_pods_ready(k8s.core, namespace, SEL, 6, timeout=30)
    after = snapshot(k8s, namespace, SEL)
    for name in first:
        # Went to the bad image and back: same pod, old image, Ready.
        assert after[name]["uid"] == before[name]["uid"]
        assert after[name]["node"] == before[name]["node"] and after[name]["ip"] == before[name]["ip"]
        assert after[name]["specImages"]["app"] == OLD
        assert after[name]["images"]["app"] == normalised(OLD)
        assert after[name]["ready"]
        assert after[name]["containerIDs"]["app"] != before[name]["containerIDs"]["app"]
    for name in untouched:
        assert_untouched(before[name], after[name])
        assert after[name]["restartCounts"]["app"] == 0
    dep = k8s.apps.read_namespaced_deployment("web", namespace)
    assert dep.spec.template.spec.containers[0].image == OLD, "template moved to the bad image"
    assert not dep.spec.paused
    reasons = set(e.reason for e in events_for(k8s, namespace))
    assert "InplaceUpgradeFailed" in reasons and "InplaceRolledBack" in reasons, reasons


@pytest.mark.any_version
def test_on_failure_stop_leaves_the_failed_batch_as_it_is(k8s, cluster, namespace, faults):
    before = deployment(k8s, namespace, 4)
    bad = CRASHING
    # The container exits 1 0.3 s after it starts; the kubelet's own CrashLoopBackOff follows (back-off
    # 10 s, 20 s, ...). The module must fail on the first Error / CrashLoopBackOff, not at wait_timeout.
    faults(crash=[bad])

    res, result = run_module(cluster, {"name": "web", "namespace": namespace, "containers": {"app": bad},
                                       "batch_size": 2, "on_failure": "stop", "wait_timeout": 60})
    assert not res.ok
    msg = assert_clean_failure(res, result, "batch 1/2", "stop")
    assert "CrashLoopBackOff" in msg or "Error" in msg, msg
    first = result["batches"][0]["pods"]
    assert len(first) == 2 and len(result["batches"]) == 1, result["batches"]
    assert result["rolled_back"] == []
    states = dict((p["name"], p["state"]) for p in result["pods"])
    assert any(states.get(n) == "failed" for n in first), states

    after = snapshot(k8s, namespace, SEL)
    for name in before:
        assert after[name]["uid"] == before[name]["uid"]
        if name in first:
            assert after[name]["specImages"]["app"] == bad
            assert not after[name]["ready"]
        else:
            assert_untouched(before[name], after[name])
    assert k8s.apps.read_namespaced_deployment("web", namespace).spec.template.spec.containers[0].image == OLD


@pytest.mark.any_version
def test_rollback_all_restores_every_pod_this_run_changed(k8s, cluster, namespace, faults):
    """A real failure in the second batch: the last pod's sidecar never gets ready (its exec readiness
    probe fails), so once its app container is upgraded the pod still is not Ready and batch 2 times
    out; rollback_all then restores batch 1 as well."""
    sick_sidecar = "registry.example.com/shop/sidecar:1.0-never-ready"
    faults(unready=[sick_sidecar])
    create_deployment(k8s, namespace, "web", replicas=6,
                      containers=[container("app", OLD), container("sidecar", SIDECAR)])
    wait_deployment_settled(k8s, namespace, "web")
    names = sorted(snapshot(k8s, namespace, SEL))
    sick = names[-1]
    k8s.core.patch_namespaced_pod(sick, namespace, [{"op": "replace", "path": "/spec/containers/1/image",
                                                     "value": sick_sidecar}],
                                  _content_type="application/json-patch+json")

    def sidecar_runs_unready():
        snap = snapshot(k8s, namespace, SEL)[sick]
        return snap["images"]["sidecar"] == normalised(sick_sidecar) and not snap["ready"]
    wait_for(sidecar_runs_unready, 30, message="the sick pod's sidecar restarted onto %s, unready" % sick_sidecar)
    before = snapshot(k8s, namespace, SEL)

    res, result = run_module(cluster, {"name": "web", "namespace": namespace, "containers": {"app": NEW},
                                       "batch_size": 3, "on_failure": "rollback_all", "wait_timeout": 8})
    assert not res.ok
    msg = assert_clean_failure(res, result, "batch 2/2", sick, "rollback_all")
    assert [len(b["pods"]) for b in result["batches"]] == [3, 3], result["batches"]
    assert [b["state"] for b in result["batches"]] == ["done", "failed"], result["batches"]
    first, second = [b["pods"] for b in result["batches"]]
    assert sick in second
    good = [n for n in names if n != sick]
    assert sorted(result["rolled_back"]) == sorted(good), (result["rolled_back"], msg)

    after = snapshot(k8s, namespace, SEL)
    for name in good:
        assert after[name]["uid"] == before[name]["uid"]
        assert after[name]["specImages"] == {"app": OLD, "sidecar": SIDECAR}
        assert after[name]["images"]["app"] == normalised(OLD) and after[name]["ready"], after[name]
        assert after[name]["restartCounts"]["app"] == before[name]["restartCounts"]["app"] + 2
        assert after[name]["containerIDs"]["sidecar"] == before[name]["containerIDs"]["sidecar"]
    assert after[sick]["uid"] == before[sick]["uid"]
    assert k8s.apps.read_namespaced_deployment("web", namespace).spec.template.spec.containers[0].image == OLD


# -- StatefulSet and DaemonSet, durable ----------------------------------------------------------------


def _statefulset_with_claims(k8s, namespace, name="db", replicas=3):
    storage_class = "inplace-static-" + namespace
    pv_names = []
    for ordinal in range(replicas):
        pv = "%s-%s-%d" % (namespace, name, ordinal)
        k8s.core.create_persistent_volume({
            "apiVersion": "v1", "kind": "PersistentVolume", "metadata": {"name": pv},
            "spec": {"capacity": {"storage": "1Gi"}, "accessModes": ["ReadWriteOnce"],
                     "persistentVolumeReclaimPolicy": "Retain", "storageClassName": storage_class,
                     "hostPath": {"path": "/tmp/inplace-pv/%s" % pv},
                     "claimRef": {"namespace": namespace, "name": "data-%s-%d" % (name, ordinal)}}})
        pv_names.append(pv)
    labels = {"app": name}
    k8s.core.create_namespaced_service(namespace, {
        "apiVersion": "v1", "kind": "Service", "metadata": {"name": name},
        "spec": {"clusterIP": "None", "selector": labels, "ports": [{"port": 80, "name": "http"}]}})
    k8s.apps.create_namespaced_stateful_set(namespace, {
        "apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": name, "labels": labels},
        "spec": {"replicas": replicas, "serviceName": name, "podManagementPolicy": "Parallel",
                 "selector": {"matchLabels": labels},
                 "template": {"metadata": {"labels": labels},
                              "spec": {"terminationGracePeriodSeconds": 1,
                                       "containers": [{"name": "db", "image": OLD,
                                                       "volumeMounts": [{"name": "data", "mountPath": "/data"}]},
                                                      {"name": "sidecar", "image": SIDECAR}]}},
                 "volumeClaimTemplates": [{"metadata": {"name": "data"},
                                           "spec": {"accessModes": ["ReadWriteOnce"], "storageClassName": storage_class,
                                                    "resources": {"requests": {"storage": "1Gi"}}}}]}})
    return pv_names


def _delete_pvs(k8s, names):
    for pv in names:
        try:
            k8s.core.delete_persistent_volume(pv)
        except Exception:  # noqa: BLE001 - cleanup
            pass


def _claims(k8s, namespace):
    return dict((c.metadata.name, (c.status.phase, c.spec.volume_name))
                for c in k8s.core.list_namespaced_persistent_volume_claim(namespace).items)


def test_statefulset_upgrade_keeps_pods_and_is_durable(k8s, cluster, namespace):
    pvs = _statefulset_with_claims(k8s, namespace)
    try:
        sel = "app=db"
        wait_pods_ready(k8s.core, namespace, sel, 3, timeout=90)
        claims = wait_for(value_when(lambda: _claims(k8s, namespace),
                                     lambda c: len(c) == 3 and all(v[0] == "Bound" for v in c.values())),
                          30, message="PVCs bound")
        assert sorted(v[1] for v in claims.values()) == sorted(pvs)
        sts = wait_for(value_when(lambda: k8s.apps.read_namespaced_stateful_set("db", namespace),
                                  lambda s: s.status.current_revision == s.status.update_revision
                                  and s.status.ready_replicas == 3), 30)
        old_revision = sts.status.update_revision
        before = snapshot(k8s, namespace, sel)
        assert sorted(before) == ["db-0", "db-1", "db-2"]

        res, result, witness = run_witnessed(k8s, cluster, namespace, sel, {"kind": "StatefulSet", "name": "db", "namespace": namespace,
                                             "containers": {"db": NEW}, "batch_size": 1, "wait_timeout": 60})
        assert res.ok, res.describe()
        assert result["template_synced"] is True
        after = after_run(k8s, namespace, sel, witness)
        for name in before:
            assert_restarted_on(before[name], after[name], "db", NEW)
            assert_untouched(before[name], after[name], ["sidecar"])

        sts = wait_for(value_when(lambda: k8s.apps.read_namespaced_stateful_set("db", namespace),
                                  lambda s: s.status.observed_generation >= s.metadata.generation
                                  and s.status.current_revision == s.status.update_revision
                                  and s.status.updated_replicas == 3), 30,
                       message="StatefulSet currentRevision == updateRevision")
        assert sts.status.update_revision != old_revision
        assert sts.spec.template.spec.containers[0].image == NEW
        assert sts.spec.update_strategy.type == "RollingUpdate"
        assert not (sts.spec.update_strategy.rolling_update and sts.spec.update_strategy.rolling_update.partition), \
            "partition left in place: %s" % sts.spec.update_strategy
        assert "inplace.kubernetes.io/template-sync" not in (sts.metadata.annotations or {})
        for pod in live_pods(k8s, namespace, sel):
            assert pod.metadata.labels["controller-revision-hash"] == sts.status.update_revision
        # Give the controller a moment: it must not recreate anything.
        wait_for(lambda: k8s.apps.read_namespaced_stateful_set("db", namespace).status.ready_replicas == 3, 10)
        assert dict((n, s["uid"]) for n, s in snapshot(k8s, namespace, sel).items()) == \
            dict((n, s["uid"]) for n, s in before.items()), "the controller recreated pods"

        # A deleted pod comes back on the new image, with its claim; no other pod recreated.
        k8s.core.delete_namespaced_pod("db-1", namespace)
        wait_for(value_when(lambda: snapshot(k8s, namespace, sel),
                            lambda s: "db-1" in s and s["db-1"]["uid"] != before["db-1"]["uid"] and s["db-1"]["ready"]),
                 60, message="db-1 recreated and Ready")
        final = snapshot(k8s, namespace, sel)
        assert final["db-1"]["specImages"] == {"db": NEW, "sidecar": SIDECAR}
        assert final["db-1"]["images"]["db"] == normalised(NEW)
        for name in ("db-0", "db-2"):
            assert final[name]["uid"] == before[name]["uid"]
            assert final[name]["containerIDs"] == after[name]["containerIDs"]
        assert _claims(k8s, namespace) == claims
        pod = k8s.core.read_namespaced_pod("db-1", namespace)
        assert [v.persistent_volume_claim.claim_name for v in pod.spec.volumes if v.persistent_volume_claim] == \
            ["data-db-1"]
    finally:
        k8s.apps.delete_namespaced_stateful_set("db", namespace)
        _delete_pvs(k8s, pvs)


def test_daemonset_upgrade_keeps_pods_and_is_durable(k8s, cluster, namespace):
    nodes = len(k8s.core.list_node().items)
    create_daemonset(k8s, namespace, "agent", containers=[container("agent", OLD), container("sidecar", SIDECAR)])
    sel = "app=agent"
    wait_for(value_when(lambda: k8s.apps.read_namespaced_daemon_set("agent", namespace),
                        lambda d: d.status.number_ready == nodes and d.status.updated_number_scheduled == nodes), 30)
    before = snapshot(k8s, namespace, sel)
    assert len(set(s["node"] for s in before.values())) == nodes

    res, result, witness = run_witnessed(k8s, cluster, namespace, sel, {"kind": "DaemonSet", "name": "agent", "namespace": namespace,
                                         "containers": {"agent": NEW}, "wait_timeout": 60})
    assert res.ok, res.describe()
    assert result["template_synced"] is True
    after = after_run(k8s, namespace, sel, witness)
    for name in before:
        assert_restarted_on(before[name], after[name], "agent", NEW)
        assert_untouched(before[name], after[name], ["sidecar"])

    ds = wait_for(value_when(lambda: k8s.apps.read_namespaced_daemon_set("agent", namespace),
                             lambda d: d.status.observed_generation >= d.metadata.generation
                             and d.status.updated_number_scheduled == d.status.desired_number_scheduled == nodes
                             and d.status.number_ready == nodes), 30,
                  message="DaemonSet updatedNumberScheduled == desiredNumberScheduled")
    assert ds.spec.template.spec.containers[0].image == NEW
    assert ds.spec.update_strategy.type == "RollingUpdate", ds.spec.update_strategy
    assert "inplace.kubernetes.io/template-sync" not in (ds.metadata.annotations or {})
    assert dict((n, s["uid"]) for n, s in snapshot(k8s, namespace, sel).items()) == \
        dict((n, s["uid"]) for n, s in before.items()), "the controller recreated pods"

    victim = sorted(after)[0]
    node = after[victim]["node"]
    k8s.core.delete_namespaced_pod(victim, namespace)

    def replaced():
        snap = snapshot(k8s, namespace, sel)
        new = [n for n in snap if n not in after and snap[n]["node"] == node and snap[n]["ready"]]
        return (snap, new[0]) if new and victim not in snap else None
    final, newcomer = wait_for(replaced, 60, message="DaemonSet pod recreated on %s" % node)
    assert final[newcomer]["specImages"] == {"agent": NEW, "sidecar": SIDECAR}
    assert final[newcomer]["images"]["agent"] == normalised(NEW)
    for name in after:
        if name != victim:
            assert final[name]["uid"] == after[name]["uid"]
            assert final[name]["containerIDs"] == after[name]["containerIDs"]


# -- undo in place ----------------------------------------------------------------------------------------


def test_rollback_true_restores_the_recorded_images_in_place(k8s, cluster, namespace):
    create_deployment(k8s, namespace, "web", replicas=3, containers=[container("app", OLD), container("sidecar", SIDECAR)])
    wait_deployment_settled(k8s, namespace, "web")
    rs_before = replicaset_uids(k8s, namespace)
    before = snapshot(k8s, namespace, SEL)

    res, result = run_module(cluster, {"name": "web", "namespace": namespace, "containers": {"app": NEW},
                                       "wait_timeout": 60})
    assert res.ok, res.describe()
    record = json.loads(k8s.apps.read_namespaced_deployment("web", namespace).metadata.annotations[LAST_UPGRADE])
    assert record["previous"] == {"app": OLD} and record["target"] == {"app": NEW}, record
    upgraded = snapshot(k8s, namespace, SEL)

    res, result, witness = run_witnessed(k8s, cluster, namespace, SEL, {"name": "web", "namespace": namespace, "rollback": True, "wait_timeout": 60},
                                         name="rollback")
    assert res.ok, res.describe()
    assert result["changed"] is True
    assert sorted(result["patched"]) == sorted(before)
    after = after_run(k8s, namespace, SEL, witness)
    assert sorted(after) == sorted(before), "pods were replaced"
    for name in before:
        assert_restarted_on(upgraded[name], after[name], "app", OLD)
        assert after[name]["restartCounts"]["app"] == before[name]["restartCounts"]["app"] + 2
        assert_untouched(before[name], after[name], ["sidecar"])
    dep = k8s.apps.read_namespaced_deployment("web", namespace)
    assert dep.spec.template.spec.containers[0].image == OLD
    assert not dep.spec.paused
    assert replicaset_uids(k8s, namespace) == rs_before


# -- mid-rollout owners ---------------------------------------------------------------------------------------


def test_mid_rollout_deployment_is_refused(k8s, cluster, namespace, faults):
    # The new template's pod runs but its exec readiness probe fails: the rollout (maxUnavailable 0)
    # hangs with pods in two ReplicaSets. The strategic-merge patch keeps the container's probe.
    faults(unready=[NEVER_READY])
    create_deployment(k8s, namespace, "web", replicas=3, containers=[container("app", OLD)])
    wait_deployment_settled(k8s, namespace, "web")
    k8s.apps.patch_namespaced_deployment("web", namespace, {"spec": {
        "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}},
        "template": {"spec": {"containers": [{"name": "app", "image": NEVER_READY}]}}}})

    def two_replicasets():
        pods = live_pods(k8s, namespace, SEL)
        owners = set(p.metadata.owner_references[0].uid for p in pods)
        running = [p for p in pods if p.spec.containers[0].image == NEVER_READY
                   and p.status.container_statuses and p.status.container_statuses[0].state.running]
        return len(owners) == 2 and running and pods
    wait_for(two_replicasets, 30, message="a hanging rollout with pods in two ReplicaSets")
    old = [p.metadata.name for p in live_pods(k8s, namespace, SEL) if p.spec.containers[0].image == OLD]
    assert len(old) == 3
    before = snapshot(k8s, namespace, SEL)
    versions = dict((k, v) for k, v in resource_versions(k8s, namespace).items()
                    if k.split("/", 1)[1] in old or k.startswith("ReplicaSet/"))

    res, result = run_module(cluster, {"name": "web", "namespace": namespace, "containers": {"app": NEW}})
    assert not res.ok
    assert_clean_failure(res, result, "rollout", "ReplicaSets")
    after = snapshot(k8s, namespace, SEL)
    for name in before:
        assert_untouched(before[name], after[name])
    now = resource_versions(k8s, namespace)
    for key in versions:
        if key.startswith("Pod/"):
            assert now[key] == versions[key], "%s was written" % key
    dep = k8s.apps.read_namespaced_deployment("web", namespace)
    assert dep.spec.template.spec.containers[0].image == NEVER_READY
    assert not dep.spec.paused
    assert LAST_UPGRADE not in (dep.metadata.annotations or {})


# -- events ---------------------------------------------------------------------------------------------------


def test_events_tell_the_story_on_the_owner_and_the_pods(k8s, cluster, namespace):
    create_deployment(k8s, namespace, "web", replicas=2, containers=[container("app", OLD)])
    wait_deployment_settled(k8s, namespace, "web")
    pods = dict((p.metadata.name, p.metadata.uid) for p in live_pods(k8s, namespace, SEL))
    res, result = run_module(cluster, {"name": "web", "namespace": namespace, "containers": {"app": NEW},
                                       "wait_timeout": 60})
    assert res.ok, res.describe()
    dep = k8s.apps.read_namespaced_deployment("web", namespace)
    owner_events = events_for(k8s, namespace, "Deployment", "web")
    reasons = [e.reason for e in owner_events if e.involved_object.uid == dep.metadata.uid]
    assert "InplaceUpgradeStarted" in reasons and "TemplateSynced" in reasons, reasons
    for name, uid in pods.items():
        pod_reasons = [e.reason for e in events_for(k8s, namespace, "Pod", name) if e.involved_object.uid == uid]
        assert "PodUpgradedInPlace" in pod_reasons, (name, pod_reasons)
        event = [e for e in events_for(k8s, namespace, "Pod", name) if e.reason == "PodUpgradedInPlace"][0]
        assert NEW in event.message and event.type == "Normal"
    assert spec_images(live_pods(k8s, namespace, SEL)[0]) == {"app": NEW}
