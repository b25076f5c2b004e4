# -*- coding: utf-8 -*-
# Copyright: inplace.kubernetes contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Knowing that an in-place resize finished, or failed: pure predicates over pod dicts.

They read pods as the real kubelet reports them (1.33+, KEP-1287):

- ``status.containerStatuses[i].resources`` is what the runtime reports for a running container
  (``convertContainerStatusResources``): the CPU request comes back from the cgroup's CPU shares
  (``SharesToMilliCPU``; a request below the kernel's minimum of 2 shares comes back as ``2m``), so it
  is compared as shares (``MilliCPUToShares``, what the kubelet writes), the rest exactly;
- the kubelet sets the pod condition ``PodResizePending`` (reason ``Infeasible``: never on this node,
  with its message; ``Deferred``: not now, maybe later) while it has not accepted the resize, and
  ``PodResizeInProgress`` (reason ``Error`` with a message when actuation failed) until the runtime
  has applied it;
- ``status.observedGeneration`` below the generation the resize returned means the kubelet has not
  acted on it yet: nothing it reports is about the new sizes;
- a container whose ``resizePolicy`` says ``RestartContainer`` for a resource that changed is killed
  and started again: it is done once it is a new container, running and ready.

``Infeasible`` fails at once; ``Deferred`` keeps waiting (the node may free resources) and is what a
timeout reports.
"""

from __future__ import annotations

from ansible_collections.inplace.kubernetes.plugins.module_utils._inplace.quantity import parse_quantity, same_quantity
from ansible_collections.inplace.kubernetes.plugins.module_utils._inplace.states import DONE, FAILED, PENDING
from ansible_collections.inplace.kubernetes.plugins.module_utils._inplace.wait import (
    find_status,
    generation_lag,
    is_new_container,
    pod_generation,
)

RESIZE_PENDING = "PodResizePending"
RESIZE_IN_PROGRESS = "PodResizeInProgress"
INFEASIBLE = "Infeasible"
DEFERRED = "Deferred"


def _condition(pod, kind):
    for condition in (pod.get("status") or {}).get("conditions") or []:
        if condition.get("type") == kind and condition.get("status") == "True":
            return condition
    return None


def _message(condition):
    return " ".join((condition.get("message") or "").split())


def _spec_resources(pod, name):
    for key in ("containers", "initContainers"):
        for container in (pod.get("spec") or {}).get(key) or []:
            if container.get("name") == name:
                return container.get("resources") or {}
    return None


def _shares(value):
    return max(2, int(parse_quantity(value) * 1000) * 1024 // 1000)


def reported_equal(kind, name, reported, wanted):
    """Whether the kubelet's reported value stands for the spec's (CPU requests compared as CPU shares)."""
    if reported is None:
        return False
    if kind == "requests" and name == "cpu":
        try:
            return _shares(reported) == _shares(wanted)
        except ValueError:
            return False
    return same_quantity(reported, wanted)


def status_lag(pod, name):
    """What the container's reported resources still lack against its spec (cpu/memory), or ``""``."""
    spec = _spec_resources(pod, name) or {}
    status = find_status(pod, name) or {}
    reported = status.get("resources") or {}
    missing = []
    for kind in ("requests", "limits"):
        for res in ("cpu", "memory"):
            wanted = (spec.get(kind) or {}).get(res)
            if wanted is None:
                continue
            got = (reported.get(kind) or {}).get(res)
            if not reported_equal(kind, res, got, wanted):
                missing.append("%s.%s %s (spec %s)" % (kind, res, got if got is not None else "not reported", wanted))
    return ", ".join(missing)


def resize_failure(pod):
    """The kubelet's ``Infeasible`` verdict on the pod's resize as a reason, or ``""``."""
    pending = _condition(pod, RESIZE_PENDING)
    if pending and pending.get("reason") == INFEASIBLE:
        return "resize infeasible on node %s: %s" % ((pod.get("spec") or {}).get("nodeName") or "?", _message(pending) or "the kubelet gave no message")
    return ""


def resize_progress(pod, wanted, restart=(), baseline=None, generation=None):
    """``(state, reason)`` of a pod's resize to ``wanted`` (``{container: {requests, limits}}``).

    ``restart`` names the containers the kubelet restarts for the resize (``resizePolicy``), judged by
    ``baseline`` (``wait.baseline_of`` at the resize); ``generation`` is the pod's generation the resize
    returned. Pod readiness is left to the caller (``wait.pod_progress``).
    """
    lag = generation_lag(pod, generation or pod_generation(pod))
    if lag:
        return PENDING, lag
    failure = resize_failure(pod)
    if failure:
        return FAILED, failure
    for name in sorted(wanted or {}):
        spec = _spec_resources(pod, name)
        if spec is None:
            return PENDING, "container %s: not in the pod's spec" % name
        for kind, values in wanted[name].items():
            for res, value in values.items():
                if not same_quantity((spec.get(kind) or {}).get(res), value):
                    return PENDING, "container %s: spec has %s.%s %s" % (name, kind, res, (spec.get(kind) or {}).get(res))
    pending = _condition(pod, RESIZE_PENDING)
    if pending:
        return PENDING, "resize %s by the kubelet%s" % ((pending.get("reason") or "pending").lower(), (": " + _message(pending)) if _message(pending) else "")
    for name in sorted(wanted or {}):
        status = find_status(pod, name)
        if status is None:
            return PENDING, "container %s: no status yet" % name
        if name in (restart or ()) and (baseline or {}).get(name, {}).get("containerID") and not is_new_container(status, baseline[name]):
            return PENDING, "container %s: kubelet has not restarted it for the resize yet (resizePolicy %s)" % (name, "RestartContainer")
        if ((status.get("state") or {}).get("running")) is None:
            return PENDING, "container %s: not running" % name
        lag = status_lag(pod, name)
        if lag:
            progress = _condition(pod, RESIZE_IN_PROGRESS)
            return PENDING, "container %s: kubelet reports %s%s" % (
                name,
                lag,
                ("; resize in progress (%s: %s)" % (progress.get("reason"), _message(progress)) if progress and progress.get("reason") else ""),
            )
        if not status.get("ready"):
            return PENDING, "container %s: running, not ready" % name
    progress = _condition(pod, RESIZE_IN_PROGRESS)
    if progress:
        detail = " (%s: %s)" % (progress.get("reason"), _message(progress)) if progress.get("reason") else ""
        return PENDING, "resize in progress" + detail
    return DONE, ""


def expected_progress(pod, expected):
    """:func:`resize_progress` for what ``resize.expectation`` built."""
    return resize_progress(pod, expected["wanted"], expected.get("restart"), expected.get("baseline"), expected.get("generation"))


def combined(image_state, resize_state):
    """One ``(state, reason)`` from an image wait and a resize wait of the same pod."""
    for state in (FAILED, PENDING):
        reasons = [r for s, r in (image_state, resize_state) if s == state and r]
        if any(s == state for s, dummy in (image_state, resize_state)):
            return state, "; ".join(reasons)
    return DONE, ""
