#!/usr/bin/env bash
# Refreshes requirements.lock: resolves pyproject.toml (with the dev extras) afresh in a
# throw-away virtualenv and records every package's version. Run the tests after it, then commit.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=$(mktemp -d)
trap 'rm -rf "$venv"' EXIT
"${PYTHON:-python3}" -m venv "$venv"
"$venv/bin/python" -m pip install -q --upgrade pip
"$venv/bin/python" -m pip install -q -e '.[dev]'
{
  sed -n '/^#/p' requirements.lock
  "$venv/bin/python" -m pip freeze --all --exclude-editable
} > requirements.lock.new
mv requirements.lock.new requirements.lock
echo "lock: requirements.lock refreshed ($(grep -vc '^#' requirements.lock) packages)"
