# -*- coding: utf-8 -*-
# Copyright: inplace.kubernetes contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""states.py: every pod state in exactly one group, and the RETURN docs, the module result and the
upgrade_report filter all saying the same about each state."""

from __future__ import annotations

import re

import pytest
import yaml

from ansible_collections.inplace.kubernetes.plugins.filter import upgrade_report
from ansible_collections.inplace.kubernetes.plugins.module_utils._inplace import states
from ansible_collections.inplace.kubernetes.plugins.module_utils._inplace.report import run_report
from ansible_collections.inplace.kubernetes.plugins.module_utils._inplace.result import Progress
from ansible_collections.inplace.kubernetes.plugins.modules import k8s_inplace_upgrade, k8s_inplace_upgrade_info

GROUPS = {"on_target": states.ON_TARGET, "pending": states.PENDING_STATES, "failed": states.FAILED_STATES,
          "other": states.OTHER_STATES}


def values(text):
    """The ``V(...)`` values a piece of documentation names."""
    return re.findall(r"(?<![A-Z])V\(([a-z_]+)\)", text if isinstance(text, str) else " ".join(text))


def pods_state_doc():
    return yaml.safe_load(k8s_inplace_upgrade.RETURN)["pods"]["contains"]["state"]["description"]


@pytest.mark.parametrize("state", states.ALL)
def test_every_state_is_in_exactly_one_group(state):
    assert [name for name, members in GROUPS.items() if state in members] == [states.group_of(state)]


def test_the_groups_hold_only_known_states():
    assert sorted(s for members in GROUPS.values() for s in members) == sorted(states.ALL)
    with pytest.raises(ValueError):
        states.group_of("finished")


def test_the_module_docs_list_each_group_exactly():
    documented = {}
    for line in pods_state_doc():
        heading = line.split(":", 1)[0]
        documented[heading] = sorted(values(line))
    assert documented == {"On the target": sorted(states.ON_TARGET), "Pending": sorted(states.PENDING_STATES),
                          "Failed": sorted(states.FAILED_STATES),
                          "Other": sorted(set(states.OTHER_STATES) - {states.READY, states.NOT_READY})}


def test_the_summary_lists_are_documented_with_their_groups():
    docs = yaml.safe_load(k8s_inplace_upgrade.RETURN)
    assert sorted(values(docs["pending"]["description"])) == sorted(states.PENDING_STATES)
    assert sorted(values(docs["failed_pods"]["description"])) == sorted(states.FAILED_STATES)
    report = yaml.safe_load(upgrade_report.RETURN)["_value"]["contains"]
    assert sorted(values(report["failed"]["description"])) == sorted(states.FAILED_STATES)
    assert sorted(values(report["left"]["description"])) == sorted(states.ON_TARGET)


def test_the_info_module_documents_only_known_states():
    documented = values(yaml.safe_load(k8s_inplace_upgrade_info.RETURN)["pods"]["description"])
    assert documented and set(documented) <= set(states.ALL)


class Requests(object):
    requests = 0


@pytest.mark.parametrize("state", states.ALL)
def test_result_and_report_put_each_state_where_its_group_says(state):
    progress = Progress(Requests(), {"namespace": "ns", "name": "web"})
    progress.entries["web-0"] = {"name": "web-0", "state": state}
    result = progress.result(changed=False)
    group = states.group_of(state)
    assert (result["pending"] == ["web-0"]) is (group == "pending")
    assert (result["failed_pods"] == ["web-0"]) is (group == "failed")
    report = run_report({"pods": [{"name": "web-0", "state": states.NEEDS_UPGRADE}]}, [result])
    assert (report["failed"] == ["web-0"]) is (group == "failed")
    assert (report["left"] == ["web-0"]) is (group in ("pending", "other"))


def test_a_timeout_is_a_failure_everywhere():
    assert states.group_of(states.TIMED_OUT) == "failed"
    assert "V(timed_out)" in pods_state_doc()[2]
