"""Shared helpers for the module integration tests (test_module_upgrade.py, test_module_rollouts.py).

They drive ``inplace.kubernetes.k8s_inplace_upgrade`` / ``_info`` through real ``ansible-playbook``
runs (tests/integration/playbook.py) and read the cluster back through the API, so every assertion
is about concrete cluster state, not only about what the module claims.
"""

import json
import os
import socket
import time

from helpers import (ReadinessWatcher, container, create_deployment, live_pods, patch_container_image, pod_is_ready, pod_snapshot, resource_versions,
                     snapshot, wait_for)
from playbook import run_playbook

MODULE = "inplace.kubernetes.k8s_inplace_upgrade"
INFO_MODULE = "inplace.kubernetes.k8s_inplace_upgrade_info"

OLD = "nginx:1.19-alpine"
NEW = "nginx:1.21-alpine"
THIRD = "nginx:1.23-alpine"
SIDECAR = "busybox:1.32"
# Images whose behaviour a test declares with the ``faults`` fixture (the names only describe it).
UNPULLABLE = "registry.example.com/shop/app:2.0-unpullable"   # faults(pull_fail=[UNPULLABLE])
CRASHING = "registry.example.com/shop/app:2.0-crashes"        # faults(crash=[CRASHING])
NEVER_READY = "registry.example.com/shop/app:2.0-never-ready"  # faults(unready=[NEVER_READY])

# Reasons the real kubelet reports in state.waiting.reason of a container whose new image cannot run.
PULL_REASONS = ("ErrImagePull", "ImagePullBackOff")


def normalised(image):
    """The image as containerd-like runtimes report it in containerStatuses[].image (the image's first
    tag, fully qualified; the fake runtime does the same)."""
    name, tag = image.rsplit(":", 1) if ":" in image.split("/")[-1] else (image, "latest")
    if "/" not in name:
        name = "library/" + name
    if "." not in name.split("/")[0] and ":" not in name.split("/")[0] and name.split("/")[0] != "localhost":
        name = "docker.io/" + name
    return "%s:%s" % (name, tag)


def run_module(cluster, args, *, module=MODULE, name="upgrade", kubeconfig=None, check=False, diff=False,
               env=None, timeout=300):
    """Run one module task (failures are recorded, not ignored) and return ``(PlaybookResult, result)``.

    ``result`` is the module's result dict of that task (also when it failed).
    """
    res = run_playbook([{"name": name, module: args}], kubeconfig=kubeconfig or cluster.admin_kubeconfig,
                       check=check, diff=diff, env=env, timeout=timeout)
    results = res.task_results(name)
    assert len(results) == 1, "expected exactly one result for task %r\n%s" % (name, res.describe())
    return res, results[0]


def run_witnessed(k8s, cluster, namespace, selector, args, **kwargs):
    """:func:`run_module` with a ReadinessWatcher of ``selector`` running during it (the witness of
    :func:`after_run`); returns ``(PlaybookResult, result, witness)``."""
    with ReadinessWatcher(k8s.core, namespace, selector) as witness:
        res, result = run_module(cluster, args, **kwargs)
    return res, result, witness


def assert_clean_failure(res, result, *fragments):
    """The task failed with a readable message (no traceback) that contains every fragment."""
    assert result.get("failed"), "task did not fail: %s\n%s" % (json.dumps(result, default=str)[:2000], res.describe())
    msg = result.get("msg") or ""
    assert msg, "failure without a message: %s" % json.dumps(result, default=str)[:2000]
    # ansible-core 2.19 adds "exception" to any fail_json called inside an except block; that is not a
    # traceback shown as the message. A crash shows as MODULE FAILURE / module_stderr.
    assert "Traceback" not in msg and "MODULE FAILURE" not in msg and "module_stderr" not in result, (
        "failure is a traceback, not a clear message: %s" % json.dumps(result, default=str)[:3000])
    for fragment in fragments:
        assert fragment.lower() in msg.lower(), "%r not in the message %r" % (fragment, msg)
    return msg


def settled_resource_versions(k8s, namespace, quiet=1.0, timeout=30):
    """Wait until nothing in the namespace changes for ``quiet`` seconds; return the versions."""
    deadline = time.monotonic() + timeout
    last = resource_versions(k8s, namespace)
    while True:
        time.sleep(quiet)
        now = resource_versions(k8s, namespace)
        if now == last:
            return now
        if time.monotonic() > deadline:
            raise AssertionError("namespace %s never settled: %s" % (namespace, {
                k: (last.get(k), now.get(k)) for k in set(last) | set(now) if last.get(k) != now.get(k)}))
        last = now


def wait_deployment_settled(k8s, namespace, name, timeout=60):
    def done():
        d = k8s.apps.read_namespaced_deployment(name, namespace)
        s = d.status
        return (s.observed_generation or 0) >= d.metadata.generation and s.updated_replicas == d.spec.replicas \
            and s.ready_replicas == d.spec.replicas and s.replicas == d.spec.replicas \
            and (s.unavailable_replicas or 0) == 0 and d
    return wait_for(done, timeout, message="Deployment %s/%s settled" % (namespace, name))


def deployment(k8s, namespace, replicas, containers=None, **kw):
    """Deployment ``web`` (one container ``app`` on OLD unless ``containers``), settled unless ``wait=False``;
    returns the snapshot of its pods."""
    create_deployment(k8s, namespace, "web", replicas=replicas, containers=containers or [container("app", OLD)], **kw)
    if kw.get("wait", True):
        wait_deployment_settled(k8s, namespace, "web", **({"timeout": kw["timeout"]} if "timeout" in kw else {}))
    return snapshot(k8s, namespace, "app=web")


