# -*- coding: utf-8 -*-
# Copyright: inplace.kubernetes contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""wait.py: completion predicates, and the watch loop against a fake API with a fake clock."""

from __future__ import annotations

import copy

import pytest

from ansible_collections.inplace.kubernetes.plugins.module_utils._inplace import wait
from ansible_collections.inplace.kubernetes.plugins.module_utils._inplace.client import WatchExpired
from ansible_collections.inplace.kubernetes.plugins.module_utils._inplace.errors import ApiError
from ansible_collections.inplace.kubernetes.plugins.module_utils._inplace.wait import (
    DONE,
    FAILED,
    PENDING,
    VANISHED,
    Expectation,
    baseline_of,
    container_progress,
    pod_progress,
    pod_ready,
    wait_for_pods,
)

OLD = "nginx:1.19"
NEW = "nginx:1.20"


def status(name="web", image=OLD, cid="containerd://old", restarts=0, ready=True, state=None, image_id="sha256:old"):
    return {"name": name, "image": image, "imageID": image_id, "containerID": cid, "restartCount": restarts,
            "ready": ready, "state": state if state is not None else {"running": {"startedAt": "2024-01-01T00:00:00Z"}}}


def pod(name="web-0", uid="uid-0", statuses=None, init_statuses=None, ready=True, rv="1", deleting=False):
    metadata = {"name": name, "uid": uid, "resourceVersion": rv}
    if deleting:
        metadata["deletionTimestamp"] = "2024-01-01T00:00:00Z"
    return {
        "metadata": metadata,
        "status": {
            "conditions": [{"type": "PodScheduled", "status": "True"},
                           {"type": "Ready", "status": "True" if ready else "False"}],
            "containerStatuses": [status()] if statuses is None else statuses,
            "initContainerStatuses": init_statuses or [],
        },
    }


def upgraded(name="web-0", uid="uid-0", **kwargs):
    return pod(name, uid, statuses=[status(image="docker.io/library/nginx:1.20", cid="containerd://new", restarts=1,
                                           image_id="sha256:new")], **kwargs)


BASELINE = {"containerID": "containerd://old", "restartCount": 0, "imageID": "sha256:old", "image": OLD}


# --- predicates ----------------------------------------------------------------------------------

def test_baseline_of():
    assert baseline_of(pod(), ["web", "ghost"]) == {
        "web": BASELINE,
        "ghost": {"containerID": None, "restartCount": 0, "imageID": None, "image": None},
    }


@pytest.mark.parametrize("conditions, expected", [
    ([{"type": "Ready", "status": "True"}], True),
    ([{"type": "Ready", "status": "False"}], False),
    ([{"type": "ContainersReady", "status": "True"}], False),
    ([], False),
    (None, False),
])
def test_pod_ready(conditions, expected):
    assert pod_ready({"status": {"conditions": conditions}}) is expected


@pytest.mark.parametrize("reason", sorted(wait.FAIL_FAST_REASONS))
def test_fail_fast_reasons(reason):
    waiting = {"waiting": {"reason": reason, "message": "  back-off pulling image \"nginx:nope\"  "}}
    p = pod(statuses=[status(image="nginx:nope", ready=False, state=waiting)])
    assert container_progress(p, "web", "nginx:nope", BASELINE) == (FAILED, reason + ': back-off pulling image "nginx:nope"')


def test_fail_fast_without_message():
    p = pod(statuses=[status(image=NEW, state={"waiting": {"reason": "CrashLoopBackOff"}}, ready=False)])
    assert container_progress(p, "web", NEW, BASELINE) == (FAILED, "CrashLoopBackOff")


def test_terminal_reason_of_the_previous_image_is_not_a_failure():
    # Right after the patch the status may still describe the old (broken) image.
    p = pod(statuses=[status(image=OLD, state={"waiting": {"reason": "CrashLoopBackOff"}}, ready=False)])
    assert container_progress(p, "web", NEW, BASELINE) == (PENDING, "still on nginx:1.19")


