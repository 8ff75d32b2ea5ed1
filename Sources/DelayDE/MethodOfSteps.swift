import DiffEqCore

/// The method of steps around a native ODE method with dense output (Bellen & Zennaro,
/// *Numerical Methods for Delay Differential Equations*, 2003, ch. 3-4): the delay equation is
/// integrated as an ODE whose right-hand side reads the past from the solution's own dense
/// output (``DelayedRHS``, ``DDEHistory``), by the method's own stepper and the shared
/// ``ODEIntegrator`` loop, with no copy of any stepper.
///
/// - **Discontinuity tracking** (on by default): the initial point `t0`, where `u'` jumps from
///   `φ'(t0)` to `f(t0)` (or `u` itself jumps when `u0 ≠ φ(t0)`), propagates through the
///   constant lags to `t0 + τ_i`, `t0 + τ_i + τ_j`, …, raising the order of the jump by one at
///   each level (Bellen & Zennaro §4.1). The points up to the level where the jump is in a
///   derivative above the method's order are passed to the integrator as `tstops`, so no step
///   straddles one and the method keeps its order (`MethodOfStepsTests` measures the order with
///   tracking on and off).
/// - **Steps longer than the smallest lag** (`constrained: false`, the default) are taken by
///   fixed-point iteration on the step's own interpolant (`FixedPointStepper`, Bellen & Zennaro
///   §4.2, §5.2): a step whose stages read past the accepted history is repeated with the
///   history extended by the previous iterate's interpolant until the end state settles in the
///   error norm (`fixedPointTolerance` κ, at most `maxFixedPointIterations` iterates); a step
///   that does not converge is rejected and cut, and a solve whose steps cannot be cut enough
///   (`dtmin`) ends with ``ReturnCode/convergenceFailure``. This serves small constant lags on
///   long spans (the step follows the solution, not the lag) and vanishing or state-dependent
///   lags shorter than the step. `constrained: true` caps `dtmax` at the smallest constant lag
///   instead and iterates nothing (a lag shorter than the step then reads the last step's
///   polynomial extrapolated).
/// - **State-dependent lags** bound no step; where `t − τ(u(t), p, t)` crosses a known
///   discontinuity, a continuous callback on the dense output locates the point and the step is
///   cut there (`DependentLagTracker`), up to the method's order.
///
/// Works with every native method with dense output: `Tsit5`, `DP5`, `BS3`, `Vern6`-`Vern9`,
/// `Rosenbrock23`, `Rodas4`, `Rodas5P`, `KenCarp4`, `Kvaerno5`, `TRBDF2` (their
/// ``MethodOfStepsAlgorithm`` conformances are in this module).
///
/// ```swift
/// let sol = try solve(prob, MethodOfSteps(Tsit5()), reltol: 1e-8, abstol: 1e-10)
/// ```
public struct MethodOfSteps<A: MethodOfStepsAlgorithm>: Sendable {
    public let algorithm: A
    /// Step onto the propagated discontinuities (default `true`).
    public var trackDiscontinuities: Bool
    /// The most propagated points passed as stops (many lags multiply them); past it the solve
    /// is refused with ``DDEError/solve(_:)`` (``DiffEqError/invalidStepOption(_:)``).
    public var maxDiscontinuities: Int
    /// Keep every step within the smallest constant lag (no fixed-point iteration), as
    /// DelayDiffEq's `constrained = true`; default `false`.
    public var constrained: Bool
    /// κ of the fixed-point iteration's stopping rule `η·Δ ≤ κ`, `Δ` in the error norm of the
    /// solve (default 1/100, the `κ` of DelayDiffEq's `NLFunctional`).
    public var fixedPointTolerance: Double
    /// The most iterates of a step before it is rejected and cut (default 10, as DelayDiffEq's
    /// `NLFunctional`).
    public var maxFixedPointIterations: Int
    /// The stage coupling of the values read inside a long step (`DDEHistory.couplingStep`); off
    /// only to measure what it does.
    @usableFromInline var stageCoupling = true
    /// The derivative of a located jump's motion (`jumpCorrected`); off only to measure what it
    /// does.
    @usableFromInline var movingJumps = true
    /// A gradient's solve (set by the gradients, DDEGradient.swift): in the lag-scaled time of
    /// `lagTimeScale` where it applies, and restarting the method at the stops `t0 + τ_i`.
    @usableFromInline var lagTimeScaling = false
    /// Whether the gradients use that time (off only to measure what it does).
    @usableFromInline var lagScaledGradients = true

