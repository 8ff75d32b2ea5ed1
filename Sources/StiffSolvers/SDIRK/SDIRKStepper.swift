import DiffEqCore

/// Settings of the simplified Newton iteration that solves each implicit stage, and of the reuse
/// of the Jacobian and of the factored iteration matrix `W = I − γhJ` (Hairer & Wanner, Solving
/// ODEs II, §IV.8).
///
/// Norms are the RMS norm of the solve's error weights (`abstol + reltol·|u|`), so a tolerance
/// of 1 is the step's error tolerance.
public struct SDIRKNewtonOptions: Sendable, Equatable {
    /// κ in the stopping test `η_k ‖Δ_k‖ ≤ κ`, `η_k = θ_k / (1 − θ_k)`: the iteration error is
    /// driven to κ times the local error tolerance (Hairer & Wanner recommend 0.01 ... 0.1).
    public var kappa: Double
    /// Iterations per stage before the stage counts as not converging.
    public var maxIterations: Int
    /// After an accepted step whose slowest contraction rate `θ` exceeded this, the Jacobian is
    /// recomputed before the next step; below it the Jacobian is reused. The default 0.001 is
    /// RADAU5's `THET` (Hairer & Wanner's code, which suggests 0.1 when Jacobians are costly).
    ///
    /// Measured trade-off (issue #13; error in tolerances at the end point against the IVP test
    /// set's references, E5 at abstol 1e-24; the last column is the largest true local error,
    /// in tolerances, of 400 sampled accepted TRBDF2 steps on OREGO at reltol 1e-8,
    /// `TRBDF2ErrorAccumulationTests`):
    ///
    /// | rate | KenCarp4 VDPOLM 1e-4 | TRBDF2 POLLU 1e-8 | KenCarp4 E5 1e-4 | KenCarp4 VDPOL 1e-8 nf, njac | OREGO local |
    /// |---|---|---|---|---|---|
    /// | 0.001 | 0.67 | 25.6 | 3.0 | 17793, 877 | ≤ 1 |
    /// | 0.01 | 0.59 | 27 | 3.6 | 21575, 371 | |
    /// | 0.02 | 0.70 | 9.2 | 18.8 | 23478, 277 | |
    /// | 0.03 | 0.69 | 9.2 | 13 | 25653, 233 | 93 |
    /// | 0.05 | 0.45 | 9.4 | 6.3 | 26229, 179 | 80 |
    /// | 0.1 | 31 | 9.4 | 3.9 | 30618, 136 | |
    /// | 0.3 | 135 | 9.4 | | 31961, 121 | 4-51 (1) |
    ///
    /// (1) Before issue #13, without the measured first-stage rate.
    ///
    /// Above 0.001 TRBDF2 accepts steps of OREGO whose error estimate, filtered through `W`
    /// with a `J` from earlier steps, under-reads the true local error up to 93-fold; that is an
    /// error test passed wrongly, so the rate stays at RADAU5's. Above 0.05 a stale `J` also
    /// survives on VDPOLM: a rate measured from two corrections is only a lower bound when a
    /// stale `J` makes `W` much larger than `I − γhJ` at the stages (the first correction is
    /// dominated by a fast-contracting component while the slow one crawls at `θ ≈ 1`). With
    /// 0.3 (the default until issue #13), KenCarp4 and Kvaerno5 kept a `J` from the middle of
    /// the relaxation jump (`∂f₂/∂y₁ = −2.4e6` where the current value is 1.5) for the whole
    /// slow phase after it, measured rates 0.28 there, accepted stages whose residual was 5e4
    /// tolerances, and ended at x(2000) = −1.205 instead of 1.706 (1.1e4 tolerances). The
    /// TRBDF2 POLLU and E5 columns do not follow the rate smoothly: TRBDF2's global error is the
    /// sum of its steps' local errors (every step within its tolerance at 0.001), and any change
    /// of its step sequence moves that sum on POLLU by up to 3x; E5's end point at reltol 1e-4
    /// follows a walk of its invariant `y₂ − y₃ − y₄` through the stages' iteration errors. A
    /// cap on the Jacobian's age (CVODE re-evaluates after 50 steps) did not help either: with
    /// 0.3 and 50 steps KenCarp4 VDPOLM stays at 135, with 20 steps TRBDF2 POLLU is 24. At
    /// 0.001 more Jacobians (877 vs 121 at 0.3) buy fewer right-hand sides (17793 vs 31961):
    /// cheaper with analytic or AD Jacobians of small systems, dearer with difference Jacobians
    /// of large ones, where a user may raise the rate at the price measured above.
    public var slowConvergenceRate: Double
    /// `W` is refactored when `|γh / γh_W − 1|` exceeds this (`γh_W` the value it was factored
    /// with), or whenever the Jacobian was recomputed; otherwise the old factors are reused.
    public var refactorThreshold: Double

