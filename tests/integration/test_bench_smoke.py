# Copyright (c) inplace.kubernetes maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The benchmark (bench/run.py) still runs: its smoke mode, N=5, every scenario.

The smoke mode starts its own control plane, runs the five scenarios on 5 pods and a discovery
check on 5 and 20 pods, and exits non-zero when a scenario fails functionally (pods not on the
new image, pods recreated by an in-place scenario, discovery request counts that differ). Wall-clock
times are recorded, never asserted. The first run creates the benchmark's own venv with the
`ansible` package (for kubernetes.core) under ~/.cache/inplace-kubernetes/bench-venv, which takes
a few minutes once.

The test reads the run's JSON rows (bench/inplace_bench/results.py), not its Markdown, and checks
that the Markdown printed is the one rendered from that file.
"""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys

REPO_ROOT = pathlib.Path(__file__).resolve().parents[2]
RUN_PY = str(REPO_ROOT / 'bench' / 'run.py')
SCENARIOS = ('rolling', 'seed', 'module', 'role', 'core')


def bench(*args):
    return subprocess.run(
        [sys.executable, RUN_PY, *args], cwd=str(REPO_ROOT), env=dict(os.environ),
        stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=1500, check=False,
    )


def test_bench_smoke_runs_every_scenario(tmp_path):
    results = tmp_path / 'smoke.json'
    proc = bench('--smoke', '--json', str(results))
    detail = '--- stdout:\n%s\n--- stderr (tail):\n%s' % (proc.stdout[-6000:], proc.stderr[-6000:])

    assert proc.returncode == 0, detail
    doc = json.loads(results.read_text())
    assert doc['run']['smoke'] is True, detail
    assert doc['failures'] == [], detail
    rows = {(row['table'], row.get('scenario'), row['n']): row for row in doc['rows']}
    for scenario in SCENARIOS:
        row = rows.get(('upgrade', scenario, 5))
        assert row is not None, 'no row for %s at N=5\n%s' % (scenario, detail)
        assert 'skipped' not in row and row['problems'] == [], detail
        assert row['wall'] > 0 and row['requests'] > 0, detail
        in_place = scenario != 'rolling'
        assert (row['rescheduled'] == 0) is in_place and (row['ip_changed'] == 0) is in_place, detail
    discovery = [row for row in doc['rows'] if row['table'] == 'discovery']
    assert [row['n'] for row in discovery] == [5, 20], detail
    assert len({row['requests'] for row in discovery}) == 1, detail

    rendered = bench('--render', str(results))
    assert rendered.returncode == 0, rendered.stderr
    assert rendered.stdout == proc.stdout, 'the report printed is not the one rendered from its JSON'
