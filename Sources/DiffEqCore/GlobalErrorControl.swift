import Glibc

/// Global error control by reintegration: any algorithm, re-run at tighter internal tolerances
/// until the *global* error at the saved points is estimated to be within the requested
/// tolerances.
///
/// Every integrator here, CVODE included, controls the local error of each step. That bounds
/// the global error only up to the problem's error amplification, which the tolerance does not
/// see: at reltol = abstol = 1e-6 the Arenstorf orbit's end-point error is up to 4·10⁴ times the
/// tolerance for the explicit RK methods (DP5) and 2·10⁵ for CVODE_Adams, Pleiades' up to 10³
/// (4·10³ for CVODE_Adams), and OREGO's up to 4·10³ for a second-order method (TRBDF2 at 1e-8)
/// (see `ReferenceProblemTests` and `SDIRKAccuracyTests`). Hairer, Nørsett & Wanner I, §II.4, call this the difference between
/// a tolerance and an accuracy. `GlobalErrorControl` turns the tolerance into an accuracy
/// request:
///
/// 1. Solve with the user's tolerances, then with both divided by ``firstReduction``.
/// 2. Estimate the global error of the tighter solve from the difference of the two. Under
///    tolerance proportionality, `e(τ) ≈ C·τ^α` (HNW I, §II.4; `α` is the base algorithm's
///    ``ODEAlgorithm/toleranceExponent``: 1 for DP5 or Rodas5P, 2/3 for TRBDF2), the tighter
///    solve's error is `|u₁ − u₂| / (ρ^α − 1)` for a tolerance ratio `ρ`: global error
///    estimation by reintegration (L. F. Shampine and H. A. Watts, "Global error estimation for
///    ordinary differential equations", ACM TOMS 2 (1976) 172-186, discuss it against their
///    own scheme).
/// 3. If the estimate, measured like the tolerance (`max_i |e_i| / (abstol_i + reltol·|u_i|)`,
///    at every compared point), is at most 1, return the tighter solve. Otherwise divide the
///    tolerances by `(estimate/target)^(1/α)` (at least 2), which would bring the estimate to
///    ``target``, and solve again.
///
/// The points compared are the saved times of the looser solve: with `saveat` (or
/// `saveEverystep: false`, the end point) the same times in both solves; with every step saved,
/// the tighter solve's dense output at the looser solve's steps when it has one, else the end
/// point. A time saved twice (before and after an event's affect) is compared with the same
/// occurrence in the other solve, and skipped when the other solve located the event at a
/// different time; when the solves end at different times (a terminating event), the end states
/// are compared. The result is an ordinary solution of the last (tightest) solve with the work of all
/// solves in its `stats` and the estimate in ``ODESolution/globalErrorEstimate``. When
/// ``maxSolves`` or the tolerance floor ``minimumReltol`` is reached first, the return code is
/// ``ReturnCode/globalToleranceNotMet`` and the message gives the estimate. When a tighter solve
/// fails (`maxiters` applies to each solve, and a tighter one takes more steps), the previous,
/// complete solve comes back with ``ReturnCode/globalToleranceNotMet``, its estimate if it has
/// one, and the failure in the message; when the first solve fails, its own return code.
///
/// What the estimate cannot see:
/// - errors common to every solve: rounding in `f` and in the problem's data (in `Float`, the
///   Arenstorf orbit at 1e-4 is estimated at 0.3 tolerances while its end state is 1500
///   tolerances from the exact orbit of the same rounded data), and the derivative parts of dual
///   numbers (only primal values are compared);
/// - errors that do not shrink with the tolerance, which every solve makes alike: a defect of
///   the method rather than a truncation error. Issue #13 found two, since fixed: a stale
///   Jacobian that let KenCarp4 and Kvaerno5 step across VDPOLM's jump (Kvaerno5 at 1e-4:
///   estimate 0.15, error 1.1e4 tolerances), and the rounding of the Rosenbrock stage solves,
///   which broke E5's invariant `y₂ − y₃ − y₄ = 0` (Rodas4 at 1e-6: estimate 0.71, error 110;
///   AutoVern7(Rodas5P) at 1e-8: 0.89 and 27). After the fixes those three end within 10
///   tolerances or with ``ReturnCode/globalToleranceNotMet``. Rodas4's remaining drift of E5's
///   invariant with the test set's published Jacobian, whose rounding breaks `wᵀJ = 0` (about
///   1e-23 per step whatever the tolerance), is still of this kind (at 1e-8: estimate 0.98,
///   error 3.8 tolerances); ProblemLibrary's `DetestE5` keeps `wᵀJ = 0` in its Jacobian and Rodas4
///   then ends within 1.2 tolerances. Only a reference or a second method finds such errors;
/// - departures from `e ∝ τ^α`: at order 1, CVODE's α is 1/2, below the 2/3 and 3/4 used; stiff
///   methods can lose order on stiff problems. The margin ``target`` covers what the tests and
///   global-error-bench measure (largest error 1.5 tolerances with an estimate ≤ 1);
/// - with every step saved, points inside steep transitions (VDPOL's), where a tiny shift in time
///   is a large pointwise difference: the estimate is large and honest, and the solves are driven
///   to the floor (TRBDF2 on VDPOL at 1e-6: 8 million f evaluations, then
///   ``ReturnCode/globalToleranceNotMet``); `saveat` or `saveEverystep: false` asks for the
///   accuracy where it is wanted.
///
/// ```swift
/// let sol = try solve(TestProblems.arenstorf(), GlobalErrorControl(DP5()), reltol: 1e-6, abstol: 1e-6)
/// sol.globalErrorEstimate  // ≤ 1: the end state is estimated to be within the tolerances of the true orbit
/// ```
///
/// The default meaning of a tolerance does not change: without the wrapper every algorithm
/// controls the local error, as in CVODE and DifferentialEquations.jl.
public struct GlobalErrorControl<Base: ODEAlgorithm>: ODEAlgorithm {
    /// The algorithm that does the solves.
    public var base: Base
    /// Largest number of solves (at least 2: the estimate needs a pair).
    public var maxSolves: Int
    /// Tolerance ratio between the first and the second solve (> 1).
    public var firstReduction: Double
    /// The estimate (in tolerances) that later reductions aim at, below 1 for a margin against
    /// the departures from tolerance proportionality (0 < target < 1).
    public var target: Double
    /// The tightest relative tolerance a solve is given; below it rounding error, not the
    /// tolerance, sets the accuracy. Stated for `Double`; a scalar of lower precision (`Float`)
    /// scales it by the ratio of the unit roundoffs (1e-14 becomes 5.4e-6).
    public var minimumReltol: Double
    /// `α` of the estimate; `nil` takes the base algorithm's ``ODEAlgorithm/toleranceExponent``.
    public var exponent: Double?

