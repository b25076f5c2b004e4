# -*- coding: utf-8 -*-
# Copyright: inplace.kubernetes contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment(object):

    DOCUMENTATION = r"""
options:
  wait:
    description:
      - Wait until every patched pod really runs the new images.
      - A container counts as upgraded when its status shows the target image (normalised) or a new image ID, a new
        container (new container ID or a higher restart count), running and ready; then the pod must be Ready.
      - Fails at once, naming pod, container and reason, on C(ErrImagePull), C(ImagePullBackOff),
        C(InvalidImageName), C(CrashLoopBackOff) and similar terminal states.
    type: bool
    default: true
  wait_timeout:
    description:
      - Seconds to wait for each batch. On timeout the result lists the pods that are not done and why.
    type: int
    default: 300
  min_ready_seconds:
    description:
      - A pod counts as upgraded only after staying Ready this many seconds.
    type: int
    default: 0
"""
