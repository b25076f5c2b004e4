# Copyright (c) inplace.kubernetes maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A fresh N-replica Deployment per measurement, in a namespace of its own; its cleanup; and what
a scenario did to its pods (by UID) and to its template.

`k8s` is the cluster's admin client (BenchCluster.k8s), so nothing here goes through the proxy.
"""

from __future__ import annotations

import time
import uuid

from inplace_bench import log
from inplace_bench.pods import pod_upgraded
from inplace_bench.workload import CONTAINER, NEW_IMAGE, NEW_IMAGE_STATUS, OLD_IMAGE, SELECTOR

NAME = "web"


def _namespace(k8s, tag, n):
    from helpers import wait_for
    ns = "bench-%s-%d-%s" % (tag, n, uuid.uuid4().hex[:4])
    k8s.core.create_namespace({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
    # No token Secret since Kubernetes 1.24: admission only needs the default ServiceAccount.
    wait_for(lambda: k8s.core.read_namespaced_service_account("default", ns), 60,
             message="default ServiceAccount in %s" % ns)
    return ns


def _containers(probe_delay):
    """The one container, its exec readinessProbe (every 1 s) first run `probe_delay` s after a start."""
    from helpers import READINESS_PROBE
    probe = dict(READINESS_PROBE, initialDelaySeconds=int(probe_delay)) if probe_delay else dict(READINESS_PROBE)
    return [{"name": CONTAINER, "image": OLD_IMAGE, "readinessProbe": probe}]


def fresh_deployment(k8s, n, tag, probe_delay=0):
    """(namespace, name, pods) of a new Deployment of n pods on OLD_IMAGE, all Ready and available."""
    from helpers import create_deployment, wait_for
    ns = _namespace(k8s, tag, n)
    name = NAME
    apps = k8s.apps
    t0 = time.monotonic()
    pods = create_deployment(k8s, ns, name, replicas=n, containers=_containers(probe_delay),
                             timeout=max(120, n * 0.6))

    def settled():
        d = apps.read_namespaced_deployment(name, ns)
        s = d.status
        return ((s.observed_generation or 0) >= d.metadata.generation
                and s.available_replicas == n and s.updated_replicas == n and s)
    wait_for(settled, 60, message="Deployment %s/%s available" % (ns, name))
    log("  %s/%s: %d pods Ready in %.1fs" % (ns, name, n, time.monotonic() - t0))
    return ns, name, pods


def fresh_daemonset(k8s, nodes, tag, probe_delay=0):
    """(namespace, name, pods) of a new DaemonSet on OLD_IMAGE, its pod Ready on each of the `nodes` nodes."""
    from helpers import create_daemonset
    ns = _namespace(k8s, tag, nodes)
    t0 = time.monotonic()
    pods = create_daemonset(k8s, ns, NAME, containers=_containers(probe_delay),
                            timeout=max(120, nodes * 2), node_count=nodes)
    log("  %s/%s: DaemonSet, %d pods Ready in %.1fs" % (ns, NAME, nodes, time.monotonic() - t0))
    return ns, NAME, pods


def delete_namespace(k8s, ns):
    """Delete ns and wait until none of its pods is left on the nodes; a note when they linger."""
    from helpers import wait_for
    core = k8s.core
    for delete in (k8s.apps.delete_namespaced_deployment, k8s.apps.delete_namespaced_daemon_set):
        try:
            delete(NAME, ns, propagation_policy="Background")
        except Exception:  # noqa: BLE001 - not there
            pass
    try:
        core.delete_namespace(ns, propagation_policy="Background")
    except Exception:  # noqa: BLE001
        pass
    try:  # keep the next measurement clean: no pods of this one left on the nodes
        wait_for(lambda: not core.list_namespaced_pod(ns).items, 180, interval=0.5,
                 message="pods of %s gone" % ns)
    except AssertionError as exc:
        return "cleanup: %s" % exc
    return None


def live_pods(k8s, ns):
    return k8s.core.list_namespaced_pod(ns, label_selector=SELECTOR).items


def inspect(k8s, ns, before, kind="Deployment"):
    """What happened to the pods (by UID) and to the owner's template (a Deployment or a DaemonSet;
    ReplicaSets are counted for a Deployment only)."""
    apps = k8s.apps
    pods = live_pods(k8s, ns)
    by_uid_before = {p.metadata.uid: p for p in before}
    after = {p.metadata.uid: p for p in pods}
    rescheduled = sum(1 for uid in by_uid_before if uid not in after)
    ip_changed = sum(1 for uid, p in by_uid_before.items()
                     if uid not in after or after[uid].status.pod_ip != p.status.pod_ip)
    node_changed = sum(1 for uid, p in by_uid_before.items()
                       if uid in after and after[uid].spec.node_name != p.spec.node_name)
    new_image = sum(1 for p in pods if p.spec.containers[0].image == NEW_IMAGE
                    and pod_upgraded(p, NEW_IMAGE_STATUS))
    terminating = sum(1 for p in pods if p.metadata.deletion_timestamp)
    if kind == "DaemonSet":
        owner, replicasets = apps.read_namespaced_daemon_set(NAME, ns), None
    else:
        owner = apps.read_namespaced_deployment(NAME, ns)
        replicasets = len(apps.list_namespaced_replica_set(ns, label_selector=SELECTOR).items)
    return {
        "pods": len(pods), "ready_new": new_image, "terminating": terminating,
        "rescheduled": rescheduled, "ip_changed": ip_changed, "node_changed": node_changed,
        "template_new": owner.spec.template.spec.containers[0].image == NEW_IMAGE,
        "paused": bool(getattr(owner.spec, "paused", False)), "replicasets": replicasets,
    }
