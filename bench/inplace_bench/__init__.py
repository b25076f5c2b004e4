# Copyright (c) inplace.kubernetes maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The benchmark behind bench/run.py, one idea per file (bench/README.md draws the layout).

This file holds what every part shares: where the repository and the benchmark's files are, and
the progress line on stderr.
"""

from __future__ import annotations

import os
import sys
import time

BENCH_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REPO = os.path.dirname(BENCH_DIR)
CLUSTER_DIR = os.path.join(REPO, "tests", "cluster")
CALLBACK_DIR = os.path.join(BENCH_DIR, "callback_plugins")
RESULTS_DIR = os.path.join(BENCH_DIR, "results")
DEFAULT_OUTPUT = os.path.join(RESULTS_DIR, "latest.md")


def log(msg):
    sys.stderr.write("[bench %s] %s\n" % (time.strftime("%H:%M:%S"), msg))
    sys.stderr.flush()
