# -*- coding: utf-8 -*-
# Copyright: inplace.kubernetes contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment(object):
    DOCUMENTATION = r"""
options:
  kubeconfig:
    description:
      - Path to a kubeconfig file, or the kubeconfig content as a dictionary.
      - When neither O(kubeconfig), O(host) nor O(context) is given, C(~/.kube/config) (or the first file of
        E(KUBECONFIG)) is used; inside a pod, the pod's service account is used instead.
      - Can be set with the E(K8S_AUTH_KUBECONFIG) environment variable.
    type: raw
  context:
    description:
      - The kubeconfig context to use. Can be set with E(K8S_AUTH_CONTEXT).
    type: str
  host:
    description:
      - URL of the Kubernetes API server. Can be set with E(K8S_AUTH_HOST).
    type: str
  api_key:
    description:
      - Bearer token for the API server. Can be set with E(K8S_AUTH_API_KEY). Never logged.
    type: str
  username:
    description:
      - User name for basic authentication (only for API servers that still allow it). Can be set with E(K8S_AUTH_USERNAME).
    type: str
  password:
    description:
      - Password for basic authentication. Can be set with E(K8S_AUTH_PASSWORD). Never logged.
    type: str
  validate_certs:
    description:
      - Verify the API server's TLS certificate. On unless a kubeconfig says otherwise; V(false) is an explicit
        opt-out that the module warns about.
      - Can be set with E(K8S_AUTH_VERIFY_SSL).
    type: bool
    aliases: [verify_ssl]
  ca_cert:
    description:
      - Path to a CA certificate that signs the API server's certificate. Can be set with E(K8S_AUTH_SSL_CA_CERT).
    type: path
    aliases: [ssl_ca_cert]
  client_cert:
    description:
      - Path to a client certificate for mutual TLS. Can be set with E(K8S_AUTH_CERT_FILE).
    type: path
    aliases: [cert_file]
  client_key:
    description:
      - Path to the key of O(client_cert). Can be set with E(K8S_AUTH_KEY_FILE).
    type: path
    aliases: [key_file]
  proxy:
    description:
      - HTTP(S) proxy URL for the API server connection. Can be set with E(K8S_AUTH_PROXY).
    type: str
  no_proxy:
    description:
      - Comma-separated host names or domains that bypass O(proxy). Can be set with E(K8S_AUTH_NO_PROXY).
    type: str
  impersonate_user:
    description:
      - User name to impersonate. Can be set with E(K8S_AUTH_IMPERSONATE_USER).
    type: str
  impersonate_groups:
    description:
      - Groups to impersonate. Can be set with E(K8S_AUTH_IMPERSONATE_GROUPS) (comma-separated).
    type: list
    elements: str
requirements:
  - kubernetes >= 24.2.0 (Python client)
notes:
  - The options and their E(K8S_AUTH_*) variables are those of the kubernetes.core collection, so AWX/Tower
    Kubernetes credentials and C(module_defaults) for C(group/inplace.kubernetes.k8s) work unchanged.
"""
