# -*- coding: utf-8 -*-
# Copyright: inplace.kubernetes contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: upgrade_report
short_description: What an in-place upgrade run did to each pod, from its plan and module results
version_added: 0.1.0
author:
  - inplace.kubernetes maintainers (@inplace-kubernetes)
description:
  - Combines the result of M(inplace.kubernetes.k8s_inplace_upgrade_info) (the plan) with the results of one or
    more M(inplace.kubernetes.k8s_inplace_upgrade) calls into one per-pod account, as the
    P(inplace.kubernetes.inplace_upgrade#role) role reports it.
  - A later result's entry for a pod wins over an earlier one and over the plan.
options:
  _input:
    description: The plan, the registered result of M(inplace.kubernetes.k8s_inplace_upgrade_info).
    type: dict
    required: true
  results:
    description: The registered results of M(inplace.kubernetes.k8s_inplace_upgrade), in the order they ran.
    type: list
    elements: dict
    default: []
  failed_result:
    description: The result of a task that failed; counted when it reports pods.
    type: dict
    default: {}
  rolled_back:
    description: Names of pods rolled back outside those results (for example by a rescue task).
    type: list
    elements: str
    default: []
"""

EXAMPLES = r"""
- name: Account for a run
  ansible.builtin.set_fact:
    report: "{{ plan | inplace.kubernetes.upgrade_report(results=[upgrade]) }}"
"""

RETURN = r"""
_value:
  description: The per-pod account.
  type: dict
  contains:
    pods:
      description: Every pod seen, by name, with its last reported entry (state, containers, reason).
      type: list
      elements: dict
    upgraded:
      description: Pods patched by the run that ended on the target images (state V(upgraded) or V(current)).
      type: list
      elements: str
    spec_only:
      description: Pods whose change was accepted as spec-only (state V(spec_only)); they count as on the target.
      type: list
      elements: str
    already_current:
      description: Pods that were on the target images before the run.
      type: list
      elements: str
    rolled_back:
      description: Pods restored to their previous images.
      type: list
      elements: str
    failed:
      description: Pods in a failed state (V(failed), V(timed_out), V(conflict), V(error), V(rollback_failed)),
        the same group as the module's RV(inplace.kubernetes.k8s_inplace_upgrade#module:failed_pods).
      type: list
      elements: str
    left:
      description: Pods neither on the target (V(current), V(upgraded), V(spec_only)) nor failed (not reached,
        pending, rolled back, vanished, skipped).
      type: list
      elements: str
    template_synced:
      description: Whether the owner's template is on the target images after the last call.
      type: bool
    disruption_budget_notes:
      description: What PodDisruptionBudgets limited, from every call.
      type: list
      elements: str
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.inplace.kubernetes.plugins.module_utils._inplace.report import run_report


def upgrade_report(plan, results=None, failed_result=None, rolled_back=None):
    if not isinstance(plan, dict):
        raise AnsibleFilterError("upgrade_report expects the plan (a dict) as input, got %s" % type(plan).__name__)
    if not isinstance(results or [], list) or not all(isinstance(r, dict) for r in results or []):
        raise AnsibleFilterError("upgrade_report: results must be a list of module results")
    return run_report(plan, results or [], failed_result or {}, rolled_back or [])


class FilterModule(object):
    def filters(self):
        return {"upgrade_report": upgrade_report}
