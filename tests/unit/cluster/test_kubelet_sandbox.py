"""The kubelet stand-in's sandbox delay (tests/cluster/kubelet.py), driven without an API server:
pod events are fed to ``on_pod`` and timers fired by hand; nothing is written (no writer threads)."""

import os
import sys

sys.path.insert(0, os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                                 "..", "..", "cluster")))

import kubelet  # noqa: E402


def pod(image, uid="u-1", init_image=None):
    spec = {"nodeName": "node-0", "containers": [{"name": "app", "image": image}]}
    if init_image:
        spec["initContainers"] = [{"name": "setup", "image": init_image}]
    return {"metadata": {"name": "p", "namespace": "ns", "uid": uid}, "spec": spec, "status": {}}


def standin(sandbox_delay):
    return kubelet.Kubelet(None, ["node-0"], start_delay=1.0, ready_delay=1.0, sandbox_delay=sandbox_delay)


def actions(kl):
    return [timer[-1] for timer in sorted(kl.timers)]


def test_without_sandbox_delay_a_new_container_is_created_at_once():
    kl = standin(0)
    kl.on_pod(pod("nginx:1"))
    assert actions(kl) == ["pulled"]
    assert kl.pods["u-1"].ctrs[0].reason == "ContainerCreating"


def test_new_pod_waits_for_its_sandbox_and_starts_the_image_patched_meanwhile():
    kl = standin(5)
    kl.on_pod(pod("nginx:1"))
    ps = kl.pods["u-1"]
    assert actions(kl) == ["sandbox"]
    assert (ps.ctrs[0].state, ps.ctrs[0].reason, ps.ctrs[0].container_id) == ("waiting", "ContainerCreating", None)
    kl.on_pod(pod("nginx:2"))  # patched during the sandbox wait: no container to restart yet
    assert actions(kl) == ["sandbox"] and ps.ctrs[0].restart_count == 0
    kl.timers.clear()
    kl.fire(ps, None, "sandbox")
    assert actions(kl) == ["pulled"] and ps.ctrs[0].image == "nginx:2"
    assert ps.init_done


def test_init_containers_wait_for_the_sandbox_too():
    kl = standin(5)
    kl.on_pod(pod("nginx:1", init_image="busybox:1"))
    ps = kl.pods["u-1"]
    assert [c.reason for c in ps.init + ps.ctrs] == ["PodInitializing", "PodInitializing"]
    assert actions(kl) == ["sandbox"]
    kl.timers.clear()
    kl.fire(ps, None, "sandbox")
    assert ps.init[0].reason == "ContainerCreating" and ps.ctrs[0].reason == "PodInitializing"
    assert not ps.init_done


def test_restart_in_place_does_not_pay_the_sandbox():
    kl = standin(5)
    kl.on_pod(pod("nginx:1"))
    ps = kl.pods["u-1"]
    kl.timers.clear()
    kl.fire(ps, None, "sandbox")
    kl.timers.clear()
    kl.fire(ps, ps.ctrs[0], "pulled")  # running now
    kl.timers.clear()
    kl.on_pod(pod("nginx:2"))
    assert actions(kl) == ["pulled"] and ps.ctrs[0].restart_count == 1
