"""Helpers for tests that run against a LocalCluster (importable once tests/cluster is on sys.path).

    from helpers import wait_for, create_deployment, pod_snapshot, pods_of, container

Containers made here carry an exec readinessProbe by default (see READINESS_PROBE) and regular init
containers a command that completes (INIT_COMMAND): the nodes run the real kubelet, whose prober and
init-container logic decide readiness and completion, against a fake runtime (tests/cluster/world).
Faults (failed pulls, crashes, failing probes, delays) are declared with the ``faults`` fixture or
``LocalCluster.set_faults``, never by image names.
"""

import threading
import time

from kubernetes import watch as k8s_watch
from kubernetes.client.rest import ApiException

DEFAULT_TIMEOUT = 90


class WaitTimeout(AssertionError):
    pass


def wait_for(predicate, timeout=DEFAULT_TIMEOUT, interval=0.25, message=None):
    """Poll predicate() until it returns a truthy value, which is returned. Exceptions raised by
    predicate count as "not yet"; on timeout the last value/exception is in the error."""
    deadline = time.monotonic() + timeout
    last = None
    while True:
        try:
            value = predicate()
            if value:
                return value
            last = value
        except ApiException as e:
            last = "ApiException %s: %s" % (e.status, e.reason)
        except Exception as e:  # noqa: BLE001
            last = "%s: %s" % (type(e).__name__, e)
        if time.monotonic() >= deadline:
            raise WaitTimeout("%s not reached within %ss (last: %r)" % (
                message or getattr(predicate, "__name__", "condition"), timeout, last))
        time.sleep(interval)


# The kubelet's real prober decides readiness: without a readinessProbe a container is Ready as soon
# as it runs, and the `unready` fault (exec probes fail in containers of the listed images) has
# nothing to act on. Exec only: pod IPs are loopback addresses, so HTTP/TCP probes must never be used.
READINESS_PROBE = {"exec": {"command": ["true"]}, "periodSeconds": 1}

# The fake runtime completes only trivial commands (`true`, `false`, `sh -c "exit N"`, `sleep N`);
# any other command runs forever, so a regular init container needs one of them to complete.
INIT_COMMAND = ["true"]


def container(name, image, probe=True, **extra):
    """A container spec; with an exec readinessProbe (READINESS_PROBE) unless ``probe=False`` or an
    explicit ``readinessProbe=...`` is given."""
    d = {"name": name, "image": image}
    if probe:
        d["readinessProbe"] = dict(READINESS_PROBE)
    d.update(extra)
    return d


def init_container(name, image, sidecar=False, **extra):
    """An init container spec. A regular one runs ``command: ["true"]`` (it completes) unless a command
    is given; ``sidecar=True`` makes it a sidecar (``restartPolicy: Always``, runs for the pod's
    lifetime, with the readiness probe of container())."""
    if sidecar:
        return container(name, image, restartPolicy="Always", **extra)
    d = {"name": name, "image": image, "command": list(INIT_COMMAND)}
    d.update(extra)
    return d


def _init_containers(init_containers):
    """Copies of the given init containers (dicts or (name, image) pairs); a regular one without a
    command gets INIT_COMMAND so that it completes on the fake runtime."""
    out = []
    for c in init_containers or []:
        if not isinstance(c, dict):
            c = init_container(c[0], c[1])
        c = dict(c)
        if c.get("restartPolicy") != "Always" and "command" not in c:
            c["command"] = list(INIT_COMMAND)
        out.append(c)
    return out


def _template(labels, containers, init_containers=None, readiness_gates=None, spread=False):
    spec = {"containers": containers, "terminationGracePeriodSeconds": 1}
    if spread:
        # A hard constraint: at most one more pod on any node than on another (the default scheduler's own
        # spreading is only a score, outweighed by uneven load left behind by other tests).
        spec["topologySpreadConstraints"] = [{"maxSkew": 1, "topologyKey": "kubernetes.io/hostname",
                                              "whenUnsatisfiable": "DoNotSchedule",
                                              "labelSelector": {"matchLabels": dict(labels)}}]
    if init_containers:
        spec["initContainers"] = _init_containers(init_containers)
    if readiness_gates:
        spec["readinessGates"] = [{"conditionType": g} for g in readiness_gates]
    return {"metadata": {"labels": dict(labels)}, "spec": spec}


