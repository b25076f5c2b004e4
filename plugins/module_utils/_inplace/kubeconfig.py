# -*- coding: utf-8 -*-
# Copyright: inplace.kubernetes contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A kubeconfig's plain credentials, read without the ``kubernetes`` package (pure: no HTTP client).

Most kubeconfigs name a server, its CA and a token, a client certificate or a user and password. Those
are read here, which spares each module call the ``kubernetes`` package's import (about 0.1 s: it loads
its configuration loader, oauthlib, requests and pydantic). Anything else - an exec credential plugin, an
auth provider, a proxy URL, a TLS server name, a key this file does not know - makes :func:`plain_settings`
return ``None``, and client.py loads the configuration with the ``kubernetes`` package as it always did.
"""

from __future__ import annotations

import base64
import os

from ansible_collections.inplace.kubernetes.plugins.module_utils._inplace.errors import InplaceError

# What a plain cluster and user entry may hold; anything else goes to the kubernetes package.
PLAIN_CLUSTER_KEYS = frozenset(["server", "certificate-authority", "certificate-authority-data", "insecure-skip-tls-verify", "extensions"])
PLAIN_USER_KEYS = frozenset(
    ["token", "tokenFile", "client-certificate", "client-certificate-data", "client-key", "client-key-data", "username", "password", "extensions"]
)


class Settings(object):
    """A connection's plain settings: ``host``; ``ca_file`` or ``ca_data`` (PEM text); ``verify``; the client
    certificate and key as files or PEM bytes; ``token`` or ``username`` / ``password``."""

    def __init__(self, host=None):
        self.host = host
        self.ca_file = None
        self.ca_data = None
        self.verify = True
        self.cert_file = None
        self.cert_data = None
        self.key_file = None
        self.key_data = None
        self.token = None
        self.username = None
        self.password = None


def read_kubeconfig(path):
    """The kubeconfig file at ``path`` as a dict (its YAML parsed, nothing resolved)."""
    # PyYAML comes with ansible-core and the kubernetes package; imported only when a kubeconfig file is read.
    import yaml  # pylint: disable=import-outside-toplevel

    try:
        with open(path, "rb") as handle:
            data = yaml.safe_load(handle)
    except (OSError, yaml.YAMLError, ValueError) as exc:
        raise InplaceError("cannot load the Kubernetes configuration from kubeconfig %s: %s" % (path, " ".join(str(exc).split()))) from exc
    if not isinstance(data, dict):
        raise InplaceError("cannot load the Kubernetes configuration: kubeconfig %s is not a YAML mapping" % path)
    return data


def _named(config, section, name, source):
    entries = config.get(section) or []
    if not isinstance(entries, list):
        raise InplaceError("cannot load the Kubernetes configuration: %s in %s is not a list" % (section, source))
    for entry in entries:
        if isinstance(entry, dict) and entry.get("name") == name:
            value = entry.get(section[:-1])
            if not isinstance(value, dict):
                raise InplaceError("cannot load the Kubernetes configuration: %s %s in %s has no %s" % (section[:-1], name, source, section[:-1]))
            return value
    raise InplaceError("cannot load the Kubernetes configuration: %s %s not found in %s" % (section[:-1], name, source))


def plain_settings(config, context=None, base_dir=None, source="the kubeconfig"):
    """The :class:`Settings` of ``context`` (else the current context) of the kubeconfig dict ``config``, or ``None``
    when it needs the kubernetes package (see the module docstring). Relative file names are relative to
    ``base_dir`` (the kubeconfig file's directory), as kubectl reads them."""
    name = context or config.get("current-context")
    if not name:
        raise InplaceError("cannot load the Kubernetes configuration: %s has no current-context and no context was given" % source)
    ctx = _named(config, "contexts", name, source)
    cluster = _named(config, "clusters", ctx.get("cluster"), source) if ctx.get("cluster") else None
    if cluster is None:
        raise InplaceError("cannot load the Kubernetes configuration: context %s in %s names no cluster" % (name, source))
    user = _named(config, "users", ctx.get("user"), source) if ctx.get("user") else {}
    if set(cluster) - PLAIN_CLUSTER_KEYS or set(user) - PLAIN_USER_KEYS:
        return None
    if not cluster.get("server"):
        raise InplaceError("cannot load the Kubernetes configuration: cluster %s in %s has no server" % (ctx.get("cluster"), source))
    settings = Settings(str(cluster["server"]))
    settings.verify = not _true(cluster.get("insecure-skip-tls-verify"))
    settings.ca_file = _path(cluster.get("certificate-authority"), base_dir)
    settings.ca_data = _decoded(cluster.get("certificate-authority-data"), "certificate-authority-data", source)
    settings.cert_file = _path(user.get("client-certificate"), base_dir)
    settings.cert_data = _decoded(user.get("client-certificate-data"), "client-certificate-data", source)
    settings.key_file = _path(user.get("client-key"), base_dir)
    settings.key_data = _decoded(user.get("client-key-data"), "client-key-data", source)
    if user.get("token"):
        settings.token = str(user["token"]).strip()
    elif user.get("tokenFile"):
        path = _path(user["tokenFile"], base_dir)
        try:
            with open(path) as handle:
                settings.token = handle.read().strip()
        except OSError as exc:
            raise InplaceError("cannot load the Kubernetes configuration: cannot read the tokenFile %s of %s: %s" % (path, source, exc.strerror)) from exc
    if user.get("username"):
        settings.username = str(user["username"])
        settings.password = str(user.get("password") or "")
    for option, value in (("certificate-authority", settings.ca_file), ("client-certificate", settings.cert_file), ("client-key", settings.key_file)):
        if value and not os.path.isfile(value):
            raise InplaceError("cannot load the Kubernetes configuration: %s %s named in %s does not exist" % (option, value, source))
    return settings


def _true(value):
    return value is True or str(value).lower() == "true"


def _path(value, base_dir):
    if not value:
        return None
    value = os.path.expanduser(str(value))
    return value if os.path.isabs(value) or not base_dir else os.path.join(base_dir, value)


def _decoded(value, what, source):
    if not value:
        return None
    try:
        return base64.b64decode(str(value), validate=False)
    except (ValueError, TypeError) as exc:
        raise InplaceError("cannot load the Kubernetes configuration: %s in %s is not base64" % (what, source)) from exc
