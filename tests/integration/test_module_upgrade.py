"""Integration tests of inplace.kubernetes.k8s_inplace_upgrade (issue 4): discovery, guarded JSON
patching, real completion, durable template sync, check/diff mode, bad input, the info module.

Every test runs the module through ansible-playbook, in its own namespace, and checks the cluster
through the API afterwards.
"""

import json
import sys
import time

import pytest
from kubernetes.client.rest import ApiException

from helpers import (container, container_status, create_deployment, create_pod, init_container, live_pods,
                     pod_is_ready, resource_versions, snapshot, wait_for, wait_pods_ready)
from module_helpers import (INFO_MODULE, NEW, OLD, PULL_REASONS, SIDECAR, THIRD, UNPULLABLE, after_run, assert_clean_failure,
                            assert_restarted_on, assert_untouched, closed_port, normalised, run_module, run_witnessed,
                            set_image_by_hand, settled_resource_versions, spec_images, wait_deployment_settled)

pytestmark = [pytest.mark.integration, pytest.mark.compat]

SEL = "app=web"


def two_container_deployment(k8s, namespace, replicas=3):
    pods = create_deployment(k8s, namespace, "web", replicas=replicas,
                             containers=[container("app", OLD), container("sidecar", SIDECAR)])
    wait_deployment_settled(k8s, namespace, "web")
    return pods


def replicasets(k8s, namespace):
    return sorted(k8s.apps.list_namespaced_replica_set(namespace).items, key=lambda r: r.metadata.name)


# -- the upgrade itself ---------------------------------------------------------------------------


def test_multi_container_only_named_container_restarts(k8s, cluster, namespace):
    two_container_deployment(k8s, namespace)
    before = snapshot(k8s, namespace, SEL)
    rs_before = [r.metadata.uid for r in replicasets(k8s, namespace)]

    res, result, witness = run_witnessed(k8s, cluster, namespace, SEL, {"name": "web", "namespace": namespace, "containers": {"app": NEW},
                                         "wait_timeout": 60}, diff=True)
    assert res.ok, res.describe()
    assert result["changed"] is True
    assert sorted(result["patched"]) == sorted(before)

    after = after_run(k8s, namespace, SEL, witness)
    assert sorted(after) == sorted(before), "pods were replaced"
    for name in before:
        assert_restarted_on(before[name], after[name], "app", NEW)
        assert_untouched(before[name], after[name], ["sidecar"])

    # The module's own report agrees with the cluster.
    entries = dict((p["name"], p) for p in result["pods"])
    for name, snap in after.items():
        entry = entries[name]
        assert entry["uid"] == snap["uid"] and entry["node"] == snap["node"] and entry["pod_ip"] == snap["ip"]
        assert entry["state"] == "upgraded" and entry["patched"] is True and entry["ready"] is True
        app = [c for c in entry["containers"] if c["name"] == "app"][0]
        assert (app["before"], app["after"]) == (OLD, NEW)

    # Diff mode: before/after images per pod.
    diff = result.get("diff")
    if isinstance(diff, list):
        diff = diff[0]
    assert diff, "no diff in diff mode: %s" % sorted(result)
    for name in before:
        assert diff["before"]["pods"][name]["app"] == OLD
        assert diff["after"]["pods"][name]["app"] == NEW
        assert "sidecar" not in diff["after"]["pods"][name]
    assert "+            \"app\": \"%s\"" % NEW in res.stdout or NEW in res.stdout

    # Durable by default: the template follows, no new ReplicaSet, nothing paused.
    assert result["template_synced"] is True
    dep = k8s.apps.read_namespaced_deployment("web", namespace)
    assert {c.name: c.image for c in dep.spec.template.spec.containers} == {"app": NEW, "sidecar": SIDECAR}
    assert not dep.spec.paused
    assert [r.metadata.uid for r in replicasets(k8s, namespace)] == rs_before


def test_second_run_is_not_changed_and_writes_nothing(k8s, cluster, namespace):
    two_container_deployment(k8s, namespace, replicas=2)
    args = {"name": "web", "namespace": namespace, "containers": {"app": NEW}, "wait_timeout": 60}
    res, first = run_module(cluster, args)
    assert res.ok and first["changed"], res.describe()
    wait_deployment_settled(k8s, namespace, "web")
    versions = settled_resource_versions(k8s, namespace)
    snap = snapshot(k8s, namespace, SEL)

    res, second = run_module(cluster, args)
    assert res.ok, res.describe()
    assert second["changed"] is False
    assert second["patched"] == []
    assert sorted(second["already_current"]) == sorted(snap)
    assert resource_versions(k8s, namespace) == versions, "a second run wrote to the cluster"
    assert snapshot(k8s, namespace, SEL) == snap

    # The same images spelt fully qualified are the same images: still nothing to do.
    res, third = run_module(cluster, dict(args, containers={"app": "docker.io/library/" + NEW}))
    assert res.ok and third["changed"] is False and third["patched"] == [], res.describe()
    assert resource_versions(k8s, namespace) == versions


