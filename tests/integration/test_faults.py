"""Fault injection (issue 8): what an in-place upgrade does when things go wrong mid-run.

These tests stop and start the API server, so they run on a control plane of their own (module
scope), never on the session ``cluster`` that other tests share. Set
``INPLACE_FAULT_CLUSTER_STATE=<state dir of a cluster started with localcluster.py up>`` to reuse a
running cluster instead (it is left running; the API server is restarted in it).

Each test starts a real ``ansible-playbook`` run in the background, injects the fault through the
API, the cluster's processes or the nodes' CRI fault layer (this module's ``faults`` fixture, the
conftest one bound to the fault cluster) while a batch is in flight, and then reads the cluster back:
pod UIDs (no pod recreated), images, readiness, the Deployment's template/paused state and
annotation, leases. The nodes run the real kubelet: a restart in place takes ~1-3 s, PLEG relists
every 1 s, CrashLoopBackOff starts at 10 s. Availability is measured by a watcher thread, never by
wall-clock times; only fail-fast is bounded in seconds.
"""

import datetime
import json
import os
import pathlib
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import types

import pytest
import yaml
from kubernetes import client as k8s_client
from kubernetes import config as k8s_config
from kubernetes import watch as k8s_watch

from helpers import ReadinessWatcher, container, create_deployment, live_pods, pod_is_ready, snapshot, wait_for
from localcluster import provided
from module_helpers import (CRASHING, MODULE, NEW, OLD, THIRD, assert_clean_failure, deployment, events_for, normalised,
                            run_module)
from playbook import (CALLBACK_DIR, CALLBACK_NAME, _ansible_playbook, _python_for, collections_path,
                      make_play)
from role_helpers import leases, role_task

pytestmark = [pytest.mark.integration, pytest.mark.compat]

SEL = "app=web"
SYNC_ANNOTATION = "inplace.kubernetes.io/template-sync"
GATE = "inplace.test/healthy"
START_HOLD = 3  # s: a container start delay that keeps one batch in flight long enough for a test to act


# -- a control plane of our own ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def fault_cluster():
    with provided("INPLACE_FAULT_CLUSTER_STATE", "inplace-faults-", 2, label="fault cluster") as own:
        yield own


@pytest.fixture
def faults(fault_cluster):
    """conftest's ``faults``, for this module's own cluster: ``faults(crash=[...], ...)`` sets the CRI faults of
    the fault cluster's nodes for the rest of the test; they are cleared afterwards."""
    yield fault_cluster.set_faults
    if fault_cluster.current_faults != fault_cluster.base_faults:
        fault_cluster.set_faults()


@pytest.fixture(scope="module")
def fk8s(fault_cluster):
    cfg = k8s_client.Configuration()
    k8s_config.load_kube_config(config_file=fault_cluster.admin_kubeconfig, client_configuration=cfg)
    cfg.connection_pool_maxsize = 16
    api = k8s_client.ApiClient(cfg)
    ns = types.SimpleNamespace(api=api, core=k8s_client.CoreV1Api(api), apps=k8s_client.AppsV1Api(api),
                               cluster=fault_cluster)
    yield ns
    api.close()


