# Copyright (c) inplace.kubernetes maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The five ways to change the image of a fresh N-replica Deployment, each measured once per N, and
the sandbox sweep (rolling update and role again while a new pod's sandbox costs more)."""

from __future__ import annotations

import os
import time

from inplace_bench import REPO, drivers, log
from inplace_bench.fixtures import inspect, live_pods
from inplace_bench.playbooks import play
from inplace_bench.rows import upgrade_row
from inplace_bench.workload import CONTAINER, NEW_IMAGE, NEW_IMAGE_STATUS, SELECTOR, TITLES

CORE_POLL_DELAY = 1


def command(session, scenario, n, ns, name, timeout):
    """(kind, argv-or-plays) for one scenario: kind "drive" (a driver's argv) or "play" (plays)."""
    target = {"kind": "Deployment", "name": name, "namespace": ns}
    kubeconfig = session.cluster.proxy_kubeconfig
    python = session.driver_python
    if scenario == "rolling":
        return "drive", drivers.command(python, "rolling", kubeconfig, ns, NEW_IMAGE, timeout,
                                        name=name)
    if scenario == "seed":
        return "drive", drivers.command(python, "seed", kubeconfig, ns, NEW_IMAGE, timeout,
                                        selector=SELECTOR, replicas=n, status_image=NEW_IMAGE_STATUS)
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


def run_sweep(session, delays, n):
    """Rolling update and role at one N for each sandbox delay: how dear must a new pod be before
    the in-place role, at the same unavailability budget, beats the rolling update?"""
    try:
        for delay in delays:
            log("sandbox sweep: new pods' sandbox now %.2fs (node fault layer)" % delay)
            session.cluster.set_sandbox(delay)
            for scenario in ("rolling", "role"):
                run_scenario(session, scenario, n, into=session.sweep)
    finally:
        session.cluster.set_sandbox(session.args.sandbox)


def run_scenario(session, scenario, n, into=None):
    a = session.args
    into = session.rows if into is None else into
    if scenario == "role" and not os.path.isdir(os.path.join(REPO, "roles", "inplace_upgrade",
                                                             "tasks")):
        session.notes.append("role scenario skipped: roles/inplace_upgrade/tasks does not exist")
        session.rows.append({"scenario": scenario, "n": n, "skipped": "role not present"})
        return
    log("N=%d %s: preparing" % (n, TITLES[scenario]))
    ns, name, _pods = session.fresh_deployment(n, scenario)
    try:
        before = live_pods(session.k8s, ns)
        kind, cmd = command(session, scenario, n, ns, name, a.timeout)
        session.cluster.proxy.reset()
        log("N=%d %s: running" % (n, TITLES[scenario]))
        if kind == "drive":
            rc, out, err, wall, mem, extra = drivers.run(cmd, a.timeout + 60)
            extra = extra or {}
            records = []
        else:
            rc, out, err, wall, mem, records = session.playbooks.run(
                cmd, bench_venv=(scenario == "core"), timeout=a.timeout + 120)
            extra = {}
        counts = session.cluster.proxy.reset()
        time.sleep(0.2)
        state = inspect(session.k8s, ns, before)
        row = upgrade_row(scenario, n, rc, wall, mem, counts, state, records, extra,
                          a.container_start, session.cluster.sandbox)
        if row["problems"]:
            session.fail("N=%d %s" % (n, scenario), row["problems"])
            log("N=%d %s: FAILED: %s\n--- stdout tail:\n%s\n--- stderr tail:\n%s" % (
                n, scenario, "; ".join(row["problems"]), out[-3000:], err[-3000:]))
        log("N=%d %s: %.1fs, %d requests, rescheduled %d, IPs changed %d" % (
            n, scenario, wall, counts.get("total", 0), state["rescheduled"],
            state["ip_changed"]))
        into.append(row)
    finally:
        session.delete_namespace(ns)
