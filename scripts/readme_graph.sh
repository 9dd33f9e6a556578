#!/usr/bin/env bash
# Writes docs/calc-graph.mmd: the calc sample's chain as `kasugai graph -o mermaid` draws its plan,
# for the README. Run it again after a change to the sample or to the Mermaid renderer.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/kasugai graph -f tests/fixtures/openkasugai/calc-func -o mermaid > docs/calc-graph.mmd.new
mv docs/calc-graph.mmd.new docs/calc-graph.mmd
echo "readme_graph: wrote docs/calc-graph.mmd"