@pytest.mark.parametrize("container_status, expected", [
    (None, (PENDING, "no status yet")),
    (status(), (PENDING, "still on nginx:1.19")),
    (status(image=None, image_id=None), (PENDING, "still on an unknown image")),
    # The image reads as the target, but it is still the same container (not restarted yet).
    (status(image=NEW), (PENDING, "container not restarted yet")),
    (status(image=NEW, cid="containerd://new", state={"waiting": {"reason": "ContainerCreating"}}, ready=False),
     (PENDING, "waiting: ContainerCreating")),
    (status(image=NEW, cid="containerd://new", state={"waiting": {"message": "pulling"}}, ready=False),
     (PENDING, "waiting: ContainerCreating")),
    (status(image=NEW, cid="containerd://new", state={"terminated": {"exitCode": 1}}, ready=False),
     (PENDING, "not running")),
    (status(image=NEW, cid="containerd://new", ready=False), (PENDING, "running, not ready")),
    (status(image=NEW, cid="containerd://new"), (DONE, "")),
    # Same container id but the restart count moved on: a new container.
    (status(image=NEW, restarts=1), (DONE, "")),
    # Normalised spelling of the target counts.
    (status(image="docker.io/library/nginx:1.20", cid="containerd://new"), (DONE, "")),
    # The runtime reports the image by digest only: a new imageID proves the new image.
    (status(image="docker.io/library/nginx@sha256:" + "c" * 64, image_id="sha256:new", cid="containerd://new"),
     (DONE, "")),
])
def test_container_progress(container_status, expected):
    p = pod(statuses=[] if container_status is None else [container_status])
    assert container_progress(p, "web", NEW, BASELINE) == expected


def test_container_progress_without_baseline():
    assert container_progress(pod(statuses=[status(image=NEW)]), "web", NEW) == (DONE, "")


@pytest.mark.parametrize("state, expected", [
    ({"terminated": {"exitCode": 0}}, (DONE, "")),
    ({"terminated": {"exitCode": 2}}, (FAILED, "init container exited 2")),
    ({"running": {}}, (PENDING, "init container running")),
])
def test_init_container_progress(state, expected):
    p = pod(init_statuses=[status(name="init", image=NEW, cid="containerd://new", state=state)])
    assert container_progress(p, "init", NEW, {"containerID": "containerd://old"}, init=True) == expected


def test_pod_progress_done():
    assert pod_progress(upgraded(), {"web": NEW}, {"web": BASELINE}) == (DONE, "")


def test_pod_progress_not_ready():
    assert pod_progress(upgraded(ready=False), {"web": NEW}, {"web": BASELINE}) == (PENDING, "pod not Ready")


def test_pod_progress_collects_reasons():
    p = pod(statuses=[status(), status(name="side", image="envoy:1", cid="c://s")])
    assert pod_progress(p, {"web": NEW, "side": "envoy:2"}) == (
        PENDING, "container side: still on envoy:1; container web: still on nginx:1.19")


def test_pod_progress_fails_on_first_failure():
    p = pod(statuses=[status(), status(name="side", image="envoy:2", state={"waiting": {"reason": "ErrImagePull"}})])
    # "side" sorts before "web", but a failure anywhere wins over pending containers.
    assert pod_progress(p, {"web": NEW, "side": "envoy:2"}) == (FAILED, "container side: ErrImagePull")


def test_pod_progress_init_names():
    p = pod(init_statuses=[status(name="init", image=NEW, cid="c://new", state={"terminated": {"exitCode": 0}})],
            statuses=[])
    assert pod_progress(p, {"init": NEW}, {"init": {"containerID": "c://old"}}, init_names=("init",)) == (DONE, "")
    assert pod_progress(p, {"init": NEW}, {"init": {"containerID": "c://old"}})[0] == PENDING


# --- the watch loop --------------------------------------------------------------------------------

class FakeClock(object):
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now

    def advance(self, seconds):
        self.now += seconds


class FakeKube(object):
    """``get`` returns the next listing; ``watch`` plays the next script of events.

    A script is a list of ``(type, pod)`` events; an exception instance in it is raised, a
    number advances the clock. When a script runs out the watch "times out": the clock moves
    on by the window it was given.
    """

    def __init__(self, clock, listings, watches=()):
        self.clock = clock
        self.listings = list(listings)
        self.watches = list(watches)
        self.gets = []
        self.watch_queries = []

    def get(self, path, query=None, deadline=None):
        self.gets.append((path, query))
        item = self.listings.pop(0) if len(self.listings) > 1 else self.listings[0]
        if isinstance(item, Exception):
            raise item
        return {"metadata": {"resourceVersion": "100"}, "items": copy.deepcopy(item)}

    def watch(self, path, query, timeout_seconds):
        self.watch_queries.append((path, dict(query), timeout_seconds))
        script = self.watches.pop(0) if self.watches else []
        for event in script:
            if isinstance(event, Exception):
                raise event
            if isinstance(event, (int, float)):
                self.clock.advance(event)
                continue
            yield event
        self.clock.advance(timeout_seconds)


