# Every test command of this collection. `make test` is what CI runs (.ci/run); the other targets
# run one stage each. All of them go through tests/run.sh, which creates .venv on first use,
# stages the collection into build/ansible_collections/inplace/kubernetes and runs the tools there.
#
#   make test                       sanity, static, units, integration, soak, compat, lint, changelog (in that order)
#   make test SKIP=sanity           the same without sanity (space or comma separated list)
#   make integration TESTS=tests/integration/test_x.py PYTEST_ARGS='-k name -x'
#   make integration INTEGRATION_MARKERS=     also the tests marked slow (the soak stage runs them)
#   make test K8S_VERSION=1.31.14   integration on another pinned Kubernetes (tests/cluster/versions.env)
#   make compat                     the compatibility subset on the oldest supported Kubernetes
#   make soak                       the soak tests (marked slow; INPLACE_SOAK_ROUNDS=3 for a quick look)
#   make units PYTEST_ARGS='-k images'
#   FAIL_FAST=1 make test           stop at the first failing stage
# Runs take a lock on build/: a second run waits for the first instead of restaging under it.

SHELL := /usr/bin/env bash
RUN := bash tests/run.sh
export K8S_VERSION

.PHONY: test sanity static units integration soak compat lint changelog stage venv demo bench bench-smoke clean distclean help

test:
	$(RUN) all

sanity:
	$(RUN) sanity

static:
	$(RUN) static

units:
	$(RUN) units

integration:
	$(RUN) integration

compat:
	$(RUN) compat

soak:
	$(RUN) soak

lint:
	$(RUN) lint changelog

changelog:
	$(RUN) changelog

# Only prepare: create/refresh .venv and restage the collection (after editing plugins/, before
# running a single pytest by hand with .venv/bin/pytest).
stage:
	$(RUN) exec true

venv:
	$(RUN) exec true

demo:
	$(RUN) exec bash tests/demo.sh

bench:
	$(RUN) exec python bench/run.py $(BENCH_ARGS)

bench-smoke:
	$(RUN) exec python bench/run.py --smoke $(BENCH_ARGS)

clean:
	rm -rf build tests/output .pytest_cache .hypothesis
	find . -path ./.venv -prune -o -name __pycache__ -type d -prune -exec rm -rf {} +

distclean: clean
	rm -rf .venv

help:
	@sed -n '1,/^SHELL/p' Makefile | sed '$$d'
