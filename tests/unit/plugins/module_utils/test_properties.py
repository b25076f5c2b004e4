# -*- coding: utf-8 -*-
# Copyright: inplace.kubernetes contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Property-based tests: the image validator and the batch planner on generated input."""

from __future__ import annotations

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from ansible_collections.inplace.kubernetes.plugins.module_utils._inplace.images import (
    InvalidImage,
    normalize_image,
    parse_image,
    same_image,
    validate_image,
)
from ansible_collections.inplace.kubernetes.plugins.module_utils._inplace.plan import parse_batch_size, plan_batches

SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# --- image references ------------------------------------------------------------------------------

IMAGE_ALPHABET = "abcz019AZ:/@._-[]%+ \t\u00e9"
image_like = st.one_of(
    st.text(max_size=300),
    st.text(alphabet=IMAGE_ALPHABET, max_size=80),
    st.builds(lambda name, tail: name + tail,
              st.from_regex(r"[a-z0-9][a-z0-9._/-]{0,30}", fullmatch=True),
              st.text(alphabet=":@sha256abcdef0123456789/.", max_size=90)),
)


@SETTINGS
@given(image_like)
@example("@")
@example(":")
@example("/")
@example("[::1]")
@example("a@b@c")
@example("a" * 256)
@example("x" * 300 + ":" + "-" * 200)
def test_validator_never_crashes(image):
    try:
        ref = parse_image(image)
    except InvalidImage as exc:
        assert str(exc)
        assert validate_image(image) == str(exc)
        assert normalize_image(image) == image or "://" in image
    else:
        assert validate_image(image) is None
        assert ref.original == image


@SETTINGS
@given(st.one_of(st.none(), st.integers(), st.floats(), st.binary(), st.lists(st.text(max_size=3), max_size=2)))
def test_validator_rejects_non_strings(value):
    assert validate_image(value).startswith("image must be a string")


ALNUM = r"[a-z0-9]{1,6}"
PLAIN_COMPONENT = st.from_regex(r"%s(?:(?:_|__|-{1,3})%s){0,2}" % (ALNUM, ALNUM), fullmatch=True)
COMPONENT = st.from_regex(r"%s(?:(?:[._]|__|-{1,3})%s){0,2}" % (ALNUM, ALNUM), fullmatch=True)
DOMAIN_LABEL = st.from_regex(r"[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,6}[a-zA-Z0-9])?", fullmatch=True)
DOMAIN = st.one_of(
    st.just("localhost"),
    st.builds(".".join, st.lists(DOMAIN_LABEL, min_size=2, max_size=3)),
    st.builds(lambda host, port: "%s:%d" % (host, port), st.one_of(st.just("localhost"), DOMAIN_LABEL),
              st.integers(1, 65535)),
    st.sampled_from(["docker.io", "index.docker.io", "[::1]:5000", "[fe80::1]"]),
)
TAG = st.from_regex(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,20}", fullmatch=True)
DIGEST = st.one_of(
    st.from_regex(r"sha256:[a-f0-9]{64}", fullmatch=True),
    st.from_regex(r"sha512:[a-f0-9]{128}", fullmatch=True),
    st.from_regex(r"[a-z][a-z0-9]{0,4}(?:[+._-][a-z][a-z0-9]{0,3})?:[a-f0-9]{32,40}", fullmatch=True)
    .filter(lambda d: d.split(":")[0] not in ("sha256", "sha384", "sha512")),
)


@st.composite
def references(draw):
    """Valid references by the grammar: ``[domain/]path[:tag][@digest]``, unambiguous about the domain."""
    domain = draw(st.one_of(st.none(), DOMAIN))
    if domain is None:
        # Without a registry the first component must not look like one (no '.').
        components = [draw(PLAIN_COMPONENT)] + draw(st.lists(COMPONENT, max_size=2))
    else:
        components = draw(st.lists(COMPONENT, min_size=1, max_size=3))
    ref = "/".join(([domain] if domain else []) + components)
    tag = draw(st.one_of(st.none(), TAG))
    digest = draw(st.one_of(st.none(), DIGEST))
    if tag:
        ref += ":" + tag
    if digest:
        ref += "@" + digest
    return ref


@SETTINGS
@given(references())
def test_valid_references_normalise_idempotently(image):
    assert validate_image(image) is None
    ref = parse_image(image)
    once = normalize_image(image)
    assert once == ref.normalized()
    assert normalize_image(once) == once
    again = parse_image(once)
    assert (again.domain, again.path, again.digest) == (ref.domain, ref.path, ref.digest)
    assert again.tag == (ref.tag or (None if ref.digest else "latest"))
    assert same_image(image, once)
    assert same_image(once, image)


@SETTINGS
@given(references(), references())
def test_same_image_agrees_with_normalisation(a, b):
    if normalize_image(a) == normalize_image(b):
        assert same_image(a, b)
    if not same_image(a, b):
        assert normalize_image(a) != normalize_image(b)


# --- batch plans -------------------------------------------------------------------------------------

BATCH_VALUES = st.one_of(
    st.none(),
    st.just(""),
    st.integers(-5, 60),
    st.integers(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.integers(-5, 60).map(str),
    st.builds(lambda n, pad: pad + str(n) + pad, st.integers(0, 60), st.sampled_from(["", " ", "  "])),
    st.builds(lambda p: "%s%%" % p, st.integers(-10, 130)),
    st.builds(lambda p: "%g%%" % p, st.floats(min_value=-1, max_value=150, allow_nan=False)),
    st.builds(lambda p, s: "%d%s%%" % (p, s), st.integers(0, 120), st.sampled_from(["", " ", ".5", ".0"])),
    st.text(max_size=8),
    st.text(alphabet="0123456789% .-+e", max_size=6),
    st.lists(st.integers(), max_size=2),
)


@SETTINGS
@given(
    names=st.lists(st.text(alphabet="abcdefgh0123456789-", min_size=1, max_size=8), unique=True, max_size=40),
    batch_size=BATCH_VALUES,
    canary=BATCH_VALUES,
    extra=st.one_of(st.none(), st.integers(0, 40)),
)
@example(names=["a", "b", "c"], batch_size="34%", canary=None, extra=None)
@example(names=["a"], batch_size="0.0001%", canary="100%", extra=0)
def test_plan_partitions_or_raises_value_error(names, batch_size, canary, extra):
    total = None if extra is None else len(names) + extra
    try:
        batches = plan_batches(names, batch_size, canary, total=total)
    except ValueError as exc:
        assert str(exc), "a ValueError must say what is wrong"
        return
    if not names:
        assert batches == []
        return
    # The batches are the pods, in order, each exactly once.
    assert [name for batch in batches for name in batch] == names
    reference = len(names) if total is None else max(total, 1)
    size = len(names) if batch_size in (None, "", 0) else parse_batch_size(batch_size, reference)
    assert size >= 1
    rest = batches
    if canary not in (None, "", 0):
        first = parse_batch_size(canary, reference, "canary")
        assert 1 <= len(batches[0]) == min(first, len(names))
        rest = batches[1:]
    for batch in rest:
        assert 1 <= len(batch) <= size
    # Only the last batch may be short.
    for batch in rest[:-1]:
        assert len(batch) == size


@SETTINGS
@given(value=BATCH_VALUES, total=st.integers(0, 500))
def test_parse_batch_size_range_or_value_error(value, total):
    try:
        count = parse_batch_size(value, total)
    except ValueError as exc:
        assert str(exc)
        return
    assert isinstance(count, int)
    assert count >= 1
    if total:
        assert count <= total
