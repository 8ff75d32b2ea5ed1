import AutoDiff
import DenseLinearAlgebra
import DiffEqCore

// The continuous adjoint for a loss summed over observation times (Cao, Li, Petzold & Serban
// 2003, §2; Ma et al., arXiv:1812.01892, §2.2):
//
//     λ' = -(∂f/∂u)ᵀ λ,   μ' = -(∂f/∂p)ᵀ λ,   integrated from the last observation back to t0,
//     λ(t_k⁻) = λ(t_k⁺) + ∂g/∂u(u(t_k), t_k)   at each observation time (a jump),
//     dL/du0 = λ(t0),   dL/dp = μ(t0) = ∫ λᵀ ∂f/∂p dt.
//
// The backward system is a closure over Double solved by the caller's algorithm (an explicit
// method for non-stiff problems, a Rosenbrock or SDIRK method for stiff ones, which get the
// exact Jacobian `-(∂f/∂u)ᵀ` by forward-mode AD) in one solve from the last observation to
// t0, which steps onto every observation time (`tstops`) and applies the jump there with a
// discrete callback. The products `λᵀ∂f/∂u` and `λᵀ∂f/∂p` come from one
// replayed reverse-mode tape (``RHSTape``) per gradient. The tape's dependency pattern also
// colors the Jacobians' columns (``_CompressedJacobian``): the stiff solves' Jacobians, forward
// and backward, take one dual evaluation per eight colors rather than per eight columns, and
// the quadrature's `λᵀ∂f/∂p` is one dual evaluation when the parameters take at most eight.
// A stiff backward solve, once it has asked for a Jacobian, takes its products from the
// Jacobian at each stage time instead (``_StageJacobian``: Rodas5P evaluates three stages and
// the next step's Jacobian at one time), when that Jacobian costs at most two dual evaluations.

