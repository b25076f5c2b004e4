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
      - A container counts as upgraded when the pod's spec has the target and its status is a new container (new
        container ID or a higher restart count than when the patch landed), running and ready; then the pod must be
        Ready. The image name in the status is not needed (containerd names an image by its first tag, so a retag
        to the same image still shows the old tag). Pods read without a patch (already current, or patched by a
        previous run) count when they run the target (normalised name, or for a digest target the digest in
        C(imageID)) or simply run it Ready with the target in their spec.
      - Where the kubelet reports C(status.observedGeneration) (1.34 and later), nothing is decided until it has
        reached the generation the patch returned.
      - Fails at once, naming pod, container and the kubelet's reason and message, on C(ErrImagePull),
        C(ImagePullBackOff), C(ErrImageNeverPull), C(InvalidImageName), C(ImageInspectError),
        C(CreateContainerConfigError), C(CreateContainerError), C(RunContainerError), C(PreCreateHookError),
        C(PreStartHookError), C(PostStartHookError) and C(CrashLoopBackOff). While a new image cannot be pulled the
        kubelet keeps reporting the old container (its image, image ID, container ID and restart count), so the
        reason is attributed by identity - it belongs to the new image once the container seen at the patch is
        no longer running, a newer container exists, or the kubelet's message quotes the target image.
    type: bool
    default: true
  wait_timeout:
    description:
      - Seconds to wait for each batch. On timeout the result lists the pods that are not done and why, in the
        kubelet's words (its waiting reason and message).
    type: int
    default: 300
  min_ready_seconds:
    description:
      - A pod counts as upgraded only after staying Ready this many seconds.
    type: int
    default: 0
"""
