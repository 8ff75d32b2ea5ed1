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

/// The one stepper behind every (E)SDIRK method: explicit first stage (FSAL for stiffly accurate
/// methods), implicit stages by simplified Newton on `W = I − γhJ`, the embedded error estimate
/// filtered through `W⁻¹`, and the tableau's dense output.
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
/// solve (and every singular `W`) in `nnonlinconvfail`.
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
/// Caches are allocated in `init`; a step allocates nothing (except forward-mode AD Jacobians,
/// which allocate their dual arrays once per evaluation).
public struct SDIRKStepper<Function: ODEFunction>: ODEStepper {
    public typealias Scalar = Function.Scalar

    public let tableau: SDIRKTableau
    @usableFromInline let s: Int
    @usableFromInline let n: Int
    @usableFromInline let c: [Double]
    /// Row `i` of A (the diagonal included) starts at `i*(i+1)/2`.
    @usableFromInline let aFlat: [Double]
    @usableFromInline let b: [Double]
    @usableFromInline let btilde: [Double]
    @usableFromInline let gamma: Double
    @usableFromInline let firstImplicit: Int
    @usableFromInline let fsal: Bool
    /// For each stage, the earlier stage whose derivative predicts it (-1: `z = 0`).
    @usableFromInline let predictor: [Int]
    /// The stages the dense output uses, and their polynomials `b_i(θ)`.
    @usableFromInline let denseStages: [Int]
    @usableFromInline let denseCoefficients: [[Double]]
    /// The interpolant's `B_{jq}` over all stages for the dense output: stage `j`'s `θ^1 … θ^d`
    /// at `[j·d, (j+1)·d)` (zero-padded), `d = denseDegree`.
    @usableFromInline let denseWeights: [Double]
    @usableFromInline let denseDegree: Int
    @usableFromInline let newton: SDIRKNewtonOptions
    @usableFromInline let fixedStep: Bool

    /// Stage derivative `k_j` at `j*n ..< (j+1)*n`.
    @usableFromInline var k: [Scalar]
    @usableFromInline var base: [Scalar]
    @usableFromInline var z: [Scalar]
    @usableFromInline var arg: [Scalar]
    @usableFromInline var fvalue: [Scalar]
    @usableFromInline var delta: [Scalar]
    @usableFromInline var J: [Scalar]
    @usableFromInline var W: IterationMatrix<Scalar>
    @usableFromInline var jacobianEvaluator: JacobianEvaluator<Function>
    /// `f`'s declared Jacobian structure (validated in ``validateSettings()``).
    @usableFromInline let structure: JacobianStructure
    @usableFromInline var thetaWeights: [Double]

    /// Where the first stage is, the reuse of `J` and `W`, the failure record.
    @usableFromInline var control = SDIRKStepControl()

    /// A stepper for `n` components. `fixedStep` is `true` for `adaptive: false` solves, where a
    /// failed stage solve must stop the integration rather than ask for a smaller step.
    public init(
        tableau: SDIRKTableau, function f: Function, count n: Int, jacobian: JacobianSource = .automatic,
        newton: SDIRKNewtonOptions = .init(), fixedStep: Bool = false, linearSolver: LinearSolver = .automatic
    ) {
        self.tableau = tableau
        let s = tableau.stages
        self.s = s
        self.n = n
        c = tableau.c
        aFlat = tableau.a.flatMap { $0 }
        b = tableau.b
        btilde = tableau.btilde
        gamma = tableau.gamma
        firstImplicit = tableau.hasExplicitFirstStage ? 1 : 0
        fsal = tableau.hasExplicitFirstStage && tableau.isStifflyAccurate
        let tables = SDIRKStageTables(tableau)
        predictor = tables.predictor
        denseStages = tables.denseStages
        denseCoefficients = tables.denseCoefficients
        denseWeights = tables.denseWeights
        denseDegree = tables.denseDegree
        self.newton = newton
        self.fixedStep = fixedStep
        k = [Scalar](repeating: .zero, count: s * n)
        base = [Scalar](repeating: .zero, count: n)
        z = base
        arg = base
        fvalue = base
        delta = base
        structure = f.jacobianStructure
        let resolved = structure.resolved(count: n, hasMass: false, solver: linearSolver)
        jacobianEvaluator = JacobianEvaluator(f, count: n, source: jacobian, structure: resolved, solver: linearSolver)
        J = [Scalar](repeating: .zero, count: jacobianEvaluator.storageCount)
        W = IterationMatrix(
            count: n, structure: resolved, solver: linearSolver, hasMass: false, linearization: jacobianEvaluator.linearization)
        thetaWeights = [Double](repeating: 0, count: tables.denseStages.count)
    }

    /// Repeated stage-solve failures as the reason the step size collapsed.
    public func explainFailure(_ code: ReturnCode) -> (code: ReturnCode, message: String)? {
        // An iterative linear solver that kept failing is the reason the Newton iteration did.
        if let linear = W.failureMessage { return (.convergenceFailure, "\(name): \(linear)") }
        return control.explanation(method: name)
    }