/// Buffers and counters shared by the backward right-hand sides (one per gradient; the
/// closures of the backward problems capture it, so a step allocates nothing). The state and
/// product buffers are `@exclusivity(unchecked)`: a workspace serves one gradient on one thread.
@usableFromInline
package final class _AdjointWorkspace<Model: ODEModel> {
    @usableFromInline let model: Model
    @usableFromInline let engine: _VJPEngine<Model>
    @usableFromInline var p: [Double]
    @usableFromInline let n: Int
    @usableFromInline let np: Int
    /// The forward solution's dense output (interpolating and quadrature adjoints).
    @usableFromInline var forward: (any DenseOutput<Double>)? {
        didSet {
            forwardEvaluator = forward.map(_evaluator)
            stageJacobian?.invalidate()
        }
    }
    @usableFromInline var forwardEvaluator: ((Double, inout [Double]) -> Void)?
    @exclusivity(unchecked) @usableFromInline var u: [Double]
    @exclusivity(unchecked) @usableFromInline var lambda: [Double]
    @exclusivity(unchecked) @usableFromInline var vjpU: [Double]
    @exclusivity(unchecked) @usableFromInline var vjpP: [Double]
    @usableFromInline var vjps = 0
    @usableFromInline var jacobians = 0
    @usableFromInline var error: ReverseModeError?
    /// `∂f/∂u` (column-major) for the quadrature adjoint's stiff backward solves.
    @usableFromInline var stateJacobian: [Double] = []
    /// The Jacobian of the backward system by compressed forward mode, when cheaper (see
    /// ``prepareCompressedJacobian(u0:t0:includeMu:)``).
    @usableFromInline var compressed: _CompressedJacobian<Model>?
    /// The Jacobian of `f` alone by compressed forward mode, for the forward solves (what
    /// ``prepareCompressedJacobian(u0:t0:includeMu:)`` returned last).
    @usableFromInline var forwardCompressed: _CompressedJacobian<Model>?
    /// The dependency pattern of `f` (``RHSTape/dependencyPattern(u:p:t:)``), found once per gradient.
    @usableFromInline var pattern: [[Int]]?
    /// The backward system's matrix at the last time a stiff backward solve asked for it, whose
    /// stage right-hand sides at that same time are then sparse products (see ``_StageJacobian``).
    /// Built only when a Jacobian costs at most ``stageJacobianEvaluations`` dual evaluations.
    @usableFromInline var stageJacobian: _StageJacobian<Model>?

    /// The most dual evaluations of `f` per Jacobian for which the stiff backward solves take
    /// their products from ``stageJacobian``, which evaluates a Jacobian at every new stage time
    /// rather than once per step: two, about the cost of one replay and sweep of the tape as
    /// profiled on the Brusselator.
    @inlinable package static var stageJacobianEvaluations: Int { 2 }

    @inlinable
    init(_ model: Model, p: [Double], n: Int) {
        self.model = model
        self.engine = _VJPEngine(model, p: p, n: n)
        self.p = p
        self.n = n
        self.np = p.count
        self.u = [Double](repeating: 0, count: n)
        self.lambda = [Double](repeating: 0, count: n)
        self.vjpU = [Double](repeating: 0, count: n)
        self.vjpP = [Double](repeating: 0, count: p.count)
    }

    /// Ready for another gradient of the same sizes at `p` (a ``GradientContext`` reusing it):
    /// counters, error and the stage Jacobian's state as a new workspace has them; the buffers,
    /// the VJP engine and its tape are kept.
    @inlinable
    func reset(p: [Double]) {
        self.p = p
        engine.setParameters(p)
        vjps = 0
        jacobians = 0
        error = nil
        if let stage = stageJacobian {
            stage.invalidate()
            stage.state.pointee.active = false
            stage.state.pointee.evaluations = 0
            stage.state.pointee.products = 0
        }
    }

    /// The backward adjoint system on the forward solution's dense output:
    /// `λ' = −(∂f/∂u)ᵀλ` and, with `includeMu`, `μ' = −(∂f/∂p)ᵀλ` (state `[λ; μ]`), with its exact
    /// Jacobian for stiff backward solves. Shared by the interpolating and quadrature adjoints.
    ///
    /// The buffers are class properties, and every access to one is a dynamic exclusivity
    /// check: the loops below touch each buffer once through a pointer rather than per element.
    @inlinable
    func adjointRHS(includeMu: Bool) -> _BackwardRHS {
        let (n, np) = (self.n, self.np)
        // Captured directly: its state sits behind pointers (no exclusivity checks per call).
        let stage = stageJacobian
        return _BackwardRHS(
            { dy, y, _, t in
                // Once the backward solver has asked for a Jacobian (a Rosenbrock or SDIRK
                // method), a right-hand side at a new time evaluates the Jacobian there too; an
                // explicit backward method never asks, and keeps the tape's products.
                if let stage, stage.state.pointee.active {
                    if !stage.holds(t) { self.evaluateStageJacobian(stage, t) }
                    y.withUnsafeBufferPointer { l in
                        dy.withUnsafeMutableBufferPointer { d in
                            stage.negatedProduct(l.baseAddress!, into: d.baseAddress!, includeParameters: includeMu)
                        }
                    }
                    return
                }
                self.interpolateForward(t)
                self.lambda.withUnsafeMutableBufferPointer { l in for i in 0..<n { l[i] = y[i] } }
                self.vjp(t: t, stateOnly: !includeMu)
                dy.withUnsafeMutableBufferPointer { d in
                    self.vjpU.withUnsafeBufferPointer { v in for i in 0..<n { d[i] = -v[i] } }
                    if includeMu { self.vjpP.withUnsafeBufferPointer { v in for k in 0..<np { d[n + k] = -v[k] } } }
                }
            },
            jacobian: { J, _, _, t in
                if let stage {
                    stage.state.pointee.active = true
                    if !stage.holds(t) { self.evaluateStageJacobian(stage, t) }
                    let count = J.count, size = includeMu ? n + np : n
                    J.withUnsafeMutableBufferPointer { j in
                        stage.scatterNegatedTranspose(into: j.baseAddress!, count: count, leading: size)
                    }
                    return
                }
                self.interpolateForward(t)
                self.adjointJacobian(&J, t: t, includeMu: includeMu)
            })
    }

    /// The stage Jacobian at `t`, on `u(t)` from the forward dense output.
    @inlinable
    func evaluateStageJacobian(_ stage: _StageJacobian<Model>, _ t: Double) {
        interpolateForward(t)
        u.withUnsafeBufferPointer { u in stage.evaluate(u: u.baseAddress!, p: p, t: t) }
    }

    /// Products and Jacobians, those of the stage Jacobian included (for the statistics).
    @inlinable var productCount: Int { vjps + (stageJacobian?.state.pointee.products ?? 0) }
    @inlinable var jacobianCount: Int { jacobians + (stageJacobian?.state.pointee.evaluations ?? 0) }

    /// Sets up the compressed evaluation of the backward system's Jacobian (`∂f/∂u`, with
    /// `includeMu` also `∂f/∂p`) from the structure the VJP tape records at `(u0, p, t0)`, and
    /// returns the one of `∂f/∂u` alone for the forward solve.
    @inlinable
    func prepareCompressedJacobian(u0: [Double], t0: Double, includeMu: Bool) -> _CompressedJacobian<Model>? {
        // Only where a compressed Jacobian or parameter product may use it (as before this
        // pattern was shared): finding it records the tape, which small systems (n + np ≤ 8,
        // products by dual numbers) never need; on Lotka-Volterra the recording cost a third
        // of an InterpolatingAdjoint gradient.
        // A model with its own products (``ODEModelWithVJP``) is never recorded either: its
        // products need no tape, and a network's parameters are dense in every column.
        pattern = n + np <= 8 || engine.custom != nil ? nil : try? engine.tape.dependencyPattern(u: u0, p: p, t: t0)
        // A reused workspace (``GradientContext``) must not keep the previous call's.
        stageJacobian = nil
        // As `_CompressedJacobian.make`: only where coloring saves dual evaluations.
        func colored(_ columns: Int) -> _CompressedJacobian<Model>? {
            guard !model.hasAnalyticJacobian, columns > 8, let pattern else { return nil }
            return _CompressedJacobian(model, pattern: pattern, n: n, p: p, columns: 0..<columns)
        }
        let stateOnly = colored(n)
        forwardCompressed = stateOnly
        compressed = includeMu ? colored(n + np) : stateOnly
        let limit = Self.stageJacobianEvaluations
        if let compressed {
            if compressed.evaluationsPerJacobian <= limit { stageJacobian = _StageJacobian(compressed) }
        } else if !model.hasAnalyticJacobian, let pattern {
            // Its own coloring where coloring saves nothing over dense chunks (n ≤ 8): what
            // pays here is one Jacobian for several products.
            stageJacobian = _CompressedJacobian(
                model, pattern: pattern, n: n, p: p, columns: 0..<(includeMu ? n + np : n), maxEvaluations: limit
            ).map { _StageJacobian($0) }
        }
        return stateOnly
    }

    /// `λᵀ∂f/∂u` into `vjpU` and `λᵀ∂f/∂p` into `vjpP` at `(u, p, t)` (with `stateOnly`, `vjpP`
    /// is not to be read).
    @inlinable @inline(__always)
    func vjp(t: Double, stateOnly: Bool = false) {
        vjps += 1
        do {
            try engine.vjp(u: u, p: p, t: t, v: lambda, du: &vjpU, dp: &vjpP, stateOnly: stateOnly)
        } catch {
            if self.error == nil { self.error = error }
            for i in 0..<n { vjpU[i] = .nan }
            for k in 0..<np { vjpP[k] = .nan }
        }
    }

    /// ``vjp(t:stateOnly:)`` at the point of the model's kept evaluation `slot` (see
    /// ``ODEModelWithVJP/rhs(_:keeping:u:p:t:du:)``), with `u` set to that evaluation's state.
    @inlinable @inline(__always)
    func keptVJP(slot: Int, t: Double) {
        guard let custom = engine.custom else { return vjp(t: t) }
        vjps += 1
        custom.keptVJP(slot, u, p, t, lambda, &vjpU, &vjpP)
    }

    /// `u(t)` from the forward dense output into `u`.
    @inlinable @inline(__always)
    func interpolateForward(_ t: Double) {
        guard let forwardEvaluator else {
            // Only after a failed checkpoint re-solve, which the caller reports: NaN stops the
            // backward solve at once.
            for i in 0..<n { u[i] = .nan }
            return
        }
        forwardEvaluator(t, &u)
    }

    /// The Jacobian of `y = [λ; μ]`'s right-hand side with respect to `y` (column-major):
    /// `-(∂f/∂u)ᵀ` in the λ block and, with `includeMu`, `-(∂f/∂p)ᵀ` in the μ rows, at `u`
    /// (already set) and `t`. Without μ only `∂f/∂u` is formed (`n` dual directions, not `n + np`).
    @inlinable
    func adjointJacobian(_ J: inout [Double], t: Double, includeMu: Bool) {
        jacobians += 1
        if let compressed {
            let size = includeMu ? n + np : n, count = J.count
            J.withUnsafeMutableBufferPointer { j in
                u.withUnsafeBufferPointer { u in
                    compressed.evaluate(
                        into: j.baseAddress!, count: count, u: u.baseAddress!, p: p, t: t, negatedTranspose: true,
                        leading: size)
                }
            }
            return
        }
        for i in J.indices { J[i] = 0 }
        if includeMu {
            let (ju, jp) = rhsJacobians(model, u: u, p: p, t: t)
            let size = n + np
            for i in 0..<n { for j in 0..<n { J[i + j * size] = -ju[j, i] } }
            for k in 0..<np { for j in 0..<n { J[(n + k) + j * size] = -jp[j, k] } }
        } else {
            // The model's own Jacobian when it has one, else forward-mode AD.
            var ju: [Double] = []
            swap(&ju, &stateJacobian)
            if ju.count != n * n { ju = [Double](repeating: 0, count: n * n) }
            let f = GenericRHS(model, as: Double.self)
            if f.hasAnalyticJacobian { f.jacobian(&ju, u, p, t) } else { f.forwardModeJacobian(&ju, u, p, t) }
            for i in 0..<n { for j in 0..<n { J[i + j * n] = -ju[j + i * n] } }
            swap(&ju, &stateJacobian)
        }
    }
}

