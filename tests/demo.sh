#!/usr/bin/env bash
# The main job on the embedded default: start the local control plane, create a demo Deployment,
# upgrade it in place through the collection, show that every pod kept its UID, node and IP while
# its container restarted on the new image, and stop everything again. Run it with `make demo`.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"
[[ -n "${KUBECONFIG:-}" ]] || bash "$ROOT/tests/cluster/build-binaries.sh" >/dev/null
exec python "$ROOT/tests/demo.py" "$@"