@pytest.fixture
def clock():
    return FakeClock()


@pytest.fixture(autouse=True)
def no_sleep(monkeypatch):
    slept = []
    monkeypatch.setattr(wait.time, "sleep", slept.append)
    return slept


def expect(name="web-0", uid="uid-0"):
    return Expectation(name, uid, {"web": NEW}, {"web": BASELINE})


def test_no_expectations(clock):
    kube = FakeKube(clock, [[]])
    assert wait_for_pods(kube, "ns", [], 10, clock=clock) == {}
    assert kube.gets == []


def test_done_from_the_list(clock):
    kube = FakeKube(clock, [[upgraded()]])
    outcomes = wait_for_pods(kube, "ns", [expect()], 60, selector="app=web", clock=clock)
    assert outcomes["web-0"].state == DONE
    assert kube.gets == [("/api/v1/namespaces/ns/pods", {"labelSelector": "app=web"})]
    assert kube.watch_queries == []


def test_done_from_the_watch(clock):
    later = upgraded(rv="101")
    kube = FakeKube(clock, [[pod()]], [[("MODIFIED", later)]])
    outcomes = wait_for_pods(kube, "ns", [expect()], 60, clock=clock)
    assert outcomes["web-0"].state == DONE
    path, query, _timeout = kube.watch_queries[0]
    assert path == "/api/v1/namespaces/ns/pods"
    assert query == {"resourceVersion": "100"}


@pytest.mark.parametrize("reason", ["ErrImagePull", "CrashLoopBackOff"])
def test_fail_fast(clock, reason):
    failing = pod(statuses=[status(image=NEW, cid="c://new", ready=False, state={"waiting": {"reason": reason}})])
    kube = FakeKube(clock, [[pod(), pod("web-1", "uid-1")]], [[("MODIFIED", failing)]])
    outcomes = wait_for_pods(kube, "ns", [expect(), expect("web-1", "uid-1")], 300, clock=clock)
    assert outcomes["web-0"].state == FAILED
    assert outcomes["web-0"].reason == "container web: " + reason
    assert outcomes["web-1"].state == PENDING
    assert clock() == 1000.0, "fail fast must not wait for the timeout"


def test_no_fail_fast_waits_for_the_others(clock):
    failing = pod(statuses=[status(image=NEW, state={"waiting": {"reason": "ErrImagePull"}})])
    kube = FakeKube(clock, [[pod(), pod("web-1", "uid-1")]],
                    [[("MODIFIED", failing), ("MODIFIED", upgraded("web-1", "uid-1"))]])
    outcomes = wait_for_pods(kube, "ns", [expect(), expect("web-1", "uid-1")], 300, clock=clock, fail_fast=False)
    assert (outcomes["web-0"].state, outcomes["web-1"].state) == (FAILED, DONE)


def test_pod_missing_from_the_list_vanished(clock):
    kube = FakeKube(clock, [[upgraded("web-1", "uid-1")]])
    outcomes = wait_for_pods(kube, "ns", [expect(), expect("web-1", "uid-1")], 60, clock=clock)
    assert outcomes["web-0"].state == VANISHED
    assert outcomes["web-0"].reason == "pod no longer exists"
    assert outcomes["web-1"].state == DONE


@pytest.mark.parametrize("event", [
    ("DELETED", pod()),
    ("MODIFIED", pod(deleting=True)),
    ("ADDED", pod(uid="uid-replacement")),  # same name, another pod
])
def test_pod_vanished_during_the_watch(clock, event):
    kube = FakeKube(clock, [[pod()]], [[event]])
    outcomes = wait_for_pods(kube, "ns", [expect()], 60, clock=clock)
    assert outcomes["web-0"].state == VANISHED
    assert outcomes["web-0"].reason == "pod was deleted"


def test_other_pods_are_ignored(clock):
    kube = FakeKube(clock, [[pod()]], [[("MODIFIED", upgraded("other", "uid-x")), ("MODIFIED", upgraded())]])
    outcomes = wait_for_pods(kube, "ns", [expect()], 60, clock=clock)
    assert list(outcomes) == ["web-0"]
    assert outcomes["web-0"].state == DONE


def test_watch_expired_relists(clock):
    kube = FakeKube(clock, [[pod()], [upgraded()]], [[WatchExpired()]])
    outcomes = wait_for_pods(kube, "ns", [expect()], 60, clock=clock)
    assert outcomes["web-0"].state == DONE
    assert len(kube.gets) == 2


