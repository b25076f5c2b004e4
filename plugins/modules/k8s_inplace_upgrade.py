#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: inplace.kubernetes contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: k8s_inplace_upgrade
short_description: Upgrade the container images of a workload's pods in place
version_added: 0.1.0
description:
  - Finds the live pods a Deployment, StatefulSet or DaemonSet owns (or that label selectors pick) and changes
    their container images with one guarded JSON patch per pod. The kubelet restarts just the changed containers;
    each pod keeps its UID, node, IP and mounted volumes.
  - Every patch addresses containers by the index resolved from their name and carries RFC 6902 C(test) operations
    on the container's name and current image, so a concurrent change fails that pod cleanly instead of being
    overwritten.
  - With O(batch_size), the whole batched rollout runs in this one call, batch after batch, each waited for before
    the next; a failed batch is handled per O(on_failure).
  - With O(sync_template), once every pod runs the new images the owner's pod template is brought in step without
    recreating any pod, so pods created later (scale-up, eviction, node loss) start on the new images.
  - With O(resources), the pods' CPU and memory are resized in place the same way, through each pod's C(resize)
    subresource with a guarded JSON patch (C(test) operations on the pod's UID, the container's name and its current
    resources), in the same batches, with the same waits, rollback and template sync, alone or together with new
    images (the resize is written first, then the images). A pod is done when the kubelet reports it, that is
    C(status.containerStatuses[].resources) equal to the spec (a CPU request compared as the CPU shares the kubelet
    writes), no C(PodResizePending) or C(PodResizeInProgress) condition, C(status.observedGeneration) caught up and
    the pod Ready. C(PodResizePending) with reason C(Infeasible) fails the batch at once with the kubelet's message;
    C(Deferred) is waited for until O(wait_timeout), then reported. A resize the API server refuses (for example
    requests above the node's allocatable, refused by the C(PodResizeValidator) admission plugin from 1.37) fails the
    batch at once with the API server's message.
  - Before its first write the module records the images the pods had in the annotation
    C(inplace.kubernetes.io/last-upgrade) on the owner; O(rollback=true) restores them in place.
author:
  - inplace.kubernetes maintainers (@inplace-kubernetes)
extends_documentation_fragment:
  - inplace.kubernetes.auth
  - inplace.kubernetes.target
  - inplace.kubernetes.wait
attributes:
  check_mode:
    description: Can run in check mode and report what would change without changing it.
    support: full
    details: Patches are sent as server-side dry runs, so admission and RBAC problems show up in check mode too.
  diff_mode:
    description: Returns details on what has changed (or would change, in check mode).
    support: full
    details: Shows the images of each pod (and of the owner's template) before and after, and with O(resources) the
      CPU/memory of each resized container (and of the template).
options:
  pods:
    description:
      - Only these pods (by name) of the workload; the others are left alone. Names that are not live pods of the
        workload are an error.
    type: list
    elements: str
  max_pods:
    description:
      - Upgrade at most this many of the pods that still need it.
    type: int
  batch_size:
    description:
      - Run a batched rollout in this call, this many pods at a time (an integer or a percentage of the workload's
        pods such as V(25%), rounded up, at least one pod). Omitted, all selected pods form one batch.
    type: str
  canary:
    description:
      - Size of a first batch before O(batch_size) applies (integer or percentage).
    type: str
  pause_seconds:
    description:
      - Seconds to pause between batches.
    type: int
    default: 0
  on_failure:
    description:
      - What to do when a batch fails (bad image, crash loop, timeout, rejected patch).
      - V(rollback) patches the failed batch back to the images it had and waits until it is Ready again;
        V(rollback_all) does so for every pod this run changed; V(stop) leaves the pods as they are.
      - In every case the module fails with a message naming the pods, containers and the kubelet's reason, and the
        result lists each pod's state. The message says how many pods were rolled back, which, and which were not
        and why.
      - A rollback after a bad image usually gets a new container on the old image (the upgrade had already killed
        the old one); where the old container was never killed, it still running counts as rolled back.
    type: str
    default: rollback
    choices: [rollback, rollback_all, stop]
  respect_pdb:
    description:
      - Never restart more pods of a batch at once than the PodDisruptionBudgets covering them allow
        (C(disruptionsAllowed)); a batch is split, and the module waits up to O(wait_timeout) for a budget before it
        fails with a message naming the budget.
      - In-place restarts do not go through the eviction API, so the API server does not enforce budgets for them;
        this option does.
    type: bool
    default: false
  not_after:
    description:
      - ISO 8601 date-time with UTC offset (for example V(2026-11-25T04:00:00+00:00)), the end of a maintenance
        window. A batch is started only before it; once it has passed, the module stops between batches (every pod
        on either the old or the new images, and Ready) and fails with a message that starts with
        C(maintenance window closed), with RV(window_closed=true) and the pods RV(left).
      - Pods that appear during the run (replacements, scale-up from the old template) are upgraded in further
        batches of the same size, after the same O(pause_seconds) and only before O(not_after) as well.
    type: str
  rollback:
    description:
      - Restore, in place, the images recorded on the owner before the last upgrade (no O(containers) or O(image)).
    type: bool
    default: false
  sync_template:
    description:
      - Keep the owner's pod template in step once every live pod runs the new images, without recreating pods.
      - Deployment, pause it, patch the current ReplicaSet's and the Deployment's templates, restore C(spec.paused).
        StatefulSet, hold the rolling update with a partition, patch the template, label the pods with the new
        C(controller-revision-hash), restore the strategy. DaemonSet, the same with C(OnDelete).
      - The state is recorded on the owner first; a run that dies halfway is finished by the next run.
      - The controller gets its hands back (unpause, strategy restored) only once it has proven that it sees the
        synced objects. Deployment, C(status.observedGeneration) at the synced generation and C(status.updatedReplicas)
        equal to C(spec.replicas) and to the ReplicaSet's replicas; StatefulSet, every pod updated and
        C(currentRevision) equal to C(updateRevision); DaemonSet, C(updatedNumberScheduled) equal to
        C(desiredNumberScheduled) and no pod misscheduled. Without that proof within O(sync_timeout) (the
        controller-manager down or slow) the run fails with
        C(changed=true) and what it wrote in RV(template_sync_steps), leaving the owner paused or held with the sync
        recorded; the next run finishes it once the controller answers.
      - A resumed sync re-applies the pause or hold before it touches a template. A recorded sync whose target the
        pods do not run (for example copied back by C(kubectl rollout undo)) is dropped, never resumed.
      - Deployment, an older ReplicaSet that already holds the target template (a downgrade to a previous revision's
        images) would be made current by the controller, recreating every pod. When it has 0 replicas and 0 pods it
        is deleted before the pause (said in RV(template_sync_steps); that revision leaves the rollout history);
        otherwise the sync is refused before any template write.
      - The Deployment's revision number does not change, so C(kubectl rollout history) does not show this change.
    type: bool
    default: true
  sync_timeout:
    description:
      - Seconds the template sync waits for the controller's proof (see O(sync_template)) before it gives up, leaving
        the owner paused or held with the sync recorded for the next run.
      - Also the bound for finishing a sync that an earlier run left recorded.
    type: int
    default: 120
  allow_mid_rollout:
    description:
      - Proceed although a Deployment's pods belong to more than one ReplicaSet (a rollout in progress) or the
        Deployment is paused with a template no ReplicaSet runs yet. Refused by default.
    type: bool
    default: false
  allow_spec_only:
    description:
      - Accept image changes that the kubelet never applies to a live pod, as spec-only changes.
      - A regular init container that has completed (or is running) is never re-run on a live pod (kubelet
        C(computeInitContainerActions)), so its new image takes effect only when the pod is recreated. By default such a
        target is refused before any write, with a message that says so.
      - With V(true), the pods' spec gets the new image and is not waited for (a pod whose only changes are such is
        reported with state V(spec_only), listed in RV(spec_only)), and the owner's template is synced (O(sync_template))
        so new pods run the image.
    type: bool
    default: false
  events:
    description:
      - Record Kubernetes Events on the owner and each pod (started, pod upgraded, failed, rolled back, template
        synced), so C(kubectl describe) tells the story afterwards.
      - Events are posted in the background (a pod's, stamped when it is seen upgraded, once its batch has settled,
        so that they do not compete with the batch's restarts) and waited for before the module returns; a cluster
        that refuses them costs one warning, never the upgrade.
    type: bool
    default: true
  stop_when_orphaned:
    description:
      - Before each batch after the first, check that the Ansible controller that started the module is still
        running; if it is gone (C(ansible-playbook) killed with C(SIGKILL) or by the OOM killer, which leaves
        ansible-core's worker and this module running on their own), stop between batches as for O(not_after),
        with RV(controller_gone=true), and record an C(InplaceUpgradeAbandoned) Warning Event on the owner,
        instead of upgrading batch after batch with nobody to report to.
      - The controller is the topmost C(ansible*) command above the module, with the worker and shells in
        between, recognised by PID and start time through C(/proc) (Linux). Where there is no C(/proc) or no
        such process (a remote host, C(async)), nothing is checked.
      - C(SIGINT) (Ctrl-C) and C(SIGTERM) to C(ansible-playbook) already stop the module with its worker.
    type: bool
    default: true
  allow_unhealthy:
    description:
      - Start although as many of the selected pods as the largest batch (or more) are not Ready before the run (pods
        an earlier run left restarting do not count). With V(false) such a start is refused before any write (and
        before the lease is taken), with a message naming the pods; nothing is changed.
    type: bool
    default: true
  max_batches:
    description:
      - Run only the first this many of the planned batches in this call; the others are left for later calls (which
        name their pods with O(pods)). When batches are left, pods that appeared during the run are not caught up and
        the template is not synced (the result's C(template_sync) says why).
      - The role P(inplace.kubernetes.inplace_upgrade#role) plans and runs its first batch this way when health tasks
        must run between batches.
    type: int
  plan_pods:
    description:
      - Whether RV(plan) lists each pod as planned (C(plan.pods)). With V(false) it does not, and RV(pods) lists every
        planned pod from the start (in its planned state until the call acts on it), also when the call fails before
        its first write; so a result that grows with the number of pods carries each pod once, not twice.
      - The role P(inplace.kubernetes.inplace_upgrade#role) sets it to V(false).
    type: bool
    default: true
  lease:
    description:
      - Hold the workload's C(coordination.k8s.io/v1) Lease C(inplace-upgrade-<kind>-<name>) (the one
        M(inplace.kubernetes.k8s_inplace_lease) takes), so that no two runs work on one workload at once. Needs O(name).
      - The lease is taken after the read-only planning and before the first write, and only when there is something
        to write; it is renewed between batches (and before the template sync) when what is left of it could run out
        before the next chance; it is released at the end whatever happened, also after a failed batch and its
        rollback, unless O(lease.release=false).
      - A lease another holder has and that has not expired is refused before any write, with RV(held_by_other=true) and a
        message naming the holder and the expiry; an expired one is taken over.
      - In check mode no lease is taken; it is tried as a server-side dry run, so a lease another run holds is refused
        in check mode too.
      - Omitted, no lease is taken.
    type: dict
    suboptions:
      holder:
        description:
          - Identity of this run (C(spec.holderIdentity)); give the RV(lease.holder) of an earlier call of the same run
            to renew its lease instead of being refused by it.
          - Defaults to C(<controller hostname>-<pid>-<random>).
        type: str
      duration_seconds:
        description:
          - How long the lease stays valid after it was taken or last renewed. A run that dies without releasing it
            blocks other runs this long.
          - Omitted, twice a batch's worst case (O(wait_timeout) + O(min_ready_seconds) + O(pause_seconds) + 60, for
            the batch and its rollback) or O(sync_timeout) + 60, whichever is longer, plus 300 seconds.
        type: int
      release:
        description:
          - Release the lease at the end of this call. V(false) keeps it for later calls of the same run (pass
            RV(lease.holder) to them).
        type: bool
        default: true
notes:
  - Only fields that Kubernetes allows to change on a live pod are changed (container and init container images).
  - A sidecar (init container with C(restartPolicy=Always)) is restarted in place on an image change by kubelets 1.32
    and later, and waited for like a container. Older kubelets (1.29 to 1.31; see C(computeInitContainerActions) in
    kubelet 1.31) keep the old sidecar running; a pod whose kubelet reports no C(status.observedGeneration) and whose
    sidecar still runs its previous container C(terminationGracePeriodSeconds) + 15 seconds after the patch fails its
    batch with a reason that says so, instead of waiting for O(wait_timeout).
  - Mirror pods of static pods (annotation C(kubernetes.io/config.mirror)) are never patched, and reported with state
    V(skipped) and the reason; the kubelet runs the static pod's manifest from its node, never an edited mirror pod.
  - A pod with an ephemeral container that targets a container the upgrade restarts gets a warning; the ephemeral
    container is never restarted.
  - Images are compared as the runtimes report them. containerd gives C(status.image) as the image's first tag (or
    C(sha256:<id>)) and C(imageID) as C(repo@sha256:<digest>), so a target pinned by digest is current when the
    digest in C(imageID) matches, and a re-run on a digest-pinned workload is C(changed=false) without waiting.
  - The container's writable layer is lost when it restarts, as with any container restart.
  - "O(resources): a rollback restores the values a resize replaced (a value the resize added where there was none
    stays, as the API server does not let a resize remove it). The record in C(inplace.kubernetes.io/last-upgrade)
    carries the template's previous resources, so O(rollback=true) restores them in place too."
seealso:
  - module: inplace.kubernetes.k8s_inplace_upgrade_info
"""

EXAMPLES = r"""
- name: Upgrade the app container of every pod of a Deployment, in place
  inplace.kubernetes.k8s_inplace_upgrade:
    name: web
    namespace: shop
    containers:
      app: registry.example.com/shop/app:2.4.1

- name: Whole rollout in one task, 25% of the pods at a time, canary first
  inplace.kubernetes.k8s_inplace_upgrade:
    name: web
    namespace: shop
    containers:
      app: registry.example.com/shop/app:2.4.1
      sidecar: envoyproxy/envoy:v1.29.0
    canary: 1
    batch_size: 25%
    on_failure: rollback

- name: Single-container pods of a StatefulSet
  inplace.kubernetes.k8s_inplace_upgrade:
    kind: StatefulSet
    name: db
    namespace: data
    image: postgres:16.4

- name: More CPU and memory for the app container, in place, two pods at a time
  inplace.kubernetes.k8s_inplace_upgrade:
    name: web
    namespace: shop
    resources:
      app:
        requests: {cpu: 500m, memory: 256Mi}
        limits: {cpu: "1", memory: 512Mi}
    batch_size: 2

- name: New image and new sizes in one run
  inplace.kubernetes.k8s_inplace_upgrade:
    name: web
    namespace: shop
    containers:
      app: registry.example.com/shop/app:2.4.1
    resources:
      app:
        limits: {memory: 1Gi}

- name: Undo yesterday's upgrade without recreating pods
  inplace.kubernetes.k8s_inplace_upgrade:
    name: web
    namespace: shop
    rollback: true
"""

RETURN = r"""
changed:
  description: Whether any pod or template was (or, in check mode, would be) changed.
  returned: always
  type: bool
owner:
  description: The workload, or the selector when no owner was given.
  returned: always
  type: dict
  sample: {kind: Deployment, name: web, namespace: shop, replicas: 4, uid: 0b1c..., selector: app=web}
targets:
  description: Container name to target image.
  returned: success
  type: dict
  sample: {app: registry.example.com/shop/app:2.4.1}
pods:
  description: One entry per live pod of the workload.
  returned: always
  type: list
  elements: dict
  contains:
    name: {description: Pod name., type: str, returned: always}
    uid: {description: Pod UID (unchanged by the upgrade)., type: str, returned: always}
    node: {description: Node the pod runs on., type: str, returned: always}
    pod_ip: {description: Pod IP (unchanged by the upgrade)., type: str, returned: always}
    containers:
      description:
        - Per container, C(name), C(before) and C(after) image, C(image_status), C(ready), C(restart_count), and
          C(resources) (its C(requests) and C(limits) of C(cpu) and C(memory) in the pod's spec).
      type: list
      elements: dict
      returned: always
    patched: {description: Whether this run patched (or would patch) the pod., type: bool, returned: always}
    ready: {description: Whether the pod is Ready., type: bool, returned: always}
    restart_count: {description: Sum of the containers' restart counts., type: int, returned: always}
    state:
      description:
        - "On the target: V(current) (before the run), V(upgraded) (patched and seen running the targets),
          V(spec_only) (patched, the kubelet will not restart the container; O(allow_spec_only))."
        - "Pending: V(would_upgrade) (check mode), V(needs_upgrade), V(in_progress), V(patched) (not waited for,
          O(wait=false)), V(interrupted) (not done when another pod of its batch failed)."
        - "Failed: V(failed) (bad image, crash loop, sidecar not restarted), V(timed_out), V(conflict) (changed by
          someone else), V(error) (patch refused), V(rollback_failed)."
        - "Other: V(rolled_back), V(vanished) (deleted during the run), V(skipped) (mirror pod)."
      type: str
      returned: always
    reason: {description: Why a pod is not done., type: str, returned: always}
patched:
  description: Names of the pods this run patched (in check mode, would patch).
  returned: always
  type: list
  elements: str
already_current:
  description: Names of the pods that already ran the target images.
  returned: always
  type: list
  elements: str
spec_only:
  description: Names of the pods whose change is spec-only (state V(spec_only)).
  returned: always
  type: list
  elements: str
skipped:
  description: Names of the pods never touched (mirror pods, state V(skipped)).
  returned: always
  type: list
  elements: str
pending:
  description:
    - Names of the pods in a pending state (V(would_upgrade), V(needs_upgrade), V(in_progress), V(patched),
      V(interrupted)). A timed-out pod is in RV(failed_pods), not here.
  returned: always
  type: list
  elements: str
failed_pods:
  description:
    - Names of the pods in a failed state (V(failed), V(timed_out), V(conflict), V(error), V(rollback_failed)).
    - Named C(failed_pods) because Ansible reserves C(failed) for the task's own status.
  returned: always
  type: list
  elements: str
rolled_back:
  description: Names of the pods restored to their previous images after a failure.
  returned: always
  type: list
  elements: str
failed_batch:
  description:
    - The module's account of the batch that failed, as its message says it (the role words its own
      batch-by-batch message from it).
    - C(batch), C(of), C(reasons) (one per pod and container, in the kubelet's words), C(on_failure),
      C(rolled_back) (pod names), C(not_rolled_back) (pairs of pod name and why).
  returned: when a batch failed
  type: dict
  sample: {batch: 1, of: 2, reasons: ["web-7d4b9-x2k4q container app: ErrImagePull"], on_failure: rollback,
           rolled_back: [web-7d4b9-x2k4q], not_rolled_back: []}
planned_batches:
  description: The batches, as lists of pod names, in order.
  returned: success
  type: list
  elements: list
batches:
  description: Per batch run, C(batch), C(of), C(pods), C(seconds), C(state).
  returned: always
  type: list
  elements: dict
template_synced:
  description: Whether the owner's template runs the target images at the end.
  returned: always
  type: bool
template_sync_steps:
  description: What the template sync did, every write included; also when the run failed.
  returned: always
  type: list
  elements: str
api_requests:
  description: Number of API requests this run made, the release of its lease and its last Events included.
  returned: always
  type: int
seconds:
  description: Wall-clock seconds this run took.
  returned: always
  type: float
summary:
  description: Pod counts by state.
  returned: always
  type: str
window_closed:
  description: Set when the run stopped because O(not_after) had passed.
  returned: when the maintenance window closed
  type: bool
controller_gone:
  description: Set when the run stopped between batches because the Ansible controller was gone (O(stop_when_orphaned)).
  returned: when the controller was gone
  type: bool
left:
  description: Pods left on the old images when the run stopped between batches (window closed, controller gone).
  returned: when the maintenance window closed or the controller was gone
  type: list
  elements: str
disruption_budget_notes:
  description: How PodDisruptionBudgets shrank batches.
  returned: when O(respect_pdb) shrank a batch
  type: list
  elements: str
resources:
  description: Container name to the CPU/memory this run resized to (O(resources), or what O(rollback) restores).
  returned: success
  type: dict
  sample: {app: {requests: {cpu: 500m, memory: 256Mi}, limits: {memory: 512Mi}}}
plan:
  description:
    - The plan this call made before its first write, with the fields of
      M(inplace.kubernetes.k8s_inplace_upgrade_info) (without C(disruption_budgets) and C(api_requests)), so one call
      can plan, act and be reported on.
  returned: when the workload was planned (also on failure)
  type: dict
  contains:
    pods: {description: Each pod as planned (state before this call)., type: list, elements: dict, returned: unless O(plan_pods=false)}
    needs_upgrade: {description: Pods whose images or resources differ., type: list, elements: str, returned: always}
    in_progress: {description: Pods an earlier run left restarting., type: list, elements: str, returned: always}
    already_current: {description: Pods already on the targets., type: list, elements: str, returned: always}
    spec_only: {description: Pods with a spec-only change., type: list, elements: str, returned: always}
    skipped: {description: Mirror pods (never touched)., type: list, elements: str, returned: always}
    not_ready: {description: Pods not Ready when planned., type: list, elements: str, returned: always}
    planned_batches: {description: The batches as lists of pod names., type: list, elements: list, returned: always}
    template_images: {description: The owner's template images before the call., type: dict, returned: always}
    template_current: {description: Whether the template was on the targets already., type: bool, returned: always}
    pending_template_sync:
      description: Whether an earlier run left a template sync to finish (finished first, before the plan was made).
      type: bool
      returned: always
    last_upgrade: {description: The recorded last upgrade on the owner., type: dict, returned: always}
lease:
  description: The workload's Lease as this call held it (O(lease)).
  returned: when O(lease) is given
  type: dict
  contains:
    holder: {description: The holder identity this call used; pass it to later calls of the same run., type: str, returned: always}
    name: {description: Name of the Lease., type: str, returned: always}
    duration_seconds: {description: The lease duration used., type: int, returned: always}
    action:
      description:
        - V(acquired), V(took_over) (an expired lease of another holder), V(renewed) (this holder had it),
          V(not_taken) (nothing to write, or check mode; see C(reason)), V(refused) (another holder has it),
          V(lost) (taken over by another holder during the run, which then stopped).
      type: str
      returned: always
    reason: {description: Why no lease was taken., type: str, returned: when RV(lease.action=not_taken)}
    previous_holder: {description: The holder of the expired lease taken over., type: str, returned: when RV(lease.action=took_over)}
    renewals: {description: How many times this call renewed the lease between batches., type: int, returned: always}
    released:
      description: V(released), V(absent), V(not_ours), or C(failed:) and why (the call warns; the lease expires by itself).
      type: str
      returned: when the call released (or tried to release) the lease
    held: {description: Whether this holder still holds the lease after the call., type: bool, returned: always}
    lease:
      description: The Lease's C(name), C(namespace), C(holder), C(duration_seconds), C(acquire_time), C(renew_time),
        C(expires) and C(transitions), as last taken or renewed (another holder's, when refused).
      type: dict
      returned: always
held_by_other:
  description: Set when the call was refused because another holder's lease has not expired (nothing was written).
  returned: on failure
  type: bool
diff:
  description:
    - Images per pod (and of the template) before and after; with O(resources), C(resources) per pod and
      C(template_resources), each container's C(requests) and C(limits) of C(cpu) and C(memory).
  returned: when diff mode is on
  type: dict
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.inplace.kubernetes.plugins.module_utils._inplace.args import (
    AUTH_ARG_SPEC,
    LEASE_HOLD_SPEC,
    PLAN_ARG_SPEC,
    TARGET_ARG_SPEC,
    TARGET_REQUIRED_ONE_OF,
    WAIT_ARG_SPEC,
    argument_spec,
)
from ansible_collections.inplace.kubernetes.plugins.module_utils._inplace.client import connect
from ansible_collections.inplace.kubernetes.plugins.module_utils._inplace.deps import check_dependencies
from ansible_collections.inplace.kubernetes.plugins.module_utils._inplace.errors import InplaceError
from ansible_collections.inplace.kubernetes.plugins.module_utils._inplace.planning import validate
from ansible_collections.inplace.kubernetes.plugins.module_utils._inplace.rollout import Rollout

UPGRADE_ARG_SPEC = {
    "pause_seconds": {"type": "int", "default": 0},
    "on_failure": {"type": "str", "default": "rollback", "choices": ["rollback", "rollback_all", "stop"]},
    "respect_pdb": {"type": "bool", "default": False},
    "not_after": {"type": "str"},
    "sync_template": {"type": "bool", "default": True},
    "sync_timeout": {"type": "int", "default": 120},
    "allow_mid_rollout": {"type": "bool", "default": False},
    "allow_spec_only": {"type": "bool", "default": False},
    "events": {"type": "bool", "default": True},
    "stop_when_orphaned": {"type": "bool", "default": True},
    "allow_unhealthy": {"type": "bool", "default": True},
    "max_batches": {"type": "int"},
    "plan_pods": {"type": "bool", "default": True},
    "lease": {"type": "dict", "options": argument_spec(LEASE_HOLD_SPEC, {"release": {"type": "bool", "default": True}})},
}


def main():
    module = AnsibleModule(
        argument_spec=argument_spec(AUTH_ARG_SPEC, TARGET_ARG_SPEC, PLAN_ARG_SPEC, WAIT_ARG_SPEC, UPGRADE_ARG_SPEC),
        required_one_of=TARGET_REQUIRED_ONE_OF,
        mutually_exclusive=[("containers", "image")],
        supports_check_mode=True,
    )
    check_dependencies(module)
    try:
        validate(module.params)
        kube = connect(module)
        result = Rollout(kube, module.params, check_mode=module.check_mode, diff_mode=module._diff, warn=module.warn).run()
    except InplaceError as exc:
        module.fail_json(msg=exc.msg, **exc.details)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
