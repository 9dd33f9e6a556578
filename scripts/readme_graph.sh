#!/usr/bin/env bash
# Writes docs/calc-graph.mmd: the calc sample's chain as `kasugai graph -o mermaid` draws it while
# `kasugai up` runs it, for the README. Run it again after a change to the sample or to the
# Mermaid renderer.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
state="$(mktemp -d)"
trap '.venv/bin/kasugai down --state-dir "$state" >/dev/null 2>&1 || true; rm -rf "$state"' EXIT
.venv/bin/kasugai up -d --view off --state-dir "$state" manifests/samples/calc
for _ in $(seq 60); do  # until explain says Deployed and healthy (exit 0)
  if .venv/bin/kasugai explain --state-dir "$state" df-calcapp -n cpufunc-calcapp >/dev/null; then
    break
  fi
  sleep 0.5
done
.venv/bin/kasugai graph --state-dir "$state" -o mermaid > docs/calc-graph.mmd.new
mv docs/calc-graph.mmd.new docs/calc-graph.mmd
echo "readme_graph: wrote docs/calc-graph.mmd"
