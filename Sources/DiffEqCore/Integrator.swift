/// The shared integrator loop of every native method: step-size control, stops, events, saving,
/// failure handling. Create one with an algorithm's `makeIntegrator`, then `solve()` it or drive
/// it with `step()` and `advance(to:)` (DifferentialEquations.jl's `init`/`step!`).
///
/// The state `u`, time `t`, next step `dt` and parameters `p` are readable and writable; the
/// loop allocates nothing per step (saving a step copies the state into the solution, which is
/// the point of saving it).
///
/// One loop for every state form (DESIGN.md, "The state protocol"): the state is the stepper's
/// ``DiffEqState`` (`[S]` for an ``ODEProblem``; a `SIMD` vector or a ``FixedVector`` over any
/// scalar for a ``StaticODEProblem``), and `f` is called through ``DiffEqFunction``. Events,
/// dense output, `saveat`, `tstops` and `isOutOfDomain` work for every form; the callbacks and
/// the domain test see a fixed-size state as the array of its components.
public struct ODEIntegrator<Stepper: ODEStepper> {
    public typealias F = Stepper.Function
    public typealias State = Stepper.State
    public typealias Parameters = Stepper.Parameters
    public typealias Scalar = State.Scalar

    public let setup: SolveSetup<Scalar>
    @usableFromInline var stepper: Stepper
    @usableFromInline let f: F
    /// The problem's initial state and parameters (what ``reinit(u0:t0:)`` starts from).
    @usableFromInline let u0: State
    @usableFromInline let p0: Parameters
    @usableFromInline var _p: Parameters
    @usableFromInline let scale: ErrorScale
    @usableFromInline let callbacks: CallbackSet<Scalar>
    /// Step-size control is on: the method estimates its error and the options allow it.
    @usableFromInline let adaptive: Bool

    @usableFromInline var _t: Double
    @usableFromInline var _u: State
    @usableFromInline var _dt: Double
    @usableFromInline var _retcode: ReturnCode?
    @usableFromInline var _message: String?
    @usableFromInline var _stats = SolverStats()
    /// Set when the state, time or parameters were changed from outside: the next step
    /// re-evaluates `f` so that FSAL methods start from the new values.
    @usableFromInline var needsRestart = false

    @usableFromInline var uNew: State
    @usableFromInline var work: State
    @usableFromInline var tPrev: Double
    @usableFromInline var uPrev: State
    /// The signed size of the last accepted step (`_t − tPrev` can differ from it in the last bit).
    @usableFromInline var hPrev: Double = 0
    /// `log` of the previous accepted step's error (floored at 1e-4), kept as a logarithm so
    /// that the controller needs one `log` per step (see ``PIController``).
    @usableFromInline var logErrPrev: Double = ODEIntegrator.logErrFloor
    /// The error before that, for a PID controller given in the options (``ControllerHistory``).
    @usableFromInline var logErrPrevPrev: Double = ODEIntegrator.logErrFloor
    @usableFromInline var lastWasRejected = false
    @usableFromInline var iterations = 0
    /// Times to step onto exactly (the options' `tstops` plus `advance(to:)` targets), in the
    /// direction of integration; `nextStop` is the first not yet reached.
    @usableFromInline var stops: [Double]
    @usableFromInline var nextStop = 0
    /// The continuous callback that fired at `tPrev`, if any: its zero at the start of the next
    /// step is the event just handled, not a new crossing.
    @usableFromInline var lastEvent: Int?
    @usableFromInline var conditionValues: [Double] = []
    /// The candidate state and the parameters as plain values for the options' domain test
    /// (empty without one).
    @usableFromInline var domainU: [Double] = []
    @usableFromInline var domainP: [Double] = []

    /// What is saved (the options' `saveat`, `saveEverystep`, the ends and the events' points).
    @usableFromInline var saved: SavingRecorder<State>
    /// The dense output, one step appended at each accepted step when `setup.dense`.
    @usableFromInline var dense: PiecewisePolynomial<Scalar>