def _containers(containers):
    if containers is None:
        return [container("app", "nginx:1.19-alpine")]
    return [c if isinstance(c, dict) else container(c[0], c[1]) for c in containers]


def pod_is_ready(pod):
    conds = {c.type: c.status for c in (pod.status.conditions or [])}
    return pod.metadata.deletion_timestamp is None and conds.get("Ready") == "True"


def pods_of(k8s_or_core, namespace, selector):
    core = getattr(k8s_or_core, "core", k8s_or_core)
    return core.list_namespaced_pod(namespace, label_selector=selector).items


def selector_of(labels):
    return ",".join("%s=%s" % kv for kv in sorted(labels.items()))


def wait_pods_ready(core, namespace, selector, count, timeout=DEFAULT_TIMEOUT):
    """Wait until exactly `count` pods match selector, none terminating, all Ready."""
    def ready():
        pods = core.list_namespaced_pod(namespace, label_selector=selector).items
        live = [p for p in pods if p.metadata.deletion_timestamp is None]
        if len(pods) == count and len(live) == count and all(pod_is_ready(p) for p in live):
            return sorted(live, key=lambda p: p.metadata.name)
        return None
    return wait_for(ready, timeout, message="%d Ready pods for %s" % (count, selector))


def create_deployment(k8s, namespace, name, replicas=3, containers=None, init_containers=None,
                      readiness_gates=None, labels=None, wait=True, timeout=DEFAULT_TIMEOUT, spread=False):
    """Create a Deployment and (wait=True) wait until all its pods are Ready. Returns the pods
    (sorted by name) or the created Deployment when wait=False."""
    labels = labels or {"app": name}
    body = {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": name, "labels": dict(labels)},
            "spec": {"replicas": replicas, "selector": {"matchLabels": dict(labels)},
                     "template": _template(labels, _containers(containers), init_containers,
                                           readiness_gates, spread)}}
    created = k8s.apps.create_namespaced_deployment(namespace, body)
    if not wait:
        return created
    return wait_pods_ready(k8s.core, namespace, selector_of(labels), replicas, timeout)


def create_statefulset(k8s, namespace, name, replicas=3, containers=None, init_containers=None,
                       labels=None, wait=True, timeout=DEFAULT_TIMEOUT):
    labels = labels or {"app": name}
    k8s.core.create_namespaced_service(namespace, {
        "apiVersion": "v1", "kind": "Service", "metadata": {"name": name},
        "spec": {"clusterIP": "None", "selector": dict(labels),
                 "ports": [{"port": 80, "name": "http"}]}})
    body = {"apiVersion": "apps/v1", "kind": "StatefulSet",
            "metadata": {"name": name, "labels": dict(labels)},
            "spec": {"replicas": replicas, "serviceName": name,
                     "podManagementPolicy": "Parallel",
                     "selector": {"matchLabels": dict(labels)},
                     "template": _template(labels, _containers(containers), init_containers)}}
    created = k8s.apps.create_namespaced_stateful_set(namespace, body)
    if not wait:
        return created
    return wait_pods_ready(k8s.core, namespace, selector_of(labels), replicas, timeout)


def create_daemonset(k8s, namespace, name, containers=None, init_containers=None, labels=None,
                     wait=True, timeout=DEFAULT_TIMEOUT, node_count=None):
    """A DaemonSet runs one pod per node; node_count defaults to all nodes."""
    labels = labels or {"app": name}
    body = {"apiVersion": "apps/v1", "kind": "DaemonSet",
            "metadata": {"name": name, "labels": dict(labels)},
            "spec": {"selector": {"matchLabels": dict(labels)},
                     "template": _template(labels, _containers(containers), init_containers)}}
    created = k8s.apps.create_namespaced_daemon_set(namespace, body)
    if not wait:
        return created
    if node_count is None:
        node_count = len(k8s.core.list_node().items)
    return wait_pods_ready(k8s.core, namespace, selector_of(labels), node_count, timeout)


