/// The shared integrator loop of every native method: step-size control, stops, saving,
/// failure handling. Create one with an algorithm's `init`, then `solve()` it or drive it with
/// `step()`.
///
/// The state `u`, time `t` and next step `dt` are readable; the loop allocates nothing per step
/// (saving a step copies the state into the solution, which is the point of saving it).
public struct ODEIntegrator<Stepper: ODEStepper> {
    public typealias F = Stepper.Function
    public typealias Scalar = F.Scalar

    public let problem: ODEProblem<F>
    public let setup: SolveSetup<Scalar>
    @usableFromInline var stepper: Stepper
    @usableFromInline let f: F
    @usableFromInline let p: [Scalar]
    @usableFromInline let scale: ErrorScale

    @usableFromInline var _t: Double
    @usableFromInline var _u: [Scalar]
    @usableFromInline var _dt: Double
    @usableFromInline var _retcode: ReturnCode?
    @usableFromInline var _message: String?
    @usableFromInline var _stats = SolverStats()
    /// Set when the state or time was changed from outside: the next step re-evaluates `f`.
    @usableFromInline var needsRestart = false

    /// Current time. Setting it (as `set_t!` does) restarts the method at the new time.
    public var t: Double {
        get { _t }
        set { _t = newValue; needsRestart = true }
    }
    /// Current state. Setting it (as `set_u!` does) restarts the method from the new state.
    public var u: [Scalar] {
        get { _u }
        set {
            precondition(newValue.count == _u.count, "the state must keep its length")
            _u = newValue
            needsRestart = true
        }
    }
    /// Signed size of the next step attempt; setting it overrides the controller once.
    public var dt: Double {
        get { _dt }
        set { _dt = newValue }
    }
    /// Why the integration stopped; `nil` while it can continue.
    public var retcode: ReturnCode? { _retcode }
    /// The explanation that goes with a failure.
    public var message: String? { _message }
    /// Work counters so far.
    public var stats: SolverStats { _stats }

    @usableFromInline var uNew: [Scalar]
    @usableFromInline var work: [Scalar]
    @usableFromInline var tPrev: Double
    @usableFromInline var uPrev: [Scalar]
    @usableFromInline var errPrev: Double = 1e-4
    @usableFromInline var lastWasRejected = false
    @usableFromInline var iterations = 0
    @usableFromInline var nextStop = 0
    @usableFromInline var nextSave = 0
    /// Step-size control is on: the method estimates its error and the options allow it.
    @usableFromInline let adaptive: Bool

    // What is saved.
    @usableFromInline var savedT: [Double] = []
    @usableFromInline var savedU: [[Scalar]] = []
    @usableFromInline var denseT: [Double] = []
    @usableFromInline var denseU: [[Scalar]] = []
    @usableFromInline var denseData: [[Scalar]] = []

    /// Validates the input, evaluates `f(t0, u0)` and chooses the initial step.
    public init(_ problem: ODEProblem<F>, stepper: Stepper, options: SolveOptions) throws(DiffEqError) {
        let setup = try SolveSetup(problem, options)
        if !stepper.isAdaptive && setup.dt == nil {
            throw .invalidStepOption("\(stepper.name) is a fixed-step method: give dt")
        }
        self.problem = problem
        self.setup = setup
        self.stepper = stepper
        self.adaptive = stepper.isAdaptive && setup.adaptive
        self.f = problem.f
        self.p = problem.p
        self.scale = ErrorScale(reltol: setup.reltol, abstol: setup.abstol)
        self._t = setup.t0
        self._u = setup.u0
        self.tPrev = setup.t0
        self.uPrev = setup.u0
        self.uNew = setup.u0
        self.work = setup.u0
        self._dt = 0
        var du0 = setup.u0
        f(&du0, _u, p, Scalar(_t))
        _stats.nf += 1
        if let h = setup.dt {
            _dt = setup.direction * Swift.min(h, setup.dtmax)
        } else {
            _dt = setup.direction * initialStepSize(du0: du0)
        }
        self.stepper.start(t: _t, u: _u, du: du0)
        if setup.saveEverystep || setup.saveTimes.isEmpty {
            savedT.append(_t)
            savedU.append(_u)
        }
        while nextSave < setup.saveTimes.count && setup.saveTimes[nextSave] == setup.t0 {
            savedT.append(_t)
            savedU.append(_u)
            nextSave += 1
        }
        if setup.dense {
            denseT.append(_t)
            denseU.append(_u)
        }
    }

