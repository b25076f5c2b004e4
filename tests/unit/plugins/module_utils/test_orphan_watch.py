# -*- coding: utf-8 -*-
# Copyright: inplace.kubernetes contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""orphan_watch.py: finding the Ansible controller above the module, and noticing that it is gone (fake /proc)."""

from __future__ import annotations

import os

from ansible_collections.inplace.kubernetes.plugins.module_utils._inplace import orphan_watch


def process(proc, pid, ppid, argv, started=100, state="S"):
    path = proc / str(pid)
    path.mkdir(exist_ok=True)
    name = os.path.basename(argv[0])
    # Fields after the command name: state, ppid, then 17 more before starttime (field 22).
    rest = [state, str(ppid)] + ["0"] * 17 + [str(started)] + ["0"] * 5
    (path / "stat").write_text("%d (%s) %s\n" % (pid, name, " ".join(rest)))
    (path / "cmdline").write_bytes("\0".join(argv).encode() + b"\0")


def tree(proc):
    """module 50 <- sh 40 <- sh 30 <- worker 20 <- ansible-playbook 10 <- bash 5 <- init 1"""
    process(proc, 1, 0, ["/sbin/init"])
    process(proc, 5, 1, ["-bash"])
    process(proc, 10, 5, ["/usr/bin/python3", "/usr/local/bin/ansible-playbook", "site.yml"])
    process(proc, 20, 10, ["/usr/bin/python3", "/usr/local/bin/ansible-playbook", "site.yml"])
    process(proc, 30, 20, ["/bin/sh", "-c", "/bin/sh -c 'python3 AnsiballZ_k8s_inplace_upgrade.py'"])
    process(proc, 40, 30, ["/bin/sh", "-c", "python3 AnsiballZ_k8s_inplace_upgrade.py"])
    process(proc, 50, 40, ["/usr/bin/python3", "AnsiballZ_k8s_inplace_upgrade.py"])


def test_chain_ends_at_the_topmost_ansible_command(tmp_path):
    tree(tmp_path)
    chain = orphan_watch.controller_chain(50, proc=str(tmp_path))
    assert [pid for pid, started, ansible in chain] == [40, 30, 20, 10]
    assert [ansible for pid, started, ansible in chain] == [False, False, True, True]


def test_no_ansible_above_means_nothing_to_watch(tmp_path):
    process(tmp_path, 1, 0, ["/sbin/init"])
    process(tmp_path, 7, 1, ["/usr/sbin/sshd"])
    process(tmp_path, 8, 7, ["/usr/bin/python3", "AnsiballZ_k8s_inplace_upgrade.py"])
    assert orphan_watch.controller_chain(8, proc=str(tmp_path)) == []
    assert orphan_watch.controller_chain(12345, proc=str(tmp_path)) == []  # no such process


def watch_of(proc):
    watch = orphan_watch.ControllerWatch(enabled=False, proc=str(proc))
    watch.chain = orphan_watch.controller_chain(50, proc=str(proc))
    return watch


def test_gone_when_the_playbook_process_is_killed(tmp_path):
    tree(tmp_path)
    watch = watch_of(tmp_path)
    assert watch.gone() is None
    (tmp_path / "10" / "stat").unlink()  # ansible-playbook killed; the worker (20) lives on, reparented
    process(tmp_path, 20, 1, ["/usr/bin/python3", "/usr/local/bin/ansible-playbook", "site.yml"])
    assert watch.gone() == 10


def test_gone_when_a_zombie_or_the_pid_is_reused(tmp_path):
    tree(tmp_path)
    watch = watch_of(tmp_path)
    process(tmp_path, 10, 5, ["/usr/bin/python3", "/usr/local/bin/ansible-playbook", "site.yml"], state="Z")
    assert watch.gone() == 10
    process(tmp_path, 10, 5, ["/usr/bin/python3", "/usr/local/bin/ansible-playbook", "site.yml"], started=999)
    assert watch.gone() == 10


def test_a_parent_shell_of_the_playbook_may_go_away(tmp_path):
    tree(tmp_path)
    watch = watch_of(tmp_path)
    (tmp_path / "5" / "stat").unlink()  # the login shell above ansible-playbook exited (nohup)
    assert watch.gone() is None


def test_disabled_watch_never_reports_gone():
    assert orphan_watch.ControllerWatch(enabled=False).gone() is None
