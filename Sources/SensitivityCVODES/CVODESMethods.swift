import AutoDiff
import DiffEqCore
import Sensitivity
import SundialsBridge

// CVODES' own sensitivity analysis (SUNDIALS' CVODES, as `CVODE_BDF` with `sensealg =
// ForwardSensitivity()` / `InterpolatingAdjoint()` would be in Sundials.jl terms), behind the
// same `SensitivityAlgorithm` protocol as the native methods. CVODES does its own integration:
// a CVODE algorithm passed as the `algorithm` argument of
// `gradient(of:_:algorithm:options:sensealg:wrt:)` gives the family and corrector (see
// `CVODESMultistepMethod`), any other algorithm is not used; the tolerances, `dt`, `dtmin`,
// `dtmax` and `maxiters` of the options are.
//
// References: the CVODES User Guide (SUNDIALS 6.x), §2.6 "Forward sensitivity analysis" and
// §2.7 "Adjoint sensitivity analysis"; R. Serban, A. C. Hindmarsh, "CVODES: the
// sensitivity-enabled ODE solver in SUNDIALS", Proc. ASME IDETC/CIE 2005; Cao, Li, Petzold &
// Serban (2003) for the adjoint with jumps at observation times.

/// CVODES' linear multistep family for ``CVODESForward`` and ``CVODESAdjoint`` (Newton
/// iteration with a dense direct linear solver, whose Jacobian is exact by forward-mode AD,
/// unless a CVODE algorithm asks for fixed-point iteration).
///
/// With a CVODE algorithm as the `algorithm` argument (and the sensealg's `method` `nil` or the
/// same family) a CVODES run takes the algorithm's family, its `maxOrder` and `maxNumSteps`
/// where the sensealg's own are `nil`, and its corrector: `CVODE_Adams()` iterates to a fixed
/// point (functional iteration, no Jacobian) for the state, the sensitivities and the backward
/// problem, as `CVODE_Adams` does; `CVODE_BDF` and `CVODE_Adams(nonlinearSolver: .newton)` use
/// Newton. `useAnalyticJacobian` and `stabilityLimitDetection` are not used, and `constraints`
/// and a `linearSolver` other than dense are refused (CVODES' sensitivity runs here do not apply
/// them). Any other algorithm is
/// ignored (BDF unless `method` says otherwise).
public enum CVODESMultistepMethod: Sendable, Equatable {
    /// Backward differentiation formulas, orders 1 to 5: stiff problems (the default).
    case bdf
    /// Adams-Moulton, orders 1 to 12: non-stiff problems.
    case adams
}

/// How ``CVODESAdjoint`` interpolates the forward solution between the steps it stored (or
/// recomputed from a checkpoint) while it integrates backward (CVODES guide §2.7.3).
public enum CVODESInterpolation: Sendable, Equatable {
    /// Cubic Hermite through `u` and `u'` at every step (`CV_HERMITE`): two vectors per step,
    /// fourth-order accurate in the step size.
    case hermite
    /// CVODES' variable-degree polynomial through the last steps, of the forward method's
    /// current order (`CV_POLYNOMIAL`): one vector per step; more accurate when the steps are
    /// long, as with high-order Adams on a non-stiff problem. Needs
    /// ``CVODESAdjoint/stepsBetweenCheckpoints`` greater than the largest order (`maxOrder`,
    /// else 5 for BDF and 12 for Adams), and refuses less: CVODES builds the polynomial of order
    /// `q` from `q + 1` stored points of one checkpoint interval, and a recomputation restarts at
    /// the checkpoint's order, so with fewer points it read past its storage and crashed, and
    /// with exactly `q` steps between checkpoints it read a point the forward pass never stored.
    case polynomial
}

/// How CVODES solves the corrector equations of the state and its forward sensitivities.
public enum CVODESCorrector: Sendable, Equatable {
    /// State and sensitivities in one nonlinear system per step (`CV_SIMULTANEOUS`).
    case simultaneous
    /// The state's corrector first, then all the sensitivities' (`CV_STAGGERED`).
    case staggered
}

