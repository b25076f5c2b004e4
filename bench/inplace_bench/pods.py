# Copyright (c) inplace.kubernetes maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pod-status predicates on kubernetes client objects (pure): Ready, and Ready on the new image."""

from __future__ import annotations

from inplace_bench.workload import CONTAINER


def pod_ready(pod):
    conds = {c.type: c.status for c in (pod.status.conditions or [])}
    return pod.metadata.deletion_timestamp is None and conds.get("Ready") == "True"


def pod_upgraded(pod, status_image):
    cs = [c for c in (pod.status.container_statuses or []) if c.name == CONTAINER]
    return bool(cs and cs[0].image == status_image and cs[0].ready and cs[0].state
                and cs[0].state.running and pod_ready(pod))
