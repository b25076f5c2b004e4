# Copyright (c) inplace.kubernetes maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Physical limits: the cost model of one restart and how many of them each scenario waits for (pure)."""

from __future__ import annotations

import math

# What a restart in place costs beyond the container start itself, on the real kubelet: the PLEG relists
# every 1 s before the kubelet sees the new container running, and the exec readinessProbe
# (periodSeconds 1, tests/cluster/helpers.py) passes within one period after that. The model counts one
# second for both (each is 0-1 s).
KUBELET_LAG_SECONDS = 1.0
READINESS_PERIOD_SECONDS = 1  # periodSeconds of the exec readinessProbe (tests/cluster/helpers.py)


def restart_seconds(container_start, readiness_delay=0.0):
    """The modelled cost of one container (re)start: the fault layer's start delay, the readiness
    probe's initialDelaySeconds and the kubelet's lag."""
    return container_start + readiness_delay + KUBELET_LAG_SECONDS


def rolling_waves(n, surge_pct=25, unavail_pct=25):
    """Waves of pod starts a 25%/25% rolling update needs, in the deployment controller's own
    arithmetic (surge rounded up, unavailable rounded down, counts from ReplicaSet specs), if every
    new pod took exactly one sandbox + container start and the controllers reacted instantly."""
    surge = math.ceil(n * surge_pct / 100)
    unavail = math.floor(n * unavail_pct / 100)
    if surge == 0 and unavail == 0:
        unavail = 1
    old, new, new_ready, waves = n, 0, 0, 0
    while True:
        for _step in range(4 * n + 4):  # settle scale-up / scale-down instantly
            changed = False
            up = min(n, n + surge - old) if old + new < n + surge else new
            if up > new:
                new, changed = up, True
            max_down = (old + new) - (n - unavail) - (new - new_ready)
            if max_down > 0 and old > 0:
                old, changed = old - min(old, max_down), True
            if not changed:
                break
        if new_ready == n and old == 0:
            return waves
        if new_ready == new:
            raise RuntimeError("rolling update model stuck at old=%d new=%d" % (old, new))
        new_ready = new
        waves += 1


def role_batches(n, pct=25):
    size = max(1, math.ceil(n * pct / 100))
    return math.ceil(n / size)
