# Copyright (c) inplace.kubernetes maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The benchmark (bench/run.py) still runs: its smoke mode, N=5, every scenario.

The smoke mode starts its own control plane, runs every scenario on 5 pods (the bare client and the
one-task playbook of the role's fixed cost included), the module and the bare client on 20 pods with
discovery on the same Deployment, discovery on 5 pods, and the module on a DaemonSet on the run's 3
nodes, and exits non-zero when a scenario fails functionally (pods not on the new image, pods
recreated by an in-place scenario, discovery request counts that differ). Wall-clock times are
recorded, never asserted; what must be there is: every row, the module process seen (its RSS and
CPU seconds), and a verdict on every one of issue 17's targets. The first run creates the benchmark's own venv with the
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
SCENARIOS = ('rolling', 'seed', 'module', 'bare', 'role', 'core')
VERDICTS = ('met', 'not met', 'not measured', 'reported (no target)')
MODULE_PROCESS = ('module', 'bare')  # rows whose module process the sampler must have seen


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
        assert row['cpu_tree'] > 0, detail
        if scenario in MODULE_PROCESS or scenario == 'role':
            assert row['module_rss'] > 0 and row['module_cpu'] > 0, detail
    assert rows[('upgrade', 'role', 5)]['batch_seconds'] > 0, detail
    for scenario in MODULE_PROCESS:  # the scale phase at smoke size
        row = rows.get(('upgrade', scenario, 20))
        assert row is not None and row['problems'] == [], detail
    discovery = [row for row in doc['rows'] if row['table'] == 'discovery']
    deployments = [row for row in discovery if row['kind'] == 'Deployment']
    assert sorted(row['n'] for row in deployments) == [5, 20], detail
    assert len({row['requests'] for row in deployments}) == 1, detail
    assert [row['n'] for row in discovery if row['kind'] == 'DaemonSet'] == [3], detail
    daemonset = [row for row in doc['rows'] if row['table'] == 'daemonset']
    assert [(row['n'], row['problems'], row['rescheduled']) for row in daemonset] == [(3, [], 0)], detail
    baseline = [row for row in doc['rows'] if row['table'] == 'baseline']
    assert len(baseline) == 3 and all(row['wall'] > 0 and row['problems'] == [] for row in baseline), detail

    # Every target of issue 17 gets a verdict, computed from the JSON rows alone.
    sys.path.insert(0, str(REPO_ROOT / 'bench'))
    from inplace_bench.targets import evaluate  # pylint: disable=import-outside-toplevel
    targets = evaluate(doc)
    assert len(targets) == 9 and all(t['verdict'] in VERDICTS for t in targets), targets
    assert {t['name'] for t in targets if t['verdict'] != 'not measured'} >= {
        'Role fixed cost', 'Scale: discovery', 'Scale: CPU'}, targets

    rendered = bench('--render', str(results))
    assert rendered.returncode == 0, rendered.stderr
    assert rendered.stdout == proc.stdout, 'the report printed is not the one rendered from its JSON'
    assert '## Targets (issue 17)' in rendered.stdout and 'Cost model' in rendered.stdout, rendered.stdout
