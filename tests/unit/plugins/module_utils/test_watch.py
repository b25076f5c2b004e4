# -*- coding: utf-8 -*-
# Copyright: inplace.kubernetes contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""watch.py: the pod watch loop and the generation watch, against a fake API with a fake clock."""

from __future__ import annotations

import copy

import pytest

from ansible_collections.inplace.kubernetes.plugins.module_utils._inplace import watch
from ansible_collections.inplace.kubernetes.plugins.module_utils._inplace.errors import ApiError, WatchExpired
from ansible_collections.inplace.kubernetes.plugins.module_utils._inplace.wait import DONE, FAILED, PENDING, VANISHED
from ansible_collections.inplace.kubernetes.plugins.module_utils._inplace.watch import Expectation, wait_for_pods

OLD = "nginx:1.19"
NEW = "nginx:1.20"
OLD_ID = "docker.io/library/nginx@sha256:" + "1" * 64
NEW_ID = "docker.io/library/nginx@sha256:" + "2" * 64


def status(name="web", image="docker.io/library/nginx:1.19", cid="containerd://old", restarts=0, ready=True,
           state=None, image_id=OLD_ID, last=None):
    entry = {"name": name, "image": image, "imageID": image_id, "containerID": cid, "restartCount": restarts,
             "ready": ready, "started": ready,
             "state": state if state is not None else {"running": {"startedAt": "2024-01-01T00:00:00Z"}}}
    if last:
        entry["lastState"] = last
    return entry


def pod(name="web-0", uid="uid-0", statuses=None, ready=True, rv="1", deleting=False, spec_image=NEW, sidecar=None,
        grace=None):
    metadata = {"name": name, "uid": uid, "resourceVersion": rv}
    if deleting:
        metadata["deletionTimestamp"] = "2024-01-01T00:00:00Z"
    spec = {"containers": [{"name": "web", "image": spec_image}]}
    if sidecar:
        spec["initContainers"] = [{"name": "proxy", "image": sidecar, "restartPolicy": "Always"}]
    if grace is not None:
        spec["terminationGracePeriodSeconds"] = grace
    return {
        "metadata": metadata,
        "spec": spec,
        "status": {
            "conditions": [{"type": "PodScheduled", "status": "True"},
                           {"type": "Ready", "status": "True" if ready else "False"}],
            "containerStatuses": [status()] if statuses is None else statuses,
        },
    }


def upgraded(name="web-0", uid="uid-0", **kwargs):
    return pod(name, uid, statuses=[status(image="docker.io/library/nginx:1.20", cid="containerd://new", restarts=1,
                                           image_id=NEW_ID)], **kwargs)


# The killed old container's status while the new image cannot be pulled (convertToAPIContainerStatuses).
def pull_failing(reason="ErrImagePull", **kwargs):
    return pod(statuses=[status(ready=False, state={"waiting": {"reason": reason, "message": 'Back-off pulling image "nginx:1.20"'}},
                                last={"terminated": {"exitCode": 0, "reason": "Completed", "containerID": "containerd://old"}})],
               ready=False, **kwargs)


BASELINE = {"containerID": "containerd://old", "restartCount": 0, "imageID": OLD_ID,
            "image": "docker.io/library/nginx:1.19", "running": True, "reason": None}


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
    monkeypatch.setattr(watch.time, "sleep", slept.append)
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


def test_pods_as_written_start_the_watch_from_the_cursor_without_a_list(clock):
    # What happened since the cursor is replayed: a state older than the patch, then the patch, then the restart.
    events = [("MODIFIED", pod(rv="41", spec_image=OLD)), ("MODIFIED", pod(rv="42")), ("MODIFIED", upgraded(rv="43"))]
    kube = FakeKube(clock, [[pod()]], [events])
    cursor = {"resourceVersion": "40"}
    outcomes = wait_for_pods(kube, "ns", [expect()], 60, selector="app=web", clock=clock, cursor=cursor, seen={"web-0": pod(rv="42")})
    assert outcomes["web-0"].state == DONE
    assert kube.gets == []
    assert [q for _path, q, _timeout in kube.watch_queries] == [{"labelSelector": "app=web", "resourceVersion": "40"}]
    assert cursor == {"resourceVersion": "43"}


def test_a_cursor_too_old_for_the_watch_falls_back_to_a_list(clock):
    kube = FakeKube(clock, [[upgraded()]], [[WatchExpired()]])
    cursor = {"resourceVersion": "40"}
    outcomes = wait_for_pods(kube, "ns", [expect()], 60, clock=clock, cursor=cursor, seen={"web-0": pod()})
    assert outcomes["web-0"].state == DONE
    assert len(kube.gets) == 1 and cursor == {"resourceVersion": "100"}


