// The loop shared by the fixed-size integrators (ExplicitRK's StaticRKIntegrator, StiffSolvers'
// StaticRosenbrockIntegrator): ODEIntegrator's bookkeeping (stops, saving, step-size control,
// failure handling) on a state held by value. A method supplies its attempt, what it keeps on
// acceptance and its dense output; the protocol extension supplies the rest. Everything on the
// step's path is @inlinable, so a solve specializes for the concrete integrator and `f` as
// before: no existentials, no closures. Two things that cost time when first written this way
// (rk-bench, rosen-step-bench): in `step()`, reading parts of `loop` as arguments of a call
// beside other reads of `self` made the optimizer copy the whole of `loop` (arrays retained) at
// every accepted step, +20 % per Tsit5 step; and the start (`begin`, the initial step) runs as
// generic code in the integrators' initializers, where each read of `setup` or `loop` copies
// the whole value, so it reads each once (read per use: some 3 µs per solve).

/// The time, state, controller history, counters and saved values of a fixed-size integrator:
/// what ``StaticIntegrator``'s shared loop reads and writes.
public struct StaticIntegratorState<State: StaticState> {
    @usableFromInline package var t: Double
    @usableFromInline package var u: State
    /// Signed size of the next attempt.
    @usableFromInline package var dt: Double
    /// The attempt's proposed state, written by ``StaticIntegrator/attempt(h:)``.
    @usableFromInline package var uNew: State
    /// The start of the step just accepted.
    @usableFromInline package var tPrev: Double
    @usableFromInline package var uPrev: State
    @usableFromInline package var retcode: ReturnCode?
    @usableFromInline package var message: String?
    @usableFromInline package var stats = SolverStats()
    /// `log` of the previous accepted error, floored at 1e-4 (as ``ODEIntegrator``).
    @usableFromInline package var logErrPrev = PIController.logErrorFloor
    /// The error before that, for a PID controller given in the options.
    @usableFromInline package var logErrPrevPrev = PIController.logErrorFloor
    @usableFromInline package var lastWasRejected = false
    @usableFromInline package var iterations = 0
    @usableFromInline package var nextStop = 0
    /// What is saved; its rules are taken from the setup in ``begin(dt:evaluations:setup:)``.
    @usableFromInline package var saved = SavingRecorder<State>(saveTimes: [], saveEverystep: false, direction: 1)
    /// The saved times and states.
    @inlinable package var savedT: [Double] { saved.times }
    @inlinable package var savedU: [State] { saved.values }

    @inlinable
    package init(t0: Double, u0: State) {
        t = t0
        u = u0
        dt = 0
        uNew = u0
        tPrev = t0
        uPrev = u0
    }

    /// The first step `dt` chosen with `evaluations` of `f`; saves the initial state as the
    /// options ask.
    @inlinable
    package mutating func begin(dt: Double, evaluations: Int, setup: SolveSetup<State.Scalar>) {
        self.dt = dt
        stats.nf += evaluations
        saved.configure(setup)
        let (t, u) = (self.t, self.u)
        saved.start(at: t, u)
    }

    /// Back to `u0` at `t0` with fresh counters, keeping the saved arrays' capacity.
    @inlinable
    package mutating func reset(t0: Double, u0: State) {
        u = u0
        t = t0
        tPrev = t0
        uPrev = u0
        retcode = nil
        message = nil
        stats = SolverStats()
        logErrPrev = PIController.logErrorFloor
        logErrPrevPrev = PIController.logErrorFloor
        lastWasRejected = false
        iterations = 0
        nextStop = 0
        saved.reset(from: t0)
    }
}

extension SolveSetup {
    /// The array form's checks and setup for a fixed-size problem on the frozen fixed-size loop
    /// (the Rosenbrock methods), which keeps no dense output and has no events or
    /// `isOutOfDomain` test. (Inlinable, with ``abstol(as:)``, so that reading the
    /// fixed-size values specializes: as generic code they cost some 10,000 instructions per
    /// solve, 140 per step of a HIRES Rodas5P solve.)
    @inlinable
    package static func staticForm<F: StaticODEFunction>(_ problem: StaticODEProblem<F>, _ options: SolveOptions)
        throws(DiffEqError) -> SolveSetup<Scalar> where F.State.Scalar == Scalar
    {
        if options.dense == true {
            throw .unsupported("a fixed-size (StaticODEProblem) solve keeps no dense output: use saveat")
        }
        if options.isOutOfDomain != nil {
            throw .unsupported("a fixed-size (StaticODEProblem) solve has no isOutOfDomain test: use the array form")
        }
        if !problem.callbacks.isEmpty {
            throw .unsupported("this method's fixed-size (StaticODEProblem) solve has no events: use the array form")
        }
        var plain = options
        plain.dense = false
        return try SolveSetup(u0: problem.u0.components, tspan: problem.tspan, massMatrix: nil, plain)
    }

