#!/usr/bin/env bash
# Machine preparation for the test stages: what tests/run.sh sources before it runs any stage, and
# nothing that runs a test. It installs what is missing on the machine (rsync, shellcheck), creates
# the virtual environments, builds the test world's binaries and stages the collection.
#
#   bash tests/prepare.sh [STAGE...]   prepare what these stages need (default: the venv and the
#                                      staged collection only), then exit
#   source tests/prepare.sh            define the settings and prepare_* functions (tests/run.sh)
#
# What each stage needs:
#   every stage      $VENV (tests/requirements.txt: the newest ansible-core and the tools) and the
#                    collection staged at $BUILD/ansible_collections/NS/NAME
#   sanity*          shellcheck (else ansible-test skips that test) and the pip bootstrap stand-in
#   sanity-X.Y, units-X.Y
#                    $VENV_OLDEST (tests/requirements-oldest.txt: ansible-core X.Y, the oldest that
#                    meta/runtime.yml claims)
#   integration, soak, compat
#                    the test world's binaries for $K8S_VERSION / K8S_OLDEST (tests/cluster)
#
# Settings (environment, all optional; tests/run.sh documents the rest):
#   PYTHON=python3.11       interpreter of both venvs (default: first of python3.11 python3.12 python3.13
#                           python3 in 3.11-3.13; the oldest venv needs one in 3.10-3.12)
#   INPLACE_VENV            venv of the newest ansible-core (default: .venv at the repository root)
#   INPLACE_VENV_OLDEST     venv of the oldest claimed ansible-core (default: $INPLACE_VENV-X.Y, e.g.
#                           .venv-2.16 next to .venv)
#   INPLACE_BUILD_DIR       staging directory (default: build at the repository root)
#   K8S_VERSION             Kubernetes version of integration and soak (default: tests/cluster/versions.env)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"
VENV="${INPLACE_VENV:-$ROOT/.venv}"
BUILD="${INPLACE_BUILD_DIR:-$ROOT/build}"
REPORTS="$BUILD/reports"
REQUIREMENTS_OLDEST="$ROOT/tests/requirements-oldest.txt"

# shellcheck source-path=SCRIPTDIR source=cluster/versions.env
source "$ROOT/tests/cluster/versions.env"
K8S_VERSION="${K8S_VERSION:-${INPLACE_K8S_VERSION:-}}"
K8S_VERSION="${K8S_VERSION:-$(sed -n 's/^K8S_VERSION=//p' "$ROOT/tests/cluster/versions.env")}"
export INPLACE_K8S_VERSION="$K8S_VERSION"

# ---------------------------------------------------------------------------------------------
# output helpers

banner() {
  printf '\n==============================================================================\n'
  printf '== %s\n' "$*"
  printf '==============================================================================\n'
}

note() { printf 'run.sh: %s\n' "$*"; }
die() { printf 'run.sh: ERROR: %s\n' "$*" >&2; exit 2; }

# ---------------------------------------------------------------------------------------------
# settings derived from the repository

python_in_range() {  # python_in_range PYTHON MIN_MINOR MAX_MINOR: is PYTHON a 3.MIN..3.MAX?
  command -v "$1" >/dev/null 2>&1 \
    && "$1" -c "import sys; sys.exit(not (3, $2) <= sys.version_info[:2] <= (3, $3))" 2>/dev/null
}

PYTHON="${PYTHON:-}"
if [[ -z "$PYTHON" ]]; then
  # ansible-core 2.19 runs on Python 3.11-3.13; this project is tested on 3.11 first (2.16 takes 3.10-3.12).
  for candidate in python3.11 python3.12 python3.13 python3; do
    if python_in_range "$candidate" 11 13; then PYTHON="$candidate"; break; fi
  done
fi
PYTHON="${PYTHON:-python3.11}"
PY_VERSION="$("$PYTHON" -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null || echo 3.11)"

# The oldest claimed ansible-core: the X.Y of the pin in tests/requirements-oldest.txt, which must be
# what meta/runtime.yml's requires_ansible names (so raising one without the other fails here).
ANSIBLE_OLDEST="$(sed -n 's/^ansible-core==\([0-9]*\.[0-9]*\)\..*/\1/p' "$REQUIREMENTS_OLDEST")"
[[ -n "$ANSIBLE_OLDEST" ]] || die "no ansible-core==X.Y.Z pin in $REQUIREMENTS_OLDEST"
requires_ansible="$(sed -n 's/^requires_ansible: *["'\'']\{0,1\}>=\([0-9]*\.[0-9]*\).*/\1/p' "$ROOT/meta/runtime.yml")"
[[ "$requires_ansible" == "$ANSIBLE_OLDEST" ]] \
  || die "meta/runtime.yml requires ansible-core >=${requires_ansible:-?}, but $REQUIREMENTS_OLDEST pins $ANSIBLE_OLDEST"
