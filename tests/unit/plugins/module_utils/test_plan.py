# -*- coding: utf-8 -*-
# Copyright: inplace.kubernetes contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""plan.py: batch sizes as counts or percentages (rounded up, at least 1), canary first."""

from __future__ import annotations

import pytest

from ansible_collections.inplace.kubernetes.plugins.module_utils._inplace.plan import (
    parse_batch_size,
    plan_batches,
    validate_batch_size,
)

PODS = ["p%d" % i for i in range(10)]


@pytest.mark.parametrize("value, total, expected", [
    (1, 10, 1),
    (3, 10, 3),
    (30, 10, 10),
    ("4", 10, 4),
    (" 4 ", 10, 4),
    (2.0, 10, 2),
    ("10%", 10, 1),
    ("25%", 10, 3),
    ("25 %", 10, 3),
    ("33.3%", 3, 1),
    ("34%", 3, 2),
    ("50%", 5, 3),
    ("100%", 7, 7),
    ("1%", 1000, 10),
    ("0.1%", 10, 1),
    ("50%", 0, 1),
    (5, 0, 5),
])
def test_parse_batch_size(value, total, expected):
    assert parse_batch_size(value, total) == expected


@pytest.mark.parametrize("value, message", [
    (0, "batch_size must be at least 1, got 0"),
    (-2, "batch_size must be at least 1, got -2"),
    ("0", "batch_size must be at least 1, got '0'"),
    ("0%", "batch_size '0%': a percentage must be above 0% and at most 100%"),
    ("101%", "batch_size '101%': a percentage must be above 0% and at most 100%"),
    ("abc", "batch_size must be a positive integer or a percentage like '25%', got 'abc'"),
    ("", "batch_size must be a positive integer or a percentage like '25%', got ''"),
    ("-1", "batch_size must be a positive integer or a percentage like '25%', got '-1'"),
    ("%", "batch_size must be a positive integer or a percentage like '25%', got '%'"),
    ("5%%", "batch_size must be a positive integer or a percentage like '25%', got '5%%'"),
    (2.5, "batch_size must be a positive integer or a percentage like '25%', got 2.5"),
    (True, "batch_size must be a positive integer or a percentage like '25%', got True"),
    (None, "batch_size must be a positive integer or a percentage like '25%', got None"),
    ([1], "batch_size must be a positive integer or a percentage like '25%', got [1]"),
])
def test_parse_batch_size_errors(value, message):
    with pytest.raises(ValueError) as exc:
        parse_batch_size(value, 10)
    assert str(exc.value) == message


def test_error_names_the_option():
    with pytest.raises(ValueError) as exc:
        validate_batch_size("200%", "canary")
    assert str(exc.value).startswith("canary '200%'")


@pytest.mark.parametrize("batch_size, canary, expected", [
    (None, None, [PODS]),
    ("", None, [PODS]),
    (3, None, [PODS[0:3], PODS[3:6], PODS[6:9], PODS[9:]]),
    ("50%", None, [PODS[:5], PODS[5:]]),
    ("25%", None, [PODS[0:3], PODS[3:6], PODS[6:9], PODS[9:]]),
    (4, 1, [PODS[:1], PODS[1:5], PODS[5:9], PODS[9:]]),
    (None, 2, [PODS[:2], PODS[2:]]),
    ("10%", "10%", [[p] for p in PODS]),
    (20, 20, [PODS]),
    (None, "100%", [PODS]),
])
def test_plan_batches(batch_size, canary, expected):
    assert plan_batches(PODS, batch_size, canary) == expected


def test_plan_batches_percent_of_total():
    # 3 pods left of a workload of 10: 50% is 5 pods, so all three go in one batch.
    assert plan_batches(["a", "b", "c"], "50%", total=10) == [["a", "b", "c"]]
    assert plan_batches(["a", "b", "c"], "10%", total=10) == [["a"], ["b"], ["c"]]


def test_plan_batches_empty():
    assert plan_batches([], 2, 1) == []


def test_plan_batches_accepts_iterables():
    assert plan_batches(iter("abc"), 2) == [["a", "b"], ["c"]]


@pytest.mark.parametrize("batch_size, canary", [("0%", None), ("x", None), (None, "-1"), (None, "150%")])
def test_plan_batches_rejects_garbage(batch_size, canary):
    with pytest.raises(ValueError):
        plan_batches(PODS, batch_size, canary)
