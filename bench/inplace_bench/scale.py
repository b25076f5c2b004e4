# Copyright (c) inplace.kubernetes maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Scale (issue 17): the module and its bare-client reference on a large Deployment (discovery
measured on the same Deployment first), and the module on a DaemonSet of one pod per node, on the
run's own nodes or on a control plane of more nodes started for it (the run's is stopped then, so
this phase comes last)."""

from __future__ import annotations

from inplace_bench import log
from inplace_bench.discovery import discover
from inplace_bench.scenarios import run_scenario


def run_scale(session, sizes, discovery_sizes):
    """At each N of sizes: the module (after discovery on the same Deployment when N is one of
    discovery_sizes), then the bare client, into the main table."""
    def prelude(ns, name, n):
        if n in discovery_sizes:
            discover(session, ns, name, n)
    for n in sizes:
        if "module" in session.args.scenarios:
            run_scenario(session, "module", n, prelude=prelude)
        if "bare" in session.args.scenarios:
            run_scenario(session, "bare", n)


def run_daemonsets(session, node_counts):
    """For each node count: discovery on a DaemonSet of one pod per node, then the module on it."""
    for nodes in node_counts:
        if nodes != session.cluster.nodes:
            log("DaemonSet phase: a control plane of %d nodes replaces the run's" % nodes)
            session.start_cluster(nodes)
        run_scenario(session, "module", nodes, into=session.daemonset, kind="DaemonSet",
                     prelude=lambda ns, name, n: discover(session, ns, name, n, kind="DaemonSet"))
