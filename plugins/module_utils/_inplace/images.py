# -*- coding: utf-8 -*-
# Copyright: inplace.kubernetes contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Parse, validate and normalise container image references (pure, no Kubernetes client).

The grammar is the one of the distribution ``reference`` package that container runtimes use:
``[domain/]path[:tag][@digest]``.  Normalisation follows the runtimes: a reference without a
domain lives on ``docker.io``, a one-component path there gets ``library/``, and a reference
with neither tag nor digest means ``:latest``.
"""

from __future__ import annotations

import re

DEFAULT_DOMAIN = "docker.io"
LEGACY_DOMAINS = ("index.docker.io", "registry-1.docker.io")
NAME_TOTAL_MAX = 255

_ALNUM = r"[a-z0-9]+"
_SEPARATOR = r"(?:[_.]|__|[-]+)"
_PATH_COMPONENT = _ALNUM + r"(?:" + _SEPARATOR + _ALNUM + r")*"
_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_DOMAIN = _DOMAIN_COMPONENT + r"(?:\." + _DOMAIN_COMPONENT + r")*(?::[0-9]+)?"
_IPV6_DOMAIN = r"\[[a-fA-F0-9:]+\](?::[0-9]+)?"
_TAG = r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}"
_DIGEST = r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}"

_PATH_RE = re.compile(r"^" + _PATH_COMPONENT + r"(?:/" + _PATH_COMPONENT + r")*\Z")
_DOMAIN_RE = re.compile(r"^(?:" + _DOMAIN + r"|" + _IPV6_DOMAIN + r")\Z")
_TAG_RE = re.compile(r"^" + _TAG + r"\Z")
_DIGEST_RE = re.compile(r"^" + _DIGEST + r"\Z")
_KNOWN_DIGEST_LENGTHS = {"sha256": 64, "sha384": 96, "sha512": 128}
_IMAGE_ID_RE = re.compile(r"^[a-f0-9]{64}\Z")


class ImageReference(object):
    """A parsed image reference."""

    __slots__ = ("domain", "path", "tag", "digest", "original")

    def __init__(self, domain, path, tag, digest, original):
        self.domain = domain
        self.path = path
        self.tag = tag
        self.digest = digest
        self.original = original

    @property
    def repository(self):
        return self.domain + "/" + self.path

    def normalized(self):
        """The fully qualified form a runtime reports (``docker.io/library/nginx:latest``)."""
        ref = self.repository
        if self.tag:
            ref += ":" + self.tag
        if self.digest:
            ref += "@" + self.digest
        if not self.tag and not self.digest:
            ref += ":latest"
        return ref

    def __repr__(self):
        return "ImageReference(%r)" % self.original


class InvalidImage(ValueError):
    """The string is not a valid image reference; the message says why."""


def parse_image(image):
    """Parse ``image`` into an :class:`ImageReference`, or raise :class:`InvalidImage`."""
    if not isinstance(image, str):
        raise InvalidImage("image must be a string, got %s" % type(image).__name__)
    if image == "":
        raise InvalidImage("image is empty")
    if image != image.strip() or any(c.isspace() for c in image):
        raise InvalidImage("image %r contains white space" % _short(image))
    rest = image
    digest = None
    if "@" in rest:
        rest, digest = rest.split("@", 1)
        algorithm = digest.split(":", 1)[0]
        if not _DIGEST_RE.match(digest):
            raise InvalidImage("image %r has an invalid digest %r (expected algorithm:hex, e.g. sha256:<64 hex>)" % (_short(image), _short(digest)))
        expected = _KNOWN_DIGEST_LENGTHS.get(algorithm)
        hexpart = digest.split(":", 1)[1]
        if expected and (len(hexpart) != expected or hexpart.lower() != hexpart):
            raise InvalidImage("image %r: a %s digest has %d hex digits, in lowercase" % (_short(image), algorithm, expected))
    tag = None
    last = rest.rfind(":")
    if last > rest.rfind("/"):
        rest, tag = rest[:last], rest[last + 1 :]
        if not _TAG_RE.match(tag):
            raise InvalidImage(
                "image %r has an invalid tag %r (letters, digits, '_', '.', '-', at most 128, not starting with '.' or '-')" % (_short(image), _short(tag))
            )
    if not rest:
        raise InvalidImage("image %r has no repository name" % _short(image))
    if _IMAGE_ID_RE.match(rest):
        raise InvalidImage("image %r looks like an image ID (64 hex digits), not a repository name" % _short(image))
    domain, path = _split_domain(rest)
    if len(domain) + 1 + len(path) > NAME_TOTAL_MAX:
        raise InvalidImage("image %r: repository name is longer than %d characters" % (_short(image), NAME_TOTAL_MAX))
    if not _DOMAIN_RE.match(domain):
        raise InvalidImage("image %r has an invalid registry %r" % (_short(image), domain))
    if not _PATH_RE.match(path):
        if path.lower() != path:
            raise InvalidImage("image %r: repository %r must be lowercase" % (_short(image), _short(path)))
        raise InvalidImage("image %r has an invalid repository %r" % (_short(image), _short(path)))
    return ImageReference(domain, path, tag, digest, image)


def _short(text, limit=80):
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _split_domain(name):
    first, sep, remainder = name.partition("/")
    if not sep or ("." not in first and ":" not in first and first != "localhost" and first.lower() == first):
        domain, path = DEFAULT_DOMAIN, name
    else:
        domain, path = first, remainder
    if domain in LEGACY_DOMAINS:
        domain = DEFAULT_DOMAIN
    if domain == DEFAULT_DOMAIN and "/" not in path:
        path = "library/" + path
    return domain, path


def validate_image(image):
    """Return an error message for an invalid reference, or ``None`` when it is valid."""
    try:
        parse_image(image)
    except InvalidImage as exc:
        return str(exc)
    return None


def normalize_image(image):
    """The normalised form of ``image``; an unparsable string is returned unchanged."""
    if not image:
        return image
    # Runtimes may prefix status images with a scheme (docker-pullable://, docker://).
    image = _strip_scheme(image)
    try:
        return parse_image(image).normalized()
    except InvalidImage:
        return image


def same_image(a, b):
    """True when two references name the same image once both are normalised.

    A reference pinned by digest matches another with the same repository and digest, whatever
    their tags (runtimes report ``repo@digest`` for ``repo:tag@digest``).
    """
    if a is None or b is None:
        return a == b
    if normalize_image(a) == normalize_image(b):
        return True
    try:
        ra, rb = parse_image(_strip_scheme(a)), parse_image(_strip_scheme(b))
    except InvalidImage:
        return False
    return bool(ra.digest) and ra.digest == rb.digest and ra.repository == rb.repository


def digest_of(reference):
    """The ``algorithm:hex`` digest a reference or a runtime's ``imageID`` pins, or ``None``.

    ``imageID`` comes as ``repo@sha256:...`` (containerd), ``docker-pullable://repo@sha256:...``
    (dockershim) or a bare image ID ``sha256:...`` (CRI-O); only the ``@`` forms name a repository
    digest, a bare ID is the image's config digest and never the digest a user pins.
    """
    if not reference or "@" not in reference:
        return None
    digest = _strip_scheme(reference).rsplit("@", 1)[1]
    return digest if _DIGEST_RE.match(digest) else None


def runs_digest(image_id, target):
    """True when ``target`` is pinned by digest and the runtime's ``imageID`` reports that digest."""
    wanted = digest_of(target)
    return bool(wanted) and digest_of(image_id) == wanted


def _strip_scheme(image):
    return image.split("://", 1)[1] if "://" in image else image
