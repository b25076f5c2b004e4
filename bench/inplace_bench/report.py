# Copyright (c) inplace.kubernetes maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The Markdown report, rendered from a run's JSON document (results.py) and nothing else (pure)."""

from __future__ import annotations

import time

from inplace_bench.results import table
from inplace_bench.targets import baseline_seconds, evaluate, runs_of, sweep_pairs
from inplace_bench.text import fmt, mib
from inplace_bench.workload import TITLES


def repeat_lines(doc):
    """``"N=100 module: 3.1, 2.9, 3.0 s"`` for each scenario and N that was repeated (wall seconds, in order)."""
    seen = []
    for r in table(doc, "repeat"):
        if (r["scenario"], r["n"]) not in seen:
            seen.append((r["scenario"], r["n"]))
    return ["N=%d %s: %s s" % (n, scenario, ", ".join("%.1f" % r["wall"] for r in runs_of(doc, scenario, n))) for scenario, n in seen]


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
    loads = sorted(r["load"] for r in doc["rows"] if r.get("load") is not None)
    w("- Load average (1 min) at start / end: %.2f / %.2f%s; other kube-apiservers running on the "
      "machine at start: %d (anything else running shares the cores and skews wall times; ratios "
      "are measured within this run)" % (
          run["load_start"], run["load_end"],
          "; after each measurement min / median / max %.2f / %.2f / %.2f" % (
              loads[0], loads[len(loads) // 2], loads[-1]) if loads else "", run["other_apiservers"]))
    w("- Local control plane: %d nodes running the real kubelet (kubemark's hollow kubelet, real "
      "prober) against a fake CRI, %s pods allocatable each" % (run["nodes"], run["max_pods"]))
    w("- Cost model (the nodes' fault layer and the probe): container **start %.2f s**; **readiness** "
      "from an exec readinessProbe every %d s, initialDelaySeconds %d, + %.2f s kubelet lag (PLEG "
      "relist, probe period) = one restart in place modelled at **%.2f s**; **sandbox %.2f s** in the "
      "main table (paid by new pods only: by the rolling update, never by a restart in place; swept "
      "over %s s at N=%d); image **pull %.2f s** (paid only on a node that lacks the image, by both)" % (
          run["container_start"], run["readiness_period"], run["readiness_delay"], run["kubelet_lag"],
          delay, run["sandbox"], ", ".join("%g" % d for d in run["sweep"]) or "none", run["sweep_size"],
          run["pull_delay"]))
    for k, v in run["versions"].items():
        w("- %s: %s" % (k, v))
    w("- Images: %s -> %s, one container per pod, terminationGracePeriodSeconds 1" % (
        run["old_image"], run["new_image"]))
    w("")
    w("## Upgrade of an N-replica Deployment")
    w("")
    w("| N | scenario | wall s | vs (1) | batches | limit s | vs limit | requests | req/pod "
      "| rescheduled | IPs changed | template updated | peak RSS MiB | module RSS MiB | module CPU s |")
    w("|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|:---:|---:|---:|---:|")
    base = {r["n"]: r["wall"] for r in rows if r["scenario"] == "rolling" and "wall" in r}
    for r in rows:
        if "skipped" in r:
            w("| %d | %s | skipped: %s |  |  |  |  |  |  |  |  |  |  |  |  |" % (
                r["n"], TITLES[r["scenario"]], r["skipped"]))
            continue
        vs1 = r["wall"] / base[r["n"]] if base.get(r["n"]) else None
        w("| %d | %s%s | %.1f | %s | %d | %.1f | %.2f | %d | %.2f | %d | %d | %s | %s | %s | %.1f |" % (
            r["n"], TITLES[r["scenario"]], " **FAILED**" if r["problems"] else "", r["wall"],
            "%.2f" % vs1 if vs1 is not None else "-", r["batches"], r["limit"],
            r["wall"] / r["limit"], r["requests"], r["requests"] / r["n"], r["rescheduled"],
            r["ip_changed"], "yes" if r["template_new"] else "no", mib(r["rss_tree"]),
            mib(r["module_rss"]), r["module_cpu"]))
    w("")
    w("`limit` = batches x (container start + readiness delay + kubelet lag): 1 batch for (2), (3), (3r), (5); "
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
              "%d processes in the driver's tree at most, %.1f CPU s in the whole tree" % (
                  r["n"], r["scenario"], ", ".join("%s %d" % kv for kv in sorted(
                      r["counts"].items()) if kv[0] != "total") or "none",
                  mib(r["rss_single"]), r["procs"], r["cpu_tree"]))
            if r.get("slowest_tasks"):
                w("  - %d task results, %.1f s in tasks; slowest: %s" % (
                    r["task_results"], r["task_seconds"], ", ".join(
                        "%s %.1f s" % (t, sec) for t, sec in r["slowest_tasks"])))
            if r.get("module_seconds") is not None:
                w("  - the module reports %.2f s (%.2f s in its %d batches) and %s API requests (the proxy "
                  "counted %d); its process lived %.1f s" % (
                      r["module_seconds"], r.get("batch_seconds") or 0, r["module_result"].get("batch_count", 0),
                      r.get("module_api_requests"), r["requests"], r.get("module_lifetime") or 0))
            elif r.get("extra", {}).get("seconds") is not None:
                w("  - the driver reports %.2f s from its configured client to the last pod upgraded" % (
                    r["extra"]["seconds"]))
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
        w("Rows marked * use the main table's row (the same sandbox delay and N) as their first run. With "
          "more than one run per delay (--sweep-runs) the wall shown is the median, every run's in brackets.")
        w("")
        w("| sandbox delay s | rolling update wall s | rolling limit s | role wall s | role limit s "
          "| role / rolling | role rescheduled | problems |")
        w("|---:|---:|---:|---:|---:|---:|---:|---|")
        for delay, rolling, role in sweep_pairs(doc):
            def shown(median, scenario, delay=delay):
                walls = [r["wall"] for r in sweep if r.get("sandbox") == delay and r["scenario"] == scenario
                         and "wall" in r and not r["problems"]]
                return "%.1f" % median["wall"] + ("" if len(walls) < 2 else " (%s)" % ", ".join("%.1f" % x for x in walls))
            w("| %.1f%s | %s | %.1f | %s | %.1f | %.2f | %d | %s |" % (
                delay, "*" if any(r.get("reused") for r in sweep if r.get("sandbox") == delay) else "",
                shown(rolling, "rolling"), rolling["limit"], shown(role, "role"), role["limit"],
                role["wall"] / rolling["wall"], role["rescheduled"], "; ".join(rolling["problems"] + role["problems"]) or "none"))
        failed = [r for r in sweep if r.get("problems")]
        if failed:
            w("")
            w("Failed sweep runs (left out above): %s" % "; ".join(
                "%s at %.1f s: %s" % (r["scenario"], r["sandbox"], "; ".join(r["problems"])) for r in failed))
    if discovery:
        w("")
        w("## Discovery only (`k8s_inplace_upgrade_info`, read-only, plan with batch_size 25%)")
        w("")
        w("| kind | pods | nodes | wall s | requests (proxy) | module api_requests | batches planned "
          "| peak RSS MiB (tree) | module RSS MiB | module CPU s |")
        w("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        for d in sorted(discovery, key=lambda d: (d.get("kind", ""), d["n"])):
            w("| %s | %d | %s | %.1f | %d | %s | %d | %s | %s | %.1f |" % (
                d.get("kind", "Deployment"), d["n"], d.get("nodes", "?"), d["wall"], d["requests"],
                fmt(d["module_api_requests"]), d["batches"], mib(d["rss_tree"]),
                mib(d.get("module_rss", 0)), d.get("module_cpu", 0)))
    daemonset = table(doc, "daemonset")
    if daemonset:
        w("")
        w("## The module on a DaemonSet, one pod per node")
        w("")
        w("| nodes = pods | wall s | module s | requests | req/pod | rescheduled | IPs changed "
          "| template updated | module RSS MiB | module CPU s | problems |")
        w("|---:|---:|---:|---:|---:|---:|---:|:---:|---:|---:|---|")
        for r in daemonset:
            if "wall" not in r:
                continue
            w("| %d | %.1f | %s | %d | %.2f | %d | %d | %s | %s | %.1f | %s |" % (
                r["n"], r["wall"], fmt(r.get("module_seconds"), 2), r["requests"], r["requests"] / r["n"],
                r["rescheduled"], r["ip_changed"], "yes" if r["template_new"] else "no",
                mib(r["module_rss"]), r["module_cpu"], "; ".join(r["problems"]) or "none"))
    repeats = table(doc, "repeat")
    if repeats:
        w("")
        w("Repeated runs (`--repeats %s`, interleaved after the main table; the targets use the medians): %s." % (
            doc["run"].get("repeats"), "; ".join(repeat_lines(doc))))
    base = table(doc, "baseline")
    if base:
        w("")
        w("One-task playbook (`ansible.builtin.ping`, started as the role's playbook is), the floor under "
          "the role's fixed cost: %s s (median %.2f s)." % (
              ", ".join("%.2f" % r["wall"] for r in base), baseline_seconds(doc) or 0))
    w("")
    w("## Targets (issue 17)")
    w("")
    w("| target | goal | measured | verdict |")
    w("|---|---|---|---|")
    for t in evaluate(doc):
        w("| %s | %s | %s | **%s** |" % (t["name"], t["target"], t["measured"], t["verdict"]))
    if doc["notes"] or doc["failures"]:
        w("")
        w("## Notes")
        w("")
        for n in doc["notes"]:
            w("- " + n)
        for f in doc["failures"]:
            w("- FAILURE: " + f)
    return "\n".join(out) + "\n"
