"""Hostile input and security (issue 8), against the shared local control plane.

* Hostile and wrong input: each case fails with a clear message (no traceback) before any write; the
  cluster is unchanged (every pod's and the owner's resourceVersion compared before and after).
* TLS verification is on by default; ``validate_certs: false`` is an explicit opt-out that warns.
* Credentials never show: the token is grepped for in the full ``-vvvv`` output, the recorded task
  results and the role's report file.
* The shipped least-privilege RBAC is enough in its namespace and nothing outside it; without
  ``patch pods`` the message names the verb and the resource.
* Nothing in plugins/ or roles/ runs shell commands or evaluates code (static check).

The property-based tests of the pure validators live in tests/unit (not duplicated here).
"""

import ast
import base64
import json
import os
import pathlib
import re
import stat
import subprocess
import sys

import pytest
import yaml
from kubernetes import client as k8s_client

from helpers import container, create_deployment, live_pods, snapshot, wait_for
from module_helpers import (INFO_MODULE, MODULE, NEW, OLD, assert_clean_failure, closed_port, settled_resource_versions,
                            wait_deployment_settled)
from playbook import REPO_ROOT, run_playbook
from role_helpers import leases, role_task, run_role

pytestmark = pytest.mark.integration

SEL = "app=web"


def deployment(k8s, namespace, replicas=2):
    create_deployment(k8s, namespace, "web", replicas=replicas, containers=[container("app", OLD)])
    wait_deployment_settled(k8s, namespace, "web")
    return snapshot(k8s, namespace, SEL)


def guarded(name, module, args):
    """A task that may fail without stopping the play (its failure is still recorded)."""
    return {"name": name, module: args, "ignore_errors": True}


def clean_failure(res, name, *fragments):
    records = res.task_records(name)
    assert len(records) == 1, "task %s reported %d times\n%s" % (name, len(records), res.describe())
    result = records[0]["result"]
    return assert_clean_failure(res, result, *fragments)


def all_output(res):
    return res.stdout + "\n" + res.stderr + "\n" + json.dumps(res.records, default=str)


# -- hostile and wrong module input ---------------------------------------------------------------------

BAD_IMAGES = {
    "empty": ("", "image"),
    "spaces": ("nginx :1.21", "image"),
    "leading-space": (" nginx:1.21", "image"),
    "uppercase-repository": ("Nginx:1.21", "image"),
    "dot-dot": ("registry.example.com/../etc:1", "image"),
    "tag-300": ("nginx:" + "a" * 300, "image"),
    "digest-short": ("nginx@sha256:1234", "image"),
    "digest-not-hex": ("nginx@sha256:" + "z" * 64, "image"),
    "digest-no-algorithm": ("nginx@" + "a" * 64, "image"),
}

BAD_BATCHES = {
    "batch-negative": ({"batch_size": "-1"}, "batch_size"),
    "batch-zero": ({"batch_size": "0"}, "batch_size"),
    "batch-zero-int": ({"batch_size": 0}, "batch_size"),
    "batch-over-100-percent": ({"batch_size": "150%"}, "batch_size"),
    "batch-zero-percent": ({"batch_size": "0%"}, "batch_size"),
    "batch-percent-no-number": ({"batch_size": "%"}, "batch_size"),
    "batch-percent-word": ({"batch_size": "abc%"}, "batch_size"),
    "batch-negative-percent": ({"batch_size": "-10%"}, "batch_size"),
    "batch-word": ({"batch_size": "all"}, "batch_size"),
    "canary-negative": ({"canary": "-2"}, "canary"),
    "canary-over-100-percent": ({"canary": "101%"}, "canary"),
    "max-pods-zero": ({"max_pods": 0}, "max_pods"),
    "max-pods-negative": ({"max_pods": -3}, "max_pods"),
    "wait-timeout-negative": ({"wait_timeout": -5}, "wait_timeout"),
    "not-after-garbage": ({"not_after": "tomorrow morning"}, "not_after"),
    "not-after-no-offset": ({"not_after": "2030-01-01T04:00:00"}, "not_after"),
}


