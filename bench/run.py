# Copyright (c) inplace.kubernetes maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The benchmark's entry point, what `make bench` and `make bench-smoke` run: python bench/run.py --help.

The benchmark is the package next to this file, bench/inplace_bench (bench/README.md draws it);
Python puts this file's directory first on sys.path, so the package imports as it is.
"""

from __future__ import annotations

import sys

from inplace_bench.cli import main

if __name__ == "__main__":
    sys.exit(main())
