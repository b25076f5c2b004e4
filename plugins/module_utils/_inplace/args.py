# -*- coding: utf-8 -*-
# Copyright: inplace.kubernetes contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The argument specs, defined once; the doc fragments document the same options."""

from __future__ import annotations

import copy

from ansible.module_utils.basic import env_fallback

AUTH_ARG_SPEC = {
    "kubeconfig": {"type": "raw", "fallback": (env_fallback, ["K8S_AUTH_KUBECONFIG"])},
    "context": {"type": "str", "fallback": (env_fallback, ["K8S_AUTH_CONTEXT"])},
    "host": {"type": "str", "fallback": (env_fallback, ["K8S_AUTH_HOST"])},
    "api_key": {"type": "str", "no_log": True, "fallback": (env_fallback, ["K8S_AUTH_API_KEY"])},
    "username": {"type": "str", "fallback": (env_fallback, ["K8S_AUTH_USERNAME"])},
    "password": {"type": "str", "no_log": True, "fallback": (env_fallback, ["K8S_AUTH_PASSWORD"])},
    "validate_certs": {"type": "bool", "aliases": ["verify_ssl"], "fallback": (env_fallback, ["K8S_AUTH_VERIFY_SSL"])},
    "ca_cert": {"type": "path", "aliases": ["ssl_ca_cert"], "fallback": (env_fallback, ["K8S_AUTH_SSL_CA_CERT"])},
    "client_cert": {"type": "path", "aliases": ["cert_file"], "fallback": (env_fallback, ["K8S_AUTH_CERT_FILE"])},
    "client_key": {"type": "path", "aliases": ["key_file"], "no_log": False, "fallback": (env_fallback, ["K8S_AUTH_KEY_FILE"])},
    "proxy": {"type": "str", "fallback": (env_fallback, ["K8S_AUTH_PROXY"])},
    "no_proxy": {"type": "str", "fallback": (env_fallback, ["K8S_AUTH_NO_PROXY"])},
    "impersonate_user": {"type": "str", "fallback": (env_fallback, ["K8S_AUTH_IMPERSONATE_USER"])},
    "impersonate_groups": {"type": "list", "elements": "str", "fallback": (env_fallback, ["K8S_AUTH_IMPERSONATE_GROUPS"])},
}

TARGET_ARG_SPEC = {
    "kind": {"type": "str", "default": "Deployment", "choices": ["Deployment", "StatefulSet", "DaemonSet"]},
    "name": {"type": "str"},
    "namespace": {"type": "str", "default": "default"},
    "label_selectors": {"type": "list", "elements": "str"},
    "containers": {"type": "dict"},
    "image": {"type": "str"},
    "resources": {"type": "dict"},
}

# Which pods and in what batches; both modules take these, each documents them in its own words
# (the info module plans, the upgrade module acts).
PLAN_ARG_SPEC = {
    "pods": {"type": "list", "elements": "str"},
    "max_pods": {"type": "int"},
    "batch_size": {"type": "str"},
    "canary": {"type": "str"},
    "rollback": {"type": "bool", "default": False},
}

WAIT_ARG_SPEC = {
    "wait": {"type": "bool", "default": True},
    "wait_timeout": {"type": "int", "default": 300},
    "min_ready_seconds": {"type": "int", "default": 0},
}


# The lease a run holds (lease.py): options of the lease module, and suboptions of the upgrade module's
# ``lease`` (where an omitted duration is worked out from the run, run_lease.py).
LEASE_HOLD_SPEC = {
    "holder": {"type": "str"},
    "duration_seconds": {"type": "int"},
}


def argument_spec(*parts):
    """A fresh copy of the named spec parts merged together."""
    spec = {}
    for part in parts:
        spec.update(copy.deepcopy(part))
    return spec


def with_defaults(spec, **defaults):
    """A fresh copy of ``spec`` with these options' defaults set."""
    spec = copy.deepcopy(spec)
    for option, value in defaults.items():
        spec[option]["default"] = value
    return spec


TARGET_REQUIRED_ONE_OF = [("name", "label_selectors")]