def test_bookmark_moves_the_resource_version(clock):
    bookmark = ("BOOKMARK", {"metadata": {"resourceVersion": "150"}})
    kube = FakeKube(clock, [[pod()]], [[bookmark], [("MODIFIED", upgraded())]])
    outcomes = wait_for_pods(kube, "ns", [expect()], 600, clock=clock)
    assert outcomes["web-0"].state == DONE
    assert [q["resourceVersion"] for _p, q, _t in kube.watch_queries] == ["100", "150"]


def test_timeout_returns_pending(clock):
    kube = FakeKube(clock, [[pod()]])
    outcomes = wait_for_pods(kube, "ns", [expect()], 30, clock=clock)
    assert outcomes["web-0"].state == PENDING
    assert outcomes["web-0"].reason == "container web: still on nginx:1.19"
    assert clock() >= 1030.0
    # The watch never asks for more than what is left.
    assert all(timeout <= 30 for _p, _q, timeout in kube.watch_queries)


def test_timeout_during_the_watch(clock):
    kube = FakeKube(clock, [[pod()]], [[40, ("MODIFIED", pod(rv="2")), ("MODIFIED", upgraded())]])
    outcomes = wait_for_pods(kube, "ns", [expect()], 30, clock=clock)
    assert outcomes["web-0"].state == PENDING


def test_zero_timeout_lists_once(clock):
    kube = FakeKube(clock, [[pod()]])
    outcomes = wait_for_pods(kube, "ns", [expect()], 0, clock=clock)
    assert outcomes["web-0"].state == PENDING
    assert len(kube.gets) == 1 and kube.watch_queries == []


def test_min_ready_seconds(clock):
    # Ready at t=0, still Ready when the watch window ends at t=5: done only then.
    kube = FakeKube(clock, [[upgraded()]], [[2], [3]])
    outcomes = wait_for_pods(kube, "ns", [expect()], 60, min_ready_seconds=5, clock=clock)
    assert outcomes["web-0"].state == DONE
    assert clock() - 1000.0 >= 5
    # Watch windows are cut to half of min_ready_seconds so the timer gets rechecked.
    assert all(timeout <= 2.5 for _p, _q, timeout in kube.watch_queries)


def test_min_ready_seconds_restarts_when_not_ready(clock):
    flapping = upgraded(ready=False)
    kube = FakeKube(clock, [[upgraded()]], [[1, ("MODIFIED", flapping), 1, ("MODIFIED", upgraded())]])
    outcomes = wait_for_pods(kube, "ns", [expect()], 60, min_ready_seconds=5, clock=clock)
    assert outcomes["web-0"].state == DONE
    # Ready again at t=2, so done no sooner than t=7.
    assert clock() - 1000.0 >= 7


def test_min_ready_seconds_not_reached_before_timeout(clock):
    kube = FakeKube(clock, [[upgraded()]])
    outcomes = wait_for_pods(kube, "ns", [expect()], 3, min_ready_seconds=10, clock=clock)
    assert outcomes["web-0"].state == PENDING
    assert outcomes["web-0"].reason == "Ready for less than 10s"


def test_transient_api_error_is_retried(clock, no_sleep):
    kube = FakeKube(clock, [ApiError("unavailable", status=503), [upgraded()]])
    outcomes = wait_for_pods(kube, "ns", [expect()], 60, clock=clock)
    assert outcomes["web-0"].state == DONE
    assert no_sleep == [0.2]


def test_permanent_api_error_is_raised(clock):
    kube = FakeKube(clock, [ApiError("forbidden", status=403)])
    with pytest.raises(ApiError) as exc:
        wait_for_pods(kube, "ns", [expect()], 60, clock=clock)
    assert exc.value.status == 403


def test_transient_error_at_the_deadline_returns(clock):
    kube = FakeKube(clock, [[pod()], ApiError("unavailable", status=503)], [[30, WatchExpired()]])
    outcomes = wait_for_pods(kube, "ns", [expect()], 30, clock=clock)
    assert outcomes["web-0"].state == PENDING


