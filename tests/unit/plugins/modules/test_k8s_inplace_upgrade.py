# -*- coding: utf-8 -*-
# Copyright: inplace.kubernetes contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""k8s_inplace_upgrade / k8s_inplace_upgrade_info main(): argument errors fail before any API call."""

from __future__ import annotations

import contextlib
import json
import os

import pytest

from ansible.module_utils import basic
from ansible.module_utils.common.text.converters import to_bytes

from ansible_collections.inplace.kubernetes.plugins.modules import k8s_inplace_upgrade, k8s_inplace_upgrade_info

try:  # ansible-core 2.19+
    from ansible.module_utils.testing import patch_module_args
except ImportError:  # pragma: no cover - older ansible-core
    patch_module_args = None


@contextlib.contextmanager
def set_module_args(args):
    """Hand ``args`` to the AnsibleModule created inside the block (ansible-core 2.19 style when available)."""
    if patch_module_args is not None:
        with patch_module_args(args):
            yield
        return
    saved = basic._ANSIBLE_ARGS
    basic._ANSIBLE_ARGS = to_bytes(json.dumps({"ANSIBLE_MODULE_ARGS": args}))
    try:
        yield
    finally:
        basic._ANSIBLE_ARGS = saved


class AnsibleExitJson(Exception):
    pass


class AnsibleFailJson(Exception):
    pass


class ApiCalled(Exception):
    pass


@pytest.fixture(autouse=True)
def module_exits(monkeypatch):
    def exit_json(self, **kwargs):
        raise AnsibleExitJson(kwargs)

    def fail_json(self, msg, **kwargs):
        kwargs["msg"] = msg
        raise AnsibleFailJson(kwargs)

    monkeypatch.setattr(basic.AnsibleModule, "exit_json", exit_json)
    monkeypatch.setattr(basic.AnsibleModule, "fail_json", fail_json)
    for name in list(os.environ):
        if name.startswith("K8S_AUTH_"):
            monkeypatch.delenv(name)


@pytest.fixture(autouse=True)
def no_api(monkeypatch):
    """Any attempt to build a client or a rollout is a test failure: these errors must come first."""
    calls = []

    def refuse(*args, **kwargs):
        calls.append(args)
        raise ApiCalled("an API client was built")

    for module, entry in ((k8s_inplace_upgrade, "Rollout"), (k8s_inplace_upgrade_info, "describe")):
        monkeypatch.setattr(module, "connect", refuse)
        monkeypatch.setattr(module, entry, refuse)
    return calls


def run_failing(module, args):
    with set_module_args(args):
        with pytest.raises(AnsibleFailJson) as exc:
            module.main()
    return exc.value.args[0]


@pytest.mark.parametrize("args, message", [
    ({"name": "web", "image": "nginx:bad tag"}, "invalid input: image 'nginx:bad tag' contains white space"),
    ({"name": "web", "image": "Nginx:1"}, "invalid input: image 'Nginx:1': repository 'library/Nginx' must be lowercase"),
    ({"name": "web", "containers": {"web": "nginx@sha256:abc"}},
     "invalid input: container web: image 'nginx@sha256:abc' has an invalid digest 'sha256:abc' "
     "(expected algorithm:hex, e.g. sha256:<64 hex>)"),
    ({"name": "web", "containers": {"Web": "nginx:1"}}, "invalid input: container name 'Web' is not a valid container name"),
    ({"name": "web"}, "give containers (container name -> image), image, or resources (container name -> "
                      "requests/limits of cpu and memory)"),
    ({"name": "web", "resources": {"app": {"limits": {"memory": "1mi", "gpu": "1"}}}},
     "invalid resources: container app: limits.gpu cannot be resized in place; only cpu and memory can; container app: "
     "limits.memory: '1mi' is not a quantity such as 250m, 0.5, 128Mi or 1Gi (units: m, k, M, G, Ki, Mi, Gi, ...)"),
    ({"name": "web", "rollback": True, "resources": {"app": {"limits": {"memory": "1Gi"}}}},
     "rollback restores the resources recorded before the last upgrade; do not give resources"),
    ({"name": "web", "image": "nginx:1", "batch_size": "0"}, "batch_size must be at least 1, got '0'"),
    ({"name": "web", "image": "nginx:1", "batch_size": "half"},
     "batch_size must be a positive integer or a percentage like '25%', got 'half'"),
    ({"name": "web", "image": "nginx:1", "batch_size": "120%"},
     "batch_size '120%': a percentage must be above 0% and at most 100%"),
    ({"name": "web", "image": "nginx:1", "canary": "-1"},
     "canary must be a positive integer or a percentage like '25%', got '-1'"),
    ({"name": "web", "image": "nginx:1", "max_pods": 0}, "max_pods must be at least 1, got 0"),
    ({"name": "Web", "image": "nginx:1"},
     "name 'Web' is not a valid Kubernetes name: lowercase letters, digits and '-' or '.', at most 253 characters, "
     "starting and ending with a letter or digit"),
    ({"name": "web", "namespace": "a.b", "image": "nginx:1"},
     "namespace 'a.b' is not a valid Kubernetes name: lowercase letters, digits and '-', at most 63 characters, "
     "starting and ending with a letter or digit"),
    ({"name": "web", "image": "nginx:1", "pods": ["web-0", "WEB_1"]},
     "pod name 'WEB_1' is not a valid Kubernetes name: lowercase letters, digits and '-' or '.', at most 253 "
     "characters, starting and ending with a letter or digit"),
    ({"name": "web", "rollback": True, "image": "nginx:1"},
     "rollback restores the images recorded before the last upgrade; do not give containers or image"),
    ({"label_selectors": ["app=web"], "rollback": True}, "rollback needs name: the recorded images live on the workload"),
    ({"name": "web", "image": "nginx:1", "wait_timeout": -1}, "wait_timeout must not be negative"),
    ({"name": "web", "image": "nginx:1", "sync_timeout": 0}, "sync_timeout must be at least 1 second"),
])
def test_upgrade_input_errors(args, message, no_api):
    result = run_failing(k8s_inplace_upgrade, args)
    assert result["msg"] == message
    assert no_api == []