/// CVODES forward sensitivity analysis (CVODES guide §2.6): the state and the sensitivities
/// `s_j = ∂u/∂θ_j` to every parameter and every initial value, `s_j' = (∂f/∂u) s_j + ∂f/∂θ_j`
/// (`s_j(t0) = 0` for a parameter, `e_i` for `u0_i`), integrated by CVODES together with its
/// error control covering the sensitivities (`CVodeSetSensErrCon`). The sensitivity
/// tolerances are CVODES' estimated ones (`CVodeSensEEtolerances`: `reltol` and `abstol / |p_j|`
/// for parameter `p_j`, `abstol` for initial values). The right-hand sides of all `np + n`
/// sensitivities come from one call, by forward-mode AD (eight directions per dual evaluation
/// of `f`); the Newton solver gets the exact `∂f/∂u`.
///
/// The gradient is `dL/dθ_j = Σ_k ∂g/∂u(u(t_k)) · s_j(t_k)`, with `u` and `S` from
/// `CVodeGetSens` at every observation time.
///
/// ```swift
/// let r = try gradient(of: SumOfSquaresLoss(), prob, algorithm: CVODE_BDF(), options: options,
///                      sensealg: CVODESForward())
/// ```
///
/// CVODES integrates, with the linear multistep family of ``method`` or, when that is `nil`, of
/// the `algorithm` argument: `CVODE_Adams` runs Adams-Moulton, `CVODE_BDF` and any other
/// algorithm BDF (see ``CVODESMultistepMethod`` for how the CVODE algorithms' other settings
/// carry over). `SensitivityStats.forwardEvaluations` counts calls of `f` (`CVodeGetNumRhsEvals`) plus calls
/// of the sensitivity right-hand side (`CVodeGetSensNumRhsEvals`; each computes all
/// sensitivities), `jacobians` the Jacobians (`CVodeGetNumJacEvals`).
public struct CVODESForward: SensitivityAlgorithm, Sendable {
    /// The family; `nil` follows the `algorithm` argument (Adams for `CVODE_Adams`, else BDF).
    public var method: CVODESMultistepMethod?
    public var corrector: CVODESCorrector
    /// Whether the sensitivities take part in the local error test (`true`, CVODES' advice for
    /// accurate sensitivities) or only the state does.
    public var sensitivityErrorControl: Bool
    /// The largest order (1...5 for BDF, 1...12 for Adams); `nil` for the family's largest.
    public var maxOrder: Int?
    /// Steps allowed; `nil` uses `SolveOptions.maxiters`.
    public var maxNumSteps: Int?

    public init(
        method: CVODESMultistepMethod? = nil, corrector: CVODESCorrector = .simultaneous,
        sensitivityErrorControl: Bool = true, maxOrder: Int? = nil, maxNumSteps: Int? = nil
    ) {
        self.method = method
        self.corrector = corrector
        self.sensitivityErrorControl = sensitivityErrorControl
        self.maxOrder = maxOrder
        self.maxNumSteps = maxNumSteps
    }

