# -*- coding: utf-8 -*-
# Copyright: inplace.kubernetes contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Third-party imports, declared once and checked with one clear message."""

from __future__ import annotations

import traceback

from ansible.module_utils.basic import missing_required_lib

try:
    import jsonpatch  # noqa: F401  pylint: disable=unused-import
    JSONPATCH_IMPORT_ERROR = None
except ImportError:
    jsonpatch = None
    JSONPATCH_IMPORT_ERROR = traceback.format_exc()

try:
    import kubernetes  # noqa: F401  pylint: disable=unused-import
    import urllib3  # noqa: F401  pylint: disable=unused-import
    KUBERNETES_IMPORT_ERROR = None
except ImportError:
    kubernetes = None
    urllib3 = None
    KUBERNETES_IMPORT_ERROR = traceback.format_exc()


def check_dependencies(module):
    """Fail the module with ``missing_required_lib`` when a Python dependency is absent."""
    if KUBERNETES_IMPORT_ERROR:
        module.fail_json(msg=missing_required_lib("kubernetes"), exception=KUBERNETES_IMPORT_ERROR)
    if JSONPATCH_IMPORT_ERROR:
        module.fail_json(msg=missing_required_lib("jsonpatch"), exception=JSONPATCH_IMPORT_ERROR)
