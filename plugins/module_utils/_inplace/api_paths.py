# -*- coding: utf-8 -*-
# Copyright: inplace.kubernetes contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The REST paths of the kinds this collection reads and writes (pure: imports no HTTP client)."""

from __future__ import annotations

_GROUPS = {
    "Pod": "/api/v1",
    "Event": "/api/v1",
    "Namespace": "/api/v1",
    "PersistentVolumeClaim": "/api/v1",
    "Deployment": "/apis/apps/v1",
    "ReplicaSet": "/apis/apps/v1",
    "StatefulSet": "/apis/apps/v1",
    "DaemonSet": "/apis/apps/v1",
    "ControllerRevision": "/apis/apps/v1",
    "PodDisruptionBudget": "/apis/policy/v1",
    "Lease": "/apis/coordination.k8s.io/v1",
}
_PLURALS = {
    "Pod": "pods",
    "Event": "events",
    "Deployment": "deployments",
    "ReplicaSet": "replicasets",
    "StatefulSet": "statefulsets",
    "DaemonSet": "daemonsets",
    "ControllerRevision": "controllerrevisions",
    "PodDisruptionBudget": "poddisruptionbudgets",
    "Lease": "leases",
    "PersistentVolumeClaim": "persistentvolumeclaims",
}


def api_path(kind, namespace, name=None, subresource=None):
    """The REST path of a namespaced object (or of a Namespace) of one of the kinds this collection handles."""
    group = _GROUPS[kind]
    if kind == "Namespace":
        return group + "/namespaces" + ("/" + name if name else "")
    path = "%s/namespaces/%s/%s" % (group, namespace, _PLURALS[kind])
    if name:
        path += "/" + name
    if subresource:
        path += "/" + subresource
    return path
