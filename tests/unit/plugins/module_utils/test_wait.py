# -*- coding: utf-8 -*-
# Copyright: inplace.kubernetes contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""wait.py: the pure predicates, over pods shaped as the real kubelet reports them.

The shapes follow kubelet ``convertToAPIContainerStatuses`` (v1.31.14, v1.37.2): while a new image cannot
be pulled the status is built from the old, killed container; a crash loop shows a newer container with
``lastState.terminated``; sidecars report in ``initContainerStatuses``; ``status.observedGeneration``
appears on kubelets that track pod generations.
"""

from __future__ import annotations

import pytest

from ansible_collections.inplace.kubernetes.plugins.module_utils._inplace import wait
from ansible_collections.inplace.kubernetes.plugins.module_utils._inplace.wait import (
    DONE,
    FAILED,
    PENDING,
    baseline_of,
    container_kind,
    container_progress,
    failure_is_about,
    generation_lag,
    names_image,
    next_decision,
    plan_baseline,
    pod_progress,
    pod_ready,
    spec_only_reason,
)

OLD = "nginx:1.19"
NEW = "nginx:1.20"
OLD_ID = "docker.io/library/nginx@sha256:" + "1" * 64
NEW_ID = "docker.io/library/nginx@sha256:" + "2" * 64
RUNNING = {"running": {"startedAt": "2024-01-01T00:00:00Z"}}


def status(name="web", image="docker.io/library/nginx:1.19", cid="containerd://old", restarts=0, ready=True,
           state=None, image_id=OLD_ID, last=None):
    entry = {"name": name, "image": image, "imageID": image_id, "containerID": cid, "restartCount": restarts,
             "ready": ready, "started": ready, "state": RUNNING if state is None else state}
    if last is not None:
        entry["lastState"] = last
    return entry


def pod(statuses=None, init_statuses=None, ready=True, spec=None, generation=None, observed=None, conditions=()):
    p = {
        "metadata": {"name": "web-0", "uid": "uid-0"},
        "spec": spec or {"containers": [{"name": "web", "image": NEW}]},
        "status": {
            "conditions": [{"type": "Ready", "status": "True" if ready else "False"}] + list(conditions),
            "containerStatuses": [status()] if statuses is None else statuses,
        },
    }
    if init_statuses is not None:
        p["status"]["initContainerStatuses"] = init_statuses
    if generation is not None:
        p["metadata"]["generation"] = generation
    if observed is not None:
        p["status"]["observedGeneration"] = observed
    return p


BASELINE = {"containerID": "containerd://old", "restartCount": 0, "imageID": OLD_ID,
            "image": "docker.io/library/nginx:1.19", "running": True, "reason": None}
KILLED = {"terminated": {"exitCode": 0, "reason": "Completed", "containerID": "containerd://old",
                         "startedAt": "2024-01-01T00:00:00Z", "finishedAt": "2024-01-01T01:00:00Z"}}


def pull_failing(reason="ErrImagePull", message='failed to pull and unpack image "docker.io/library/nginx:1.20": not found',
                 **kwargs):
    """The old container's status kept while the new image's pull fails (image, imageID, ID, count all old)."""
    return pod(statuses=[status(ready=False, state={"waiting": {"reason": reason, "message": message}}, last=KILLED)],
               ready=False, **kwargs)


def crash_looping(**kwargs):
    """The new image runs and exits: a newer container, back-off, lastState.terminated of the new one."""
    return pod(statuses=[status(image="docker.io/library/nginx:1.20", image_id=NEW_ID, cid="containerd://new",
                                restarts=3, ready=False,
                                state={"waiting": {"reason": "CrashLoopBackOff",
                                                   "message": "back-off 40s restarting failed container=web pod=web-0"}},
                                last={"terminated": {"exitCode": 1, "reason": "Error", "containerID": "containerd://new"}})],
               ready=False, **kwargs)


# --- small predicates -----------------------------------------------------------------------------

def test_baseline_of():
    assert baseline_of(pod(), ["web", "ghost"]) == {
        "web": BASELINE,
        "ghost": {"containerID": None, "restartCount": 0, "imageID": None, "image": None, "running": False,
                  "reason": None},
    }
    assert baseline_of(pull_failing(), ["web"])["web"]["reason"] == "ErrImagePull"


@pytest.mark.parametrize("conditions, expected", [
    ([{"type": "Ready", "status": "True"}], True),
    ([{"type": "Ready", "status": "False"}], False),
    ([{"type": "ContainersReady", "status": "True"}], False),
    ([], False),
    (None, False),
])
def test_pod_ready(conditions, expected):
    assert pod_ready({"status": {"conditions": conditions}}) is expected


def test_fail_fast_reasons_are_the_kubelets():
    assert wait.FAIL_FAST_REASONS >= {
        "ErrImagePull", "ImagePullBackOff", "ErrImageNeverPull", "InvalidImageName", "ImageInspectError",
        "CreateContainerConfigError", "CreateContainerError", "RunContainerError", "PreStartHookError",
        "PostStartHookError", "CrashLoopBackOff"}
    assert "ContainerCreating" not in wait.FAIL_FAST_REASONS and "PodInitializing" not in wait.FAIL_FAST_REASONS


def test_container_kind():
    spec = {"containers": [{"name": "web"}],
            "initContainers": [{"name": "setup"}, {"name": "proxy", "restartPolicy": "Always"}]}
    p = {"spec": spec}
    assert [container_kind(p, n) for n in ("web", "setup", "proxy", "ghost")] == ["container", "init", "sidecar", None]


@pytest.mark.parametrize("message, image, expected", [
    ('Back-off pulling image "nginx:1.20"', "nginx:1.20", True),
    ('Back-off pulling image "nginx:1.20": ErrImagePull: not found', "nginx:1.20", True),
    ('Back-off pulling image "nginx:1.2"', "nginx:1.20", False),
    ('Container image "nginx:latest" is not present with pull policy of Never', "nginx", True),
    ('Back-off pulling image "nginx:1.20"', "nginx:1.19", False),
    ("", "nginx:1.20", False),
    (None, "nginx:1.20", False),
])
def test_names_image(message, image, expected):
    assert names_image(message, image) is expected


@pytest.mark.parametrize("observed, generation, lagging", [
    (None, 2, False),   # the kubelet does not track generations: says nothing
    (1, 2, True),
    (2, 2, False),
    (3, 2, False),
    (1, None, False),
])
def test_generation_lag(observed, generation, lagging):
    assert bool(generation_lag(pod(observed=observed), generation)) is lagging


# --- fail fast, by identity -----------------------------------------------------------------------

@pytest.mark.parametrize("reason", ["ErrImagePull", "ImagePullBackOff"])
def test_pull_failure_on_the_old_containers_status_is_the_new_images(reason):
    # status.image is still the old tag: the reason is attributed by the container's identity.
    state, why = container_progress(pull_failing(reason), "web", NEW, BASELINE)
    assert state == FAILED and why.startswith(reason + ": failed to pull")


def test_pull_failure_while_the_old_container_still_shows_running_elsewhere_is_not_attributed():
    # Same container, still running, a stale reason can not be there; but a waiting reason on the
    # baseline container that was NOT running at the patch (it was crash looping) is the old one.
    crashing_before = dict(BASELINE, running=False, reason="CrashLoopBackOff")
    stale = pod(statuses=[status(ready=False, state={"waiting": {"reason": "CrashLoopBackOff",
                                                                 "message": "back-off 5m0s restarting failed"}})])
    assert container_progress(stale, "web", NEW, crashing_before)[0] == PENDING


def test_pull_failure_quoting_the_target_counts_even_for_a_container_broken_before():
    broken_before = dict(BASELINE, running=False, reason="ImagePullBackOff")
    failing = pull_failing("ImagePullBackOff", 'Back-off pulling image "nginx:1.20"')
    assert container_progress(failing, "web", NEW, broken_before)[0] == FAILED


def test_crash_loop_of_the_new_container():
    assert container_progress(crash_looping(), "web", NEW, BASELINE) == (
        FAILED, "CrashLoopBackOff: back-off 40s restarting failed container=web pod=web-0")


def test_flip_back_held_in_the_kubelets_back_off_waits_for_the_first_new_container():
    """A pod patched back to an image it ran seconds ago: the kubelet kills the running container, then holds
    the spec's first start in the back-off it keeps per pod, container, image and resources (doBackOff,
    GetBackoffKey) and says CrashLoopBackOff, with no container of the new spec yet. Not a crash: pending,
    saying why; the first new container is judged as usual (a crash of it fails)."""
    held = pod(ready=False, generation=4, observed=4, statuses=[status(
        ready=False, last=KILLED, state={"waiting": {"reason": "CrashLoopBackOff",
                                                     "message": "back-off 10s restarting failed container=web pod=web-0"}})])
    state, reason = container_progress(held, "web", NEW, BASELINE, generation=4)
    assert state == PENDING, reason
    assert "restart back-off" in reason and "back-off 10s restarting failed container=web" in reason, reason
    assert not failure_is_about(held["status"]["containerStatuses"][0], BASELINE, NEW)
    started = pod(generation=4, observed=4, statuses=[status(image="docker.io/library/nginx:1.20", image_id=NEW_ID,
                                                             cid="containerd://new", restarts=1, last=KILLED)])
    assert container_progress(started, "web", NEW, BASELINE, generation=4) == (DONE, "")
    assert container_progress(crash_looping(generation=4, observed=4), "web", NEW, BASELINE, generation=4)[0] == FAILED
    # Other start failures of the new spec before any new container still fail fast.
    config_error = pod(ready=False, statuses=[status(ready=False, last=KILLED, state={"waiting": {
        "reason": "CreateContainerConfigError", "message": 'configmap "missing" not found'}})])
    assert container_progress(config_error, "web", NEW, BASELINE)[0] == FAILED


def test_nothing_is_attributed_before_the_kubelet_acted_on_the_patch():
    lagging = pull_failing(generation=2, observed=1)
    assert container_progress(lagging, "web", NEW, BASELINE, generation=2) == (
        PENDING, "kubelet has not acted on the patch yet (observedGeneration 1 < 2)")
    caught_up = pull_failing(generation=2, observed=2)
    assert container_progress(caught_up, "web", NEW, BASELINE, generation=2)[0] == FAILED


@pytest.mark.parametrize("container_status, base, expected", [
    # killed by the patch: lastState names the baseline container
    (status(state={"waiting": {"reason": "ErrImagePull"}}, last=KILLED), BASELINE, True),
    # a newer container
    (status(cid="containerd://new", restarts=1, state={"waiting": {"reason": "CrashLoopBackOff"}}), BASELINE, True),
    # the baseline container, still running
    (status(state=RUNNING), BASELINE, False),
    # without a baseline the status has to show the target (or quote it)
    (status(state={"waiting": {"reason": "ErrImagePull"}}), None, False),
    (status(image="docker.io/library/nginx:1.20", state={"waiting": {"reason": "CrashLoopBackOff"}}), None, True),
    (status(state={"waiting": {"reason": "ImagePullBackOff", "message": 'Back-off pulling image "nginx:1.20"'}}),
     None, True),
])
def test_failure_is_about(container_status, base, expected):
    assert failure_is_about(container_status, base, NEW) is expected


# --- done, by identity ----------------------------------------------------------------------------

@pytest.mark.parametrize("container_status, expected", [
    (None, (PENDING, "no status yet")),
    (status(), (PENDING, "kubelet has not restarted it yet (previous container running docker.io/library/nginx:1.19)")),
    (status(ready=False, state={"waiting": {"reason": "ContainerCreating"}}, last=KILLED),
     (PENDING, "waiting: ContainerCreating")),
    (status(cid="containerd://new", restarts=1, state={"waiting": {"reason": "ContainerCreating"}}, ready=False),
     (PENDING, "waiting: ContainerCreating")),
    (status(cid="containerd://new", restarts=1, state={"terminated": {"exitCode": 1}}, ready=False),
     (PENDING, "not running")),
    (status(image="docker.io/library/nginx:1.20", cid="containerd://new", restarts=1, ready=False),
     (PENDING, "running, not ready")),
    (status(image="docker.io/library/nginx:1.20", image_id=NEW_ID, cid="containerd://new", restarts=1), (DONE, "")),
    # A retag to the same image: containerd still names it by its first tag, imageID unchanged; a new
    # container of the patched spec is all the proof there is, and enough.
    (status(cid="containerd://new", restarts=1), (DONE, "")),
    # Same container ID, restart count moved on: a new container.
    (status(image="docker.io/library/nginx:1.20", restarts=1), (DONE, "")),
])
def test_container_progress(container_status, expected):
    p = pod(statuses=[] if container_status is None else [container_status])
    assert container_progress(p, "web", NEW, BASELINE) == expected


def test_spec_must_have_the_target():
    p = pod(spec={"containers": [{"name": "web", "image": OLD}]},
            statuses=[status(cid="containerd://new", restarts=1)])
    assert container_progress(p, "web", NEW, BASELINE) == (PENDING, "spec has nginx:1.19")


def test_rollback_accepts_the_original_container_still_running():
    # The new image never got the old container killed (or a sidecar was never restarted): patched back,
    # the original container is on the target again.
    p = pod(spec={"containers": [{"name": "web", "image": OLD}]})
    base = dict(BASELINE, accept="containerd://old")
    assert container_progress(p, "web", OLD, base) == (DONE, "")


def test_rollback_after_a_pull_failure_waits_for_the_new_container_of_the_old_image():
    back = pull_failing("ImagePullBackOff", 'Back-off pulling image "nginx:1.20"',
                        spec={"containers": [{"name": "web", "image": OLD}]})
    base = dict(baseline_of(back, ["web"])["web"], accept="containerd://old")
    # The stale reason of the bad image is not a failure of the rollback.
    assert container_progress(back, "web", OLD, base)[0] == PENDING
    restored = pod(spec={"containers": [{"name": "web", "image": OLD}]},
                   statuses=[status(cid="containerd://again", restarts=1, last=KILLED)])
    assert container_progress(restored, "web", OLD, base) == (DONE, "")


def test_rollback_read_before_the_kubelet_killed_the_original_waits_through_its_back_off():
    """A pod of a failed batch whose kubelet had not acted on the bad image when the rollback read it: the
    original container still ran (accepted as the target). The kubelet then kills it for the bad image,
    and, as the back-off key holds the bad image (GetBackoffKey), says CrashLoopBackOff for it with the
    rollback's generation before it acts on the rollback. That is the bad image's, not the rollback's."""
    spec = {"containers": [{"name": "web", "image": OLD}]}
    base = dict(BASELINE, accept="containerd://old")
    backing_off = pod(spec=spec, ready=False, generation=3, observed=3, statuses=[status(
        ready=False, last=KILLED, state={"waiting": {"reason": "CrashLoopBackOff",
                                                     "message": "back-off 10s restarting failed container=web pod=web-0"}})])
    assert container_progress(backing_off, "web", OLD, base, generation=3)[0] == PENDING
    restored = pod(spec=spec, generation=3, observed=3, statuses=[status(cid="containerd://again", restarts=1, last=KILLED)])
    assert container_progress(restored, "web", OLD, base, generation=3) == (DONE, "")
    # The old image itself crash-looping after the rollback is a newer container: that is a failure.
    crashed = pod(spec=spec, ready=False, generation=3, observed=3, statuses=[status(
        cid="containerd://again", restarts=2, ready=False,
        state={"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 20s restarting failed container=web pod=web-0"}},
        last={"terminated": {"exitCode": 1, "containerID": "containerd://again"}})])
    assert container_progress(crashed, "web", OLD, base, generation=3)[0] == FAILED