    /// The automatic initial step of Hairer, Nørsett & Wanner, Solving ODEs I, §II.4
    /// ("Starting step size"), in the error weights of the solve.
    @usableFromInline
    mutating func initialStepSize(du0: [Scalar]) -> Double {
        let n = _u.count
        var d0 = 0.0, d1 = 0.0
        for i in 0..<n {
            let sc = setup.abstol[i] + setup.reltol * Swift.abs(_u[i].primal)
            d0 += _u[i].sumOfSquaredComponents / (sc * sc)
            d1 += du0[i].sumOfSquaredComponents / (sc * sc)
        }
        let m = Double(n * Scalar.componentCount)
        d0 = (d0 / m).squareRoot()
        d1 = (d1 / m).squareRoot()
        var h0 = (d0 < 1e-5 || d1 < 1e-5) ? 1e-6 : 0.01 * d0 / d1
        h0 = Swift.min(h0, setup.dtmax)
        if !h0.isFinite { h0 = 1e-6 }
        for i in 0..<n { work[i] = _u[i] + du0[i].scaled(by: setup.direction * h0) }
        f(&uNew, work, p, Scalar(_t + setup.direction * h0))
        _stats.nf += 1
        var d2 = 0.0
        for i in 0..<n {
            let sc = setup.abstol[i] + setup.reltol * Swift.abs(_u[i].primal)
            d2 += (uNew[i] - du0[i]).sumOfSquaredComponents / (sc * sc)
        }
        d2 = (d2 / m).squareRoot() / h0
        let dmax = Swift.max(d1, d2)
        var h1: Double
        if !dmax.isFinite {
            h1 = h0 * 1e-3
        } else if dmax <= 1e-15 {
            h1 = Swift.max(1e-6, h0 * 1e-3)
        } else {
            h1 = Double.pow(0.01 / dmax, 1.0 / Double(stepper.order + 1))
        }
        return Swift.min(100 * h0, h1, setup.dtmax)
    }

    /// Whether the integration has reached the end or stopped.
    @inlinable public var isFinished: Bool { _retcode != nil }

    /// The smallest step magnitude allowed at the current time: the user's `dtmin`, and never
    /// below what the floating-point resolution of `t` can represent.
    @inlinable var dtFloor: Double {
        Swift.max(setup.dtmin, 4 * Swift.abs(_t).ulp, 4 * Double.leastNormalMagnitude)
    }

