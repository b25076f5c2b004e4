# -*- coding: utf-8 -*-
# Copyright: inplace.kubernetes contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Make the repository importable as ``ansible_collections.inplace.kubernetes``.

``make units`` (tests/run.sh puts the staged ``build/`` on ``PYTHONPATH``) and ``ansible-test units``
already make it importable; then this does nothing. Run as plain ``pytest`` from a checkout, the
repository root is linked into a temporary ``ansible_collections/inplace/kubernetes`` tree put first
on ``sys.path``.
"""

from __future__ import annotations

import atexit
import copy
import hashlib
import importlib
import json
import os
import re
import shutil
import sys
import tempfile
import time

import pytest

COLLECTION = "ansible_collections.inplace.kubernetes"
REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _importable():
    try:
        importlib.import_module(COLLECTION)
    except ImportError:
        return False
    return True


def _link_collection():
    base = tempfile.mkdtemp(prefix="inplace-units-")
    atexit.register(shutil.rmtree, base, True)
    namespace = os.path.join(base, "ansible_collections", "inplace")
    os.makedirs(namespace)
    os.symlink(REPO_ROOT, os.path.join(namespace, "kubernetes"))
    sys.path.insert(0, base)
    # A namespace package imported before (say from another collection path) caches its __path__.
    for name in ("ansible_collections", "ansible_collections.inplace"):
        module = sys.modules.get(name)
        if module is not None and hasattr(module, "__path__"):
            extra = os.path.join(base, *name.split("."))
            if extra not in list(module.__path__):
                module.__path__.append(extra)
    importlib.invalidate_caches()
    for name in [n for n in sys.modules if n == COLLECTION or n.startswith(COLLECTION + ".")]:
        del sys.modules[name]


if not _importable():
    _link_collection()
    if not _importable():  # pragma: no cover - a broken checkout
        raise ImportError("cannot make %s importable from %s" % (COLLECTION, REPO_ROOT))


# -- a recording fake API server with a kubelet that restarts containers in place ------------------

# Imported only now that the collection is importable.
from ansible_collections.inplace.kubernetes.plugins.module_utils._inplace.api_paths import (  # noqa: E402
    api_path)  # pylint: disable=wrong-import-position
from ansible_collections.inplace.kubernetes.plugins.module_utils._inplace.deps import (  # noqa: E402
    jsonpatch)  # pylint: disable=wrong-import-position
from ansible_collections.inplace.kubernetes.plugins.module_utils._inplace.discovery import (  # noqa: E402
    template_matches)  # pylint: disable=wrong-import-position
from ansible_collections.inplace.kubernetes.plugins.module_utils._inplace.errors import (  # noqa: E402
    ApiError, PreconditionFailed)  # pylint: disable=wrong-import-position

_POD_PATH = re.compile(r"^/api/v1/namespaces/(?P<ns>[^/]+)/pods(?:/(?P<name>[^/]+))?$")
_OWNER_KINDS = ("Deployment", "StatefulSet", "DaemonSet")
REVISION_LABEL = "controller-revision-hash"


def _merge(target, patch):
    """RFC 7386 merge patch: ``patch`` merged into ``target`` (a ``None`` value removes the key)."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = _merge(result.get(key), value)
    return result


def _template_hash(template):
    return hashlib.sha256(json.dumps(template, sort_keys=True).encode("utf-8")).hexdigest()[:8]


