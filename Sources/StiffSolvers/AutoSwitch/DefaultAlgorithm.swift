import DiffEqCore
import ExplicitRK

/// Solves `problem` with the default algorithm, `AutoTsit5(Rosenbrock23())`: Tsit5 while the
/// problem is non-stiff, Rosenbrock23 where it is stiff (DifferentialEquations.jl's default
/// choice at default tolerances, which makes `solve(prob)` safe on either kind of problem).
@inlinable
public func solve<F: ODEFunction>(
    _ problem: ODEProblem<F>,
    reltol: Double = 1e-3, abstol: AbsoluteTolerance = 1e-6, saveat: SaveAt? = nil,
    saveEverystep: Bool? = nil, dense: Bool? = nil, dt: Double? = nil, dtmin: Double? = nil,
    dtmax: Double? = nil, maxiters: Int = 100_000, tstops: [Double] = [], callback: CallbackSet<F.Scalar>? = nil
) throws(DiffEqError) -> ODESolution<F.Scalar> {
    try solve(
        problem, AutoTsit5(Rosenbrock23()), reltol: reltol, abstol: abstol, saveat: saveat,
        saveEverystep: saveEverystep, dense: dense, dt: dt, dtmin: dtmin, dtmax: dtmax, maxiters: maxiters,
        tstops: tstops, callback: callback)
}
