// The gradient of a loss of an ODE solution with respect to the parameters and the initial
// state, by a method chosen with a `sensealg` value, as `Zygote.gradient` over `solve(...;
// sensealg = ...)` in SciMLSensitivity.jl.
//
// References for the methods:
// - Y. Cao, S. Li, L. Petzold, R. Serban, "Adjoint sensitivity analysis for differential-algebraic
//   equations: the adjoint DAE system and its numerical solution", SIAM J. Sci. Comput. 24 (2003)
//   1076-1089 (the continuous adjoint with jumps at observation times, and the forward
//   sensitivity equations it is compared with).
// - R. T. Q. Chen, Y. Rubanova, J. Bettencourt, D. Duvenaud, "Neural ordinary differential
//   equations", NeurIPS 2018 (the adjoint that re-solves the state backward: BacksolveAdjoint).
// - Y. Ma, V. Dixit, M. Innes, X. Guo, C. Rackauckas, "A comparison of automatic differentiation
//   and continuous sensitivity analysis for derivatives of differential equation solutions",
//   arXiv:1812.01892 (the interpolating and quadrature adjoints, and when each method wins).

import AutoDiff
import DiffEqCore
import ExplicitRK

/// A loss of the state at one observation time, written once over the scalar protocol so that it
/// runs on dual numbers (forward-mode methods differentiate it together with the solve; the
/// adjoint methods take its gradient `∂g/∂u` with dual numbers).
///
/// The loss of a solution is `L = Σ_k g(u(t_k), t_k)` over the observation times `t_k` (the
/// `saveat` times of the options; the end of the span when there is no `saveat`).
///
/// ```swift
/// struct SumOfSquares: PointLoss {
///     func callAsFunction<S: DiffEqScalar>(_ u: [S], _ t: Double) -> S {
///         var s = S.zero
///         for x in u { s += x * x }
///         return s
///     }
/// }
/// ```
public protocol PointLoss {
    func callAsFunction<S: DiffEqScalar>(_ u: [S], _ t: Double) -> S
}

extension PointLoss {
    /// `g(u, t)` and `∂g/∂u` (written into `gradient`, resized to the length of `u` if needed)
    /// by forward-mode AD in chunks of 8 directions.
    @inlinable
    public func valueAndGradient(at u: [Double], _ t: Double, into gradient: inout [Double]) -> Double {
        typealias D = Dual<8, Double>
        let n = u.count
        // A buffer of another length used to trap (index out of range) when shorter and keep
        // stale entries when longer.
        if gradient.count != n { gradient = [Double](repeating: 0, count: n) }
        var ud = u.map { D(constant: $0) }
        var value = 0.0
        var offset = 0
        repeat {
            let width = Swift.min(8, n - offset)
            for j in 0..<width { ud[offset + j].partials[j] = 1 }
            let y: D = self(ud, t)
            value = y.value
            for j in 0..<width {
                gradient[offset + j] = y.partials[j]
                ud[offset + j].partials[j] = 0
            }
            offset += width
        } while offset < n
        return value
    }
}

/// `g(u) = Σ u_i²`: the loss of the examples (and a sensible smoke test).
public struct SumOfSquaresLoss: PointLoss, Sendable {
    public init() {}
    @inlinable
    public func callAsFunction<S: DiffEqScalar>(_ u: [S], _ t: Double) -> S {
        var s = S.zero
        for x in u { s += x * x }
        return s
    }
}

/// Why a gradient could not be computed.
public enum SensitivityError: Error, Equatable, CustomStringConvertible, Sendable {
    /// The problem or options are invalid (checked before any work).
    case invalidInput(DiffEqError)
    /// The method cannot handle this problem (events, a mass matrix, backward time, ...).
    case unsupported(String)
    /// A solve (the forward pass or a backward pass) did not reach its end.
    case solveFailed(phase: String, retcode: ReturnCode, message: String?)
    /// Reverse-mode AD of the right-hand side failed.
    case reverseMode(ReverseModeError)
    /// Every solve succeeded but the loss or its gradient is NaN or infinite (a loss that is not
    /// finite or not differentiable at an observed state, or a ``ParameterDependence`` whose
    /// derivative is not finite); the message names the first such entry.
    case nonFiniteResult(String)

