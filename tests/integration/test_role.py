"""The inplace_upgrade role and playbooks/upgrade.yml, run by real ansible-playbook against the local
control plane, with the pods watched while the role runs.

Every test reads the cluster back (pod UIDs, container IDs, images, readiness, resourceVersions,
Leases) instead of trusting what the role reports; the JSON report is checked against it.
"""

import datetime
import threading

import yaml

from helpers import ReadinessWatcher, create_deployment, resource_versions, snapshot, wait_for
from module_helpers import UNPULLABLE, run_module, wait_deployment_settled
from playbook import REPO_ROOT, run_playbook
from role_helpers import (
    LEASE,
    NEW,
    OLD,
    SEL,
    UPGRADE,
    apply_rbac,
    base_vars,
    create_lease,
    create_pdb,
    failure_message,
    leases,
    module_results,
    read_pdb,
    run_role,
    wait_all_ready_on,
)

# Its pull fails (faults(pull_fail=[BAD]) in each test that uses it): the real kubelet reports ErrImagePull,
# then ImagePullBackOff, in state.waiting.reason while status.image stays the old one.
BAD = UNPULLABLE


def deployment(k8s, namespace, replicas, name="web"):
    """Create and wait until the Deployment's own status has caught up (not only its pods), so the
    resourceVersions read next do not move on by themselves."""
    pods = create_deployment(k8s, namespace, name, replicas=replicas, containers=[("app", OLD)])
    wait_deployment_settled(k8s, namespace, name)
    return pods


def health_tasks(tmp_path, fail_on_batch=None):
    """A tasks file run after each batch; it records each call and fails on ``fail_on_batch``."""
    tasks = [{"name": "Smoke test",
              "ansible.builtin.debug": {"msg": "smoke test of batch {{ inplace_upgrade_batch_number }}/"
                                               "{{ inplace_upgrade_batch_count }}: {{ inplace_upgrade_batch_pods | join(',') }}"}}]
    if fail_on_batch:
        tasks.append({"name": "Smoke test verdict",
                      "ansible.builtin.fail": {"msg": "smoke test failed: HTTP 500 from the new version"},
                      "when": "inplace_upgrade_batch_number | int == %d" % fail_on_batch})
    path = tmp_path / "health.yml"
    path.write_text(yaml.safe_dump(tasks, sort_keys=False), encoding="utf-8")
    return str(path)


def assert_no_lease(k8s, namespace):
    held = [(l["metadata"]["name"], l["spec"].get("holderIdentity")) for l in leases(k8s, namespace)]
    assert not held, "the run left its lease behind: %s" % held


def pods_restarted(before, after):
    return sorted(n for n in before if n in after and after[n]["containerIDs"] != before[n]["containerIDs"])


# -- batches, one module call -----------------------------------------------------------------------


def test_batches_never_exceed_batch_size_in_one_module_call_and_rerun_is_a_noop(k8s, cluster, namespace, tmp_path):
    deployment(k8s, namespace, 6)
    before = snapshot(k8s, namespace, SEL)
    with ReadinessWatcher(k8s.core, namespace, SEL) as watcher:
        res, report = run_role(cluster, base_vars(namespace, batch_size=2), tmp_path)
    assert res.ok, res.describe()
    assert watcher.events > 0, "the watcher saw nothing"
    assert watcher.max_unready <= 2, "with batch_size 2, " + watcher.describe()

    # One module call did every batch.
    upgrades = module_results(res)
    assert len(upgrades) == 1, [r.get("msg") for r in upgrades]
    assert [b["pods"] for b in upgrades[0]["batches"]] == report["planned_batches"]
    assert len(report["batches"]) == 3 and all(b["state"] == "done" for b in report["batches"])
    for number, line in enumerate(report["batches"], 1):
        assert "batch %d/3: " % number in res.stdout, "no progress line for batch %d" % number

    after = wait_all_ready_on(k8s, namespace, [NEW], 6)
    assert sorted(after) == sorted(before)
    for name in before:
        assert after[name]["uid"] == before[name]["uid"] and after[name]["node"] == before[name]["node"]
        assert after[name]["restartCounts"]["app"] == before[name]["restartCounts"]["app"] + 1
    dep = k8s.apps.read_namespaced_deployment("web", namespace)
    assert dep.spec.template.spec.containers[0].image == NEW and not dep.spec.paused
    assert report["outcome"] == "upgraded" and sorted(report["upgraded"]) == sorted(before)
    assert report["left"] == [] and report["failed"] == [] and report["template_synced"] is True
    assert all(p["state"] == "upgraded" for p in report["pods"])
    assert_no_lease(k8s, namespace)

    # Again: nothing to do, nothing changed: the run's one module call plans, patches nothing, takes no lease.
    versions = resource_versions(k8s, namespace)
    res2, report2 = run_role(cluster, base_vars(namespace, batch_size=2), tmp_path)
    assert res2.ok, res2.describe()
    again = module_results(res2)
    assert len(again) == 1 and again[0]["changed"] is False and again[0]["patched"] == [], again
    assert again[0]["batches"] == [] and again[0]["template_sync_steps"] == []
    assert again[0]["lease"]["action"] == "not_taken" and module_results(res2, LEASE) == []
    assert report2["outcome"] == "nothing_to_do" and sorted(report2["already_current"]) == sorted(before)
    assert not [r for r in res2.records if r["result"].get("changed")], [
        r["task"] for r in res2.records if r["result"].get("changed")]
    assert resource_versions(k8s, namespace) == versions