/// `evaluate(at:into:)` of a dense output, specialised for Double when it is the library's
/// ``PiecewisePolynomial`` (every solver's; the protocol offers it): through `any DenseOutput`
/// the evaluation would run the generic code with the arithmetic behind witness tables, at every
/// stage of the backward solve.
@inlinable
func _evaluator(_ dense: any DenseOutput<Double>) -> (Double, inout [Double]) -> Void {
    if let d = dense.piecewisePolynomial { return { t, out in d.evaluate(at: t, into: &out) } }
    return { t, out in dense.evaluate(at: t, into: &out) }
}

/// Integrates a backward system from the last observation time to `t0` in one solve: the
/// interior observation times are `tstops` (the steps land on them exactly) and a discrete
/// callback applies the jump `atObservation(k, &y)` there, so the step size carries over from
/// one observation interval to the next. The jumps at the last observation time come before the
/// solve and those at `t0` after it. Returns the backward solution (`nil` when every
/// observation is at `t0` and there is nothing to integrate).
@inlinable
func _sweepBackward<A: ODEAlgorithm>(
    plan: ObservationPlan, algorithm: A, rhs: _BackwardRHS, y: inout [Double], options: SolveOptions,
    stats: inout SensitivityStats, atObservation: @escaping (Int, inout [Double]) -> Void
) throws(SensitivityError) -> ODESolution<Double>? {
    let times = plan.times, t0 = plan.t0
    // The jumps run inside the backward solve, synchronously on this thread, and move this
    // cursor and the caller's accumulators (through `atObservation`): state that the
    // `@Sendable` closures of a callback may not capture. The problem and its callback never
    // leave this function, so no other thread can reach either; the compiler cannot see that.
    nonisolated(unsafe) var next = times.count - 1
    nonisolated(unsafe) let jump = atObservation
    let last = times[next]
    while next >= 0 && times[next] == last {
        atObservation(next, &y)
        next -= 1
    }
    var solution: ODESolution<Double>?
    if last > t0 {
        var interior: [Double] = []
        for t in times where t > t0 && t < last && interior.last != t { interior.append(t) }
        let jumps = DiscreteCallback<Double>(
            condition: { _, t, _ in next >= 0 && t != t0 && t == times[next] },
            affect: { context in
                let t = context.t
                while next >= 0 && times[next] == t {
                    jump(next, &context.u)
                    next -= 1
                }
            },
            savePositions: (false, false))
        var opts = options
        opts.tstops = interior
        let problem = ODEProblem(ErasedModelRHS(erasing: rhs), u0: y, tspan: (last, t0), p: [])
            .remake(callbacks: CallbackSet(jumps))
        let sol = try _solveErased(problem, algorithm, opts, phase: "backward (adjoint)")
        guard let end = sol.u.last, sol.t.last == t0 else {
            throw .solveFailed(phase: "backward (adjoint)", retcode: sol.retcode, message: "the end state was not saved")
        }
        y = end
        stats.backwardEvaluations += sol.stats.nf
        stats.backwardSteps += sol.stats.naccept
        solution = sol
    }
    // Observations at t0 (after the solve; the callback skips t0). Any other one left means the
    // solve did not stop on it, and the jump would land in the wrong place.
    guard next < 0 || times[next] == t0 else {
        throw .solveFailed(
            phase: "backward (adjoint)", retcode: solution?.retcode ?? .default,
            message: "the backward solve did not stop at the observation time \(times[next])")
    }
    while next >= 0 {
        atObservation(next, &y)
        next -= 1
    }
    return solution
}

