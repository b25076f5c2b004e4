# Copyright (c) inplace.kubernetes maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Benchmark: in-place upgrades vs. a rolling update, a bare client and pod-by-pod patch loops.

    make bench                     # == tests/run.sh exec python bench/run.py
    make bench-smoke               # == ... bench/run.py --smoke  (N=5, a few minutes, no timing asserted)
    python bench/run.py [--sizes 100,300:module+role+core] [--scale 1000] [--discovery 10,1000] [--daemonset-nodes 10,40]
                        [--scenarios rolling,seed,...] [--nodes 10] [--container-start 1.0]
                        [--readiness-delay 0] [--sandbox 0] [--pull-delay 0] [--sandbox-sweep 0,1,2,4]
                        [--output FILE] [--json FILE]
    python bench/run.py --render FILE.json [--output FILE]   # the report of an earlier run, nothing run
    python bench/run.py --scenarios role --sizes 100,300 --scale none --discovery none \
                        --daemonset-nodes none --sandbox-sweep none     # the role's fixed cost only

It starts its own local control plane (tests/cluster/localcluster.py: the real kube-apiserver,
controller-manager and scheduler, and nodes that run the real kubelet code - kubemark's hollow
kubelet with the real prober - against a fake CRI whose fault layer gives every container start,
every new pod's sandbox and every image pull a fixed cost; readiness comes from an exec
readinessProbe every 1 s) and, for each N, changes the image of a fresh N-replica Deployment:

  rolling  the Deployment's template is patched; the controller rolls (25% surge / 25% unavailable)
  seed     every pod's /spec/containers/0/image patched one after another, then polled until Ready
  module   inplace.kubernetes.k8s_inplace_upgrade, all pods in one call, wait: true
  bare     the module's reference: a bare client patching from 16 threads, one watch until all done
  role     the inplace.kubernetes.inplace_upgrade role, batch_size 25% (and, for its fixed cost, a
           one-task playbook started the same way)
  core     kubernetes.core.k8s_json_patch looped over the pods, then k8s_info polled until Ready
           (kubernetes.core from the `ansible` package, in a separate venv of the benchmark only)

Then the sandbox sweep (rolling and role at --sweep-size), the scale phase (module and bare at
--scale N, discovery measured on the same Deployment), discovery alone, and last the module on a
DaemonSet of one pod per node for each of --daemonset-nodes (a larger control plane started for it).

Every driver is a child process (ansible-playbook, or inplace_bench.drivers) whose requests go
through a counting reverse proxy on 127.0.0.1 (plain HTTP in, HTTPS to the API server); the
control plane's own components talk to the API server directly and are not counted. Peak memory is
the largest sum of RSS over the driver's process tree, sampled from /proc every 50 ms, as are RSS
and CPU seconds of the module process (memory.py).

Every run writes its measurements as JSON rows (results.py), then renders the Markdown report from
that file (report.py). See bench/README.md for the definitions of every column.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
import traceback

from inplace_bench import DEFAULT_OUTPUT, log, results
from inplace_bench.discovery import check_fixed, run_discovery
from inplace_bench.report import render
from inplace_bench.scale import run_daemonsets, run_scale
from inplace_bench.scenarios import REPEAT_MAX_N, run_baseline, run_repeats, run_scenario, run_sweep
from inplace_bench.session import Session
from inplace_bench.workload import SCENARIOS

# What issue 17's targets need: every scenario at 100 (the sweep's sandbox-0 rows too), and at 300 the
# role, the module and kubernetes.core's loop (the x20 target); the module and the bare client at 1000
# come from --scale.
FULL_SIZES = "100,300:module+role+core"


def _numbers(text, kind=int):
    return [] if text == "none" else [kind(x) for x in text.split(",") if x]


