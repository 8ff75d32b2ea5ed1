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
public struct StaticRKIntegrator<F: StaticODEFunction> {
    public typealias State = F.State

    public let tableau: ButcherTableau
    public let setup: SolveSetup<Double>
    @usableFromInline let f: F
    @usableFromInline let p: F.Parameters
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
    @usableFromInline let adaptive: Bool
    @usableFromInline let controller: PIController
    @usableFromInline let reltol: Double
    @usableFromInline let abstol: State
    @usableFromInline var stages: StaticStageStorage<State>
    @usableFromInline var firstStageReady = false
    @usableFromInline var extrasReady = false

    @usableFromInline var _t: Double
    @usableFromInline var _u: State
    @usableFromInline var _dt: Double
    @usableFromInline var uNew: State
    @usableFromInline var tPrev: Double
    @usableFromInline var uPrev: State
    @usableFromInline var _retcode: ReturnCode?
    @usableFromInline var _message: String?
    @usableFromInline var _stats = SolverStats()
    /// `log` of the previous accepted error, floored at 1e-4 (as ``ODEIntegrator``).
    @usableFromInline var logErrPrev = PIController.logErrorFloor
    @usableFromInline var lastWasRejected = false
    @usableFromInline var iterations = 0
    @usableFromInline var nextStop = 0
    @usableFromInline var nextSave = 0
    @usableFromInline var savedT: [Double] = []
    @usableFromInline var savedU: [State] = []

    /// Current time.
    public var t: Double { _t }
    /// Current state.
    public var u: State { _u }
    /// Signed size of the next step attempt; setting it overrides the controller once.
    public var dt: Double {
        get { _dt }
        set { _dt = newValue }
    }
    /// Why the integration stopped; `nil` while it can continue.
    public var retcode: ReturnCode? { _retcode }
    public var message: String? { _message }
    public var stats: SolverStats { _stats }
    @inlinable public var isFinished: Bool { _retcode != nil }

    /// Validates the input (the array form's checks; callbacks, mass matrices and dense output
    /// are not part of this form), evaluates `f(t0, u0)` and chooses the initial step.
    public init(_ problem: StaticODEProblem<F>, tableau: ButcherTableau, options: SolveOptions) throws(DiffEqError) {
        if options.dense == true {
            throw .unsupported("a fixed-size (StaticODEProblem) solve keeps no dense output: use saveat")
        }
        if options.isOutOfDomain != nil {
            throw .unsupported("a fixed-size (StaticODEProblem) solve has no isOutOfDomain test: use the array form")
        }
        var plain = options
        plain.dense = false
        let setup = try SolveSetup(u0: problem.u0.array, tspan: problem.tspan, massMatrix: nil, plain)
        if tableau.btilde == nil && setup.dt == nil {
            throw .invalidStepOption("\(tableau.name) is a fixed-step method: give dt")
        }
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
        adaptive = tableau.btilde != nil && setup.adaptive
        controller = tableau.controller
        reltol = setup.reltol
        var tolerances = State()
        for i in 0..<setup.count { tolerances[i] = setup.abstol[i] }
        abstol = tolerances
        stages = StaticStageStorage(count: totalStages)
        _t = setup.t0
        _u = problem.u0
        _dt = 0
        uNew = problem.u0
        tPrev = setup.t0
        uPrev = problem.u0
        begin()
    }

    /// Evaluates `f` at the start, chooses the first step and saves the initial state.
    @usableFromInline
    mutating func begin() {
        let du0 = f(_u, p, _t)
        _stats.nf += 1
        if let h = setup.dt {
            _dt = setup.direction * Swift.min(h, setup.dtmax)
        } else {
            _dt = setup.direction * initialStepSize(du0: du0)
        }
        stages.k[0] = du0
        firstStageReady = true
        if setup.saveEverystep || setup.saveTimes.isEmpty {
            savedT.append(_t)
            savedU.append(_u)
        }
        while nextSave < setup.saveTimes.count && setup.saveTimes[nextSave] == _t {
            savedT.append(_t)
            savedU.append(_u)
            nextSave += 1
        }
    }

