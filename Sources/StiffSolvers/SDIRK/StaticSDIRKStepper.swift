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
/// `J` is chosen as for the fixed-size Rosenbrock stepper and the array form: under
/// ``JacobianSource/automatic`` the function's analytic Jacobian when it has one
/// (``StaticODEFunction/hasAnalyticJacobian``), else forward-mode AD for the generic form
/// (``StaticModelRHS``), else forward (or central) differences. The algorithm's
/// ``SDIRKAlgorithm/linearSolver`` does not apply (the fixed-size form is dense).
///
/// **States.** `Double` states (``StaticVector``, `SIMD`) and first-order dual states
/// (`FixedVector<N, Dual<K, Double>>`, forward-mode gradients): the scalar chooses how `W` is
/// factored (``StaticRosenbrockScalar``). For `Double`, `W = I − γhJ` is factored by
/// ``StaticLU`` (by value, for `n ≤ 2`) or ``StaticLUInMemory``, as for the fixed-size
/// Rosenbrock methods. For dual numbers only the values of `W` are factored
/// (``FirstOrderDualLU``, the array form's), and each Newton correction's partials follow from
/// them: the iteration solves the dual stage equations, so that the stages' partials converge
/// with their values, as in the array form.
///
/// **No mass matrix**, as ``SDIRKStepper``: a problem with one is refused before any work with
/// the array form's ``DiffEqError/unsupported(_:)`` (``ODEStepper/supportsMassMatrix``).
///
/// Why a second stepper rather than ``SDIRKStepper`` generic over the state: the array
/// stepper's `J` and `W` are the general ones (banded, sparse, KLU, GMRES, dual-number LU,
/// forward-mode AD Jacobians), which a fixed-size state has no use for; what the two share
/// (tables, Newton tests, rejection) is written once in `SDIRKStageIteration.swift`.
///
/// Performance: the step loop allocates nothing; the stages and the in-memory factors live in
/// one block (``StaticRosenbrockStages``, `s + 1` states: the stages and a solve's result),
/// checked for uniqueness once per attempt; for `n ≤ 2` the factors are a stored value.
public struct StaticSDIRKStepper<Function: StaticODEFunction>: ODEStepper
where Function.State.Scalar: StaticRosenbrockScalar {
    public typealias State = Function.State
    public typealias Scalar = State.Scalar
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
    /// Where `J` comes from (analytic, forward-mode AD or differences, ``StaticJacobian``).
    @usableFromInline let jacobianSource: StaticJacobian
    @usableFromInline var abstol = State()
    @usableFromInline var reltol = 0.0

    /// Stage derivative `k_j` at `U[j]`, a solve's result at `U[s]`; the factors of `W` for
    /// `n >` ``registerLimit``.
    @usableFromInline var stages: StaticRosenbrockStages<State>
    @usableFromInline var J = Matrix()
    /// The factors of `W` for a `Double` state of `n ≤` ``registerLimit``.
    @usableFromInline var factorsByValue = StaticLU<Matrix>(Matrix())
    /// The factors of `W` for a dual state (``FirstOrderDualLU``), `nil` for `Double`.
    @usableFromInline var dualFactors: StaticDualIterationMatrix<State>?
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
        jacobianSource = StaticJacobian(jacobian, for: f)
        stages = StaticRosenbrockStages(count: tableau.stages + 1)
        dualFactors = Scalar.firstOrderPartialCount == nil ? nil : StaticDualIterationMatrix(count: State().scalarCount)
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
        if jacobianSource.usesDifferences {
            f0 = f(u, p, t)
            stats.nf += 1
            if firstImplicit == 1 {
                stages.U[0] = f0
                control.firstStage = .current
            }
        }
        J = jacobianSource.evaluate(f, p, t: t, u: u, fu: f0, h: dt, tolerance: tolerance, stats: &stats)
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
            var err = 0.0
            let failure = Scalar._factorAndSolveSDIRKStages(&self, f, p, t: t, dt: dt, u: u, uNew: &uNew, err: &err, stats: &stats)
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

    /// Whether `W` is factored for `γh = gh` (counted in `stats`), or its factors reused
    /// (``SDIRKStepControl/mayReuseFactors(gh:threshold:)``).
    @inlinable @inline(__always)
    mutating func mustFactor(gh: Double, stats: inout SolverStats) -> Bool {
        if control.mayReuseFactors(gh: gh, threshold: newton.refactorThreshold) { return false }
        stats.nluFactorizations += 1
        return true
    }

    /// The implicit stages solved with the factors `lu`, then, when every stage converged,
    /// `uNew` and the scaled norm of the filtered error estimate in `err`; the failure
    /// otherwise. (Generic over the factors' form rather than taking a closure, as the
    /// Rosenbrock stepper's `stagesAndError`.)
    @inlinable @inline(__always)
    mutating func stagesAndError<LU: StaticColumnSolver>(
        _ f: Function, _ p: Function.Parameters, t: Double, dt: Double, u: State, uNew: inout State, _ lu: LU,
        err: inout Double, stats: inout SolverStats
    ) -> SDIRKFailure? where LU.Column == State {
        let n = State().scalarCount
        let gh = gamma * dt
        let invGH = 1 / gh
        let kmax = newton.maxIterations
        let norm = 1 / Double(n &* Scalar.componentCount)
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
                    let sc = errorWeight(abstol: abstol[m].primal, reltol: reltol, u[m].primal, value[m].primal)
                    sum += delta[m].sumOfSquaredComponents / (sc * sc)
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
            let sc = errorWeight(abstol: abstol[m].primal, reltol: reltol, u[m].primal, uNew[m].primal)
            sum += e[m].sumOfSquaredComponents / (sc * sc)
        }
        // Over values and partials (DESIGN.md §4), as the array form.
        err = ErrorScale.finish(sum, count: n, as: Scalar.self)
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
        to dense: inout PiecewisePolynomial<Scalar>, stats: inout SolverStats
    ) {
        let (s, degree, order, K) = (self.s, tables.denseDegree, tableau.interpolant.order, stages.U)
        tables.denseWeights.withUnsafeBufferPointer { w in
            dense.appendStageWeighted(
                from: t, to: end, step: dt, u0: u, u1: uNew, stages: UnsafePointer(K), stageCount: s,
                weights: w.baseAddress!, degree: degree, order: order)
        }
    }
}