    public init(kappa: Double = 0.03, maxIterations: Int = 7, slowConvergenceRate: Double = 0.001, refactorThreshold: Double = 0.2) {
        self.kappa = kappa
        self.maxIterations = maxIterations
        self.slowConvergenceRate = slowConvergenceRate
        self.refactorThreshold = refactorThreshold
    }
}

/// Why an attempted step's implicit stages could not be solved.
public enum SDIRKFailure: Sendable, Equatable, CustomStringConvertible {
    /// `W = I − γhJ` could not be factored (singular or non-finite).
    case singularIterationMatrix
    /// The Newton corrections grew: contraction rate `θ ≥ 1`.
    case newtonDiverged(rate: Double)
    /// The observed rate predicts no convergence within the allowed iterations.
    case newtonTooSlow(rate: Double)
    /// The right-hand side produced NaN or infinity during the iteration.
    case nonFiniteResidual

    public var description: String {
        switch self {
        case .singularIterationMatrix: return "the iteration matrix W = I - γhJ was singular"
        case .newtonDiverged(let r): return "the Newton iteration diverged (contraction rate \(r) >= 1)"
        case .newtonTooSlow(let r): return "the Newton iteration converged too slowly (contraction rate \(r))"
        case .nonFiniteResidual: return "f returned NaN or Inf during the Newton iteration"
        }
    }
}

