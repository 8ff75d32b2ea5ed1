/// The saving rules of every solve, in one place: the one loop (``ODEIntegrator``, every state
/// form) and the CVODE session record through it, so that the same options save the same times
/// whatever the method.
///
/// The rules: at the start, the initial point once when every step is saved or nothing else is
/// asked for (`saveat` empty), plus once per `saveat` time equal to `t0`; after each step, every
/// `saveat` time the step reached (its end included), in order, then the step's end when every
/// step is saved; at the end, the final point when only the end is wanted, and the point where a
/// failed solve stopped in any case (so a solution always shows how far it got), never twice in
/// a row. Events save through ``save(_:_:)`` as their callbacks ask.
///
/// The recorder decides the times; the loop supplies the values, from its own interpolant for a
/// `saveat` time inside a step (``pendingTime(upTo:)``, then ``savePending(_:)``), so that
/// recording needs no closure and allocates only when the arrays grow.
@usableFromInline package struct SavingRecorder<Value> {
    /// The `saveat` times, validated and sorted in the direction of integration.
    @usableFromInline package private(set) var saveTimes: [Double]
    @usableFromInline package private(set) var saveEverystep: Bool
    @usableFromInline package private(set) var direction: Double
    /// The first `saveat` time not yet saved.
    @usableFromInline package var nextSave = 0
    @usableFromInline package var times: [Double] = []
    @usableFromInline package var values: [Value] = []

    @inlinable
    package init(saveTimes: [Double], saveEverystep: Bool, direction: Double) {
        self.saveTimes = saveTimes
        self.saveEverystep = saveEverystep
        self.direction = direction
    }

    @inlinable
    package init<S: DiffEqScalar>(_ setup: SolveSetup<S>) {
        self.init(saveTimes: setup.saveTimes, saveEverystep: setup.saveEverystep, direction: setup.direction)
    }

    /// Makes room for `count` saved points.
    @inlinable
    package mutating func reserveCapacity(_ count: Int) {
        times.reserveCapacity(count)
        values.reserveCapacity(count)
    }

    /// The time of the last saved point.
    @inlinable package var lastTime: Double? { times.last }
    /// How many points are saved.
    @inlinable package var count: Int { times.count }

    /// Saves the initial point `(t, u)` as the rules ask (see the type).
    @inlinable
    package mutating func start(at t: Double, _ u: Value) {
        if saveEverystep || saveTimes.isEmpty { save(t, u) }
        while nextSave < saveTimes.count && saveTimes[nextSave] == t {
            save(t, u)
            nextSave += 1
        }
    }

    /// Forgets every saved point and starts the `saveat` times again from `t0` (an integrator's
    /// `reinit`: times before `t0` are skipped, never extrapolated to), keeping the capacity.
    @inlinable
    package mutating func reset(from t0: Double) {
        times.removeAll(keepingCapacity: true)
        values.removeAll(keepingCapacity: true)
        let dir = direction
        nextSave = saveTimes.firstIndex { dir * ($0 - t0) >= 0 } ?? saveTimes.count
    }

    /// Skips the `saveat` times before `t` (the integrator's time was set forward over them: they
    /// were never integrated).
    @inlinable
    package mutating func skip(before t: Double) {
        while nextSave < saveTimes.count, direction * (saveTimes[nextSave] - t) < 0 { nextSave += 1 }
    }

    /// The next `saveat` time that a step ending at `end` reached, if any: save it with
    /// ``savePending(_:)`` (or pass it with ``skipPending()``) before asking again.
    @inlinable @inline(__always)
    package func pendingTime(upTo end: Double) -> Double? {
        guard nextSave < saveTimes.count else { return nil }
        let s = saveTimes[nextSave]
        return direction * (end - s) >= 0 ? s : nil
    }

    /// Saves `u` at the pending `saveat` time (``pendingTime(upTo:)``).
    @inlinable
    package mutating func savePending(_ u: Value) {
        times.append(saveTimes[nextSave])
        values.append(u)
        nextSave += 1
    }

    /// Passes the pending `saveat` time without saving (the value could not be computed).
    @inlinable
    package mutating func skipPending() { nextSave += 1 }

    /// After the `saveat` times of a step: its end `(t, u)`, when every step is saved.
    @inlinable @inline(__always)
    package mutating func recordStepEnd(_ t: Double, _ u: Value) {
        if saveEverystep { save(t, u) }
    }

    /// Saves `(t, u)` (an event's `savePositions`).
    @inlinable
    package mutating func save(_ t: Double, _ u: Value) {
        times.append(t)
        values.append(u)
    }

    /// At the end of the integration (`failed`: it did not succeed), saves `(t, u)` when only the
    /// end is wanted or the solve failed, unless `t` was just saved.
    @inlinable
    package mutating func finish(at t: Double, _ u: Value, failed: Bool) {
        let wantsEnd = !saveEverystep && saveTimes.isEmpty
        if (wantsEnd || failed) && times.last != t { save(t, u) }
    }
}

extension SavingRecorder: Sendable where Value: Sendable {}