VENV_OLDEST="${INPLACE_VENV_OLDEST:-$VENV-$ANSIBLE_OLDEST}"

# ---------------------------------------------------------------------------------------------
# the machine's programs

apt_install() {  # apt_install PACKAGE: install a Debian package if we can; never fails
  [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null 2>&1 || return 0
  note "installing $1 (apt-get)"
  if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$1" >/dev/null 2>&1; then
    apt-get update -qq >/dev/null 2>&1 || true
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$1" >/dev/null 2>&1 || true
  fi
}

prepare_programs() {  # prepare_programs STAGE...
  command -v rsync >/dev/null 2>&1 || apt_install rsync
  command -v rsync >/dev/null 2>&1 || die "rsync is missing and could not be installed (it stages the collection)"
  if [[ " $* " == *" sanity"* ]]; then
    # ansible-test skips its shellcheck test (with a warning) when the program is missing.
    command -v shellcheck >/dev/null 2>&1 || apt_install shellcheck
    command -v shellcheck >/dev/null 2>&1 || note "WARNING: shellcheck unavailable, ansible-test will skip that test"
  fi
}

# ---------------------------------------------------------------------------------------------
# virtual environments

requirements_stamp() {  # requirements_stamp PYTHON FILE...: what triggers a reinstall when it changes
  local python=$1 f
  shift
  {
    "$python" -c 'import sys; print(sys.version)'
    for f in "$@" "$ROOT"/tests/requirements-*.txt; do
      if [[ -f "$f" ]]; then echo "== $f"; cat "$f"; fi
    done
  } | sha256sum | cut -d' ' -f1
}

prepare_venv() {  # prepare_venv VENV PYTHON REQUIREMENTS_FILE...
  local venv=$1 python=$2 stamp_file stamp f reqs=()
  shift 2
  command -v "$python" >/dev/null 2>&1 || die "$python not found (set PYTHON=/path/to/python3.11)"
  stamp_file="$venv/.inplace-requirements.sha256"
  stamp="$(requirements_stamp "$python" "$@")"

  if [[ -x "$venv/bin/python" ]] && "$venv/bin/python" -c 'import sys' 2>/dev/null \
      && [[ -f "$stamp_file" && "$(cat "$stamp_file")" == "$stamp" ]]; then
    note "reusing $venv (requirements unchanged)"
    return 0
  fi

  banner "venv: installing ${*#"$ROOT/"} into $venv"
  if [[ ! -x "$venv/bin/python" ]] || ! "$venv/bin/python" -c 'import sys' 2>/dev/null; then
    rm -rf "$venv"
    "$python" -m venv "$venv"
  fi
  for f in "$@"; do reqs+=(-r "$f"); done
  # (the grep drops pip's notes about index locations of this machine's pip configuration)
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "${reqs[@]}" \
    2> >(grep -v "^WARNING: Location '.*' is ignored" >&2)
  echo "$stamp" >"$stamp_file"
  "$venv/bin/python" -m pip list --disable-pip-version-check 2>/dev/null \
    | grep -i -E '^(ansible-core|ansible-lint|antsibull-changelog|kubernetes|jsonpatch|pytest|hypothesis|ruff|mypy) ' || true
}

prepare_venvs() {  # prepare_venvs STAGE...: the newest venv always, the oldest one when its stages run
  local reqs=("$ROOT/requirements.txt" "$ROOT/tests/requirements.txt")
  if [[ -f "$ROOT/tests/unit/requirements.txt" ]]; then reqs+=("$ROOT/tests/unit/requirements.txt"); fi
  prepare_venv "$VENV" "$PYTHON" "${reqs[@]}"
  if [[ " $* " == *"-$ANSIBLE_OLDEST "* ]]; then
    python_in_range "$PYTHON" 10 12 \
      || die "ansible-core $ANSIBLE_OLDEST needs Python 3.10-3.12 ($PYTHON is $PY_VERSION); set PYTHON"
    reqs[1]="$REQUIREMENTS_OLDEST"
    prepare_venv "$VENV_OLDEST" "$PYTHON" "${reqs[@]}"
  fi
}

install_get_pip_standin() {  # install_get_pip_standin VENV: for the ansible-test of that venv
  local path
  path="$("$1/bin/python" "$ROOT/tests/harness/install_get_pip.py")"
  note "pip bootstrap stand-in for the ansible-test of $1: $path"
}

# ---------------------------------------------------------------------------------------------
# the test world's binaries

prepare_binaries() {  # prepare_binaries STAGE...
  local versions=() v
  if [[ " $* " == *" integration "* || " $* " == *" soak "* ]]; then versions+=("$INPLACE_K8S_VERSION"); fi
  if [[ " $* " == *" compat "* && "$K8S_OLDEST" != "$INPLACE_K8S_VERSION" ]]; then versions+=("$K8S_OLDEST"); fi
  for v in "${versions[@]}"; do
    banner "binaries: tests/cluster/build-binaries.sh $v (cached after the first build)"
    bash "$ROOT/tests/cluster/build-binaries.sh" "$v"
  done
}

# ---------------------------------------------------------------------------------------------
# the staged collection

collection_name() {
  # namespace/name from galaxy.yml, the one place they are written down.
  "$VENV/bin/python" - "$ROOT/galaxy.yml" <<'PY'
import sys
import yaml
with open(sys.argv[1], encoding='utf-8') as f:
    meta = yaml.safe_load(f)
print('%s/%s' % (meta['namespace'], meta['name']))
PY
}

stage_collection() {
  # ansible-test wants its working directory to be .../ansible_collections/NS/NAME, as a real
  # path, so the collection is copied (not symlinked) into build/. The copy holds exactly the files
  # git would see: tracked ones plus untracked ones that .gitignore does not exclude (so
  # work-in-progress is tested too). Without git metadata we fall back to a filtered walk.
  local coll dest
  coll="$(collection_name)"
  dest="$BUILD/ansible_collections/$coll"
  rm -rf "$BUILD/ansible_collections"
  mkdir -p "$dest" "$REPORTS"

  if git -C "$ROOT" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    (cd "$ROOT" && git ls-files -z --cached --others --exclude-standard) \
      | (cd "$ROOT" && while IFS= read -r -d '' f; do
          case "$f" in .venv | .venv/* | .venv-* | build | build/* | tests/output/*) continue ;; esac  # even if not ignored
          if [[ -e "$f" || -L "$f" ]]; then printf '%s\0' "$f"; fi
        done) \
      | rsync -a --from0 --files-from=- "$ROOT/" "$dest/"
  else
    rsync -a --exclude=/.git --exclude='/.venv*' --exclude=/build --exclude=/tests/output \
      --exclude=__pycache__ --exclude=.pytest_cache --exclude=.hypothesis --exclude=/.cache \
      "$ROOT/" "$dest/"
  fi

  # ansible-test lists files with git when it finds a .git directory, walking up from its working
  # directory; without one of its own here it would find the repository's, in which build/ is
  # ignored, and test nothing. An empty repository makes it list exactly the staged files.
  git init -q "$dest"

  local real
  real="$(cd "$dest" && pwd -P)"
  [[ "$real" == */ansible_collections/$coll ]] || die "staged collection is not at a real ansible_collections path: $real"
  STAGED="$real"
  note "staged $coll at $STAGED ($(find "$STAGED" -type f | wc -l) files)"
}

