"""Behaviour of the kubelet stand-in (tests/cluster/kubelet.py) that product tests rely on:
broken images, recovery, readiness gates, image normalisation, init containers."""

import pytest

from helpers import (container, container_status, create_pod, pod_is_ready, pod_when, patch_container_image,
                     read_pod, upgraded, wait_for, waiting_reason)

pytestmark = pytest.mark.integration

GOOD = "nginx:1.19-alpine"
GOOD2 = "nginx:1.20-alpine"
GOOD2_NORMALISED = "docker.io/library/nginx:1.20-alpine"


def _seen_reasons(k8s, namespace, name, wanted, cname="app", timeout=60):
    """Poll until every reason in `wanted` has been observed as the container's waiting reason."""
    seen = set()

    def all_seen():
        r = waiting_reason(read_pod(k8s, namespace, name), cname)
        if r:
            seen.add(r)
        return set(wanted) <= seen
    wait_for(all_seen, timeout, interval=0.1, message="waiting reasons %s" % sorted(wanted))
    return seen


def _recover(k8s, namespace, name, old_restarts=None):
    patch_container_image(k8s, namespace, name, 0, GOOD2, expect_name="app")
    pod = wait_for(pod_when(k8s, namespace, name,
                            lambda p: upgraded(p, "app", GOOD2_NORMALISED) and pod_is_ready(p)),
                   message="recovered onto a good image")
    cs = container_status(pod, "app")
    if old_restarts is not None:
        assert cs.restart_count >= old_restarts
    return pod


def test_good_image_gets_normalised_status(k8s, namespace):
    pod = create_pod(k8s, namespace, "p", containers=[
        container("app", "nginx"), container("b", "quay.io/x/y:1"),
        container("c", "library/busybox:1.32"),
        container("d", "nginx@sha256:" + "a" * 64)])
    images = {c.name: c.image for c in pod.status.container_statuses}
    assert images == {"app": "docker.io/library/nginx:latest", "b": "quay.io/x/y:1",
                      "c": "docker.io/library/busybox:1.32",
                      "d": "docker.io/library/nginx@sha256:" + "a" * 64}
    ids = {c.name: c.image_id for c in pod.status.container_statuses}
    assert ids["d"] == "docker-pullable://docker.io/library/nginx@sha256:" + "a" * 64
    assert ids["b"].startswith("docker-pullable://quay.io/x/y@sha256:")
    assert pod.status.phase == "Running"


def test_pullfail_alternates_errimagepull_and_backoff_then_recovers(k8s, namespace):
    create_pod(k8s, namespace, "p", containers=[container("app", "nginx:pullfail")], wait=False)
    _seen_reasons(k8s, namespace, "p", {"ErrImagePull", "ImagePullBackOff"})
    pod = read_pod(k8s, namespace, "p")
    assert not pod_is_ready(pod)
    assert pod.status.phase == "Pending"
    cs = container_status(pod, "app")
    assert cs.restart_count == 0 and not cs.container_id
    pod = _recover(k8s, namespace, "p")
    assert pod.status.phase == "Running"


def test_pullfail_on_upgrade_of_running_container(k8s, namespace):
    pod = create_pod(k8s, namespace, "p", containers=[container("app", GOOD)])
    uid, ip = pod.metadata.uid, pod.status.pod_ip
    patch_container_image(k8s, namespace, "p", 0, "example/app:1-pullfail")
    _seen_reasons(k8s, namespace, "p", {"ErrImagePull", "ImagePullBackOff"})
    pod = read_pod(k8s, namespace, "p")
    cs = container_status(pod, "app")
    assert not pod_is_ready(pod)
    assert cs.restart_count == 1
    assert cs.last_state.terminated.exit_code == 0
    pod = _recover(k8s, namespace, "p", old_restarts=1)
    assert (pod.metadata.uid, pod.status.pod_ip) == (uid, ip)


