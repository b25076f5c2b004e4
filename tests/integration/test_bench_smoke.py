# Copyright (c) inplace.kubernetes maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The benchmark (bench/run.py) still runs: its smoke mode, N=5, every scenario.

The smoke mode starts its own control plane, runs the five scenarios on 5 pods and a discovery
check on 5 and 20 pods, and exits non-zero when a scenario fails functionally (pods not on the
new image, pods recreated by an in-place scenario, discovery request counts that differ). Wall-clock
times are printed, never asserted. The first run creates the benchmark's own venv with the
`ansible` package (for kubernetes.core) under ~/.cache/inplace-kubernetes/bench-venv, which takes
a few minutes once.
"""

from __future__ import annotations

import os
import pathlib
import subprocess
import sys

REPO_ROOT = pathlib.Path(__file__).resolve().parents[2]
SCENARIO_TITLES = (
    'Deployment rolling update',
    'seed: patch pods one by one',
    'k8s_inplace_upgrade, one call',
    'inplace_upgrade role, batch 25%',
    'kubernetes.core json_patch loop',
)


def test_bench_smoke_runs_every_scenario():
    proc = subprocess.run(
        [sys.executable, str(REPO_ROOT / 'bench' / 'run.py'), '--smoke'],
        cwd=str(REPO_ROOT), env=dict(os.environ), stdin=subprocess.DEVNULL,
        capture_output=True, text=True, timeout=1500, check=False,
    )
    detail = '--- stdout:\n%s\n--- stderr (tail):\n%s' % (proc.stdout[-6000:], proc.stderr[-6000:])

    assert proc.returncode == 0, detail
    out = proc.stdout
    assert '| N | scenario | wall s | vs (1) |' in out, detail
    rows = [line for line in out.splitlines() if line.startswith('| 5 |')]
    for title in SCENARIO_TITLES:
        matching = [row for row in rows if title in row]
        assert matching, 'no table row for %r\n%s' % (title, detail)
        assert 'skipped' not in matching[0] and 'FAILED' not in matching[0], detail
    assert '## Discovery only' in out, detail
    assert 'Discovery makes the same number of requests for 5 and 20 pods: MET' in out, detail
