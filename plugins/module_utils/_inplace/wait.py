# -*- coding: utf-8 -*-
# Copyright: inplace.kubernetes contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Knowing that an in-place upgrade finished, or failed: pure predicates over pod dicts.

They read pods as the real kubelet reports them (``convertToAPIContainerStatuses``):

- While a new image cannot be pulled, a container's status is built from the **old, killed**
  container: ``image``, ``imageID``, ``containerID`` and ``restartCount`` stay the old ones, only
  ``state.waiting.reason`` says ``ErrImagePull`` / ``ImagePullBackOff`` (``lastState.terminated``
  shows the killed container). So a failure reason is attributed to the new image by the
  container's identity, never by ``status.image``: it belongs to the new image once the container
  seen at the patch (the baseline) is no longer running, or a newer container exists, or the
  kubelet's message names the target image.
- ``status.observedGeneration`` (kubelets 1.33+ with pod generation tracking, on by default from
  1.34) below the generation the patch returned means the kubelet has not acted on the patch yet:
  nothing it reports can be about the new spec. The kubelet writes the new generation with the
  status it computes *before* it kills the old container, so the generation is a gate, never proof.
- containerd reports ``status.image`` as the image's first tag (or ``sha256:<id>``), which after a
  retag to the same image is still the old tag: a container is done when the spec has the target
  and it is a *new* container, running and ready; the image name is evidence only for pods read
  without a baseline (the plan), where a digest target also matches the digest in ``imageID``.
- A regular init container that has run is never re-run on a live pod (kubelet
  ``computeInitContainerActions``): its new image is a spec-only change. A sidecar (init container
  with ``restartPolicy: Always``) is killed and restarted on an image change by kubelets 1.32+;
  older ones (1.29 to 1.31, e.g. 1.31 ``computeInitContainerActions`` has no ``containerChanged``
  check for a running restartable init container) keep the old one running, which is told by the
  sidecar still running as the baseline container well after the pod's termination grace period.