@pytest.fixture
def fns(fk8s, fault_cluster, request):
    """A fresh namespace on the fault cluster; the API server is up again afterwards whatever happened."""
    name = "f-%s-%s" % (request.node.name.lower().replace("_", "-")[:28].strip("-[]"), os.urandom(3).hex())
    name = "".join(ch if ch.isalnum() or ch == "-" else "-" for ch in name).strip("-")
    fk8s.core.create_namespace({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
    # Admission rejects pods until the ServiceAccount controller has made the default one (no token Secret
    # since 1.24: wait for the ServiceAccount itself).
    wait_for(lambda: fk8s.core.read_namespaced_service_account("default", name), 60,
             message="default ServiceAccount in %s" % name)
    yield name
    if not fault_cluster.running().get("kube-apiserver"):
        fault_cluster.start_apiserver()
    try:
        fk8s.core.delete_namespace(name, body={"propagationPolicy": "Background"})
    except Exception:  # noqa: BLE001 - cleanup must not mask the test result
        pass


# -- ansible-playbook in the background ----------------------------------------------------------------


class Background(object):
    """One ansible-playbook run in its own process group, with the same environment as run_playbook."""

    def __init__(self, tasks, kubeconfig):
        self.tmp = tempfile.mkdtemp(prefix="inplace-bg-")
        path = pathlib.Path(self.tmp)
        (path / "playbook.yml").write_text(yaml.safe_dump(make_play(tasks), sort_keys=False), encoding="utf-8")
        self.results_file = path / "results.jsonl"
        ansible_playbook = _ansible_playbook()
        env = dict(os.environ)
        env.update({
            "ANSIBLE_COLLECTIONS_PATH": collections_path(),
            "ANSIBLE_CALLBACK_PLUGINS": str(CALLBACK_DIR),
            "ANSIBLE_CALLBACKS_ENABLED": CALLBACK_NAME,
            "INPLACE_RESULTS_FILE": str(self.results_file),
            "ANSIBLE_PYTHON_INTERPRETER": _python_for(ansible_playbook),
            "ANSIBLE_NOCOLOR": "1",
            "ANSIBLE_RETRY_FILES_ENABLED": "false",
            "ANSIBLE_LOCALHOST_WARNING": "false",
            "ANSIBLE_INVENTORY_UNPARSED_WARNING": "false",
            "ANSIBLE_LOCAL_TEMP": str(path / "ansible-local"),
            "PYTHONUNBUFFERED": "1",
            "K8S_AUTH_KUBECONFIG": str(kubeconfig),
        })
        self.stdout = open(path / "stdout", "w+", encoding="utf-8")  # noqa: SIM115 - closed in wait()
        # pylint: disable-next=consider-using-with
        self.proc = subprocess.Popen([ansible_playbook, str(path / "playbook.yml")], cwd=self.tmp, env=env,
                                     stdin=subprocess.DEVNULL, stdout=self.stdout, stderr=subprocess.STDOUT,
                                     text=True, start_new_session=True)

    def descendants(self):
        """Pids of every process below ansible-playbook. ansible-core's workers call setsid(), so the module
        process is not in ansible-playbook's process group: a killpg would leave it running on its own."""
        children = {}
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                with open("/proc/%s/stat" % entry, encoding="utf-8", errors="replace") as handle:
                    ppid = int(handle.read().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            children.setdefault(ppid, []).append(int(entry))
        found, todo = [], [self.proc.pid]
        while todo:
            pid = todo.pop()
            for child in children.get(pid, []):
                found.append(child)
                todo.append(child)
        return found

    def kill(self, sig=signal.SIGKILL, known=()):
        """The controller dies: ``sig`` to ansible-playbook and (SIGKILL) to every process below it, the
        module included, as when the machine or the AWX job pod running it is lost."""
        pids = list(known) + [self.proc.pid] + (self.descendants() if sig == signal.SIGKILL else [])
        for pid in pids:
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass
        if sig == signal.SIGKILL:
            for pid in self.descendants():  # anything forked meanwhile
                try:
                    os.kill(pid, sig)
                except ProcessLookupError:
                    pass
        self.proc.wait(30)

    def wait(self, timeout=300):
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError("ansible-playbook did not finish in %ss:\n%s" % (timeout, self.output()))
        return self.proc.returncode

    def output(self):
        self.stdout.flush()
        return pathlib.Path(self.tmp, "stdout").read_text(encoding="utf-8", errors="replace")

    def records(self):
        if not self.results_file.exists():
            return []
        with self.results_file.open(encoding="utf-8") as handle:
            return [json.loads(line) for line in handle if line.strip()]

    def result(self, task):
        found = [r["result"] for r in self.records() if r["task"] == task]
        assert found, "task %r never reported\n%s" % (task, self.output()[-4000:])
        return found[-1]

    def close(self):
        if self.proc.poll() is None:
            self.kill()
        self.stdout.close()
        shutil.rmtree(self.tmp, ignore_errors=True)


def module_task(args, name="upgrade"):
    return {"name": name, MODULE: args}


def upgrade_args(namespace, **extra):
    args = {"name": "web", "namespace": namespace, "containers": {"app": NEW}, "wait_timeout": 90}
    args.update(extra)
    return args


# -- reading the cluster ------------------------------------------------------------------------------


def spec_image(pod):
    return pod.spec.containers[0].image


def wait_until_patched(k8s, namespace, count=1, timeout=60, names=None):
    """Wait until ``count`` live pods (of ``names``) carry NEW in their spec: a batch is in flight."""
    def patched():
        pods = [p for p in live_pods(k8s, namespace, SEL) if names is None or p.metadata.name in names]
        hit = [p.metadata.name for p in pods if spec_image(p) == NEW]
        return hit if len(hit) >= count else None
    return wait_for(patched, timeout, interval=0.05, message="%d pods patched to %s" % (count, NEW))


def wait_all_ready(k8s, namespace, images, count=None, timeout=90):
    """Every live pod Ready with spec and status on one of ``images``; returns the snapshot."""
    def done():
        pods = live_pods(k8s, namespace, SEL)
        all_pods = k8s.core.list_namespaced_pod(namespace, label_selector=SEL).items
        if count is not None and len(pods) != count or len(all_pods) != len(pods):
            return None
        if not pods or not all(pod_is_ready(p) for p in pods):
            return None
        snap = snapshot(k8s, namespace, SEL)
        ok = all(s["specImages"]["app"] in images and s["images"]["app"] in [normalised(i) for i in images]
                 for s in snap.values())
        return snap if ok else None
    return wait_for(done, timeout, message="all pods Ready on %s" % (images,))


def read_deployment(k8s, namespace):
    return k8s.apps.read_namespaced_deployment("web", namespace)


def replicaset_uids(k8s, namespace):
    return sorted(r.metadata.uid for r in k8s.apps.list_namespaced_replica_set(namespace).items)


def assert_durable_and_clean(k8s, namespace, image=NEW):
    """Template on ``image``, not paused, no sync annotation left behind."""
    dep = read_deployment(k8s, namespace)
    assert dep.spec.template.spec.containers[0].image == image, "template not in step"
    assert not dep.spec.paused, "Deployment left paused"
    assert SYNC_ANNOTATION not in (dep.metadata.annotations or {}), "template-sync annotation left behind"
    for rs in k8s.apps.list_namespaced_replica_set(namespace).items:
        if (rs.spec.replicas or 0) > 0:
            assert rs.spec.template.spec.containers[0].image == image, "current ReplicaSet not in step"


def assert_report_matches_cluster(k8s, namespace, result):
    """The module's per-pod report agrees with the live pods: every live pod is reported with its UID and
    a state that matches its image; pods the report calls gone are gone."""
    live = dict((p.metadata.name, p) for p in live_pods(k8s, namespace, SEL))
    entries = dict((e["name"], e) for e in result["pods"])
    missing = sorted(set(live) - set(entries))
    assert not missing, "live pods missing from the report: %s (report: %s)" % (
        missing, dict((n, e["state"]) for n, e in entries.items()))
    for name, entry in entries.items():
        if entry["state"] == "vanished":
            pod = live.get(name)
            assert pod is None or pod.metadata.uid != entry["uid"], "%s reported vanished but is live" % name
            continue
        assert name in live, "%s reported %s but is gone" % (name, entry["state"])
        assert live[name].metadata.uid == entry["uid"]
        if entry["state"] in ("upgraded", "current"):
            assert spec_image(live[name]) == NEW, (name, entry["state"], spec_image(live[name]))


# -- API server restarted mid-run ------------------------------------------------------------------------


def test_apiserver_restarted_during_a_batch_run_completes_or_reports_and_a_rerun_finishes(fk8s, fault_cluster, fns):
    before = deployment(fk8s, fns, 6)
    rs_before = replicaset_uids(fk8s, fns)
    run = Background([module_task(upgrade_args(fns, batch_size=2, wait_timeout=150))],
                     fault_cluster.admin_kubeconfig)
    try:
        wait_until_patched(fk8s, fns, 1)
        fault_cluster.stop_apiserver(grace=2.0)
        time.sleep(3)
        fault_cluster.start_apiserver()
        rc = run.wait(300)
        result = run.result("upgrade")
        output = run.output()
    finally:
        run.close()
        if not fault_cluster.running().get("kube-apiserver"):
            fault_cluster.start_apiserver()

    sys.stderr.write("run through the API server restart: rc=%s %s\n" % (rc, result.get("msg") or result.get("summary")))
    if rc != 0:
        # Allowed: a failure that tells the truth, naming the pods and their states.
        msg = assert_clean_failure(types.SimpleNamespace(describe=lambda: output[-4000:]), result)
        assert any(name in msg for name in before), "the message names no pod: %r" % msg
        assert result.get("pods"), "a failed run must still report each pod's state"
    else:
        assert result["changed"] and sorted(result["patched"]) == sorted(before), result.get("summary")

    # A re-run finishes the job (or has nothing left to do).
    res2, result2 = run_module(fault_cluster, upgrade_args(fns, batch_size=2))
    assert res2.ok, res2.describe()
    after = wait_all_ready(fk8s, fns, [NEW], 6)
    assert sorted(after) == sorted(before), "pods were replaced"
    for name in before:
        assert after[name]["uid"] == before[name]["uid"] and after[name]["node"] == before[name]["node"]
        assert after[name]["restartCounts"]["app"] == before[name]["restartCounts"]["app"] + 1, (
            "pod %s restarted %d times: no silent double restart" % (
                name, after[name]["restartCounts"]["app"] - before[name]["restartCounts"]["app"]))
    assert_durable_and_clean(fk8s, fns)
    assert replicaset_uids(fk8s, fns) == rs_before, "a new ReplicaSet appeared: pods would be recreated"


# -- pods vanishing and the workload scaling mid-run ------------------------------------------------------


def test_pods_deleted_mid_batch_are_not_an_error_and_replacements_end_on_the_new_image(fk8s, fault_cluster, faults, fns):
    before = deployment(fk8s, fns, 6)
    names = sorted(before)
    in_batch, later = names[1], names[4]  # batches: [0,1] [2,3] [4,5]
    # Each batch's restarts take START_HOLD s, so `later` is deleted well before its batch (the third) is
    # patched even when this process is starved of CPU (seen with two test runs side by side: without the
    # hold, batches 1 and 2 could both end before the deletion went out).
    faults(start_delay={NEW: START_HOLD})
    run = Background([module_task(upgrade_args(fns, batch_size=2))], fault_cluster.admin_kubeconfig)
    try:
        wait_until_patched(fk8s, fns, 1, names=names[:2])
        for victim in (in_batch, later):
            fk8s.core.delete_namespaced_pod(victim, fns)
        rc = run.wait(240)
        result = run.result("upgrade")
        output = run.output()
    finally:
        run.close()

    assert rc == 0, "a vanished pod failed the run:\n%s" % output[-4000:]
    states = dict((e["name"], e["state"]) for e in result["pods"])
    assert states.get(later) == "vanished", states
    assert states.get(in_batch) in ("vanished", "upgraded"), states  # deleted before or after its restart
    assert not result["failed_pods"], result["failed_pods"]

    # The replacements the ReplicaSet made are on the new image: picked up by the run, or created from the
    # synced template. The template is in step and nothing is left paused.
    assert result["template_synced"] is True, "template not synced: %s; live pods: %s" % (
        result.get("template_sync"), dict((p.metadata.name, spec_image(p)) for p in live_pods(fk8s, fns, SEL)))
    after = wait_all_ready(fk8s, fns, [NEW], 6, timeout=60)
    assert_durable_and_clean(fk8s, fns)
    survivors = [n for n in names if n not in (in_batch, later)]
    for name in survivors:
        assert after[name]["uid"] == before[name]["uid"], "%s was recreated" % name
    assert_report_matches_cluster(fk8s, fns, result)


def upgrade_while_scaling(k8s, cluster, namespace, args, steps):
    """Run the module in the background; for each ``(patched, replicas)`` step, once ``patched`` pods carry the new
    image, scale the Deployment to ``replicas``. Returns ``(rc, result, output)``."""
    run = Background([module_task(args)], cluster.admin_kubeconfig)
    try:
        for patched, replicas in steps:
            wait_until_patched(k8s, namespace, patched)
            k8s.apps.patch_namespaced_deployment_scale("web", namespace, {"spec": {"replicas": replicas}})
        rc = run.wait(240)
        return rc, run.result("upgrade"), run.output()
    finally:
        run.close()


def test_workload_scaled_up_and_down_mid_run(fk8s, fault_cluster, faults, fns):
    before = deployment(fk8s, fns, 4)
    names = sorted(before)
    # The scale-down after batch 2 must land before the run's last look at the pods (the report is checked
    # against the cluster afterwards): each batch held START_HOLD s (seen failing once with two test runs side by
    # side: the run had ended before the ReplicaSet controller deleted an upgraded pod).
    faults(start_delay={NEW: START_HOLD})
    rc, result, output = upgrade_while_scaling(fk8s, fault_cluster, fns, upgrade_args(fns, batch_size=1), [(1, 6), (2, 3)])

    assert rc == 0, "scaling mid-run failed the run:\n%s" % output[-4000:]
    assert not result["failed_pods"], result["failed_pods"]
    assert result["template_synced"] is True, "template not synced: %s; live pods: %s" % (
        result.get("template_sync"), dict((p.metadata.name, spec_image(p)) for p in live_pods(fk8s, fns, SEL)))
    after = wait_all_ready(fk8s, fns, [NEW], 3, timeout=60)
    assert_durable_and_clean(fk8s, fns)
    for name in after:
        if name in before:
            assert after[name]["uid"] == before[name]["uid"]
    assert set(names) & set(after), "every original pod is gone: the run recreated pods?"
    assert_report_matches_cluster(fk8s, fns, result)


@pytest.mark.any_version
def test_pods_appearing_mid_run_wait_for_the_pause_and_respect_the_window(fk8s, fault_cluster, fns):
    """A pod created mid-run (scale-up, from the old template) is caught up in a further batch, and that batch
    obeys the same pause and maintenance window as the planned ones: here the window closes during the pause
    before it, so the run stops with the newcomer left on the old image and the template not synced."""
    before = deployment(fk8s, fns, 2)
    # With start-up (ansible-playbook, discovery) taking s seconds, the window is checked before batch 2 at s + P
    # and before the catch-up batch at s + 2P (a restart in place takes the real kubelet 0.05-3 s). s was seen
    # from 1.9 s (idle machine) to ~8 s (2 loaded cores), so with P = 16 a window closing at 29 s is open for
    # batch 2 (<= 24 s) and closed for the catch-up (>= 33.9 s), with 4-5 s of margin on each side. (With P = 12
    # and 26 s, an idle machine reached the catch-up check at 26.04 s: a coin toss.)
    not_after = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=29)
    rc, result, output = upgrade_while_scaling(
        fk8s, fault_cluster, fns, upgrade_args(fns, batch_size=1, pause_seconds=16, not_after=not_after.isoformat()),
        [(1, 3)])

    newcomers = sorted(set(p.metadata.name for p in live_pods(fk8s, fns, SEL)) - set(before))
    assert len(newcomers) == 1, newcomers
    assert rc != 0 and result.get("window_closed") is True, "the window did not stop the run before the catch-up batch:\n%s\n%s" % (
        output[-3000:], json.dumps(dict((k, result.get(k)) for k in (
            "msg", "planned_batches", "batches", "patched", "template_sync", "template_sync_steps", "pods")), indent=1)[:6000])
    assert result["left"] == newcomers, result["left"]
    assert "maintenance window closed" in result["msg"] and "before batch 3/3" in result["msg"], result["msg"]
    assert sorted(result["patched"]) == sorted(before)
    assert result["template_synced"] is False
    snap = wait_all_ready(fk8s, fns, [OLD, NEW], 3)
    assert snap[newcomers[0]]["specImages"]["app"] == OLD
    assert all(snap[name]["specImages"]["app"] == NEW for name in before)
    dep = read_deployment(fk8s, fns)
    assert dep.spec.template.spec.containers[0].image == OLD and not dep.spec.paused


# -- a concurrent writer ------------------------------------------------------------------------------------


@pytest.mark.any_version
def test_concurrent_image_change_of_a_later_pod_is_a_conflict_not_overwritten(fk8s, fault_cluster, fns):
    before = deployment(fk8s, fns, 4)
    names = sorted(before)
    victim = names[3]  # batch 4 of 4
    # pause_seconds: a restart in place can take the real kubelet 0.05 s, so without a pause all four batches may be
    # done before the concurrent writer below gets its turn (seen: its guarded patch then found NEW, 422).
    run = Background([module_task(upgrade_args(fns, batch_size=1, on_failure="stop", pause_seconds=4))],
                     fault_cluster.admin_kubeconfig)
    try:
        wait_until_patched(fk8s, fns, 1, names=names[:1])
        # Someone else (another pipeline, a human with kubectl) sets the victim's image while batch 1 runs,
        # after the module discovered and planned it.
        fk8s.core.patch_namespaced_pod(victim, fns, [
            {"op": "test", "path": "/spec/containers/0/image", "value": OLD},
            {"op": "replace", "path": "/spec/containers/0/image", "value": THIRD}],
            _content_type="application/json-patch+json")
        run.wait(240)
        result = run.result("upgrade")
    finally:
        run.close()

    pod = fk8s.core.read_namespaced_pod(victim, fns)
    assert pod.metadata.uid == before[victim]["uid"]
    assert spec_image(pod) == THIRD, "the concurrent writer's image %s was overwritten with %s" % (THIRD, spec_image(pod))
    entry = dict((e["name"], e) for e in result["pods"])[victim]
    assert entry["state"] == "conflict", entry
    assert "concurrent" in entry["reason"] or "changed" in entry["reason"], entry
    assert victim in result["failed_pods"], result["failed_pods"]
    if result.get("failed"):
        msg = result.get("msg") or ""
        assert victim in msg and "Traceback" not in msg, msg
    wait_all_ready(fk8s, fns, [NEW, THIRD], 4)


# -- controller killed mid-run ---------------------------------------------------------------------------------


def lease_of(k8s, namespace):
    found = leases(k8s, namespace)
    return found[0] if found else None


def parse_micro(value):
    return datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))


