// Gradients of a loss of a delay equation's solution with respect to the parameters (the lags
// and the history's parameters among them) and the initial state, chosen by a `sensealg` value
// as for ODEs (Sensitivity's `gradient(of:_:algorithm:options:sensealg:)`): forward mode (dual
// numbers through the method of steps) and a discrete adjoint (the method of steps recorded on
// the reverse-mode tape and pulled back once).
//
// Both differentiate the same discrete computation: the steps, the stops at the propagated
// discontinuities and the side of each discontinuity a stage reads are fixed by the primal
// solve, and a lag that is a parameter enters through the time argument of every delayed read,
// `u(t − τ) + u'(t − τ)·d(t − τ)` (DDEHistory). When the problem's one constant lag is a
// parameter, that computation runs in the lag-scaled time `s` (`lagTimeScale`), where the stops
// `t0 + kτ` are fixed step points and every step point moves with τ: differentiating it
// differentiates the grid too (without it the frozen-step map has a kink in τ and the adjoint
// was 2.2e-3 off at reltol 1e-8). Where `f` itself jumps at a point that moves and is not
// scaled (u0 ≠ φ(t0) without the scaling, and the located points of state-dependent lags that
// cross t0) the state takes the saltation term `(f_L − f_R)·dt*/dx` (`jumpCorrected`,
// DependentLagTracking.swift), without which both were off by 16-172%. The tests compare with
// central differences, which move the stops (see DESIGN.md, delay equations).

import AutoDiff
import DiffEqCore
import Sensitivity

/// Why a gradient of a delay equation's solution could not be computed.
public enum DDEGradientError: Error, Equatable, CustomStringConvertible, Sendable {
    /// The problem or options are invalid (checked before any work, as for ``solve(_:_:options:)``).
    case invalidInput(DDEError)
    /// A solve of the gradient did not reach its end.
    case solveFailed(phase: String, retcode: ReturnCode, message: String?)
    /// The solves succeeded but the loss or a gradient entry is NaN or infinite.
    case nonFiniteResult(String)

    public var description: String {
        switch self {
        case .invalidInput(let e): return "invalid input: \(e)"
        case .solveFailed(let phase, let code, let message):
            return "the \(phase) solve stopped with \(code)" + (message.map { ": \($0)" } ?? "")
        case .nonFiniteResult(let why): return "non-finite result: \(why)"
        }
    }
}

/// How the gradient of a loss of a delay equation's solution is computed (the `sensealg` of
/// ``gradient(of:_:_:options:sensealg:wrt:)``). ``ForwardDiffSensitivity`` and
/// ``ReverseDiffAdjoint`` conform, as in SciMLSensitivity.jl, whose continuous adjoints do not
/// apply to delay equations either.
public protocol DDESensitivityAlgorithm: Sendable {
    var name: String { get }

    /// The gradient of `L = Σ_k g(u(t_k), t_k)` over the states the solve saves with
    /// `plan.options`; called by ``gradient(of:_:_:options:sensealg:wrt:)``, which has checked
    /// the problem.
    func ddeGradient<M: DDEModel, L: PointLoss, A: MethodOfStepsAlgorithm>(
        of loss: L, _ problem: DDEProblem<GenericDDE<M, Double>>, _ method: MethodOfSteps<A>,
        plan: DDEObservationPlan
    ) throws(DDEGradientError) -> SensitivityResult
}

/// The checked options of a delay-equation gradient: the observation times are the `saveat`
/// times (the end of the span when `saveat` is `nil`), and only they are saved.
public struct DDEObservationPlan: Sendable {
    /// The options of every solve the gradient runs.
    public let options: SolveOptions
    /// What the gradient is taken with respect to.
    public let inputs: GradientInputs

    @inlinable
    public init<F: DDEFunction>(
        _ problem: DDEProblem<F>, options: SolveOptions, wrt inputs: GradientInputs
    ) throws(DDEGradientError) {
        do { _ = try problem.validate() } catch { throw .invalidInput(error) }
        var opts = options
        if opts.saveat == nil { opts.saveat = .times([problem.tspan.1]) }
        if case .times(let ts) = opts.saveat, ts.isEmpty {
            throw .invalidInput(.solve(.invalidSaveAt(
                "no observation times (saveat is empty), so the loss has no terms; pass saveat: nil to observe the end of the span")))
        }
        opts.saveEverystep = false
        self.options = opts
        self.inputs = inputs
    }
}

