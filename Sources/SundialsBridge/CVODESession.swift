import CSundials
import CSundialsShim
import DiffEqCore
import Glibc

/// A failure while creating or configuring CVODE (out of memory, or a setter rejecting a value
/// that validation let through). It becomes ``ReturnCode/failure`` on the solution.
struct CVODESetupFailure: Error {
    let message: String
}

/// One CVODE integration: owns every piece of C memory (SUNContext, N_Vectors, dense matrix,
/// linear and nonlinear solvers, the CVODE memory and the error log) and frees all of it in
/// `deinit`, whatever path the solve took.
///
/// The lifecycle is SUNDIALS' own: create and `CVodeInit` (`initialize`), set options, run in
/// `CV_ONE_STEP` mode (`run`, with `CVodeReInit` after an event changes the state or the
/// parameters), read statistics (`statistics`).
@usableFromInline
final class CVODESession {
    private var context: SUNContext?
    private var log: OpaquePointer?
    private var y: N_Vector?
    private var work: N_Vector?
    private var abstolVector: N_Vector?
    private var constraintVector: N_Vector?
    private var matrix: SUNMatrix?
    private var linearSolver: SUNLinearSolver?
    private var nonlinearSolver: SUNNonlinearSolver?
    private var memory: UnsafeMutableRawPointer?
    private let callbacks: CVODECallbacks
    private let n: Int
    /// Accepted steps before the call in which `f` last returned NaN or Inf (nil if never),
    /// and how many such evaluations had been seen then.
    private var lastNonFiniteStep: Int?
    private var seenNonFinite = 0
    private var stepsAtLastCall = 0
    /// Counters of the segments before the last restart (CVodeReInit resets CVODE's own).
    private var banked = SolverStats()
    /// Internal steps allowed: the algorithm's `maxNumSteps`, else `SolveOptions.maxiters`.
    private var stepLimit = 0

    private init(count: Int, callbacks: CVODECallbacks) {
        self.n = count
        self.callbacks = callbacks
    }

    deinit {
        // CVODE first (it refers to the solvers and vectors), the context last.
        if memory != nil { CVodeFree(&memory) }
        if let nonlinearSolver { SUNNonlinSolFree(nonlinearSolver) }
        if let linearSolver { SUNLinSolFree(linearSolver) }
        if let matrix { SUNMatDestroy(matrix) }
        if let y { N_VDestroy(y) }
        if let work { N_VDestroy(work) }
        if let abstolVector { N_VDestroy(abstolVector) }
        if let constraintVector { N_VDestroy(constraintVector) }
        sdq_error_log_free(log)
        sdq_context_free(&context)
    }

    /// Runs one solve from validated input.
    @usableFromInline
    static func solve(
        _ input: CVODEInput, callbacks: CVODECallbacks, configuration: CVODEConfiguration
    ) -> CVODERawResult {
        let session = CVODESession(count: input.count, callbacks: callbacks)
        var result = CVODERawResult()
        result.saved = SavingRecorder(
            saveTimes: input.saveTimes, saveEverystep: input.saveEverystep, direction: input.direction)
        if input.dense { result.interpolant = PiecewisePolynomial(stateCount: input.count) }
        do {
            try session.initialize(input, configuration: configuration)
        } catch {
            result.saved.save(input.t0, input.u0)
            result.retcode = .failure
            result.message = error.message
            result.interpolant = nil
            return result
        }
        session.run(input, into: &result)
        result.stats = session.statistics()
        return result
    }

    // MARK: Create, init and set

    private var loggedError: String {
        guard let log, sdq_error_log_error_count(log) > 0 else { return "" }
        let function = String(cString: sdq_error_log_last_function(log))
        let message = String(cString: sdq_error_log_last_message(log))
        return function.isEmpty ? message : "\(function): \(message)"
    }

    private var lastWarning: String {
        guard let log, sdq_error_log_warning_count(log) > 0 else { return "" }
        return String(cString: sdq_error_log_last_warning(log))
    }

