"""Fixtures for integration tests against the local control plane and its real-kubelet nodes.

* ``cluster`` (session): a LocalCluster in a temporary state dir (Kubernetes ``$INPLACE_K8S_VERSION``
  or the newest pinned one), or - when INPLACE_CLUSTER_STATE points at the state dir of a cluster
  started with ``localcluster.py up`` - that cluster (left running at the end).
* ``faults`` (function): ``faults(pull_fail=[...], crash=[...], unready=[...], ...)`` sets the
  nodes' CRI faults for the rest of the test; they are cleared afterwards.
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
    config.addinivalue_line("markers", "slow: long soak tests, run by the soak stage (make soak), left out of "
                            "integration and compat")
    config.addinivalue_line("markers", "compat: the compatibility subset, also run on the oldest "
                            "supported Kubernetes (K8S_OLDEST in tests/cluster/versions.env)")
    config.addinivalue_line("markers", "any_version: behaviour no Kubernetes version changes (input checks, the "
                            "Ansible process, the maintenance window, RBAC refusals): left out of compat")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """A failed test's report carries what the cluster said about its namespace: the Events (the
    kubelet's Unhealthy/BackOff/Killing, the controllers' own) and the lines of the nodes' and the
    controller-manager's logs that name it, so a failure seen only in CI can be read afterwards."""
    outcome = yield
    report = outcome.get_result()
    if report.when != "call" or not report.failed:
        return
    k8s, namespace = item.funcargs.get("k8s"), item.funcargs.get("namespace")
    if k8s is None or not isinstance(namespace, str):
        return
    from helpers import cluster_story
    try:
        report.sections.append(("cluster: what it said about %s" % namespace, cluster_story(k8s, namespace)))
    except Exception as exc:  # noqa: BLE001 - a diagnostic must never mask the failure it explains
        report.sections.append(("cluster", "could not read the cluster: %r" % (exc,)))


def pytest_collection_modifyitems(config, items):
    here = os.path.dirname(os.path.abspath(__file__))
    for item in items:
        if str(item.fspath).startswith(here):
            item.add_marker(pytest.mark.integration)


@pytest.fixture(scope="session")
def cluster():
    with provided("INPLACE_CLUSTER_STATE", "inplace-cluster-",
                  int(os.environ.get("INPLACE_CLUSTER_NODES", "3"))) as shared:
        yield shared


@pytest.fixture
def faults(cluster):
    """Set CRI faults on every node for the rest of the test (see LocalCluster.set_faults)."""
    def set_faults(**fields):
        return cluster.set_faults(**fields)
    yield set_faults
    if cluster.current_faults != cluster.base_faults:
        cluster.set_faults()


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
    # Admission rejects pods until the ServiceAccount controller has made the default one.
    wait_for(lambda: k8s.core.read_namespaced_service_account("default", name), 60,
             message="default ServiceAccount in %s" % name)
    yield name
    try:
        k8s.core.delete_namespace(name, body={"propagationPolicy": "Background"})
    except Exception:  # noqa: BLE001 - cleanup must not mask the test result
        pass
