import DiffEqCore

/// The stage values of a fixed-size solve in one manually managed block (method stages, the
/// interpolant's extra stages, then the residual estimate's end slot). Copied before writing
/// when shared, so steppers keep value semantics.
@usableFromInline
final class StaticStageStorage<State: StaticState> {
    @usableFromInline let k: UnsafeMutablePointer<State>
    @usableFromInline let count: Int

    @usableFromInline init(count: Int) {
        self.count = count
        k = .allocate(capacity: count)
        k.initialize(repeating: State(), count: count)
    }

    @usableFromInline func copy() -> StaticStageStorage {
        let c = StaticStageStorage(count: count)
        c.k.update(from: k, count: count)
        return c
    }

    deinit {
        k.deinitialize(count: count)
        k.deallocate()
    }
}

/// Any explicit Runge-Kutta tableau on a fixed-size state (``StaticODEProblem``), stepped by the
/// one loop (``ODEIntegrator``) as ``ExplicitRKStepper`` is for arrays: the same operations in
/// the same order per component, so the same problem in both forms gives the same steps and
/// the same numbers (`StaticStateTests`, `DualStaticStateTests`), now with events, dense output,
/// `saveat`, `tstops` and `isOutOfDomain`.
///
/// Stages are values combined with `+` and scaling, so for a `SIMD` state every stage sum is a
/// few vector instructions and `f` inlines into the step when it is a type (not a closure).
/// Nothing is allocated per step.
///
/// Performance: the stage block is a class instance checked for uniqueness once per attempt;
/// Tsit5 runs a written-out stage sequence (``attemptTsit5(_:_:t:dt:u:uNew:stats:)``), as the
/// array form's kernel does.
public struct StaticRKStepper<Function: StaticODEFunction>: ODEStepper {
    public typealias State = Function.State
    public typealias Scalar = Function.State.Scalar

    public let tableau: ButcherTableau
    @usableFromInline let s: Int
    @usableFromInline let totalStages: Int
    /// `A` row by row (extra stages included), `b`, `btilde`, `btilde3`, then `c` (the layout
    /// of ``ExplicitRKStepper``'s table); read-only after `init`.
    @usableFromInline let table: StageStorage<Double>
    @usableFromInline let offsetB: Int
    @usableFromInline let offsetBtilde: Int
    @usableFromInline let offsetBtilde3: Int
    @usableFromInline let offsetC: Int
    @usableFromInline let hasBtilde3: Bool
    /// Tsit5's tableau: the step runs the written-out stage sequence.
    @usableFromInline let isTsit5: Bool
    @usableFromInline let fsal: Bool
    /// The tableau's residual estimate (RK4), if any; its `f(t + dt, uNew)` is kept in the
    /// stage block's last slot (``endSlot``) as the next step's first stage.
    @usableFromInline let residual: ResidualErrorEstimate?
    @usableFromInline let endSlot: Int
    @usableFromInline let adaptive: Bool
    /// The continuous extension's weights (``ButcherTableau/denseWeightTable``).
    @usableFromInline let denseWeights: [Double]
    @usableFromInline let denseDegree: Int
    @usableFromInline var thetaWeights: [Double]
    /// The solve's absolute tolerances as a state, and its relative tolerance
    /// (``configure(tolerance:)``).
    @usableFromInline var abstol = State()
    @usableFromInline var reltol = 0.0
    @usableFromInline var stages: StaticStageStorage<State>
    @usableFromInline var firstStageReady = false
    @usableFromInline var extrasReady = false
    public let stabilityBoundary: Double

