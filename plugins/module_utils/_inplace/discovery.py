# -*- coding: utf-8 -*-
# Copyright: inplace.kubernetes contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Owner -> controlled pods, by ownerReferences uid (reads only).

Discovery costs a fixed number of requests whatever the number of pods: one GET of the owner,
one LIST of its ReplicaSets (Deployments only) and one LIST of pods by the owner's selector, then
filtering by owner uid in memory. Terminating pods are left out: they are on their way out.
"""

from __future__ import annotations

from ansible_collections.inplace.kubernetes.plugins.module_utils._inplace.api_paths import api_path
from ansible_collections.inplace.kubernetes.plugins.module_utils._inplace.errors import ApiError, InplaceError

OWNER_KINDS = ("Deployment", "StatefulSet", "DaemonSet")


def selector_string(selector):
    """A ``labelSelector`` query string from a LabelSelector (``matchLabels`` and ``matchExpressions``)."""
    if not selector:
        return ""
    parts = ["%s=%s" % (k, v) for k, v in sorted((selector.get("matchLabels") or {}).items())]
    for expression in selector.get("matchExpressions") or []:
        key, operator, values = expression.get("key"), expression.get("operator"), expression.get("values") or []
        if operator == "In":
            parts.append("%s in (%s)" % (key, ",".join(values)))
        elif operator == "NotIn":
            parts.append("%s notin (%s)" % (key, ",".join(values)))
        elif operator == "Exists":
            parts.append(key)
        elif operator == "DoesNotExist":
            parts.append("!" + key)
        else:
            raise InplaceError("unsupported label selector operator %r on key %r" % (operator, key))
    return ",".join(parts)


def owner_selector(owner):
    """The ``labelSelector`` query string of an owner's ``spec.selector``."""
    return selector_string(owner.get("spec", {}).get("selector"))


def selectors_from_list(label_selectors):
    """Join user-given selectors (``["app=web", "tier in (a,b)"]``) into one query string."""
    return ",".join(s.strip() for s in label_selectors or [] if s and s.strip())


def owned_by(obj, uids):
    """True when one of ``obj``'s ownerReferences has a uid in ``uids``."""
    return any(ref.get("uid") in uids for ref in obj.get("metadata", {}).get("ownerReferences") or [])


def is_live(pod):
    """A pod that is neither terminating nor finished."""
    return not pod["metadata"].get("deletionTimestamp") and pod.get("status", {}).get("phase") not in ("Succeeded", "Failed")


def template_matches(a, b):
    """Compare two pod templates the way the deployment controller does (ignoring pod-template-hash)."""

    def strip(template):
        template = dict(template or {})
        metadata = dict(template.get("metadata") or {})
        labels = dict(metadata.get("labels") or {})
        labels.pop("pod-template-hash", None)
        metadata["labels"] = labels
        template["metadata"] = metadata
        return template

    return strip(a) == strip(b)


class Workload(object):
    """What discovery found: the owner (or a selector), its pods and, for Deployments, ReplicaSets."""

    def __init__(self, kind, name, namespace, owner=None, pods=None, replicasets=None, selector="", resource_version=None):
        self.kind = kind
        self.name = name
        self.namespace = namespace
        self.owner = owner
        self.pods = pods or []
        self.replicasets = replicasets or []
        self.selector = selector
        self.resource_version = resource_version  # of the pod list: a watch from it sees every change since

    @property
    def template_spec(self):
        return ((self.owner or {}).get("spec", {}).get("template") or {}).get("spec") or {}

    @property
    def replicas(self):
        if not self.owner:
            return len(self.pods)
        if self.kind == "DaemonSet":
            return self.owner.get("status", {}).get("desiredNumberScheduled", len(self.pods))
        return self.owner.get("spec", {}).get("replicas", 1)

    def summary(self):
        return {
            "kind": self.kind,
            "name": self.name,
            "namespace": self.namespace,
            "replicas": self.replicas,
            "uid": (self.owner or {}).get("metadata", {}).get("uid"),
            "selector": self.selector,
        }

    def pod_replicasets(self):
        """``{ReplicaSet name: [pod names]}`` for the live pods of a Deployment."""
        by_uid = dict((rs["metadata"]["uid"], rs["metadata"]["name"]) for rs in self.replicasets)
        groups = {}
        for pod in self.pods:
            for ref in pod["metadata"].get("ownerReferences") or []:
                if ref.get("uid") in by_uid:
                    groups.setdefault(by_uid[ref["uid"]], []).append(pod["metadata"]["name"])
        return groups

    def current_replicaset(self):
        """The ReplicaSet whose template matches the Deployment's, as the controller picks it."""
        template = (self.owner or {}).get("spec", {}).get("template")
        matches = [rs for rs in self.replicasets if template_matches(rs["spec"].get("template"), template)]
        matches.sort(key=lambda rs: (rs["metadata"].get("creationTimestamp") or "", rs["metadata"]["name"]))
        return matches[0] if matches else None