    /// Current time. Setting it (as `set_t!` does) restarts the method at the new time. A time
    /// outside the span, at its end or non-finite is refused as ``reinit(u0:t0:)`` refuses it (a
    /// setter cannot throw): the time is kept and the integration ends with
    /// ``ReturnCode/failure`` and a message. Save times and stops between the old and a later
    /// new time are skipped when the method restarts, never extrapolated to.
    public var t: Double {
        get { _t }
        set {
            let dir = setup.direction
            guard newValue.isFinite, dir * (newValue - setup.t0) >= 0, dir * (setup.t1 - newValue) > 0 else {
                // A restart at the end integrated nothing and the save code interpolated inside a
                // zero-length step: NaN returned as success (found by the fuzzer, case 1:7497).
                finish(.failure, "t was set to \(newValue); it must lie in the span [\(setup.t0), \(setup.t1)) before its end (t kept at \(_t))")
                return
            }
            _t = newValue
            needsRestart = true
        }
    }
    /// Current state. Setting it (as `set_u!` does) restarts the method from the new state.
    /// A state of another length is refused (a setter cannot throw, and this was a trap): the
    /// state is kept and the integration ends with ``ReturnCode/failure`` and a message.
    public var u: State {
        get { _u }
        set {
            guard newValue.count == _u.count else {
                finish(.failure, "u was set to a state of length \(newValue.count); the state has length \(_u.count) (kept)")
                return
            }
            _u = newValue
            needsRestart = true
        }
    }
    /// Parameters used from the next step on.
    public var p: Parameters {
        get { _p }
        set { _p = newValue; needsRestart = true }
    }
    /// Signed size of the next step attempt; setting it overrides the controller once. The
    /// magnitude is taken in the direction of integration (a wrong sign stepped out of the span
    /// and still ended in `.success`); a zero or non-finite value is refused: the integration
    /// ends with ``ReturnCode/failure`` and a message (it ran to `maxiters` without moving).
    public var dt: Double {
        get { _dt }
        set {
            guard newValue.isFinite, newValue != 0 else {
                finish(.failure, "dt was set to \(newValue); it must be finite and non-zero")
                return
            }
            _dt = setup.direction * Swift.abs(newValue)
        }
    }
    /// Why the integration stopped; `nil` while it can continue.
    public var retcode: ReturnCode? { _retcode }
    /// The explanation that goes with a failure.
    public var message: String? { _message }
    /// Work counters so far.
    public var stats: SolverStats { _stats }
    /// The method's stepper (read-only: its caches and any state it reports, e.g. switches).
    public var method: Stepper { stepper }

    /// The steps the dense output and the saved points have room for from the start.
    @inlinable static var initialStepCapacity: Int { 64 }

    /// `log(1e-4)`: the controller's floor for the previous error, and its value at a (re)start.
    @inlinable static var logErrFloor: Double { PIController.logErrorFloor }

    /// Validates the input, evaluates `f(t0, u0)` and chooses the initial step.
    ///
    /// Inlinable, with ``begin()`` and ``initialStepSize(du0:)``, so that the two evaluations
    /// of `f` and the norms here specialize in the caller's module: compiled here only, they ran
    /// through witness tables, which for a forward-mode gradient (a dual `f` per chunk) was 5%
    /// of a POLLU gradient.
    @inlinable
    public init(_ problem: ODEProblem<F>, stepper: Stepper, options: SolveOptions) throws(DiffEqError)
    where F: ODEFunction {
        let setup = try SolveSetup(problem, options)
        try self.init(
            f: problem.f, u0: setup.u0, p: problem.p, callbacks: problem.callbacks, setup: setup, stepper: consume stepper)
    }

    /// The loop for a fixed-size problem. Its dense output is built only when asked for
    /// (`dense: true`): the fixed-size form is the fast path, and its solutions are read at
    /// their saved points unless the caller wants `sol(t)`.
    @inlinable
    public init(_ problem: StaticODEProblem<F>, stepper: Stepper, options: SolveOptions) throws(DiffEqError)
    where F: StaticODEFunction {
        try problem.f.validate(u0: problem.u0, p: problem.p)
        var resolved = options
        if resolved.dense == nil { resolved.dense = false }
        let setup = try SolveSetup(
            u0: problem.u0.components, tspan: problem.tspan, massMatrix: problem.massMatrixColumns, resolved)
        try self.init(
            f: problem.f, u0: problem.u0, p: problem.p, callbacks: problem.callbacks, setup: setup, stepper: consume stepper)
    }

