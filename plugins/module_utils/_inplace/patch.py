# -*- coding: utf-8 -*-
# Copyright: inplace.kubernetes contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Guarded RFC 6902 patches of container images, and idempotence (pure).

A container is addressed by its index, resolved from its name in the spec that was just read,
and every ``replace`` is preceded by ``test`` operations on that container's name and current
image: if anybody changed the object in between, the API server rejects the whole patch and
nothing is overwritten.
"""

from __future__ import annotations

import copy

from ansible_collections.inplace.kubernetes.plugins.module_utils._inplace.deps import jsonpatch
from ansible_collections.inplace.kubernetes.plugins.module_utils._inplace.errors import InplaceError
from ansible_collections.inplace.kubernetes.plugins.module_utils._inplace.images import same_image

CONTAINER_LISTS = ("containers", "initContainers")


def container_names(spec):
    """Names of the containers (then init containers) of a pod spec."""
    names = []
    for key in CONTAINER_LISTS:
        names.extend(c.get("name") for c in spec.get(key) or [])
    return names


def current_images(spec):
    """``{container name: image}`` of a pod spec (containers and init containers)."""
    images = {}
    for key in CONTAINER_LISTS:
        for container in spec.get(key) or []:
            images[container.get("name")] = container.get("image")
    return images


def locate(spec, name):
    """``(list key, index)`` of the container called ``name``, or ``None``."""
    for key in CONTAINER_LISTS:
        for index, container in enumerate(spec.get(key) or []):
            if container.get("name") == name:
                return key, index
    return None


def check_containers(spec, targets, what="the pods"):
    """Raise :class:`InplaceError` when a target container is missing from ``spec``."""
    missing = sorted(name for name in targets if locate(spec, name) is None)
    if missing:
        raise InplaceError(
            "container(s) %s not found in %s; they have: %s" % (", ".join(missing), what, ", ".join(n for n in container_names(spec) if n) or "none")
        )


def image_changes(spec, targets):
    """The containers whose image differs from the target: ``[{name, before, after, init}]``.

    Images that are the same once normalised (``nginx:1.19`` and ``docker.io/library/nginx:1.19``)
    count as current, so a re-run never restarts a container for spelling alone.
    """
    changes = []
    for name in sorted(targets):
        where = locate(spec, name)
        if where is None:
            continue
        key, index = where
        before = spec[key][index].get("image")
        if not same_image(before, targets[name]):
            changes.append({"name": name, "before": before, "after": targets[name], "init": key == "initContainers"})
    return changes


def image_patch(spec, targets, prefix="/spec", uid=None):
    """Build the guarded JSON patch that sets ``targets`` on ``spec`` found at ``prefix``.

    Returns ``(patch, changes)``; ``patch`` is a :class:`jsonpatch.JsonPatch` (empty when nothing
    differs). With ``uid``, the patch first tests ``/metadata/uid``: a pod deleted and re-created
    under the same name (a StatefulSet's) is refused by the API server, never patched by mistake.
    The patch is applied to a copy of ``spec`` before it is returned, so a patch that could not
    apply to what was read is never sent.
    """
    check_containers(spec, targets)
    changes = image_changes(spec, targets)

    def image_ops(path, change, dummy_container):
        return [{"op": "test", "path": path + "/image", "value": change["before"]}, {"op": "replace", "path": path + "/image", "value": change["after"]}]

    return jsonpatch.JsonPatch(guarded_ops(spec, changes, image_ops, prefix, uid)), changes


def guarded_ops(spec, changes, field_ops, prefix="/spec", uid=None):
    """The JSON patch operations for ``changes`` (dicts with the container's ``name``) of ``spec`` at ``prefix``.

    With ``uid`` they first test ``/metadata/uid``; per change they test the container's name (its index
    is where it was read) and then add ``field_ops(path, change, container)``, the tests and writes of the
    field itself. They are applied to a copy of ``spec`` before they are returned, so operations that could
    not apply to what was read are never sent.
    """
    ops = []
    if changes and uid:
        ops.append({"op": "test", "path": "/metadata/uid", "value": uid})
    for change in changes:
        key, index = locate(spec, change["name"])
        path = "%s/%s/%d" % (prefix, key, index)
        ops.append({"op": "test", "path": path + "/name", "value": change["name"]})
        ops.extend(field_ops(path, change, spec[key][index]))
    if ops:
        document = _nest(prefix, copy.deepcopy(spec))
        if uid:
            document.setdefault("metadata", {})["uid"] = uid
        jsonpatch.JsonPatch(ops).apply(document)
    return ops


def _nest(prefix, value):
    document = value
    for part in reversed([p for p in prefix.split("/") if p]):
        document = {part: document}
    return document


def with_images(spec, targets):
    """A copy of ``spec`` with ``targets`` applied (for diffs and dry-run previews)."""
    result = copy.deepcopy(spec)
    for name, image in targets.items():
        where = locate(result, name)
        if where:
            key, index = where
            result[key][index]["image"] = image
    return result
