# -*- coding: utf-8 -*-
# Copyright: inplace.kubernetes contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Arrows run one way: only the modules (through ``connect()``) load client.py and the Kubernetes
client; every other file of module_utils, and the filters, import none of it. client.py itself imports
the ``kubernetes`` package only when a configuration needs it.

Each file is imported in a fresh interpreter, whose ``sys.modules`` is then checked."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from ansible_collections.inplace.kubernetes.plugins.module_utils._inplace import states

PACKAGE = "ansible_collections.inplace.kubernetes.plugins"
UTILS_DIR = os.path.dirname(os.path.abspath(states.__file__))
# The directory that holds ansible_collections/, as this process found it.
ROOT = os.path.abspath(os.path.join(os.path.dirname(states.__file__), *[os.pardir] * 6))
CLIENT_MODULES = ("kubernetes", "urllib3", PACKAGE + ".module_utils._inplace.client")

CLIENT_FREE = sorted("%s.module_utils._inplace.%s" % (PACKAGE, name[:-3]) for name in os.listdir(UTILS_DIR)
                     if name.endswith(".py") and name not in ("__init__.py", "client.py"))
FILTERS = [PACKAGE + ".filter.upgrade_report", PACKAGE + ".filter.maintenance_window"]

PROBE = """
import importlib, json, sys
importlib.import_module(sys.argv[1])
print(json.dumps(sorted(sys.modules)))
"""


def loaded_by(module):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([ROOT] + [p for p in sys.path if p]))
    output = subprocess.run([sys.executable, "-c", PROBE, module], env=env, check=True, capture_output=True,
                            text=True).stdout
    return json.loads(output)


@pytest.mark.parametrize("module", CLIENT_FREE + FILTERS)
def test_imports_no_kubernetes_client(module):
    loaded = loaded_by(module)
    assert module in loaded
    assert [name for name in loaded if name.split(".")[0] in CLIENT_MODULES[:2] or name == CLIENT_MODULES[2]] == []


def test_the_probe_sees_the_client_where_it_is():
    loaded = loaded_by(PACKAGE + ".module_utils._inplace.client")
    assert all(name in loaded for name in CLIENT_MODULES[1:])


def test_the_client_imports_the_kubernetes_package_only_for_a_configuration_that_needs_it():
    # Its import costs ~0.1 s a module call: client.py loads it for what kubeconfig.py does not read.
    assert "kubernetes" not in loaded_by(PACKAGE + ".module_utils._inplace.client")
