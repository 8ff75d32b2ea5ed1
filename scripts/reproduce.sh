#!/usr/bin/env bash
# The main job: builds in release mode and runs every reproducibility script in
# Notebooks-as-scripts/, each writing <name>.json, CSV data and PNG plots into output/<name>/.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts=(rober lorenz lorenz-adjoint neural-ode-spiral lotka-volterra-fit)
for s in "${scripts[@]}"; do
    swift build -c release --product "$s"
done
bin="$(swift build -c release --show-bin-path)"
for s in "${scripts[@]}"; do
    echo "==> $s"
    "$bin/$s" --output "output/$s"
done
