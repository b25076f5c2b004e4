#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: inplace.kubernetes contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: k8s_inplace_lease
short_description: Take, renew or release the Lease that keeps two upgrade runs off one workload
version_added: 0.1.0
description:
  - Uses a C(coordination.k8s.io/v1) Lease in the workload's namespace as a lock, so that only one upgrade run
    works on a workload at a time.
  - O(state=present) creates the Lease for O(holder), renews it when O(holder) already holds it, and takes it over
    when the previous holder's lease has expired (C(renewTime) plus C(leaseDurationSeconds) in the past). A lease
    that another holder still holds is refused with a message naming the holder and when the lease expires.
  - O(state=absent) deletes the Lease only when O(holder) holds it; a lease held by someone else is left alone.
  - Every write carries the Lease's C(resourceVersion) (deletes a precondition), so two runs racing for a stale
    lease cannot both win.
author:
  - inplace.kubernetes maintainers (@inplace-kubernetes)
extends_documentation_fragment:
  - inplace.kubernetes.auth
attributes:
  check_mode:
    description: Can run in check mode and report what would change without changing it.
    support: full
    details: Writes are sent as server-side dry runs; a lease held by someone else is refused in check mode too.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check mode), when in diff mode.
    support: none
options:
  name:
    description:
      - Name of the Lease. Defaults to C(inplace-upgrade-<kind>-<workload>), lowercased.
      - One of O(name) and O(workload) is required.
    type: str
  workload:
    description:
      - Name of the workload the lease protects; used to derive O(name).
    type: str
  kind:
    description:
      - Kind of the workload, used to derive O(name).
    type: str
    default: Deployment
    choices: [Deployment, StatefulSet, DaemonSet]
  namespace:
    description:
      - Namespace of the Lease (the workload's namespace).
    type: str
    default: default
  holder:
    description:
      - Identity of this run, written to C(spec.holderIdentity).
      - Defaults to C(<controller hostname>-<pid>-<random>), returned as RV(holder); pass that value to later
        calls that renew or release the lease.
    type: str
  duration_seconds:
    description:
      - How long the lease stays valid after it was taken or last renewed (C(leaseDurationSeconds)). A run that
        dies without releasing it blocks other runs this long.
    type: int
    default: 600
  state:
    description:
      - V(present) takes or renews the lease; V(absent) releases it if O(holder) holds it.
    type: str
    default: present
    choices: [present, absent]
notes:
  - Expiry is judged with the controller's clock in UTC; keep controller clocks in sync.
  - Needs C(get), C(create), C(update) and C(delete) on C(leases.coordination.k8s.io) in the namespace.
  - The role C(inplace.kubernetes.inplace_upgrade) takes this lease at the start of a run and releases it at the end.
seealso:
  - module: inplace.kubernetes.k8s_inplace_upgrade
"""

EXAMPLES = r"""
- name: Take the lease for the upgrade of Deployment web
  inplace.kubernetes.k8s_inplace_lease:
    kind: Deployment
    workload: web
    namespace: shop
    duration_seconds: 900
  register: lease

- name: Release it at the end
  inplace.kubernetes.k8s_inplace_lease:
    kind: Deployment
    workload: web
    namespace: shop
    holder: "{{ lease.holder }}"
    state: absent
"""

RETURN = r"""
changed:
  description: Whether the lease was taken, taken over or released (renewing a lease already held is not a change).
  returned: always
  type: bool
action:
  description: V(acquired), V(took_over), V(renewed), V(released), V(absent) (no lease to release) or V(not_ours)
    (held by someone else, left alone).
  returned: always
  type: str
holder:
  description: The holder identity this call used.
  returned: always
  type: str
  sample: awx-task-7f9c-41233-9b1e0c2a
lease:
  description: The Lease as it is after the call (before it, for V(released)).
  returned: always
  type: dict
  contains:
    name: {description: Name of the Lease., type: str, returned: when a lease exists}
    namespace: {description: Its namespace., type: str, returned: when a lease exists}
    holder: {description: C(spec.holderIdentity)., type: str, returned: when a lease exists}
    duration_seconds: {description: C(spec.leaseDurationSeconds)., type: int, returned: when a lease exists}
    acquire_time: {description: C(spec.acquireTime)., type: str, returned: when a lease exists}
    renew_time: {description: C(spec.renewTime)., type: str, returned: when a lease exists}
    expires: {description: When the lease expires (UTC)., type: str, returned: when a lease exists}
    transitions: {description: C(spec.leaseTransitions)., type: int, returned: when a lease exists}
previous_holder:
  description: The holder of the expired lease that was taken over.
  returned: when RV(action=took_over)
  type: str
held_by_other:
  description: Set when the call failed because another holder's lease has not expired.
  returned: on failure
  type: bool
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.inplace.kubernetes.plugins.module_utils._inplace.args import (
    AUTH_ARG_SPEC,
    LEASE_HOLD_SPEC,
    argument_spec,
    with_defaults,
)
from ansible_collections.inplace.kubernetes.plugins.module_utils._inplace.client import connect
from ansible_collections.inplace.kubernetes.plugins.module_utils._inplace.deps import check_dependencies
from ansible_collections.inplace.kubernetes.plugins.module_utils._inplace.errors import InplaceError
from ansible_collections.inplace.kubernetes.plugins.module_utils._inplace.inputs import check_name
from ansible_collections.inplace.kubernetes.plugins.module_utils._inplace.lease import LeaseLock, default_holder, lease_name

LEASE_ARG_SPEC = {
    "name": {"type": "str"},
    "workload": {"type": "str"},
    "kind": {"type": "str", "default": "Deployment", "choices": ["Deployment", "StatefulSet", "DaemonSet"]},
    "namespace": {"type": "str", "default": "default"},
    "state": {"type": "str", "default": "present", "choices": ["present", "absent"]},
}


def main():
    module = AnsibleModule(
        argument_spec=argument_spec(AUTH_ARG_SPEC, LEASE_ARG_SPEC, with_defaults(LEASE_HOLD_SPEC, duration_seconds=600)),
        required_one_of=[("name", "workload")],
        supports_check_mode=True,
    )
    check_dependencies(module)
    params = module.params
    holder = params["holder"] or default_holder()
    try:
        check_name(params["namespace"], "namespace", label=True)
        name = params["name"] or lease_name(params["kind"], check_name(params["workload"], "workload"))
        check_name(name, "lease name")
        lock = LeaseLock(connect(module), params["namespace"], name, holder, params["duration_seconds"])
        result = lock.acquire() if params["state"] == "present" else lock.release()
    except InplaceError as exc:
        module.fail_json(msg=exc.msg, holder=holder, **exc.details)
    module.exit_json(holder=holder, **result)


if __name__ == "__main__":
    main()
