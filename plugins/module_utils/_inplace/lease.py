# -*- coding: utf-8 -*-
# Copyright: inplace.kubernetes contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A ``coordination.k8s.io/v1`` Lease as a lock: one run per workload at a time.

The lease holds the holder's identity, when it was acquired and renewed, and for how long it is
valid. Another holder's lease that has not expired is refused with who holds it and until when;
an expired one (``renewTime + leaseDurationSeconds`` in the past) is taken over. Writes carry the
lease's ``resourceVersion``, so two runs racing for one stale lease cannot both win.
Times are the controller's clock (UTC); keep controller clocks in sync (NTP) as for any lease.
"""

from __future__ import annotations

import datetime
import os
import re
import socket
import uuid

from ansible_collections.inplace.kubernetes.plugins.module_utils._inplace.api_paths import api_path
from ansible_collections.inplace.kubernetes.plugins.module_utils._inplace.errors import ApiError, InplaceError
from ansible_collections.inplace.kubernetes.plugins.module_utils._inplace.window import parse_timestamp

MICRO_TIME = "%Y-%m-%dT%H:%M:%S.%fZ"
_NAME_CHARS = re.compile(r"[^a-z0-9.-]+")


def default_holder():
    """A run id unique enough for a lock: ``<controller hostname>-<pid>-<random>``."""
    host = socket.gethostname().split(".")[0] or "controller"
    return "%s-%d-%s" % (host, os.getpid(), uuid.uuid4().hex[:8])


def lease_name(kind, name):
    """``inplace-upgrade-<kind>-<name>``, lowercased and cut to a valid object name."""
    text = _NAME_CHARS.sub("-", ("inplace-upgrade-%s-%s" % (kind, name)).lower()).strip("-.")
    return text[:253].rstrip("-.")


def now_utc():
    return datetime.datetime.now(datetime.timezone.utc)


def format_time(moment):
    return moment.astimezone(datetime.timezone.utc).strftime(MICRO_TIME)


def parse_time(value):
    """A Kubernetes MicroTime (``2026-11-25T04:00:00.123456Z``) as an aware datetime, or ``None``."""
    if not value:
        return None
    try:
        moment = parse_timestamp(value)
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=datetime.timezone.utc)


def expiry(lease):
    """When a lease expires (aware datetime), or ``None`` when it has no holder or no times."""
    spec = (lease or {}).get("spec") or {}
    if not spec.get("holderIdentity"):
        return None
    renewed = parse_time(spec.get("renewTime")) or parse_time(spec.get("acquireTime"))
    if renewed is None:
        return None
    return renewed + datetime.timedelta(seconds=int(spec.get("leaseDurationSeconds") or 0))


def describe(lease):
    """The facts about a lease a caller reports: holder, times, expiry, name and namespace."""
    if not lease:
        return {}
    spec = lease.get("spec") or {}
    metadata = lease.get("metadata") or {}
    expires = expiry(lease)
    return {
        "name": metadata.get("name"),
        "namespace": metadata.get("namespace"),
        "holder": spec.get("holderIdentity") or "",
        "duration_seconds": spec.get("leaseDurationSeconds"),
        "acquire_time": spec.get("acquireTime"),
        "renew_time": spec.get("renewTime"),
        "expires": format_time(expires) if expires else None,
        "transitions": spec.get("leaseTransitions") or 0,
    }


def _spec(holder, duration, acquired, renewed, transitions):
    return {
        "holderIdentity": holder,
        "leaseDurationSeconds": int(duration),
        "acquireTime": format_time(acquired),
        "renewTime": format_time(renewed),
        "leaseTransitions": int(transitions),
    }


class LeaseLock(object):
    """Take, renew and release one Lease for one holder.

    ``acquire()`` and ``release()`` return a result dict: ``changed``, ``action`` (V(acquired),
    V(took_over), V(renewed), V(released), V(absent), V(not_ours)), ``lease`` (see :func:`describe`)
    and ``previous_holder`` when a stale lease was taken over.
    """

    def __init__(self, kube, namespace, name, holder, duration_seconds, clock=now_utc):
        if not holder:
            raise InplaceError("a lease needs a holder identity")
        if int(duration_seconds) < 1:
            raise InplaceError("lease duration_seconds must be at least 1, got %s" % duration_seconds)
        self.kube = kube
        self.namespace = namespace
        self.name = name
        self.holder = holder
        self.duration = int(duration_seconds)
        self.clock = clock
        self.path = api_path("Lease", namespace, name)

    def _get(self):
        try:
            return self.kube.get(self.path)
        except ApiError as exc:
            if exc.status == 404:
                return None
            raise self._explain(exc, "read") from exc

    def _explain(self, exc, verb):
        if exc.status == 403:
            return InplaceError(
                "cannot %s Lease %s/%s: %s (the role needs get, create, update and delete on "
                "leases.coordination.k8s.io in this namespace)" % (verb, self.namespace, self.name, exc.msg)
            )
        if exc.status == 404 and verb == "create":
            return InplaceError("cannot create Lease %s/%s: %s (does the namespace exist?)" % (self.namespace, self.name, exc.msg))
        return exc

    def _refuse(self, lease, now):
        info = describe(lease)
        expires = expiry(lease)
        left = int((expires - now).total_seconds()) if expires else 0
        raise InplaceError(
            "another upgrade run holds Lease %s/%s: holder %s, renewed %s, valid until %s (%ds from now). "
            "Wait for it to finish; if that run is dead, the lease expires at %s and can then be taken over "
            "(or delete the Lease by hand once you are sure)"
            % (self.namespace, self.name, info["holder"], info["renew_time"], info["expires"], left, info["expires"]),
            lease=info,
            held_by_other=True,
        )

    def acquire(self, _retry=True):
        now = self.clock()
        lease = self._get()
        if lease is None:
            body = {
                "apiVersion": "coordination.k8s.io/v1",
                "kind": "Lease",
                "metadata": {"name": self.name, "namespace": self.namespace, "labels": {"app.kubernetes.io/managed-by": "inplace.kubernetes"}},
                "spec": _spec(self.holder, self.duration, now, now, 0),
            }
            try:
                created = self.kube.post(api_path("Lease", self.namespace), body)
            except ApiError as exc:
                if exc.status == 409 and _retry:  # created by someone else just now
                    return self.acquire(_retry=False)
                raise self._explain(exc, "create") from exc
            return {"changed": True, "action": "acquired", "lease": describe(created or body)}
        spec = lease.get("spec") or {}
        current = spec.get("holderIdentity") or ""
        expires = expiry(lease)
        if current and current != self.holder and expires is not None and expires > now:
            self._refuse(lease, now)
        if current == self.holder:
            acquired = parse_time(spec.get("acquireTime")) or now
            spec, action = _spec(self.holder, self.duration, acquired, now, spec.get("leaseTransitions") or 0), "renewed"
        else:
            spec, action = _spec(self.holder, self.duration, now, now, (spec.get("leaseTransitions") or 0) + 1), "took_over"
        try:
            # Renewing our own lease only refreshes renewTime: not reported as a change.
            result = self._write(lease, spec, action, changed=action != "renewed")
        except ApiError as exc:
            if exc.status == 409 and _retry:  # written by someone else in between: look again
                return self.acquire(_retry=False)
            raise
        if action == "renewed":
            return result
        result["previous_holder"] = current
        result["previous_expired"] = format_time(expires) if expires else None
        return result

    def _write(self, lease, spec, action, changed):
        body = {
            "apiVersion": "coordination.k8s.io/v1",
            "kind": "Lease",
            "metadata": {
                "name": self.name,
                "namespace": self.namespace,
                "resourceVersion": lease["metadata"]["resourceVersion"],
                "labels": (lease["metadata"].get("labels") or {}),
            },
            "spec": spec,
        }
        try:
            written = self.kube.request("PUT", self.path, body=body)
        except ApiError as exc:
            if exc.status == 409:
                raise
            raise self._explain(exc, "update") from exc
        return {"changed": changed, "action": action, "lease": describe(written or body)}

    def release(self):
        lease = self._get()
        if lease is None:
            return {"changed": False, "action": "absent", "lease": {}}
        current = (lease.get("spec") or {}).get("holderIdentity") or ""
        if current != self.holder:
            return {"changed": False, "action": "not_ours", "lease": describe(lease)}
        body = {
            "apiVersion": "v1",
            "kind": "DeleteOptions",
            "preconditions": {"uid": lease["metadata"]["uid"], "resourceVersion": lease["metadata"]["resourceVersion"]},
        }
        if self.kube.dry_run:
            # With a DeleteOptions body the API server reads dryRun from the body, not from the query.
            body["dryRun"] = ["All"]
        try:
            self.kube.request("DELETE", self.path, body=body)
        except ApiError as exc:
            if exc.status == 404:
                return {"changed": False, "action": "absent", "lease": {}}
            if exc.status == 409:  # renewed or taken over in between: look again
                fresh = self._get()
                if fresh is None:
                    return {"changed": False, "action": "absent", "lease": {}}
                return {"changed": False, "action": "not_ours", "lease": describe(fresh)}
            raise self._explain(exc, "delete") from exc
        return {"changed": True, "action": "released", "lease": describe(lease)}