    public var description: String {
        switch self {
        case .invalidInput(let e): return "invalid input: \(e)"
        case .unsupported(let why): return "unsupported: \(why)"
        case .solveFailed(let phase, let code, let message):
            return "the \(phase) solve stopped with \(code)" + (message.map { ": \($0)" } ?? "")
        case .reverseMode(let e): return "reverse mode: \(e)"
        case .nonFiniteResult(let why): return "non-finite result: \(why)"
        }
    }
}

/// The work a gradient took, the same counters for every method.
public struct SensitivityStats: Sendable, Equatable, CustomStringConvertible {
    /// Right-hand-side evaluations of the forward pass (of whatever scalar the method uses:
    /// dual numbers for ``ForwardDiffSensitivity``, the augmented system for
    /// ``ForwardSensitivity``; `f` plus sensitivity right-hand-side calls for ``CVODESForward``;
    /// `f` including the recomputations between checkpoints for ``CVODESAdjoint``).
    public var forwardEvaluations = 0
    /// Right-hand-side evaluations of the backward (adjoint) passes (each is one VJP for the
    /// interpolating and quadrature adjoints and for ``CVODESAdjoint``'s right-hand side and
    /// quadrature, one VJP plus one `f` for the backsolve adjoint).
    public var backwardEvaluations = 0
    /// Vector-Jacobian products `λᵀ∂f/∂u`, `λᵀ∂f/∂p` (backward passes and quadrature nodes).
    public var vjps = 0
    /// Jacobians `∂f/∂u`, `∂f/∂p` formed for a stiff backward solve (for the CVODES methods,
    /// every Jacobian their Newton solvers asked for, forward and backward).
    public var jacobians = 0
    /// Accepted steps of the forward and backward passes.
    public var forwardSteps = 0
    public var backwardSteps = 0
    /// Times the backward pass reset its state from a stored forward state (backsolve with
    /// checkpointing) or re-solved the state forward from one (``InterpolatingAdjoint`` with
    /// checkpointing); for ``CVODESAdjoint``, the checkpoints `CVodeF` stored (the one at `t0`
    /// included).
    public var checkpoints = 0
    /// The largest number of states held at once (the forward dense output's stored steps for
    /// the interpolating adjoints, the observation states for the others; for ``CVODESAdjoint``
    /// the state-sized vectors of its checkpoints and of one interval's interpolation data plus
    /// the observation states, see its documentation).
    public var peakStoredStates = 0
    /// ``BacksolveAdjoint`` only: the largest distance between the state it integrated backward
    /// and the stored forward state, at the observation times before the last and at `t0`, in
    /// units of the tolerance
    /// (`max_i |Δ_i| / (abstol + reltol |u_i|)`); `nil` for the other methods.
    public var stateDrift: Double? = nil

    public init() {}

    /// Stats that start from a forward solve's work.
    @inlinable
    public init(forward: SolverStats) {
        forwardEvaluations = forward.nf
        forwardSteps = forward.naccept
    }

    public var description: String {
        "forward nf=\(forwardEvaluations) (\(forwardSteps) steps), backward nf=\(backwardEvaluations) "
            + "(\(backwardSteps) steps), vjps=\(vjps), jacobians=\(jacobians), checkpoints=\(checkpoints), "
            + "peak stored states=\(peakStoredStates)"
            + (stateDrift.map { ", state drift=\(Float($0)) tolerances" } ?? "")
    }
}

/// The loss, its gradient with respect to `p` and `u0`, and the work it took.
public struct SensitivityResult: Sendable {
    /// `L = Σ_k g(u(t_k), t_k)` from the forward pass.
    public var loss: Double
    /// `dL/dp`.
    public var dp: [Double]
    /// `dL/du0`.
    public var du0: [Double]
    public var stats: SensitivityStats
    /// The method that computed it.
    public var method: String
    /// ``BacksolveAdjoint`` only: the initial state as reconstructed by integrating the state
    /// backward with the adjoint (compare with `u0` to see whether the backward re-solve can be
    /// trusted: on chaotic or strongly dissipative problems it cannot).
    public var reconstructedInitialState: [Double]?

