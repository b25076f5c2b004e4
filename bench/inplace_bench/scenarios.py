# Copyright (c) inplace.kubernetes maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The ways to change the image of a fresh N-replica Deployment (or DaemonSet), each measured once
per N; the baseline of the role's fixed cost (a one-task playbook started the same way); and the
sandbox sweep (rolling update and role again while a new pod's sandbox costs more)."""

from __future__ import annotations

import os
import time

from inplace_bench import REPO, drivers, log
from inplace_bench.fixtures import inspect, live_pods
from inplace_bench.limits import restart_seconds
from inplace_bench.playbooks import play
from inplace_bench.rows import upgrade_row
from inplace_bench.workload import CONTAINER, NEW_IMAGE, NEW_IMAGE_STATUS, SELECTOR, TITLES

CORE_POLL_DELAY = 1


BASELINE_RUNS = 3


def command(session, scenario, n, ns, name, timeout, kind="Deployment"):
    """(how, argv-or-plays) for one scenario: how "drive" (a driver's argv) or "play" (plays)."""
    target = {"kind": kind, "name": name, "namespace": ns}
    kubeconfig = session.cluster.proxy_kubeconfig
    python = session.driver_python
    if scenario == "rolling":
        return "drive", drivers.command(python, "rolling", kubeconfig, ns, NEW_IMAGE, timeout,
                                        name=name)
    if scenario == "seed":
        return "drive", drivers.command(python, "seed", kubeconfig, ns, NEW_IMAGE, timeout,
                                        selector=SELECTOR, replicas=n, status_image=NEW_IMAGE_STATUS)
    if scenario == "bare":
        return "drive", drivers.command(python, "bare", kubeconfig, ns, NEW_IMAGE, timeout,
                                        selector=SELECTOR, status_image=NEW_IMAGE_STATUS)
    if scenario == "module":
        return "play", play([{
            "name": "upgrade", "inplace.kubernetes.k8s_inplace_upgrade": dict(
                target, containers={CONTAINER: NEW_IMAGE}, wait=True, wait_timeout=timeout)}],
            python)
    if scenario == "role":
        return "play", play(None, python, roles=[{
            "role": "inplace.kubernetes.inplace_upgrade",
            "vars": {"inplace_upgrade_kind": "Deployment", "inplace_upgrade_name": name,
                     "inplace_upgrade_namespace": ns,
                     "inplace_upgrade_containers": {CONTAINER: NEW_IMAGE},
                     "inplace_upgrade_batch_size": "25%",
                     "inplace_upgrade_wait_timeout": timeout}}])
    if scenario == "core":
        return "play", play(core_tasks(n, ns, timeout),
                            os.path.join(session.bench_venv, "bin", "python"))
    raise ValueError(scenario)


def core_tasks(n, ns, timeout):
    """What an Ansible user writes today with kubernetes.core: list, patch in a loop, poll."""
    done = (
        "(pods.resources | length) == %(n)d and "
        "(pods.resources | selectattr('metadata.deletionTimestamp', 'undefined')"
        " | selectattr('status.containerStatuses', 'defined')"
        " | map(attribute='status.containerStatuses') | flatten"
        " | selectattr('image', 'equalto', '%(img)s') | selectattr('ready', 'equalto', true)"
        " | list | length) == %(n)d and "
        "(pods.resources | selectattr('status.conditions', 'defined')"
        " | map(attribute='status.conditions') | flatten"
        " | selectattr('type', 'equalto', 'Ready') | selectattr('status', 'equalto', 'True')"
        " | list | length) == %(n)d") % {"n": n, "img": NEW_IMAGE_STATUS}
    return [
        {"name": "list the pods", "kubernetes.core.k8s_info": {
            "kind": "Pod", "namespace": ns, "label_selectors": [SELECTOR]},
         "register": "before"},
        {"name": "patch each pod's image", "kubernetes.core.k8s_json_patch": {
            "kind": "Pod", "namespace": ns, "name": "{{ item }}",
            "patch": [{"op": "replace", "path": "/spec/containers/0/image",
                       "value": NEW_IMAGE}]},
         "loop": "{{ before.resources | map(attribute='metadata.name') | list }}"},
        {"name": "wait until every pod is Ready on the new image",
         "kubernetes.core.k8s_info": {"kind": "Pod", "namespace": ns,
                                      "label_selectors": [SELECTOR]},
         "register": "pods", "until": done, "retries": int(timeout / CORE_POLL_DELAY),
         "delay": CORE_POLL_DELAY},
    ]


def run_baseline(session, runs=BASELINE_RUNS):
    """A one-task playbook (ansible.builtin.ping, which runs a module process as any task does),
    started exactly as the role's playbook is: the floor under the role's fixed cost."""
    plays = play([{"name": "one task", "ansible.builtin.ping": {}}], session.driver_python)
    for i in range(runs):
        log("baseline: one-task playbook, run %d/%d" % (i + 1, runs))
        rc, out, err, wall, mem, records = session.playbooks.run(plays, timeout=300)
        problems = [] if rc == 0 else ["one-task playbook exited %s: %s" % (rc, (out + err)[-500:])]
        if problems:
            session.fail("baseline", problems)
        session.baseline.append({"n": 0, "wall": wall, "rss_tree": mem.peak_tree, "cpu_tree": mem.cpu_tree,
                                 "task_seconds": sum(r.get("seconds") or 0.0 for r in records),
                                 "problems": problems})


# The scenarios run again (--repeats) for the targets' medians: cheap ones, whose ratios the run's noise sways.
REPEATED = ("module", "bare", "role")
REPEAT_MAX_N = 300


def run_repeats(session, repeats):
    """The module, the bare client and the role again at each N <= REPEAT_MAX_N of --sizes, until each has run
    ``repeats`` times in all, interleaved (one round of every pair after another), into ``session.repeats``."""
    a = session.args
    for _round in range(1, repeats):
        for n, only in a.sizes:
            for scenario in REPEATED:
                if n <= REPEAT_MAX_N and scenario in a.scenarios and (only is None or scenario in only):
                    run_scenario(session, scenario, n, into=session.repeats)


def run_sweep(session, delays, n, runs=1):
    """Rolling update and role at one N, `runs` times for each sandbox delay: how dear must a new pod
    be before the in-place role, at the same unavailability budget, beats the rolling update? At the
    main table's delay its rows at that N are the first run (marked "reused")."""
    a = session.args
    try:
        for delay in delays:
            for run in range(runs):
                for scenario in ("rolling", "role"):
                    same = [r for r in session.rows if r["scenario"] == scenario and r["n"] == n
                            and r.get("sandbox") == delay and "wall" in r]
                    if same and run == 0:
                        session.sweep.append(dict(same[0], reused=True))
                        continue
                    if session.cluster.sandbox != delay:
                        log("sandbox sweep: new pods' sandbox now %.2fs (node fault layer)" % delay)
                        session.cluster.set_sandbox(delay)
                    run_scenario(session, scenario, n, into=session.sweep)
    finally:
        session.cluster.set_sandbox(a.sandbox)


def run_scenario(session, scenario, n, into=None, kind="Deployment", prelude=None):
    """Measure `scenario` once on a fresh workload: a Deployment of n pods, or a DaemonSet on the
    cluster's n nodes; `prelude(ns, name, n)` runs on it first (a read-only measurement)."""
    a = session.args
    into = session.rows if into is None else into
    if scenario == "role" and not os.path.isdir(os.path.join(REPO, "roles", "inplace_upgrade",
                                                             "tasks")):
        session.notes.append("role scenario skipped: roles/inplace_upgrade/tasks does not exist")
        into.append({"scenario": scenario, "n": n, "skipped": "role not present"})
        return
    log("N=%d %s: preparing (%s)" % (n, TITLES[scenario], kind))
    ns, name, _pods = session.fresh_workload(kind, n, scenario)
    try:
        if prelude:
            prelude(ns, name, n)
        before = live_pods(session.k8s, ns)
        how, cmd = command(session, scenario, n, ns, name, a.timeout, kind)
        session.cluster.proxy.reset()
        log("N=%d %s: running" % (n, TITLES[scenario]))
        if how == "drive":
            rc, out, err, wall, mem, extra = drivers.run(cmd, a.timeout + 60)
            extra = extra or {}
            records = []
        else:
            rc, out, err, wall, mem, records = session.playbooks.run(
                cmd, bench_venv=(scenario == "core"), timeout=a.timeout + 120)
            extra = {}
        counts = session.cluster.proxy.reset()
        load = os.getloadavg()[0]
        time.sleep(0.2)
        state = inspect(session.k8s, ns, before, kind)
        row = upgrade_row(scenario, n, rc, wall, mem, counts, state, records, extra,
                          restart_seconds(a.container_start, a.readiness_delay), session.cluster.sandbox)
        row.update(kind=kind, nodes=session.cluster.nodes, load=load)
        if row["problems"]:
            session.fail("N=%d %s %s" % (n, kind, scenario), row["problems"])
            log("N=%d %s: FAILED: %s\n--- stdout tail:\n%s\n--- stderr tail:\n%s" % (
                n, scenario, "; ".join(row["problems"]), out[-3000:], err[-3000:]))
        log("N=%d %s: %.1fs, %d requests, rescheduled %d, IPs changed %d, module CPU %.1fs" % (
            n, scenario, wall, counts.get("total", 0), state["rescheduled"],
            state["ip_changed"], mem.module_cpu))
        into.append(row)
    finally:
        session.delete_namespace(ns)