def test_check_mode_changes_nothing_and_reports_exactly_the_pods_that_would_change(k8s, cluster, namespace):
    two_container_deployment(k8s, namespace)
    pods = live_pods(k8s, namespace, SEL)
    current = pods[0].metadata.name
    # One pod already runs the target: check mode must not list it.
    set_image_by_hand(k8s, namespace, current, NEW, SEL)
    versions = settled_resource_versions(k8s, namespace)
    snap = snapshot(k8s, namespace, SEL)

    res, result = run_module(cluster, {"name": "web", "namespace": namespace, "containers": {"app": NEW}},
                             check=True, diff=True)
    assert res.ok, res.describe()
    assert result["changed"] is True
    would = sorted(p.metadata.name for p in pods[1:])
    assert sorted(result["patched"]) == would
    assert result["already_current"] == [current]
    states = dict((p["name"], p["state"]) for p in result["pods"])
    assert states == dict([(n, "would_upgrade") for n in would] + [(current, "current")])
    diff = result.get("diff")
    if isinstance(diff, list):
        diff = diff[0]
    assert diff and sorted(diff["after"]["pods"]) == would
    for name in would:
        assert diff["before"]["pods"][name] == {"app": OLD}
        assert diff["after"]["pods"][name] == {"app": NEW}

    assert resource_versions(k8s, namespace) == versions, "check mode wrote to the cluster"
    assert snapshot(k8s, namespace, SEL) == snap
    dep = k8s.apps.read_namespaced_deployment("web", namespace)
    assert dep.spec.template.spec.containers[0].image == OLD
    assert not (dep.metadata.annotations or {}).get("inplace.kubernetes.io/last-upgrade")


def test_image_shorthand_on_single_container_pods(k8s, cluster, namespace):
    create_deployment(k8s, namespace, "web", replicas=2, containers=[container("app", OLD)])
    before = snapshot(k8s, namespace, SEL)
    res, result, witness = run_witnessed(k8s, cluster, namespace, SEL, {"name": "web", "namespace": namespace, "image": NEW, "wait_timeout": 60})
    assert res.ok, res.describe()
    assert result["changed"] is True and result["targets"] == {"app": NEW}
    after = after_run(k8s, namespace, SEL, witness)
    for name in before:
        assert_restarted_on(before[name], after[name], "app", NEW)


@pytest.mark.any_version
def test_image_shorthand_on_multi_container_pods_fails_clearly(k8s, cluster, namespace):
    two_container_deployment(k8s, namespace, replicas=2)
    versions = settled_resource_versions(k8s, namespace)
    res, result = run_module(cluster, {"name": "web", "namespace": namespace, "image": NEW})
    assert not res.ok
    assert_clean_failure(res, result, "exactly one container", "app", "sidecar", "containers")
    assert resource_versions(k8s, namespace) == versions


# -- bad input: clear message, nothing changed ---------------------------------------------------


@pytest.mark.any_version
def test_bad_inputs_fail_clearly_and_change_nothing(k8s, cluster, namespace):
    two_container_deployment(k8s, namespace, replicas=2)
    versions = settled_resource_versions(k8s, namespace)
    base = {"name": "web", "namespace": namespace, "containers": {"app": NEW}, "wait_timeout": 30}
    cases = [
        ("unknown workload", dict(base, name="nope"), ["Deployment", "nope", "not found"]),
        ("unknown namespace", dict(base, namespace=namespace + "-missing"),
         ["namespace", namespace + "-missing", "does not exist"]),
        ("unknown container", dict(base, containers={"nosuch": NEW}), ["nosuch", "app", "sidecar"]),
        ("invalid image", dict(base, containers={"app": "nginx:1.21 alpine"}), ["app", "image"]),
        ("invalid image uppercase", dict(base, containers={"app": "Nginx/App:1"}), ["app", "Nginx/App:1"]),
        ("unsupported kind", dict(base, kind="ReplicaSet"), ["kind", "Deployment", "StatefulSet", "DaemonSet"]),
        ("unreachable API server", dict(base, host="https://127.0.0.1:%d" % closed_port()),
         ["127.0.0.1", "reach"]),
    ]
    tasks = [{"name": case[0], "inplace.kubernetes.k8s_inplace_upgrade": case[1], "ignore_errors": True}
             for case in cases]
    from playbook import run_playbook
    res = run_playbook(tasks, kubeconfig=cluster.admin_kubeconfig, timeout=300)
    problems = []
    for label, dummy, fragments in cases:
        results = res.task_results(label)
        try:
            assert len(results) == 1, "task %r reported %d results" % (label, len(results))
            msg = assert_clean_failure(res, results[0], *fragments)
            assert results[0].get("patched", []) == [], results[0].get("patched")
        except AssertionError as exc:
            problems.append("%s: %s" % (label, exc))
        else:
            print("%s -> %s" % (label, msg))
    assert resource_versions(k8s, namespace) == versions, "a failing run changed the cluster"
    assert not problems, "\n".join(problems)