    public var name: String { "CVODESForward(\(method.map { $0 == .bdf ? "BDF" : "Adams" } ?? "algorithm's family"))" }

    @inlinable
    public func gradient<M: ODEModel, L: PointLoss, A: ODEAlgorithm>(
        of loss: L, _ problem: ODEProblem<GenericRHS<M, Double>>, algorithm: A, plan: ObservationPlan
    ) throws(SensitivityError) -> SensitivityResult {
        // CVODES needs at least one sensitivity; with no parameters and `wrt: .parameters` a
        // zero direction (s = 0, no forcing) stands in and contributes nothing.
        let n = plan.u0.count, np = plan.p.count, ns = Swift.max(plan.directionCount, 1)
        let withU0 = plan.inputs != .parameters
        let family = try _CVODESFamily(method, algorithm: algorithm, sensealg: "CVODESForward")
        var settings = try _cvodesSettings(plan, family: family, maxOrder: maxOrder, maxNumSteps: maxNumSteps)
        settings.staggered = corrector == .staggered
        settings.sensitivityErrorControl = sensitivityErrorControl
        // pbar: the parameters' magnitudes (1 for a zero parameter and for the initial values).
        settings.sensitivityScales = plan.p.map { $0 == 0 ? 1 : Swift.abs($0) } + [Double](repeating: 1, count: ns - np)
        let ws = _CVODESWorkspace(problem.f.model, p: plan.p, n: n, adjoint: false, directions: ns)
        let functions = CVODESFunctions(
            count: n, sensitivityCount: ns, rhs: { t, y, dy in ws.rhs(t, y, dy) },
            jacobian: { t, y, J in ws.jacobian(t, y, J, adjoint: false) },
            sensitivityRHS: { t, y, s, ds in ws.sensitivityRHS(t, y, s, ds) })
        var s0 = [Double](repeating: 0, count: n * ns)
        if withU0 { for i in 0..<n { s0[(np + i) * n + i] = 1 } }
        let output: CVODESForwardOutput
        do {
            output = try CVODESSensitivitySession.forward(
                u0: plan.u0, t0: plan.t0, times: plan.times, initialSensitivities: s0, sensitivityCount: ns,
                settings: settings, functions: functions)
        } catch {
            throw .solveFailed(phase: error.phase, retcode: error.retcode, message: ws.lengthChange ?? error.message)
        }
        var dp = [Double](repeating: 0, count: np)
        var du0 = [Double](repeating: 0, count: n)
        var g = [Double](repeating: 0, count: n)
        var value = 0.0
        for k in plan.times.indices {
            value += loss.valueAndGradient(at: output.states[k], plan.times[k], into: &g)
            let s = output.sensitivities[k]
            for j in 0..<ns {
                var d = 0.0
                for i in 0..<n { d += g[i] * s[j * n + i] }
                if j < np { dp[j] += d } else if withU0 { du0[j - np] += d }
            }
        }
        var stats = SensitivityStats()
        stats.forwardEvaluations = output.stats.forwardRHS + output.stats.sensitivityRHS
        stats.forwardSteps = output.stats.forwardSteps
        stats.jacobians = output.stats.forwardJacobians
        stats.peakStoredStates = output.states.count
        return SensitivityResult(loss: value, dp: dp, du0: du0, stats: stats, method: "CVODESForward(\(family.label))")
    }
}

/// CVODES adjoint sensitivity analysis (CVODES guide §2.7): `CVodeF` integrates the state
/// forward to the last observation time, storing a checkpoint every ``stepsBetweenCheckpoints``
/// steps (`CVodeAdjInit`; cubic Hermite interpolation between the recomputed steps by default,
/// see ``interpolation``); the
/// backward problem `λ' = −(∂f/∂u)ᵀλ` (VJPs from a replayed reverse-mode tape, ``RHSTape``;
/// the dense Newton solver gets the exact `−(∂f/∂u)ᵀ` by forward-mode AD) and its quadrature
/// `q' = −(∂f/∂p)ᵀλ` (under error control, `CVodeSetQuadErrConB`) run from the last observation
/// time to `t0`, one observation interval per `CVodeB` call: at each observation time `λ` jumps
/// by `∂g/∂u(u(t_k))` and the backward problem restarts there (`CVodeReInitB`,
/// `CVodeQuadReInitB`). Then `dL/du0 = λ(t0)` and `dL/dp = q(t0) = ∫ λᵀ ∂f/∂p dt`.
///
/// ```swift
/// let r = try gradient(of: SumOfSquaresLoss(), rober, algorithm: CVODE_BDF(), options: options,
///                      sensealg: CVODESAdjoint(stepsBetweenCheckpoints: 50))
/// ```
///
/// CVODES integrates both ways, with the family of ``method`` or, when that is `nil`, of the
/// `algorithm` argument, as for ``CVODESForward``. The backward problem and its quadrature use `reltol` and the smallest `abstol`.
/// `SensitivityStats`: `forwardEvaluations` counts `f` in `CVodeF` and in the recomputations
/// between checkpoints, `backwardEvaluations` the backward right-hand side and quadrature
/// calls (one VJP each), `checkpoints` the checkpoints stored (the one at `t0` included), and
/// `peakStoredStates` the state-sized vectors held during the backward pass: each checkpoint's
/// Nordsieck array (order + 1 vectors, one more below the largest order), the interpolation
/// data of one checkpoint interval (`2 (Nd + 1)` vectors for Hermite, `Nd + 1` for the
/// polynomial), and the observed states.
///
/// CVODES writes the recomputed steps of a checkpoint interval into an array of `Nd + 1` entries
/// without a bounds check and crashes when a recomputation takes more steps than the forward
/// pass did (SUNDIALS issues #31, #49; a recomputation restarts the Newton iteration with a
/// fresh Jacobian, so its steps match the forward pass's only to the corrector's tolerance). The
/// forward right-hand side refuses to run such a step, and the gradient is computed again with
/// one checkpoint interval holding every forward step (nothing recomputed; the statistics
/// describe that run).
public struct CVODESAdjoint: SensitivityAlgorithm, Sendable {
    /// The family; `nil` follows the `algorithm` argument (Adams for `CVODE_Adams`, else BDF).
    public var method: CVODESMultistepMethod?
    /// `Nd` of `CVodeAdjInit`: forward steps between checkpoints (memory against
    /// recomputation: `Nd ≥` the number of forward steps stores one checkpoint and recomputes
    /// nothing).
    public var stepsBetweenCheckpoints: Int
    /// The interpolation of the forward solution (cubic Hermite by default).
    public var interpolation: CVODESInterpolation
    /// Whether the quadrature `q = dL/dp` takes part in the backward error test.
    public var quadratureErrorControl: Bool
    /// The largest order (1...5 for BDF, 1...12 for Adams); `nil` for the family's largest.
    public var maxOrder: Int?
    /// Steps allowed per pass; `nil` uses `SolveOptions.maxiters`.
    public var maxNumSteps: Int?
    /// For tests: the replay guard fires after this many recomputed steps.
    @usableFromInline package var _replayGuardStride: Int?

