#!/usr/bin/env bash
# The main job: builds in release mode and runs every reproducibility script in
# Notebooks-as-scripts/, each writing <name>.json, CSV data and PNG plots into output/<name>/.
# ensemble-uq runs once as one process and, when mpirun is installed, again under
# `mpirun -np 2`; its CSV, JSON and digest must be the same bit for bit.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts=(rober lorenz lorenz-adjoint neural-ode-spiral lotka-volterra-fit sde-lotka-volterra-fit delay-lotka-volterra-fit ensemble-uq)
for s in "${scripts[@]}"; do
    swift build -c release --product "$s"
done
bin="$(swift build -c release --show-bin-path)"
for s in "${scripts[@]}"; do
    echo "==> $s"
    "$bin/$s" --output "output/$s"
done
if command -v mpirun >/dev/null 2>&1; then
    echo "==> ensemble-uq under mpirun -np 2"
    mpirun_flags=(--oversubscribe)
    [ "$(id -u)" -eq 0 ] && mpirun_flags+=(--allow-run-as-root)
    mpirun "${mpirun_flags[@]}" -np 2 "$bin/ensemble-uq" --output output/ensemble-uq-mpi2
    for f in rober.csv lotka-volterra.csv sde-lotka-volterra.csv ensemble-uq.json digest.txt; do
        cmp "output/ensemble-uq/$f" "output/ensemble-uq-mpi2/$f" || { echo "ensemble-uq: $f differs between 1 process and 2 ranks" >&2; exit 1; }
    done
    echo "ensemble-uq: 1 process and mpirun -np 2 give the same bits"
else
    echo "mpirun not found: ensemble-uq ran as one process only (install libopenmpi-dev to compare with 2 ranks)"
fi
