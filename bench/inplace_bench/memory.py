# Copyright (c) inplace.kubernetes maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Peak memory and CPU time of a process tree and of its module processes, sampled from /proc, and a
child process measured with them.

The module process is the process that runs the module's code: for a playbook, each
`python .../AnsiballZ_<module>.py` in the tree (not the `/bin/sh -c` around it) (AnsiballZ runs the module in that process); for a
driver (inplace_bench.drivers), the driver itself. Its CPU seconds are utime + stime from
/proc/<pid>/stat at the last sample before it exited (so up to one interval short); the whole tree's
CPU seconds come exactly from getrusage(RUSAGE_CHILDREN) around the run.
"""

from __future__ import annotations

import os
import resource
import subprocess
import threading
import time

PAGE = os.sysconf("SC_PAGE_SIZE")
TICK = os.sysconf("SC_CLK_TCK")
MODULE_MARKER = "AnsiballZ_"


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


def _cpu(pid):
    """utime + stime of pid in seconds, or None when it is gone."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / TICK  # fields 14 and 15 of proc(5)
    except (OSError, IndexError, ValueError):
        return None


def _runs_module(pid):
    """Whether pid is a Python running an AnsiballZ module (not the shell that started it)."""
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            argv = f.read().decode(errors="replace").split("\0")
    except OSError:
        return False
    return os.path.basename(argv[0]).startswith("python") and any(MODULE_MARKER in x for x in argv[1:])


class TreeMemory(threading.Thread):
    """Samples pid and all its descendants every `interval` seconds: the summed RSS of the tree, the
    largest single process, and RSS, CPU seconds and lifetime of the module processes (those whose
    command line contains MODULE_MARKER; the root itself when module_is_root)."""

    def __init__(self, pid, interval=0.05, module_is_root=False):
        super().__init__(daemon=True, name="mem-%d" % pid)
        self.pid, self.interval, self.module_is_root = pid, interval, module_is_root
        self.peak_tree = self.peak_single = 0
        self.max_procs = 0
        self.modules = {}  # pid -> {"rss": peak, "cpu": last utime+stime, "first", "last": seen at}
        self._is_module = {}
        self._halt = threading.Event()

    def _module(self, pid):
        if pid not in self._is_module:
            self._is_module[pid] = (pid == self.pid) if self.module_is_root else _runs_module(pid)
        return self._is_module[pid]

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
        now = time.monotonic()
        for p, size in zip(pids, sizes, strict=True):
            if size and self._module(p):
                cpu = _cpu(p)
                m = self.modules.setdefault(p, {"rss": 0, "cpu": 0.0, "first": now, "last": now})
                m["rss"], m["last"] = max(m["rss"], size), now
                if cpu is not None:
                    m["cpu"] = cpu

    def run(self):
        while not self._halt.is_set():
            self.sample()
            self._halt.wait(self.interval)

    def stop(self):
        self._halt.set()
        self.join()

    @property
    def module_rss(self):
        """The peak RSS of the largest module process (0 when none was seen)."""
        return max([0] + [m["rss"] for m in self.modules.values()])

    @property
    def module_cpu(self):
        """CPU seconds of all module processes together."""
        return round(sum(m["cpu"] for m in self.modules.values()), 2)

    @property
    def module_lifetime(self):
        """Seconds from the first to the last sample that saw a module process (all of them)."""
        return round(sum(m["last"] - m["first"] for m in self.modules.values()), 2)


def _children_cpu():
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def run_measured(argv, env, timeout, cwd=None, module_is_root=False):
    """Run argv, return (rc, stdout, stderr, wall seconds, TreeMemory); the TreeMemory's cpu_tree is
    the CPU seconds of the whole tree (every descendant its parent waited for)."""
    t0 = time.monotonic()
    cpu0 = _children_cpu()
    proc = subprocess.Popen(argv, env=env, cwd=cwd, stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    mem = TreeMemory(proc.pid, module_is_root=module_is_root)
    mem.start()
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        err += "\nbench: killed after %ss" % timeout
    wall = time.monotonic() - t0
    mem.stop()
    mem.cpu_tree = round(_children_cpu() - cpu0, 2)
    return proc.returncode, out, err, wall, mem