def test_hostile_module_input_fails_clearly_before_any_write(k8s, cluster, namespace):
    deployment(k8s, namespace)
    base = {"name": "web", "namespace": namespace, "containers": {"app": NEW}, "wait_timeout": 30}
    cases = {}
    for key, (image, fragment) in BAD_IMAGES.items():
        cases["image-" + key] = (dict(base, containers={"app": image}), fragment)
        if key in ("empty", "uppercase-repository", "digest-short"):  # the image shorthand goes the same way
            cases["image-param-" + key] = (dict(base, containers=None, image=image), fragment)
    for key, (extra, fragment) in BAD_BATCHES.items():
        cases[key] = (dict(base, **extra), fragment)
    cases.update({
        "container-not-there": (dict(base, containers={"nosuch": NEW}), "nosuch"),
        "container-name-invalid": (dict(base, containers={"App!": NEW}), "container name"),
        "name-invalid": (dict(base, name="Web_App!"), "not a valid Kubernetes name"),
        "name-too-long": (dict(base, name="w" * 300), "not a valid Kubernetes name"),
        "name-path-traversal": (dict(base, name="../../api/v1/namespaces"), "not a valid Kubernetes name"),
        "namespace-invalid": (dict(base, namespace="Bad_NS"), "not a valid Kubernetes name"),
        "namespace-with-dot": (dict(base, namespace="a.b"), "not a valid Kubernetes name"),
        "namespace-missing": (dict(base, namespace="no-such-namespace-x9"), "no-such-namespace-x9"),
        "workload-missing": (dict(base, name="no-such-web"), "not found"),
        "pod-name-invalid": (dict(base, pods=["UPPER_pod"]), "pod name"),
        "pod-not-of-workload": (dict(base, pods=["web-does-not-exist"]), "web-does-not-exist"),
        "rollback-with-image": (dict(base, rollback=True), "rollback"),
        "selector-garbage": (dict(base, name=None, label_selectors=["app in (web"]), ""),
    })
    for args in (c[0] for c in cases.values()):
        for key in [k for k, v in args.items() if v is None]:
            del args[key]
    tasks = [guarded(name, MODULE, case[0]) for name, case in cases.items()]
    # check mode too: refusing bad input must not depend on the mode
    tasks.append(dict(guarded("check-mode-bad-image", MODULE, dict(base, containers={"app": "Nginx:1"})),
                      check_mode=True))
    cases["check-mode-bad-image"] = (None, "image")

    before = settled_resource_versions(k8s, namespace)
    res = run_playbook(tasks, kubeconfig=cluster.admin_kubeconfig, timeout=300)
    problems = []
    for name, (dummy, fragment) in cases.items():
        try:
            clean_failure(res, name, fragment)
        except AssertionError as exc:
            problems.append("%s: %s" % (name, str(exc).splitlines()[0][:400]))
    assert not problems, "\n".join(problems)
    after = settled_resource_versions(k8s, namespace)
    assert after == before, "bad input changed the cluster: %s" % {
        k: (before.get(k), after.get(k)) for k in set(before) | set(after) if before.get(k) != after.get(k)}
    assert not [e for e in k8s.core.list_namespaced_event(namespace).items
                if ((e.source and e.source.component) or "").startswith("inplace") or "Inplace" in (e.reason or "")]


def kubeconfig_text(server, ca_file=None, token="x", insecure=False, context="c"):
    cluster = {"server": server}
    if ca_file:
        cluster["certificate-authority"] = ca_file
    if insecure:
        cluster["insecure-skip-tls-verify"] = True
    return yaml.safe_dump({"apiVersion": "v1", "kind": "Config", "current-context": context,
                           "clusters": [{"name": "c", "cluster": cluster}],
                           "users": [{"name": "u", "user": {"token": token}}],
                           "contexts": [{"name": "c", "context": {"cluster": "c", "user": "u"}}]})