    public init(
        _ algorithm: A, trackDiscontinuities: Bool = true, maxDiscontinuities: Int = 100_000,
        constrained: Bool = false, fixedPointTolerance: Double = 0.01, maxFixedPointIterations: Int = 10
    ) {
        self.algorithm = algorithm
        self.trackDiscontinuities = trackDiscontinuities
        self.maxDiscontinuities = maxDiscontinuities
        self.constrained = constrained
        self.fixedPointTolerance = fixedPointTolerance
        self.maxFixedPointIterations = maxFixedPointIterations
    }

    public var name: String { "MethodOfSteps(\(algorithm.name))" }
}

/// A native method the method of steps can wrap: it builds its own ``ODEIntegrator`` for the
/// delayed right-hand side and hands it to the driver.
public protocol MethodOfStepsAlgorithm: Sendable {
    var name: String { get }
    /// The order of the propagated solution: how many levels of propagated discontinuities
    /// matter to it.
    var methodOrder: Int { get }
    /// Builds the integrator for `problem` and runs `driver` on it.
    func runMethodOfSteps<D: DDEFunction>(
        _ problem: ODEProblem<DelayedRHS<D>>, options: SolveOptions, driver: inout MethodOfStepsDriver<D>
    ) throws(DiffEqError) -> ODESolution<D.Scalar>
}

/// Steps an integrator of the delayed right-hand side, appending each accepted step to the
/// history it reads.
///
/// Performance: the method's stepper is moved into the fixed-point wrapper and the wrapper into
/// the integrator (`run`'s stepper is `consuming`): a copy of a stepper retained and released
/// every buffer it holds through value witnesses, and left them shared until their first writes
/// copied them (with the integrator's own move: -5.8 k instructions and 3 allocations per
/// Hutchinson solve, callgrind).
public struct MethodOfStepsDriver<D: DDEFunction> {
    @usableFromInline let history: DDEHistory<D.Scalar>
    @usableFromInline let tracker: DependentLagTracker?
    /// The parameters' primal values, for the dependent lags (empty without a tracker).
    @usableFromInline let plainP: [Double]
    /// `nil` when constrained (no fixed-point iteration); else `(κ, maxIterations, shortest
    /// lag)` (see `FixedPointStepper`).
    @usableFromInline let fixedPoint: (kappa: Double, maxIterations: Int, shortestLag: Double)?
    /// Points where `f` itself jumps (a neutral equation's propagated points), sorted: the method
    /// restarts there, so that an FSAL method does not start the next step from the left limit.
    @usableFromInline var restartPoints: [Double] = []
    @usableFromInline var nextRestart = 0
    /// Whether a located point where `f` jumps corrects the derivative (`MethodOfSteps.movingJumps`).
    @usableFromInline var movingJumps = true
    /// The stops `t0 + τ_i` of the constant lags when `u` jumps at `t0` (`f` jumps there), sorted.
    @usableFromInline var jumpStops: [Double] = []
    @usableFromInline var nextJumpStop = 0

    @usableFromInline init(
        history: DDEHistory<D.Scalar>, tracker: DependentLagTracker?, p: [Double],
        fixedPoint: (kappa: Double, maxIterations: Int, shortestLag: Double)?
    ) {
        self.history = history
        self.tracker = tracker
        self.plainP = p
        self.fixedPoint = fixedPoint
    }

