# Copyright (c) inplace.kubernetes maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Test-only callback: record every task result as one JSON line, for tests/integration/playbook.py."""

from __future__ import annotations

DOCUMENTATION = r"""
name: inplace_results
type: aggregate
short_description: Record task results as JSON lines (integration tests only)
description:
  - Appends one JSON object per task result (ok, failed, skipped, unreachable) to a file.
  - Each object has C(task), C(action), C(host), C(status), C(ignore_errors) and the module's
    C(result) as a registered variable would hold it (with C(failed) and C(changed)), without
    Ansible's internal C(_ansible_*) keys.
  - Loaded by C(tests/integration/playbook.py) through C(ANSIBLE_CALLBACK_PLUGINS); not shipped as a
    collection plugin.
options:
  path:
    description: File to append the JSON lines to. Nothing is recorded when unset.
    type: path
    env:
      - name: INPLACE_RESULTS_FILE
"""

import json

from ansible.plugins.callback import CallbackBase
from ansible.vars.clean import module_response_deepcopy, strip_internal_keys


class CallbackModule(CallbackBase):
    """Write each task result to the file named by INPLACE_RESULTS_FILE."""

    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = 'aggregate'
    CALLBACK_NAME = 'inplace_results'
    CALLBACK_NEEDS_ENABLED = True

    def _record(self, result, status, ignore_errors=False):
        path = self.get_option('path')

        if not path:
            return

        task = result.task
        payload = getattr(result, 'result', None)  # ansible-core >= 2.19

        if payload is None:
            payload = result._result  # pylint: disable=protected-access

        result_dict = strip_internal_keys(module_response_deepcopy(payload))
        # The callback view drops the status keys that a registered variable carries: put them back.
        result_dict.setdefault('failed', status == 'failed')
        result_dict.setdefault('changed', False)
        if status == 'skipped':
            result_dict.setdefault('skipped', True)
        if status == 'unreachable':
            result_dict.setdefault('unreachable', True)

        record = {
            'task': task.get_name(),
            'action': task.action,
            'host': result.host.get_name(),
            'status': status,
            'ignore_errors': bool(ignore_errors),
            'result': result_dict,
        }

        with open(path, 'a', encoding='utf-8') as handle:
            handle.write(json.dumps(record, default=str, sort_keys=True) + '\n')

    def v2_runner_on_ok(self, result):
        self._record(result, 'ok')

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._record(result, 'failed', ignore_errors)

    def v2_runner_on_skipped(self, result):
        self._record(result, 'skipped')

    def v2_runner_on_unreachable(self, result):
        self._record(result, 'unreachable')
