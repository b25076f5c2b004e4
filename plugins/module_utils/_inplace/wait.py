# -*- coding: utf-8 -*-
# Copyright: inplace.kubernetes contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Knowing that an in-place upgrade finished: pure predicates and one watch loop.

A container counts as upgraded only when its status shows the target image (normalised, or a
new imageID), a *new* container (containerID or restartCount moved on from the baseline read
before the patch), running and ready; the pod then has to be Ready. Terminal waiting reasons
fail a pod at once instead of at the timeout.
"""

from __future__ import annotations

import time

from ansible_collections.inplace.kubernetes.plugins.module_utils._inplace.client import WatchExpired, api_path
from ansible_collections.inplace.kubernetes.plugins.module_utils._inplace.errors import ApiError, InplaceError
from ansible_collections.inplace.kubernetes.plugins.module_utils._inplace.images import same_image

FAIL_FAST_REASONS = frozenset([
    "ErrImagePull", "ImagePullBackOff", "InvalidImageName", "CrashLoopBackOff",
    "CreateContainerConfigError", "CreateContainerError", "RunContainerError", "ErrImageNeverPull",
])

DONE = "done"
PENDING = "pending"
FAILED = "failed"
VANISHED = "vanished"


def container_statuses(pod):
    status = pod.get("status") or {}
    return (status.get("containerStatuses") or []) + (status.get("initContainerStatuses") or [])


def find_status(pod, name):
    for status in container_statuses(pod):
        if status.get("name") == name:
            return status
    return None


def baseline_of(pod, names):
    """What each named container looks like now, to recognise a new container later."""
    baseline = {}
    for name in names:
        status = find_status(pod, name) or {}
        baseline[name] = {"containerID": status.get("containerID"), "restartCount": status.get("restartCount", 0),
                          "imageID": status.get("imageID"), "image": status.get("image")}
    return baseline


def pod_ready(pod):
    for condition in (pod.get("status") or {}).get("conditions") or []:
        if condition.get("type") == "Ready":
            return condition.get("status") == "True"
    return False


def container_progress(pod, name, target, baseline=None, init=False):
    """``(state, reason)`` of one container on its way to ``target``."""
    status = find_status(pod, name)
    if status is None:
        return PENDING, "no status yet"
    state = status.get("state") or {}
    waiting = state.get("waiting")
    # A terminal reason counts only when it is about the target image: right after a patch the status
    # may still describe the previous (possibly broken) image until the kubelet catches up.
    if waiting and waiting.get("reason") in FAIL_FAST_REASONS and same_image(status.get("image"), target):
        message = (waiting.get("message") or "").strip()
        return FAILED, waiting["reason"] + (": " + message if message else "")
    base = baseline or {}
    image_ok = same_image(status.get("image"), target) or bool(
        base.get("imageID") and status.get("imageID") and status.get("imageID") != base.get("imageID"))
    if not image_ok:
        return PENDING, "still on %s" % (status.get("image") or "an unknown image")
    if base.get("containerID") and status.get("containerID") == base.get("containerID") \
            and status.get("restartCount", 0) <= base.get("restartCount", 0):
        return PENDING, "container not restarted yet"
    if init:
        terminated = state.get("terminated")
        if terminated and terminated.get("exitCode") == 0:
            return DONE, ""
        if terminated:
            return FAILED, "init container exited %s" % terminated.get("exitCode")
        return PENDING, "init container running"
    if not state.get("running"):
        return PENDING, "waiting: %s" % ((waiting or {}).get("reason") or "ContainerCreating") if waiting else "not running"
    if not status.get("ready"):
        return PENDING, "running, not ready"
    return DONE, ""


def pod_progress(pod, targets, baseline=None, init_names=()):
    """``(state, reason)`` of a pod: failed if any container failed, done when all are and it is Ready."""
    reasons = []
    for name in sorted(targets):
        state, reason = container_progress(pod, name, targets[name], (baseline or {}).get(name), name in init_names)
        if state == FAILED:
            return FAILED, "container %s: %s" % (name, reason)
        if state != DONE:
            reasons.append("container %s: %s" % (name, reason))
    if reasons:
        return PENDING, "; ".join(reasons)
    if not pod_ready(pod):
        return PENDING, "pod not Ready"
    return DONE, ""


class Expectation(object):
    """What one pod should end up as."""

    __slots__ = ("name", "uid", "targets", "baseline", "init_names")

    def __init__(self, name, uid, targets, baseline=None, init_names=()):
        self.name = name
        self.uid = uid
        self.targets = targets
        self.baseline = baseline or {}
        self.init_names = tuple(init_names)


class Outcome(object):
    __slots__ = ("state", "reason", "pod", "ready_since")

    def __init__(self, state, reason="", pod=None):
        self.state = state
        self.reason = reason
        self.pod = pod
        self.ready_since = None


def wait_for_pods(kube, namespace, expectations, timeout, selector="", min_ready_seconds=0,
                  clock=time.monotonic, fail_fast=True, on_done=None):
    """Watch pods until every expectation is met, one fails (``fail_fast``), or ``timeout``.

    Returns ``{pod name: Outcome}``; never raises on a timeout (the caller reports what is
    pending and why). A pod that is deleted, or replaced by a pod of the same name with
    another uid, is ``vanished``. ``on_done(name, pod)`` is called once per pod, as soon as
    it is seen done, while the others are still awaited.
    """
    announced = set()
    expected = dict((e.name, e) for e in expectations)
    outcomes = dict((name, Outcome(PENDING, "not seen yet")) for name in expected)
    if not expected:
        return outcomes
    deadline = clock() + timeout
    query = {"labelSelector": selector} if selector else {}

    def observe(kind, pod):
        name = pod.get("metadata", {}).get("name")
        if name not in expected:
            return
        outcome = outcomes[name]
        if outcome.state == VANISHED or (outcome.state == FAILED and fail_fast) \
                or (outcome.state == DONE and not min_ready_seconds):
            return
        exp = expected[name]
        if kind == "DELETED" or pod["metadata"].get("uid") != exp.uid or pod["metadata"].get("deletionTimestamp"):
            outcome.state, outcome.reason, outcome.pod = VANISHED, "pod was deleted", pod
            return
        state, reason = pod_progress(pod, exp.targets, exp.baseline, exp.init_names)
        outcome.pod = pod
        if state == DONE and min_ready_seconds:
            if outcome.ready_since is None:
                outcome.ready_since = clock()
            if clock() - outcome.ready_since < min_ready_seconds:
                state, reason = PENDING, "Ready for less than %ss" % min_ready_seconds
        elif state != DONE:
            outcome.ready_since = None
        outcome.state, outcome.reason = state, reason
        if state == DONE and on_done is not None and name not in announced:
            announced.add(name)
            on_done(name, pod)

    def settled():
        if fail_fast and any(o.state == FAILED for o in outcomes.values()):
            return True
        return all(o.state != PENDING for o in outcomes.values())

    def recheck_timers():
        for outcome in outcomes.values():
            if outcome.state == PENDING and outcome.ready_since is not None and outcome.pod is not None:
                observe("MODIFIED", outcome.pod)

    backoff = 0.2
    while True:
        try:
            listing = kube.get(api_path("Pod", namespace), query or None, deadline=deadline)
            seen = set()
            for pod in listing.get("items") or []:
                seen.add(pod["metadata"]["name"])
                observe("LIST", pod)
            for name in expected:
                if name not in seen and outcomes[name].state == PENDING:
                    outcomes[name].state, outcomes[name].reason = VANISHED, "pod no longer exists"
            if settled() or clock() >= deadline:
                return outcomes
            version = listing.get("metadata", {}).get("resourceVersion")
            while True:
                remaining = deadline - clock()
                if remaining <= 0:
                    return outcomes
                window = remaining
                if min_ready_seconds:
                    window = min(window, max(1.0, float(min_ready_seconds) / 2))
                watch_query = dict(query)
                watch_query["resourceVersion"] = version
                for kind, obj in kube.watch(api_path("Pod", namespace), watch_query, min(window, 300)):
                    if kind == "BOOKMARK":
                        version = obj.get("metadata", {}).get("resourceVersion") or version
                        continue
                    version = obj.get("metadata", {}).get("resourceVersion") or version
                    observe(kind, obj)
                    if settled():
                        return outcomes
                    if clock() >= deadline:
                        return outcomes
                recheck_timers()
                if settled():
                    return outcomes
                backoff = 0.2
        except WatchExpired:
            continue
        except ApiError as exc:
            if exc.status not in (0, 429, 500, 502, 503, 504) or clock() + backoff >= deadline:
                if clock() + backoff >= deadline:
                    return outcomes
                raise
            time.sleep(backoff)
            backoff = min(backoff * 2, 5.0)


def observed(obj, minimum_generation):
    """Whether the controller has seen ``minimum_generation`` of ``obj`` (``status.observedGeneration``)."""
    return ((obj or {}).get("status") or {}).get("observedGeneration", 0) >= minimum_generation


def wait_for_generation(kube, kind, namespace, name, minimum_generation, deadline, current=None):
    """The workload once its controller has observed ``minimum_generation``; watched, not polled.

    ``current`` is the object as last read or written (its resourceVersion starts the watch).
    Raises :class:`InplaceError` when the object is deleted or ``deadline`` (monotonic) passes.
    """
    what = "%s %s/%s" % (kind, namespace, name)
    obj = current or kube.get(api_path(kind, namespace, name), deadline=deadline)
    while not observed(obj, minimum_generation):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise InplaceError("%s: the controller did not observe generation %s in time" % (what, minimum_generation))
        query = {"fieldSelector": "metadata.name=" + name,
                 "resourceVersion": obj.get("metadata", {}).get("resourceVersion", "")}
        try:
            for kind_seen, seen in kube.watch(api_path(kind, namespace), query, min(remaining, 60)):
                if kind_seen == "DELETED":
                    raise InplaceError("%s was deleted while waiting for its controller" % what)
                if kind_seen in ("ADDED", "MODIFIED"):
                    obj = seen
                    if observed(obj, minimum_generation):
                        return obj
        except WatchExpired:
            obj = kube.get(api_path(kind, namespace, name), deadline=deadline)
    return obj
