#!/usr/bin/env python
"""A current Kubernetes control plane on loopback, with nodes that run the real kubelet code.

etcd, kube-apiserver, kube-controller-manager and kube-scheduler are upstream's, built from the Go
module proxy at the versions pinned in ``versions.env``; every node is ``inplace-node``, the real
kubelet (kubemark's hollow kubelet with the real prober) against a fake CRI whose faults come from
``<state>/faults.json`` (see ``set_faults``). No container runtime, no Docker, no kubectl.
Everything listens on 127.0.0.1 on free ports; pod IPs are loopback addresses too.

Library::

    with LocalCluster("/tmp/state", nodes=3) as c:        # version=K8S_VERSION by default
        c.admin_kubeconfig, c.user_kubeconfig, c.server, c.ca_cert, c.nodes, c.version ...
        c.set_faults(pull_fail=["example.com/app:2"], crash=[...], sandbox_delay=2)
        c.stop_apiserver(); c.start_apiserver()        # same port, same etcd data

    LocalCluster.attach("/tmp/state")   # a cluster started by the CLI (reads cluster.json)

CLI::

    python tests/cluster/localcluster.py up --state-dir DIR [--nodes N] [--version 1.31.14]
    python tests/cluster/localcluster.py status --state-dir DIR
    python tests/cluster/localcluster.py down --state-dir DIR

Binaries: ``$INPLACE_K8S_BIN`` (a directory with the four binaries and etcd) or the cache that
``build-binaries.sh <version>`` fills (it runs when something is missing). The version is
``$INPLACE_K8S_VERSION`` or ``K8S_VERSION`` of versions.env.

Processes started by a LocalCluster object (not by ``up``) are stopped at interpreter exit, and a
small reaper process stops them by pid if the owning process dies without cleaning up.
"""

import argparse
import atexit
import base64
import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))


def pinned_versions(path=os.path.join(HERE, "versions.env")):
    """The KEY=value lines of versions.env (the one file that pins every version)."""
    out = {}
    with open(path) as f:
        for line in f:
            line = line.split("#", 1)[0].strip()
            if "=" in line:
                k, v = line.split("=", 1)
                out[k.strip()] = v.strip()
    return out


VERSIONS = pinned_versions()
K8S_VERSION = os.environ.get("INPLACE_K8S_VERSION") or VERSIONS["K8S_VERSION"]
CACHE_ROOT = os.environ.get("INPLACE_WORLD_CACHE") or os.path.join(
    os.path.expanduser("~"), ".cache", "inplace-kubernetes")
BINARIES = ("kube-apiserver", "kube-controller-manager", "kube-scheduler", "inplace-node")
USER_NAME = "inplace-user"
SERVICE_CIDR = "10.0.0.0/24"
CONTROL_PLANE = ("etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler")
# Fields of the node program's fault file (tests/cluster/world/fakecri/faults.go).
FAULT_FIELDS = ("pull_fail", "pull_delay", "crash", "crash_after", "start_delay", "unready",
                "sandbox_delay", "same_image")


class ClusterError(RuntimeError):
    pass


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def find_binaries(version=K8S_VERSION):
    """Paths of the binaries for `version`; builds them (build-binaries.sh) when missing or when
    the node program's sources changed."""
    bin_dir = os.environ.get("INPLACE_K8S_BIN")
    if bin_dir:
        etcd = os.path.join(bin_dir, "etcd")
        missing = [b for b in BINARIES + ("etcd",) if not os.access(os.path.join(bin_dir, b), os.X_OK)]
        if missing:
            raise ClusterError("INPLACE_K8S_BIN=%s lacks %s" % (bin_dir, ", ".join(missing)))
    else:
        script = os.path.join(HERE, "build-binaries.sh")
        subprocess.run(["bash", script, version], check=True, stdout=subprocess.DEVNULL)
        bin_dir = os.path.join(CACHE_ROOT, "k8s-" + version, "bin")
        etcd = os.path.join(CACHE_ROOT, "etcd-" + VERSIONS["ETCD_VERSION"], "bin", "etcd")
    return {b: os.path.join(bin_dir, b) for b in BINARIES} | {"etcd": etcd}