/// The one stepper behind every (E)SDIRK method on every state form: explicit first stage (FSAL
/// for stiffly accurate methods), implicit stages by simplified Newton on `W = I − γhJ`, the
/// embedded error estimate filtered through `W⁻¹`, and the tableau's dense output, written once
/// over the state protocol (``DiffEqState``) with the linear algebra as a parameter
/// (``StiffLinearSystem``): ``ArrayStiffLinearSystem`` for arrays (``ArraySDIRKStepper``: dense,
/// banded, sparse, KLU or GMRES, any scalar), ``StaticStiffLinearSystem`` for fixed-size states
/// (``StaticSDIRKStepper``: `Double` and first-order dual states). The stages live in a block in
/// the state's own layout and every operation on whole states is one of the state's fused
/// operations, each component computed with the same operations in the same order in every
/// layout: the same problem gives the same bits in both forms when both use the same Jacobian.
///
/// **Stage equations.** Stage `i` solves `z = γh f(t + c_i h, ũ_i + z)` with
/// `ũ_i = u + h Σ_{j<i} a_ij k_j` for `z = γh k_i` (the "z form" of Hairer & Wanner IV.8, which
/// keeps `k_i = z/(γh)` free of cancellation and costs no extra evaluation of `f`). For a stiffly
/// accurate method the last stage is the new state, and its derivative `k_s` (within the Newton
/// tolerance of `f(t_{n+1}, u_{n+1})`) is the next step's explicit first stage (FSAL).
///
/// **Predictor.** The iteration starts from `k_i ≈ k_j`, the derivative of the earlier stage whose
/// node `c_j` is nearest to `c_i` (a constant extrapolation; the first stage of a method without an
/// explicit first stage starts from `z = 0`).
///
/// **Convergence** (Hairer & Wanner, Solving ODEs II, §IV.8, stopping criterion and
/// divergence test of the simplified Newton iteration). After iteration `k ≥ 1`,
/// `θ_k = ‖Δ_k‖/‖Δ_{k−1}‖`; the stage has converged when `η_k ‖Δ_k‖ ≤ κ` with
/// `η_k = θ_k/(1 − θ_k)`. After the first iteration it has converged when `η₀‖Δ₀‖ ≤ κ` with
/// `η₀ = max(η_old, uround)^0.8` from the previous stage and `‖Δ₀‖ ≤ κ` (so that a stale rate
/// cannot accept a large first correction). It has failed when `θ_k ≥ 1`, when
/// `θ_k^(kmax−k)/(1 − θ_k) ‖Δ_k‖ > κ` (no convergence predicted within `kmax` iterations), or
/// when `f` becomes non-finite. Every iteration is counted in `nnonliniter`, every failed stage
/// solve (and every singular `W`) in `nnonlinconvfail`. For dual-number states the iteration
/// solves the dual stage equations (the values of `W` factored, the partials of each correction
/// following from them), so that the stages' partials converge with their values.
///
/// **Stale Jacobian.** The first implicit stage of a step solved with a `J` from an earlier step
/// takes at least two iterations, so that every such step measures the rate its reuse of `J`
/// relies on. Accepting it after one iteration trusts `η₀` from an earlier `W`; a `J` far from
/// the current one makes `W` so large that every correction `W⁻¹r` is below κ whatever the
/// residual `r`, every stage then stops after one iteration, no rate is ever measured, and that
/// `J` is kept for good (VDPOLM, issue #13: from t = 1137 to 2000 in one step, each stage's
/// residual 1e6 tolerances).
///
/// **Reuse.** `J` is evaluated at the step's start `(t_n, u_n)` and kept across steps. It is
/// recomputed (1) before the first step and after the state was changed from outside, (2) after
/// an accepted step whose slowest rate `θ` exceeded ``SDIRKNewtonOptions/slowConvergenceRate``
/// (0.001 by default, so in practice after most steps),
/// and (3) when a stage solve fails (or `W` is singular) with a `J` from an earlier step: then the
/// same step is retried at once with the fresh `J`. `W` is refactored only when `J` changed or
/// `|γh/γh_W − 1| > ` ``SDIRKNewtonOptions/refactorThreshold``.
///
/// **Failure.** A failure with a current `J` rejects the step and asks the integrator for
/// `h/2` (the first time) or `h/4` (consecutive failures); non-finite values take the
/// integrator's own `h/10` path. In a fixed-step solve (`adaptive: false`) a failure stops the
/// solve. `solve` reports repeated failures as ``ReturnCode/convergenceFailure``.
///
/// **No mass matrix**: a problem with one is refused before any work with
/// ``DiffEqError/unsupported(_:)`` (``ODEStepper/supportsMassMatrix``).
///
/// Buffers are allocated in `init`; a step allocates nothing (except the array form's
/// forward-mode AD Jacobians, which allocate their dual arrays once per evaluation).
public struct SDIRKStepper<Function: DiffEqFunction, Linear: StiffLinearSystem>: ODEStepper
where Linear.Function == Function {
    public typealias State = Function.State
    public typealias Parameters = Function.Parameters
    public typealias Scalar = Function.State.Scalar

    public let tableau: SDIRKTableau
    @usableFromInline let s: Int
    @usableFromInline let n: Int
    @usableFromInline let gamma: Double
    @usableFromInline let firstImplicit: Int
    @usableFromInline let fsal: Bool
    /// The predictor and the dense output's tables.
    @usableFromInline let tables: SDIRKStageTables
    /// The stage sums' terms (``SDIRKStageTerms``); never written after `init`.
    @usableFromInline let terms: SDIRKStageTerms
    @usableFromInline let newton: SDIRKNewtonOptions
    @usableFromInline let fixedStep: Bool

    /// `J`, `W = I − γhJ` and the solves with it.
    public var linearSystem: Linear
    /// Stage derivative `k_j` at `j · stride` (`stride` the state's ``DiffEqState/stageStride``);
    /// after an accepted step, those of that step (the dense output reads them). Slot `s` is
    /// where each residual and the error estimate are solved in place.
    @usableFromInline var stages: StageStorage<State.StageElement>
    /// The terms' weights times `h`, filled per attempt where a state uses a product more than
    /// once (``SDIRKStageTerms``).
    @usableFromInline var scaledWeights: StageStorage<Double>
    /// A stage's `ũ_i`, `z` and `f`'s argument `ũ_i + z` (scratch: an array's buffers change
    /// hands for the attempt, ``DiffEqState/takeScratch(_:)``).
    @usableFromInline var base: State
    @usableFromInline var z: State
    @usableFromInline var arg: State
    /// `f`'s last value: at a Newton iterate, or `f(t_n, u_n)` when evaluated afresh (for the
    /// first stage, or for a difference Jacobian). It is the `fu` of every Jacobian evaluation
    /// (read by differences, which evaluate it afresh, and by a Jacobian-free GMRES's
    /// linearization point, which has always taken the last value as it is).
    @usableFromInline var fz: State
    /// A zero state (the error estimate's sum starts from it).
    @usableFromInline let zeros: State
    /// The absolute tolerances as a state (``configure(tolerance:)``).
    @usableFromInline var abstol: State

    /// Where the first stage is, the reuse of `J` and `W`, the failure record.
    @usableFromInline var control = SDIRKStepControl()

    /// A stepper for `tableau` on states shaped like `prototype`, with `linearSystem` built for
    /// the same `f` (no mass matrix). `fixedStep` is `true` for `adaptive: false` solves, where a
    /// failed stage solve must stop the integration rather than ask for a smaller step.
    @inlinable
    public init(
        tableau: SDIRKTableau, linearSystem: Linear, prototype: State, newton: SDIRKNewtonOptions = .init(),
        fixedStep: Bool = false
    ) {
        self.tableau = tableau
        s = tableau.stages
        n = prototype.count
        gamma = tableau.gamma
        firstImplicit = tableau.hasExplicitFirstStage ? 1 : 0
        fsal = tableau.hasExplicitFirstStage && tableau.isStifflyAccurate
        tables = SDIRKStageTables(tableau)
        terms = SDIRKStageTerms(tableau, predictor: tables.predictor, stride: prototype.stageStride)
        self.newton = newton
        self.fixedStep = fixedStep
        self.linearSystem = linearSystem
        stages = StageStorage(repeating: prototype.stageElementZero, count: (tableau.stages + 1) * prototype.stageStride)
        // Products formed per attempt for arrays (and `b` for a method that is not FSAL).
        let formsScaleInline = prototype.stageStride == 1
        scaledWeights = StageStorage(repeating: 0, count: formsScaleInline && fsal ? 1 : Swift.max(1, terms.errorTerm))
        base = prototype.zeroed()
        z = prototype.zeroed()
        arg = prototype.zeroed()
        fz = prototype.zeroed()
        zeros = prototype.zeroed()
        abstol = prototype.zeroed()
    }

    /// The Newton options and the linear system's settings, checked before any work
    /// (``ODEStepper/validateSettings()``).
    public func validateSettings() throws(DiffEqError) {
        try newton.validate(method: name)
        try linearSystem.validate()
    }

    /// Repeated stage-solve failures as the reason the step size collapsed.
    public func explainFailure(_ code: ReturnCode) -> (code: ReturnCode, message: String)? {
        // An iterative linear solver that kept failing is the reason the Newton iteration did.
        if let linear = linearSystem.failureMessage { return (.convergenceFailure, "\(name): \(linear)") }
        return control.explanation(method: name)
    }

    public var name: String { tableau.name }
    public var isAdaptive: Bool { true }
    public var order: Int { tableau.order }
    public var controller: PIController { tableau.controller }
    public var controllerOrder: Int { Swift.min(tableau.order, tableau.embeddedOrder) + 1 }

    @inlinable
    public mutating func configure(tolerance: ErrorScale) {
        abstol = abstol.assigning(primal: tolerance.abstol)
    }

    @inlinable @inline(__always)
    mutating func makeStagesUnique() {
        if !isKnownUniquelyReferenced(&stages) { stages = stages.copy() }
    }

    @inlinable
    public mutating func start(t: Double, u: State, du: State) {
        if firstImplicit == 1 {
            makeStagesUnique()
            du.store(into: stages.base, stage: 0)
            control.firstStage = .current
        }
        // A new state (the start, or a change from outside): evaluate J there.
        control.restart()
    }

    /// Puts `f(t_n, u_n)` into stage slot 0: the previous step's last stage derivative (FSAL), or
    /// a fresh evaluation.
    @inlinable
    mutating func prepareFirstStage(_ f: Function, _ p: Parameters, t: Double, u: State, stats: inout SolverStats) {
        guard firstImplicit == 1 else { return }
        switch control.firstStage {
        case .current:
            break
        case .inLast:
            let U = stages.base
            let stride = u.stageStride
            let last = U + (s &- 1) &* stride
            for o in 0..<stride { U[o] = last[o] }
        case .missing:
            var fu = State.takeScratch(&fz)
            f.evaluate(into: &fu, u, p, t)
            fu.store(into: stages.base, stage: 0)
            State.returnScratch(&fu, to: &fz)
            stats.nf += 1
        }
        control.firstStage = .current
    }

    /// Evaluates `J` at `(t, u)` for steps of size about `dt`. Finite differences need `f(t, u)`
    /// itself (the FSAL slope is only within the Newton tolerance of it, which a difference
    /// quotient would amplify), so it is evaluated afresh and also becomes the exact first stage;
    /// their increments follow the solve's error weights (``DifferenceIncrements``).
    @inlinable
    mutating func computeJacobian(
        _ f: Function, _ p: Parameters, t: Double, dt: Double, u: State, tolerance: ErrorScale,
        stats: inout SolverStats
    ) {
        if linearSystem.jacobianDifferencesF {
            f.evaluate(into: &fz, u, p, t)
            stats.nf += 1
            if firstImplicit == 1 {
                fz.store(into: stages.base, stage: 0)
                control.firstStage = .current
            }
        }
        linearSystem.evaluateJacobian(f, p, t: t, u: u, fu: fz, h: dt, tolerance: tolerance, stats: &stats)
        control.jacobianEvaluated()
    }

    /// Factors `W = I − γhJ` unless the current factors may be reused
    /// (``SDIRKStepControl/mayReuseFactors(gh:threshold:)``). Returns `false` when `W` is
    /// singular.
    @inlinable @inline(__always)
    mutating func prepareIterationMatrix(dt: Double, stats: inout SolverStats) -> Bool {
        let gh = gamma * dt
        if control.mayReuseFactors(gh: gh, threshold: newton.refactorThreshold) { return true }
        control.wIsCurrent = linearSystem.factor(alpha: 1, beta: -gh, stats: &stats)
        return control.wIsCurrent
    }

    @inlinable
    public mutating func attempt(
        _ f: Function, _ p: Parameters, t: Double, dt: Double, u: State, uNew: inout State,
        tolerance: ErrorScale, stats: inout SolverStats
    ) -> Double {
        makeStagesUnique()
        prepareFirstStage(f, p, t: t, u: u, stats: &stats)
        control.stepMaxRate = 0
        var retried = false
        while true {
            if control.needsJacobian { computeJacobian(f, p, t: t, dt: dt, u: u, tolerance: tolerance, stats: &stats) }
            var err = 0.0
            let failure: SDIRKFailure? =
                prepareIterationMatrix(dt: dt, stats: &stats)
                ? stagesAndError(f, p, t: t, dt: dt, u: u, uNew: &uNew, err: &err, tolerance: tolerance, stats: &stats)
                : .singularIterationMatrix
            guard let why = failure else {
                control.succeeded()
                return err
            }
            stats.nnonlinconvfail += 1
            // With a Jacobian from an earlier step, retry this step once with a fresh one.
            if control.retriesWithFreshJacobian(after: why, retried: retried) {
                retried = true
                continue
            }
            return control.reject(why, t: t, dt: dt, fixedStep: fixedStep, controller: tableau.controller)
        }
    }

    /// Solves the implicit stages in turn; when every stage converged, forms `uNew` and puts the
    /// scaled norm of the filtered error estimate `W⁻¹ h Σ (b_i − b̂_i) k_i` in `err` and returns
    /// `nil`. Multiplying by `(I − γhJ)⁻¹` keeps the estimate bounded for stiff components, where
    /// the raw difference overestimates the error (Hairer & Wanner II, §IV.8, "error
    /// estimation"; the same filter Hosea & Shampine apply to TR-BDF2).
    ///
    /// The block, the term table and the scratch states are reached through pointers and locals
    /// taken once per attempt, as in ``RosenbrockStepper``'s `computeStages`; each residual is
    /// formed in the block's spare slot and solved there in place.
    @inlinable @inline(__always)
    mutating func stagesAndError(
        _ f: Function, _ p: Parameters, t: Double, dt: Double, u: State, uNew: inout State, err: inout Double,
        tolerance: ErrorScale, stats: inout SolverStats
    ) -> SDIRKFailure? {
        let gh = gamma * dt
        let invGH = 1 / gh
        let kmax = newton.maxIterations
        let norm = 1 / Double(n &* Scalar.componentCount)
        let U = stages.base
        // `u.stageStride` rather than a stored stride: a constant 1 for a value state once
        // specialized.
        let stride = u.stageStride
        let slot = U + s &* stride
        let offsets = UnsafePointer(terms.offsets.base)
        let predictors = offsets + terms.predictorOffset
        let nodes = UnsafePointer(terms.weights.base + terms.nodeOffset)
        // A value state uses each product `h·w_k` once and forms it where it is used; an array
        // uses it once per component, so it gets the products formed once per attempt (with
        // `scale: 1`, which folds away). The same products either way.
        let formsScaleInline = stride == 1
        var weights = UnsafePointer(terms.weights.base)
        if !formsScaleInline || !fsal {
            if !isKnownUniquelyReferenced(&scaledWeights) { scaledWeights = scaledWeights.copy() }
            let scaled = scaledWeights.base
            let first = formsScaleInline ? terms.bFirst : 0
            for k in first..<terms.errorTerm { scaled[k] = weights[k] * dt }
            if !formsScaleInline { weights = UnsafePointer(scaled) }
        }
        var base = State.takeScratch(&self.base)
        var z = State.takeScratch(&self.z)
        var arg = State.takeScratch(&self.arg)
        var fz = State.takeScratch(&self.fz)
        var solves = 0
        defer {
            State.returnScratch(&base, to: &self.base)
            State.returnScratch(&z, to: &self.z)
            State.returnScratch(&arg, to: &self.arg)
            State.returnScratch(&fz, to: &self.fz)
            linearSystem.countSolves(solves, stats: &stats)
        }
        for i in firstImplicit..<s {
            let row = i &* (i &+ 1) / 2
            // ũ_i = u + h Σ_{j<i} a_ij k_j, the predictor z = γh k_src and f's argument ũ_i + z.
            if formsScaleInline {
                base.startImplicitStage(
                    z: &z, argument: &arg, base: u, stages: U, offsets: offsets, coefficients: weights, scale: dt,
                    terms: row, to: row &+ i, predictor: predictors[i], predictorScale: gh)
            } else {
                base.startImplicitStage(
                    z: &z, argument: &arg, base: u, stages: U, offsets: offsets, coefficients: weights, scale: 1,
                    terms: row, to: row &+ i, predictor: predictors[i], predictorScale: gh)
            }
            let ti = t + nodes[i] * dt
            var monitor = SDIRKNewtonMonitor(newton, etaOld: control.etaOld)
            var converged = false
            // With a J from an earlier step the first stage measures its rate (see "Stale
            // Jacobian" above).
            let mayStopAfterOneIteration = control.jacobianIsCurrent || i > firstImplicit
            for iteration in 0..<kmax {
                f.evaluate(into: &fz, arg, p, ti)
                stats.nf += 1
                stats.nnonliniter += 1
                State.storeNewtonResidual(into: slot, fz, scaledBy: gh, minus: z)
                linearSystem.solve(slot, stats: &stats)
                solves &+= 1
                let sum = z.addNewtonCorrection(
                    slot, base: base, argument: &arg, from: u, abstol: abstol, tolerance: tolerance)
                let size = (sum * norm).squareRoot()
                switch monitor.judge(
                    size: size, iteration: iteration, mayStopAfterOneIteration: mayStopAfterOneIteration,
                    maxRate: &control.stepMaxRate)
                {
                case .converged: converged = true
                case .iterate: continue
                case .failed(let why): return why
                }
                break
            }
            guard converged else { return .newtonTooSlow(rate: control.stepMaxRate) }
            control.etaOld = monitor.eta
            // k_i = z/(γh), through `base`, free once `arg` holds ũ_i + z (`fz` keeps f's value).
            base.assignScaled(z, invGH)
            base.store(into: U, stage: i)
        }
        if fsal {
            // Stiffly accurate: the result is the last stage's value ũ_s + z_s itself.
            uNew.copyComponents(from: arg)
        } else {
            uNew.gatheredCombination(
                base: u, stages: U, offsets: offsets, coefficients: UnsafePointer(scaledWeights.base),
                terms: terms.bFirst, to: terms.bLast)
        }
        // The estimate h Σ (b_i − b̂_i) k_i, summed from zero, solved in the spare slot.
        if formsScaleInline {
            State.storeGatheredSum(
                into: slot, zeros, plus: zeros, scaledBy: 0, addingB: false, stages: U, offsets: offsets,
                coefficients: weights, scale: dt, terms: terms.bLast, to: terms.errorTerm)
        } else {
            State.storeGatheredSum(
                into: slot, zeros, plus: zeros, scaledBy: 0, addingB: false, stages: U, offsets: offsets,
                coefficients: weights, scale: 1, terms: terms.bLast, to: terms.errorTerm)
        }
        linearSystem.solve(slot, stats: &stats)
        solves &+= 1
        let sum = State.gatheredWeightedSumOfSquares(
            stages: U, offsets: offsets, coefficients: terms.weights.base, terms: terms.errorTerm,
            to: terms.errorTerm &+ 1, from: u, to: uNew, abstol: abstol, tolerance: tolerance)
        // Over values and partials (DESIGN.md §4).
        err = ErrorScale.finish(sum, count: n, as: Scalar.self)
        return nil
    }

    @inlinable
    public mutating func accept() {
        // The stages stay in place for the dense output of this step; the FSAL copy into slot 0
        // happens when the next step starts.
        control.accept(fsal: fsal, slowRate: newton.slowConvergenceRate)
    }

    /// The tableau's interpolant at `t + θh`, `u + h Σ_j b_j(θ) k_j` over the stages with a
    /// nonzero weight `b_j(θ)` (each by Horner's rule, as ``evaluateWeights(_:theta:into:)``).
    @inlinable
    public mutating func interpolate(
        _ f: Function, _ p: Parameters, theta: Double, t: Double, dt: Double, u: State, uNew: State,
        into out: inout State, stats: inout SolverStats
    ) {
        let U = UnsafePointer(stages.base)
        let stride = u.stageStride
        let used = tables.denseStages
        let capacity = Swift.max(1, used.count)
        withUnsafeTemporaryAllocation(of: Double.self, capacity: capacity) { w in
            withUnsafeTemporaryAllocation(of: Int.self, capacity: capacity) { o in
                var count = 0
                for (q, j) in used.enumerated() {
                    let poly = tables.denseCoefficients[q]
                    var acc = 0.0
                    for r in poly.indices.reversed() { acc = acc * theta + poly[r] }
                    let weight = acc * theta
                    if weight != 0 {
                        w[count] = dt * weight
                        o[count] = j &* stride
                        count &+= 1
                    }
                }
                out.gatheredCombination(
                    base: u, stages: U, offsets: UnsafePointer(o.baseAddress!),
                    coefficients: UnsafePointer(w.baseAddress!), terms: 0, to: count)
            }
        }
    }

    /// Appends the step's interpolant (polynomial weights over the stages, as the explicit
    /// methods' continuous extensions) to the dense output.
    @inlinable
    public mutating func appendDenseStep(
        _ f: Function, _ p: Parameters, t: Double, dt: Double, end: Double, u: State, uNew: State,
        to dense: inout PiecewisePolynomial<Scalar>, stats: inout SolverStats
    ) {
        let (s, degree, order, stride) = (self.s, tables.denseDegree, tableau.interpolant.order, u.stageStride)
        let U = UnsafePointer(stages.base)
        tables.denseWeights.withUnsafeBufferPointer { w in
            dense.appendStageWeighted(
                from: t, to: end, step: dt, u0: u, u1: uNew, stageCount: s, weights: w.baseAddress!, degree: degree,
                order: order
            ) { j, m in State.component(m, ofStage: j, in: U, stride: stride) }
        }
    }

    // Performance: KenCarp4 at 1e-6, instructions per step attempt (callgrind, stripped release,
    // rosen-step-bench S, SOLVES=11 − SOLVES=1), base 43ecf29's two steppers → this: VDPOL
    // `[Double]` 11,642 → 9,632, fixed-size 3,953 → 4,052; HIRES `[Double]` 27,994 → 24,229,
    // fixed-size 10,443 → 10,657. A first draft was at 4,094 and 10,965 fixed-size: HIRES has 64
    // attempts per solve, so per-solve costs count; the init is inlinable (unspecialized it looked
    // up conformances per solve), the term tables are two blocks built without regrowth, and the
    // linear system skips `max|J_ij|` (`refinesStages: false`); `stagesAndError` is inlined
    // into `attempt`.
}