def test_crashloop_restart_count_grows_then_recovers(k8s, namespace):
    create_pod(k8s, namespace, "p", containers=[container("app", "busybox:crashloop")], wait=False)
    _seen_reasons(k8s, namespace, "p", {"CrashLoopBackOff"})
    first = container_status(read_pod(k8s, namespace, "p"), "app").restart_count
    assert first >= 1
    pod = wait_for(pod_when(k8s, namespace, "p",
                            lambda p: container_status(p, "app").restart_count > first),
                   message="restartCount growing")
    cs = container_status(pod, "app")
    assert cs.last_state.terminated.reason == "Error"
    assert cs.last_state.terminated.exit_code == 1
    assert not pod_is_ready(pod)
    _recover(k8s, namespace, "p", old_restarts=cs.restart_count)


def test_neverready_runs_but_is_never_ready_then_recovers(k8s, namespace):
    # A good sibling started at the same time becomes ready after the ready delay; once it is,
    # the neverready container has had the same chance and must still be unready.
    create_pod(k8s, namespace, "p", containers=[container("app", "nginx:neverready"),
                                                container("ok", GOOD)], wait=False)
    pod = wait_for(pod_when(k8s, namespace, "p",
                            lambda p: container_status(p, "ok") and container_status(p, "ok").ready),
                   message="sibling ready")
    cs = container_status(pod, "app")
    assert cs.state.running is not None and cs.started
    assert not cs.ready and not pod_is_ready(pod)
    conds = {c.type: c for c in pod.status.conditions}
    assert conds["ContainersReady"].status == "False"
    assert "app" in conds["Ready"].message
    assert pod.status.phase == "Running"
    pod = _recover(k8s, namespace, "p")
    assert container_status(pod, "ok").restart_count == 0


def test_invalid_image_name_then_recovers(k8s, namespace):
    create_pod(k8s, namespace, "p", containers=[container("app", "Nginx:1.19")], wait=False)
    _seen_reasons(k8s, namespace, "p", {"InvalidImageName"})
    pod = read_pod(k8s, namespace, "p")
    assert not pod_is_ready(pod)
    _recover(k8s, namespace, "p")


def test_invalid_image_on_upgrade(k8s, namespace):
    create_pod(k8s, namespace, "p", containers=[container("app", GOOD)])
    patch_container_image(k8s, namespace, "p", 0, "nginx:bad tag")
    _seen_reasons(k8s, namespace, "p", {"InvalidImageName"})
    _recover(k8s, namespace, "p")


def test_readiness_gate_keeps_pod_unready_until_condition_true(k8s, namespace):
    gate = "example.com/upgrade-done"
    create_pod(k8s, namespace, "p", containers=[container("app", GOOD)], readiness_gates=[gate],
               wait=False)
    pod = wait_for(pod_when(k8s, namespace, "p",
                            lambda p: {c.type: c.status for c in p.status.conditions or []}
                            .get("ContainersReady") == "True"),
                   message="containers ready")
    conds = {c.type: c for c in pod.status.conditions}
    assert conds["Ready"].status == "False"
    assert conds["Ready"].reason == "ReadinessGatesNotReady"

    def set_gate(status):
        k8s.core.patch_namespaced_pod_status("p", namespace, {"status": {"conditions": [
            {"type": gate, "status": status}]}},
            _content_type="application/strategic-merge-patch+json")

    set_gate("False")
    wait_for(lambda: gate in {c.type for c in read_pod(k8s, namespace, "p").status.conditions})
    pod = read_pod(k8s, namespace, "p")
    assert not pod_is_ready(pod)
    set_gate("True")
    pod = wait_for(pod_when(k8s, namespace, "p", pod_is_ready),
                   message="Ready after the gate is True")
    conds = {c.type: c for c in pod.status.conditions}
    assert conds[gate].status == "True"  # the stand-in never dropped the condition it does not own
    assert conds["Ready"].reason is None  # no stale ReadinessGatesNotReady

    # An in-place restart drops readiness; the gate condition survives it.
    patch_container_image(k8s, namespace, "p", 0, GOOD2)
    wait_for(lambda: not pod_is_ready(read_pod(k8s, namespace, "p")))
    pod = wait_for(pod_when(k8s, namespace, "p",
                            lambda p: upgraded(p, "app", GOOD2_NORMALISED) and pod_is_ready(p)))
    assert {c.type: c.status for c in pod.status.conditions}[gate] == "True"


