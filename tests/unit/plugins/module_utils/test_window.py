# -*- coding: utf-8 -*-
# Copyright: inplace.kubernetes contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Maintenance windows (pure): inside/outside, past midnight, time zones, bad input."""

from __future__ import annotations

import pytest

from ansible_collections.inplace.kubernetes.plugins.module_utils._inplace.window import WindowError, evaluate


@pytest.mark.parametrize("window, now, inside, end", [
    ({"start": "02:00", "end": "04:00"}, "2026-11-25T03:00:00+00:00", True, "2026-11-25T04:00:00+00:00"),
    ({"start": "02:00", "end": "04:00"}, "2026-11-25T04:00:00+00:00", False, "2026-11-26T04:00:00+00:00"),
    ({"start": "02:00", "end": "04:00"}, "2026-11-25T01:59:59+00:00", False, "2026-11-25T04:00:00+00:00"),
    # Past midnight, both sides of it.
    ({"start": "22:00", "end": "02:30"}, "2026-11-25T23:00:00+00:00", True, "2026-11-26T02:30:00+00:00"),
    ({"start": "22:00", "end": "02:30"}, "2026-11-26T01:00:00+00:00", True, "2026-11-26T02:30:00+00:00"),
    ({"start": "22:00", "end": "02:30"}, "2026-11-26T12:00:00+00:00", False, "2026-11-27T02:30:00+00:00"),
    # Local hours in a time zone; now given in UTC.
    ({"start": "02:00", "end": "04:00", "timezone": "Europe/Berlin"}, "2026-11-25T02:30:00+00:00", True,
     "2026-11-25T04:00:00+01:00"),
    ({"start": "02:00", "end": "04:00", "timezone": "Europe/Berlin"}, "2026-07-01T01:30:00+00:00", True,
     "2026-07-01T04:00:00+02:00"),
    ({"start": "02:00:30", "end": "02:00:45"}, "2026-11-25T02:00:40Z", True, "2026-11-25T02:00:45+00:00"),
])
def test_inside_and_end(window, now, inside, end):
    result = evaluate(window, now)
    assert result["inside"] is inside
    assert result["end"] == end
    assert result["not_after"] == (end if inside else None)
    assert ("seconds_left" in result) is inside and ("opens_in_seconds" in result) is not inside


@pytest.mark.parametrize("window, fragment", [
    ({"start": "25:00", "end": "04:00"}, "hours 00-23"),
    ({"start": "2am", "end": "04:00"}, "not a time of day"),
    ({"start": 120, "end": "04:00"}, "quote it"),
    ({"start": "02:00", "end": "04:00", "timezone": "Mars/Olympus"}, "not a known IANA time zone"),
    ({"start": "02:00", "end": "04:00", "timezone": ""}, "IANA time zone name"),
    ({"start": "02:00", "end": "02:00"}, "empty window"),
    ({"start": "02:00"}, "needs end"),
    ({"start": "02:00", "end": "04:00", "tz": "UTC"}, "unknown maintenance window keys tz"),
    ("02:00-04:00", "must be a dictionary"),
])
def test_bad_windows_have_clear_messages(window, fragment):
    with pytest.raises(WindowError) as caught:
        evaluate(window, "2026-11-25T03:00:00+00:00")
    assert fragment in str(caught.value)


def test_now_needs_an_offset():
    with pytest.raises(WindowError, match="no UTC offset"):
        evaluate({"start": "02:00", "end": "04:00"}, "2026-11-25T03:00:00")