    public init(
        loss: Double, dp: [Double], du0: [Double], stats: SensitivityStats, method: String,
        reconstructedInitialState: [Double]? = nil
    ) {
        self.loss = loss
        self.dp = dp
        self.du0 = du0
        self.stats = stats
        self.method = method
        self.reconstructedInitialState = reconstructedInitialState
    }
}

/// How the gradient of a loss of a solution is computed (SciMLSensitivity.jl's `sensealg`).
///
/// Forward methods (``ForwardDiffSensitivity``, ``ForwardSensitivity``) cost about `n + np`
/// solves' worth of work and need no storage beyond the observations; adjoint methods
/// (``InterpolatingAdjoint``, ``QuadratureAdjoint``, ``BacksolveAdjoint``) cost one forward and
/// one backward solve whatever the number of parameters (Ma et al., arXiv:1812.01892).
public protocol SensitivityAlgorithm: Sendable {
    /// The name a SciMLSensitivity.jl user recognises.
    var name: String { get }

    /// Computes the gradient; called by ``gradient(of:_:algorithm:options:sensealg:wrt:)``, which has
    /// checked the problem.
    func gradient<M: ODEModel, L: PointLoss, A: ODEAlgorithm>(
        of loss: L, _ problem: ODEProblem<GenericRHS<M, Double>>, algorithm: A, plan: ObservationPlan
    ) throws(SensitivityError) -> SensitivityResult

    /// The same with the storage of a ``GradientContext``, reused across calls: the method's
    /// workspace, and the forward pass that ``forwardPass(_:algorithm:plan:workspace:)`` kept at
    /// this point, if any. The default ignores the workspace.
    func gradient<M: ODEModel, L: PointLoss, A: ODEAlgorithm>(
        of loss: L, _ problem: ODEProblem<GenericRHS<M, Double>>, algorithm: A, plan: ObservationPlan,
        workspace: GradientWorkspace
    ) throws(SensitivityError) -> SensitivityResult

    /// The forward pass alone: the states at the observation times, keeping in `workspace` what
    /// this method's backward pass can reuse at the same point. The default is a plain solve that
    /// keeps nothing.
    func forwardPass<M: ODEModel, A: ODEAlgorithm>(
        _ problem: ODEProblem<GenericRHS<M, Double>>, algorithm: A, plan: ObservationPlan, workspace: GradientWorkspace
    ) throws(SensitivityError) -> [[Double]]
}

extension SensitivityAlgorithm {
    @inlinable
    public func gradient<M: ODEModel, L: PointLoss, A: ODEAlgorithm>(
        of loss: L, _ problem: ODEProblem<GenericRHS<M, Double>>, algorithm: A, plan: ObservationPlan,
        workspace: GradientWorkspace
    ) throws(SensitivityError) -> SensitivityResult {
        try gradient(of: loss, problem, algorithm: algorithm, plan: plan)
    }

    @inlinable
    public func forwardPass<M: ODEModel, A: ODEAlgorithm>(
        _ problem: ODEProblem<GenericRHS<M, Double>>, algorithm: A, plan: ObservationPlan, workspace: GradientWorkspace
    ) throws(SensitivityError) -> [[Double]] {
        let erased = ODEProblem(
            ErasedModelRHS(problem.f.model, as: Double.self), u0: plan.u0, tspan: (plan.t0, plan.t1), p: plan.p)
        return try _observingSolve(erased, algorithm, plan).u
    }
}

/// The forward solve at the observation times, checked to have saved one state per time.
@inlinable
func _observingSolve<A: ODEAlgorithm>(
    _ problem: ODEProblem<ErasedModelRHS<Double>>, _ algorithm: A, _ plan: ObservationPlan
) throws(SensitivityError) -> ODESolution<Double> {
    let forward = try _solveErased(problem, algorithm, plan.options, phase: "forward")
    guard forward.u.count == plan.times.count else {
        throw .unsupported("the forward solve saved \(forward.u.count) states for \(plan.times.count) observations")
    }
    return forward
}

