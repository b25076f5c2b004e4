# -*- coding: utf-8 -*-
# Copyright: inplace.kubernetes contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one exception type of the collection: main() turns it into fail_json."""

from __future__ import annotations


class InplaceError(Exception):
    """A failure with a message for the operator and structured details for the result.

    ``details`` is merged into the module result (for example the per-pod report of a
    rollout that failed halfway), so a failure never hides what was already changed.
    """

    def __init__(self, msg, **details):
        super(InplaceError, self).__init__(msg)
        self.msg = msg
        self.details = details


class ApiError(InplaceError):
    """An API request failed; ``status`` is the HTTP status (0 when the server was unreachable)."""

    def __init__(self, msg, status=0, reason="", **details):
        super(ApiError, self).__init__(msg, **details)
        self.status = status
        self.reason = reason


class PreconditionFailed(ApiError):
    """A guarded patch's ``test`` operation failed: somebody else changed the object."""


class WatchExpired(Exception):
    """The watch's resourceVersion is too old (410): re-list and watch again."""