    /// Steps `stepper` for `problem`, wrapped in the fixed-point iteration unless constrained;
    /// either way the wrapper lets the history read the dense output in place
    /// (`FixedPointStepper.appendDenseStep`).
    @inlinable
    public mutating func run<S: ODEStepper>(
        _ problem: ODEProblem<DelayedRHS<D>>, stepper: consuming S, options: SolveOptions
    ) throws(DiffEqError) -> ODESolution<D.Scalar> where S.Function == DelayedRHS<D> {
        let count = problem.resolvedInitialState().count
        let wrapped = FixedPointStepper(
            consume stepper, count: count, kappa: fixedPoint?.kappa ?? 0,
            maxIterations: fixedPoint?.maxIterations ?? 0, shortestLag: fixedPoint?.shortestLag ?? .infinity,
            iterates: fixedPoint != nil)
        var integrator = try ODEIntegrator(problem, stepper: consume wrapped, options: options)
        return run(&integrator)
    }

    @inlinable
    public mutating func run<S: ODEStepper>(_ integrator: inout ODEIntegrator<S>) -> ODESolution<D.Scalar>
    where S.Function == DelayedRHS<D> {
        if let tracker { _ = tracker.advance(u: integrator.u.map { $0.primal }, p: plainP, t: integrator.t) }
        while integrator.step() {
            history.synchronize(with: integrator.interpolant)
            while nextRestart < restartPoints.count && restartPoints[nextRestart] < integrator.t { nextRestart += 1 }
            if nextRestart < restartPoints.count && restartPoints[nextRestart] == integrator.t {
                integrator.u = integrator.u
                nextRestart += 1
            }
            if let tracker, tracker.advance(u: integrator.u.map { $0.primal }, p: plainP, t: integrator.t) {
                // The step was cut at a located discontinuity: restart the method there (an FSAL
                // method would otherwise start the next step from f at the uncut step's end).
                // Where f itself jumps, the state takes the derivative of the jump's motion.
                let jump = tracker.takeJump()
                integrator.u = jump.flatMap { correctedForMovingJump(integrator, lag: tracker.lags[$0.lag], crossing: $0.point) }
                    ?? integrator.u
            }
            while nextJumpStop < jumpStops.count && jumpStops[nextJumpStop] < integrator.t { nextJumpStop += 1 }
            if nextJumpStop < jumpStops.count && jumpStops[nextJumpStop] == integrator.t {
                nextJumpStop += 1
                if let moved = correctedForMovingJump(integrator, lag: nil, crossing: history.t0) { integrator.u = moved }
            }
        }
        // The steps are in the history (moved there after each append): the solution's dense
        // output is that, not the integrator's empty placeholder.
        let solution = integrator.solution
        guard solution.denseOutput == nil, !history.dense.isEmpty else { return solution }
        return ODESolution(
            t: solution.t, u: solution.u, retcode: solution.retcode, message: solution.message, stats: solution.stats,
            algorithm: solution.algorithm, denseOutput: history.dense)
    }
}

/// The points where the initial discontinuity at `t0` propagates through the constant `lags`,
/// `levels` levels deep (sums of up to `levels` lags), strictly inside `(t0, t1)`, sorted, with
/// points within rounding of each other merged.
public func propagatedDiscontinuities(
    t0: Double, t1: Double, lags: [Double], levels: Int, limit: Int = 100_000
) throws(DDEError) -> [Double] {
    try propagatedDiscontinuityLevels(t0: t0, t1: t1, lags: lags, levels: levels, limit: limit).map { $0.t }
}

/// ``propagatedDiscontinuities(t0:t1:lags:levels:limit:)`` with the level of each point (the
/// fewest lags that reach it).
@usableFromInline
func propagatedDiscontinuityLevels(
    t0: Double, t1: Double, lags: [Double], levels: Int, limit: Int
) throws(DDEError) -> [(t: Double, level: Int)] {
    let tolerance = 8 * Swift.max(Swift.abs(t0), Swift.abs(t1), 1).ulp
    if lags.count == 1, lags[0] > 2 * tolerance {
        return try singleLagLevels(t0: t0, t1: t1, lag: lags[0], levels: levels, limit: limit, tolerance: tolerance)
    }
    func merged(_ points: [Double]) -> [Double] {
        var out: [Double] = []
        for s in points.sorted() where out.last.map({ s - $0 > tolerance }) ?? true { out.append(s) }
        return out
    }
    var frontier = [t0]
    var all: [(t: Double, level: Int)] = []
    let distinct = merged(lags)
    var level = 0
    while level < levels && !frontier.isEmpty {
        level += 1
        var next: [Double] = []
        for s in frontier {
            for tau in distinct where s + tau < t1 - tolerance { next.append(s + tau) }
        }
        frontier = merged(next)
        for s in frontier where !all.contains(where: { Swift.abs($0.t - s) <= tolerance }) { all.append((s, level)) }
        guard all.count <= limit else {
            throw tooManyDiscontinuities(limit)
        }
    }
    return all.sorted { $0.t < $1.t }
}

