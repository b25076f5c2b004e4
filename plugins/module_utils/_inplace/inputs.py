# -*- coding: utf-8 -*-
# Copyright: inplace.kubernetes contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Checks of user input that run before any API call (pure)."""

from __future__ import annotations

import re

from ansible_collections.inplace.kubernetes.plugins.module_utils._inplace.errors import InplaceError
from ansible_collections.inplace.kubernetes.plugins.module_utils._inplace.images import validate_image
from ansible_collections.inplace.kubernetes.plugins.module_utils._inplace.plan import validate_batch_size

_LABEL = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?"
DNS1123_LABEL = re.compile(r"^" + _LABEL + r"\Z")
DNS1123_SUBDOMAIN = re.compile(r"^" + _LABEL + r"(\." + _LABEL + r")*\Z")


def check_name(value, what, label=False):
    """A Kubernetes object name (DNS-1123 subdomain, or label for namespaces)."""
    limit = 63 if label else 253
    pattern = DNS1123_LABEL if label else DNS1123_SUBDOMAIN
    if not isinstance(value, str) or not value:
        raise InplaceError("%s must be a non-empty string" % what)
    if len(value) > limit or not pattern.match(value):
        shown = value if len(value) <= 80 else value[:77] + "..."
        raise InplaceError(
            "%s %r is not a valid Kubernetes name: lowercase letters, digits and '-'%s, at most %d "
            "characters, starting and ending with a letter or digit" % (what, shown, "" if label else " or '.'", limit)
        )
    return value


def check_targets(containers, image):
    """Validate the requested images; returns ``containers`` (image shorthand is resolved later)."""
    if containers and image:
        raise InplaceError("give either containers or image, not both")
    if not containers and not image:
        raise InplaceError("give containers (container name -> image), image, or resources (container name -> requests/limits of cpu and memory)")
    problems = []
    for name, ref in sorted((containers or {}).items()):
        if not DNS1123_LABEL.match(str(name)) or len(str(name)) > 63:
            problems.append("container name %r is not a valid container name" % (name,))
        error = validate_image(ref)
        if error:
            problems.append("container %s: %s" % (name, error))
    if image:
        error = validate_image(image)
        if error:
            problems.append(error)
    if problems:
        raise InplaceError("invalid input: " + "; ".join(problems))
    return dict(containers or {})


def check_batching(batch_size, canary, max_pods):
    for value, what in ((batch_size, "batch_size"), (canary, "canary")):
        if value not in (None, ""):
            try:
                validate_batch_size(value, what)
            except ValueError as exc:
                raise InplaceError(str(exc)) from exc
    if max_pods is not None and max_pods < 1:
        raise InplaceError("max_pods must be at least 1, got %s" % max_pods)