@pytest.mark.any_version
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL], ids=["SIGTERM", "SIGKILL"])
def test_controller_killed_during_a_batch_leaves_pods_ready_and_the_lease_expires(fk8s, fault_cluster, fns, tmp_path,
                                                                                  sig):
    before = deployment(fk8s, fns, 4)
    role_vars = {"inplace_upgrade_name": "web", "inplace_upgrade_namespace": fns,
                 "inplace_upgrade_containers": {"app": NEW}, "inplace_upgrade_batch_size": 1,
                 "inplace_upgrade_wait_timeout": 60, "inplace_upgrade_lease_seconds": 12,
                 "inplace_upgrade_report_file": str(tmp_path / "report.json")}
    run = Background([role_task(role_vars)], fault_cluster.admin_kubeconfig)
    try:
        wait_until_patched(fk8s, fns, 1)
        below = run.descendants()
        run.kill(sig)
    finally:
        run.close()
    wait_for(lambda: not [pid for pid in below if os.path.exists("/proc/%d" % pid) and
                          "Z" not in open("/proc/%d/stat" % pid).read().rsplit(")", 1)[1].split()[:1]], 15,
             message="every process of the killed run gone (module included)")

    # The workload is left with every pod Ready, on the old or the new image; nothing paused.
    mid = wait_all_ready(fk8s, fns, [OLD, NEW], 4)
    assert sorted(mid) == sorted(before) and all(mid[n]["uid"] == before[n]["uid"] for n in before)
    assert any(s["specImages"]["app"] == NEW for s in mid.values())
    dep = read_deployment(fk8s, fns)
    assert not dep.spec.paused and SYNC_ANNOTATION not in (dep.metadata.annotations or {})

    # The dead run's lease is still held, with an expiry: a second run now is refused, changing nothing.
    lease = lease_of(fk8s, fns)
    assert lease and lease["spec"].get("holderIdentity"), "no lease held by the killed run"
    expires = parse_micro(lease["spec"]["renewTime"]) + datetime.timedelta(
        seconds=lease["spec"]["leaseDurationSeconds"])
    assert lease["spec"]["leaseDurationSeconds"] == 12
    from role_helpers import run_role
    if sig == signal.SIGKILL and datetime.datetime.now(datetime.timezone.utc) < expires - datetime.timedelta(seconds=3):
        res, report = run_role(fault_cluster, dict(role_vars, inplace_upgrade_report_file=""), tmp_path)
        assert not res.ok, res.describe(200)
        msg = res.failures()[-1]["result"].get("msg", "")
        assert "lease" in msg.lower() and lease["spec"]["holderIdentity"] in msg, msg
        assert lease_of(fk8s, fns)["spec"]["holderIdentity"] == lease["spec"]["holderIdentity"]

    # Once it expired, the next run takes it over and finishes the job.
    wait_for(lambda: datetime.datetime.now(datetime.timezone.utc) > expires + datetime.timedelta(seconds=1), 30)
    res, report = run_role(fault_cluster, role_vars, tmp_path)
    assert res.ok, res.describe()
    took = [r["result"]["lease"] for r in res.records if r["action"] == "inplace.kubernetes.k8s_inplace_upgrade"
            and (r["result"].get("lease") or {}).get("action") not in (None, "not_taken")]
    assert took and took[0]["action"] == "took_over", [t.get("action") for t in took]
    assert report["outcome"] == "upgraded" and report["failed"] == [] and report["left"] == []
    after = wait_all_ready(fk8s, fns, [NEW], 4)
    for name in before:
        assert after[name]["uid"] == before[name]["uid"]
        assert after[name]["restartCounts"]["app"] == before[name]["restartCounts"]["app"] + 1
    assert_durable_and_clean(fk8s, fns)
    assert lease_of(fk8s, fns) is None or not lease_of(fk8s, fns)["spec"].get("holderIdentity"), "lease not released"


