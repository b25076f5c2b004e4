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
import importlib
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
from ansible_collections.inplace.kubernetes.plugins.module_utils._inplace.errors import (  # noqa: E402
    ApiError, PreconditionFailed)  # pylint: disable=wrong-import-position

_POD_PATH = re.compile(r"^/api/v1/namespaces/(?P<ns>[^/]+)/pods(?:/(?P<name>[^/]+))?$")


class FakeKube(object):
    """Pods of one namespace behind the client's interface (``get``, ``json_patch``, ``watch`` ...).

    Every call is recorded in ``calls`` as ``(method, path)``. A patched container is restarted by the
    "kubelet" before the next read: on its new image, Ready, with a new container id; or, for a
    ``(pod, image)`` in ``unpullable``, left waiting in ``ErrImagePull`` as the real kubelet reports it
    (the old, killed container's status). ``edit_before_patch`` (pod -> image) is someone else setting
    that image just before this client's patch. With ``dry_run`` (check mode) nothing changes.
    :meth:`own` puts the pods under a DaemonSet ``web`` (a named workload); Leases are kept in ``leases`` (path ->
    object) with resourceVersion checks, as the API server keeps them.
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
        self.owner = None
        self.leases = {}

    def own(self):
        """Make ``web-*`` the pods of DaemonSet ``ns/web`` (so runs can name their workload, and hold its lease)."""
        self.owner = {"apiVersion": "apps/v1", "kind": "DaemonSet",
                      "metadata": {"name": "web", "namespace": self.namespace, "uid": "uid-ds", "generation": 1,
                                   "resourceVersion": "1", "annotations": {}},
                      "spec": {"selector": {"matchLabels": {"app": "web"}},
                               "updateStrategy": {"type": "RollingUpdate"},
                               "template": {"metadata": {"labels": {"app": "web"}},
                                            "spec": copy.deepcopy(self.pods["web-0"]["spec"])}},
                      "status": {}}
        del self.owner["spec"]["template"]["spec"]["nodeName"]
        for pod in self.pods.values():
            pod["metadata"]["ownerReferences"] = [{"kind": "DaemonSet", "name": "web", "uid": "uid-ds",
                                                   "controller": True}]
        return self

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

    def _record(self, method, path):
        self.requests += 1
        self.calls.append((method, path))

    def _kubelet(self):
        for name in sorted(self._restarting):
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

    def get(self, path, query=None, deadline=None):
        self._record("GET", path)
        self._kubelet()
        if "/leases/" in path or (self.owner and path.endswith("/daemonsets/web")):
            found = self.leases.get(path) if "/leases/" in path else self.owner
            if found is None:
                raise ApiError("not found (404): %s" % path, status=404)
            return copy.deepcopy(found)
        match = _POD_PATH.match(path)
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
        self._record("PATCH", path)
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
        return copy.deepcopy(result)

    def merge_patch(self, path, patch, deadline=None):
        self._record("PATCH", path)
        return {}

    def post(self, path, body, deadline=None):
        self._record("POST", path)
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
        self._record(method, path)
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
        self._record("WATCH", path)
        time.sleep(min(timeout_seconds, 0.02))
        return iter(())


@pytest.fixture
def fake_kube():
    """A :class:`FakeKube` with three Ready pods ``web-0``, ``web-1``, ``web-2`` on ``registry.example.com/web:1``."""
    return FakeKube()
