"""The local stack is real: upstream's control plane, nodes running the real kubelet code, and
in-place image changes restart only the changed container."""

import pytest
from kubernetes.client.rest import ApiException

from helpers import (container, container_status, create_deployment, create_pod, pod_is_ready,
                     pod_snapshot, pod_when, patch_container_image, pods_of, read_pod, upgraded, wait_for)

pytestmark = [pytest.mark.integration, pytest.mark.compat]

OLD = "nginx:1.19-alpine"
NEW = "nginx:1.20-alpine"
NEW_NORMALISED = "docker.io/library/nginx:1.20-alpine"


def test_nodes_are_registered_and_ready(k8s, cluster):
    nodes = {n.metadata.name: n for n in k8s.core.list_node().items}
    assert set(cluster.nodes) <= set(nodes)
    for name in cluster.nodes:
        conds = {c.type: c.status for c in nodes[name].status.conditions}
        assert conds["Ready"] == "True"
        assert nodes[name].status.allocatable["pods"] == str(cluster.max_pods)
        assert not [t for t in nodes[name].spec.taints or []
                    if t.key.startswith("node.kubernetes.io/")]


@pytest.mark.any_version
def test_unprivileged_user_has_no_rights(k8s_user, namespace):
    with pytest.raises(ApiException) as e:
        k8s_user.core.list_namespaced_pod(namespace)
    assert e.value.status == 403


def test_deployment_gets_replicaset_scheduled_ready_pods(k8s, cluster, namespace):
    pods = create_deployment(k8s, namespace, "web", replicas=3,
                             containers=[container("app", OLD)], spread=True)
    rs = k8s.apps.list_namespaced_replica_set(namespace).items
    assert len(rs) == 1
    assert rs[0].metadata.owner_references[0].kind == "Deployment"
    assert len(pods) == 3
    for p in pods:
        assert p.metadata.owner_references[0].uid == rs[0].metadata.uid
        assert p.spec.node_name in cluster.nodes
        assert p.status.phase == "Running"
        assert p.status.pod_ip and p.status.host_ip
        cs = container_status(p, "app")
        assert cs.ready and cs.state.running
        assert cs.image == "docker.io/library/nginx:1.19-alpine"
        assert cs.image_id.startswith("docker.io/library/nginx@sha256:")
        assert cs.container_id.startswith("containerd://")
        assert cs.restart_count == 0
        conds = {c.type: c.status for c in p.status.conditions}
        assert {k: conds.get(k) for k in ("PodScheduled", "Initialized", "ContainersReady", "Ready")} == {
            "PodScheduled": "True", "Initialized": "True", "ContainersReady": "True", "Ready": "True"}
    assert len({p.status.pod_ip for p in pods}) == 3
    # The scheduler honours a hostname spread constraint over the simulated nodes.
    assert len({p.spec.node_name for p in pods}) > 1


def test_patching_one_pod_image_restarts_only_that_container(k8s, namespace):
    pods = create_deployment(k8s, namespace, "web", replicas=3, containers=[container("app", OLD)])
    before = pod_snapshot(pods)
    target = pods[0].metadata.name
    old_cs = container_status(pods[0], "app")

    patch_container_image(k8s, namespace, target, 0, NEW, expect_name="app")
    pod = wait_for(pod_when(k8s, namespace, target,
                            lambda p: upgraded(p, "app", NEW_NORMALISED, old_cs.container_id)
                            and pod_is_ready(p)),
                   message="container upgraded in place")
    after = pod_snapshot(pod)[target]
    cs = container_status(pod, "app")
    assert after["uid"] == before[target]["uid"]
    assert after["node"] == before[target]["node"]
    assert after["ip"] == before[target]["ip"]
    assert cs.restart_count == 1
    assert cs.container_id != old_cs.container_id
    assert cs.image_id != old_cs.image_id
    assert cs.image == NEW_NORMALISED
    assert cs.last_state.terminated is not None
    assert cs.last_state.terminated.container_id == old_cs.container_id
    assert cs.last_state.terminated.exit_code == 0
    # The other pods are untouched.
    others = pod_snapshot(pods_of(k8s, namespace, "app=web"))
    for name in before:
        if name != target:
            assert others[name] == before[name]


def test_multi_container_pod_only_patched_container_restarts(k8s, namespace):
    pod = create_pod(k8s, namespace, "multi", containers=[
        container("app", OLD), container("sidecar", "busybox:1.32"),
        container("third", "quay.io/example/tool:1")])
    before = {c.name: c for c in pod.status.container_statuses}
    assert before["sidecar"].image == "docker.io/library/busybox:1.32"
    assert before["third"].image == "quay.io/example/tool:1"

    patch_container_image(k8s, namespace, "multi", 1, "busybox:1.33", expect_name="sidecar")
    pod = wait_for(pod_when(k8s, namespace, "multi",
                            lambda p: upgraded(p, "sidecar", "docker.io/library/busybox:1.33")
                            and pod_is_ready(p)))
    after = {c.name: c for c in pod.status.container_statuses}
    assert after["sidecar"].restart_count == 1
    assert after["sidecar"].container_id != before["sidecar"].container_id
    for name in ("app", "third"):
        assert after[name].restart_count == 0
        assert after[name].container_id == before[name].container_id
        assert after[name].state.running.started_at == before[name].state.running.started_at
        assert after[name].last_state.terminated is None


def test_patched_container_goes_unready_then_ready(k8s, namespace):
    # The new container is not ready until its readiness probe passes (initialDelaySeconds 3
    # makes that window observable; with no delay the kubelet's prober can turn it ready within
    # the same status update).
    probe = {"exec": {"command": ["true"]}, "periodSeconds": 1, "initialDelaySeconds": 3}
    pod = create_pod(k8s, namespace, "flip", containers=[container("app", OLD, readinessProbe=probe)])
    old_id = container_status(pod, "app").container_id
    patch_container_image(k8s, namespace, "flip", 0, NEW)
    pod = wait_for(pod_when(k8s, namespace, "flip", lambda p: not pod_is_ready(p)),
                   message="pod not ready during the restart")
    pod = wait_for(pod_when(k8s, namespace, "flip",
                            lambda p: upgraded(p, "app", NEW_NORMALISED, old_id) and pod_is_ready(p)))
    assert container_status(pod, "app").restart_count == 1


def test_pod_deletion_completes_and_replicaset_replaces_it(k8s, namespace):
    pods = create_deployment(k8s, namespace, "web", replicas=2, containers=[container("app", OLD)])
    victim = pods[0]
    k8s.core.delete_namespaced_pod(victim.metadata.name, namespace)

    def gone():
        try:
            read_pod(k8s, namespace, victim.metadata.name)
            return False
        except ApiException as e:
            return e.status == 404
    wait_for(gone, message="deleted pod removed from the API")

    def replaced():
        live = [p for p in pods_of(k8s, namespace, "app=web") if pod_is_ready(p)]
        uids = {p.metadata.uid for p in live}
        return len(live) == 2 and victim.metadata.uid not in uids and live
    live = wait_for(replaced, message="replacement pod Ready")
    assert {p.metadata.name for p in live} != {p.metadata.name for p in pods}