/// Options of a backward solve: the forward tolerances (a scalar `abstol`), the end state only.
@inlinable
func _backwardOptions(_ plan: ObservationPlan, dense: Bool) -> SolveOptions {
    SolveOptions(
        reltol: plan.options.reltol, abstol: .scalar(plan.scalarAbstol), saveEverystep: dense, dense: dense,
        dtmax: plan.options.dtmax, maxiters: plan.options.maxiters)
}

/// The forward solve of the interpolating adjoints: dense output kept, every step saved (the
/// steps are the quadrature's breakpoints), states at the observation times interpolated.
@inlinable
func _denseForward<M: ODEModel, A: ODEAlgorithm>(
    _ model: M, _ algorithm: A, _ plan: ObservationPlan, jacobian: _CompressedJacobian<M>?
) throws(SensitivityError) -> (solution: ODESolution<Double>, observed: [[Double]]) {
    var options = plan.options
    options.dense = true
    options.saveEverystep = true
    let problem = ODEProblem(
        _AdjointForwardRHS.erased(model, compressed: jacobian), u0: plan.u0, tspan: (plan.t0, plan.t1), p: plan.p)
    let sol = try _solveErased(problem, algorithm, options, phase: "forward")
    guard let dense = sol.denseOutput else {
        throw .unsupported("\(algorithm.name) gave no dense output, which the interpolating adjoints need")
    }
    // `sol(t)`'s evaluation, specialised (through `any DenseOutput` it runs generic code).
    let evaluate = _evaluator(dense)
    let (lo, hi) = dense.domain
    var observed: [[Double]] = []
    observed.reserveCapacity(plan.times.count)
    for t in plan.times {
        guard t >= lo && t <= hi else {
            throw .unsupported(
                "the forward dense output cannot be evaluated at t = \(t): \(InterpolationError.outOfDomain(t: t, domain: lo...hi))")
        }
        var u = [Double](repeating: 0, count: plan.u0.count)
        evaluate(t, &u)
        observed.append(u)
    }
    return (sol, observed)
}

/// A forward pass that keeps the observations alone (``_observingSolve``), kept for the
/// backward pass.
@inlinable
func _keptObservingForward<A: ODEAlgorithm>(
    _ problem: ODEProblem<ErasedModelRHS<Double>>, _ algorithm: A, _ plan: ObservationPlan,
    _ workspace: GradientWorkspace
) throws(SensitivityError) -> _KeptForward {
    let forward = try _observingSolve(problem, algorithm, plan)
    let kept = _KeptForward(observed: forward.u, solution: forward, dense: false)
    workspace.kept = kept
    return kept
}

/// The interpolating adjoints' forward pass (``_denseForward``) in a workspace's adjoint
/// workspace, with the compressed Jacobians prepared at this point, kept for the backward pass.
@inlinable
func _keptDenseForward<M: ODEModel, A: ODEAlgorithm>(
    _ model: M, _ algorithm: A, _ plan: ObservationPlan, _ workspace: GradientWorkspace, includeMu: Bool
) throws(SensitivityError) -> _KeptForward {
    let ws = workspace._adjointWorkspace(model, p: plan.p, n: plan.u0.count)
    let jacobian = ws.prepareCompressedJacobian(u0: plan.u0, t0: plan.t0, includeMu: includeMu)
    let (solution, observed) = try _denseForward(model, algorithm, plan, jacobian: jacobian)
    let kept = _KeptForward(observed: observed, solution: solution, dense: true)
    workspace.kept = kept
    return kept
}