def test_without_every_pod_as_written_the_wait_lists(clock):
    kube = FakeKube(clock, [[upgraded(), pod("web-1", "uid-1")]], [[("MODIFIED", upgraded("web-1", "uid-1"))]])
    cursor = {"resourceVersion": "40"}
    outcomes = wait_for_pods(kube, "ns", [expect(), expect("web-1", "uid-1")], 60, clock=clock, cursor=cursor, seen={"web-0": pod()})
    assert (outcomes["web-0"].state, outcomes["web-1"].state) == (DONE, DONE)
    assert len(kube.gets) == 1 and kube.watch_queries[0][1]["resourceVersion"] == "100"


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
    assert outcomes["web-0"].reason == (
        "container web: kubelet has not restarted it yet (previous container running docker.io/library/nginx:1.19)")
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
    assert watch.wait_for_generation(kube, "Deployment", "ns", "web", 3, watch.time.monotonic() + 60, current) is current
    assert kube.get_calls == 0 and kube.watch_queries == []


def test_generation_is_watched_from_the_current_resource_version():
    kube = GenerationKube([], [[("MODIFIED", deployment(3, 2, rv="5")), ("MODIFIED", deployment(3, 3, rv="6"))]])
    seen = watch.wait_for_generation(kube, "Deployment", "ns", "web", 3, watch.time.monotonic() + 60, deployment(3, 2, rv="4"))
    assert seen["metadata"]["resourceVersion"] == "6"
    assert kube.watch_queries == [("/apis/apps/v1/namespaces/ns/deployments",
                                   {"fieldSelector": "metadata.name=web", "resourceVersion": "4"})]


def test_generation_watch_expired_reads_again():
    kube = GenerationKube([deployment(3, 3, rv="9")], [[WatchExpired()]])
    seen = watch.wait_for_generation(kube, "StatefulSet", "ns", "web", 3, watch.time.monotonic() + 60, deployment(3, 2))
    assert seen["metadata"]["resourceVersion"] == "9" and kube.get_calls == 1


def test_generation_owner_deleted_is_an_error():
    kube = GenerationKube([], [[("DELETED", deployment(3, 2))]])
    with pytest.raises(watch.InplaceError) as exc:
        watch.wait_for_generation(kube, "DaemonSet", "ns", "web", 3, watch.time.monotonic() + 60, deployment(3, 2))
    assert "DaemonSet ns/web was deleted" in exc.value.msg


def test_generation_not_observed_by_the_deadline():
    kube = GenerationKube([deployment(3, 2)])
    with pytest.raises(watch.InplaceError) as exc:
        watch.wait_for_generation(kube, "Deployment", "ns", "web", 3, watch.time.monotonic() - 1)
    assert "did not observe generation 3" in exc.value.msg


# --- the real kubelet's shapes through the loop ---------------------------------------------------

def test_pull_failure_on_the_old_containers_status_fails_at_once(clock):
    # The status keeps the old image, imageID, containerID and restartCount; only the reason says it.
    kube = FakeKube(clock, [[pod()]], [[1, ("MODIFIED", pull_failing())]])
    outcomes = wait_for_pods(kube, "ns", [expect()], 300, clock=clock)
    assert outcomes["web-0"].state == FAILED
    assert outcomes["web-0"].reason == 'container web: ErrImagePull: Back-off pulling image "nginx:1.20"'
    assert clock() == 1001.0


def test_sidecar_not_restarted_fails_after_the_grace_without_any_event(clock):
    # A 1.31 kubelet leaves the sidecar running and sends nothing: the watch has to wake up by itself.
    side = pod(sidecar="envoy:2", grace=10, statuses=[status()])
    side["status"]["initContainerStatuses"] = [status(name="proxy", image="docker.io/library/envoy:1", cid="c://p1")]
    exp = Expectation("web-0", "uid-0", {"proxy": "envoy:2"},
                      {"proxy": dict(BASELINE, containerID="c://p1", image="docker.io/library/envoy:1")})
    kube = FakeKube(clock, [[side]])
    outcomes = wait_for_pods(kube, "ns", [exp], 300, clock=clock)
    assert outcomes["web-0"].state == FAILED
    assert "does not restart a running sidecar" in outcomes["web-0"].reason
    assert 1025.0 <= clock() < 1030.0, "decided at terminationGracePeriodSeconds + margin, not at the timeout"


def test_observed_generation_gates_the_decision(clock):
    lagging = pull_failing()
    lagging["status"]["observedGeneration"] = 1
    caught_up = copy.deepcopy(lagging)
    caught_up["status"]["observedGeneration"] = 2
    exp = Expectation("web-0", "uid-0", {"web": NEW}, {"web": BASELINE}, generation=2)
    kube = FakeKube(clock, [[lagging]], [[("MODIFIED", caught_up)]])
    outcomes = wait_for_pods(kube, "ns", [exp], 300, clock=clock)
    assert outcomes["web-0"].state == FAILED
