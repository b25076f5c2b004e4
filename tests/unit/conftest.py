# -*- coding: utf-8 -*-
# Copyright: inplace.kubernetes contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Make the repository importable as ``ansible_collections.inplace.kubernetes``.

``ansible-test units`` (and ``make test``, which stages the collection) already provide the
collection loader; then this does nothing. Run as plain ``pytest`` from a checkout, the repository
root is linked into a temporary ``ansible_collections/inplace/kubernetes`` tree put first on
``sys.path``.
"""

from __future__ import annotations

import atexit
import importlib
import os
import shutil
import sys
import tempfile

COLLECTION = "ansible_collections.inplace.kubernetes"
REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _importable():
    try:
        importlib.import_module(COLLECTION)
    except ImportError:
        return False
    return True


def _link_collection():
    base = tempfile.mkdtemp(prefix="inplace-units-")
    atexit.register(shutil.rmtree, base, True)
    namespace = os.path.join(base, "ansible_collections", "inplace")
    os.makedirs(namespace)
    os.symlink(REPO_ROOT, os.path.join(namespace, "kubernetes"))
    sys.path.insert(0, base)
    # A namespace package imported before (say from another collection path) caches its __path__.
    for name in ("ansible_collections", "ansible_collections.inplace"):
        module = sys.modules.get(name)
        if module is not None and hasattr(module, "__path__"):
            extra = os.path.join(base, *name.split("."))
            if extra not in list(module.__path__):
                module.__path__.append(extra)
    importlib.invalidate_caches()
    for name in [n for n in sys.modules if n == COLLECTION or n.startswith(COLLECTION + ".")]:
        del sys.modules[name]


if not _importable():
    _link_collection()
    if not _importable():  # pragma: no cover - a broken checkout
        raise ImportError("cannot make %s importable from %s" % (COLLECTION, REPO_ROOT))