    public var name: String { tableau.name }
    public var isAdaptive: Bool { true }
    public var order: Int { tableau.order }
    public var controller: PIController { tableau.controller }
    public var controllerOrder: Int { Swift.min(tableau.order, tableau.embeddedOrder) + 1 }

    public mutating func start(t: Double, u: [Scalar], du: [Scalar]) {
        if firstImplicit == 1 {
            for m in 0..<n { k[m] = du[m] }
            control.firstStage = .current
        }
        // A new state (the start, or a change from outside): evaluate J there.
        control.restart()
    }

    /// Puts `f(t_n, u_n)` into stage slot 0: the previous step's last stage derivative (FSAL), or
    /// a fresh evaluation.
    @inlinable
    mutating func prepareFirstStage(_ f: Function, _ p: [Scalar], t: Double, u: [Scalar], stats: inout SolverStats) {
        guard firstImplicit == 1 else { return }
        switch control.firstStage {
        case .current:
            break
        case .inLast:
            let last = (s - 1) * n
            for m in 0..<n { k[m] = k[last + m] }
        case .missing:
            var fu: [Scalar] = []
            swap(&fu, &fvalue)
            f(&fu, u, p, Scalar(t))
            for m in 0..<n { k[m] = fu[m] }
            swap(&fu, &fvalue)
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
        _ f: Function, _ p: [Scalar], t: Double, dt: Double, u: [Scalar], tolerance: ErrorScale, stats: inout SolverStats
    ) {
        if jacobianEvaluator.differencesF {
            f(&fvalue, u, p, Scalar(t))
            stats.nf += 1
            if firstImplicit == 1 {
                for m in 0..<n { k[m] = fvalue[m] }
                control.firstStage = .current
            }
        }
        jacobianEvaluator.evaluate(f, p, t: t, u: u, fu: fvalue, h: dt, tolerance: tolerance, into: &J, stats: &stats)
        control.jacobianEvaluated()
    }

    /// Factors `W = I − γhJ` unless the current factors may be reused. Returns `false` when `W`
    /// is singular.
    @inlinable
    mutating func prepareIterationMatrix(dt: Double, stats: inout SolverStats) -> Bool {
        let gh = gamma * dt
        if control.mayReuseFactors(gh: gh, threshold: newton.refactorThreshold) { return true }
        control.wIsCurrent = W.factor(alpha: 1, beta: -gh, J: J, mass: nil, stats: &stats)
        return control.wIsCurrent
    }

    @inlinable
    public mutating func attempt(
        _ f: Function, _ p: [Scalar], t: Double, dt: Double, u: [Scalar], uNew: inout [Scalar],
        tolerance: ErrorScale, stats: inout SolverStats
    ) -> Double {
        prepareFirstStage(f, p, t: t, u: u, stats: &stats)
        control.stepMaxRate = 0
        var retried = false
        while true {
            if control.needsJacobian { computeJacobian(f, p, t: t, dt: dt, u: u, tolerance: tolerance, stats: &stats) }
            var failure: SDIRKFailure?
            if prepareIterationMatrix(dt: dt, stats: &stats) {
                failure = solveStages(f, p, t: t, dt: dt, u: u, tolerance: tolerance, stats: &stats)
            } else {
                failure = .singularIterationMatrix
            }
            guard let why = failure else { break }
            stats.nnonlinconvfail += 1
            // With a Jacobian from an earlier step, retry this step once with a fresh one.
            if control.retriesWithFreshJacobian(after: why, retried: retried) {
                retried = true
                continue
            }
            return control.reject(why, t: t, dt: dt, fixedStep: fixedStep, controller: tableau.controller)
        }
        control.succeeded()
        return finishStep(dt: dt, u: u, uNew: &uNew, tolerance: tolerance, stats: &stats)
    }

    /// Solves the implicit stages in turn. Returns `nil` when every stage converged.
    @inlinable
    mutating func solveStages(
        _ f: Function, _ p: [Scalar], t: Double, dt: Double, u: [Scalar], tolerance: ErrorScale,
        stats: inout SolverStats
    ) -> SDIRKFailure? {
        let n = self.n
        let gh = gamma * dt
        let invGH = 1 / gh
        let kmax = newton.maxIterations
        var base: [Scalar] = []
        var z: [Scalar] = []
        var arg: [Scalar] = []
        var fz: [Scalar] = []
        var delta: [Scalar] = []
        var k: [Scalar] = []
        swap(&base, &self.base)
        swap(&z, &self.z)
        swap(&arg, &self.arg)
        swap(&fz, &self.fvalue)
        swap(&delta, &self.delta)
        swap(&k, &self.k)
        defer {
            swap(&base, &self.base)
            swap(&z, &self.z)
            swap(&arg, &self.arg)
            swap(&fz, &self.fvalue)
            swap(&delta, &self.delta)
            swap(&k, &self.k)
        }
        let norm = 1 / Double(n * Scalar.componentCount)
        for i in firstImplicit..<s {
            let row = i * (i + 1) / 2
            let ti = Scalar(t + c[i] * dt)
            // ũ_i = u + h Σ_{j<i} a_ij k_j, and the predictor z = γh k_src.
            let src = predictor[i]
            for m in 0..<n {
                var acc = u[m]
                for j in 0..<i { acc += k[j * n + m].scaled(by: dt * aFlat[row + j]) }
                base[m] = acc
                z[m] = src >= 0 ? k[src * n + m].scaled(by: gh) : .zero
            }
            var monitor = SDIRKNewtonMonitor(newton, etaOld: control.etaOld)
            var converged = false
            // With a J from an earlier step the first stage measures its rate (see "Stale
            // Jacobian" above).
            let mayStopAfterOneIteration = control.jacobianIsCurrent || i > firstImplicit
            for iteration in 0..<kmax {
                for m in 0..<n { arg[m] = base[m] + z[m] }
                f(&fz, arg, p, ti)
                stats.nf += 1
                stats.nnonliniter += 1
                for m in 0..<n { delta[m] = fz[m].scaled(by: gh) - z[m] }
                W.solve(&delta, stats: &stats)
                var sum = 0.0
                for m in 0..<n {
                    z[m] += delta[m]
                    let sc = tolerance.scale(m, u[m].primal, (base[m] + z[m]).primal)
                    sum += delta[m].sumOfSquaredComponents / (sc * sc)
                }
                let size = (sum * norm).squareRoot()
                switch monitor.judge(size: size, iteration: iteration, mayStopAfterOneIteration: mayStopAfterOneIteration, maxRate: &control.stepMaxRate) {
                case .converged: converged = true
                case .iterate: continue
                case .failed(let why): return why
                }
                break
            }
            guard converged else { return .newtonTooSlow(rate: control.stepMaxRate) }
            control.etaOld = monitor.eta
            let slot = i * n
            for m in 0..<n { k[slot + m] = z[m].scaled(by: invGH) }
        }
        return nil
    }

    /// Forms the new state and returns the scaled norm of the filtered error estimate
    /// `W⁻¹ h Σ (b_i − b̂_i) k_i`: multiplying by `(I − γhJ)⁻¹` keeps the estimate bounded for
    /// stiff components, where the raw difference overestimates the error (Hairer & Wanner II,
    /// §IV.8, "error estimation"; the same filter Hosea & Shampine apply to TR-BDF2).
    @inlinable
    mutating func finishStep(
        dt: Double, u: [Scalar], uNew: inout [Scalar], tolerance: ErrorScale, stats: inout SolverStats
    ) -> Double {
        let n = self.n
        if fsal {
            // Stiffly accurate: the result is the last stage itself.
            for m in 0..<n { uNew[m] = base[m] + z[m] }
        } else {
            for m in 0..<n {
                var acc = u[m]
                for j in 0..<s where b[j] != 0 { acc += k[j * n + m].scaled(by: dt * b[j]) }
                uNew[m] = acc
            }
        }
        var e: [Scalar] = []
        swap(&e, &delta)
        for m in 0..<n {
            var acc = Scalar.zero
            for j in 0..<s where btilde[j] != 0 { acc += k[j * n + m].scaled(by: dt * btilde[j]) }
            e[m] = acc
        }
        W.solve(&e, stats: &stats)
        var sum = 0.0
        for m in 0..<n {
            let sc = tolerance.scale(m, u[m].primal, uNew[m].primal)
            sum += e[m].sumOfSquaredComponents / (sc * sc)
        }
        swap(&e, &delta)
        return ErrorScale.finish(sum, count: n, as: Scalar.self)
    }

    public mutating func accept() {
        // The stages stay in place for the dense output of this step; the FSAL copy into slot 0
        // happens when the next step starts.
        control.accept(fsal: fsal, slowRate: newton.slowConvergenceRate)
    }

    @inlinable
    public mutating func interpolate(
        _ f: Function, _ p: [Scalar], theta: Double, t: Double, dt: Double, u: [Scalar],
        uNew: [Scalar], into out: inout [Scalar], stats: inout SolverStats
    ) {
        evaluateWeights(denseCoefficients, theta: theta, into: &thetaWeights)
        for m in 0..<n {
            var acc = u[m]
            for (q, j) in denseStages.enumerated() where thetaWeights[q] != 0 {
                acc += k[j * n + m].scaled(by: dt * thetaWeights[q])
            }
            out[m] = acc
        }
    }

    /// Appends the step's interpolant (polynomial weights over the stages, as the explicit
    /// methods' continuous extensions) to the dense output.
    @inlinable
    public mutating func appendDenseStep(
        _ f: Function, _ p: [Scalar], t: Double, dt: Double, end: Double, u: [Scalar], uNew: [Scalar],
        to dense: inout PiecewisePolynomial<Scalar>, stats: inout SolverStats
    ) {
        let (s, degree, order) = (self.s, denseDegree, tableau.interpolant.order)
        k.withUnsafeBufferPointer { stages in
            denseWeights.withUnsafeBufferPointer { w in
                dense.appendStageWeighted(
                    from: t, to: end, step: dt, u0: u, u1: uNew, stages: stages.baseAddress!, stageCount: s,
                    weights: w.baseAddress!, degree: degree, order: order)
            }
        }
    }
}

