# -*- coding: utf-8 -*-
# Copyright: inplace.kubernetes contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""kubeconfig.py: which kubeconfigs are read without the kubernetes package, what is read from them, and the
clear errors of broken ones; client.py: the parameters over them, and the kubernetes package only when needed."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys

import pytest

from ansible_collections.inplace.kubernetes.plugins.module_utils._inplace.errors import InplaceError
from ansible_collections.inplace.kubernetes.plugins.module_utils._inplace.kubeconfig import plain_settings, read_kubeconfig


def config(cluster=None, user=None, context=None, current="c"):
    return {
        "current-context": current,
        "clusters": [{"name": "k", "cluster": dict({"server": "https://api.example.com:6443"}, **(cluster or {}))}],
        "users": [{"name": "u", "user": user if user is not None else {"token": "tok"}}],
        "contexts": [{"name": "c", "context": context or {"cluster": "k", "user": "u"}},
                     {"name": "other", "context": {"cluster": "k", "user": "u", "namespace": "x"}}],
    }


def test_a_token_and_ca_data():
    pem = b"-----BEGIN CERTIFICATE-----\nxyz\n-----END CERTIFICATE-----\n"
    settings = plain_settings(config(cluster={"certificate-authority-data": base64.b64encode(pem).decode()}))
    assert (settings.host, settings.token, settings.ca_data, settings.verify) == ("https://api.example.com:6443", "tok", pem, True)


def test_files_are_relative_to_the_kubeconfig(tmp_path):
    for name in ("ca.crt", "c.crt", "c.key"):
        (tmp_path / name).write_text("x")
    (tmp_path / "token").write_text("from-file\n")
    settings = plain_settings(config(cluster={"certificate-authority": "ca.crt", "insecure-skip-tls-verify": True},
                                     user={"client-certificate": "c.crt", "client-key": "c.key", "tokenFile": "token"}),
                              base_dir=str(tmp_path))
    assert settings.ca_file == str(tmp_path / "ca.crt") and settings.cert_file == str(tmp_path / "c.crt")
    assert settings.key_file == str(tmp_path / "c.key") and settings.token == "from-file" and settings.verify is False


def test_the_named_context_wins_over_the_current_one():
    cfg = config(current="missing")
    assert plain_settings(cfg, context="other").token == "tok"
    with pytest.raises(InplaceError, match="context missing not found"):
        plain_settings(cfg)


@pytest.mark.parametrize("cluster, user", [
    ({}, {"exec": {"command": "aws"}}),
    ({}, {"auth-provider": {"name": "oidc"}}),
    ({"proxy-url": "http://proxy:3128"}, {"token": "t"}),
    ({"tls-server-name": "kubernetes"}, {"token": "t"}),
    ({}, {"as": "alice", "token": "t"}),
])
def test_what_this_file_does_not_read_goes_to_the_kubernetes_package(cluster, user):
    assert plain_settings(config(cluster=cluster, user=user)) is None


@pytest.mark.parametrize("cfg, fragment", [
    ({"clusters": [], "users": [], "contexts": []}, "no current-context"),
    (dict(config(), contexts="nope"), "contexts in the kubeconfig is not a list"),
    (config(context={"user": "u"}), "names no cluster"),
    (dict(config(), clusters=[{"name": "k", "cluster": {}}]), "has no server"),
    (config(cluster={"certificate-authority": "/nonexistent/ca.crt"}), "/nonexistent/ca.crt named in the kubeconfig does not exist"),
    (config(user={"tokenFile": "/nonexistent/token"}), "cannot read the tokenFile /nonexistent/token"),
])
def test_broken_kubeconfigs_fail_clearly(cfg, fragment):
    with pytest.raises(InplaceError, match="cannot load the Kubernetes configuration") as caught:
        plain_settings(cfg)
    assert fragment in caught.value.msg


def test_a_file_that_is_not_yaml_names_itself(tmp_path):
    path = tmp_path / "garbage.kubeconfig"
    path.write_text("{{{ this: is: not [yaml\n")
    with pytest.raises(InplaceError, match="garbage.kubeconfig"):
        read_kubeconfig(str(path))
    path.write_text("- a list\n")
    with pytest.raises(InplaceError, match="not a YAML mapping"):
        read_kubeconfig(str(path))


PROBE = """
import json, sys
from ansible_collections.inplace.kubernetes.plugins.module_utils._inplace.client import Kube
kube = Kube(json.loads(sys.argv[1]))
print(json.dumps({"kubernetes": "kubernetes" in sys.modules, "host": kube.host, "auth": kube._headers().get("authorization")}))
"""


def probe(params):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p), KUBECONFIG="/nonexistent")
    out = subprocess.run([sys.executable, "-c", PROBE, json.dumps(params)], env=env, check=True, capture_output=True, text=True).stdout
    return json.loads(out)


def test_the_kubernetes_package_is_imported_only_for_a_configuration_that_needs_it():
    plain = probe({"kubeconfig": config(), "host": "https://override:6443"})
    assert plain == {"kubernetes": False, "host": "https://override:6443", "auth": "Bearer tok"}
    assert probe({"host": "https://h:6443", "api_key": "k"}) == {"kubernetes": False, "host": "https://h:6443", "auth": "Bearer k"}
    proxied = probe({"host": "https://h:6443", "api_key": "k", "proxy": "http://proxy:3128"})
    assert proxied == {"kubernetes": True, "host": "https://h:6443", "auth": "Bearer k"}