    private func check(_ flag: Int32, _ call: String) throws(CVODESetupFailure) {
        guard flag == 0 else {
            let logged = loggedError
            throw CVODESetupFailure(
                message: "\(call) failed (flag \(flag))" + (logged.isEmpty ? "" : ": \(logged)"))
        }
    }

    private func newVector(_ values: [Double]) throws(CVODESetupFailure) -> N_Vector {
        guard let v = N_VNew_Serial(sunindextype(n), context), let data = sdq_nvector_data(v) else {
            throw CVODESetupFailure(message: "N_VNew_Serial(\(n)) failed: out of memory")
        }
        values.withUnsafeBufferPointer { data.update(from: $0.baseAddress!, count: n) }
        return v
    }

    private func initialize(_ input: CVODEInput, configuration: CVODEConfiguration) throws(CVODESetupFailure) {
        context = sdq_context_create()
        guard let context else { throw CVODESetupFailure(message: "SUNContext_Create failed") }
        log = sdq_error_log_create()
        guard let log else { throw CVODESetupFailure(message: "out of memory for the error log") }
        let y = try newVector(input.u0)
        self.y = y
        work = try newVector(input.u0)

        memory = CVodeCreate(configuration.method == .adams ? CV_ADAMS : CV_BDF, context)
        guard let memory else { throw CVODESetupFailure(message: "CVodeCreate failed: out of memory") }
        // Before anything else can report an error: nothing may reach stderr.
        try check(sdq_cvode_capture_errors(memory, context, log), "installing the CVODE error handler")
        try check(CVodeInit(memory, cvodeRightHandSide, input.t0, y), "CVodeInit")
        callbacks.memory = memory
        try check(
            CVodeSetUserData(memory, Unmanaged.passUnretained(callbacks).toOpaque()), "CVodeSetUserData")

        if let a = input.abstol.first, input.abstol.allSatisfy({ $0 == a }) {
            try check(CVodeSStolerances(memory, input.reltol, a), "CVodeSStolerances")
        } else {
            let abstolVector = try newVector(input.abstol)
            self.abstolVector = abstolVector
            try check(CVodeSVtolerances(memory, input.reltol, abstolVector), "CVodeSVtolerances")
        }

        if let constraints = configuration.constraints, constraints.contains(where: { $0 != .none }) {
            let v = try newVector(constraints.map(\.code))
            constraintVector = v
            try check(CVodeSetConstraints(memory, v), "CVodeSetConstraints")
        }

        switch configuration.nonlinearSolver {
        case .newton:
            // CVodeInit attached CVODE's own Newton solver; it needs a linear solver.
            try attachLinearSolver(configuration.linearSolver, y: y, memory: memory, context: context)
        case .fixedPoint:
            // No Anderson acceleration (m = 0): plain functional iteration.
            guard let nonlinearSolver = SUNNonlinSol_FixedPoint(y, 0, context) else {
                throw CVODESetupFailure(message: "SUNNonlinSol_FixedPoint failed")
            }
            self.nonlinearSolver = nonlinearSolver
            try check(CVodeSetNonlinearSolver(memory, nonlinearSolver), "CVodeSetNonlinearSolver")
        }

        if let events = callbacks.events, !events.continuous.isEmpty {
            let count = events.continuous.count
            try check(CVodeRootInit(memory, Int32(count), cvodeRoots), "CVodeRootInit")
            // Only the crossings that have an affect.
            var directions: [Int32] = events.continuous.map { $0.up == $0.down ? 0 : ($0.up ? 1 : -1) }
            try check(CVodeSetRootDirection(memory, &directions), "CVodeSetRootDirection")
            try check(CVodeSetNoInactiveRootWarn(memory), "CVodeSetNoInactiveRootWarn")
        }

        stepLimit = configuration.maxNumSteps ?? input.maxiters
        try check(CVodeSetMaxOrd(memory, Int32(configuration.maxOrder)), "CVodeSetMaxOrd")
        if configuration.stabilityLimitDetection {
            try check(CVodeSetStabLimDet(memory, 1), "CVodeSetStabLimDet")
        }
        // In CV_ONE_STEP mode CVODE's own mxstep (steps per call) never binds; the session
        // counts steps itself. Set it anyway so that the two agree.
        try check(CVodeSetMaxNumSteps(memory, stepLimit), "CVodeSetMaxNumSteps")
        try check(CVodeSetMaxStep(memory, input.dtmax), "CVodeSetMaxStep")
        if input.dtmin > 0 { try check(CVodeSetMinStep(memory, input.dtmin), "CVodeSetMinStep") }
        if let dt = input.dt { try check(CVodeSetInitStep(memory, input.direction * dt), "CVodeSetInitStep") }
    }