    public var name: String { "GlobalErrorControl(\(base.name))" }
    public var toleranceExponent: Double? { exponent ?? base.toleranceExponent }

    public init(
        _ base: Base, maxSolves: Int = 5, firstReduction: Double = 10, target: Double = 0.3,
        minimumReltol: Double = 1e-14, exponent: Double? = nil
    ) {
        self.exponent = exponent
        self.base = base
        self.maxSolves = maxSolves
        self.firstReduction = firstReduction
        self.target = target
        self.minimumReltol = minimumReltol
    }

    // Inlinable so that the base's solve specializes for the problem's types in the caller's
    // module (an unspecialized integrator loop ran 10x slower per f evaluation).
    @inlinable
    public func solve<F: ODEFunction>(_ problem: ODEProblem<F>, options: SolveOptions) throws(DiffEqError)
        -> ODESolution<F.Scalar>
    {
        let alpha = try validate(options, baseExponent: base.toleranceExponent)
        // minimumReltol is stated for Double; a scalar of lower precision scales it.
        let floor = minimumReltol * (Self.unitRoundoff(F.Scalar.self) / Double.ulpOfOne)
        return try reintegrate(options, alpha: alpha, minimumReltol: floor) { (o: SolveOptions) throws(DiffEqError) in
            try base.solve(problem, options: o)
        }
    }