/// What a gradient is taken with respect to.
///
/// Adjoint methods get `dL/du0` for free (it is the adjoint state at `t0`); forward methods pay
/// one direction per input, so a gradient with respect to the parameters alone saves them the
/// `n` initial-state directions. (A Julia user gets the same by differentiating only with
/// respect to `p`.)
public enum GradientInputs: Sendable, Equatable {
    /// `dL/dp` and `dL/du0` (the default).
    case parametersAndInitialState
    /// `dL/dp` only; the result's `du0` is empty.
    case parameters
}

/// The resolved problem data every method starts from: the span, the initial state, the
/// observation times (ascending) and the options of the forward solve.
public struct ObservationPlan: Sendable {
    public let t0: Double
    public let t1: Double
    public let u0: [Double]
    public let p: [Double]
    /// The observation times `t_k`, ascending (repeated times count twice in the loss).
    public let times: [Double]
    /// The user's options with `saveat` set to the observation times.
    public let options: SolveOptions
    /// What the gradient is taken with respect to.
    public let inputs: GradientInputs

    /// The number of forward-mode directions: the parameters, then (unless only the parameters
    /// are asked for) the initial values.
    @inlinable
    public var directionCount: Int { p.count + (inputs == .parameters ? 0 : u0.count) }

    /// A plan from parts already checked (``GradientContext`` moving its plan to a new point).
    @usableFromInline
    init(
        _t0 t0: Double, t1: Double, u0: [Double], p: [Double], times: [Double], options: SolveOptions,
        inputs: GradientInputs
    ) {
        self.t0 = t0
        self.t1 = t1
        self.u0 = u0
        self.p = p
        self.times = times
        self.options = options
        self.inputs = inputs
    }

    /// Checks the problem and options; `saveat: nil` observes the end of the span only.
    @inlinable
    public init<F: ODEFunction>(
        _ problem: ODEProblem<F>, options: SolveOptions, wrt inputs: GradientInputs = .parametersAndInitialState
    ) throws(SensitivityError) where F.Scalar == Double {
        var opts = options
        let span = problem.resolvedTimeSpan()
        if opts.saveat == nil { opts.saveat = .times([span.1]) }
        let setup: SolveSetup<Double>
        do { setup = try SolveSetup(problem, opts) } catch { throw .invalidInput(error) }
        // `saveat: .times([])` leaves no observation time: the loss has no terms. The adjoints
        // indexed the last observation (a trap) and the forward methods summed the loss over
        // the states the solver saves by default (t0 and the end), a wrong loss and gradient.
        guard !setup.saveTimes.isEmpty else {
            throw .invalidInput(
                .invalidSaveAt("no observation times (saveat is empty), so the loss has no terms; pass saveat: nil to observe the end of the span"))
        }
        guard setup.t1 > setup.t0 else {
            throw .unsupported("the time span must run forward (t0 < t1) for a sensitivity analysis")
        }
        guard problem.callbacks.isEmpty else {
            throw .unsupported("gradients through events (callbacks) are not supported by the sensitivity methods")
        }
        guard setup.massMatrix == nil else {
            throw .unsupported("a mass matrix (DAE) is not supported by the sensitivity methods")
        }
        t0 = setup.t0
        t1 = setup.t1
        u0 = setup.u0
        p = problem.p
        times = setup.saveTimes
        opts.saveat = .times(setup.saveTimes)
        opts.saveEverystep = false
        opts.dense = false
        self.options = opts
        self.inputs = inputs
    }

    /// A scalar absolute tolerance for an augmented system (the smallest per-component one).
    @inlinable
    public var scalarAbstol: Double {
        switch options.abstol {
        case .scalar(let a): return a
        case .perComponent(let a): return a.min() ?? 1e-6
        }
    }
}

