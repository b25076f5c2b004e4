"""Drive the demo: local control plane -> demo Deployment -> in-place upgrade -> before/after table."""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "cluster"))

from kubernetes import client, config  # noqa: E402

import helpers  # noqa: E402
from localcluster import LocalCluster  # noqa: E402


def snapshot(core):
    pods = core.list_namespaced_pod("demo", label_selector="app=web").items
    rows = {}
    for pod in pods:
        statuses = dict((s.name, s) for s in pod.status.container_statuses or [])
        rows[pod.metadata.name] = {
            "uid": pod.metadata.uid, "node": pod.spec.node_name, "ip": pod.status.pod_ip,
            "app": statuses["app"].image, "app_restarts": statuses["app"].restart_count,
            "sidecar_restarts": statuses["sidecar"].restart_count,
        }
    return rows


def collection_path(tmp):
    staged = os.environ.get("INPLACE_COLLECTIONS_PATH")
    if staged and os.path.isdir(os.path.join(staged, "ansible_collections", "inplace", "kubernetes")):
        return staged
    os.makedirs(os.path.join(tmp, "ansible_collections", "inplace"))
    os.symlink(ROOT, os.path.join(tmp, "ansible_collections", "inplace", "kubernetes"))
    return tmp


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--replicas", type=int, default=4)
    parser.add_argument("--keep", action="store_true", help="leave the cluster running (prints how to stop it)")
    args = parser.parse_args()
    tmp = tempfile.mkdtemp(prefix="inplace-demo-")
    cluster = LocalCluster(os.path.join(tmp, "cluster"), nodes=3, start_delay=1.0, ready_delay=1.0)
    print("starting the local control plane (etcd, kube-apiserver, controller-manager, scheduler, kubelet stand-in)")
    cluster.start()
    try:
        api = config.new_client_from_config(cluster.admin_kubeconfig)
        k8s = type("K8s", (), {})()
        k8s.core, k8s.apps = client.CoreV1Api(api), client.AppsV1Api(api)
        k8s.core.create_namespace({"metadata": {"name": "demo"}})
        helpers.wait_for(lambda: k8s.core.list_namespaced_service_account("demo").items)
        print("creating Deployment demo/web: %d replicas, containers app=nginx:1.19-alpine, sidecar=busybox:1.36"
              % args.replicas)
        helpers.create_deployment(k8s, "demo", "web", replicas=args.replicas,
                                  containers=[("app", "nginx:1.19-alpine"), ("sidecar", "busybox:1.36")])
        before = snapshot(k8s.core)
        rs_before = [rs.metadata.name for rs in k8s.apps.list_namespaced_replica_set("demo").items]

        result_file = os.path.join(tmp, "report.json")
        extra = {"inplace_upgrade_workloads": [{"kind": "Deployment", "name": "web", "namespace": "demo",
                                                "containers": {"app": "nginx:1.25-alpine"}, "batch_size": 2}],
                 "inplace_upgrade_report_file": result_file}
        extra_file = os.path.join(tmp, "workloads.json")
        with open(extra_file, "w") as handle:
            json.dump(extra, handle)
        env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=collection_path(os.path.join(tmp, "coll")),
                   K8S_AUTH_KUBECONFIG=cluster.admin_kubeconfig, ANSIBLE_LOCALHOST_WARNING="false",
                   ANSIBLE_INVENTORY_UNPARSED_WARNING="false")
        print("running: ansible-playbook inplace.kubernetes.upgrade -i localhost, -e @workloads.json  (batch_size 2)")
        started = time.monotonic()
        subprocess.run(["ansible-playbook", "inplace.kubernetes.upgrade", "-i", "localhost,", "-e", "@" + extra_file],
                       env=env, check=True)
        took = time.monotonic() - started
        with open(result_file) as handle:
            result = json.load(handle)
        after = snapshot(k8s.core)
        rs_after = [rs.metadata.name for rs in k8s.apps.list_namespaced_replica_set("demo").items]
        deployment = k8s.apps.read_namespaced_deployment("web", "demo")

        print("\n%-24s %-13s %-15s %-11s %-40s %s" % ("pod", "UID kept", "node kept", "IP kept", "app image (restarts)",
                                                      "sidecar restarts"))
        ok = True
        for name in sorted(before):
            b, a = before[name], after.get(name)
            if a is None:
                print("%-24s GONE" % name)
                ok = False
                continue
            same = (b["uid"] == a["uid"], b["node"] == a["node"], b["ip"] == a["ip"])
            ok = ok and all(same) and a["app"].endswith("nginx:1.25-alpine") and a["sidecar_restarts"] == b["sidecar_restarts"]
            print("%-24s %-13s %-15s %-11s %-40s %s" % (
                name, "yes" if same[0] else "NO", "%s" % a["node"] if same[1] else "NO", a["ip"] if same[2] else "NO",
                "%s (%d->%d)" % (a["app"], b["app_restarts"], a["app_restarts"]),
                "%d->%d" % (b["sidecar_restarts"], a["sidecar_restarts"])))
        template = [c.image for c in deployment.spec.template.spec.containers]
        print("\nbatches: %s" % ", ".join("%d/%d %d pods %.1fs" % (b["batch"], b["of"], len(b["pods"]), b["seconds"])
                                          for b in result["batches"]))
        print("Deployment template now: %s; paused: %s; ReplicaSets before %s, after %s"
              % (", ".join(template), bool(deployment.spec.paused), rs_before, rs_after))
        print("role outcome: %s; ansible-playbook took %.1fs" % (result["outcome"], took))
        ok = ok and rs_before == rs_after and "nginx:1.25-alpine" in template and not deployment.spec.paused
        print("\nDEMO %s" % ("OK: every pod kept its UID, node and IP; only the app container restarted, on the new "
                             "image; the Deployment template follows without a new ReplicaSet" if ok else "FAILED"))
        return 0 if ok else 1
    finally:
        if args.keep:
            print("cluster left running: python tests/cluster/localcluster.py down --state-dir %s" % cluster.state_dir)
        else:
            cluster.stop()


if __name__ == "__main__":
    sys.exit(main())