class FakeKube(object):
    """Pods of one namespace behind the client's interface (``get``, ``json_patch``, ``watch`` ...).

    Every call is recorded in ``calls`` as ``(method, path)``. A patched container is restarted by the
    "kubelet" before the next read: on its new image, Ready, with a new container id; or, for a
    ``(pod, image)`` in ``unpullable``, left waiting in ``ErrImagePull`` as the real kubelet reports it
    (the old, killed container's status). ``edit_before_patch`` (pod -> image) is someone else setting
    that image just before this client's patch. With ``dry_run`` (check mode) nothing changes.

    :meth:`own` puts the pods under an owner (Deployment, StatefulSet, DaemonSet) with a "controller" that,
    like the kubelet, acts before the next read: it keeps the owner's status, copies a Deployment's
    annotations onto its current ReplicaSet, makes a new ReplicaSet when no ReplicaSet matches an unpaused
    Deployment's template (``new_replicasets``), makes a DaemonSet's ControllerRevisions, and, when its
    update strategy does not hold it, recreates every pod not on its newest revision (``recreated``); with
    ``controller_stopped`` it does nothing. A watch of the owner yields it once, as its controller left it. A pod
    named in ``appear_on_patch`` (pod -> count) makes that many new pods appear from the owner's template
    when it is patched (a replacement or a scale-up during the run). Writes to any object are recorded with
    their bodies in ``writes`` as ``(method, path, body)``.
    """

    def __init__(self, pods=3, image="registry.example.com/web:1", namespace="ns"):
        self.namespace = namespace
        self.dry_run = False
        self.requests = 0
        self.calls = []
        self.unpullable = set()
        self.edit_before_patch = {}
        self._serial = 0
        self.pods = dict((p["metadata"]["name"], p) for p in (self.pod("web-%d" % i, image) for i in range(pods)))
        self._restarting = set()
        self.leases = {}  # path -> Lease, with resourceVersion checks as the API server keeps them
        self.objects = {}  # path -> owners, ReplicaSets, ControllerRevisions
        self.owner_path = None
        self.writes = []
        self.new_replicasets = []
        self.recreated = []
        self.appear_on_patch = {}
        self.controller_stopped = False  # the controller-manager stopped: the owner's status stays as it is

    # -- an owner and its controller ---------------------------------------------------------

    def own(self, kind, name="web", update_strategy=None):
        """Put every pod under a ``kind`` named ``name`` (a Deployment's through the ReplicaSet ``web-<hash>``),
        whose template runs the pods' image (a StatefulSet's or DaemonSet's with ``update_strategy``, by default
        RollingUpdate); returns the owner's path."""
        image = sorted(self.pods.values(), key=lambda p: p["metadata"]["name"])[0]["spec"]["containers"][0]["image"]
        template = {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "app", "image": image}]}}
        spec = {"selector": {"matchLabels": {"app": "web"}}, "template": template}
        if kind != "DaemonSet":
            spec["replicas"] = len(self.pods)
        if kind == "StatefulSet":
            spec["updateStrategy"] = update_strategy or {"type": "RollingUpdate", "rollingUpdate": {"partition": 0}}
        elif kind == "DaemonSet":
            spec["updateStrategy"] = update_strategy or {"type": "RollingUpdate"}
        self.owner_path = api_path(kind, self.namespace, name)
        self.objects[self.owner_path] = self._object(kind, name, spec)
        if kind == "Deployment":
            self._new_replicaset(self.objects[self.owner_path], replicas=len(self.pods))
        for pod_name in sorted(self.pods):
            self._adopt(self.pods[pod_name])
        self._controller()
        return self.owner_path

    def owner(self):
        return copy.deepcopy(self.objects[self.owner_path])

    def of_kind(self, kind):
        """``{name: object}`` of the stored objects of ``kind``."""
        return dict((o["metadata"]["name"], copy.deepcopy(o)) for o in self.objects.values() if o["kind"] == kind)

    def _object(self, kind, name, spec, owner=None, labels=None):
        self._serial += 1
        metadata = {"name": name, "namespace": self.namespace, "uid": "uid-%s-%s" % (kind.lower(), name),
                    "generation": 1, "resourceVersion": str(self._serial), "labels": dict(labels or {"app": "web"}),
                    "creationTimestamp": "2026-01-01T00:00:%02dZ" % self._serial}
        if owner is not None:
            metadata["ownerReferences"] = [{"kind": owner["kind"], "name": owner["metadata"]["name"],
                                            "uid": owner["metadata"]["uid"], "controller": True}]
        return {"kind": kind, "metadata": metadata, "spec": spec, "status": {}}

    def _new_replicaset(self, deployment, replicas=0):
        template = copy.deepcopy(deployment["spec"]["template"])
        pod_hash = _template_hash(template)
        template["metadata"]["labels"]["pod-template-hash"] = pod_hash
        name = "%s-%s" % (deployment["metadata"]["name"], pod_hash)
        spec = {"replicas": replicas, "selector": deployment["spec"]["selector"], "template": template}
        rs = self._object("ReplicaSet", name, spec, owner=deployment)
        rs["status"] = {"replicas": replicas}
        self.objects[api_path("ReplicaSet", self.namespace, name)] = rs
        return rs

    def revision(self, owner=None):
        """The ``controller-revision-hash`` a pod of the owner's current template carries (a StatefulSet's revision
        name, a DaemonSet's hash)."""
        owner = owner or self.objects[self.owner_path]
        pod_hash = _template_hash(owner["spec"]["template"])
        return pod_hash if owner["kind"] == "DaemonSet" else "%s-%s" % (owner["metadata"]["name"], pod_hash)

    def _current_replicaset(self, deployment):
        matching = [o for o in self._owned(deployment, "ReplicaSet")
                    if template_matches(o["spec"]["template"], deployment["spec"]["template"])]
        return sorted(matching, key=lambda o: o["metadata"]["creationTimestamp"])[0] if matching else None

    def _owned(self, owner, kind):
        return [o for o in self.objects.values() if o["kind"] == kind
                and any(r["uid"] == owner["metadata"]["uid"] for r in o["metadata"].get("ownerReferences") or [])]

    def _adopt(self, pod):
        """``pod`` owned as its owner's controller would have made it, from the owner's current template."""
        owner = self.objects[self.owner_path]
        labels = pod["metadata"]["labels"]
        if owner["kind"] == "Deployment":
            parent = self._current_replicaset(owner)
            labels["pod-template-hash"] = parent["spec"]["template"]["metadata"]["labels"]["pod-template-hash"]
        else:
            parent = owner
            labels[REVISION_LABEL] = self.revision(owner)
        pod["metadata"]["ownerReferences"] = [{"kind": parent["kind"], "name": parent["metadata"]["name"],
                                               "uid": parent["metadata"]["uid"], "controller": True}]

    def add_pod(self, name):
        """A new pod from the owner's current template (a replacement, a scale-up)."""
        owner = self.objects[self.owner_path]
        pod = self.pod(name, owner["spec"]["template"]["spec"]["containers"][0]["image"])
        self.pods[name] = pod
        self._adopt(pod)
        if owner["kind"] == "Deployment":
            parent = self.objects[api_path("ReplicaSet", self.namespace, pod["metadata"]["ownerReferences"][0]["name"])]
            parent["spec"]["replicas"] += 1
            parent["status"]["replicas"] += 1
        if "replicas" in owner["spec"]:
            owner["spec"]["replicas"] += 1
        return pod

    def _held(self, owner):
        strategy = owner["spec"].get("updateStrategy") or {}
        if strategy.get("type") == "OnDelete":
            return True
        partition = int((strategy.get("rollingUpdate") or {}).get("partition") or 0)
        return owner["kind"] == "StatefulSet" and partition >= owner["spec"]["replicas"]

    def _controller(self):
        """The owner's controller, one pass (before every read, like the kubelet)."""
        owner = self.objects.get(self.owner_path)
        if owner is None or self.controller_stopped:
            return
        status = owner["status"]
        status["observedGeneration"] = owner["metadata"]["generation"]
        if owner["kind"] == "Deployment":
            current = self._current_replicaset(owner)
            if current is None and not owner["spec"].get("paused"):
                current = self._new_replicaset(owner)
                self.new_replicasets.append(current["metadata"]["name"])
            if current is not None:
                current["metadata"].setdefault("annotations", {}).update(
                    (k, v) for k, v in (owner["metadata"].get("annotations") or {}).items()
                    if not k.startswith("deployment.kubernetes.io/"))
            status["updatedReplicas"] = current["status"]["replicas"] if current else 0
            status["replicas"] = len(self.pods)
            return
        revision = self.revision(owner)
        if owner["kind"] == "DaemonSet":
            revisions = self._owned(owner, "ControllerRevision")
            if not any(r["metadata"]["labels"].get(REVISION_LABEL) == revision for r in revisions):
                cr = self._object("ControllerRevision", "%s-%s" % (owner["metadata"]["name"], revision), None,
                                  owner=owner, labels={"app": "web", REVISION_LABEL: revision})
                del cr["spec"], cr["status"]
                cr["revision"] = max([r["revision"] for r in revisions] or [0]) + 1
                self.objects[api_path("ControllerRevision", self.namespace, cr["metadata"]["name"])] = cr
        if not self._held(owner):
            for name in sorted(self.pods):
                pod = self.pods[name]
                if pod["metadata"]["labels"].get(REVISION_LABEL) != revision:
                    self.recreated.append(name)
                    replacement = self.pod(name, owner["spec"]["template"]["spec"]["containers"][0]["image"])
                    replacement["metadata"]["uid"] += "-recreated"
                    self._adopt(replacement)
                    self.pods[name] = replacement
        updated = len([p for p in self.pods.values() if p["metadata"]["labels"].get(REVISION_LABEL) == revision])
        if owner["kind"] == "StatefulSet":
            status.update(updateRevision=revision, updatedReplicas=updated, replicas=len(self.pods))
            if updated == owner["spec"]["replicas"]:
                status["currentRevision"] = revision
        else:
            status.update(desiredNumberScheduled=len(self.pods), updatedNumberScheduled=updated, numberMisscheduled=0)

    def _write_object(self, path, change):
        """``change(obj)`` applied to the stored object at ``path``: a new resourceVersion, and a new generation when
        its spec changed, as the API server does; the object as written."""
        if path not in self.objects:
            raise ApiError("not found (404): %s" % path, status=404)
        before = self.objects[path]
        after = change(copy.deepcopy(before))
        if after.get("spec") != before.get("spec"):
            after["metadata"]["generation"] += 1
        self._serial += 1
        after["metadata"]["resourceVersion"] = str(self._serial)
        if not self.dry_run:
            self.objects[path] = after
        return copy.deepcopy(after)

    def request(self, method, path, query=None, body=None, deadline=None, **_):
        """Only the DELETE of an object (with its preconditions) goes through here."""
        self._record(method, path, body)
        if method != "DELETE" or path not in self.objects:
            raise ApiError("not found (404): %s" % path, status=404)
        stored = self.objects[path]["metadata"]
        preconditions = (body or {}).get("preconditions") or {}
        if any(stored.get(key) != value for key, value in preconditions.items()):
            raise ApiError("Conflict (409): precondition failed for %s" % path, status=409)
        if not self.dry_run:
            del self.objects[path]
        return {"kind": "Status", "status": "Success"}

    def pod(self, name, image):
        self._serial += 1
        return {"metadata": {"name": name, "namespace": self.namespace, "uid": "uid-" + name, "generation": 1,
                             "resourceVersion": "1", "labels": {"app": "web"}},
                "spec": {"nodeName": "node-1", "containers": [{"name": "app", "image": image}]},
                "status": {"phase": "Running", "podIP": "10.0.0.%d" % self._serial,
                           "conditions": [{"type": "Ready", "status": "True"}],
                           "containerStatuses": [self._running(image, "containerd://%s-0" % name, 0)]}}

    @staticmethod
    def _running(image, container_id, restarts):
        return {"name": "app", "image": image, "imageID": image + "@sha256:" + "1" * 64, "containerID": container_id,
                "restartCount": restarts, "ready": True, "started": True,
                "state": {"running": {"startedAt": "2026-01-01T00:00:00Z"}}}

    def images(self):
        return dict((name, pod["spec"]["containers"][0]["image"]) for name, pod in sorted(self.pods.items()))

    def patched(self):
        return [path.rsplit("/", 1)[1] for method, path in self.calls if method == "PATCH" and "/pods/" in path]

    def _record(self, method, path, body=None):
        self.requests += 1
        self.calls.append((method, path))
        if method not in ("GET", "WATCH"):
            self.writes.append((method, path, copy.deepcopy(getattr(body, "patch", body))))

    def _kubelet(self):
        """Restart the patched containers; the names of the pods it changed."""
        changed = sorted(self._restarting)
        for name in changed:
            pod = self.pods[name]
            image = pod["spec"]["containers"][0]["image"]
            status = pod["status"]["containerStatuses"][0]
            if (name, image) in self.unpullable:
                status.update(ready=False, lastState={"terminated": {"exitCode": 0, "reason": "Completed",
                                                                     "containerID": status["containerID"]}},
                              state={"waiting": {"reason": "ErrImagePull",
                                                 "message": 'failed to pull and unpack image "%s"' % image}})
                pod["status"]["conditions"][0]["status"] = "False"
            else:
                restarts = status["restartCount"] + 1
                pod["status"]["containerStatuses"][0] = self._running(
                    image, "containerd://%s-%d" % (name, restarts), restarts)
                pod["status"]["conditions"][0]["status"] = "True"
        self._restarting.clear()
        return changed

    def get(self, path, query=None, deadline=None):
        self._record("GET", path)
        self._kubelet()
        if "/leases/" in path:
            if path not in self.leases:
                raise ApiError("not found (404): %s" % path, status=404)
            return copy.deepcopy(self.leases[path])
        self._controller()
        match = _POD_PATH.match(path)
        if path in self.objects:
            return copy.deepcopy(self.objects[path])
        listed = [o for p, o in sorted(self.objects.items()) if p.rsplit("/", 1)[0] == path]
        if listed or path.rsplit("/", 1)[1] in ("replicasets", "controllerrevisions"):
            return {"metadata": {"resourceVersion": str(self._serial)}, "items": copy.deepcopy(listed)}
        if match is None:
            if path.endswith("/poddisruptionbudgets"):
                return {"items": []}
            if path == "/api/v1/namespaces/" + self.namespace:
                return {"metadata": {"name": self.namespace}}
            raise ApiError("not found (404): %s" % path, status=404)
        if match.group("name"):
            if match.group("name") not in self.pods:
                raise ApiError("not found (404): pod %s" % match.group("name"), status=404)
            return copy.deepcopy(self.pods[match.group("name")])
        return {"metadata": {"resourceVersion": "10"}, "items": [copy.deepcopy(p) for n, p in sorted(self.pods.items())]}

    def json_patch(self, path, patch, deadline=None):
        self._record("PATCH", path, patch)
        if path in self.objects:
            ops = jsonpatch.JsonPatch(list(getattr(patch, "patch", patch)))

            def apply(obj):
                try:
                    return ops.apply(obj)
                except Exception:  # jsonpatch.JsonPatchTestFailed, JsonPatchConflict
                    raise PreconditionFailed("PATCH %s: the object changed since it was read" % path, status=422)
            return self._write_object(path, apply)
        name = _POD_PATH.match(path).group("name")
        if name in self.edit_before_patch:
            self.pods[name]["spec"]["containers"][0]["image"] = self.edit_before_patch.pop(name)
        try:
            result = patch.apply(self.pods[name])
        except Exception:  # jsonpatch.JsonPatchTestFailed: the guarded patch's test failed
            raise PreconditionFailed("PATCH %s: the object changed since it was read" % path, status=422)
        result["metadata"]["generation"] += 1
        if not self.dry_run:
            self.pods[name] = result
            self._restarting.add(name)
            for dummy in range(self.appear_on_patch.pop(name, 0)):
                self.add_pod("web-%d" % len(self.pods))
        return copy.deepcopy(result)

    def merge_patch(self, path, patch, deadline=None):
        self._record("PATCH", path, patch)
        if path in self.objects:
            return self._write_object(path, lambda obj: _merge(obj, patch))
        match = _POD_PATH.match(path)
        if match and match.group("name") in self.pods and not self.dry_run:
            self.pods[match.group("name")] = _merge(self.pods[match.group("name")], patch)
        return {}

    def post(self, path, body, deadline=None):
        self._record("POST", path, body)
        if path.endswith("/leases"):
            full = path + "/" + body["metadata"]["name"]
            if full in self.leases:
                raise ApiError("conflict (409): lease exists", status=409)
            if not self.dry_run:
                self._serial += 1
                self.leases[full] = copy.deepcopy(body)
                self.leases[full]["metadata"].update(resourceVersion=str(self._serial), uid="uid-lease")
        return body

    def request(self, method, path, body=None, **_):
        """PUT and DELETE of a Lease, with its resourceVersion (a precondition, for DELETE) checked."""
        self._record(method, path, body)
        lease = self.leases.get(path)
        version = (body.get("metadata") or {}).get("resourceVersion") or (body.get("preconditions") or {}).get(
            "resourceVersion")
        if lease is None:
            raise ApiError("not found (404): %s" % path, status=404)
        if version != lease["metadata"]["resourceVersion"]:
            raise ApiError("conflict (409): %s" % path, status=409)
        if self.dry_run:
            return copy.deepcopy(body) if method == "PUT" else {}
        if method == "DELETE":
            del self.leases[path]
            return {}
        self._serial += 1
        self.leases[path] = copy.deepcopy(body)
        self.leases[path]["metadata"].update(resourceVersion=str(self._serial), uid="uid-lease")
        return copy.deepcopy(self.leases[path])

    def watch(self, path, query, timeout_seconds):
        """Pods: the pods the kubelet changes now, each once. An object named by ``fieldSelector``: it once, as its
        controller left it."""
        self._record("WATCH", path)
        name = (query or {}).get("fieldSelector", "").replace("metadata.name=", "")
        if name and path + "/" + name in self.objects:
            time.sleep(0.002)
            self._controller()
            return iter([("MODIFIED", copy.deepcopy(self.objects[path + "/" + name]))])
        changed = self._kubelet() if _POD_PATH.match(path) else []
        if not changed:
            time.sleep(min(timeout_seconds, 0.02))
        return iter([("MODIFIED", copy.deepcopy(self.pods[n])) for n in changed])


@pytest.fixture
def fake_kube():
    """A :class:`FakeKube` with three Ready pods ``web-0``, ``web-1``, ``web-2`` on ``registry.example.com/web:1``."""
    return FakeKube()
