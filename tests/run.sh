#!/usr/bin/env bash
# The test runner behind `make test` (and every other make target): tests/prepare.sh prepares the
# machine (venvs, binaries, the staged collection), then this runs the stages.
#
#   tests/run.sh [STAGE...]       run the given stages (default: all test stages): the cluster stages
#                                 (integration, soak, compat) in this order, the others in this order in a
#                                 side lane next to them (LANES=1: all in order, one lane)
#   tests/run.sh exec CMD [ARG...] run CMD with the venv on PATH and the staged collection in use
#
# Test stages, in order:  sanity sanity-2.16 static units units-2.16 integration soak compat lint changelog
#   sanity:      `ansible-test sanity` of the newest ansible-core (tests/requirements.txt)
#   sanity-2.16, units-2.16:
#                sanity and units on the oldest ansible-core that meta/runtime.yml claims (its newest
#                patch, pinned in tests/requirements-oldest.txt; the name follows the pin)
#   static:      ruff (lint and format check) and mypy on plugins/, configured in pyproject.toml
#   units:       plain pytest of tests/unit, the staged collection importable from PYTHONPATH
#   integration: every integration test on Kubernetes $K8S_VERSION (default: the newest pinned)
#   soak:        the tests marked `slow` (issue 14's template-sync soak) on $K8S_VERSION
#   compat:      the tests marked `compat` (less those marked `any_version`) on the oldest supported
#                Kubernetes (K8S_OLDEST)
#   lint, changelog: ansible-lint on roles/ and playbooks/, antsibull-changelog lint
# Preparation (tests/prepare.sh, always first): programs, venvs, the test world's binaries (only when
# integration, soak or compat runs; built from the Go module proxy on first use), then stage.
#
# Environment knobs (all optional):
#   SKIP="sanity lint"      stages to leave out (space or comma separated)
#   FAIL_FAST=1             stop at the first failing stage (default: run the rest, fail at the end)
#   PYTEST_ARGS="-k foo -x" extra pytest arguments for the pytest stages
#   TESTS="tests/integration/test_x.py::test_y"  run these instead of the stage's whole directory
#   INTEGRATION_MARKERS     pytest -m expression for integration (default: "not slow"; "" runs all)
#   PYTHON=python3.11       interpreter used to create the venvs (default: first of python3.11..3.13)
#   INPLACE_VENV            virtual environment directory (default: .venv at the repository root)
#   INPLACE_VENV_OLDEST     venv of the oldest ansible-core (default: $INPLACE_VENV-2.16)
#   INPLACE_BUILD_DIR       staging directory (default: build at the repository root)
#   K8S_VERSION=1.31.14     Kubernetes version of the integration stage (versions.env pins the default)
#   LANES=2                 the stages without a cluster (sanity, static, units, lint, changelog) run side by
#                           side with the cluster stages (default); LANES=1: every stage in order
#   JOBS=2                  pytest-xdist workers of integration and compat (default 2), each with a test-world
#                           cluster of its own, test files kept whole on one worker (--dist loadfile); 1 runs
#                           the files one after another on one cluster, as does INPLACE_CLUSTER_STATE (one
#                           shared cluster: its node faults are cluster-wide)
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=prepare.sh
source "$(dirname "${BASH_SOURCE[0]}")/prepare.sh"
ALL_STAGES=(sanity "sanity-$ANSIBLE_OLDEST" static units "units-$ANSIBLE_OLDEST" integration soak compat lint changelog)
PYTEST_STAGES=" units units-$ANSIBLE_OLDEST integration soak compat "

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

ansible_core_of() {  # ansible_core_of VENV: "ansible-core X.Y.Z, Python X.Y"
  "$1/bin/python" -c 'import sys, ansible.release as r; print("ansible-core %s, Python %d.%d" % ((r.__version__,) + sys.version_info[:2]))'
}

run_sanity() {  # run_sanity VENV: `ansible-test sanity` of the ansible-core in VENV
  local venv=$1 py
  py="$("$venv/bin/python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
  note "$(ansible_core_of "$venv")"
  # PIP_QUIET=2: keep pip's install chatter (ansible-test builds one venv per test, cached under
  # ~/.ansible/test/venv) out of the log; errors still show.
  (cd "$STAGED" && PATH="$venv/bin:$PATH" VIRTUAL_ENV="$venv" PIP_QUIET="${PIP_QUIET:-2}" \
    "$venv/bin/ansible-test" sanity --venv --python "$py" --color "${ANSIBLE_TEST_COLOR:-no}")
}

