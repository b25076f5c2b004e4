# -*- coding: utf-8 -*-
# Copyright: inplace.kubernetes contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: batch_failure
short_description: The message of a batch that failed in the inplace_upgrade role, and what its rescue rolled back
version_added: 0.1.0
author:
  - inplace.kubernetes maintainers (@inplace-kubernetes)
description:
  - Used by the P(inplace.kubernetes.inplace_upgrade#role) role when it runs batch by batch (with health tasks); it
    composes the failure message of a batch from the failed task's result, with the role's batch numbering,
    in the same words as M(inplace.kubernetes.k8s_inplace_upgrade) (the text is written in one place).
options:
  _input:
    description: The batch as V(2/4).
    type: str
    required: true
  pods:
    description: The pods of the batch.
    type: list
    elements: str
    default: []
  phase:
    description: Where the batch failed, V(upgrade) (the module call) or V(health) (the health tasks).
    type: str
    default: upgrade
  on_failure:
    description: The role's O(inplace.kubernetes.k8s_inplace_upgrade#module:on_failure).
    type: str
    default: rollback
  error:
    description: The failed task's message.
    type: str
    default: ""
  failed_result:
    description: The failed task's result (its C(failed_batch) gives the module's account of the batch).
    type: dict
    default: {}
  window_closed:
    description: The run stopped between batches because the maintenance window closed.
    type: bool
    default: false
  not_after:
    description: The end of the maintenance window, for the message.
    type: str
  left:
    description: The pods left on the old images when the window closed.
    type: list
    elements: str
    default: []
  undo_pods:
    description: The pods the rescue asked to roll back.
    type: list
    elements: str
    default: []
  undo_result:
    description: The result of the rescue's rollback call.
    type: dict
    default: {}
"""

EXAMPLES = r"""
- name: Compose the failure message of a batch
  ansible.builtin.set_fact:
    failure: "{{ '2/4' | inplace.kubernetes.batch_failure(pods=batch, phase='health', error=ansible_failed_result.msg) }}"
"""

RETURN = r"""
_value:
  description: The message and the pods the rescue rolled back.
  type: dict
  contains:
    message:
      description: The failure message.
      type: str
    rolled_back:
      description: The pods the rescue's rollback call restored.
      type: list
      elements: str
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.inplace.kubernetes.plugins.module_utils._inplace.failure_text import role_batch_failed


def batch_failure(
    label,
    pods=None,
    phase="upgrade",
    on_failure="rollback",
    error="",
    failed_result=None,
    window_closed=False,
    not_after=None,
    left=None,
    undo_pods=None,
    undo_result=None,
):
    if phase not in ("upgrade", "health"):
        raise AnsibleFilterError("batch_failure: phase must be upgrade or health, got %r" % (phase,))
    return role_batch_failed(
        str(label),
        list(pods or []),
        phase,
        on_failure,
        error,
        failed_result=failed_result or {},
        window_closed=bool(window_closed),
        not_after=not_after,
        left=left,
        undo_pods=undo_pods,
        undo_result=undo_result or {},
    )


class FilterModule(object):
    def filters(self):
        return {"batch_failure": batch_failure}
