#!/usr/bin/env python
"""A kubelet stand-in for a control plane that has no real kubelet.

It registers a set of simulated nodes and then behaves, as seen through the Kubernetes API, like
the kubelet of each of them: it watches the pods bound to those nodes (one watch for all nodes,
``spec.nodeName!=``; list + resourceVersion, re-list on 410 Gone) and writes their status the way a
kubelet does. Nothing is ever run; pod IPs are only written into status strings.

Per pod: phase, hostIP, podIP/podIPs (``10.<88+node index>.<n // 250>.<n % 250 + 2>``, unique per
pod and kept for the pod's lifetime), startTime, the conditions PodScheduled, Initialized,
ContainersReady and Ready (with lastTransitionTime), initContainerStatuses and containerStatuses
(name, image normalised the way a runtime reports it, imageID, containerID, restartCount, state,
lastState, ready, started). Conditions it does not own (readiness gates) are never written; Ready is
True only when the containers are ready *and* every ``spec.readinessGates`` condition is True.

Timing (both configurable, ``--start-delay`` / ``--ready-delay``, in seconds):

* a new container is ``waiting: ContainerCreating`` for START_DELAY, then ``running`` (not ready),
  then ready READY_DELAY later;
* init containers run one after another (ContainerCreating for START_DELAY, then terminated
  ``Completed``) before the containers start (they wait in ``PodInitializing`` meanwhile);
* when ``spec.containers[i].image`` changes (raw string compared with the image the container runs),
  that container alone restarts: not ready, ``restartCount + 1``, ``lastState.terminated`` (reason
  ``Completed``, exit code 0, the old containerID), ``waiting: ContainerCreating`` for START_DELAY,
  then ``running`` with a new containerID and imageID, ready READY_DELAY later. Pod UID, IP, node
  and the other containers are untouched;
* deletion: once ``deletionTimestamp`` is set, containers turn not ready; after
  ``min(deletionGracePeriodSeconds, 1)`` seconds they are terminated and the pod is deleted with a
  DeleteOptions body carrying ``gracePeriodSeconds: 0`` and a UID precondition.

Broken images (decided by this stand-in only, from the image reference; first match wins):

* syntactically invalid reference (docker reference grammar: uppercase repository, spaces, empty,
  bad tag...) -> ``waiting: InvalidImageName``, never started;
* ``pullfail`` anywhere in the repository or tag -> ``waiting: ErrImagePull`` then
  ``ImagePullBackOff``, alternating forever (back-off starts at max(START_DELAY, 0.5) s, doubles,
  capped at 8x);
* ``crashloop`` -> starts, terminates with reason ``Error`` / exit code 1 after START_DELAY,
  ``restartCount`` grows, ``waiting: CrashLoopBackOff`` between attempts (same back-off); never ready;
* ``neverready`` -> running but never ready.

Changing a broken container's image back to a good one restarts it onto the good image.
``restartCount`` counts terminated instances (it grows when an instance ends).

Usage: ``kubelet.py --kubeconfig FILE --nodes N|name,name [--start-delay S] [--ready-delay S]``
"""

import argparse
import hashlib
import heapq
import itertools
import json
import logging
import queue
import re
import secrets
import signal
import sys
import threading
import time

LOG = logging.getLogger("kubelet-standin")

# --------------------------------------------------------------------------------------------
# Image references (pure functions, unit-tested in tests/unit/cluster/test_kubelet_images.py)
# --------------------------------------------------------------------------------------------

_ALNUM = r"[a-z0-9]+"
_SEPARATOR = r"(?:[._]|__|[-]*)"
_PATH_COMPONENT = _ALNUM + r"(?:" + _SEPARATOR + _ALNUM + r")*"
_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_DOMAIN = _DOMAIN_COMPONENT + r"(?:\." + _DOMAIN_COMPONENT + r")*(?::[0-9]+)?"
_TAG = r"[\w][\w.-]{0,127}"
_DIGEST = r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}"
_REFERENCE_RE = re.compile(
    r"^(?P<name>(?:" + _DOMAIN + r"/)?" + _PATH_COMPONENT + r"(?:/" + _PATH_COMPONENT + r")*)"
    r"(?::(?P<tag>" + _TAG + r"))?(?:@(?P<digest>" + _DIGEST + r"))?$"
)
_ANCHORED_HEX64 = re.compile(r"^[a-f0-9]{64}$")
_NAME_TOTAL_LENGTH_MAX = 255
DEFAULT_DOMAIN = "docker.io"


class InvalidImageName(ValueError):
    """The image reference does not follow the docker reference grammar."""