run_units() {  # run_units VENV NAME: plain pytest of the unit tests with the ansible-core in VENV
  local venv=$1 name=$2 rc=0 extra=() paths=()
  if [[ ! -d "$STAGED/tests/unit" ]]; then
    note "$name: no tests/unit directory yet"
    STAGE_SKIPPED=1
    return 0
  fi
  # Plain pytest in the staged copy: $BUILD on PYTHONPATH makes the code under test importable as
  # ansible_collections.inplace.kubernetes.* (a namespace package, as ansible-test's collection
  # loader would), the staged root lets tests import helpers as tests.cluster.*. The -o options are
  # those of ansible-test units' pytest configuration.
  read -r -a extra <<<"${PYTEST_ARGS:-}"
  read -r -a paths <<<"${TESTS:-tests/unit}"
  note "$(ansible_core_of "$venv")"
  (cd "$STAGED" && \
    PYTHONPATH="$BUILD:$STAGED${PYTHONPATH:+:$PYTHONPATH}" \
    "$venv/bin/python" -m pytest -r a -p no:cacheprovider \
      -o xfail_strict=true -o junit_family=xunit1 \
      --rootdir "$STAGED" --confcutdir "$STAGED" --strict-markers \
      --junit-xml "$REPORTS/$name.xml" \
      "${extra[@]}" "${paths[@]}") || rc=$?
  pytest_status "$rc" "$name"
}

stage_sanity() { run_sanity "$VENV"; }
stage_sanity_oldest() { run_sanity "$VENV_OLDEST"; }

stage_static() {
  # The tools are pinned in tests/requirements.txt; their configuration is pyproject.toml's. mypy runs in the
  # staged copy, where the imports' ansible_collections.inplace.kubernetes package path exists.
  (cd "$STAGED" && ruff check --no-cache plugins && ruff format --check --no-cache plugins && mypy --cache-dir "$BUILD/.mypy_cache")
}

stage_units() { run_units "$VENV" units; }
stage_units_oldest() { run_units "$VENV_OLDEST" "units-$ANSIBLE_OLDEST"; }

# pytest-xdist arguments for a cluster stage: JOBS workers, each starting its own cluster on first use (the
# session-scoped ``cluster`` fixture), a test file on one worker (files share their fixtures' order).
xdist_args() {
  local jobs="${JOBS:-2}"
  if [[ -n "${INPLACE_CLUSTER_STATE:-}" || "$jobs" -le 1 ]]; then return 0; fi
  printf '%s\n' -n "$jobs" --dist loadfile
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
  mapfile -t -O "${#margs[@]}" margs < <(xdist_args)
  note "Kubernetes $INPLACE_K8S_VERSION${margs[*]:+ (pytest ${margs[*]})}"
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
  if [[ -n "$base" ]]; then markers="$markers and ($base)"; fi
  read -r -a extra <<<"${PYTEST_ARGS:-}"
  read -r -a paths <<<"${TESTS:-tests/integration}"
  local xargs=()
  mapfile -t xargs < <(xdist_args)
  note "Kubernetes $K8S_OLDEST${xargs[*]:+ (pytest ${xargs[*]})}"
  (cd "$ROOT" && INPLACE_K8S_VERSION="$K8S_OLDEST" python -m pytest -r a -m "$markers" "${xargs[@]}" \
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
# The stages that start test-world clusters; the others (sanity, static, units, lint, changelog) use the cores
# alone and run in a side lane next to them (see run_lanes).
CLUSTER_STAGES=" integration soak compat "

run_stage() {  # run_stage NAME: run one stage; its result line goes to $REPORTS/results (read by summary)
  local name=$1 start rc=0 fn result
  banner "$name"
  start=$(date +%s)
  STAGE_SKIPPED=0
  case "$name" in
    *-"$ANSIBLE_OLDEST") fn="stage_${name%-"$ANSIBLE_OLDEST"}_oldest" ;;
    *) fn="stage_$name" ;;
  esac
  "$fn" 9>&- || rc=$?  # (9>&-: no process left behind by a stage keeps the run lock)
  if [[ $rc -eq 0 && $STAGE_SKIPPED -eq 1 ]]; then
    result="skipped"
  elif [[ $rc -eq 0 ]]; then
    result=passed
  else
    result="FAILED (exit $rc)"
    note "stage $name FAILED (exit $rc)"
  fi
  printf '%s\t%s\t%s\n' "$name" "$result" "$(( $(date +%s) - start ))" >>"$REPORTS/results"
  return $rc
}

