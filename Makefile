# One verb per task. Others add `dev`, `test`, `check`, ... below.
.PHONY: services-up services-down services-status services-env

HARNESS := scripts/harness/services.sh

## Real local services (PostgreSQL, Redis, livekit-server, OIDC provider) on 127.0.0.1.
services-up:
	$(HARNESS) start

services-down:
	$(HARNESS) stop

services-status:
	$(HARNESS) status

# Writes var/harness/env and var/harness/control-plane.env (prints nothing secret).
services-env:
	@$(HARNESS) env >/dev/null && echo "wrote var/harness/env and var/harness/control-plane.env"

.PHONY: serve dev test test-embedded check fix bench migrate
## Run on embedded defaults (SQLite, in-memory limits, generated dev keys).
serve:
	scripts/serve

## The whole local stack wired together.
dev:
	scripts/stack

## The whole test suite (installs what it needs, starts and stops the real services).
test:
	scripts/test

## Embedded defaults only (SQLite backend, memory limiter) against the same real peers.
test-embedded:
	CP_TEST_BACKENDS=sqlite CP_TEST_LIMITERS=memory scripts/test

## Format check, lint, types, house rules.
check:
	uv run --frozen ruff format --check .
	uv run --frozen ruff check .
	uv run --frozen mypy control_plane tests scripts threat_model
	uv run --frozen python scripts/lint/house_rules.py

fix:
	uv run --frozen ruff format .
	uv run --frozen ruff check --fix .

bench:
	scripts/bench

migrate:
	uv run --frozen control-plane migrate
