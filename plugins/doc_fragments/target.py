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
  resources:
    description:
      - Container name to new CPU and memory, resized in place through the pod's C(resize) subresource (KEP-1287;
        Kubernetes 1.33 and later, GA in 1.35). Alone, or together with O(containers) or O(image) in one run.
      - Each value is a mapping with C(requests) and/or C(limits), each a mapping of C(cpu) and/or C(memory) to a
        Kubernetes quantity (V(250m), V(0.5), V(128Mi), V(1Gi)). A value given replaces that value; values not given
        stay as they are. Quantities are compared by value, so V(0.5) equals V(500m) and a re-run changes nothing.
      - Checked before any write, on the owner's template and on every pod, as the API server checks a resize. Only
        C(cpu) and C(memory); only containers and sidecars (init containers with C(restartPolicy=Always)), never a
        regular init container; no request above its limit; the pod's QoS class (C(Guaranteed), C(Burstable),
        C(BestEffort)) unchanged. A cluster whose API server does not serve C(pods/resize) (older than 1.33, or the
        feature off) is refused with the reason, before any write.
      - A container whose C(resizePolicy) says C(RestartContainer) for a resource that changes is restarted by the
        kubelet, and the wait expects a new container; with C(NotRequired) (the default) it keeps running.
    type: dict
"""
