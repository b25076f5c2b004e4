# Copyright (c) inplace.kubernetes maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Discovery alone: k8s_inplace_upgrade_info (read-only, plans 25% batches) on Deployments of
several sizes and on DaemonSets, through the proxy; the target is the same request count for every
size of one kind."""

from __future__ import annotations

from inplace_bench import log
from inplace_bench.playbooks import ok_results, play
from inplace_bench.workload import CONTAINER, NEW_IMAGE


def discover(session, ns, name, n, kind="Deployment"):
    """One k8s_inplace_upgrade_info run on the workload ns/name of n pods: its row (also kept)."""
    log("discovery: %s of %d pods" % (kind, n))
    plays = play([{"name": "discover", "inplace.kubernetes.k8s_inplace_upgrade_info": {
        "kind": kind, "name": name, "namespace": ns,
        "containers": {CONTAINER: NEW_IMAGE}, "batch_size": "25%"}}],
        session.driver_python)
    session.cluster.proxy.reset()
    rc, out, err, wall, mem, records = session.playbooks.run(plays, timeout=600)
    counts = session.cluster.proxy.reset()
    res = (ok_results(records, "k8s_inplace_upgrade_info") or [None])[0]
    problems = []
    if rc != 0 or res is None:
        problems.append("k8s_inplace_upgrade_info failed (rc %s)" % rc)
        log("discovery N=%d failed:\n%s\n%s" % (n, out[-3000:], err[-3000:]))
    elif len(res.get("pods") or []) != n or len(res.get("needs_upgrade") or []) != n:
        problems.append("reported %d pods, %d needing the upgrade (expected %d)" % (
            len(res.get("pods") or []), len(res.get("needs_upgrade") or []), n))
    d = {"n": n, "kind": kind, "nodes": session.cluster.nodes, "wall": wall,
         "requests": counts.get("total", 0), "counts": counts,
         "module_api_requests": (res or {}).get("api_requests"),
         "batches": len((res or {}).get("planned_batches") or []),
         "rss_tree": mem.peak_tree, "rss_single": mem.peak_single, "module_rss": mem.module_rss,
         "module_cpu": mem.module_cpu, "problems": problems}
    if problems:
        session.fail("discovery %s N=%d" % (kind, n), problems)
    log("discovery %s N=%d: %.1fs, %d requests" % (kind, n, wall, d["requests"]))
    session.discovery.append(d)
    return d


def run_discovery(session, sizes):
    """Discovery on a fresh Deployment of each size."""
    for n in sizes:
        ns, name = session.fresh_deployment(n, "disc")[:2]
        try:
            discover(session, ns, name, n)
        finally:
            session.delete_namespace(ns)


def check_fixed(session):
    """A failure when discovery of one kind made a different number of requests for another size."""
    for kind in sorted({d["kind"] for d in session.discovery}):
        rows = [d for d in session.discovery if d["kind"] == kind]
        if len({d["requests"] for d in rows}) > 1:
            session.failures.append("discovery request counts differ (%s): %s" % (kind, ", ".join(
                "N=%d: %d" % (d["n"], d["requests"]) for d in rows)))
