import AutoDiff
import DenseLinearAlgebra
import DiffEqCore

/// The end state of a solve and its Jacobian with respect to the parameters, by forward-mode
/// AD through the solver (dual numbers carry `∂u/∂p` through every stage), including the effect
/// of a time span that depends on `p`:
///
///     d u(T(p)) / dp = ∂u/∂p |_(t = T) + f(u(T), p, T) · dT/dp − (the same at t0 through u0).
///
/// The start of the span moving moves the whole trajectory: with `u(t0) = u0` fixed, a later
/// start shifts the solution, contributing `−Φ(T, t0) f(u0, p, t0) dt0/dp`; the dual solve
/// carries `Φ(T, t0)` applied to that direction when the initial state is seeded with
/// `−f(u0, p, t0) dt0/dp`.
///
/// `tspanDerivative(p)` gives `dt0/dp` and `dT/dp` (one entry per parameter).
public func endStateDerivatives<M: ODEModel, A: ODEAlgorithm>(
    model: M, u0: [Double], p: [Double], tspan: @escaping ([Double]) -> (Double, Double),
    tspanDerivative: ([Double]) -> (start: [Double], end: [Double]), algorithm: A, options: SolveOptions
) throws(DiffEqError) -> (endState: [Double], jacobian: Matrix<Double>) {
    let np = p.count
    guard np <= 16 else { throw .unsupported("endStateDerivatives handles up to 16 parameters (one dual pass)") }
    typealias D = Dual<16, Double>
    let span = tspan(p)
    let (dt0, dT) = tspanDerivative(p)
    guard dt0.count == np, dT.count == np else {
        throw .dimensionMismatch(what: "tspanDerivative", expected: np, got: Swift.min(dt0.count, dT.count))
    }
    let pd = (0..<np).map { D(p[$0], seed: $0) }
    // Seed the initial state with the shift a moving start produces: -f(u0) dt0/dp.
    var f0 = u0
    model.lengthCheckedRHS(&f0, u0, p, span.0)
    var ud = u0.map { D(constant: $0) }
    for i in u0.indices { for k in 0..<np { ud[i].partials[k] = -f0[i] * dt0[k] } }
    let problem = ODEProblem(model: model, u0: ud, tspan: span, p: pd)
    var opts = options
    opts.saveEverystep = false
    opts.saveat = nil
    let sol = try algorithm.solve(problem, options: opts)
    guard sol.retcode.isSuccessful, let end = sol.u.last else {
        throw .unsupported("the forward solve failed: \(sol.retcode) \(sol.message ?? "")")
    }
    let endValues = end.map(\.value)
    var fT = endValues
    model.lengthCheckedRHS(&fT, endValues, p, span.1)
    var J = [Double](repeating: 0, count: u0.count * np)
    for i in u0.indices {
        for k in 0..<np { J[i + k * u0.count] = end[i].partials[k] + fT[i] * dT[k] }
    }
    return (endValues, try! Matrix(rows: u0.count, columns: np, columnMajor: J))
}