    /// A stepper for `tableau`; `estimatingError: false` (a solve with `adaptive: false`) skips
    /// the error estimate.
    public init(tableau: ButcherTableau, estimatingError: Bool = true) {
        self.tableau = tableau
        s = tableau.stages
        let extraA = tableau.interpolant?.extraA ?? []
        totalStages = s + extraA.count
        let aFlat = (tableau.a + extraA).flatMap { $0 }
        let btilde = tableau.btilde ?? [Double](repeating: 0, count: s)
        let btilde3 = tableau.btilde3 ?? []
        let coefficients = aFlat + tableau.b + btilde + btilde3 + tableau.c + (tableau.interpolant?.extraC ?? [])
        table = StageStorage(coefficients)
        offsetB = aFlat.count
        offsetBtilde = offsetB + s
        offsetBtilde3 = offsetBtilde + s
        offsetC = offsetBtilde3 + btilde3.count
        hasBtilde3 = !btilde3.isEmpty
        isTsit5 = tableau.hasTsit5Coefficients
        fsal = tableau.isFSAL
        residual = tableau.residualEstimate
        endSlot = totalStages
        adaptive = tableau.isAdaptive && estimatingError
        (denseWeights, denseDegree) = tableau.denseWeightTable
        thetaWeights = [Double](repeating: 0, count: totalStages)
        stages = StaticStageStorage(count: totalStages + 1)
        stabilityBoundary = tableau.realStabilityBoundary
    }

    public var name: String { tableau.name }
    public var isAdaptive: Bool { adaptive }
    public var order: Int { tableau.order }
    public var controller: PIController { tableau.controller }
    public var controllerOrder: Int { tableau.controllerOrder }

    public mutating func configure(tolerance: ErrorScale) {
        abstol = State().assigning(primal: tolerance.abstol)
        reltol = tolerance.reltol
    }

    /// The stage block, copied first if another stepper value shares it.
    @inlinable @inline(__always)
    mutating func uniqueStages() -> UnsafeMutablePointer<State> {
        if !isKnownUniquelyReferenced(&stages) { stages = stages.copy() }
        return stages.k
    }

    /// The first stage of the next step is `f(t, u)`.
    @inlinable
    public mutating func start(t: Double, u: State, du: State) {
        uniqueStages()[0] = du
        firstStageReady = true
        extrasReady = false
    }

    /// The next step's first stage: the last slot (FSAL), the residual estimate's end slot, or a
    /// new evaluation.
    @inlinable
    public mutating func accept() {
        firstStageReady = false
    }

    /// `u + Σ_{j<i} (dt a_ij) k_j`: the argument of stage `i`, summed in stage order (the array
    /// form's order).
    @inlinable @inline(__always)
    func stageArgument(_ i: Int, u: State, dt: Double, k: UnsafeMutablePointer<State>) -> State {
        let row = table.base + i &* (i &- 1) / 2
        var g = u
        for j in 0..<i { g = g + k[j] * (dt * row[j]) }
        return g
    }

    @inlinable
    public mutating func attempt(
        _ f: Function, _ p: Function.Parameters, t: Double, dt: Double, u: State, uNew: inout State,
        tolerance: ErrorScale, stats: inout SolverStats
    ) -> Double {
        if isTsit5 { return attemptTsit5(f, p, t: t, dt: dt, u: u, uNew: &uNew, stats: &stats) }
        let k = uniqueStages()
        let x = table.base
        if !firstStageReady {
            if fsal {
                k[0] = k[s &- 1]
            } else if adaptive && residual != nil {
                k[0] = k[endSlot]
            } else {
                k[0] = f(u, p, t)
                stats.nf += 1
            }
            firstStageReady = true
        }
        extrasReady = false
        var last = u
        for i in 1..<Swift.max(s, 1) {
            last = stageArgument(i, u: u, dt: dt, k: k)
            k[i] = f(last, p, t + x[offsetC &+ i] * dt)
        }
        stats.nf += s - 1
        if fsal {
            // The last stage was evaluated at the new state itself.
            uNew = last
        } else {
            var acc = u
            for j in 0..<s { acc = acc + k[j] * (dt * x[offsetB &+ j]) }
            uNew = acc
        }
        guard adaptive else { return 0 }
        if let residual { return residualError(residual, f, p, t: t, dt: dt, u: u, uNew: uNew, k: k, stats: &stats) }
        var err = State()
        for j in 0..<s { err = err + k[j] * (dt * x[offsetBtilde &+ j]) }
        let e5 = err.weightedSumOfSquares(from: u, to: uNew, abstol: abstol, reltol: reltol, viaReciprocal: true)
        let n = u.count
        if !hasBtilde3 { return ErrorScale.finish(e5, count: n, as: Scalar.self) }
        var err3 = State()
        for j in 0..<s { err3 = err3 + k[j] * (dt * x[offsetBtilde3 &+ j]) }
        let e3 = err3.weightedSumOfSquares(from: u, to: uNew, abstol: abstol, reltol: reltol, viaReciprocal: true)
        // DOP853's combined estimator, as ExplicitRKStepper.
        var deno = e5 + 0.01 * e3
        if deno <= 0 { deno = 1 }
        return e5 / (Double(n * Scalar.componentCount) * deno).squareRoot()
    }

