// A prepared gradient for a training loop (issue #15 item 7): the observation plan is validated
// once, the method's workspace (the adjoint's buffers, the VJP engine with its tape or the
// model's own product workspace) is made once, and the forward pass of the latest point is kept
// so that a pullback of cotangents known only after the forward solve (any loss of the saved
// states) costs the backward pass alone.

import DiffEqCore

/// The storage a method keeps between the calls of one ``GradientContext``: its workspace and
/// the forward pass of the latest point. Opaque to users; a method that keeps nothing ignores it.
///
/// Not `Sendable`: it is one context's mutable state, used on one task at a time.
public final class GradientWorkspace {
    /// The adjoint methods' ``_AdjointWorkspace`` (found again by one cast per gradient).
    @usableFromInline var adjoint: AnyObject?
    /// ``DiscreteAdjoint``'s ``_DiscreteAdjointWorkspace``.
    @usableFromInline var discrete: AnyObject?
    /// The forward pass at the current point, kept for the next gradient at the same point.
    @usableFromInline var kept: _KeptForward?

    public init() {}

    /// The adjoint workspace for `model`, made on first use and reset to `p` afterwards.
    @inlinable
    func _adjointWorkspace<M: ODEModel>(_ model: M, p: [Double], n: Int) -> _AdjointWorkspace<M> {
        if let ws = adjoint as? _AdjointWorkspace<M>, ws.n == n, ws.np == p.count {
            ws.reset(p: p)
            return ws
        }
        let ws = _AdjointWorkspace(model, p: p, n: n)
        adjoint = ws
        return ws
    }
}

extension GradientWorkspace {
    /// The forward pass kept at this point when it is of the kind the caller's backward pass
    /// reads (`dense`: every step and the dense output; otherwise the observations alone), else
    /// the one `run` makes now (which keeps it).
    @inlinable
    func _keptForward(
        dense: Bool, orRun run: () throws(SensitivityError) -> _KeptForward
    ) throws(SensitivityError) -> _KeptForward {
        if let kept, kept.dense == dense { return kept }
        return try run()
    }
}

/// A method whose gradient works in a ``GradientWorkspace`` (the adjoints, and
/// ``AutoSensitivity`` choosing among methods): its gradient without one is the gradient with a
/// new workspace, so that the two cannot differ.
@usableFromInline
protocol _WorkspaceSensitivityAlgorithm: SensitivityAlgorithm {}

extension _WorkspaceSensitivityAlgorithm {
    @inlinable
    public func gradient<M: ODEModel, L: PointLoss, A: ODEAlgorithm>(
        of loss: L, _ problem: ODEProblem<GenericRHS<M, Double>>, algorithm: A, plan: ObservationPlan
    ) throws(SensitivityError) -> SensitivityResult {
        try gradient(of: loss, problem, algorithm: algorithm, plan: plan, workspace: GradientWorkspace())
    }
}

/// A forward pass kept for the backward pass: the states at the observation times and, for the
/// interpolating adjoints, the solution with its dense output.
@usableFromInline
struct _KeptForward {
    @usableFromInline var observed: [[Double]]
    @usableFromInline var solution: ODESolution<Double>
    /// Whether `solution` has every step and the dense output (the interpolating adjoints'
    /// forward pass) or only the observations.
    @usableFromInline var dense: Bool

    @inlinable
    init(observed: [[Double]], solution: ODESolution<Double>, dense: Bool) {
        self.observed = observed
        self.solution = solution
        self.dense = dense
    }
}

/// The linear point loss `Σ_k c_kᵀ u(t_k)` whose gradient is the solve's pullback of the
/// cotangents `c_k = ∂L/∂u(t_k)`: `dL̃/dp = Σ_k c_kᵀ ∂u(t_k)/∂p = ∂L/∂p` by the chain rule with the
/// `c_k` held fixed, so every `sensealg` pulls back arbitrary cotangents through its point-loss
/// interface. Times repeated in `times` share their cotangents' sum (the observation plan
/// evaluates the loss once per repetition).
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