# --- pods read without a baseline (the plan, a re-run) ----------------------------------------------

DIGEST = "nginx@sha256:" + "2" * 64


@pytest.mark.parametrize("container_status, expected", [
    # Digest target: containerd names the image by its first tag, or sha256:<id>; imageID has the digest.
    (status(image="docker.io/library/nginx:1.20", image_id=NEW_ID), (DONE, "")),
    (status(image="sha256:" + "f" * 64, image_id=NEW_ID), (DONE, "")),
    (status(image="docker.io/library/nginx:1.20", image_id=NEW_ID, ready=False), (PENDING, "running, not ready")),
    (status(image="docker.io/library/nginx:1.20", image_id=NEW_ID, ready=False,
            state={"waiting": {"reason": "ErrImagePull", "message": 'Back-off pulling image "%s"' % DIGEST}}),
     (FAILED, 'ErrImagePull: Back-off pulling image "%s"' % DIGEST)),
])
def test_digest_pinned_pod_as_read(container_status, expected):
    p = pod(spec={"containers": [{"name": "web", "image": DIGEST}]}, statuses=[container_status])
    assert container_progress(p, "web", DIGEST) == expected


def test_retag_as_read_is_current():
    # spec has the new tag, the runtime still reports the image's first tag
    assert container_progress(pod(), "web", NEW) == (DONE, "")


