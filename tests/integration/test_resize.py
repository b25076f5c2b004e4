"""Issue 16: in-place CPU/memory resize on the real kubelet (the node program's kubelet performs the resize
against the fake CRI, which reports the new resources back as a runtime does), with the rollout this collection
does for images: batches, rollback, the template kept in step without recreating a pod.

Nodes report cpu 1 and memory 3840Mi allocatable (kubemark's fake cAdvisor)."""

import json
import time

import pytest
import yaml

from helpers import (
    container,
    create_daemonset,
    create_deployment,
    create_statefulset,
    live_pods,
    resource_versions,
    snapshot,
    wait_for,
)
from module_helpers import NEW, OLD, assert_clean_failure, normalised, run_module
from playbook import REPO_ROOT, run_playbook
from role_helpers import UPGRADE, module_results, run_role

pytestmark = pytest.mark.integration

SEL = "app=web"
SMALL = {"requests": {"cpu": "50m", "memory": "64Mi"}, "limits": {"cpu": "200m", "memory": "128Mi"}}
BIG = {"requests": {"cpu": "100m", "memory": "96Mi"}, "limits": {"cpu": "400m", "memory": "256Mi"}}


def sized(name, image=OLD, resources=None, **extra):
    return container(name, image, resources=json.loads(json.dumps(resources or SMALL)), **extra)


def spec_resources(pod, name):
    for c in pod.spec.containers + (pod.spec.init_containers or []):
        if c.name == name:
            return {"requests": dict(c.resources.requests or {}), "limits": dict(c.resources.limits or {})}
    return None


def status_resources(pod, name):
    for cs in (pod.status.container_statuses or []) + (pod.status.init_container_statuses or []):
        if cs.name == name:
            return {"requests": dict(cs.resources.requests or {}), "limits": dict(cs.resources.limits or {})} \
                if cs.resources else None
    return None


def resize_conditions(pod):
    return sorted(c.type for c in pod.status.conditions or []
                  if c.type in ("PodResizePending", "PodResizeInProgress") and c.status == "True")


def template_resources(obj, name="app"):
    for c in obj.spec.template.spec.containers:
        if c.name == name:
            return {"requests": dict(c.resources.requests or {}), "limits": dict(c.resources.limits or {})}
    return None


def assert_resized(k8s, namespace, selector, name, wanted):
    """Every live pod's spec and the kubelet's report say ``wanted``, with no resize condition left."""
    for pod in live_pods(k8s, namespace, selector):
        assert spec_resources(pod, name) == wanted, (pod.metadata.name, spec_resources(pod, name))
        assert status_resources(pod, name) == wanted, (pod.metadata.name, status_resources(pod, name))
        assert resize_conditions(pod) == [], (pod.metadata.name, resize_conditions(pod))


def replacement_resized(k8s, namespace, selector, victim, name, wanted, count):
    """Delete pod ``victim``; the controller's replacement (a pod with a new uid) has ``wanted`` in its spec and
    in the kubelet's report."""
    k8s.core.delete_namespaced_pod(victim.metadata.name, namespace)

    def replaced():
        pods = live_pods(k8s, namespace, selector)
        fresh = [p for p in pods if p.metadata.uid != victim.metadata.uid
                 and p.metadata.creation_timestamp > victim.metadata.creation_timestamp]
        ready = [p for p in fresh if any(c.type == "Ready" and c.status == "True" for c in p.status.conditions or [])]
        return len(pods) == count and ready and ready[0]
    pod = wait_for(replaced, 90, message="a replacement for %s" % victim.metadata.name)
    assert spec_resources(pod, name) == wanted
    assert status_resources(pod, name) == wanted
    return pod