    /// The absolute tolerances as a fixed-size value (constants: no partials).
    @inlinable
    package func abstol<State: StaticState>(as _: State.Type) -> State where State.Scalar == Scalar {
        State().assigning(primal: abstol)
    }
}

/// A fixed-size integrator (``StaticODEProblem``): one method's step inside ``ODEIntegrator``'s
/// loop, operation for operation, so that both forms give the same steps and the same numbers.
///
/// A conforming type keeps its method's caches and supplies the requirements below; the
/// extension supplies `step()`, `solve()`, `reinit(u0:)`, saving, stopping and the public
/// accessors. The requirements are what the loop asks of a method, not for use on their own.
public protocol StaticIntegrator {
    associatedtype Function: StaticODEFunction
    typealias State = Function.State

    /// The problem's right-hand side and parameters.
    var f: Function { get }
    var p: Function.Parameters { get }

    /// The validated options.
    var setup: SolveSetup<State.Scalar> { get }
    /// The loop's state.
    var loop: StaticIntegratorState<State> { get set }
    /// The method's name, reported on the solution.
    var algorithmName: String { get }
    /// Order of the propagated solution (for the automatic initial step).
    var order: Int { get }
    /// Whether the error estimate controls the step.
    var isAdaptive: Bool { get }
    /// The step-size controller tuned for the method (the options' ``SolveSetup/controller``
    /// replaces it).
    var controller: PIController { get }
    /// The order `k` of the I and PID controllers' exponents (``ODEStepper/controllerOrder``).
    var controllerOrder: Int { get }

    /// Called at the start (and after ``reinit(u0:)``) with `f(t0, u0)`.
    mutating func start(du0: State)
    /// Called by ``reinit(u0:)`` before ``start(du0:)``: forget what the method kept of the
    /// previous solve.
    mutating func restart()
    /// Attempts a step of signed size `h` from `(loop.t, loop.u)` into `loop.uNew`; returns the
    /// scaled RMS error (0 for fixed-step methods; NaN rejects the attempt).
    mutating func attempt(h: Double) -> Double
    /// The attempt just made was accepted (`loop` already holds the new time and state).
    mutating func acceptAttempt()
    /// The method's dense output at `loop.tPrev + theta*dt` inside the step of size `dt` just
    /// accepted.
    mutating func interpolate(theta: Double, dt: Double) -> State
    /// The integration is about to stop with `code`: a method that knows a more specific cause
    /// returns its code and message; `nil` keeps the loop's.
    func explainFailure(_ code: ReturnCode, _ why: String?) -> (code: ReturnCode, message: String)?
}

extension StaticIntegrator {
    /// `f(u, p, t)`, outside the step (initial step size).
    @inlinable
    package func evaluate(_ u: State, at t: Double) -> State {
        f(u, p, t)
    }

    @inlinable
    public func explainFailure(_ code: ReturnCode, _ why: String?) -> (code: ReturnCode, message: String)? { nil }

    /// Current time.
    @inlinable public var t: Double { loop.t }
    /// Current state.
    @inlinable public var u: State { loop.u }
    /// Signed size of the next step attempt; setting it overrides the controller once. As in
    /// ``ODEIntegrator/dt``: the magnitude is taken in the direction of integration, and a zero
    /// or non-finite value ends the integration with ``ReturnCode/failure`` and a message.
    @inlinable public var dt: Double {
        get { loop.dt }
        set {
            guard newValue.isFinite, newValue != 0 else {
                finish(.failure, "dt was set to \(newValue); it must be finite and non-zero")
                return
            }
            loop.dt = setup.direction * Swift.abs(newValue)
        }
    }
    /// Why the integration stopped; `nil` while it can continue.
    @inlinable public var retcode: ReturnCode? { loop.retcode }
    @inlinable public var message: String? { loop.message }
    @inlinable public var stats: SolverStats { loop.stats }
    @inlinable public var isFinished: Bool { loop.retcode != nil }

