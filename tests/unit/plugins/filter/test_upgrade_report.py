# -*- coding: utf-8 -*-
# Copyright: inplace.kubernetes contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The upgrade_report filter: wiring and input errors (the account itself is tested in test_report.py)."""

from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.inplace.kubernetes.plugins.filter.upgrade_report import FilterModule


def test_filter_is_registered_and_accounts_for_the_results():
    report = FilterModule().filters()["upgrade_report"](
        {"pods": [{"name": "web-a", "state": "needs_upgrade"}], "already_current": []},
        results=[{"pods": [{"name": "web-a", "state": "upgraded"}], "patched": ["web-a"], "template_synced": True}])
    assert report["upgraded"] == ["web-a"] and report["template_synced"] is True


@pytest.mark.parametrize("plan, results", [("not a plan", []), ({}, "nope"), ({}, ["nope"])])
def test_bad_input_is_a_filter_error(plan, results):
    with pytest.raises(AnsibleFilterError):
        FilterModule().filters()["upgrade_report"](plan, results=results)