@pytest.mark.any_version
def test_forbidden_for_unprivileged_user_names_verb_and_resource(k8s, cluster, namespace):
    two_container_deployment(k8s, namespace, replicas=1)
    versions = settled_resource_versions(k8s, namespace)
    res, result = run_module(cluster, {"name": "web", "namespace": namespace, "containers": {"app": NEW}},
                             kubeconfig=cluster.user_kubeconfig)
    assert not res.ok
    msg = assert_clean_failure(res, result, "403", "get", "deployments")
    assert "inplace-user" in msg, msg
    assert resource_versions(k8s, namespace) == versions


# -- durable -----------------------------------------------------------------------------------------


def test_durable_sync_new_pods_come_up_on_the_new_image_without_a_new_replicaset(k8s, cluster, namespace):
    two_container_deployment(k8s, namespace, replicas=3)
    rs_before = replicasets(k8s, namespace)
    assert len(rs_before) == 1
    res, result = run_module(cluster, {"name": "web", "namespace": namespace,
                                       "containers": {"app": NEW, "sidecar": "busybox:1.33"}, "wait_timeout": 60})
    assert res.ok and result["template_synced"] is True, res.describe()
    upgraded = snapshot(k8s, namespace, SEL)
    assert all(s["specImages"] == {"app": NEW, "sidecar": "busybox:1.33"} for s in upgraded.values())

    rs_now = replicasets(k8s, namespace)
    assert [r.metadata.uid for r in rs_now] == [r.metadata.uid for r in rs_before], "a new ReplicaSet appeared"
    assert {c.name: c.image for c in rs_now[0].spec.template.spec.containers} == {"app": NEW, "sidecar": "busybox:1.33"}
    dep = k8s.apps.read_namespaced_deployment("web", namespace)
    assert not dep.spec.paused, "Deployment left paused"
    assert "inplace.kubernetes.io/template-sync" not in (dep.metadata.annotations or {})

    victim, *keep = sorted(upgraded)
    k8s.core.delete_namespaced_pod(victim, namespace)
    k8s.apps.patch_namespaced_deployment_scale("web", namespace, {"spec": {"replicas": 4}})
    pods = wait_pods_ready(k8s.core, namespace, SEL, 4, timeout=60)
    wait_deployment_settled(k8s, namespace, "web")
    after = snapshot(k8s, namespace, SEL)
    new = sorted(set(after) - set(upgraded))
    assert victim not in after and len(new) == 2, (sorted(upgraded), sorted(after))
    for name in new:
        assert after[name]["specImages"] == {"app": NEW, "sidecar": "busybox:1.33"}, after[name]
        assert after[name]["images"]["app"] == normalised(NEW)
    for name in keep:
        assert after[name] == upgraded[name] or (
            after[name]["uid"] == upgraded[name]["uid"]
            and after[name]["containerIDs"] == upgraded[name]["containerIDs"]), "existing pod recreated/restarted"
    rs_final = replicasets(k8s, namespace)
    assert [r.metadata.uid for r in rs_final] == [r.metadata.uid for r in rs_before], "a new ReplicaSet appeared"
    owners = set(p.metadata.owner_references[0].uid for p in pods)
    assert owners == {rs_before[0].metadata.uid}
    assert not k8s.apps.read_namespaced_deployment("web", namespace).spec.paused


# -- failures while waiting --------------------------------------------------------------------------