    public init(
        method: CVODESMultistepMethod? = nil, stepsBetweenCheckpoints: Int = 100,
        interpolation: CVODESInterpolation = .hermite, quadratureErrorControl: Bool = true, maxOrder: Int? = nil,
        maxNumSteps: Int? = nil
    ) {
        self.method = method
        self.stepsBetweenCheckpoints = stepsBetweenCheckpoints
        self.interpolation = interpolation
        self.quadratureErrorControl = quadratureErrorControl
        self.maxOrder = maxOrder
        self.maxNumSteps = maxNumSteps
    }

    public var name: String { "CVODESAdjoint(\(method.map { $0 == .bdf ? "BDF" : "Adams" } ?? "algorithm's family"))" }

    /// The largest effective ``stepsBetweenCheckpoints`` (after capping it at the step limit):
    /// CVODES allocates `Nd + 1` interpolation points, two state vectors each for Hermite.
    public static let maxStepsBetweenCheckpoints = 10_000_000

    @inlinable
    public func gradient<M: ODEModel, L: PointLoss, A: ODEAlgorithm>(
        of loss: L, _ problem: ODEProblem<GenericRHS<M, Double>>, algorithm: A, plan: ObservationPlan
    ) throws(SensitivityError) -> SensitivityResult {
        let n = plan.u0.count, np = plan.p.count
        guard stepsBetweenCheckpoints > 0 else {
            throw .invalidInput(
                .invalidStepOption("CVODESAdjoint: stepsBetweenCheckpoints must be positive, got \(stepsBetweenCheckpoints)"))
        }
        let family = try _CVODESFamily(method, algorithm: algorithm, sensealg: "CVODESAdjoint")
        var settings = try _cvodesSettings(plan, family: family, maxOrder: maxOrder, maxNumSteps: maxNumSteps)
        // CVODES' polynomial interpolation (CVodeB's lookup of the forward solution) takes the
        // points `dt_mem[max(i, q) - q ... max(i, q)]` of one checkpoint interval for `t` after
        // point `i`, `q` the order of the forward step there, from an array of `Nd + 1` points
        // (cvodes_adjoint.c, CVApolynomialGetY). With `Nd < q` it reads past the array's end (an
        // invalid read, then a crash: issue #14, LV with Nd = 2 and BDF order 5). With `Nd = q`
        // it reads `dt_mem[Nd]`, which the forward pass never writes (it stores steps at
        // `nst % Nd`), in the last interval: uninitialised memory (valgrind, LV with BDF and
        // Nd = 5). A recomputation restarts from a checkpoint at that checkpoint's order, so any
        // order up to the largest can occur at any index: `Nd` must exceed the largest order.
        let highestOrder = settings.maxOrder ?? family.method.highestOrder
        if interpolation == .polynomial && stepsBetweenCheckpoints <= highestOrder {
            throw .invalidInput(
                .invalidStepOption(
                    "CVODESAdjoint: interpolation .polynomial needs stepsBetweenCheckpoints > the largest order "
                        + "\(highestOrder), got \(stepsBetweenCheckpoints): CVODES interpolates the forward solution "
                        + "through order + 1 points of one checkpoint interval (lower maxOrder, raise "
                        + "stepsBetweenCheckpoints, or use .hermite)"))
        }
        // CVodeAdjInit allocates all `Nd + 1` interpolation points (each with state-sized
        // vectors) up front: `stepsBetweenCheckpoints: Int(Int32.max)` got the process killed
        // for running out of memory. The forward pass stops after `maxNumSteps` steps, so a
        // larger `Nd` is the same as `maxNumSteps`; beyond that a bound refuses what cannot be
        // allocated.
        // (Capped by a small `maxiters`, `Nd` still holds a polynomial of the largest order.)
        let nd = Swift.max(
            Swift.min(stepsBetweenCheckpoints, settings.maxNumSteps), interpolation == .polynomial ? highestOrder + 1 : 1)
        guard nd <= Self.maxStepsBetweenCheckpoints else {
            throw .invalidInput(
                .invalidStepOption(
                    "CVODESAdjoint: stepsBetweenCheckpoints \(stepsBetweenCheckpoints) (with maxiters \(settings.maxNumSteps)) "
                        + "exceeds \(Self.maxStepsBetweenCheckpoints): CVODES allocates that many interpolation points up front"))
        }
        settings.stepsBetweenCheckpoints = nd
        settings.quadratureErrorControl = quadratureErrorControl
        settings.polynomialInterpolation = interpolation == .polynomial
        settings.replayGuardStride = _replayGuardStride
        let ws = _CVODESWorkspace(problem.f.model, p: plan.p, n: n, adjoint: true)
        if let engine = ws.engine {
            ws.compressed = _CompressedJacobian.make(
                problem.f.model, tape: engine.tape, u: plan.u0, p: plan.p, t: plan.t0, includeParameters: false)
            ws.parameterProducts = _CompressedJacobian.makeParameterProduct(
                problem.f.model, tape: engine.tape, u: plan.u0, p: plan.p, t: plan.t0)
            // The native adjoints' stage Jacobian, built the same way (see
            // `_AdjointWorkspace.prepareCompressedJacobian`): a BDF step's Newton iterations
            // evaluate the backward right-hand side several times at one `t`.
            let limit = _AdjointWorkspace<M>.stageJacobianEvaluations
            if let c = ws.compressed {
                if c.evaluationsPerJacobian <= limit { ws.stage = _StageJacobian(c) }
            } else if !problem.f.model.hasAnalyticJacobian, n + np > 8,
                let pattern = try? engine.tape.dependencyPattern(u: plan.u0, p: plan.p, t: plan.t0)
            {
                ws.stage = _CompressedJacobian(
                    problem.f.model, pattern: pattern, n: n, p: plan.p, columns: 0..<n, maxEvaluations: limit
                ).map { _StageJacobian($0) }
            }
        }
        let functions = CVODESFunctions(
            count: n, sensitivityCount: 0, rhs: { t, y, dy in ws.rhs(t, y, dy) },
            jacobian: { t, y, J in ws.jacobian(t, y, J, adjoint: false) },
            adjointRHS: { t, y, l, dl in ws.adjointRHS(t, y, l, dl) },
            adjointJacobian: { t, y, J in ws.jacobian(t, y, J, adjoint: true) },
            adjointQuadrature: { t, y, l, dq in ws.adjointQuadrature(t, y, l, dq) })
        var g = [Double](repeating: 0, count: n)
        var value = 0.0
        func run(_ settings: CVODESSettings) throws(CVODESFailure) -> CVODESAdjointOutput {
            value = 0
            ws.vjps = 0
            ws.stage?.state.pointee.products = 0
            ws.stage?.invalidate()
            return try CVODESSensitivitySession.adjoint(
                u0: plan.u0, t0: plan.t0, times: plan.times, parameterCount: np, settings: settings,
                functions: functions,
                jump: { k, u, lambda in
                    value += loss.valueAndGradient(at: u, plan.times[k], into: &g)
                    for i in 0..<n { lambda[i] += g[i] }
                })
        }
        var output: CVODESAdjointOutput
        do {
            output = try run(settings)
        } catch {
            if let e = ws.error { throw .reverseMode(e) }
            guard error.replayOverrun, ws.lengthChange == nil else {
                throw .solveFailed(phase: error.phase, retcode: error.retcode, message: ws.lengthChange ?? error.message)
            }
            // A recomputation from a checkpoint outran the forward pass: run again with one
            // checkpoint interval holding every forward step, which recomputes nothing.
            settings.stepsBetweenCheckpoints = error.forwardSteps + 1
            settings.replayGuardStride = nil
            do { output = try run(settings) } catch {
                if let e = ws.error { throw .reverseMode(e) }
                throw .solveFailed(phase: error.phase, retcode: error.retcode, message: ws.lengthChange ?? error.message)
            }
        }
        if let e = ws.error { throw .reverseMode(e) }
        var stats = SensitivityStats()
        stats.forwardEvaluations = output.stats.forwardRHS + output.stats.replayRHS
        stats.forwardSteps = output.stats.forwardSteps
        stats.backwardEvaluations = output.stats.backwardRHS + output.stats.quadratureRHS
        stats.backwardSteps = output.stats.backwardSteps
        stats.vjps = ws.vjps + (ws.stage?.state.pointee.products ?? 0)
        stats.jacobians = output.stats.forwardJacobians + output.stats.backwardJacobians
        stats.checkpoints = output.stats.checkpoints
        stats.peakStoredStates = output.stats.storedVectors + output.states.count
        return SensitivityResult(
            loss: value, dp: output.mu, du0: output.lambda, stats: stats, method: "CVODESAdjoint(\(family.label))")
    }
}

extension CVODESMultistepMethod {
    /// The largest order CVODES allows for the family.
    @inlinable var highestOrder: Int { self == .bdf ? 5 : 12 }
}

/// The linear multistep family a CVODES sensitivity run integrates with, and the settings it
/// takes from a CVODE algorithm passed as `algorithm`.
@usableFromInline
struct _CVODESFamily {
    @usableFromInline let method: CVODESMultistepMethod
    /// The CVODE algorithm's `maxOrder` and `maxNumSteps`, used where the sensealg leaves its
    /// own `nil`.
    @usableFromInline let maxOrder: Int?
    @usableFromInline let maxNumSteps: Int?
    /// The CVODE algorithm's fixed-point corrector (`CVODE_Adams`' default).
    @usableFromInline let fixedPoint: Bool