/// The interpolating adjoint (SciMLSensitivity.jl's `InterpolatingAdjoint`): one forward solve
/// keeping the dense output; one backward solve of `[λ; μ]`, `u(t)` read from the forward
/// interpolant, `μ' = -(∂f/∂p)ᵀλ` accumulated alongside `λ` under the same error control.
///
/// With `checkpointing: true` the forward solve keeps only the states at the observation times
/// (the checkpoints); the backward solve, on reaching each observation time `t_k`, re-solves
/// the state forward from the checkpoint before it over `[t_{k-1}, t_k]` with dense output and
/// reads `u(t)` from that piece. Memory falls from every forward step to the observations plus
/// one interval's steps, for about one extra forward solve of work (`stats.checkpoints` counts
/// the re-solves; their `f` evaluations are in `stats.forwardEvaluations`). The re-solved state
/// differs from the first forward solve's by the solver's tolerance, so the gradient does too.
///
/// Cao, Li, Petzold & Serban (2003); Ma et al., arXiv:1812.01892 (where it is the robust
/// adjoint: unlike ``BacksolveAdjoint`` it never integrates the state backward).
public struct InterpolatingAdjoint: _WorkspaceSensitivityAlgorithm, Sendable {
    public var checkpointing: Bool
    public init(checkpointing: Bool = false) {
        self.checkpointing = checkpointing
    }
    public var name: String { checkpointing ? "InterpolatingAdjoint(checkpointing)" : "InterpolatingAdjoint" }

    /// The forward solve, kept: with dense output and every step, or with checkpointing the
    /// observations alone.
    @inlinable
    public func forwardPass<M: ODEModel, A: ODEAlgorithm>(
        _ problem: ODEProblem<GenericRHS<M, Double>>, algorithm: A, plan: ObservationPlan, workspace: GradientWorkspace
    ) throws(SensitivityError) -> [[Double]] {
        try _forward(problem.f.model, algorithm, plan, workspace).observed
    }

    @inlinable
    func _forward<M: ODEModel, A: ODEAlgorithm>(
        _ model: M, _ algorithm: A, _ plan: ObservationPlan, _ workspace: GradientWorkspace
    ) throws(SensitivityError) -> _KeptForward {
        guard checkpointing else { return try _keptDenseForward(model, algorithm, plan, workspace, includeMu: true) }
        let ws = workspace._adjointWorkspace(model, p: plan.p, n: plan.u0.count)
        let forwardJacobian = ws.prepareCompressedJacobian(u0: plan.u0, t0: plan.t0, includeMu: true)
        let forwardProblem = ODEProblem(
            _AdjointForwardRHS.erased(model, compressed: forwardJacobian), u0: plan.u0, tspan: (plan.t0, plan.t1),
            p: plan.p)
        return try _keptObservingForward(forwardProblem, algorithm, plan, workspace)
    }

    @inlinable
    public func gradient<M: ODEModel, L: PointLoss, A: ODEAlgorithm>(
        of loss: L, _ problem: ODEProblem<GenericRHS<M, Double>>, algorithm: A, plan: ObservationPlan,
        workspace: GradientWorkspace
    ) throws(SensitivityError) -> SensitivityResult {
        let kept = try workspace._keptForward(dense: !checkpointing) { () throws(SensitivityError) in
            try _forward(problem.f.model, algorithm, plan, workspace)
        }
        let model = problem.f.model
        let n = plan.u0.count, np = plan.p.count
        let ws = workspace._adjointWorkspace(model, p: plan.p, n: n)
        let forwardJacobian = ws.forwardCompressed
        let observed = kept.observed
        var stats = SensitivityStats(forward: kept.solution.stats)
        if checkpointing {
            // Set by the re-solve at the last observation, before the first backward step.
            ws.forward = nil
        } else {
            ws.forward = kept.solution.denseOutput
            stats.peakStoredStates = kept.solution.stats.naccept + 1
        }
        let rhs = ws.adjointRHS(includeMu: true)
        var y = [Double](repeating: 0, count: n + np)
        var g = [Double](repeating: 0, count: n)
        var value = 0.0
        let times = plan.times, t0 = plan.t0
        let checkpointed = checkpointing
        var resolveFailure: SensitivityError?
        var storedByPiece = 0, resolveEvaluations = 0, resolves = 0
        _ = try _sweepBackward(
            plan: plan, algorithm: algorithm, rhs: rhs, y: &y, options: _backwardOptions(plan, dense: false),
            stats: &stats,
            atObservation: { k, y in
                value += loss.valueAndGradient(at: observed[k], times[k], into: &g)
                for i in 0..<n { y[i] += g[i] }
                // The last call at this time, which starts the piece below it: re-solve it.
                guard checkpointed, times[k] > t0, k == 0 || times[k - 1] != times[k] else { return }
                let start = k == 0 ? t0 : times[k - 1]
                let from = k == 0 ? plan.u0 : observed[k - 1]
                do throws(SensitivityError) {
                    let piece = try _denseSolve(
                        model, algorithm, plan, u0: from, span: (start, times[k]), jacobian: forwardJacobian)
                    ws.forward = piece.denseOutput
                    resolveEvaluations += piece.stats.nf
                    resolves += 1
                    storedByPiece = Swift.max(storedByPiece, piece.stats.naccept + 1)
                } catch {
                    if resolveFailure == nil { resolveFailure = error }
                    ws.forward = nil
                }
            })
        if let resolveFailure { throw resolveFailure }
        if let e = ws.error { throw .reverseMode(e) }
        if checkpointed {
            stats.peakStoredStates = observed.count + storedByPiece
            stats.forwardEvaluations += resolveEvaluations
            stats.checkpoints = resolves
        }
        stats.vjps = ws.productCount
        stats.jacobians = ws.jacobianCount
        return SensitivityResult(
            loss: value, dp: Array(y[n..<(n + np)]), du0: Array(y[0..<n]), stats: stats, method: name)
    }
}

