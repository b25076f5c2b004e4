"""Drive the demo: a cluster -> demo Deployment -> in-place upgrade -> before/after table.

The cluster is the embedded one (tests/cluster: current control plane, real-kubelet nodes), or - with
``--kubeconfig`` or ``$KUBECONFIG`` - the user's own (kind, minikube, ...), in a namespace of its own
that is deleted afterwards."""

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


def snapshot(core, ns):
    pods = core.list_namespaced_pod(ns, label_selector="app=web").items
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
    parser.add_argument("--kubeconfig", default=os.environ.get("KUBECONFIG"),
                        help="run against this cluster instead of the embedded one (default: $KUBECONFIG)")
    args = parser.parse_args()
    tmp = tempfile.mkdtemp(prefix="inplace-demo-")
    cluster = None
    if args.kubeconfig:
        kubeconfig, ns = args.kubeconfig, "inplace-demo-%s" % os.urandom(3).hex()
        print("using the cluster of %s (namespace %s)" % (kubeconfig, ns))
    else:
        cluster = LocalCluster(os.path.join(tmp, "cluster"), nodes=3)
        print("starting the embedded cluster (etcd, kube-apiserver, kube-controller-manager, kube-scheduler %s; "
              "3 nodes running the real kubelet)" % cluster.version)
        cluster.start()
        kubeconfig, ns = cluster.admin_kubeconfig, "demo"
    try:
        api = config.new_client_from_config(kubeconfig)
        k8s = type("K8s", (), {})()
        k8s.core, k8s.apps = client.CoreV1Api(api), client.AppsV1Api(api)
        server = client.VersionApi(api).get_code().git_version
        nodes = k8s.core.list_node().items
        kubelets = sorted({n.status.node_info.kubelet_version for n in nodes})
        print("server %s, kubelet %s on %d nodes" % (server, ", ".join(kubelets), len(nodes)))
        k8s.core.create_namespace({"metadata": {"name": ns}})
        helpers.wait_for(lambda: k8s.core.list_namespaced_service_account(ns).items)
        print("creating Deployment demo/web: %d replicas, containers app=nginx:1.19-alpine, sidecar=busybox:1.36"
              % args.replicas)
        helpers.create_deployment(k8s, ns, "web", replicas=args.replicas, timeout=300,
                                  containers=[helpers.container("app", "nginx:1.19-alpine"),
                                              helpers.container("sidecar", "busybox:1.36",
                                                                command=["sleep", "3600"], probe=False)])
        before = snapshot(k8s.core, ns)
        rs_before = [rs.metadata.name for rs in k8s.apps.list_namespaced_replica_set(ns).items]

        result_file = os.path.join(tmp, "report.json")
        extra = {"inplace_upgrade_workloads": [{"kind": "Deployment", "name": "web", "namespace": ns,
                                                "containers": {"app": "nginx:1.25-alpine"}, "batch_size": 2}],
                 "inplace_upgrade_report_file": result_file}
        extra_file = os.path.join(tmp, "workloads.json")
        with open(extra_file, "w") as handle:
            json.dump(extra, handle)
        env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=collection_path(os.path.join(tmp, "coll")),
                   K8S_AUTH_KUBECONFIG=kubeconfig, ANSIBLE_LOCALHOST_WARNING="false",
                   ANSIBLE_INVENTORY_UNPARSED_WARNING="false")
        print("running: ansible-playbook inplace.kubernetes.upgrade -i localhost, -e @workloads.json  (batch_size 2)")
        started = time.monotonic()
        subprocess.run(["ansible-playbook", "inplace.kubernetes.upgrade", "-i", "localhost,", "-e", "@" + extra_file],
                       env=env, check=True)
        took = time.monotonic() - started
        with open(result_file) as handle:
            result = json.load(handle)
        after = snapshot(k8s.core, ns)
        rs_after = [rs.metadata.name for rs in k8s.apps.list_namespaced_replica_set(ns).items]
        deployment = k8s.apps.read_namespaced_deployment("web", ns)

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
        if cluster is None:
            if not args.keep:
                client.CoreV1Api(config.new_client_from_config(kubeconfig)).delete_namespace(ns)
        elif args.keep:
            print("cluster left running: python tests/cluster/localcluster.py down --state-dir %s" % cluster.state_dir)
        else:
            cluster.stop()


if __name__ == "__main__":
    sys.exit(main())
