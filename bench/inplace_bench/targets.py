# Copyright (c) inplace.kubernetes maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Issue 17's targets, evaluated on a run's JSON rows only (pure): each a dict of what the target
is, what was measured and the verdict, "met", "not met" or "not measured".

- role fixed cost: role wall - its batches' seconds, <= 1.5 s over a one-task playbook started the same way;
- module: its own `seconds` <= 1.10 x the bare client's (16 threads patching, one watch) at N=100 and N=1000;
- with --repeats, the role's, the module's and the bare client's figures are medians over their runs;
- rolling update: the role faster at every sandbox delay >= 2 s (N=100; the median of --sweep-runs), and
  where the crossover lies;
- kubernetes.core's loop: >= 20 x the role's wall at N=300;
- scale: discovery a fixed number of requests per kind; module process peak RSS < 200 MiB and
  API requests per pod <= 2.2 on the 1000-pod Deployment and the largest DaemonSet; CPU seconds reported.
"""

from __future__ import annotations

import statistics

from inplace_bench.results import table
from inplace_bench.text import mib

MET, NOT_MET, NOT_MEASURED, REPORTED = "met", "not met", "not measured", "reported (no target)"
ROLE_FIXED_OVER = 1.5
MODULE_VS_BARE = 1.10
MODULE_SIZES = (100, 1000)
CROSSOVER_COST = 2.0
CORE_N, CORE_FACTOR = 300, 20.0
SCALE_N = 1000
RSS_LIMIT = 200 * 1024 * 1024
REQUESTS_PER_POD = 2.2


def _ok(rows):
    return [r for r in rows if "wall" in r and not r.get("problems")]


def _by(rows, scenario, n):
    found = [r for r in _ok(rows) if r["scenario"] == scenario and r["n"] == n]
    return found[0] if found else None


def runs_of(doc, scenario, n):
    """Every good run of ``scenario`` at ``n``: the main table's and its repeats (--repeats), in order."""
    return [r for r in _ok(table(doc, "upgrade") + table(doc, "repeat")) if r["scenario"] == scenario and r["n"] == n]


def _median_text(values, unit="s", digits=2):
    """``"3.21 s"``, or of several runs ``"3.21 s (median of 3.40, 3.21, 2.98)"``."""
    med = statistics.median(values)
    if len(values) == 1:
        return "%.*f %s" % (digits, med, unit)
    return "%.*f %s (median of %s)" % (digits, med, unit, ", ".join("%.*f" % (digits, v) for v in values))


def _target(name, goal, measured, verdict):
    return {"name": name, "target": goal, "measured": measured, "verdict": verdict}


def baseline_seconds(doc):
    """The median wall of the one-task playbook runs, or None."""
    walls = [r["wall"] for r in _ok(table(doc, "baseline"))]
    return statistics.median(walls) if walls else None


def role_fixed(doc):
    goal = "role wall - its batches <= %.1f s over a one-task playbook started the same way" % ROLE_FIXED_OVER
    base = baseline_seconds(doc)
    sizes = sorted({r["n"] for r in _ok(table(doc, "upgrade")) if r["scenario"] == "role" and r.get("batch_seconds") is not None})
    if base is None or not sizes:
        return _target("Role fixed cost", goal, "baseline or role run missing", NOT_MEASURED)
    parts, worst = [], 0.0
    for n in sizes:
        runs = [r for r in runs_of(doc, "role", n) if r.get("batch_seconds") is not None]
        fixed = [r["wall"] - r["batch_seconds"] for r in runs]
        over = statistics.median(fixed) - base
        worst = max(worst, over)
        if len(runs) == 1:
            parts.append("N=%d: %.1f - %.1f = %.1f s, **%.1f s over**" % (
                n, runs[0]["wall"], runs[0]["batch_seconds"], fixed[0], over))
        else:
            parts.append("N=%d: wall - batches %s, **%.1f s over**" % (n, _median_text(fixed, digits=1), over))
    return _target("Role fixed cost", goal, "%s; one-task playbook %.2f s (median of %d)" % (
        "; ".join(parts), base, len(_ok(table(doc, "baseline")))),
        MET if worst <= ROLE_FIXED_OVER else NOT_MET)