def test_unpullable_image_fails_fast_naming_pod_container_and_reason(k8s, cluster, namespace, faults):
    two_container_deployment(k8s, namespace, replicas=2)
    before = snapshot(k8s, namespace, SEL)
    faults(pull_fail=[UNPULLABLE])
    started = time.monotonic()
    res, result = run_module(cluster, {"name": "web", "namespace": namespace, "containers": {"app": UNPULLABLE},
                                       "on_failure": "stop", "wait_timeout": 90})
    took = time.monotonic() - started
    assert not res.ok
    msg = assert_clean_failure(res, result, "app")
    assert any(reason in msg for reason in PULL_REASONS), msg
    assert any(name in msg for name in before), msg
    states = dict((p["name"], p) for p in result.get("pods", []))
    failed = [n for n, p in states.items() if p["state"] == "failed"]
    assert failed, "no pod reported failed (timed out instead of failing fast?): %s" % {
        n: (p["state"], p["reason"]) for n, p in states.items()}
    for name in failed:
        assert any(reason in states[name]["reason"] for reason in PULL_REASONS), states[name]
    assert not any(p["state"] == "timed_out" for p in states.values())
    # Fail fast: the kubelet tries the pull right after killing the old container and reports ErrImagePull
    # within its next sync (PLEG relists every 1 s), so the run ends in seconds, far from wait_timeout
    # (the bound leaves room for ansible-playbook's own start-up on 2 shared cores).
    assert took < 45, "the run took %.1f s with wait_timeout 90: not failing fast" % took

    # on_failure=stop: the pods are left as they are (spec on the bad image), none recreated, and the
    # owner's template is not moved to the bad image.
    after = snapshot(k8s, namespace, SEL)
    assert sorted(after) == sorted(before)
    for name in before:
        assert after[name]["uid"] == before[name]["uid"]
        assert after[name]["specImages"]["app"] == UNPULLABLE
        assert after[name]["containerIDs"]["sidecar"] == before[name]["containerIDs"]["sidecar"]
        # The real kubelet builds the status of a container whose new image cannot be pulled from the old,
        # killed container (convertToAPIContainerStatuses): image, imageID, containerID and restartCount stay
        # the old ones; only state.waiting.reason tells. The product must fail from that, not from
        # status.image (which never reaches the target).
        assert after[name]["images"]["app"] == normalised(OLD), after[name]
    # The run stopped at the first pod's failure; the kubelet fails the pull of the other pod on its own.
    wait_for(lambda: not any(p["ready"] for p in snapshot(k8s, namespace, SEL).values()), 30,
             message="every pod of the stopped batch unready on the unpullable image")
    dep = k8s.apps.read_namespaced_deployment("web", namespace)
    assert dep.spec.template.spec.containers[0].image == OLD
    assert not dep.spec.paused
    # RETURN documents `failed` as the list of failed pods, "returned: always".
    assert isinstance(result.get("failed_pods", result["failed"]), list), (
        "the documented list of failed pods is lost on failure: result['failed'] is %r" % (result["failed"],))
    assert sorted(result.get("failed_pods", result["failed"])) == sorted(failed)


# -- init containers ---------------------------------------------------------------------------------

INIT_OLD = SIDECAR
INIT_NEW = "busybox:1.33"


def init_container_deployment(k8s, namespace, replicas=2):
    create_deployment(k8s, namespace, "web", replicas=replicas, containers=[container("app", OLD)],
                      init_containers=[init_container("init", INIT_OLD)])
    wait_deployment_settled(k8s, namespace, "web")
    return snapshot(k8s, namespace, SEL)


def init_status(pod):
    return container_status(pod, "init", init=True)


def test_completed_init_container_target_is_refused_before_any_write(k8s, cluster, namespace):
    """The real kubelet never re-runs a regular init container that has completed, whatever its new image
    (computeInitContainerActions): patching it on a live pod could never complete. By default the module
    refuses such a target before writing anything and says why."""
    init_container_deployment(k8s, namespace)
    versions = settled_resource_versions(k8s, namespace)
    cases = {"init only": {"init": INIT_NEW}, "init and app": {"app": NEW, "init": INIT_NEW}}
    from playbook import run_playbook
    res = run_playbook([{"name": label, "inplace.kubernetes.k8s_inplace_upgrade": {
        "name": "web", "namespace": namespace, "containers": targets, "wait_timeout": 30}, "ignore_errors": True}
        for label, targets in cases.items()], kubeconfig=cluster.admin_kubeconfig, timeout=300)
    for label in cases:
        results = res.task_results(label)
        assert len(results) == 1, "task %r reported %d results\n%s" % (label, len(results), res.describe())
        assert_clean_failure(res, results[0], "init", "re-run", "recreated")
        assert results[0].get("patched", []) == [], (label, results[0].get("patched"))
    assert resource_versions(k8s, namespace) == versions, "a refused run wrote to the cluster"


