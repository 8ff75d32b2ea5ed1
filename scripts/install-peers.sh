#!/usr/bin/env bash
# Opt-in: a Python virtual environment with the peer libraries for Benchmarks/neural-bench's and sde-bench's side
# by side comparison (diffrax/JAX, torchdiffeq and torchsde, CPU builds) and dde-bench's (JiTCDDE). The benchmark finds
# .venv-peers/ (git-ignored) and skips the peers cleanly when it is absent. Downloads several
# hundred MB; nothing else in the repository needs it.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .venv-peers
.venv-peers/bin/pip install --upgrade pip
.venv-peers/bin/pip install "jax[cpu]" diffrax optax
# The CPU-only build of torch, from the same package index as the rest (the default build pulls in
# several GB of CUDA libraries that a machine without a GPU never uses); the plain build if the
# index does not carry the CPU one.
.venv-peers/bin/pip install "torch==2.13.0+cpu" || .venv-peers/bin/pip install torch
.venv-peers/bin/pip install torchdiffeq torchsde
# dde-bench's peer (Benchmarks/peers/dde_jitcdde.py): JiTCDDE compiles its right-hand side with the
# system C compiler at run time.
.venv-peers/bin/pip install jitcdde
echo "installed; run: swift run -c release neural-bench"
