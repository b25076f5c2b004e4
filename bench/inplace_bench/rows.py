# Copyright (c) inplace.kubernetes maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""One measured scenario -> one row of the main table (a JSON-ready dict), with its physical limit
and the functional problems that fail the run (pure: no cluster, no clock)."""

from __future__ import annotations

from inplace_bench.limits import role_batches, rolling_waves
from inplace_bench.playbooks import ok_results
from inplace_bench.workload import NEW_IMAGE


def upgrade_row(scenario, n, rc, wall, mem, counts, state, records, extra, restart, sandbox):
    """The row of `scenario` at N=n: rc, wall and mem (TreeMemory) of its driver, the proxy's
    counts, inspect()'s state, the playbook's task records, the driver's own JSON (extra); restart
    is the modelled cost of one restart in place, sandbox what a new pod pays on top."""
    delay = restart
    if scenario == "rolling":
        batches = rolling_waves(n)
        delay += sandbox  # every wave starts new pods, which wait for their sandbox
    elif scenario == "role":
        batches = role_batches(n)
    else:
        batches = 1
    problems = []
    if rc != 0:
        failed = [r for r in records if r["status"] == "failed"]
        msg = failed[-1]["result"].get("msg") if failed else None
        problems.append("driver exited %s%s" % (rc, (": %s" % msg) if msg else ""))
    if state["pods"] != n or state["ready_new"] != n:
        problems.append("%d/%d pods Ready on %s (%d pods, %d terminating)" % (
            state["ready_new"], n, NEW_IMAGE, state["pods"], state["terminating"]))
    if scenario != "rolling":
        if state["rescheduled"] or state["ip_changed"] or state["node_changed"]:
            problems.append("pods recreated/moved: %d rescheduled, %d IPs changed" % (
                state["rescheduled"], state["ip_changed"]))
    if scenario in ("module", "role") and not state["template_new"]:
        problems.append("Deployment template not updated (sync_template)")
    if scenario in ("module", "role") and state["replicasets"] not in (None, 1):
        problems.append("%d ReplicaSets (expected the original one only)" % state["replicasets"])
    if state["paused"]:
        problems.append("Deployment left paused")
    timed = [(r["task"].split(" : ", 1)[-1], r.get("seconds") or 0.0) for r in records]
    module_result = (ok_results(records, "k8s_inplace_upgrade") or [None])[-1]
    row = {
        "scenario": scenario, "n": n, "wall": wall, "batches": batches, "sandbox": sandbox,
        "limit": batches * delay, "requests": counts.get("total", 0), "counts": counts,
        "rescheduled": state["rescheduled"], "ip_changed": state["ip_changed"],
        "template_new": state["template_new"], "replicasets": state["replicasets"],
        "rss_tree": mem.peak_tree, "rss_single": mem.peak_single, "procs": mem.max_procs,
        "cpu_tree": mem.cpu_tree, "module_rss": mem.module_rss, "module_cpu": mem.module_cpu,
        "module_lifetime": mem.module_lifetime, "problems": problems, "extra": extra,
    }
    if timed:
        row["task_results"] = len(timed)
        row["task_seconds"] = sum(sec for _t, sec in timed)
        row["slowest_tasks"] = sorted(timed, key=lambda x: -x[1])[:4]
    if module_result is not None:
        row["module_result"] = {k: module_result.get(k) for k in (
            "seconds", "api_requests", "batches", "changed", "patched", "template_sync",
            "sync_steps", "msg") if k in module_result}
        row["module_seconds"] = module_result.get("seconds")
        row["module_api_requests"] = module_result.get("api_requests")
        row["batch_seconds"] = round(sum(b.get("seconds") or 0.0 for b in module_result.get("batches") or []), 2)
        row["module_result"].pop("batches", None)  # keep the JSON small: the pods' names are in there
        if isinstance(row["module_result"].get("patched"), list):
            row["module_result"]["patched"] = len(row["module_result"]["patched"])  # a count, not 1000 names
        row["module_result"]["batch_count"] = len(module_result.get("batches") or [])
    return row
