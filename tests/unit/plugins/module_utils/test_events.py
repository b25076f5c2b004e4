# -*- coding: utf-8 -*-
# Copyright: inplace.kubernetes contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""events.py: the Event body, background posting, and a cluster that refuses Events."""

from __future__ import annotations

import threading
import time

from ansible_collections.inplace.kubernetes.plugins.module_utils._inplace import events
from ansible_collections.inplace.kubernetes.plugins.module_utils._inplace.errors import ApiError

POD = {"metadata": {"name": "web-0", "namespace": "ns", "uid": "u-0", "resourceVersion": "7"}}


class PostingKube(object):
    def __init__(self, dry_run=False, error=None, gate=None):
        self.dry_run = dry_run
        self.error = error
        self.gate = gate
        self.posts = []
        self.lock = threading.Lock()

    def post(self, path, body, deadline=None):
        if self.gate is not None:
            self.gate.wait(10)
        if self.error is not None:
            raise self.error
        with self.lock:
            self.posts.append((path, body))
        return body


def test_event_body_names_the_object():
    event = events.event_for(POD, "Pod", events.POD_UPGRADED, "x" * 2000, now=0)
    assert event["involvedObject"] == {"kind": "Pod", "name": "web-0", "namespace": "ns", "uid": "u-0",
                                       "apiVersion": "v1", "resourceVersion": "7"}
    assert event["metadata"]["name"].startswith("web-0.") and event["metadata"]["namespace"] == "ns"
    assert event["firstTimestamp"] == event["lastTimestamp"] == "1970-01-01T00:00:00Z"
    assert len(event["message"]) == 1024 and event["type"] == "Normal"
    assert events.event_for(POD, "Deployment", events.FAILED, "m", warning=True)["involvedObject"]["apiVersion"] == "apps/v1"


def test_record_returns_before_the_post_and_close_waits_for_it():
    gate = threading.Event()
    kube = PostingKube(gate=gate)
    recorder = events.Recorder(kube)
    for index in range(10):
        recorder.record(POD, "Pod", events.POD_UPGRADED, "upgraded %d" % index)
    assert kube.posts == []  # all ten are still queued behind the gate
    gate.set()
    assert recorder.close() == 10
    assert sorted(body["message"] for path, body in kube.posts) == sorted("upgraded %d" % i for i in range(10))
    assert all(path == "/api/v1/namespaces/ns/events" for path, body in kube.posts)


def test_a_held_event_is_posted_from_the_flush_on_with_the_stamp_of_its_record(monkeypatch):
    kube = PostingKube()
    recorder = events.Recorder(kube)
    real_gmtime = time.gmtime
    monkeypatch.setattr(events.time, "gmtime", lambda now=None: real_gmtime(0))
    recorder.record(POD, "Pod", events.POD_UPGRADED, "held", held=True)
    monkeypatch.undo()
    assert recorder._pool is None and kube.posts == []  # nothing submitted before the flush
    recorder.flush()
    assert recorder.close() == 1
    assert [(b["message"], b["firstTimestamp"]) for p, b in kube.posts] == [("held", "1970-01-01T00:00:00Z")]

    unflushed = events.Recorder(PostingKube())
    unflushed.record(POD, "Pod", events.POD_UPGRADED, "held", held=True)
    assert unflushed.close() == 1  # close() posts what is still held


def test_refused_events_warn_once_and_stop():
    warnings = []
    kube = PostingKube(error=ApiError("events is forbidden", status=403))
    recorder = events.Recorder(kube, warn=warnings.append)
    for dummy in range(20):
        recorder.record(POD, "Pod", events.POD_UPGRADED, "m")
    assert recorder.close() == 0
    assert warnings == ["could not record Kubernetes Events (events is forbidden); continuing without them"]
    assert recorder.enabled is False


def test_nothing_is_posted_in_check_mode_or_when_disabled():
    for recorder in (events.Recorder(PostingKube(dry_run=True)), events.Recorder(PostingKube(), enabled=False)):
        recorder.record(POD, "Pod", events.POD_UPGRADED, "m")
        assert recorder.close() == 0
        assert recorder.kube.posts == []