/// The gradient of `L = Σ_k g(u(t_k), t_k)` (the `t_k` are `options.saveat`, or the end of the
/// span) with respect to `p` (including lags given as parameters, `constantLagParameters`, and
/// whatever parameters the initial history reads) and `u0`, for a delay equation in the generic
/// model form, with the method `sensealg`:
///
/// ```swift
/// let prob = DDEProblem(model: Hutchinson(), u0: [0.5], tspan: (0, 10), p: [1.8, 1, 1, 0.5],
///                       constantLagParameters: [2])
/// let r = try gradient(of: SumOfSquaresLoss(), prob, MethodOfSteps(Tsit5()),
///                      options: SolveOptions(reltol: 1e-8, abstol: 1e-10), sensealg: ReverseDiffAdjoint())
/// r.dp   // dL/d(r, K, τ, φ)
/// r.du0
/// ```
///
/// Invalid input throws ``DDEGradientError/invalidInput(_:)`` before any work (the checks of
/// ``DDEProblem/validate()``); a solve that fails throws ``DDEGradientError/solveFailed(phase:retcode:message:)``.
@inlinable
public func gradient<M: DDEModel, L: PointLoss, A: MethodOfStepsAlgorithm, S: DDESensitivityAlgorithm>(
    of loss: L, _ problem: DDEProblem<GenericDDE<M, Double>>, _ method: MethodOfSteps<A>, options: SolveOptions,
    sensealg: S, wrt inputs: GradientInputs = .parametersAndInitialState
) throws(DDEGradientError) -> SensitivityResult {
    let plan = try DDEObservationPlan(problem, options: options, wrt: inputs)
    var r = try sensealg.ddeGradient(of: loss, problem, method, plan: plan)
    if inputs == .parameters { r.du0 = [] }
    guard r.loss.isFinite else { throw .nonFiniteResult("the loss is \(r.loss) at an observed state") }
    if let k = r.dp.firstIndex(where: { !$0.isFinite }) { throw .nonFiniteResult("dL/dp[\(k)] is \(r.dp[k]) (\(r.method))") }
    if let k = r.du0.firstIndex(where: { !$0.isFinite }) { throw .nonFiniteResult("dL/du0[\(k)] is \(r.du0[k]) (\(r.method))") }
    return r
}

/// A solve of the gradient, its errors and failures converted: the observed states (see
/// `_ddeObservations`) at the saved times, and the solve's statistics.
@inlinable
func _ddeSolve<D: DDEFunction, A: MethodOfStepsAlgorithm>(
    _ problem: DDEProblem<D>, _ method: MethodOfSteps<A>, _ options: SolveOptions, phase: String
) throws(DDEGradientError) -> (u: [[D.Scalar]], t: [Double], stats: SolverStats) {
    let run: (solution: ODESolution<D.Scalar>, history: DDEHistory<D.Scalar>)
    do { run = try _methodOfSteps(problem, method, options: options) } catch { throw .invalidInput(error) }
    let sol = run.solution
    guard sol.retcode.isSuccessful else { throw .solveFailed(phase: phase, retcode: sol.retcode, message: sol.message) }
    return (_ddeObservations(sol, run.history, problem, method), sol.t, sol.stats)
}