    /// Creates the linear solver (and its matrix, for the direct ones) and attaches it.
    private func attachLinearSolver(
        _ choice: CVODELinearSolver, y: N_Vector, memory: UnsafeMutableRawPointer, context: SUNContext
    ) throws(CVODESetupFailure) {
        switch choice {
        case .dense:
            guard let matrix = SUNDenseMatrix(sunindextype(n), sunindextype(n), context) else {
                throw CVODESetupFailure(message: "SUNDenseMatrix failed: out of memory")
            }
            self.matrix = matrix
            guard let linearSolver = SUNLinSol_Dense(y, matrix, context) else {
                throw CVODESetupFailure(message: "SUNLinSol_Dense failed")
            }
            self.linearSolver = linearSolver
            try check(CVodeSetLinearSolver(memory, linearSolver, matrix), "CVodeSetLinearSolver")
            if callbacks.jacobian != nil {
                try check(CVodeSetJacFn(memory, cvodeJacobian), "CVodeSetJacFn")
            }
        case .klu:
            guard let sparse = callbacks.sparseJacobian else {
                throw CVODESetupFailure(message: "internal: KLU without its sparse Jacobian")
            }
            let nnz = sunindextype(sparse.pattern.nonzeroCount)
            guard let matrix = SUNSparseMatrix(sunindextype(n), sunindextype(n), nnz, CSC_MAT, context) else {
                throw CVODESetupFailure(message: "SUNSparseMatrix(\(n), \(n), \(nnz)) failed: out of memory")
            }
            self.matrix = matrix
            guard let linearSolver = sdq_klu_create(y, matrix, context) else {
                throw CVODESetupFailure(message: "SUNLinSol_KLU failed (out of memory)")
            }
            self.linearSolver = linearSolver
            try check(CVodeSetLinearSolver(memory, linearSolver, matrix), "CVodeSetLinearSolver")
            // CVODE has no difference-quotient Jacobian for sparse matrices: ours fills it.
            try check(CVodeSetJacFn(memory, cvodeSparseJacobian), "CVodeSetJacFn")
        case .gmres(let krylov), .flexibleGMRES(let krylov):
            let flexible: Bool
            if case .flexibleGMRES = choice { flexible = true } else { flexible = false }
            let side: Int32
            if krylov.makePreconditioner == nil {
                side = Int32(SUN_PREC_NONE)
            } else {
                switch krylov.side {
                case .left: side = Int32(SUN_PREC_LEFT)
                case .right: side = Int32(SUN_PREC_RIGHT)
                case .both: side = Int32(SUN_PREC_BOTH)
                }
            }
            let maxl = Int32(clamping: krylov.maxKrylovDimension)
            let made = flexible ? SUNLinSol_SPFGMR(y, side, maxl, context) : SUNLinSol_SPGMR(y, side, maxl, context)
            guard let linearSolver = made else {
                throw CVODESetupFailure(message: "\(flexible ? "SUNLinSol_SPFGMR" : "SUNLinSol_SPGMR") failed")
            }
            self.linearSolver = linearSolver
            try check(CVodeSetLinearSolver(memory, linearSolver, nil), "CVodeSetLinearSolver")
            try check(CVodeSetEpsLin(memory, krylov.linearToleranceFactor), "CVodeSetEpsLin")
            if krylov.jacobianTimesVector != nil {
                try check(CVodeSetJacTimes(memory, nil, cvodeJacobianTimesVector), "CVodeSetJacTimes")
            }
            if callbacks.krylov?.preconditioner != nil {
                try check(
                    CVodeSetPreconditioner(memory, cvodePreconditionerSetup, cvodePreconditionerSolve),
                    "CVodeSetPreconditioner")
            }
        }
    }