    /// The spacing of the scalar's values at 1 (through `init(Double)`): `Double.ulpOfOne` for
    /// `Double` and the dual numbers over it, `Float.ulpOfOne` for `Float`.
    @inlinable
    static func unitRoundoff<S: DiffEqScalar>(_: S.Type) -> Double {
        var e = 1.0
        while e > Double.ulpOfOne, S(1 + e / 2).primal != 1 { e /= 2 }
        return e
    }

    /// The settings checked (before any work) and `α`.
    @inlinable
    func validate(_ options: SolveOptions, baseExponent: Double?) throws(DiffEqError) -> Double {
        guard maxSolves >= 2 else { throw .invalidStepOption("\(name): maxSolves must be at least 2, got \(maxSolves)") }
        guard firstReduction.isFinite, firstReduction > 1 else {
            throw .invalidStepOption("\(name): firstReduction must be a finite number above 1, got \(firstReduction)")
        }
        guard target.isFinite, target > 0, target < 1 else {
            throw .invalidStepOption("\(name): target must lie in (0, 1), got \(target)")
        }
        guard minimumReltol.isFinite, minimumReltol > 0 else {
            throw .invalidStepOption("\(name): minimumReltol must be a positive finite number, got \(minimumReltol)")
        }
        guard let alpha = exponent ?? baseExponent else {
            throw .unsupported("\(name): \(base.name) does not control its error through the tolerances")
        }
        // Above 2 every estimate would be near 0 (no method's global error falls faster than the
        // square of its tolerance).
        guard alpha.isFinite, alpha > 0, alpha <= 2 else {
            throw .invalidStepOption("\(name): exponent must lie in (0, 2], got \(alpha)")
        }
        guard options.adaptive else {
            throw .unsupported("\(name): global error control works through the tolerances; adaptive: false ignores them")
        }
        return alpha
    }

