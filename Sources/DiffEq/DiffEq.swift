// The umbrella: `import DiffEq` gives a user every module. It re-exports and adds nothing.
@_exported import AutoDiff
@_exported import DenseLinearAlgebra
@_exported import DiffEqCore
@_exported import ExplicitRK
@_exported import ProblemLibrary
@_exported import Sensitivity
@_exported import StiffSolvers
@_exported import SundialsBridge
