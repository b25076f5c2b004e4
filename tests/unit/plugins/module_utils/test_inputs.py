# -*- coding: utf-8 -*-
# Copyright: inplace.kubernetes contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""inputs.py: checks of user input that run before any API call."""

from __future__ import annotations

import pytest

from ansible_collections.inplace.kubernetes.plugins.module_utils._inplace.errors import InplaceError
from ansible_collections.inplace.kubernetes.plugins.module_utils._inplace.inputs import (
    check_batching,
    check_name,
    check_targets,
)


@pytest.mark.parametrize("value, label", [
    ("web", False),
    ("web-1", False),
    ("a", False),
    ("0abc", False),
    ("web.example.v1", False),
    ("a" * 253, False),
    ("a" * 63, True),
    ("kube-system", True),
])
def test_valid_names(value, label):
    assert check_name(value, "name", label) == value


@pytest.mark.parametrize("value, label", [
    ("Web", False),
    ("web_1", False),
    ("-web", False),
    ("web-", False),
    ("web..x", False),
    (".web", False),
    ("web ", False),
    ("a" * 254, False),
    ("a" * 64, True),
    ("web.x", True),
    ("web\n", False),
])
def test_invalid_names(value, label):
    with pytest.raises(InplaceError) as exc:
        check_name(value, "namespace" if label else "name", label)
    assert "is not a valid Kubernetes name" in exc.value.msg
    assert ("at most 63 characters" if label else "at most 253 characters") in exc.value.msg
    assert ("or '.'" in exc.value.msg) is (not label)


@pytest.mark.parametrize("value", ["", None, 5, ["web"]])
def test_name_must_be_a_non_empty_string(value):
    with pytest.raises(InplaceError) as exc:
        check_name(value, "pod name")
    assert exc.value.msg == "pod name must be a non-empty string"


def test_long_name_is_shortened_in_the_message():
    with pytest.raises(InplaceError) as exc:
        check_name("A" * 300, "name")
    assert "'" + "A" * 77 + "...'" in exc.value.msg


def test_check_targets_containers():
    containers = {"web": "nginx:1.20", "side": "envoy:1.21"}
    result = check_targets(containers, None)
    assert result == containers
    assert result is not containers


def test_check_targets_image_only():
    assert check_targets(None, "nginx:1.20") == {}


NOTHING_GIVEN = ("give containers (container name -> image), image, or resources (container name -> requests/limits of "
                 "cpu and memory)")


@pytest.mark.parametrize("containers, image, message", [
    ({"web": "nginx:1"}, "nginx:1", "give either containers or image, not both"),
    (None, None, NOTHING_GIVEN),
    ({}, "", NOTHING_GIVEN),
    (None, "nginx:bad tag", "invalid input: image 'nginx:bad tag' contains white space"),
    ({"web": "Nginx"}, None, "invalid input: container web: image 'Nginx': repository 'library/Nginx' must be lowercase"),
    ({"Web_1": "nginx"}, None, "invalid input: container name 'Web_1' is not a valid container name"),
    ({"a" * 64: "nginx"}, None, "invalid input: container name '%s' is not a valid container name" % ("a" * 64)),
    ({"web": None}, None, "invalid input: container web: image must be a string, got NoneType"),
])
def test_check_targets_errors(containers, image, message):
    with pytest.raises(InplaceError) as exc:
        check_targets(containers, image)
    assert exc.value.msg == message


def test_check_targets_reports_every_problem_sorted():
    with pytest.raises(InplaceError) as exc:
        check_targets({"web": "nginx:", "Bad": "ok:1", "side": "envoy:1"}, None)
    assert exc.value.msg == (
        "invalid input: container name 'Bad' is not a valid container name; "
        "container web: image 'nginx:' has an invalid tag '' (letters, digits, '_', '.', '-', at most 128, "
        "not starting with '.' or '-')")


@pytest.mark.parametrize("batch_size, canary, max_pods", [
    (None, None, None),
    ("", "", None),
    ("2", "1", 1),
    ("50%", "10%", 100),
    (3, None, None),
])
def test_check_batching_ok(batch_size, canary, max_pods):
    assert check_batching(batch_size, canary, max_pods) is None


@pytest.mark.parametrize("batch_size, canary, max_pods, message", [
    ("0", None, None, "batch_size must be at least 1, got '0'"),
    ("many", None, None, "batch_size must be a positive integer or a percentage like '25%', got 'many'"),
    (None, "150%", None, "canary '150%': a percentage must be above 0% and at most 100%"),
    (None, None, 0, "max_pods must be at least 1, got 0"),
    (None, None, -3, "max_pods must be at least 1, got -3"),
])
def test_check_batching_errors(batch_size, canary, max_pods, message):
    with pytest.raises(InplaceError) as exc:
        check_batching(batch_size, canary, max_pods)
    assert exc.value.msg == message