def test_completed_init_container_change_is_spec_only_with_allow_spec_only(k8s, cluster, namespace):
    """With allow_spec_only the change is accepted as what it is on a live pod: the spec moves, nothing
    restarts (computeInitContainerActions does not re-run a completed init container), the pods are reported
    spec_only at once instead of being waited for; the template follows, so a recreated pod runs the new init
    image."""
    before = init_container_deployment(k8s, namespace)
    pods = dict((p.metadata.name, p) for p in live_pods(k8s, namespace, SEL))
    rs_before = [r.metadata.uid for r in replicasets(k8s, namespace)]
    args = {"name": "web", "namespace": namespace, "containers": {"init": INIT_NEW}, "allow_spec_only": True,
            "wait_timeout": 60}
    res, result = run_module(cluster, args)
    assert res.ok, res.describe()
    assert result["changed"] is True and sorted(result["patched"]) == sorted(before)
    states = dict((p["name"], p["state"]) for p in result["pods"])
    assert states == dict((name, "spec_only") for name in before), states

    for name, pod in pods.items():
        now = k8s.core.read_namespaced_pod(name, namespace)
        assert now.metadata.uid == pod.metadata.uid
        assert now.spec.init_containers[0].image == INIT_NEW
        # The completed init container is left as it ran: old image, same container, not restarted.
        was, is_ = init_status(pod), init_status(now)
        assert is_.container_id == was.container_id and is_.restart_count == was.restart_count == 0, (was, is_)
        assert is_.image == normalised(INIT_OLD) and is_.state.terminated and is_.state.terminated.exit_code == 0
        assert pod_is_ready(now)
    after = snapshot(k8s, namespace, SEL)
    for name in before:
        assert_untouched(before[name], after[name], ["app"])

    # Durable: the template carries the new init image without a new ReplicaSet; a recreated pod runs it.
    assert result["template_synced"] is True
    dep = k8s.apps.read_namespaced_deployment("web", namespace)
    assert dep.spec.template.spec.init_containers[0].image == INIT_NEW and not dep.spec.paused
    assert [r.metadata.uid for r in replicasets(k8s, namespace)] == rs_before
    victim = sorted(before)[0]
    k8s.core.delete_namespaced_pod(victim, namespace)

    def replacement():
        fresh = [p for p in live_pods(k8s, namespace, SEL) if p.metadata.name not in before and pod_is_ready(p)]
        return fresh[0] if fresh else None
    fresh = wait_for(replacement, 60, message="a replacement pod Ready")
    assert fresh.spec.init_containers[0].image == INIT_NEW
    assert init_status(fresh).image == normalised(INIT_NEW)

    # Nothing left to do: a second run changes nothing.
    wait_deployment_settled(k8s, namespace, "web")
    versions = settled_resource_versions(k8s, namespace)
    res, again = run_module(cluster, args)
    assert res.ok and again["changed"] is False and again["patched"] == [], res.describe()
    assert resource_versions(k8s, namespace) == versions


# -- concurrent changes -----------------------------------------------------------------------------


def _module_image_patch():
    """The module's own patch builder, from the collection being tested (None if not importable)."""
    from playbook import collections_path
    path = collections_path()
    if path not in sys.path:
        sys.path.insert(0, path)
    try:
        from ansible_collections.inplace.kubernetes.plugins.module_utils._inplace.patch import image_patch
    except Exception:  # noqa: BLE001 - fall back to the documented shape
        return None
    return image_patch


def _module_client():
    if _module_image_patch() is None:
        return None
    from ansible_collections.inplace.kubernetes.plugins.module_utils._inplace import client
    return client