def _cmdline(pid):
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as handle:
            return handle.read().replace(b"\0", b" ").decode("utf-8", "replace")
    except OSError:
        return ""


def _running(pid):
    try:
        with open("/proc/%d/stat" % pid, encoding="utf-8", errors="replace") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except OSError:
        return False


@pytest.mark.any_version
def test_playbook_killed_alone_stops_the_orphaned_module_between_batches(fk8s, fault_cluster, fns):
    """kill -9 of ansible-playbook alone (the OOM killer, an operator) leaves ansible-core's worker and the module
    running in their own session. The module must notice before the next batch and stop there, saying so in an
    Event on the owner, instead of upgrading every batch with nobody to report to."""
    before = deployment(fk8s, fns, 4)
    run = Background([module_task(upgrade_args(fns, batch_size=1, pause_seconds=3))], fault_cluster.admin_kubeconfig)
    below = []
    try:
        wait_until_patched(fk8s, fns, 1)
        below = run.descendants()
        modules = [pid for pid in below if "AnsiballZ_k8s_inplace_upgrade" in _cmdline(pid)]
        assert modules, "module process not found below ansible-playbook"
        os.kill(run.proc.pid, signal.SIGKILL)  # the playbook process only: worker and module live on
        run.proc.wait(30)
        assert any(_running(pid) for pid in modules), "the module died with ansible-playbook: nothing to test"
        wait_for(lambda: not any(_running(pid) for pid in modules), 60,
                 message="the orphaned module to stop by itself")
    finally:
        for pid in below:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        run.close()

    snap = wait_all_ready(fk8s, fns, [OLD, NEW], 4)
    upgraded = sorted(name for name, s in snap.items() if s["specImages"]["app"] == NEW)
    assert len(upgraded) == 1, "batches went on after the controller was gone: %s" % upgraded
    assert all(snap[name]["uid"] == before[name]["uid"] for name in before)
    dep = read_deployment(fk8s, fns)
    assert dep.spec.template.spec.containers[0].image == OLD and not dep.spec.paused
    abandoned = [e for e in events_for(fk8s, fns, "Deployment", "web") if e.reason == "InplaceUpgradeAbandoned"]
    assert abandoned and abandoned[0].type == "Warning", [e.reason for e in events_for(fk8s, fns)]
    assert "controller" in abandoned[0].message and "before batch 2/4" in abandoned[0].message, abandoned[0].message


