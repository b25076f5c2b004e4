# Copyright (c) inplace.kubernetes maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Run a playbook against the staged collection and read back every task's result.

    from playbook import run_playbook          # tests/integration is on sys.path under pytest

    res = run_playbook([{'name': 'upgrade', 'inplace.kubernetes.k8s_inplace_upgrade': {...}}],
                       kubeconfig=cluster.kubeconfig, check=True, diff=True)
    assert res.rc == 0, res.describe()
    assert res.last('upgrade')['changed']

A list of tasks is wrapped in one play (hosts: localhost, connection: local, no facts, the
controller's own Python as interpreter).  A list of plays (dicts with ``hosts``) or the path of a
playbook file is run as it is.  ``inplace.kubernetes.*`` resolves to the copy that tests/run.sh
staged (``$INPLACE_COLLECTIONS_PATH``, else ``build/`` at the repository root): run ``make stage``
after editing plugins/ when running pytest by hand.

Results are recorded by the test-only callback in callback_plugins/inplace_results.py, one JSON
object per task result, including failed, skipped and ignored-failure results.
"""

from __future__ import annotations

import dataclasses
import json
import os
import pathlib
import shutil
import signal
import subprocess
import sys
import tempfile
import typing as t
import warnings

import yaml

REPO_ROOT = pathlib.Path(__file__).resolve().parents[2]
CALLBACK_DIR = pathlib.Path(__file__).resolve().parent / 'callback_plugins'
CALLBACK_NAME = 'inplace_results'


class PlaybookTimeout(TimeoutError):
    """ansible-playbook did not finish in time; carries the output it produced so far."""

    def __init__(self, message: str, stdout: str, stderr: str) -> None:
        super().__init__(message)
        self.stdout = stdout
        self.stderr = stderr

    def __str__(self) -> str:
        return '%s\n--- stdout (tail) ---\n%s\n--- stderr (tail) ---\n%s' % (
            self.args[0], _tail(self.stdout), _tail(self.stderr))


@dataclasses.dataclass
class PlaybookResult:
    """What one ansible-playbook run did."""

    rc: int
    stdout: str
    stderr: str
    records: list[dict[str, t.Any]]
    """One dict per task result: task, action, host, status, ignore_errors, result."""
    command: list[str]
    playbook: str
    """The playbook that was run, as YAML text (or the path of the given playbook file)."""

    @property
    def ok(self) -> bool:
        """True when ansible-playbook exited 0."""
        return self.rc == 0

    def task_names(self) -> list[str]:
        """Names of the tasks that reported a result, in order (with repeats)."""
        return [record['task'] for record in self.records]

    def task_records(self, name: str | None = None) -> list[dict[str, t.Any]]:
        """The full records of every result, or of the tasks called ``name``."""
        return [record for record in self.records if name is None or record['task'] == name]

    def task_results(self, name: str | None = None) -> list[dict[str, t.Any]]:
        """The module result dicts of every task, or of the tasks called ``name`` (failed ones too)."""
        return [record['result'] for record in self.task_records(name)]

    def last(self, name: str) -> dict[str, t.Any]:
        """The module result of the last task called ``name``; LookupError if it never reported."""
        results = self.task_results(name)

        if not results:
            raise LookupError('no result for task %r; tasks that reported: %s\n%s' % (name, self.task_names(), self.describe()))

        return results[-1]

    def failures(self) -> list[dict[str, t.Any]]:
        """Records of failed or unreachable results that were not ignored."""
        return [record for record in self.records
                if record['status'] in ('failed', 'unreachable') and not record['ignore_errors']]

    def describe(self, lines: int = 60) -> str:
        """A readable account of the run for assertion messages."""
        return 'ansible-playbook rc=%d\ncommand: %s\n--- stdout (tail) ---\n%s\n--- stderr (tail) ---\n%s' % (
            self.rc, ' '.join(self.command), _tail(self.stdout, lines), _tail(self.stderr, lines))


def _tail(text: str, lines: int = 60) -> str:
    return '\n'.join((text or '').splitlines()[-lines:])


def collections_path() -> str:
    """The directory that holds the staged ``ansible_collections/inplace/kubernetes``."""
    return os.environ.get('INPLACE_COLLECTIONS_PATH') or str(REPO_ROOT / 'build')


def _ansible_playbook() -> str:
    sibling = pathlib.Path(sys.executable).parent / 'ansible-playbook'

    if sibling.exists():
        return str(sibling)

    found = shutil.which('ansible-playbook')

    if not found:
        raise FileNotFoundError('ansible-playbook not found next to %s nor on PATH; run `make stage` first' % sys.executable)

    return found


def _python_for(ansible_playbook: str) -> str:
    """The interpreter that runs ansible-playbook: modules on localhost use it too."""
    with open(ansible_playbook, 'rb') as handle:
        first = handle.readline().decode('utf-8', 'replace').strip()

    if first.startswith('#!') and 'python' in first and ' ' not in first[2:].strip():
        return first[2:].strip()

    return sys.executable


def make_play(tasks: list[dict[str, t.Any]]) -> list[dict[str, t.Any]]:
    """Wrap tasks in the one play run_playbook uses."""
    return [{
        'name': 'run_playbook',
        'hosts': 'localhost',
        'gather_facts': False,
        'connection': 'local',
        'vars': {'ansible_python_interpreter': '{{ ansible_playbook_python }}'},
        'tasks': list(tasks),
    }]


def run_playbook(
    tasks_or_playbook: list[dict[str, t.Any]] | str | os.PathLike[str],
    *,
    kubeconfig: str | os.PathLike[str] | None = None,
    extra_vars: dict[str, t.Any] | None = None,
    check: bool = False,
    diff: bool = False,
    env: dict[str, str | None] | None = None,
    verbosity: int = 0,
    timeout: float = 600,
) -> PlaybookResult:
    """Run tasks (or plays, or a playbook file) with ansible-playbook and collect their results.

    ``env`` adds to (or, with a value of None, removes from) the environment ansible-playbook gets.
    ``kubeconfig`` is passed to the modules as K8S_AUTH_KUBECONFIG.  Raises PlaybookTimeout when the
    run takes longer than ``timeout`` seconds (the whole process group is killed).
    """
    coll_path = collections_path()

    if not (pathlib.Path(coll_path) / 'ansible_collections' / 'inplace' / 'kubernetes').is_dir():
        warnings.warn('no staged collection under %s: run `make stage` (inplace.kubernetes.* will not resolve)' % coll_path, stacklevel=2)

    with tempfile.TemporaryDirectory(prefix='inplace-playbook-') as tmp:
        tmpdir = pathlib.Path(tmp)

        if isinstance(tasks_or_playbook, (str, os.PathLike)):
            playbook_path = pathlib.Path(tasks_or_playbook).resolve()
            playbook_text = str(playbook_path)
        else:
            items = list(tasks_or_playbook)
            plays = items if items and all(isinstance(item, dict) and 'hosts' in item for item in items) else make_play(items)
            playbook_text = yaml.safe_dump(plays, sort_keys=False, default_flow_style=False)
            playbook_path = tmpdir / 'playbook.yml'
            playbook_path.write_text(playbook_text, encoding='utf-8')

        results_file = tmpdir / 'results.jsonl'
        ansible_playbook = _ansible_playbook()
        command = [ansible_playbook, str(playbook_path)]

        if extra_vars:
            vars_file = tmpdir / 'extra_vars.json'
            vars_file.write_text(json.dumps(extra_vars), encoding='utf-8')
            command += ['-e', '@%s' % vars_file]

        if check:
            command.append('--check')

        if diff:
            command.append('--diff')

        if verbosity:
            command.append('-' + 'v' * verbosity)

        run_env = dict(os.environ)
        run_env.update({
            'ANSIBLE_COLLECTIONS_PATH': coll_path,
            'ANSIBLE_CALLBACK_PLUGINS': str(CALLBACK_DIR),
            'ANSIBLE_CALLBACKS_ENABLED': CALLBACK_NAME,
            'INPLACE_RESULTS_FILE': str(results_file),
            'ANSIBLE_PYTHON_INTERPRETER': _python_for(ansible_playbook),
            'ANSIBLE_NOCOLOR': '1',
            'ANSIBLE_RETRY_FILES_ENABLED': 'false',
            'ANSIBLE_LOCALHOST_WARNING': 'false',
            'ANSIBLE_INVENTORY_UNPARSED_WARNING': 'false',
            'ANSIBLE_LOCAL_TEMP': str(tmpdir / 'ansible-local'),
            'PYTHONUNBUFFERED': '1',
        })
        run_env.pop('ANSIBLE_FORCE_COLOR', None)

        if kubeconfig is not None:
            run_env['K8S_AUTH_KUBECONFIG'] = str(kubeconfig)

        for key, value in (env or {}).items():
            if value is None:
                run_env.pop(key, None)
            else:
                run_env[key] = str(value)

        # pylint: disable-next=consider-using-with
        proc = subprocess.Popen(command, cwd=tmp, env=run_env, stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)

        try:
            stdout, stderr = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            stdout, stderr = proc.communicate()
            raise PlaybookTimeout('ansible-playbook took longer than %ss' % timeout, stdout, stderr) from None

        records = []

        if results_file.exists():
            with results_file.open(encoding='utf-8') as handle:
                records = [json.loads(line) for line in handle if line.strip()]

    return PlaybookResult(rc=proc.returncode, stdout=stdout, stderr=stderr, records=records, command=command, playbook=playbook_text)
