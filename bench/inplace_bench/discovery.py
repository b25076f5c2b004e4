# Copyright (c) inplace.kubernetes maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Discovery alone: k8s_inplace_upgrade_info (read-only, plans 25% batches) on Deployments of
several sizes, through the proxy; the target is the same request count for every size."""

from __future__ import annotations

from inplace_bench import log
from inplace_bench.playbooks import ok_results, play
from inplace_bench.workload import CONTAINER, NEW_IMAGE


def run_discovery(session, sizes):
    ns_list = []
    try:
        for n in sizes:
            log("discovery: N=%d" % n)
            ns, name = session.fresh_deployment(n, "disc")[:2]
            ns_list.append(ns)
            plays = play([{"name": "discover", "inplace.kubernetes.k8s_inplace_upgrade_info": {
                "kind": "Deployment", "name": name, "namespace": ns,
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
            d = {"n": n, "wall": wall, "requests": counts.get("total", 0), "counts": counts,
                 "module_api_requests": (res or {}).get("api_requests"),
                 "batches": len((res or {}).get("planned_batches") or []),
                 "rss_tree": mem.peak_tree, "rss_single": mem.peak_single,
                 "problems": problems}
            if problems:
                session.fail("discovery N=%d" % n, problems)
            log("discovery N=%d: %.1fs, %d requests" % (n, wall, d["requests"]))
            session.discovery.append(d)
    finally:
        for ns in ns_list:
            session.delete_namespace(ns)
    if len(session.discovery) >= 2 and len({d["requests"] for d in session.discovery}) != 1:
        session.failures.append("discovery request counts differ: %s" % ", ".join(
            "N=%d: %d" % (d["n"], d["requests"]) for d in session.discovery))