def test_check_mode_shows_the_plan_and_changes_nothing(k8s, cluster, namespace, tmp_path):
    deployment(k8s, namespace, 4)
    versions = resource_versions(k8s, namespace)
    res, report = run_role(cluster, base_vars(namespace, batch_size=1, canary=1), tmp_path, check=True, diff=True)
    assert res.ok, res.describe()
    assert report["outcome"] == "check_mode" and report["check_mode"] is True
    assert [len(b) for b in report["planned_batches"]] == [1, 1, 1, 1]
    assert all(p["state"] == "would_upgrade" for p in report["pods"])
    assert "4 to upgrade in 4 batches" in res.stdout
    assert OLD in res.stdout and NEW in res.stdout, "--diff shows no per-pod images"
    assert resource_versions(k8s, namespace) == versions, "check mode changed the cluster"
    assert_no_lease(k8s, namespace)


# -- failures ---------------------------------------------------------------------------------------


def test_bad_image_stops_and_rolls_back_the_failed_batch_only(k8s, cluster, namespace, tmp_path, faults):
    deployment(k8s, namespace, 6)
    before = snapshot(k8s, namespace, SEL)
    faults(pull_fail=[BAD])
    with ReadinessWatcher(k8s.core, namespace, SEL) as watcher:
        res, report = run_role(cluster, dict(base_vars(namespace, canary=2, batch_size=2),
                                             inplace_upgrade_containers={"app": BAD}), tmp_path)
    assert not res.ok
    msg = failure_message(res)
    failed_batch = report["planned_batches"][0]
    assert "batch 1/3 failed" in msg and ("ErrImagePull" in msg or "ImagePullBackOff" in msg), msg
    assert any(name in msg for name in failed_batch), msg
    assert "rolled back" in msg, msg
    assert watcher.max_unready <= 2, watcher.describe()

    after = wait_all_ready_on(k8s, namespace, [OLD], 6)
    for name in before:
        assert after[name]["uid"] == before[name]["uid"]
    assert pods_restarted(before, after) == sorted(failed_batch), "pods outside the failed batch were touched"
    assert sorted(report["rolled_back"]) == sorted(failed_batch)
    assert report["outcome"] == "failed" and report["message"] == msg
    assert k8s.apps.read_namespaced_deployment("web", namespace).spec.template.spec.containers[0].image == OLD
    assert_no_lease(k8s, namespace)