/// The gradient of `L = Σ_k g(u(t_k), t_k)` (the observation times `t_k` are `options.saveat`,
/// or the end of the span) with respect to the parameters and the initial state (or, with
/// `wrt: .parameters`, the parameters only: cheaper for the forward methods), for a problem
/// in the generic model form, with the method `sensealg`:
///
/// ```swift
/// let prob = ODEProblem(model: LotkaVolterra(), u0: [1.0, 1.0], tspan: (0, 10), p: [1.5, 1, 3, 1])
/// let r = try gradient(
///     of: SumOfSquaresLoss(), prob, algorithm: Tsit5(),
///     options: SolveOptions(reltol: 1e-8, abstol: 1e-8, saveat: .every(0.1)),
///     sensealg: InterpolatingAdjoint())
/// r.dp; r.du0; r.stats
/// ```
///
/// The initial state and span are taken as resolved at the current parameters: derivatives
/// through a parameter-dependent `u0(p)` or `tspan(p)` given as `Double` closures are not
/// included (`du0` gives the chain rule's factor for `u0`); write them as a
/// ``ParameterDependence`` and use
/// ``gradient(of:model:u0:tspan:p:dependence:algorithm:options:sensealg:)`` to include them.
@inlinable
public func gradient<M: ODEModel, L: PointLoss, A: ODEAlgorithm, S: SensitivityAlgorithm>(
    of loss: L, _ problem: ODEProblem<GenericRHS<M, Double>>, algorithm: A, options: SolveOptions,
    sensealg: S, wrt inputs: GradientInputs = .parametersAndInitialState
) throws(SensitivityError) -> SensitivityResult {
    let plan = try ObservationPlan(problem, options: options, wrt: inputs)
    return try _restricted(sensealg.gradient(of: loss, problem, algorithm: algorithm, plan: plan), to: plan)
}

/// The result with `du0` emptied when only the parameters were asked for (an adjoint computes
/// it anyway; the answer has one shape whatever the method).
@inlinable
func _restricted(_ result: SensitivityResult, to plan: ObservationPlan) throws(SensitivityError) -> SensitivityResult {
    var r = result
    if plan.inputs == .parameters { r.du0 = [] }
    try _checkFinite(r)
    return r
}

/// Throws ``SensitivityError/nonFiniteResult(_:)`` when the loss or a gradient entry is NaN or
/// infinite. A NaN loss (or a loss gradient that is NaN or infinite at an observed state) used
/// to come back from the forward methods as a successful result full of NaN: the solves
/// themselves succeed, only the loss evaluated on their states is bad.
@inlinable
func _checkFinite(_ r: SensitivityResult) throws(SensitivityError) {
    guard r.loss.isFinite else {
        throw .nonFiniteResult("the loss is \(r.loss): the loss function is not finite at an observed state")
    }
    if let k = r.dp.firstIndex(where: { !$0.isFinite }) {
        throw .nonFiniteResult(
            "dL/dp[\(k)] is \(r.dp[k]) (\(r.method)): the loss, or a derivative of u0(p) or T(p), is not differentiable")
    }
    if let k = r.du0.firstIndex(where: { !$0.isFinite }) {
        throw .nonFiniteResult("dL/du0[\(k)] is \(r.du0[k]) (\(r.method)): the loss is not differentiable at an observed state")
    }
}

/// The same for a problem whose right-hand side type is not known to be in the generic form
/// (generic code over `ODEFunction`): a ``GenericRHS`` is found by a dynamic cast and
/// differentiated as above; a closure over `Double` (``ClosureRHS``) cannot run on dual numbers
/// or on the reverse-mode tape and throws
/// ``SensitivityError/reverseMode(_:)`` with ``ReverseModeError/closureRightHandSide(type:)``,
/// whose message says how to write the model.
@inlinable
public func gradient<F: ODEFunction, L: PointLoss, A: ODEAlgorithm, S: SensitivityAlgorithm>(
    of loss: L, _ problem: ODEProblem<F>, algorithm: A, options: SolveOptions, sensealg: S,
    wrt inputs: GradientInputs = .parametersAndInitialState
) throws(SensitivityError) -> SensitivityResult where F.Scalar == Double {
    guard let backed = problem.f as? any ModelBackedRHS else {
        throw .reverseMode(.closureRightHandSide(type: String(describing: F.self)))
    }
    let plan = try ObservationPlan(problem, options: options, wrt: inputs)
    return try _restricted(_gradient(opening: backed, loss, plan, algorithm, sensealg), to: plan)
}

