# -*- coding: utf-8 -*-
# Copyright: inplace.kubernetes contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Batch planning (pure): batch sizes as counts or percentages, canary first."""

from __future__ import annotations

import math
import re

_PERCENT_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*%\s*$")
_INT_RE = re.compile(r"^\s*(\d+)\s*$")


def parse_batch_size(value, total, what="batch_size"):
    """Turn an int or ``"N%"`` into a pod count for ``total`` pods.

    Percentages are of ``total`` and rounded up, to at least one pod; a count larger than
    ``total`` is capped. Raises ``ValueError`` with a message for anything else.
    """
    if isinstance(value, bool):
        raise ValueError("%s must be a positive integer or a percentage like '25%%', got %r" % (what, value))
    if isinstance(value, int):
        count = value
    elif isinstance(value, float) and value.is_integer():
        count = int(value)
    elif isinstance(value, str) and _INT_RE.match(value):
        count = int(value)
    elif isinstance(value, str) and _PERCENT_RE.match(value):
        percent = float(_PERCENT_RE.match(value).group(1))
        if percent <= 0 or percent > 100:
            raise ValueError("%s %r: a percentage must be above 0%% and at most 100%%" % (what, value))
        return max(1, min(total, int(math.ceil(total * percent / 100.0)))) if total else 1
    else:
        raise ValueError("%s must be a positive integer or a percentage like '25%%', got %r" % (what, value))
    if count < 1:
        raise ValueError("%s must be at least 1, got %r" % (what, value))
    return max(1, min(count, total)) if total else count


def validate_batch_size(value, what="batch_size"):
    """Raise ``ValueError`` when ``value`` can never be a batch size (checked before any API call)."""
    parse_batch_size(value, 100, what)


def plan_batches(names, batch_size=None, canary=None, total=None):
    """Split ``names`` into batches: ``canary`` pods first (if given), then ``batch_size`` at a time.

    ``total`` is the pod count that percentages refer to (the workload's pods, not only the ones
    still to do); it defaults to ``len(names)``.
    """
    names = list(names)
    if not names:
        return []
    total = len(names) if total is None else max(total, 1)
    size = len(names) if batch_size in (None, "", 0) else parse_batch_size(batch_size, total)
    batches = []
    rest = names
    if canary not in (None, "", 0):
        first = parse_batch_size(canary, total, "canary")
        batches.append(rest[:first])
        rest = rest[first:]
    while rest:
        batches.append(rest[:size])
        rest = rest[size:]
    return batches