def set_image_by_hand(k8s, namespace, name, image, selector):
    """Someone else sets container 0 of pod ``name`` to ``image``; wait until it runs it and is Ready
    (a restart in place takes the real kubelet ~1-3 s: kill, PLEG relist every 1 s, start, probe)."""
    patch_container_image(k8s, namespace, name, 0, image)
    wait_for(lambda: snapshot(k8s, namespace, selector)[name]["images"]["app"] == normalised(image)
             and snapshot(k8s, namespace, selector)[name]["ready"], 30)


def spec_images(pod):
    return {c.name: c.image for c in pod.spec.containers}


def container_of(pod, name):
    for cs in pod.status.container_statuses or []:
        if cs.name == name:
            return cs
    return None


# How long a pod the kubelet reported Ready after its restart may read not Ready again (see after_run).
READY_BLIP_SECONDS = 20


def went_unready_after_start(pod):
    """True when the pod's Ready condition turned False at or after its newest running container started.

    A blip (Ready on that container, then not) always looks like this. Not only a blip does: when the kubelet
    kills and starts the container in one SyncPod, the first not-Ready write can also come at or after the
    start (seconds resolution), so a premature "done" can look like a blip: :func:`after_run` asks its
    witness too."""
    ready = next((c for c in pod.status.conditions or [] if c.type == "Ready"), None)
    starts = [cs.state.running.started_at for cs in pod.status.container_statuses or []
              if cs.state and cs.state.running and cs.state.running.started_at]
    return bool(ready and ready.status != "True" and ready.last_transition_time and starts
                and ready.last_transition_time >= max(starts))


def after_run(k8s, namespace, selector, witness):
    """The pods' snapshot right after a module run that saw every one of them Ready on its target.

    ``witness`` is a ReadinessWatcher of ``selector`` that ran during the module run and was stopped when it
    returned: the independent evidence that a pod waited for here had been Ready with its current containers
    before the run said done (a premature "done" has no such evidence, and its pod is returned as read).

    The real kubelet can write a pod not Ready a moment after it wrote it Ready, with no container
    changed: a pod sync computes the status (``generateAPIPodStatus``: the new container has no readiness
    result yet) before the prober's first success lands (``SetContainerReadiness`` writes it Ready) and
    stores it after (``SetPodStatus`` replaces the whole status), until the sync that the readiness update
    queued (``handleProbeSync``) writes it again. Only such a pod, whose Ready condition turned False after
    its newest container started and which the witness saw Ready with those containers, is waited for (``READY_BLIP_SECONDS``), and only while no container of
    any pod changes (ID, restart count); any other pod that is not Ready is returned as read, for the
    test's assertions to fail on.
    """
    pods = live_pods(k8s, namespace, selector)
    first = pod_snapshot(pods)
    blips = [p.metadata.name for p in pods if not pod_is_ready(p) and went_unready_after_start(p)
             and witness.was_ready_with(p.metadata.name, first[p.metadata.name]["containerIDs"])]
    if not blips or any(not pod_is_ready(p) and p.metadata.name not in blips for p in pods):
        return first

    deadline = time.monotonic() + READY_BLIP_SECONDS
    while True:
        time.sleep(0.25)
        snap = snapshot(k8s, namespace, selector)
        for name, pod in first.items():
            now = snap.get(name)
            assert now and now["containerIDs"] == pod["containerIDs"] and now["restartCounts"] == pod["restartCounts"], (
                "a container changed while waiting for %s to read Ready again: %r -> %r" % (", ".join(blips), pod, now))
        if all(snap[name]["ready"] for name in blips) or time.monotonic() >= deadline:
            return snap


def assert_restarted_on(before, after, container, image, times=1):
    """One pod snapshot pair: ``container`` restarted ``times`` more times and runs ``image`` ready."""
    assert after["uid"] == before["uid"], "pod was recreated"
    assert after["node"] == before["node"]
    assert after["ip"] == before["ip"]
    assert after["specImages"][container] == image
    assert after["images"][container] == normalised(image), after
    assert after["restartCounts"][container] == before["restartCounts"][container] + times, (before, after)
    assert after["containerIDs"][container] != before["containerIDs"][container]
    assert after["ready"], after


def assert_untouched(before, after, containers=None):
    """Same pod, same containers (no restart) - for every container or the named ones."""
    assert after["uid"] == before["uid"], "pod was recreated"
    assert after["node"] == before["node"]
    assert after["ip"] == before["ip"]
    for name in containers or before["containerIDs"]:
        assert after["containerIDs"][name] == before["containerIDs"][name], (name, before, after)
        assert after["restartCounts"][name] == before["restartCounts"][name], (name, before, after)
        assert after["specImages"][name] == before["specImages"][name], (name, before, after)


def closed_port():
    """A loopback port nothing listens on."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    return port


def events_for(k8s, namespace, kind=None, name=None):
    out = []
    for ev in k8s.core.list_namespaced_event(namespace).items:
        obj = ev.involved_object
        if kind and obj.kind != kind:
            continue
        if name and obj.name != name:
            continue
        out.append(ev)
    return out


def collections_path_ok():
    from playbook import collections_path
    return os.path.isdir(os.path.join(collections_path(), "ansible_collections", "inplace", "kubernetes"))