    /// The solution so far.
    @inlinable public var solution: StaticODESolution<State> {
        StaticODESolution(
            t: loop.savedT, u: loop.savedU, retcode: loop.retcode ?? .default, message: loop.message,
            stats: loop.stats, algorithm: algorithmName)
    }

    /// Evaluates `f` at the start, chooses the first step and saves the initial state. (`setup`
    /// and `loop` read once each: the integrators' initializers run this generic code, where
    /// every access to a requirement copies the whole value.)
    @inlinable
    package mutating func begin() {
        let setup = self.setup
        let (t, u) = (loop.t, loop.u)
        let du0 = evaluate(u, at: t)
        var evaluations = 1
        let dt: Double
        if let h = setup.dt {
            dt = setup.direction * Swift.min(h, setup.dtmax)
        } else {
            dt = setup.direction * initialStepSize(t: t, u: u, du0: du0, setup: setup)
            evaluations += 1
        }
        start(du0: du0)
        loop.begin(dt: dt, evaluations: evaluations, setup: setup)
    }

    /// Hairer, Nørsett & Wanner's starting step (Solving ODEs I, §II.4), as ``ODEIntegrator``
    /// (one evaluation of `f`).
    @inlinable
    package func initialStepSize(t: Double, u: State, du0: State, setup: SolveSetup<State.Scalar>) -> Double {
        let n = setup.count
        var d0 = 0.0, d1 = 0.0
        for i in 0..<n {
            let sc = errorWeight(abstol: setup.abstol[i], reltol: setup.reltol, u[i].primal)
            d0 += u[i].sumOfSquaredComponents / (sc * sc)
            d1 += du0[i].sumOfSquaredComponents / (sc * sc)
        }
        let m = Double(n * State.Scalar.componentCount)
        d0 = (d0 / m).squareRoot()
        d1 = (d1 / m).squareRoot()
        let h0 = initialTrialStep(d0: d0, d1: d1, dtmax: setup.dtmax)
        let u1 = u + du0 * (setup.direction * h0)
        let du1 = evaluate(u1, at: t + setup.direction * h0)
        var d2 = 0.0
        for i in 0..<n {
            let sc = errorWeight(abstol: setup.abstol[i], reltol: setup.reltol, u[i].primal)
            d2 += (du1[i] - du0[i]).sumOfSquaredComponents / (sc * sc)
        }
        d2 = (d2 / m).squareRoot() / h0
        return initialStep(h0: h0, d1: d1, d2: d2, order: order, dtmax: setup.dtmax)
    }

