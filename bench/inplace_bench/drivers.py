# Copyright (c) inplace.kubernetes maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Drivers of scenarios 1, 2 and of the bare client (the module's reference), each a child process of its own:

    python -m inplace_bench.drivers rolling|seed|bare --kubeconfig ... --namespace ... (cwd bench/)

Each prints one JSON line (ok and its own timings) and exits 0 when the pods ended on the new image.
command() and run() are the parent's side: the argv, and the driver run measured (memory.py).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

from inplace_bench import BENCH_DIR
from inplace_bench.memory import run_measured
from inplace_bench.pods import pod_ready, pod_upgraded
from inplace_bench.workload import CONTAINER

SEED_POLL_SECONDS = 1.0


def _api(kubeconfig):
    from kubernetes import client, config
    cfg = client.Configuration()
    config.load_kube_config(config_file=kubeconfig, client_configuration=cfg)
    api = client.ApiClient(cfg)
    return client.CoreV1Api(api), client.AppsV1Api(api)


def drive_rolling(a):
    from kubernetes import watch
    core, apps = _api(a.kubeconfig)
    t0 = time.monotonic()
    dep = apps.patch_namespaced_deployment(a.name, a.namespace, {"spec": {"template": {"spec": {
        "containers": [{"name": CONTAINER, "image": a.image}]}}}})
    gen, replicas = dep.metadata.generation, dep.spec.replicas
    selector = ",".join("%s=%s" % kv for kv in sorted(dep.spec.selector.match_labels.items()))
    deadline = time.monotonic() + a.timeout
    done = False
    while not done and time.monotonic() < deadline:  # like `kubectl rollout status`: a watch
        w = watch.Watch()
        for ev in w.stream(apps.list_namespaced_deployment, a.namespace,
                           field_selector="metadata.name=" + a.name,
                           timeout_seconds=max(1, int(deadline - time.monotonic()))):
            s = ev["object"].status
            if ((s.observed_generation or 0) >= gen and s.updated_replicas == replicas
                    and s.ready_replicas == replicas and s.available_replicas == replicas
                    and s.replicas == replicas and not s.unavailable_replicas):
                done = True
                w.stop()
                break
    status_done = time.monotonic() - t0
    # ...and no old pod left (terminating ones included)
    while done:
        pods = core.list_namespaced_pod(a.namespace, label_selector=selector).items
        if len(pods) == replicas and all(
                p.spec.containers[0].image == a.image and pod_ready(p) for p in pods):
            break
        if time.monotonic() > deadline:
            done = False
            break
        time.sleep(0.25)
    print(json.dumps({"ok": done, "status_complete_seconds": round(status_done, 2)}))
    return 0 if done else 1


def drive_bare(a):
    """The bare client the module is measured against (scenario "bare"): list the pods, patch them
    from 16 threads, `--batch-size` at a time (default: all in one batch, as scenario 3's module call),
    and follow one watch (from the list's resourceVersion) until every pod of a batch is upgraded
    before the next batch is patched. `seconds` spans what the module's own `seconds` spans: from the
    configured client to the last pod upgraded."""
    from concurrent.futures import ThreadPoolExecutor
    from kubernetes import watch
    core = _api(a.kubeconfig)[0]
    t0 = time.monotonic()
    listed = core.list_namespaced_pod(a.namespace, label_selector=a.selector)
    names = sorted(p.metadata.name for p in listed.items)
    size = a.batch_size or len(names)
    batches = [names[i:i + size] for i in range(0, len(names), size)]
    upgraded = set()
    patch = [{"op": "replace", "path": "/spec/containers/0/image", "value": a.image}]
    deadline = t0 + a.timeout
    rv = listed.metadata.resource_version
    with ThreadPoolExecutor(16) as pool:
        def submit(batch):
            return [pool.submit(core.patch_namespaced_pod, name, a.namespace, patch,
                                _content_type="application/json-patch+json") for name in batch]
        pending = submit(batches.pop(0)) if batches else []
        current = set(names[:size])
        while (current - upgraded) and time.monotonic() < deadline:
            w = watch.Watch()
            for ev in w.stream(core.list_namespaced_pod, a.namespace, label_selector=a.selector,
                               resource_version=rv, timeout_seconds=max(1, int(deadline - time.monotonic()))):
                pod = ev["object"]
                rv = pod.metadata.resource_version
                if ev["type"] != "DELETED" and pod_upgraded(pod, a.status_image):
                    upgraded.add(pod.metadata.name)
                if not current - upgraded:
                    if not batches:
                        w.stop()
                        break
                    for f in pending:
                        f.result()
                    current = set(batches[0])
                    pending = submit(batches.pop(0))
        for f in pending:
            f.result()
    ok = not set(names) - upgraded
    print(json.dumps({"ok": ok, "seconds": round(time.monotonic() - t0, 2), "pods": len(names),
                      "batches": -(-len(names) // size) if names else 0}))
    return 0 if ok else 1


def drive_seed(a):
    core = _api(a.kubeconfig)[0]
    pods = core.list_namespaced_pod(a.namespace, label_selector=a.selector).items
    for p in pods:
        core.patch_namespaced_pod(p.metadata.name, a.namespace, [
            {"op": "replace", "path": "/spec/containers/0/image", "value": a.image}],
            _content_type="application/json-patch+json")
    deadline = time.monotonic() + a.timeout
    polls = 0
    while time.monotonic() < deadline:
        polls += 1
        pods = core.list_namespaced_pod(a.namespace, label_selector=a.selector).items
        if len(pods) == a.replicas and all(pod_upgraded(p, a.status_image) for p in pods):
            print(json.dumps({"ok": True, "polls": polls}))
            return 0
        time.sleep(SEED_POLL_SECONDS)
    print(json.dumps({"ok": False, "polls": polls}))
    return 1


DRIVERS = {"rolling": drive_rolling, "seed": drive_seed, "bare": drive_bare}


def command(python, how, kubeconfig, namespace, image, timeout, **options):
    """The argv that runs driver `how`; options are its --name, --selector, --replicas, --status-image."""
    argv = [python, "-m", "inplace_bench.drivers", how, "--kubeconfig", kubeconfig,
            "--namespace", namespace]
    for key, value in options.items():
        argv += ["--" + key.replace("_", "-"), str(value)]
    return argv + ["--image", image, "--timeout", str(timeout)]


def run(argv, timeout):
    """Run a driver's command(), measured: (rc, stdout, stderr, wall, TreeMemory, the JSON it printed
    or None)."""
    rc, out, err, wall, mem = run_measured(argv, dict(os.environ), timeout, cwd=BENCH_DIR,
                                           module_is_root=True)
    try:
        printed = json.loads(out.strip().splitlines()[-1])
    except (ValueError, IndexError):
        printed = None
    return rc, out, err, wall, mem, printed


def parse_args(argv):
    p = argparse.ArgumentParser(prog="python -m inplace_bench.drivers")
    p.add_argument("how", choices=sorted(DRIVERS))
    p.add_argument("--kubeconfig", required=True)
    p.add_argument("--namespace", required=True)
    p.add_argument("--name")
    p.add_argument("--selector")
    p.add_argument("--replicas", type=int)
    p.add_argument("--image", required=True)
    p.add_argument("--status-image")
    p.add_argument("--batch-size", type=int, default=0, help="bare: pods per batch (0: all)")
    p.add_argument("--timeout", type=float, default=600)
    return p.parse_args(argv)


def main(argv=None):
    a = parse_args(sys.argv[1:] if argv is None else argv)
    return DRIVERS[a.how](a)


if __name__ == "__main__":
    sys.exit(main())