def test_init_containers_complete_before_containers_start(k8s, namespace):
    pod = create_pod(k8s, namespace, "p", containers=[container("app", GOOD)],
                     init_containers=[container("init1", "busybox:1.32"),
                                      container("init2", "busybox:1.33")])
    for name in ("init1", "init2"):
        ics = container_status(pod, name, init=True)
        assert ics.state.terminated.reason == "Completed"
        assert ics.state.terminated.exit_code == 0
    app_started = container_status(pod, "app").state.running.started_at
    init_done = container_status(pod, "init2", init=True).state.terminated.finished_at
    assert app_started >= init_done
    initialized = {c.type: c for c in pod.status.conditions}["Initialized"]
    assert initialized.status == "True"
    # No stale "ContainersNotInitialized" reason left over from the False phase.
    assert initialized.reason is None and initialized.message is None


def test_pod_ip_unique_and_stable_across_kubelet_restart(k8s, cluster, namespace):
    for i in range(4):
        create_pod(k8s, namespace, "p%d" % i, containers=[container("app", GOOD)], wait=False)
    pods = [wait_for(pod_when(k8s, namespace, "p%d" % i, pod_is_ready)) for i in range(4)]
    before = {p.metadata.name: (p.metadata.uid, p.status.pod_ip,
                                container_status(p, "app").container_id) for p in pods}
    assert len({v[1] for v in before.values()}) == 4
    cluster.restart_kubelet()
    patch_container_image(k8s, namespace, "p0", 0, GOOD2)
    pod = wait_for(pod_when(k8s, namespace, "p0",
                            lambda p: upgraded(p, "app", GOOD2_NORMALISED) and pod_is_ready(p)))
    assert container_status(pod, "app").restart_count == 1
    for name, (uid, ip, cid) in before.items():
        p = read_pod(k8s, namespace, name)
        assert (p.metadata.uid, p.status.pod_ip) == (uid, ip)
        if name != "p0":
            assert container_status(p, "app").container_id == cid
            assert container_status(p, "app").restart_count == 0


def test_sandbox_delay_holds_new_pods_but_not_restarts_in_place(k8s, cluster, namespace):
    """SANDBOX_DELAY is paid by a new pod before its first container, never by a container restarted in
    place: with a delay far longer than the test, a running pod restarts onto a new image and is Ready
    again while a pod created before the patch is still waiting for its sandbox."""
    create_pod(k8s, namespace, "old", containers=[container("app", GOOD)], wait=False)
    wait_for(pod_when(k8s, namespace, "old", pod_is_ready))
    cluster.restart_kubelet(sandbox_delay=600)
    try:
        create_pod(k8s, namespace, "new", containers=[container("app", GOOD)], wait=False)
        fresh = wait_for(pod_when(k8s, namespace, "new", lambda p: waiting_reason(p, "app") == "ContainerCreating"))
        assert fresh.status.pod_ip and container_status(fresh, "app").container_id is None
        patch_container_image(k8s, namespace, "old", 0, GOOD2)
        wait_for(pod_when(k8s, namespace, "old", lambda p: upgraded(p, "app", GOOD2_NORMALISED) and pod_is_ready(p)))
        fresh = read_pod(k8s, namespace, "new")
        assert waiting_reason(fresh, "app") == "ContainerCreating" and not pod_is_ready(fresh)
        assert container_status(fresh, "app").container_id is None
        # An image patched during the sandbox wait is the one the container starts on.
        patch_container_image(k8s, namespace, "new", 0, GOOD2)
    finally:
        cluster.restart_kubelet(sandbox_delay=0)
    wait_for(pod_when(k8s, namespace, "new", lambda p: upgraded(p, "app", GOOD2_NORMALISED) and pod_is_ready(p)))