def test_wrong_kubeconfigs_fail_clearly_and_change_nothing(k8s, cluster, namespace, tmp_path):
    deployment(k8s, namespace)
    files = {}
    files["missing"] = (str(tmp_path / "does-not-exist.kubeconfig"), "does not exist")
    empty = tmp_path / "empty.kubeconfig"
    empty.write_text("")
    files["empty"] = (str(empty), "empty")
    directory = tmp_path / "a-directory"
    directory.mkdir()
    files["directory"] = (str(directory), "not a file")
    garbage = tmp_path / "garbage.kubeconfig"
    garbage.write_text("{{{ this: is: not [yaml\n\x00")
    files["garbage"] = (str(garbage), "kubeconfig")
    no_clusters = tmp_path / "no-clusters.kubeconfig"
    no_clusters.write_text(yaml.safe_dump({"apiVersion": "v1", "kind": "Config", "clusters": [], "users": [],
                                           "contexts": []}))
    files["no-clusters"] = (str(no_clusters), "")
    nowhere = tmp_path / "closed-port.kubeconfig"
    nowhere.write_text(kubeconfig_text("https://127.0.0.1:%d" % closed_port(), ca_file=cluster.ca_cert,
                                       token=cluster.admin_token))
    files["closed-port"] = (str(nowhere), "cannot reach")
    files["unknown-context"] = (cluster.admin_kubeconfig, "nope-context")
    unreadable = tmp_path / "unreadable.kubeconfig"
    unreadable.write_text(pathlib.Path(cluster.admin_kubeconfig).read_text())
    unreadable.chmod(0)
    if os.geteuid() != 0:
        # As root the permission bits do not stop a read: the case is only meaningful for other users.
        files["unreadable"] = (str(unreadable), "not readable")

    base = {"name": "web", "namespace": namespace, "containers": {"app": NEW}, "wait_timeout": 30}
    tasks = []
    for name, (path, dummy) in files.items():
        args = dict(base, kubeconfig=path)
        if name == "unknown-context":
            args["context"] = "nope-context"
        tasks.append(guarded(name, MODULE, args))
    # K8S_AUTH_KUBECONFIG (how AWX credentials arrive) is checked the same way
    tasks.append(dict(guarded("env-missing", MODULE, base), environment={
        "K8S_AUTH_KUBECONFIG": str(tmp_path / "nope.kubeconfig")}))
    files["env-missing"] = (None, "does not exist")

    before = settled_resource_versions(k8s, namespace)
    res = run_playbook(tasks, env={"K8S_AUTH_KUBECONFIG": None, "KUBECONFIG": str(tmp_path / "no-default")},
                       timeout=300)
    problems = []
    for name, (dummy, fragment) in files.items():
        try:
            msg = clean_failure(res, name, fragment)
            assert cluster.admin_token not in msg, "the message shows the token"
        except AssertionError as exc:
            problems.append("%s: %s" % (name, str(exc).splitlines()[0][:400]))
    assert not problems, "\n".join(problems)
    assert cluster.admin_token not in all_output(res)
    assert settled_resource_versions(k8s, namespace) == before


BAD_WINDOWS = {
    "hour-25": {"start": "25:00", "end": "03:00"},
    "words": {"start": "1am", "end": "3am"},
    "unknown-zone": {"start": "01:00", "end": "03:00", "timezone": "Mars/Olympus_Mons"},
    "offset-as-zone": {"start": "01:00", "end": "03:00", "timezone": "+02:00"},
    "zone-path-traversal": {"start": "01:00", "end": "03:00", "timezone": "../../../etc/passwd"},
    "not-a-dict": "01:00-03:00",
}


def test_hostile_role_input_fails_clearly_without_a_write_or_a_lease(k8s, cluster, namespace, tmp_path):
    deployment(k8s, namespace)
    base = {"inplace_upgrade_name": "web", "inplace_upgrade_namespace": namespace,
            "inplace_upgrade_containers": {"app": NEW}, "inplace_upgrade_wait_timeout": 30}
    cases = dict(("window-" + k, dict(base, inplace_upgrade_window=v)) for k, v in BAD_WINDOWS.items())
    cases.update({
        "batch-percent-no-number": dict(base, inplace_upgrade_batch_size="%"),
        "batch-over-100": dict(base, inplace_upgrade_batch_size="200%"),
        "image-uppercase": dict(base, inplace_upgrade_containers={"app": "Nginx:1.21"}),
        "container-missing": dict(base, inplace_upgrade_containers={"nosuch": NEW}),
        "namespace-missing": dict(base, inplace_upgrade_namespace="no-such-namespace-r7"),
        "name-invalid": dict(base, inplace_upgrade_name="Web App"),
    })
    plays = []
    for name, role_vars in cases.items():
        plays.append({"name": name, "block": [role_task(role_vars)],
                      "rescue": [{"name": "caught " + name, "ansible.builtin.debug": {
                          "msg": "{{ ansible_failed_result.msg | default('') }}"}}]})
    before = settled_resource_versions(k8s, namespace)
    res = run_playbook(plays, kubeconfig=cluster.admin_kubeconfig, timeout=400)
    assert res.ok, res.describe()
    problems = []
    for name in cases:
        caught = res.task_results("caught " + name)
        if len(caught) != 1:
            problems.append("%s: not refused (%d)" % (name, len(caught)))
            continue
        msg = caught[0].get("msg") or ""
        if not msg or "Traceback" in msg or "MODULE FAILURE" in msg:
            problems.append("%s: unclear message %r" % (name, msg[:300]))
        if name.startswith("window-") and "window" not in msg.lower():
            problems.append("%s: message does not name the window: %r" % (name, msg[:300]))
    assert not problems, "\n".join(problems)
    assert settled_resource_versions(k8s, namespace) == before
    assert leases(k8s, namespace) == [], "a refused run left a lease"