def test_pod_as_read_with_generations():
    assert container_progress(pod(generation=3, observed=2), "web", NEW)[0] == PENDING
    assert container_progress(pod(generation=3, observed=3), "web", NEW) == (DONE, "")


# --- init containers and sidecars ---------------------------------------------------------------------

INIT_SPEC = {"containers": [{"name": "web", "image": OLD}], "initContainers": [{"name": "setup", "image": "busybox:2"}]}
SIDECAR_SPEC = {"containers": [{"name": "web", "image": OLD}],
                "initContainers": [{"name": "proxy", "image": "envoy:2", "restartPolicy": "Always"}]}


def setup_status(state):
    return status(name="setup", image="docker.io/library/busybox:1", cid="containerd://setup", ready=False, state=state)


@pytest.mark.parametrize("init_state, initialized, spec_only", [
    ({"terminated": {"exitCode": 0, "reason": "Completed"}}, True, True),
    ({"running": {}}, False, True),
    ({"terminated": {"exitCode": 1, "reason": "Error"}}, False, False),  # failed, retried with the new image
    ({"waiting": {"reason": "PodInitializing"}}, False, False),
])
def test_spec_only_reason(init_state, initialized, spec_only):
    conditions = [{"type": "Initialized", "status": "True" if initialized else "False"}]
    statuses = [status()] if initialized else [status(state={"waiting": {"reason": "PodInitializing"}}, ready=False)]
    p = pod(spec=INIT_SPEC, statuses=statuses, init_statuses=[setup_status(init_state)], conditions=conditions)
    reason = spec_only_reason(p, "setup")
    assert bool(reason) is spec_only
    if initialized:
        assert reason == ("init container setup has completed: the kubelet never re-runs a completed init container "
                          "on a live pod, so its new image takes effect only when the pod is recreated")


