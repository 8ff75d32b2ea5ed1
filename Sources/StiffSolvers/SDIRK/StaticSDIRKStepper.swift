import DiffEqCore

/// Any ``SDIRKTableau`` (TRBDF2, KenCarp4, Kvaerno5, …) on a fixed-size state
/// (``StaticODEProblem``), stepped by the one loop (``ODEIntegrator``) as ``SDIRKStepper`` is
/// for arrays, operation for operation: the same stages in the z form, predictor, simplified
/// Newton iteration with its stopping and failure tests (``SDIRKNewtonMonitor``), reuse of `J`
/// and of the factors of `W = I − γhJ`, filtered error estimate, failure handling and dense
/// output. The same problem in both forms gives the same steps and numbers when both use the
/// same Jacobian (analytic in both, or differences in both; `StaticSDIRKTests`), and the loop
/// gives this form events, dense output (`dense: true`), `saveat`, `tstops` and
/// `isOutOfDomain`.
///
/// `J` is the function's analytic Jacobian when it has one
/// (``StaticODEFunction/hasAnalyticJacobian``) and the method asks for ``JacobianSource/automatic``,
/// else forward (or central) differences, as for a closure in the array form (the fixed-size
/// form has no dual-number evaluation of `f`). `W` is factored by ``StaticLU`` (by value, for
/// `n ≤ 2`) or ``StaticLUInMemory``, the two implementations of ``StaticStageSolver`` that the
/// fixed-size Rosenbrock stepper uses; the algorithm's ``SDIRKAlgorithm/linearSolver`` does
/// not apply (the fixed-size form is dense). No mass matrix (``StaticODEProblem`` has none).
///
/// Why a second stepper rather than ``SDIRKStepper`` generic over the state: the array
/// stepper's `J` and `W` are the general ones (banded, sparse, KLU, GMRES, dual-number LU,
/// forward-mode AD Jacobians), which a fixed-size state has no use for; what the two share
/// (tables, Newton tests, rejection) is written once in `SDIRKStageIteration.swift`.
///
/// Performance: the step loop allocates nothing; the stages and the in-memory factors live in
/// one block (``StaticRosenbrockStages``, `s + 1` states: the stages and a solve's result),
/// checked for uniqueness once per attempt; for `n ≤ 2` the factors are a stored value.
public struct StaticSDIRKStepper<Function: StaticODEFunction>: ODEStepper where Function.State.Scalar == Double {
    public typealias State = Function.State
    public typealias Matrix = State.SquareMatrix

    public let tableau: SDIRKTableau
    @usableFromInline let s: Int
    @usableFromInline let gamma: Double
    @usableFromInline let firstImplicit: Int
    @usableFromInline let fsal: Bool
    @usableFromInline let tables: SDIRKStageTables
    /// `c` (`s`), then the rows of `A` with the diagonal (row `i` at `s + i(i+1)/2`), then `b`,
    /// then `b̂` (the error weights `b − b̂` as the tableau stores them); read-only.
    @usableFromInline let coefficients: StageStorage<Double>
    @usableFromInline let newton: SDIRKNewtonOptions
    @usableFromInline let fixedStep: Bool
    @usableFromInline let analyticJacobian: Bool
    @usableFromInline let increments: DifferenceIncrements
    @usableFromInline var abstol = State()
    @usableFromInline var reltol = 0.0

    /// Stage derivative `k_j` at `U[j]`, a solve's result at `U[s]`; the factors of `W` for
    /// `n >` ``registerLimit``.
    @usableFromInline var stages: StaticRosenbrockStages<State>
    @usableFromInline var J = Matrix()
    /// The factors of `W` for `n ≤` ``registerLimit``.
    @usableFromInline var factorsByValue = StaticLU<Matrix>(Matrix())
    /// `f(t_n, u_n)`, evaluated afresh for a difference Jacobian.
    @usableFromInline var f0 = State()
    /// The last stage's value `ũ_s + z_s`: a stiffly accurate method's new state.
    @usableFromInline var lastStageValue = State()

    /// Where the first stage is, the reuse of `J` and `W`, the failure record (as the array
    /// form's).
    @usableFromInline var control = SDIRKStepControl()

    /// A stepper for `tableau` on `f`'s states. `fixedStep` is `true` for `adaptive: false`
    /// solves, where a failed stage solve must stop the integration.
    public init(
        tableau: SDIRKTableau, function f: Function, jacobian: JacobianSource = .automatic,
        newton: SDIRKNewtonOptions = .init(), fixedStep: Bool = false
    ) {
        self.tableau = tableau
        s = tableau.stages
        gamma = tableau.gamma
        firstImplicit = tableau.hasExplicitFirstStage ? 1 : 0
        fsal = tableau.hasExplicitFirstStage && tableau.isStifflyAccurate
        tables = SDIRKStageTables(tableau)
        coefficients = StageStorage(tableau.c + tableau.a.flatMap { $0 } + tableau.b + tableau.btilde)
        self.newton = newton
        self.fixedStep = fixedStep
        analyticJacobian = jacobian == .automatic && f.hasAnalyticJacobian
        increments = DifferenceIncrements(uround: Double.ulpOfOne, central: jacobian == .centralDifferences)
        stages = StaticRosenbrockStages(count: tableau.stages + 1)
    }

