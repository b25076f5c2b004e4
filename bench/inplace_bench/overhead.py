# Copyright (c) inplace.kubernetes maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The module-overhead target (full run only): the module on N pods without the counting proxy, a
few times for its own `seconds`, and the least any client can do (parallel patches) for scale."""

from __future__ import annotations

from inplace_bench import drivers, log
from inplace_bench.playbooks import ok_results
from inplace_bench.scenarios import command
from inplace_bench.workload import NEW_IMAGE, NEW_IMAGE_STATUS, SELECTOR


def run_module_direct(session, n, reps=3):
    """The module `reps` more times without the proxy, for its own `seconds` (overhead
    target; the median is used), then the bare parallel-patch reference once."""
    a, admin = session.args, session.cluster.admin_kubeconfig
    runs = []
    for i in range(reps):
        log("N=%d module without the counting proxy (overhead target), run %d/%d" % (
            n, i + 1, reps))
        ns, name = session.fresh_deployment(n, "direct")[:2]
        try:
            plays = command(session, "module", n, ns, name, a.timeout)[1]
            rc, _out, _err, wall, _mem, records = session.playbooks.run(
                plays, kubeconfig=admin, timeout=a.timeout + 120)
            res = (ok_results(records, "k8s_inplace_upgrade") or [None])[0]
            if rc != 0 or res is None:
                session.failures.append("module (direct) N=%d failed rc %s" % (n, rc))
                return None
            runs.append({"n": n, "wall": wall, "module_seconds": res.get("seconds"),
                         "api_requests": res.get("api_requests"),
                         "batches": res.get("batches")})
        finally:
            session.delete_namespace(ns)
    runs.sort(key=lambda r: r["module_seconds"])
    direct = dict(runs[len(runs) // 2])
    direct["all_seconds"] = [r["module_seconds"] for r in runs]
    log("N=%d reference: bare parallel patch + 50 ms poll, without the proxy" % n)
    ns = session.fresh_deployment(n, "ref")[0]
    try:
        rc, _out, err, _wall, _mem, ref = drivers.run(drivers.command(
            session.driver_python, "parallel", admin, ns, NEW_IMAGE, a.timeout,
            selector=SELECTOR, replicas=n, status_image=NEW_IMAGE_STATUS), a.timeout + 60)
        ref = ref or {"ok": False}
        if rc == 0 and ref.get("ok"):
            direct["reference"] = ref
        else:
            session.notes.append("reference parallel-patch run failed (rc %s): %s" % (
                rc, err[-500:]))
    finally:
        session.delete_namespace(ns)
    return direct