def test_guarded_patch_with_stale_test_value_is_rejected_and_changes_nothing(k8s, namespace):
    pod = create_pod(k8s, namespace, "guarded", containers=[container("app", OLD), container("sidecar", SIDECAR)])
    stale_spec = k8s.api.sanitize_for_serialization(pod)["spec"]
    ops = [{"op": "test", "path": "/spec/containers/0/name", "value": "app"},
           {"op": "test", "path": "/spec/containers/0/image", "value": OLD},
           {"op": "replace", "path": "/spec/containers/0/image", "value": NEW}]
    image_patch = _module_image_patch()
    if image_patch is not None:
        patch, changes = image_patch(stale_spec, {"app": NEW})
        assert patch.patch == ops, "the module's patch shape changed: %s" % patch.patch
        assert changes and changes[0]["before"] == OLD

    # Somebody else changes the image between the module's read and its patch.
    set_image_by_hand(k8s, namespace, "guarded", THIRD, "")
    settled = settled_resource_versions(k8s, namespace)
    with pytest.raises(ApiException) as err:
        k8s.core.patch_namespaced_pod("guarded", namespace, ops, _content_type="application/json-patch+json")
    # The API server answers a failed RFC 6902 test op with 422 Invalid ("the server rejected our request
    # due to an error in our request"); 409 is accepted as well.
    assert err.value.status in (409, 422), err.value
    now = k8s.core.read_namespaced_pod("guarded", namespace)
    assert spec_images(now) == {"app": THIRD, "sidecar": SIDECAR}
    assert resource_versions(k8s, namespace) == settled, "the rejected patch changed the pod"

    # The module's own client must recognise this rejection as a concurrent change (so the run reports
    # the pod as changed concurrently and does not overwrite it), not as an opaque error.
    kube_module = _module_client()
    if kube_module is not None:
        kube = kube_module.Kube({"kubeconfig": k8s.cluster.admin_kubeconfig})
        errors = __import__(kube_module.__name__.rsplit(".", 1)[0] + ".errors", fromlist=["x"])
        with pytest.raises(errors.ApiError) as caught:
            kube.json_patch("/api/v1/namespaces/%s/pods/guarded" % namespace, ops)
        assert isinstance(caught.value, errors.PreconditionFailed), (
            "a failed test op came back as %s: %s" % (type(caught.value).__name__, caught.value.msg))
        assert spec_images(k8s.core.read_namespaced_pod("guarded", namespace)) == {"app": THIRD, "sidecar": SIDECAR}

    # A test on the container name protects against a reordered container list as well.
    swapped = [{"op": "test", "path": "/spec/containers/0/name", "value": "sidecar"},
               {"op": "replace", "path": "/spec/containers/0/image", "value": NEW}]
    with pytest.raises(ApiException) as err:
        k8s.core.patch_namespaced_pod("guarded", namespace, swapped, _content_type="application/json-patch+json")
    assert err.value.status == 422
    assert spec_images(k8s.core.read_namespaced_pod("guarded", namespace)) == {"app": THIRD, "sidecar": SIDECAR}


def test_pod_changed_by_someone_else_before_the_run_is_handled_from_its_live_image(k8s, cluster, namespace):
    two_container_deployment(k8s, namespace, replicas=3)
    pods = live_pods(k8s, namespace, SEL)
    odd = pods[1].metadata.name
    set_image_by_hand(k8s, namespace, odd, THIRD, SEL)
    before = snapshot(k8s, namespace, SEL)

    res, result, witness = run_witnessed(k8s, cluster, namespace, SEL, {"name": "web", "namespace": namespace, "containers": {"app": NEW},
                                         "wait_timeout": 60}, diff=True)
    assert res.ok, res.describe()
    after = after_run(k8s, namespace, SEL, witness)
    for name in before:
        assert_restarted_on(before[name], after[name], "app", NEW)
        assert_untouched(before[name], after[name], ["sidecar"])
    entry = [p for p in result["pods"] if p["name"] == odd][0]
    app = [c for c in entry["containers"] if c["name"] == "app"][0]
    assert app["before"] == THIRD, "the module did not patch from the pod's live image: %s" % app
    diff = result.get("diff")
    if isinstance(diff, list):
        diff = diff[0]
    assert diff["before"]["pods"][odd] == {"app": THIRD}
    # The undo record holds what the owner's template had, not the odd pod's image.
    record = json.loads(k8s.apps.read_namespaced_deployment("web", namespace).metadata.annotations[
        "inplace.kubernetes.io/last-upgrade"])
    assert record["previous"] == {"app": OLD}


# -- targeting ------------------------------------------------------------------------------------------


@pytest.mark.any_version
def test_label_selectors_mode_patches_only_matching_pods(k8s, cluster, namespace):
    create_pod(k8s, namespace, "one", containers=[container("app", OLD)], labels={"tier": "web", "pool": "a"})
    create_pod(k8s, namespace, "two", containers=[container("app", OLD)], labels={"tier": "web", "pool": "b"})
    create_pod(k8s, namespace, "other", containers=[container("app", OLD)], labels={"tier": "db", "pool": "a"})
    before = snapshot(k8s, namespace, "")

    res, result, witness = run_witnessed(k8s, cluster, namespace, "", {"namespace": namespace, "label_selectors": ["tier=web"],
                                         "containers": {"app": NEW}, "wait_timeout": 60})
    assert res.ok, res.describe()
    assert sorted(result["patched"]) == ["one", "two"]
    assert result["owner"].get("kind") is None
    after = after_run(k8s, namespace, "", witness)
    for name in ("one", "two"):
        assert_restarted_on(before[name], after[name], "app", NEW)
    assert_untouched(before["other"], after["other"])

    res, result, witness = run_witnessed(k8s, cluster, namespace, "", {"namespace": namespace, "label_selectors": ["tier in (web,db)", "pool=a"],
                                         "containers": {"app": THIRD}, "wait_timeout": 60})
    assert res.ok, res.describe()
    assert sorted(result["patched"]) == ["one", "other"]
    final = after_run(k8s, namespace, "", witness)
    assert_restarted_on(after["one"], final["one"], "app", THIRD)
    assert_restarted_on(after["other"], final["other"], "app", THIRD)
    assert_untouched(after["two"], final["two"])