    // MARK: Run

    private func state(_ v: N_Vector?) -> [Double] {
        guard let data = sdq_nvector_data(v) else { return [] }
        return Array(UnsafeBufferPointer(start: data, count: n))
    }

    /// The `k`-th derivative of CVODE's interpolating polynomial at `t` (inside the last step).
    private func derivative(_ k: Int32, at t: Double) -> [Double]? {
        guard CVodeGetDky(memory, t, k, work) == CV_SUCCESS else { return nil }
        return state(work)
    }

    private func flagName(_ flag: Int32) -> String {
        guard let name = CVodeGetReturnFlagName(Int(flag)) else { return "flag \(flag)" }
        defer { free(name) }
        return String(cString: name)
    }

    /// Steps CVODE one internal step at a time from `t0` to `t1`, saving what `input` asks for
    /// and running the problem's events.
    private func run(_ input: CVODEInput, into result: inout CVODERawResult) {
        let dir = input.direction
        let t0 = input.t0
        let t1 = input.t1
        result.saved.start(at: t0, input.u0)
        // The state where the next dense-output step starts (after an event's jump, the new one).
        var uPrev = input.u0

        // Every tstop, then t1, as CVODE's stop time in turn: CVODE never steps past one and
        // returns CV_TSTOP_RETURN exactly on it.
        let stops = input.tstops + [t1]
        var stopIndex = 0
        CVodeSetStopTime(memory, stops[0])

        var tPrev = t0
        var tret = t0
        while true {
            let steps = stepsTaken
            if steps >= stepLimit {
                result.retcode = .maxIters
                result.message =
                    "CVODE took maxNumSteps = \(stepLimit) steps before reaching t = \(t1) (stopped at t = \(tPrev))"
                finish(at: tPrev, state: state(y), into: &result, input: input)
                return
            }
            let flag = CVode(memory, t1, y, &tret, CV_ONE_STEP)
            noteNonFinite(afterSteps: steps)
            if flag < 0 {
                fail(flag, reached: tret.isFinite ? tret : tPrev, into: &result, input: input)
                return
            }
            let t = tret
            var u = state(y)
            if u.contains(where: { !$0.isFinite }) {
                result.retcode = .unstable
                result.message = "the CVODE state became NaN or Inf at t = \(t)"
                finish(at: t, state: u, into: &result, input: input)
                return
            }
            // CVODE's default hmin is 0: near a singularity or a wall of NaNs it keeps taking
            // steps that no longer move t (warning "t + h = t"). Stop there, as the native
            // integrator does at its step-size floor.
            var hLast = 0.0
            CVodeGetLastStep(memory, &hLast)
            if flag == CV_SUCCESS && abs(hLast) <= stepFloor(at: t, dtmin: 0) {
                let warning = lastWarning
                let why = warning.isEmpty ? "" : " (CVODE warned: \(warning))"
                if recentNonFinite {
                    result.retcode = .unstable
                    result.message =
                        "f returned NaN or Inf near t = \(callbacks.nonFiniteTime) and the step size fell to "
                        + "|h| = \(abs(hLast)), below the resolution of t\(why)"
                } else {
                    result.retcode = .dtLessThanMin
                    result.message = "the step size fell to |h| = \(abs(hLast)) at t = \(t), below the resolution of t\(why)"
                }
                finish(at: t, state: u, into: &result, input: input)
                return
            }
            // What the step (or its part up to a root) covered: (tPrev, t].
            if dir * (t - tPrev) > 0 {
                while let s = result.saved.pendingTime(upTo: t) {
                    if s == t {
                        result.saved.savePending(u)
                    } else if let us = derivative(0, at: s) {
                        result.saved.savePending(us)
                    } else {
                        result.saved.skipPending()
                    }
                }
                result.saved.recordStepEnd(t, u)
                if input.dense { appendStepPolynomial(from: tPrev, uPrev, to: t, u, into: &result) }
                tPrev = t
            }

            var restarted = false
            if let events = callbacks.events {
                let outcome = runEvents(events, flag: flag, at: t, state: &u, into: &result)
                if let failure = outcome.failure {
                    result.retcode = .failure
                    result.message = failure
                    finish(at: t, state: u, into: &result, input: input)
                    return
                }
                if outcome.changed {
                    if let failure = reinitialize(at: t, state: u) {
                        result.retcode = .failure
                        result.message = failure
                        finish(at: t, state: u, into: &result, input: input)
                        return
                    }
                    restarted = true
                }
                if outcome.terminated {
                    result.retcode = .terminated
                    finish(at: t, state: u, into: &result, input: input)
                    return
                }
            }

            uPrev = u

            if flag == CV_TSTOP_RETURN || t == t1 {
                if stopIndex == stops.count - 1 || t == t1 {
                    result.retcode = .success
                    finish(at: t, state: u, into: &result, input: input)
                    return
                }
                stopIndex += 1
                while stopIndex < stops.count - 1 && dir * (stops[stopIndex] - t) <= 0 { stopIndex += 1 }
                CVodeSetStopTime(memory, stops[stopIndex])
            } else if restarted {
                CVodeSetStopTime(memory, stops[stopIndex])
            }
        }
    }