No Kubernetes client here; the watch loop that feeds these predicates lives in ``watch.py``.
"""

from __future__ import annotations

import re

from ansible_collections.inplace.kubernetes.plugins.module_utils._inplace.images import runs_digest, same_image
from ansible_collections.inplace.kubernetes.plugins.module_utils._inplace.states import DONE, FAILED, PENDING, VANISHED

__all__ = ["DONE", "FAILED", "PENDING", "VANISHED"]

# The kubelet's own reasons (pkg/kubelet/images/types.go, kuberuntime_container.go, container/sync_result.go)
# for a container that will not run without someone changing something.
PULL_REASONS = frozenset(["ErrImagePull", "ImagePullBackOff", "ErrImageNeverPull", "InvalidImageName", "ImageInspectError"])
FAIL_FAST_REASONS = PULL_REASONS | frozenset(
    [
        "CreateContainerConfigError",
        "CreateContainerError",
        "RunContainerError",
        "PreCreateHookError",
        "PreStartHookError",
        "PostStartHookError",
        "CrashLoopBackOff",
    ]
)
BACK_OFF = "CrashLoopBackOff"

CONTAINER = "container"
SIDECAR = "sidecar"
INIT = "init"

# A sidecar still running as its baseline container this long after the pod's termination grace period
# (which the kubelet grants the old container when it kills it for a new image) was not restarted.
SIDECAR_GRACE_MARGIN = 15
DEFAULT_TERMINATION_GRACE = 30


def container_statuses(pod):
    status = pod.get("status") or {}
    return (status.get("containerStatuses") or []) + (status.get("initContainerStatuses") or [])


def find_status(pod, name):
    for status in container_statuses(pod):
        if status.get("name") == name:
            return status
    return None


def container_kind(pod, name):
    """``container``, ``sidecar`` (init container with ``restartPolicy: Always``), ``init`` or ``None``."""
    spec = pod.get("spec") or {}
    for container in spec.get("containers") or []:
        if container.get("name") == name:
            return CONTAINER
    for container in spec.get("initContainers") or []:
        if container.get("name") == name:
            return SIDECAR if container.get("restartPolicy") == "Always" else INIT
    return None


def spec_image(pod, name):
    for key in ("containers", "initContainers"):
        for container in (pod.get("spec") or {}).get(key) or []:
            if container.get("name") == name:
                return container.get("image")
    return None


def _running(status):
    return ((status or {}).get("state") or {}).get("running") is not None


def baseline_of(pod, names):
    """What each named container looks like now, to recognise a new container later."""
    baseline = {}
    for name in names:
        status = find_status(pod, name) or {}
        waiting = (status.get("state") or {}).get("waiting") or {}
        baseline[name] = {
            "containerID": status.get("containerID"),
            "restartCount": status.get("restartCount", 0),
            "imageID": status.get("imageID"),
            "image": status.get("image"),
            "running": _running(status),
            "reason": waiting.get("reason"),
        }
    return baseline


def pod_ready(pod):
    for condition in (pod.get("status") or {}).get("conditions") or []:
        if condition.get("type") == "Ready":
            return condition.get("status") == "True"
    return False


def _condition(pod, kind):
    for condition in (pod.get("status") or {}).get("conditions") or []:
        if condition.get("type") == kind:
            return condition.get("status") == "True"
    return False


def generation_lag(pod, generation):
    """Why the kubelet has not acted on ``generation`` of the pod yet, or ``""``.

    Only a pod that reports ``status.observedGeneration`` can lag; a kubelet that does not track pod
    generations says nothing either way.
    """
    observed = (pod.get("status") or {}).get("observedGeneration")
    if not generation or observed is None or observed >= generation:
        return ""
    return "kubelet has not acted on the patch yet (observedGeneration %s < %s)" % (observed, generation)


def reports_generation(pod):
    return (pod.get("status") or {}).get("observedGeneration") is not None


def is_new_container(status, base):
    """True when ``status`` is about a container created after the baseline was read."""
    if not base:
        return False
    if status.get("restartCount", 0) > (base.get("restartCount") or 0):
        return True
    return bool(base.get("containerID") and status.get("containerID") and status.get("containerID") != base.get("containerID"))


def failure_of(status):
    """``"Reason: message"`` when the container waits with a terminal reason, else ``""``."""
    waiting = (status.get("state") or {}).get("waiting") or {}
    if waiting.get("reason") not in FAIL_FAST_REASONS:
        return ""
    message = " ".join((waiting.get("message") or "").split())
    return waiting["reason"] + (": " + message if message else "")


def names_image(message, image):
    """True when a kubelet message quotes ``image`` (it quotes the spec's image, ``:latest`` added)."""
    if not message or not image:
        return False
    candidates = [image]
    last = image.rsplit("/", 1)[-1]
    if "@" not in image and ":" not in last:
        candidates.append(image + ":latest")
    return any('"%s"' % candidate in message for candidate in candidates)


def held_in_back_off(status, base):
    """Whether the kubelet holds the patched spec's first start in CrashLoopBackOff: no container newer than
    ``base`` has run.

    Before it starts a container whose previous one exited, the kubelet checks a back-off keyed by pod,
    container name, image and resources (kuberuntime_manager.go ``doBackOff``, helpers.go ``GetBackoffKey``),
    kept 600 s after its last update and doubled at each start within it. A pod patched back to an image
    (and resources) it ran minutes ago waits that back-off - ``back-off 10s restarting failed container=...``
    - before its first container of the spec starts: that says nothing about the image. A crash of the new
    image comes from a newer container (restart count and container ID moved on).
    """
    waiting = (status.get("state") or {}).get("waiting") or {}
    return waiting.get("reason") == BACK_OFF and bool(base and base.get("containerID")) and not is_new_container(status, base)


def failure_is_about(status, base, target):
    """Whether the terminal reason in ``status`` belongs to the container's ``target`` image.

    - a container newer than the baseline has the target's spec;
    - a message that quotes the target image is about it (image pull, inspect, never-pull, name);
    - a baseline container that was running at the patch and is not running now (or shows as
      ``lastState.terminated``) was killed for the patch: what follows is about the new image, but for
      ``CrashLoopBackOff``, which before any newer container is the kubelet's back-off (:func:`held_in_back_off`);
    - without a baseline (a pod read, not patched, by this run), the status has to show the target.
    """
    waiting = (status.get("state") or {}).get("waiting") or {}
    quoted = re.findall(r'"([^"]+)"', waiting.get("message") or "")
    if names_image(waiting.get("message"), target) or any(same_image(q, target) for q in quoted):
        return True
    if waiting.get("reason") in PULL_REASONS and quoted:
        # The kubelet's pull messages quote the image it pulls (image_manager.go): one that does not quote
        # the target is about another image, e.g. the bad image a rollback is replacing, still reported
        # by a kubelet (without observedGeneration) that has not acted on the rollback patch yet.
        return False
    if not base or not base.get("containerID"):
        return same_image(status.get("image"), target) or runs_digest(status.get("imageID"), target)
    if is_new_container(status, base):
        return True
    if not base.get("running"):
        # The container was not running at the patch (crash loop, pull failure): a reason it had then may
        # be the old one, still cached by the kubelet. Only a newer container or a quoted image decides.
        return False
    if waiting.get("reason") == BACK_OFF:
        # No container newer than the baseline (checked above): the kubelet holds the first start of the patched
        # spec in the restart back-off it keeps from this pod's history (held_in_back_off), not a crash of it.
        return False
    if base.get("accept") and base.get("accept") == base.get("containerID"):
        # A rollback read while the original container still ran: the patch puts back the spec that container
        # runs, so the kubelet has no reason to kill it for this patch. If it dies all the same, it was killed
        # for the patch before (the bad image), and the reason it shows is about that one: the kubelet's
        # back-off on starting it (doBackOff: "back-off 10s restarting failed container=..."), or one cached
        # from that sync and written with the new generation. Only a newer container or a quoted image decides.
        return False
    killed = ((status.get("lastState") or {}).get("terminated") or {}).get("containerID")
    return not _running(status) or killed == base.get("containerID")


def _termination_grace(pod):
    value = (pod.get("spec") or {}).get("terminationGracePeriodSeconds")
    return DEFAULT_TERMINATION_GRACE if value is None else value


def sidecar_deadline(pod):
    """Seconds after the patch by which a kubelet that restarts sidecars has killed the old one."""
    return _termination_grace(pod) + SIDECAR_GRACE_MARGIN


def spec_only_reason(pod, name):
    """Why an image change of container ``name`` would change only the spec of this live pod, or ``""``.

    A regular init container that has completed (or is running: the kubelet lets it finish on its old
    image) is never re-run on a live pod; only one that has not started, or failed and is retried,
    would pick up a new image.
    """
    if container_kind(pod, name) != INIT:
        return ""
    status = find_status(pod, name) or {}
    state = status.get("state") or {}
    terminated = state.get("terminated") or {}
    started = any(
        _running(s) or (s.get("state") or {}).get("terminated") or s.get("lastState") for s in (pod.get("status") or {}).get("containerStatuses") or []
    )
    if (terminated and terminated.get("exitCode") == 0) or _condition(pod, "Initialized") or started:
        return (
            "init container %s has completed: the kubelet never re-runs a completed init container on a live "
            "pod, so its new image takes effect only when the pod is recreated" % name
        )
    if state.get("running") is not None:
        return (
            "init container %s is running: the kubelet lets it finish on its old image and never re-runs it "
            "on a live pod, so its new image takes effect only when the pod is recreated" % name
        )
    return ""


def container_progress(pod, name, target, baseline=None, elapsed=None, generation=None):
    """``(state, reason)`` of one container on its way to ``target``.

    ``baseline`` is the container as read when the patch landed (``baseline_of``), with an optional
    ``accept`` container ID that already counts as running the target (a rollback whose original
    container was never killed). ``elapsed`` is the seconds since the patch, ``generation`` the pod's
    generation the patch returned. Without a baseline the pod is judged as read (the plan).
    """
    status = find_status(pod, name)
    kind = container_kind(pod, name)
    if status is None:
        return PENDING, "no status yet"
    lag = generation_lag(pod, generation or pod_generation(pod))
    if lag:
        return PENDING, lag
    base = baseline or {}
    state = status.get("state") or {}
    waiting = state.get("waiting")
    failure = failure_of(status)
    if failure and failure_is_about(status, base, target):
        return FAILED, failure
    if not same_image(spec_image(pod, name), target):
        return PENDING, "spec has %s" % (spec_image(pod, name) or "no such container")
    accepted = bool(base.get("accept")) and status.get("containerID") == base.get("accept")
    if base.get("containerID") and not accepted and not is_new_container(status, base):
        if (
            kind == SIDECAR
            and _running(status)
            and base.get("running")
            and not reports_generation(pod)
            and elapsed is not None
            and elapsed >= sidecar_deadline(pod)
        ):
            return FAILED, (
                "sidecar still runs its previous container %ds after the patch: this kubelet does not "
                "restart a running sidecar (init container with restartPolicy: Always) when its image "
                "changes (kubelets before 1.32); the new image takes effect only when the sidecar exits "
                "or the pod is recreated" % int(elapsed)
            )
        if _running(status):
            return PENDING, "kubelet has not restarted it yet (previous container running %s)" % (status.get("image") or "an unknown image")
        if held_in_back_off(status, base):
            return PENDING, (
                "the kubelet holds the start of the new container in its restart back-off, kept for this pod's "
                "container, image and resources from an earlier run of them (not a crash of the new image): %s" % _waiting_text(waiting, "")
            )
        return PENDING, _waiting_text(waiting, "previous container not running")
    if kind == INIT:
        terminated = state.get("terminated")
        if terminated and terminated.get("exitCode") == 0:
            return DONE, ""
        if terminated:
            return FAILED, "init container exited %s%s" % (terminated.get("exitCode"), (" (%s)" % terminated["reason"]) if terminated.get("reason") else "")
        return PENDING, "init container running" if _running(status) else _waiting_text(waiting, "not started")
    if not _running(status):
        return PENDING, _waiting_text(waiting, "not running")
    if (
        not base.get("containerID")
        and not accepted
        and not reports_generation(pod)
        and not (same_image(status.get("image"), target) or runs_digest(status.get("imageID"), target))
    ):
        # Read without a baseline (the plan): the runtime may name the image by another tag of the same image
        # (containerd reports its first tag), so a running container whose spec has the target counts, as the
        # kubelet restarts a container on an image change (a kubelet that reports generations was checked
        # above). Not so a sidecar, which kubelets before 1.32 leave running on its old image.
        if kind == SIDECAR:
            return PENDING, (
                "sidecar still shows %s; kubelets before 1.32 do not restart a running sidecar when "
                "its image changes" % (status.get("image") or "an unknown image")
            )
    if not status.get("ready"):
        return PENDING, "running, not ready"
    return DONE, ""


def _waiting_text(waiting, default):
    if not waiting:
        return default
    message = " ".join((waiting.get("message") or "").split())
    return "waiting: %s%s" % (waiting.get("reason") or "ContainerCreating", (" (%s)" % message) if message else "")


def pod_progress(pod, targets, baseline=None, elapsed=None, generation=None):
    """``(state, reason)`` of a pod: failed if any container failed, done when all are and it is Ready."""
    reasons = []
    for name in sorted(targets):
        state, reason = container_progress(pod, name, targets[name], (baseline or {}).get(name), elapsed, generation)
        if state == FAILED:
            return FAILED, "container %s: %s" % (name, reason)
        if state != DONE:
            reasons.append("container %s: %s" % (name, reason))
    if reasons:
        return PENDING, "; ".join(reasons)
    if not pod_ready(pod):
        return PENDING, "pod not Ready"
    return DONE, ""


def next_decision(pod, targets, baseline=None):
    """Seconds after the patch at which a pending pod may be decided without a new event, or ``None``.

    A kubelet that does not restart a sidecar sends no event at all: the watch has to wake up.
    """
    for name in targets:
        base = (baseline or {}).get(name) or {}
        if container_kind(pod, name) == SIDECAR and base.get("running") and not reports_generation(pod):
            return sidecar_deadline(pod)
    return None


def plan_baseline(pod, targets):
    """A baseline for the pods a run waits for without having patched them (a previous run did).

    Only sidecars that still show another image get one: a kubelet that does not restart them
    sends no event, and the baseline lets the sidecar grace period decide. Other containers are
    judged as read (a baseline would wait for a container that may already be the new one).
    """
    baseline = {}
    for name, target in targets.items():
        status = find_status(pod, name) or {}
        if (
            container_kind(pod, name) == SIDECAR
            and _running(status)
            and not reports_generation(pod)
            and not (same_image(status.get("image"), target) or runs_digest(status.get("imageID"), target))
        ):
            baseline.update(baseline_of(pod, [name]))
    return baseline


def pod_generation(pod):
    return (pod.get("metadata") or {}).get("generation")


def observed(obj, minimum_generation):
    """Whether the controller has seen ``minimum_generation`` of ``obj`` (``status.observedGeneration``)."""
    return ((obj or {}).get("status") or {}).get("observedGeneration", 0) >= minimum_generation