@pytest.mark.any_version
def test_pods_and_max_pods_limit_the_patch_and_info_reports_the_plan(k8s, cluster, namespace):
    two_container_deployment(k8s, namespace, replicas=4)
    names = sorted(snapshot(k8s, namespace, SEL))
    base = {"name": "web", "namespace": namespace, "containers": {"app": NEW}, "wait_timeout": 60}

    s0 = snapshot(k8s, namespace, SEL)
    res, result, witness = run_witnessed(k8s, cluster, namespace, SEL, dict(base, pods=[names[2]]))
    assert res.ok, res.describe()
    assert result["patched"] == [names[2]]
    s1 = after_run(k8s, namespace, SEL, witness)
    assert_restarted_on(s0[names[2]], s1[names[2]], "app", NEW)
    for name in set(names) - {names[2]}:
        assert_untouched(s0[name], s1[name])
    # Not every pod is on the new image: the template must stay where it is.
    assert result["template_synced"] is False
    dep = k8s.apps.read_namespaced_deployment("web", namespace)
    assert dep.spec.template.spec.containers[0].image == OLD
    assert not dep.spec.paused

    # The info module: who still needs it, who is current, the batches; and it writes nothing.
    versions = settled_resource_versions(k8s, namespace)
    res, info = run_module(cluster, {"name": "web", "namespace": namespace, "containers": {"app": NEW},
                                     "batch_size": "2"}, module=INFO_MODULE, name="info")
    assert res.ok, res.describe()
    todo = [n for n in names if n != names[2]]
    assert info["changed"] is False
    assert info["needs_upgrade"] == todo
    assert info["already_current"] == [names[2]]
    assert info["planned_batches"] == [todo[:2], todo[2:]]
    assert info["template_current"] is False
    assert info["template_images"] == {"app": OLD, "sidecar": SIDECAR}
    assert resource_versions(k8s, namespace) == versions, "the info module wrote to the cluster"

    res, result, witness = run_witnessed(k8s, cluster, namespace, SEL, dict(base, max_pods=2))
    assert res.ok, res.describe()
    assert len(result["patched"]) == 2 and names[2] not in result["patched"], result["patched"]
    s2 = after_run(k8s, namespace, SEL, witness)
    for name in names:
        if name in result["patched"]:
            assert_restarted_on(s1[name], s2[name], "app", NEW)
        else:
            assert_untouched(s1[name], s2[name])
    assert k8s.apps.read_namespaced_deployment("web", namespace).spec.template.spec.containers[0].image == OLD

    res, result = run_module(cluster, base)
    assert res.ok, res.describe()
    left = [n for n in names if s2[n]["specImages"]["app"] == OLD]
    assert result["patched"] == left and len(left) == 1
    assert result["template_synced"] is True
    assert k8s.apps.read_namespaced_deployment("web", namespace).spec.template.spec.containers[0].image == NEW

    res, info = run_module(cluster, {"name": "web", "namespace": namespace, "containers": {"app": NEW}},
                           module=INFO_MODULE, name="info")
    assert res.ok and info["needs_upgrade"] == [] and info["already_current"] == names, res.describe()
    assert info["template_current"] is True


@pytest.mark.any_version
def test_unknown_pod_name_in_pods_is_refused(k8s, cluster, namespace):
    two_container_deployment(k8s, namespace, replicas=2)
    versions = settled_resource_versions(k8s, namespace)
    res, result = run_module(cluster, {"name": "web", "namespace": namespace, "containers": {"app": NEW},
                                       "pods": ["web-not-a-pod"]})
    assert not res.ok
    assert_clean_failure(res, result, "web-not-a-pod")
    assert resource_versions(k8s, namespace) == versions


# -- the lease inside the module (issue 17) -------------------------------------------------------------

LEASE_NAME = "inplace-upgrade-deployment-web"


def leases_in(k8s, namespace):
    from kubernetes import client
    return client.CustomObjectsApi(k8s.api).list_namespaced_custom_object(
        "coordination.k8s.io", "v1", namespace, "leases").get("items") or []