def create_pod(k8s, namespace, name, containers=None, init_containers=None, readiness_gates=None,
               labels=None, wait=True, timeout=DEFAULT_TIMEOUT):
    """A bare pod (no controller). wait=True waits until it is Ready."""
    labels = labels or {"pod": name}
    t = _template(labels, _containers(containers), init_containers, readiness_gates)
    body = {"apiVersion": "v1", "kind": "Pod", "metadata": dict(t["metadata"], name=name),
            "spec": t["spec"]}
    k8s.core.create_namespaced_pod(namespace, body)
    if not wait:
        return read_pod(k8s, namespace, name)
    return wait_for(pod_when(k8s, namespace, name, pod_is_ready), timeout,
                    message="pod %s Ready" % name)


def read_pod(k8s, namespace, name):
    return getattr(k8s, "core", k8s).read_namespaced_pod(name, namespace)


def value_when(read, condition):
    """A wait_for() predicate that returns read() once condition(value) holds, else None."""
    def value_if_condition():
        value = read()
        return value if condition(value) else None
    return value_if_condition


def pod_when(k8s, namespace, name, condition):
    """A wait_for() predicate that reads the pod and returns it when condition(pod) holds, else None."""
    def pod_if_condition():
        pod = read_pod(k8s, namespace, name)
        return pod if condition(pod) else None
    return pod_if_condition


def container_status(pod, name, init=False):
    statuses = (pod.status.init_container_statuses if init else pod.status.container_statuses)
    for cs in statuses or []:
        if cs.name == name:
            return cs
    return None


def waiting_reason(pod, name):
    cs = container_status(pod, name)
    if cs is None or cs.state is None or cs.state.waiting is None:
        return None
    return cs.state.waiting.reason


def patch_container_image(k8s, namespace, pod_name, index, image, expect_name=None):
    """JSON-patch /spec/containers/<index>/image, guarded by a test on the container name."""
    ops = []
    if expect_name is not None:
        ops.append({"op": "test", "path": "/spec/containers/%d/name" % index,
                    "value": expect_name})
    ops.append({"op": "replace", "path": "/spec/containers/%d/image" % index, "value": image})
    return getattr(k8s, "core", k8s).patch_namespaced_pod(
        pod_name, namespace, ops, _content_type="application/json-patch+json")


def live_pods(k8s, namespace, selector):
    """The pods of ``selector`` that are not being deleted, by name."""
    pods = pods_of(k8s, namespace, selector)
    return sorted([p for p in pods if p.metadata.deletion_timestamp is None], key=lambda p: p.metadata.name)


def snapshot(k8s, namespace, selector):
    """:func:`pod_snapshot` of the live pods of ``selector``."""
    return pod_snapshot(live_pods(k8s, namespace, selector))


def resource_versions(k8s, namespace):
    """``{"Kind/name": resourceVersion}`` of every pod, workload, ReplicaSet and Lease of the namespace:
    equal before and after means nothing in the namespace was written."""
    from kubernetes import client

    out = {}
    for kind, lister in (("Pod", k8s.core.list_namespaced_pod),
                         ("Deployment", k8s.apps.list_namespaced_deployment),
                         ("ReplicaSet", k8s.apps.list_namespaced_replica_set),
                         ("StatefulSet", k8s.apps.list_namespaced_stateful_set),
                         ("DaemonSet", k8s.apps.list_namespaced_daemon_set),
                         ("Lease", client.CoordinationV1Api(k8s.api).list_namespaced_lease)):
        for obj in lister(namespace).items:
            out["%s/%s" % (kind, obj.metadata.name)] = obj.metadata.resource_version
    return out