@inlinable
func _gradient<R: ModelBackedRHS, L: PointLoss, A: ODEAlgorithm, S: SensitivityAlgorithm>(
    opening f: R, _ loss: L, _ plan: ObservationPlan, _ algorithm: A, _ sensealg: S
) throws(SensitivityError) -> SensitivityResult {
    let problem = ODEProblem(model: f.model, u0: plan.u0, tspan: (plan.t0, plan.t1), p: plan.p)
    return try sensealg.gradient(of: loss, problem, algorithm: algorithm, plan: plan)
}

/// Runs a solve and converts its errors and failures.
@inlinable
func _solve<F: ODEFunction, A: ODEAlgorithm>(
    _ problem: ODEProblem<F>, _ algorithm: A, _ options: SolveOptions, phase: String
) throws(SensitivityError) -> ODESolution<F.Scalar> {
    let sol: ODESolution<F.Scalar>
    do { sol = try algorithm.solve(problem, options: options) } catch { throw .invalidInput(error) }
    try _checkSuccess(sol, phase: phase)
    return sol
}

/// ``_solve(_:_:_:phase:)`` for a right-hand side behind closures, by the algorithm's solve
/// compiled in its own module (``ODEAlgorithm/_solvePrecompiled(_:options:)``): the adjoints'
/// forward and backward solves, which the user's module would otherwise compile for every
/// model and algorithm (DESIGN.md, "Compile time is a figure").
@inlinable
func _solveErased<A: ODEAlgorithm>(
    _ problem: ODEProblem<ErasedModelRHS<Double>>, _ algorithm: A, _ options: SolveOptions, phase: String
) throws(SensitivityError) -> ODESolution<Double> {
    let sol: ODESolution<Double>
    do { sol = try algorithm._solvePrecompiled(problem, options: options) } catch { throw .invalidInput(error) }
    try _checkSuccess(sol, phase: phase)
    return sol
}

/// Throws ``SensitivityError/solveFailed(phase:retcode:message:)`` for a solve that did not reach
/// its end.
@inlinable
func _checkSuccess<S: DiffEqScalar>(_ sol: ODESolution<S>, phase: String) throws(SensitivityError) {
    guard sol.retcode.isSuccessful else {
        throw .solveFailed(phase: phase, retcode: sol.retcode, message: sol.message)
    }
}

/// The default `sensealg`: forward mode (``ForwardDiffSensitivity``) for small problems and the
/// quadrature adjoint (``QuadratureAdjoint``) above a size threshold that grows with the number
/// of observation times, the rule of SciMLSensitivity.jl's default with thresholds measured here.
///
/// `Benchmarks/sens-bench --with-u0` times every method on problems of growing size (Ma et al.,
/// arXiv:1812.01892) with gradients with respect to `p` and `u0`, i.e. `n + np` forward
/// directions: forward mode wins on Lotka-Volterra (6 directions, by about 9x) and on the neural
/// ODEs with 1 and 2 hidden units (9 and 14, by about 2x); the best adjoint wins from the 2x2
/// Brusselator (24, by 2.6x) and from about 26 in the neural ODE family, all with 11-21
/// observations. So forward mode is chosen up to 16 directions (``forwardModeLimit``).
///
/// An adjoint's cost also grows with the number of observation times, forward mode's does not:
/// each observation is a jump in the adjoint state, and the backward solve resolves the
/// transient that follows every one. In the published POLLU setup (121 observations, 25
/// parameters) forward mode is 45x ahead of the best adjoint (sens-bench; SciMLBenchmarks
/// reports 43x). Forward mode is therefore also chosen when there are at least as many
/// observations as directions, up to SciMLSensitivity.jl's own size bound, `n + np ≤ 100`
/// (`automatic_sensealg_choice` in its `concrete_solve.jl`).
///
/// Among the adjoints the quadrature form is the robust choice: it solves a backward system of
/// size `n` rather than `n + np`, which matters most for stiff problems (the backward solve
/// factors an `(n + np)`-sized matrix otherwise), and it never integrates the state backward
/// (unlike ``BacksolveAdjoint``).
///
/// Except for a model with its own products (``ODEModelWithVJP``: a neural network) solved by an
/// explicit Runge-Kutta method, which gets ``DiscreteAdjoint``: on the neural-ODE spiral (252
/// parameters, 30 observations, Tsit5) it costs 3.14M instructions per gradient against the
/// quadrature adjoint's 5.97M at reltol 1e-7, and 1.70M against 5.19M at 1e-3 (callgrind,
/// `neural-bench --gradient-cost`), and its gradient is exactly that of the loss being
/// minimized; 300 Adam(0.1) iterations at 1e-7 end at 0.2146 with it (0.1969 with the
/// quadrature adjoint; the peers 0.21-0.29). Models differentiated through the tape keep the
/// quadrature adjoint: the discrete adjoint's cost for them is not measured yet.
public struct AutoSensitivity: _WorkspaceSensitivityAlgorithm, Sendable {
    /// Forward mode at most up to this many forward-mode directions (`np + n`, or `np` for a
    /// gradient with respect to the parameters only) whatever the number of observations.
    public var forwardModeLimit: Int
    /// The largest number of directions forward mode is chosen for when there are many
    /// observations (SciMLSensitivity.jl's bound).
    public static let manyObservationsLimit = 100
    public init(forwardModeLimit: Int = 16) { self.forwardModeLimit = forwardModeLimit }
    public var name: String { "AutoSensitivity" }