    /// Appends the last step's polynomial over `(tPrev, t]` to the dense output: the Nordsieck
    /// array `z_j = h^j y^(j)(t)/j!`, `j = 0...q`, from `CVodeGetDky` (at a root return `t` is
    /// the root, inside the step; the same polynomial, expanded there). Linear from `uPrev` when
    /// CVODE cannot give it.
    private func appendStepPolynomial(
        from tPrev: Double, _ uPrev: [Double], to t: Double, _ u: [Double], into result: inout CVODERawResult
    ) {
        var q: Int32 = 0
        var h = 0.0
        CVodeGetLastOrder(memory, &q)
        CVodeGetLastStep(memory, &h)
        var z: [Double] = []
        z.reserveCapacity((Int(q) + 1) * n)
        var scale = 1.0
        for k in 0...Swift.max(Int(q), 0) {
            guard let d = derivative(Int32(k), at: t) else {
                z = []
                break
            }
            if k > 0 { scale *= h / Double(k) }
            for v in d { z.append(v * scale) }
        }
        if z.isEmpty || h == 0 {
            result.interpolant?.appendLinear(from: tPrev, to: t, step: t - tPrev, u0: uPrev, u1: u)
        } else {
            result.interpolant?.appendNordsieck(from: tPrev, to: t, step: h, order: Int(q), z: z)
        }
    }

    /// Runs the continuous callbacks whose root CVODE returned at `t` (all of them that fired,
    /// in order), then the discrete callbacks, saving before and after as each asks.
    private func runEvents(
        _ events: CVODEEventHooks, flag: Int32, at t: Double, state u: inout [Double],
        into result: inout CVODERawResult
    ) -> (changed: Bool, terminated: Bool, failure: String?) {
        var changed = false
        var terminated = false
        var failure: String?
        func apply(_ event: CVODEEvent, _ where_: (before: Bool, after: Bool)) {
            // "Before" is the state the step reached, unless that point is already saved.
            if where_.before && !(result.saved.lastTime == t && result.u.last == u) { result.saved.save(t, u) }
            let outcome = events.affect(event, t, &u)
            if let why = outcome.failure {
                failure = why
                terminated = true
                return
            }
            if where_.after { result.saved.save(t, u) }
            changed = changed || outcome.changed
            terminated = terminated || outcome.terminated
        }
        if flag == CV_ROOT_RETURN && !events.continuous.isEmpty {
            var found = [Int32](repeating: 0, count: events.continuous.count)
            CVodeGetRootInfo(memory, &found)
            for (i, cb) in events.continuous.enumerated() where found[i] != 0 && !terminated {
                // CVODE's sign is in the direction of integration, as "upcrossing" is.
                let up = found[i] > 0
                guard up ? cb.up : cb.down else { continue }
                apply(.continuous(i, up: up), cb.save)
            }
        }
        for (i, where_) in events.discrete.enumerated() where !terminated {
            guard events.discreteCondition(i, t, u) else { continue }
            apply(.discrete(i), where_)
        }
        return (changed, terminated, failure)
    }