/// A forward solve of one checkpoint interval with dense output (the re-solves of the
/// checkpointed interpolating adjoint).
@inlinable
func _denseSolve<M: ODEModel, A: ODEAlgorithm>(
    _ model: M, _ algorithm: A, _ plan: ObservationPlan, u0: [Double], span: (Double, Double),
    jacobian: _CompressedJacobian<M>?
) throws(SensitivityError) -> ODESolution<Double> {
    var options = plan.options
    options.saveat = nil
    options.dense = true
    options.saveEverystep = true
    let problem = ODEProblem(_AdjointForwardRHS.erased(model, compressed: jacobian), u0: u0, tspan: span, p: plan.p)
    let sol = try _solveErased(problem, algorithm, options, phase: "forward (checkpoint re-solve)")
    guard sol.denseOutput != nil else {
        throw .unsupported("\(algorithm.name) gave no dense output, which the interpolating adjoints need")
    }
    return sol
}

/// The quadrature adjoint (SciMLSensitivity.jl's `QuadratureAdjoint`): `λ` alone is solved
/// backward (a system of size `n`, not `n + np`), with `u(t)` from the forward interpolant, and
/// `dL/dp = ∫ λ(t)ᵀ ∂f/∂p(u(t), p, t) dt` is computed afterwards as a quadrature over the
/// stored forward and backward solutions: Gauss-Legendre on every piece between consecutive
/// forward and backward step times, with `λ(t)` from the adjoint's dense output and as many
/// points as the interpolants' order calls for (``gaussLegendre(interpolantOrder:)``: three for
/// Rodas5P and Tsit5). The integrand `λᵀ∂f/∂p` comes from one dual evaluation of `f` when the
/// parameters' columns of `∂f/∂p` take at most eight colors (see ``_CompressedJacobian``), else
/// from the tape.
///
/// Cao, Li, Petzold & Serban (2003), §2 (the quadrature form of the parameter gradient);
/// Ma et al., arXiv:1812.01892.
public struct QuadratureAdjoint: _WorkspaceSensitivityAlgorithm, Sendable {
    public init() {}
    public var name: String { "QuadratureAdjoint" }

    /// The Gauss-Legendre rule on [-1, 1] for integrands known through interpolants of order `q`
    /// (`nil`: unknown), nodes and weights from Abramowitz & Stegun, Table 25.4.
    ///
    /// The integrand is only as accurate as the dense outputs it is evaluated on: an interpolant
    /// of order `q` is off by `O(h^{q+1})` inside a step of length `h` (Hairer, Nørsett & Wanner
    /// I, §II.6), so the integral over a piece carries an error `O(h^{q+2})` from it. An `m`-point
    /// rule is exact for polynomials of degree `2m − 1` and errs by `O(h^{2m+1})` on a smooth
    /// integrand (A&S 25.4.30), so `m = ⌈(q + 1)/2⌉` points keep the quadrature's own error at or
    /// below the interpolation's; more points refine an integrand that is no more accurate. At
    /// least three points (the quadrature error then stays `O(h⁷)` per piece, two orders below
    /// Rodas5P's and Tsit5's order-4 interpolants), at most five (the former fixed rule, also
    /// for interpolants of unknown order).
    @inlinable
    static func gaussLegendre(interpolantOrder q: Int?) -> (nodes: [Double], weights: [Double]) {
        switch q.map({ ($0 + 2) / 2 }) ?? 5 {
        case ...3:
            return (
                [-0.774596669241483377035853079956, 0, 0.774596669241483377035853079956],
                [0.555555555555555555555555555556, 0.888888888888888888888888888889, 0.555555555555555555555555555556]
            )
        case 4:
            return (
                [
                    -0.861136311594052575223946488893, -0.339981043584856264802665759103,
                    0.339981043584856264802665759103, 0.861136311594052575223946488893,
                ],
                [
                    0.347854845137453857373063949222, 0.652145154862546142626936050778,
                    0.652145154862546142626936050778, 0.347854845137453857373063949222,
                ]
            )
        default:
            return (
                [
                    -0.906179845938663992797626878299, -0.538469310105683091036314420700, 0,
                    0.538469310105683091036314420700, 0.906179845938663992797626878299,
                ],
                [
                    0.236926885056189087514264040720, 0.478628670499366468041291514836,
                    0.568888888888888888888888888889, 0.478628670499366468041291514836,
                    0.236926885056189087514264040720,
                ]
            )
        }
    }

    /// The forward solve with dense output and every step (the quadrature's breakpoints), kept.
    @inlinable
    public func forwardPass<M: ODEModel, A: ODEAlgorithm>(
        _ problem: ODEProblem<GenericRHS<M, Double>>, algorithm: A, plan: ObservationPlan, workspace: GradientWorkspace
    ) throws(SensitivityError) -> [[Double]] {
        try _keptDenseForward(problem.f.model, algorithm, plan, workspace, includeMu: false).observed
    }

