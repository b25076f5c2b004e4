# -*- coding: utf-8 -*-
# Copyright: inplace.kubernetes contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""client.py: error mapping, the pool and its proxy, auth headers (no request is sent); api_paths.py: the REST paths."""

from __future__ import annotations

import pytest
import urllib3

from ansible_collections.inplace.kubernetes.plugins.module_utils._inplace.client import (
    _api_error,
    _decode_status,
    Kube,
)
from ansible_collections.inplace.kubernetes.plugins.module_utils._inplace.api_paths import api_path
from ansible_collections.inplace.kubernetes.plugins.module_utils._inplace.errors import (
    ApiError,
    InplaceError,
    PreconditionFailed,
)

PATH = "/api/v1/namespaces/ns/pods/web-0"


@pytest.mark.parametrize("status, error, text", [
    (401, {"message": "Unauthorized", "reason": "Unauthorized"},
     "the API server rejected the credentials (401 Unauthorized) for GET " + PATH),
    (403, {"message": 'pods "web-0" is forbidden: User "x" cannot patch', "reason": "Forbidden"},
     'forbidden (403): pods "web-0" is forbidden: User "x" cannot patch'),
    (404, {"message": 'pods "web-0" not found', "reason": "NotFound"}, 'not found (404): pods "web-0" not found'),
    (409, {"message": "conflict", "reason": "Conflict"}, "GET %s failed (409 Conflict): conflict" % PATH),
    (500, {}, "GET %s failed (500 ): HTTP 500" % PATH),
    (422, {"reason": "Invalid"}, "GET %s failed (422 Invalid): Invalid" % PATH),
])
def test_api_error_mapping(status, error, text):
    exc = _api_error(status, error, "GET", PATH)
    assert exc.__class__ is ApiError  # exactly ApiError, not a subclass
    assert isinstance(exc, InplaceError)
    assert exc.msg == text
    assert exc.status == status
    assert exc.reason == error.get("reason", "")


@pytest.mark.parametrize("status, message", [
    (422, "the server rejected our request due to an error in our request: testing value /spec/containers/0/image failed"),
    (500, "jsonpatch test operation does not apply: doc is not equal to value: Test failed"),
])
def test_json_patch_test_failure_is_a_precondition_failure(status, message):
    exc = _api_error(status, {"message": message, "reason": "Invalid"}, "PATCH", PATH)
    assert isinstance(exc, PreconditionFailed)
    assert isinstance(exc, ApiError)
    assert exc.status == status
    assert exc.reason == "Conflict"
    assert exc.msg == "PATCH %s: the object changed since it was read (%s)" % (PATH, message)


def test_json_patch_test_failure_from_a_current_api_server():
    # Since Kubernetes 1.13 (kubernetes/kubernetes#68346) a failed "test" operation is a 422 whose Status
    # carries only the generic text below (NewGenericServerResponse drops jsonpatch's own message), so the
    # words "test failed" never reach the client. The guarded patch must still read as "changed since read".
    status = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
              "message": "the server rejected our request due to an error in our request",
              "reason": "Invalid", "details": {}, "code": 422}
    exc = _api_error(422, status, "PATCH", PATH)
    assert isinstance(exc, PreconditionFailed)


@pytest.mark.parametrize("data, expected", [
    (b'{"kind": "Status", "message": "nope", "code": 403}', {"kind": "Status", "message": "nope", "code": 403}),
    (b'"just a string"', {"message": "just a string"}),
    (b"<html>bad gateway</html>", {"message": "<html>bad gateway</html>"}),
    (b"", {"message": ""}),
    (None, {"message": ""}),
    (b"\xff\xfe", {"message": "\ufffd\ufffd"}),
])
def test_decode_status(data, expected):
    assert _decode_status(data) == expected


@pytest.mark.parametrize("host, no_proxy, expected", [
    ("https://api.example.com:6443", None, False),
    ("https://api.example.com:6443", "", False),
    ("https://api.example.com:6443", "*", True),
    ("https://api.example.com:6443", "api.example.com", True),
    ("https://api.example.com:6443", "example.com", True),
    ("https://api.example.com:6443", ".example.com", True),
    ("https://api.example.com:6443", "other.com, example.com", True),
    ("https://api.example.com:6443", "ample.com", False),
    ("https://api.example.com:6443", "other.com,,", False),
    ("https://10.0.0.1:6443", "10.0.0.1", True),
    ("https://10.0.0.1:6443", "10.0.0.2", False),
    ("https://10.0.0.1:6443", "10.0.0.0/8", True),
    ("https://10.0.0.1:6443", "10.0.0.1:6443", True),
    ("https://10.0.0.1:6443", "192.168.0.0/16", False),
])
def test_the_pool_goes_through_the_proxy_unless_no_proxy_says(host, no_proxy, expected):
    kube = Kube({"host": host, "api_key": "t", "proxy": "http://proxy.example.com:3128", "no_proxy": no_proxy,
                 "validate_certs": True})
    assert isinstance(kube._pool, urllib3.ProxyManager) is not expected


def test_auth_headers_from_the_configuration():
    assert Kube({"host": "https://h:6443", "api_key": "tok"})._headers()["authorization"] == "Bearer tok"
    basic = Kube({"host": "https://h:6443", "username": "u", "password": "p"})._headers()
    assert basic["authorization"] == "Basic dTpw"
    impersonating = Kube({"host": "https://h:6443", "api_key": "tok", "impersonate_user": "alice",
                          "impersonate_groups": ["a", "b"]})._headers("application/json-patch+json")
    assert (impersonating["Impersonate-User"], impersonating["Impersonate-Group"]) == ("alice", "a,b")
    assert impersonating["Content-Type"] == "application/json-patch+json"


@pytest.mark.parametrize("args, expected", [
    (("Pod", "ns"), "/api/v1/namespaces/ns/pods"),
    (("Pod", "ns", "web-0"), "/api/v1/namespaces/ns/pods/web-0"),
    (("Deployment", "ns", "web", "scale"), "/apis/apps/v1/namespaces/ns/deployments/web/scale"),
    (("Namespace", None, "ns"), "/api/v1/namespaces/ns"),
    (("Namespace", None), "/api/v1/namespaces"),
    (("Lease", "ns", "l"), "/apis/coordination.k8s.io/v1/namespaces/ns/leases/l"),
    (("PodDisruptionBudget", "ns"), "/apis/policy/v1/namespaces/ns/poddisruptionbudgets"),
])
def test_api_path(args, expected):
    assert api_path(*args) == expected
