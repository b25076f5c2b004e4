# -*- coding: utf-8 -*-
# Copyright: inplace.kubernetes contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Is the Ansible controller that started this module still there?

ansible-core's workers run in their own session, so when ``ansible-playbook`` itself is killed
(``kill -9``, the OOM killer) the worker and the module keep running, unseen. A rollout must not
go on batch after batch with nobody to report to: the module remembers the processes from itself
up to the topmost ``ansible*`` command above it (that process and the shells and worker in
between), with their start times, and asks before each batch whether they all still live.

Linux only (``/proc``); elsewhere, or when no ``ansible*`` command is found above the module (a
remote host, ``async``), nothing is watched and the controller always counts as present.
"""

from __future__ import annotations

import os


def _stat(pid, proc="/proc"):
    """``(ppid, start time, state)`` of a process, or ``None`` when it does not exist."""
    try:
        with open(os.path.join(proc, str(pid), "stat"), "rb") as handle:
            data = handle.read().decode("utf-8", "replace")
    except (IOError, OSError):
        return None
    fields = data.rsplit(")", 1)[-1].split()
    try:
        return int(fields[1]), fields[19], fields[0]
    except (IndexError, ValueError):
        return None


def _is_ansible(pid, proc="/proc"):
    try:
        with open(os.path.join(proc, str(pid), "cmdline"), "rb") as handle:
            argv = handle.read().decode("utf-8", "replace").split("\0")
    except (IOError, OSError):
        return False
    return any(os.path.basename(arg).startswith("ansible") for arg in argv[:2] if arg)


def controller_chain(pid=None, proc="/proc", limit=32):
    """``[(pid, start time, is ansible)]`` of the ancestors of ``pid``, cut after the topmost ``ansible*``
    command (``[]`` when there is none)."""
    chain = []
    current = _stat(pid or os.getpid(), proc)
    while current is not None and current[0] > 1 and len(chain) < limit:
        parent = current[0]
        current = _stat(parent, proc)
        if current is None:
            break
        chain.append((parent, current[1], _is_ansible(parent, proc)))
    last = max([index for index, entry in enumerate(chain) if entry[2]] or [-1])
    return chain[: last + 1]


class ControllerWatch(object):
    def __init__(self, enabled=True, proc="/proc"):
        self.proc = proc
        self.chain = controller_chain(proc=proc) if enabled else []

    def gone(self):
        """The pid of the first remembered process that has exited (or been reused), else ``None``."""
        for pid, started, dummy in self.chain:
            now = _stat(pid, self.proc)
            if now is None or now[1] != started or now[2] in ("Z", "X"):
                return pid
        return None