def test_failed_health_check_in_batch_2_rolls_back_that_batch(k8s, cluster, namespace, tmp_path):
    deployment(k8s, namespace, 6)
    before = snapshot(k8s, namespace, SEL)
    with ReadinessWatcher(k8s.core, namespace, SEL) as watcher:
        res, report = run_role(cluster, base_vars(namespace, batch_size=2, health_tasks=health_tasks(tmp_path, 2)),
                               tmp_path)
    assert not res.ok
    msg = failure_message(res)
    batches = report["planned_batches"]
    assert "batch 2/3" in msg and "health tasks" in msg and "HTTP 500" in msg, msg
    assert all(name in msg for name in batches[1]), msg
    assert watcher.max_unready <= 2, watcher.describe()
    assert "smoke test of batch 1/3" in res.stdout and "smoke test of batch 2/3" in res.stdout
    assert "smoke test of batch 3/3" not in res.stdout

    after = wait_all_ready_on(k8s, namespace, [OLD, NEW], 6)
    for name in batches[0]:
        assert after[name]["specImages"]["app"] == NEW, "batch 1 should stay upgraded"
    for name in batches[1]:
        assert after[name]["specImages"]["app"] == OLD, "batch 2 was not rolled back"
        assert after[name]["restartCounts"]["app"] == before[name]["restartCounts"]["app"] + 2
    for name in batches[2]:
        assert after[name]["containerIDs"] == before[name]["containerIDs"], "batch 3 was touched"
    assert sorted(report["rolled_back"]) == sorted(batches[1])
    assert sorted(report["left"]) == sorted(batches[1] + batches[2])
    assert [b["state"] for b in report["batches"]] == ["done", "failed"]
    # The template is synced only once every batch passed its health tasks.
    assert k8s.apps.read_namespaced_deployment("web", namespace).spec.template.spec.containers[0].image == OLD
    assert_no_lease(k8s, namespace)

    # Re-run once the smoke test is fixed: batch 1 is skipped, the rest is upgraded.
    res2, report2 = run_role(cluster, base_vars(namespace, batch_size=2, health_tasks=health_tasks(tmp_path)), tmp_path)
    assert res2.ok, res2.describe()
    assert sorted(report2["already_current"]) == sorted(batches[0])
    wait_all_ready_on(k8s, namespace, [NEW], 6)
    assert k8s.apps.read_namespaced_deployment("web", namespace).spec.template.spec.containers[0].image == NEW


def test_rollback_all_restores_every_pod_the_run_changed(k8s, cluster, namespace, tmp_path):
    deployment(k8s, namespace, 6)
    before = snapshot(k8s, namespace, SEL)
    res, report = run_role(cluster, base_vars(namespace, batch_size=2, on_failure="rollback_all",
                                              health_tasks=health_tasks(tmp_path, 2)), tmp_path)
    assert not res.ok
    msg = failure_message(res)
    batches = report["planned_batches"]
    assert "on_failure=rollback_all" in msg and all(name in msg for name in batches[0] + batches[1]), msg
    after = wait_all_ready_on(k8s, namespace, [OLD], 6)
    for name in batches[0] + batches[1]:
        assert after[name]["restartCounts"]["app"] == before[name]["restartCounts"]["app"] + 2
        assert after[name]["uid"] == before[name]["uid"]
    for name in batches[2]:
        assert after[name]["containerIDs"] == before[name]["containerIDs"]
    assert sorted(report["rolled_back"]) == sorted(batches[0] + batches[1])
    assert_no_lease(k8s, namespace)


def test_on_failure_stop_leaves_the_pods_as_they_are(k8s, cluster, namespace, tmp_path, faults):
    deployment(k8s, namespace, 3)
    faults(pull_fail=[BAD])
    res, report = run_role(cluster, dict(base_vars(namespace, batch_size=1, on_failure="stop", wait_timeout=60),
                                         inplace_upgrade_containers={"app": BAD}), tmp_path)
    assert not res.ok
    msg = failure_message(res)
    assert "on_failure=stop" in msg, msg
    first = report["planned_batches"][0][0]
    pods = snapshot(k8s, namespace, SEL)
    assert pods[first]["specImages"]["app"] == BAD
    assert [n for n, p in pods.items() if p["specImages"]["app"] == BAD] == [first]
    assert first in report["failed"]
    assert_no_lease(k8s, namespace)


# -- PodDisruptionBudgets ---------------------------------------------------------------------------


