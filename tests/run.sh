#!/usr/bin/env bash
# The test runner behind `make test` (and every other make target): it builds its own virtual
# environment, stages the collection where ansible-test and ansible can find it, and runs the stages.
#
#   tests/run.sh [STAGE...]       run the given stages (default: all test stages, in order)
#   tests/run.sh exec CMD [ARG...] run CMD with the venv on PATH and the staged collection in use
#
# Test stages, in order:  sanity static units integration soak compat lint changelog
#   static:      ruff (lint) and mypy on plugins/, configured in pyproject.toml
#   integration: every integration test on Kubernetes $K8S_VERSION (default: the newest pinned)
#   soak:        the tests marked `slow` (issue 14's template-sync soak) on $K8S_VERSION
#   compat:      the tests marked `compat` (less those marked `any_version`) on the oldest supported
#                Kubernetes (K8S_OLDEST)
# Preparation (always):   venv, then the test world's binaries (only when integration, soak or compat
#                         runs; built from the Go module proxy on first use), then stage.
#
# Environment knobs (all optional):
#   SKIP="sanity lint"      stages to leave out (space or comma separated)
#   FAIL_FAST=1             stop at the first failing stage (default: run the rest, fail at the end)
#   PYTEST_ARGS="-k foo -x" extra pytest arguments for the pytest stages
#   TESTS="tests/integration/test_x.py::test_y"  run these instead of the stage's whole directory
#   INTEGRATION_MARKERS     pytest -m expression for integration (default: "not slow"; "" runs all)
#   PYTHON=python3.11       interpreter used to create .venv (default: first of python3.11..3.13)
#   INPLACE_VENV            virtual environment directory (default: .venv at the repository root)
#   INPLACE_BUILD_DIR       staging directory (default: build at the repository root)
#   K8S_VERSION=1.31.14     Kubernetes version of the integration stage (versions.env pins the default)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"
VENV="${INPLACE_VENV:-$ROOT/.venv}"
BUILD="${INPLACE_BUILD_DIR:-$ROOT/build}"
PYTHON="${PYTHON:-}"
if [[ -z "$PYTHON" ]]; then
  # ansible-core 2.19 runs on Python 3.11-3.13; this project is tested on 3.11 first.
  for candidate in python3.11 python3.12 python3.13 python3; do
    if command -v "$candidate" >/dev/null 2>&1 \
        && "$candidate" -c 'import sys; sys.exit(not (3, 11) <= sys.version_info[:2] <= (3, 13))' 2>/dev/null; then
      PYTHON="$candidate"
      break
    fi
  done
fi
PYTHON="${PYTHON:-python3.11}"
PY_VERSION="$("$PYTHON" -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null || echo 3.11)"
ALL_STAGES=(sanity static units integration soak compat lint changelog)
# shellcheck source=cluster/versions.env
source "$ROOT/tests/cluster/versions.env"
K8S_VERSION="${K8S_VERSION:-${INPLACE_K8S_VERSION:-}}"
K8S_VERSION="${K8S_VERSION:-$(sed -n 's/^K8S_VERSION=//p' "$ROOT/tests/cluster/versions.env")}"
export INPLACE_K8S_VERSION="$K8S_VERSION"
REPORTS="$BUILD/reports"

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
# preparation

requirements_stamp() {
  # Anything that should trigger a reinstall when it changes.
  {
    "$PYTHON" -c 'import sys; print(sys.version)'
    for f in requirements.txt tests/requirements.txt tests/unit/requirements.txt; do
      if [[ -f "$ROOT/$f" ]]; then echo "== $f"; cat "$ROOT/$f"; fi
    done
  } | sha256sum | cut -d' ' -f1
}

prepare_venv() {
  command -v "$PYTHON" >/dev/null 2>&1 || die "$PYTHON not found (set PYTHON=/path/to/python3.11)"
  local stamp_file="$VENV/.inplace-requirements.sha256" stamp
  stamp="$(requirements_stamp)"

  if [[ -x "$VENV/bin/python" ]] && "$VENV/bin/python" -c 'import sys' 2>/dev/null \
      && [[ -f "$stamp_file" && "$(cat "$stamp_file")" == "$stamp" ]]; then
    note "reusing $VENV (requirements unchanged)"
    return 0
  fi

  banner "venv: installing test requirements into $VENV"
  if [[ ! -x "$VENV/bin/python" ]] || ! "$VENV/bin/python" -c 'import sys' 2>/dev/null; then
    rm -rf "$VENV"
    "$PYTHON" -m venv "$VENV"
  fi
  local reqs=(-r "$ROOT/requirements.txt" -r "$ROOT/tests/requirements.txt")
  if [[ -f "$ROOT/tests/unit/requirements.txt" ]]; then reqs+=(-r "$ROOT/tests/unit/requirements.txt"); fi
  # (the grep drops pip's notes about index locations of this machine's pip configuration)
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "${reqs[@]}" \
    2> >(grep -v "^WARNING: Location '.*' is ignored" >&2)
  echo "$stamp" >"$stamp_file"
  "$VENV/bin/python" -m pip list --disable-pip-version-check 2>/dev/null \
    | grep -i -E '^(ansible-core|ansible-lint|antsibull-changelog|kubernetes|jsonpatch|pytest|hypothesis|ruff|mypy) ' || true
}