# -- TLS ----------------------------------------------------------------------------------------------------


def test_tls_verification_is_on_by_default_and_validate_certs_false_warns(k8s, cluster, namespace, tmp_path):
    deployment(k8s, namespace)
    wrong_ca = "/etc/ssl/certs/ca-certificates.crt"  # real CAs, none of which signed the local API server
    if not os.path.exists(wrong_ca):
        wrong_ca = str(tmp_path / "other-ca.crt")
        pathlib.Path(wrong_ca).write_text(pathlib.Path(cluster.ca_cert).read_text().replace("A", "B"))
    bad_ca = tmp_path / "wrong-ca.kubeconfig"
    bad_ca.write_text(kubeconfig_text(cluster.server, ca_file=wrong_ca, token=cluster.admin_token))
    no_ca = tmp_path / "no-ca.kubeconfig"
    no_ca.write_text(kubeconfig_text(cluster.server, token=cluster.admin_token))
    args = {"name": "web", "namespace": namespace, "containers": {"app": NEW}}
    tasks = [
        guarded("wrong-ca", INFO_MODULE, dict(args, kubeconfig=str(bad_ca))),
        guarded("no-ca", INFO_MODULE, dict(args, kubeconfig=str(no_ca))),
        guarded("host-token-no-ca", INFO_MODULE, dict(args, host=cluster.server, api_key=cluster.admin_token)),
        guarded("upgrade-wrong-ca", MODULE, dict(args, kubeconfig=str(bad_ca))),
        {"name": "opt-out", INFO_MODULE: dict(args, kubeconfig=str(bad_ca), validate_certs=False)},
        {"name": "opt-out-env", INFO_MODULE: dict(args, kubeconfig=str(bad_ca)),
         "environment": {"K8S_AUTH_VERIFY_SSL": "no"}},
    ]
    before = settled_resource_versions(k8s, namespace)
    res = run_playbook(tasks, env={"K8S_AUTH_KUBECONFIG": None}, timeout=300)
    for name in ("wrong-ca", "no-ca", "host-token-no-ca", "upgrade-wrong-ca"):
        msg = clean_failure(res, name)
        assert re.search(r"certificate verify failed|CERTIFICATE_VERIFY_FAILED|SSL|TLS", msg), (name, msg)
    for name in ("opt-out", "opt-out-env"):
        result = res.last(name)
        assert not result.get("failed"), result.get("msg")
        assert sorted(result["needs_upgrade"]) == sorted(p.metadata.name for p in live_pods(k8s, namespace, SEL))
        warnings = " ".join(result.get("warnings") or [])
        assert "validate_certs" in warnings and "verification" in warnings, (name, result.get("warnings"))
    assert "[WARNING]" in res.stdout + res.stderr and "validate_certs: false" in res.stdout + res.stderr
    assert settled_resource_versions(k8s, namespace) == before


def b64_of(path):
    return base64.b64encode(pathlib.Path(path).read_bytes()).decode("ascii")


def kubeconfig_for(server, cluster_entry, user_entry):
    return yaml.safe_dump({"apiVersion": "v1", "kind": "Config", "current-context": "c",
                           "clusters": [{"name": "c", "cluster": dict(cluster_entry, server=server)}],
                           "users": [{"name": "u", "user": user_entry}],
                           "contexts": [{"name": "c", "context": {"cluster": "c", "user": "u"}}]})


