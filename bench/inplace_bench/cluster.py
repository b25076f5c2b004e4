# Copyright (c) inplace.kubernetes maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The benchmark's own control plane (tests/cluster/localcluster.py), its cost model in the nodes'
fault layer, and the counting proxy with the kubeconfig that sends a driver through it."""

from __future__ import annotations

import json
import os
import sys
import types

from inplace_bench import CLUSTER_DIR, log
from inplace_bench.proxy import CountingProxy


class BenchCluster:
    """A LocalCluster of `nodes` real-kubelet nodes whose container starts cost `container_start`,
    whose new pods wait `sandbox` seconds for their sandbox and whose image pulls (of an image the
    node does not have yet) take `pull_delay` seconds, with a CountingProxy in front."""

    def __init__(self, state_dir, nodes, container_start, sandbox, pull_delay=0.0):
        self.state_dir, self.nodes = state_dir, nodes
        self.container_start = container_start
        self.sandbox = sandbox  # the nodes' current sandbox delay (fault layer, new pods only)
        self.pull_delay = pull_delay
        self.local = None
        self.proxy = None
        self.k8s = None
        self.proxy_kubeconfig = os.path.join(os.path.dirname(state_dir), "proxy.kubeconfig")

    def start(self):
        sys.path.insert(0, CLUSTER_DIR)
        from localcluster import LocalCluster
        from kubernetes import client, config

        log("starting the local control plane: %d nodes, container start %.2fs, sandbox %.2fs, pull %.2fs"
            % (self.nodes, self.container_start, self.sandbox, self.pull_delay))
        self.local = LocalCluster(self.state_dir, nodes=self.nodes)
        self.local.start()
        self.set_sandbox(self.sandbox)
        log("control plane up in %.1fs (%s, Kubernetes %s)" % (
            self.local.startup_seconds, self.local.server, self.local.version))
        cfg = client.Configuration()
        config.load_kube_config(config_file=self.local.admin_kubeconfig, client_configuration=cfg)
        cfg.connection_pool_maxsize = 16
        api = client.ApiClient(cfg)
        self.k8s = types.SimpleNamespace(api=api, core=client.CoreV1Api(api),
                                         apps=client.AppsV1Api(api))
        self.proxy = CountingProxy(self.local.server, self.local.ca_cert).start()
        with open(self.proxy_kubeconfig, "w") as f:
            json.dump({"apiVersion": "v1", "kind": "Config",
                       "clusters": [{"name": "bench", "cluster": {"server": self.proxy.url}}],
                       "users": [{"name": "admin", "user": {"token": self.local.admin_token}}],
                       "contexts": [{"name": "bench", "context": {"cluster": "bench",
                                                                  "user": "admin"}}],
                       "current-context": "bench"}, f)
        os.chmod(self.proxy_kubeconfig, 0o600)

    @property
    def admin_kubeconfig(self):
        """The kubeconfig that bypasses the proxy (set-up, checks, the runs without counting)."""
        return self.local.admin_kubeconfig

    @property
    def max_pods(self):
        return getattr(self.local, "max_pods", "?")

    def set_sandbox(self, seconds):
        """The nodes' faults: every container start costs container_start, every pull pull_delay, a
        new pod's sandbox `seconds` (a restart in place never pays it). Replaces the whole fault file."""
        self.local.set_faults(start_delay={"*": self.container_start}, sandbox_delay=seconds,
                              pull_delay={"*": self.pull_delay} if self.pull_delay else None)
        self.sandbox = seconds

    def stop(self):
        if self.proxy:
            self.proxy.stop()
        if self.local:
            self.local.stop()