    /// Hairer, Nørsett & Wanner's starting step (Solving ODEs I, §II.4), as the array form.
    @usableFromInline
    mutating func initialStepSize(du0: State) -> Double {
        let n = setup.count
        var d0 = 0.0, d1 = 0.0
        for i in 0..<n {
            let sc = abstol[i] + reltol * Swift.abs(_u[i])
            d0 += (_u[i] * _u[i]) / (sc * sc)
            d1 += (du0[i] * du0[i]) / (sc * sc)
        }
        let m = Double(n)
        d0 = (d0 / m).squareRoot()
        d1 = (d1 / m).squareRoot()
        let h0 = initialTrialStep(d0: d0, d1: d1, dtmax: setup.dtmax)
        let u1 = _u + du0 * (setup.direction * h0)
        let du1 = f(u1, p, _t + setup.direction * h0)
        _stats.nf += 1
        var d2 = 0.0
        for i in 0..<n {
            let sc = abstol[i] + reltol * Swift.abs(_u[i])
            let d = du1[i] - du0[i]
            d2 += (d * d) / (sc * sc)
        }
        d2 = (d2 / m).squareRoot() / h0
        return initialStep(h0: h0, d1: d1, d2: d2, order: tableau.order, dtmax: setup.dtmax)
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
        var g = _u
        for j in 0..<i { g = g + k[j] * (dt * row[j]) }
        return g
    }

    /// Attempts a step of signed size `dt` from `(t, u)` into `uNew`; returns the scaled RMS
    /// error (0 for fixed-step methods).
    @inlinable
    mutating func attempt(dt: Double) -> Double {
        if isTsit5 { return attemptTsit5(dt: dt) }
        let k = uniqueStages()
        let x = table.base
        if !firstStageReady {
            k[0] = fsal ? k[s &- 1] : f(_u, p, _t)
            if !fsal { _stats.nf += 1 }
            firstStageReady = true
        }
        extrasReady = false
        var last = _u
        for i in 1..<Swift.max(s, 1) {
            last = stageArgument(i, dt: dt, k: k)
            k[i] = f(last, p, _t + x[offsetC &+ i] * dt)
        }
        _stats.nf += s - 1
        if fsal {
            // The last stage was evaluated at the new state itself.
            uNew = last
        } else {
            var acc = _u
            for j in 0..<s { acc = acc + k[j] * (dt * x[offsetB &+ j]) }
            uNew = acc
        }
        guard adaptive else { return 0 }
        var err = State()
        for j in 0..<s { err = err + k[j] * (dt * x[offsetBtilde &+ j]) }
        var err3 = State()
        if hasBtilde3 {
            for j in 0..<s { err3 = err3 + k[j] * (dt * x[offsetBtilde3 &+ j]) }
        }
        var e5 = 0.0, e3 = 0.0
        let n = setup.count
        for m in 0..<n {
            let sc = abstol[m] + reltol * Swift.max(Swift.abs(_u[m]), Swift.abs(uNew[m]))
            let inv = 1 / (sc * sc)
            e5 += (err[m] * err[m]) * inv
            if hasBtilde3 { e3 += (err3[m] * err3[m]) * inv }
        }
        if !hasBtilde3 { return (e5 / Double(n)).squareRoot() }
        // DOP853's combined estimator, as ExplicitRKStepper.
        var deno = e5 + 0.01 * e3
        if deno <= 0 { deno = 1 }
        return e5 / (Double(n) * deno).squareRoot()
    }