def pod_snapshot(pods):
    """{pod name: {uid, node, ip, phase, ready, restartCounts, images, imageIDs, containerIDs}}
    for V1Pod objects (or a single pod) - compare two snapshots to see what changed."""
    if not isinstance(pods, (list, tuple)):
        pods = [pods]
    out = {}
    for p in pods:
        cs = sorted(p.status.container_statuses or [], key=lambda c: c.name)
        out[p.metadata.name] = {
            "uid": p.metadata.uid,
            "node": p.spec.node_name,
            "ip": p.status.pod_ip,
            "phase": p.status.phase,
            "ready": pod_is_ready(p),
            "restartCounts": {c.name: c.restart_count for c in cs},
            "images": {c.name: c.image for c in cs},
            "specImages": {c.name: c.image for c in p.spec.containers},
            "imageIDs": {c.name: c.image_id for c in cs},
            "containerIDs": {c.name: c.container_id for c in cs},
        }
    return out


def upgraded(pod, name, normalised_image, old_container_id=None):
    """True when container `name` runs normalised_image, is running, ready, and (if given) has a
    containerID different from old_container_id."""
    cs = container_status(pod, name)
    return bool(cs and cs.image == normalised_image and cs.state and cs.state.running
                and cs.ready and (old_container_id is None or cs.container_id != old_container_id))


def _unready_why(pod):
    """One line on why a pod is not Ready: node, Ready condition reason, each container's state."""
    if pod.metadata.deletion_timestamp is not None:
        return "terminating"
    cond = next((c for c in (pod.status.conditions or []) if c.type == "Ready"), None)
    parts = ["rv %s on %s" % (pod.metadata.resource_version, pod.spec.node_name),
             "Ready=%s %s" % (cond.status, cond.reason or "") if cond else "no Ready condition"]
    for cs in pod.status.container_statuses or []:
        state = cs.state
        what = ("running" if state and state.running else
                "waiting %s" % state.waiting.reason if state and state.waiting else
                "terminated %s" % state.terminated.reason if state and state.terminated else "no state")
        parts.append("%s: %s %s ready=%s restarts=%s id=%s" % (cs.name, cs.image, what, cs.ready, cs.restart_count,
                                                               (cs.container_id or "")[-12:]))
    return "; ".join(parts)


def cluster_story(k8s, namespace, lines=60):
    """What the cluster said about ``namespace``, for a failed test's report: its pods (``_unready_why``),
    the nodes' Ready conditions, the namespace's Events in order, and the last ``lines`` lines of every
    component log (nodes, controller-manager) that name the namespace."""
    out = ["pods:"]
    for pod in k8s.core.list_namespaced_pod(namespace).items:
        out.append("  %s: %s" % (pod.metadata.name, _unready_why(pod)))
    out.append("nodes:")
    for node in k8s.core.list_node().items:
        ready = next((c for c in node.status.conditions or [] if c.type == "Ready"), None)
        out.append("  %s: Ready=%s %s since %s" % (
            node.metadata.name, ready.status if ready else "?", ready.reason if ready else "",
            ready.last_transition_time if ready else ""))
    out.append("events:")

    def stamp(event):
        return (event.last_timestamp or event.event_time or event.first_timestamp
                or event.metadata.creation_timestamp).isoformat()

    for event in sorted(k8s.core.list_namespaced_event(namespace).items, key=stamp):
        out.append("  %s %s %s/%s x%s: %s" % (
            stamp(event)[11:23], event.reason, event.involved_object.kind, event.involved_object.name,
            event.count or 1, " ".join((event.message or "").split())))
    cluster = getattr(k8s, "cluster", None)
    for name in getattr(cluster, "components", ())[1:] if cluster else ():
        try:
            with open(cluster._log(name), errors="replace") as handle:
                hits = [line.rstrip() for line in handle if namespace in line]
        except OSError:
            continue
        if hits:
            out.append("%s.log (%d lines name the namespace, the last %d):" % (name, len(hits), min(lines, len(hits))))
            out.extend("  " + line[:400] for line in hits[-lines:])
    return "\n".join(out)