def test_pdb_shrinks_batches(k8s, cluster, namespace, tmp_path):
    deployment(k8s, namespace, 6)
    create_pdb(k8s, namespace, "web", 5, {"app": "web"})

    def allowed():
        return (read_pdb(k8s, namespace, "web").get("status") or {}).get("disruptionsAllowed") == 1
    wait_for(allowed, 60, message="PDB status disruptionsAllowed=1")

    with ReadinessWatcher(k8s.core, namespace, SEL) as watcher:
        res, report = run_role(cluster, base_vars(namespace, batch_size=3), tmp_path)
    assert res.ok, res.describe()
    assert watcher.max_unready <= 1, "PDB allows 1 disruption, saw " + watcher.describe()
    assert [len(b) for b in report["planned_batches"]] == [3, 3]
    assert report["disruption_budget_notes"], "the report does not say the PDB shrank the batches"
    wait_all_ready_on(k8s, namespace, [NEW], 6)


# -- maintenance window -----------------------------------------------------------------------------


def _clock(moment):
    return moment.strftime("%H:%M:%S")


def test_outside_the_window_nothing_is_changed(k8s, cluster, namespace, tmp_path):
    deployment(k8s, namespace, 2)
    versions = resource_versions(k8s, namespace)
    now = datetime.datetime.now(datetime.timezone.utc)
    window = {"start": _clock(now + datetime.timedelta(hours=2)), "end": _clock(now + datetime.timedelta(hours=3)),
              "timezone": "UTC"}
    res, report = run_role(cluster, base_vars(namespace, window=window), tmp_path)
    assert not res.ok
    msg = failure_message(res)
    assert msg.startswith("maintenance window closed"), msg
    assert report["outcome"] == "window_closed"
    assert resource_versions(k8s, namespace) == versions
    # Outside the window only the read-only plan is made: no upgrade call, not even as a dry run (admission
    # webhooks see dry-run writes too).
    assert not [r for r in res.records if r["action"] == UPGRADE and not r["result"].get("skipped")], res.task_names()


def test_bad_window_is_refused_with_a_clear_message(k8s, cluster, namespace, tmp_path):
    deployment(k8s, namespace, 2)
    versions = resource_versions(k8s, namespace)
    res = run_role(cluster, base_vars(namespace, window={"start": "02:00", "end": "04:00", "timezone": "Mars/Olympus"}),
                   tmp_path)[0]
    assert not res.ok
    assert "Mars/Olympus" in res.stdout and "time zone" in res.stdout, res.describe()
    assert resource_versions(k8s, namespace) == versions


def test_window_closing_mid_run_stops_between_batches_and_a_second_run_finishes(k8s, cluster, namespace, tmp_path):
    deployment(k8s, namespace, 4)
    before = snapshot(k8s, namespace, SEL)
    now = datetime.datetime.now(datetime.timezone.utc)
    # Open since an hour, closing 20 s from now; batch 1 starts once the role has planned (a few seconds), its
    # restart in place takes the real kubelet ~1-3 s, and batch 2 would start only after a 25 s pause.
    window = {"start": _clock(now - datetime.timedelta(hours=1)), "end": _clock(now + datetime.timedelta(seconds=20)),
              "timezone": "UTC"}
    res, report = run_role(cluster, base_vars(namespace, batch_size=1, pause_seconds=25, window=window), tmp_path)
    assert not res.ok
    msg = failure_message(res)
    assert msg.startswith("maintenance window closed"), msg
    assert report["outcome"] == "window_closed"
    done, left = report["upgraded"], report["left"]
    assert len(done) >= 1 and len(left) >= 1 and len(done) + len(left) == 4, report
    assert all(name in msg for name in left), msg
    # Stopped between batches: every pod Ready, on the old or the new image, nothing rolled back.
    after = wait_all_ready_on(k8s, namespace, [OLD, NEW], 4, timeout=5)
    assert sorted(n for n, p in after.items() if p["specImages"]["app"] == NEW) == sorted(done)
    assert report["rolled_back"] == []
    assert_no_lease(k8s, namespace)

    res2, report2 = run_role(cluster, base_vars(namespace, batch_size=1), tmp_path)
    assert res2.ok, res2.describe()
    assert sorted(report2["already_current"]) == sorted(done) and sorted(report2["upgraded"]) == sorted(left)
    final = wait_all_ready_on(k8s, namespace, [NEW], 4)
    for name in before:
        assert final[name]["uid"] == before[name]["uid"]
        assert final[name]["restartCounts"]["app"] == before[name]["restartCounts"]["app"] + 1


# -- the lease ---------------------------------------------------------------------------------------