def test_client_certificates_and_an_exec_plugin_authenticate_and_a_foreign_certificate_is_refused(
        k8s, cluster, namespace, tmp_path):
    """Every way client.py authenticates, on the real API server: a client certificate as kubeconfig data, as
    files named relative to the kubeconfig, as the client_cert / client_key parameters (all three read without
    the kubernetes package, kubeconfig.py), and an exec credential plugin (loaded by the kubernetes package).
    A certificate the API server's client CA did not sign is a clear 401."""
    deployment(k8s, namespace)
    ca_data = b64_of(cluster.ca_cert)
    files = tmp_path / "files"
    files.mkdir()
    for source, name in ((cluster.ca_cert, "ca.crt"), (cluster.client_cert, "client.crt"), (cluster.client_key, "client.key")):
        (files / name).write_bytes(pathlib.Path(source).read_bytes())
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    # the test's own certificate, signed by nobody the API server trusts
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(foreign / "k"), "-out",
                    str(foreign / "c"), "-days", "2", "-subj", "/O=system:masters/CN=intruder"], check=True,
                   capture_output=True)
    plugin = tmp_path / "credential-plugin.py"
    plugin.write_text("import json\nprint(json.dumps({'apiVersion': 'client.authentication.k8s.io/v1', "
                      "'kind': 'ExecCredential', 'status': {'token': %r}}))\n" % cluster.admin_token)
    kubeconfigs = {
        "cert-data": ({"certificate-authority-data": ca_data},
                      {"client-certificate-data": b64_of(cluster.client_cert), "client-key-data": b64_of(cluster.client_key)}),
        "cert-files": ({"certificate-authority": "ca.crt"}, {"client-certificate": "client.crt", "client-key": "client.key"}),
        "exec-plugin": ({"certificate-authority-data": ca_data},
                        {"exec": {"apiVersion": "client.authentication.k8s.io/v1", "command": sys.executable,
                                  "args": [str(plugin)], "interactiveMode": "Never"}}),
        "foreign-cert": ({"certificate-authority-data": ca_data},
                         {"client-certificate-data": b64_of(foreign / "c"), "client-key-data": b64_of(foreign / "k")}),
    }
    args = {"name": "web", "namespace": namespace, "containers": {"app": NEW}}
    tasks = []
    for name, (cluster_entry, user_entry) in kubeconfigs.items():
        path = files / (name + ".kubeconfig")
        path.write_text(kubeconfig_for(cluster.server, cluster_entry, user_entry))
        tasks.append(guarded(name, INFO_MODULE, dict(args, kubeconfig=str(path))))
    by_parameters = dict(args, host=cluster.server, ca_cert=cluster.ca_cert, client_cert=cluster.client_cert,
                         client_key=cluster.client_key)
    tasks.append(guarded("cert-parameters", INFO_MODULE, by_parameters))
    before = settled_resource_versions(k8s, namespace)
    res = run_playbook(tasks, env={"K8S_AUTH_KUBECONFIG": None}, timeout=300)
    pods = sorted(p.metadata.name for p in live_pods(k8s, namespace, SEL))
    for name in ("cert-data", "cert-files", "exec-plugin", "cert-parameters"):
        result = res.last(name)
        assert not result.get("failed"), (name, result.get("msg"))
        assert sorted(result["needs_upgrade"]) == pods, (name, result)
    msg = clean_failure(res, "foreign-cert")
    assert "401" in msg or "Unauthorized" in msg, msg
    assert settled_resource_versions(k8s, namespace) == before


# -- credentials never shown ------------------------------------------------------------------------------


