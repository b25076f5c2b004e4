# -*- coding: utf-8 -*-
# Copyright: inplace.kubernetes contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Sending one guarded JSON patch to a pod and saying what came of it.

The patch's ``test`` operations (uid, the values the plan was made from) make the API server refuse a
write to a pod that was replaced or changed since it was read; a refusal is then told apart by reading
the pod again: deleted or replaced (``vanished``), already what was wanted (``patched``, with a reason),
or changed by someone else (``conflict``; never overwritten).
"""

from __future__ import annotations

from ansible_collections.inplace.kubernetes.plugins.module_utils._inplace.errors import ApiError, PreconditionFailed


def send_guarded(kube, pod, path, read_path, ops, deadline, key, changes, still_wanted, already_reason, conflict_reason, refused_reason=None):
    """Send ``ops`` to ``path`` (the pod at ``read_path``): an outcome ``{name, result, pod, <key>: changes[, reason]}``.

    ``still_wanted(fresh)`` says whether the fresh pod still needs the change, ``conflict_reason(fresh)`` why it
    is a conflict, ``refused_reason(message)`` (default: the message) why the API server refused it.
    """
    name = pod["metadata"]["name"]
    try:
        return {"name": name, "result": "patched", "pod": kube.json_patch(path, ops, deadline=deadline), key: changes}
    except PreconditionFailed:
        try:
            fresh = kube.get(read_path, deadline=deadline)
        except ApiError as exc:
            if exc.status == 404:
                return {"name": name, "result": "vanished", "reason": "pod was deleted", "pod": pod, key: changes}
            raise
        if fresh["metadata"].get("uid") != pod["metadata"].get("uid"):
            return {"name": name, "result": "vanished", "pod": pod, key: changes, "reason": "pod was deleted (a new pod of the same name replaced it)"}
        if not still_wanted(fresh):
            return {"name": name, "result": "patched", "pod": fresh, key: changes, "reason": already_reason}
        return {"name": name, "result": "conflict", "pod": fresh, key: changes, "reason": conflict_reason(fresh)}
    except ApiError as exc:
        if exc.status == 404:
            return {"name": name, "result": "vanished", "reason": "pod was deleted", "pod": pod, key: changes}
        return {"name": name, "result": "error", "pod": pod, key: changes, "reason": refused_reason(exc.msg) if refused_reason else exc.msg}