    public var name: String { tableau.name }
    public var isAdaptive: Bool { true }
    public var order: Int { tableau.order }
    public var controller: PIController { tableau.controller }
    public var controllerOrder: Int { Swift.min(tableau.order, tableau.embeddedOrder) + 1 }

    /// The Newton options, checked before any work (``ODEStepper/validateSettings()``).
    public func validateSettings() throws(DiffEqError) {
        try newton.validate(method: name)
    }

    public mutating func configure(tolerance: ErrorScale) {
        abstol = State().assigning(primal: tolerance.abstol)
        reltol = tolerance.reltol
    }

    /// Repeated stage-solve failures as the reason the step size collapsed (the array form's
    /// message).
    public func explainFailure(_ code: ReturnCode) -> (code: ReturnCode, message: String)? {
        control.explanation(method: name)
    }

    /// The largest state whose factors are a stored value (``StaticLU``) rather than in the
    /// block's memory: the fixed-size Rosenbrock stepper's measured limit
    /// (``StaticRosenbrockStepper/registerLimit``).
    @inlinable static var registerLimit: Int { 2 }

    @inlinable
    mutating func makeStagesUnique() {
        if !isKnownUniquelyReferenced(&stages) { stages = stages.copy() }
    }

    public mutating func start(t: Double, u: State, du: State) {
        if firstImplicit == 1 {
            makeStagesUnique()
            stages.U[0] = du
            control.firstStage = .current
        }
        // A new state (the start, or a change from outside): evaluate J there.
        control.restart()
    }

    /// Puts `f(t_n, u_n)` into stage 0: the previous step's last stage derivative (FSAL), or a
    /// fresh evaluation.
    @inlinable
    mutating func prepareFirstStage(_ f: Function, _ p: Function.Parameters, t: Double, u: State, stats: inout SolverStats) {
        guard firstImplicit == 1 else { return }
        switch control.firstStage {
        case .current:
            break
        case .inLast:
            stages.U[0] = stages.U[s &- 1]
        case .missing:
            stages.U[0] = f(u, p, t)
            stats.nf += 1
        }
        control.firstStage = .current
    }

    /// `J` at `(t, u)` for steps of size about `dt`, as ``SDIRKStepper``'s `computeJacobian`:
    /// differences need `f(t, u)` itself, evaluated afresh, which also becomes the exact first
    /// stage.
    @inlinable
    mutating func computeJacobian(
        _ f: Function, _ p: Function.Parameters, t: Double, dt: Double, u: State, tolerance: ErrorScale,
        stats: inout SolverStats
    ) {
        stats.njacs += 1
        if analyticJacobian {
            J = f.jacobian(u, p, t)
        } else {
            f0 = f(u, p, t)
            stats.nf += 1
            if firstImplicit == 1 {
                stages.U[0] = f0
                control.firstStage = .current
            }
            stats.njacsFiniteDifference += 1
            J = increments.jacobian(of: f, p, t: t, u: u, fu: f0, h: dt, tolerance: tolerance, stats: &stats)
        }
        control.jacobianEvaluated()
    }

