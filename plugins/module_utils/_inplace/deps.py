# -*- coding: utf-8 -*-
# Copyright: inplace.kubernetes contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Third-party imports, declared once and checked with one clear message.

``jsonpatch`` is imported here; the Kubernetes client (``kubernetes``, ``urllib3``) only when
:func:`kubernetes_client` is called, which ``client.py`` alone does: the pure files (and the filters
that use them) never load an HTTP client.
"""

from __future__ import annotations

import importlib
import traceback

from ansible.module_utils.basic import missing_required_lib


def _jsonpatch():
    try:
        return importlib.import_module("jsonpatch"), None
    except ImportError:
        return None, traceback.format_exc()


jsonpatch, JSONPATCH_IMPORT_ERROR = _jsonpatch()


def kubernetes_client():
    """``(kubernetes, urllib3)``, imported now; raises ``ImportError`` when they are missing."""
    import kubernetes  # pylint: disable=import-outside-toplevel
    import urllib3  # pylint: disable=import-outside-toplevel

    return kubernetes, urllib3


def check_dependencies(module):
    """Fail the module with ``missing_required_lib`` when a Python dependency is absent."""
    try:
        kubernetes_client()
    except ImportError:
        module.fail_json(msg=missing_required_lib("kubernetes"), exception=traceback.format_exc())
    if JSONPATCH_IMPORT_ERROR:
        module.fail_json(msg=missing_required_lib("jsonpatch"), exception=JSONPATCH_IMPORT_ERROR)
