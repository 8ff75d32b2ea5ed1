// The umbrella: `import DiffEq` gives a user the pure-Swift library modules, and adds only the
// default `solve(prob)` (DefaultAlgorithm.swift), the one choice that spans the method families.
// SUNDIALS (`import SundialsBridge`, `import SensitivityCVODES`, product `Sundials`) and the
// test problems (`import ProblemLibrary`) are imported explicitly; the C shims never are.
@_exported import AutoDiff
@_exported import DelayDE
@_exported import DenseLinearAlgebra
@_exported import DiffEqCore
@_exported import ExplicitRK
@_exported import Sensitivity
@_exported import StiffSolvers