def test_spec_only_is_only_for_regular_init_containers():
    assert spec_only_reason(pod(spec=SIDECAR_SPEC), "proxy") == ""
    assert spec_only_reason(pod(), "web") == ""


def sidecar_pod(side, observed=None, grace=None):
    spec = dict(SIDECAR_SPEC)
    if grace is not None:
        spec["terminationGracePeriodSeconds"] = grace
    return pod(spec=spec, statuses=[status()], init_statuses=[side], observed=observed, generation=2 if observed else None)


SIDE_BASE = {"containerID": "containerd://p1", "restartCount": 0, "imageID": "x", "image": "docker.io/library/envoy:1",
             "running": True, "reason": None}


def test_sidecar_restarted_in_place_is_done():
    side = status(name="proxy", image="docker.io/library/envoy:2", cid="containerd://p2", restarts=1)
    assert container_progress(sidecar_pod(side), "proxy", "envoy:2", SIDE_BASE, elapsed=3) == (DONE, "")


def test_sidecar_not_restarted_fails_after_the_grace():
    side = status(name="proxy", image="docker.io/library/envoy:1", cid="containerd://p1")
    p = sidecar_pod(side, grace=30)
    assert container_progress(p, "proxy", "envoy:2", SIDE_BASE, elapsed=44)[0] == PENDING
    state, reason = container_progress(p, "proxy", "envoy:2", SIDE_BASE, elapsed=45)
    assert state == FAILED
    assert reason.startswith("sidecar still runs its previous container 45s after the patch: this kubelet does not "
                             "restart a running sidecar")
    assert next_decision(p, {"proxy": "envoy:2"}, {"proxy": SIDE_BASE}) == 45


