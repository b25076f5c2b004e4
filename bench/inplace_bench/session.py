# Copyright (c) inplace.kubernetes maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""One benchmark run: its cluster and Ansible, and what it has measured so far (its rows, notes and
failures). The phases (scenarios.py, discovery.py, scale.py) add to it; results.py writes it."""

from __future__ import annotations

import os
import sys

from inplace_bench import fixtures, provenance
from inplace_bench.cluster import BenchCluster
from inplace_bench.playbooks import Playbooks, collections_path
from inplace_bench.venv import ensure_bench_venv


class Session:
    def __init__(self, args, tmp):
        self.args = args
        self.tmp = tmp
        self.rows = []  # the main table: every scenario at every N
        self.sweep = []  # rows of the sandbox sweep (rolling and role at one N, per sandbox delay)
        self.repeats = []  # further runs of the main table's module, bare client and role (--repeats)
        self.discovery = []  # k8s_inplace_upgrade_info alone, on Deployments and DaemonSets
        self.baseline = []  # a one-task playbook, started as the role's playbook is (role fixed cost)
        self.daemonset = []  # the module on a DaemonSet of one pod per node (scale)
        self.failures = []
        self.notes = []
        self.cluster = None
        self.playbooks = None
        self.driver_python = sys.executable
        self.bench_venv = None
        self.load_start = 0.0
        self.other_apiservers = 0
        self.versions = {}
        self.max_pods = "?"

    def start(self):
        self.load_start = os.getloadavg()[0]
        self.other_apiservers = provenance.count_processes("kube-apiserver")
        a = self.args
        coll_path = collections_path(self.tmp)
        if "core" in a.scenarios:
            self.bench_venv = ensure_bench_venv()
        self.start_cluster(a.nodes)
        self.max_pods = self.cluster.max_pods
        self.playbooks = Playbooks(self.tmp, coll_path, self.cluster.proxy_kubeconfig,
                                   self.driver_python, self.bench_venv)
        self.versions = provenance.versions(self.cluster.k8s.api, self.driver_python, self.bench_venv)

    def start_cluster(self, nodes):
        """A fresh control plane of `nodes` nodes (the one running stopped first), same cost model."""
        a = self.args
        self.stop()
        self.cluster = BenchCluster(os.path.join(self.tmp, "cluster-%d" % nodes), nodes,
                                    a.container_start, a.sandbox, a.pull_delay)
        self.cluster.start()  # assigned first, so stop() stops a control plane that failed half-way
        if self.playbooks:
            self.playbooks.proxy_kubeconfig = self.cluster.proxy_kubeconfig

    def stop(self):
        if self.cluster:
            self.cluster.stop()
            self.cluster = None

    @property
    def k8s(self):
        return self.cluster.k8s

    def fresh_deployment(self, n, tag):
        return fixtures.fresh_deployment(self.k8s, n, tag, self.args.readiness_delay)

    def fresh_workload(self, kind, n, tag):
        """(namespace, name, pods): a Deployment of n pods, or a DaemonSet on the cluster's n nodes."""
        if kind == "DaemonSet":
            return fixtures.fresh_daemonset(self.k8s, n, tag, self.args.readiness_delay)
        return self.fresh_deployment(n, tag)

    def delete_namespace(self, ns):
        note = fixtures.delete_namespace(self.k8s, ns)
        if note:
            self.notes.append(note)

    def fail(self, what, problems):
        self.failures.append("%s: %s" % (what, "; ".join(problems)))