/// The lag-scaled time of a gradient solve (`MethodOfSteps.lagTimeScaling`): when the problem's
/// one constant lag is the parameter `p[i]` (no numeric constant lags, no state-dependent lags,
/// not neutral) and the scalar carries derivatives, `(ε, τ̄)` with `ε = p[i] − τ̄` (value zero,
/// the lag's derivative parts) and `τ̄` its value; `nil` otherwise.
///
/// Why: the stops `t0 + kτ` move with τ, so the solve with its steps frozen (the map the discrete
/// adjoint differentiates) is not differentiable in τ when a stop is a step point: a stage at
/// the stop reads `u(t0 + (k−1)τ)` from one side, and any change of τ puts the point it reads
/// inside a step on the other (one-sided dL/dτ 62.92 and 66.52 on the seed's loss with Tsit5 at
/// reltol 1e-8, against 66.370). Substituting `t = t0 + (τ/τ̄)(s − t0)` makes every step point a
/// smooth function of τ, `t_n(τ) = t0 + (τ/τ̄)(s_n − t0)`, and every stop `t0 + kτ` the fixed
/// `s = t0 + kτ̄`: the equation in s, `dv/ds = (τ/τ̄) f(v(s), v(s − τ̄), p, t(s))`, has the
/// constant lag τ̄ and its discontinuities at fixed step points, so its frozen map is smooth in
/// τ and differentiating it adds exactly the terms `∂L/∂t_n · dt_n/dτ` of the moving grid. The
/// values are unchanged (ε = 0); an observation at `t` is `v(s(t))`, `s(t) = t0 + (τ̄/τ)(t − t0)`,
/// which `_ddeObservations` differentiates. Several lags (points `t0 + Σ n_i τ_i`, which no one
/// linear map fixes) and state-dependent lags are left to the unscaled solve.
@inlinable
func lagTimeScale<D: DDEFunction>(_ problem: DDEProblem<D>) -> (epsilon: D.Scalar, lag: Double)? {
    guard D.Scalar.componentCount > 1 || D.Scalar.self is any _TapeTimeScalar.Type else { return nil }
    guard problem.constantLags.isEmpty, problem.dependentLags.isEmpty, !problem.neutral,
          let i = problem.constantLagParameters.first,
          problem.constantLagParameters.allSatisfy({ $0 == i })
    else { return nil }
    let lag = problem.p[i]
    return (lag - D.Scalar(lag.primal), lag.primal)
}

/// The observed states of a gradient solve: under the lag-scaled time (`lagTimeScale`) the
/// state saved at `s = t` is `v(t)`, and `u(t) = v(s(t))` to first order in ε is
/// `v(t) − v'(t)·ε(t − t0)/τ̄`, with `v'(t) = f(u(t), h, p, t)` (its primal only) evaluated on
/// the solve's own history. Not the dense output's derivative: its error, amplified by
/// `(t − t0)/τ̄`, was the whole of the adjoint's error in dL/dτ on the seed's loss with Tsit5
/// at reltol 1e-8 (7.9e-5 of 66.37; u' up to 2.6e-5 relative off at the observations).
@inlinable
func _ddeObservations<D: DDEFunction, A: MethodOfStepsAlgorithm>(
    _ sol: ODESolution<D.Scalar>, _ history: DDEHistory<D.Scalar>, _ problem: DDEProblem<D>, _ method: MethodOfSteps<A>
) -> [[D.Scalar]] {
    guard method.lagTimeScaling, let (epsilon, lag) = history.lagScaling else { return sol.u }
    var out = sol.u
    var slope = problem.u0
    // Read the accepted steps as they are, at the observation's own time.
    history.couplingStep = 0
    history.lagScaling = nil
    for k in out.indices {
        let shift = (sol.t[k] - problem.tspan.0) / lag
        guard shift != 0 else { continue }
        history.stageTime = sol.t[k]
        problem.f(&slope, sol.u[k].map { D.Scalar($0.primal) }, history, problem.p.map { D.Scalar($0.primal) }, D.Scalar(sol.t[k]))
        for m in out[k].indices { out[k][m] = out[k][m] - epsilon.scaled(by: slope[m].primal * shift) }
    }
    return out
}

/// The problem's model run under the scalar `S`, with the same lags.
@inlinable
func _ddeRetyped<M: DDEModel, S: DiffEqScalar>(
    _ problem: DDEProblem<GenericDDE<M, Double>>, u0: [S], p: [S]
) -> DDEProblem<GenericDDE<M, S>> {
    DDEProblem(
        GenericDDE(problem.f.model, as: S.self), u0: u0, tspan: problem.tspan, p: p,
        constantLags: problem.constantLags, constantLagParameters: problem.constantLagParameters,
        dependentLags: problem.dependentLags)
}

