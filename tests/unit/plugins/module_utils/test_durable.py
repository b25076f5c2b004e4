# -*- coding: utf-8 -*-
# Copyright: inplace.kubernetes contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""durable.py: the pure bits (the interrupted-sync annotation, whether a sync is needed)."""

from __future__ import annotations

import json

import pytest

from ansible_collections.inplace.kubernetes.plugins.module_utils._inplace.discovery import Workload
from ansible_collections.inplace.kubernetes.plugins.module_utils._inplace.durable import (
    SYNC_ANNOTATION,
    _escape,
    pending_sync,
    template_needs_sync,
)
from ansible_collections.inplace.kubernetes.plugins.module_utils._inplace.errors import InplaceError


def owner(annotation=None, image="nginx:1.19"):
    metadata = {"name": "web", "uid": "d-1"}
    if annotation is not None:
        metadata["annotations"] = {SYNC_ANNOTATION: annotation, "other": "x"}
    return {"metadata": metadata, "spec": {"template": {"spec": {"containers": [{"name": "web", "image": image}]}}}}


@pytest.mark.parametrize("obj", [owner(), owner(""), {"metadata": {"annotations": None}}, {}])
def test_no_pending_sync(obj):
    assert pending_sync(obj) is None


def test_pending_sync():
    state = {"target": {"web": "nginx:1.20"}, "paused": False, "started": "2024-01-01T00:00:00Z"}
    assert pending_sync(owner(json.dumps(state))) == state


@pytest.mark.parametrize("raw, message", [
    ("{not json", "annotation inplace.kubernetes.io/template-sync on web is not valid JSON; remove it after checking "
                  "the owner's pause/update strategy by hand"),
    ("[]", "annotation inplace.kubernetes.io/template-sync on web has no target images"),
    ('"text"', "annotation inplace.kubernetes.io/template-sync on web has no target images"),
    ('{"paused": true}', "annotation inplace.kubernetes.io/template-sync on web has no target images"),
    ('{"target": ["web"]}', "annotation inplace.kubernetes.io/template-sync on web has no target images"),
])
def test_bad_pending_sync(raw, message):
    with pytest.raises(InplaceError) as exc:
        pending_sync(owner(raw))
    assert exc.value.msg == message


def test_template_needs_sync():
    assert template_needs_sync(Workload("Deployment", "web", "ns", owner=owner()), {"web": "nginx:1.20"}) is True
    assert template_needs_sync(Workload("Deployment", "web", "ns", owner=owner()), {"web": "docker.io/library/nginx:1.19"}) is False
    resumed = owner(json.dumps({"target": {"web": "nginx:1.19"}}))
    assert template_needs_sync(Workload("Deployment", "web", "ns", owner=resumed), {"web": "nginx:1.19"}) is True
    assert template_needs_sync(Workload(None, None, "ns"), {"web": "nginx:1.20"}) is False


@pytest.mark.parametrize("key, expected", [
    ("inplace.kubernetes.io/template-sync", "inplace.kubernetes.io~1template-sync"),
    ("a~b/c", "a~0b~1c"),
])
def test_escape(key, expected):
    assert _escape(key) == expected
