# Copyright (c) inplace.kubernetes maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Benchmark-only callback: append every task result as one JSON line to $BENCH_RESULTS_FILE."""

from __future__ import annotations

DOCUMENTATION = r"""
name: bench_results
type: aggregate
short_description: Record task results as JSON lines (bench/run.py only)
description:
  - Appends one JSON object per task result to a file, for bench/run.py. Not shipped as a plugin.
options:
  path:
    description: File to append the JSON lines to. Nothing is recorded when unset.
    type: path
    env:
      - name: BENCH_RESULTS_FILE
"""

import json
import time

from ansible.plugins.callback import CallbackBase


class CallbackModule(CallbackBase):
    """Write each task result (task name, status, the module's result) to BENCH_RESULTS_FILE."""

    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = 'aggregate'
    CALLBACK_NAME = 'bench_results'
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._started = {}

    def v2_playbook_on_task_start(self, task, is_conditional):
        self._started[task._uuid] = time.time()  # pylint: disable=protected-access

    def v2_playbook_on_handler_task_start(self, task):
        self._started[task._uuid] = time.time()  # pylint: disable=protected-access

    def _record(self, result, status):
        path = self.get_option('path')
        if not path:
            return
        payload = getattr(result, 'result', None)  # ansible-core >= 2.19
        if payload is None:
            payload = result._result  # pylint: disable=protected-access
        keep = {}
        for key, value in payload.items():
            if key.startswith('_ansible') or key == 'invocation':
                continue
            keep[key] = value
        task = getattr(result, 'task', None)  # ansible-core >= 2.19
        if task is None:
            task = result._task  # pylint: disable=protected-access
        started = self._started.get(task._uuid)  # pylint: disable=protected-access
        record = {'task': task.get_name(), 'action': task.action, 'status': status,
                  'seconds': round(time.time() - started, 3) if started else None,
                  'result': keep}
        with open(path, 'a', encoding='utf-8') as handle:
            handle.write(json.dumps(record, default=str) + '\n')

    def v2_runner_on_ok(self, result):
        self._record(result, 'ok')

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._record(result, 'failed')

    def v2_runner_on_skipped(self, result):
        self._record(result, 'skipped')

    def v2_runner_on_unreachable(self, result):
        self._record(result, 'unreachable')