def test_sidecar_on_a_kubelet_that_reports_generations_is_waited_for():
    side = status(name="proxy", image="docker.io/library/envoy:1", cid="containerd://p1")
    p = sidecar_pod(side, observed=2)
    assert container_progress(p, "proxy", "envoy:2", SIDE_BASE, elapsed=600, generation=2)[0] == PENDING
    assert next_decision(p, {"proxy": "envoy:2"}, {"proxy": SIDE_BASE}) is None


def test_sidecar_as_read_on_the_old_image():
    side = status(name="proxy", image="docker.io/library/envoy:1", cid="containerd://p1")
    p = sidecar_pod(side)
    state, reason = container_progress(p, "proxy", "envoy:2")
    assert state == PENDING and "do not restart a running sidecar" in reason
    assert plan_baseline(p, {"proxy": "envoy:2", "web": OLD}) == {"proxy": dict(SIDE_BASE, imageID=OLD_ID)}


# --- pods ---------------------------------------------------------------------------------------------

def test_pod_progress_done():
    done = pod(statuses=[status(image="docker.io/library/nginx:1.20", cid="containerd://new", restarts=1)])
    assert pod_progress(done, {"web": NEW}, {"web": BASELINE}) == (DONE, "")


def test_pod_progress_not_ready():
    done = pod(statuses=[status(cid="containerd://new", restarts=1)], ready=False)
    assert pod_progress(done, {"web": NEW}, {"web": BASELINE}) == (PENDING, "pod not Ready")