def pid_alive(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def pid_cmdline(pid):
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            return f.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def kill_pids(pids, marker=None, timeout=10.0):
    """SIGTERM, wait, then SIGKILL. Only pids whose command line contains marker (the state dir)
    are touched, so a recycled pid is never killed."""
    targets = [p for p in pids if p and pid_alive(p) and (marker is None or marker in pid_cmdline(p))]
    for p in targets:
        try:
            os.kill(p, signal.SIGTERM)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and any(pid_alive(p) for p in targets):
        for p in targets:  # reap our own children
            try:
                os.waitpid(p, os.WNOHANG)
            except ChildProcessError:
                pass
        time.sleep(0.05)
    for p in targets:
        if pid_alive(p):
            try:
                os.kill(p, signal.SIGKILL)
            except ProcessLookupError:
                pass
    for p in targets:
        try:
            os.waitpid(p, 0)
        except ChildProcessError:
            pass
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and any(pid_alive(p) for p in targets):
        time.sleep(0.05)


def write_file(path, text, mode=0o600):
    fd = os.open(path + ".tmp", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.replace(path + ".tmp", path)


def kubeconfig(server, ca_file, user, token):
    with open(ca_file, "rb") as f:
        ca = base64.b64encode(f.read()).decode()
    return json.dumps({
        "apiVersion": "v1", "kind": "Config",
        "clusters": [{"name": "inplace", "cluster": {"server": server,
                                                     "certificate-authority-data": ca}}],
        "users": [{"name": user, "user": {"token": token}}],
        "contexts": [{"name": "inplace-" + user, "context": {"cluster": "inplace", "user": user,
                                                             "namespace": "default"}}],
        "current-context": "inplace-" + user,
    }, indent=2) + "\n"


class LocalCluster:
    """See the module docstring. All state lives in state_dir (cluster.json describes it)."""

    def __init__(self, state_dir, nodes=3, version=None, faults=None):
        self.state_dir = os.path.abspath(state_dir)
        self.node_count = nodes
        self.nodes = ["inplace-node-%d" % i for i in range(nodes)]
        self.version = (version or K8S_VERSION).lstrip("v")
        self.base_faults = dict(faults or {})
        self.pids = {}
        self.argv = {}
        self.ports = {}
        self._procs = {}
        self._owned = False
        self._reaper = None
        self._atexit = False
        self.admin_token = self.user_token = None
        self.max_pods = 250
        self.current_faults = dict(self.base_faults)
        join = os.path.join
        self.pki_dir = join(self.state_dir, "pki")
        self.ca_cert = join(self.state_dir, "pki", "apiserver.crt")
        self.admin_kubeconfig = join(self.state_dir, "admin.kubeconfig")
        self.user_kubeconfig = join(self.state_dir, "user.kubeconfig")
        # x509 client authentication: the API server trusts client-ca.crt; cert-admin.crt/.key (CN
        # inplace-cert-admin, O system:masters) is signed by it, for the tests of client certificates.
        self.client_ca = join(self.state_dir, "pki", "client-ca.crt")
        self.client_cert = join(self.state_dir, "pki", "cert-admin.crt")
        self.client_key = join(self.state_dir, "pki", "cert-admin.key")
        self.state_file = join(self.state_dir, "cluster.json")
        self.faults_file = join(self.state_dir, "faults.json")
        self.server = None

    @property
    def components(self):
        """Process names in start order (stop is the reverse): the control plane, then a process
        per node (node-0 ... node-N-1)."""
        return list(CONTROL_PLANE) + ["node-%d" % i for i in range(len(self.nodes))]

    # ---------------------------------------------------------------- persistence
    def _save(self):
        write_file(self.state_file, json.dumps({
            "state_dir": self.state_dir, "server": self.server, "ca_cert": self.ca_cert,
            "admin_kubeconfig": self.admin_kubeconfig, "user_kubeconfig": self.user_kubeconfig,
            "admin_token": self.admin_token, "user_token": self.user_token,
            "nodes": self.nodes, "version": self.version, "faults_file": self.faults_file,
            "base_faults": self.base_faults, "ports": self.ports, "pids": self.pids, "argv": self.argv,
            "logs": {n: self._log(n) for n in self.components},
        }, indent=2) + "\n")

    @classmethod
    def attach(cls, state_dir):
        """A LocalCluster object for a cluster already running from state_dir (started by the
        CLI or another process). stop() on it stops that cluster."""
        with open(os.path.join(state_dir, "cluster.json")) as f:
            d = json.load(f)
        c = cls(state_dir, nodes=len(d["nodes"]), version=d["version"], faults=d.get("base_faults"))
        c.nodes = d["nodes"]
        for k in ("server", "admin_token", "user_token", "ports", "argv"):
            setattr(c, k, d[k])
        c.pids = dict(d["pids"].items())
        return c

    def _log(self, name):
        return os.path.join(self.state_dir, name + ".log")

    # ---------------------------------------------------------------- processes
    def _spawn(self, name):
        log = open(self._log(name), "ab")
        log.write(("\n==== %s starting %s\n" % (time.strftime("%H:%M:%S"),
                                                " ".join(self.argv[name]))).encode())
        log.flush()
        proc = subprocess.Popen(self.argv[name], stdout=log, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True,
                                cwd=self.state_dir)
        log.close()
        self._procs[name] = proc
        self.pids[name] = proc.pid
        self._save()
        return proc

    def _stop_one(self, name, timeout=10.0):
        pid = self.pids.get(name)
        if pid:
            kill_pids([pid], marker=self.state_dir, timeout=timeout)
        proc = self._procs.pop(name, None)
        if proc is not None:
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass
        self.pids[name] = None

    def _check_alive(self, name):
        proc = self._procs.get(name)
        if proc is not None and proc.poll() is not None:
            raise ClusterError("%s exited with %s; last log lines:\n%s"
                               % (name, proc.returncode, self.tail(name)))

    def tail(self, name, lines=25):
        try:
            with open(self._log(name), errors="replace") as f:
                return "".join(f.readlines()[-lines:])
        except OSError:
            return ""

    def _wait(self, what, check, timeout, names=()):
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            for n in names:
                self._check_alive(n)
            try:
                if check():
                    return
            except Exception as e:  # noqa: BLE001 - not ready yet
                last = e
            time.sleep(0.1)
        raise ClusterError("timed out after %ss waiting for %s (%s)%s" % (
            timeout, what, last, "".join("\n--- %s log:\n%s" % (n, self.tail(n)) for n in names)))

    def _https(self, path, token=None, verify=True, port=None):
        if verify:
            ctx = ssl.create_default_context(cafile=self.ca_cert)
        else:
            ctx = ssl._create_unverified_context()
        url = "https://127.0.0.1:%d%s" % (port or self.ports["kube-apiserver"], path)
        req = urllib.request.Request(url)
        if token:
            req.add_header("Authorization", "Bearer " + token)
        with urllib.request.urlopen(req, context=ctx, timeout=3) as r:
            return r.status, r.read()

    def _apiserver_ready(self):
        if not os.path.exists(self.ca_cert):
            return False
        status, body = self._https("/readyz", self.admin_token)
        return status == 200 and body.strip() == b"ok"

    # ---------------------------------------------------------------- setup
    def _client_certificates(self):
        """A client CA and a certificate it signs for a system:masters user (openssl, as for sa.key)."""
        ca_key = os.path.join(self.pki_dir, "client-ca.key")
        csr = os.path.join(self.pki_dir, "cert-admin.csr")
        quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", ca_key, "-out",
                        self.client_ca, "-days", "3650", "-subj", "/CN=inplace-client-ca"], check=True, **quiet)
        subprocess.run(["openssl", "req", "-newkey", "rsa:2048", "-nodes", "-keyout", self.client_key, "-out", csr,
                        "-subj", "/O=system:masters/CN=inplace-cert-admin"], check=True, **quiet)
        subprocess.run(["openssl", "x509", "-req", "-in", csr, "-CA", self.client_ca, "-CAkey", ca_key,
                        "-CAcreateserial", "-out", self.client_cert, "-days", "3650"], check=True, **quiet)

    def _prepare(self, bins):
        os.makedirs(self.pki_dir, exist_ok=True)
        os.chmod(self.state_dir, 0o700)
        sa_key, sa_pub = os.path.join(self.pki_dir, "sa.key"), os.path.join(self.pki_dir, "sa.pub")
        if not os.path.exists(sa_pub):
            subprocess.run(["openssl", "genrsa", "-out", sa_key, "2048"], check=True,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            subprocess.run(["openssl", "rsa", "-in", sa_key, "-pubout", "-out", sa_pub],
                           check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if not os.path.exists(self.client_cert):
            self._client_certificates()
        self.admin_token = secrets.token_hex(24)
        self.user_token = secrets.token_hex(24)
        tokens = os.path.join(self.pki_dir, "tokens.csv")
        write_file(tokens, '%s,inplace-admin,inplace-admin,"system:masters"\n%s,%s,%s\n' % (
            self.admin_token, self.user_token, USER_NAME, USER_NAME))
        for n in ("etcd-client", "etcd-peer", "kube-apiserver", "kube-controller-manager",
                  "kube-scheduler"):
            self.ports[n] = free_port()
        self.server = "https://127.0.0.1:%d" % self.ports["kube-apiserver"]
        etcd_url = "http://127.0.0.1:%d" % self.ports["etcd-client"]
        peer_url = "http://127.0.0.1:%d" % self.ports["etcd-peer"]
        sd = self.state_dir
        self.argv["etcd"] = [
            bins["etcd"], "--name", "inplace", "--data-dir", os.path.join(sd, "etcd"),
            "--listen-client-urls", etcd_url, "--advertise-client-urls", etcd_url,
            "--listen-peer-urls", peer_url, "--initial-advertise-peer-urls", peer_url,
            "--initial-cluster", "inplace=" + peer_url, "--initial-cluster-state", "new",
            "--initial-cluster-token", "inplace-" + secrets.token_hex(4),
            "--snapshot-count", "10000", "--log-level", "warn", "--logger", "zap",
        ]
        self.argv["kube-apiserver"] = [
            bins["kube-apiserver"],
            "--etcd-servers=" + etcd_url,
            "--bind-address=127.0.0.1", "--advertise-address=127.0.0.1",
            "--secure-port=%d" % self.ports["kube-apiserver"],
            "--cert-dir=" + self.pki_dir,
            "--token-auth-file=" + tokens,
            "--client-ca-file=" + self.client_ca,
            "--authorization-mode=Node,RBAC",
            "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
            "--service-account-key-file=" + sa_pub,
            "--service-account-signing-key-file=" + sa_key,
            "--api-audiences=https://kubernetes.default.svc.cluster.local",
            "--service-cluster-ip-range=" + SERVICE_CIDR,
            "--enable-admission-plugins=NamespaceLifecycle,LimitRanger,ServiceAccount,"
            "DefaultTolerationSeconds,Priority,ResourceQuota,NodeRestriction,"
            "MutatingAdmissionWebhook,ValidatingAdmissionWebhook",
            "--allow-privileged=true",
            "--profiling=false",
            "--endpoint-reconciler-type=none",
            "--v=1",
        ]
        self.argv["kube-controller-manager"] = [
            bins["kube-controller-manager"],
            "--kubeconfig=" + self.admin_kubeconfig,
            # The node lifecycle controller runs: the nodes are real kubelets that heartbeat, and it
            # removes the node.kubernetes.io/not-ready taint a kubelet registers with.
            "--controllers=*,-nodeipam",
            "--leader-elect=false",
            "--service-account-private-key-file=" + sa_key,
            "--root-ca-file=" + self.ca_cert,
            "--use-service-account-credentials=false",
            "--bind-address=127.0.0.1",
            "--secure-port=%d" % self.ports["kube-controller-manager"],
            "--cert-dir=" + os.path.join(self.pki_dir, "kcm"),
            "--concurrent-deployment-syncs=10", "--concurrent-replicaset-syncs=10",
            "--kube-api-qps=200", "--kube-api-burst=400",
            "--profiling=false", "--v=1",
        ]
        self.argv["kube-scheduler"] = [
            bins["kube-scheduler"],
            "--kubeconfig=" + self.admin_kubeconfig,
            "--leader-elect=false",
            "--bind-address=127.0.0.1",
            "--secure-port=%d" % self.ports["kube-scheduler"],
            "--cert-dir=" + os.path.join(self.pki_dir, "scheduler"),
            "--kube-api-qps=200", "--kube-api-burst=400",
            "--profiling=false", "--v=1",
        ]
        for i, node in enumerate(self.nodes):
            self.argv["node-%d" % i] = [
                bins["inplace-node"], "--kubeconfig=" + self.admin_kubeconfig, "--name=" + node,
                "--index=%d" % i, "--faults=" + self.faults_file, "--max-pods=%d" % self.max_pods,
                "--root-dir=" + os.path.join(sd, "nodes", node), "--v=1",
            ]

    def _write_kubeconfigs(self):
        write_file(self.admin_kubeconfig,
                   kubeconfig(self.server, self.ca_cert, "inplace-admin", self.admin_token))
        write_file(self.user_kubeconfig,
                   kubeconfig(self.server, self.ca_cert, USER_NAME, self.user_token))

    # ---------------------------------------------------------------- lifecycle
    def start(self, background=False):
        """Start everything and wait until the cluster is usable. background=True (the CLI
        ``up``) leaves the processes running after this process exits."""
        if os.path.exists(self.state_file):
            old = json.load(open(self.state_file))
            if any(p and pid_alive(p) and self.state_dir in pid_cmdline(p)
                   for p in old.get("pids", {}).values()):
                raise ClusterError("a cluster is already running from %s" % self.state_dir)
        t0 = time.monotonic()
        bins = find_binaries(self.version)
        os.makedirs(self.state_dir, exist_ok=True)
        self._owned = True
        if not background:
            if not self._atexit:
                atexit.register(self.stop)
                self._atexit = True
        try:
            self._prepare(bins)
            self._save()
            if not background:
                self._start_reaper()
            self._spawn("etcd")
            self._wait("etcd", self._etcd_ready, 30, ["etcd"])
            self._spawn("kube-apiserver")
            self._wait("kube-apiserver /readyz", self._apiserver_ready, 90,
                       ["etcd", "kube-apiserver"])
            self._write_kubeconfigs()
            self.set_faults()
            for n in self.components[2:]:
                self._spawn(n)
            self._wait_usable(90)
        except BaseException:
            self.stop()
            raise
        self.startup_seconds = time.monotonic() - t0
        return self

    def _etcd_ready(self):
        with urllib.request.urlopen("http://127.0.0.1:%d/health" % self.ports["etcd-client"],
                                    timeout=2) as r:
            return json.loads(r.read()).get("health") in ("true", True)

    def _component_healthy(self, name):
        status, body = self._https("/healthz", verify=False, port=self.ports[name])
        return status == 200

    def _wait_usable(self, timeout):
        names = self.components
        self._wait("kube-scheduler /healthz", lambda: self._component_healthy("kube-scheduler"),
                   timeout, names)
        self._wait("kube-controller-manager /healthz",
                   lambda: self._component_healthy("kube-controller-manager"), timeout, names)
        self._wait("the default ServiceAccount", lambda: self._https(
            "/api/v1/namespaces/default/serviceaccounts/default", self.admin_token)[0] == 200,
            timeout, names)
        self._wait("Ready nodes", self._nodes_ready, timeout, names)

    def _nodes_ready(self):
        body = self._https("/api/v1/nodes", self.admin_token)[1]
        ready = set()
        for n in json.loads(body)["items"]:
            conds = {c["type"]: c["status"] for c in n.get("status", {}).get("conditions", [])}
            taints = [t for t in n.get("spec", {}).get("taints") or []
                      if t["key"].startswith("node.kubernetes.io/")]
            if conds.get("Ready") == "True" and not taints:
                ready.add(n["metadata"]["name"])
        return set(self.nodes) <= ready

    def _start_reaper(self):
        self._reaper = subprocess.Popen(
            [sys.executable, os.path.abspath(__file__), "_reap", "--state-dir", self.state_dir,
             "--parent", str(os.getpid())],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True)

    def stop(self):
        """Stop every process of this cluster (reverse start order), by pid. Idempotent."""
        for name in reversed(self.components):
            if self.pids.get(name):
                self._stop_one(name)
        if os.path.isdir(self.state_dir) and self.pids:
            self._save()
        if self._reaper is not None:
            kill_pids([self._reaper.pid], timeout=3)
            try:
                self._reaper.wait(timeout=3)
            except subprocess.TimeoutExpired:
                pass
            self._reaper = None
        if self._atexit:
            atexit.unregister(self.stop)
            self._atexit = False

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def running(self):
        return {n: bool(p) and pid_alive(p) and self.state_dir in pid_cmdline(p)
                for n, p in self.pids.items()}

    # ---------------------------------------------------------------- fault injection
    def stop_apiserver(self, grace=3.0):
        """Stop kube-apiserver: SIGTERM, then SIGKILL after `grace` seconds (a 1.20 API server
        waits for open watches before exiting). etcd and the other processes keep running."""
        self._stop_one("kube-apiserver", timeout=grace)
        self._save()

    def start_apiserver(self, timeout=90):
        """Start kube-apiserver again with the same arguments: same port, same etcd data."""
        if self.pids.get("kube-apiserver") and pid_alive(self.pids["kube-apiserver"]):
            return
        self._spawn("kube-apiserver")
        self._wait("kube-apiserver /readyz", self._apiserver_ready, timeout, ["kube-apiserver"])

    def stop_controller_manager(self):
        """SIGSTOP kube-controller-manager: it keeps its connections and caches but acts on nothing
        until :meth:`continue_controller_manager` (it runs with --leader-elect=false, so it never loses a lease)."""
        os.kill(self.pids["kube-controller-manager"], signal.SIGSTOP)

    def continue_controller_manager(self):
        """SIGCONT kube-controller-manager after :meth:`stop_controller_manager`."""
        os.kill(self.pids["kube-controller-manager"], signal.SIGCONT)

    def restart_controller_manager(self, timeout=90):
        """Stop kube-controller-manager and start it again with the same arguments (its caches start empty)."""
        self._stop_one("kube-controller-manager")
        self._save()
        self._spawn("kube-controller-manager")
        self._wait("kube-controller-manager /healthz",
                   lambda: self._component_healthy("kube-controller-manager"), timeout, ["kube-controller-manager"])

    def set_faults(self, **fields):
        """Replace the faults of every node (the cluster's base faults plus `fields`; see
        tests/cluster/world/fakecri/faults.go). Nodes poll the file every 0.2 s; this returns once
        that time has passed. Image references are compared after normalisation."""
        unknown = sorted(set(fields) - set(FAULT_FIELDS))
        if unknown:
            raise ValueError("unknown fault fields: %s (known: %s)" % (unknown, FAULT_FIELDS))
        merged = dict(self.base_faults)
        merged.update({k: v for k, v in fields.items() if v is not None})
        write_file(self.faults_file, json.dumps(merged, indent=2, sort_keys=True) + "\n", mode=0o644)
        self.current_faults = merged
        if any(self.pids.get(n) for n in self.components[len(CONTROL_PLANE):]):
            time.sleep(0.5)  # nodes poll every 0.2 s
        return merged

    def server_version(self):
        """gitVersion of the API server's /version."""
        return json.loads(self._https("/version", self.admin_token)[1])["gitVersion"]


@contextlib.contextmanager
def provided(state_env, prefix, nodes, version=None, label="cluster"):
    """The running cluster whose state dir the environment variable ``state_env`` names, or a new one in a
    temp dir, stopped (and its state removed unless INPLACE_KEEP_STATE is set) when the block ends."""
    state = os.environ.get(state_env)
    if state:
        attached = LocalCluster.attach(state)
        down = [name for name, up in attached.running().items() if not up]
        if down:
            raise ClusterError("%s=%s: not running: %s" % (state_env, state, ", ".join(down)))
        yield attached
        return
    tmp = tempfile.mkdtemp(prefix=prefix)
    started = LocalCluster(tmp, nodes=nodes, version=version)
    started.start()
    try:
        yield started
    finally:
        started.stop()
        if os.environ.get("INPLACE_KEEP_STATE"):
            sys.stderr.write("%s state kept in %s\n" % (label, tmp))
        else:
            shutil.rmtree(tmp, ignore_errors=True)


def _reap(state_dir, parent):
    """Runs detached; when the owning process is gone, stop every pid listed in cluster.json."""
    while True:
        try:
            os.kill(parent, 0)
            alive = pid_alive(parent)
        except ProcessLookupError:
            alive = False
        except PermissionError:
            alive = True
        if not alive:
            break
        time.sleep(0.5)
    try:
        with open(os.path.join(state_dir, "cluster.json")) as f:
            pids = json.load(f).get("pids", {})
    except (OSError, ValueError):
        return
    order = list(pids.values())[::-1]
    kill_pids([p for p in order if p], marker=os.path.abspath(state_dir))


def main(argv=None):
    p = argparse.ArgumentParser(description="Local Kubernetes control plane with real-kubelet nodes")
    sub = p.add_subparsers(dest="cmd", required=True)
    up = sub.add_parser("up", help="start a cluster and leave it running")
    up.add_argument("--state-dir", required=True)
    up.add_argument("--nodes", type=int, default=3)
    up.add_argument("--version", default=None, help="Kubernetes version (default %s)" % K8S_VERSION)
    for name in ("down", "status"):
        sp = sub.add_parser(name)
        sp.add_argument("--state-dir", required=True)
    reap = sub.add_parser("_reap")
    reap.add_argument("--state-dir", required=True)
    reap.add_argument("--parent", type=int, required=True)
    args = p.parse_args(argv)

    if args.cmd == "_reap":
        _reap(args.state_dir, args.parent)
        return 0
    if args.cmd == "up":
        c = LocalCluster(args.state_dir, nodes=args.nodes, version=args.version)
        try:
            c.start(background=True)
        except ClusterError as e:
            sys.stderr.write("localcluster: %s\n" % e)
            return 1
        print(json.dumps({"server": c.server, "admin_kubeconfig": c.admin_kubeconfig,
                          "user_kubeconfig": c.user_kubeconfig, "state": c.state_file,
                          "startup_seconds": round(c.startup_seconds, 1)}, indent=2))
        return 0
    if not os.path.exists(os.path.join(args.state_dir, "cluster.json")):
        sys.stderr.write("localcluster: no cluster.json in %s\n" % args.state_dir)
        return 0 if args.cmd == "down" else 1
    c = LocalCluster.attach(args.state_dir)
    if args.cmd == "down":
        c.stop()
        print("stopped")
        return 0
    run = c.running()
    print(json.dumps({"server": c.server, "processes": {
        n: {"pid": c.pids.get(n), "running": run.get(n, False)} for n in c.components}}, indent=2))
    return 0 if all(run.get(n) for n in c.components) else 1


if __name__ == "__main__":
    sys.exit(main())
