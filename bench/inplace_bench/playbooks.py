# Copyright (c) inplace.kubernetes maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Scenarios 3-5, discovery and the overhead runs as ansible-playbook child processes: the plays,
their environment (the proxy's kubeconfig, this collection or the bench venv's kubernetes.core),
and every task's result, recorded as JSON lines by callback_plugins/bench_results.py."""

from __future__ import annotations

import json
import os
import shutil
import tempfile

from inplace_bench import CALLBACK_DIR, REPO
from inplace_bench.memory import run_measured


def collections_path(tmp):
    """INPLACE_COLLECTIONS_PATH, or a directory in tmp whose inplace/kubernetes links to this repo."""
    path = os.environ.get("INPLACE_COLLECTIONS_PATH")
    if path:
        return path
    root = os.path.join(tmp, "collections")
    os.makedirs(os.path.join(root, "ansible_collections", "inplace"))
    os.symlink(REPO, os.path.join(root, "ansible_collections", "inplace", "kubernetes"))
    return root


def play(tasks, python, roles=None):
    p = {"name": "bench", "hosts": "localhost", "connection": "local", "gather_facts": False,
         "vars": {"ansible_python_interpreter": python}}
    if roles:
        p["roles"] = roles
    if tasks:
        p["tasks"] = tasks
    return [p]


def ok_results(records, action):
    """The results of the tasks of `action` (a module name, FQCN or not) that ended ok, in order."""
    return [r["result"] for r in records if r["status"] == "ok" and r["action"].endswith(action)]


class Playbooks:
    """Runs plays under the driver's Python (this collection) or the bench venv (kubernetes.core)."""

    def __init__(self, tmp, coll_path, proxy_kubeconfig, driver_python, bench_venv):
        self.tmp, self.coll_path = tmp, coll_path
        self.proxy_kubeconfig = proxy_kubeconfig
        self.driver_python, self.bench_venv = driver_python, bench_venv

    def env(self, results_file, bench_venv=False, kubeconfig=None):
        env = dict(os.environ)
        for k in list(env):
            if k.startswith("K8S_AUTH_") or k in ("KUBECONFIG",):
                del env[k]
        env.update({
            "K8S_AUTH_KUBECONFIG": kubeconfig or self.proxy_kubeconfig,
            "ANSIBLE_CALLBACK_PLUGINS": CALLBACK_DIR,
            "ANSIBLE_CALLBACKS_ENABLED": "bench_results",
            "BENCH_RESULTS_FILE": results_file,
            "ANSIBLE_RETRY_FILES_ENABLED": "False",
            "ANSIBLE_NOCOLOR": "1",
            "ANSIBLE_LOCALHOST_WARNING": "False",
            "ANSIBLE_INVENTORY_UNPARSED_WARNING": "False",
            "ANSIBLE_DEPRECATION_WARNINGS": "False",
            "ANSIBLE_LOCAL_TEMP": os.path.join(self.tmp, "ansible-tmp"),
            "ANSIBLE_REMOTE_TMP": os.path.join(self.tmp, "ansible-tmp"),
            "PYTHONDONTWRITEBYTECODE": "1",
        })
        if bench_venv:
            env.pop("ANSIBLE_COLLECTIONS_PATH", None)
            env.pop("ANSIBLE_COLLECTIONS_PATHS", None)
            env.pop("VIRTUAL_ENV", None)
            env["PATH"] = os.path.join(self.bench_venv, "bin") + os.pathsep + env.get("PATH", "")
        else:
            env["ANSIBLE_COLLECTIONS_PATH"] = self.coll_path
        return env

    def run(self, plays, bench_venv=False, kubeconfig=None, timeout=900):
        import yaml
        fd, pb = tempfile.mkstemp(prefix="play-", suffix=".yml", dir=self.tmp)
        with os.fdopen(fd, "w") as f:
            yaml.safe_dump(plays, f, sort_keys=False)
        results = pb + ".results.jsonl"
        if bench_venv:
            exe = os.path.join(self.bench_venv, "bin", "ansible-playbook")
        else:
            exe = os.path.join(os.path.dirname(self.driver_python), "ansible-playbook")
            if not os.access(exe, os.X_OK):
                exe = shutil.which("ansible-playbook")
        rc, out, err, wall, mem = run_measured([exe, "-i", "localhost,", pb],
                                               self.env(results, bench_venv, kubeconfig),
                                               timeout, cwd=self.tmp)
        records = []
        if os.path.exists(results):
            with open(results) as f:
                records = [json.loads(line) for line in f if line.strip()]
        return rc, out, err, wall, mem, records