extension StaticRosenbrockScalar {
    /// First-order dual states: the values of `W = I − γhJ` factored (``FirstOrderDualLU``, the
    /// array form's) unless the current factors may be reused, then the stages.
    @inlinable @inline(__always)
    public static func _factorAndSolveSDIRKStages<F: StaticODEFunction>(
        _ stepper: inout StaticSDIRKStepper<F>, _ f: F, _ p: F.Parameters, t: Double, dt: Double, u: F.State,
        uNew: inout F.State, err: inout Double, stats: inout SolverStats
    ) -> SDIRKFailure? where F.State.Scalar == Self {
        let gh = stepper.gamma * dt
        if stepper.mustFactor(gh: gh, stats: &stats) {
            // Taken out of the stepper while factored, so that its buffers are uniquely referenced.
            guard var factors = stepper.dualFactors else { return .singularIterationMatrix }
            stepper.dualFactors = nil
            stepper.control.wIsCurrent = factors.factor(stepper.J, alpha: 1, beta: -gh, mass: nil)
            stepper.dualFactors = factors
        }
        guard stepper.control.wIsCurrent, let factors = stepper.dualFactors else { return .singularIterationMatrix }
        return stepper.stagesAndError(f, p, t: t, dt: dt, u: u, uNew: &uNew, factors, err: &err, stats: &stats)
    }
}

extension Double {
    /// `W = I − γhJ` factored (unless the current factors may be reused) by value, for at most
    /// ``StaticSDIRKStepper/registerLimit`` components, or in the stage block, then the stages.
    @inlinable @inline(__always)
    public static func _factorAndSolveSDIRKStages<F: StaticODEFunction>(
        _ stepper: inout StaticSDIRKStepper<F>, _ f: F, _ p: F.Parameters, t: Double, dt: Double, u: F.State,
        uNew: inout F.State, err: inout Double, stats: inout SolverStats
    ) -> SDIRKFailure? where F.State.Scalar == Double {
        let gh = stepper.gamma * dt
        let factor = stepper.mustFactor(gh: gh, stats: &stats)
        if F.State().scalarCount <= StaticSDIRKStepper<F>.registerLimit {
            if factor {
                let lu = StaticLU.factoring(stepper.J, alpha: 1, beta: -gh)
                stepper.control.wIsCurrent = lu != nil
                if let lu { stepper.factorsByValue = lu }
            }
            guard stepper.control.wIsCurrent else { return .singularIterationMatrix }
            let lu = stepper.factorsByValue
            return stepper.stagesAndError(f, p, t: t, dt: dt, u: u, uNew: &uNew, lu, err: &err, stats: &stats)
        }
        let block = stepper.stages
        if factor {
            stepper.control.wIsCurrent =
                StaticLUInMemory<F.State>.factoring(
                    &stepper.J, alpha: 1, beta: -gh, a: block.factors, pivots: block.pivots,
                    reciprocals: block.reciprocals) != nil
        }
        guard stepper.control.wIsCurrent else { return .singularIterationMatrix }
        let lu = StaticLUInMemory<F.State>.factored(a: block.factors, pivots: block.pivots, reciprocals: block.reciprocals)
        return stepper.stagesAndError(f, p, t: t, dt: dt, u: u, uNew: &uNew, lu, err: &err, stats: &stats)
    }
}