    /// The iteration of the type's documentation, for either solution type: `solveWith` runs the
    /// base algorithm with the given (scaled) options.
    @inlinable
    func reintegrate<Solution: ReintegratedSolution>(
        _ options: SolveOptions, alpha: Double, minimumReltol: Double, _ solveWith: (SolveOptions) throws(DiffEqError) -> Solution
    ) throws(DiffEqError) -> Solution {
        // The user's tolerances measure every estimate; validated by the first solve.
        let reltol = options.reltol
        let abstol = options.abstol
        // No tighter solve, so no estimate, is possible: refuse before the (costly) first solve.
        if reltol.isFinite, reltol > 0, reltol <= minimumReltol {
            throw .invalidStepOption("\(name): reltol \(reltol) leaves no room above minimumReltol = \(minimumReltol)")
        }

        // A tiny abstol scaled down can underflow to 0, which the inner solve would reject as an
        // abstol the user never passed: keep it positive (an invalid one stays invalid, for the
        // first solve to reject).
        func scaledAbstol(_ a: Double, _ factor: Double) -> Double {
            let s = a * factor
            return a > 0 && s == 0 ? .leastNonzeroMagnitude : s
        }
        func scaled(_ factor: Double) -> SolveOptions {
            var o = options
            o.reltol = reltol * factor
            switch abstol {
            case .scalar(let a): o.abstol = .scalar(scaledAbstol(a, factor))
            case .perComponent(let a): o.abstol = .perComponent(a.map { scaledAbstol($0, factor) })
            }
            return o
        }

        var factor = 1.0
        var previous = try solveWith(scaled(factor))
        var stats = previous.stats
        guard previous.retcode.isSuccessful else {
            previous.message = "\(name): the first solve (reltol \(reltol)) stopped: \(previous.message ?? previous.retcode.description)"
            return previous
        }
        // The estimate of `previous` (none for the first solve).
        var previousEstimate: Double? = nil
        var reduction = firstReduction
        var solves = 1
        while true {
            var floorReached = false
            if reltol * factor / reduction < minimumReltol {
                reduction = reltol * factor / minimumReltol
                floorReached = true
            }
            // Unreachable (reltol > minimumReltol is checked above, and a floored solve returns).
            guard reduction > 1 else {
                previous.stats = stats
                previous.retcode = .globalToleranceNotMet
                previous.message = "\(name): reltol cannot go below minimumReltol = \(minimumReltol)"
                return previous
            }
            factor /= reduction
            var current = try solveWith(scaled(factor))
            solves += 1
            stats.add(current.stats)
            current.stats = stats
            guard current.retcode.isSuccessful else {
                // The tighter solve failed (often `maxiters`, which applies to each solve): the
                // previous one is complete, so it comes back, with the failure in the message.
                previous.stats = stats
                previous.retcode = .globalToleranceNotMet
                previous.globalErrorEstimate = previousEstimate
                let estimateText = previousEstimate.map { "estimate \($0) tolerances" } ?? "no estimate (the first solve)"
                previous.message =
                    "\(name): the solve at reltol \(reltol * factor) (solve \(solves)) stopped with \(current.retcode): "
                    + "\(current.message ?? "no message"); returned: solve \(solves - 1), \(estimateText)"
                return previous
            }
            let difference = previous.weightedDifference(to: current, reltol: reltol, abstol: abstol)
            let denominator = Glibc.pow(reduction, alpha) - 1
            let estimate = denominator > 0 ? difference / denominator : .infinity
            current.globalErrorEstimate = estimate
            if estimate <= 1 { return current }
            if solves >= maxSolves || floorReached {
                current.retcode = .globalToleranceNotMet
                current.message =
                    "\(name): global error estimate \(estimate) tolerances after \(solves) solves "
                    + "(last reltol \(reltol * factor)\(floorReached ? ", the floor minimumReltol" : ""))"
                return current
            }
            // e(τ) ∝ τ^α. At least a factor 2, so that the next pair's difference is not lost in
            // its own noise.
            reduction = max(Glibc.pow(estimate / target, 1 / alpha), 2)
            previous = current
            previousEstimate = estimate
        }
    }
}

extension GlobalErrorControl: StaticODEAlgorithm where Base: StaticODEAlgorithm {
    /// The fixed-size form: the same iteration. Its solutions have no dense output unless asked
    /// for, so with every step saved the estimate covers the end point (and `tstops`) only; give
    /// `saveat` to cover the trajectory.
    @inlinable
    public func solve<F: StaticODEFunction>(_ problem: StaticODEProblem<F>, options: SolveOptions) throws(DiffEqError)
        -> StaticODESolution<F.State> where F.State.Scalar == Double
    {
        let alpha = try validate(options, baseExponent: base.toleranceExponent)
        return try reintegrate(options, alpha: alpha, minimumReltol: minimumReltol) { (o: SolveOptions) throws(DiffEqError) in
            try base.solve(problem, options: o)
        }
    }
}

/// What ``GlobalErrorControl`` reads and annotates on a solution of either form.
@usableFromInline
protocol ReintegratedSolution {
    var retcode: ReturnCode { get set }
    var message: String? { get set }
    var stats: SolverStats { get set }
    var globalErrorEstimate: Double? { get set }
    /// `max` over the points compared and the components of `|u_self − u_tight| / (abstol_i +
    /// reltol·|u_tight,i|)`, `self` being the looser solve.
    func weightedDifference(to tight: Self, reltol: Double, abstol: AbsoluteTolerance) -> Double
}