    @inlinable
    public mutating func attempt(
        _ f: Function, _ p: Function.Parameters, t: Double, dt: Double, u: State, uNew: inout State,
        tolerance: ErrorScale, stats: inout SolverStats
    ) -> Double {
        makeStagesUnique()
        prepareFirstStage(f, p, t: t, u: u, stats: &stats)
        control.stepMaxRate = 0
        var retried = false
        while true {
            if control.needsJacobian { computeJacobian(f, p, t: t, dt: dt, u: u, tolerance: tolerance, stats: &stats) }
            var failure: SDIRKFailure? = .singularIterationMatrix
            var err = 0.0
            let gh = gamma * dt
            if State().scalarCount <= Self.registerLimit {
                if !control.mayReuseFactors(gh: gh, threshold: newton.refactorThreshold) {
                    stats.nluFactorizations += 1
                    let lu = StaticLU.factoring(J, alpha: 1, beta: -gh)
                    control.wIsCurrent = lu != nil
                    if let lu { factorsByValue = lu }
                }
                if control.wIsCurrent {
                    failure = stagesAndError(f, p, t: t, dt: dt, u: u, uNew: &uNew, factorsByValue, err: &err, stats: &stats)
                }
            } else {
                let block = stages
                if !control.mayReuseFactors(gh: gh, threshold: newton.refactorThreshold) {
                    stats.nluFactorizations += 1
                    control.wIsCurrent =
                        StaticLUInMemory<State>.factoring(
                            &J, alpha: 1, beta: -gh, a: block.factors, pivots: block.pivots, reciprocals: block.reciprocals)
                        != nil
                }
                if control.wIsCurrent {
                    let lu = StaticLUInMemory<State>.factored(
                        a: block.factors, pivots: block.pivots, reciprocals: block.reciprocals)
                    failure = stagesAndError(f, p, t: t, dt: dt, u: u, uNew: &uNew, lu, err: &err, stats: &stats)
                }
            }
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

    /// The implicit stages solved with the factors `lu`, then, when every stage converged,
    /// `uNew` and the scaled norm of the filtered error estimate in `err`; the failure
    /// otherwise. (Generic over the factors' form rather than taking a closure, as the
    /// Rosenbrock stepper's `stagesAndError`.)
    @inlinable @inline(__always)
    mutating func stagesAndError<LU: StaticStageSolver>(
        _ f: Function, _ p: Function.Parameters, t: Double, dt: Double, u: State, uNew: inout State, _ lu: LU,
        err: inout Double, stats: inout SolverStats
    ) -> SDIRKFailure? where LU.Column == State {
        let n = State().scalarCount
        let gh = gamma * dt
        let invGH = 1 / gh
        let kmax = newton.maxIterations
        let norm = 1 / Double(n)
        let K = stages.U
        let solved = K + s
        let c = coefficients.base
        let a = c + s
        for i in firstImplicit..<s {
            let row = i &* (i &+ 1) / 2
            let ti = t + c[i] * dt
            // ũ_i = u + h Σ_{j<i} a_ij k_j, and the predictor z = γh k_src.
            var base = u
            for j in 0..<i { base = base + K[j] * (dt * a[row &+ j]) }
            let src = tables.predictor[i]
            var z = src >= 0 ? K[src] * gh : State()
            var monitor = SDIRKNewtonMonitor(newton, etaOld: control.etaOld)
            var converged = false
            // With a J from an earlier step the first stage measures its rate (SDIRKStepper,
            // "Stale Jacobian").
            let mayStopAfterOneIteration = control.jacobianIsCurrent || i > firstImplicit
            for iteration in 0..<kmax {
                let fz = f(base + z, p, ti)
                stats.nf += 1
                stats.nnonliniter += 1
                lu.solve(fz * gh - z, into: solved)
                stats.nlinsolves += 1
                let delta = solved.pointee
                z = z + delta
                let value = base + z
                var sum = 0.0
                for m in 0..<n {
                    let sc = errorWeight(abstol: abstol[m], reltol: reltol, u[m], value[m])
                    sum += (delta[m] * delta[m]) / (sc * sc)
                }
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
            K[i] = z * invGH
            if i == s &- 1 { lastStageValue = base + z }
        }
        let b = a + s &* (s &+ 1) / 2
        let btilde = b + s
        if fsal {
            // Stiffly accurate: the result is the last stage itself.
            uNew = lastStageValue
        } else {
            var acc = u
            for j in 0..<s where b[j] != 0 { acc = acc + K[j] * (dt * b[j]) }
            uNew = acc
        }
        // The filtered estimate W⁻¹ h Σ (b_i − b̂_i) k_i (SDIRKStepper's finishStep).
        var e = State()
        for j in 0..<s where btilde[j] != 0 { e = e + K[j] * (dt * btilde[j]) }
        lu.solve(e, into: solved)
        stats.nlinsolves += 1
        e = solved.pointee
        var sum = 0.0
        for m in 0..<n {
            let sc = errorWeight(abstol: abstol[m], reltol: reltol, u[m], uNew[m])
            sum += (e[m] * e[m]) / (sc * sc)
        }
        err = (sum / Double(n)).squareRoot()
        return nil
    }

    public mutating func accept() {
        control.accept(fsal: fsal, slowRate: newton.slowConvergenceRate)
    }

    /// The tableau's interpolant at `t + θh`, `u + h Σ_j b_j(θ) k_j`, summed as
    /// ``SDIRKStepper``'s `interpolate` (the weights by `evaluateWeights`' Horner rule).
    @inlinable
    public mutating func interpolate(
        _ f: Function, _ p: Function.Parameters, theta: Double, t: Double, dt: Double, u: State, uNew: State,
        into out: inout State, stats: inout SolverStats
    ) {
        let K = stages.U
        var acc = u
        for (q, j) in tables.denseStages.enumerated() {
            let poly = tables.denseCoefficients[q]
            var w = 0.0
            for r in poly.indices.reversed() { w = w * theta + poly[r] }
            w *= theta
            if w != 0 { acc = acc + K[j] * (dt * w) }
        }
        out = acc
    }

    /// Appends the step's interpolant (polynomial weights over the stages) to the dense
    /// output, with the same operations per component as ``SDIRKStepper``.
    @inlinable
    public mutating func appendDenseStep(
        _ f: Function, _ p: Function.Parameters, t: Double, dt: Double, end: Double, u: State, uNew: State,
        to dense: inout PiecewisePolynomial<Double>, stats: inout SolverStats
    ) {
        let (s, degree, order, K) = (self.s, tables.denseDegree, tableau.interpolant.order, stages.U)
        tables.denseWeights.withUnsafeBufferPointer { w in
            dense.appendStageWeighted(
                from: t, to: end, step: dt, u0: u, u1: uNew, stages: UnsafePointer(K), stageCount: s,
                weights: w.baseAddress!, degree: degree, order: order)
        }
    }
}