    /// Whether forward mode is chosen for `directions` forward-mode directions and
    /// `observations` observation times.
    public func usesForwardMode(directions: Int, observations: Int) -> Bool {
        directions <= Swift.max(forwardModeLimit, Swift.min(Self.manyObservationsLimit, observations))
    }

    /// The method chosen for `n` states and `np` parameters (gradient with respect to both),
    /// observed at `observations` times, for a model differentiated through the tape (a model
    /// with its own products solved by an explicit Runge-Kutta method gets ``DiscreteAdjoint``
    /// where this says ``QuadratureAdjoint``: ``usesDiscreteAdjoint(model:algorithm:)``).
    public func choice(states n: Int, parameters np: Int, observations: Int = 1) -> any SensitivityAlgorithm {
        usesForwardMode(directions: n + np, observations: observations) ? ForwardDiffSensitivity() : QuadratureAdjoint()
    }

    /// Whether the discrete adjoint is chosen when an adjoint is: a model with its own products
    /// solved by an explicit Runge-Kutta method (checks against the two protocols).
    @inlinable
    public func usesDiscreteAdjoint<M: ODEModel, A: ODEAlgorithm>(model: M, algorithm: A) -> Bool {
        model is any ODEModelWithVJP && algorithm is any ExplicitRKAlgorithm
    }

    @inlinable
    public func gradient<M: ODEModel, L: PointLoss, A: ODEAlgorithm>(
        of loss: L, _ problem: ODEProblem<GenericRHS<M, Double>>, algorithm: A, plan: ObservationPlan,
        workspace: GradientWorkspace
    ) throws(SensitivityError) -> SensitivityResult {
        var result: SensitivityResult
        if usesForwardMode(directions: plan.directionCount, observations: plan.times.count) {
            result = try ForwardDiffSensitivity().gradient(
                of: loss, problem, algorithm: algorithm, plan: plan, workspace: workspace)
        } else if usesDiscreteAdjoint(model: problem.f.model, algorithm: algorithm) {
            result = try DiscreteAdjoint().gradient(
                of: loss, problem, algorithm: algorithm, plan: plan, workspace: workspace)
        } else {
            result = try QuadratureAdjoint().gradient(
                of: loss, problem, algorithm: algorithm, plan: plan, workspace: workspace)
        }
        result.method = "AutoSensitivity → " + result.method
        return result
    }

    @inlinable
    public func forwardPass<M: ODEModel, A: ODEAlgorithm>(
        _ problem: ODEProblem<GenericRHS<M, Double>>, algorithm: A, plan: ObservationPlan, workspace: GradientWorkspace
    ) throws(SensitivityError) -> [[Double]] {
        if usesForwardMode(directions: plan.directionCount, observations: plan.times.count) {
            return try ForwardDiffSensitivity().forwardPass(problem, algorithm: algorithm, plan: plan, workspace: workspace)
        }
        if usesDiscreteAdjoint(model: problem.f.model, algorithm: algorithm) {
            return try DiscreteAdjoint().forwardPass(problem, algorithm: algorithm, plan: plan, workspace: workspace)
        }
        return try QuadratureAdjoint().forwardPass(problem, algorithm: algorithm, plan: plan, workspace: workspace)
    }
}