class ReadinessWatcher(object):
    """Watches the pods of a selector through the API and records how many were not Ready at once.

    ``max_unready`` is the maximum, over every event seen, of the number of live pods whose Ready
    condition is not True, ``max_unready_pods`` those pods at that moment; ``went_unready`` the names
    of the pods seen unready at least once; ``waiting_reasons`` every ``(pod, reason)`` of a waiting
    container seen; ``ready_since`` when each pod was first seen Ready with each set of container IDs, and
    ``ended`` when ``stop()`` was called (for :meth:`was_ready_with`). ``describe()`` says, for the pods of that moment, why each
    was unready (node, Ready condition reason, container states), for failure messages. A broken watch
    (410, network) is re-listed. Use as a context manager or with ``start()`` / ``stop()``.
    """

    def __init__(self, core, namespace, selector):
        self.core = core
        self.namespace = namespace
        self.selector = selector
        self.ready = {}
        self.max_unready = 0
        self.went_unready = set()
        self.why = {}
        self.max_unready_why = {}
        self.events = 0
        self.errors = []
        self.waiting_reasons = set()
        self.ready_since = {}
        self.ended = None
        self._version = None
        self._stop = threading.Event()
        self._thread = None
        self._lock = threading.Lock()

    def _account(self, pod, deleted=False):
        with self._lock:
            name = pod.metadata.name
            if deleted:
                self.ready.pop(name, None)
                self.why.pop(name, None)
            else:
                self.ready[name] = pod_is_ready(pod)
                if self.ready[name]:
                    ids = tuple(sorted((pod_snapshot(pod)[name]["containerIDs"] or {}).items()))
                    self.ready_since.setdefault((name, ids), time.monotonic())
                for cs in (pod.status.container_statuses or []) if pod.status else []:
                    if cs.state and cs.state.waiting and cs.state.waiting.reason:
                        self.waiting_reasons.add((name, cs.state.waiting.reason))
                if not self.ready[name]:
                    self.went_unready.add(name)
                    self.why[name] = _unready_why(pod)
            unready = sorted(n for n, ready in self.ready.items() if not ready)
            if len(unready) > self.max_unready:
                self.max_unready = len(unready)
                self.max_unready_why = dict((n, self.why.get(n, "?")) for n in unready)

    def _list(self):
        listing = self.core.list_namespaced_pod(self.namespace, label_selector=self.selector)
        for pod in listing.items:
            self._account(pod)
        self._version = listing.metadata.resource_version

    def start(self):
        self._list()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def _run(self):
        while not self._stop.is_set():
            w = k8s_watch.Watch()
            try:
                for event in w.stream(self.core.list_namespaced_pod, self.namespace, label_selector=self.selector,
                                      resource_version=self._version, timeout_seconds=2):
                    self.events += 1
                    pod = event["object"]
                    self._version = pod.metadata.resource_version
                    self._account(pod, deleted=event["type"] == "DELETED")
                    if self._stop.is_set():
                        break
            except Exception as exc:  # noqa: BLE001 - re-listed here, reported by stop()
                self.errors.append(repr(exc))
                if len(self.errors) > 20:
                    return
                time.sleep(0.2)
                try:
                    self._list()
                except Exception as again:  # noqa: BLE001
                    self.errors.append(repr(again))
            finally:
                w.stop()

    @property
    def max_unready_pods(self):
        return sorted(self.max_unready_why)

    def describe(self):
        """The pods unready at the worst moment and why, one per line."""
        with self._lock:
            return "%d unready at once:\n%s" % (self.max_unready, "\n".join(
                "  %s: %s" % item for item in sorted(self.max_unready_why.items())))

    def was_ready_with(self, name, container_ids, by=None):
        """Whether pod ``name`` was seen Ready with exactly ``container_ids`` ({container: ID}) before ``by``
        (a ``time.monotonic()``; default: when ``stop()`` was called)."""
        since = self.ready_since.get((name, tuple(sorted((container_ids or {}).items()))))
        by = self.ended if by is None else by
        return since is not None and (by is None or since <= by)

    def stop(self):
        self.ended = time.monotonic()
        # Let the last status writes arrive before stopping.
        time.sleep(0.5)
        self._stop.set()
        if self._thread:
            self._thread.join(15)
        assert not self.errors or self.events, "the watcher saw nothing: %s" % self.errors
        return self

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        if exc[0] is None:
            self.stop()
        else:
            self._stop.set()
