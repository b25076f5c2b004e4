#!/usr/bin/env bash
# Build kube-apiserver, kube-controller-manager and kube-scheduler 1.20.2 from Debian bookworm's
# source package, and make sure etcd is installed. Binaries are cached outside the repository, so
# only the first run on a machine pays for the build.
set -euo pipefail

K8S_VERSION=1.20.2
CACHE_DIR="${INPLACE_K8S_CACHE:-$HOME/.cache/inplace-kubernetes/k8s-$K8S_VERSION}"
BIN_DIR="$CACHE_DIR/bin"
WANT=(kube-apiserver kube-controller-manager kube-scheduler)

have_all() {
  for b in "${WANT[@]}"; do [[ -x "$BIN_DIR/$b" ]] || return 1; done
  command -v etcd >/dev/null 2>&1 || [[ -x /usr/bin/etcd ]] || return 1
}

if have_all; then
  echo "build-binaries: cached binaries in $BIN_DIR"
  exit 0
fi

SUDO=""
if [[ $(id -u) -ne 0 ]]; then SUDO="sudo"; fi

apt_updated=0
apt_install() {
  if [[ $apt_updated -eq 0 ]]; then $SUDO apt-get update -qq; apt_updated=1; fi
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "$@"
}

if ! command -v etcd >/dev/null 2>&1; then
  apt_install etcd-server
fi

missing=0
for b in "${WANT[@]}"; do [[ -x "$BIN_DIR/$b" ]] || missing=1; done
if [[ $missing -eq 0 ]]; then exit 0; fi

# Source entries: derive deb-src from the machine's own deb822 entries (same mirror, same suites).
SRC_LIST=/etc/apt/sources.list.d/inplace-kubernetes-src.sources
if ! grep -rqs '^Types:.*deb-src' /etc/apt/sources.list.d/ 2>/dev/null; then
  if [[ -f /etc/apt/sources.list.d/debian.sources ]]; then
    sed -e 's/^Types:.*/Types: deb-src/' /etc/apt/sources.list.d/debian.sources | $SUDO tee "$SRC_LIST" >/dev/null
  elif [[ -f /etc/apt/sources.list ]]; then
    grep '^deb ' /etc/apt/sources.list | sed 's/^deb /deb-src /' | $SUDO tee /etc/apt/sources.list.d/inplace-kubernetes-src.list >/dev/null
  fi
  apt_updated=0
fi
apt_install golang-go dpkg-dev make rsync ca-certificates

WORK="$CACHE_DIR/build"
rm -rf "$WORK"
mkdir -p "$WORK/dl" "$WORK/gopath/src/k8s.io"
(
  cd "$WORK/dl"
  # Prefer the pinned version; fall back to whatever version the sources offer.
  if ! apt-get source --download-only "kubernetes=$K8S_VERSION*" >/dev/null 2>&1; then
    apt-get source --download-only kubernetes
  fi
)
dscs=("$WORK"/dl/kubernetes_*.dsc)  # glob expansion is sorted, like ls
dsc="${dscs[0]}"
[[ -f "$dsc" ]] || { echo "build-binaries: no kubernetes_*.dsc downloaded into $WORK/dl" >&2; exit 1; }
dpkg-source --no-check -x "$dsc" "$WORK/gopath/src/k8s.io/kubernetes" >/dev/null

cd "$WORK/gopath/src/k8s.io/kubernetes"
export GOPATH="$WORK/gopath" GO111MODULE=off CGO_ENABLED=0 GOFLAGS="" GOCACHE="$WORK/gocache"
# The Debian tree has no .git: give the version stamp explicitly.
export KUBE_GIT_VERSION="v$K8S_VERSION" KUBE_GIT_TREE_STATE=clean KUBE_GIT_COMMIT=debian
make WHAT="cmd/kube-apiserver cmd/kube-controller-manager cmd/kube-scheduler" >"$WORK/make.log" 2>&1 || {
  tail -50 "$WORK/make.log"; exit 1; }

mkdir -p "$BIN_DIR"
for b in "${WANT[@]}"; do
  f=$(find _output -type f -name "$b" -perm -u+x | head -1)
  install -m 0755 "$f" "$BIN_DIR/$b"
done
cd /
rm -rf "$WORK"
echo "build-binaries: built into $BIN_DIR"
