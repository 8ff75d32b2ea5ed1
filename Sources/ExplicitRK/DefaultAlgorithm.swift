import DiffEqCore

/// Solves `problem` with the default algorithm: for now `Tsit5`, DifferentialEquations.jl's
/// choice for non-stiff problems at default tolerances. (Once the stiff solvers land the default
/// becomes an automatic stiffness-switching method.)
@inlinable
public func solve<F: ODEFunction>(
    _ problem: ODEProblem<F>,
    reltol: Double = 1e-3, abstol: AbsoluteTolerance = 1e-6, saveat: SaveAt? = nil,
    saveEverystep: Bool? = nil, dense: Bool? = nil, dt: Double? = nil, dtmin: Double? = nil,
    dtmax: Double? = nil, maxiters: Int = 100_000, tstops: [Double] = [], callback: CallbackSet<F.Scalar>? = nil
) throws(DiffEqError) -> ODESolution<F.Scalar> {
    try solve(
        problem, Tsit5(), reltol: reltol, abstol: abstol, saveat: saveat, saveEverystep: saveEverystep,
        dense: dense, dt: dt, dtmin: dtmin, dtmax: dtmax, maxiters: maxiters, tstops: tstops, callback: callback)
}