def test_concurrent_run_is_refused_while_the_lease_is_held(k8s, cluster, namespace, tmp_path):
    deployment(k8s, namespace, 3)
    first = {}

    def run_first():
        first["res"], first["report"] = run_role(cluster, base_vars(namespace, batch_size=1, pause_seconds=4),
                                                 tmp_path)
    thread = threading.Thread(target=run_first)
    thread.start()
    try:
        lease = wait_for(lambda: [l for l in leases(k8s, namespace) if l["spec"].get("holderIdentity")], 60,
                         message="the first run's lease")[0]
        holder = lease["spec"]["holderIdentity"]
        res, report = run_role(cluster, base_vars(namespace, batch_size=1), tmp_path)
        assert not res.ok
        msg = failure_message(res)
        assert "another upgrade run holds Lease" in msg and holder in msg, msg
        assert report["outcome"] == "lease_held"
        # The refused run did not release the other run's lease.
        assert thread.is_alive() and leases(k8s, namespace)[0]["spec"]["holderIdentity"] == holder
    finally:
        thread.join(300)
    assert first["res"].ok, first["res"].describe()
    wait_all_ready_on(k8s, namespace, [NEW], 3)
    assert_no_lease(k8s, namespace)


def test_stale_lease_is_taken_over(k8s, cluster, namespace, tmp_path):
    deployment(k8s, namespace, 2)
    stale = (datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(minutes=30)).strftime(
        "%Y-%m-%dT%H:%M:%S.%fZ")
    create_lease(k8s, namespace, "inplace-upgrade-deployment-web", "dead-controller-1-abc", stale, 60)
    res, report = run_role(cluster, base_vars(namespace), tmp_path)
    assert res.ok, res.describe()
    taken = module_results(res)[0]["lease"]
    assert taken["action"] == "took_over" and taken["previous_holder"] == "dead-controller-1-abc"
    wait_all_ready_on(k8s, namespace, [NEW], 2)
    assert_no_lease(k8s, namespace)


# -- module calls per run (issue 17: the role's fixed cost) ------------------------------------------


def collection_calls(res):
    """The inplace.kubernetes.* module invocations of a run, in order (a skipped task runs no module)."""
    return [r["action"] for r in res.records if r["action"].startswith("inplace.kubernetes.") and r["status"] != "skipped"]


def test_a_run_is_one_module_call_without_health_tasks_and_one_per_batch_plus_one_with_them(k8s, cluster, namespace,
                                                                                            tmp_path):
    deployment(k8s, namespace, 4)
    before = snapshot(k8s, namespace, SEL)
    res, report = run_role(cluster, base_vars(namespace, batch_size=2), tmp_path)
    assert res.ok, res.describe()
    # Plan, lease, both batches, template sync and the lease's release: one call.
    assert collection_calls(res) == [UPGRADE], collection_calls(res)
    run = module_results(res)[0]
    assert run["lease"]["action"] == "acquired" and run["lease"]["released"] == "released"
    assert report["lease"]["holder"] == run["lease"]["holder"] and report["planned_batches"] == run["plan"]["planned_batches"]
    assert report["outcome"] == "upgraded" and sorted(report["upgraded"]) == sorted(before)
    assert "4 pods, 4 to upgrade in 2 batches (2+2)" in res.stdout and "one module call" in res.stdout
    wait_all_ready_on(k8s, namespace, [NEW], 4)
    assert_no_lease(k8s, namespace)

    # With health tasks (back to the old image, 2 batches): a call per batch plus one to finish, under one lease.
    res2, report2 = run_role(cluster, dict(base_vars(namespace, batch_size=2, health_tasks=health_tasks(tmp_path)),
                                           inplace_upgrade_containers={"app": OLD}), tmp_path)
    assert res2.ok, res2.describe()
    assert collection_calls(res2) == [UPGRADE] * 3, collection_calls(res2)
    calls = module_results(res2)
    holders = set(c["lease"]["holder"] for c in calls)
    assert len(holders) == 1 and [c["lease"]["action"] for c in calls] == ["acquired", "renewed", "renewed"]
    assert [c["lease"]["held"] for c in calls] == [True, True, False] and calls[-1]["lease"]["released"] == "released"
    assert "smoke test of batch 1/2" in res2.stdout and "smoke test of batch 2/2" in res2.stdout
    assert report2["outcome"] == "upgraded" and [b["state"] for b in report2["batches"]] == ["done", "done"]
    assert sorted(report2["upgraded"]) == sorted(before) and report2["template_synced"] is True
    wait_all_ready_on(k8s, namespace, [OLD], 4)
    assert k8s.apps.read_namespaced_deployment("web", namespace).spec.template.spec.containers[0].image == OLD
    assert_no_lease(k8s, namespace)


