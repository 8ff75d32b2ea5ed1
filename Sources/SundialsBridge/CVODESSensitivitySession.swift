import CSundials
import CSundialsShim
import DiffEqCore
import Glibc

// CVODES' forward and adjoint sensitivity analysis (CVODES User Guide, SUNDIALS 6.x, §2.6
// "Forward sensitivity analysis" and §2.7 "Adjoint sensitivity analysis"; Serban & Hindmarsh,
// "CVODES: the sensitivity-enabled ODE solver in SUNDIALS", ASME IDETC 2005), driven for a loss
// summed over observation times. The Sensitivity module builds the functions (forward- and
// reverse-mode AD of the model) and the loss; this file owns every piece of C memory and turns
// CVODES' flags and messages into a thrown ``CVODESFailure``.

/// How a CVODES sensitivity run integrates (the resolved tolerances and the method's settings).
@usableFromInline
package struct CVODESSettings: Sendable {
    /// Adams-Moulton instead of BDF.
    @usableFromInline package var adams: Bool
    /// Fixed-point (functional) iteration for the correctors of the state, the sensitivities
    /// and the backward problem, as `CVODE_Adams` does by default, instead of Newton iteration
    /// with the dense solver.
    @usableFromInline package var fixedPoint = false
    @usableFromInline package var maxOrder: Int?
    @usableFromInline package var reltol: Double
    /// Per component (all equal: CVodeSStolerances).
    @usableFromInline package var abstol: [Double]
    /// Absolute tolerance of the backward problem and its quadrature.
    @usableFromInline package var backwardAbstol: Double
    @usableFromInline package var dtmax: Double
    @usableFromInline package var dtmin: Double
    @usableFromInline package var initialStep: Double?
    /// Steps allowed per pass (forward, backward): checked after every CVODES call.
    @usableFromInline package var maxNumSteps: Int
    /// Forward: the staggered instead of the simultaneous corrector.
    @usableFromInline package var staggered: Bool
    /// Forward: the sensitivities take part in the local error test (CVodeSetSensErrCon).
    @usableFromInline package var sensitivityErrorControl: Bool
    /// Forward: `pbar`, the scale of each sensitivity's parameter (CVodeSetSensParams), from
    /// which CVodeSensEEtolerances derives the sensitivity tolerances (`abstol / pbar_j`).
    @usableFromInline package var sensitivityScales: [Double]
    /// Adjoint: steps between checkpoints (`Nd` of CVodeAdjInit).
    @usableFromInline package var stepsBetweenCheckpoints: Int
    /// Adjoint: the quadrature takes part in the backward error test (CVodeSetQuadErrConB).
    @usableFromInline package var quadratureErrorControl: Bool
    /// Adjoint: CVODES' variable-degree polynomial interpolation of the forward solution
    /// (`CV_POLYNOMIAL`) instead of cubic Hermite (`CV_HERMITE`).
    @usableFromInline package var polynomialInterpolation = false
    /// Adjoint, for tests: the replay guard fires after this many recomputed steps instead of
    /// `stepsBetweenCheckpoints` (so that its path can be exercised on purpose).
    @usableFromInline package var replayGuardStride: Int?

    @usableFromInline
    package init(
        adams: Bool, maxOrder: Int?, reltol: Double, abstol: [Double], backwardAbstol: Double, dtmax: Double,
        dtmin: Double, initialStep: Double?, maxNumSteps: Int, staggered: Bool = false,
        sensitivityErrorControl: Bool = true, sensitivityScales: [Double] = [], stepsBetweenCheckpoints: Int = 100,
        quadratureErrorControl: Bool = true
    ) {
        self.adams = adams
        self.maxOrder = maxOrder
        self.reltol = reltol
        self.abstol = abstol
        self.backwardAbstol = backwardAbstol
        self.dtmax = dtmax
        self.dtmin = dtmin
        self.initialStep = initialStep
        self.maxNumSteps = maxNumSteps
        self.staggered = staggered
        self.sensitivityErrorControl = sensitivityErrorControl
        self.sensitivityScales = sensitivityScales
        self.stepsBetweenCheckpoints = stepsBetweenCheckpoints
        self.quadratureErrorControl = quadratureErrorControl
    }
}

/// A CVODES call that failed, with SUNDIALS' own message when it sent one.
@usableFromInline
package struct CVODESFailure: Error, Sendable {
    @usableFromInline package let phase: String
    @usableFromInline package let retcode: ReturnCode
    @usableFromInline package let message: String
    /// The replay guard stopped a recomputation between checkpoints (the run can be repeated
    /// with `stepsBetweenCheckpoints > forwardSteps`, which recomputes nothing).
    @usableFromInline package var replayOverrun = false
    /// Steps of the forward pass when the run failed.
    @usableFromInline package var forwardSteps = 0

    init(phase: String, retcode: ReturnCode, message: String) {
        self.phase = phase
        self.retcode = retcode
        self.message = message
    }
}

