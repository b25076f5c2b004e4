# Copyright (c) inplace.kubernetes maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Issue 7's targets, evaluated on a run's JSON rows: one Markdown line each, MET or NOT MET (pure).

- role: wall(N) <= 1.2 x limit(N) + a fixed cost (from the smallest N), and faster than the rolling update;
- module: its own `seconds` on 100 pods without the proxy, minus one restart, under 0.5 s;
- discovery: the same number of requests for every size.
"""

from __future__ import annotations

from inplace_bench.results import table
from inplace_bench.text import fmt


def target_lines(doc):
    delay = doc["run"]["restart_seconds"]
    rows, sweep, discovery = table(doc, "upgrade"), table(doc, "sweep"), table(doc, "discovery")
    lines = []
    role = {r["n"]: r for r in rows if r["scenario"] == "role" and "wall" in r}
    role_ok = [n for n in sorted(role) if not role[n]["problems"]]
    rolling = {r["n"]: r for r in rows if r["scenario"] == "rolling" and "wall" in r}
    if role and not role_ok:
        lines.append("**Role target: NOT MET** (the role failed functionally for every N).")
    elif role:
        n0 = role_ok[0]
        fixed = role[n0]["wall"] - role[n0]["limit"]
        parts, ok, bound_ok, faster_ok = [], True, True, True
        for n in sorted(role):
            bound = 1.2 * role[n]["limit"] + fixed
            good = role[n]["wall"] <= bound + 1e-9
            faster = rolling.get(n) and role[n]["wall"] < rolling[n]["wall"]
            failed = bool(role[n]["problems"])
            ok = ok and good and bool(faster) and not failed
            bound_ok = bound_ok and good and not failed
            faster_ok = faster_ok and bool(faster) and not failed
            parts.append(("FAILED functionally, " if failed else "") + "N=%d: %.1f s vs bound 1.2 x %.1f + %.1f = %.1f s (%s); rolling update "
                         "%s s (%s)" % (
                             n, role[n]["wall"], role[n]["limit"], fixed, bound,
                             "within" if good else "OVER",
                             fmt(rolling[n]["wall"]) if rolling.get(n) else "-",
                             "role faster" if faster else "role NOT faster"))
        lines.append("**Role within 1.2x of its physical limit plus a fixed start-up cost, and "
                     "faster than the rolling update: %s** (within the bound: %s; faster than the "
                     "rolling update: %s). Fixed cost estimated from N=%d as wall - limit = %.1f s "
                     "(ansible-playbook start-up, the role's planning, lease and report tasks, "
                     "template sync). %s." % (
                         "MET" if ok else "NOT MET", "yes" if bound_ok else "no",
                         "yes" if faster_ok else "no", n0, fixed, "; ".join(parts)))
    else:
        lines.append("Role target: not measured (role scenario missing).")
    role_sweep = [(r["sandbox"], r) for r in sweep if r["scenario"] == "role" and "wall" in r]
    if role_sweep:
        parts = []
        for sandbox, role_row in role_sweep:
            rolling_row = [r for r in sweep if r["scenario"] == "rolling" and r.get("sandbox") == sandbox
                           and "wall" in r]
            if rolling_row:
                parts.append("sandbox %.1f s: role %.1f s vs rolling update %.1f s (%s)" % (
                    sandbox, role_row["wall"], rolling_row[0]["wall"],
                    "role faster" if role_row["wall"] < rolling_row[0]["wall"] else "role NOT faster"))
        lines.append("Sandbox sweep (N=%d; a new pod waits for its sandbox, a restart in place does not): %s." % (
            doc["run"]["sweep_size"], "; ".join(parts)))
    direct = (table(doc, "direct") or [None])[0]
    mod = {r["n"]: r for r in rows if r["scenario"] == "module" and "wall" in r}
    n_target = 100 if (direct and direct["n"] == 100) or 100 in mod else None
    if direct and direct.get("module_seconds") is not None:
        over = direct["module_seconds"] - delay
        prox = mod.get(direct["n"], {}).get("module_seconds")
        lines.append("**Module overhead beyond the kubelet's restart time for %d pods under 0.5 s: "
                     "%s.** The module reports %.2f s without the counting proxy (median of "
                     "%s s), i.e. %.2f s beyond the %.2f s restart%s." % (
                         direct["n"], "MET" if over < 0.5 else "NOT MET", direct["module_seconds"],
                         ", ".join("%.2f" % x for x in direct.get("all_seconds", [])), over, delay,
                         "" if prox is None else " (through the proxy: %.2f s, %.2f s beyond)" % (
                             prox, prox - delay)))
        ref = direct.get("reference")
        if ref:
            batch = sum(b.get("seconds") or 0 for b in direct.get("batches") or [])
            lines.append("For scale: the least any client can do on this machine - patch the %d "
                         "pods from 16 threads, then list them every 50 ms until all are "
                         "upgraded - took %.2f s (%.2f s for the patches), i.e. %.2f s beyond the "
                         "restart, spent in API round-trips on 2 shared cores and in the kubelets' "
                         "own status writes. The module's batch (patch + wait) took "
                         "%.2f s; the rest of its %.2f s is discovery, the pre-upgrade record and "
                         "the template sync." % (
                             direct["n"], ref["seconds"], ref["patch_seconds"],
                             ref["seconds"] - delay, batch, direct["module_seconds"]))
    elif n_target and mod.get(n_target, {}).get("module_seconds") is not None:
        s = mod[n_target]["module_seconds"]
        lines.append("**Module overhead for %d pods under 0.5 s: %s** (%.2f s reported, through "
                     "the proxy)." % (n_target, "MET" if s - delay < 0.5 else "NOT MET", s - delay))
    else:
        small = sorted(mod)
        if small and mod[small[0]].get("module_seconds") is not None:
            s = mod[small[0]]["module_seconds"]
            lines.append("Module overhead (target is for 100 pods, not run here): N=%d reports "
                         "%.2f s, %.2f s beyond the restart." % (small[0], s, s - delay))
        else:
            lines.append("Module overhead: not measured.")
    if len(discovery) >= 2:
        counts = [(d["n"], d["requests"]) for d in discovery]
        same = len({c[1] for c in counts}) == 1
        lines.append("**Discovery makes the same number of requests for %s pods: %s** (%s)." % (
            " and ".join(str(c[0]) for c in counts), "MET" if same else "NOT MET",
            ", ".join("%d pods: %d requests" % c for c in counts)))
    return lines