    /// ``ExplicitRKStepper``'s residual estimate on the fixed-size state (the same operations in
    /// the same order): `f(t + dt, uNew)` into the end slot, then the Hermite interpolant's scaled
    /// residual at each node.
    @inlinable
    func residualError(
        _ estimate: ResidualErrorEstimate, _ f: Function, _ p: Function.Parameters, t: Double, dt: Double, u: State,
        uNew: State, k: UnsafeMutablePointer<State>, stats: inout SolverStats
    ) -> Double {
        let f0 = k[0]
        let f1 = f(uNew, p, t + dt)
        k[endSlot] = f1
        stats.nf += 1 + estimate.nodes.count
        let delta = uNew - u
        let (hf0, hf1) = (f0 * dt, f1 * dt)
        let n = u.count
        var largest = 0.0
        for theta in estimate.nodes {
            let w = theta * (theta - 1)
            let inner = delta * (1 - 2 * theta) + hf0 * (theta - 1) + hf1 * theta
            let point = u * (1 - theta) + uNew * theta + inner * w
            let slope = delta + inner * (2 * theta - 1) + (hf0 + hf1 - delta * 2) * w
            let r = f(point, p, t + theta * dt) * dt - slope
            let sum = r.weightedSumOfSquares(from: u, to: uNew, abstol: abstol, reltol: reltol)
            let e = ErrorScale.finish(sum, count: n, as: Scalar.self)
            guard e.isFinite else { return e }
            largest = Swift.max(largest, e)
        }
        return estimate.scale * largest
    }

    /// ``attempt(_:_:t:dt:u:uNew:tolerance:stats:)`` for Tsit5 with the stages written out: the
    /// same operations in the same order as the loop (so the same numbers), as straight-line
    /// code whose stage sums the processor overlaps with the evaluations of `f`. Offsets into
    /// `table` as in ``ExplicitRKStepper``'s Tsit5 kernel.
    @inlinable @inline(__always)
    mutating func attemptTsit5(
        _ f: Function, _ p: Function.Parameters, t: Double, dt: Double, u: State, uNew: inout State,
        stats: inout SolverStats
    ) -> Double {
        let k = uniqueStages()
        let x = table.base
        if !firstStageReady {
            k[0] = k[6]
            firstStageReady = true
        }
        extrasReady = false
        let k1 = k[0]
        var g = u + k1 * (dt * x[0])
        let k2 = f(g, p, t + x[36] * dt)
        g = u + k1 * (dt * x[1])
        g = g + k2 * (dt * x[2])
        let k3 = f(g, p, t + x[37] * dt)
        g = u + k1 * (dt * x[3])
        g = g + k2 * (dt * x[4])
        g = g + k3 * (dt * x[5])
        let k4 = f(g, p, t + x[38] * dt)
        g = u + k1 * (dt * x[6])
        g = g + k2 * (dt * x[7])
        g = g + k3 * (dt * x[8])
        g = g + k4 * (dt * x[9])
        let k5 = f(g, p, t + x[39] * dt)
        g = u + k1 * (dt * x[10])
        g = g + k2 * (dt * x[11])
        g = g + k3 * (dt * x[12])
        g = g + k4 * (dt * x[13])
        g = g + k5 * (dt * x[14])
        let k6 = f(g, p, t + x[40] * dt)
        g = u + k1 * (dt * x[15])
        g = g + k2 * (dt * x[16])
        g = g + k3 * (dt * x[17])
        g = g + k4 * (dt * x[18])
        g = g + k5 * (dt * x[19])
        g = g + k6 * (dt * x[20])
        let k7 = f(g, p, t + x[41] * dt)
        uNew = g
        (k[1], k[2], k[3], k[4], k[5], k[6]) = (k2, k3, k4, k5, k6, k7)
        stats.nf += 6
        guard adaptive else { return 0 }
        var err = State() + k1 * (dt * x[28])
        err = err + k2 * (dt * x[29])
        err = err + k3 * (dt * x[30])
        err = err + k4 * (dt * x[31])
        err = err + k5 * (dt * x[32])
        err = err + k6 * (dt * x[33])
        err = err + k7 * (dt * x[34])
        let sum = err.weightedSumOfSquares(from: u, to: g, abstol: abstol, reltol: reltol, viaReciprocal: true)
        return ErrorScale.finish(sum, count: u.count, as: Scalar.self)
    }