def test_a_lease_another_run_holds_is_refused_with_nothing_written(k8s, cluster, namespace):
    from kubernetes import client
    two_container_deployment(k8s, namespace, replicas=2)
    deployment_pods = snapshot(k8s, namespace, SEL)
    now = time.strftime("%Y-%m-%dT%H:%M:%S.000000Z", time.gmtime())
    client.CustomObjectsApi(k8s.api).create_namespaced_custom_object("coordination.k8s.io", "v1", namespace, "leases", {
        "apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": {"name": LEASE_NAME},
        "spec": {"holderIdentity": "other-run-1", "leaseDurationSeconds": 600, "acquireTime": now, "renewTime": now}})
    versions = settled_resource_versions(k8s, namespace)
    res, result = run_module(cluster, {"name": "web", "namespace": namespace, "containers": {"app": NEW},
                                       "lease": {}, "wait_timeout": 60})
    assert not res.ok
    assert_clean_failure(res, result, "another upgrade run holds Lease %s/%s: holder other-run-1" % (namespace, LEASE_NAME))
    assert result["held_by_other"] is True and result["changed"] is False
    assert result["lease"]["action"] == "refused" and result["lease"]["lease"]["holder"] == "other-run-1"
    assert sorted(result["plan"]["needs_upgrade"]) == sorted(deployment_pods)
    # Nothing written: no pod, no owner annotation, and the other run's lease untouched.
    assert resource_versions(k8s, namespace) == versions
    held = leases_in(k8s, namespace)
    assert [(l["metadata"]["name"], l["spec"]["holderIdentity"]) for l in held] == [(LEASE_NAME, "other-run-1")]


def test_the_lease_is_held_during_the_run_and_released_at_the_end_also_after_a_rolled_back_batch(
        k8s, cluster, namespace, faults):
    two_container_deployment(k8s, namespace, replicas=2)
    before = snapshot(k8s, namespace, SEL)
    res, result = run_module(cluster, {"name": "web", "namespace": namespace, "containers": {"app": NEW},
                                       "batch_size": "1", "lease": {"holder": "run-a"}, "wait_timeout": 60})
    assert res.ok, res.describe()
    lease = result["lease"]
    assert lease["action"] == "acquired" and lease["holder"] == "run-a" and lease["released"] == "released"
    assert lease["lease"]["name"] == LEASE_NAME and lease["held"] is False
    assert leases_in(k8s, namespace) == []
    assert sorted(result["patched"]) == sorted(before)
    assert result["plan"]["planned_batches"] == [[n] for n in sorted(before)]

    # A failed batch, rolled back in place: the lease is released after the rollback too.
    # An unpullable image of its own: a node that pulled another test's once its faults were cleared keeps it.
    bad = UNPULLABLE + "-lease"
    faults(pull_fail=[bad])
    res, result = run_module(cluster, {"name": "web", "namespace": namespace, "containers": {"app": bad},
                                       "batch_size": "1", "lease": {}, "on_failure": "rollback", "wait_timeout": 60})
    assert not res.ok
    msg = assert_clean_failure(res, result, "batch 1/2 failed", "rolled back 1 of 1 pods in place")
    assert result["rolled_back"] == [result["plan"]["planned_batches"][0][0]], msg
    assert result["lease"]["action"] == "acquired" and result["lease"]["released"] == "released"
    assert leases_in(k8s, namespace) == []
    wait_pods_ready(k8s.core, namespace, SEL, 2)
    assert all(p["specImages"]["app"] == NEW for p in snapshot(k8s, namespace, SEL).values())


def test_the_lease_kept_for_a_later_call_is_renewed_and_released_by_it(k8s, cluster, namespace):
    two_container_deployment(k8s, namespace, replicas=2)
    before = snapshot(k8s, namespace, SEL)
    res, first = run_module(cluster, {"name": "web", "namespace": namespace, "containers": {"app": NEW},
                                      "batch_size": "1", "max_batches": 1, "sync_template": False,
                                      "lease": {"release": False}, "wait_timeout": 60})
    assert res.ok, res.describe()
    assert len(first["patched"]) == 1 and first["lease"]["held"] is True
    held = leases_in(k8s, namespace)
    assert [l["spec"]["holderIdentity"] for l in held] == [first["lease"]["holder"]]
    assert held[0]["spec"]["leaseDurationSeconds"] == first["lease"]["duration_seconds"]
    res, last = run_module(cluster, {"name": "web", "namespace": namespace, "containers": {"app": NEW},
                                     "lease": {"holder": first["lease"]["holder"]}, "wait_timeout": 60})
    assert res.ok, res.describe()
    assert sorted(first["patched"] + last["patched"]) == sorted(before)
    assert last["lease"]["action"] == "renewed" and last["lease"]["released"] == "released"
    assert last["template_synced"] is True and leases_in(k8s, namespace) == []