/// The running maximum of the weighted difference: a NaN difference must not pass as small.
@inlinable
func accumulateDifference(_ worst: inout Double, _ a: Double, _ b: Double, reltol: Double, abstol: Double) {
    let d = Swift.abs(a - b) / errorWeight(abstol: abstol, reltol: reltol, b)
    worst = d.isNaN ? .infinity : Swift.max(worst, d)
}

extension ODESolution: ReintegratedSolution {
    /// At the looser solve's saved times: the tighter solve's state saved at the same time (a
    /// time saved twice, around an event's affect, with the same occurrence), else its dense
    /// output there (when it has one; not at an event point the other solve located elsewhere,
    /// where it would measure the jump); when the ends differ in time (a terminating event),
    /// the end states as well.
    @inlinable
    func weightedDifference(to tight: ODESolution, reltol: Double, abstol: AbsoluteTolerance) -> Double {
        var worst = 0.0
        var compared = false
        func compare(_ a: [Scalar], _ b: [Scalar]) {
            compared = true
            for i in 0..<Swift.min(a.count, b.count) {
                accumulateDifference(&worst, a[i].primal, b[i].primal, reltol: reltol, abstol: abstol[i])
            }
        }
        guard let tEnd = tight.t.last, let tStart = tight.t.first else { return .infinity }
        let direction: Double = tEnd >= tStart ? 1 : -1
        var buffer = [Scalar](repeating: .zero, count: tight.u.first?.count ?? 0)
        var j = 0
        var endCompared = false
        let n = Swift.min(self.t.count, self.u.count)
        for i in 0..<n {
            let t = self.t[i]
            let u = self.u[i]
            // Saved times run in the direction of integration in both solutions.
            while j < tight.t.count, direction * (tight.t[j] - t) < 0 { j += 1 }
            if j < tight.t.count, tight.t[j] == t {
                compare(u, tight.u[j])
                // A time saved twice (before and after an event's affect, at a tstop) pairs
                // with the same occurrence in the other solve, not with the state across the jump.
                j += 1
            } else {
                // An event point saved on both sides of its jump, located at a slightly different
                // time by the other solve: its interpolant there is on one side of the jump, and
                // the difference would measure the jump, not the error.
                let repeated = (i > 0 && self.t[i - 1] == t) || (i + 1 < n && self.t[i + 1] == t)
                guard !repeated, let dense = tight.denseOutput else { continue }
                let (lo, hi) = dense.domain
                guard t >= lo, t <= hi else { continue }
                dense.evaluate(at: t, into: &buffer)
                compare(u, buffer)
            }
            if i == n - 1 { endCompared = true }
        }
        // Stopped at different times (a terminating event) with no common point at the end: the
        // end states (the states at the event) directly.
        if !endCompared || !compared, let a = self.u.last, let b = tight.u.last { compare(a, b) }
        return worst
    }
}

extension StaticODESolution: ReintegratedSolution where State.Scalar == Double {
    /// At the saved times the two solves share (no dense output in this form); with none in
    /// common, the end states.
    @inlinable
    func weightedDifference(to tight: StaticODESolution, reltol: Double, abstol: AbsoluteTolerance) -> Double {
        var worst = 0.0
        var compared = false
        func compare(_ a: State, _ b: State) {
            compared = true
            for i in 0..<a.scalarCount {
                accumulateDifference(&worst, a[i], b[i], reltol: reltol, abstol: abstol[i])
            }
        }
        guard let tEnd = tight.t.last, let tStart = tight.t.first else { return .infinity }
        let direction: Double = tEnd >= tStart ? 1 : -1
        var j = 0
        for (t, u) in zip(self.t, self.u) {
            while j < tight.t.count, direction * (tight.t[j] - t) < 0 { j += 1 }
            if j < tight.t.count, tight.t[j] == t { compare(u, tight.u[j]) }
        }
        if !compared, let a = self.u.last, let b = tight.u.last { compare(a, b) }
        return worst
    }
}

extension GlobalErrorControl: Sendable where Base: Sendable {}
