# -*- coding: utf-8 -*-
# Copyright: inplace.kubernetes contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""upgrade_record.py: the last-upgrade record is trusted only while template and pods run its target or previous."""

from __future__ import annotations

import pytest

from ansible_collections.inplace.kubernetes.plugins.module_utils._inplace.upgrade_record import (
    annotation_patch, new_record, recorded_upgrade, stale_reason)

RECORD = {"time": "2026-01-01T00:00:00Z", "target": {"app": "nginx:1.20"}, "previous": {"app": "nginx:1.18"}}


def pod(name, image):
    return {"metadata": {"name": name}, "spec": {"containers": [{"name": "app", "image": image}]}}


def test_a_written_record_reads_back():
    record = new_record({"app": "nginx:1.18", "side": "busybox"}, {"app": "nginx:1.20"})
    assert record["previous"] == {"app": "nginx:1.18"} and record["target"] == {"app": "nginx:1.20"}
    owner = {"metadata": {"annotations": annotation_patch(record)["metadata"]["annotations"]}}
    assert recorded_upgrade(owner) == record


def test_no_record_when_the_template_already_has_the_targets():
    assert new_record({"app": "nginx:1.20"}, {"app": "nginx:1.20"}) is None


@pytest.mark.parametrize("raw", ["not json", "[1]", '{"target": {}}'])
def test_unreadable_records_are_none(raw):
    assert recorded_upgrade({"metadata": {"annotations": {"inplace.kubernetes.io/last-upgrade": raw}}}) is None


@pytest.mark.parametrize("template, images", [
    ("nginx:1.20", ["nginx:1.20", "nginx:1.20"]),   # finished upgrade
    ("nginx:1.18", ["nginx:1.20", "nginx:1.18"]),   # failed part-way, template not synced
    ("docker.io/library/nginx:1.20", ["nginx:1.20"]),  # the same image spelled another way
])
def test_a_record_that_describes_the_workload_is_trusted(template, images):
    assert stale_reason(RECORD, {"app": template}, [pod("p%d" % i, im) for i, im in enumerate(images)]) == ""


def test_a_template_on_another_image_makes_the_record_stale():
    reason = stale_reason(RECORD, {"app": "nginx:1.25"}, [pod("p0", "nginx:1.25")])
    assert "pod template" in reason and "nginx:1.25" in reason and "nginx:1.20" in reason


def test_a_pod_on_another_image_makes_the_record_stale():
    reason = stale_reason(RECORD, {"app": "nginx:1.20"}, [pod("p0", "nginx:1.20"), pod("p1", "nginx:1.25")])
    assert reason.startswith("pod p1's container app has nginx:1.25")


def test_a_record_without_target_is_not_refused():
    assert stale_reason({"previous": {"app": "nginx:1.18"}}, {"app": "nginx:1.25"}, []) == ""


SIZED = {"time": "2026-01-01T00:00:00Z", "target": {}, "previous": {},
         "resources": {"target": {"app": {"requests": {"cpu": "500m"}, "limits": {"memory": "512Mi"}}},
                       "previous": {"app": {"requests": {"cpu": "250m"}, "limits": {"memory": "256Mi"}}}}}


def sized(name, cpu, memory):
    return {"metadata": {"name": name}, "spec": {"containers": [
        {"name": "app", "image": "nginx:1.20", "resources": {"requests": {"cpu": cpu}, "limits": {"memory": memory}}}]}}


@pytest.mark.parametrize("template, pods", [
    (("500m", "512Mi"), [("500m", "512Mi"), ("0.5", "536870912")]),   # finished, one pod spelled by value
    (("250m", "256Mi"), [("500m", "512Mi"), ("250m", "256Mi")]),      # failed part-way
])
def test_a_resources_record_is_trusted_while_everything_runs_its_target_or_previous(template, pods):
    spec = sized("t", *template)["spec"]
    assert stale_reason(SIZED, {"app": "nginx:1.20"}, [sized("p%d" % i, *p) for i, p in enumerate(pods)], spec) == ""


@pytest.mark.parametrize("template, pods, where", [
    (("1", "512Mi"), [("500m", "512Mi")], "the pod template's container app has requests.cpu 1"),
    (("500m", "512Mi"), [("500m", "1Gi")], "pod p0's container app has limits.memory 1Gi"),
])
def test_a_resources_record_is_stale_once_someone_resized_since(template, pods, where):
    spec = sized("t", *template)["spec"]
    reason = stale_reason(SIZED, {"app": "nginx:1.20"}, [sized("p%d" % i, *p) for i, p in enumerate(pods)], spec)
    assert reason.startswith(where) and "neither the recorded target" in reason, reason