def parse_image(ref):
    """Split and normalise an image reference like the runtime does (ParseNormalizedNamed).

    Returns ``(repository, tag, digest)`` where repository is fully qualified
    (``nginx`` -> ``docker.io/library/nginx``) and tag/digest may be None.
    Raises InvalidImageName for references a kubelet reports as ``InvalidImageName``.
    """
    if not isinstance(ref, str) or not ref:
        raise InvalidImageName("repository name must have at least one component")
    if _ANCHORED_HEX64.match(ref):
        raise InvalidImageName("invalid repository name (%s), cannot specify 64-byte hexadecimal "
                               "strings" % ref)
    # Domain split as in distribution/reference splitDockerDomain.
    i = ref.find("/")
    if i == -1 or not any(c in ref[:i] for c in ".:") and ref[:i] != "localhost":
        domain, remainder = DEFAULT_DOMAIN, ref
    else:
        domain, remainder = ref[:i], ref[i + 1:]
    if domain == "index.docker.io":
        domain = DEFAULT_DOMAIN
    if domain == DEFAULT_DOMAIN and "/" not in remainder.split("@", 1)[0].split(":", 1)[0]:
        remainder = "library/" + remainder
    # The repository part (before tag/digest) must be lowercase.
    repo_part = re.split(r"[:@]", remainder, maxsplit=1)[0]
    if repo_part.lower() != repo_part:
        raise InvalidImageName("repository name must be lowercase")
    m = _REFERENCE_RE.match(domain + "/" + remainder)
    if not m:
        raise InvalidImageName("invalid reference format")
    name = m.group("name")
    if len(name) > _NAME_TOTAL_LENGTH_MAX:
        raise InvalidImageName("repository name must not be more than 255 characters")
    return name, m.group("tag"), m.group("digest")


def normalize_image(ref):
    """``nginx:1.19-alpine`` -> ``docker.io/library/nginx:1.19-alpine``; a bare name gets
    ``:latest``; a digest is kept (``repo@sha256:...`` or ``repo:tag@sha256:...``)."""
    name, tag, digest = parse_image(ref)
    if tag is None and digest is None:
        tag = "latest"
    out = name
    if tag is not None:
        out += ":" + tag
    if digest is not None:
        out += "@" + digest
    return out


def image_id(ref):
    """``docker-pullable://<repository>@sha256:<hex>``: the reference's own sha256 digest if it
    has one, else the sha256 of the normalised reference string (stable per image)."""
    name, _tag, digest = parse_image(ref)
    if digest and digest.startswith("sha256:"):
        return "docker-pullable://%s@%s" % (name, digest.lower())
    return "docker-pullable://%s@sha256:%s" % (
        name, hashlib.sha256(normalize_image(ref).encode()).hexdigest())


GOOD, PULLFAIL, CRASHLOOP, NEVERREADY, INVALID = "good", "pullfail", "crashloop", "neverready", "invalid"


def classify_image(ref):
    """Which behaviour the stand-in simulates for an image (see the module docstring)."""
    try:
        name, tag, _digest = parse_image(ref)
    except InvalidImageName:
        return INVALID
    text = name + ":" + (tag or "")
    for kind in (PULLFAIL, CRASHLOOP, NEVERREADY):
        if kind in text:
            return kind
    return GOOD


def display_image(ref):
    try:
        return normalize_image(ref)
    except InvalidImageName:
        return ref if isinstance(ref, str) else ""


# --------------------------------------------------------------------------------------------
# Simulation state
# --------------------------------------------------------------------------------------------

def now_ts(t=None):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() if t is None else t))


def new_container_id():
    return "containerd://" + secrets.token_hex(32)


class Ctr:
    """One container (or init container) of a pod, as the kubelet tracks it."""

    def __init__(self, name, init=False):
        self.name = name
        self.init = init
        self.image = None          # raw spec image of the current/last instance
        self.kind = GOOD
        self.state = "waiting"     # waiting | running | terminated
        self.reason = "ContainerCreating"
        self.message = None
        self.exit_code = None
        self.started_at = None
        self.finished_at = None
        self.container_id = None
        self.image_id = ""
        self.restart_count = 0
        self.last_state = {}
        self.ready = False
        self.started = False
        self.gen = 0               # bumps invalidate pending timers of this container
        self.failures = 0          # pull failures / crashes of the current image (back-off)

    def status(self):
        d = {
            "name": self.name,
            "image": display_image(self.image),
            "imageID": self.image_id,
            "ready": self.ready,
            "restartCount": self.restart_count,
            "started": self.started,
            "lastState": self.last_state,
        }
        if self.container_id:
            d["containerID"] = self.container_id
        if self.state == "running":
            d["state"] = {"running": {"startedAt": self.started_at}}
        elif self.state == "terminated":
            term = {"exitCode": self.exit_code, "reason": self.reason,
                    "startedAt": self.started_at, "finishedAt": self.finished_at}
            if self.container_id:
                term["containerID"] = self.container_id
            d["state"] = {"terminated": term}
        else:
            w = {"reason": self.reason}
            if self.message:
                w["message"] = self.message
            d["state"] = {"waiting": w}
        return d

    def terminate_instance(self, exit_code, reason):
        """The running instance ends: it moves to lastState and counts as a restart."""
        term = {"exitCode": exit_code, "reason": reason,
                "startedAt": self.started_at, "finishedAt": now_ts()}
        if self.container_id:
            term["containerID"] = self.container_id
        self.last_state = {"terminated": term}
        self.restart_count += 1
        self.ready = False
        self.started = False


