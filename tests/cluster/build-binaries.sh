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

command -v go >/dev/null || { echo "build-binaries: Go is required (go 1.26 or later)" >&2; exit 1; }

# The node program is part of the project: rebuild it when its sources change.
src_stamp() { (cd "$HERE/world" && find . -type f -name '*.go' -print0 | sort -z | xargs -0 sha256sum | sha256sum | cut -c1-16); }
STAMP="$(src_stamp)"

have_control_plane() {
  for b in kube-apiserver kube-controller-manager kube-scheduler; do [[ -x "$K8S_DIR/bin/$b" ]] || return 1; done
}
have_node() {
  [[ -x "$K8S_DIR/bin/inplace-node" && "$(cat "$K8S_DIR/bin/.world-stamp" 2>/dev/null)" == "$STAMP" ]]
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

# The version of a staging module to pin: v0.<minor>.<patch>, else the newest v0.<minor>.x below it
# that the module proxy lists (the proxy here does not serve every staging module at every patch).
staging_version() {
  local m=$1 want="v0.${V#*.}" minor patch listed best=""
  minor="$(echo "$V" | cut -d. -f2)"; patch="$(echo "$V" | cut -d. -f3)"
  listed="$( (cd "$LIST_DIR" && go list -m -versions "$m" 2>/dev/null) | tr ' ' '\n' | grep -E "^v0\.$minor\.[0-9]+$")" || true
  if [[ -z "$listed" ]] || grep -qx "$want" <<<"$listed"; then echo "$want"; return; fi
  best="$(awk -F. -v p="$patch" '$3 <= p { print $3 }' <<<"$listed" | sort -n | tail -1)"
  if [[ -n "$best" ]]; then echo "v0.$minor.$best"; else echo "$want"; fi
}

build_k8s() {
  have_control_plane && have_node && return 0
  LIST_DIR="$K8S_DIR/list"   # an empty module to ask the proxy for version lists from
  mkdir -p "$LIST_DIR" && printf 'module list\n\ngo 1.26\n' >"$LIST_DIR/go.mod"
  local work="$K8S_DIR/src" t0=$SECONDS minor
  minor="$(echo "$V" | cut -d. -f2)"
  mkdir -p "$work" "$K8S_DIR/bin"
  rm -rf "$work/cmd" "$work/fakecri"
  cp -r "$HERE/world/." "$work/"
  # Kubelets before 1.33: the node program keeps kubemark's stub pod container manager (see
  # world/cmd/inplace-node/podcgroups.go), built with the tag nopodcgroups below. The file itself goes
  # too, as `go mod tidy` reads every file whatever its tags and would upgrade cAdvisor for its imports.
  if (( minor < 33 )); then rm -f "$work/cmd/inplace-node/podcgroups.go"; fi
  (
    cd "$work"
    go mod download -json "k8s.io/kubernetes@v$V" >dl.json
    local kdir
    rm -f go.mod go.sum
    kdir="$(sed -n 's/.*"Dir": "\(.*\)".*/\1/p' dl.json)"
    {
      printf 'module inplace.kubernetes/world\n\ngo 1.26\n\nrequire k8s.io/kubernetes v%s\n\n' "$V"
      # Every staging module k8s.io/kubernetes replaces with ./staging/... is pinned to v0.<minor>.<patch>,
      # or - where the module proxy does not serve that exact version - to the newest v0.<minor>.x
      # below it that it serves (said in the build output).
      sed -n 's#^[[:space:]]*\(k8s.io/[a-z0-9-]*\) => ./staging/.*#\1#p' "$kdir/go.mod" | sort -u |
        while read -r m; do printf 'replace %s => %s %s\n' "$m" "$m" "$(staging_version "$m")"; done
    } >go.mod
    grep -v " v0\.${V#*.}\$" go.mod | sed -n 's/^replace \([^ ]*\) => [^ ]* \(.*\)/build-binaries: \1 pinned to \2 (v0.'"${V#*.}"' not served)/p' >&2
    go mod tidy >build.log 2>&1
    local pkg=k8s.io/component-base/version cpkg=k8s.io/client-go/pkg/version date ld=""
    date="$(date -u +%Y-%m-%dT%H:%M:%SZ)"
    for p in $pkg $cpkg; do
      ld="$ld -X $p.gitVersion=v$V -X $p.gitMajor=1 -X $p.gitMinor=$minor -X $p.gitTreeState=clean"
      ld="$ld -X $p.gitCommit=module-proxy -X $p.buildDate=$date"
    done
    local cmds=()
    have_control_plane || cmds+=(./cmd/kube-apiserver ./cmd/kube-controller-manager ./cmd/kube-scheduler)
    have_node || cmds+=(./cmd/inplace-node)
    local tags=()
    if (( minor < 33 )); then tags=(-tags nopodcgroups); fi
    go build -trimpath "${tags[@]}" -ldflags "-s -w $ld" -o "$K8S_DIR/bin/" "${cmds[@]}" >>build.log 2>&1
  ) || { tail -40 "$work/build.log" >&2; echo "build-binaries: Kubernetes $V failed (log: $work/build.log)" >&2; exit 1; }
  echo "$STAMP" >"$K8S_DIR/bin/.world-stamp"
  echo "build-binaries: Kubernetes $V built in $((SECONDS - t0)) s into $K8S_DIR/bin"
}

build_etcd
build_k8s
echo "build-binaries: Kubernetes $V in $K8S_DIR/bin, etcd $ETCD_VERSION in $ETCD_DIR/bin"
