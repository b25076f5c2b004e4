# -*- coding: utf-8 -*-
# Copyright: inplace.kubernetes contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The watch loops: pods until the predicates of ``wait.py`` decide, an owner until its controller
has observed a generation. One list, then watches from its resourceVersion, on a monotonic clock,
retrying transient API errors."""

from __future__ import annotations

import time

from ansible_collections.inplace.kubernetes.plugins.module_utils._inplace.api_paths import api_path
from ansible_collections.inplace.kubernetes.plugins.module_utils._inplace.errors import ApiError, InplaceError, WatchExpired
from ansible_collections.inplace.kubernetes.plugins.module_utils._inplace.resized import combined, expected_progress
from ansible_collections.inplace.kubernetes.plugins.module_utils._inplace.wait import (
    DONE,
    FAILED,
    PENDING,
    VANISHED,
    next_decision,
    observed,
    pod_progress,
)


class Expectation(object):
    """What one pod should end up as.

    ``baseline`` is the targeted containers as read when the patch landed, ``generation`` the pod's
    ``metadata.generation`` the patch returned, ``since`` the monotonic time of the patch (for the
    decisions that need time: a sidecar the kubelet does not restart sends no event).
    """

    __slots__ = ("name", "uid", "targets", "baseline", "generation", "since", "resize")

    def __init__(self, name, uid, targets, baseline=None, generation=None, since=None, resize=None):
        self.name = name
        self.uid = uid
        self.targets = targets
        self.baseline = baseline or {}
        self.generation = generation
        self.since = since
        self.resize = resize  # what an in-place resize expects too (resize.expectation), or None


class Outcome(object):
    __slots__ = ("state", "reason", "pod", "ready_since")

    def __init__(self, state, reason="", pod=None):
        self.state = state
        self.reason = reason
        self.pod = pod
        self.ready_since = None


def wait_for_pods(
    kube, namespace, expectations, timeout, selector="", min_ready_seconds=0, clock=time.monotonic, fail_fast=True, on_done=None, cursor=None, seen=None
):
    """Watch pods until every expectation is met, one fails (``fail_fast``), or ``timeout``.

    Returns ``{pod name: Outcome}``; never raises on a timeout (the caller reports what is
    pending and why). A pod that is deleted, or replaced by a pod of the same name with
    another uid, is ``vanished``. ``on_done(name, pod)`` is called once per pod, as soon as
    it is seen done, while the others are still awaited.

    ``cursor`` (``{"resourceVersion": rv}``, updated in place to the last version seen) and ``seen``
    (``{name: pod}``, every expected pod as written after ``rv``, e.g. the responses of its patch) let
    the wait start without a list: the pods as written are judged first, then the watch goes on
    from ``rv``, which replays every change since (the writes themselves included, so nothing
    is missed; an older state replayed is superseded by the newer ones that follow it). A
    ``rv`` too old for the API server's watch falls back to a list.
    """
    announced = set()
    expected = dict((e.name, e) for e in expectations)
    outcomes = dict((name, Outcome(PENDING, "not seen yet")) for name in expected)
    if not expected:
        return outcomes
    started = clock()
    for exp in expectations:
        if exp.since is None:
            exp.since = started
    deadline = started + timeout
    query = {"labelSelector": selector} if selector else {}

    def observe(kind, pod):
        name = pod.get("metadata", {}).get("name")
        if name not in expected:
            return
        outcome = outcomes[name]
        if outcome.state == VANISHED or (outcome.state == FAILED and fail_fast) or (outcome.state == DONE and not min_ready_seconds):
            return
        exp = expected[name]
        if kind == "DELETED" or pod["metadata"].get("uid") != exp.uid or pod["metadata"].get("deletionTimestamp"):
            outcome.state, outcome.reason, outcome.pod = VANISHED, "pod was deleted", pod
            return
        state, reason = pod_progress(pod, exp.targets, exp.baseline, clock() - exp.since, exp.generation)
        if exp.resize:
            state, reason = combined((state, reason), expected_progress(pod, exp.resize))
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

    def next_timer():
        """The earliest moment a pending pod may change state without an event, or ``None``."""
        moments = []
        for name, outcome in outcomes.items():
            if outcome.state != PENDING or outcome.pod is None:
                continue
            if outcome.ready_since is not None:
                moments.append(outcome.ready_since + min_ready_seconds)
            exp = expected[name]
            decision = next_decision(outcome.pod, exp.targets, exp.baseline)
            if decision is not None and exp.since + decision > clock():
                moments.append(exp.since + decision)
        return min(moments) if moments else None

    def recheck_timers():
        for outcome in outcomes.values():
            if outcome.state == PENDING and outcome.pod is not None:
                observe("MODIFIED", outcome.pod)

    cursor = {} if cursor is None else cursor
    start = cursor.get("resourceVersion") if seen is not None and all(name in seen for name in expected) else None
    backoff = 0.2
    while True:
        try:
            if start:
                version, start = start, None
                for name in sorted(expected):
                    observe("WRITTEN", seen[name])
                if settled():
                    return outcomes
            else:
                listing = kube.get(api_path("Pod", namespace), query or None, deadline=deadline)
                listed = set()
                for pod in listing.get("items") or []:
                    listed.add(pod["metadata"]["name"])
                    observe("LIST", pod)
                for name in expected:
                    if name not in listed and outcomes[name].state == PENDING:
                        outcomes[name].state, outcomes[name].reason = VANISHED, "pod no longer exists"
                version = listing.get("metadata", {}).get("resourceVersion")
                cursor["resourceVersion"] = version
                if settled() or clock() >= deadline:
                    return outcomes
            while True:
                remaining = deadline - clock()
                if remaining <= 0:
                    return outcomes
                window = remaining
                if min_ready_seconds:
                    window = min(window, max(1.0, float(min_ready_seconds) / 2))
                timer = next_timer()
                if timer is not None:
                    window = min(window, max(0.5, timer - clock() + 0.5))
                watch_query = dict(query)
                watch_query["resourceVersion"] = version
                for kind, obj in kube.watch(api_path("Pod", namespace), watch_query, min(window, 300)):
                    version = obj.get("metadata", {}).get("resourceVersion") or version
                    cursor["resourceVersion"] = version
                    if kind == "BOOKMARK":
                        continue
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
        query = {"fieldSelector": "metadata.name=" + name, "resourceVersion": obj.get("metadata", {}).get("resourceVersion", "")}
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