    /// The loop on a validated setup: checks the method's settings against it, evaluates
    /// `f(t0, u0)` and chooses the initial step.
    @inlinable
    package init(
        f: F, u0: State, p: Parameters, callbacks: CallbackSet<Scalar>, setup: SolveSetup<Scalar>, stepper: Stepper
    ) throws(DiffEqError) {
        try stepper.validateSettings()
        if setup.massMatrix != nil && !stepper.supportsMassMatrix {
            throw .unsupported("\(stepper.name) does not support a mass matrix: use a Rosenbrock method (Rodas5P)")
        }
        try setup.checkFixedSteps(method: stepper.name, methodIsAdaptive: stepper.isAdaptive)
        self.setup = setup
        // Moved, not copied: a parameter lives to the end of the initializer, so a copy kept the
        // stepper's buffers shared until their first writes copied them (mallocs per solve,
        // with the delay driver's moves: Hutchinson 93 -> 90, the logistic ODE 47 -> 45).
        self.adaptive = stepper.isAdaptive && setup.adaptive
        self.stepper = consume stepper
        self.f = f
        self.u0 = u0
        self.p0 = p
        self._p = p
        self.callbacks = callbacks
        let scale = ErrorScale(reltol: setup.reltol, abstol: setup.abstol)
        self.scale = scale
        self._t = setup.t0
        self._u = u0
        self.tPrev = setup.t0
        self.uPrev = u0
        self.uNew = u0
        self.work = u0
        self._dt = 0
        self.stops = setup.tstops
        self.dense = PiecewisePolynomial(stateCount: setup.count)
        self.saved = SavingRecorder(setup)
        // Room for the first `initialStepCapacity` steps, the values capped at 32 KB: growing
        // from empty, each array was reallocated ~6 times in a solve of ~60 steps (recordStep
        // 99 k -> 71 k instructions per Hutchinson solve, 48 k -> 31 k for the logistic ODE).
        let steps = Self.initialStepCapacity
        if setup.dense { dense.reserveCapacity(steps: steps, values: Swift.min(8 * steps * setup.count, 4096)) }
        if setup.saveEverystep { saved.reserveCapacity(steps + 1) }
        self.conditionValues = [Double](specializedRepeating: 0, count: callbacks.continuous.count)
        if setup.isOutOfDomain != nil {
            domainU = [Double](specializedRepeating: 0, count: setup.count)
            domainP = [Double](specializedRepeating: 0, count: f.parameterScalars(p).count)
        }
        self.stepper.configure(tolerance: scale)
        begin()
    }

    /// Evaluates `f` at the start, chooses the first step and saves the initial state.
    @inlinable
    mutating func begin() {
        var du0 = _u
        f.evaluate(into: &du0, _u, _p, _t)
        _stats.nf += 1
        if let h = setup.dt {
            _dt = setup.direction * Swift.min(h, setup.dtmax)
        } else {
            _dt = setup.direction * initialStepSize(du0: du0)
        }
        stepper.start(t: _t, u: _u, du: du0)
        saved.start(at: _t, _u)
    }

    /// Starts again from `u0` at `t0` (default: the problem's), keeping every buffer's
    /// capacity: `reinit!` in DifferentialEquations.jl.
    ///
    /// `t0` must lie in the problem's span and before its end in the direction of integration
    /// (a restart at the end would integrate nothing: the save code then interpolated inside a
    /// zero-length step, NaN reported as success). Save times and stops before `t0` are skipped:
    /// the solution never holds a point outside what this run integrated.
    public mutating func reinit(u0: State? = nil, t0: Double? = nil) throws(DiffEqError) {
        let start = u0 ?? self.u0
        guard start.count == _u.count else {
            throw .dimensionMismatch(what: "reinit u0", expected: _u.count, got: start.count)
        }
        if let bad = (0..<start.count).first(where: { !start[$0].isFiniteScalar }) {
            throw .nonFiniteInitialState(component: bad)
        }
        let dir = setup.direction
        let restart = t0 ?? setup.t0
        guard restart.isFinite, dir * (restart - setup.t0) >= 0, dir * (setup.t1 - restart) > 0 else {
            throw .invalidTimeSpan(t0: restart, t1: setup.t1)
        }
        _u = start
        _t = restart
        tPrev = _t
        uPrev = _u
        _p = p0
        _retcode = nil
        _message = nil
        _stats = SolverStats()
        needsRestart = false
        logErrPrev = Self.logErrFloor
        logErrPrevPrev = Self.logErrFloor
        lastWasRejected = false
        iterations = 0
        stops = setup.tstops
        nextStop = stops.firstIndex { dir * ($0 - restart) > 0 } ?? stops.count
        saved.reset(from: restart)
        lastEvent = nil
        dense.removeAll()
        begin()
    }

