"""The test world's nodes are the real kubelet: what it reports is what users' nodes report.

Each test here states one behaviour of the real kubelet (kubemark's hollow kubelet against the
project's fake CRI, tests/cluster/world) that the product relies on, with the kubelet function that
produces it. Faults are set through the CRI fault layer (``faults`` fixture), never by image names.
"""

import time

import pytest

from helpers import container_status, create_pod, pod_is_ready, pod_when, read_pod, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.compat]

OLD = "nginx:1.19-alpine"
NEW = "nginx:1.20-alpine"


def probe():
    return {"exec": {"command": ["true"]}, "periodSeconds": 1}


def set_image(k8s, namespace, name, index, image, init=False):
    field = "initContainers" if init else "containers"
    return k8s.core.patch_namespaced_pod(name, namespace, [
        {"op": "replace", "path": "/spec/%s/%d/image" % (field, index), "value": image}],
        _content_type="application/json-patch+json")


def reason(cs):
    return cs.state.waiting.reason if cs and cs.state and cs.state.waiting else None


def test_version_is_the_pinned_one_on_server_and_every_kubelet(k8s, cluster):
    assert cluster.server_version() == "v" + cluster.version
    nodes = {n.metadata.name: n for n in k8s.core.list_node().items}
    for name in cluster.nodes:
        info = nodes[name].status.node_info
        assert info.kubelet_version == "v" + cluster.version
        assert info.container_runtime_version.startswith("containerd://")


def test_image_change_restarts_only_that_container_in_place(k8s, namespace):
    containers = [{"name": "app", "image": OLD, "readinessProbe": probe()},
                  {"name": "side", "image": OLD, "readinessProbe": probe()}]
    pod = create_pod(k8s, namespace, "p", containers=containers)
    app, side = container_status(pod, "app"), container_status(pod, "side")
    assert app.image == "docker.io/library/nginx:1.19-alpine"
    assert app.image_id.startswith("docker.io/library/nginx@sha256:")
    assert app.container_id.startswith("containerd://")
    set_image(k8s, namespace, "p", 0, NEW)
    after = wait_for(pod_when(k8s, namespace, "p", lambda p: pod_is_ready(p) and container_status(
        p, "app").image == "docker.io/library/nginx:1.20-alpine"), 60, message="app on the new image")
    a2, s2 = container_status(after, "app"), container_status(after, "side")
    assert (after.metadata.uid, after.spec.node_name, after.status.pod_ip) == (
        pod.metadata.uid, pod.spec.node_name, pod.status.pod_ip)
    assert a2.restart_count == app.restart_count + 1
    assert a2.container_id != app.container_id
    assert a2.image_id != app.image_id
    assert (s2.container_id, s2.restart_count) == (side.container_id, side.restart_count)


def test_failing_pull_keeps_the_old_containers_status(k8s, namespace, faults):
    # kubelet convertToAPIContainerStatuses: while the new image cannot be pulled, the status is
    # built from the last (killed) container, so image, imageID, containerID and restartCount stay.
    bad = "registry.example.com/shop/app:2.0-unpullable"
    faults(pull_fail=[bad])
    pod = create_pod(k8s, namespace, "p", containers=[{"name": "app", "image": OLD}])
    before = container_status(pod, "app")
    set_image(k8s, namespace, "p", 0, bad)
    seen = set()

    def failing(p):
        cs = container_status(p, "app")
        if reason(cs):
            seen.add(reason(cs))
        return cs if reason(cs) in ("ErrImagePull", "ImagePullBackOff") else None
    cs = wait_for(lambda: failing(read_pod(k8s, namespace, "p")), 60, interval=0.1,
                  message="ErrImagePull/ImagePullBackOff")
    assert cs.image == before.image
    assert cs.image_id == before.image_id
    assert cs.container_id == before.container_id
    assert cs.restart_count == before.restart_count
    assert not cs.ready
    assert cs.last_state.terminated is not None
    assert cs.last_state.terminated.container_id == before.container_id
    # The pull keeps failing: the kubelet backs off.
    wait_for(lambda: "ImagePullBackOff" in seen or failing(read_pod(k8s, namespace, "p")) and None,
             60, interval=0.2, message="ImagePullBackOff")


def test_crashing_image_reaches_crashloopbackoff_from_the_kubelet(k8s, namespace, faults):
    crashing = "registry.example.com/shop/app:2.0-crashing"
    faults(crash=[crashing])
    create_pod(k8s, namespace, "p", containers=[{"name": "app", "image": OLD}])
    set_image(k8s, namespace, "p", 0, crashing)
    pod = wait_for(pod_when(k8s, namespace, "p", lambda p: reason(container_status(p, "app"))
                            == "CrashLoopBackOff"), 60, message="CrashLoopBackOff")
    cs = container_status(pod, "app")
    assert cs.last_state.terminated.exit_code == 1
    assert cs.image == "registry.example.com/shop/app:2.0-crashing"
    assert cs.restart_count >= 1


