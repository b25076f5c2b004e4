# -*- coding: utf-8 -*-
# Copyright: inplace.kubernetes contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: maintenance_window
short_description: Whether now is inside a daily maintenance window, and when the window ends
version_added: 0.1.0
author:
  - inplace.kubernetes maintainers (@inplace-kubernetes)
description:
  - Takes a daily window C({start, end, timezone}) and tells whether the current time (or O(now)) is inside it.
  - Inside the window, RV(_value.not_after) is the end of the window as an ISO 8601 date-time with UTC offset,
    ready for the C(not_after) option of M(inplace.kubernetes.k8s_inplace_upgrade).
  - An O(_input.end) at or before O(_input.start) means the window runs past midnight (V(22:00) to V(02:00)).
  - Times are wall-clock times in the window's time zone, so the window keeps its local hours across
    daylight-saving changes.
  - A bad time or time zone raises an error that names the part and the reason.
options:
  _input:
    description: The window.
    type: dict
    required: true
    suboptions:
      start:
        description: Time of day the window opens, V(HH:MM) or V(HH:MM:SS) (24-hour clock). Quote it in YAML.
        type: str
        required: true
      end:
        description: Time of day the window closes, V(HH:MM) or V(HH:MM:SS).
        type: str
        required: true
      timezone:
        description: IANA time zone name of O(_input.start) and O(_input.end).
        type: str
        default: UTC
  now:
    description:
      - The moment to judge, as an ISO 8601 date-time with offset. Defaults to the current time.
    type: str
"""

EXAMPLES = r"""
- name: Where are we relative to tonight's window?
  ansible.builtin.set_fact:
    window: "{{ {'start': '22:00', 'end': '02:30', 'timezone': 'Europe/Berlin'} | inplace.kubernetes.maintenance_window }}"

- name: Upgrade only inside the window, and stop between batches when it closes
  inplace.kubernetes.k8s_inplace_upgrade:
    name: web
    namespace: shop
    containers: {app: registry.example.com/shop/app:2.4.1}
    batch_size: 25%
    not_after: "{{ window.not_after }}"
  when: window.inside

- name: Judge a fixed moment (tests, reports)
  ansible.builtin.debug:
    msg: "{{ {'start': '02:00', 'end': '04:00'} | inplace.kubernetes.maintenance_window(now='2026-11-25T03:00:00+00:00') }}"
"""

RETURN = r"""
_value:
  description: Where now stands relative to the window.
  type: dict
  contains:
    inside:
      description: Whether now is inside the window.
      type: bool
    start:
      description: When the current window opened (inside) or the next one opens (outside), ISO 8601 with offset.
      type: str
      sample: "2026-11-25T22:00:00+01:00"
    end:
      description: When the current (inside) or next (outside) window closes, ISO 8601 with offset.
      type: str
    not_after:
      description: The end of the current window when inside, else null. Pass it to C(not_after).
      type: str
    seconds_left:
      description: Seconds until the window closes (inside only).
      type: int
    opens_in_seconds:
      description: Seconds until the next window opens (outside only).
      type: int
    timezone:
      description: The window's time zone.
      type: str
    now:
      description: The moment judged, in the window's time zone.
      type: str
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.inplace.kubernetes.plugins.module_utils._inplace.window import WindowError, evaluate


def maintenance_window(window, now=None):
    """Where ``now`` stands relative to a daily maintenance window."""
    try:
        return evaluate(window, now)
    except WindowError as exc:
        raise AnsibleFilterError(str(exc)) from exc


class FilterModule(object):
    """inplace.kubernetes filters."""

    def filters(self):
        return {"maintenance_window": maintenance_window}