def module_vs_bare(doc, n):
    goal = "module's own seconds <= %.2f x the bare client's, N=%d" % (MODULE_VS_BARE, n)
    mods = [r for r in runs_of(doc, "module", n) if r.get("module_seconds") is not None]
    bares = [r for r in runs_of(doc, "bare", n) if r["extra"].get("seconds")]
    if not mods or not bares:
        return _target("Module vs bare client, N=%d" % n, goal, "module or bare client at N=%d missing or failed" % n,
                       NOT_MEASURED)
    mod_s, bare_s = [r["module_seconds"] for r in mods], [r["extra"]["seconds"] for r in bares]
    ratio = statistics.median(mod_s) / statistics.median(bare_s)
    mod, bare = mods[0], bares[0]
    measured = ("module %s / bare %s = **%.2fx**; processes (first run): module process %.1f s (CPU %.1f s) vs "
                "bare driver %.1f s (CPU %.1f s)" % (
                    _median_text(mod_s), _median_text(bare_s), ratio, mod.get("module_lifetime") or 0,
                    mod.get("module_cpu") or 0, bare["wall"], bare.get("module_cpu") or 0))
    return _target("Module vs bare client, N=%d" % n, goal, measured, MET if ratio <= MODULE_VS_BARE else NOT_MET)


