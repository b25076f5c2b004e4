# -*- coding: utf-8 -*-
# Copyright: inplace.kubernetes contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""CPU and memory of containers, resized in place: the option, the checks, the changes and the guarded
patch (pure, no Kubernetes client).

The option ``resources`` maps a container name to ``requests`` and/or ``limits`` of ``cpu`` and/or
``memory``; a value given replaces that value, a value not given stays as it is. What the API server
allows on a live pod (KEP-1287, the pod's ``resize`` subresource) is checked before any write:

- only ``cpu`` and ``memory``; quantities parsed the Kubernetes way (:mod:`quantity`);
- containers and sidecars (init containers with ``restartPolicy: Always``), never a regular init
  container (the API server refuses it);
- a request never above its limit; the pod's QoS class (``Guaranteed``, ``Burstable``, ``BestEffort``,
  computed as ``GetPodQOS`` does) unchanged, which the API server also requires;
- ``resizePolicy``: a container whose policy says ``RestartContainer`` for a resource that changes is
  restarted by the kubelet, and the wait then expects a new container.

The patch addresses each container by the index resolved from its name, and ``test`` operations on
the pod's UID, the container's name and its whole current ``resources`` come first, so a concurrent
change fails the patch instead of being overwritten.
"""

from __future__ import annotations

import copy

from ansible_collections.inplace.kubernetes.plugins.module_utils._inplace.errors import InplaceError
from ansible_collections.inplace.kubernetes.plugins.module_utils._inplace.inputs import DNS1123_LABEL
from ansible_collections.inplace.kubernetes.plugins.module_utils._inplace.patch import guarded_ops, locate
from ansible_collections.inplace.kubernetes.plugins.module_utils._inplace.quantity import (
    parse_quantity,
    quantity_text,
    same_quantity,
)

KINDS = ("requests", "limits")
NAMES = ("cpu", "memory")
RESTART = "RestartContainer"
GUARANTEED, BURSTABLE, BEST_EFFORT = "Guaranteed", "Burstable", "BestEffort"


def check_resources(resources):
    """Validate the option (before any API call); returns it normalised: ``{container: {kind: {name: text}}}``."""
    if resources is None:
        return {}
    if not isinstance(resources, dict):
        raise InplaceError("resources must be a mapping of container name to requests/limits")
    problems, result = [], {}
    for container in sorted(resources, key=str):
        wanted = resources[container]
        if not DNS1123_LABEL.match(str(container)) or len(str(container)) > 63:
            problems.append("container name %r is not a valid container name" % (container,))
            continue
        if not isinstance(wanted, dict) or not wanted:
            problems.append("container %s: give requests and/or limits (cpu, memory)" % container)
            continue
        entry = {}
        for kind in sorted(wanted, key=str):
            values = wanted[kind]
            if kind not in KINDS:
                problems.append("container %s: %r is not requests or limits" % (container, kind))
                continue
            if not isinstance(values, dict) or not values:
                problems.append("container %s: %s must map cpu and/or memory to quantities" % (container, kind))
                continue
            for name in sorted(values, key=str):
                if name not in NAMES:
                    problems.append("container %s: %s.%s cannot be resized in place; only cpu and memory can" % (container, kind, name))
                    continue
                try:
                    amount = parse_quantity(values[name])
                except ValueError as exc:
                    problems.append("container %s: %s.%s: %s" % (container, kind, name, exc))
                    continue
                if amount < 0 or (name == "memory" and amount == 0) or (name == "cpu" and kind == "limits" and amount == 0):
                    problems.append("container %s: %s.%s must be more than 0, got %s" % (container, kind, name, quantity_text(values[name])))
                    continue
                entry.setdefault(kind, {})[name] = quantity_text(values[name])
        for name in NAMES:
            request = (entry.get("requests") or {}).get(name)
            limit = (entry.get("limits") or {}).get(name)
            if request is not None and limit is not None and parse_quantity(request) > parse_quantity(limit):
                problems.append("container %s: requests.%s %s is above limits.%s %s" % (container, name, request, name, limit))
        result[str(container)] = entry
    if problems:
        raise InplaceError("invalid resources: " + "; ".join(problems))
    return result


def _container(spec, name):
    where = locate(spec or {}, name)
    if where is None:
        return None, None
    key, index = where
    return spec[key][index], key


def shown(resources):
    """The cpu/memory part of a container's ``resources`` as ``{requests: {...}, limits: {...}}`` (for reports)."""
    result = {}
    for kind in KINDS:
        values = dict((n, v) for n, v in ((resources or {}).get(kind) or {}).items() if n in NAMES)
        if values:
            result[kind] = values
    return result