    /// Takes one accepted step (with as many rejected attempts as needed). Returns `false` once
    /// the integration is finished (`retcode` says why).
    @inlinable @discardableResult
    public mutating func step() -> Bool {
        guard loop.retcode == nil else { return false }
        let dir = setup.direction
        let adaptive = isAdaptive
        var sawNonFinite = false
        while true {
            if loop.iterations >= setup.maxiters {
                finish(.maxIters, "reached maxiters = \(setup.maxiters) at t = \(loop.t)")
                return false
            }
            let target = loop.nextStop < setup.tstops.count ? setup.tstops[loop.nextStop] : setup.t1
            let (h, landing) = clippedStep(from: loop.t, dt: loop.dt, toward: target, direction: dir, steps: loop.stats.naccept)
            loop.iterations += 1
            let err = attempt(h: h)
            let finite = err.isFinite && loop.uNew.isFiniteState
            if finite && (err <= 1 || !adaptive) {
                loop.stats.naccept += 1
                loop.tPrev = loop.t
                loop.t = landing ? target : loop.t + h
                loop.uPrev = loop.u
                loop.u = loop.uNew
                acceptAttempt()
                if landing && loop.nextStop < setup.tstops.count { loop.nextStop += 1 }
                if adaptive {
                    // `loop`'s parts read into locals one statement at a time: as arguments of
                    // the call beside other reads of `self`, the optimizer copied the whole of
                    // `loop` (arrays retained) at every step. (Two `inout` parts of a protocol
                    // requirement would overlap anyway.)
                    let afterRejection = loop.lastWasRejected
                    var dt = loop.dt
                    if let custom = setup.controller {
                        var history = ControllerHistory(logErrPrev: loop.logErrPrev, logErrPrevPrev: loop.logErrPrevPrev)
                        custom.update(
                            afterAccepting: err, step: h, landing: landing, afterRejection: afterRejection, dt: &dt,
                            history: &history, order: controllerOrder, direction: dir, dtmax: setup.dtmax)
                        loop.logErrPrev = history.logErrPrev
                        loop.logErrPrevPrev = history.logErrPrevPrev
                    } else {
                        var logErrPrev = loop.logErrPrev
                        controller.update(
                            afterAccepting: err, step: h, landing: landing, afterRejection: afterRejection, dt: &dt,
                            logErrPrev: &logErrPrev, direction: dir, dtmax: setup.dtmax)
                        loop.logErrPrev = logErrPrev
                    }
                    loop.dt = dt
                }
                loop.lastWasRejected = false
                recordStep(h: h)
                if landing && loop.t == setup.t1 { finish(.success, nil) }
                return loop.retcode == nil
            }
            if !finite { sawNonFinite = true }
            loop.lastWasRejected = true
            let t = loop.t
            let dtFloor = stepFloor(at: t, dtmin: setup.dtmin)
            var stats = loop.stats
            let (dt, failure): (Double, (ReturnCode, String)?)
            if let custom = setup.controller {
                (dt, failure) = rejectAttempt(
                    h: h, err: err, nonFinite: !finite, sawNonFinite: sawNonFinite, adaptive: adaptive,
                    controller: custom, order: controllerOrder, t: t, dtFloor: dtFloor, stats: &stats)
            } else {
                (dt, failure) = rejectAttempt(
                    h: h, err: err, nonFinite: !finite, sawNonFinite: sawNonFinite, adaptive: adaptive,
                    controller: controller, order: controllerOrder, t: t, dtFloor: dtFloor, stats: &stats)
            }
            loop.stats = stats
            loop.dt = dt
            if let (code, message) = failure {
                finish(code, message)
                return false
            }
        }
    }

    /// Saves what the options ask for after the accepted step from `tPrev` of size `h`.
    @inlinable
    package mutating func recordStep(h: Double) {
        let end = loop.t
        while let time = loop.saved.pendingTime(upTo: end) {
            let value = time == end ? loop.u : interpolate(theta: (time - loop.tPrev) / h, dt: h)
            // `value` is a local: saving it does not read `loop` (see below).
            loop.saved.savePending(value)
        }
        // Read into locals first, in their own statement: as the argument of a call on another
        // part of `loop`, `loop.u` was read through a copy of the whole of `loop` that lived
        // until the call returned (unspecialized code, as in a debug build), so the saved arrays
        // were shared during every append and copied in full: a solve that saved every step was
        // quadratic in its steps (242,903 steps: 33.8 s).
        let (t, u) = (loop.t, loop.u)
        loop.saved.recordStepEnd(t, u)
    }

    /// Ends the integration with `code` (or the method's more specific cause) and saves the
    /// final state when nothing else was asked for or the integration failed.
    @inlinable
    package mutating func finish(_ code: ReturnCode, _ why: String?) {
        loop.retcode = code
        loop.message = why
        if let (specific, message) = explainFailure(code, why) {
            loop.retcode = specific
            loop.message = message
        }
        // The end when only the end is wanted; the state where a failed solve stopped in any
        // case (the rules of every loop, ``SavingRecorder``).
        let (t, u, failed) = (loop.t, loop.u, !(loop.retcode ?? code).isSuccessful)
        loop.saved.finish(at: t, u, failed: failed)
    }

    /// Starts again from `u0` (default: the problem's) at the problem's `t0`, keeping every
    /// buffer's capacity.
    @inlinable
    public mutating func reinit(u0: State? = nil) throws(DiffEqError) {
        let setup = self.setup
        var start = State()
        if let u0 { start = u0 } else { start = start.assigning(setup.u0) }
        guard start.isFiniteState else {
            throw .nonFiniteInitialState(component: (0..<setup.count).first { !start[$0].isFiniteScalar } ?? 0)
        }
        loop.reset(t0: setup.t0, u0: start)
        restart()
        begin()
    }

    /// Steps until the end of the span or a failure.
    @inlinable
    public mutating func solve() -> StaticODESolution<State> {
        while step() {}
        return solution
    }
}
