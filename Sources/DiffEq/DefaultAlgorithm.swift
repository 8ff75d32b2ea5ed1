import DiffEqCore
import ExplicitRK
import StiffSolvers

/// The algorithm `solve(problem)` uses without one: `AutoTsit5(Rosenbrock23())`, Tsit5 while the
/// problem is non-stiff and Rosenbrock23 where it is stiff (DifferentialEquations.jl's default
/// choice at default tolerances, which makes `solve(prob)` safe on either kind of problem).
public func defaultAlgorithm() -> AutoSwitch<Tsit5, Rosenbrock23> { AutoTsit5(Rosenbrock23()) }

/// Solves `problem` with the default algorithm (``defaultAlgorithm()``) and the given options.
@inlinable
public func solve<F: ODEFunction>(_ problem: ODEProblem<F>, options: SolveOptions) throws(DiffEqError)
    -> ODESolution<F.Scalar>
{
    try solve(problem, defaultAlgorithm(), options: options)
}

/// Solves `problem` with the default algorithm (``defaultAlgorithm()``); the options are those of
/// `solve(problem, algorithm, ...)`, named as in DifferentialEquations.jl.
@inlinable
public func solve<F: ODEFunction>(
    _ problem: ODEProblem<F>,
    reltol: Double = 1e-3, abstol: AbsoluteTolerance = 1e-6, saveat: SaveAt? = nil,
    saveEverystep: Bool? = nil, dense: Bool? = nil, dt: Double? = nil, dtmin: Double? = nil,
    dtmax: Double? = nil, maxiters: Int = 100_000, tstops: [Double] = [], adaptive: Bool = true,
    isOutOfDomain: DomainCheck? = nil, callback: CallbackSet<F.Scalar>? = nil
) throws(DiffEqError) -> ODESolution<F.Scalar> {
    try solve(
        problem, defaultAlgorithm(), reltol: reltol, abstol: abstol, saveat: saveat,
        saveEverystep: saveEverystep, dense: dense, dt: dt, dtmin: dtmin, dtmax: dtmax, maxiters: maxiters,
        tstops: tstops, adaptive: adaptive, isOutOfDomain: isOutOfDomain, callback: callback)
}
