# Copyright (c) inplace.kubernetes maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""How the report writes numbers: seconds to one decimal ("-" when missing), bytes in MiB (pure)."""

from __future__ import annotations


def fmt(x, digits=1):
    if x is None:
        return "-"
    if isinstance(x, float):
        return "%.*f" % (digits, x)
    return str(x)


def mib(b):
    return "%.0f" % (b / 1024 / 1024)