def test_deployment_resized_in_place_in_batches(k8s, namespace):
    """6 replicas, batches of 2: 0 pods recreated, 0 container restarts (resizePolicy NotRequired, the default),
    the template in step (no new ReplicaSet), a deleted pod comes back with the new resources; --check writes
    nothing, --diff shows before/after, a re-run is changed=false."""
    cluster = k8s.cluster
    create_deployment(k8s, namespace, "web", replicas=6, containers=[sized("app")], spread=True)
    before = snapshot(k8s, namespace, SEL)
    rs_before = sorted(r.metadata.name for r in k8s.apps.list_namespaced_replica_set(namespace).items)
    args = {"name": "web", "namespace": namespace, "resources": {"app": BIG}, "batch_size": 2, "wait_timeout": 120}

    versions = resource_versions(k8s, namespace)
    res, checked = run_module(cluster, args, check=True, diff=True)
    assert not checked.get("failed"), res.describe()
    assert checked["changed"] is True
    assert sorted(checked["patched"]) == sorted(before)
    assert checked["diff"]["before"]["resources"][sorted(before)[0]]["app"] == SMALL
    assert checked["diff"]["after"]["resources"][sorted(before)[0]]["app"] == BIG
    assert checked["diff"]["after"]["template_resources"]["app"] == BIG
    assert resource_versions(k8s, namespace) == versions, "check mode wrote something"

    started = time.monotonic()
    res, result = run_module(cluster, args, diff=True)
    took = time.monotonic() - started
    assert not result.get("failed"), res.describe()
    assert result["changed"] is True
    assert sorted(result["patched"]) == sorted(before)
    assert [len(b["pods"]) for b in result["batches"]] == [2, 2, 2], result["batches"]
    assert all(b["state"] == "done" for b in result["batches"])
    assert result["template_synced"] is True, result.get("template_sync_steps")
    assert result["resources"] == {"app": BIG}
    assert result["diff"]["after"]["resources"][sorted(before)[0]]["app"] == BIG
    assert all(e["state"] == "upgraded" for e in result["pods"]), result["pods"]
    assert all(c["resources"] == BIG for e in result["pods"] for c in e["containers"] if c["name"] == "app")

    after = snapshot(k8s, namespace, SEL)
    assert sorted(after) == sorted(before), "pods were recreated"
    for name in before:
        assert after[name]["uid"] == before[name]["uid"]
        assert after[name]["containerIDs"] == before[name]["containerIDs"], "a container was restarted"
        assert after[name]["restartCounts"] == before[name]["restartCounts"]
    assert_resized(k8s, namespace, SEL, "app", BIG)
    dep = k8s.apps.read_namespaced_deployment("web", namespace)
    assert template_resources(dep) == BIG
    assert not dep.spec.paused
    replicasets = k8s.apps.list_namespaced_replica_set(namespace).items
    assert sorted(r.metadata.name for r in replicasets) == rs_before, "a new ReplicaSet was made"
    assert template_resources(replicasets[0]) == BIG
    print("resized 6 pods in 3 batches in %.1f s" % took)

    res, again = run_module(cluster, args)
    assert not again.get("failed"), res.describe()
    assert again["changed"] is False, again
    assert again["patched"] == []
    assert sorted(again["already_current"]) == sorted(before)

    replacement_resized(k8s, namespace, SEL, live_pods(k8s, namespace, SEL)[0], "app", BIG, 6)


def test_restart_container_policy_restarts_just_that_container(k8s, namespace):
    """resizePolicy RestartContainer for memory: the kubelet restarts app (a new container, restartCount +1)
    and the module waits for that new container; side, resized too with NotRequired, keeps running."""
    policy = [{"resourceName": "cpu", "restartPolicy": "NotRequired"},
              {"resourceName": "memory", "restartPolicy": "RestartContainer"}]
    create_deployment(k8s, namespace, "web", replicas=2, spread=True,
                      containers=[sized("app", resizePolicy=policy), sized("side", image="busybox:1.32")])
    before = snapshot(k8s, namespace, SEL)
    wanted = {"app": {"limits": {"memory": "256Mi"}}, "side": {"limits": {"cpu": "300m"}}}
    res, result = run_module(k8s.cluster, {"name": "web", "namespace": namespace, "resources": wanted,
                                           "wait_timeout": 120})
    assert not result.get("failed"), res.describe()
    after = snapshot(k8s, namespace, SEL)
    for name in before:
        assert after[name]["uid"] == before[name]["uid"]
        assert after[name]["restartCounts"]["app"] == before[name]["restartCounts"]["app"] + 1, (before, after)
        assert after[name]["containerIDs"]["app"] != before[name]["containerIDs"]["app"]
        assert after[name]["containerIDs"]["side"] == before[name]["containerIDs"]["side"]
        assert after[name]["restartCounts"]["side"] == before[name]["restartCounts"]["side"]
        assert after[name]["ready"]
    app = dict(SMALL, limits={"cpu": "200m", "memory": "256Mi"})
    side = dict(SMALL, limits={"cpu": "300m", "memory": "128Mi"})
    assert_resized(k8s, namespace, SEL, "app", app)
    assert_resized(k8s, namespace, SEL, "side", side)


