// swift-tools-version: 6.0
// SwiftDiffEq: differential-equation solvers as differentiable layers.
import PackageDescription

// Scripts and benchmarks are top-level code run on one thread: Swift 5 language mode spares them
// the data-race checks meant for library code (the libraries themselves use Swift 6 mode).
let scriptSettings: [SwiftSetting] = [.swiftLanguageMode(.v5)]

// Hot generic code must specialize across modules; the library targets mark their hot paths
// @inlinable (see DESIGN.md). Cross-module optimization is left on SwiftPM's default.
let package = Package(
    name: "SwiftDiffEq",
    products: [
        // The pure-Swift library: `import DiffEq`.
        .library(name: "DiffEq", targets: ["DiffEq"]),
        // SUNDIALS CVODE/CVODES, a separate product (needs libsundials-dev): `import SundialsBridge`
        // for the solvers, `import SensitivityCVODES` for CVODES' own gradients.
        .library(name: "Sundials", targets: ["SundialsBridge", "SensitivityCVODES"]),
        // Test problems with published references: `import ProblemLibrary`.
        .library(name: "ProblemLibrary", targets: ["ProblemLibrary"]),
        .library(name: "DiffEqCore", targets: ["DiffEqCore"]),
        .library(name: "ExplicitRK", targets: ["ExplicitRK"]),
        .library(name: "AutoDiff", targets: ["AutoDiff"]),
        .library(name: "StiffSolvers", targets: ["StiffSolvers"]),
        .library(name: "DenseLinearAlgebra", targets: ["DenseLinearAlgebra"]),
        .library(name: "SparseLinearAlgebra", targets: ["SparseLinearAlgebra"]),
        .library(name: "Sensitivity", targets: ["Sensitivity"]),
        .library(name: "NeuralNetworks", targets: ["NeuralNetworks"]),
        .library(name: "NeuralDE", targets: ["NeuralDE"]),
        .executable(name: "rober", targets: ["rober"]),
        .executable(name: "lorenz", targets: ["lorenz"]),
        .executable(name: "lorenz-adjoint", targets: ["lorenz-adjoint"]),
        .executable(name: "neural-ode-spiral", targets: ["neural-ode-spiral"]),
        .executable(name: "lotka-volterra-fit", targets: ["lotka-volterra-fit"]),
        .executable(name: "solver-bench", targets: ["solver-bench"]),
        .executable(name: "rk-bench", targets: ["rk-bench"]),
        .executable(name: "stiff-bench", targets: ["stiff-bench"]),
        .executable(name: "lu-bench", targets: ["lu-bench"]),
        .executable(name: "ad-bench", targets: ["ad-bench"]),
        .executable(name: "sens-bench", targets: ["sens-bench"]),
        .executable(name: "neural-bench", targets: ["neural-bench"]),
        .executable(name: "rosen-step-bench", targets: ["rosen-step-bench"]),
        .executable(name: "global-error-bench", targets: ["global-error-bench"]),
        .executable(name: "large-stiff-bench", targets: ["large-stiff-bench"]),
        .executable(name: "fuzz", targets: ["fuzz"]),
        .executable(name: "leak-probe", targets: ["leak-probe"]),
    ],
    // The fuzzer's command line only; no library target depends on it.
    dependencies: [.package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2")],
    targets: [
        // MARK: C boundary (Vendor-shims). Nothing else includes a C header.
        .systemLibrary(
            name: "CBLAS", path: "Vendor-shims/CBLAS", pkgConfig: "openblas",
            providers: [.apt(["libopenblas-dev", "pkg-config"])]),
        .systemLibrary(
            name: "CLAPACKE", path: "Vendor-shims/CLAPACKE", pkgConfig: "lapacke",
            providers: [.apt(["liblapacke-dev", "pkg-config"])]),
        .systemLibrary(
            name: "CSundials", path: "Vendor-shims/CSundials",
            providers: [.apt(["libsundials-dev", "libsuitesparse-dev"])]),
        .target(
            name: "CSundialsShim", dependencies: ["CSundials"], path: "Vendor-shims/CSundialsShim",
            cSettings: [.headerSearchPath("klu-compat")]),
        // SuiteSparse's KLU for the native stiff methods' sparse LU, without SUNDIALS.
        .systemLibrary(name: "CKLU", path: "Vendor-shims/CKLU", providers: [.apt(["libsuitesparse-dev"])]),
        .target(
            name: "CKLUShim", dependencies: ["CKLU"], path: "Vendor-shims/CKLUShim", cSettings: [.headerSearchPath("klu-compat")],
            // A C target does not import CKLU's module, so its `link` directive is not applied: link here.
            linkerSettings: [.linkedLibrary("klu")]),

        // MARK: Library modules (arrows point downward only; see DESIGN.md).
        .target(name: "DenseLinearAlgebra", dependencies: ["CBLAS", "CLAPACKE"]),
        .target(name: "SparseLinearAlgebra", dependencies: ["CKLUShim"]),
        .target(name: "DiffEqCore"),
        .target(name: "AutoDiff", dependencies: ["DiffEqCore", "DenseLinearAlgebra"]),
        .target(name: "ExplicitRK", dependencies: ["DiffEqCore"]),
        .target(name: "StiffSolvers", dependencies: ["DiffEqCore", "DenseLinearAlgebra", "SparseLinearAlgebra", "ExplicitRK"]),
        .target(name: "SundialsBridge", dependencies: ["DiffEqCore", "SparseLinearAlgebra", "CSundialsShim"]),
        .target(name: "ProblemLibrary", dependencies: ["DiffEqCore"]),
        // Layers, flat parameters, optimizers, training; knows nothing of differential equations.
        .target(name: "NeuralNetworks", dependencies: ["DenseLinearAlgebra"]),
        .target(
            name: "Sensitivity",
            dependencies: ["DiffEqCore", "AutoDiff", "ExplicitRK", "StiffSolvers", "DenseLinearAlgebra"]),
        // CVODES' own sensitivity analysis behind Sensitivity's `sensealg` protocol: the only
        // gradient code that needs SUNDIALS, so a user of the native gradients installs none.
        .target(name: "SensitivityCVODES", dependencies: ["DiffEqCore", "AutoDiff", "Sensitivity", "SundialsBridge"]),
        // Neural differential equations: networks as right-hand sides, the solve as a layer.
        .target(
            name: "NeuralDE",
            dependencies: ["DiffEqCore", "AutoDiff", "DelayDE", "NeuralNetworks", "Sensitivity", "StochasticDE", "StochasticSensitivity"]),
        // The umbrella: re-exports the pure-Swift library modules, and holds the default
        // `solve(prob)` (DESIGN.md, "The one path"). No C shim, no SUNDIALS, no test problems.
        .target(
            name: "DiffEq", dependencies: ["DiffEqCore", "DenseLinearAlgebra", "AutoDiff", "ExplicitRK", "StiffSolvers", "Sensitivity", "DelayDE"]),

        // MARK: Reproducibility scripts and benchmarks (public API only).
        .target(name: "NotebookSupport", dependencies: ["DiffEq"], path: "Notebooks-as-scripts/Support"),
        .executableTarget(name: "rober", dependencies: ["DiffEq", "ProblemLibrary", "SundialsBridge", "NotebookSupport"], path: "Notebooks-as-scripts/rober", swiftSettings: scriptSettings),
        .executableTarget(name: "lorenz", dependencies: ["DiffEq", "ProblemLibrary", "SundialsBridge", "NotebookSupport"], path: "Notebooks-as-scripts/lorenz", swiftSettings: scriptSettings),
        .executableTarget(
            name: "lorenz-adjoint", dependencies: ["DiffEq", "ProblemLibrary", "NotebookSupport"], path: "Notebooks-as-scripts/lorenz-adjoint",
            swiftSettings: scriptSettings),
        .executableTarget(
            name: "neural-ode-spiral", dependencies: ["NeuralDE", "NotebookSupport"], path: "Notebooks-as-scripts/neural-ode-spiral",
            swiftSettings: scriptSettings),
        .executableTarget(
            name: "lotka-volterra-fit", dependencies: ["NeuralDE", "SensitivityCVODES", "NotebookSupport"], path: "Notebooks-as-scripts/lotka-volterra-fit",
            swiftSettings: scriptSettings),
        .executableTarget(
            name: "solver-bench", dependencies: ["DiffEq", "ProblemLibrary", "SundialsBridge", "NotebookSupport"], path: "Benchmarks/solver-bench", swiftSettings: scriptSettings),
        .executableTarget(name: "rk-bench", dependencies: ["DiffEq", "ProblemLibrary", "SundialsBridge", "NotebookSupport"], path: "Benchmarks/rk-bench", swiftSettings: scriptSettings),
        .executableTarget(
            name: "global-error-bench", dependencies: ["DiffEq", "ProblemLibrary", "SundialsBridge", "NotebookSupport"], path: "Benchmarks/global-error-bench",
            swiftSettings: scriptSettings),
        .executableTarget(
            name: "stiff-bench", dependencies: ["DiffEq", "ProblemLibrary", "SundialsBridge", "NotebookSupport"], path: "Benchmarks/stiff-bench",
            swiftSettings: scriptSettings),
        .executableTarget(
            name: "large-stiff-bench", dependencies: ["DiffEq", "ProblemLibrary", "SundialsBridge", "NotebookSupport"], path: "Benchmarks/large-stiff-bench",
            swiftSettings: scriptSettings),
        .executableTarget(
            name: "lu-bench", dependencies: ["DenseLinearAlgebra"], path: "Benchmarks/lu-bench", swiftSettings: scriptSettings),
        .executableTarget(
            name: "rosen-step-bench", dependencies: ["DiffEq", "ProblemLibrary"], path: "Benchmarks/rosen-step-bench", swiftSettings: scriptSettings),
        .executableTarget(
            name: "sens-bench", dependencies: ["DiffEq", "NeuralDE", "ProblemLibrary", "SensitivityCVODES", "NotebookSupport"], path: "Benchmarks/sens-bench",
            swiftSettings: scriptSettings),
        .executableTarget(
            name: "neural-bench", dependencies: ["NeuralDE", "SensitivityCVODES", "NotebookSupport"], path: "Benchmarks/neural-bench",
            swiftSettings: scriptSettings),
        .executableTarget(name: "ad-bench", dependencies: ["DiffEq", "NeuralDE", "ProblemLibrary", "NotebookSupport"], path: "Benchmarks/ad-bench", swiftSettings: scriptSettings),

        // MARK: Tests, one target per library module.
        .testTarget(name: "DiffEqCoreTests", dependencies: ["DiffEqCore"]),
        .testTarget(name: "DenseLinearAlgebraTests", dependencies: ["DenseLinearAlgebra"]),
        .testTarget(name: "SparseLinearAlgebraTests", dependencies: ["SparseLinearAlgebra"]),
        .testTarget(name: "ExplicitRKTests", dependencies: ["ExplicitRK", "ProblemLibrary"]),
        .testTarget(name: "StiffSolversTests", dependencies: ["StiffSolvers", "ProblemLibrary", "SundialsBridge"]),
        // Sensitivity and NeuralDE for the ODE glue and the dense layer that exercise the tape (rhsJacobians, endStateDerivatives, denseLayer).
        .testTarget(name: "AutoDiffTests", dependencies: ["AutoDiff", "ExplicitRK", "ProblemLibrary", "Sensitivity", "NeuralDE", "NeuralNetworks"]),
        .testTarget(name: "SundialsBridgeTests", dependencies: ["SundialsBridge", "ProblemLibrary", "ExplicitRK"]),
        .testTarget(name: "ProblemLibraryTests", dependencies: ["ProblemLibrary"]),
        .testTarget(name: "DiffEqTests", dependencies: ["DiffEq", "ProblemLibrary", "SundialsBridge", "SensitivityCVODES"]),
        .testTarget(name: "SensitivityTests", dependencies: ["Sensitivity", "SensitivityCVODES", "ProblemLibrary", "SundialsBridge"]),
        // DiffEqCore only for its Dual numbers: an independent check of the hand-written pullbacks.
        .testTarget(
            name: "NeuralDETests",
            dependencies: [
                "NeuralDE", "SensitivityCVODES", "AutoDiff", "DelayDE", "ExplicitRK", "SundialsBridge", "StochasticDE", "StochasticSensitivity",
            ]),
        .testTarget(name: "NeuralNetworksTests", dependencies: ["NeuralNetworks", "DiffEqCore"], exclude: ["Fixtures"]),
        // The benchmarks' shared support: how a speed-up at matched error is read off the curves.
        .testTarget(name: "NotebookSupportTests", dependencies: ["NotebookSupport"]),

        // MARK: Fuzzer (public API only; each case in a child process). FuzzTests runs a short,
        // fixed-seed run of the built `fuzz` executable, found next to the test bundle.
        .executableTarget(
            name: "fuzz", dependencies: ["DiffEq", "SundialsBridge", "SensitivityCVODES", .product(name: "ArgumentParser", package: "swift-argument-parser")],
            path: "Tests/Fuzz", swiftSettings: scriptSettings),
        .testTarget(name: "FuzzTests", dependencies: ["fuzz"]),
        // The CVODE/CVODES paths scripts/leak-check.sh runs under valgrind.
        .executableTarget(name: "leak-probe", dependencies: ["DiffEq", "ProblemLibrary", "SundialsBridge", "SensitivityCVODES"], path: "Tests/LeakProbe", swiftSettings: scriptSettings),
    ]
)

// MARK: Ensembles (issue 19). `Ensembles` is pure Swift (EnsembleSerial, EnsembleThreads, summaries);
// `EnsemblesMPI`, a separate product, is the one module that sees mpi.h, through the CMPI system
// library (pkg-config ompi-c) and the CMPIShim handles. The MPI tests start mpirun themselves on the
// ensemble-mpi-probe executable (swift-subprocess, with a timeout).
package.dependencies += [
    .package(url: "https://github.com/swiftlang/swift-subprocess", from: "1.0.2"),
    .package(url: "https://github.com/apple/swift-system", from: "1.5.0"),
]
package.products += [
    .library(name: "Ensembles", targets: ["Ensembles"]),
    .library(name: "EnsemblesMPI", targets: ["EnsemblesMPI"]),
    .executable(name: "ensemble-uq", targets: ["ensemble-uq"]),
    .executable(name: "ensemble-bench", targets: ["ensemble-bench"]),
]
package.targets += [
    .systemLibrary(
        name: "CMPI", path: "Vendor-shims/CMPI", pkgConfig: "ompi-c", providers: [.apt(["libopenmpi-dev", "pkg-config"])]),
    .target(name: "CMPIShim", dependencies: ["CMPI"], path: "Vendor-shims/CMPIShim"),
    .target(name: "Ensembles", dependencies: ["DiffEqCore", "StochasticDE"]),
    .target(name: "EnsemblesMPI", dependencies: ["Ensembles", "DiffEqCore", "StochasticDE", "CMPIShim"]),
    // The ensembles both EnsemblesTests and the MPI probe solve.
    .target(
        name: "EnsembleTestSupport", dependencies: ["Ensembles", "DiffEqCore", "ExplicitRK", "ProblemLibrary", "Sensitivity", "StochasticDE"],
        path: "Tests/EnsembleTestSupport"),
    .testTarget(
        name: "EnsemblesTests",
        dependencies: ["Ensembles", "EnsembleTestSupport", "DiffEqCore", "ExplicitRK", "ProblemLibrary", "Sensitivity", "NeuralNetworks", "StochasticDE"]),
    .executableTarget(
        name: "ensemble-mpi-probe", dependencies: ["EnsemblesMPI", "Ensembles", "EnsembleTestSupport", "DiffEqCore", "ExplicitRK", "ProblemLibrary", "Sensitivity", "NeuralNetworks", "StochasticDE"],
        path: "Tests/EnsembleMPIProbe", swiftSettings: scriptSettings),
    .testTarget(
        name: "EnsemblesMPITests",
        dependencies: [
            "ensemble-mpi-probe", .product(name: "Subprocess", package: "swift-subprocess"),
            .product(name: "SystemPackage", package: "swift-system"),
        ]),
    .executableTarget(
        name: "ensemble-uq", dependencies: ["EnsemblesMPI", "Ensembles", "DiffEqCore", "ExplicitRK", "StiffSolvers", "ProblemLibrary", "NotebookSupport", "StochasticDE"],
        path: "Notebooks-as-scripts/ensemble-uq", swiftSettings: scriptSettings),
    .executableTarget(
        name: "ensemble-bench", dependencies: ["EnsemblesMPI", "Ensembles", "DiffEqCore", "ExplicitRK", "ProblemLibrary", "NotebookSupport", "StochasticDE"],
        path: "Benchmarks/ensemble-bench", swiftSettings: scriptSettings),
]

// MARK: Stochastic differential equations (issue #17): counter-based random streams (a base
// module, so ensembles and network initializers can use them without the ODE core), Brownian
// motion, SDE problems and step kernels. The adaptive solve joins the shared loop of issue #15.
package.products += [
    .library(name: "RandomStreams", targets: ["RandomStreams"]),
    .library(name: "StochasticDE", targets: ["StochasticDE"]),
    .executable(name: "sde-bench", targets: ["sde-bench"]),
    .executable(name: "sde-lotka-volterra-fit", targets: ["sde-lotka-volterra-fit"]),
]
package.targets += [
    .target(name: "RandomStreams"),
    .target(name: "StochasticDE", dependencies: ["DiffEqCore", "RandomStreams"]),
    .executableTarget(
        name: "sde-bench", dependencies: ["StochasticDE", "RandomStreams", "NotebookSupport"], path: "Benchmarks/sde-bench",
        swiftSettings: scriptSettings),
    .executableTarget(
        name: "sde-lotka-volterra-fit", dependencies: ["StochasticDE", "StochasticSensitivity", "Sensitivity", "NeuralNetworks", "NotebookSupport"],
        path: "Notebooks-as-scripts/sde-lotka-volterra-fit", swiftSettings: scriptSettings),
    .testTarget(name: "RandomStreamsTests", dependencies: ["RandomStreams"]),
    .testTarget(name: "StochasticDETests", dependencies: ["StochasticDE", "RandomStreams", "DiffEqCore"]),
]

// MARK: Gradients through SDE solves (issue #17 item 4): the stochastic adjoint of Li et al. 2020
// and pathwise forward mode behind Sensitivity's loss and result types, on a Brownian tree's path.
package.products += [
    .library(name: "StochasticSensitivity", targets: ["StochasticSensitivity"]),
]
package.targets += [
    .target(name: "StochasticSensitivity", dependencies: ["DiffEqCore", "StochasticDE", "Sensitivity"]),
    .testTarget(name: "StochasticSensitivityTests", dependencies: ["StochasticSensitivity", "StochasticDE", "Sensitivity", "DiffEqCore"]),
]

// MARK: Delay differential equations (issue #18): the method of steps around every native method
// with dense output (the history is the integrator's appendable dense output).
package.products += [
    .library(name: "DelayDE", targets: ["DelayDE"]),
]
package.targets += [
    .target(name: "DelayDE", dependencies: ["DiffEqCore", "AutoDiff", "ExplicitRK", "StiffSolvers", "Sensitivity"]),
    .testTarget(
        name: "DelayDETests", dependencies: ["DelayDE", "AutoDiff", "DiffEqCore", "ExplicitRK", "Sensitivity", "StiffSolvers"], exclude: ["Reference"]),
]
package.products += [
    .executable(name: "delay-lotka-volterra-fit", targets: ["delay-lotka-volterra-fit"]),
    .executable(name: "dde-bench", targets: ["dde-bench"]),
]
package.targets += [
    .executableTarget(
        name: "delay-lotka-volterra-fit", dependencies: ["DelayDE", "DiffEq", "NeuralNetworks", "NotebookSupport"],
        path: "Notebooks-as-scripts/delay-lotka-volterra-fit", swiftSettings: scriptSettings),
    .executableTarget(
        name: "dde-bench", dependencies: ["DelayDE", "DiffEq", "NotebookSupport"], path: "Benchmarks/dde-bench",
        swiftSettings: scriptSettings),
]