prepare_binaries() {
  local v
  for v in "$@"; do
    banner "binaries: tests/cluster/build-binaries.sh $v (cached after the first build)"
    bash "$ROOT/tests/cluster/build-binaries.sh" "$v"
  done
}

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
  if ! command -v rsync >/dev/null 2>&1; then
    note "installing rsync (used to stage the collection)"
    apt-get update -qq >/dev/null 2>&1 || true
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends rsync >/dev/null 2>&1 \
      || die "rsync is missing and could not be installed"
  fi
  coll="$(collection_name)"
  dest="$BUILD/ansible_collections/$coll"
  rm -rf "$BUILD/ansible_collections"
  mkdir -p "$dest" "$REPORTS"

  if git -C "$ROOT" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    (cd "$ROOT" && git ls-files -z --cached --others --exclude-standard) \
      | (cd "$ROOT" && while IFS= read -r -d '' f; do
          case "$f" in .venv | .venv/* | build | build/* | tests/output/*) continue ;; esac  # even if not ignored
          if [[ -e "$f" || -L "$f" ]]; then printf '%s\0' "$f"; fi
        done) \
      | rsync -a --from0 --files-from=- "$ROOT/" "$dest/"
  else
    rsync -a --exclude=/.git --exclude=/.venv --exclude=/build --exclude=/tests/output \
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

install_get_pip_standin() {
  local path
  path="$("$VENV/bin/python" "$ROOT/tests/harness/install_get_pip.py")"
  note "pip bootstrap stand-in for ansible-test: $path"
}

export_env() {
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

# ---------------------------------------------------------------------------------------------
# stages; each returns the exit status of its tool

# pytest exits 5 when it collected nothing: that is "no tests yet", not a failure.
pytest_status() {
  local rc=$1 what=$2
  if [[ $rc -eq 5 ]]; then
    note "$what: pytest collected no tests (nothing to run yet)"
    STAGE_SKIPPED=1
    return 0
  fi
  return "$rc"
}

ensure_shellcheck() {
  # ansible-test skips its shellcheck test (with a warning) when the program is missing; install
  # it from the distribution where we can, so that test runs on every machine of this kind.
  command -v shellcheck >/dev/null 2>&1 && return 0
  if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null 2>&1; then
    note "installing shellcheck for the sanity test of the same name"
    if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends shellcheck >/dev/null 2>&1; then
      apt-get update -qq >/dev/null 2>&1 || true
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends shellcheck >/dev/null 2>&1 || true
    fi
  fi
  command -v shellcheck >/dev/null 2>&1 || note "WARNING: shellcheck unavailable, ansible-test will skip that test"
}

stage_sanity() {
  install_get_pip_standin
  ensure_shellcheck
  # PIP_QUIET=2: keep pip's install chatter (ansible-test builds one venv per test) out of the log;
  # errors still show.
  (cd "$STAGED" && PIP_QUIET="${PIP_QUIET:-2}" \
    ansible-test sanity --venv --python "$PY_VERSION" --color "${ANSIBLE_TEST_COLOR:-no}")
}

stage_static() {
  # The tools are pinned in tests/requirements.txt; their configuration is pyproject.toml's. mypy runs in the
  # staged copy, where the imports' ansible_collections.inplace.kubernetes package path exists.
  (cd "$STAGED" && ruff check --no-cache plugins && mypy --cache-dir "$BUILD/.mypy_cache")
}

stage_units() {
  if [[ ! -d "$STAGED/tests/unit" ]]; then
    note "units: no tests/unit directory yet"
    STAGE_SKIPPED=1
    return 0
  fi
  # Plain pytest in the staged copy, the way `ansible-test units` runs it: ansible-test's own
  # pytest plugin installs the collection loader, so tests import the code under test as
  # ansible_collections.inplace.kubernetes.*, and test modules are named from that root.
  # The staged root is on PYTHONPATH as well, so tests can import helpers as tests.cluster.*.
  local at_root plugins rc=0 extra=() paths=()
  read -r -a extra <<<"${PYTEST_ARGS:-}"
  read -r -a paths <<<"${TESTS:-tests/unit}"
  at_root="$(python -c 'import ansible_test, os; print(os.path.dirname(ansible_test.__file__))')"
  plugins="$at_root/_util/target/pytest/plugins"
  (cd "$STAGED" && \
    PYTHONPATH="$plugins:$STAGED${PYTHONPATH:+:$PYTHONPATH}" \
    PYTEST_PLUGINS=ansible_pytest_collections \
    ANSIBLE_CONTROLLER_MIN_PYTHON_VERSION="$PY_VERSION" \
    python -m pytest -r a -p no:cacheprovider \
      -c "$at_root/_data/pytest/config/default.ini" \
      --rootdir "$STAGED" --confcutdir "$STAGED" --strict-markers \
      --junit-xml "$REPORTS/units.xml" \
      "${extra[@]}" "${paths[@]}") || rc=$?
  pytest_status "$rc" units
}

stage_integration() {
  if [[ ! -d "$ROOT/tests/integration" ]]; then
    note "integration: no tests/integration directory yet"
    STAGE_SKIPPED=1
    return 0
  fi
  # Runs from the repository (test files, tests/cluster), while ansible resolves
  # inplace.kubernetes.* to the staged copy through ANSIBLE_COLLECTIONS_PATH.
  local rc=0 markers="${INTEGRATION_MARKERS-not slow}" extra=() paths=()
  read -r -a extra <<<"${PYTEST_ARGS:-}"
  read -r -a paths <<<"${TESTS:-tests/integration}"
  local margs=()
  if [[ -n "$markers" ]]; then margs=(-m "$markers"); fi
  note "Kubernetes $INPLACE_K8S_VERSION"
  (cd "$ROOT" && python -m pytest -r a "${margs[@]}" --junit-xml "$REPORTS/integration.xml" \
      "${extra[@]}" "${paths[@]}") || rc=$?
  pytest_status "$rc" integration
}

stage_soak() {
  # The soak tests (marked slow) on the newest Kubernetes; INPLACE_SOAK_ROUNDS shortens them by hand.
  local rc=0 extra=() paths=()
  read -r -a extra <<<"${PYTEST_ARGS:-}"
  read -r -a paths <<<"${TESTS:-tests/integration}"
  note "Kubernetes $INPLACE_K8S_VERSION"
  (cd "$ROOT" && python -m pytest -r a -m slow --junit-xml "$REPORTS/soak.xml" "${extra[@]}" "${paths[@]}") || rc=$?
  pytest_status "$rc" soak
}

stage_compat() {
  # The compatibility subset on the oldest supported Kubernetes.
  if [[ "$K8S_OLDEST" == "$INPLACE_K8S_VERSION" ]]; then
    note "compat: the integration stage already ran on $K8S_OLDEST"
    STAGE_SKIPPED=1
    return 0
  fi
  local rc=0 markers="compat and not any_version" base="${INTEGRATION_MARKERS-not slow}" extra=() paths=()
  if [[ -n "$base" ]]; then markers="compat and ($base)"; fi
  read -r -a extra <<<"${PYTEST_ARGS:-}"
  read -r -a paths <<<"${TESTS:-tests/integration}"
  note "Kubernetes $K8S_OLDEST"
  (cd "$ROOT" && INPLACE_K8S_VERSION="$K8S_OLDEST" python -m pytest -r a -m "$markers" \
      --junit-xml "$REPORTS/compat.xml" "${extra[@]}" "${paths[@]}") || rc=$?
  pytest_status "$rc" compat
}

stage_lint() {
  local targets=() d
  for d in roles playbooks; do
    if [[ -d "$STAGED/$d" ]] && [[ -n "$(find "$STAGED/$d" -type f \( -name '*.yml' -o -name '*.yaml' \) -print -quit)" ]]; then
      targets+=("$d/")
    fi
  done
  if [[ ${#targets[@]} -eq 0 ]]; then
    note "lint: no roles or playbooks yet, ansible-lint skipped"
    STAGE_SKIPPED=1
    return 0
  fi
  # In the staged copy, so ansible-lint's caches (.ansible/) never land in the repository.
  (cd "$STAGED" && ansible-lint --offline "${targets[@]}")
}

stage_changelog() {
  (cd "$STAGED" && antsibull-changelog lint -v)
}

# ---------------------------------------------------------------------------------------------
# main

declare -A RESULT=() SECONDS_TAKEN=()
STAGE_SKIPPED=0
ORDER=()
FAILED=0

run_stage() {
  local name=$1 start rc=0
  banner "$name"
  start=$(date +%s)
  STAGE_SKIPPED=0
  "stage_$name" 9>&- || rc=$?  # (9>&-: no process left behind by a stage keeps the run lock)
  SECONDS_TAKEN[$name]=$(( $(date +%s) - start ))
  ORDER+=("$name")
  if [[ $rc -eq 0 && $STAGE_SKIPPED -eq 1 ]]; then
    RESULT[$name]="skipped"
  elif [[ $rc -eq 0 ]]; then
    RESULT[$name]=passed
  else
    RESULT[$name]="FAILED (exit $rc)"
    FAILED=1
    note "stage $name FAILED (exit $rc)"
  fi
  return $rc
}

summary() {
  banner "summary"
  local s
  for s in "${ORDER[@]}"; do
    printf '  %-12s %-18s %5ss\n' "$s" "${RESULT[$s]}" "${SECONDS_TAKEN[$s]}"
  done
  local checks_passed=0 checks_failed=0 checks_skipped=0
  for s in "${ORDER[@]}"; do
    case "$s" in units|integration|soak|compat) continue ;; esac
    case "${RESULT[$s]}" in
      passed) checks_passed=$((checks_passed + 1)) ;;
      skipped) checks_skipped=$((checks_skipped + 1)) ;;
      *) checks_failed=$((checks_failed + 1)) ;;
    esac
  done
  local units_failed=0 integ_failed=0
  [[ "${RESULT[units]:-passed}" != FAILED* ]] || units_failed=1
  [[ "${RESULT[integration]:-passed}" != FAILED* ]] || integ_failed=1
  local compat_failed=0 soak_failed=0
  [[ "${RESULT[compat]:-passed}" != FAILED* ]] || compat_failed=1
  [[ "${RESULT[soak]:-passed}" != FAILED* ]] || soak_failed=1
  note "total $(( $(date +%s) - T0 ))s"
  python "$ROOT/tests/harness/summary.py" --checks-passed "$checks_passed" --checks-failed "$checks_failed" --checks-skipped "$checks_skipped" \
    ${RESULT[units]+--junit "$REPORTS/units.xml" --stage-failed "$units_failed"} \
    ${RESULT[integration]+--junit "$REPORTS/integration.xml" --stage-failed "$integ_failed"} \
    ${RESULT[soak]+--junit "$REPORTS/soak.xml" --stage-failed "$soak_failed"} \
    ${RESULT[compat]+--junit "$REPORTS/compat.xml" --stage-failed "$compat_failed"}
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

main() {
  cd "$ROOT"
  take_lock
  if [[ "${1:-}" == exec ]]; then
    shift
    [[ $# -gt 0 ]] || die "usage: tests/run.sh exec CMD [ARG...]"
    prepare_venv
    STAGED=""; stage_collection
    export_env
    local rc=0
    "$@" 9>&- || rc=$?
    return $rc
  fi

  local wanted=("$@") s skip=" ${SKIP:-} "; skip="${skip//,/ }"
  [[ ${#wanted[@]} -gt 0 ]] || wanted=("${ALL_STAGES[@]}")
  if [[ ${#wanted[@]} -eq 1 && "${wanted[0]}" == all ]]; then wanted=("${ALL_STAGES[@]}"); fi

  local stages=()
  for s in "${wanted[@]}"; do
    case " ${ALL_STAGES[*]} stage " in *" $s "*) ;; *) die "unknown stage '$s' (stages: ${ALL_STAGES[*]})" ;; esac
    if [[ "$skip" == *" $s "* ]]; then note "skipping $s (SKIP)"; continue; fi
    stages+=("$s")
  done

  local t
  T0=$(date +%s)
  rm -rf "$REPORTS"
  t=$T0; prepare_venv; note "venv ready in $(( $(date +%s) - t ))s"
  local versions=()
  if [[ " ${stages[*]} " == *" integration "* || " ${stages[*]} " == *" soak "* ]]; then versions+=("$INPLACE_K8S_VERSION"); fi
  if [[ " ${stages[*]} " == *" compat "* && "$K8S_OLDEST" != "$INPLACE_K8S_VERSION" ]]; then versions+=("$K8S_OLDEST"); fi
  if [[ ${#versions[@]} -gt 0 ]]; then
    t=$(date +%s); prepare_binaries "${versions[@]}"; note "binaries ready in $(( $(date +%s) - t ))s"
  fi
  STAGED=""; stage_collection
  export_env

  for s in "${stages[@]}"; do
    [[ "$s" == stage ]] && continue
    if ! run_stage "$s" && [[ "${FAIL_FAST:-0}" == 1 ]]; then
      break
    fi
  done

  if [[ ${#ORDER[@]} -gt 0 ]]; then summary; fi
  return $FAILED
}

main "$@"