def test_over_allocatable_request_fails_at_once_nothing_written(k8s, namespace):
    """Requests above the node's allocatable (cpu 1): the API server's PodResizeValidator refuses the resize
    (403, 1.37); the batch fails within seconds with that reason, no pod and no template is changed."""
    create_deployment(k8s, namespace, "web", replicas=2, containers=[sized("app")])
    pods_before = {p.metadata.name: spec_resources(p, "app") for p in live_pods(k8s, namespace, SEL)}
    started = time.monotonic()
    res, result = run_module(k8s.cluster, {"name": "web", "namespace": namespace, "wait_timeout": 120,
                                           "resources": {"app": {"requests": {"cpu": "1500m"},
                                                                 "limits": {"cpu": "2"}}}})
    took = time.monotonic() - started
    msg = assert_clean_failure(res, result, "batch 1/1 failed", "refused the resize")
    assert "allocatable" in msg, msg
    assert took < 60, "took %.1f s" % took
    assert {p.metadata.name: spec_resources(p, "app") for p in live_pods(k8s, namespace, SEL)} == pods_before
    assert template_resources(k8s.apps.read_namespaced_deployment("web", namespace)) == SMALL
    assert result["template_synced"] is False


def test_deferred_resize_times_out_and_rolls_back_in_place(k8s, namespace):
    """A request that fits the node's allocatable but not what the other pods leave: the kubelet defers it
    (PodResizePending reason Deferred); the batch waits until wait_timeout, reports it, and rollback restores the
    previous resources in place (no pod recreated, no restart)."""
    # Fillers: 450m of cpu requests on every node, so a 600m request fits no node now.
    create_daemonset(k8s, namespace, "filler", labels={"app": "filler"},
                     containers=[container("pause", "busybox:1.32",
                                           resources={"requests": {"cpu": "450m", "memory": "16Mi"}})])
    create_deployment(k8s, namespace, "web", replicas=2, containers=[sized("app")], spread=True)
    before = snapshot(k8s, namespace, SEL)
    started = time.monotonic()
    res, result = run_module(k8s.cluster, {"name": "web", "namespace": namespace, "wait_timeout": 20,
                                           "resources": {"app": {"requests": {"cpu": "600m"},
                                                                 "limits": {"cpu": "800m"}}}})
    took = time.monotonic() - started
    msg = assert_clean_failure(res, result, "batch 1/1 failed", "deferred", "rolled back 2 of 2")
    assert took < 120, took
    assert sorted(result["rolled_back"]) == sorted(before), msg
    after = snapshot(k8s, namespace, SEL)
    for name in before:
        assert after[name]["uid"] == before[name]["uid"]
        assert after[name]["containerIDs"] == before[name]["containerIDs"]
    wait_for(lambda: all(not resize_conditions(p) for p in live_pods(k8s, namespace, SEL)), 30,
             message="no resize condition left")
    assert_resized(k8s, namespace, SEL, "app", SMALL)
    assert template_resources(k8s.apps.read_namespaced_deployment("web", namespace)) == SMALL


def test_images_and_resources_in_one_run(k8s, namespace):
    """One run: the image (app restarted once, on the new image) and the resources (reported by the kubelet for
    the new container), the template in step with both."""
    create_deployment(k8s, namespace, "web", replicas=2, containers=[sized("app")], spread=True)
    before = snapshot(k8s, namespace, SEL)
    res, result = run_module(k8s.cluster, {"name": "web", "namespace": namespace, "containers": {"app": NEW},
                                           "resources": {"app": BIG}, "wait_timeout": 120})
    assert not result.get("failed"), res.describe()
    after = snapshot(k8s, namespace, SEL)
    for name in before:
        assert after[name]["uid"] == before[name]["uid"]
        assert after[name]["images"]["app"] == normalised(NEW)
        assert after[name]["restartCounts"]["app"] == before[name]["restartCounts"]["app"] + 1
    assert_resized(k8s, namespace, SEL, "app", BIG)
    dep = k8s.apps.read_namespaced_deployment("web", namespace)
    assert template_resources(dep) == BIG
    assert dep.spec.template.spec.containers[0].image == NEW