    /// The automatic initial step of Hairer, Nørsett & Wanner, Solving ODEs I, §II.4
    /// ("Starting step size"), in the error weights of the solve.
    @inlinable
    mutating func initialStepSize(du0: State) -> Double {
        let n = _u.count
        var d0 = 0.0, d1 = 0.0
        for i in 0..<n {
            let sc = errorWeight(abstol: setup.abstol[i], reltol: setup.reltol, _u[i].primal)
            d0 += _u[i].sumOfSquaredComponents / (sc * sc)
            d1 += du0[i].sumOfSquaredComponents / (sc * sc)
        }
        let m = Double(n * Scalar.componentCount)
        d0 = (d0 / m).squareRoot()
        d1 = (d1 / m).squareRoot()
        let h0 = initialTrialStep(d0: d0, d1: d1, dtmax: setup.dtmax)
        for i in 0..<n { work[i] = _u[i] + du0[i].scaled(by: setup.direction * h0) }
        f.evaluate(into: &uNew, work, _p, _t + setup.direction * h0)
        _stats.nf += 1
        var d2 = 0.0
        for i in 0..<n {
            let sc = errorWeight(abstol: setup.abstol[i], reltol: setup.reltol, _u[i].primal)
            d2 += (uNew[i] - du0[i]).sumOfSquaredComponents / (sc * sc)
        }
        d2 = (d2 / m).squareRoot() / h0
        return initialStep(h0: h0, d1: d1, d2: d2, order: stepper.order, dtmax: setup.dtmax)
    }

    /// Whether the integration has reached the end or stopped.
    @inlinable public var isFinished: Bool { _retcode != nil }

    /// The smallest step magnitude allowed at the current time: the user's `dtmin`, and never
    /// below what the floating-point resolution of `t` can represent.
    @inlinable var dtFloor: Double {
        stepFloor(at: _t, dtmin: setup.dtmin)
    }

