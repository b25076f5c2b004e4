# Copyright (c) inplace.kubernetes maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A run's measurements as one JSON file of rows, the only input of the Markdown report.

    {"format": 2,
     "run":  {"command", "smoke", "started", "finished", "nodes", "max_pods", "container_start",
              "readiness_delay", "readiness_period", "kubelet_lag", "restart_seconds", "sandbox",
              "pull_delay", "sweep_size", "sweep", "sweep_runs", "scale", "daemonset_nodes", "old_image", "new_image",
              "load_start", "load_end", "other_apiservers", "machine": {...}, "versions": {...}},
     "rows": [{"table": "upgrade" | "sweep" | "discovery" | "baseline" | "daemonset" | "repeat", ...}, ...],
     "notes": [...], "failures": [...]}

One file per run: bench/results/run-<UTC time>[-smoke].json unless --json names another
(not committed). The keys of each table's rows are bench/README.md's columns.
"""

from __future__ import annotations

import json
import os
import time

from inplace_bench import RESULTS_DIR
from inplace_bench.limits import KUBELET_LAG_SECONDS, READINESS_PERIOD_SECONDS, restart_seconds
from inplace_bench.provenance import machine_info
from inplace_bench.workload import NEW_IMAGE, OLD_IMAGE

FORMAT = 2
TABLES = ("upgrade", "sweep", "discovery", "baseline", "daemonset", "repeat")


def default_path(started, smoke):
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(started))
    return os.path.join(RESULTS_DIR, "run-%s%s.json" % (stamp, "-smoke" if smoke else ""))


def document(session, started, finished):
    """The JSON document of a finished Session (after its cluster stopped)."""
    a = session.args
    run = {
        "command": a.command, "smoke": a.smoke, "started": started, "finished": finished,
        "nodes": a.nodes, "max_pods": session.max_pods,
        "container_start": a.container_start, "readiness_delay": a.readiness_delay,
        "readiness_period": READINESS_PERIOD_SECONDS, "kubelet_lag": KUBELET_LAG_SECONDS,
        "restart_seconds": restart_seconds(a.container_start, a.readiness_delay), "sandbox": a.sandbox,
        "pull_delay": a.pull_delay, "sweep_size": a.sweep_size, "sweep": a.sandbox_sweep,
        "sweep_runs": a.sweep_runs, "repeats": a.repeats,
        "scale": a.scale, "daemonset_nodes": a.daemonset_nodes,
        "old_image": OLD_IMAGE, "new_image": NEW_IMAGE,
        "load_start": session.load_start, "load_end": os.getloadavg()[0],
        "other_apiservers": session.other_apiservers, "machine": machine_info(),
        "versions": session.versions,
    }
    rows = [dict(row, table=table) for table, group in zip(
        TABLES, (session.rows, session.sweep, session.discovery, session.baseline, session.daemonset, session.repeats),
        strict=True) for row in group]
    return {"format": FORMAT, "run": run, "rows": rows, "notes": session.notes,
            "failures": session.failures}


def write(doc, path):
    """The document as JSON, one line per row (small, and a diff of two runs reads row by row)."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    head = {k: v for k, v in doc.items() if k != "rows"}
    rows = ",\n".join(json.dumps(row, default=str, sort_keys=True) for row in doc["rows"])
    with open(path, "w") as f:
        f.write(json.dumps(head, indent=1, default=str)[:-2] + ',\n "rows": [\n' + rows + "\n]}\n")


def read(path):
    with open(path) as f:
        doc = json.load(f)
    if doc.get("format") != FORMAT:
        raise ValueError("%s: not a bench results file of format %d" % (path, FORMAT))
    return doc


def table(doc, name):
    """The rows of one table, in the order they were measured."""
    return [row for row in doc["rows"] if row["table"] == name]