    @inlinable
    public func gradient<M: ODEModel, L: PointLoss, A: ODEAlgorithm>(
        of loss: L, _ problem: ODEProblem<GenericRHS<M, Double>>, algorithm: A, plan: ObservationPlan,
        workspace: GradientWorkspace
    ) throws(SensitivityError) -> SensitivityResult {
        let kept = try workspace._keptForward(dense: true) { () throws(SensitivityError) in
            try _keptDenseForward(problem.f.model, algorithm, plan, workspace, includeMu: false)
        }
        let model = problem.f.model
        let n = plan.u0.count, np = plan.p.count
        let ws = workspace._adjointWorkspace(model, p: plan.p, n: n)
        let forward = kept.solution, observed = kept.observed
        let forwardTimes = forward.t
        ws.forward = forward.denseOutput
        let rhs = ws.adjointRHS(includeMu: false)
        var stats = SensitivityStats(forward: forward.stats)
        var peakBackward = 0
        var y = [Double](repeating: 0, count: n)
        var g = [Double](repeating: 0, count: n)
        var mu = [Double](repeating: 0, count: np)
        var value = 0.0
        let backward = try _sweepBackward(
            plan: plan, algorithm: algorithm, rhs: rhs, y: &y, options: _backwardOptions(plan, dense: true),
            stats: &stats,
            atObservation: { k, y in
                value += loss.valueAndGradient(at: observed[k], plan.times[k], into: &g)
                for i in 0..<n { y[i] += g[i] }
            })
        if let e = ws.error { throw .reverseMode(e) }
        if let sol = backward {
            guard let adjointDense = sol.denseOutput else {
                throw .unsupported("\(algorithm.name) gave no dense output for the adjoint")
            }
            let adjoint = _evaluator(adjointDense)
            peakBackward = sol.stats.naccept + 1
            // Breakpoints: the backward steps (which land on every observation time, where λ
            // jumps) and the forward steps, so that each piece is smooth.
            let (lo, hi) = adjointDense.domain
            var breaks = sol.t
            for s in forwardTimes where s > lo && s < hi { breaks.append(s) }
            breaks.sort()
            let forwardOrder = forward.denseOutput?.order
            let adjointOrder = adjointDense.order
            let order = forwardOrder.flatMap { f in adjointOrder.map { Swift.max(f, $0) } }
            let (nodes, weights) = QuadratureAdjoint.gaussLegendre(interpolantOrder: order)
            let products = _CompressedJacobian.makeParameterProduct(model, pattern: ws.pattern, n: n, p: plan.p)
            // With the dual-number products the node's state, adjoint and product live in local
            // arrays: the workspace's are class properties, each access an exclusivity check.
            var uq = [Double](repeating: 0, count: n), lq = uq, dp = mu
            var productCount = 0
            let forwardAt = ws.forwardEvaluator
            for m in 1..<breaks.count {
                let a = breaks[m - 1], b = breaks[m]
                guard b > a else { continue }
                let mid = 0.5 * (a + b), half = 0.5 * (b - a)
                for q in 0..<nodes.count {
                    let t = mid + half * nodes[q]
                    let w = half * weights[q]
                    if let products, let forwardAt {
                        forwardAt(t, &uq)
                        adjoint(t, &lq)
                        products.parameterProduct(lq, u: uq, p: plan.p, t: t, into: &dp)
                        for k in 0..<np { mu[k] += w * dp[k] }
                        productCount += 1
                        continue
                    }
                    ws.interpolateForward(t)
                    adjoint(t, &ws.lambda)
                    ws.vjp(t: t)
                    ws.vjpP.withUnsafeBufferPointer { v in for k in 0..<np { mu[k] += w * v[k] } }
                }
            }
            ws.vjps += productCount
            if let e = ws.error { throw .reverseMode(e) }
        }
        stats.vjps = ws.productCount
        stats.jacobians = ws.jacobianCount
        stats.peakStoredStates = forward.stats.naccept + 1 + peakBackward
        return SensitivityResult(loss: value, dp: mu, du0: y, stats: stats, method: name)
    }
}

/// `max_i |y_i − u_i| / (abstol_i + reltol |u_i|)` over the state part `y[0..<n]`.
@inlinable
func _drift(_ y: [Double], _ u: [Double], _ plan: ObservationPlan) -> Double {
    var worst = 0.0
    for i in u.indices {
        let d = Swift.abs(y[i] - u[i]) / errorWeight(abstol: plan.options.abstol[i], reltol: plan.options.reltol, u[i])
        if !(d <= worst) { worst = d }  // NaN propagates
    }
    return worst
}

/// The backsolve adjoint (Chen, Rubanova, Bettencourt & Duvenaud, NeurIPS 2018; the adjoint of
/// "Neural ordinary differential equations"): the state is not stored but re-solved backward
/// from `u(T)` together with `λ` and `μ`, one system `[u; λ; μ]` of size `2n + np`. Memory is
/// `O(1)` in the number of steps, but integrating `u` backward is unstable when the forward
/// flow is dissipative or chaotic: the reconstructed `u(t)` then drifts away from the forward
/// solution and so does the gradient (Ma et al., arXiv:1812.01892, §3; the result's
/// ``SensitivityResult/reconstructedInitialState`` shows the drift).
///
/// With `checkpointing: true` the state is reset to the stored forward state at every
/// observation time (SciMLSensitivity.jl's default), which bounds the drift to one interval.
public struct BacksolveAdjoint: _WorkspaceSensitivityAlgorithm, Sendable {
    public var checkpointing: Bool
    /// With checkpointing: the largest distance, in tolerances (``SensitivityStats/stateDrift``),
    /// between the state integrated backward and a stored forward state before the gradient is
    /// refused as computed along the wrong trajectory.
    public var maxStateDrift: Double
    public init(checkpointing: Bool = false, maxStateDrift: Double = 1000) {
        self.checkpointing = checkpointing
        self.maxStateDrift = maxStateDrift
    }
    public var name: String { checkpointing ? "BacksolveAdjoint(checkpointing)" : "BacksolveAdjoint" }