def test_unready_image_runs_but_its_probe_fails(k8s, namespace, faults):
    unready = "registry.example.com/shop/app:2.0-unready"
    faults(unready=[unready])
    pod = create_pod(k8s, namespace, "p", containers=[{"name": "app", "image": unready, "readinessProbe": probe()}],
                     wait=False)
    pod = wait_for(pod_when(k8s, namespace, "p", lambda p: (container_status(p, "app") or 0) and
                            container_status(p, "app").state.running), 60, message="running")
    time.sleep(3)
    pod = read_pod(k8s, namespace, "p")
    assert not container_status(pod, "app").ready
    assert not pod_is_ready(pod)
    faults()  # the probe passes again: the same container turns ready
    wait_for(pod_when(k8s, namespace, "p", pod_is_ready), 30, message="Ready once the probe passes")


def test_completed_init_container_is_not_rerun_on_image_change(k8s, namespace):
    # kubelet computeInitContainerActions: a regular init container that has completed is not
    # started again on a live pod; the new image takes effect only when the pod is recreated.
    pod = create_pod(k8s, namespace, "p", containers=[{"name": "app", "image": OLD}],
                     init_containers=[{"name": "init", "image": OLD, "command": ["true"]}])
    init = container_status(pod, "init", init=True)
    assert init.state.terminated.exit_code == 0 and init.state.terminated.reason == "Completed"
    app = container_status(pod, "app")
    set_image(k8s, namespace, "p", 0, NEW, init=True)
    time.sleep(5)
    pod = read_pod(k8s, namespace, "p")
    init2 = container_status(pod, "init", init=True)
    assert pod.spec.init_containers[0].image == NEW
    assert init2.image == init.image and init2.container_id == init.container_id
    assert init2.restart_count == 0
    assert container_status(pod, "app").container_id == app.container_id
    assert pod_is_ready(pod)


def test_sidecar_is_restarted_in_place_on_image_change(k8s, namespace, cluster):
    pod = create_pod(k8s, namespace, "p", containers=[{"name": "app", "image": OLD, "readinessProbe": probe()}],
                     init_containers=[{"name": "side", "image": OLD, "restartPolicy": "Always",
                                       "readinessProbe": probe()}])
    side = container_status(pod, "side", init=True)
    app = container_status(pod, "app")
    assert side.state.running and side.ready
    set_image(k8s, namespace, "p", 0, NEW, init=True)

    def restarted(p):
        cs = container_status(p, "side", init=True)
        return (cs.image == "docker.io/library/nginx:1.20-alpine" and cs.state.running and cs.ready
                and cs.container_id != side.container_id)
    minor = int(cluster.version.split(".")[1])
    if minor >= 32:
        pod = wait_for(pod_when(k8s, namespace, "p", restarted), 60, message="sidecar restarted")
        assert container_status(pod, "side", init=True).restart_count == side.restart_count + 1
        assert container_status(pod, "app").container_id == app.container_id
    else:
        # Before 1.32 the kubelet does not restart a sidecar whose image changed
        # (computeInitContainerActions only restarts it when it exited); recorded so the product's
        # handling of older kubelets is grounded in what they do.
        time.sleep(6)
        assert not restarted(read_pod(k8s, namespace, "p"))


def test_new_pods_pay_the_sandbox_delay_restarts_in_place_do_not(k8s, namespace, faults):
    create_pod(k8s, namespace, "old", containers=[{"name": "app", "image": OLD}])
    faults(sandbox_delay=6)
    t0 = time.monotonic()
    create_pod(k8s, namespace, "new", containers=[{"name": "app", "image": OLD}], wait=False)
    set_image(k8s, namespace, "old", 0, NEW)
    wait_for(pod_when(k8s, namespace, "old", lambda p: pod_is_ready(p) and container_status(
        p, "app").image.endswith("nginx:1.20-alpine")), 30, interval=0.1, message="restart in place")
    restarted = time.monotonic() - t0
    assert not pod_is_ready(read_pod(k8s, namespace, "new"))
    wait_for(pod_when(k8s, namespace, "new", pod_is_ready), 60, interval=0.1, message="new pod Ready")
    created = time.monotonic() - t0
    assert restarted < 6 <= created


@pytest.mark.any_version
def test_pod_ips_are_unique_loopback_addresses(k8s, namespace):
    for i in range(4):
        create_pod(k8s, namespace, "p%d" % i, containers=[{"name": "app", "image": OLD}], wait=False)
    pods = wait_for(lambda: [p for p in k8s.core.list_namespaced_pod(namespace).items if pod_is_ready(p)]
                    if all(pod_is_ready(p) for p in k8s.core.list_namespaced_pod(namespace).items) else None,
                    60, message="4 Ready pods")
    ips = [p.status.pod_ip for p in pods]
    assert len(set(ips)) == 4
    assert all(ip.startswith("127.") for ip in ips)


def test_image_pulled_by_digest_is_reported_as_containerd_does(k8s, namespace):
    digest = "sha256:" + "ab" * 32
    pod = create_pod(k8s, namespace, "p", containers=[{"name": "app", "image": "nginx@" + digest}])
    cs = container_status(pod, "app")
    assert cs.image_id == "docker.io/library/nginx@" + digest
    assert cs.image.startswith("sha256:")