private func tooManyDiscontinuities(_ limit: Int) -> DDEError {
    .solve(.invalidStepOption(
        "the lags propagate more than \(limit) discontinuities over the span: raise maxDiscontinuities or turn tracking off"))
}

/// ``propagatedDiscontinuityLevels(t0:t1:lags:levels:limit:)`` for one lag `τ`: level `k` is the
/// single point `(…((t0 + τ) + τ)…) + τ`, summed in the order the general frontier sums it, so the
/// points are the same bits. `τ > 2·tolerance` keeps consecutive points farther apart than the
/// merging tolerance (a sum rounds by at most half an ulp, `tolerance/16`), so none would have
/// been merged. Performance: one array instead of the frontier's sorted copies at every level:
/// 11.6 k -> 1.8 k instructions per Hutchinson solve (five points; callgrind).
private func singleLagLevels(
    t0: Double, t1: Double, lag tau: Double, levels: Int, limit: Int, tolerance: Double
) throws(DDEError) -> [(t: Double, level: Int)] {
    var all: [(t: Double, level: Int)] = []
    // Room for the levels of every method's order (at most 10), so that the array does not grow
    // four times for a handful of points.
    all.reserveCapacity(Swift.min(levels, 16))
    var s = t0
    var level = 0
    while level < levels {
        s += tau
        guard s < t1 - tolerance else { break }
        level += 1
        all.append((s, level))
        guard all.count <= limit else {
            throw tooManyDiscontinuities(limit)
        }
    }
    return all
}

/// Solves a delay differential equation by the method of steps. Invalid input throws before any
/// work; a failure during the solve is a return code on the partial solution, as for an ODE.
/// The solution's dense output (`sol(t)`) covers `[t0, t1]`; `dense` is always on, since the
/// history is that dense output.
@inlinable
public func solve<D: DDEFunction, A: MethodOfStepsAlgorithm>(
    _ problem: DDEProblem<D>, _ method: MethodOfSteps<A>, options: SolveOptions
) throws(DDEError) -> ODESolution<D.Scalar> {
    try _methodOfSteps(problem, method, options: options).solution
}

