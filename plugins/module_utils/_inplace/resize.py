# -*- coding: utf-8 -*-
# Copyright: inplace.kubernetes contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""In-place CPU/memory resize inside a rollout: does the cluster have it, what changes on each pod, the
write to the pod's ``resize`` subresource, and what the wait expects.

One :class:`Resizer` travels with a rollout (``Rollout.resize``); the rollout asks it at a few points
(validate, plan, patch, wait, roll back, sync the template) and it answers from :mod:`resources`
(pure: checks, changes, the guarded patch) and :mod:`resized` (pure: the predicate). Without the
``resources`` option it is empty and answers nothing, and the rollout is the image rollout it was.
"""

from __future__ import annotations

import time

from ansible_collections.inplace.kubernetes.plugins.module_utils._inplace.client import api_path
from ansible_collections.inplace.kubernetes.plugins.module_utils._inplace.errors import ApiError, InplaceError, PreconditionFailed
from ansible_collections.inplace.kubernetes.plugins.module_utils._inplace.patch import locate
from ansible_collections.inplace.kubernetes.plugins.module_utils._inplace.resources import (
    applied,
    check_resources,
    check_spec,
    previous_of,
    resize_patch,
    resource_changes,
    resources_text,
    shown,
)
from ansible_collections.inplace.kubernetes.plugins.module_utils._inplace.wait import baseline_of, pod_generation

SUBRESOURCE = "pods/resize"


def resize_support(version, api_resources):
    """Why this API server cannot resize pods in place (``""`` when it can), from ``/version`` and ``/api/v1``."""
    names = set(r.get("name") for r in (api_resources or {}).get("resources") or [])
    if SUBRESOURCE in names:
        return ""
    where = (version or {}).get("gitVersion") or "of unknown version"
    return ("the API server (Kubernetes %s) does not serve the %s subresource that in-place CPU/memory resize "
            "goes through: it exists from Kubernetes 1.33 (beta, on by default; feature gate "
            "InPlacePodVerticalScaling) and is GA from 1.35" % (where, SUBRESOURCE))


class Resizer(object):
    """The ``resources`` of one run: ``wanted`` per container (empty: no resize in this run)."""

    def __init__(self, kube, params):
        self.kube = kube
        self.wanted = check_resources(params.get("resources"))
        self.namespace = params.get("namespace")
        self._checked = False
        self.template_before = None

    def __bool__(self):
        return bool(self.wanted)

    __nonzero__ = __bool__

    def text(self):
        return resources_text(self.wanted)

    # -- before any write -------------------------------------------------------------------

    def check_supported(self):
        """Refuse, before any write, a cluster without the ``resize`` subresource."""
        if not self.wanted or self._checked:
            return
        version = self.kube.get("/version")
        why = resize_support(version, self.kube.get("/api/v1"))
        if why:
            raise InplaceError("resources: nothing changed: %s" % why)
        self._checked = True

    def check(self, workload):
        """The checks of :func:`resources.check_spec` on the owner's template and on every pod."""
        if not self.wanted:
            return
        self.check_supported()
        what = "%s %s/%s" % (workload.kind, workload.namespace, workload.name)
        if workload.owner:
            check_spec(workload.template_spec, self.wanted, "the pod template of " + what)
            self.template_before = self._template_resources(workload.template_spec)
        for pod in workload.pods:
            check_spec(pod.get("spec", {}), self.wanted, "pod " + pod["metadata"]["name"])

    def changes(self, pod, wanted=None):
        """``[{name, before, after, restart, init}]`` of one pod against ``wanted`` (default: this run's)."""
        return resource_changes(pod.get("spec", {}), self.wanted if wanted is None else wanted)

    def template_changes(self, workload):
        """The owner's template's containers whose resources differ from this run's."""
        return resource_changes(workload.template_spec or {}, self.wanted) if workload.owner and self.wanted else []

    def _template_resources(self, spec):
        return dict((name, shown(_resources_of(spec, name))) for name in sorted(self.wanted))

    # -- the record rollback: true undoes ---------------------------------------------------

    def record(self, record, workload):
        """``record`` (upgrade_record.new_record, or ``None``) with the template's previous resources added."""
        changes = self.template_changes(workload)
        if not changes:
            return record
        record = dict(record) if record else {"time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                                              "target": {}, "previous": {}}
        record["resources"] = {"target": self.wanted, "previous": previous_of(changes)}
        return record

    @staticmethod
    def recorded_previous(record):
        """The resources a ``rollback: true`` restores, from the record of the last upgrade."""
        return dict(((record or {}).get("resources") or {}).get("previous") or {})

    # -- the write ---------------------------------------------------------------------------

    def patch(self, pod, deadline, wanted=None):
        """Resize one pod through ``pods/NAME/resize``; an outcome like ``Rollout._patch_one``'s, or ``None``
        when its resources already are the wanted ones."""
        wanted = self.wanted if wanted is None else wanted
        name = pod["metadata"]["name"]
        ops, changes = resize_patch(pod.get("spec", {}), wanted, uid=pod["metadata"].get("uid"))
        if not ops:
            return None
        path = api_path("Pod", self.namespace, name, subresource="resize")
        try:
            return {"name": name, "result": "patched", "pod": self.kube.json_patch(path, ops, deadline=deadline),
                    "resize": changes}
        except PreconditionFailed:
            try:
                fresh = self.kube.get(api_path("Pod", self.namespace, name), deadline=deadline)
            except ApiError as exc:
                if exc.status == 404:
                    return {"name": name, "result": "vanished", "reason": "pod was deleted", "pod": pod, "resize": changes}
                raise
            if fresh["metadata"].get("uid") != pod["metadata"].get("uid"):
                return {"name": name, "result": "vanished", "pod": pod, "resize": changes,
                        "reason": "pod was deleted (a new pod of the same name replaced it)"}
            if not resource_changes(fresh.get("spec", {}), wanted):
                return {"name": name, "result": "patched", "pod": fresh, "resize": changes,
                        "reason": "resources already set by someone else"}
            return {"name": name, "result": "conflict", "pod": fresh, "resize": changes,
                    "reason": "resources changed concurrently; not overwritten"}
        except ApiError as exc:
            if exc.status == 404:
                return {"name": name, "result": "vanished", "reason": "pod was deleted", "pod": pod, "resize": changes}
            return {"name": name, "result": "error", "pod": pod, "resize": changes,
                    "reason": "the API server refused the resize: %s" % exc.msg}

    # -- the wait ----------------------------------------------------------------------------

    def expectation(self, pod, changes, wanted=None, with_baseline=True):
        """What a wait expects of a pod resized (``changes``) or of a pod read as it is (``with_baseline=False``)."""
        wanted = self.wanted if wanted is None else wanted
        if not wanted:
            return None
        restart = sorted(c["name"] for c in changes or [] if c.get("restart"))
        return {"wanted": wanted, "restart": restart,
                "baseline": baseline_of(pod, restart) if with_baseline else {},
                "generation": pod_generation(pod) if with_baseline else None}

    def add_template_diff(self, diff, synced):
        """The template's resources before and after, in a ``--diff``."""
        if not self.wanted or self.template_before is None:
            return
        after = dict((name, shown(applied(_resources_from_shown(self.template_before[name]), self.wanted[name])))
                     for name in self.template_before) if synced else self.template_before
        if after != self.template_before:
            diff["before"]["template_resources"] = self.template_before
            diff["after"]["template_resources"] = after

    # -- undoing it --------------------------------------------------------------------------

    @staticmethod
    def previous(changes):
        return previous_of(changes)


def _resources_of(spec, name):
    where = locate(spec or {}, name)
    if where is None:
        return {}
    return spec[where[0]][where[1]].get("resources") or {}


def _resources_from_shown(values):
    return dict((kind, dict(v)) for kind, v in (values or {}).items())


def resize_entry(changes):
    """``{container: {before, after}}`` (cpu/memory only) for results and diffs."""
    return dict((c["name"], {"before": shown(c["before"]), "after": shown(c["after"])}) for c in changes or [])