    /// `method` if given, else the family of a CVODE `algorithm` (BDF for any other). A CVODE
    /// algorithm of the other family than an explicit `method` is refused: the run would
    /// silently not be the one asked for (it used to be BDF whatever the algorithm).
    @inlinable
    init<A: ODEAlgorithm>(_ method: CVODESMultistepMethod?, algorithm: A, sensealg: String) throws(SensitivityError) {
        guard let cvode = algorithm as? any CVODEAlgorithm else {
            self.method = method ?? .bdf
            maxOrder = nil
            maxNumSteps = nil
            fixedPoint = false
            return
        }
        let own: CVODESMultistepMethod = cvode.isAdamsMoulton ? .adams : .bdf
        if let method, method != own {
            throw .invalidInput(
                .invalidStepOption(
                    "\(sensealg)(method: .\(method)) contradicts algorithm \(algorithm.name) (\(own == .adams ? "Adams" : "BDF")): "
                        + "pass method: nil to follow the algorithm, or an algorithm of the same family"))
        }
        if let c = cvode.constraints, c.contains(where: { $0 != .none }) {
            throw .unsupported(
                "\(sensealg) does not apply \(algorithm.name)'s constraints: solve with them, or take the gradient without")
        }
        if case .dense = cvode.linearSolver {} else {
            throw .unsupported(
                "\(sensealg) runs CVODES with its dense linear solver: \(algorithm.name)'s linearSolver (KLU or Krylov) is not applied")
        }
        self.method = own
        maxOrder = cvode.maxOrder
        maxNumSteps = cvode.maxNumSteps
        fixedPoint = cvode.nonlinearSolver == .fixedPoint
    }

