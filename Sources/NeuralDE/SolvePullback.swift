// The solve as a differentiable layer: u0, p -> [u(t_1), ..., u(t_K)], with its pullback
// (∂L/∂u(t_k) for every k) -> (∂L/∂p, ∂L/∂u0) for any loss of the saved states.
//
// The pullback is the gradient of the linear loss L̃ = Σ_k c_kᵀ u(t_k) with c_k = ∂L/∂u(t_k)
// (Sensitivity's CotangentLoss), taken by a GradientContext that keeps the forward pass between
// the forward call and the pullback.

public import DiffEqCore
public import Sensitivity

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
/// `sensealg`: a training loop makes it once and calls ``solve(u0:p:)``,
/// ``pullback(u0:p:cotangents:)`` or ``valueAndGradient(u0:p:loss:)`` thousands of times.
///
/// It runs on a Sensitivity ``GradientContext`` (#15 item 7), which keeps between calls the
/// validated options and save times, the adjoint's workspace (buffers, and for a ``NetworkRHS``
/// the network's product workspace) and the forward pass of the latest point; the layer keeps the
/// saved states and their cotangents, refilled in place. ``solve(u0:p:)`` is that forward pass,
/// so ``pullback(u0:p:cotangents:)`` at the same `u0` and `p` (compared bit for bit) runs the
/// backward pass alone for ``InterpolatingAdjoint``, ``QuadratureAdjoint``, ``DiscreteAdjoint``
/// (``AutoSensitivity``'s choice for networks solved by explicit Runge-Kutta methods) and
/// ``BacksolveAdjoint``; at another point, or for the methods that carry
/// sensitivities forward, it runs the whole method. ``valueAndGradient(u0:p:loss:)`` is one
/// forward pass and one pullback. What each call still allocates is the solver's (integrator
/// caches, saved states, dense output).
///
/// Which `sensealg` can pull back arbitrary cotangents: all of them (the cotangents enter as the
/// linear point loss ``CotangentLoss``): ``InterpolatingAdjoint``, ``QuadratureAdjoint``,
/// ``BacksolveAdjoint``, ``ForwardDiffSensitivity``, ``ForwardSensitivity``, ``CVODESAdjoint``,
/// ``CVODESForward`` and ``AutoSensitivity``.
///
/// Not `Sendable`: one layer per task.
///
/// Performance: the call entry points are `@inlinable` so that the solver, the adjoint and the
/// network's generic right-hand side specialize in the caller; compiled generically inside this
/// module they ran on witness tables (perf: `NetworkRHS._run` and Tsit5's stage loop through
/// value witnesses), 21 → 8 ms CPU per tight spiral iteration. One tight spiral
/// ``valueAndGradient(u0:p:loss:)`` at the initial weights (QuadratureAdjoint; callgrind on
/// `neural-bench --malloc-gradients`, 11 calls minus 1, over 10): 8.47M instructions and 459
/// mallocs when the layer solved forward and the adjoint solved forward again; 7.59M and 377
/// with the forward pass kept; 7.52M with the state-only products of the backward solve. Of
/// those 7.5M, `tanh` (glibc, through `expm1`) is 2.2M: 407 network evaluations of 50 `tanh`
/// each, 74 in the forward solve and 333 inside products (the backward solve's stages and
/// three Gauss nodes per quadrature piece); the network's loops and BLAS about 3M; dense-output
/// evaluation 0.3M. Later in training the solves take more steps (about 2,900 evaluations per
/// gradient at iteration 30), and ``InterpolatingAdjoint``, which needs no quadrature nodes,
/// takes fewer products than the quadrature adjoint (1,278 against 2,175 there).
/// Then 7.28M instructions (same measurement, this build); 5.97M with NeuralNetworks' own tanh
/// (``_networkTanh(_:)``, about 70 instructions against glibc's 110) in every product, the
/// activation's case dispatched once per vector instead of per element, and the parameter
/// outer product of a one-column pullback as a loop (cblas_dgemm at k = 1 cost 0.4M per
/// gradient, cblas_dger, an axpy call per column, more). The forward solve's `rhs` stays on the
/// solver's scalar arithmetic (glibc's tanh for `Double`): 74 of the 407 evaluations.
/// Instructions per tight gradient later in training (`neural-bench --gradient-cost METHOD K N`,
/// callgrind at N = 1 and 3; K Adam iterations with the quadrature adjoint first): at K = 0
/// quadrature 5.97M (333 products) against interpolating 6.29M (228); K = 30, 36.8M (2,058)
/// against 32.7M (1,224); K = 100, 49.7M (2,829) against 39.3M (1,458). ``AutoSensitivity``
/// now chooses ``DiscreteAdjoint`` for a network solved by an explicit Runge-Kutta method: at
/// K = 0, 3.14M instructions (82 products, 82 recomputed stages).
public final class SolveLayer<Model: ODEModel, Algorithm: ODEAlgorithm, Method: SensitivityAlgorithm> {
    /// The gradient context every call runs on.
    public let context: GradientContext<Model, Algorithm, Method>
    public var model: Model { context.model }
    public var algorithm: Algorithm { context.algorithm }
    public var sensealg: Method { context.sensealg }
    public let tspan: (Double, Double)
    /// The options of every solve (saveat resolved to ``times``; no dense output).
    public var options: SolveOptions { context.options }
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
        do {
            context = try GradientContext(
                model: model, u0: u0, tspan: tspan, p: p, algorithm: algorithm, options: options, sensealg: sensealg)
        } catch { throw .sensitivity(error) }
        self.tspan = tspan
        self.times = context.times
        stateCount = u0.count
        parameterCount = p.count
        let zero = [Double](repeating: 0, count: u0.count)
        _states = [[Double]](repeating: zero, count: context.times.count)
        cotangents = _states
    }

    @inlinable
    func _check(u0: [Double], p: [Double]) throws(NeuralDEError) {
        try _requireLength(u0, stateCount, "u0")
        try _requireLength(p, parameterCount, "p")
        try _requireFinite(u0, "u0")
        try _requireFinite(p, "p")
    }

    /// The states at ``times`` (also kept in ``states``), by the forward pass of the layer's
    /// `sensealg`, kept for a pullback at the same point.
    @inlinable @discardableResult
    public func solve(u0: [Double], p: [Double]) throws(NeuralDEError) -> [[Double]] {
        try _check(u0: u0, p: p)
        let observed: [[Double]]
        do { observed = try context.forward(u0: u0, p: p) } catch { throw _forwardError(error) }
        guard observed.count == times.count else {
            throw .solveFailed(retcode: .failure, message: "saved \(observed.count) states for \(times.count) save times")
        }
        for k in 0..<times.count {
            let row = observed[k]
            _states[k].withUnsafeMutableBufferPointer { s in for i in 0..<s.count { s[i] = row[i] } }
        }
        return _states
    }

    /// `∂L/∂p` and `∂L/∂u0` from `∂L/∂u(t_k)` (`cotangents[k]`, one per save time) at `u0`, `p`:
    /// the backward pass alone when the latest ``solve(u0:p:)`` was at this point.
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
        if !context.hasForwardPass(u0: u0, p: p) {
            do { _ = try context.forward(u0: u0, p: p) } catch { throw _forwardError(error) }
        }
        do {
            let r = try context.pullback(cotangents)
            return SolvePullbackResult(dp: r.dp, du0: r.du0, stats: r.stats, method: r.method)
        } catch { throw .sensitivity(error) }
    }

    /// A loss of the saved states and its gradient: `loss(states, &cotangents)` returns `L` and
    /// writes `∂L/∂u(t_k)` into `cotangents[k]` (zeroed before the call). One forward pass and
    /// one pullback.
    @inlinable
    public func valueAndGradient(
        u0: [Double], p: [Double], loss: (_ states: [[Double]], _ cotangents: inout [[Double]]) throws -> Double
    ) throws -> (value: Double, gradient: SolvePullbackResult) {
        try solve(u0: u0, p: p)
        for k in cotangents.indices {
            cotangents[k].withUnsafeMutableBufferPointer { c in c.update(repeating: 0) }
        }
        let value = try loss(_states, &cotangents)
        guard value.isFinite else { throw NeuralDEError.nonFinite(what: "loss", index: 0) }
        return (value, try pullback(u0: u0, p: p, cotangents: cotangents))
    }
}

/// A forward pass's failure as the layer reports it: a solve that stopped is
/// ``NeuralDEError/solveFailed(retcode:message:)``, invalid input ``NeuralDEError/invalidInput(_:)``.
@inlinable
func _forwardError(_ error: SensitivityError) -> NeuralDEError {
    switch error {
    case .solveFailed(_, let retcode, let message): return .solveFailed(retcode: retcode, message: message)
    case .invalidInput(let e): return .invalidInput(e)
    default: return .sensitivity(error)
    }
}
