# -*- coding: utf-8 -*-
# Copyright: inplace.kubernetes contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Third-party imports, declared once and checked with one clear message.

``jsonpatch`` is imported here; ``urllib3`` by client.py alone (the pure files, and the filters that use
them, never load an HTTP client), and the ``kubernetes`` package by client.py only for a configuration
that kubeconfig.py does not read. Its presence is checked without importing it (the import costs ~0.1 s).
"""

from __future__ import annotations

import importlib
import importlib.util
import traceback

from ansible.module_utils.basic import missing_required_lib


def _jsonpatch():
    try:
        return importlib.import_module("jsonpatch"), None
    except ImportError:
        return None, traceback.format_exc()


jsonpatch, JSONPATCH_IMPORT_ERROR = _jsonpatch()


def kubernetes_client_missing():
    """The traceback (or reason) when the kubernetes client or urllib3 is missing, else ``None``."""
    try:
        importlib.import_module("urllib3")
    except ImportError:
        return traceback.format_exc()
    try:
        if importlib.util.find_spec("kubernetes") is None:
            return "ModuleNotFoundError: No module named 'kubernetes'"
    except (ImportError, ValueError):
        return traceback.format_exc()
    return None


def check_dependencies(module):
    """Fail the module with ``missing_required_lib`` when a Python dependency is absent."""
    missing = kubernetes_client_missing()
    if missing:
        module.fail_json(msg=missing_required_lib("kubernetes"), exception=missing)
    if JSONPATCH_IMPORT_ERROR:
        module.fail_json(msg=missing_required_lib("jsonpatch"), exception=JSONPATCH_IMPORT_ERROR)