/// ``solve(_:_:options:)`` with the history the right-hand side read, all accepted steps in it.
@inlinable
func _methodOfSteps<D: DDEFunction, A: MethodOfStepsAlgorithm>(
    _ problem: DDEProblem<D>, _ method: MethodOfSteps<A>, options: SolveOptions
) throws(DDEError) -> (solution: ODESolution<D.Scalar>, history: DDEHistory<D.Scalar>) {
    let lags = try problem.validate()
    let (t0, t1) = problem.tspan
    var inner = options
    inner.dense = true
    if method.constrained, let smallest = lags.min() {
        inner.dtmax = Swift.min(options.dtmax ?? (t1 - t0), smallest)
    }
    guard method.fixedPointTolerance > 0, method.fixedPointTolerance.isFinite else {
        throw .solve(.invalidStepOption("fixedPointTolerance must be positive and finite, got \(method.fixedPointTolerance)"))
    }
    guard method.maxFixedPointIterations >= 1 else {
        throw .solve(.invalidStepOption("maxFixedPointIterations must be at least 1, got \(method.maxFixedPointIterations)"))
    }
    let f = problem.f
    let history = DDEHistory<D.Scalar>(u0: problem.u0, t0: t0, t1: t1) { out, p, t in f.initialHistory(&out, p, t) }
    // Order of the jump at t0: 0 when u itself jumps (u0 ≠ φ(t0)), 1 when only u' does. φ(t0)
    // goes to the history's scratch buffer, which a read of φ writes anyway: one allocation
    // (its copy from u0's buffer) instead of two.
    problem.f.initialHistory(&history.scratch, problem.p, D.Scalar(t0))
    let startOrder = zip(history.scratch, problem.u0).allSatisfy { $0.primal == $1.primal } ? 1 : 0
    let order = method.algorithm.methodOrder
    var points: [(t: Double, level: Int)] = []
    if method.trackDiscontinuities && !lags.isEmpty {
        // Neutral: every level keeps the jump's order, so every point up to t1 matters.
        let levels = problem.neutral ? Int.max : order + 1 - startOrder
        points = try propagatedDiscontinuityLevels(
            t0: t0, t1: t1, lags: lags, levels: levels, limit: method.maxDiscontinuities)
        // The caller's stops first, as before; without any, the points are the stops (one array).
        if inner.tstops.isEmpty {
            inner.tstops = points.map { $0.t }
        } else {
            inner.tstops += points.map { $0.t }
        }
    }
    var odeProblem = ODEProblem(DelayedRHS(problem.f, history: history), u0: problem.u0, tspan: problem.tspan, p: problem.p)
    var tracker: DependentLagTracker?
    if method.trackDiscontinuities && !problem.dependentLags.isEmpty {
        let known = [(t: t0, order: startOrder)]
            + points.map { (t: $0.t, order: problem.neutral ? startOrder : startOrder + $0.level) }
        let watcher = DependentLagTracker(
            lags: problem.dependentLags, points: known, maxOrder: order, tolerance: history.boundaryTolerance,
            neutral: problem.neutral)
        odeProblem.callbacks = watcher.callbacks(D.Scalar.self)
        tracker = watcher
    }
    var driver = MethodOfStepsDriver<D>(
        history: history, tracker: tracker, p: tracker == nil ? [] : problem.p.map { $0.primal },
        fixedPoint: method.constrained
            ? nil
            : (method.fixedPointTolerance, method.maxFixedPointIterations,
               !method.stageCoupling ? .infinity : problem.dependentLags.isEmpty ? (lags.min() ?? .infinity) : 0))
    if problem.neutral {
        driver.restartPoints = points.map { $0.t }
    } else if method.lagTimeScaling && startOrder == 1 {
        // A gradient: u0 and φ(t0) agree in value but not in their derivatives, so f's
        // derivative jumps at t0 + τ_i, which an FSAL method would carry into the next step.
        driver.restartPoints = points.filter { $0.level == 1 }.map { $0.t }
    }
    driver.movingJumps = method.movingJumps
    if method.lagTimeScaling, let lag = lagTimeScale(problem) {
        // The stops t0 + kτ are fixed points of s: the jump at t0 + τ no longer moves.
        history.lagScaling = lag
    } else if startOrder == 0 && !problem.neutral {
        driver.jumpStops = points.filter { $0.level == 1 }.map { $0.t }
    }
    do {
        return (try method.algorithm.runMethodOfSteps(odeProblem, options: inner, driver: &driver), history)
    } catch {
        throw .solve(error)
    }
}

/// Solves a delay differential equation; the options are named as in DifferentialEquations.jl.
///
/// ```swift
/// let sol = try solve(prob, MethodOfSteps(Tsit5()), reltol: 1e-8, abstol: 1e-10, saveat: .every(0.1))
/// ```
@inlinable
public func solve<D: DDEFunction, A: MethodOfStepsAlgorithm>(
    _ problem: DDEProblem<D>, _ method: MethodOfSteps<A>,
    reltol: Double = 1e-3, abstol: AbsoluteTolerance = 1e-6, saveat: SaveAt? = nil,
    saveEverystep: Bool? = nil, dt: Double? = nil, dtmin: Double? = nil,
    dtmax: Double? = nil, maxiters: Int = 100_000, tstops: [Double] = [], adaptive: Bool = true,
    controller: StepController? = nil
) throws(DDEError) -> ODESolution<D.Scalar> {
    try solve(
        problem, method,
        options: SolveOptions(
            reltol: reltol, abstol: abstol, saveat: saveat, saveEverystep: saveEverystep,
            dt: dt, dtmin: dtmin, dtmax: dtmax, maxiters: maxiters, tstops: tstops,
            adaptive: adaptive, controller: controller))
}