/// The SDIRK stepper of array states (``ODEProblem``): any scalar, `J` and `W` by
/// ``JacobianEvaluator`` and ``IterationMatrix`` (dense, banded, sparse, KLU, GMRES).
public typealias ArraySDIRKStepper<F: ODEFunction> = SDIRKStepper<F, ArrayStiffLinearSystem<F>>

/// The SDIRK stepper of fixed-size states (``StaticODEProblem``): `Double` states
/// (``StaticVector``, `SIMD`) and first-order dual states (`FixedVector<N, Dual<K, Double>>`,
/// forward-mode gradients). `J` is chosen as for the fixed-size Rosenbrock methods: under
/// ``JacobianSource/automatic`` the analytic Jacobian when the function has one, else
/// forward-mode AD for the generic form (``StaticModelRHS``), else differences; the algorithm's
/// ``SDIRKAlgorithm/linearSolver`` does not apply (the fixed-size form is dense).
public typealias StaticSDIRKStepper<F: StaticODEFunction> = SDIRKStepper<F, StaticStiffLinearSystem<F>>
where F.State.Scalar: StaticRosenbrockScalar

extension SDIRKStepper where Function: ODEFunction, Linear == ArrayStiffLinearSystem<Function> {
    /// A stepper for `n` components. `fixedStep` is `true` for `adaptive: false` solves, where a
    /// failed stage solve must stop the integration rather than ask for a smaller step.
    @inlinable
    public init(
        tableau: SDIRKTableau, function f: Function, count n: Int, jacobian: JacobianSource = .automatic,
        newton: SDIRKNewtonOptions = .init(), fixedStep: Bool = false, linearSolver: LinearSolver = .automatic
    ) {
        self.init(
            tableau: tableau,
            linearSystem: ArrayStiffLinearSystem(
                function: f, count: n, massMatrix: nil, jacobian: jacobian, linearSolver: linearSolver,
                refinesStages: false),
            prototype: [Function.Scalar](repeating: .zero, count: n), newton: newton, fixedStep: fixedStep)
    }
}

extension SDIRKStepper
where Function: StaticODEFunction, Function.State.Scalar: StaticRosenbrockScalar,
    Linear == StaticStiffLinearSystem<Function> {
    /// A stepper for `tableau` on `f`'s states. `fixedStep` is `true` for `adaptive: false`
    /// solves, where a failed stage solve must stop the integration.
    @inlinable
    public init(
        tableau: SDIRKTableau, function f: Function, jacobian: JacobianSource = .automatic,
        newton: SDIRKNewtonOptions = .init(), fixedStep: Bool = false
    ) {
        self.init(
            tableau: tableau, linearSystem: StaticStiffLinearSystem(function: f, jacobian: jacobian, refinesStages: false),
            prototype: Function.State(), newton: newton, fixedStep: fixedStep)
    }
}
