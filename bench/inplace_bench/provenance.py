# Copyright (c) inplace.kubernetes maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What a run ran on, for its report: the machine, other API servers on it, and the versions."""

from __future__ import annotations

import os
import platform
import subprocess

from inplace_bench import REPO


def py_versions(python, code):
    try:
        return subprocess.run([python, "-c", code], capture_output=True, text=True,
                              timeout=60, check=False).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        return "?"


def count_processes(name):
    """How many processes run the executable `name` (read-only look at /proc)."""
    n = 0
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                with open("/proc/%s/comm" % pid) as f:
                    n += f.read().strip() == name
            except OSError:
                pass
    return n


def machine_info():
    cpu = "?"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem = "?"
    try:
        with open("/proc/meminfo") as f:
            kb = int(f.readline().split()[1])
            mem = "%.1f GiB" % (kb / 1024 / 1024)
    except (OSError, ValueError, IndexError):
        pass
    return {"nproc": os.cpu_count(), "memory": mem, "cpu": cpu,
            "os": "%s %s" % (platform.system(), platform.release()),
            "python": platform.python_version()}


def versions(api, driver_python, bench_venv):
    """The versions of everything measured: server, drivers' Pythons and clients, the collections."""
    v = {}
    try:
        from kubernetes import client
        v["kubernetes server"] = client.VersionApi(api).get_code().git_version
    except Exception as exc:  # noqa: BLE001
        v["kubernetes server"] = "? (%s)" % exc
    v["driver python / kubernetes client / ansible-core (scenarios 1-4)"] = py_versions(
        driver_python, "import platform, kubernetes, ansible.release as r; "
        "print(platform.python_version(), '/', kubernetes.__version__, '/', r.__version__)")
    if bench_venv:
        py = os.path.join(bench_venv, "bin", "python")
        v["bench venv python / kubernetes client / ansible-core / ansible (scenario 5)"] = py_versions(
            py, "import platform, kubernetes, ansible.release as r, importlib.metadata as m; "
            "print(platform.python_version(), '/', kubernetes.__version__, '/', r.__version__, "
            "'/', m.version('ansible'))")
        v["kubernetes.core"] = py_versions(
            py, "import json, os, ansible_collections.kubernetes.core as c; "
            "p = os.path.join(list(c.__path__)[0], 'MANIFEST.json'); "
            "print(json.load(open(p))['collection_info']['version'])")
    try:
        import yaml
        with open(os.path.join(REPO, "galaxy.yml")) as f:
            v["inplace.kubernetes"] = str(yaml.safe_load(f).get("version"))
        rev = subprocess.run(["git", "-C", REPO, "rev-parse", "--short", "HEAD"],
                             capture_output=True, text=True, check=False).stdout.strip()
        if rev:
            dirty = subprocess.run(
                ["git", "-C", REPO, "status", "--porcelain", "--", "plugins", "roles", "meta"],
                capture_output=True, text=True, check=False).stdout.strip()
            v["inplace.kubernetes"] += " (git %s%s)" % (
                rev, ", with uncommitted changes in plugins/roles/meta" if dirty else "")
    except Exception:  # noqa: BLE001
        pass
    return v
