/// What decides the loop's next steps: time, state, proposed step, the controller's memory and
/// the counters the step clipping reads. Restored into the same integrator
/// (``ODEIntegrator/restore(_:)``), the loop takes the same steps again bit for bit, provided
/// the stepper is put back in its own state too (for an SDE method, the noise's position).
/// The checkpointed adjoints take these to redo the steps between two stored states instead of
/// storing every step.
@usableFromInline package struct LoopCheckpoint<State: DiffEqState> {
    @usableFromInline package var t = 0.0
    @usableFromInline package var u: State
    @usableFromInline package var dt = 0.0
    @usableFromInline var logErrPrev = 0.0
    @usableFromInline var logErrPrevPrev = 0.0
    @usableFromInline var lastWasRejected = false
    @usableFromInline var iterations = 0
    @usableFromInline var nextStop = 0
    @usableFromInline var lastEvent: Int?
    @usableFromInline var stats = SolverStats()

    /// Its state buffer starts as `u`'s (shared until written).
    @inlinable
    init(u: State) { self.u = u }
}

extension ODEIntegrator {
    /// A checkpoint of the loop as it is now, with a state buffer of its own (which
    /// ``checkpoint(into:)`` then reuses).
    @inlinable
    package func checkpoint() -> LoopCheckpoint<State> {
        var c = LoopCheckpoint(u: _u)
        checkpoint(into: &c)
        return c
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