    /// Takes one accepted step (with as many rejected attempts as needed) and handles the
    /// events in it. Returns `false` once the integration is finished (`retcode` says why).
    @inlinable @discardableResult
    public mutating func step() -> Bool {
        guard _retcode == nil else { return false }
        if needsRestart { restart() }
        let dir = setup.direction
        var sawNonFinite = false
        while true {
            if iterations >= setup.maxiters {
                finish(.maxIters, "reached maxiters = \(setup.maxiters) at t = \(_t): raise SolveOptions.maxiters to go on")
                return false
            }
            // Clip the step so that it lands exactly on the next stop or the end.
            let target = nextStop < stops.count ? stops[nextStop] : setup.t1
            let (h, landing) = clippedStep(from: _t, dt: _dt, toward: target, direction: dir, steps: _stats.naccept)
            iterations += 1
            let err = stepper.attempt(f, _p, t: _t, dt: h, u: _u, uNew: &uNew, tolerance: scale, stats: &_stats)
            let finite = err.isFinite && uNew.isFiniteState
            if finite, let check = setup.isOutOfDomain, isOutside(check, t: _t + h) {
                // As a failed step in DifferentialEquations.jl: retry with the smallest
                // step factor the controller allows.
                _stats.nreject += 1
                lastWasRejected = true
                _dt = h * (setup.controller?.minimumFactor ?? stepper.controller.qmin)
                if !adaptive || Swift.abs(_dt) < dtFloor {
                    finish(.dtLessThanMin, "the new state left the domain (isOutOfDomain) near t = \(_t)"
                        + (adaptive ? " and reducing dt did not keep it inside" : " with fixed steps"))
                    return false
                }
                continue
            }
            if finite && (err <= 1 || !adaptive) {
                _stats.naccept += 1
                tPrev = _t
                hPrev = h
                _t = landing ? target : _t + h
                State.acceptProposal(previous: &uPrev, current: &_u, proposed: &uNew)
                stepper.accept()
                if landing && nextStop < stops.count { nextStop += 1 }
                if adaptive {
                    if let custom = setup.controller {
                        var history = ControllerHistory(logErrPrev: logErrPrev, logErrPrevPrev: logErrPrevPrev)
                        custom.update(
                            afterAccepting: err, step: h, landing: landing, afterRejection: lastWasRejected, dt: &_dt,
                            history: &history, order: stepper.controllerOrder, direction: dir, dtmax: setup.dtmax)
                        (logErrPrev, logErrPrevPrev) = (history.logErrPrev, history.logErrPrevPrev)
                    } else {
                        stepper.controller.update(
                            afterAccepting: err, step: h, landing: landing, afterRejection: lastWasRejected, dt: &_dt,
                            logErrPrev: &logErrPrev, direction: dir, dtmax: setup.dtmax)
                    }
                }
                lastWasRejected = false
                if callbacks.isEmpty {
                    recordStep(h: h, end: _t)
                } else {
                    handleEvents(h: h)
                    if _retcode != nil { return false }
                }
                if landing && _t == setup.t1 { finish(.success, nil) }
                return _retcode == nil
            }
            if !finite { sawNonFinite = true }
            lastWasRejected = true
            let (dt, failure): (Double, (ReturnCode, String)?)
            if let custom = setup.controller {
                (dt, failure) = rejectAttempt(
                    h: h, err: err, nonFinite: !finite, sawNonFinite: sawNonFinite, adaptive: adaptive,
                    controller: custom, order: stepper.controllerOrder, t: _t, dtFloor: dtFloor, stats: &_stats)
            } else {
                (dt, failure) = rejectAttempt(
                    h: h, err: err, nonFinite: !finite, sawNonFinite: sawNonFinite, adaptive: adaptive,
                    controller: stepper.controller, order: stepper.controllerOrder, t: _t, dtFloor: dtFloor,
                    stats: &_stats)
            }
            _dt = dt
            if let (code, message) = failure {
                finish(code, message)
                return false
            }
        }
    }

    /// The options' domain test on the candidate state `uNew` at `t`.
    @inlinable @inline(never)
    mutating func isOutside(_ check: DomainCheck, t: Double) -> Bool {
        for i in 0..<uNew.count { domainU[i] = uNew[i].primal }
        let p = f.parameterScalars(_p)
        if domainP.count != p.count { domainP = [Double](repeating: 0, count: p.count) }
        for i in p.indices { domainP[i] = p[i].primal }
        return domainU.withUnsafeBufferPointer { u in domainP.withUnsafeBufferPointer { p in check(u, p, t) } }
    }

    /// Steps until `time` is reached exactly (it becomes a stop), or the integration ends.
    /// `time` must lie ahead of `t` and inside the span.
    public mutating func advance(to time: Double) {
        let dir = setup.direction
        guard dir * (time - _t) > 0, dir * (setup.t1 - time) >= 0 else { return }
        if dir * (setup.t1 - time) > 0 && !stops[nextStop...].contains(time) {
            let at = stops[nextStop...].firstIndex { dir * ($0 - time) > 0 } ?? stops.count
            stops.insert(time, at: at)
        }
        while dir * (time - _t) > 0, step() {}
    }

    /// After `u`, `t` or `p` was changed from outside or by an event: re-evaluate `f` so that
    /// methods which reuse the last stage (FSAL) start from the new state, and forget the
    /// controller's history.
    @inlinable @inline(never)
    mutating func restart() {
        needsRestart = false
        // After `t` was set forward, the save times and stops it jumped over were never
        // integrated: skip them (as reinit does) instead of extrapolating to them.
        let dir = setup.direction
        saved.skip(before: _t)
        while nextStop < stops.count, dir * (stops[nextStop] - _t) <= 0 { nextStop += 1 }
        var du = _u
        f.evaluate(into: &du, _u, _p, _t)
        _stats.nf += 1
        stepper.start(t: _t, u: _u, du: du)
        logErrPrev = Self.logErrFloor
        logErrPrevPrev = Self.logErrFloor
        tPrev = _t
        uPrev = _u
    }

