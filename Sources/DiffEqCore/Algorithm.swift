/// How to solve: every algorithm, native or external, sits behind this one protocol.
public protocol ODEAlgorithm {
    /// The name a DifferentialEquations.jl user recognises (`"Tsit5"`, `"CVODE_BDF"`).
    var name: String { get }

    /// Solves `problem`. Invalid input throws before any work; a failure during the solve is a
    /// return code on the (partial) solution.
    func solve<F: ODEFunction>(_ problem: ODEProblem<F>, options: SolveOptions) throws(DiffEqError)
        -> ODESolution<F.Scalar>

    /// How the global error of a solve scales with the tolerances: `e ≈ C·τ^α` when `reltol` and
    /// `abstol` are both scaled by `τ` (tolerance proportionality, Hairer, Nørsett & Wanner I,
    /// §II.4). A method of order `q` with an embedded solution of order `q̂` has an error
    /// estimate that behaves like `h^(p+1)`, `p = min(q, q̂)`; it takes steps `h ∝ τ^(1/(p+1))`
    /// and has global error `∝ h^q`, so `α = q/(p+1)`: 1 for the methods that advance the
    /// higher-order solution of their pair (DP5, Tsit5, Rodas5P), 2/3 for TRBDF2 and
    /// Rosenbrock23 (order 2, third-order estimate). Used by ``GlobalErrorControl``; `nil` when
    /// the tolerances do not control the error (fixed-step methods). The default is `nil`: an
    /// algorithm that does not declare how its error follows the tolerances cannot be wrapped
    /// (one that ignored them would give two identical solves, an estimate of 0).
    var toleranceExponent: Double? { get }

    /// Solves a problem whose right-hand side is behind closures (``ErasedModelRHS``), as
    /// gradients do (forward mode on dual numbers, the adjoints' forward and backward solves in
    /// `Double`), in code compiled once in the algorithm's module where it provides one (the
    /// explicit Runge-Kutta and Rosenbrock methods), so that a user's module compiles only its
    /// model's right-hand side. The default is ``solve(_:options:)``.
    func _solvePrecompiled(_ problem: ODEProblem<ErasedModelRHS<Double>>, options: SolveOptions)
        throws(DiffEqError) -> ODESolution<Double>
    func _solvePrecompiled(_ problem: ODEProblem<ErasedModelRHS<Dual<2, Double>>>, options: SolveOptions)
        throws(DiffEqError) -> ODESolution<Dual<2, Double>>
    func _solvePrecompiled(_ problem: ODEProblem<ErasedModelRHS<Dual<4, Double>>>, options: SolveOptions)
        throws(DiffEqError) -> ODESolution<Dual<4, Double>>
    func _solvePrecompiled(_ problem: ODEProblem<ErasedModelRHS<Dual<8, Double>>>, options: SolveOptions)
        throws(DiffEqError) -> ODESolution<Dual<8, Double>>
    func _solvePrecompiled(_ problem: ODEProblem<ErasedModelRHS<Dual<13, Double>>>, options: SolveOptions)
        throws(DiffEqError) -> ODESolution<Dual<13, Double>>
}

extension ODEAlgorithm {
    public var toleranceExponent: Double? { nil }
}

/// `α = q/(q̂+1)` of ``ODEAlgorithm/toleranceExponent`` for a method of order `q` with an
/// embedded estimate of order `q̂` (the estimate behaves like `h^(min(q, q̂)+1)`), capped at 1:
/// above it (DOP853's order 8 with its fifth-order estimate) the cap is the conservative choice.
public func toleranceExponent(order: Int, embeddedOrder: Int) -> Double {
    min(1, Double(order) / Double(min(order, embeddedOrder) + 1))
}

/// Solves `problem` with `algorithm` and the given options.
@inlinable
public func solve<F: ODEFunction, A: ODEAlgorithm>(
    _ problem: ODEProblem<F>, _ algorithm: A, options: SolveOptions
) throws(DiffEqError) -> ODESolution<F.Scalar> {
    try algorithm.solve(problem, options: options)
}