run_in_order() {  # run_in_order STAGE...: one after another (FAIL_FAST=1: up to the first failure)
  local s
  for s in "$@"; do
    if ! run_stage "$s" && [[ "${FAIL_FAST:-0}" == 1 ]]; then
      return 1
    fi
  done
}

run_lanes() {  # run_lanes STAGE...: the cluster stages here, the others side by side in a lane of their own
  # The cluster stages leave a core idle much of the time (they wait on kubelets, probes and controllers): the
  # side lane's stages run meanwhile, their output kept in $REPORTS/<stage>.log and printed when the lane ends.
  # LANES=1 runs every stage in order instead.
  local s cluster=() side=() lane_pid
  for s in "$@"; do
    if [[ "$CLUSTER_STAGES" == *" $s "* ]]; then cluster+=("$s"); else side+=("$s"); fi
  done
  if [[ "${LANES:-2}" -le 1 || ${#cluster[@]} -eq 0 || ${#side[@]} -eq 0 ]]; then
    run_in_order "$@" || true
    return 0
  fi
  note "side lane: ${side[*]} (output at the end, and in $REPORTS/<stage>.log), next to: ${cluster[*]}"
  (
    for s in "${side[@]}"; do
      rc=0
      run_stage "$s" >"$REPORTS/$s.log" 2>&1 </dev/null || rc=$?
      note "side lane: $s $(tail -n 1 "$REPORTS/results" | cut -f 2,3 --output-delimiter=' in ')s"
      if [[ $rc -ne 0 && "${FAIL_FAST:-0}" == 1 ]]; then break; fi
    done
  ) 9>&- &
  lane_pid=$!
  run_in_order "${cluster[@]}" || true
  wait "$lane_pid" || true
  for s in "${side[@]}"; do
    if [[ -f "$REPORTS/$s.log" ]]; then cat "$REPORTS/$s.log"; fi
  done
}

read_results() {  # the result lines of run_stage, in the order of ALL_STAGES
  local s name result secs
  while IFS=$'\t' read -r name result secs; do
    RESULT[$name]=$result
    SECONDS_TAKEN[$name]=$secs
    if [[ "$result" == FAILED* ]]; then FAILED=1; fi
  done <"$REPORTS/results"
  for s in "${ALL_STAGES[@]}"; do
    if [[ -n "${RESULT[$s]:-}" ]]; then ORDER+=("$s"); fi
  done
}

summary() {
  banner "summary"
  local s checks_passed=0 checks_failed=0 checks_skipped=0 junit=()
  for s in "${ORDER[@]}"; do
    printf '  %-12s %-18s %5ss\n' "$s" "${RESULT[$s]}" "${SECONDS_TAKEN[$s]}"
  done
  for s in "${ORDER[@]}"; do
    if [[ "$PYTEST_STAGES" == *" $s "* ]]; then
      # Counted by their test cases (and as failed when the stage failed without a failing case).
      junit+=(--junit "$REPORTS/$s.xml" --stage-failed "$([[ "${RESULT[$s]}" == FAILED* ]] && echo 1 || echo 0)")
      continue
    fi
    case "${RESULT[$s]}" in
      passed) checks_passed=$((checks_passed + 1)) ;;
      skipped) checks_skipped=$((checks_skipped + 1)) ;;
      *) checks_failed=$((checks_failed + 1)) ;;
    esac
  done
  note "total $(( $(date +%s) - T0 ))s"
  python "$ROOT/tests/harness/summary.py" --checks-passed "$checks_passed" --checks-failed "$checks_failed" \
    --checks-skipped "$checks_skipped" "${junit[@]}"
}

main() {
  cd "$ROOT"
  take_lock
  if [[ "${1:-}" == exec ]]; then
    shift
    [[ $# -gt 0 ]] || die "usage: tests/run.sh exec CMD [ARG...]"
    prepare
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
    [[ "$s" == stage ]] || stages+=("$s")
  done

  T0=$(date +%s)
  rm -rf "$REPORTS"
  prepare "${stages[@]}"
  mkdir -p "$REPORTS"
  : >"$REPORTS/results"

  run_lanes "${stages[@]}"
  read_results

  if [[ ${#ORDER[@]} -gt 0 ]]; then summary; fi
  return $FAILED
}

main "$@"