def test_rollback_true_restores_the_recorded_resources_in_place(k8s, namespace):
    """The record of the last upgrade carries the template's previous resources: rollback: true resizes the pods
    and the template back in place, no pod recreated, no container restarted."""
    create_deployment(k8s, namespace, "web", replicas=2, containers=[sized("app")], spread=True)
    before = snapshot(k8s, namespace, SEL)
    res, result = run_module(k8s.cluster, {"name": "web", "namespace": namespace, "resources": {"app": BIG},
                                           "wait_timeout": 120})
    assert not result.get("failed"), res.describe()
    record = json.loads(k8s.apps.read_namespaced_deployment("web", namespace).metadata.annotations[
        "inplace.kubernetes.io/last-upgrade"])
    assert record["resources"] == {"target": {"app": BIG}, "previous": {"app": SMALL}}, record
    res, back = run_module(k8s.cluster, {"name": "web", "namespace": namespace, "rollback": True, "wait_timeout": 120})
    assert not back.get("failed"), res.describe()
    assert back["changed"] is True and back["resources"] == {"app": SMALL}
    after = snapshot(k8s, namespace, SEL)
    for name in before:
        assert after[name]["uid"] == before[name]["uid"]
        assert after[name]["containerIDs"] == before[name]["containerIDs"]
    assert_resized(k8s, namespace, SEL, "app", SMALL)
    assert template_resources(k8s.apps.read_namespaced_deployment("web", namespace)) == SMALL


@pytest.mark.parametrize("kind", ["StatefulSet", "DaemonSet"])
def test_statefulset_and_daemonset_resized_template_in_step(k8s, namespace, kind):
    """The same for a StatefulSet and a DaemonSet: no pod recreated or restarted, the controller's revision in
    step (currentRevision == updateRevision, pods labelled), a deleted pod comes back with the new resources."""
    if kind == "StatefulSet":
        create_statefulset(k8s, namespace, "web", replicas=3, containers=[sized("app")])
        count = 3
    else:
        create_daemonset(k8s, namespace, "web", containers=[sized("app")])
        count = len(k8s.core.list_node().items)
    before = snapshot(k8s, namespace, SEL)
    res, result = run_module(k8s.cluster, {"kind": kind, "name": "web", "namespace": namespace,
                                           "resources": {"app": BIG}, "batch_size": 2, "wait_timeout": 120})
    assert not result.get("failed"), res.describe()
    assert result["template_synced"] is True
    after = snapshot(k8s, namespace, SEL)
    for name in before:
        assert after[name]["uid"] == before[name]["uid"]
        assert after[name]["containerIDs"] == before[name]["containerIDs"]
    assert_resized(k8s, namespace, SEL, "app", BIG)
    if kind == "StatefulSet":
        obj = k8s.apps.read_namespaced_stateful_set("web", namespace)
        wait_for(lambda: k8s.apps.read_namespaced_stateful_set("web", namespace).status.current_revision
                 == k8s.apps.read_namespaced_stateful_set("web", namespace).status.update_revision, 30)
        revision = k8s.apps.read_namespaced_stateful_set("web", namespace).status.update_revision
    else:
        obj = k8s.apps.read_namespaced_daemon_set("web", namespace)
        wait_for(lambda: k8s.apps.read_namespaced_daemon_set("web", namespace).status.updated_number_scheduled
                 == count, 30)
        revision = None
    assert template_resources(obj) == BIG
    labels = set(p.metadata.labels.get("controller-revision-hash") for p in live_pods(k8s, namespace, SEL))
    assert len(labels) == 1 and (revision is None or labels == {revision}), labels
    time.sleep(3)
    assert sorted(p.metadata.uid for p in live_pods(k8s, namespace, SEL)) == sorted(
        v["uid"] for v in before.values()), "the controller recreated pods after the sync"
    replacement_resized(k8s, namespace, SEL, live_pods(k8s, namespace, SEL)[0], "app", BIG, count)