def test_pod_progress_fails_on_first_failure():
    spec = {"containers": [{"name": "web", "image": NEW}, {"name": "side", "image": "envoy:2"}]}
    p = pod(spec=spec, statuses=[status(), status(name="side", cid="c://s", state={"waiting": {"reason": "ErrImagePull"}},
                                                  last={"terminated": {"exitCode": 0, "containerID": "c://s"}})])
    base = {"web": BASELINE, "side": dict(BASELINE, containerID="c://s")}
    # "side" sorts before "web", but a failure anywhere wins over pending containers.
    assert pod_progress(p, {"web": NEW, "side": "envoy:2"}, base) == (FAILED, "container side: ErrImagePull")


def test_pod_progress_collects_reasons():
    spec = {"containers": [{"name": "web", "image": NEW}, {"name": "side", "image": "envoy:2"}]}
    p = pod(spec=spec, statuses=[status(), status(name="side", image="envoy:1", cid="c://s")])
    base = {"web": BASELINE, "side": dict(BASELINE, containerID="c://s")}
    assert pod_progress(p, {"web": NEW, "side": "envoy:2"}, base) == (
        PENDING, "container side: kubelet has not restarted it yet (previous container running envoy:1); "
                 "container web: kubelet has not restarted it yet (previous container running docker.io/library/nginx:1.19)")


def test_pull_failure_of_another_image_is_not_blamed_on_a_rollback_target():
    """Rolling back from a bad image on a kubelet without observedGeneration: until it acts on the rollback
    patch it still reports the bad image's pull failure, which quotes that image, not the rollback target."""
    base = {"containerID": "containerd://old", "restartCount": 0, "running": True}
    failing = {"name": "web", "restartCount": 0, "containerID": "containerd://old", "ready": False,
               "state": {"waiting": {"reason": "ImagePullBackOff",
                                     "message": 'Back-off pulling image "registry.example.com/app:bad"'}},
               "lastState": {"terminated": {"containerID": "containerd://old", "exitCode": 0}}}
    assert failure_is_about(failing, base, "nginx:1.19") is False
    assert failure_is_about(failing, base, "registry.example.com/app:bad") is True
