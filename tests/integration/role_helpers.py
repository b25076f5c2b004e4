"""Helpers for the inplace_upgrade role tests (test_role.py).

The role runs through real ``ansible-playbook`` (tests/integration/playbook.py); every assertion
reads the cluster back through the API (and the role's JSON report), never only what Ansible says.
"""

import json
import os
import time

from helpers import pod_is_ready, pod_snapshot, pods_of, wait_for
from playbook import REPO_ROOT, run_playbook

ROLE = "inplace.kubernetes.inplace_upgrade"
UPGRADE = "inplace.kubernetes.k8s_inplace_upgrade"
LEASE = "inplace.kubernetes.k8s_inplace_lease"
OLD = "nginx:1.19-alpine"
NEW = "nginx:1.21-alpine"
SEL = "app=web"
RBAC_MANIFEST = os.path.join(str(REPO_ROOT), "roles", "inplace_upgrade", "files", "rbac.yml")


def role_task(role_vars):
    return {"name": "inplace_upgrade", "ansible.builtin.include_role": {"name": ROLE}, "vars": dict(role_vars)}


def run_role(cluster, role_vars, report_dir, *, kubeconfig=None, check=False, diff=False, env=None, timeout=420):
    """Run the role once; returns ``(PlaybookResult, report dict or None)``."""
    role_vars = dict(role_vars)
    report_file = os.path.join(str(report_dir), "report-%d.json" % time.monotonic_ns())
    role_vars.setdefault("inplace_upgrade_report_file", report_file)
    res = run_playbook([role_task(role_vars)], kubeconfig=kubeconfig or cluster.admin_kubeconfig, check=check,
                       diff=diff, env=env, timeout=timeout)
    report = None
    if os.path.exists(role_vars["inplace_upgrade_report_file"]):
        with open(role_vars["inplace_upgrade_report_file"], encoding="utf-8") as handle:
            report = json.load(handle)
    return res, report


def base_vars(namespace, **extra):
    values = {"inplace_upgrade_name": "web", "inplace_upgrade_namespace": namespace,
              "inplace_upgrade_containers": {"app": NEW}, "inplace_upgrade_wait_timeout": 90}
    values.update(("inplace_upgrade_" + k, v) for k, v in extra.items())
    return values


def module_results(res, action=UPGRADE):
    return [r["result"] for r in res.records if r["action"] == action and r["status"] != "skipped"]


def failure_message(res):
    """The message of the role's final failure (the last failed, not ignored, task)."""
    failures = res.failures()
    assert failures, "the run did not fail\n" + res.describe()
    return failures[-1]["result"].get("msg", "")


def custom(k8s):
    from kubernetes import client
    return client.CustomObjectsApi(k8s.api)


def leases(k8s, namespace):
    return custom(k8s).list_namespaced_custom_object("coordination.k8s.io", "v1", namespace, "leases").get("items") or []


def create_lease(k8s, namespace, name, holder, renew_time, duration):
    body = {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": {"name": name, "namespace": namespace},
            "spec": {"holderIdentity": holder, "leaseDurationSeconds": duration, "acquireTime": renew_time,
                     "renewTime": renew_time}}
    return custom(k8s).create_namespaced_custom_object("coordination.k8s.io", "v1", namespace, "leases", body)


def create_pdb(k8s, namespace, name, min_available, labels):
    """A policy/v1 PodDisruptionBudget (policy/v1beta1 is gone since Kubernetes 1.25)."""
    body = {"apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": {"name": name},
            "spec": {"minAvailable": min_available, "selector": {"matchLabels": dict(labels)}}}
    return custom(k8s).create_namespaced_custom_object("policy", "v1", namespace, "poddisruptionbudgets", body)


def read_pdb(k8s, namespace, name):
    return custom(k8s).get_namespaced_custom_object("policy", "v1", namespace, "poddisruptionbudgets", name)


def wait_all_ready_on(k8s, namespace, images, count, timeout=90):
    """Wait until ``count`` live pods are Ready, each with spec and status on one of ``images``."""
    def done():
        pods = [p for p in pods_of(k8s, namespace, SEL) if p.metadata.deletion_timestamp is None]
        if len(pods) != count or not all(pod_is_ready(p) for p in pods):
            return None
        snap = pod_snapshot(pods)
        if all(s["specImages"]["app"] in images for s in snap.values()):
            return snap
        return None
    return wait_for(done, timeout, message="%d Ready pods on %s" % (count, images))


def load_rbac(namespace):
    import yaml
    with open(RBAC_MANIFEST, encoding="utf-8") as handle:
        docs = [doc for doc in yaml.safe_load_all(handle.read().replace("NAMESPACE", namespace)) if doc]
    return [item for doc in docs for item in (doc["items"] if doc.get("kind") == "List" else [doc])]


def apply_rbac(k8s, namespace, user=None, drop_verbs=None):
    """Create the shipped ServiceAccount, Role and RoleBinding; bind the Role to ``user`` too.

    ``drop_verbs`` (``{"pods": ["patch"]}``) removes verbs from the Role first (a deliberately short Role).
    """
    from kubernetes import client
    rbac = client.RbacAuthorizationV1Api(k8s.api)
    docs = load_rbac(namespace)
    for doc in docs:
        if doc["kind"] == "ServiceAccount":
            k8s.core.create_namespaced_service_account(namespace, doc)
        elif doc["kind"] == "Role":
            for rule in doc["rules"]:
                for resource, verbs in (drop_verbs or {}).items():
                    if resource in rule["resources"]:
                        rule["verbs"] = [v for v in rule["verbs"] if v not in verbs]
            rbac.create_namespaced_role(namespace, doc)
        elif doc["kind"] == "RoleBinding":
            if user:
                doc["subjects"].append({"kind": "User", "name": user, "apiGroup": "rbac.authorization.k8s.io"})
            rbac.create_namespaced_role_binding(namespace, doc)
    return docs
