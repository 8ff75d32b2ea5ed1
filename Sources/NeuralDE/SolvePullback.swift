// The solve as a differentiable layer: u0, p -> [u(t_1), ..., u(t_K)], with its pullback
// (∂L/∂u(t_k) for every k) -> (∂L/∂p, ∂L/∂u0) for any loss of the saved states.
//
// The pullback is the gradient of the linear loss L̃ = Σ_k c_kᵀ u(t_k) with c_k = ∂L/∂u(t_k):
// dL̃/dp = Σ_k c_kᵀ ∂u(t_k)/∂p = ∂L/∂p by the chain rule (the c_k are held fixed), so every
// sensealg of the Sensitivity module computes it through its point-loss interface.

public import DiffEqCore
public import Sensitivity

/// The linear point loss `Σ_k c_kᵀ u(t_k)` whose gradient is the solve's pullback of the
/// cotangents `c_k`. Times repeated in `times` share their cotangents' sum (the observation
/// plan evaluates the loss once per repetition).
public struct CotangentLoss: PointLoss, Sendable {
    public let times: [Double]
    public let cotangents: [[Double]]

    public init(times: [Double], cotangents: [[Double]]) {
        self.times = times
        self.cotangents = cotangents
    }

    @inlinable
    public func callAsFunction<S: DiffEqScalar>(_ u: [S], _ t: Double) -> S {
        // First index with times[k] >= t (ascending times), then the run equal to t.
        var lo = 0, hi = times.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if times[mid] < t { lo = mid + 1 } else { hi = mid }
        }
        var end = lo
        while end < times.count && times[end] == t { end += 1 }
        guard end > lo else { return S.zero }
        var s = S.zero
        for k in lo..<end {
            let c = cotangents[k]
            for i in 0..<Swift.min(c.count, u.count) where c[i] != 0 { s += u[i].scaled(by: c[i]) }
        }
        return end - lo == 1 ? s : s.scaled(by: 1 / Double(end - lo))
    }
}

/// The result of a pullback of a solve.
public struct SolvePullbackResult: Sendable {
    /// `∂L/∂p`.
    public var dp: [Double]
    /// `∂L/∂u0`.
    public var du0: [Double]
    /// The work the gradient took.
    public var stats: SensitivityStats
    /// The method that computed it.
    public var method: String

    @inlinable
    public init(dp: [Double], du0: [Double], stats: SensitivityStats, method: String) {
        self.dp = dp
        self.du0 = du0
        self.stats = stats
        self.method = method
    }
}

/// A prepared solve-as-a-layer for one model, algorithm, span, save times, tolerances and
/// `sensealg` (#15 item 7, the reusable gradient context): a training loop makes it once and
/// calls ``solve(u0:p:)``, ``pullback(u0:p:cotangents:)`` or
/// ``valueAndGradient(u0:p:loss:)`` thousands of times.
///
/// What it keeps between calls: the validated options and save times, the saved states and
/// their cotangents (refilled in place), and nothing else that a call could rebuild. What a call
/// still makes afresh, inside the Sensitivity module: the adjoint's workspace (`O(n + np)`), the
/// model's product workspace (for a ``NetworkRHS``, two vectors of the network's widths), and the
/// forward solve's dense output (its size grows with the number of steps).
///
/// Which `sensealg` can pull back arbitrary cotangents: all of them (the cotangents enter as the
/// linear point loss ``CotangentLoss``): ``InterpolatingAdjoint``, ``QuadratureAdjoint``,
/// ``BacksolveAdjoint``, ``ForwardDiffSensitivity``, ``ForwardSensitivity``, ``CVODESAdjoint``,
/// ``CVODESForward`` and ``AutoSensitivity``. ``valueAndGradient(u0:p:loss:)`` costs one forward
/// solve more than the adjoint itself: the cotangents depend on the whole trajectory, and the
/// Sensitivity methods run their own forward pass after they are known.
///
/// Not `Sendable`: one context per thread.
///
/// Performance: the call entry points are `@inlinable` so that the solver, the adjoint and the
/// network's generic right-hand side specialize in the caller; compiled generically inside this
/// module they ran on witness tables (perf: `NetworkRHS._run` and Tsit5's stage loop through
/// value witnesses), 21 → 8 ms CPU per tight spiral iteration. Measured with
/// `Benchmarks/neural-bench` at the spiral's start (tight, QuadratureAdjoint): about a third of a
/// gradient is the network (f and the VJP, mostly `tanh`), the rest solver stages, dense-output
/// evaluation, quadrature and the per-call setup inside Sensitivity.
public final class SolveLayer<Model: ODEModel, Algorithm: ODEAlgorithm, Method: SensitivityAlgorithm> {
    public let model: Model
    public let algorithm: Algorithm
    public let sensealg: Method
    public let tspan: (Double, Double)
    /// The options of every solve (saveat resolved to ``times``; no dense output).
    public let options: SolveOptions
    /// The save times, ascending.
    public let times: [Double]
    /// The number of states and of parameters.
    public let stateCount: Int
    public let parameterCount: Int
    /// The states at ``times`` of the latest ``solve(u0:p:)`` or ``valueAndGradient(u0:p:loss:)``.
    public var states: [[Double]] { _states }
    @usableFromInline var _states: [[Double]]
    @usableFromInline var cotangents: [[Double]]