    /// Saves what the options ask for after the accepted step from `tPrev` (state `uPrev`), of
    /// signed size `h`, up to `end` (the step's end, or an event inside it). The state at `end`
    /// is `_u`; the state at the step's own end is `_u`, or `uNew` when an event cut the step.
    @inlinable
    mutating func recordStep(h: Double, end: Double, cut: Bool = false) {
        while let s = saved.pendingTime(upTo: end) {
            if s == end {
                saved.savePending(_u)
            } else {
                var out = _u
                stepper.interpolate(
                    f, _p, theta: (s - tPrev) / h, t: tPrev, dt: h, u: uPrev, uNew: cut ? uNew : _u, into: &out,
                    stats: &_stats)
                saved.savePending(out)
            }
        }
        saved.recordStepEnd(end, _u)
        guard setup.dense else { return }
        // Two calls rather than `uNew: cut ? uNew : _u`: the chosen array was a new reference,
        // retained and released around the append (~40 instructions a step).
        if cut {
            stepper.appendDenseStep(f, _p, t: tPrev, dt: h, end: end, u: uPrev, uNew: uNew, to: &dense, stats: &_stats)
        } else {
            stepper.appendDenseStep(f, _p, t: tPrev, dt: h, end: end, u: uPrev, uNew: _u, to: &dense, stats: &_stats)
        }
    }

    /// The method's interpolant inside the step just accepted (from `tPrev` with size `h`, ending
    /// at `_t` with state `uNew`).
    @inlinable
    mutating func interpolateInStep(_ time: Double, h: Double, into out: inout State) {
        if time == _t {
            for i in 0..<out.count { out[i] = uNew[i] }
            return
        }
        stepper.interpolate(
            f, _p, theta: (time - tPrev) / h, t: tPrev, dt: h, u: uPrev, uNew: uNew, into: &out, stats: &_stats)
    }