/// ``gradient(of:_:algorithm:options:sensealg:wrt:)`` with the default method, ``AutoSensitivity``.
@inlinable
public func gradient<M: ODEModel, L: PointLoss, A: ODEAlgorithm>(
    of loss: L, _ problem: ODEProblem<GenericRHS<M, Double>>, algorithm: A, options: SolveOptions,
    wrt inputs: GradientInputs = .parametersAndInitialState
) throws(SensitivityError) -> SensitivityResult {
    try gradient(of: loss, problem, algorithm: algorithm, options: options, sensealg: AutoSensitivity(), wrt: inputs)
}

/// The gradient for a problem in `Float` (``gradient(of:_:algorithm:options:sensealg:wrt:)``
/// for a `Double` one), by any `sensealg`.
///
/// Computed in `Double`: the initial state, span and parameters are promoted (exactly: every
/// `Float` is a `Double`) and the model, written once over the scalar protocol, runs in `Double`
/// arithmetic through the forward and backward solves. The result is therefore the `Double`
/// problem's gradient at the `Float` inputs, bit for bit, returned in `Double` so that nothing
/// is rounded away (convert with `r.dp.map(Float.init)`). Why not `Float` arithmetic: the
/// adjoints accumulate `dL/dp` over every backward step and quadrature node (thousands of
/// products for a neural ODE), where `Float`'s rounding (`2⁻²⁴` per operation) would add an error
/// growing with the number of terms on top of the solver's; in `Double` the gradient is as
/// accurate as the tolerances make it, and a `Float` caller loses nothing by the conversion.
/// It differs from the derivative of a `Float` solve only as much as a `Float` solve differs
/// from a `Double` one (rounding, and steps chosen from error estimates that differ in their
/// last bits), which the tolerances bound (`FloatGradientTests`).
@inlinable
public func gradient<M: ODEModel, L: PointLoss, A: ODEAlgorithm, S: SensitivityAlgorithm>(
    of loss: L, _ problem: ODEProblem<GenericRHS<M, Float>>, algorithm: A, options: SolveOptions, sensealg: S,
    wrt inputs: GradientInputs = .parametersAndInitialState
) throws(SensitivityError) -> SensitivityResult {
    try gradient(
        of: loss, try _promoted(problem), algorithm: algorithm, options: options, sensealg: sensealg, wrt: inputs)
}

/// ``gradient(of:_:algorithm:options:sensealg:wrt:)`` for a `Float` problem with the default
/// method, ``AutoSensitivity``.
@inlinable
public func gradient<M: ODEModel, L: PointLoss, A: ODEAlgorithm>(
    of loss: L, _ problem: ODEProblem<GenericRHS<M, Float>>, algorithm: A, options: SolveOptions,
    wrt inputs: GradientInputs = .parametersAndInitialState
) throws(SensitivityError) -> SensitivityResult {
    try gradient(of: loss, problem, algorithm: algorithm, options: options, sensealg: AutoSensitivity(), wrt: inputs)
}

/// A `Float` problem as the same problem in `Double` (its `u0` and span resolved at its `p`);
/// events and mass matrices are refused here as the plan refuses them, since they do not
/// carry over.
@inlinable
func _promoted<M: ODEModel>(_ problem: ODEProblem<GenericRHS<M, Float>>) throws(SensitivityError)
    -> ODEProblem<GenericRHS<M, Double>>
{
    guard problem.callbacks.isEmpty else {
        throw .unsupported("gradients through events (callbacks) are not supported by the sensitivity methods")
    }
    guard problem.massMatrix == nil else {
        throw .unsupported("a mass matrix (DAE) is not supported by the sensitivity methods")
    }
    return ODEProblem(
        model: problem.f.model, u0: problem.resolvedInitialState().map(Double.init),
        tspan: problem.resolvedTimeSpan(), p: problem.p.map(Double.init))
}
