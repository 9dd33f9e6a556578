# The two entry points of the README: `make demo` and `make test`.
.PHONY: setup demo test lint lock

setup:
	@bash scripts/setup.sh

demo: setup
	.venv/bin/kasugai demo

test: setup
	@bash tests/apiserver/build.sh
	.venv/bin/ruff check .
	.venv/bin/mypy
	.venv/bin/pytest

lint: setup
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .
	.venv/bin/mypy

# Refresh requirements.lock from pyproject.toml (then run the tests and commit both).
lock:
	@bash scripts/lock.sh
