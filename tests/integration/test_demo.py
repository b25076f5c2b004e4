"""`make demo` must keep working: run the demo driver end to end and read its verdict."""

import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _pinned():
    with open(os.path.join(ROOT, "tests", "cluster", "versions.env")) as f:
        return [line.split("=", 1)[1].strip() for line in f if line.startswith("K8S_VERSION=")][0]


def test_demo_upgrades_in_place_and_says_so():
    env = {k: v for k, v in os.environ.items() if k != "KUBECONFIG"}  # the embedded cluster
    proc = subprocess.run([sys.executable, os.path.join(ROOT, "tests", "demo.py"), "--replicas", "3"],
                          capture_output=True, text=True, timeout=600, check=False, env=env)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output[-4000:]
    assert "DEMO OK" in output, output[-4000:]
    # It says which Kubernetes it ran on: the pinned version, on the server and every kubelet.
    version = os.environ.get("INPLACE_K8S_VERSION") or _pinned()
    assert "server v%s, kubelet v%s on 3 nodes" % (version, version) in output, output[-4000:]
    # Every pod row says its UID was kept.
    rows = [line for line in proc.stdout.splitlines() if line.startswith("web-")]
    assert len(rows) == 3 and all(" yes " in row for row in rows), "\n".join(rows)
