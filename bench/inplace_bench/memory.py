# Copyright (c) inplace.kubernetes maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Peak memory of a process tree, sampled from /proc, and a child process measured with it."""

from __future__ import annotations

import os
import subprocess
import threading
import time

PAGE = os.sysconf("SC_PAGE_SIZE")


def _children(pid):
    out = []
    try:
        for tid in os.listdir("/proc/%d/task" % pid):
            try:
                with open("/proc/%d/task/%s/children" % (pid, tid)) as f:
                    out.extend(int(x) for x in f.read().split())
            except OSError:
                pass
    except OSError:
        pass
    return out


def _rss(pid):
    try:
        with open("/proc/%d/statm" % pid) as f:
            return int(f.read().split()[1]) * PAGE
    except (OSError, IndexError, ValueError):
        return 0


class TreeMemory(threading.Thread):
    """Samples the summed RSS of pid and all its descendants every `interval` seconds."""

    def __init__(self, pid, interval=0.05):
        super().__init__(daemon=True, name="mem-%d" % pid)
        self.pid, self.interval = pid, interval
        self.peak_tree = self.peak_single = 0
        self.max_procs = 0
        self._halt = threading.Event()

    def sample(self):
        pids, todo = [], [self.pid]
        while todo:
            p = todo.pop()
            pids.append(p)
            todo.extend(_children(p))
        sizes = [_rss(p) for p in pids]
        self.peak_tree = max(self.peak_tree, sum(sizes))
        self.peak_single = max([self.peak_single] + sizes)
        self.max_procs = max(self.max_procs, len([s for s in sizes if s]))

    def run(self):
        while not self._halt.is_set():
            self.sample()
            self._halt.wait(self.interval)

    def stop(self):
        self._halt.set()
        self.join()


def run_measured(argv, env, timeout, cwd=None):
    """Run argv, return (rc, stdout, stderr, wall seconds, TreeMemory)."""
    t0 = time.monotonic()
    proc = subprocess.Popen(argv, env=env, cwd=cwd, stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    mem = TreeMemory(proc.pid)
    mem.start()
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        err += "\nbench: killed after %ss" % timeout
    wall = time.monotonic() - t0
    mem.stop()
    return proc.returncode, out, err, wall, mem