def test_on_done_is_called_once_per_pod_as_soon_as_it_is_done(clock):
    calls = []
    kube = FakeKube(clock, [[upgraded(), pod("web-1", "uid-1")]],
                    [[("MODIFIED", upgraded(rv="101")), ("MODIFIED", upgraded("web-1", "uid-1", rv="102"))]])
    outcomes = wait_for_pods(kube, "ns", [expect(), expect("web-1", "uid-1")], 60, clock=clock,
                             on_done=lambda name, seen: calls.append((name, seen["metadata"]["uid"], len(kube.watch_queries))))
    assert outcomes["web-0"].state == DONE and outcomes["web-1"].state == DONE
    # web-0 is announced from the list, before any watch; web-1 from the watch; neither twice.
    assert calls == [("web-0", "uid-0", 0), ("web-1", "uid-1", 1)]


def test_on_done_is_not_called_for_failed_or_vanished_pods(clock):
    calls = []
    failing = pod(statuses=[status(image=NEW, cid="c://new", ready=False, state={"waiting": {"reason": "ErrImagePull"}})])
    kube = FakeKube(clock, [[pod(), pod("web-1", "uid-1")]], [[("DELETED", pod("web-1", "uid-1")), ("MODIFIED", failing)]])
    wait_for_pods(kube, "ns", [expect(), expect("web-1", "uid-1")], 60, clock=clock,
                  on_done=lambda name, seen: calls.append(name))
    assert calls == []


def test_on_done_waits_for_min_ready_seconds(clock):
    calls = []
    kube = FakeKube(clock, [[upgraded()]], [[5, ("MODIFIED", upgraded(rv="101"))]])
    outcomes = wait_for_pods(kube, "ns", [expect()], 60, clock=clock, min_ready_seconds=3,
                             on_done=lambda name, seen: calls.append((name, clock())))
    assert outcomes["web-0"].state == DONE
    assert calls == [("web-0", 1005.0)]


# --- waiting for a controller to observe a generation -------------------------------------------

class GenerationKube(object):
    """``get`` returns the next object; ``watch`` plays the next script (an exception is raised)."""

    def __init__(self, gets, watches=()):
        self.gets = list(gets)
        self.watches = list(watches)
        self.get_calls = 0
        self.watch_queries = []

    def get(self, path, query=None, deadline=None):
        self.get_calls += 1
        return self.gets.pop(0)

    def watch(self, path, query, timeout_seconds):
        self.watch_queries.append((path, dict(query)))
        for event in self.watches.pop(0):
            if isinstance(event, Exception):
                raise event
            yield event


def deployment(generation, observed, rv="1"):
    return {"metadata": {"name": "web", "generation": generation, "resourceVersion": rv},
            "status": {"observedGeneration": observed}}


def test_generation_already_observed_needs_no_watch():
    kube = GenerationKube([])
    current = deployment(3, 3)
    assert wait.wait_for_generation(kube, "Deployment", "ns", "web", 3, wait.time.monotonic() + 60, current) is current
    assert kube.get_calls == 0 and kube.watch_queries == []


def test_generation_is_watched_from_the_current_resource_version():
    kube = GenerationKube([], [[("MODIFIED", deployment(3, 2, rv="5")), ("MODIFIED", deployment(3, 3, rv="6"))]])
    seen = wait.wait_for_generation(kube, "Deployment", "ns", "web", 3, wait.time.monotonic() + 60, deployment(3, 2, rv="4"))
    assert seen["metadata"]["resourceVersion"] == "6"
    assert kube.watch_queries == [("/apis/apps/v1/namespaces/ns/deployments",
                                   {"fieldSelector": "metadata.name=web", "resourceVersion": "4"})]


def test_generation_watch_expired_reads_again():
    kube = GenerationKube([deployment(3, 3, rv="9")], [[WatchExpired()]])
    seen = wait.wait_for_generation(kube, "StatefulSet", "ns", "web", 3, wait.time.monotonic() + 60, deployment(3, 2))
    assert seen["metadata"]["resourceVersion"] == "9" and kube.get_calls == 1


def test_generation_owner_deleted_is_an_error():
    kube = GenerationKube([], [[("DELETED", deployment(3, 2))]])
    with pytest.raises(wait.InplaceError) as exc:
        wait.wait_for_generation(kube, "DaemonSet", "ns", "web", 3, wait.time.monotonic() + 60, deployment(3, 2))
    assert "DaemonSet ns/web was deleted" in exc.value.msg


def test_generation_not_observed_by_the_deadline():
    kube = GenerationKube([deployment(3, 2)])
    with pytest.raises(wait.InplaceError) as exc:
        wait.wait_for_generation(kube, "Deployment", "ns", "web", 3, wait.time.monotonic() - 1)
    assert "did not observe generation 3" in exc.value.msg