def test_an_unhealthy_workload_is_refused_before_any_write(k8s, cluster, namespace, tmp_path, faults):
    deployment(k8s, namespace, 3)
    # One pod not Ready (left on an image that cannot be pulled), as many as a batch of 1 takes down: the
    # run's one module call refuses before any write, unless inplace_upgrade_allow_unhealthy.
    # An unpullable image of its own: once faults are cleared a node that pulls it keeps it, and other tests'.
    bad = BAD + "-unhealthy"
    faults(pull_fail=[bad])
    sick = sorted(snapshot(k8s, namespace, SEL))[0]
    broken = run_module(cluster, {"name": "web", "namespace": namespace, "containers": {"app": bad}, "pods": [sick],
                                  "on_failure": "stop", "sync_template": False, "wait_timeout": 60})[0]
    assert not broken.ok, broken.describe()
    wait_for(lambda: not snapshot(k8s, namespace, SEL)[sick]["ready"], 60, message="pod %s not Ready" % sick)
    before = snapshot(k8s, namespace, SEL)
    annotations = k8s.apps.read_namespaced_deployment("web", namespace).metadata.annotations
    res, report = run_role(cluster, base_vars(namespace, batch_size=1), tmp_path)
    assert not res.ok
    msg = failure_message(res)
    assert "is not healthy to begin with: 1 pods are not Ready (%s)" % sick in msg and "nothing was changed" in msg, msg
    assert collection_calls(res) == [UPGRADE] and report["outcome"] == "failed"
    after = snapshot(k8s, namespace, SEL)
    assert {n: p["specImages"] for n, p in after.items()} == {n: p["specImages"] for n, p in before.items()}
    assert pods_restarted(dict((n, p) for n, p in before.items() if n != sick), after) == []
    assert k8s.apps.read_namespaced_deployment("web", namespace).metadata.annotations == annotations
    assert_no_lease(k8s, namespace)
    # Gone before the faults are cleared, so no node pulls the image afterwards.
    k8s.apps.delete_namespaced_deployment("web", namespace)
    wait_for(lambda: not snapshot(k8s, namespace, SEL), 60, message="the pods of web gone")


# -- least privilege ---------------------------------------------------------------------------------