def median_row(rows):
    """The row of the median wall (the lower one of an even count)."""
    ranked = sorted(rows, key=lambda r: r["wall"])
    return ranked[(len(ranked) - 1) // 2]


def sweep_pairs(doc):
    """[(sandbox delay, rolling row, role row)] of the sandbox sweep, by delay; with --sweep-runs > 1,
    the row of the median wall of each."""
    sweep = _ok(table(doc, "sweep"))
    out = []
    for delay in sorted({r["sandbox"] for r in sweep}):
        runs = {s: [r for r in sweep if r["sandbox"] == delay and r["scenario"] == s] for s in ("rolling", "role")}
        if runs["rolling"] and runs["role"]:
            out.append((delay, median_row(runs["rolling"]), median_row(runs["role"])))
    return out


def crossover(pairs):
    """Where the role starts to beat the rolling update, in words, from [(delay, rolling, role)]:
    linear interpolation between the two measured delays around the change of sign."""
    diffs = [(d, role["wall"] - rolling["wall"]) for d, rolling, role in pairs]
    if all(x < 0 for _d, x in diffs):
        return "the role is faster at every delay measured (from %.0f s)" % diffs[0][0]
    if all(x >= 0 for _d, x in diffs):
        return "the role is slower at every delay measured (up to %.0f s)" % diffs[-1][0]
    last_slow = max(i for i, (_d, x) in enumerate(diffs) if x >= 0)
    if last_slow + 1 == len(diffs):
        return "no crossover: the role is slower again at the largest delay measured"
    (d1, x1), (d2, x2) = diffs[last_slow], diffs[last_slow + 1]
    return "between %.0f and %.0f s of sandbox delay (interpolated: %.1f s)" % (d1, d2, d1 + x1 * (d2 - d1) / (x1 - x2))


def against_rolling(doc):
    n = doc["run"].get("sweep_size")
    goal = ("role faster than the 25%%/25%% rolling update whenever a new pod costs >= %.0f s more than a "
            "restart (N=%s, sandbox sweep)" % (CROSSOVER_COST, n))
    pairs = sweep_pairs(doc)
    dear = [(d, rolling, role) for d, rolling, role in pairs if d >= CROSSOVER_COST]
    if not dear:
        return _target("Against the rolling update", goal, "no sweep at a delay >= %.0f s" % CROSSOVER_COST,
                       NOT_MEASURED)
    parts = ["%.0f s: role %.1f s vs rolling %.1f s (%.2fx)" % (
        d, role["wall"], rolling["wall"], role["wall"] / rolling["wall"]) for d, rolling, role in pairs]
    met = all(role["wall"] < rolling["wall"] for _d, rolling, role in dear)
    walls = [r["wall"] for r in _ok(table(doc, "sweep")) if r["scenario"] == "role"]
    noise = ("; the run's noise: the role, which pays no sandbox delay, took %.1f-%.1f s over its %d sweep runs" % (
        min(walls), max(walls), len(walls))) if len(walls) > 1 else ""
    return _target("Against the rolling update", goal, "%s; crossover %s%s" % ("; ".join(parts), crossover(pairs), noise),
                   MET if met else NOT_MET)


def against_core(doc):
    goal = "kubernetes.core's loop >= %.0fx the role's wall, N=%d" % (CORE_FACTOR, CORE_N)
    rows = table(doc, "upgrade")
    core, mod = _by(rows, "core", CORE_N), _by(rows, "module", CORE_N)
    roles = [r["wall"] for r in runs_of(doc, "role", CORE_N)]
    if not core or not roles:
        return _target("Against kubernetes.core", goal, "core or role at N=%d missing or failed" % CORE_N,
                       NOT_MEASURED)
    ratio = core["wall"] / statistics.median(roles)
    mods = [r["wall"] for r in runs_of(doc, "module", CORE_N)]
    measured = "core %.1f s / role %s = **%.1fx**%s" % (
        core["wall"], _median_text(roles, digits=1), ratio,
        "; / module %s = %.1fx" % (_median_text(mods, digits=1), core["wall"] / statistics.median(mods)) if mod else "")
    limit = runs_of(doc, "role", CORE_N)[0].get("limit")
    if limit and ratio < CORE_FACTOR:
        # The role's batches cannot take less than the cost model's restarts: what this core run allows at all.
        measured += ("; core / the role's physical limit (%s) = %.1fx%s" % (
            "%d batches x %.1f s = %.1f s" % (runs_of(doc, "role", CORE_N)[0]["batches"], doc["run"]["restart_seconds"], limit),
            core["wall"] / limit, ": no role run in these batches can reach %.0fx on this run" % CORE_FACTOR
            if core["wall"] / limit < CORE_FACTOR else ""))
    return _target("Against kubernetes.core", goal, measured, MET if ratio >= CORE_FACTOR else NOT_MET)


def discovery_fixed(doc):
    goal = "discovery: the same number of requests for every size of one kind"
    rows = table(doc, "discovery")
    parts, met, kinds = [], True, 0
    for kind in sorted({d.get("kind", "Deployment") for d in rows}):
        these = sorted((d for d in rows if d.get("kind", "Deployment") == kind), key=lambda d: d["n"])
        if len(these) < 2:
            parts.append("%s: %d pods, %d requests (one size only)" % (kind, these[0]["n"], these[0]["requests"]))
            continue
        kinds += 1
        met = met and len({d["requests"] for d in these}) == 1 and not any(d["problems"] for d in these)
        parts.append("%s: %s" % (kind, ", ".join("%d pods %d requests" % (d["n"], d["requests"]) for d in these)))
    return _target("Scale: discovery", goal, "; ".join(parts) or "no discovery run",
                   NOT_MEASURED if not kinds else MET if met else NOT_MET)


def scale_rows(doc):
    """[(label, row)]: the module on the N=1000 Deployment, and on the largest DaemonSet."""
    out = []
    mod = [r for r in table(doc, "upgrade") if r["scenario"] == "module" and r["n"] == SCALE_N and "wall" in r]
    if mod:
        out.append(("Deployment %d pods on %s nodes" % (SCALE_N, mod[0].get("nodes", "?")), mod[0]))
    ds = [r for r in table(doc, "daemonset") if "wall" in r]
    if ds:
        big = max(ds, key=lambda r: r["n"])
        out.append(("DaemonSet on %d nodes" % big["n"], big))
    return out


def scale_limits(doc):
    found = scale_rows(doc)
    have = {label.split()[0] for label, _r in found}
    missing = "" if have >= {"Deployment", "DaemonSet"} else " (missing: %s)" % ", ".join(
        sorted({"Deployment", "DaemonSet"} - have))

    def verdict(good):
        if not found:
            return NOT_MEASURED
        if not good:
            return NOT_MET
        return NOT_MEASURED if missing else MET
    rss_ok = all(r["module_rss"] < RSS_LIMIT and not r["problems"] for _l, r in found)
    req_ok = all(r["requests"] / r["n"] <= REQUESTS_PER_POD and not r["problems"] for _l, r in found)
    return [
        _target("Scale: memory", "peak RSS of the module process < %s MiB" % mib(RSS_LIMIT),
                "; ".join("%s: %s MiB" % (label, mib(r["module_rss"])) for label, r in found) + missing,
                verdict(rss_ok)),
        _target("Scale: requests", "API requests per pod <= %.1f" % REQUESTS_PER_POD,
                "; ".join("%s: %d requests, %.2f per pod" % (label, r["requests"], r["requests"] / r["n"])
                          for label, r in found) + missing, verdict(req_ok)),
        _target("Scale: CPU", "CPU seconds of the module process, reported",
                "; ".join("%s: %.1f s (whole playbook tree %.1f s)" % (label, r["module_cpu"], r["cpu_tree"])
                          for label, r in found) + missing, REPORTED if found else NOT_MEASURED),
    ]


def evaluate(doc):
    """Every target of issue 17, in the issue's order."""
    return ([role_fixed(doc)] + [module_vs_bare(doc, n) for n in MODULE_SIZES]
            + [against_rolling(doc), against_core(doc), discovery_fixed(doc)] + scale_limits(doc))