def get_namespace(kube, namespace):
    try:
        return kube.get(api_path("Namespace", None, namespace))
    except ApiError as exc:
        if exc.status == 404:
            raise InplaceError("namespace %s does not exist" % namespace) from exc
        if exc.status == 403:
            return None  # Namespaced users often cannot read namespaces; the owner lookup will tell.
        raise


def get_owner(kube, kind, name, namespace):
    try:
        return kube.get(api_path(kind, namespace, name))
    except ApiError as exc:
        if exc.status == 404:
            get_namespace(kube, namespace)
            raise InplaceError("%s %s/%s not found" % (kind, namespace, name)) from exc
        raise


def list_items(kube, kind, namespace, selector=""):
    return list_with_version(kube, kind, namespace, selector)[0]


def list_with_version(kube, kind, namespace, selector=""):
    """``(items, resourceVersion of the list)``."""
    query = {"labelSelector": selector} if selector else None
    listing = kube.get(api_path(kind, namespace), query)
    return listing.get("items") or [], (listing.get("metadata") or {}).get("resourceVersion")


def discover(kube, kind, name, namespace, label_selectors=None):
    """Find the live pods of an owner (by uid), or of a label selector when ``name`` is empty."""
    if not name:
        selector = selectors_from_list(label_selectors)
        if not selector:
            raise InplaceError("give name (the workload) or label_selectors")
        items, version = list_with_version(kube, "Pod", namespace, selector)
        pods = [p for p in items if is_live(p)]
        if not pods:
            get_namespace(kube, namespace)
        return Workload(None, None, namespace, pods=_sorted(pods), selector=selector, resource_version=version)
    if kind not in OWNER_KINDS:
        raise InplaceError("unsupported kind %r: use one of %s" % (kind, ", ".join(OWNER_KINDS)))
    owner = get_owner(kube, kind, name, namespace)
    selector = selector_string(owner.get("spec", {}).get("selector"))
    extra = selectors_from_list(label_selectors)
    query_selector = ",".join(s for s in (selector, extra) if s)
    uid = owner["metadata"]["uid"]
    replicasets = []
    owner_uids = set([uid])
    if kind == "Deployment":
        replicasets = [rs for rs in list_items(kube, "ReplicaSet", namespace, selector) if owned_by(rs, owner_uids)]
        owner_uids = set(rs["metadata"]["uid"] for rs in replicasets)
    items, version = list_with_version(kube, "Pod", namespace, query_selector)
    pods = [p for p in items if owned_by(p, owner_uids) and is_live(p)]
    return Workload(kind, name, namespace, owner=owner, pods=_sorted(pods), replicasets=replicasets, selector=query_selector, resource_version=version)


def _sorted(pods):
    return sorted(pods, key=lambda p: p["metadata"]["name"])


def selector_matches(selector, labels):
    """Whether a LabelSelector matches ``labels`` (an empty selector matches everything)."""
    labels = labels or {}
    selector = selector or {}
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expression in selector.get("matchExpressions") or []:
        key, operator, values = expression.get("key"), expression.get("operator"), expression.get("values") or []
        if operator == "In" and labels.get(key) not in values:
            return False
        if operator == "NotIn" and key in labels and labels[key] in values:
            return False
        if operator == "Exists" and key not in labels:
            return False
        if operator == "DoesNotExist" and key in labels:
            return False
    return True


def disruption_budgets(kube, namespace, pods):
    """The PodDisruptionBudgets covering any of ``pods``: ``[{name, disruptions_allowed, pods}]``."""
    items = kube.get(api_path("PodDisruptionBudget", namespace)).get("items") or []
    budgets = []
    for pdb in items:
        covered = [p["metadata"]["name"] for p in pods if selector_matches(pdb.get("spec", {}).get("selector"), p["metadata"].get("labels"))]
        if covered:
            status = pdb.get("status") or {}
            budgets.append(
                {
                    "name": pdb["metadata"]["name"],
                    "disruptions_allowed": status.get("disruptionsAllowed", 0),
                    "current_healthy": status.get("currentHealthy"),
                    "desired_healthy": status.get("desiredHealthy"),
                    "pods": covered,
                }
            )
    return budgets