def test_controller_killed_during_the_template_sync_is_repaired_by_the_next_run(fk8s, fault_cluster, fns):
    """Kill ansible-playbook the moment the Deployment is paused for the template sync. Whether the kill
    landed inside the sync or just after it, the next run must leave the Deployment unpaused and in step."""
    before = deployment(fk8s, fns, 3)
    rs_before = replicaset_uids(fk8s, fns)
    killed = threading.Event()
    run = Background([module_task(upgrade_args(fns, batch_size=3))], fault_cluster.admin_kubeconfig)

    def killer():
        w = k8s_watch.Watch()
        known = []
        try:
            for event in w.stream(fk8s.apps.list_namespaced_deployment, fns, field_selector="metadata.name=web",
                                  timeout_seconds=120):
                dep = event["object"]
                if dep.spec.paused or SYNC_ANNOTATION in (dep.metadata.annotations or {}):
                    run.kill(signal.SIGKILL, known=known)
                    killed.set()
                    return
                if run.proc.poll() is not None:
                    return
                known[:] = run.descendants()  # the module process, found before the moment to kill
        finally:
            w.stop()

    thread = threading.Thread(target=killer, daemon=True)
    thread.start()
    try:
        run.proc.wait(180)
        thread.join(10)
    finally:
        run.close()
    assert killed.is_set(), "the run never paused the Deployment for its template sync"

    dep = read_deployment(fk8s, fns)
    interrupted = bool(dep.spec.paused or SYNC_ANNOTATION in (dep.metadata.annotations or {}))
    sys.stderr.write("template sync %s by the kill\n" % ("interrupted" if interrupted else "not interrupted"))
    if interrupted:
        state = json.loads(dep.metadata.annotations[SYNC_ANNOTATION])
        assert state["target"] == {"app": NEW} and state["paused"] is False, state
    wait_all_ready(fk8s, fns, [NEW], 3)

    res, result = run_module(fault_cluster, upgrade_args(fns, batch_size=3))
    assert res.ok, res.describe()
    if interrupted:
        assert "resumed an interrupted template sync" in result["template_sync_steps"], result["template_sync_steps"]
    assert_durable_and_clean(fk8s, fns)
    assert replicaset_uids(fk8s, fns) == rs_before
    after = snapshot(fk8s, fns, SEL)
    assert all(after[n]["uid"] == before[n]["uid"] for n in before) and sorted(after) == sorted(before)


