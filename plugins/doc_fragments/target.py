# -*- coding: utf-8 -*-
# Copyright: inplace.kubernetes contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment(object):

    DOCUMENTATION = r"""
options:
  kind:
    description:
      - Kind of the workload that owns the pods.
    type: str
    default: Deployment
    choices: [Deployment, StatefulSet, DaemonSet]
  name:
    description:
      - Name of the workload. Its pods are found through C(ownerReferences) (for a Deployment, through its
        ReplicaSets), never by labels alone.
      - Required unless O(label_selectors) is given.
    type: str
  namespace:
    description:
      - Namespace of the workload.
    type: str
    default: default
  label_selectors:
    description:
      - Label selectors (C(key=value), C(key in (a,b)), C(!key)) that pick the pods.
      - Without O(name), these select the pods directly and no owner template is touched; with O(name), they
        narrow the owner's pods further.
    type: list
    elements: str
  containers:
    description:
      - Container name to new image. Names may be containers or init containers of the pods.
      - Images are validated before any API call.
      - Mutually exclusive with O(image).
    type: dict
  image:
    description:
      - Shorthand for O(containers) when the pods have exactly one container.
    type: str
"""
