"""Image reference handling of the kubelet stand-in (tests/cluster/kubelet.py): pure functions."""

import os
import sys

import pytest

sys.path.insert(0, os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                                 "..", "..", "cluster")))

import kubelet  # noqa: E402


@pytest.mark.parametrize("ref, expected", [
    ("nginx", "docker.io/library/nginx:latest"),
    ("nginx:1.19-alpine", "docker.io/library/nginx:1.19-alpine"),
    ("library/nginx:1.19", "docker.io/library/nginx:1.19"),
    ("bitnami/redis:6", "docker.io/bitnami/redis:6"),
    ("docker.io/nginx:1.19", "docker.io/library/nginx:1.19"),
    ("index.docker.io/library/nginx:1.19", "docker.io/library/nginx:1.19"),
    ("quay.io/x/y:1", "quay.io/x/y:1"),
    ("quay.io/x/y", "quay.io/x/y:latest"),
    ("localhost/app:2", "localhost/app:2"),
    ("localhost:5000/app", "localhost:5000/app:latest"),
    ("registry.example:5000/team/app:v1.2.3", "registry.example:5000/team/app:v1.2.3"),
    ("Registry.Example/app:1", "Registry.Example/app:1"),
    ("nginx@sha256:" + "a" * 64, "docker.io/library/nginx@sha256:" + "a" * 64),
    ("nginx:1.19@sha256:" + "b" * 64, "docker.io/library/nginx:1.19@sha256:" + "b" * 64),
    ("my_app__x.y-z:TAG_1.0", "docker.io/library/my_app__x.y-z:TAG_1.0"),
])
def test_normalize(ref, expected):
    assert kubelet.normalize_image(ref) == expected


@pytest.mark.parametrize("ref", [
    "", " ", "nginx 1.19", "Nginx:1.19", "quay.io/X/y:1", "nginx:", "nginx:-bad", ":1.0",
    "nginx@sha256:abc", "a" * 64, "nginx:" + "t" * 129, "-nginx", "nginx/", "//x", None,
])
def test_invalid(ref):
    with pytest.raises(kubelet.InvalidImageName):
        kubelet.parse_image(ref)
    assert kubelet.classify_image(ref) == kubelet.INVALID


def test_image_id_is_stable_and_differs_per_image():
    a = kubelet.image_id("nginx:1.19")
    assert a == kubelet.image_id("docker.io/library/nginx:1.19")
    assert a.startswith("docker-pullable://docker.io/library/nginx@sha256:")
    assert len(a.rsplit(":", 1)[1]) == 64
    assert a != kubelet.image_id("nginx:1.20")


def test_image_id_keeps_a_given_digest():
    d = "sha256:" + "c" * 64
    assert kubelet.image_id("quay.io/x/y@" + d) == "docker-pullable://quay.io/x/y@" + d


@pytest.mark.parametrize("ref, kind", [
    ("nginx:1.19", kubelet.GOOD),
    ("nginx:pullfail", kubelet.PULLFAIL),
    ("example/pullfail-app:1", kubelet.PULLFAIL),
    ("busybox:crashloop", kubelet.CRASHLOOP),
    ("quay.io/x/crashloop:2", kubelet.CRASHLOOP),
    ("nginx:neverready", kubelet.NEVERREADY),
    ("NGINX:pullfail", kubelet.INVALID),
    ("registry.pullfail.example/app:1", kubelet.PULLFAIL),
])
def test_classify(ref, kind):
    assert kubelet.classify_image(ref) == kind