    /// Restarts CVODE at `(t, u)` after an event changed the state or the parameters. CVODE's
    /// counters restart too, so they are banked first.
    private func reinitialize(at t: Double, state u: [Double]) -> String? {
        banked = banked.adding(segmentStatistics())
        if let data = sdq_nvector_data(y) {
            u.withUnsafeBufferPointer { data.update(from: $0.baseAddress!, count: n) }
        }
        let flag = CVodeReInit(memory, t, y)
        guard flag == CV_SUCCESS else {
            let logged = loggedError
            return "CVodeReInit after an event at t = \(t) failed (\(flagName(flag)))" + (logged.isEmpty ? "" : ": \(logged)")
        }
        return nil
    }

    /// Internal steps so far, over every restart.
    private var stepsTaken: Int {
        var nst = 0
        CVodeGetNumSteps(memory, &nst)
        return banked.naccept + nst
    }

    private func noteNonFinite(afterSteps steps: Int) {
        stepsAtLastCall = steps
        if callbacks.nonFiniteEvaluations != seenNonFinite {
            seenNonFinite = callbacks.nonFiniteEvaluations
            lastNonFiniteStep = steps
        }
    }

    /// Whether a failure is blamed on `f`: it returned NaN or Inf during the failing call or
    /// within the `nonFiniteWindow` accepted steps before it. (CVODE answers a recoverable
    /// failure by cutting the step, so the steps just before a stall can themselves be clean.)
    private var recentNonFinite: Bool {
        guard let s = lastNonFiniteStep else { return false }
        return stepsAtLastCall - s <= CVODESession.nonFiniteWindow
    }

    static let nonFiniteWindow = 10

    /// Saves the point reached when only the end is wanted or when the solve failed.
    private func finish(at t: Double, state u: [Double], into result: inout CVODERawResult, input: CVODEInput) {
        result.saved.finish(at: t, u, failed: !result.retcode.isSuccessful)
    }

    private func fail(_ flag: Int32, reached t: Double, into result: inout CVODERawResult, input: CVODEInput) {
        let logged = loggedError
        let name = flagName(flag)
        var text = logged.isEmpty ? "CVODE returned \(name) at t = \(t)" : "\(name) from \(logged)"
        if let why = callbacks.userFailure {
            result.retcode = .failure
            text = why + "; " + text
        } else if let bad = callbacks.nanCondition {
            result.retcode = .failure
            text = "the condition of continuous callback \(bad.index) returned NaN at t = \(bad.time); " + text
        } else if recentNonFinite {
            result.retcode = .unstable
            text = "f returned NaN or Inf at t = \(callbacks.nonFiniteTime) and smaller steps did not avoid it; " + text
        } else {
            result.retcode = CVODESession.returnCode(forFlag: flag)
        }
        result.message = text
        // On an error return CVODE leaves the last successful step's time and state in
        // (tret, y).
        finish(at: t, state: state(y), into: &result, input: input)
    }

    /// The documented mapping from CVODE's error flags to ``ReturnCode`` (a failure while `f`
    /// returned NaN or Inf in the failing call or the `nonFiniteWindow` steps before it is
    /// ``ReturnCode/unstable`` whatever the flag):
    ///
    /// - `CV_TOO_MUCH_WORK` (mxstep steps in one call): ``ReturnCode/maxIters``.
    /// - `CV_ERR_FAILURE` (the error test failed repeatedly or with `|h| = hmin`),
    ///   `CV_TOO_MUCH_ACC` (the tolerances cannot be met in floating point) and `CV_TOO_CLOSE`
    ///   (the span is too short to start): the step size cannot shrink further, so
    ///   ``ReturnCode/dtLessThanMin``.
    /// - `CV_CONV_FAILURE`, `CV_LSETUP_FAIL`, `CV_LSOLVE_FAIL`, `CV_NLS_SETUP_FAIL`,
    ///   `CV_NLS_FAIL` (the corrector or its linear solves failed): ``ReturnCode/convergenceFailure``.
    /// - anything else: ``ReturnCode/failure``.
    static func returnCode(forFlag flag: Int32) -> ReturnCode {
        switch flag {
        case CV_TOO_MUCH_WORK: return .maxIters
        case CV_ERR_FAILURE, CV_TOO_MUCH_ACC, CV_TOO_CLOSE: return .dtLessThanMin
        case CV_CONV_FAILURE, CV_LSETUP_FAIL, CV_LSOLVE_FAIL, CV_NLS_SETUP_FAIL, CV_NLS_FAIL:
            return .convergenceFailure
        default: return .failure
        }
    }