extension ForwardDiffSensitivity: DDESensitivityAlgorithm {
    /// Forward mode through the method of steps: `p` and `u0` seeded in chunks of 8 directions
    /// (`Dual<8, Double>`), each direction scaled by the size of its input as for ODEs (the step
    /// control sees `x_j ∂u/∂x_j`), `ceil((np + n) / 8)` dual solves. One dual width only: each
    /// width is the whole method of steps compiled again.
    @inlinable
    public func ddeGradient<M: DDEModel, L: PointLoss, A: MethodOfStepsAlgorithm>(
        of loss: L, _ problem: DDEProblem<GenericDDE<M, Double>>, _ method: MethodOfSteps<A>,
        plan: DDEObservationPlan
    ) throws(DDEGradientError) -> SensitivityResult {
        typealias D = Dual<8, Double>
        let p = problem.p, u0 = problem.u0
        let np = p.count, n = u0.count
        let total = np + (plan.inputs == .parameters ? 0 : n)
        var result = SensitivityResult(
            loss: 0, dp: [Double](repeating: 0, count: np), du0: [Double](repeating: 0, count: n),
            stats: SensitivityStats(), method: "ForwardDiffSensitivity (method of steps on Dual<8>)")
        var offset = 0
        repeat {
            let width = Swift.min(8, total - offset)
            var scales = [Double](repeating: 1, count: width)
            func seeded(_ x: [Double], first: Int) -> [D] {
                x.indices.map { i in
                    var d = D(constant: x[i])
                    let j = first + i - offset
                    if j >= 0 && j < width {
                        let s = x[i] == 0 ? 1 : Swift.abs(x[i])
                        scales[j] = s
                        d.partials[j] = s
                    }
                    return d
                }
            }
            let pd = seeded(p, first: 0), ud = seeded(u0, first: np)
            var scaled = method
            scaled.lagTimeScaling = method.lagScaledGradients
            let dual = _ddeRetyped(problem, u0: ud, p: pd)
            let sol = try _ddeSolve(dual, scaled, plan.options, phase: "forward (dual)")
            var l = D.zero
            for (u, t) in zip(sol.u, sol.t) { l += loss(u, t) }
            result.loss = l.value
            for j in 0..<width {
                let g = l.partials[j] / scales[j]
                let k = offset + j
                if k < np { result.dp[k] = g } else { result.du0[k - np] = g }
            }
            result.stats.forwardEvaluations += sol.stats.nf
            result.stats.forwardSteps += sol.stats.naccept
            result.stats.peakStoredStates = Swift.max(result.stats.peakStoredStates, sol.u.count)
            offset += width
        } while offset < total
        return result
    }
}