/// The work of a run, from CVODES' getters (banked across `CVodeReInitB`) and the callbacks'
/// own counters.
@usableFromInline
package struct CVODESStatistics: Sendable {
    /// `CVodeGetNumRhsEvals` of the forward pass.
    @usableFromInline package var forwardRHS = 0
    /// `CVodeGetSensNumRhsEvals` (calls of the sensitivity right-hand side, all `ns` at once)
    /// plus `CVodeGetNumRhsEvalsSens` (`f` calls for difference quotients: none here).
    @usableFromInline package var sensitivityRHS = 0
    /// `CVodeGetNumJacEvals` of the forward pass.
    @usableFromInline package var forwardJacobians = 0
    @usableFromInline package var forwardSteps = 0
    /// `f` calls made by the recomputations between checkpoints during the backward pass.
    @usableFromInline package var replayRHS = 0
    /// `CVodeGetNumRhsEvals` and `CVodeGetQuadNumRhsEvals` of the backward problem.
    @usableFromInline package var backwardRHS = 0
    @usableFromInline package var quadratureRHS = 0
    @usableFromInline package var backwardJacobians = 0
    @usableFromInline package var backwardSteps = 0
    /// Checkpoints stored by `CVodeF` (the one at `t0` included).
    @usableFromInline package var checkpoints = 0
    /// State-sized vectors held at the peak of the backward pass: each checkpoint's Nordsieck
    /// array (`q + 1` vectors, plus `zn[qmax]` when `q < qmax`) and the interpolation data of one
    /// checkpoint interval: `Nd + 1` points of `y` and `y'` (Hermite) or of `y` (polynomial).
    @usableFromInline package var storedVectors = 0
}

@usableFromInline
package struct CVODESForwardOutput: Sendable {
    /// `u(t_k)` at every observation time.
    @usableFromInline package var states: [[Double]]
    /// `S(t_k)`, column-major `n × ns` (column `j` is `s_j`), at every observation time.
    @usableFromInline package var sensitivities: [[Double]]
    @usableFromInline package var stats: CVODESStatistics
}

@usableFromInline
package struct CVODESAdjointOutput: Sendable {
    /// `u(t_k)` at every observation time.
    @usableFromInline package var states: [[Double]]
    /// `λ(t0)` (= dL/du0) and `μ(t0)` (= dL/dp).
    @usableFromInline package var lambda: [Double]
    @usableFromInline package var mu: [Double]
    @usableFromInline package var stats: CVODESStatistics
}

