# Copyright (c) inplace.kubernetes maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The Markdown report, rendered from a run's JSON document (results.py) and nothing else (pure)."""

from __future__ import annotations

import time

from inplace_bench.results import table
from inplace_bench.targets import target_lines
from inplace_bench.text import fmt, mib
from inplace_bench.workload import TITLES


def render(doc):
    """The whole report of one run, as Markdown."""
    run = doc["run"]
    started, finished = run["started"], run["finished"]
    delay = run["restart_seconds"]
    m = run["machine"]
    rows, sweep, discovery = table(doc, "upgrade"), table(doc, "sweep"), table(doc, "discovery")
    out = []
    w = out.append
    w("# inplace.kubernetes benchmark%s" % (" (smoke)" if run["smoke"] else ""))
    w("")
    w("Run `%s` on %s, %.1f minutes. See bench/README.md for what each column means."
      % (run["command"], time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(started)),
         (finished - started) / 60))
    w("")
    w("- Machine: %s CPUs (%s), %s memory, %s, Python %s" % (
        m["nproc"], m["cpu"], m["memory"], m["os"], m["python"]))
    w("- Load average (1 min) at start / end: %.2f / %.2f; other kube-apiservers running on the "
      "machine at start: %d (anything else running shares the 2 cores and skews wall times)" % (
          run["load_start"], run["load_end"], run["other_apiservers"]))
    w("- Local control plane: %d nodes running the real kubelet (kubemark's hollow kubelet, real "
      "prober) against a fake CRI, %s pods allocatable each; container **start %.2f s** (fault layer) "
      "+ %.2f s kubelet lag (PLEG relist 1 s, exec readinessProbe every 1 s) = one restart modelled at "
      "%.2f s; **sandbox %.2f s** (paid by new pods only, so by the rolling update and not by a "
      "restart in place)" % (run["nodes"], run["max_pods"], run["container_start"],
                             run["kubelet_lag"], delay, run["sandbox"]))
    for k, v in run["versions"].items():
        w("- %s: %s" % (k, v))
    w("- Images: %s -> %s, one container per pod, terminationGracePeriodSeconds 1" % (
        run["old_image"], run["new_image"]))
    w("")
    w("## Upgrade of an N-replica Deployment")
    w("")
    w("| N | scenario | wall s | vs (1) | batches | limit s | vs limit | requests | req/pod "
      "| rescheduled | IPs changed | template updated | peak RSS MiB |")
    w("|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|:---:|---:|")
    base = {r["n"]: r["wall"] for r in rows if r["scenario"] == "rolling" and "wall" in r}
    for r in rows:
        if "skipped" in r:
            w("| %d | %s | skipped: %s |  |  |  |  |  |  |  |  |  |  |" % (
                r["n"], TITLES[r["scenario"]], r["skipped"]))
            continue
        vs1 = r["wall"] / base[r["n"]] if base.get(r["n"]) else None
        w("| %d | %s%s | %.1f | %s | %d | %.1f | %.2f | %d | %.1f | %d | %d | %s | %s |" % (
            r["n"], TITLES[r["scenario"]], " **FAILED**" if r["problems"] else "", r["wall"],
            "%.2f" % vs1 if vs1 is not None else "-", r["batches"], r["limit"],
            r["wall"] / r["limit"], r["requests"], r["requests"] / r["n"], r["rescheduled"],
            r["ip_changed"], "yes" if r["template_new"] else "no", mib(r["rss_tree"])))
    w("")
    w("`limit` = batches x (container start + kubelet lag): 1 batch for (2), (3), (5); "
      "ceil(N / ceil(25% N)) for (4); for (1) the waves of pod starts that a 25%/25% rolling "
      "update needs in the deployment controller's own arithmetic (instant controllers, every new "
      "pod up after exactly one sandbox + container start + kubelet lag; old pods' termination not "
      "counted).")
    extra = [r for r in rows if "wall" in r]
    if extra:
        w("")
        w("Details:")
        w("")
        for r in extra:
            w("- N=%d %s: requests by kind %s; peak RSS of the largest single process %s MiB, "
              "%d processes in the driver's tree at most" % (
                  r["n"], r["scenario"], ", ".join("%s %d" % kv for kv in sorted(
                      r["counts"].items()) if kv[0] != "total") or "none",
                  mib(r["rss_single"]), r["procs"]))
            if r.get("slowest_tasks"):
                w("  - %d task results, %.1f s in tasks; slowest: %s" % (
                    r["task_results"], r["task_seconds"], ", ".join(
                        "%s %.1f s" % (t, sec) for t, sec in r["slowest_tasks"])))
            if r.get("module_seconds") is not None:
                w("  - the module reports %.2f s and %s API requests (the proxy counted %d)" % (
                    r["module_seconds"], r.get("module_api_requests"), r["requests"]))
            elif r.get("extra", {}).get("status_complete_seconds") is not None:
                w("  - Deployment status complete after %.1f s, last old pod gone "
                  "at %.1f s; %d ReplicaSets afterwards" % (
                      r["extra"]["status_complete_seconds"], r["wall"],
                      r["replicasets"]))
    if sweep:
        w("")
        w("## When a new pod costs more than a restart (sandbox sweep, N=%d)" % run["sweep_size"])
        w("")
        w("The nodes' fault layer given a **sandbox delay**: the fake CRI's RunPodSandbox takes that long, so a "
          "new pod waits before its first container is created (a real runtime creates the pod sandbox, sets "
          "up its network and mounts its volumes), a container restarted in place does not. The rolling update's limit grows by that delay "
          "per wave; the role's does not.")
        w("")
        w("| sandbox delay s | rolling update wall s | rolling limit s | role wall s | role limit s "
          "| role / rolling | role rescheduled | problems |")
        w("|---:|---:|---:|---:|---:|---:|---:|---|")
        for delay in sorted(set(r["sandbox"] for r in sweep if "wall" in r)):
            pair = dict((r["scenario"], r) for r in sweep if r.get("sandbox") == delay and "wall" in r)
            rolling, role = pair.get("rolling"), pair.get("role")
            w("| %.1f | %s | %s | %s | %s | %s | %s | %s |" % (
                delay, fmt(rolling["wall"]) if rolling else "-", fmt(rolling["limit"]) if rolling else "-",
                fmt(role["wall"]) if role else "-", fmt(role["limit"]) if role else "-",
                "%.2f" % (role["wall"] / rolling["wall"]) if rolling and role else "-",
                role["rescheduled"] if role else "-",
                "; ".join((rolling or {}).get("problems", []) + (role or {}).get("problems", [])) or "none"))
    if discovery:
        w("")
        w("## Discovery only (`k8s_inplace_upgrade_info`, read-only, plan with batch_size 25%)")
        w("")
        w("| pods | wall s | requests (proxy) | module api_requests | batches planned "
          "| peak RSS MiB (tree) | largest process MiB |")
        w("|---:|---:|---:|---:|---:|---:|---:|")
        for d in discovery:
            w("| %d | %.1f | %d | %s | %d | %s | %s |" % (
                d["n"], d["wall"], d["requests"], fmt(d["module_api_requests"]), d["batches"],
                mib(d["rss_tree"]), mib(d["rss_single"])))
    w("")
    w("## Targets (issue 7)")
    w("")
    for line in target_lines(doc):
        w("- " + line)
    if doc["notes"] or doc["failures"]:
        w("")
        w("## Notes")
        w("")
        for n in doc["notes"]:
            w("- " + n)
        for f in doc["failures"]:
            w("- FAILURE: " + f)
    return "\n".join(out) + "\n"