    @inlinable var label: String { method == .bdf ? "BDF" : "Adams" }
}

/// The CVODES settings from the plan's options and a method's own.
@inlinable
func _cvodesSettings(
    _ plan: ObservationPlan, family: _CVODESFamily, maxOrder ownMaxOrder: Int?, maxNumSteps ownMaxNumSteps: Int?
) throws(SensitivityError) -> CVODESSettings {
    if plan.options.controller != nil {
        throw .unsupported("CVODES chooses its own step sizes: a controller in the options works with native methods only")
    }
    if plan.options.isOutOfDomain != nil {
        throw .unsupported("CVODES has no isOutOfDomain test (no hook before it accepts a step): use a native method")
    }
    let method = family.method
    let maxOrder = ownMaxOrder ?? family.maxOrder
    let maxNumSteps = ownMaxNumSteps ?? family.maxNumSteps
    let highest = method.highestOrder
    if let q = maxOrder, !(1...highest).contains(q) {
        throw .invalidInput(.invalidStepOption("CVODES: maxOrder must be in 1...\(highest), got \(q)"))
    }
    if let m = maxNumSteps, m <= 0 {
        throw .invalidInput(.invalidStepOption("CVODES: maxNumSteps must be positive, got \(m)"))
    }
    let n = plan.u0.count
    let abstol: [Double]
    switch plan.options.abstol {
    case .scalar(let a): abstol = [Double](repeating: a, count: n)
    case .perComponent(let a): abstol = a
    }
    var settings = CVODESSettings(
        adams: method == .adams, maxOrder: maxOrder, reltol: plan.options.reltol, abstol: abstol,
        backwardAbstol: plan.scalarAbstol, dtmax: plan.options.dtmax ?? .infinity, dtmin: plan.options.dtmin ?? 0,
        initialStep: plan.options.dt, maxNumSteps: maxNumSteps ?? plan.options.maxiters)
    settings.fixedPoint = family.fixedPoint
    return settings
}

/// The model's functions for the CVODES callbacks over `Double` buffers, with every scratch
/// array allocated once: `f`, `∂f/∂u` (or `−(∂f/∂u)ᵀ`) and the sensitivity right-hand sides by
/// forward-mode AD in chunks of eight directions, the adjoint products by a replayed
/// reverse-mode tape.
@usableFromInline
final class _CVODESWorkspace<Model: ODEModel> {
    @usableFromInline typealias D = Dual<8, Double>
    @usableFromInline let model: Model
    @usableFromInline let p: [Double]
    @usableFromInline let n: Int
    @usableFromInline let np: Int
    /// Forward sensitivity directions: the parameters, then the initial values if asked for.
    @usableFromInline let directions: Int
    @usableFromInline var u: [Double]
    @usableFromInline var du: [Double]
    @usableFromInline var ud: [D]
    @usableFromInline var pd: [D]
    @usableFromInline var out: [D]
    @usableFromInline let engine: _VJPEngine<Model>?
    @usableFromInline var lambda: [Double]
    @usableFromInline var vjpU: [Double]
    @usableFromInline var vjpP: [Double]
    @usableFromInline var vjps = 0
    @usableFromInline var error: ReverseModeError?
    /// Set by a callback in which `f` changed the length of `du`.
    @usableFromInline var lengthChange: String?
    /// `∂f/∂u` by compressed forward mode when that is cheaper (the adjoint's, set up like the
    /// native adjoints' so that the two compare integrators, not Jacobian codes).
    @usableFromInline var compressed: _CompressedJacobian<Model>?
    /// `λᵀ∂f/∂p` by one dual evaluation when that is cheaper, as for ``QuadratureAdjoint``.
    @usableFromInline var parameterProducts: _CompressedJacobian<Model>?
    /// `∂f/∂u` at the last `(t, u)` of the backward solve, as for the native adjoints.
    @usableFromInline var stage: _StageJacobian<Model>? {
        didSet { stageU = [Double](repeating: .nan, count: n) }
    }
    @usableFromInline var stageU: [Double] = []