/// The discrete adjoint of the method of steps (SciMLSensitivity.jl's `ReverseDiffAdjoint`: reverse
/// mode through the solver): the solve runs once on the reverse-mode tape scalar (``Tracked``),
/// with `p` and `u0` as the tape's variables, the loss is evaluated on the tracked observations
/// and one reverse sweep gives `dL/dp` and `dL/du0` together, whatever their number. It is the
/// exact derivative of the discrete solution with the steps the primal step control chose (in the
/// lag-scaled time `s` of `lagTimeScale` when the one constant lag is a parameter, so that the
/// step points, the stops `t0 + kτ` among them, move with τ; elsewhere the step sizes and stops
/// are not differentiated, but where `f` jumps at a moving stop the state takes the jump's
/// derivative, as in forward mode); forward mode differs from it only through its step control,
/// which also sees the partials.
///
/// Accuracy: the step control sees `u` alone, so a derivative the steps do not resolve is only as
/// good as they make it. Measured with Tsit5 at reltol 1e-8, abstol 1e-10
/// (`lagDerivativeAtLooseTolerance`): every entry of Hutchinson's and the delay Lotka-Volterra's
/// gradients within 3.3e-7 of converged central differences for both (the worst, dL/dτ of the
/// latter: adjoint 2.9e-7, forward mode 3.3e-7). Solved in t with the steps frozen the adjoint's
/// was 2.2e-3 off: that map is not differentiable in τ (one-sided dL/dτ 62.918 and 66.516; in s
/// 66.37036766 and 66.37036736, `frozenStepMapIsSmoothInTheLagOnlyInScaledTime`). At tight
/// tolerances (Vern9, 1e-12) the adjoint and forward mode agree to 1e-10.
///
/// Memory: the tape holds every scalar operation of the solve (each stage's right-hand side and
/// delayed reads, the stage sums, the error estimates and the saved interpolations), about
/// 41 bytes per operation, so it grows with steps × stages × (operations of `f` + state size ×
/// stages). Measured (`DDEAdjointTests`, Vern9 at reltol = abstol = 1e-12 on [0, 10], in the
/// lag-scaled time, whose map adds a few operations per evaluation of `f`): Hutchinson, 91 steps,
/// 217,556 slots (8.9 MB); the delay Lotka-Volterra with 101 observations, 79 steps, 447,873
/// slots (18.4 MB). For long horizons or large states prefer
/// ``ForwardDiffSensitivity`` while the directions are few.
///
/// Performance: every operation is recorded, including the step control's arithmetic, which
/// the sweep then skips (a zero adjoint contributes nothing); recording is a store per
/// operation, so the solve costs a few times the plain one.
public struct ReverseDiffAdjoint: DDESensitivityAlgorithm, Sendable {
    /// Slots the tape reserves before it first grows (it doubles as needed).
    public var initialTapeCapacity: Int

    public init(initialTapeCapacity: Int = 1 << 16) {
        self.initialTapeCapacity = initialTapeCapacity
    }

    public var name: String { "ReverseDiffAdjoint" }

    @inlinable
    public func ddeGradient<M: DDEModel, L: PointLoss, A: MethodOfStepsAlgorithm>(
        of loss: L, _ problem: DDEProblem<GenericDDE<M, Double>>, _ method: MethodOfSteps<A>,
        plan: DDEObservationPlan
    ) throws(DDEGradientError) -> SensitivityResult {
        try _gradientAndTapeSize(of: loss, problem, method, plan: plan).result
    }

    /// The gradient and the number of tape slots it recorded (41 bytes each).
    @inlinable
    func _gradientAndTapeSize<M: DDEModel, L: PointLoss, A: MethodOfStepsAlgorithm>(
        of loss: L, _ problem: DDEProblem<GenericDDE<M, Double>>, _ method: MethodOfSteps<A>,
        plan: DDEObservationPlan
    ) throws(DDEGradientError) -> (result: SensitivityResult, tapeSlots: Int) {
        let tape = ReverseTape(capacity: Swift.max(initialTapeCapacity, 16))
        return try withExtendedLifetime(tape) { () throws(DDEGradientError) in
            let np = problem.p.count
            let pt = tape.variables(problem.p)
            let ut = tape.variables(problem.u0)
            var scaled = method
            scaled.lagTimeScaling = method.lagScaledGradients
            let taped = _ddeRetyped(problem, u0: ut, p: pt)
            let sol = try _ddeSolve(taped, scaled, plan.options, phase: "forward (tape)")
            var l = Tracked.zero
            for (u, t) in zip(sol.u, sol.t) { l += loss(u, t) }
            tape.pullback(output: l)
            let adjoints = tape.variableAdjoints()
            var stats = SensitivityStats(forward: sol.stats)
            stats.peakStoredStates = sol.u.count
            let r = SensitivityResult(
                loss: l.value, dp: Array(adjoints[0..<np]), du0: Array(adjoints[np...]), stats: stats, method: name)
            return (r, tape.count)
        }
    }
}

/// Scalars that record on the reverse-mode tape: a delayed read at a tracked time always takes
/// the chain rule through its time argument (a tracked zero `t − primal(t)` carries the lag's
/// adjoint), where a dual scalar takes it only when its partials are nonzero.
@usableFromInline protocol _TapeTimeScalar {}
extension Tracked: _TapeTimeScalar {}