    /// Computes the interpolant's extra stages for the accepted step from `(t, u)` with `dt`,
    /// once per step.
    @inlinable
    mutating func computeExtraStages(_ f: Function, _ p: Function.Parameters, t: Double, dt: Double, u: State, stats: inout SolverStats) {
        guard !extrasReady else { return }
        extrasReady = true
        guard totalStages > s else { return }
        let k = uniqueStages()
        let x = table.base
        for i in s..<totalStages {
            k[i] = f(stageArgument(i, u: u, dt: dt, k: k), p, t + x[offsetC &+ i] * dt)
        }
        stats.nf += totalStages - s
    }

    /// The method's continuous extension at `t + theta*dt` inside the step just accepted (linear
    /// for methods without one). Inlinable so that `saveat` specializes with the step (as
    /// `@usableFromInline` it would evaluate `f` through witness tables).
    @inlinable
    public mutating func interpolate(
        _ f: Function, _ p: Function.Parameters, theta: Double, t: Double, dt: Double, u: State, uNew: State,
        into out: inout State, stats: inout SolverStats
    ) {
        guard let ext = tableau.interpolant else {
            out = u * (1 - theta) + uNew * theta
            return
        }
        computeExtraStages(f, p, t: t, dt: dt, u: u, stats: &stats)
        evaluateWeights(ext.coefficients, theta: theta, into: &thetaWeights)
        let k = stages.k
        var acc = u
        for j in 0..<totalStages where thetaWeights[j] != 0 {
            acc = acc + k[j] * (dt * thetaWeights[j])
        }
        out = acc
    }

    @inlinable
    public mutating func appendDenseStep(
        _ f: Function, _ p: Function.Parameters, t: Double, dt: Double, end: Double, u: State, uNew: State,
        to dense: inout PiecewisePolynomial<Scalar>, stats: inout SolverStats
    ) {
        guard let ext = tableau.interpolant else {
            // No published dense output (the fixed-step methods): linear between the ends.
            dense.appendLinear(from: t, to: end, step: dt, u0: u, u1: uNew)
            return
        }
        computeExtraStages(f, p, t: t, dt: dt, u: u, stats: &stats)
        let (degree, count) = (denseDegree, totalStages)
        let k = UnsafePointer(stages.k)
        denseWeights.withUnsafeBufferPointer { w in
            dense.appendStageWeighted(
                from: t, to: end, step: dt, u0: u, u1: uNew, stages: k, stageCount: count,
                weights: w.baseAddress!, degree: degree, order: ext.order)
        }
    }
}

extension ExplicitRKAlgorithm {
    /// An integrator for a fixed-size state, for step-by-step use: the one loop
    /// (``ODEIntegrator``) with this method's fixed-size stepper.
    @inlinable
    public func makeIntegrator<F: StaticODEFunction>(_ problem: StaticODEProblem<F>, options: SolveOptions = .init())
        throws(DiffEqError) -> ODEIntegrator<StaticRKStepper<F>>
    {
        try ODEIntegrator(problem, stepper: StaticRKStepper(tableau: tableau, estimatingError: options.adaptive), options: options)
    }

    /// Solves a fixed-size problem with this method.
    @inlinable
    public func solve<F: StaticODEFunction>(_ problem: StaticODEProblem<F>, options: SolveOptions)
        throws(DiffEqError) -> StaticODESolution<F.State>
    {
        var integrator = try makeIntegrator(problem, options: options)
        return integrator.solve()
    }
}