    /// Validates everything a call will need (a probe at `u0`, `p` checks the sizes, the
    /// tolerances and the save times); `saveat: nil` saves the end of the span only.
    public init(
        model: Model, u0: [Double], tspan: (Double, Double), p: [Double], algorithm: Algorithm, options: SolveOptions,
        sensealg: Method
    ) throws(NeuralDEError) {
        try _requireFinite(u0, "u0")
        try _requireFinite(p, "p")
        let problem = ODEProblem(model: model, u0: u0, tspan: tspan, p: p)
        let plan: ObservationPlan
        do { plan = try ObservationPlan(problem, options: options) } catch { throw .sensitivity(error) }
        self.model = model
        self.algorithm = algorithm
        self.sensealg = sensealg
        self.tspan = tspan
        self.options = plan.options
        self.times = plan.times
        stateCount = u0.count
        parameterCount = p.count
        let zero = [Double](repeating: 0, count: u0.count)
        _states = [[Double]](repeating: zero, count: plan.times.count)
        cotangents = _states
    }

    @inlinable
    func _check(u0: [Double], p: [Double]) throws(NeuralDEError) {
        try _requireLength(u0, stateCount, "u0")
        try _requireLength(p, parameterCount, "p")
        try _requireFinite(u0, "u0")
        try _requireFinite(p, "p")
    }

    /// The states at ``times`` (also kept in ``states``).
    @inlinable @discardableResult
    public func solve(u0: [Double], p: [Double]) throws(NeuralDEError) -> [[Double]] {
        try _check(u0: u0, p: p)
        let problem = ODEProblem(model: model, u0: u0, tspan: tspan, p: p)
        let sol: ODESolution<Double>
        do { sol = try algorithm.solve(problem, options: options) } catch { throw .invalidInput(error) }
        guard sol.retcode.isSuccessful else { throw .solveFailed(retcode: sol.retcode, message: sol.message) }
        guard sol.u.count == times.count else {
            throw .solveFailed(retcode: sol.retcode, message: "saved \(sol.u.count) states for \(times.count) save times")
        }
        for k in 0..<times.count { _states[k] = sol.u[k] }
        return _states
    }

    /// `∂L/∂p` and `∂L/∂u0` from `∂L/∂u(t_k)` (`cotangents[k]`, one per save time) at `u0`, `p`.
    @inlinable
    public func pullback(u0: [Double], p: [Double], cotangents: [[Double]]) throws(NeuralDEError) -> SolvePullbackResult {
        try _check(u0: u0, p: p)
        guard cotangents.count == times.count else {
            throw .wrongLength(what: "cotangents", expected: times.count, got: cotangents.count)
        }
        for (k, c) in cotangents.enumerated() {
            try _requireLength(c, stateCount, "cotangents[\(k)]")
            try _requireFinite(c, "cotangents[\(k)]")
        }
        let problem = ODEProblem(model: model, u0: u0, tspan: tspan, p: p)
        let loss = CotangentLoss(times: times, cotangents: cotangents)
        do {
            let r = try gradient(of: loss, problem, algorithm: algorithm, options: options, sensealg: sensealg)
            return SolvePullbackResult(dp: r.dp, du0: r.du0, stats: r.stats, method: r.method)
        } catch { throw .sensitivity(error) }
    }

    /// A loss of the saved states and its gradient: `loss(states, &cotangents)` returns `L` and
    /// writes `∂L/∂u(t_k)` into `cotangents[k]` (zeroed before the call).
    @inlinable
    public func valueAndGradient(
        u0: [Double], p: [Double], loss: (_ states: [[Double]], _ cotangents: inout [[Double]]) throws -> Double
    ) throws -> (value: Double, gradient: SolvePullbackResult) {
        try solve(u0: u0, p: p)
        for k in cotangents.indices { for i in cotangents[k].indices { cotangents[k][i] = 0 } }
        let value = try loss(_states, &cotangents)
        guard value.isFinite else { throw NeuralDEError.nonFinite(what: "loss", index: 0) }
        return (value, try pullback(u0: u0, p: p, cotangents: cotangents))
    }
}
