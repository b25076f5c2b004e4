# -*- coding: utf-8 -*-
# Copyright: inplace.kubernetes contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""template_sync.py and its recipes (sync_deployment.py, sync_held.py) against the recording fake API of
conftest.py, whose controller recreates pods and makes ReplicaSets the way the real ones would: the writes
in order, and the objects they leave; table-driven."""

from __future__ import annotations

import json
import time

import pytest

from ansible_collections.inplace.kubernetes.plugins.module_utils._inplace.discovery import Workload, discover
from ansible_collections.inplace.kubernetes.plugins.module_utils._inplace.sync_held import REVISION_LABEL
from ansible_collections.inplace.kubernetes.plugins.module_utils._inplace.sync_proofs import SYNC_ANNOTATION, SyncHeld
from ansible_collections.inplace.kubernetes.plugins.module_utils._inplace.template_sync import TemplateSync

OLD = "registry.example.com/web:1"
NEW = "registry.example.com/web:2"
IMAGE = "/spec/template/spec/containers/0/"
TEMPLATE_OPS = ['test %sname="app"' % IMAGE, 'test %simage="%s"' % (IMAGE, OLD), 'replace %simage="%s"' % (IMAGE, NEW)]
DROP_RECORD = "remove /metadata/annotations/inplace.kubernetes.io~1template-sync"
STS_ROLLING = {"type": "RollingUpdate", "rollingUpdate": {"partition": 0}}
DS_ROLLING = {"type": "RollingUpdate"}
ON_DELETE = {"type": "OnDelete"}


def upgraded_in_place(fake, kind, strategy=None):
    """``fake``'s pods under a ``kind`` on OLD, then every pod's image set to NEW in place; the workload as found."""
    fake.own(kind, update_strategy=strategy)
    for pod in fake.pods.values():
        pod["spec"]["containers"][0]["image"] = NEW
    workload = discover(fake, kind, "web", "ns")
    del fake.calls[:], fake.writes[:]
    return workload


def written(fake):
    """The writes, in order, as ``[method, "plural/name", body]``: JSON patches as ``"op path=value"``, the sync
    record decoded (less its start time)."""
    rows = []
    for method, path, body in fake.writes:
        if isinstance(body, list):
            body = ["%s %s%s" % (op["op"], op["path"], "=" + json.dumps(op["value"], sort_keys=True) if "value" in op else "")
                    for op in body]
        else:
            annotations = (body.get("metadata") or {}).get("annotations") or {}
            if annotations.get(SYNC_ANNOTATION):
                record = json.loads(annotations[SYNC_ANNOTATION])
                assert record.pop("started")
                annotations[SYNC_ANNOTATION] = record
        rows.append([method, "/".join(path.split("/")[-2:]), body])
    return rows


def expected(rows, **names):
    """``rows`` with ``{rs}`` and ``{revision}`` filled in from ``names``."""
    text = json.dumps(rows)
    for key, value in names.items():
        text = text.replace("{%s}" % key, value)
    return json.loads(text)


def take_over(plural, record, spec=None):
    body = {"metadata": {"annotations": {SYNC_ANNOTATION: dict(record, target={"app": NEW})}}}
    if spec is not None:
        body["spec"] = spec
    return ["PATCH", plural + "/web", body]


def held_recipe(kind, strategy, hold):
    """A StatefulSet's or DaemonSet's row: hold (``hold``, the spec the take-over writes besides the record) ->
    template -> every pod labelled with the new revision -> ``strategy`` restored."""
    plural = kind.lower() + "s"
    writes = [take_over(plural, {"updateStrategy": strategy}, hold), ["PATCH", plural + "/web", TEMPLATE_OPS]]
    writes += [["PATCH", "pods/web-%d" % i, {"metadata": {"labels": {REVISION_LABEL: "{revision}"}}}] for i in range(3)]
    writes += [["PATCH", plural + "/web", [DROP_RECORD, "replace /spec/updateStrategy=" + json.dumps(strategy, sort_keys=True)]]]
    return kind, strategy, writes, strategy


# kind, its update strategy, the writes in order, the update strategy it is left with
RECIPES = [
    # pause -> the current ReplicaSet's template -> the Deployment's -> unpause -> the record copied onto the
    # ReplicaSet removed; no new ReplicaSet (checked below).
    ("Deployment", None, [
        take_over("deployments", {"paused": False}, {"paused": True}),
        ["PATCH", "replicasets/{rs}", TEMPLATE_OPS],
        ["PATCH", "deployments/web", TEMPLATE_OPS],
        ["PATCH", "deployments/web", {"metadata": {"annotations": {SYNC_ANNOTATION: None}}, "spec": {"paused": False}}],
        ["PATCH", "replicasets/{rs}", [DROP_RECORD]],
    ], None),
    # The StatefulSet's hold is partition = replicas (the revision: status.updateRevision) ...
    held_recipe("StatefulSet", STS_ROLLING, {"updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"partition": 3}}}),
    # ... the DaemonSet's OnDelete (the revision: the newest ControllerRevision's hash) ...
    held_recipe("DaemonSet", DS_ROLLING, {"updateStrategy": {"type": "OnDelete", "rollingUpdate": None}}),
    # ... and on OnDelete of their own, the record is the take-over's only write.
    held_recipe("StatefulSet", ON_DELETE, None),
    held_recipe("DaemonSet", ON_DELETE, None),
]


@pytest.mark.parametrize("kind, strategy, writes, restored", RECIPES)
def test_a_recipe_syncs_the_template_and_recreates_no_pod(fake_kube, kind, strategy, writes, restored):
    workload = upgraded_in_place(fake_kube, kind, strategy)
    replicasets = list(fake_kube.of_kind("ReplicaSet"))
    uids = dict((name, pod["metadata"]["uid"]) for name, pod in fake_kube.pods.items())
    sync = TemplateSync(fake_kube, workload, {"app": NEW}, time.monotonic() + 10)

    steps = sync.run()

    assert sync.wrote is True and steps == sync.steps
    # The hold is given back only after the controller's proof.
    proved = [i for i, step in enumerate(steps) if step.startswith("the controller proved it sees the synced objects")]
    restored_at = [i for i, step in enumerate(steps) if step.startswith("restored ")]
    assert len(proved) == len(restored_at) == 1 and proved < restored_at
    assert written(fake_kube) == expected(writes, rs=(replicasets or ["-"])[0], revision=fake_kube.revision())
    owner = fake_kube.owner()
    assert owner["spec"]["template"]["spec"]["containers"] == [{"name": "app", "image": NEW}]
    assert SYNC_ANNOTATION not in (owner["metadata"].get("annotations") or {})
    assert owner["spec"].get("updateStrategy") == restored and not owner["spec"].get("paused")
    # No pod recreated, no new ReplicaSet; the one there is holds the new template, without the record.
    assert fake_kube.recreated == [] and fake_kube.new_replicasets == []
    assert dict((name, pod["metadata"]["uid"]) for name, pod in fake_kube.pods.items()) == uids
    assert list(fake_kube.of_kind("ReplicaSet")) == replicasets
    for rs in fake_kube.of_kind("ReplicaSet").values():
        assert rs["spec"]["template"]["spec"]["containers"] == [{"name": "app", "image": NEW}]
        assert SYNC_ANNOTATION not in rs["metadata"]["annotations"]
    if kind != "Deployment":
        assert set(p["metadata"]["labels"][REVISION_LABEL] for p in fake_kube.pods.values()) == {fake_kube.revision()}


@pytest.mark.parametrize("kind, held, message", [
    # The barrier waits for the proof.
    ("Deployment", {"paused": True}, "template sync of Deployment ns/web not finished: the controller has not proven "
                                     "that it sees the synced objects (observedGeneration 1 < 3)"),
    # The revision to label the pods with needs the controller to have observed the template first.
    ("StatefulSet", {"updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"partition": 3}}},
     "StatefulSet ns/web: the controller did not observe generation 3 in time. Template sync of StatefulSet ns/web "
     "not finished: left with its update strategy held"),
    ("DaemonSet", {"updateStrategy": {"type": "OnDelete"}},
     "DaemonSet ns/web: the controller did not observe generation 3 in time. Template sync of DaemonSet ns/web "
     "not finished: left with its update strategy held"),
])
def test_without_the_controller_the_hold_and_the_record_stay(fake_kube, kind, held, message):
    workload = upgraded_in_place(fake_kube, kind)
    fake_kube.controller_stopped = True
    sync = TemplateSync(fake_kube, workload, {"app": NEW}, time.monotonic() + 0.3)

    with pytest.raises(SyncHeld) as exc:
        sync.run()

    assert exc.value.msg.startswith(message)
    assert exc.value.details["template_sync_steps"] == sync.steps
    owner = fake_kube.owner()
    assert dict((k, owner["spec"].get(k)) for k in held) == held
    assert json.loads(owner["metadata"]["annotations"][SYNC_ANNOTATION])["target"] == {"app": NEW}
    assert owner["spec"]["template"]["spec"]["containers"] == [{"name": "app", "image": NEW}]
    assert fake_kube.recreated == [] and fake_kube.new_replicasets == []


@pytest.mark.parametrize("kind, spec, state, held", [
    ("Deployment", {"paused": True}, {}, True),
    ("Deployment", {"paused": False}, {}, False),
    ("StatefulSet", {"replicas": 3, "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"partition": 3}}},
     {"updateStrategy": {"type": "RollingUpdate"}}, True),
    ("StatefulSet", {"replicas": 3, "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"partition": 0}}},
     {"updateStrategy": {"type": "RollingUpdate"}}, False),
    # Scaled up since the hold: partition 3 no longer holds pod 3.
    ("StatefulSet", {"replicas": 4, "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"partition": 3}}},
     {"updateStrategy": {"type": "RollingUpdate"}}, False),
    ("StatefulSet", {"replicas": 3}, {"updateStrategy": {"type": "OnDelete"}}, True),
    ("DaemonSet", {"updateStrategy": {"type": "OnDelete"}}, {"updateStrategy": {"type": "RollingUpdate"}}, True),
    ("DaemonSet", {"updateStrategy": {"type": "RollingUpdate"}}, {"updateStrategy": {"type": "RollingUpdate"}}, False),
])
def test_held(kind, spec, state, held):
    sync = TemplateSync(None, Workload(kind, "web", "ns", owner={"metadata": {"name": "web"}, "spec": spec}), {}, 0)
    assert sync.recipe.held(spec, state) is held