def applied(resources, wanted):
    """A container's ``resources`` with the wanted values set (other resources and claims kept)."""
    result = copy.deepcopy(resources or {})
    for kind, values in (wanted or {}).items():
        current = dict(result.get(kind) or {})
        current.update(values)
        result[kind] = current
    return result


def differs(resources, wanted):
    """Whether any wanted value differs (by value: ``0.5`` equals ``500m``) from ``resources``."""
    for kind, values in (wanted or {}).items():
        for name, value in values.items():
            if not same_quantity(((resources or {}).get(kind) or {}).get(name), value):
                return True
    return False


def changed_names(before, after):
    """The resource names (cpu, memory) whose request or limit differs between two ``resources``."""
    names = []
    for name in NAMES:
        if any(not same_quantity(((before or {}).get(kind) or {}).get(name), ((after or {}).get(kind) or {}).get(name)) for kind in KINDS):
            names.append(name)
    return names


def restart_needed(container, names):
    """The resources among ``names`` whose ``resizePolicy`` says ``RestartContainer``."""
    policies = dict((p.get("resourceName"), p.get("restartPolicy")) for p in container.get("resizePolicy") or [])
    return [n for n in names if policies.get(n) == RESTART]


def resource_changes(spec, wanted):
    """The containers whose resources differ from ``wanted``: ``[{name, before, after, restart, init}]``.

    ``before``/``after`` are the containers' whole ``resources`` (``after`` with the wanted values set);
    ``restart`` the resources the kubelet restarts the container for (``resizePolicy``).
    """
    changes = []
    for name in sorted(wanted or {}):
        container, key = _container(spec, name)
        if container is None or not differs(container.get("resources"), wanted[name]):
            continue
        before = copy.deepcopy(container.get("resources") or {})
        after = applied(before, wanted[name])
        changes.append(
            {
                "name": name,
                "before": before,
                "after": after,
                "init": key == "initContainers",
                "restart": restart_needed(container, changed_names(before, after)),
            }
        )
    return changes


def _positive(resources, kind, name):
    value = ((resources or {}).get(kind) or {}).get(name)
    try:
        return value is not None and parse_quantity(value) > 0
    except ValueError:
        return False


def qos_class(spec):
    """The QoS class of a pod spec, as the API server computes it (``GetPodQOS``, container-level resources)."""
    if (spec or {}).get("resources"):
        return None  # pod-level resources decide; containers do not change it
    requests, limits, guaranteed = {}, {}, True
    for key in ("containers", "initContainers"):
        for container in (spec or {}).get(key) or []:
            resources = container.get("resources") or {}
            for name in NAMES:
                if _positive(resources, "requests", name):
                    requests[name] = requests.get(name, 0) + parse_quantity(resources["requests"][name])
            found = set()
            for name in NAMES:
                if _positive(resources, "limits", name):
                    found.add(name)
                    limits[name] = limits.get(name, 0) + parse_quantity(resources["limits"][name])
            if found != set(NAMES):
                guaranteed = False
    if not requests and not limits:
        return BEST_EFFORT
    if guaranteed and all(limits.get(name) == value for name, value in requests.items()) and len(requests) == len(limits):
        return GUARANTEED
    return BURSTABLE


def with_resources(spec, wanted):
    """A copy of a pod spec with the wanted resources applied."""
    result = copy.deepcopy(spec or {})
    for name, values in (wanted or {}).items():
        container, dummy = _container(result, name)
        if container is not None:
            container["resources"] = applied(container.get("resources"), values)
    return result