/// A gradient prepared once for one model, solver, span, observation times, tolerances and
/// `sensealg`, then taken many times at new `u0` and `p` (a training loop):
///
/// ```swift
/// let context = try GradientContext(
///     model: LotkaVolterra(), u0: [1, 1], tspan: (0, 10), p: p, algorithm: Tsit5(),
///     options: SolveOptions(reltol: 1e-8, abstol: 1e-8, saveat: .every(0.1)), sensealg: QuadratureAdjoint())
/// for _ in 0..<1000 {
///     let r = try context.gradient(of: loss, u0: [1, 1], p: p)      // a point loss
///     ...
///     let states = try context.forward(u0: [1, 1], p: p)             // or any loss of the states:
///     let g = try context.pullback(cotangents)                        // ∂L/∂u(t_k) -> ∂L/∂p, ∂L/∂u0
/// }
/// ```
///
/// What it keeps between calls: the validated options and observation times (one
/// ``ObservationPlan``, checked at `init`; a call checks only the lengths of `u0` and `p` and
/// that `u0` is finite), the adjoint's workspace (its buffers, the VJP engine with its
/// reverse-mode tape or the model's own ``ODEModelWithVJP`` workspace, made once), and the
/// forward pass of the latest ``forward(u0:p:)``: for ``InterpolatingAdjoint``,
/// ``QuadratureAdjoint`` (and ``AutoSensitivity`` when it chooses it) and ``BacksolveAdjoint``, a
/// ``pullback(_:)`` after ``forward(u0:p:)`` runs the backward pass only, where a gradient of a
/// loss known only after the forward solve used to cost two forward solves. The other methods
/// carry their sensitivities forward, so their pullback runs the whole method again (as before).
///
/// What each call still allocates is the solver's: the forward and backward integrators' caches,
/// the saved states and the dense outputs (their size grows with the number of steps; the
/// `ODEAlgorithm` protocol offers no way to hand a solve its storage back).
///
/// Results equal those of ``gradient(of:_:algorithm:options:sensealg:wrt:)`` at the same point
/// bit for bit (`GradientContextTests`).
///
/// Not `Sendable`: mutable per-gradient state, as an integrator (DESIGN.md §10); each task makes
/// its own context.
public final class GradientContext<Model: ODEModel, Algorithm: ODEAlgorithm, Method: SensitivityAlgorithm> {
    public let model: Model
    public let algorithm: Algorithm
    public let sensealg: Method
    /// The number of states and of parameters every call must give.
    public let stateCount: Int
    public let parameterCount: Int
    /// The plan of the latest call (that of `init` before any).
    @usableFromInline var plan: ObservationPlan
    @usableFromInline let workspace = GradientWorkspace()
    /// The point of the kept forward pass (``forward(u0:p:)``), if any.
    @usableFromInline var forwardPoint: (u0: [Double], p: [Double])?

    /// The observation times, ascending.
    @inlinable public var times: [Double] { plan.times }
    /// The options of the forward solve (`saveat` resolved to ``times``).
    @inlinable public var options: SolveOptions { plan.options }
    /// The time span, resolved.
    @inlinable public var tspan: (Double, Double) { (plan.t0, plan.t1) }

    /// Validates the problem and options as ``gradient(of:_:algorithm:options:sensealg:wrt:)``
    /// does (`u0` and `p` give the sizes every call must have); no solve yet.
    @inlinable
    public init(
        model: Model, u0: [Double], tspan: (Double, Double), p: [Double], algorithm: Algorithm, options: SolveOptions,
        sensealg: Method, wrt inputs: GradientInputs = .parametersAndInitialState
    ) throws(SensitivityError) {
        let problem = ODEProblem(model: model, u0: u0, tspan: tspan, p: p)
        plan = try ObservationPlan(problem, options: options, wrt: inputs)
        self.model = model
        self.algorithm = algorithm
        self.sensealg = sensealg
        stateCount = u0.count
        parameterCount = p.count
    }