def test_least_privilege_user_can_run_the_role(k8s, cluster, namespace, tmp_path):
    deployment(k8s, namespace, 3)
    apply_rbac(k8s, namespace, user="inplace-user")
    res, report = run_role(cluster, base_vars(namespace, batch_size=1), tmp_path, kubeconfig=cluster.user_kubeconfig)
    assert res.ok, res.describe()
    assert "could not record Kubernetes Events" not in res.stdout
    wait_all_ready_on(k8s, namespace, [NEW], 3)
    assert k8s.apps.read_namespaced_deployment("web", namespace).spec.template.spec.containers[0].image == NEW
    assert_no_lease(k8s, namespace)

    # The Role is namespaced: the same user cannot touch a workload in another namespace.
    other = namespace[:50] + "-other"
    k8s.core.create_namespace({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": other}})
    try:
        # Admission rejects pods until the ServiceAccount controller has made the default one (since 1.24 it
        # gets no token Secret: wait for the ServiceAccount itself).
        wait_for(lambda: k8s.core.read_namespaced_service_account("default", other), 60)
        deployment(k8s, other, 1)
        res2 = run_role(cluster, base_vars(other), tmp_path, kubeconfig=cluster.user_kubeconfig)[0]
        assert not res2.ok
        assert "forbidden" in failure_message(res2)
        assert snapshot(k8s, other, SEL).popitem()[1]["specImages"]["app"] == OLD
    finally:
        k8s.core.delete_namespace(other)


def test_user_without_patch_pods_gets_a_clear_message(k8s, cluster, namespace, tmp_path):
    deployment(k8s, namespace, 2)
    before = snapshot(k8s, namespace, SEL)
    apply_rbac(k8s, namespace, user="inplace-user", drop_verbs={"pods": ["patch"]})
    res, report = run_role(cluster, base_vars(namespace), tmp_path, kubeconfig=cluster.user_kubeconfig)
    assert not res.ok
    msg = failure_message(res)
    assert "forbidden" in msg and "patch" in msg and "pods" in msg, msg
    assert "Traceback" not in msg
    after = snapshot(k8s, namespace, SEL)
    assert {n: p["specImages"] for n, p in after.items()} == {n: p["specImages"] for n, p in before.items()}
    assert pods_restarted(before, after) == []
    assert_no_lease(k8s, namespace)


# -- the playbook ------------------------------------------------------------------------------------


def test_playbook_upgrades_a_list_of_workloads_on_each_cluster(k8s, cluster, namespace, tmp_path):
    deployment(k8s, namespace, 2)
    create_deployment(k8s, namespace, "api", replicas=2, containers=[("api", OLD)])
    inventory = tmp_path / "clusters.yml"
    inventory.write_text(yaml.safe_dump({"all": {"hosts": {"local-cluster": {
        "inplace_upgrade_auth": {"kubeconfig": cluster.admin_kubeconfig},
        "inplace_upgrade_batch_size": 1}}}}), encoding="utf-8")
    workloads = [{"name": "web", "namespace": namespace, "containers": {"app": NEW}},
                 {"kind": "Deployment", "name": "api", "namespace": namespace, "containers": {"api": NEW},
                  "report_file": str(tmp_path / "api.json")}]
    res = run_playbook(str(REPO_ROOT / "playbooks" / "upgrade.yml"), extra_vars={"inplace_upgrade_workloads": workloads},
                       env={"ANSIBLE_INVENTORY": str(inventory), "K8S_AUTH_KUBECONFIG": None})
    assert res.ok, res.describe()
    runs = module_results(res)
    assert len(runs) == 2 and all(len(r["batches"]) == 2 for r in runs), "host var batch_size 1 not applied"
    assert all(r["host"] == "local-cluster" for r in res.records if r["action"] == UPGRADE)
    for name, container in (("web", "app"), ("api", "api")):
        dep = k8s.apps.read_namespaced_deployment(name, namespace)
        assert dep.spec.template.spec.containers[0].image == NEW, name
    assert (tmp_path / "api.json").exists()


def test_playbook_per_workload_value_wins_and_an_unknown_key_is_refused_before_any_change(k8s, cluster, namespace, tmp_path):
    """Precedence is workload key > host var > role default, merged once; a misspelt key (``batchsize``)
    is refused by name before any module runs, instead of being silently ignored."""
    deployment(k8s, namespace, 2)
    inventory = tmp_path / "clusters.yml"
    inventory.write_text(yaml.safe_dump({"all": {"hosts": {"local-cluster": {
        "inplace_upgrade_auth": {"kubeconfig": cluster.admin_kubeconfig},
        "inplace_upgrade_batch_size": 1}}}}), encoding="utf-8")
    env = {"ANSIBLE_INVENTORY": str(inventory), "K8S_AUTH_KUBECONFIG": None}
    before = snapshot(k8s, namespace, SEL)

    typo = [{"name": "web", "namespace": namespace, "containers": {"app": NEW}, "batchsize": 2}]
    res = run_playbook(str(REPO_ROOT / "playbooks" / "upgrade.yml"), extra_vars={"inplace_upgrade_workloads": typo}, env=env)
    assert not res.ok, res.describe()
    assert "unknown: batchsize" in res.describe(), res.describe()
    assert not [r for r in res.records if r["action"].startswith("inplace.kubernetes.")], "a module ran despite the refusal"
    assert snapshot(k8s, namespace, SEL) == before

    given = [{"name": "web", "namespace": namespace, "containers": {"app": NEW}, "batch_size": 2}]
    res = run_playbook(str(REPO_ROOT / "playbooks" / "upgrade.yml"), extra_vars={"inplace_upgrade_workloads": given}, env=env)
    assert res.ok, res.describe()
    runs = module_results(res)
    assert len(runs) == 1 and len(runs[0]["batches"]) == 1, "the workload's batch_size 2 lost to the host var batch_size 1"
