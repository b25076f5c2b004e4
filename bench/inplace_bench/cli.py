# Copyright (c) inplace.kubernetes maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Benchmark: in-place upgrades vs. a Deployment rolling update vs. pod-by-pod patch loops.

    make bench                     # == tests/run.sh exec python bench/run.py
    make bench-smoke               # == ... bench/run.py --smoke  (N=5, a few minutes, no timing asserted)
    python bench/run.py [--sizes 10,100,300] [--discovery 10,1000] [--scenarios rolling,seed,...]
                        [--nodes 10] [--container-start 1.0] [--sandbox 0] [--output FILE] [--json FILE]
    python bench/run.py --render FILE.json [--output FILE]   # the report of an earlier run, nothing run

It starts its own local control plane (tests/cluster/localcluster.py: the real kube-apiserver,
controller-manager and scheduler, and nodes that run the real kubelet code - kubemark's hollow
kubelet with the real prober - against a fake CRI whose fault layer gives every container start a
fixed cost; readiness comes from an exec readinessProbe every 1 s) and, for each N, changes the
image of a fresh N-replica Deployment five ways:

  rolling  the Deployment's template is patched; the controller rolls (25% surge / 25% unavailable)
  seed     every pod's /spec/containers/0/image patched one after another, then polled until Ready
  module   inplace.kubernetes.k8s_inplace_upgrade, all pods in one call, wait: true
  role     the inplace.kubernetes.inplace_upgrade role, batch_size 25%
  core     kubernetes.core.k8s_json_patch looped over the pods, then k8s_info polled until Ready
           (kubernetes.core from the `ansible` package, in a separate venv of the benchmark only)

Every driver is a child process (ansible-playbook, or inplace_bench.drivers) whose requests go
through a counting reverse proxy on 127.0.0.1 (plain HTTP in, HTTPS to the API server); the
control plane's own components talk to the API server directly and are not counted. Peak memory is
the largest sum of RSS over the driver's process tree, sampled from /proc every 50 ms.

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
from inplace_bench.discovery import run_discovery
from inplace_bench.overhead import run_module_direct
from inplace_bench.report import render
from inplace_bench.scenarios import run_scenario, run_sweep
from inplace_bench.session import Session
from inplace_bench.workload import SCENARIOS


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--smoke", action="store_true",
                   help="N=5 only, discovery 5 vs 20 pods, no Markdown file unless --output; "
                        "exit 1 when a scenario fails functionally (timings never asserted)")
    p.add_argument("--sizes", help="comma-separated N (default 10,100,300; smoke 5)")
    p.add_argument("--discovery", help="comma-separated pod counts for discovery "
                                       "(default 10,1000; smoke 5,20; 'none' to skip)")
    p.add_argument("--scenarios", default=",".join(SCENARIOS),
                   help="subset of %s" % ",".join(SCENARIOS))
    p.add_argument("--nodes", type=int, default=None)
    p.add_argument("--container-start", type=float, default=1.0,
                   help="seconds every container start takes on the nodes' fake CRI (fault layer); "
                        "readiness follows from an exec readinessProbe every 1 s")
    p.add_argument("--sandbox", type=float, default=0.0,
                   help="seconds a new pod waits for its sandbox (network, volumes) before its "
                        "containers start; paid by the rolling update's new pods, never by a restart "
                        "in place (default 0: a new pod is as cheap as a restart)")
    p.add_argument("--sandbox-sweep",
                   help="comma-separated sandbox delays at which the rolling update and the role run "
                        "once more at --sweep-size (default 1,3,5; smoke and 'none': skip)")
    p.add_argument("--sweep-size", type=int, default=100)
    p.add_argument("--timeout", type=int, default=600, help="per scenario, seconds")
    p.add_argument("--no-direct", action="store_true",
                   help="skip the extra module run without the proxy (overhead target, N=100)")
    p.add_argument("--output", help="Markdown file to write (default bench/results/latest.md; "
                                    "smoke and --render: none)")
    p.add_argument("--json", help="file for the run's JSON rows (default "
                                  "bench/results/run-<UTC time>[-smoke].json)")
    p.add_argument("--render", metavar="FILE.json",
                   help="run nothing: print (and --output) the report of the run FILE.json holds")
    a = p.parse_args(argv)
    a.nodes = a.nodes or (3 if a.smoke else 10)
    a.sizes = [int(x) for x in (a.sizes or ("5" if a.smoke else "10,100,300")).split(",")]
    disc = a.discovery or ("5,20" if a.smoke else "10,1000")
    sweep = a.sandbox_sweep or ("none" if a.smoke else "1,3,5")
    a.sandbox_sweep = [] if sweep == "none" else [float(x) for x in sweep.split(",")]
    a.discovery = [] if disc == "none" else [int(x) for x in disc.split(",")]
    a.scenarios = [s for s in a.scenarios.split(",") if s]
    bad = set(a.scenarios) - set(SCENARIOS)
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
        for n in a.sizes:
            for s in SCENARIOS:
                if s in a.scenarios:
                    run_scenario(session, s, n)
        if a.sandbox_sweep and "rolling" in a.scenarios and "role" in a.scenarios:
            run_sweep(session, a.sandbox_sweep, a.sweep_size)
        if "module" in a.scenarios and not a.smoke and not a.no_direct:
            n = 100 if 100 in a.sizes else max(a.sizes)
            session.module_direct = run_module_direct(session, n)
        if a.discovery:
            run_discovery(session, a.discovery)
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
