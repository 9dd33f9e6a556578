#!/usr/bin/env bash
# Builds kasugai's four container images with podman, without a registry, cached by their inputs;
# `--export` also saves them as docker archives for `ctr -n k8s.io images import` and prints the
# paths. Progress goes to stderr. Details: kasugai/testing/images.py (`--help`).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/python -m kasugai.testing.images "$@"
