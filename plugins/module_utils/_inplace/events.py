# -*- coding: utf-8 -*-
# Copyright: inplace.kubernetes contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Kubernetes Events on the owner and its pods, so ``kubectl describe`` tells the story."""

from __future__ import annotations

import binascii
import os
import time

from ansible_collections.inplace.kubernetes.plugins.module_utils._inplace.client import api_path
from ansible_collections.inplace.kubernetes.plugins.module_utils._inplace.errors import ApiError

COMPONENT = "inplace.kubernetes"

STARTED = "InplaceUpgradeStarted"
POD_UPGRADED = "PodUpgradedInPlace"
FAILED = "InplaceUpgradeFailed"
ROLLED_BACK = "InplaceRolledBack"
TEMPLATE_SYNCED = "TemplateSynced"
COMPLETED = "InplaceUpgradeCompleted"

_API_VERSIONS = {"Pod": "v1", "Deployment": "apps/v1", "StatefulSet": "apps/v1", "DaemonSet": "apps/v1"}


class Recorder(object):
    """Posts Events; a cluster that refuses them (RBAC) costs one warning, never the upgrade."""

    def __init__(self, kube, enabled=True, warn=None):
        self.kube = kube
        self.enabled = enabled and not kube.dry_run
        self.warn = warn or (lambda msg: None)
        self.posted = 0

    def record(self, obj, kind, reason, message, warning=False):
        if not self.enabled or not obj:
            return
        metadata = obj.get("metadata", {})
        namespace = metadata.get("namespace")
        now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        event = {
            "apiVersion": "v1", "kind": "Event",
            "metadata": {"name": "%s.%s" % (metadata.get("name"), binascii.hexlify(os.urandom(8)).decode()),
                         "namespace": namespace},
            "involvedObject": {"kind": kind, "name": metadata.get("name"), "namespace": namespace,
                               "uid": metadata.get("uid"), "apiVersion": _API_VERSIONS.get(kind, "v1"),
                               "resourceVersion": metadata.get("resourceVersion")},
            "reason": reason, "message": message[:1024], "type": "Warning" if warning else "Normal",
            "firstTimestamp": now, "lastTimestamp": now, "count": 1,
            "source": {"component": COMPONENT}, "reportingComponent": COMPONENT,
        }
        try:
            self.kube.post(api_path("Event", namespace), event, deadline=time.monotonic() + 10)
            self.posted += 1
        except ApiError as exc:
            self.enabled = False
            self.warn("could not record Kubernetes Events (%s); continuing without them" % exc.msg)
