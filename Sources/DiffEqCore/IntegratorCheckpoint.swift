/// What decides the loop's next steps: time, state, proposed step, the controller's memory and
/// the counters the step clipping reads. Restored into the same integrator
/// (``ODEIntegrator/restore(_:)``), the loop takes the same steps again bit for bit, provided
/// the stepper is put back in its own state too (for an SDE method, the noise's position).
/// The checkpointed adjoints take these to redo the steps between two stored states instead of
/// storing every step.
@usableFromInline package struct LoopCheckpoint<State: DiffEqState> {
    @usableFromInline package var t: Double
    @usableFromInline package var u: State
    @usableFromInline package var dt: Double
    @usableFromInline var logErrPrev: Double
    @usableFromInline var logErrPrevPrev: Double
    @usableFromInline var lastWasRejected: Bool
    @usableFromInline var iterations: Int
    @usableFromInline var nextStop: Int
    @usableFromInline var lastEvent: Int?
    @usableFromInline var stats: SolverStats

    @inlinable
    init(
        t: Double, u: State, dt: Double, logErrPrev: Double, logErrPrevPrev: Double, lastWasRejected: Bool, iterations: Int,
        nextStop: Int, lastEvent: Int?, stats: SolverStats
    ) {
        self.t = t
        self.u = u
        self.dt = dt
        self.logErrPrev = logErrPrev
        self.logErrPrevPrev = logErrPrevPrev
        self.lastWasRejected = lastWasRejected
        self.iterations = iterations
        self.nextStop = nextStop
        self.lastEvent = lastEvent
        self.stats = stats
    }
}

extension ODEIntegrator {
    /// A checkpoint of the loop as it is now (its state shares the integrator's buffer until
    /// one of them is written; ``checkpoint(into:)`` then reuses the checkpoint's own).
    @inlinable
    package func checkpoint() -> LoopCheckpoint<State> {
        LoopCheckpoint(
            t: _t, u: _u, dt: _dt, logErrPrev: logErrPrev, logErrPrevPrev: logErrPrevPrev, lastWasRejected: lastWasRejected,
            iterations: iterations, nextStop: nextStop, lastEvent: lastEvent, stats: _stats)
    }

    /// Overwrites `c` with the loop as it is now, copying the state into `c`'s buffer (no
    /// allocation once `c` owns one).
    @inlinable
    package func checkpoint(into c: inout LoopCheckpoint<State>) {
        c.t = _t
        for i in 0..<_u.count { c.u[i] = _u[i] }
        c.dt = _dt
        c.logErrPrev = logErrPrev
        c.logErrPrevPrev = logErrPrevPrev
        c.lastWasRejected = lastWasRejected
        c.iterations = iterations
        c.nextStop = nextStop
        c.lastEvent = lastEvent
        c.stats = _stats
    }

    /// Puts the loop back at `c` (taken from this integrator), unfinished, with the state
    /// copied into the loop's own buffer. The stepper, the parameters, the saved points and the
    /// dense output are left as they are: `saveat` times already passed are not saved again.
    @inlinable
    package mutating func restore(_ c: LoopCheckpoint<State>) {
        _t = c.t
        tPrev = c.t
        for i in 0..<_u.count { _u[i] = c.u[i] }
        _dt = c.dt
        logErrPrev = c.logErrPrev
        logErrPrevPrev = c.logErrPrevPrev
        lastWasRejected = c.lastWasRejected
        iterations = c.iterations
        nextStop = c.nextStop
        lastEvent = c.lastEvent
        _stats = c.stats
        _retcode = nil
        _message = nil
        needsRestart = false
    }

    /// Gives `body` the stepper to change in place (to put its own state back with a checkpoint).
    @inlinable
    package mutating func withStepper<R, E: Error>(_ body: (inout Stepper) throws(E) -> R) throws(E) -> R {
        try body(&stepper)
    }

    /// The last accepted step: its start time and state and its signed size.
    @inlinable package var lastStep: (t: Double, u: State, h: Double) { (tPrev, uPrev, hPrev) }
}
