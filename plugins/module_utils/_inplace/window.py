# -*- coding: utf-8 -*-
# Copyright: inplace.kubernetes contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Daily maintenance windows (pure): is now inside, and when does the window end.

A window is ``{start: "HH:MM", end: "HH:MM", timezone: "Europe/Berlin"}`` (seconds optional);
an ``end`` at or before ``start`` means the window runs past midnight. Times are wall-clock times
in the window's time zone, so a window keeps its local hours across daylight-saving changes.
"""

from __future__ import annotations

import datetime
import importlib
import re


def _zoneinfo():
    try:
        return importlib.import_module("zoneinfo")
    except ImportError:  # pragma: no cover - Python < 3.9
        return None


ZONEINFO = _zoneinfo()

_TIME_RE = re.compile(r"^\s*(\d{1,2}):(\d{2})(?::(\d{2}))?\s*$")
KEYS = ("start", "end", "timezone")


class WindowError(ValueError):
    """A window that cannot be understood; the message says which part and why."""


def parse_clock(value, what):
    """``"HH:MM"`` or ``"HH:MM:SS"`` as a ``datetime.time``."""
    if isinstance(value, bool) or not isinstance(value, str):
        hint = ""
        if isinstance(value, int) and not isinstance(value, bool):
            hint = ' (YAML reads an unquoted 02:00 as the number %d: quote it, "02:00")' % value
        raise WindowError('window %s must be a string "HH:MM", got %r%s' % (what, value, hint))
    match = _TIME_RE.match(value)
    if not match:
        raise WindowError('window %s %r is not a time of day "HH:MM" (24-hour clock)' % (what, value))
    hour, minute, second = int(match.group(1)), int(match.group(2)), int(match.group(3) or 0)
    if hour > 23 or minute > 59 or second > 59:
        raise WindowError("window %s %r is not a time of day: hours 00-23, minutes and seconds 00-59" % (what, value))
    return datetime.time(hour, minute, second)


def parse_zone(name):
    if ZONEINFO is None:  # pragma: no cover
        raise WindowError("time zones need Python 3.9 or later (zoneinfo)")
    if not isinstance(name, str) or not name.strip():
        raise WindowError('window timezone must be an IANA time zone name such as "UTC" or "Europe/Berlin", got %r' % (name,))
    try:
        return ZONEINFO.ZoneInfo(name.strip())
    except (ZONEINFO.ZoneInfoNotFoundError, ValueError, OSError):
        raise WindowError('window timezone %r is not a known IANA time zone (such as "UTC" or "Europe/Berlin")' % name) from None


def parse_timestamp(value):
    """An ISO 8601 date-time (``Z`` allowed for UTC) as a datetime, naive if it has no offset.

    Raises ``ValueError`` for anything else. The one parser of timestamps in the collection.
    """
    text = str(value).strip()
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    return datetime.datetime.fromisoformat(text)


def parse_now(value):
    """``None`` (the real clock), an aware datetime, or an ISO 8601 string with offset."""
    if value is None or value == "":
        return datetime.datetime.now(datetime.timezone.utc)
    if isinstance(value, datetime.datetime):
        moment = value
    else:
        try:
            moment = parse_timestamp(value)
        except ValueError:
            raise WindowError("now %r is not an ISO 8601 date-time" % (value,)) from None
    if moment.tzinfo is None:
        raise WindowError("now %r has no UTC offset" % (value,))
    return moment


def _at(day, clock, zone):
    """The aware moment of wall-clock ``clock`` on ``day`` in ``zone`` (normalised through UTC)."""
    local = datetime.datetime.combine(day, clock).replace(tzinfo=zone)
    return local.astimezone(datetime.timezone.utc).astimezone(zone)


def evaluate(window, now=None):
    """Where ``now`` stands relative to a daily window.

    Returns ``inside``, ``start`` and ``end`` (ISO 8601 with offset: the current window when inside,
    else the next one), ``not_after`` (the end of the current window, or ``None`` outside),
    ``seconds_left`` (inside) or ``opens_in_seconds`` (outside), ``timezone`` and ``now``.
    """
    if not isinstance(window, dict):
        raise WindowError("a maintenance window must be a dictionary {start, end, timezone}, got %s" % type(window).__name__)
    unknown = sorted(set(window) - set(KEYS))
    if unknown:
        raise WindowError("unknown maintenance window keys %s: use start, end and timezone" % ", ".join(unknown))
    missing = [key for key in ("start", "end") if key not in window]
    if missing:
        raise WindowError('maintenance window needs %s ("HH:MM")' % " and ".join(missing))
    start = parse_clock(window["start"], "start")
    end = parse_clock(window["end"], "end")
    if start == end:
        raise WindowError("window start and end are both %s: an empty window; leave the window out to allow any time" % window["start"])
    zone = parse_zone(window.get("timezone", "UTC"))
    moment = parse_now(now).astimezone(zone)
    today = moment.date()
    one_day = datetime.timedelta(days=1)
    windows = []
    for offset in (-1, 0, 1):
        day = today + offset * one_day
        opens = _at(day, start, zone)
        closes = _at(day + (one_day if end <= start else datetime.timedelta(0)), end, zone)
        windows.append((opens, closes))
    result = {"timezone": str(zone.key), "now": moment.isoformat()}
    for opens, closes in windows:
        if opens <= moment < closes:
            result.update(
                inside=True, start=opens.isoformat(), end=closes.isoformat(), not_after=closes.isoformat(), seconds_left=int((closes - moment).total_seconds())
            )
            return result
    opens, closes = min((w for w in windows if w[0] > moment), key=lambda w: w[0])
    result.update(inside=False, start=opens.isoformat(), end=closes.isoformat(), not_after=None, opens_in_seconds=int((opens - moment).total_seconds()))
    return result
