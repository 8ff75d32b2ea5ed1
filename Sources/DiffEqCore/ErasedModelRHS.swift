// A right-hand side behind closures, so that a solve over it does not depend on the model's
// type and can be compiled once in the algorithm's module
// (``ODEAlgorithm/_solvePrecompiled(_:options:)``). Forward-mode gradients solve the model on
// dual numbers of several widths, and the adjoints solve it forward and their backward systems
// in `Double`; in the generic form (``GenericRHS``, or any other concrete right-hand-side type)
// each of those solves is the whole solver compiled again in the user's module for every model
// (DESIGN.md, "Compile time is a figure"). Behind closures only `model.rhs` (and its
// forward-mode Jacobian) is compiled there.

/// A right-hand side (``GenericRHS`` or any other ``ODEFunction``) behind closures: the same
/// calls, the same arithmetic, so a solve over it gives the erased function's bits, and its type
/// names only the scalar.
///
/// Performance: each evaluation of `f` is an indirect call that the solver cannot inline: the
/// `Dual<4>` Lotka-Volterra solve of `ForwardDiffSensitivity` (Tsit5 at 1e-8, 417 steps) costs
/// 3343 instructions per step against 3171 in the generic form, 5.4 % more (callgrind,
/// `rk-bench --overhead --dual-lv erased|array`). The adjoints' `Double` solves behind closures
/// cost 0.6-1.4 % more per gradient on the same problem (11 observations, reltol 1e-8:
/// InterpolatingAdjoint with Tsit5 7.25M → 7.35M instructions, QuadratureAdjoint with Tsit5
/// 11.85M → 11.95M, with Rodas5P 34.20M → 34.39M; callgrind, (I(6) − I(1))/5).
public struct ErasedModelRHS<Scalar: DiffEqScalar>: ODEFunction {
    public typealias Function = (inout [Scalar], [Scalar], [Scalar], Scalar) -> Void
    public typealias ColoredJacobian = (
        inout [Scalar], [Scalar], [Scalar], Scalar, SparsityPattern, ColumnColoring
    ) -> Void

    @usableFromInline let f: Function
    @usableFromInline let jac: Function
    @usableFromInline let adJacobian: Function
    @usableFromInline let adColoredJacobian: ColoredJacobian
    @usableFromInline let adColoredValues: ColoredJacobian
    public let hasAnalyticJacobian: Bool
    public let supportsForwardModeAD: Bool
    public let isAutonomous: Bool
    public let jacobianStructure: JacobianStructure

    /// `model` at scalar type `Scalar`, as ``GenericRHS`` evaluates it.
    @inlinable
    public init<M: ODEModel>(_ model: M, as scalar: Scalar.Type = Scalar.self) {
        self.init(erasing: GenericRHS<M, Scalar>(model))
    }

    /// `g` behind closures: every requirement of ``ODEFunction`` answers as `g`'s does.
    @inlinable
    public init<F: ODEFunction>(erasing g: F) where F.Scalar == Scalar {
        f = { du, u, p, t in g(&du, u, p, t) }
        jac = { J, u, p, t in g.jacobian(&J, u, p, t) }
        adJacobian = { J, u, p, t in g.forwardModeJacobian(&J, u, p, t) }
        adColoredJacobian = { J, u, p, t, pattern, coloring in
            g.forwardModeJacobian(&J, u, p, t, pattern: pattern, coloring: coloring)
        }
        adColoredValues = { values, u, p, t, pattern, coloring in
            g.forwardModeJacobianValues(&values, u, p, t, pattern: pattern, coloring: coloring)
        }
        hasAnalyticJacobian = g.hasAnalyticJacobian
        supportsForwardModeAD = g.supportsForwardModeAD
        isAutonomous = g.isAutonomous
        jacobianStructure = g.jacobianStructure
    }

    @inlinable @inline(__always)
    public func callAsFunction(_ du: inout [Scalar], _ u: [Scalar], _ p: [Scalar], _ t: Scalar) {
        f(&du, u, p, t)
    }

    @inlinable
    public func jacobian(_ J: inout [Scalar], _ u: [Scalar], _ p: [Scalar], _ t: Scalar) {
        jac(&J, u, p, t)
    }

    @inlinable
    public func forwardModeJacobian(_ J: inout [Scalar], _ u: [Scalar], _ p: [Scalar], _ t: Scalar) {
        adJacobian(&J, u, p, t)
    }

    @inlinable
    public func forwardModeJacobian(
        _ J: inout [Scalar], _ u: [Scalar], _ p: [Scalar], _ t: Scalar, pattern: SparsityPattern, coloring: ColumnColoring
    ) {
        adColoredJacobian(&J, u, p, t, pattern, coloring)
    }

    @inlinable
    public func forwardModeJacobianValues(
        _ values: inout [Scalar], _ u: [Scalar], _ p: [Scalar], _ t: Scalar, pattern: SparsityPattern, coloring: ColumnColoring
    ) {
        adColoredValues(&values, u, p, t, pattern, coloring)
    }
}

extension ODEAlgorithm {
    @inlinable
    public func _solvePrecompiled(_ problem: ODEProblem<ErasedModelRHS<Double>>, options: SolveOptions)
        throws(DiffEqError) -> ODESolution<Double>
    {
        try solve(problem, options: options)
    }

    @inlinable
    public func _solvePrecompiled(_ problem: ODEProblem<ErasedModelRHS<Dual<2, Double>>>, options: SolveOptions)
        throws(DiffEqError) -> ODESolution<Dual<2, Double>>
    {
        try solve(problem, options: options)
    }

    @inlinable
    public func _solvePrecompiled(_ problem: ODEProblem<ErasedModelRHS<Dual<4, Double>>>, options: SolveOptions)
        throws(DiffEqError) -> ODESolution<Dual<4, Double>>
    {
        try solve(problem, options: options)
    }

    @inlinable
    public func _solvePrecompiled(_ problem: ODEProblem<ErasedModelRHS<Dual<8, Double>>>, options: SolveOptions)
        throws(DiffEqError) -> ODESolution<Dual<8, Double>>
    {
        try solve(problem, options: options)
    }

    @inlinable
    public func _solvePrecompiled(_ problem: ODEProblem<ErasedModelRHS<Dual<13, Double>>>, options: SolveOptions)
        throws(DiffEqError) -> ODESolution<Dual<13, Double>>
    {
        try solve(problem, options: options)
    }
}