def test_api_key_never_appears_in_vvvv_output_results_or_report(k8s, cluster, namespace, tmp_path):
    deployment(k8s, namespace, replicas=2)
    token = cluster.admin_token
    bogus = "inplace-bogus-token-%s" % os.urandom(8).hex()
    auth = {"host": cluster.server, "api_key": token, "ca_cert": cluster.ca_cert}
    report_file = tmp_path / "report.json"
    tasks = [
        {"name": "upgrade with api_key", MODULE: dict(auth, name="web", namespace=namespace,
                                                      containers={"app": NEW}, batch_size=1)},
        guarded("wrong api_key", MODULE, dict(auth, api_key=bogus, name="web", namespace=namespace,
                                              containers={"app": NEW})),
        guarded("api_key from the environment", MODULE,
                dict(name="web", namespace="kube-system", containers={"app": NEW}, host=cluster.server,
                     ca_cert=cluster.ca_cert)),
        role_task({"inplace_upgrade_name": "web", "inplace_upgrade_namespace": namespace,
                   "inplace_upgrade_containers": {"app": OLD}, "inplace_upgrade_wait_timeout": 60,
                   "inplace_upgrade_report_file": str(report_file), "inplace_upgrade_auth": auth}),
    ]
    # As AWX hands a Kubernetes credential over: K8S_AUTH_* in ansible-playbook's own environment. (A task's
    # `environment:` keyword is different: Ansible itself prints it in the -vvv EXEC line.)
    res = run_playbook(tasks, env={"K8S_AUTH_KUBECONFIG": None, "K8S_AUTH_API_KEY": token}, diff=True,
                       verbosity=4, timeout=400)
    assert res.last("upgrade with api_key")["changed"], res.describe()
    assert res.task_records("wrong api_key")[0]["status"] == "failed"
    assert "401" in res.last("wrong api_key")["msg"] or "Unauthorized" in res.last("wrong api_key")["msg"]
    assert res.ok, res.describe()
    assert report_file.exists(), "the role wrote no report"
    assert len(res.stdout) > 20000, "not the full -vvvv output"
    for secret, what in ((token, "the admin token"), (bogus, "the rejected api_key")):
        for where, text in (("stdout/stderr", res.stdout + res.stderr),
                            ("task results", json.dumps(res.records, default=str)),
                            ("report file", report_file.read_text())):
            assert secret not in text, "%s appears in the %s" % (what, where)
            # nor base64-encoded (e.g. in a dumped Authorization header or kubeconfig)
            assert base64.b64encode(secret.encode()).decode()[:24] not in text, "%s (base64) in the %s" % (what, where)
    assert "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER" in res.stdout + res.stderr or "********" in res.stdout, (
        "expected the api_key to be masked in the -vvvv invocation dump")


# -- least privilege ------------------------------------------------------------------------------------------


def rbac_manifest():
    for rel in ("roles/inplace_upgrade/files/rbac.yml", "examples/rbac.yml"):
        path = pathlib.Path(REPO_ROOT) / rel
        if path.exists():
            return path
    raise AssertionError("no shipped RBAC manifest (roles/inplace_upgrade/files/rbac.yml)")


def rbac_objects(namespace):
    """The shipped manifest's objects for ``namespace`` (multi-document YAML or one List)."""
    text = rbac_manifest().read_text(encoding="utf-8").replace("NAMESPACE", namespace)
    objects = []
    for doc in yaml.safe_load_all(text):
        if not doc:
            continue
        objects.extend(doc.get("items") or [] if doc.get("kind") == "List" else [doc])
    return objects


def apply_shipped_rbac(k8s, namespace, drop_verbs=None):
    """Create the shipped objects through the API; ``drop_verbs`` ({"pods": ["patch"]}) shortens the Role."""
    rbac = k8s_client.RbacAuthorizationV1Api(k8s.api)
    objects = rbac_objects(namespace)
    for obj in objects:
        kind = obj["kind"]
        if kind == "ServiceAccount":
            k8s.core.create_namespaced_service_account(namespace, obj)
        elif kind == "Role":
            for rule in obj["rules"]:
                for resource, verbs in (drop_verbs or {}).items():
                    if resource in rule["resources"]:
                        rule["verbs"] = [v for v in rule["verbs"] if v not in verbs]
            rbac.create_namespaced_role(namespace, obj)
        elif kind == "RoleBinding":
            rbac.create_namespaced_role_binding(namespace, obj)
        else:
            raise AssertionError("unexpected kind %s in the shipped RBAC manifest" % kind)
    return objects


def service_account_token(k8s, namespace, name="inplace-upgrade"):
    """A bound token of the ServiceAccount from the TokenRequest API (since Kubernetes 1.24 no token Secret
    is made for a ServiceAccount), as AWX and CI systems get one."""
    def token():
        request = k8s.core.create_namespaced_service_account_token(name, namespace, {
            "apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest",
            "spec": {"expirationSeconds": 3600}})
        return request.status.token
    return wait_for(token, 60, message="token of ServiceAccount %s/%s" % (namespace, name))