def _sizes(text):
    """"100,300:role+core" -> [(100, None), (300, ["role", "core"])]: N, and the scenarios run at it
    (None: all of --scenarios)."""
    out = []
    for item in text.split(","):
        n, _sep, only = item.partition(":")
        out.append((int(n), only.split("+") if only else None))
    return out


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--smoke", action="store_true",
                   help="N=5 only (scale 5, DaemonSet on the run's 3 nodes), discovery 5 vs 20 pods, no "
                        "Markdown file unless --output; exit 1 when a scenario fails functionally "
                        "(timings never asserted)")
    p.add_argument("--sizes", help="comma-separated N, each for every scenario or, as N:s1+s2, for "
                                   "those of --scenarios only (default %s; smoke 5)" % FULL_SIZES)
    p.add_argument("--scale", help="comma-separated N for the module and the bare client only, "
                                   "discovery on the same Deployment (default 1000; smoke 20; 'none')")
    p.add_argument("--discovery", help="comma-separated pod counts for discovery "
                                       "(default 10,1000; smoke 5,20; 'none' to skip)")
    p.add_argument("--daemonset-nodes", help="comma-separated node counts for the DaemonSet phase; one "
                                             "other than --nodes starts a control plane of that many "
                                             "(default 10,40; smoke 3; 'none')")
    p.add_argument("--scenarios", default=",".join(SCENARIOS),
                   help="subset of %s" % ",".join(SCENARIOS))
    p.add_argument("--nodes", type=int, default=None)
    p.add_argument("--container-start", type=float, default=1.0,
                   help="seconds every container start takes on the nodes' fake CRI (fault layer)")
    p.add_argument("--readiness-delay", type=int, default=0,
                   help="initialDelaySeconds of the exec readinessProbe (every 1 s), after every start")
    p.add_argument("--sandbox", type=float, default=0.0,
                   help="seconds a new pod waits for its sandbox (network, volumes) before its "
                        "containers start; paid by the rolling update's new pods, never by a restart "
                        "in place (default 0: a new pod is as cheap as a restart)")
    p.add_argument("--pull-delay", type=float, default=0.0,
                   help="seconds an image pull takes, paid only where the node lacks the image")
    p.add_argument("--sandbox-sweep",
                   help="comma-separated sandbox delays at which the rolling update and the role run "
                        "at --sweep-size (default 0,1,2,4; a delay equal to --sandbox reuses the main "
                        "table's rows; smoke and 'none': skip)")
    p.add_argument("--sweep-size", type=int, default=100)
    p.add_argument("--sweep-runs", type=int, default=3,
                   help="runs of the rolling update and the role at each sweep delay (default 3; the "
                        "targets use the median)")
    p.add_argument("--repeats", type=int, default=None,
                   help="runs in all of the module, the bare client and the role at each N <= %d of --sizes, "
                        "interleaved after the main table's (default 3; smoke 1); the targets use the median" % REPEAT_MAX_N)
    p.add_argument("--timeout", type=int, default=600, help="per scenario, seconds")
    p.add_argument("--output", help="Markdown file to write (default bench/results/latest.md; "
                                    "smoke and --render: none)")
    p.add_argument("--json", help="file for the run's JSON rows (default "
                                  "bench/results/run-<UTC time>[-smoke].json)")
    p.add_argument("--render", metavar="FILE.json",
                   help="run nothing: print (and --output) the report of the run FILE.json holds")
    a = p.parse_args(argv)
    a.nodes = a.nodes or (3 if a.smoke else 10)
    a.repeats = a.repeats if a.repeats is not None else (1 if a.smoke else 3)
    a.sizes = _sizes(a.sizes or ("5" if a.smoke else FULL_SIZES))
    a.scale = _numbers(a.scale or ("20" if a.smoke else "1000"))
    a.discovery = _numbers(a.discovery or ("5,20" if a.smoke else "10,1000"))
    a.daemonset_nodes = _numbers(a.daemonset_nodes or ("%d" % a.nodes if a.smoke else "%d,40" % a.nodes))
    a.sandbox_sweep = _numbers(a.sandbox_sweep or ("none" if a.smoke else "0,1,2,4"), float)
    a.scenarios = [s for s in a.scenarios.split(",") if s]
    bad = (set(a.scenarios) | {s for _n, only in a.sizes for s in only or ()}) - set(SCENARIOS)
    if bad:
        p.error("unknown scenarios: %s" % ", ".join(sorted(bad)))
    if a.output is None and not a.smoke and not a.render:
        a.output = DEFAULT_OUTPUT
    a.command = "python bench/run.py" + ("" if not argv else " " + " ".join(argv))
    return a


def measure(a):
    """Run every phase a asks for; the JSON document of what was measured, even when one aborted."""
    started = time.time()
    tmp = tempfile.mkdtemp(prefix="inplace-bench-")
    session = Session(a, tmp)
    try:
        session.start()
        if "role" in a.scenarios:
            run_baseline(session)
        for n, only in a.sizes:
            for s in SCENARIOS:
                if s in a.scenarios and (only is None or s in only):
                    run_scenario(session, s, n)
        run_repeats(session, a.repeats)
        if a.sandbox_sweep and "rolling" in a.scenarios and "role" in a.scenarios:
            run_sweep(session, a.sandbox_sweep, a.sweep_size, a.sweep_runs)
        run_scale(session, a.scale, a.discovery)
        run_discovery(session, [n for n in a.discovery if n not in a.scale or "module" not in a.scenarios])
        if "module" in a.scenarios:
            run_daemonsets(session, a.daemonset_nodes)
        check_fixed(session)
    except Exception as exc:  # noqa: BLE001 - report what we have
        traceback.print_exc()
        session.failures.append("benchmark aborted: %s: %s" % (type(exc).__name__, exc))
    finally:
        session.stop()
    doc = results.document(session, started, time.time())
    shutil.rmtree(tmp, ignore_errors=True)
    return doc


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    a = parse_args(argv)
    if a.render:
        doc = results.read(a.render)
    else:
        doc = measure(a)
        path = a.json or results.default_path(doc["run"]["started"], a.smoke)
        results.write(doc, path)
        log("measurements written to %s" % path)
        doc = results.read(path)  # the report shows what the file holds, nothing else
    text = render(doc)
    print(text)
    if a.output:
        os.makedirs(os.path.dirname(os.path.abspath(a.output)), exist_ok=True)
        with open(a.output, "w") as f:
            f.write(text)
        log("report written to %s" % a.output)
    if doc["failures"]:
        log("FAILED: %d problem(s):\n  %s" % (len(doc["failures"]), "\n  ".join(doc["failures"])))
        return 1
    return 0
