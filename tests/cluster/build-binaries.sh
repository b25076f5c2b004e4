#!/usr/bin/env bash
# Build the test world from the Go module proxy: kube-apiserver, kube-controller-manager and
# kube-scheduler of upstream Kubernetes, the project's node program (the real kubelet code from
# kubemark with a fake CRI and a fault layer, see world/cmd/inplace-node) and etcd. Versions come
# from versions.env; binaries are cached outside the repository, one directory per version, so only
# the first run on a machine pays for the build.
#
#   build-binaries.sh              the newest pinned Kubernetes (K8S_VERSION) and etcd
#   build-binaries.sh 1.31.14      another Kubernetes version (with the same etcd)
#   build-binaries.sh --print-dir  print the bin directory of K8S_VERSION (build nothing)
set -euo pipefail

HERE="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=versions.env
source "$HERE/versions.env"
CACHE_ROOT="${INPLACE_WORLD_CACHE:-$HOME/.cache/inplace-kubernetes}"

print_only=0
if [[ "${1:-}" == "--print-dir" ]]; then print_only=1; shift; fi
V="${1:-${K8S_VERSION}}"
V="${V#v}"
K8S_DIR="$CACHE_ROOT/k8s-$V"
ETCD_DIR="$CACHE_ROOT/etcd-$ETCD_VERSION"
if [[ $print_only -eq 1 ]]; then echo "$K8S_DIR/bin"; exit 0; fi

WANT=(kube-apiserver kube-controller-manager kube-scheduler inplace-node)
command -v go >/dev/null || { echo "build-binaries: Go is required (go 1.26 or later)" >&2; exit 1; }

# The node program is part of the project: rebuild it when its sources change.
src_stamp() { (cd "$HERE/world" && find . -type f -name '*.go' -print0 | sort -z | xargs -0 sha256sum | sha256sum | cut -c1-16); }
STAMP="$(src_stamp)"

have_k8s() {
  for b in "${WANT[@]}"; do [[ -x "$K8S_DIR/bin/$b" ]] || return 1; done
  [[ "$(cat "$K8S_DIR/bin/.world-stamp" 2>/dev/null)" == "$STAMP" ]]
}

export CGO_ENABLED=0 GOFLAGS=-buildvcs=false

build_etcd() {
  [[ -x "$ETCD_DIR/bin/etcd" ]] && return 0
  local work="$ETCD_DIR/src" t0=$SECONDS
  rm -rf "$work"; mkdir -p "$work" "$ETCD_DIR/bin"
  (
    cd "$work"
    printf 'module inplace.kubernetes/etcd\n\ngo 1.26\n' >go.mod
    printf '//go:build tools\n\npackage tools\n\nimport _ "go.etcd.io/etcd/server/v3"\n' >tools.go
    go get "go.etcd.io/etcd/server/v3@v$ETCD_VERSION" >build.log 2>&1
    go mod tidy >>build.log 2>&1
    go build -trimpath -ldflags "-s -w" -o "$ETCD_DIR/bin/etcd" go.etcd.io/etcd/server/v3 >>build.log 2>&1
  ) || { tail -30 "$work/build.log" >&2; echo "build-binaries: etcd $ETCD_VERSION failed" >&2; exit 1; }
  echo "build-binaries: etcd $ETCD_VERSION built in $((SECONDS - t0)) s into $ETCD_DIR/bin"
}

build_k8s() {
  have_k8s && return 0
  local work="$K8S_DIR/src" t0=$SECONDS minor
  minor="$(echo "$V" | cut -d. -f2)"
  rm -rf "$work"; mkdir -p "$work" "$K8S_DIR/bin"
  cp -r "$HERE/world/." "$work/"
  (
    cd "$work"
    go mod download -json "k8s.io/kubernetes@v$V" >dl.json
    local kdir
    kdir="$(sed -n 's/.*"Dir": "\(.*\)".*/\1/p' dl.json)"
    {
      printf 'module inplace.kubernetes/world\n\ngo 1.26\n\nrequire k8s.io/kubernetes v%s\n\n' "$V"
      # Every staging module k8s.io/kubernetes replaces with ./staging/... is pinned to v0.<minor>.<patch>.
      sed -n 's#^[[:space:]]*\(k8s.io/[a-z0-9-]*\) => ./staging/.*#\1#p' "$kdir/go.mod" | sort -u |
        while read -r m; do printf 'replace %s => %s v0.%s\n' "$m" "$m" "${V#*.}"; done
    } >go.mod
    go mod tidy >build.log 2>&1
    local pkg=k8s.io/component-base/version cpkg=k8s.io/client-go/pkg/version date ld=""
    date="$(date -u +%Y-%m-%dT%H:%M:%SZ)"
    for p in $pkg $cpkg; do
      ld="$ld -X $p.gitVersion=v$V -X $p.gitMajor=1 -X $p.gitMinor=$minor -X $p.gitTreeState=clean"
      ld="$ld -X $p.gitCommit=module-proxy -X $p.buildDate=$date"
    done
    go build -trimpath -ldflags "-s -w $ld" -o "$K8S_DIR/bin/" ./cmd/... >>build.log 2>&1
  ) || { tail -40 "$work/build.log" >&2; echo "build-binaries: Kubernetes $V failed (log: $work/build.log)" >&2; exit 1; }
  echo "$STAMP" >"$K8S_DIR/bin/.world-stamp"
  echo "build-binaries: Kubernetes $V built in $((SECONDS - t0)) s into $K8S_DIR/bin"
}

build_etcd
build_k8s
echo "build-binaries: Kubernetes $V in $K8S_DIR/bin, etcd $ETCD_VERSION in $ETCD_DIR/bin"