def test_role_and_playbook_pass_resources_through(k8s, namespace, tmp_path):
    """The role resizes with inplace_upgrade_resources alone (no images), in its batches; a re-run plans nothing
    to do; the playbook takes resources per workload."""
    cluster = k8s.cluster
    create_deployment(k8s, namespace, "web", replicas=4, containers=[sized("app")], spread=True)
    create_deployment(k8s, namespace, "api", replicas=2, containers=[sized("api")], labels={"app": "api"})
    before = snapshot(k8s, namespace, SEL)
    role_vars = {"inplace_upgrade_name": "web", "inplace_upgrade_namespace": namespace,
                 "inplace_upgrade_resources": {"app": BIG}, "inplace_upgrade_batch_size": 2,
                 "inplace_upgrade_wait_timeout": 90}
    res, report = run_role(cluster, role_vars, tmp_path)
    assert res.ok, res.describe()
    runs = module_results(res)
    assert len(runs) == 1 and [len(b["pods"]) for b in runs[0]["batches"]] == [2, 2], runs
    assert report["outcome"] == "upgraded" and report["resources"] == {"app": BIG}, report
    after = snapshot(k8s, namespace, SEL)
    assert all(after[n]["containerIDs"] == before[n]["containerIDs"] for n in before), "a container was restarted"
    assert_resized(k8s, namespace, SEL, "app", BIG)
    res, report = run_role(cluster, role_vars, tmp_path)
    assert res.ok, res.describe()
    # Nothing to do: the run's one module call plans, patches and resizes nothing, takes no lease.
    again = module_results(res)
    assert len(again) == 1 and again[0]["changed"] is False and again[0]["patched"] == [], again
    assert again[0]["lease"]["action"] == "not_taken" and report["outcome"] == "nothing_to_do", report

    inventory = tmp_path / "clusters.yml"
    inventory.write_text(yaml.safe_dump({"all": {"hosts": {"local-cluster": {
        "inplace_upgrade_auth": {"kubeconfig": cluster.admin_kubeconfig}}}}}), encoding="utf-8")
    workloads = [{"name": "api", "namespace": namespace, "resources": {"api": BIG}, "batch_size": 1}]
    res = run_playbook(str(REPO_ROOT / "playbooks" / "upgrade.yml"), extra_vars={"inplace_upgrade_workloads": workloads},
                       env={"ANSIBLE_INVENTORY": str(inventory), "K8S_AUTH_KUBECONFIG": None})
    assert res.ok, res.describe()
    assert [len(r["batches"]) for r in module_results(res)] == [2]
    assert all(r["host"] == "local-cluster" for r in res.records if r["action"] == UPGRADE)
    assert_resized(k8s, namespace, "app=api", "api", BIG)
    assert template_resources(k8s.apps.read_namespaced_deployment("api", namespace), "api") == BIG


def test_qos_change_refused_before_any_write(k8s, namespace):
    """A Guaranteed pod whose limit would rise above its request would become Burstable: refused, nothing
    written."""
    guaranteed = {"requests": {"cpu": "100m", "memory": "64Mi"}, "limits": {"cpu": "100m", "memory": "64Mi"}}
    create_deployment(k8s, namespace, "web", replicas=2, containers=[sized("app", resources=guaranteed)])
    versions = resource_versions(k8s, namespace)
    res, result = run_module(k8s.cluster, {"name": "web", "namespace": namespace,
                                           "resources": {"app": {"limits": {"memory": "128Mi"}}}})
    assert_clean_failure(res, result, "QoS class would change from Guaranteed to Burstable")
    assert resource_versions(k8s, namespace) == versions


@pytest.mark.compat
def test_resize_where_served_refused_before_any_write_where_not(k8s, namespace):
    """On an API server with pods/resize (1.33+) a resize runs; on the oldest supported version (1.32, no
    resize subresource) it is refused before any write, with the reason, and nothing changes."""
    create_deployment(k8s, namespace, "web", replicas=2, containers=[sized("app")])
    minor = int(k8s.cluster.server_version().lstrip("v").split(".")[1])
    versions = resource_versions(k8s, namespace)
    res, result = run_module(k8s.cluster, {"name": "web", "namespace": namespace, "resources": {"app": BIG},
                                           "wait_timeout": 120})
    if minor >= 33:
        assert not result.get("failed"), res.describe()
        assert_resized(k8s, namespace, SEL, "app", BIG)
        return
    assert_clean_failure(res, result, "nothing changed", "does not serve the pods/resize subresource", "1.33")
    assert resource_versions(k8s, namespace) == versions
    res, info = run_module(k8s.cluster, {"name": "web", "namespace": namespace, "resources": {"app": BIG}},
                           module="inplace.kubernetes.k8s_inplace_upgrade_info", name="plan")
    assert_clean_failure(res, info, "does not serve the pods/resize subresource")
