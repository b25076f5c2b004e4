# Copyright (c) inplace.kubernetes maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The playbook runner itself works: no cluster needed."""

from __future__ import annotations

from playbook import run_playbook


def test_debug_task_result_is_recorded():
    res = run_playbook(
        [
            {'name': 'say hello', 'ansible.builtin.debug': {'msg': 'hello {{ who }}'}},
            {'name': 'check mode is visible', 'ansible.builtin.debug': {'var': 'ansible_check_mode'}},
        ],
        extra_vars={'who': 'world'},
        check=True,
    )

    assert res.rc == 0, res.describe()
    assert res.task_names() == ['say hello', 'check mode is visible']
    assert res.last('say hello')['msg'] == 'hello world'
    assert res.last('check mode is visible')['ansible_check_mode'] is True
    assert res.failures() == []


def test_failed_task_result_is_recorded():
    res = run_playbook([
        {'name': 'ignored failure', 'ansible.builtin.fail': {'msg': 'expected'}, 'ignore_errors': True},
        {'name': 'real failure', 'ansible.builtin.fail': {'msg': 'boom'}},
        {'name': 'never runs', 'ansible.builtin.debug': {'msg': 'unreachable'}},
    ])

    assert res.rc == 2, res.describe()
    assert res.last('ignored failure')['failed'] is True
    assert res.last('real failure')['msg'] == 'boom'
    assert [record['task'] for record in res.failures()] == ['real failure']
    assert res.task_results('never runs') == []
