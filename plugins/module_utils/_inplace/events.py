# -*- coding: utf-8 -*-
# Copyright: inplace.kubernetes contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Kubernetes Events on the owner and its pods, so ``kubectl describe`` tells the story.

Events are posted in the background by a few threads, so a hundred ``PodUpgradedInPlace`` events do
not hold up the next batch or the template sync; :meth:`Recorder.close` waits for them before the
module returns. A pod's Event is *held* while its batch is still restarting (``record(held=True)``,
stamped when the pod was seen done) and posted once the batch has settled (:meth:`Recorder.flush`):
posted during the wait, a hundred POSTs compete with the kubelets' status writes and with the watch
the batch is waiting on (measured on 2 loaded cores: the batch's wait up to a second longer).
"""

from __future__ import annotations

import binascii
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor, wait

from ansible_collections.inplace.kubernetes.plugins.module_utils._inplace.api_paths import api_path
from ansible_collections.inplace.kubernetes.plugins.module_utils._inplace.errors import ApiError

COMPONENT = "inplace.kubernetes"

STARTED = "InplaceUpgradeStarted"
POD_UPGRADED = "PodUpgradedInPlace"
FAILED = "InplaceUpgradeFailed"
ROLLED_BACK = "InplaceRolledBack"
TEMPLATE_SYNCED = "TemplateSynced"
COMPLETED = "InplaceUpgradeCompleted"
ABANDONED = "InplaceUpgradeAbandoned"

POSTING_THREADS = 4
POST_SECONDS = 10

_API_VERSIONS = {"Pod": "v1", "Deployment": "apps/v1", "StatefulSet": "apps/v1", "DaemonSet": "apps/v1"}


def event_for(obj, kind, reason, message, warning=False, now=None):
    """The v1 Event about ``obj`` (a Pod or a workload) that ``kubectl describe`` lists."""
    metadata = obj.get("metadata", {})
    namespace = metadata.get("namespace")
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now))
    return {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"name": "%s.%s" % (metadata.get("name"), binascii.hexlify(os.urandom(8)).decode()), "namespace": namespace},
        "involvedObject": {
            "kind": kind,
            "name": metadata.get("name"),
            "namespace": namespace,
            "uid": metadata.get("uid"),
            "apiVersion": _API_VERSIONS.get(kind, "v1"),
            "resourceVersion": metadata.get("resourceVersion"),
        },
        "reason": reason,
        "message": message[:1024],
        "type": "Warning" if warning else "Normal",
        "firstTimestamp": stamp,
        "lastTimestamp": stamp,
        "count": 1,
        "source": {"component": COMPONENT},
        "reportingComponent": COMPONENT,
    }


class Recorder(object):
    """Posts Events; a cluster that refuses them (RBAC) costs one warning, never the upgrade."""

    def __init__(self, kube, enabled=True, warn=None, threads=POSTING_THREADS):
        self.kube = kube
        self.enabled = enabled and not kube.dry_run
        self.warn = warn or (lambda msg: None)
        self.posted = 0
        self._threads = threads
        self._pool = None
        self._pending = []
        self._held = []
        self._lock = threading.Lock()

    def record(self, obj, kind, reason, message, warning=False, held=False):
        """Queue one Event; the timestamp is taken now, the POST happens on a posting thread (``held``: only from the
        next :meth:`flush`)."""
        if not self.enabled or not obj:
            return
        event = event_for(obj, kind, reason, message, warning)
        if held:
            self._held.append(event)
            return
        self._submit(event)

    def flush(self):
        """Start posting the held Events (in the background)."""
        held, self._held = self._held, []
        for event in held:
            self._submit(event)

    def _submit(self, event):
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=self._threads)
        self._pending.append(self._pool.submit(self._post, event))

    def _post(self, event):
        if not self.enabled:
            return
        try:
            self.kube.post(api_path("Event", event["metadata"]["namespace"]), event, deadline=time.monotonic() + POST_SECONDS)
            with self._lock:
                self.posted += 1
        except ApiError as exc:
            with self._lock:
                if not self.enabled:
                    return
                self.enabled = False
            self.warn("could not record Kubernetes Events (%s); continuing without them" % exc.msg)

    def close(self, timeout=POST_SECONDS):
        """Post the held Events and wait (at most ``timeout`` seconds) until every queued Event is posted; returns how
        many were."""
        self.flush()
        if self._pool is not None:
            wait(self._pending, timeout=timeout)
            self._pool.shutdown(wait=False)
            self._pool = None
            self._pending = []
        return self.posted