export_env() {
  # The newest venv first on PATH; the collection found by ansible (ANSIBLE_COLLECTIONS_PATH) and
  # importable as ansible_collections.NS.NAME by Python (PYTHONPATH, for the unit tests).
  export PATH="$VENV/bin:$PATH"
  export VIRTUAL_ENV="$VENV"
  export ANSIBLE_COLLECTIONS_PATH="$BUILD"
  export INPLACE_COLLECTIONS_PATH="$BUILD"
  export INPLACE_STAGED_COLLECTION="$STAGED"
  export INPLACE_REPO_ROOT="$ROOT"
  export ANSIBLE_NOCOLOR="${ANSIBLE_NOCOLOR:-${CI:+1}}"
  [[ -n "$ANSIBLE_NOCOLOR" ]] || unset ANSIBLE_NOCOLOR
  export PYTHONDONTWRITEBYTECODE=1
  if [[ -n "${CI:-}" ]]; then export NO_COLOR=1; fi
}

take_lock() {
  # One run at a time per build directory: a second run would restage (delete) the copy that the
  # first one is testing. The lock is released when this process (or what it execs) exits.
  mkdir -p "$BUILD"
  exec 9>"$BUILD/.run.lock"
  if ! flock -n 9; then
    note "another tests/run.sh is using $BUILD; waiting for it to finish"
    flock 9
  fi
}

# prepare STAGE...: everything these stages need, in order; sets STAGED and the environment.
prepare() {
  local t
  t=$(date +%s); prepare_programs "$@"
  prepare_venvs "$@"; note "venvs ready in $(( $(date +%s) - t ))s"
  if [[ " $* " == *" sanity"* ]]; then
    install_get_pip_standin "$VENV"
    if [[ " $* " == *" sanity-$ANSIBLE_OLDEST "* ]]; then install_get_pip_standin "$VENV_OLDEST"; fi
  fi
  if [[ " $* " == *" integration "* || " $* " == *" soak "* || " $* " == *" compat "* ]]; then
    t=$(date +%s); prepare_binaries "$@"; note "binaries ready in $(( $(date +%s) - t ))s"
  fi
  STAGED=""; stage_collection
  export_env
}

if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
  cd "$ROOT"
  take_lock
  prepare "$@"
fi
