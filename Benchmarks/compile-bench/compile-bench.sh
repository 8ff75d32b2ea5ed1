#!/usr/bin/env bash
# What a user pays in compile time: builds a small client package that depends on SwiftDiffEq by
# path, in debug and release, and prints the CPU seconds (user + sys of the build and every
# compiler process it waits for, from getrusage(RUSAGE_CHILDREN) via /usr/bin/time).
#
# The client has two executables, both `import DiffEq` only:
#   solves     two plain solves (Tsit5 and Rodas5P) of a generic Lotka-Volterra model;
#   gradients  three gradient(...) calls (default sensealg with Tsit5 and with Rodas5P, and
#              InterpolatingAdjoint with Tsit5).
# Per configuration, from an empty build folder:
#   clean        solves built first: every SwiftDiffEq module it needs plus the client;
#   client-only  the client's own module (and the link) rebuilt after touching its main.swift,
#                the part a researcher pays on every edit, since @inlinable generic code is
#                specialized in the client. Each client-only build is repeated REPEATS times.
# CPU seconds, not wall: the machine may be shared, and CPU time counts only this build's work
# (cache interference from other processes still inflates it a little; take the minimum).
#
# Run: Benchmarks/compile-bench/compile-bench.sh [PACKAGE_PATH]   (default: this repository)
# Environment: CONFIGS="debug release" (default), REPEATS=2, KEEP=1 keeps the temporary client.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
package="$(cd "${1:-$here/../..}" && pwd)"
configs="${CONFIGS:-debug release}"
repeats="${REPEATS:-2}"
client="$(mktemp -d "${TMPDIR:-/tmp}/compile-bench.XXXXXX")"
[ "${KEEP:-0}" = 1 ] || trap 'rm -rf "$client"' EXIT

mkdir -p "$client/Sources/solves" "$client/Sources/gradients"
cat >"$client/Package.swift" <<SWIFT
// swift-tools-version: 6.0
import PackageDescription
let package = Package(
    name: "CompileBenchClient",
    dependencies: [.package(path: "$package")],
    targets: [
        .executableTarget(name: "solves", dependencies: [.product(name: "DiffEq", package: "$(basename "$package")")]),
        .executableTarget(name: "gradients", dependencies: [.product(name: "DiffEq", package: "$(basename "$package")")]),
    ]
)
SWIFT
model='struct LotkaVolterra: ODEModel {
    func rhs<S: DiffEqScalar>(_ du: inout [S], _ u: [S], _ p: [S], _ t: S) {
        du[0] = p[0] * u[0] - p[1] * u[0] * u[1]
        du[1] = -p[2] * u[1] + p[3] * u[0] * u[1]
    }
}
let prob = ODEProblem(model: LotkaVolterra(), u0: [1.0, 1.0], tspan: (0, 10), p: [1.5, 1, 3, 1])'
cat >"$client/Sources/solves/main.swift" <<SWIFT
import DiffEq
$model
print(try solve(prob, Tsit5(), reltol: 1e-8, abstol: 1e-10).u.last!)
print(try solve(prob, Rodas5P(), reltol: 1e-8, abstol: 1e-10).u.last!)
SWIFT
cat >"$client/Sources/gradients/main.swift" <<SWIFT
import DiffEq
$model
let options = SolveOptions(reltol: 1e-8, abstol: 1e-10, saveat: .every(1))
print(try gradient(of: SumOfSquaresLoss(), prob, algorithm: Tsit5(), options: options).dp)
print(try gradient(of: SumOfSquaresLoss(), prob, algorithm: Rodas5P(), options: options).dp)
print(try gradient(of: SumOfSquaresLoss(), prob, algorithm: Tsit5(), options: options, sensealg: InterpolatingAdjoint()).dp)
SWIFT

# CPU seconds (user + sys) of one build; the build's own output goes to build.log.
cpu() {
    /usr/bin/time -f "%U %S" -o "$client/time.txt" swift build --package-path "$client" "$@" >>"$client/build.log" 2>&1 \
        || { tail -30 "$client/build.log" >&2; exit 1; }
    awk '{ printf "%.1f", $1 + $2 }' "$client/time.txt"
}

echo "package: $package ($(git -C "$package" rev-parse --short HEAD 2>/dev/null || echo '?'))"
echo "swift: $(swift --version 2>&1 | head -1)"
# Resolve once (offline mirrors or not), outside the timings.
swift package --package-path "$client" resolve >>"$client/build.log" 2>&1
printf "%-8s %-10s %-12s %s\n" config client build "CPU s"
for config in $configs; do
    rm -rf "$client/.build/$config" "$client/.build/"*"-linux-gnu/$config"
    printf "%-8s %-10s %-12s %s\n" "$config" solves clean "$(cpu -c "$config" --product solves)"
    for _ in $(seq "$repeats"); do
        for target in solves gradients; do
            touch "$client/Sources/$target/main.swift"
            printf "%-8s %-10s %-12s %s\n" "$config" "$target" client-only "$(cpu -c "$config" --product "$target")"
        done
    done
done
