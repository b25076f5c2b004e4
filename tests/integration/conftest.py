"""Fixtures for integration tests against a local Kubernetes 1.20 control plane.

* ``cluster`` (session): a LocalCluster in a temporary state dir, or - when INPLACE_CLUSTER_STATE
  points at the state dir of a cluster started with ``localcluster.py up`` - that cluster (left
  running at the end).
* ``k8s``: admin clients: ``k8s.api`` (ApiClient), ``k8s.core`` (CoreV1Api), ``k8s.apps``
  (AppsV1Api), ``k8s.cluster``.
* ``namespace`` (function): a fresh namespace, deleted afterwards.

Helpers for tests live in tests/cluster/helpers.py (``from helpers import ...``).
"""

import os
import sys
import types
import uuid

import pytest

CLUSTER_DIR = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                            "..", "cluster"))
if CLUSTER_DIR not in sys.path:
    sys.path.insert(0, CLUSTER_DIR)

from localcluster import provided  # noqa: E402


def pytest_configure(config):
    config.addinivalue_line("markers", "integration: needs the local Kubernetes control plane "
                            "(tests/cluster/localcluster.py)")


def pytest_collection_modifyitems(config, items):
    here = os.path.dirname(os.path.abspath(__file__))
    for item in items:
        if str(item.fspath).startswith(here):
            item.add_marker(pytest.mark.integration)


@pytest.fixture(scope="session")
def cluster():
    with provided("INPLACE_CLUSTER_STATE", "inplace-cluster-", int(os.environ.get("INPLACE_CLUSTER_NODES", "3")),
                  float(os.environ.get("INPLACE_START_DELAY", "1.0")),
                  float(os.environ.get("INPLACE_READY_DELAY", "1.0"))) as shared:
        yield shared


def _clients(kubeconfig):
    from kubernetes import client, config
    cfg = client.Configuration()
    config.load_kube_config(config_file=kubeconfig, client_configuration=cfg)
    cfg.connection_pool_maxsize = 16
    api = client.ApiClient(cfg)
    return types.SimpleNamespace(api=api, core=client.CoreV1Api(api), apps=client.AppsV1Api(api))


@pytest.fixture(scope="session")
def k8s(cluster):
    ns = _clients(cluster.admin_kubeconfig)
    ns.cluster = cluster
    yield ns
    ns.api.close()


@pytest.fixture(scope="session")
def k8s_user(cluster):
    """Clients for the unprivileged user "inplace-user" (no RBAC bindings)."""
    ns = _clients(cluster.user_kubeconfig)
    yield ns
    ns.api.close()


@pytest.fixture
def namespace(k8s, request):
    name = "t-%s-%s" % (request.node.name.lower().replace("_", "-")[:30].strip("-[]"),
                        uuid.uuid4().hex[:6])
    name = "".join(ch if ch.isalnum() or ch == "-" else "-" for ch in name).strip("-")
    k8s.core.create_namespace({"apiVersion": "v1", "kind": "Namespace",
                               "metadata": {"name": name}})
    from helpers import wait_for
    # 1.20 admission rejects bare pods until the default ServiceAccount has its token secret.
    wait_for(lambda: k8s.core.read_namespaced_service_account("default", name).secrets, 60,
             message="default ServiceAccount token in %s" % name)
    yield name
    try:
        k8s.core.delete_namespace(name, body={"propagationPolicy": "Background"})
    except Exception:  # noqa: BLE001 - cleanup must not mask the test result
        pass