@pytest.fixture
def other_namespace(k8s, namespace):
    name = namespace[:50] + "-b"
    k8s.core.create_namespace({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
    # The default ServiceAccount (no token Secret since 1.24): admission rejects pods until it exists.
    wait_for(lambda: k8s.core.read_namespaced_service_account("default", name), 60)
    yield name
    try:
        k8s.core.delete_namespace(name, body={"propagationPolicy": "Background"})
    except Exception:  # noqa: BLE001 - cleanup
        pass


def test_shipped_rbac_lets_its_service_account_upgrade_its_namespace_and_nothing_else(
        k8s, cluster, namespace, other_namespace, tmp_path):
    before = deployment(k8s, namespace, replicas=3)
    deployment(k8s, other_namespace, replicas=2)
    docs = apply_shipped_rbac(k8s, namespace)
    kinds = sorted(d["kind"] for d in docs)
    assert kinds == ["Role", "RoleBinding", "ServiceAccount"], "the manifest must stay namespaced: %s" % kinds
    token = service_account_token(k8s, namespace)
    auth = {"host": cluster.server, "api_key": token, "ca_cert": cluster.ca_cert}

    # The role, run as the ServiceAccount: plan, lease, batches, template sync, events, report.
    res, report = run_role(cluster, {"inplace_upgrade_name": "web", "inplace_upgrade_namespace": namespace,
                                     "inplace_upgrade_containers": {"app": NEW}, "inplace_upgrade_batch_size": 1,
                                     "inplace_upgrade_wait_timeout": 60, "inplace_upgrade_auth": auth}, tmp_path,
                           env={"K8S_AUTH_KUBECONFIG": None})
    assert res.ok, res.describe()
    assert report["outcome"] == "upgraded" and sorted(report["upgraded"]) == sorted(before), report
    warnings = " ".join(w for r in res.records for w in r["result"].get("warnings") or [])
    assert "forbidden" not in warnings.lower(), "the shipped Role lacks something: %s" % warnings
    after = snapshot(k8s, namespace, SEL)
    assert all(after[n]["uid"] == before[n]["uid"] and after[n]["specImages"]["app"] == NEW for n in before)
    dep = k8s.apps.read_namespaced_deployment("web", namespace)
    assert dep.spec.template.spec.containers[0].image == NEW and not dep.spec.paused

    # The same credentials in another namespace: refused with a clear 403, nothing changed there.
    other_before = settled_resource_versions(k8s, other_namespace)
    args = {"name": "web", "namespace": other_namespace, "containers": {"app": NEW}}
    res2 = run_playbook([guarded("module elsewhere", MODULE, dict(auth, **args)),
                         guarded("info elsewhere", INFO_MODULE, dict(auth, **args))],
                        env={"K8S_AUTH_KUBECONFIG": None}, timeout=120)
    for name in ("module elsewhere", "info elsewhere"):
        msg = clean_failure(res2, name, "forbidden", "403")
        assert other_namespace in msg and "inplace-upgrade" in msg, msg
    assert settled_resource_versions(k8s, other_namespace) == other_before


def test_role_without_patch_pods_fails_naming_the_missing_permission(k8s, cluster, namespace):
    before = deployment(k8s, namespace, replicas=2)
    apply_shipped_rbac(k8s, namespace, drop_verbs={"pods": ["patch"]})
    token = service_account_token(k8s, namespace)
    res = run_playbook([guarded("upgrade", MODULE, {"host": cluster.server, "api_key": token,
                                                    "ca_cert": cluster.ca_cert, "name": "web",
                                                    "namespace": namespace, "containers": {"app": NEW}})],
                       env={"K8S_AUTH_KUBECONFIG": None}, timeout=120)
    msg = clean_failure(res, "upgrade", "forbidden")
    assert re.search(r"\bpatch\b", msg) and re.search(r"\bpods\b", msg), "verb/resource not named: %r" % msg
    assert all(name in msg for name in before) or any(name in msg for name in before), msg
    after = snapshot(k8s, namespace, SEL)
    for name in before:
        assert after[name]["specImages"] == before[name]["specImages"]
        assert after[name]["containerIDs"] == before[name]["containerIDs"]


# -- nothing executes shell commands or evaluates code ---------------------------------------------------------

FORBIDDEN_CALLS = {"eval", "exec", "compile", "__import__", "execfile", "input"}
FORBIDDEN_ATTRS = {("os", "system"), ("os", "popen"), ("os", "execv"), ("os", "execve"), ("os", "execvp"),
                   ("os", "spawnv"), ("os", "spawnl"), ("os", "startfile"), ("module", "run_command"),
                   ("pickle", "loads"), ("yaml", "load"), ("yaml", "unsafe_load"), ("marshal", "loads")}
FORBIDDEN_IMPORTS = {"subprocess", "pty", "commands", "popen2", "pickle", "marshal", "shelve", "ctypes"}
SHELL_ACTIONS = {"shell", "command", "raw", "script", "expect", "ansible.builtin.shell", "ansible.builtin.command",
                 "ansible.builtin.raw", "ansible.builtin.script", "ansible.builtin.expect",
                 "ansible.legacy.shell", "ansible.legacy.command", "ansible.windows.win_shell",
                 "community.general.terraform"}


def test_no_shell_execution_or_code_evaluation_in_plugins_and_roles():
    root = pathlib.Path(REPO_ROOT)
    problems = []
    py_files = sorted((root / "plugins").rglob("*.py"))
    assert py_files, "no plugins found"
    for path in py_files:
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        rel = path.relative_to(root)
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name.split(".")[0] in FORBIDDEN_IMPORTS:
                        problems.append("%s:%d imports %s" % (rel, node.lineno, alias.name))
            elif isinstance(node, ast.ImportFrom):
                if (node.module or "").split(".")[0] in FORBIDDEN_IMPORTS:
                    problems.append("%s:%d imports from %s" % (rel, node.lineno, node.module))
                for alias in node.names:
                    if (node.module, alias.name) in {("os", "system"), ("os", "popen")}:
                        problems.append("%s:%d imports os.%s" % (rel, node.lineno, alias.name))
            elif isinstance(node, ast.Call):
                func = node.func
                if isinstance(func, ast.Name) and func.id in FORBIDDEN_CALLS:
                    problems.append("%s:%d calls %s()" % (rel, node.lineno, func.id))
                if isinstance(func, ast.Attribute):
                    owner = func.value.id if isinstance(func.value, ast.Name) else getattr(func.value, "attr", "")
                    if (owner, func.attr) in FORBIDDEN_ATTRS or func.attr in ("run_command", "Popen", "check_output"):
                        problems.append("%s:%d calls %s.%s()" % (rel, node.lineno, owner, func.attr))
                for kw in node.keywords:
                    if kw.arg == "shell" and isinstance(kw.value, ast.Constant) and kw.value.value:
                        problems.append("%s:%d passes shell=True" % (rel, node.lineno))
                # Jinja templates built at run time from user input would be code: none are built at all.
                if isinstance(func, ast.Attribute) and func.attr in ("from_string", "Template", "template") \
                        or isinstance(func, ast.Name) and func.id in ("Template",):
                    problems.append("%s:%d builds a template at run time" % (rel, node.lineno))

    yaml_files = sorted(list((root / "roles").rglob("*.yml")) + list((root / "roles").rglob("*.yaml"))
                        + list((root / "playbooks").rglob("*.yml")))
    assert yaml_files, "no role files found"

    def walk(node, rel):
        if isinstance(node, dict):
            for key, value in node.items():
                if key in SHELL_ACTIONS:
                    problems.append("%s uses %s" % (rel, key))
                if isinstance(value, str) and re.search(r"lookup\(\s*['\"](?:ansible\.builtin\.)?pipe['\"]|"
                                                        r"query\(\s*['\"](?:ansible\.builtin\.)?pipe['\"]", value):
                    problems.append("%s runs a command through the pipe lookup: %s" % (rel, value[:80]))
                walk(value, rel)
        elif isinstance(node, list):
            for item in node:
                walk(item, rel)

    for path in yaml_files:
        rel = path.relative_to(root)
        for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")):
            walk(doc, rel)
        text = path.read_text(encoding="utf-8")
        # User input is passed to modules as data; it is never spliced into an expression that is evaluated
        # again (a template inside a template, or !unsafe removed from user values).
        for var in ("inplace_upgrade_containers", "inplace_upgrade_name", "inplace_upgrade_namespace"):
            if re.search(r"\{\{[^}]*['\"]\s*~?\s*\{\{\s*%s" % var, text) or re.search(
                    r"(?:template|from_yaml|from_json)\([^)]*%s" % var, text):
                problems.append("%s evaluates %s as code" % (rel, var))
    modes = [p for p in (root / "plugins").rglob("*") if p.is_file() and p.stat().st_mode & stat.S_IXUSR
             and p.suffix != ".py"]
    assert not modes, "executable non-Python files shipped in plugins/: %s" % modes
    assert not problems, "\n".join(problems)
