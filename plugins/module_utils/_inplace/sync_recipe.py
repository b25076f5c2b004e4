# -*- coding: utf-8 -*-
# Copyright: inplace.kubernetes contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What a recipe of the template sync gives :class:`TemplateSync` (template_sync.py), which drives it:
the hold of the kind's controller, its writes, its check of the controller's proof, and the words for them.

The recipes are sync_deployment.py (Deployment) and sync_held.py (StatefulSet, DaemonSet). A recipe reads
and writes the state of the sync it serves, ``sync``: the client (``sync.writer()`` for a write), the
targets, ``steps``, ``last_written``.
"""

from __future__ import annotations

from collections import namedtuple

# How the owner is left when the sync stops halfway (``left``); what a stale record found with the hold on
# calls the hold (``found``) and the field to restore by hand (``field``); what a re-run restores
# (``restores``); the take-over's step (``taken``); what the controller's proof was (``proven``).
HoldWords = namedtuple("HoldWords", "left found field restores taken proven")


class Recipe(object):
    """The interface (``WORDS``, a :class:`HoldWords`, and the hooks); those a kind has nothing to do in are no-ops."""

    def __init__(self, sync):
        self.sync = sync

    def held(self, spec, state):
        """Whether the controller's hands are off, for ``spec`` (the owner's) and ``state`` (the sync record)."""
        raise NotImplementedError

    def prepare(self, owner):
        """Before the take-over (the first write)."""

    def take_over(self, spec, state, patch):
        """The hold into the take-over's merge ``patch``, and what to restore into the record ``state``."""
        raise NotImplementedError

    def reapply(self, spec):
        """A resume found the hold gone: write it again."""
        raise NotImplementedError

    def sync_templates(self):
        """The template writes (with the hold on)."""
        raise NotImplementedError

    def proof(self, generation, state):
        """The barrier's check: ``check(owner)`` is ``None`` once the controller has proven it sees the sync."""
        raise NotImplementedError

    def restore(self, state):
        """The hold given back, and the record removed, as ``state`` recorded them."""
        raise NotImplementedError

    def finish(self):
        """After the restore."""

    def clean_replicasets(self):
        """Remove copies of the record the controller made (a Deployment's on its ReplicaSets)."""