    /// The forward solve at the observation times, kept (the backward pass resets its state to
    /// them).
    @inlinable
    public func forwardPass<M: ODEModel, A: ODEAlgorithm>(
        _ problem: ODEProblem<GenericRHS<M, Double>>, algorithm: A, plan: ObservationPlan, workspace: GradientWorkspace
    ) throws(SensitivityError) -> [[Double]] {
        try _forward(problem, algorithm, plan, workspace).observed
    }

    @inlinable
    func _forward<M: ODEModel, A: ODEAlgorithm>(
        _ problem: ODEProblem<GenericRHS<M, Double>>, _ algorithm: A, _ plan: ObservationPlan,
        _ workspace: GradientWorkspace
    ) throws(SensitivityError) -> _KeptForward {
        let forwardProblem = ODEProblem(
            ErasedModelRHS(problem.f.model, as: Double.self), u0: plan.u0, tspan: (plan.t0, plan.t1), p: plan.p)
        return try _keptObservingForward(forwardProblem, algorithm, plan, workspace)
    }

    @inlinable
    public func gradient<M: ODEModel, L: PointLoss, A: ODEAlgorithm>(
        of loss: L, _ problem: ODEProblem<GenericRHS<M, Double>>, algorithm: A, plan: ObservationPlan,
        workspace: GradientWorkspace
    ) throws(SensitivityError) -> SensitivityResult {
        let kept = try workspace._keptForward(dense: false) { () throws(SensitivityError) in
            try _forward(problem, algorithm, plan, workspace)
        }
        let model = problem.f.model
        let n = plan.u0.count, np = plan.p.count
        let forward = kept.solution
        let observed = kept.observed
        let ws = workspace._adjointWorkspace(model, p: plan.p, n: n)
        var f = [Double](repeating: 0, count: n)
        let rhs = _BackwardRHS({ dy, y, _, t in
            for i in 0..<n {
                ws.u[i] = y[i]
                ws.lambda[i] = y[n + i]
            }
            model.lengthCheckedRHS(&f, ws.u, ws.p, t)
            ws.vjp(t: t)
            for i in 0..<n {
                dy[i] = f[i]
                dy[n + i] = -ws.vjpU[i]
            }
            for k in 0..<np { dy[2 * n + k] = -ws.vjpP[k] }
        })
        var stats = SensitivityStats(forward: forward.stats)
        stats.peakStoredStates = observed.count
        var y = [Double](repeating: 0, count: 2 * n + np)
        var g = [Double](repeating: 0, count: n)
        var value = 0.0
        let last = plan.times.count - 1
        let reset = checkpointing
        var checkpoints = 0
        var drift = 0.0
        _ = try _sweepBackward(
            plan: plan, algorithm: algorithm, rhs: rhs, y: &y, options: _backwardOptions(plan, dense: false),
            stats: &stats,
            atObservation: { k, y in
                if k != last {
                    drift = Swift.max(drift, _drift(y, observed[k], plan))
                }
                if k == last || reset {
                    for i in 0..<n { y[i] = observed[k][i] }
                    if k != last { checkpoints += 1 }
                }
                value += loss.valueAndGradient(at: observed[k], plan.times[k], into: &g)
                for i in 0..<n { y[n + i] += g[i] }
            })
        if let e = ws.error { throw .reverseMode(e) }
        if plan.times.first != plan.t0 { drift = Swift.max(drift, _drift(y, plan.u0, plan)) }
        stats.vjps = ws.vjps
        stats.checkpoints = checkpoints
        stats.stateDrift = drift
        // A backward state solve that follows the trajectory stays within a few tolerances of
        // the stored states (measured: Lotka-Volterra 1.2, Brusselator N = 2 0.9). One that
        // does not (stiff or diffusive models, whose decaying modes grow in reverse time:
        // Brusselator N = 3 drifts 1.2e6 tolerances and its gradient is off by 110%) integrates
        // λ along the wrong states. With checkpoints that is a failure, not a gradient; without
        // them the result is returned with its drift (the Lorenz lesson reports exactly that).
        if checkpointing && !(drift <= maxStateDrift) {
            throw .solveFailed(
                phase: "backward (state reconstruction)", retcode: .unstable,
                message: "the state integrated backward drifted \(drift) tolerances from the stored forward "
                    + "state between checkpoints: the model is unstable in reverse time; use QuadratureAdjoint or "
                    + "InterpolatingAdjoint")
        }
        return SensitivityResult(
            loss: value, dp: Array(y[(2 * n)..<(2 * n + np)]), du0: Array(y[n..<(2 * n)]), stats: stats,
            method: name, reconstructedInitialState: Array(y[0..<n]))
    }
}