    /// Checks the sizes (and that `u0` is finite, as the plan did at `init`) and moves the plan to
    /// `u0`, `p`.
    @inlinable
    func _moveTo(u0: [Double], p: [Double]) throws(SensitivityError) {
        guard u0.count == stateCount else {
            throw .invalidInput(.dimensionMismatch(what: "u0", expected: stateCount, got: u0.count))
        }
        guard p.count == parameterCount else {
            throw .invalidInput(.dimensionMismatch(what: "p", expected: parameterCount, got: p.count))
        }
        if let i = u0.firstIndex(where: { !$0.isFinite }) { throw .invalidInput(.nonFiniteInitialState(component: i)) }
        plan = plan._moved(u0: u0, p: p)
    }

    @inlinable
    var _problem: ODEProblem<GenericRHS<Model, Double>> {
        ODEProblem(model: model, u0: plan.u0, tspan: (plan.t0, plan.t1), p: plan.p)
    }

    /// The gradient of `L = Σ_k g(u(t_k), t_k)` at `u0`, `p`, as
    /// ``gradient(of:_:algorithm:options:sensealg:wrt:)`` gives it.
    @inlinable
    public func gradient<L: PointLoss>(of loss: L, u0: [Double], p: [Double]) throws(SensitivityError)
        -> SensitivityResult
    {
        try _moveTo(u0: u0, p: p)
        workspace.kept = nil
        forwardPoint = nil
        return try _restricted(
            sensealg.gradient(of: loss, _problem, algorithm: algorithm, plan: plan, workspace: workspace), to: plan)
    }

    /// The states at the observation times from `u0`, `p`; what the method's backward pass needs
    /// from this forward pass is kept for ``pullback(_:)``.
    @inlinable
    public func forward(u0: [Double], p: [Double]) throws(SensitivityError) -> [[Double]] {
        try _moveTo(u0: u0, p: p)
        workspace.kept = nil
        forwardPoint = nil
        let states = try sensealg.forwardPass(_problem, algorithm: algorithm, plan: plan, workspace: workspace)
        forwardPoint = (u0, p)
        return states
    }

    /// Whether the kept forward pass is at `u0`, `p` (compared bit for bit).
    @inlinable
    public func hasForwardPass(u0: [Double], p: [Double]) -> Bool {
        guard let point = forwardPoint else { return false }
        return point.u0 == u0 && point.p == p
    }

    /// `∂L/∂p` and `∂L/∂u0` from the cotangents `∂L/∂u(t_k)` (one per observation time, each of
    /// the state's length), at the point of the latest ``forward(u0:p:)``. The result's `loss` is
    /// `Σ_k c_kᵀ u(t_k)`, the linear functional whose gradient this is.
    @inlinable
    public func pullback(_ cotangents: [[Double]]) throws(SensitivityError) -> SensitivityResult {
        guard forwardPoint != nil else {
            throw .unsupported("a pullback needs a forward pass first: call forward(u0:p:)")
        }
        guard cotangents.count == plan.times.count else {
            throw .invalidInput(.dimensionMismatch(what: "cotangents", expected: plan.times.count, got: cotangents.count))
        }
        for (k, c) in cotangents.enumerated() {
            guard c.count == stateCount else {
                throw .invalidInput(.dimensionMismatch(what: "cotangents[\(k)]", expected: stateCount, got: c.count))
            }
            if let i = c.firstIndex(where: { !$0.isFinite }) {
                throw .nonFiniteResult("cotangents[\(k)][\(i)] is \(c[i])")
            }
        }
        let loss = CotangentLoss(times: plan.times, cotangents: cotangents)
        return try _restricted(
            sensealg.gradient(of: loss, _problem, algorithm: algorithm, plan: plan, workspace: workspace), to: plan)
    }
}

extension ObservationPlan {
    /// The same plan at another initial state and parameters of the same sizes.
    @inlinable
    func _moved(u0: [Double], p: [Double]) -> ObservationPlan {
        ObservationPlan(
            _t0: t0, t1: t1, u0: u0, p: p, times: times, options: options, inputs: inputs)
    }
}
