import AutoDiff
import DiffEqCore

/// An initial state and span end that depend on the parameters, written once over the scalar
/// protocol so that their derivatives are exact (dual numbers): `u0(p)` and `T(p)` of a problem
/// on `[t0, T(p)]`.
///
/// ```swift
/// struct Setup: ParameterDependence {
///     func initialState<S: DiffEqScalar>(_ p: [S]) -> [S]? { [p[4], 1] }   // x(0) is a parameter
///     func endTime<S: DiffEqScalar>(_ p: [S]) -> S? { p[5] }                // so is the horizon
/// }
/// ```
///
/// Either may return `nil`: that part does not depend on `p`.
public protocol ParameterDependence {
    /// `u0(p)`, or `nil` when the initial state does not depend on `p`.
    func initialState<S: DiffEqScalar>(_ p: [S]) -> [S]?
    /// `T(p)`, the end of the time span, or `nil` when it does not depend on `p`.
    func endTime<S: DiffEqScalar>(_ p: [S]) -> S?
}

extension ParameterDependence {
    public func initialState<S: DiffEqScalar>(_ p: [S]) -> [S]? { nil }
    public func endTime<S: DiffEqScalar>(_ p: [S]) -> S? { nil }
}

/// The gradient of `L = Σ_k g(u(t_k), t_k)` for a problem whose initial state `u0(p)` and span
/// end `T(p)` depend on the parameters, by any `sensealg`: the method differentiates the solve
/// at fixed `u0` and `T`, and the chain rule adds
///
///     dL/dp += (∂u0/∂p)ᵀ dL/du0 + dL/dT · dT/dp,
///     dL/dT  = Σ_{k: t_k = T} [∂g/∂u(u(T), T) · f(u(T), p, T) + ∂g/∂t(u(T), T)],
///
/// the observations at the end of the span moving with it (the others stay where they are; with
/// `saveat: .every(Δ)` the grid starts at `t0` and only its last point is `T`). `∂u0/∂p` and
/// `dT/dp` come from dual numbers; `∂g/∂t` (zero for a loss without explicit time dependence)
/// from a fourth-order central difference of `g` alone, since ``PointLoss`` takes time as a
/// `Double`. `t0` must not depend on `p`. The returned `du0` is `dL/du0` at fixed `p`.
@inlinable
public func gradient<M: ODEModel, L: PointLoss, A: ODEAlgorithm, S: SensitivityAlgorithm, D: ParameterDependence>(
    of loss: L, model: M, u0: [Double], tspan: (Double, Double), p: [Double], dependence: D, algorithm: A,
    options: SolveOptions, sensealg: S
) throws(SensitivityError) -> SensitivityResult {
    let np = p.count
    let start = dependence.initialState(p) ?? u0
    let end = dependence.endTime(p) ?? tspan.1
    // An initialState(p) of another length than u0 used to reach the model, which then indexed
    // past it (a trap in user code) or integrated the wrong number of states.
    guard start.count == u0.count else {
        throw .invalidInput(.dimensionMismatch(what: "initialState(p)", expected: u0.count, got: start.count))
    }
    guard end.isFinite, end > tspan.0 else {
        throw .unsupported("the span end T(p) = \(end) must be finite and after t0 = \(tspan.0)")
    }
    let problem = ODEProblem(model: model, u0: start, tspan: (tspan.0, end), p: p)
    let plan = try ObservationPlan(problem, options: options)
    var result = try sensealg.gradient(of: loss, problem, algorithm: algorithm, plan: plan)
    // (∂u0/∂p)ᵀ dL/du0 and dT/dp, in chunks of 8 parameter directions.
    typealias Dual8 = Dual<8, Double>
    var pd = p.map { Dual8(constant: $0) }
    var offset = 0
    var dTdp = [Double](repeating: 0, count: np)
    while offset < np {
        let width = Swift.min(8, np - offset)
        for j in 0..<width { pd[offset + j].partials[j] = 1 }
        // A dependence that answers `nil` on dual numbers but not on Double (or the reverse)
        // used to drop its derivative silently: the gradient came back without the chain rule's
        // term.
        let u0d = dependence.initialState(pd), Td = dependence.endTime(pd)
        guard (u0d == nil) == (dependence.initialState(p) == nil), (Td == nil) == (dependence.endTime(p) == nil) else {
            throw .unsupported(
                "initialState(p) and endTime(p) must return nil (or not) alike on Double and on dual numbers")
        }
        if let u0d {
            guard u0d.count == start.count else {
                throw .unsupported("initialState(p) returned \(u0d.count) values on dual numbers and \(start.count) on Double")
            }
            for j in 0..<width {
                var s = 0.0
                for i in 0..<u0d.count { s += u0d[i].partials[j] * result.du0[i] }
                result.dp[offset + j] += s
            }
        }
        if let Td {
            for j in 0..<width { dTdp[offset + j] = Td.partials[j] }
        }
        for j in 0..<width { pd[offset + j].partials[j] = 0 }
        offset += width
    }
    if dependence.endTime(p) != nil, plan.times.last == end {
        let uT = try _endState(model, algorithm, plan, result)
        var f = [Double](repeating: 0, count: uT.count)
        model.lengthCheckedRHS(&f, uT, p, end)
        var g = [Double](repeating: 0, count: uT.count)
        _ = loss.valueAndGradient(at: uT, end, into: &g)
        var dLdT = 0.0
        for i in 0..<f.count { dLdT += g[i] * f[i] }
        dLdT += _explicitTimeDerivative(loss, uT, end)
        let atEnd = Double(plan.times.reversed().prefix { $0 == end }.count)
        for k in 0..<np { result.dp[k] += atEnd * dLdT * dTdp[k] }
    }
    // A derivative of u0(p) or T(p) that is not finite (sqrt at 0) gave a NaN gradient as success.
    try _checkFinite(result)
    return result
}

/// `u(T)` for the end-time term: a solve at the method's options (the methods do not return
/// their forward states).
@inlinable
func _endState<M: ODEModel, A: ODEAlgorithm>(
    _ model: M, _ algorithm: A, _ plan: ObservationPlan, _ result: SensitivityResult
) throws(SensitivityError) -> [Double] {
    var options = plan.options
    options.saveat = .times([plan.t1])
    let problem = ODEProblem(model: model, u0: plan.u0, tspan: (plan.t0, plan.t1), p: plan.p)
    let sol = try _solve(problem, algorithm, options, phase: "forward (end state)")
    guard let uT = sol.u.last else {
        throw .solveFailed(phase: "forward (end state)", retcode: sol.retcode, message: "no end state saved")
    }
    return uT
}

/// `∂g/∂t` at `(u, t)` by the fourth-order central difference
/// `[g(t−2h) − 8g(t−h) + 8g(t+h) − g(t+2h)] / 12h` with `h = ε^{1/5} max(1, |t|)`, the step that
/// balances its `O(h⁴)` truncation against rounding (Press et al., Numerical Recipes, §5.7).
@inlinable
func _explicitTimeDerivative<L: PointLoss>(_ loss: L, _ u: [Double], _ t: Double) -> Double {
    let h = 7.4e-4 * Swift.max(1, Swift.abs(t))  // ε^{1/5} for ε = 2^-52
    let gm2: Double = loss(u, t - 2 * h), gm1: Double = loss(u, t - h)
    let gp1: Double = loss(u, t + h), gp2: Double = loss(u, t + 2 * h)
    return (gm2 - 8 * gm1 + 8 * gp1 - gp2) / (12 * h)
}
