# Copyright (c) inplace.kubernetes maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Benchmark: in-place upgrades vs. a Deployment rolling update vs. pod-by-pod patch loops.

    make bench                     # == tests/run.sh exec python bench/run.py
    make bench-smoke               # == ... bench/run.py --smoke  (N=5, a few minutes, no timing asserted)
    python bench/run.py [--sizes 10,100,300] [--discovery 10,1000] [--scenarios rolling,seed,...]
                        [--nodes 10] [--container-start 1.0] [--sandbox 0] [--output FILE]

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

Every driver is a child process (ansible-playbook, or this file with `_drive`) whose requests go
through a counting reverse proxy on 127.0.0.1 (plain HTTP in, HTTPS to the API server); the
control plane's own components talk to the API server directly and are not counted. Peak memory is
the largest sum of RSS over the driver's process tree, sampled from /proc every 50 ms.

See bench/README.md for the definitions of every column.
"""

from __future__ import annotations

import argparse
import collections
import http.client
import http.server
import json
import math
import os
import platform
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import uuid

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BENCH_DIR = os.path.join(REPO, "bench")
CLUSTER_DIR = os.path.join(REPO, "tests", "cluster")
CALLBACK_DIR = os.path.join(BENCH_DIR, "callback_plugins")
DEFAULT_OUTPUT = os.path.join(BENCH_DIR, "results", "latest.md")

BENCH_VENV = os.environ.get("INPLACE_BENCH_VENV") or os.path.join(
    os.path.expanduser("~"), ".cache", "inplace-kubernetes", "bench-venv")
# kubernetes.core comes from the `ansible` community package (ansible-core 2.18, Python 3.11 OK).
BENCH_VENV_REQUIREMENTS = ("ansible==11.13.0", "kubernetes==37.0.2")

OLD_IMAGE = "nginx:1.19-alpine"
NEW_IMAGE = "nginx:1.21-alpine"
NEW_IMAGE_STATUS = "docker.io/library/nginx:1.21-alpine"  # as a containerd-like runtime (the fake CRI) reports it
CONTAINER = "app"

SCENARIOS = ("rolling", "seed", "module", "role", "core")
TITLES = {
    "rolling": "1 Deployment rolling update (25%/25%)",
    "seed": "2 seed: patch pods one by one",
    "module": "3 k8s_inplace_upgrade, one call",
    "role": "4 inplace_upgrade role, batch 25%",
    "core": "5 kubernetes.core json_patch loop + k8s_info poll",
}
SEED_POLL_SECONDS = 1.0
# What a restart in place costs beyond the container start itself, on the real kubelet: the PLEG relists
# every 1 s before the kubelet sees the new container running, and the exec readinessProbe
# (periodSeconds 1, tests/cluster/helpers.py) passes within one period after that. The model counts one
# second for both (each is 0-1 s).
KUBELET_LAG_SECONDS = 1.0
CORE_POLL_DELAY = 1


def log(msg):
    sys.stderr.write("[bench %s] %s\n" % (time.strftime("%H:%M:%S"), msg))
    sys.stderr.flush()


# ------------------------------------------------------------------------------------------------
# Counting reverse proxy: http://127.0.0.1:PORT -> https://API server, one count per request.

HOP_BY_HOP = {"connection", "keep-alive", "proxy-connection", "transfer-encoding", "te", "trailer",
              "upgrade", "proxy-authorization", "proxy-authenticate", "host"}


class CountingProxy:
    """A threaded plain-HTTP -> HTTPS reverse proxy that counts the requests passing through.
    Chunked (watch) responses are passed on chunk by chunk, unbuffered."""

    def __init__(self, upstream, ca_file):
        parsed = urllib.parse.urlsplit(upstream)
        self.upstream_host, self.upstream_port = parsed.hostname, parsed.port or 443
        self.ssl_context = ssl.create_default_context(cafile=ca_file)
        self.lock = threading.Lock()
        self.counts = collections.Counter()
        self.server = None
        self.thread = None

    def record(self, method, path):
        query = urllib.parse.urlsplit(path).query
        watch = "watch=true" in query.lower() or "/watch/" in path
        with self.lock:
            self.counts["total"] += 1
            self.counts["watch" if watch else method] += 1

    def reset(self):
        with self.lock:
            counts = dict(self.counts)
            self.counts.clear()
        return counts

    def start(self):
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # else header and body writes stall on delayed ACKs
            upstream_conn = None

            def log_message(self, *args):  # quiet
                pass

            def _conn(self):
                if self.upstream_conn is None:
                    self.upstream_conn = http.client.HTTPSConnection(
                        proxy.upstream_host, proxy.upstream_port, context=proxy.ssl_context,
                        timeout=3600)
                    self.upstream_conn.connect()
                    self.upstream_conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                return self.upstream_conn

            def _drop_conn(self):
                if self.upstream_conn is not None:
                    self.upstream_conn.close()
                    self.upstream_conn = None

            def _read_body(self):
                if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                    data = b""
                    while True:
                        size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                        if size == 0:
                            while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                                pass
                            return data
                        data += self.rfile.read(size)
                        self.rfile.readline()
                length = int(self.headers.get("Content-Length") or 0)
                return self.rfile.read(length) if length else None

            def _forward(self):
                proxy.record(self.command, self.path)
                body = self._read_body()
                headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
                if body is not None:
                    headers["Content-Length"] = str(len(body))
                resp = None
                for attempt in (0, 1):
                    reused = self.upstream_conn is not None
                    conn = self._conn()
                    try:
                        conn.request(self.command, self.path, body=body, headers=headers)
                        resp = conn.getresponse()
                        break
                    except (http.client.HTTPException, OSError) as exc:
                        self._drop_conn()
                        if attempt or not reused:
                            msg = ("bench proxy: upstream error: %s" % exc).encode()
                            self.send_response(502)
                            self.send_header("Content-Type", "text/plain")
                            self.send_header("Content-Length", str(len(msg)))
                            self.end_headers()
                            self.wfile.write(msg)
                            return
                no_body = self.command == "HEAD" or resp.status in (204, 304) or resp.status < 200
                stream = not no_body and (resp.chunked or resp.length is None)
                self.send_response_only(resp.status, resp.reason)
                for key, value in resp.getheaders():
                    low = key.lower()
                    if low in HOP_BY_HOP or (stream and low == "content-length"):
                        continue
                    self.send_header(key, value)
                if stream:
                    self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                try:
                    if stream:
                        while True:
                            data = resp.read1(65536)
                            if not data:
                                break
                            self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
                            self.wfile.flush()
                        self.wfile.write(b"0\r\n\r\n")
                    elif not no_body:
                        self.wfile.write(resp.read())  # one write: headers went out already
                    self.wfile.flush()
                except (OSError, http.client.HTTPException):
                    # client went away (a watch it stopped) or upstream broke: drop both sides
                    self._drop_conn()
                    self.close_connection = True
                    return
                if resp.will_close:
                    self._drop_conn()

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _forward

            def finish(self):
                super().finish()
                self._drop_conn()

        class Server(http.server.ThreadingHTTPServer):
            daemon_threads = True
            request_queue_size = 256

        self.server = Server(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, name="proxy", daemon=True)
        self.thread.start()
        return self

    @property
    def url(self):
        return "http://127.0.0.1:%d" % self.server.server_address[1]

    def stop(self):
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()


# ------------------------------------------------------------------------------------------------
# Peak memory of a process tree, sampled from /proc.

PAGE = os.sysconf("SC_PAGE_SIZE")


def _children(pid):
    out = []
    try:
        for tid in os.listdir("/proc/%d/task" % pid):
            try:
                with open("/proc/%d/task/%s/children" % (pid, tid)) as f:
                    out.extend(int(x) for x in f.read().split())
            except OSError:
                pass
    except OSError:
        pass
    return out


def _rss(pid):
    try:
        with open("/proc/%d/statm" % pid) as f:
            return int(f.read().split()[1]) * PAGE
    except (OSError, IndexError, ValueError):
        return 0


class TreeMemory(threading.Thread):
    """Samples the summed RSS of pid and all its descendants every `interval` seconds."""

    def __init__(self, pid, interval=0.05):
        super().__init__(daemon=True, name="mem-%d" % pid)
        self.pid, self.interval = pid, interval
        self.peak_tree = self.peak_single = 0
        self.max_procs = 0
        self._halt = threading.Event()

    def sample(self):
        pids, todo = [], [self.pid]
        while todo:
            p = todo.pop()
            pids.append(p)
            todo.extend(_children(p))
        sizes = [_rss(p) for p in pids]
        self.peak_tree = max(self.peak_tree, sum(sizes))
        self.peak_single = max([self.peak_single] + sizes)
        self.max_procs = max(self.max_procs, len([s for s in sizes if s]))

    def run(self):
        while not self._halt.is_set():
            self.sample()
            self._halt.wait(self.interval)

    def stop(self):
        self._halt.set()
        self.join()


def run_measured(argv, env, timeout, cwd=None):
    """Run argv, return (rc, stdout, stderr, wall seconds, TreeMemory)."""
    t0 = time.monotonic()
    proc = subprocess.Popen(argv, env=env, cwd=cwd, stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    mem = TreeMemory(proc.pid)
    mem.start()
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        err += "\nbench: killed after %ss" % timeout
    wall = time.monotonic() - t0
    mem.stop()
    return proc.returncode, out, err, wall, mem


# ------------------------------------------------------------------------------------------------
# Drivers of scenarios 1 and 2 (run as child processes: `python bench/run.py _drive ...`).

def _api(kubeconfig):
    from kubernetes import client, config
    cfg = client.Configuration()
    config.load_kube_config(config_file=kubeconfig, client_configuration=cfg)
    api = client.ApiClient(cfg)
    return client.CoreV1Api(api), client.AppsV1Api(api)


def _pod_ready(pod):
    conds = {c.type: c.status for c in (pod.status.conditions or [])}
    return pod.metadata.deletion_timestamp is None and conds.get("Ready") == "True"


def _pod_upgraded(pod, status_image):
    cs = [c for c in (pod.status.container_statuses or []) if c.name == CONTAINER]
    return bool(cs and cs[0].image == status_image and cs[0].ready and cs[0].state
                and cs[0].state.running and _pod_ready(pod))


def drive_rolling(a):
    from kubernetes import watch
    core, apps = _api(a.kubeconfig)
    t0 = time.monotonic()
    dep = apps.patch_namespaced_deployment(a.name, a.namespace, {"spec": {"template": {"spec": {
        "containers": [{"name": CONTAINER, "image": a.image}]}}}})
    gen, replicas = dep.metadata.generation, dep.spec.replicas
    selector = ",".join("%s=%s" % kv for kv in sorted(dep.spec.selector.match_labels.items()))
    deadline = time.monotonic() + a.timeout
    done = False
    while not done and time.monotonic() < deadline:  # like `kubectl rollout status`: a watch
        w = watch.Watch()
        for ev in w.stream(apps.list_namespaced_deployment, a.namespace,
                           field_selector="metadata.name=" + a.name,
                           timeout_seconds=max(1, int(deadline - time.monotonic()))):
            s = ev["object"].status
            if ((s.observed_generation or 0) >= gen and s.updated_replicas == replicas
                    and s.ready_replicas == replicas and s.available_replicas == replicas
                    and s.replicas == replicas and not s.unavailable_replicas):
                done = True
                w.stop()
                break
    status_done = time.monotonic() - t0
    # ...and no old pod left (terminating ones included)
    while done:
        pods = core.list_namespaced_pod(a.namespace, label_selector=selector).items
        if len(pods) == replicas and all(
                p.spec.containers[0].image == a.image and _pod_ready(p) for p in pods):
            break
        if time.monotonic() > deadline:
            done = False
            break
        time.sleep(0.25)
    print(json.dumps({"ok": done, "status_complete_seconds": round(status_done, 2)}))
    return 0 if done else 1


def drive_parallel(a):
    """Reference for the module-overhead target (not a scenario): the least a client can do, i.e.
    patch every pod from 16 threads, then list the pods every 50 ms until all are upgraded."""
    from concurrent.futures import ThreadPoolExecutor
    core = _api(a.kubeconfig)[0]
    core.api_client.configuration.connection_pool_maxsize = 16
    names = [p.metadata.name for p in
             core.list_namespaced_pod(a.namespace, label_selector=a.selector).items]
    t0 = time.monotonic()

    def patch(name):
        core.patch_namespaced_pod(name, a.namespace, [
            {"op": "replace", "path": "/spec/containers/0/image", "value": a.image}],
            _content_type="application/json-patch+json")
    with ThreadPoolExecutor(16) as pool:
        list(pool.map(patch, names))
    t1 = time.monotonic()
    deadline = t0 + a.timeout
    while time.monotonic() < deadline:
        pods = core.list_namespaced_pod(a.namespace, label_selector=a.selector).items
        if len(pods) == a.replicas and all(_pod_upgraded(p, a.status_image) for p in pods):
            print(json.dumps({"ok": True, "patch_seconds": round(t1 - t0, 2),
                              "seconds": round(time.monotonic() - t0, 2)}))
            return 0
        time.sleep(0.05)
    print(json.dumps({"ok": False}))
    return 1


def drive_seed(a):
    core = _api(a.kubeconfig)[0]
    pods = core.list_namespaced_pod(a.namespace, label_selector=a.selector).items
    for p in pods:
        core.patch_namespaced_pod(p.metadata.name, a.namespace, [
            {"op": "replace", "path": "/spec/containers/0/image", "value": a.image}],
            _content_type="application/json-patch+json")
    deadline = time.monotonic() + a.timeout
    polls = 0
    while time.monotonic() < deadline:
        polls += 1
        pods = core.list_namespaced_pod(a.namespace, label_selector=a.selector).items
        if len(pods) == a.replicas and all(_pod_upgraded(p, a.status_image) for p in pods):
            print(json.dumps({"ok": True, "polls": polls}))
            return 0
        time.sleep(SEED_POLL_SECONDS)
    print(json.dumps({"ok": False, "polls": polls}))
    return 1


# ------------------------------------------------------------------------------------------------
# Environment: bench venv (kubernetes.core), collection path, versions.

def ensure_bench_venv():
    py = os.path.join(BENCH_VENV, "bin", "python")
    stamp = os.path.join(BENCH_VENV, ".bench-requirements")
    want = " ".join(BENCH_VENV_REQUIREMENTS) + "\n"
    try:
        with open(stamp) as f:
            if f.read() == want and os.access(os.path.join(BENCH_VENV, "bin", "ansible-playbook"),
                                              os.X_OK):
                return BENCH_VENV
    except OSError:
        pass
    log("creating %s (%s), once; takes a few minutes" % (BENCH_VENV, ", ".join(BENCH_VENV_REQUIREMENTS)))
    base = shutil.which("python3.11") or getattr(sys, "_base_executable", None) or sys.executable
    if os.path.exists(BENCH_VENV):
        shutil.rmtree(BENCH_VENV)
    os.makedirs(os.path.dirname(BENCH_VENV), exist_ok=True)
    subprocess.run([base, "-m", "venv", BENCH_VENV], check=True)
    subprocess.run([py, "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
                   + list(BENCH_VENV_REQUIREMENTS), check=True)
    with open(stamp, "w") as f:
        f.write(want)
    return BENCH_VENV


def collections_path(tmp):
    path = os.environ.get("INPLACE_COLLECTIONS_PATH")
    if path:
        return path
    root = os.path.join(tmp, "collections")
    os.makedirs(os.path.join(root, "ansible_collections", "inplace"))
    os.symlink(REPO, os.path.join(root, "ansible_collections", "inplace", "kubernetes"))
    return root


def py_versions(python, code):
    try:
        return subprocess.run([python, "-c", code], capture_output=True, text=True,
                              timeout=60, check=False).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        return "?"


def count_processes(name):
    """How many processes run the executable `name` (read-only look at /proc)."""
    n = 0
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                with open("/proc/%s/comm" % pid) as f:
                    n += f.read().strip() == name
            except OSError:
                pass
    return n


def machine_info():
    cpu = "?"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem = "?"
    try:
        with open("/proc/meminfo") as f:
            kb = int(f.readline().split()[1])
            mem = "%.1f GiB" % (kb / 1024 / 1024)
    except (OSError, ValueError, IndexError):
        pass
    return {"nproc": os.cpu_count(), "memory": mem, "cpu": cpu,
            "os": "%s %s" % (platform.system(), platform.release()),
            "python": platform.python_version()}


# ------------------------------------------------------------------------------------------------
# Physical limits.

def restart_seconds(args):
    """The modelled cost of one container (re)start: the fault layer's start delay plus the kubelet's lag."""
    return args.container_start + KUBELET_LAG_SECONDS


def rolling_waves(n, surge_pct=25, unavail_pct=25):
    """Waves of pod starts a 25%/25% rolling update needs, in the deployment controller's own
    arithmetic (surge rounded up, unavailable rounded down, counts from ReplicaSet specs), if every
    new pod took exactly one sandbox + container start and the controllers reacted instantly."""
    surge = math.ceil(n * surge_pct / 100)
    unavail = math.floor(n * unavail_pct / 100)
    if surge == 0 and unavail == 0:
        unavail = 1
    old, new, new_ready, waves = n, 0, 0, 0
    while True:
        for _step in range(4 * n + 4):  # settle scale-up / scale-down instantly
            changed = False
            up = min(n, n + surge - old) if old + new < n + surge else new
            if up > new:
                new, changed = up, True
            max_down = (old + new) - (n - unavail) - (new - new_ready)
            if max_down > 0 and old > 0:
                old, changed = old - min(old, max_down), True
            if not changed:
                break
        if new_ready == n and old == 0:
            return waves
        if new_ready == new:
            raise RuntimeError("rolling update model stuck at old=%d new=%d" % (old, new))
        new_ready = new
        waves += 1


def role_batches(n, pct=25):
    size = max(1, math.ceil(n * pct / 100))
    return math.ceil(n / size)


# ------------------------------------------------------------------------------------------------
# The benchmark.

class Bench:
    def __init__(self, args, tmp):
        self.args = args
        self.tmp = tmp
        self.rows = []
        self.discovery = []
        self.failures = []
        self.notes = []
        self.cluster = None
        self.proxy = None
        self.k8s = None
        self.coll_path = None
        self.driver_python = sys.executable
        self.bench_venv = None
        self.load_start = 0.0
        self.other_apiservers = 0
        self.sandbox = args.sandbox  # the nodes' current sandbox delay (fault layer, new pods only)
        self.sweep = []  # rows of the sandbox sweep (rolling and role at one N, per sandbox delay)

    # -------------------------------------------------------------- setup
    def start(self):
        self.load_start = os.getloadavg()[0]
        self.other_apiservers = count_processes("kube-apiserver")
        sys.path.insert(0, CLUSTER_DIR)
        from localcluster import LocalCluster
        import types
        from kubernetes import client, config

        a = self.args
        self.coll_path = collections_path(self.tmp)
        if "core" in a.scenarios:
            self.bench_venv = ensure_bench_venv()
        log("starting the local control plane: %d nodes, container start %.2fs, sandbox %.2fs"
            % (a.nodes, a.container_start, a.sandbox))
        self.cluster = LocalCluster(os.path.join(self.tmp, "cluster"), nodes=a.nodes)
        self.cluster.start()
        self.set_sandbox(a.sandbox)
        log("control plane up in %.1fs (%s, Kubernetes %s)" % (
            self.cluster.startup_seconds, self.cluster.server, self.cluster.version))
        cfg = client.Configuration()
        config.load_kube_config(config_file=self.cluster.admin_kubeconfig, client_configuration=cfg)
        cfg.connection_pool_maxsize = 16
        api = client.ApiClient(cfg)
        self.k8s = types.SimpleNamespace(api=api, core=client.CoreV1Api(api),
                                         apps=client.AppsV1Api(api))
        self.proxy = CountingProxy(self.cluster.server, self.cluster.ca_cert).start()
        self.proxy_kubeconfig = os.path.join(self.tmp, "proxy.kubeconfig")
        with open(self.proxy_kubeconfig, "w") as f:
            json.dump({"apiVersion": "v1", "kind": "Config",
                       "clusters": [{"name": "bench", "cluster": {"server": self.proxy.url}}],
                       "users": [{"name": "admin", "user": {"token": self.cluster.admin_token}}],
                       "contexts": [{"name": "bench", "context": {"cluster": "bench",
                                                                  "user": "admin"}}],
                       "current-context": "bench"}, f)
        os.chmod(self.proxy_kubeconfig, 0o600)
        self.versions = self.collect_versions()

    def set_sandbox(self, seconds):
        """The nodes' faults: every container start costs --container-start, a new pod's sandbox
        `seconds` (a restart in place never pays it). Replaces the whole fault file."""
        self.cluster.set_faults(start_delay={"*": self.args.container_start}, sandbox_delay=seconds)
        self.sandbox = seconds

    def stop(self):
        if self.proxy:
            self.proxy.stop()
        if self.cluster:
            self.cluster.stop()

    def collect_versions(self):
        v = {}
        try:
            from kubernetes import client
            v["kubernetes server"] = client.VersionApi(self.k8s.api).get_code().git_version
        except Exception as exc:  # noqa: BLE001
            v["kubernetes server"] = "? (%s)" % exc
        v["driver python / kubernetes client / ansible-core (scenarios 1-4)"] = py_versions(
            self.driver_python, "import platform, kubernetes, ansible.release as r; "
            "print(platform.python_version(), '/', kubernetes.__version__, '/', r.__version__)")
        if self.bench_venv:
            py = os.path.join(self.bench_venv, "bin", "python")
            v["bench venv python / kubernetes client / ansible-core / ansible (scenario 5)"] = py_versions(
                py, "import platform, kubernetes, ansible.release as r, importlib.metadata as m; "
                "print(platform.python_version(), '/', kubernetes.__version__, '/', r.__version__, "
                "'/', m.version('ansible'))")
            v["kubernetes.core"] = py_versions(
                py, "import json, os, ansible_collections.kubernetes.core as c; "
                "p = os.path.join(list(c.__path__)[0], 'MANIFEST.json'); "
                "print(json.load(open(p))['collection_info']['version'])")
        try:
            import yaml
            with open(os.path.join(REPO, "galaxy.yml")) as f:
                v["inplace.kubernetes"] = str(yaml.safe_load(f).get("version"))
            rev = subprocess.run(["git", "-C", REPO, "rev-parse", "--short", "HEAD"],
                                 capture_output=True, text=True, check=False).stdout.strip()
            if rev:
                dirty = subprocess.run(
                    ["git", "-C", REPO, "status", "--porcelain", "--", "plugins", "roles", "meta"],
                    capture_output=True, text=True, check=False).stdout.strip()
                v["inplace.kubernetes"] += " (git %s%s)" % (
                    rev, ", with uncommitted changes in plugins/roles/meta" if dirty else "")
        except Exception:  # noqa: BLE001
            pass
        return v

    # -------------------------------------------------------------- workloads
    def fresh_deployment(self, n, tag):
        from helpers import create_deployment, wait_for
        ns = "bench-%s-%d-%s" % (tag, n, uuid.uuid4().hex[:4])
        name = "web"
        core, apps = self.k8s.core, self.k8s.apps
        core.create_namespace({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
        # No token Secret since Kubernetes 1.24: admission only needs the default ServiceAccount.
        wait_for(lambda: core.read_namespaced_service_account("default", ns), 60,
                 message="default ServiceAccount in %s" % ns)
        t0 = time.monotonic()
        pods = create_deployment(self.k8s, ns, name, replicas=n,
                                 containers=[(CONTAINER, OLD_IMAGE)],
                                 timeout=max(120, n * 0.6))

        def settled():
            d = apps.read_namespaced_deployment(name, ns)
            s = d.status
            return ((s.observed_generation or 0) >= d.metadata.generation
                    and s.available_replicas == n and s.updated_replicas == n and s)
        wait_for(settled, 60, message="Deployment %s/%s available" % (ns, name))
        log("  %s/%s: %d pods Ready in %.1fs" % (ns, name, n, time.monotonic() - t0))
        return ns, name, pods

    def delete_namespace(self, ns):
        from helpers import wait_for
        core = self.k8s.core
        try:
            self.k8s.apps.delete_namespaced_deployment("web", ns, propagation_policy="Background")
        except Exception:  # noqa: BLE001
            pass
        try:
            core.delete_namespace(ns, propagation_policy="Background")
        except Exception:  # noqa: BLE001
            pass
        try:  # keep the next measurement clean: no pods of this one left on the nodes
            wait_for(lambda: not core.list_namespaced_pod(ns).items, 180, interval=0.5,
                     message="pods of %s gone" % ns)
        except AssertionError as exc:
            self.notes.append("cleanup: %s" % exc)

    def inspect(self, ns, before):
        """What happened to the pods (by UID) and to the Deployment's template."""
        core, apps = self.k8s.core, self.k8s.apps
        pods = core.list_namespaced_pod(ns, label_selector="app=web").items
        by_uid_before = {p.metadata.uid: p for p in before}
        after = {p.metadata.uid: p for p in pods}
        rescheduled = sum(1 for uid in by_uid_before if uid not in after)
        ip_changed = sum(1 for uid, p in by_uid_before.items()
                         if uid not in after or after[uid].status.pod_ip != p.status.pod_ip)
        node_changed = sum(1 for uid, p in by_uid_before.items()
                           if uid in after and after[uid].spec.node_name != p.spec.node_name)
        new_image = sum(1 for p in pods if p.spec.containers[0].image == NEW_IMAGE
                        and _pod_upgraded(p, NEW_IMAGE_STATUS))
        terminating = sum(1 for p in pods if p.metadata.deletion_timestamp)
        dep = apps.read_namespaced_deployment("web", ns)
        rss = apps.list_namespaced_replica_set(ns, label_selector="app=web").items
        return {
            "pods": len(pods), "ready_new": new_image, "terminating": terminating,
            "rescheduled": rescheduled, "ip_changed": ip_changed, "node_changed": node_changed,
            "template_new": dep.spec.template.spec.containers[0].image == NEW_IMAGE,
            "paused": bool(dep.spec.paused), "replicasets": len(rss),
        }

    # -------------------------------------------------------------- ansible
    def ansible_env(self, results_file, bench_venv=False, kubeconfig=None):
        env = dict(os.environ)
        for k in list(env):
            if k.startswith("K8S_AUTH_") or k in ("KUBECONFIG",):
                del env[k]
        env.update({
            "K8S_AUTH_KUBECONFIG": kubeconfig or self.proxy_kubeconfig,
            "ANSIBLE_CALLBACK_PLUGINS": CALLBACK_DIR,
            "ANSIBLE_CALLBACKS_ENABLED": "bench_results",
            "BENCH_RESULTS_FILE": results_file,
            "ANSIBLE_RETRY_FILES_ENABLED": "False",
            "ANSIBLE_NOCOLOR": "1",
            "ANSIBLE_LOCALHOST_WARNING": "False",
            "ANSIBLE_INVENTORY_UNPARSED_WARNING": "False",
            "ANSIBLE_DEPRECATION_WARNINGS": "False",
            "ANSIBLE_LOCAL_TEMP": os.path.join(self.tmp, "ansible-tmp"),
            "ANSIBLE_REMOTE_TMP": os.path.join(self.tmp, "ansible-tmp"),
            "PYTHONDONTWRITEBYTECODE": "1",
        })
        if bench_venv:
            env.pop("ANSIBLE_COLLECTIONS_PATH", None)
            env.pop("ANSIBLE_COLLECTIONS_PATHS", None)
            env.pop("VIRTUAL_ENV", None)
            env["PATH"] = os.path.join(self.bench_venv, "bin") + os.pathsep + env.get("PATH", "")
        else:
            env["ANSIBLE_COLLECTIONS_PATH"] = self.coll_path
        return env

    def run_playbook(self, plays, bench_venv=False, kubeconfig=None, timeout=900):
        import yaml
        fd, pb = tempfile.mkstemp(prefix="play-", suffix=".yml", dir=self.tmp)
        with os.fdopen(fd, "w") as f:
            yaml.safe_dump(plays, f, sort_keys=False)
        results = pb + ".results.jsonl"
        if bench_venv:
            exe = os.path.join(self.bench_venv, "bin", "ansible-playbook")
        else:
            exe = os.path.join(os.path.dirname(self.driver_python), "ansible-playbook")
            if not os.access(exe, os.X_OK):
                exe = shutil.which("ansible-playbook")
        rc, out, err, wall, mem = run_measured([exe, "-i", "localhost,", pb],
                                               self.ansible_env(results, bench_venv, kubeconfig),
                                               timeout, cwd=self.tmp)
        records = []
        if os.path.exists(results):
            with open(results) as f:
                records = [json.loads(line) for line in f if line.strip()]
        return rc, out, err, wall, mem, records

    def play(self, tasks, python, roles=None):
        p = {"name": "bench", "hosts": "localhost", "connection": "local", "gather_facts": False,
             "vars": {"ansible_python_interpreter": python}}
        if roles:
            p["roles"] = roles
        if tasks:
            p["tasks"] = tasks
        return [p]

    # -------------------------------------------------------------- scenarios
    def scenario_cmd(self, scenario, n, ns, name, timeout):
        """(kind, argv-or-plays) for one scenario."""
        target = {"kind": "Deployment", "name": name, "namespace": ns}
        if scenario == "rolling":
            return "drive", [self.driver_python, os.path.abspath(__file__), "_drive", "rolling",
                             "--kubeconfig", self.proxy_kubeconfig, "--namespace", ns,
                             "--name", name, "--image", NEW_IMAGE, "--timeout", str(timeout)]
        if scenario == "seed":
            return "drive", [self.driver_python, os.path.abspath(__file__), "_drive", "seed",
                             "--kubeconfig", self.proxy_kubeconfig, "--namespace", ns,
                             "--selector", "app=web", "--replicas", str(n), "--image", NEW_IMAGE,
                             "--status-image", NEW_IMAGE_STATUS, "--timeout", str(timeout)]
        if scenario == "module":
            return "play", self.play([{
                "name": "upgrade", "inplace.kubernetes.k8s_inplace_upgrade": dict(
                    target, containers={CONTAINER: NEW_IMAGE}, wait=True, wait_timeout=timeout)}],
                self.driver_python)
        if scenario == "role":
            return "play", self.play(None, self.driver_python, roles=[{
                "role": "inplace.kubernetes.inplace_upgrade",
                "vars": {"inplace_upgrade_kind": "Deployment", "inplace_upgrade_name": name,
                         "inplace_upgrade_namespace": ns,
                         "inplace_upgrade_containers": {CONTAINER: NEW_IMAGE},
                         "inplace_upgrade_batch_size": "25%",
                         "inplace_upgrade_wait_timeout": timeout}}])
        if scenario == "core":
            py = os.path.join(self.bench_venv, "bin", "python")
            done = (
                "(pods.resources | length) == %(n)d and "
                "(pods.resources | selectattr('metadata.deletionTimestamp', 'undefined')"
                " | selectattr('status.containerStatuses', 'defined')"
                " | map(attribute='status.containerStatuses') | flatten"
                " | selectattr('image', 'equalto', '%(img)s') | selectattr('ready', 'equalto', true)"
                " | list | length) == %(n)d and "
                "(pods.resources | selectattr('status.conditions', 'defined')"
                " | map(attribute='status.conditions') | flatten"
                " | selectattr('type', 'equalto', 'Ready') | selectattr('status', 'equalto', 'True')"
                " | list | length) == %(n)d") % {"n": n, "img": NEW_IMAGE_STATUS}
            return "play", self.play([
                {"name": "list the pods", "kubernetes.core.k8s_info": {
                    "kind": "Pod", "namespace": ns, "label_selectors": ["app=web"]},
                 "register": "before"},
                {"name": "patch each pod's image", "kubernetes.core.k8s_json_patch": {
                    "kind": "Pod", "namespace": ns, "name": "{{ item }}",
                    "patch": [{"op": "replace", "path": "/spec/containers/0/image",
                               "value": NEW_IMAGE}]},
                 "loop": "{{ before.resources | map(attribute='metadata.name') | list }}"},
                {"name": "wait until every pod is Ready on the new image",
                 "kubernetes.core.k8s_info": {"kind": "Pod", "namespace": ns,
                                              "label_selectors": ["app=web"]},
                 "register": "pods", "until": done, "retries": int(timeout / CORE_POLL_DELAY),
                 "delay": CORE_POLL_DELAY},
            ], py)
        raise ValueError(scenario)

    def run_sweep(self, delays, n):
        """Rolling update and role at one N for each sandbox delay: how dear must a new pod be before
        the in-place role, at the same unavailability budget, beats the rolling update?"""
        try:
            for delay in delays:
                log("sandbox sweep: new pods' sandbox now %.2fs (node fault layer)" % delay)
                self.set_sandbox(delay)
                for scenario in ("rolling", "role"):
                    self.run_scenario(scenario, n, into=self.sweep)
        finally:
            self.set_sandbox(self.args.sandbox)

    def run_scenario(self, scenario, n, into=None):
        a = self.args
        into = self.rows if into is None else into
        if scenario == "role" and not os.path.isdir(os.path.join(REPO, "roles", "inplace_upgrade",
                                                                 "tasks")):
            self.notes.append("role scenario skipped: roles/inplace_upgrade/tasks does not exist")
            self.rows.append({"scenario": scenario, "n": n, "skipped": "role not present"})
            return
        log("N=%d %s: preparing" % (n, TITLES[scenario]))
        ns, name, pods = self.fresh_deployment(n, scenario)
        try:
            before = self.k8s.core.list_namespaced_pod(ns, label_selector="app=web").items
            kind, cmd = self.scenario_cmd(scenario, n, ns, name, a.timeout)
            self.proxy.reset()
            log("N=%d %s: running" % (n, TITLES[scenario]))
            extra = {}
            if kind == "drive":
                rc, out, err, wall, mem = run_measured(cmd, dict(os.environ), a.timeout + 60)
                records = []
                try:
                    extra = json.loads(out.strip().splitlines()[-1])
                except (ValueError, IndexError):
                    pass
            else:
                rc, out, err, wall, mem, records = self.run_playbook(
                    cmd, bench_venv=(scenario == "core"), timeout=a.timeout + 120)
            counts = self.proxy.reset()
            time.sleep(0.2)
            state = self.inspect(ns, before)
            row = self.make_row(scenario, n, rc, wall, mem, counts, state, records, extra)
            if row["problems"]:
                self.failures.append("N=%d %s: %s" % (n, scenario, "; ".join(row["problems"])))
                log("N=%d %s: FAILED: %s\n--- stdout tail:\n%s\n--- stderr tail:\n%s" % (
                    n, scenario, "; ".join(row["problems"]), out[-3000:], err[-3000:]))
            log("N=%d %s: %.1fs, %d requests, rescheduled %d, IPs changed %d" % (
                n, scenario, wall, counts.get("total", 0), state["rescheduled"],
                state["ip_changed"]))
            into.append(row)
        finally:
            self.delete_namespace(ns)

    def make_row(self, scenario, n, rc, wall, mem, counts, state, records, extra):
        a = self.args
        delay = restart_seconds(a)
        if scenario == "rolling":
            batches = rolling_waves(n)
            delay += self.sandbox  # every wave starts new pods, which wait for their sandbox
        elif scenario == "role":
            batches = role_batches(n)
        else:
            batches = 1
        problems = []
        if rc != 0:
            failed = [r for r in records if r["status"] == "failed"]
            msg = failed[-1]["result"].get("msg") if failed else None
            problems.append("driver exited %s%s" % (rc, (": %s" % msg) if msg else ""))
        if state["pods"] != n or state["ready_new"] != n:
            problems.append("%d/%d pods Ready on %s (%d pods, %d terminating)" % (
                state["ready_new"], n, NEW_IMAGE, state["pods"], state["terminating"]))
        if scenario != "rolling":
            if state["rescheduled"] or state["ip_changed"] or state["node_changed"]:
                problems.append("pods recreated/moved: %d rescheduled, %d IPs changed" % (
                    state["rescheduled"], state["ip_changed"]))
        if scenario in ("module", "role") and not state["template_new"]:
            problems.append("Deployment template not updated (sync_template)")
        if scenario in ("module", "role") and state["replicasets"] != 1:
            problems.append("%d ReplicaSets (expected the original one only)" % state["replicasets"])
        if state["paused"]:
            problems.append("Deployment left paused")
        timed = [(r["task"].split(" : ", 1)[-1], r.get("seconds") or 0.0) for r in records]
        module_result = None
        for r in records:
            if r["action"].endswith("k8s_inplace_upgrade") and r["status"] == "ok":
                module_result = r["result"]
        row = {
            "scenario": scenario, "n": n, "wall": wall, "batches": batches, "sandbox": self.sandbox,
            "limit": batches * delay, "requests": counts.get("total", 0), "counts": counts,
            "rescheduled": state["rescheduled"], "ip_changed": state["ip_changed"],
            "template_new": state["template_new"], "replicasets": state["replicasets"],
            "rss_tree": mem.peak_tree, "rss_single": mem.peak_single, "procs": mem.max_procs,
            "problems": problems, "extra": extra,
        }
        if timed:
            row["task_results"] = len(timed)
            row["task_seconds"] = sum(sec for _t, sec in timed)
            row["slowest_tasks"] = sorted(timed, key=lambda x: -x[1])[:4]
        if module_result is not None:
            row["module_result"] = {k: module_result.get(k) for k in (
                "seconds", "api_requests", "batches", "changed", "patched", "template_sync",
                "sync_steps", "msg") if k in module_result}
            row["module_seconds"] = module_result.get("seconds")
            row["module_api_requests"] = module_result.get("api_requests")
        return row

    # -------------------------------------------------------------- discovery
    def run_discovery(self, sizes):
        ns_list = []
        try:
            for n in sizes:
                log("discovery: N=%d" % n)
                ns, name = self.fresh_deployment(n, "disc")[:2]
                ns_list.append(ns)
                plays = self.play([{"name": "discover", "inplace.kubernetes.k8s_inplace_upgrade_info": {
                    "kind": "Deployment", "name": name, "namespace": ns,
                    "containers": {CONTAINER: NEW_IMAGE}, "batch_size": "25%"}}],
                    self.driver_python)
                self.proxy.reset()
                rc, out, err, wall, mem, records = self.run_playbook(plays, timeout=600)
                counts = self.proxy.reset()
                res = next((r["result"] for r in records if r["status"] == "ok"
                            and r["action"].endswith("k8s_inplace_upgrade_info")), None)
                problems = []
                if rc != 0 or res is None:
                    problems.append("k8s_inplace_upgrade_info failed (rc %s)" % rc)
                    log("discovery N=%d failed:\n%s\n%s" % (n, out[-3000:], err[-3000:]))
                elif len(res.get("pods") or []) != n or len(res.get("needs_upgrade") or []) != n:
                    problems.append("reported %d pods, %d needing the upgrade (expected %d)" % (
                        len(res.get("pods") or []), len(res.get("needs_upgrade") or []), n))
                d = {"n": n, "wall": wall, "requests": counts.get("total", 0), "counts": counts,
                     "module_api_requests": (res or {}).get("api_requests"),
                     "batches": len((res or {}).get("planned_batches") or []),
                     "rss_tree": mem.peak_tree, "rss_single": mem.peak_single,
                     "problems": problems}
                if problems:
                    self.failures.append("discovery N=%d: %s" % (n, "; ".join(problems)))
                log("discovery N=%d: %.1fs, %d requests" % (n, wall, d["requests"]))
                self.discovery.append(d)
        finally:
            for ns in ns_list:
                self.delete_namespace(ns)
        if len(self.discovery) >= 2 and len({d["requests"] for d in self.discovery}) != 1:
            self.failures.append("discovery request counts differ: %s" % ", ".join(
                "N=%d: %d" % (d["n"], d["requests"]) for d in self.discovery))

    def run_module_direct(self, n, reps=3):
        """The module `reps` more times without the proxy, for its own `seconds` (overhead
        target; the median is used), then the bare parallel-patch reference once."""
        runs = []
        for i in range(reps):
            log("N=%d module without the counting proxy (overhead target), run %d/%d" % (
                n, i + 1, reps))
            ns, name = self.fresh_deployment(n, "direct")[:2]
            try:
                plays = self.scenario_cmd("module", n, ns, name, self.args.timeout)[1]
                rc, _out, _err, wall, _mem, records = self.run_playbook(
                    plays, kubeconfig=self.cluster.admin_kubeconfig,
                    timeout=self.args.timeout + 120)
                res = next((r["result"] for r in records if r["status"] == "ok"
                            and r["action"].endswith("k8s_inplace_upgrade")), None)
                if rc != 0 or res is None:
                    self.failures.append("module (direct) N=%d failed rc %s" % (n, rc))
                    return None
                runs.append({"n": n, "wall": wall, "module_seconds": res.get("seconds"),
                             "api_requests": res.get("api_requests"),
                             "batches": res.get("batches")})
            finally:
                self.delete_namespace(ns)
        runs.sort(key=lambda r: r["module_seconds"])
        direct = dict(runs[len(runs) // 2])
        direct["all_seconds"] = [r["module_seconds"] for r in runs]
        log("N=%d reference: bare parallel patch + 50 ms poll, without the proxy" % n)
        ns, name = self.fresh_deployment(n, "ref")[:2]
        try:
            rc, out, err, wall, mem = run_measured([
                self.driver_python, os.path.abspath(__file__), "_drive", "parallel",
                "--kubeconfig", self.cluster.admin_kubeconfig, "--namespace", ns,
                "--selector", "app=web", "--replicas", str(n), "--image", NEW_IMAGE,
                "--status-image", NEW_IMAGE_STATUS, "--timeout", str(self.args.timeout)],
                dict(os.environ), self.args.timeout + 60)
            try:
                ref = json.loads(out.strip().splitlines()[-1])
            except (ValueError, IndexError):
                ref = {"ok": False}
            if rc == 0 and ref.get("ok"):
                direct["reference"] = ref
            else:
                self.notes.append("reference parallel-patch run failed (rc %s): %s" % (
                    rc, err[-500:]))
        finally:
            self.delete_namespace(ns)
        return direct


# ------------------------------------------------------------------------------------------------
# Report.

def fmt(x, digits=1):
    if x is None:
        return "-"
    if isinstance(x, float):
        return "%.*f" % (digits, x)
    return str(x)


def mib(b):
    return "%.0f" % (b / 1024 / 1024)


def report(bench, started, finished):
    a = bench.args
    delay = restart_seconds(a)
    m = machine_info()
    out = []
    w = out.append
    w("# inplace.kubernetes benchmark%s" % (" (smoke)" if a.smoke else ""))
    w("")
    w("Run `%s` on %s, %.1f minutes. See bench/README.md for what each column means."
      % (a.command, time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(started)),
         (finished - started) / 60))
    w("")
    w("- Machine: %s CPUs (%s), %s memory, %s, Python %s" % (
        m["nproc"], m["cpu"], m["memory"], m["os"], m["python"]))
    w("- Load average (1 min) at start / end: %.2f / %.2f; other kube-apiservers running on the "
      "machine at start: %d (anything else running shares the 2 cores and skews wall times)" % (
          bench.load_start, os.getloadavg()[0], bench.other_apiservers))
    w("- Local control plane: %d nodes running the real kubelet (kubemark's hollow kubelet, real "
      "prober) against a fake CRI, %s pods allocatable each; container **start %.2f s** (fault layer) "
      "+ %.2f s kubelet lag (PLEG relist 1 s, exec readinessProbe every 1 s) = one restart modelled at "
      "%.2f s; **sandbox %.2f s** (paid by new pods only, so by the rolling update and not by a "
      "restart in place)" % (a.nodes, getattr(bench.cluster, "max_pods", "?"), a.container_start,
                             KUBELET_LAG_SECONDS, delay, a.sandbox))
    for k, v in bench.versions.items():
        w("- %s: %s" % (k, v))
    w("- Images: %s -> %s, one container per pod, terminationGracePeriodSeconds 1" % (
        OLD_IMAGE, NEW_IMAGE))
    w("")
    w("## Upgrade of an N-replica Deployment")
    w("")
    w("| N | scenario | wall s | vs (1) | batches | limit s | vs limit | requests | req/pod "
      "| rescheduled | IPs changed | template updated | peak RSS MiB |")
    w("|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|:---:|---:|")
    base = {r["n"]: r["wall"] for r in bench.rows if r["scenario"] == "rolling" and "wall" in r}
    for r in bench.rows:
        if "skipped" in r:
            w("| %d | %s | skipped: %s |  |  |  |  |  |  |  |  |  |  |" % (
                r["n"], TITLES[r["scenario"]], r["skipped"]))
            continue
        vs1 = r["wall"] / base[r["n"]] if base.get(r["n"]) else None
        w("| %d | %s%s | %.1f | %s | %d | %.1f | %.2f | %d | %.1f | %d | %d | %s | %s |" % (
            r["n"], TITLES[r["scenario"]], " **FAILED**" if r["problems"] else "", r["wall"],
            "%.2f" % vs1 if vs1 is not None else "-", r["batches"], r["limit"],
            r["wall"] / r["limit"], r["requests"], r["requests"] / r["n"], r["rescheduled"],
            r["ip_changed"], "yes" if r["template_new"] else "no", mib(r["rss_tree"])))
    w("")
    w("`limit` = batches x (container start + kubelet lag): 1 batch for (2), (3), (5); "
      "ceil(N / ceil(25% N)) for (4); for (1) the waves of pod starts that a 25%/25% rolling "
      "update needs in the deployment controller's own arithmetic (instant controllers, every new "
      "pod up after exactly one sandbox + container start + kubelet lag; old pods' termination not "
      "counted).")
    extra = [r for r in bench.rows if "wall" in r]
    if extra:
        w("")
        w("Details:")
        w("")
        for r in extra:
            w("- N=%d %s: requests by kind %s; peak RSS of the largest single process %s MiB, "
              "%d processes in the driver's tree at most" % (
                  r["n"], r["scenario"], ", ".join("%s %d" % kv for kv in sorted(
                      r["counts"].items()) if kv[0] != "total") or "none",
                  mib(r["rss_single"]), r["procs"]))
            if r.get("slowest_tasks"):
                w("  - %d task results, %.1f s in tasks; slowest: %s" % (
                    r["task_results"], r["task_seconds"], ", ".join(
                        "%s %.1f s" % (t, sec) for t, sec in r["slowest_tasks"])))
            if r.get("module_seconds") is not None:
                w("  - the module reports %.2f s and %s API requests (the proxy counted %d)" % (
                    r["module_seconds"], r.get("module_api_requests"), r["requests"]))
            elif r.get("extra", {}).get("status_complete_seconds") is not None:
                w("  - Deployment status complete after %.1f s, last old pod gone "
                  "at %.1f s; %d ReplicaSets afterwards" % (
                      r["extra"]["status_complete_seconds"], r["wall"],
                      r["replicasets"]))
    if bench.sweep:
        w("")
        w("## When a new pod costs more than a restart (sandbox sweep, N=%d)" % a.sweep_size)
        w("")
        w("The nodes' fault layer given a **sandbox delay**: the fake CRI's RunPodSandbox takes that long, so a "
          "new pod waits before its first container is created (a real runtime creates the pod sandbox, sets "
          "up its network and mounts its volumes), a container restarted in place does not. The rolling update's limit grows by that delay "
          "per wave; the role's does not.")
        w("")
        w("| sandbox delay s | rolling update wall s | rolling limit s | role wall s | role limit s "
          "| role / rolling | role rescheduled | problems |")
        w("|---:|---:|---:|---:|---:|---:|---:|---|")
        for delay in sorted(set(r["sandbox"] for r in bench.sweep if "wall" in r)):
            pair = dict((r["scenario"], r) for r in bench.sweep if r.get("sandbox") == delay and "wall" in r)
            rolling, role = pair.get("rolling"), pair.get("role")
            w("| %.1f | %s | %s | %s | %s | %s | %s | %s |" % (
                delay, fmt(rolling["wall"]) if rolling else "-", fmt(rolling["limit"]) if rolling else "-",
                fmt(role["wall"]) if role else "-", fmt(role["limit"]) if role else "-",
                "%.2f" % (role["wall"] / rolling["wall"]) if rolling and role else "-",
                role["rescheduled"] if role else "-",
                "; ".join((rolling or {}).get("problems", []) + (role or {}).get("problems", [])) or "none"))
    if bench.discovery:
        w("")
        w("## Discovery only (`k8s_inplace_upgrade_info`, read-only, plan with batch_size 25%)")
        w("")
        w("| pods | wall s | requests (proxy) | module api_requests | batches planned "
          "| peak RSS MiB (tree) | largest process MiB |")
        w("|---:|---:|---:|---:|---:|---:|---:|")
        for d in bench.discovery:
            w("| %d | %.1f | %d | %s | %d | %s | %s |" % (
                d["n"], d["wall"], d["requests"], fmt(d["module_api_requests"]), d["batches"],
                mib(d["rss_tree"]), mib(d["rss_single"])))
    w("")
    w("## Targets (issue 7)")
    w("")
    for line in targets(bench):
        w("- " + line)
    if bench.notes or bench.failures:
        w("")
        w("## Notes")
        w("")
        for n in bench.notes:
            w("- " + n)
        for f in bench.failures:
            w("- FAILURE: " + f)
    return "\n".join(out) + "\n"


def targets(bench):
    a = bench.args
    delay = restart_seconds(a)
    lines = []
    role = {r["n"]: r for r in bench.rows if r["scenario"] == "role" and "wall" in r}
    role_ok = [n for n in sorted(role) if not role[n]["problems"]]
    rolling = {r["n"]: r for r in bench.rows if r["scenario"] == "rolling" and "wall" in r}
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
    sweep = [(r["sandbox"], r) for r in bench.sweep if r["scenario"] == "role" and "wall" in r]
    if sweep:
        parts = []
        for sandbox, role_row in sweep:
            rolling_row = [r for r in bench.sweep if r["scenario"] == "rolling" and r.get("sandbox") == sandbox
                           and "wall" in r]
            if rolling_row:
                parts.append("sandbox %.1f s: role %.1f s vs rolling update %.1f s (%s)" % (
                    sandbox, role_row["wall"], rolling_row[0]["wall"],
                    "role faster" if role_row["wall"] < rolling_row[0]["wall"] else "role NOT faster"))
        lines.append("Sandbox sweep (N=%d; a new pod waits for its sandbox, a restart in place does not): %s." % (
            bench.args.sweep_size, "; ".join(parts)))
    direct = getattr(bench, "module_direct", None)
    mod = {r["n"]: r for r in bench.rows if r["scenario"] == "module" and "wall" in r}
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
    if len(bench.discovery) >= 2:
        counts = [(d["n"], d["requests"]) for d in bench.discovery]
        same = len({c[1] for c in counts}) == 1
        lines.append("**Discovery makes the same number of requests for %s pods: %s** (%s)." % (
            " and ".join(str(c[0]) for c in counts), "MET" if same else "NOT MET",
            ", ".join("%d pods: %d requests" % c for c in counts)))
    return lines


# ------------------------------------------------------------------------------------------------

def parse_args(argv):
    if argv and argv[0] == "_drive":
        p = argparse.ArgumentParser(prog="run.py _drive")
        p.add_argument("how", choices=("rolling", "seed", "parallel"))
        p.add_argument("--kubeconfig", required=True)
        p.add_argument("--namespace", required=True)
        p.add_argument("--name")
        p.add_argument("--selector")
        p.add_argument("--replicas", type=int)
        p.add_argument("--image", required=True)
        p.add_argument("--status-image")
        p.add_argument("--timeout", type=float, default=600)
        a = p.parse_args(argv[1:])
        a.drive = True
        return a
    p = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--smoke", action="store_true",
                   help="N=5 only, discovery 5 vs 20 pods, no results file unless --output; "
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
                                    "smoke: none)")
    a = p.parse_args(argv)
    a.drive = False
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
    if a.output is None and not a.smoke:
        a.output = DEFAULT_OUTPUT
    a.command = "python bench/run.py" + ("" if not argv else " " + " ".join(argv))
    return a


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    a = parse_args(argv)
    if a.drive:
        return {"rolling": drive_rolling, "seed": drive_seed, "parallel": drive_parallel}[a.how](a)
    started = time.time()
    tmp = tempfile.mkdtemp(prefix="inplace-bench-")
    bench = Bench(a, tmp)
    rc = 0
    try:
        bench.start()
        for n in a.sizes:
            for s in SCENARIOS:
                if s in a.scenarios:
                    bench.run_scenario(s, n)
        if a.sandbox_sweep and "rolling" in a.scenarios and "role" in a.scenarios:
            bench.run_sweep(a.sandbox_sweep, a.sweep_size)
        if "module" in a.scenarios and not a.smoke and not a.no_direct:
            n = 100 if 100 in a.sizes else max(a.sizes)
            bench.module_direct = bench.run_module_direct(n)
        if a.discovery:
            bench.run_discovery(a.discovery)
    except Exception as exc:  # noqa: BLE001 - report what we have
        import traceback
        traceback.print_exc()
        bench.failures.append("benchmark aborted: %s: %s" % (type(exc).__name__, exc))
    finally:
        bench.stop()
    finished = time.time()
    text = report(bench, started, finished)
    print(text)
    if a.output:
        os.makedirs(os.path.dirname(os.path.abspath(a.output)), exist_ok=True)
        with open(a.output, "w") as f:
            f.write(text)
        raw = os.path.splitext(a.output)[0] + ".json"  # raw numbers, not committed
        with open(raw, "w") as f:
            json.dump({"rows": bench.rows, "sweep": bench.sweep, "discovery": bench.discovery,
                       "module_direct": getattr(bench, "module_direct", None),
                       "versions": bench.versions, "failures": bench.failures}, f, indent=1,
                      default=str)
        log("written to %s (raw numbers: %s)" % (a.output, raw))
    if bench.failures:
        log("FAILED: %d problem(s):\n  %s" % (len(bench.failures), "\n  ".join(bench.failures)))
        rc = 1
    shutil.rmtree(tmp, ignore_errors=True)
    return rc


if __name__ == "__main__":
    sys.exit(main())