    /// Takes one accepted step (with as many rejected attempts as needed). Returns `false` once
    /// the integration is finished (`retcode` says why).
    @inlinable @discardableResult
    public mutating func step() -> Bool {
        guard _retcode == nil else { return false }
        if needsRestart { restart() }
        let dir = setup.direction
        var sawNonFinite = false
        while true {
            if iterations >= setup.maxiters {
                finish(.maxIters, "reached maxiters = \(setup.maxiters) at t = \(_t)")
                return false
            }
            // Clip the step so that it lands exactly on the next stop or the end.
            let target = nextStop < setup.tstops.count ? setup.tstops[nextStop] : setup.t1
            var h = _dt
            var landing = false
            if dir * (_t + h - target) >= -1e-12 * Swift.abs(h) {
                h = target - _t
                landing = true
            }
            iterations += 1
            let err = stepper.attempt(f, p, t: _t, dt: h, u: _u, uNew: &uNew, tolerance: scale, stats: &_stats)
            var finite = err.isFinite
            if finite {
                for i in uNew.indices where !uNew[i].isFiniteScalar {
                    finite = false
                    break
                }
            }
            if !finite {
                // A non-finite value is a rejected step with a much smaller step size: it may
                // be a blow-up the method stepped over, or a genuine singularity.
                sawNonFinite = true
                _stats.nreject += 1
                lastWasRejected = true
                _dt = h * 0.1
                if !adaptive || Swift.abs(_dt) < dtFloor {
                    finish(.unstable, "f returned NaN or Inf near t = \(_t) and reducing dt did not avoid it")
                    return false
                }
                continue
            }
            if err <= 1 || !adaptive {
                _stats.naccept += 1
                tPrev = _t
                _t = landing ? target : _t + h
                swap(&uPrev, &_u)
                swap(&_u, &uNew)
                stepper.accept()
                if landing && nextStop < setup.tstops.count { nextStop += 1 }
                if adaptive {
                    var q = stepper.controller.acceptedFactor(err: err, previous: errPrev)
                    if lastWasRejected { q = Swift.min(q, 1) }
                    errPrev = Swift.max(err, 1e-4)
                    // A step clipped to land on a stop says nothing about the natural step.
                    let base = landing && Swift.abs(h) < Swift.abs(_dt) ? _dt : h * q
                    _dt = dir * Swift.min(Swift.abs(base), setup.dtmax)
                }
                lastWasRejected = false
                recordStep(h: h)
                if landing && _t == setup.t1 { finish(.success, nil) }
                return _retcode == nil
            }
            _stats.nreject += 1
            lastWasRejected = true
            _dt = h * stepper.controller.rejectedFactor(err: err)
            if Swift.abs(_dt) < dtFloor {
                finish(
                    sawNonFinite ? .unstable : .dtLessThanMin,
                    "step size \(Swift.abs(_dt)) fell below dtmin \(dtFloor) at t = \(_t)")
                return false
            }
        }
    }

    /// After `u` or `t` was changed from outside: re-evaluate `f` so that methods which reuse
    /// the last stage (FSAL) start from the new state, and forget the controller's history.
    @usableFromInline
    mutating func restart() {
        needsRestart = false
        var du = _u
        f(&du, _u, p, Scalar(_t))
        _stats.nf += 1
        stepper.start(t: _t, u: _u, du: du)
        errPrev = 1e-4
        tPrev = _t
        uPrev = _u
    }

    /// Saves what the options ask for after the accepted step from `tPrev` to `t`.
    @inlinable
    mutating func recordStep(h: Double) {
        let dir = setup.direction
        while nextSave < setup.saveTimes.count {
            let s = setup.saveTimes[nextSave]
            guard dir * (_t - s) >= 0 else { break }
            if s == _t {
                savedU.append(_u)
            } else {
                var out = _u
                stepper.interpolate(
                    f, p, theta: (s - tPrev) / h, t: tPrev, dt: h, u: uPrev, uNew: _u, into: &out,
                    stats: &_stats)
                savedU.append(out)
            }
            savedT.append(s)
            nextSave += 1
        }
        if setup.saveEverystep {
            savedT.append(_t)
            savedU.append(_u)
        }
        if setup.dense {
            denseData.append(
                stepper.denseStepData(f, p, t: tPrev, dt: h, u: uPrev, uNew: _u, stats: &_stats))
            denseT.append(_t)
            denseU.append(_u)
        }
    }

    @inlinable
    mutating func finish(_ code: ReturnCode, _ why: String?) {
        _retcode = code
        _message = why
        // Save the final state once when only the end is wanted.
        if !setup.saveEverystep && setup.saveTimes.isEmpty && savedT.last != _t {
            savedT.append(_t)
            savedU.append(_u)
        }
    }

    /// Steps until the end of the span or a failure.
    @inlinable
    public mutating func solve() -> ODESolution<Scalar> {
        while step() {}
        return solution
    }

    /// The solution so far.
    public var solution: ODESolution<Scalar> {
        let dense: (any DenseOutput<Scalar>)? =
            setup.dense && denseT.count >= 2
            ? stepper.makeDenseOutput(times: denseT, states: denseU, data: denseData) : nil
        return ODESolution(
            t: savedT, u: savedU, retcode: _retcode ?? .default, message: _message, stats: _stats,
            algorithm: stepper.name, denseOutput: dense)
    }
}
