# -*- coding: utf-8 -*-
# Copyright: inplace.kubernetes contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""images.py: parse, validate and normalise references per the distribution reference grammar."""

from __future__ import annotations

import os

import pytest
import yaml

from ansible_collections.inplace.kubernetes.plugins.module_utils._inplace.images import (
    InvalidImage,
    normalize_image,
    parse_image,
    same_image,
    validate_image,
)

with open(os.path.join(os.path.dirname(__file__), "fixtures", "images.yml")) as _fixture:
    CASES = yaml.safe_load(_fixture)

SHA_A = "sha256:" + "a" * 64
SHA_B = "sha256:" + "b" * 64


@pytest.mark.parametrize("case", CASES["valid"], ids=[c["image"] for c in CASES["valid"]])
def test_valid_reference(case):
    ref = parse_image(case["image"])
    assert validate_image(case["image"]) is None
    assert ref.normalized() == case["normalized"]
    assert normalize_image(case["image"]) == case["normalized"]
    assert ref.original == case["image"]
    for field in ("domain", "path", "tag", "digest"):
        if field in case:
            assert getattr(ref, field) == case[field], field


@pytest.mark.parametrize("case", CASES["invalid"], ids=[repr(c["image"]) for c in CASES["invalid"]])
def test_invalid_reference(case):
    with pytest.raises(InvalidImage) as exc:
        parse_image(case["image"])
    assert case["error"] in str(exc.value)
    assert validate_image(case["image"]) == str(exc.value)


def test_invalid_image_is_a_value_error():
    assert issubclass(InvalidImage, ValueError)


@pytest.mark.parametrize("value, kind", [(None, "NoneType"), (1, "int"), (["nginx"], "list"), (b"nginx", "bytes")])
def test_non_string_is_rejected(value, kind):
    assert validate_image(value) == "image must be a string, got %s" % kind


def test_repository_property():
    assert parse_image("nginx:1").repository == "docker.io/library/nginx"
    assert parse_image("quay.io/a/b@" + SHA_A).repository == "quay.io/a/b"


def test_long_message_is_shortened():
    image = "x" * 300 + ":" + "!" * 3
    message = validate_image(image)
    assert message.startswith("image '" + "x" * 77 + "...'")
    assert len(message) < 300


def test_name_length_limit():
    # 255 characters is the limit of the name (registry and path, without tag or digest).
    ok = "quay.io/" + "a" * (255 - len("quay.io/"))
    assert validate_image(ok + ":1") is None
    assert "longer than 255" in validate_image(ok + "a:1")


# --- strictness the runtimes have and the grammar implies -----------------------------------------

@pytest.mark.parametrize("image", [
    # The tag grammar is [\w][\w.-]{0,127} with Go's ASCII-only \w: a runtime rejects these.
    "nginx:\u00e9t\u00e9",
    "nginx:1.19\u0663",
])
def test_non_ascii_tag_is_invalid(image):
    assert validate_image(image) is not None


def test_tag_length_limit():
    assert validate_image("nginx:" + "a" * 128) is None
    assert "invalid tag" in validate_image("nginx:" + "a" * 129)


def test_known_digest_must_be_lowercase_hex():
    # go-digest validates sha256/384/512 encodings as [a-f0-9]{n}: an upper-case digest never pulls.
    assert validate_image("nginx@sha256:" + "A" * 64) is not None


def test_name_length_counts_the_normalised_name():
    # The runtime checks the length after normalisation: "a"*250 is "docker.io/library/" + 250 characters.
    assert validate_image("a" * 250) is not None


def test_sixty_four_hex_name_is_rejected():
    # ParseNormalizedNamed: "cannot specify 64-byte hexadecimal strings" (it would be an image ID).
    assert validate_image("0123456789abcdef" * 4) is not None


# --- normalize_image ---------------------------------------------------------------------------------

@pytest.mark.parametrize("status_image, expected", [
    ("docker-pullable://nginx@" + SHA_A, "docker.io/library/nginx@" + SHA_A),
    ("docker://nginx:1.19", "docker.io/library/nginx:1.19"),
    ("", ""),
    (None, None),
    ("not a valid image", "not a valid image"),
    ("Nginx", "Nginx"),
])
def test_normalize_image_edge_cases(status_image, expected):
    assert normalize_image(status_image) == expected


@pytest.mark.parametrize("image", [c["image"] for c in CASES["valid"]])
def test_normalize_is_idempotent(image):
    once = normalize_image(image)
    assert normalize_image(once) == once


# --- same_image --------------------------------------------------------------------------------------

@pytest.mark.parametrize("first, second, expected", [
    ("nginx", "docker.io/library/nginx:latest", True),
    ("nginx:1.19", "index.docker.io/library/nginx:1.19", True),
    ("nginx:1.19", "nginx:1.20", False),
    ("nginx:1.19", "redis:1.19", False),
    ("quay.io/a/b:1", "docker.io/a/b:1", False),
    # A runtime reports repo@digest for repo:tag@digest.
    ("nginx:1.19@" + SHA_A, "docker.io/library/nginx@" + SHA_A, True),
    ("nginx:1.19@" + SHA_A, "docker-pullable://nginx@" + SHA_A, True),
    ("nginx:1.19@" + SHA_A, "nginx:1.19@" + SHA_B, False),
    ("nginx@" + SHA_A, "redis@" + SHA_A, False),
    ("nginx:1.19", "nginx@" + SHA_A, False),
    (None, None, True),
    (None, "nginx", False),
    ("nginx", None, False),
])
def test_same_image(first, second, expected):
    # same_image is symmetric: both argument orders give the same answer.
    assert same_image(first, second) is expected
    assert same_image(second, first) is expected


@pytest.mark.parametrize("a, b, expected", [
    # A registry with a port and no tag: the ":5000" is not a tag to strip.
    ("localhost:5000/app:v1@" + SHA_A, "localhost:5000/app@" + SHA_A, True),
    ("localhost:5000/app@" + SHA_A, "localhost:6000/other@" + SHA_A, False),
])
def test_same_image_with_registry_port(a, b, expected):
    assert same_image(a, b) is expected