def check_spec(spec, wanted, what):
    """Refuse (before any write) what the API server would refuse on a live pod of this spec."""
    problems = []
    for name in sorted(wanted or {}):
        container, key = _container(spec, name)
        if container is None:
            problems.append("container %s not found" % name)
            continue
        if key == "initContainers" and container.get("restartPolicy") != "Always":
            problems.append(
                "container %s is a regular init container, whose resources cannot change on a live pod "
                "(only containers and sidecars, init containers with restartPolicy: Always)" % name
            )
            continue
        after = applied(container.get("resources"), wanted[name])
        for resource in NAMES:
            request = (after.get("requests") or {}).get(resource)
            limit = (after.get("limits") or {}).get(resource)
            if request is not None and limit is not None and parse_quantity(request) > parse_quantity(limit):
                problems.append("container %s: requests.%s %s would be above limits.%s %s" % (name, resource, request, resource, limit))
    if not problems:
        before, after = qos_class(spec), qos_class(with_resources(spec, wanted))
        if before != after:
            problems.append(
                "the pod's QoS class would change from %s to %s, which an in-place resize never may "
                "(for Guaranteed, keep requests equal to limits for cpu and memory in every container)" % (before, after)
            )
    if problems:
        raise InplaceError("resources for %s: %s" % (what, "; ".join(problems)))


def resize_patch(spec, wanted, prefix="/spec", uid=None):
    """The guarded JSON patch that sets ``wanted`` on ``spec`` found at ``prefix``: ``(ops, changes)``.

    With ``uid`` it first tests ``/metadata/uid``; per container it tests the name and the whole current
    ``resources`` (so every current value, and the absence of the others), then replaces ``resources``.
    """
    changes = resource_changes(spec, wanted)

    def resources_ops(path, change, container):
        if "resources" not in container:
            return [{"op": "add", "path": path + "/resources", "value": change["after"]}]
        return [
            {"op": "test", "path": path + "/resources", "value": change["before"]},
            {"op": "replace", "path": path + "/resources", "value": change["after"]},
        ]

    return guarded_ops(spec, changes, resources_ops, prefix, uid), changes


def previous_of(changes):
    """``{container: {requests, limits}}`` that restores the ``before`` of ``changes`` (a rollback)."""
    back = {}
    for change in changes or []:
        values = {}
        for kind in KINDS:
            for name in NAMES:
                before = ((change["before"].get(kind)) or {}).get(name)
                after = ((change["after"].get(kind)) or {}).get(name)
                if before is not None and not same_quantity(before, after):
                    values.setdefault(kind, {})[name] = before
        if values:
            back[change["name"]] = values
    return back


def foreign_resources(recorded, spec, where):
    """Why ``spec`` (a template's or a pod's) has CPU/memory that are neither the ``target`` nor the ``previous`` of
    ``recorded`` (an upgrade record's ``resources``), ``""`` when every recorded value is one of them."""
    target, previous = (recorded or {}).get("target") or {}, (recorded or {}).get("previous") or {}
    for name in sorted(previous):
        container, dummy = _container(spec, name)
        if container is None:
            continue
        now = container.get("resources") or {}
        for kind in KINDS:
            for key, before in sorted(((previous[name] or {}).get(kind) or {}).items()):
                value = (now.get(kind) or {}).get(key)
                after = ((target.get(name) or {}).get(kind) or {}).get(key)
                if not (same_quantity(value, before) or (after is not None and same_quantity(value, after))):
                    return "%s container %s has %s.%s %s, neither the recorded target %s nor the previous %s" % (where, name, kind, key, value, after, before)
    return ""


def resources_text(wanted):
    """``app requests.cpu=250m limits.memory=256Mi`` for messages and events."""
    parts = []
    for name in sorted(wanted or {}):
        values = ["%s.%s=%s" % (kind, res, wanted[name][kind][res]) for kind in KINDS for res in NAMES if res in (wanted[name].get(kind) or {})]
        parts.append("%s %s" % (name, " ".join(values)))
    return ", ".join(parts)