/// One CVODES sensitivity run: owns the SUNContext, the error log, the N_Vectors (state,
/// sensitivities, adjoint, quadrature, tolerances), the dense matrices and linear solvers of the
/// forward and backward problems and the CVODES memory, and frees all of it in `deinit`,
/// whatever path the run took (`CVodeFree` releases the sensitivity, adjoint and backward
/// memory CVODES allocated itself).
@usableFromInline
package final class CVODESSensitivitySession {
    private var context: SUNContext?
    private var log: OpaquePointer?
    private var y: N_Vector?
    private var work: N_Vector?
    private var abstolVector: N_Vector?
    private var yS: UnsafeMutablePointer<N_Vector?>?
    private var sensitivityCount: Int32 = 0
    private var matrix: SUNMatrix?
    private var linearSolver: SUNLinearSolver?
    /// Fixed-point solvers (``CVODESSettings/fixedPoint``): state, sensitivities, backward.
    private var nonlinearSolver: SUNNonlinearSolver?
    private var nonlinearSolverSens: SUNNonlinearSolver?
    private var nonlinearSolverB: SUNNonlinearSolver?
    private var memory: UnsafeMutableRawPointer?
    private var yB: N_Vector?
    private var qB: N_Vector?
    private var matrixB: SUNMatrix?
    private var linearSolverB: SUNLinearSolver?
    /// Steps of the forward pass, once it is over.
    private var forwardPassSteps: Int?
    private let functions: CVODESFunctions
    private let settings: CVODESSettings
    private let n: Int

    private init(count: Int, functions: CVODESFunctions, settings: CVODESSettings) {
        self.n = count
        self.functions = functions
        self.settings = settings
    }

    deinit {
        // CVODES first (it refers to the solvers and vectors), the context last.
        if memory != nil { CVodeFree(&memory) }
        if let nonlinearSolverB { SUNNonlinSolFree(nonlinearSolverB) }
        if let nonlinearSolverSens { SUNNonlinSolFree(nonlinearSolverSens) }
        if let nonlinearSolver { SUNNonlinSolFree(nonlinearSolver) }
        if let linearSolverB { SUNLinSolFree(linearSolverB) }
        if let matrixB { SUNMatDestroy(matrixB) }
        if let linearSolver { SUNLinSolFree(linearSolver) }
        if let matrix { SUNMatDestroy(matrix) }
        if let yS { N_VDestroyVectorArray(yS, sensitivityCount) }
        if let y { N_VDestroy(y) }
        if let work { N_VDestroy(work) }
        if let abstolVector { N_VDestroy(abstolVector) }
        if let yB { N_VDestroy(yB) }
        if let qB { N_VDestroy(qB) }
        sdq_error_log_free(log)
        sdq_context_free(&context)
    }

    // MARK: Entry points

    /// Forward sensitivity analysis: the state and `ns` sensitivities `s_j' = (∂f/∂u) s_j + b_j`
    /// from `S(t0) = initialSensitivities` (column-major `n × ns`), one corrector for both
    /// (simultaneous, or staggered), reported at every observation time (`times` ascending, all
    /// in `[t0, ...)`; those equal to `t0` are the initial values).
    @usableFromInline
    package static func forward(
        u0: [Double], t0: Double, times: [Double], initialSensitivities: [Double], sensitivityCount ns: Int,
        settings: CVODESSettings, functions: CVODESFunctions
    ) throws(CVODESFailure) -> CVODESForwardOutput {
        functions.reset()
        let session = CVODESSensitivitySession(count: u0.count, functions: functions, settings: settings)
        return try session.runForward(u0: u0, t0: t0, times: times, s0: initialSensitivities, ns: ns)
    }

    /// Adjoint sensitivity analysis of `L = Σ_k g(u(t_k))`: `CVodeF` to the last observation
    /// time with checkpoints, then the backward problem `λ' = −(∂f/∂u)ᵀλ` with the quadrature
    /// `q' = −(∂f/∂p)ᵀλ` from `λ = 0`, interval by interval, adding `jump(k, u(t_k), &λ)`
    /// (`∂g/∂u`) at each observation time.
    @usableFromInline
    package static func adjoint(
        u0: [Double], t0: Double, times: [Double], parameterCount np: Int, settings: CVODESSettings,
        functions: CVODESFunctions, jump: (Int, [Double], inout [Double]) -> Void
    ) throws(CVODESFailure) -> CVODESAdjointOutput {
        functions.reset()
        let session = CVODESSensitivitySession(count: u0.count, functions: functions, settings: settings)
        return try session.runAdjoint(u0: u0, t0: t0, times: times, np: np, jump: jump)
    }

    // MARK: Errors

    private var loggedError: String {
        guard let log, sdq_error_log_error_count(log) > 0 else { return "" }
        let function = String(cString: sdq_error_log_last_function(log))
        let message = String(cString: sdq_error_log_last_message(log))
        return function.isEmpty ? message : "\(function): \(message)"
    }

    private func flagName(_ flag: Int32) -> String {
        guard let name = CVodeGetReturnFlagName(Int(flag)) else { return "flag \(flag)" }
        defer { free(name) }
        return String(cString: name)
    }

    /// A setup call must return 0 (CV_SUCCESS).
    private func check(_ flag: Int32, _ call: String, phase: String) throws(CVODESFailure) {
        guard flag == 0 else {
            let logged = loggedError
            throw CVODESFailure(
                phase: phase, retcode: .failure,
                message: "\(call) failed (\(flagName(flag)))" + (logged.isEmpty ? "" : ": \(logged)"))
        }
    }

    /// Our own step limit reached. When `f` returned NaN or Inf since the pass began, CVODES has
    /// been cutting its steps short of the bad region (an `f` that is NaN past some `t`: every
    /// step ends just before it), so that is the cause, reported as `.unstable` as for a failed
    /// CVODES call; a plain `.maxIters` used to hide it.
    private func stepLimitFailure(_ text: String, phase: String, nonFiniteBefore: Int) -> CVODESFailure {
        guard functions.nonFiniteEvaluations > nonFiniteBefore else {
            return CVODESFailure(phase: phase, retcode: .maxIters, message: text)
        }
        return CVODESFailure(
            phase: phase, retcode: .unstable,
            message: "a function returned NaN or Inf at t = \(functions.nonFiniteTime); " + text)
    }

    /// The failure of an integration call (`CVode`, `CVodeF`, `CVodeB`), blamed on `f` when it
    /// returned NaN or Inf since the pass began, on the replay guard when it fired.
    private func integrationFailure(_ flag: Int32, _ call: String, phase: String, nonFiniteBefore: Int) -> CVODESFailure {
        let logged = loggedError
        var text = "\(call) returned \(flagName(flag))" + (logged.isEmpty ? "" : ": \(logged)")
        var code = CVODESession.returnCode(forFlag: flag)
        if functions.replayOverrun {
            code = .failure
            text =
                "the recomputation of the forward solution from a checkpoint took more steps than the forward "
                + "pass, which would overrun CVODES' interpolation storage (stopped before it did); " + text
        } else if functions.nonFiniteEvaluations > nonFiniteBefore {
            code = .unstable
            text = "a function returned NaN or Inf at t = \(functions.nonFiniteTime); " + text
        }
        var failure = CVODESFailure(phase: phase, retcode: code, message: text)
        failure.replayOverrun = functions.replayOverrun
        // In the backward pass CVODES' step counter is that of the recomputation.
        failure.forwardSteps = forwardPassSteps ?? forwardSteps
        return failure
    }

    // MARK: Setup

    private func newVector(_ values: [Double], phase: String) throws(CVODESFailure) -> N_Vector {
        guard let v = N_VNew_Serial(sunindextype(values.count), context), let data = sdq_nvector_data(v) else {
            throw CVODESFailure(phase: phase, retcode: .failure, message: "N_VNew_Serial(\(values.count)) failed: out of memory")
        }
        if !values.isEmpty {
            values.withUnsafeBufferPointer { data.update(from: $0.baseAddress!, count: values.count) }
        }
        return v
    }

    /// Functional iteration without Anderson acceleration (m = 0) on vectors like `y`: plain
    /// functional iteration, as CVODE_Adams runs it.
    private func newFixedPointSolver(_ y: N_Vector, phase: String) throws(CVODESFailure) -> SUNNonlinearSolver {
        guard let nls = SUNNonlinSol_FixedPoint(y, 0, context) else {
            throw CVODESFailure(phase: phase, retcode: .failure, message: "SUNNonlinSol_FixedPoint failed")
        }
        return nls
    }

    /// The dense `n x n` matrix and the dense direct solver of a Newton iteration on vectors like
    /// `y` (the matrix is freed here if the solver cannot be made).
    private func newDenseLinearSolver(
        _ y: N_Vector, phase: String
    ) throws(CVODESFailure) -> (matrix: SUNMatrix, solver: SUNLinearSolver) {
        guard let matrix = SUNDenseMatrix(sunindextype(n), sunindextype(n), context) else {
            throw CVODESFailure(phase: phase, retcode: .failure, message: "SUNDenseMatrix failed: out of memory")
        }
        guard let solver = SUNLinSol_Dense(y, matrix, context) else {
            SUNMatDestroy(matrix)
            throw CVODESFailure(phase: phase, retcode: .failure, message: "SUNLinSol_Dense failed")
        }
        return (matrix, solver)
    }

    private func values(_ v: N_Vector?, count: Int) -> [Double] {
        guard let data = sdq_nvector_data(v) else { return [] }
        return Array(UnsafeBufferPointer(start: data, count: count))
    }

    /// Context, error capture, the forward CVODES memory with its tolerances, dense Newton
    /// solver and Jacobian, and the step settings.
    private func createForward(u0: [Double], t0: Double, stopTime: Double, phase: String) throws(CVODESFailure) {
        context = sdq_context_create()
        guard context != nil else { throw CVODESFailure(phase: phase, retcode: .failure, message: "SUNContext_Create failed") }
        log = sdq_error_log_create()
        guard let log else { throw CVODESFailure(phase: phase, retcode: .failure, message: "out of memory for the error log") }
        let y = try newVector(u0, phase: phase)
        self.y = y
        memory = CVodeCreate(settings.adams ? CV_ADAMS : CV_BDF, context)
        guard let memory else { throw CVODESFailure(phase: phase, retcode: .failure, message: "CVodeCreate failed: out of memory") }
        // Before anything can report an error: nothing may reach stderr. CVodeCreateB copies
        // the handler to the backward problem.
        try check(sdq_cvode_capture_errors(memory, context, log), "installing the CVODES error handler", phase: phase)
        try check(CVodeInit(memory, cvodesRightHandSide, t0, y), "CVodeInit", phase: phase)
        try check(CVodeSetUserData(memory, Unmanaged.passUnretained(functions).toOpaque()), "CVodeSetUserData", phase: phase)
        if let a = settings.abstol.first, settings.abstol.allSatisfy({ $0 == a }) {
            try check(CVodeSStolerances(memory, settings.reltol, a), "CVodeSStolerances", phase: phase)
        } else {
            let v = try newVector(settings.abstol, phase: phase)
            abstolVector = v
            try check(CVodeSVtolerances(memory, settings.reltol, v), "CVodeSVtolerances", phase: phase)
        }
        if settings.fixedPoint {
            let nls = try newFixedPointSolver(y, phase: phase)
            nonlinearSolver = nls
            try check(CVodeSetNonlinearSolver(memory, nls), "CVodeSetNonlinearSolver", phase: phase)
        } else {
            let (matrix, linearSolver) = try newDenseLinearSolver(y, phase: phase)
            self.matrix = matrix
            self.linearSolver = linearSolver
            try check(CVodeSetLinearSolver(memory, linearSolver, matrix), "CVodeSetLinearSolver", phase: phase)
            try check(CVodeSetJacFn(memory, cvodesJacobian), "CVodeSetJacFn", phase: phase)
        }
        if let q = settings.maxOrder { try check(CVodeSetMaxOrd(memory, Int32(q)), "CVodeSetMaxOrd", phase: phase) }
        try check(CVodeSetMaxNumSteps(memory, settings.maxNumSteps), "CVodeSetMaxNumSteps", phase: phase)
        if settings.dtmax.isFinite { try check(CVodeSetMaxStep(memory, settings.dtmax), "CVodeSetMaxStep", phase: phase) }
        if settings.dtmin > 0 { try check(CVodeSetMinStep(memory, settings.dtmin), "CVodeSetMinStep", phase: phase) }
        if let h = settings.initialStep { try check(CVodeSetInitStep(memory, h), "CVodeSetInitStep", phase: phase) }
        // Never step past the last observation: f is not evaluated outside the span, and the
        // adjoint's forward solution ends exactly there.
        try check(CVodeSetStopTime(memory, stopTime), "CVodeSetStopTime", phase: phase)
    }

    private var forwardSteps: Int {
        var nst = 0
        CVodeGetNumSteps(memory, &nst)
        return nst
    }

    /// Stops the run when the last step fell to the resolution of `t`, as ``CVODESession`` does
    /// (CVODE's default `hmin` is 0: at a wall of NaNs or a singularity it keeps taking steps
    /// that no longer move `t`; `CVODE_BDF` stopped after 41 steps where a CVODES gradient took
    /// every step `maxiters` allowed, storing a checkpoint per step with `Nd = 1`: 3 GB).
    /// A step shortened to land on the stop time (`CV_TSTOP_RETURN`) may be short on purpose.
    private func checkStepFloor(_ flag: Int32, at t: Double, phase: String) throws(CVODESFailure) {
        guard flag == CV_SUCCESS else { return }
        var h = 0.0
        CVodeGetLastStep(memory, &h)
        guard Swift.abs(h) <= stepFloor(at: t, dtmin: 0) else { return }
        let text = "the step size fell to |h| = \(Swift.abs(h)) at t = \(t), below the resolution of t"
        guard functions.nonFiniteEvaluations > 0 else {
            throw CVODESFailure(phase: phase, retcode: .dtLessThanMin, message: text)
        }
        throw CVODESFailure(
            phase: phase, retcode: .unstable, message: "a function returned NaN or Inf at t = \(functions.nonFiniteTime); " + text)
    }

    // MARK: Forward sensitivity analysis

    private func runForward(u0: [Double], t0: Double, times: [Double], s0: [Double], ns: Int) throws(CVODESFailure)
        -> CVODESForwardOutput
    {
        let phase = "CVODES forward sensitivity"
        let last = times.last ?? t0
        // The observation times are `saveat` times: the states through the saving rules of
        // every solver (``SavingRecorder``), the sensitivities beside them.
        var saved = SavingRecorder<[Double]>(saveTimes: times, saveEverystep: false, direction: 1)
        var sensitivities: [[Double]] = []
        sensitivities.reserveCapacity(times.count)
        var stats = CVODESStatistics()
        // Observations at t0 are the initial values; with nothing after t0 CVODES is not needed.
        while saved.pendingTime(upTo: t0) != nil {
            saved.savePending(u0)
            sensitivities.append(s0)
        }
        guard saved.nextSave < times.count else {
            return CVODESForwardOutput(states: saved.values, sensitivities: sensitivities, stats: stats)
        }

        try createForward(u0: u0, t0: t0, stopTime: last, phase: phase)
        guard let memory, let y else { throw CVODESFailure(phase: phase, retcode: .failure, message: "no CVODES memory") }
        guard let yS = N_VCloneVectorArray(Int32(ns), y) else {
            throw CVODESFailure(phase: phase, retcode: .failure, message: "N_VCloneVectorArray(\(ns)) failed: out of memory")
        }
        self.yS = yS
        sensitivityCount = Int32(ns)
        for j in 0..<ns {
            guard let column = sdq_nvector_data(yS[j]) else {
                throw CVODESFailure(phase: phase, retcode: .failure, message: "a sensitivity vector has no data")
            }
            for i in 0..<n { column[i] = s0[j * n + i] }
        }
        // CVodeSensInit (all sensitivities in one call) rather than CVodeSensInit1 (one per
        // call): one evaluation of f on dual numbers gives eight of them.
        try check(
            CVodeSensInit(memory, Int32(ns), settings.staggered ? CV_STAGGERED : CV_SIMULTANEOUS, cvodesSensitivityRHS, yS),
            "CVodeSensInit", phase: phase)
        if settings.fixedPoint {
            // The simultaneous corrector iterates on the state and all ns sensitivities together
            // (ns + 1 vectors), the staggered one on the sensitivities (ns).
            let count = settings.staggered ? Int32(ns) : Int32(ns) + 1
            guard let nls = SUNNonlinSol_FixedPointSens(count, y, 0, context) else {
                throw CVODESFailure(phase: phase, retcode: .failure, message: "SUNNonlinSol_FixedPointSens failed")
            }
            nonlinearSolverSens = nls
            if settings.staggered {
                try check(CVodeSetNonlinearSolverSensStg(memory, nls), "CVodeSetNonlinearSolverSensStg", phase: phase)
            } else {
                try check(CVodeSetNonlinearSolverSensSim(memory, nls), "CVodeSetNonlinearSolverSensSim", phase: phase)
            }
        }
        // The sensitivity tolerances CVODES estimates from the state's: reltol and abstol/pbar_j
        // (CVODES guide §2.6, "error control"), so that a sensitivity to a parameter of size
        // 3e7 is measured on the scale of the state, not of 1/3e7.
        var scales = settings.sensitivityScales
        if scales.count == ns {
            try check(CVodeSetSensParams(memory, nil, &scales, nil), "CVodeSetSensParams", phase: phase)
        }
        try check(CVodeSensEEtolerances(memory), "CVodeSensEEtolerances", phase: phase)
        try check(
            CVodeSetSensErrCon(memory, settings.sensitivityErrorControl ? 1 : 0), "CVodeSetSensErrCon", phase: phase)

        // One step per CVode call (CV_ONE_STEP), the observations interpolated inside each step
        // (CVodeGetDky, CVodeGetSensDky), so that the step limit and the step-size floor are
        // checked after every step. In CV_NORMAL mode one call ran up to CVODES' mxstep steps
        // before either was seen: at a wall of NaNs every step ends just short of the wall, and
        // with the staggered corrector the call never returned (issue #14).
        let work = try newVector(u0, phase: phase)
        self.work = work
        var tret = t0
        while saved.nextSave < times.count {
            if forwardSteps >= settings.maxNumSteps {
                throw stepLimitFailure(
                    "CVODES took maxiters = \(settings.maxNumSteps) steps before reaching t = \(last) (at t = \(tret))",
                    phase: phase, nonFiniteBefore: 0)
            }
            let flag = CVode(memory, last, y, &tret, CV_ONE_STEP)
            if flag < 0 { throw integrationFailure(flag, "CVode", phase: phase, nonFiniteBefore: 0) }
            try checkStepFloor(flag, at: tret, phase: phase)
            while let t = saved.pendingTime(upTo: tret) {
                var u = values(y, count: n)
                if t == tret {
                    var ts = t
                    try check(CVodeGetSens(memory, &ts, yS), "CVodeGetSens", phase: phase)
                } else {
                    try check(CVodeGetDky(memory, t, 0, work), "CVodeGetDky", phase: phase)
                    u = values(work, count: n)
                    try check(CVodeGetSensDky(memory, t, 0, yS), "CVodeGetSensDky", phase: phase)
                }
                var s = [Double](repeating: 0, count: n * ns)
                for j in 0..<ns {
                    guard let column = sdq_nvector_data(yS[j]) else { continue }
                    for i in 0..<n { s[j * n + i] = column[i] }
                }
                guard u.allSatisfy(\.isFinite), s.allSatisfy(\.isFinite) else {
                    throw CVODESFailure(
                        phase: phase, retcode: .unstable, message: "the state or a sensitivity became NaN or Inf at t = \(t)")
                }
                // Repeated observation times share one interpolation.
                while saved.pendingTime(upTo: tret) == t {
                    saved.savePending(u)
                    sensitivities.append(s)
                }
            }
        }
        var nfe = 0, nfSe = 0, nfeS = 0, nje = 0
        CVodeGetNumRhsEvals(memory, &nfe)
        CVodeGetSensNumRhsEvals(memory, &nfSe)
        CVodeGetNumRhsEvalsSens(memory, &nfeS)
        if linearSolver != nil { CVodeGetNumJacEvals(memory, &nje) }
        stats.forwardRHS = nfe
        stats.sensitivityRHS = nfSe + nfeS
        stats.forwardJacobians = nje
        stats.forwardSteps = forwardSteps
        return CVODESForwardOutput(states: saved.values, sensitivities: sensitivities, stats: stats)
    }

    // MARK: Adjoint sensitivity analysis

    private func runAdjoint(
        u0: [Double], t0: Double, times: [Double], np: Int, jump: (Int, [Double], inout [Double]) -> Void
    ) throws(CVODESFailure) -> CVODESAdjointOutput {
        var phase = "CVODES forward (CVodeF)"
        var stats = CVODESStatistics()
        // The observation times are `saveat` times (``SavingRecorder``).
        var saved = SavingRecorder<[Double]>(saveTimes: times, saveEverystep: false, direction: 1)
        var lambda = [Double](repeating: 0, count: n)
        let last = times.last ?? t0
        while saved.pendingTime(upTo: t0) != nil { saved.savePending(u0) }
        // Every observation at t0: L depends on u0 only.
        guard last > t0 else {
            let states = saved.values
            for j in stride(from: times.count - 1, through: 0, by: -1) { jump(j, states[j], &lambda) }
            return CVODESAdjointOutput(
                states: states, lambda: lambda, mu: [Double](repeating: 0, count: np), stats: stats)
        }

        try createForward(u0: u0, t0: t0, stopTime: last, phase: phase)
        guard let memory, let y else { throw CVODESFailure(phase: phase, retcode: .failure, message: "no CVODES memory") }
        let stride = settings.stepsBetweenCheckpoints
        // Cubic Hermite interpolation of the forward solution between the stored steps (CVODES
        // guide §2.7.3, "checkpointing scheme").
        try check(
            CVodeAdjInit(memory, stride, settings.polynomialInterpolation ? CV_POLYNOMIAL : CV_HERMITE), "CVodeAdjInit",
            phase: phase)
        // CVodeF one step at a time, the observations interpolated inside each step
        // (CVodeGetDky). In CV_NORMAL mode a call after an interpolated return lets CVode's
        // CV_ONE_STEP inside CVodeF return without a step, and CVodeF then stores a second,
        // zero-length checkpoint whenever the step count is a multiple of Nd.
        let work = try newVector(u0, phase: phase)
        self.work = work
        var tret = t0
        var ncheck: Int32 = 0
        while saved.nextSave < times.count {
            if forwardSteps >= settings.maxNumSteps {
                throw stepLimitFailure(
                    "CVODES took maxiters = \(settings.maxNumSteps) steps before reaching t = \(last) (at t = \(tret))",
                    phase: phase, nonFiniteBefore: 0)
            }
            let flag = CVodeF(memory, last, y, &tret, CV_ONE_STEP, &ncheck)
            if flag < 0 { throw integrationFailure(flag, "CVodeF", phase: phase, nonFiniteBefore: 0) }
            try checkStepFloor(flag, at: tret, phase: phase)
            while let t = saved.pendingTime(upTo: tret) {
                var u = values(y, count: n)
                if t != tret {
                    try check(CVodeGetDky(memory, t, 0, work), "CVodeGetDky", phase: phase)
                    u = values(work, count: n)
                }
                guard u.allSatisfy(\.isFinite) else {
                    throw CVODESFailure(phase: phase, retcode: .unstable, message: "the state became NaN or Inf at t = \(t)")
                }
                while saved.pendingTime(upTo: tret) == t { saved.savePending(u) }
            }
        }
        let states = saved.values
        var nfe = 0, nje = 0
        CVodeGetNumRhsEvals(memory, &nfe)
        if linearSolver != nil { CVodeGetNumJacEvals(memory, &nje) }
        stats.forwardRHS = nfe
        stats.forwardJacobians = nje
        stats.forwardSteps = forwardSteps
        forwardPassSteps = stats.forwardSteps

        // The checkpoints (the one at t0 and ncheck more) and what they hold.
        var records = [CVadjCheckPointRec](
            repeating: CVadjCheckPointRec(my_addr: nil, next_addr: nil, t0: 0, t1: 0, nstep: 0, order: 0, step: 0),
            count: Int(ncheck) + 1)
        try check(CVodeGetAdjCheckPointsInfo(memory, &records), "CVodeGetAdjCheckPointsInfo", phase: phase)
        let qmax = settings.maxOrder ?? (settings.adams ? 12 : 5)
        stats.checkpoints = records.count
        stats.storedVectors = records.reduce(0) { $0 + Int($1.order) + 1 + (Int($1.order) < qmax ? 1 : 0) }
            + (settings.polynomialInterpolation ? 1 : 2) * (stride + 1)

        // The backward problem (CVODES guide §2.7): for L = Σ_k g(u(t_k)),
        //     λ' = −(∂f/∂u)ᵀ λ,  λ(t_k⁻) = λ(t_k⁺) + (∂g/∂u)ᵀ(u(t_k)),  λ(t_last⁺) = 0,
        // then dL/du0 = λ(t0) and dL/dp = ∫_{t0}^{t_last} λᵀ ∂f/∂p dt. CVODES integrates the
        // backward quadrature q' = fQB from q(t_last) = 0 towards t0, so q(t0) = −∫ fQB dt: with
        // fQB = −(∂f/∂p)ᵀλ, q(t0) = ∫ λᵀ ∂f/∂p dt = dL/dp (the sign the guide's own example
        // cvsRoberts_ASAi_dns absorbs into λ).
        phase = "CVODES backward (CVodeB)"
        var index = times.count - 1
        while index >= 0 && times[index] == last {
            jump(index, states[index], &lambda)
            index -= 1
        }
        let yB = try newVector(lambda, phase: phase)
        self.yB = yB
        // No parameters: no quadrature (and no zero-length vector).
        let qB = np > 0 ? try newVector([Double](repeating: 0, count: np), phase: phase) : nil
        self.qB = qB
        var which: Int32 = -1
        try check(CVodeCreateB(memory, settings.adams ? CV_ADAMS : CV_BDF, &which), "CVodeCreateB", phase: phase)
        try check(CVodeInitB(memory, which, cvodesAdjointRHS, last, yB), "CVodeInitB", phase: phase)
        try check(CVodeSStolerancesB(memory, which, settings.reltol, settings.backwardAbstol), "CVodeSStolerancesB", phase: phase)
        try check(
            CVodeSetUserDataB(memory, which, Unmanaged.passUnretained(functions).toOpaque()), "CVodeSetUserDataB", phase: phase)
        if settings.fixedPoint {
            let nls = try newFixedPointSolver(yB, phase: phase)
            nonlinearSolverB = nls
            try check(CVodeSetNonlinearSolverB(memory, which, nls), "CVodeSetNonlinearSolverB", phase: phase)
        } else {
            let (matrixB, linearSolverB) = try newDenseLinearSolver(yB, phase: phase)
            self.matrixB = matrixB
            self.linearSolverB = linearSolverB
            try check(CVodeSetLinearSolverB(memory, which, linearSolverB, matrixB), "CVodeSetLinearSolverB", phase: phase)
            try check(CVodeSetJacFnB(memory, which, cvodesAdjointJacobian), "CVodeSetJacFnB", phase: phase)
        }
        try check(CVodeSetMaxNumStepsB(memory, which, settings.maxNumSteps), "CVodeSetMaxNumStepsB", phase: phase)
        if let q = settings.maxOrder { try check(CVodeSetMaxOrdB(memory, which, Int32(q)), "CVodeSetMaxOrdB", phase: phase) }
        if settings.dtmax.isFinite { try check(CVodeSetMaxStepB(memory, which, settings.dtmax), "CVodeSetMaxStepB", phase: phase) }
        if np > 0 {
            try check(CVodeQuadInitB(memory, which, cvodesAdjointQuadrature, qB), "CVodeQuadInitB", phase: phase)
            try check(
                CVodeQuadSStolerancesB(memory, which, settings.reltol, settings.backwardAbstol), "CVodeQuadSStolerancesB",
                phase: phase)
            try check(
                CVodeSetQuadErrConB(memory, which, settings.quadratureErrorControl ? 1 : 0), "CVodeSetQuadErrConB",
                phase: phase)
        }
        guard let memoryB = CVodeGetAdjCVodeBmem(memory, which) else {
            throw CVODESFailure(phase: phase, retcode: .failure, message: "CVodeGetAdjCVodeBmem returned NULL")
        }

        // From here on, forward f calls are recomputations between checkpoints: guard them.
        functions.replayMemory = memory
        functions.replayStride = settings.replayGuardStride ?? stride
        defer { functions.replayMemory = nil }
        let nonFiniteBefore = functions.nonFiniteEvaluations

        // Backward interval by interval: CVodeB to the next earlier observation time (or t0),
        // read λ and q, add the jump, restart both there (CVodeReInitB resets the backward
        // counters, so they are banked first).
        var mu = [Double](repeating: 0, count: np)
        var tB = last
        while tB > t0 {
            let target = index >= 0 && times[index] > t0 ? times[index] : t0
            let flag = CVodeB(memory, target, CV_NORMAL)
            if flag < 0 { throw integrationFailure(flag, "CVodeB", phase: phase, nonFiniteBefore: nonFiniteBefore) }
            var tBret = target
            try check(CVodeGetB(memory, which, &tBret, yB), "CVodeGetB", phase: phase)
            if np > 0 { try check(CVodeGetQuadB(memory, which, &tBret, qB), "CVodeGetQuadB", phase: phase) }
            bankBackward(memoryB, into: &stats, quadrature: np > 0)
            if stats.backwardSteps > settings.maxNumSteps {
                throw stepLimitFailure(
                    "the backward problem took more than maxiters = \(settings.maxNumSteps) steps", phase: phase,
                    nonFiniteBefore: nonFiniteBefore)
            }
            lambda = values(yB, count: n)
            mu = values(qB, count: np)
            guard lambda.allSatisfy(\.isFinite), mu.allSatisfy(\.isFinite) else {
                throw CVODESFailure(
                    phase: phase, retcode: .unstable, message: "the adjoint or its quadrature became NaN or Inf at t = \(target)")
            }
            tB = target
            while index >= 0 && times[index] == target {
                jump(index, states[index], &lambda)
                index -= 1
            }
            if tB > t0 {
                if let data = sdq_nvector_data(yB) { for i in 0..<n { data[i] = lambda[i] } }
                try check(CVodeReInitB(memory, which, tB, yB), "CVodeReInitB", phase: phase)
                if np > 0 { try check(CVodeQuadReInitB(memory, which, qB), "CVodeQuadReInitB", phase: phase) }
            }
        }
        stats.replayRHS = functions.replayRHSCalls
        return CVODESAdjointOutput(states: states, lambda: lambda, mu: mu, stats: stats)
    }

    /// Adds the backward problem's counters since its last (re)initialisation.
    private func bankBackward(_ memoryB: UnsafeMutableRawPointer, into stats: inout CVODESStatistics, quadrature: Bool) {
        var nst = 0, nfe = 0, nje = 0, nfQe = 0
        CVodeGetNumSteps(memoryB, &nst)
        CVodeGetNumRhsEvals(memoryB, &nfe)
        if linearSolverB != nil { CVodeGetNumJacEvals(memoryB, &nje) }
        if quadrature { CVodeGetQuadNumRhsEvals(memoryB, &nfQe) }
        stats.backwardSteps += nst
        stats.backwardRHS += nfe
        stats.backwardJacobians += nje
        stats.quadratureRHS += nfQe
    }
}
