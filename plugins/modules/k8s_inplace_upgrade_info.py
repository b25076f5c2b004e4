#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: inplace.kubernetes contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: k8s_inplace_upgrade_info
short_description: Report a workload's pods, their images and what an in-place upgrade would do
version_added: 0.1.0
description:
  - Read-only companion of M(inplace.kubernetes.k8s_inplace_upgrade). Finds the live pods of a workload the same way
    and reports each pod's images, readiness and, when O(containers) or O(image) is given, whether it still needs
    the upgrade, with the batches an upgrade would run and the PodDisruptionBudgets that cover the pods.
author:
  - inplace.kubernetes maintainers (@inplace-kubernetes)
extends_documentation_fragment:
  - inplace.kubernetes.auth
  - inplace.kubernetes.target
attributes:
  check_mode:
    description: Can run in check mode and report what would change without changing it.
    support: full
    details: The module never changes anything.
  diff_mode:
    description: Returns details on what has changed (or would change, in check mode).
    support: none
options:
  pods:
    description:
      - Only report these pods (by name).
    type: list
    elements: str
  max_pods:
    description:
      - Plan at most this many of the pods that still need the upgrade.
    type: int
  batch_size:
    description:
      - Plan batches of this many pods (integer or percentage of the workload's pods, rounded up, at least one).
    type: str
  canary:
    description:
      - Size of a first batch before O(batch_size) applies.
    type: str
  rollback:
    description:
      - Plan against the images recorded before the last upgrade instead of O(containers).
    type: bool
    default: false
seealso:
  - module: inplace.kubernetes.k8s_inplace_upgrade
"""

EXAMPLES = r"""
- name: Which pods of web still need app 2.4.1, in batches of 25%
  inplace.kubernetes.k8s_inplace_upgrade_info:
    name: web
    namespace: shop
    containers:
      app: registry.example.com/shop/app:2.4.1
    batch_size: 25%
  register: plan

- name: Show the plan
  ansible.builtin.debug:
    msg: "{{ plan.needs_upgrade | length }} pods to upgrade in {{ plan.planned_batches | length }} batches"
"""

RETURN = r"""
owner:
  description: The workload (kind, name, namespace, replicas, uid, selector).
  returned: always
  type: dict
targets:
  description: Container name to target image, when given.
  returned: always
  type: dict
pods:
  description: One entry per live pod, as in M(inplace.kubernetes.k8s_inplace_upgrade) (C(state) is V(current),
    V(needs_upgrade), V(in_progress), V(skipped) (mirror pod), V(ready) or V(not_ready)); the reason names
    containers whose change would be spec-only.
  returned: always
  type: list
  elements: dict
resources:
  description: Container name to the CPU/memory planned (O(resources)); empty without it.
  returned: always
  type: dict
needs_upgrade:
  description: Pods whose spec does not have the target images (or O(resources)) yet.
  returned: always
  type: list
  elements: str
in_progress:
  description:
    - Pods whose spec has the target images but that do not run them Ready yet; with O(resources), also pods
      whose spec has the new resources but whose kubelet does not report them yet.
  returned: always
  type: list
  elements: str
already_current:
  description: Pods that run the target images and are Ready.
  returned: always
  type: list
  elements: str
spec_only:
  description:
    - Pods with a change the kubelet would never apply to the live pod (a regular init container that has run);
      M(inplace.kubernetes.k8s_inplace_upgrade) refuses them unless O(inplace.kubernetes.k8s_inplace_upgrade#module:allow_spec_only=true).
  returned: always
  type: list
  elements: str
skipped:
  description: Mirror pods of static pods, never patched.
  returned: always
  type: list
  elements: str
not_ready:
  description: Pods that are not Ready now.
  returned: always
  type: list
  elements: str
planned_batches:
  description: The batches an upgrade would run, as lists of pod names.
  returned: always
  type: list
  elements: list
template_images:
  description: Container name to image in the owner's pod template.
  returned: always
  type: dict
template_current:
  description: Whether the owner's template already has the target images.
  returned: always
  type: bool
pending_template_sync:
  description: Whether an interrupted template sync is recorded on the owner (the next upgrade run finishes it).
  returned: always
  type: bool
last_upgrade:
  description: The record of the last upgrade (C(time), C(target), C(previous)), or null.
  returned: always
  type: dict
disruption_budgets:
  description: PodDisruptionBudgets covering the pods, with C(name), C(disruptions_allowed) and the C(pods) covered.
  returned: always
  type: list
  elements: dict
api_requests:
  description: Number of API requests made.
  returned: always
  type: int
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.inplace.kubernetes.plugins.module_utils._inplace.args import (
    AUTH_ARG_SPEC,
    PLAN_ARG_SPEC,
    TARGET_ARG_SPEC,
    TARGET_REQUIRED_ONE_OF,
    argument_spec,
)
from ansible_collections.inplace.kubernetes.plugins.module_utils._inplace.client import connect
from ansible_collections.inplace.kubernetes.plugins.module_utils._inplace.deps import check_dependencies
from ansible_collections.inplace.kubernetes.plugins.module_utils._inplace.errors import InplaceError
from ansible_collections.inplace.kubernetes.plugins.module_utils._inplace.planning import describe, validate


def main():
    module = AnsibleModule(
        argument_spec=argument_spec(AUTH_ARG_SPEC, TARGET_ARG_SPEC, PLAN_ARG_SPEC),
        required_one_of=TARGET_REQUIRED_ONE_OF,
        mutually_exclusive=[("containers", "image")],
        supports_check_mode=True,
    )
    check_dependencies(module)
    try:
        validate(module.params, require_targets=False)
        result = describe(connect(module), module.params)
    except InplaceError as exc:
        module.fail_json(msg=exc.msg, **exc.details)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