    @inlinable
    init(_ model: Model, p: [Double], n: Int, adjoint: Bool, directions: Int? = nil) {
        self.model = model
        self.p = p
        self.n = n
        self.np = p.count
        self.directions = directions ?? (p.count + n)
        u = [Double](repeating: 0, count: n)
        du = [Double](repeating: 0, count: n)
        ud = [D](repeating: .zero, count: n)
        pd = p.map { D(constant: $0) }
        out = [D](repeating: .zero, count: n)
        engine = adjoint ? _VJPEngine(model, p: p, n: n) : nil
        lambda = [Double](repeating: 0, count: n)
        vjpU = [Double](repeating: 0, count: n)
        vjpP = [Double](repeating: 0, count: p.count)
    }

    /// Whether `f` left `du` at the state's length (`written`); a change is recorded once, for
    /// the message of the failure CVODES reports when the callback returns `false`.
    @inlinable @inline(__always)
    func _keptLength(_ written: Int, _ t: Double) -> Bool {
        if written == n { return true }
        if lengthChange == nil {
            lengthChange = "f changed the length of du from \(n) to \(written) at t = \(t)"
        }
        return false
    }

    /// `f(u, t)`; `false` when a component is not finite.
    @inlinable
    func rhs(_ t: Double, _ y: UnsafePointer<Double>, _ dy: UnsafeMutablePointer<Double>) -> Bool {
        for i in 0..<n { u[i] = y[i] }
        guard _keptLength(model.lengthCheckedRHS(&du, u, p, t), t) else { return false }
        var finite = true
        for i in 0..<n {
            dy[i] = du[i]
            if !du[i].isFinite { finite = false }
        }
        return finite
    }

    /// `∂f/∂u` at `(u, t)` into the column-major `n × n` buffer `J`, or with `adjoint` its
    /// negated transpose `−(∂f/∂u)ᵀ` (the Jacobian of the adjoint right-hand side).
    @inlinable
    func jacobian(_ t: Double, _ y: UnsafePointer<Double>, _ J: UnsafeMutablePointer<Double>, adjoint: Bool) -> Bool {
        if adjoint, let stage {
            holdStage(stage, t, y)
            stage.scatterNegatedTranspose(into: J, count: n * n, leading: n)
            var finite = true
            for k in 0..<(n * n) where !J[k].isFinite { finite = false }
            return finite
        }
        if let compressed {
            compressed.evaluate(into: J, count: n * n, u: y, p: p, t: t, negatedTranspose: adjoint, leading: n)
            var finite = true
            for k in 0..<(n * n) where !J[k].isFinite { finite = false }
            return finite
        }
        for k in 0..<np { pd[k] = D(constant: p[k]) }
        let td = D(constant: t)
        var finite = true
        var offset = 0
        while offset < n {
            let width = Swift.min(8, n - offset)
            for i in 0..<n { ud[i] = D(constant: y[i]) }
            for j in 0..<width { ud[offset + j].partials[j] = 1 }
            guard _keptLength(model.lengthCheckedRHS(&out, ud, pd, td), t) else { return false }
            for j in 0..<width {
                let column = offset + j
                for i in 0..<n {
                    // ∂f_i/∂u_column.
                    let v = out[i].partials[j]
                    if !v.isFinite { finite = false }
                    if adjoint { J[column + i * n] = -v } else { J[i + column * n] = v }
                }
            }
            offset += width
        }
        return finite
    }