    /// Finds the earliest continuous event in the step just accepted, cuts the step there,
    /// applies the affect, then runs the discrete callbacks.
    ///
    /// This and the other event and restart helpers are inlinable so that they specialize with
    /// `step()` in the caller's module: as `@usableFromInline` only, a solve with callbacks ran
    /// them unspecialized, interpolating and calling `f` through witness tables (seen as calls
    /// to the unspecialized symbols in the release binary of rk-bench). `@inline(never)` keeps
    /// them out of `step()`'s body: they are off the hot path of a solve without events.
    @inlinable @inline(never)
    mutating func handleEvents(h: Double) {
        // `uNew` holds the step's end state from here on (the swap put the old buffer there), so
        // the interpolant keeps working while `_u` is moved to an event.
        swap(&_u, &uNew)
        let dir = setup.direction
        // `work` taken out of `self` so that interpolating into it does not overlap the access
        // to `self`; what stands in for it meanwhile is a copy of `_u`, which for an array
        // shares `_u`'s buffer (no allocation) and is never written.
        var probe = _u
        swap(&probe, &work)
        defer { swap(&probe, &work) }
        var earliest: (index: Int, time: Double, up: Bool)?
        // A NaN condition value has no sign: comparisons with 0 would read it as positive and
        // report a crossing that is not there. The solve ends instead (after this step).
        var nanCondition: (index: Int, time: Double)?
        conditions: for (ci, cb) in callbacks.continuous.enumerated() {
            // Condition values at the step's start and end and at interior points; a crossing
            // is a strict sign change between consecutive non-zero values. Right after this
            // callback fired, its value at the start is the handled zero: skip it.
            let points = cb.interpolationPoints + 1
            var prevT = tPrev
            var prevG = cb.condition(uPrev.componentArray, tPrev, f.parameterScalars(_p))
            if prevG.isNaN { nanCondition = (ci, tPrev); break conditions }
            if lastEvent == ci { prevG = 0 }
            for j in 1...points {
                let tj = j == points ? _t : tPrev + h * Double(j) / Double(points)
                if let e = earliest, dir * (tj - e.time) > 0 && j > 1 { break }
                interpolateInStep(tj, h: h, into: &probe)
                let gj = cb.condition(probe.componentArray, tj, f.parameterScalars(_p))
                if gj.isNaN { nanCondition = (ci, tj); break conditions }
                if prevG != 0 && gj != 0 && (prevG < 0) != (gj < 0) {
                    let up = prevG < 0
                    if (up ? cb.affect : cb.affectNeg) != nil {
                        let root = findRoot(
                            { s in
                                self.interpolateInStep(s, h: h, into: &probe)
                                return cb.condition(probe.componentArray, s, self.f.parameterScalars(self._p))
                            }, a: prevT, b: tj, ga: prevG, gb: gj)
                        if earliest == nil || dir * (root - earliest!.time) < 0 {
                            earliest = (ci, root, up)
                        }
                    }
                    break
                }
                if gj != 0 || prevG == 0 {
                    prevG = gj
                    prevT = tj
                }
            }
        }
        lastEvent = nil
        if let bad = nanCondition {
            swap(&_u, &uNew)
            recordStep(h: h, end: _t)
            finish(.failure, "the condition of continuous callback \(bad.index) returned NaN at t = \(bad.time)")
            return
        }
        guard let event = earliest else {
            swap(&_u, &uNew)
            recordStep(h: h, end: _t)
            runDiscreteCallbacks()
            return
        }
        // Cut the step at the event.
        interpolateInStep(event.time, h: h, into: &probe)
        _t = event.time
        swap(&_u, &probe)
        let cb = callbacks.continuous[event.index]
        let savedBefore = saved.count
        recordStep(h: h, end: event.time, cut: true)
        if cb.savePositions.before && !(saved.count > savedBefore && saved.lastTime == event.time) {
            saved.save(event.time, _u)
        }
        var context = EventContext(u: _u.componentArray, p: f.parameterScalars(_p), t: event.time)
        (event.up ? cb.affect : cb.affectNeg)?(&context)
        // The step was cut, so a method's last stage (FSAL) belongs to the uncut step's end: it
        // restarts even when the affect changed nothing (found by the DDE driver: a no-op event
        // at t = 3.3 raised Tsit5's end error at 1e-10 from 4.4e-12 to 6.2e-9).
        applyAffect(context, saveAfter: cb.savePositions.after, cut: true)
        lastEvent = event.index
        // A stop that the cut step would have landed on is still ahead.
        while nextStop > 0 && setup.direction * (stops[nextStop - 1] - _t) > 0 { nextStop -= 1 }
        if _retcode == nil { runDiscreteCallbacks() }
    }

    @inlinable @inline(never)
    mutating func runDiscreteCallbacks() {
        for cb in callbacks.discrete where _retcode == nil {
            guard cb.condition(_u.componentArray, _t, f.parameterScalars(_p)) else { continue }
            if cb.savePositions.before && saved.lastTime != _t { saved.save(_t, _u) }
            var context = EventContext(u: _u.componentArray, p: f.parameterScalars(_p), t: _t)
            cb.affect(&context)
            applyAffect(context, saveAfter: cb.savePositions.after)
        }
    }

    /// Takes over what an affect changed; after a jump in the state the dense output's next step
    /// starts from the new state, and the method restarts from the new values (and always after
    /// a `cut` step, whose state came from the interpolant).
    @inlinable @inline(never)
    mutating func applyAffect(_ context: EventContext<Scalar>, saveAfter: Bool, cut: Bool = false) {
        let p = f.parameterScalars(_p)
        guard context.u.count == _u.count, context.p.count == p.count else {
            finish(.failure, "an event's affect changed the length of u (\(_u.count) -> \(context.u.count)) "
                + "or p (\(p.count) -> \(context.p.count)) at t = \(_t); the state is kept as before the event")
            return
        }
        let changed = context.u != _u.componentArray || context.p != p
        if changed {
            _u = _u.replacingComponents(context.u)
            _p = f.parameters(_p, replacedBy: context.p)
        }
        if saveAfter { saved.save(_t, _u) }
        if changed || (cut && !context.isTerminated) { restart() }
        if context.isTerminated { finish(.terminated, nil) }
    }

