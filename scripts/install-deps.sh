#!/usr/bin/env bash
# Installs the Debian packages SwiftDiffEq needs (Debian 12 / bookworm names). Idempotent:
# installs nothing when everything is present. As root it runs apt-get; otherwise it prints the
# exact sudo line and exits non-zero.
set -euo pipefail
packages=(libopenblas-dev liblapacke-dev libsundials-dev libsuitesparse-dev pkg-config gnuplot-nox libopenmpi-dev openmpi-bin)
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
    exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
    echo "SwiftDiffEq needs these Debian packages: ${missing[*]}" >&2
    echo "Run:  sudo apt-get update && sudo apt-get install -y ${missing[*]}" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
