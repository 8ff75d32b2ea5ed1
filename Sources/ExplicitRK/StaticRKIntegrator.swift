import DiffEqCore

/// The stage values of a fixed-size solve in one manually managed block (method stages, then
/// the interpolant's extra stages), with the interpolation weights' scratch space. Copied before
/// writing when shared, so integrators keep value semantics.
@usableFromInline
final class StaticStageStorage<State: StaticState> {
    @usableFromInline let k: UnsafeMutablePointer<State>
    @usableFromInline let count: Int
    @usableFromInline var thetaWeights: [Double]

    @usableFromInline init(count: Int) {
        self.count = count
        k = .allocate(capacity: count)
        k.initialize(repeating: State(), count: count)
        thetaWeights = [Double](repeating: 0, count: count)
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

/// Any explicit Runge-Kutta tableau run on a fixed-size state (``StaticODEProblem``), with the
/// array form's step-size controller, initial step, error norm and stopping rules, operation for
/// operation: the same problem in both forms gives the same steps and the same numbers
/// (`StaticStateTests`). Create one with an algorithm's `makeIntegrator`, then `solve()` it or
/// drive it with `step()`.
///
/// Stages are values combined with `+` and scaling, so for a `SIMD` state every stage sum is a
/// few vector instructions and `f` inlines into the step when it is a type (not a closure). The
/// step loop allocates nothing.
public struct StaticRKIntegrator<F: StaticODEFunction>: StaticIntegrator {

    public let tableau: ButcherTableau
    public let setup: SolveSetup<F.State.Scalar>
    public let f: F
    public let p: F.Parameters
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
    /// Tsit5's tableau: the step runs the written-out stage sequence (``attemptTsit5(dt:)``).
    @usableFromInline let isTsit5: Bool
    @usableFromInline let fsal: Bool
    /// The tableau's residual estimate (RK4), if any; its `f(t + dt, uNew)` is kept in the
    /// stage block's last slot (``endSlot``) as the next step's first stage.
    @usableFromInline let residual: ResidualErrorEstimate?
    @usableFromInline let endSlot: Int
    public let isAdaptive: Bool
    public let controller: PIController
    @usableFromInline let reltol: Double
    @usableFromInline let abstol: State
    @usableFromInline var stages: StaticStageStorage<State>
    @usableFromInline var firstStageReady = false
    @usableFromInline var extrasReady = false
    /// The shared loop's state (``StaticIntegrator``).
    public var loop: StaticIntegratorState<State>

    /// Validates the input (the array form's checks; callbacks, mass matrices and dense output
    /// are not part of this form), evaluates `f(t0, u0)` and chooses the initial step.
    public init(_ problem: StaticODEProblem<F>, tableau: ButcherTableau, options: SolveOptions) throws(DiffEqError) {
        let setup = try SolveSetup.staticForm(problem, options)
        try setup.checkFixedSteps(method: tableau.name, methodIsAdaptive: tableau.isAdaptive)
        self.tableau = tableau
        self.setup = setup
        f = problem.f
        p = problem.p
        s = tableau.stages
        let extraA = tableau.interpolant?.extraA ?? []
        totalStages = s + extraA.count
        let aFlat = (tableau.a + extraA).flatMap { $0 }
        let btilde = tableau.btilde ?? [Double](repeating: 0, count: s)
        let btilde3 = tableau.btilde3 ?? []
        let coefficients = aFlat + tableau.b + btilde + btilde3 + tableau.c + (tableau.interpolant?.extraC ?? [])
        table = StageStorage(count: coefficients.count)
        table.base.update(from: coefficients, count: coefficients.count)
        offsetB = aFlat.count
        offsetBtilde = offsetB + s
        offsetBtilde3 = offsetBtilde + s
        offsetC = offsetBtilde3 + btilde3.count
        hasBtilde3 = !btilde3.isEmpty
        isTsit5 = tableau.hasTsit5Coefficients
        fsal = tableau.isFSAL
        residual = tableau.residualEstimate
        endSlot = totalStages
        isAdaptive = tableau.isAdaptive && setup.adaptive
        controller = tableau.controller
        reltol = setup.reltol
        abstol = setup.abstol(as: State.self)
        stages = StaticStageStorage(count: totalStages + 1)
        loop = StaticIntegratorState(t0: setup.t0, u0: problem.u0)
        begin()
    }

    /// The stage block, copied first if another integrator value shares it.
    @inlinable @inline(__always)
    mutating func uniqueStages() -> UnsafeMutablePointer<State> {
        if !isKnownUniquelyReferenced(&stages) { stages = stages.copy() }
        return stages.k
    }

    /// `u + Σ_{j<i} (dt a_ij) k_j`: the argument of stage `i`, summed in stage order (the array
    /// form's order).
    @inlinable @inline(__always)
    func stageArgument(_ i: Int, dt: Double, k: UnsafeMutablePointer<State>) -> State {
        let row = table.base + i &* (i &- 1) / 2
        var g = loop.u
        for j in 0..<i { g = g + k[j] * (dt * row[j]) }
        return g
    }

    /// Attempts a step of signed size `dt` from `(t, u)` into `loop.uNew`; returns the scaled
    /// RMS error (0 for fixed-step methods).
    @inlinable
    public mutating func attempt(h dt: Double) -> Double {
        if isTsit5 { return attemptTsit5(dt: dt) }
        let k = uniqueStages()
        let x = table.base
        if !firstStageReady {
            if fsal {
                k[0] = k[s &- 1]
            } else if isAdaptive && residual != nil {
                k[0] = k[endSlot]
            } else {
                k[0] = f(loop.u, p, loop.t)
                loop.stats.nf += 1
            }
            firstStageReady = true
        }
        extrasReady = false
        var last = loop.u
        for i in 1..<Swift.max(s, 1) {
            last = stageArgument(i, dt: dt, k: k)
            k[i] = f(last, p, loop.t + x[offsetC &+ i] * dt)
        }
        loop.stats.nf += s - 1
        if fsal {
            // The last stage was evaluated at the new state itself.
            loop.uNew = last
        } else {
            var acc = loop.u
            for j in 0..<s { acc = acc + k[j] * (dt * x[offsetB &+ j]) }
            loop.uNew = acc
        }
        guard isAdaptive else { return 0 }
        if let residual { return residualError(residual, dt: dt, k: k) }
        var err = State()
        for j in 0..<s { err = err + k[j] * (dt * x[offsetBtilde &+ j]) }
        var err3 = State()
        if hasBtilde3 {
            for j in 0..<s { err3 = err3 + k[j] * (dt * x[offsetBtilde3 &+ j]) }
        }
        let (u, uNew) = (loop.u, loop.uNew)
        let e5 = err.weightedSumOfSquares(from: u, to: uNew, abstol: abstol, reltol: reltol, viaReciprocal: true)
        let n = setup.count
        if !hasBtilde3 { return ErrorScale.finish(e5, count: n, as: State.Scalar.self) }
        let e3 = err3.weightedSumOfSquares(from: u, to: uNew, abstol: abstol, reltol: reltol, viaReciprocal: true)
        // DOP853's combined estimator, as ExplicitRKStepper.
        var deno = e5 + 0.01 * e3
        if deno <= 0 { deno = 1 }
        return e5 / (Double(n * State.Scalar.componentCount) * deno).squareRoot()
    }

    /// ``ExplicitRKStepper``'s residual estimate on the fixed-size state (the same operations in
    /// the same order): `f(t + dt, uNew)` into the end slot, then the Hermite interpolant's scaled
    /// residual at each node.
    @inlinable
    mutating func residualError(_ estimate: ResidualErrorEstimate, dt: Double, k: UnsafeMutablePointer<State>) -> Double {
        let (t, u, uNew) = (loop.t, loop.u, loop.uNew)
        let f0 = k[0]
        let f1 = f(uNew, p, t + dt)
        k[endSlot] = f1
        loop.stats.nf += 1 + estimate.nodes.count
        let delta = uNew - u
        let (hf0, hf1) = (f0 * dt, f1 * dt)
        let n = setup.count
        var largest = 0.0
        for theta in estimate.nodes {
            let w = theta * (theta - 1)
            let inner = delta * (1 - 2 * theta) + hf0 * (theta - 1) + hf1 * theta
            let point = u * (1 - theta) + uNew * theta + inner * w
            let slope = delta + inner * (2 * theta - 1) + (hf0 + hf1 - delta * 2) * w
            let r = f(point, p, t + theta * dt) * dt - slope
            let sum = r.weightedSumOfSquares(from: u, to: uNew, abstol: abstol, reltol: reltol)
            let e = ErrorScale.finish(sum, count: n, as: State.Scalar.self)
            guard e.isFinite else { return e }
            largest = Swift.max(largest, e)
        }
        return estimate.scale * largest
    }

    /// ``attempt(h:)`` for Tsit5 with the stages written out: the same operations in the same
    /// order as the loop (so the same numbers), as straight-line code whose stage sums the
    /// processor overlaps with the evaluations of `f`. Offsets into `table` as in
    /// ``ExplicitRKStepper/attemptTsit5(_:_:t:dt:u:uNew:tolerance:stats:)``.
    @inlinable @inline(__always)
    mutating func attemptTsit5(dt: Double) -> Double {
        let k = uniqueStages()
        let x = table.base
        if !firstStageReady {
            k[0] = k[6]
            firstStageReady = true
        }
        extrasReady = false
        let (t, u) = (loop.t, loop.u)
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
        loop.uNew = g
        (k[1], k[2], k[3], k[4], k[5], k[6]) = (k2, k3, k4, k5, k6, k7)
        loop.stats.nf += 6
        guard isAdaptive else { return 0 }
        var err = State() + k1 * (dt * x[28])
        err = err + k2 * (dt * x[29])
        err = err + k3 * (dt * x[30])
        err = err + k4 * (dt * x[31])
        err = err + k5 * (dt * x[32])
        err = err + k6 * (dt * x[33])
        err = err + k7 * (dt * x[34])
        let sum = err.weightedSumOfSquares(from: u, to: g, abstol: abstol, reltol: reltol, viaReciprocal: true)
        return ErrorScale.finish(sum, count: setup.count, as: State.Scalar.self)
    }

    /// The method's continuous extension at `loop.tPrev + theta*dt` inside the step just accepted
    /// (linear for methods without one), computing its extra stages on first use. Inlinable so
    /// that `saveat` specializes with the step (as `@usableFromInline` it would evaluate `f`
    /// through witness tables).
    @inlinable
    public mutating func interpolate(theta: Double, dt: Double) -> State {
        guard let ext = tableau.interpolant else {
            return loop.uPrev * (1 - theta) + loop.u * theta
        }
        let k = uniqueStages()
        if !extrasReady && totalStages > s {
            // Stages s... need the step's start state: evaluate them from `uPrev`.
            let x = table.base
            for i in s..<totalStages {
                let row = x + i &* (i &- 1) / 2
                var g = loop.uPrev
                for j in 0..<i { g = g + k[j] * (dt * row[j]) }
                k[i] = f(g, p, loop.tPrev + x[offsetC &+ i] * dt)
            }
            loop.stats.nf += totalStages - s
        }
        extrasReady = true
        evaluateWeights(ext.coefficients, theta: theta, into: &stages.thetaWeights)
        var out = loop.uPrev
        for j in 0..<totalStages where stages.thetaWeights[j] != 0 {
            out = out + k[j] * (dt * stages.thetaWeights[j])
        }
        return out
    }

    @inlinable public var algorithmName: String { tableau.name }
    @inlinable public var order: Int { tableau.order }
    @inlinable public var controllerOrder: Int { tableau.controllerOrder }

    /// The first stage of the first step is `f(t0, u0)`.
    @inlinable
    public mutating func start(du0: State) {
        stages.k[0] = du0
        firstStageReady = true
    }

    @inlinable
    public mutating func restart() {
        extrasReady = false
    }

    /// The next step's first stage: the last slot (FSAL) or a new evaluation.
    @inlinable
    public mutating func acceptAttempt() {
        firstStageReady = false
    }
}

extension ExplicitRKAlgorithm {
    /// An integrator for a fixed-size state, for step-by-step use.
    @inlinable
    public func makeIntegrator<F: StaticODEFunction>(_ problem: StaticODEProblem<F>, options: SolveOptions = .init())
        throws(DiffEqError) -> StaticRKIntegrator<F>
    {
        try StaticRKIntegrator(problem, tableau: tableau, options: options)
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