class PodState:
    def __init__(self, uid, namespace, name, node, node_index, ip, restart_policy):
        self.uid = uid
        self.namespace = namespace
        self.name = name
        self.node = node
        self.node_index = node_index
        self.ip = ip
        self.restart_policy = restart_policy
        self.start_time = now_ts()
        self.init = []             # [Ctr]
        self.ctrs = []             # [Ctr]
        self.init_done = False
        self.conditions = {}       # type -> dict (owned conditions only)
        self.gates = []            # readiness gate condition types
        self.other_conditions = {}  # type -> status, conditions owned by others
        self.deleting = False
        self.deleted = False
        self.pod_gen = 0
        self.last_written = None

    def key(self):
        return "%s/%s" % (self.namespace, self.name)


OWNED_CONDITIONS = ("PodScheduled", "Initialized", "ContainersReady", "Ready")


class Kubelet:
    def __init__(self, api_client, nodes, start_delay=1.0, ready_delay=1.0, writers=4, sandbox_delay=0.0):
        from kubernetes import client
        self.api_client = api_client
        self.core = client.CoreV1Api(api_client)
        self.nodes = list(nodes)
        self.node_index = {n: i for i, n in enumerate(self.nodes)}
        self.start_delay = float(start_delay)
        self.ready_delay = float(ready_delay)
        # What a real kubelet spends on a *new* pod before its first container is created: the pod
        # sandbox, its network (CNI) and its volume mounts. A container restart in place reuses all of
        # them, so only new pods wait for it (0 = a new pod is as cheap as a restart).
        self.sandbox_delay = float(sandbox_delay)
        self.events = queue.Queue()
        self.timers = []
        self.seq = itertools.count()
        self.pods = {}             # uid -> PodState
        self.used_ips = {}         # node index -> set of n
        self.stopping = threading.Event()
        # Write queue: uid -> (namespace, name, status payload or None, delete flag), coalesced.
        self.wlock = threading.Lock()
        self.wcond = threading.Condition(self.wlock)
        self.wpending = {}
        self.worder = []
        self.winflight = set()
        self.nwriters = writers

    # ---------------------------------------------------------------- nodes
    def register_nodes(self):
        from kubernetes.client.rest import ApiException
        for name, i in self.node_index.items():
            body = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": name, "labels": {
                "kubernetes.io/hostname": name, "kubernetes.io/os": "linux",
                "kubernetes.io/arch": "amd64", "beta.kubernetes.io/os": "linux",
                "beta.kubernetes.io/arch": "amd64", "inplace.kubernetes/simulated": "true"}}}
            try:
                self.core.create_node(body)
            except ApiException as e:
                if e.status != 409:
                    raise
            ts = now_ts()
            res = {"cpu": "64", "memory": "256Gi", "pods": "500", "ephemeral-storage": "1Ti"}

            def cond(ctype, cstatus, reason, message, ts=ts):
                return {"type": ctype, "status": cstatus, "reason": reason, "message": message,
                        "lastHeartbeatTime": ts, "lastTransitionTime": ts}

            status = {"status": {
                "capacity": res, "allocatable": res,
                "addresses": [{"type": "InternalIP", "address": "10.87.0.%d" % (i + 10)},
                              {"type": "Hostname", "address": name}],
                "conditions": [
                    cond("MemoryPressure", "False", "KubeletHasSufficientMemory", "ok"),
                    cond("DiskPressure", "False", "KubeletHasNoDiskPressure", "ok"),
                    cond("PIDPressure", "False", "KubeletHasSufficientPID", "ok"),
                    cond("Ready", "True", "KubeletReady", "kubelet stand-in is posting ready status"),
                ],
                "nodeInfo": {"machineID": "", "systemUUID": "", "bootID": "",
                             "kernelVersion": "simulated", "osImage": "inplace kubelet stand-in",
                             "containerRuntimeVersion": "containerd://simulated",
                             "kubeletVersion": "v1.20.2", "kubeProxyVersion": "v1.20.2",
                             "operatingSystem": "linux", "architecture": "amd64"},
                "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
            }}
            self.core.patch_node_status(name, status,
                                        _content_type="application/strategic-merge-patch+json")
            node = self.core.read_node(name)
            taints = node.spec.taints or []
            keep = [t for t in taints if not t.key.startswith("node.kubernetes.io/")]
            if len(keep) != len(taints):
                self.core.patch_node(name, {"spec": {"taints": [
                    self.api_client.sanitize_for_serialization(t) for t in keep] or None}},
                    _content_type="application/merge-patch+json")
        LOG.info("nodes registered and Ready: %s", ", ".join(self.nodes))

    # ---------------------------------------------------------------- timers
    def at(self, delay, pod, ctr, action):
        gen = ctr.gen if ctr is not None else pod.pod_gen
        heapq.heappush(self.timers, (time.monotonic() + max(delay, 0.0), next(self.seq),
                                     pod.uid, ctr.name if ctr else None,
                                     ctr.init if ctr else False, gen, action))

    def backoff(self, failures):
        base = max(self.start_delay, 0.5)
        return base * min(2 ** max(failures - 1, 0), 8)

    # ---------------------------------------------------------------- pod bookkeeping
    def alloc_ip(self, node_index):
        used = self.used_ips.setdefault(node_index, set())
        n = 0
        while n in used:
            n += 1
        used.add(n)
        return n

    @staticmethod
    def ip_str(node_index, n):
        return "10.%d.%d.%d" % (88 + node_index, n // 250, n % 250 + 2)

    @staticmethod
    def ip_num(ip):
        try:
            a, b, c, d = (int(x) for x in ip.split("."))
            return b - 88, c * 250 + d - 2
        except (ValueError, AttributeError):
            return None, None

    def forget(self, uid):
        ps = self.pods.pop(uid, None)
        if ps is not None:
            n = self.ip_num(ps.ip)[1]
            self.used_ips.get(ps.node_index, set()).discard(n)
            with self.wlock:
                if uid in self.wpending and not self.wpending[uid][3]:
                    del self.wpending[uid]

    def on_pod(self, pod):
        meta = pod.get("metadata", {})
        spec = pod.get("spec", {})
        uid = meta.get("uid")
        node = spec.get("nodeName")
        if node not in self.node_index:
            if uid in self.pods:
                self.forget(uid)
            return
        ps = self.pods.get(uid)
        if ps is None:
            ps = self.adopt(pod)
            if ps is None:
                return
        ps.gates = [g.get("conditionType") for g in spec.get("readinessGates") or []]
        ps.other_conditions = {c.get("type"): c.get("status")
                               for c in (pod.get("status", {}).get("conditions") or [])
                               if c.get("type") not in OWNED_CONDITIONS}
        if ps.deleted:
            return
        if meta.get("deletionTimestamp"):
            if not ps.deleting:
                self.begin_delete(ps, meta.get("deletionGracePeriodSeconds"))
            self.publish(ps)
            return
        # Image changes in the spec.
        specs = {c["name"]: c.get("image") for c in spec.get("containers") or []}
        for c in ps.ctrs:
            img = specs.get(c.name)
            if img is not None and img != c.image and not ps.deleting:
                self.change_image(ps, c, img)
        if not ps.init_done:
            ispecs = {c["name"]: c.get("image") for c in spec.get("initContainers") or []}
            for c in ps.init:
                img = ispecs.get(c.name)
                if img is not None and img != c.image and c.reason == "PodInitializing":
                    c.image = img
                elif img is not None and img != c.image and c.state != "terminated":
                    LOG.info("%s init container %s: image %s -> %s", ps.key(), c.name, c.image, img)
                    self.begin(ps, c, img)
        self.publish(ps)

    def adopt(self, pod):
        """First sight of a pod: a new pod, or one whose status an earlier stand-in wrote."""
        meta, spec, status = pod["metadata"], pod["spec"], pod.get("status") or {}
        node = spec["nodeName"]
        idx = self.node_index[node]
        ip = status.get("podIP")
        ni, n = self.ip_num(ip) if ip else (None, None)
        if ni == idx and n is not None and n not in self.used_ips.setdefault(idx, set()):
            self.used_ips[idx].add(n)
        else:
            ip = self.ip_str(idx, self.alloc_ip(idx))
        ps = PodState(meta["uid"], meta["namespace"], meta["name"], node, idx, ip,
                      spec.get("restartPolicy", "Always"))
        if status.get("startTime") and status.get("podIP"):
            ps.start_time = status["startTime"]
        for c in status.get("conditions") or []:
            if c.get("type") in OWNED_CONDITIONS:
                ps.conditions[c["type"]] = {k: c[k] for k in
                                            ("type", "status", "lastTransitionTime", "reason",
                                             "message") if c.get(k) is not None}
        self.pods[ps.uid] = ps
        old = {cs["name"]: cs for cs in status.get("containerStatuses") or []}
        old_init = {cs["name"]: cs for cs in status.get("initContainerStatuses") or []}
        ps.init = [Ctr(c["name"], init=True) for c in spec.get("initContainers") or []]
        ps.ctrs = [Ctr(c["name"]) for c in spec.get("containers") or []]
        adopted = bool(status.get("podIP")) and bool(old)
        if meta.get("deletionTimestamp") and not adopted:
            for c, cspec in zip(ps.init + ps.ctrs, (spec.get("initContainers") or []) +
                                spec["containers"]):
                c.image = cspec.get("image")
            return ps
        if not adopted:
            LOG.info("%s: new pod on %s, ip %s", ps.key(), node, ip)
            if self.sandbox_delay > 0:
                for c, cspec in zip(ps.init + ps.ctrs, (spec.get("initContainers") or []) + spec["containers"]):
                    c.image, c.kind, c.state = cspec.get("image"), classify_image(cspec.get("image")), "waiting"
                    c.reason = "PodInitializing" if ps.init else "ContainerCreating"
                self.at(self.sandbox_delay, ps, None, "sandbox")
                return ps
            self.start_containers(ps, spec)
            return ps
        LOG.info("%s: adopting running pod on %s, ip %s", ps.key(), node, ip)
        for lst, olds, specs in ((ps.init, old_init, spec.get("initContainers") or []),
                                 (ps.ctrs, old, spec["containers"])):
            for c, cspec in zip(lst, specs):
                self.adopt_container(ps, c, olds.get(c.name), cspec.get("image"))
        ps.init_done = all(c.state == "terminated" and c.exit_code == 0 for c in ps.init)
        if not ps.init_done:
            pending = [c for c in ps.init if not (c.state == "terminated" and c.exit_code == 0)]
            self.begin(ps, pending[0], pending[0].image)
        else:
            for c in ps.ctrs:
                if c.state == "waiting" or (c.state == "terminated"
                                            and ps.restart_policy == "Always"):
                    if c.state == "terminated":
                        c.terminate_instance(c.exit_code or 0, c.reason or "Completed")
                        c.restart_count -= 1  # already counted when it ended
                    self.begin(ps, c, c.image)
        return ps

    def start_containers(self, ps, spec=None):
        """Start a new pod's containers (its init containers first), on the images of ``spec`` or,
        after the sandbox delay, on the images its containers hold by then (patched meanwhile)."""
        if ps.init:
            for c, cspec in zip(ps.init + ps.ctrs, (spec["initContainers"] + spec["containers"]) if spec else
                                [None] * (len(ps.init) + len(ps.ctrs))):
                if cspec is not None:
                    c.image = cspec.get("image")
                c.reason = "PodInitializing"
            self.begin(ps, ps.init[0], ps.init[0].image)
        else:
            ps.init_done = True
            for c, cspec in zip(ps.ctrs, spec["containers"] if spec else [None] * len(ps.ctrs)):
                self.begin(ps, c, cspec.get("image") if cspec is not None else c.image)

    def adopt_container(self, ps, c, cs, spec_image):
        if not cs:
            c.image, c.state, c.reason = spec_image, "waiting", "PodInitializing"
            return
        c.restart_count = cs.get("restartCount", 0)
        c.last_state = cs.get("lastState") or {}
        c.container_id = cs.get("containerID")
        c.image_id = cs.get("imageID", "")
        c.ready = bool(cs.get("ready"))
        c.started = bool(cs.get("started"))
        c.image = spec_image if display_image(spec_image) == cs.get("image") else cs.get("image")
        c.kind = classify_image(c.image)
        st = cs.get("state") or {}
        if "running" in st:
            c.state, c.started_at = "running", st["running"].get("startedAt")
            if c.kind == CRASHLOOP:
                self.at(self.start_delay, ps, c, "crash")
            elif not c.ready and c.kind == GOOD:
                self.at(self.ready_delay, ps, c, "ready")
        elif "terminated" in st:
            t = st["terminated"]
            c.state, c.reason, c.exit_code = "terminated", t.get("reason"), t.get("exitCode")
            c.started_at, c.finished_at = t.get("startedAt"), t.get("finishedAt")
        else:
            c.state, c.reason = "waiting", (st.get("waiting") or {}).get("reason", "")

    # ---------------------------------------------------------------- container state machine
    def begin(self, ps, c, image):
        """Create a new instance of container c for image (after any old one ended)."""
        c.gen += 1
        if image != c.image:
            c.failures = 0
            c.image_id = ""
        c.image = image
        c.kind = classify_image(image)
        c.ready = False
        c.started = False
        c.state = "waiting"
        c.exit_code = None
        if c.kind == INVALID:
            c.reason = "InvalidImageName"
            c.message = ('Failed to apply default image tag "%s": couldn\'t parse image reference '
                         '"%s": invalid reference format' % (image, image))
            return
        c.reason, c.message = "ContainerCreating", None
        self.at(self.start_delay, ps, c, "pulled")

    def change_image(self, ps, c, image):
        LOG.info("%s container %s: image %s -> %s, restarting it", ps.key(), c.name, c.image, image)
        if c.state == "running":
            c.terminate_instance(0, "Completed")
        if ps.init_done:
            self.begin(ps, c, image)
        else:
            c.image = image  # started once the init containers are done

    def fire(self, ps, c, action):
        if action == "kill":
            self.kill(ps)
            return
        if action == "sandbox":
            if not ps.deleting:
                self.start_containers(ps)
            return
        if action == "pulled":
            if c.kind == PULLFAIL:
                c.failures += 1
                c.reason = "ErrImagePull"
                c.message = ('rpc error: code = NotFound desc = failed to pull and unpack image '
                             '"%s": not found (simulated by the kubelet stand-in)'
                             % display_image(c.image))
                self.at(max(self.start_delay, 0.5), ps, c, "pullbackoff")
                return
            c.container_id = new_container_id()
            c.image_id = image_id(c.image)
            c.state, c.reason, c.message = "running", None, None
            c.started_at = now_ts()
            c.started = True
            if c.init:
                if c.kind == CRASHLOOP:
                    self.at(self.start_delay, ps, c, "crash")
                else:
                    c.state, c.reason, c.exit_code = "terminated", "Completed", 0
                    c.finished_at = now_ts()
                    c.ready = True
                    c.started = False
                    self.init_next(ps)
            elif c.kind == CRASHLOOP:
                self.at(self.start_delay, ps, c, "crash")
            elif c.kind == GOOD:
                self.at(self.ready_delay, ps, c, "ready")
        elif action == "pullbackoff":
            c.reason = "ImagePullBackOff"
            c.message = 'Back-off pulling image "%s"' % display_image(c.image)
            self.at(self.backoff(c.failures), ps, c, "pulled")
        elif action == "ready":
            if c.state == "running" and c.kind == GOOD:
                c.ready = True
        elif action == "crash":
            c.failures += 1
            c.terminate_instance(1, "Error")
            delay = self.backoff(c.failures)
            c.state, c.reason = "waiting", "CrashLoopBackOff"
            c.message = "back-off %ds restarting failed container=%s pod=%s_%s(%s)" % (
                max(int(delay), 1), c.name, ps.name, ps.namespace, ps.uid)
            self.at(delay, ps, c, "pulled")

    def init_next(self, ps):
        for c in ps.init:
            if not (c.state == "terminated" and c.exit_code == 0):
                if c.state == "waiting" and c.reason == "PodInitializing":
                    self.begin(ps, c, c.image)
                return
        ps.init_done = True
        for c in ps.ctrs:
            self.begin(ps, c, c.image)

    def begin_delete(self, ps, grace):
        ps.deleting = True
        ps.pod_gen += 1
        for c in ps.init + ps.ctrs:
            c.gen += 1
            c.ready = False
        grace = 1.0 if grace is None else min(float(grace), 1.0)
        LOG.info("%s: deletion requested, killing containers in %.1fs", ps.key(), grace)
        self.at(grace, ps, None, "kill")

    def kill(self, ps):
        for c in ps.ctrs + ps.init:
            if c.state == "running":
                c.state, c.reason, c.exit_code = "terminated", "Completed", 0
                c.finished_at = now_ts()
                c.ready = c.started = False
        ps.deleted = True
        self.publish(ps, delete=True)

    # ---------------------------------------------------------------- status
    def set_condition(self, ps, ctype, status, reason=None, message=None):
        old = ps.conditions.get(ctype)
        cond = {"type": ctype, "status": status, "lastProbeTime": None}
        cond["lastTransitionTime"] = (old.get("lastTransitionTime") if old and old.get("status")
                                      == status and old.get("lastTransitionTime") else now_ts())
        # Explicit nulls: a strategic merge patch keeps fields of a list element it does not
        # mention, so a stale reason/message would survive a False -> True transition.
        cond["reason"] = reason
        cond["message"] = message
        ps.conditions[ctype] = cond

    def compute(self, ps):
        inits = [c.status() for c in ps.init]
        ctrs = [c.status() for c in ps.ctrs]
        self.set_condition(ps, "PodScheduled", "True")
        if ps.init_done:
            self.set_condition(ps, "Initialized", "True")
        else:
            pending = [c.name for c in ps.init if not (c.state == "terminated" and c.exit_code == 0)]
            self.set_condition(ps, "Initialized", "False", "ContainersNotInitialized",
                               "containers with incomplete status: [%s]" % " ".join(pending))
        unready = [c.name for c in ps.ctrs if not c.ready]
        if unready:
            msg = "containers with unready status: [%s]" % " ".join(unready)
            self.set_condition(ps, "ContainersReady", "False", "ContainersNotReady", msg)
            self.set_condition(ps, "Ready", "False", "ContainersNotReady", msg)
        else:
            self.set_condition(ps, "ContainersReady", "True")
            missing = [g for g in ps.gates if g not in ps.other_conditions]
            false = [g for g in ps.gates if ps.other_conditions.get(g, "True") != "True"]
            if missing:
                self.set_condition(ps, "Ready", "False", "ReadinessGatesNotReady",
                                   'corresponding condition of pod readiness gate "%s" does not '
                                   'exist.' % missing[0])
            elif false:
                self.set_condition(ps, "Ready", "False", "ReadinessGatesNotReady",
                                   'the status of pod readiness gate "%s" is not "True", but %s'
                                   % (false[0], ps.other_conditions[false[0]]))
            else:
                self.set_condition(ps, "Ready", "True")
        # Phase, as kubelet's getPhase for restartPolicy Always/OnFailure/Never.
        if not ps.init_done:
            phase = "Pending"
        else:
            running = sum(c.state == "running" for c in ps.ctrs)
            waiting_first = sum(c.state == "waiting" and not c.last_state for c in ps.ctrs)
            stopped = sum(c.state == "terminated" for c in ps.ctrs)
            failed = sum(c.state == "terminated" and c.exit_code != 0 for c in ps.ctrs)
            if waiting_first:
                phase = "Pending"
            elif running or ps.restart_policy == "Always" or stopped < len(ps.ctrs):
                phase = "Running"
            elif failed and ps.restart_policy == "Never":
                phase = "Failed"
            elif failed:
                phase = "Running"
            else:
                phase = "Succeeded"
        node_ip = "10.87.0.%d" % (ps.node_index + 10)
        status = {
            "phase": phase,
            "hostIP": node_ip,
            "podIP": ps.ip,
            "podIPs": [{"ip": ps.ip}],
            "startTime": ps.start_time,
            "conditions": [ps.conditions[t] for t in OWNED_CONDITIONS],
            "containerStatuses": ctrs,
        }
        if ps.init:
            status["initContainerStatuses"] = inits
        return status

    def publish(self, ps, delete=False):
        status = self.compute(ps)
        if not delete and status == ps.last_written:
            return
        ps.last_written = status
        body = {"metadata": {"uid": ps.uid}, "status": status}
        with self.wcond:
            prev = self.wpending.get(ps.uid)
            if prev is None and ps.uid not in self.winflight:
                self.worder.append(ps.uid)
            self.wpending[ps.uid] = (ps.namespace, ps.name, body, delete or (prev and prev[3]))
            self.wcond.notify()

    # ---------------------------------------------------------------- writer pool
    def writer(self):
        from kubernetes.client.rest import ApiException
        while not self.stopping.is_set():
            with self.wcond:
                while not self.worder and not self.stopping.is_set():
                    self.wcond.wait(1.0)
                if self.stopping.is_set():
                    return
                uid = self.worder.pop(0)
                item = self.wpending.pop(uid, None)
                if item is None:
                    continue
                self.winflight.add(uid)
            ns, name, body, delete = item
            retry = False
            try:
                try:
                    self.core.patch_namespaced_pod_status(
                        name, ns, body, _content_type="application/strategic-merge-patch+json",
                        _request_timeout=(5, 30))
                except ApiException as e:
                    if e.status in (404, 409, 422):
                        if e.status != 404:
                            LOG.warning("%s/%s: status write refused (%s): %s", ns, name,
                                        e.status, (e.body or "")[:200])
                        if e.status == 404 or not delete:
                            continue
                    else:
                        raise
                if delete:
                    try:
                        self.core.delete_namespaced_pod(
                            name, ns, body={"apiVersion": "v1", "kind": "DeleteOptions",
                                            "gracePeriodSeconds": 0,
                                            "preconditions": {"uid": body["metadata"]["uid"]}},
                            _request_timeout=(5, 30))
                        LOG.info("%s/%s: deleted", ns, name)
                    except ApiException as e:
                        if e.status not in (404, 409):
                            raise
            except Exception as e:  # connection trouble, API server restarting, 5xx...
                LOG.warning("%s/%s: write failed (%s), retrying", ns, name,
                            str(e).splitlines()[0][:160] if str(e) else type(e).__name__)
                retry = True
            finally:
                with self.wcond:
                    self.winflight.discard(uid)
                    if retry and uid not in self.wpending:
                        self.wpending[uid] = item
                    if uid in self.wpending:
                        self.worder.append(uid)
                        self.wcond.notify()
            if retry:
                self.stopping.wait(1.0)

    # ---------------------------------------------------------------- watch
    def watcher(self):
        rv = None
        while not self.stopping.is_set():
            try:
                if rv is None:
                    data = self.core.list_pod_for_all_namespaces(
                        field_selector="spec.nodeName!=", _preload_content=False,
                        _request_timeout=(5, 60))
                    lst = json.loads(data.data)
                    rv = lst["metadata"]["resourceVersion"]
                    self.events.put(("relist", lst.get("items") or []))
                resp = self.core.list_pod_for_all_namespaces(
                    field_selector="spec.nodeName!=", watch=True, resource_version=rv,
                    allow_watch_bookmarks=True, timeout_seconds=50, _preload_content=False,
                    _request_timeout=(5, 70))
                buf = b""
                try:
                    for chunk in resp.stream(amt=None, decode_content=False):
                        buf += chunk
                        while b"\n" in buf:
                            line, buf = buf.split(b"\n", 1)
                            if not line.strip():
                                continue
                            ev = json.loads(line)
                            typ, obj = ev.get("type"), ev.get("object") or {}
                            if typ == "ERROR":
                                if obj.get("code") == 410:
                                    LOG.info("watch expired (410), re-listing")
                                    rv = None
                                else:
                                    LOG.warning("watch error: %s", obj.get("message"))
                                raise StopIteration
                            new_rv = obj.get("metadata", {}).get("resourceVersion")
                            if new_rv:
                                rv = new_rv
                            if typ != "BOOKMARK":
                                self.events.put((typ, obj))
                        if self.stopping.is_set():
                            return
                except StopIteration:
                    pass
                finally:
                    resp.release_conn()
            except Exception as e:
                status = getattr(e, "status", None)
                if status == 410:
                    rv = None
                LOG.warning("watch failed (%s), retrying",
                            str(e).splitlines()[0][:160] if str(e) else type(e).__name__)
                self.stopping.wait(1.0)

    # ---------------------------------------------------------------- main loop
    def run(self):
        self.register_nodes()
        threads = [threading.Thread(target=self.watcher, name="watch", daemon=True)]
        threads += [threading.Thread(target=self.writer, name="writer-%d" % i, daemon=True)
                    for i in range(self.nwriters)]
        for t in threads:
            t.start()
        LOG.info("watching pods of %d nodes (start delay %.2fs, ready delay %.2fs, sandbox delay %.2fs)",
                 len(self.nodes), self.start_delay, self.ready_delay, self.sandbox_delay)
        while not self.stopping.is_set():
            timeout = 1.0
            if self.timers:
                timeout = min(max(self.timers[0][0] - time.monotonic(), 0.0), 1.0)
            try:
                ev = self.events.get(timeout=timeout)
            except queue.Empty:
                ev = None
            touched = {}
            while ev is not None:
                self.handle_event(ev)
                try:
                    ev = self.events.get_nowait()
                except queue.Empty:
                    ev = None
            nowm = time.monotonic()
            while self.timers and self.timers[0][0] <= nowm:
                uid, cname, is_init, gen, action = heapq.heappop(self.timers)[2:]
                ps = self.pods.get(uid)
                if ps is None or ps.deleted:
                    continue
                if cname is None:
                    if gen != ps.pod_gen:
                        continue
                    c = None
                else:
                    c = next((x for x in (ps.init if is_init else ps.ctrs) if x.name == cname),
                             None)
                    if c is None or c.gen != gen:
                        continue
                self.fire(ps, c, action)
                touched[uid] = ps
            for ps in touched.values():
                if not ps.deleted:
                    self.publish(ps)

    def handle_event(self, ev):
        typ, obj = ev
        try:
            if typ == "relist":
                seen = set()
                for pod in obj:
                    seen.add(pod["metadata"]["uid"])
                    self.on_pod(pod)
                for uid in [u for u in self.pods if u not in seen]:
                    self.forget(uid)
            elif typ in ("ADDED", "MODIFIED"):
                self.on_pod(obj)
            elif typ == "DELETED":
                self.forget(obj.get("metadata", {}).get("uid"))
        except Exception:
            LOG.exception("error handling %s event", typ)


def node_names(spec):
    if str(spec).isdigit():
        return ["inplace-node-%d" % i for i in range(int(spec))]
    return [n for n in str(spec).split(",") if n]


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    p.add_argument("--kubeconfig", required=True)
    p.add_argument("--nodes", default="3", help="a count (inplace-node-0..N-1) or comma list")
    p.add_argument("--start-delay", type=float, default=1.0)
    p.add_argument("--ready-delay", type=float, default=1.0)
    p.add_argument("--writers", type=int, default=4)
    p.add_argument("--sandbox-delay", type=float, default=0.0,
                   help="seconds a new pod waits before its first container is created (sandbox, network, "
                        "volumes); restarts in place do not pay it")
    args = p.parse_args(argv)
    logging.basicConfig(stream=sys.stderr, level=logging.INFO,
                        format="%(asctime)s %(levelname).1s %(message)s")
    logging.getLogger("urllib3").setLevel(logging.ERROR)
    from kubernetes import client, config
    cfg = client.Configuration()
    config.load_kube_config(config_file=args.kubeconfig, client_configuration=cfg)
    cfg.connection_pool_maxsize = args.writers + 4
    api = client.ApiClient(cfg)
    kl = Kubelet(api, node_names(args.nodes), args.start_delay, args.ready_delay, args.writers, args.sandbox_delay)

    def stop(signum, frame):
        LOG.info("signal %d, exiting", signum)
        kl.stopping.set()
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    while True:
        try:
            kl.run()
            break
        except Exception as e:  # API server not reachable yet while registering nodes
            if kl.stopping.is_set():
                break
            LOG.warning("startup failed (%s), retrying", str(e).splitlines()[0][:200])
            time.sleep(1.0)
    return 0


if __name__ == "__main__":
    sys.exit(main())
