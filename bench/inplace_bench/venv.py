# Copyright (c) inplace.kubernetes maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The benchmark's own venv with the `ansible` package, for kubernetes.core (scenario 5 only).

It is never a dependency of this collection: created on first use under
~/.cache/inplace-kubernetes/bench-venv (INPLACE_BENCH_VENV), recreated when the pins change.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

from inplace_bench import log

BENCH_VENV = os.environ.get("INPLACE_BENCH_VENV") or os.path.join(
    os.path.expanduser("~"), ".cache", "inplace-kubernetes", "bench-venv")
# kubernetes.core comes from the `ansible` community package (ansible-core 2.18, Python 3.11 OK).
BENCH_VENV_REQUIREMENTS = ("ansible==11.13.0", "kubernetes==37.0.2")


def ensure_bench_venv():
    py = os.path.join(BENCH_VENV, "bin", "python")
    stamp = os.path.join(BENCH_VENV, ".bench-requirements")
    want = " ".join(BENCH_VENV_REQUIREMENTS) + "\n"
    try:
        with open(stamp) as f:
            if f.read() == want and os.access(os.path.join(BENCH_VENV, "bin", "ansible-playbook"),
                                              os.X_OK):
                return BENCH_VENV
    except OSError:
        pass
    log("creating %s (%s), once; takes a few minutes" % (BENCH_VENV, ", ".join(BENCH_VENV_REQUIREMENTS)))
    base = shutil.which("python3.11") or getattr(sys, "_base_executable", None) or sys.executable
    if os.path.exists(BENCH_VENV):
        shutil.rmtree(BENCH_VENV)
    os.makedirs(os.path.dirname(BENCH_VENV), exist_ok=True)
    subprocess.run([base, "-m", "venv", BENCH_VENV], check=True)
    subprocess.run([py, "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
                   + list(BENCH_VENV_REQUIREMENTS), check=True)
    with open(stamp, "w") as f:
        f.write(want)
    return BENCH_VENV