    /// ``attempt(dt:)`` for Tsit5 with the stages written out: the same operations in the same
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
        let (t, u) = (_t, _u)
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
        _stats.nf += 6
        guard adaptive else { return 0 }
        var err = State() + k1 * (dt * x[28])
        err = err + k2 * (dt * x[29])
        err = err + k3 * (dt * x[30])
        err = err + k4 * (dt * x[31])
        err = err + k5 * (dt * x[32])
        err = err + k6 * (dt * x[33])
        err = err + k7 * (dt * x[34])
        var sum = 0.0
        let n = setup.count
        for m in 0..<n {
            let sc = abstol[m] + reltol * Swift.max(Swift.abs(u[m]), Swift.abs(g[m]))
            let inv = 1 / (sc * sc)
            sum += (err[m] * err[m]) * inv
        }
        return (sum / Double(n)).squareRoot()
    }

    /// The smallest step magnitude allowed at the current time (as ``ODEIntegrator``).
    @inlinable var dtFloor: Double {
        stepFloor(at: _t, dtmin: setup.dtmin)
    }

    /// Takes one accepted step (with as many rejected attempts as needed). Returns `false` once
    /// the integration is finished (`retcode` says why).
    @inlinable @discardableResult
    public mutating func step() -> Bool {
        guard _retcode == nil else { return false }
        let dir = setup.direction
        var sawNonFinite = false
        while true {
            if iterations >= setup.maxiters {
                finish(.maxIters, "reached maxiters = \(setup.maxiters) at t = \(_t)")
                return false
            }
            let target = nextStop < setup.tstops.count ? setup.tstops[nextStop] : setup.t1
            let (h, landing) = clippedStep(from: _t, dt: _dt, toward: target, direction: dir)
            iterations += 1
            let err = attempt(dt: h)
            let finite = err.isFinite && uNew.isFiniteState
            if finite && (err <= 1 || !adaptive) {
                _stats.naccept += 1
                tPrev = _t
                _t = landing ? target : _t + h
                uPrev = _u
                _u = uNew
                // The next step's first stage: the last slot (FSAL) or a new evaluation.
                firstStageReady = false
                if landing && nextStop < setup.tstops.count { nextStop += 1 }
                if adaptive {
                    controller.update(
                        afterAccepting: err, step: h, landing: landing, afterRejection: lastWasRejected, dt: &_dt,
                        logErrPrev: &logErrPrev, direction: dir, dtmax: setup.dtmax)
                }
                lastWasRejected = false
                recordStep(h: h)
                if landing && _t == setup.t1 { finish(.success, nil) }
                return _retcode == nil
            }
            if !finite { sawNonFinite = true }
            lastWasRejected = true
            let (dt, failure) = rejectAttempt(
                h: h, err: err, nonFinite: !finite, sawNonFinite: sawNonFinite, adaptive: adaptive, controller: controller,
                t: _t, dtFloor: dtFloor, stats: &_stats)
            _dt = dt
            if let (code, message) = failure {
                finish(code, message)
                return false
            }
        }
    }

    /// Saves what the options ask for after the accepted step from `tPrev` of size `h`.
    @inlinable
    mutating func recordStep(h: Double) {
        let dir = setup.direction
        while nextSave < setup.saveTimes.count {
            let time = setup.saveTimes[nextSave]
            guard dir * (_t - time) >= 0 else { break }
            savedU.append(time == _t ? _u : interpolate(theta: (time - tPrev) / h, dt: h))
            savedT.append(time)
            nextSave += 1
        }
        if setup.saveEverystep {
            savedT.append(_t)
            savedU.append(_u)
        }
    }

    /// The method's continuous extension at `tPrev + theta*dt` inside the step just accepted
    /// (linear for methods without one), computing its extra stages on first use. Inlinable so
    /// that `saveat` specializes with the step (as `@usableFromInline` it would evaluate `f`
    /// through witness tables).
    @inlinable
    mutating func interpolate(theta: Double, dt: Double) -> State {
        guard let ext = tableau.interpolant else {
            return uPrev * (1 - theta) + _u * theta
        }
        let k = uniqueStages()
        if !extrasReady && totalStages > s {
            // Stages s... need the step's start state: evaluate them from `uPrev`.
            let x = table.base
            for i in s..<totalStages {
                let row = x + i &* (i &- 1) / 2
                var g = uPrev
                for j in 0..<i { g = g + k[j] * (dt * row[j]) }
                k[i] = f(g, p, tPrev + x[offsetC &+ i] * dt)
            }
            _stats.nf += totalStages - s
        }
        extrasReady = true
        evaluateWeights(ext.coefficients, theta: theta, into: &stages.thetaWeights)
        var out = uPrev
        for j in 0..<totalStages where stages.thetaWeights[j] != 0 {
            out = out + k[j] * (dt * stages.thetaWeights[j])
        }
        return out
    }

    @inlinable
    mutating func finish(_ code: ReturnCode, _ why: String?) {
        _retcode = code
        _message = why
        if !setup.saveEverystep && setup.saveTimes.isEmpty && savedT.last != _t {
            savedT.append(_t)
            savedU.append(_u)
        }
    }

    /// Starts again from `u0` (default: the problem's) at the problem's `t0`, keeping every
    /// buffer's capacity.
    public mutating func reinit(u0: State? = nil) throws(DiffEqError) {
        let start = u0 ?? setup.u0Static(as: State.self)
        guard start.isFiniteState else {
            throw .nonFiniteInitialState(component: (0..<setup.count).first { !start[$0].isFinite } ?? 0)
        }
        _u = start
        _t = setup.t0
        tPrev = _t
        uPrev = _u
        _retcode = nil
        _message = nil
        _stats = SolverStats()
        logErrPrev = PIController.logErrorFloor
        lastWasRejected = false
        iterations = 0
        nextStop = 0
        nextSave = 0
        extrasReady = false
        savedT.removeAll(keepingCapacity: true)
        savedU.removeAll(keepingCapacity: true)
        begin()
    }

    /// Steps until the end of the span or a failure.
    @inlinable
    public mutating func solve() -> StaticODESolution<State> {
        while step() {}
        return solution
    }

    /// The solution so far.
    public var solution: StaticODESolution<State> {
        StaticODESolution(
            t: savedT, u: savedU, retcode: _retcode ?? .default, message: _message, stats: _stats,
            algorithm: tableau.name)
    }
}

extension SolveSetup where Scalar == Double {
    /// The validated initial state as a fixed-size value.
    @usableFromInline
    func u0Static<State: StaticState>(as: State.Type) -> State {
        var u = State()
        for i in 0..<count { u[i] = u0[i] }
        return u
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