@pytest.mark.parametrize("args, fragment", [
    ({"name": "web", "image": "nginx:1", "containers": {"web": "nginx:1"}},
     "parameters are mutually exclusive: containers|image"),
    ({"name": "web", "image": "nginx:1", "on_failure": "ignore"}, "value of on_failure must be one of"),
    ({"name": "web", "image": "nginx:1", "kind": "Pod"}, "value of kind must be one of"),
    ({"name": "web", "image": "nginx:1", "max_pods": "many"}, "max_pods"),
    ({"name": "web", "image": "nginx:1", "bogus": 1}, "Unsupported parameters"),
])
def test_upgrade_argument_spec_errors(args, fragment, no_api):
    result = run_failing(k8s_inplace_upgrade, args)
    assert fragment in result["msg"]
    assert no_api == []


@pytest.mark.parametrize("module", [k8s_inplace_upgrade, k8s_inplace_upgrade_info], ids=["upgrade", "info"])
@pytest.mark.parametrize("extra", [{}, {"label_selectors": []}, {"label_selectors": ["  "]}], ids=["absent", "empty", "blank"])
def test_neither_name_nor_label_selectors(module, extra, no_api):
    # required_one_of=(name, label_selectors) must hold although label_selectors defaults to [].
    args = dict({"image": "nginx:1.20"}, **extra)
    with set_module_args(args):
        with pytest.raises((AnsibleFailJson, ApiCalled)) as exc:
            module.main()
    assert no_api == [], "an API client was built before the missing target was reported"
    assert "name" in exc.value.args[0]["msg"] and "label_selectors" in exc.value.args[0]["msg"]


def test_upgrade_valid_input_reaches_the_client(no_api):
    with set_module_args({"name": "web", "namespace": "shop", "image": "nginx:1.20", "batch_size": "25%",
                          "canary": "1"}):
        with pytest.raises(ApiCalled):
            k8s_inplace_upgrade.main()
    assert len(no_api) == 1


def test_upgrade_inplace_error_becomes_fail_json(monkeypatch):
    from ansible_collections.inplace.kubernetes.plugins.module_utils._inplace.errors import InplaceError

    def connect(module):
        raise InplaceError("no Kubernetes credentials", pods=[{"name": "web-0"}], changed=False)

    monkeypatch.setattr(k8s_inplace_upgrade, "connect", connect)
    result = run_failing(k8s_inplace_upgrade, {"name": "web", "image": "nginx:1.20"})
    assert result == {"msg": "no Kubernetes credentials", "pods": [{"name": "web-0"}], "changed": False}


def test_upgrade_result_is_exit_json(monkeypatch):
    class FakeRollout(object):
        def __init__(self, kube, params, check_mode=False, diff_mode=False, warn=None):
            self.params = params
            self.check_mode = check_mode

        def run(self):
            return {"changed": True, "patched": ["web-0"], "check_mode": self.check_mode,
                    "image": self.params["image"]}

    monkeypatch.setattr(k8s_inplace_upgrade, "connect", lambda module: object())
    monkeypatch.setattr(k8s_inplace_upgrade, "Rollout", FakeRollout)
    with set_module_args({"name": "web", "image": "nginx:1.20", "_ansible_check_mode": True}):
        with pytest.raises(AnsibleExitJson) as exc:
            k8s_inplace_upgrade.main()
    assert exc.value.args[0] == {"changed": True, "patched": ["web-0"], "check_mode": True, "image": "nginx:1.20"}


@pytest.mark.parametrize("args, message", [
    ({"name": "web", "image": "nginx:"},
     "invalid input: image 'nginx:' has an invalid tag '' (letters, digits, '_', '.', '-', at most 128, not starting "
     "with '.' or '-')"),
    ({"name": "web", "batch_size": "0%"}, "batch_size '0%': a percentage must be above 0% and at most 100%"),
    ({"name": "web_1"},
     "name 'web_1' is not a valid Kubernetes name: lowercase letters, digits and '-' or '.', at most 253 characters, "
     "starting and ending with a letter or digit"),
])
def test_info_input_errors(args, message, no_api):
    result = run_failing(k8s_inplace_upgrade_info, args)
    assert result["msg"] == message
    assert no_api == []


def test_info_without_targets_reaches_the_client(no_api):
    with set_module_args({"name": "web"}):
        with pytest.raises(ApiCalled):
            k8s_inplace_upgrade_info.main()
    assert len(no_api) == 1