def test_interrupted_template_sync_state_is_finished_by_the_role(fk8s, fault_cluster, fns, tmp_path):
    """The state a run leaves when it dies between pausing the Deployment and restoring it (annotation
    written with the pause, ReplicaSet template already patched, Deployment template not yet): the next
    scheduled run of the role sees it, finishes the sync and unpauses, recreating no pod."""
    before = deployment(fk8s, fns, 3)
    rs_before = replicaset_uids(fk8s, fns)
    res, result = run_module(fault_cluster, upgrade_args(fns, sync_template=False))
    assert res.ok, res.describe()
    wait_all_ready(fk8s, fns, [NEW], 3)
    rs = [r for r in fk8s.apps.list_namespaced_replica_set(fns).items if (r.spec.replicas or 0) > 0][0]
    state = {"target": {"app": NEW}, "paused": False, "started": "2026-01-01T00:00:00Z"}
    fk8s.apps.patch_namespaced_deployment("web", fns, {
        "metadata": {"annotations": {SYNC_ANNOTATION: json.dumps(state, sort_keys=True)}}, "spec": {"paused": True}})
    fk8s.apps.patch_namespaced_replica_set(rs.metadata.name, fns, [
        {"op": "replace", "path": "/spec/template/spec/containers/0/image", "value": NEW}],
        _content_type="application/json-patch+json")
    versions_pods = dict((n, s["uid"]) for n, s in snapshot(fk8s, fns, SEL).items())

    from role_helpers import run_role
    res, report = run_role(fault_cluster, {"inplace_upgrade_name": "web", "inplace_upgrade_namespace": fns,
                                           "inplace_upgrade_containers": {"app": NEW},
                                           "inplace_upgrade_wait_timeout": 60}, tmp_path)
    assert res.ok, res.describe()
    assert report["template_synced"] is True and report["failed"] == []
    assert_durable_and_clean(fk8s, fns)
    assert replicaset_uids(fk8s, fns) == rs_before, "a new ReplicaSet: the repair would recreate pods"
    after = wait_all_ready(fk8s, fns, [NEW], 3)
    assert dict((n, s["uid"]) for n, s in after.items()) == versions_pods
    for name in before:
        assert after[name]["restartCounts"]["app"] == before[name]["restartCounts"]["app"] + 1


# -- a new image that crash-loops or never turns ready --------------------------------------------------------


def test_crash_looping_image_is_rolled_back_and_availability_holds(fk8s, fault_cluster, fns, faults):
    """An image whose container exits 1 0.3 s after it starts: the kubelet restarts it with its own
    CrashLoopBackOff (back-off 10 s, 20 s, ...). The first batch it reaches fails fast - on the first Error or
    CrashLoopBackOff, long before a second back-off could pass - and is rolled back in place (a changed image
    changes the back-off key, so the kubelet starts the old image at once); never more than a batch of pods
    is unready."""
    before = deployment(fk8s, fns, 6)
    bad = CRASHING
    faults(crash=[bad])
    watcher = ReadinessWatcher(fk8s.core, fns, SEL).start()
    started = time.monotonic()
    try:
        res, result = run_module(fault_cluster, upgrade_args(fns, containers={"app": bad}, batch_size=2,
                                                             on_failure="rollback", wait_timeout=60))
    finally:
        took = time.monotonic() - started
        watcher.stop()
    msg = assert_clean_failure(res, result, "batch 1/3", "rollback")
    assert took < 40, "the crash-looping batch took %.1f s to fail and roll back (wait_timeout 60)" % took
    assert "CrashLoopBackOff" in msg or "Error" in msg, msg
    assert watcher.max_unready <= 2, "with batch_size 2, " + watcher.describe()
    failed_batch = result["batches"][-1]["pods"]
    assert sorted(result["rolled_back"]) == sorted(failed_batch)
    after = wait_all_ready(fk8s, fns, [OLD], 6)
    assert all(after[n]["uid"] == before[n]["uid"] for n in before)
    assert_durable_and_clean(fk8s, fns, image=OLD)