/// Solves `problem` with `algorithm`; the options are named as in DifferentialEquations.jl.
///
/// ```swift
/// let sol = try solve(prob, Tsit5(), reltol: 1e-8, abstol: 1e-10, saveat: .every(0.1))
/// ```
@inlinable
public func solve<F: ODEFunction, A: ODEAlgorithm>(
    _ problem: ODEProblem<F>, _ algorithm: A,
    reltol: Double = 1e-3, abstol: AbsoluteTolerance = 1e-6, saveat: SaveAt? = nil,
    saveEverystep: Bool? = nil, dense: Bool? = nil, dt: Double? = nil, dtmin: Double? = nil,
    dtmax: Double? = nil, maxiters: Int = 100_000, tstops: [Double] = [], adaptive: Bool = true,
    isOutOfDomain: DomainCheck? = nil, callback: CallbackSet<F.Scalar>? = nil, controller: StepController? = nil
) throws(DiffEqError) -> ODESolution<F.Scalar> {
    try algorithm.solve(
        callback.map { problem.remake(callbacks: $0) } ?? problem,
        options: SolveOptions(
            reltol: reltol, abstol: abstol, saveat: saveat, saveEverystep: saveEverystep,
            dense: dense, dt: dt, dtmin: dtmin, dtmax: dtmax, maxiters: maxiters, tstops: tstops,
            adaptive: adaptive, isOutOfDomain: isOutOfDomain, controller: controller))
}

/// How to solve a fixed-size problem (``StaticODEProblem``): the native methods that have a
/// fixed-size form (ExplicitRK's Runge-Kutta methods, StiffSolvers' Rosenbrock and (E)SDIRK methods).
public protocol StaticODEAlgorithm {
    var name: String { get }

    /// Solves `problem`; invalid input throws before any work (options the fixed-size form does
    /// not offer, such as dense output or `isOutOfDomain`, among it).
    func solve<F: StaticODEFunction>(_ problem: StaticODEProblem<F>, options: SolveOptions) throws(DiffEqError)
        -> StaticODESolution<F.State> where F.State.Scalar == Double

    /// As ``ODEAlgorithm/toleranceExponent``.
    var toleranceExponent: Double? { get }
}

extension StaticODEAlgorithm {
    public var toleranceExponent: Double? { nil }
}

/// Solves a fixed-size problem with `algorithm` and the given options.
@inlinable
public func solve<F: StaticODEFunction, A: StaticODEAlgorithm>(
    _ problem: StaticODEProblem<F>, _ algorithm: A, options: SolveOptions
) throws(DiffEqError) -> StaticODESolution<F.State> where F.State.Scalar == Double {
    try algorithm.solve(problem, options: options)
}

/// Solves a fixed-size problem; the options are named as in DifferentialEquations.jl (those of
/// the array form, without callbacks, mass matrices, dense output and `isOutOfDomain`).
///
/// ```swift
/// let sol = try solve(TestProblems.staticLorenz(), Tsit5(), reltol: 1e-8, abstol: 1e-8, saveat: .every(0.1))
/// ```
@inlinable
public func solve<F: StaticODEFunction, A: StaticODEAlgorithm>(
    _ problem: StaticODEProblem<F>, _ algorithm: A,
    reltol: Double = 1e-3, abstol: AbsoluteTolerance = 1e-6, saveat: SaveAt? = nil,
    saveEverystep: Bool? = nil, dt: Double? = nil, dtmin: Double? = nil,
    dtmax: Double? = nil, maxiters: Int = 100_000, tstops: [Double] = [], adaptive: Bool = true,
    controller: StepController? = nil
) throws(DiffEqError) -> StaticODESolution<F.State> where F.State.Scalar == Double {
    try algorithm.solve(
        problem,
        options: SolveOptions(
            reltol: reltol, abstol: abstol, saveat: saveat, saveEverystep: saveEverystep,
            dt: dt, dtmin: dtmin, dtmax: dtmax, maxiters: maxiters, tstops: tstops,
            adaptive: adaptive, controller: controller))
}
