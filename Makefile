# Every test command of this collection. `make test` is what CI runs (.ci/run); the other targets
# run one stage each. All of them go through tests/run.sh: tests/prepare.sh creates .venv (and
# .venv-2.16 for the oldest claimed ansible-core) on first use and stages the collection into
# build/ansible_collections/inplace/kubernetes, then run.sh runs the tools there.
#
#   make test                       sanity, sanity-2.16, static, units, units-2.16, integration, soak, compat,
#                                   lint, changelog (in that order; X-2.16: on ansible-core 2.16)
#   make test SKIP=sanity           the same without sanity (space or comma separated list)
#   make oldest                     sanity and units on the oldest claimed ansible-core only
#   make integration TESTS=tests/integration/test_x.py PYTEST_ARGS='-k name -x'
#   make integration INTEGRATION_MARKERS=     also the tests marked slow (the soak stage runs them)
#   make test K8S_VERSION=1.31.14   integration on another pinned Kubernetes (tests/cluster/versions.env)
#   make compat                     the compatibility subset on the oldest supported Kubernetes
#   make soak                       the soak tests (marked slow; INPLACE_SOAK_ROUNDS=3 for a quick look)
#   make units PYTEST_ARGS='-k images'
#   FAIL_FAST=1 make test           stop at the first failing stage
#   LANES=1 JOBS=1 make test        everything one after another (by default the stages without a cluster run
#                                   next to the cluster stages, and integration and compat run their test files
#                                   on two pytest-xdist workers, a cluster each)
# Runs take a lock on build/: a second run waits for the first instead of restaging under it.

SHELL := /usr/bin/env bash
RUN := bash tests/run.sh
# X.Y of the oldest ansible-core tested (the pin in tests/requirements-oldest.txt)
ANSIBLE_OLDEST := $(shell sed -n 's/^ansible-core==\([0-9]*\.[0-9]*\)\..*/\1/p' tests/requirements-oldest.txt)
export K8S_VERSION

.PHONY: test sanity static units oldest integration soak compat lint changelog stage venv demo bench bench-smoke clean distclean help

test:
	$(RUN) all

sanity:
	$(RUN) sanity

static:
	$(RUN) static

units:
	$(RUN) units

oldest:
	$(RUN) sanity-$(ANSIBLE_OLDEST) units-$(ANSIBLE_OLDEST)

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

# Only prepare (tests/prepare.sh): create/refresh .venv and restage the collection (after editing
# plugins/, before running a single pytest by hand with .venv/bin/pytest).
stage:
	bash tests/prepare.sh

venv:
	bash tests/prepare.sh

demo:
	$(RUN) exec bash tests/demo.sh

bench:
	$(RUN) exec python bench/run.py $(BENCH_ARGS)

bench-smoke:
	$(RUN) exec python bench/run.py --smoke $(BENCH_ARGS)

clean:
	rm -rf build tests/output .pytest_cache .hypothesis
	find . -path './.venv*' -prune -o -name __pycache__ -type d -prune -exec rm -rf {} +

distclean: clean
	rm -rf .venv .venv-$(ANSIBLE_OLDEST)

help:
	@sed -n '1,/^SHELL/p' Makefile | sed '$$d'