    /// `Ṡ = (∂f/∂u) S + [∂f/∂p, 0]` for the `np + n` columns of `S` (the parameters, then the
    /// initial values), column-major: eight columns per dual evaluation of `f`.
    @inlinable
    func sensitivityRHS(
        _ t: Double, _ y: UnsafePointer<Double>, _ s: UnsafePointer<Double>, _ ds: UnsafeMutablePointer<Double>
    ) -> Bool {
        let m = directions
        let td = D(constant: t)
        var finite = true
        var offset = 0
        while offset < m {
            let width = Swift.min(8, m - offset)
            for i in 0..<n {
                var d = D(constant: y[i])
                for j in 0..<width { d.partials[j] = s[(offset + j) * n + i] }
                ud[i] = d
            }
            for k in 0..<np { pd[k] = D(constant: p[k]) }
            for j in 0..<width where offset + j < np { pd[offset + j].partials[j] = 1 }
            guard _keptLength(model.lengthCheckedRHS(&out, ud, pd, td), t) else { return false }
            for j in 0..<width {
                let base = (offset + j) * n
                for i in 0..<n {
                    let v = out[i].partials[j]
                    if !v.isFinite { finite = false }
                    ds[base + i] = v
                }
            }
            offset += width
        }
        return finite
    }

    /// `λᵀ∂f/∂u` into `vjpU` and `λᵀ∂f/∂p` into `vjpP` at `(u, t)`; `false` when the tape
    /// failed (the error is kept and thrown after the run) or a product is not finite.
    @inlinable
    func vjp(_ t: Double, _ y: UnsafePointer<Double>, _ l: UnsafePointer<Double>) -> Bool {
        guard let engine else { return false }
        vjps += 1
        for i in 0..<n {
            u[i] = y[i]
            lambda[i] = l[i]
        }
        do {
            try engine.vjp(u: u, p: p, t: t, v: lambda, du: &vjpU, dp: &vjpP)
        } catch {
            if self.error == nil { self.error = error }
            return false
        }
        return true
    }

    /// The adjoint right-hand side `−(∂f/∂u)ᵀλ`.
    @inlinable
    func adjointRHS(
        _ t: Double, _ y: UnsafePointer<Double>, _ l: UnsafePointer<Double>, _ dl: UnsafeMutablePointer<Double>
    ) -> Bool {
        guard let stage else { return vjp(t, y, l) && _negate(vjpU, into: dl) }
        holdStage(stage, t, y)
        stage.negatedProduct(l, into: dl, includeParameters: false)
        var finite = true
        for i in 0..<n where !dl[i].isFinite { finite = false }
        return finite
    }

    /// The stage Jacobian at `(t, y)`, evaluated unless it holds that point already.
    @inlinable
    func holdStage(_ stage: _StageJacobian<Model>, _ t: Double, _ y: UnsafePointer<Double>) {
        var same = stage.holds(t)
        stageU.withUnsafeMutableBufferPointer { s in
            if same { for i in 0..<n where s[i] != y[i] { same = false } }
            if !same {
                for i in 0..<n { s[i] = y[i] }
                stage.evaluate(u: y, p: p, t: t)
            }
        }
    }

    /// The backward quadrature integrand `−(∂f/∂p)ᵀλ`.
    @inlinable
    func adjointQuadrature(
        _ t: Double, _ y: UnsafePointer<Double>, _ l: UnsafePointer<Double>, _ dq: UnsafeMutablePointer<Double>
    ) -> Bool {
        guard let parameterProducts else { return vjp(t, y, l) && _negate(vjpP, into: dq) }
        vjps += 1
        for i in 0..<n {
            u[i] = y[i]
            lambda[i] = l[i]
        }
        parameterProducts.parameterProduct(lambda, u: u, p: p, t: t, into: &vjpP)
        return _negate(vjpP, into: dq)
    }

    /// `out = −v`; `false` when a component is not finite (CVODES then retries with a smaller step).
    @inlinable @inline(__always)
    func _negate(_ v: [Double], into out: UnsafeMutablePointer<Double>) -> Bool {
        var finite = true
        for i in v.indices {
            out[i] = -v[i]
            if !v[i].isFinite { finite = false }
        }
        return finite
    }
}