    @inlinable
    mutating func finish(_ code: ReturnCode, _ why: String?) {
        _retcode = code
        _message = why
        if code == .dtLessThanMin || code == .unstable, let better = stepper.explainFailure(code) {
            _retcode = better.code
            _message = better.message + (why.map { " (the integrator stopped: \($0))" } ?? "")
        }
        // The state where a failed solve stopped is saved whatever was asked for: with `saveat`
        // past the failure the solution would otherwise end with no trace of how far it got.
        saved.finish(at: _t, _u, failed: !code.isSuccessful)
    }

    /// The dense output to hand to a solution: `nil` without `dense: true` or before the first
    /// step.
    @inlinable var finishedDenseOutput: PiecewisePolynomial<Scalar>? { setup.dense && !dense.isEmpty ? dense : nil }

    /// The dense output of the steps accepted so far (empty without `dense: true`): it grows
    /// with each step, so the solution's past can be read while the integration goes on.
    ///
    /// Lent, not copied (a `_read` accessor): a delay equation's driver reads it after every
    /// step, and a returned copy of the value (six arrays retained and released) was 12 k of
    /// the 402 k instructions of a Hutchinson solve (callgrind).
    @inlinable public var interpolant: PiecewisePolynomial<Scalar> {
        _read { yield dense }
    }

    /// Writes the state at a time already passed (from the first step's start to `t`) into
    /// `out`, from the dense output: what a delay equation reads of its history. Needs
    /// `dense: true`; throws ``InterpolationError/outOfDomain(t:domain:)`` for a time not yet
    /// reached (or NaN) and ``InterpolationError/noDenseOutput`` before the first step.
    @inlinable
    public func interpolate(at time: Double, into out: inout State) throws(InterpolationError) {
        try checkHistory(time, out.count)
        dense.evaluate(at: time, into: &out)
    }

    /// Writes `du/dt` at a time already passed into `out` (see ``interpolate(at:into:)``).
    @inlinable
    public func derivative(at time: Double, into out: inout State) throws(InterpolationError) {
        try checkHistory(time, out.count)
        dense.derivative(at: time, into: &out)
    }

    @inlinable
    func checkHistory(_ time: Double, _ count: Int) throws(InterpolationError) {
        guard setup.dense, !dense.isEmpty else { throw .noDenseOutput }
        let (lo, hi) = dense.domain
        guard count == dense.stateCount else { throw .lengthMismatch(expected: dense.stateCount, got: count) }
        guard time >= lo && time <= hi else { throw .outOfDomain(t: time, domain: lo...hi) }
    }
}

extension ODEIntegrator where F: ODEFunction {
    /// The problem as this integrator resolved it: `u0(p, t0)` and `tspan(p)` evaluated, the
    /// callbacks and the mass matrix (what ``reinit(u0:t0:)`` starts from).
    public var problem: ODEProblem<F> {
        var resolved = ODEProblem(f, u0: u0, tspan: (setup.t0, setup.t1), p: p0)
        resolved.callbacks = callbacks
        resolved.massMatrix = setup.massMatrix
        return resolved
    }

    /// Steps until the end of the span, a terminating event or a failure.
    @inlinable
    public mutating func solve() -> ODESolution<Scalar> {
        while step() {}
        return solution
    }

    /// The solution so far.
    public var solution: ODESolution<Scalar> {
        ODESolution(
            t: saved.times, u: saved.values, retcode: _retcode ?? .default, message: _message, stats: _stats,
            algorithm: stepper.name, denseOutput: finishedDenseOutput)
    }
}

extension ODEIntegrator where F: StaticODEFunction {
    /// The problem this integrator solves (what ``reinit(u0:t0:)`` starts from).
    public var problem: StaticODEProblem<F> {
        StaticODEProblem(f, u0: u0, tspan: (setup.t0, setup.t1), p: p0, callbacks: callbacks)
    }

    /// Steps until the end of the span, a terminating event or a failure.
    @inlinable
    public mutating func solve() -> StaticODESolution<State> {
        while step() {}
        return solution
    }

    /// The solution so far.
    @inlinable
    public var solution: StaticODESolution<State> {
        StaticODESolution(
            t: saved.times, u: saved.values, retcode: _retcode ?? .default, message: _message, stats: _stats,
            algorithm: stepper.name, denseOutput: finishedDenseOutput)
    }
}