class Gatekeeper(object):
    """Plays the application's health check through a readiness gate: every pod passes, except the pods of
    ``sick`` while they run the new image (the new version never turns ready on them)."""

    def __init__(self, k8s, namespace, sick):
        self.k8s = k8s
        self.namespace = namespace
        self.sick = set(sick)
        self.stop_event = threading.Event()
        self.errors = []
        self.thread = threading.Thread(target=self.run, daemon=True)

    def wanted(self, pod):
        return "False" if pod.metadata.name in self.sick and spec_image(pod) == NEW else "True"

    def run(self):
        while not self.stop_event.is_set():
            try:
                for pod in self.k8s.core.list_namespaced_pod(self.namespace, label_selector=SEL).items:
                    if pod.metadata.deletion_timestamp:
                        continue
                    current = dict((c.type, c.status) for c in pod.status.conditions or []).get(GATE)
                    wanted = self.wanted(pod)
                    if current != wanted:
                        self.k8s.core.patch_namespaced_pod_status(pod.metadata.name, self.namespace, {
                            "status": {"conditions": [{"type": GATE, "status": wanted,
                                                       "lastTransitionTime": datetime.datetime.now(
                                                           datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")}]}})
            except Exception as exc:  # noqa: BLE001 - a lost race with the kubelet's own status write: try again
                self.errors.append(repr(exc))
            time.sleep(0.05)

    def start(self):
        self.thread.start()
        return self

    def stop(self):
        self.stop_event.set()
        self.thread.join(10)


@pytest.mark.parametrize("on_failure", ["rollback", "rollback_all"])
def test_new_image_never_ready_in_the_middle_batch_is_rolled_back_keeping_availability(fk8s, fault_cluster, fns,
                                                                                       on_failure, faults):
    # The new image takes 1 s to start, as real images do, so the gate controller below (a 50 ms
    # poll) has flipped the gate before the kubelet reports the new container ready.
    faults(start_delay={NEW: 1})
    create_deployment(fk8s, fns, "web", replicas=6, containers=[container("app", OLD)], readiness_gates=[GATE],
                      wait=False)
    wait_for(lambda: len(live_pods(fk8s, fns, SEL)) == 6, 60, message="6 pods created")
    names = sorted(p.metadata.name for p in live_pods(fk8s, fns, SEL))
    middle = names[2:4]  # batches: [0,1] [2,3] [4,5]
    gate = Gatekeeper(fk8s, fns, middle).start()
    try:
        wait_all_ready(fk8s, fns, [OLD], 6)
        before = snapshot(fk8s, fns, SEL)
        watcher = ReadinessWatcher(fk8s.core, fns, SEL).start()
        try:
            res, result = run_module(fault_cluster, upgrade_args(fns, batch_size=2, on_failure=on_failure,
                                                                 wait_timeout=6))
        finally:
            watcher.stop()
        msg = assert_clean_failure(res, result, "batch 2/3", on_failure)
        assert [b["state"] for b in result["batches"]] == ["done", "failed"], result["batches"]
        assert sorted(result["batches"][1]["pods"]) == middle
        assert watcher.max_unready <= 2, "with batch_size 2 (%s), %s" % (msg, watcher.describe())
        expected_back = middle if on_failure == "rollback" else names[:4]
        assert sorted(result["rolled_back"]) == sorted(expected_back), (result["rolled_back"], msg)
        after = wait_all_ready(fk8s, fns, [OLD, NEW], 6)
        for name in names:
            assert after[name]["uid"] == before[name]["uid"]
            want = OLD if name in expected_back or name in names[4:] else NEW
            assert after[name]["specImages"]["app"] == want, (name, after[name]["specImages"])
        assert_durable_and_clean(fk8s, fns, image=OLD)
    finally:
        gate.stop()


# -- issue 14: the controller's proof before the Deployment is unpaused -----------------------------------------


def test_controller_manager_stopped_from_the_pause_leaves_the_deployment_paused_and_a_rerun_finishes(
        fk8s, fault_cluster, fns):
    """kube-controller-manager SIGSTOPped before the run (so from the pause until the run has ended; the
    in-place restarts need only the kubelet): no proof that the controller sees the synced templates, so the
    run must not unpause. It fails with the reason, reports changed and what it wrote, and leaves the
    Deployment paused with the sync recorded; after SIGCONT a re-run finishes it. No pod is recreated."""
    before = deployment(fk8s, fns, 4)
    rs_before = replicaset_uids(fk8s, fns)
    fault_cluster.stop_controller_manager()
    try:
        # sync_timeout: the proof can never come while the controller-manager is stopped; no need to wait 120 s.
        res, result = run_module(fault_cluster, upgrade_args(fns, batch_size=4, sync_timeout=15))
        dep = read_deployment(fk8s, fns)
    finally:
        fault_cluster.continue_controller_manager()
    assert_clean_failure(res, result, "has not proven", "Left paused", "a re-run")
    assert result["changed"] is True, result
    assert sorted(result["patched"]) == sorted(before), result["patched"]
    steps = result["template_sync_steps"]
    assert "paused Deployment" in steps and any(s.startswith("patched the template of ReplicaSet") for s in steps) \
        and "patched the template of Deployment web" in steps, steps
    assert dep.spec.paused, "Deployment unpaused without the controller's proof"
    state = json.loads(dep.metadata.annotations[SYNC_ANNOTATION])
    assert state["target"] == {"app": NEW} and state["paused"] is False, state

    wait_all_ready(fk8s, fns, [NEW], 4)
    res, result = run_module(fault_cluster, upgrade_args(fns, batch_size=4))
    assert res.ok, res.describe()
    steps = result["template_sync_steps"]
    assert "resumed an interrupted template sync" in steps, steps
    assert any(s.startswith("the controller proved") for s in steps), steps
    assert_durable_and_clean(fk8s, fns)
    assert replicaset_uids(fk8s, fns) == rs_before, "a new ReplicaSet: pods would be recreated"
    for rs in fk8s.apps.list_namespaced_replica_set(fns).items:
        assert SYNC_ANNOTATION not in (rs.metadata.annotations or {}), "sync record left on %s" % rs.metadata.name
    after = wait_all_ready(fk8s, fns, [NEW], 4)
    assert sorted(after) == sorted(before) and all(after[n]["uid"] == before[n]["uid"] for n in before)


def _sync_window(k8s, namespace, image=NEW, timeout=240):
    """Block until the Deployment is paused with its template on ``image``: the moment between the template
    patch and the unpause (the controller-manager is SIGSTOPped by the caller, so the run cannot pass it)."""
    def in_window():
        dep = read_deployment(k8s, namespace)
        return dep.spec.paused and dep.spec.template.spec.containers[0].image == image
    wait_for(in_window, timeout, interval=0.1, message="Deployment paused with its template on %s" % image)


@pytest.mark.parametrize("fault", ["controller-manager", "apiserver"])
def test_restart_between_the_template_patch_and_the_unpause_recreates_no_pod(fk8s, fault_cluster, fns, fault):
    """The controller-manager (its caches rebuilt from nothing) or the API server (every watch broken) restarted
    after both templates are patched and before the unpause. The controller-manager is held (SIGSTOP) until then,
    so the run is surely inside that window. The run finishes once the controller proves what it sees, or fails
    naming the reason with the Deployment still paused; a re-run finishes. 0 pods recreated, 0 new ReplicaSets."""
    before = deployment(fk8s, fns, 4)
    rs_before = replicaset_uids(fk8s, fns)
    fault_cluster.stop_controller_manager()
    stopped = True
    run = Background([module_task(upgrade_args(fns, batch_size=4))], fault_cluster.admin_kubeconfig)
    try:
        _sync_window(fk8s, fns)
        if fault == "controller-manager":
            fault_cluster.restart_controller_manager()
        else:
            fault_cluster.stop_apiserver(grace=2.0)
            time.sleep(2)
            fault_cluster.start_apiserver()
            fault_cluster.continue_controller_manager()
        stopped = False
        rc = run.wait(300)
        result = run.result("upgrade")
        output = run.output()
    finally:
        run.close()
        if not fault_cluster.running().get("kube-apiserver"):
            fault_cluster.start_apiserver()
        if stopped:
            fault_cluster.continue_controller_manager()
    sys.stderr.write("run through the %s restart: rc=%s %s\n" % (fault, rc, result.get("msg") or result.get("summary")))
    assert result["changed"] is True, result
    if rc != 0:
        assert_clean_failure(types.SimpleNamespace(describe=lambda: output[-4000:]), result, "a re-run")
        assert read_deployment(fk8s, fns).spec.paused, "failed run unpaused without the controller's proof"
    else:
        assert any(s.startswith("the controller proved") for s in result["template_sync_steps"]), result
    res, result = run_module(fault_cluster, upgrade_args(fns, batch_size=4))
    assert res.ok, res.describe()
    assert_durable_and_clean(fk8s, fns)
    assert replicaset_uids(fk8s, fns) == rs_before, "a new ReplicaSet: pods would be recreated"
    after = wait_all_ready(fk8s, fns, [NEW], 4)
    assert sorted(after) == sorted(before) and all(after[n]["uid"] == before[n]["uid"] for n in before)


@pytest.mark.parametrize("kind", ["StatefulSet", "DaemonSet"])
def test_controller_manager_stopped_keeps_the_update_strategy_held_and_a_rerun_finishes(fk8s, fault_cluster, fns, kind):
    """Issue 14 point 4: with kube-controller-manager SIGSTOPped for the whole run there is no proof that the
    controller sees the relabelled pods, so the update strategy must stay held (partition / OnDelete) with the
    sync recorded; after SIGCONT a re-run finishes: strategy restored, every pod updated, none recreated."""
    from helpers import create_daemonset, create_statefulset
    if kind == "StatefulSet":
        create_statefulset(fk8s, fns, "web", replicas=3, containers=[container("app", OLD)], timeout=240)
        read = fk8s.apps.read_namespaced_stateful_set
    else:
        create_daemonset(fk8s, fns, "web", containers=[container("app", OLD)], timeout=240)
        read = fk8s.apps.read_namespaced_daemon_set
    wait_for(lambda: read("web", fns).status.observed_generation == read("web", fns).metadata.generation, 60)
    original = fk8s.api.sanitize_for_serialization(read("web", fns).spec.update_strategy)
    before = snapshot(fk8s, fns, SEL)
    fault_cluster.stop_controller_manager()
    try:
        res, result = run_module(fault_cluster, upgrade_args(fns, kind=kind, batch_size=3, sync_timeout=15))
        owner = read("web", fns)
    finally:
        fault_cluster.continue_controller_manager()
    assert_clean_failure(res, result, "a re-run")
    assert result["changed"] is True and sorted(result["patched"]) == sorted(before), result
    assert "held the update strategy" in result["template_sync_steps"], result["template_sync_steps"]
    assert SYNC_ANNOTATION in (owner.metadata.annotations or {}), "sync record gone although not finished"
    strategy = fk8s.api.sanitize_for_serialization(owner.spec.update_strategy)
    assert strategy != original, "update strategy restored without the controller's proof: %s" % strategy

    res, result = run_module(fault_cluster, upgrade_args(fns, kind=kind, batch_size=3))
    assert res.ok, res.describe()
    steps = result["template_sync_steps"]
    assert "resumed an interrupted template sync" in steps and any(s.startswith("the controller proved") for s in steps)
    owner = read("web", fns)
    assert SYNC_ANNOTATION not in (owner.metadata.annotations or {})
    assert fk8s.api.sanitize_for_serialization(owner.spec.update_strategy) == original
    assert owner.spec.template.spec.containers[0].image == NEW
    if kind == "StatefulSet":
        assert owner.status.current_revision == owner.status.update_revision and owner.status.updated_replicas == 3
    else:
        pods = len(live_pods(fk8s, fns, SEL))
        assert (owner.status.updated_number_scheduled, owner.status.desired_number_scheduled,
                owner.status.number_misscheduled or 0) == (pods, pods, 0), owner.status
    after = wait_all_ready(fk8s, fns, [NEW], len(before))
    assert sorted(after) == sorted(before) and all(after[n]["uid"] == before[n]["uid"] for n in before)