    // MARK: Get

    /// Every counter of the solve: the banked ones of earlier segments plus the current one.
    private func statistics() -> SolverStats {
        var stats = banked.adding(segmentStatistics())
        // The f evaluations of the sparse difference Jacobians, over every segment.
        stats.nf += callbacks.sparseJacobian?.rhsEvaluations ?? 0
        return stats
    }

    /// CVODE's counters since the last (re)initialisation in the shared ``SolverStats`` form.
    private func segmentStatistics() -> SolverStats {
        var stats = SolverStats()
        guard let memory else { return stats }
        var nst = 0, nfe = 0, netf = 0, nni = 0, nnf = 0, nsf = 0
        CVodeGetNumSteps(memory, &nst)
        CVodeGetNumRhsEvals(memory, &nfe)
        CVodeGetNumErrTestFails(memory, &netf)
        CVodeGetNumNonlinSolvIters(memory, &nni)
        CVodeGetNumNonlinSolvConvFails(memory, &nnf)
        CVodeGetNumStepSolveFails(memory, &nsf)
        stats.naccept = nst
        stats.nf = nfe
        stats.nreject = netf + nsf
        stats.nnonliniter = nni
        stats.nnonlinconvfail = nnf
        if callbacks.krylov != nil {
            var nli = 0, npe = 0, nfeLS = 0
            CVodeGetNumLinIters(memory, &nli)
            CVodeGetNumPrecEvals(memory, &npe)
            CVodeGetNumLinRhsEvals(memory, &nfeLS)
            stats.nf += nfeLS
            // The Krylov solvers factor nothing of their own: the preconditioner setups that
            // recomputed Jacobian data stand for the factorizations, the Krylov iterations for
            // the linear solves.
            stats.nluFactorizations = npe
            stats.nlinsolves = nli
        } else if linearSolver != nil {
            var nje = 0, nfeLS = 0, nsetups = 0
            CVodeGetNumJacEvals(memory, &nje)
            CVodeGetNumLinRhsEvals(memory, &nfeLS)
            CVodeGetNumLinSolvSetups(memory, &nsetups)
            stats.njacs = nje
            if let sparse = callbacks.sparseJacobian, !sparse.hasUserValues { stats.njacsFiniteDifference = nje }
            stats.nf += nfeLS
            // The direct linear solvers (dense, KLU) factor I - γJ at every setup.
            stats.nluFactorizations = nsetups
            // One dense solve per Newton iteration.
            stats.nlinsolves = nni
        }
        return stats
    }
}

extension SolverStats {
    /// Counter-wise sum (the work of consecutive CVODE segments).
    fileprivate func adding(_ b: SolverStats) -> SolverStats {
        let a = self
        var s = SolverStats()
        s.nf = a.nf + b.nf
        s.njacs = a.njacs + b.njacs
        s.njacsFiniteDifference = a.njacsFiniteDifference + b.njacsFiniteDifference
        s.nluFactorizations = a.nluFactorizations + b.nluFactorizations
        s.nlinsolves = a.nlinsolves + b.nlinsolves
        s.naccept = a.naccept + b.naccept
        s.nreject = a.nreject + b.nreject
        s.nnonliniter = a.nnonliniter + b.nnonliniter
        s.nnonlinconvfail = a.nnonlinconvfail + b.nnonlinconvfail
        return s
    }
}
