import RandomStreams

/// The state of a one-component ``WienerProcess`` without history, taken out of the process for
/// a run of fixed steps (``WienerProcess/beginScalarRun()``, given back with
/// ``WienerProcess/endScalarRun(_:)``): the head, the point before it and the stream's position,
/// in plain stored values, so that a step's draw reads and writes no array.
///
/// ``advance(to:)`` is ``BrownianPath/advanceInPlace(to:m:_:_:)`` of one component, bit for bit:
/// the new point is `W + √(t − last) z` with the next normal of the lane-0 sequence, and the
/// increment is its difference from `W`.
///
/// Performance: the scalar EM solve's draw (sde-bench `em-scalar+solve`, callgrind) went from
/// 250 instructions per step through `WienerProcess.advance` (three uniqueness checks on the
/// path's arrays, the guards of the in-place state, a call) to the Philox block and the
/// Box–Muller transform shared by two steps plus a few instructions.
@usableFromInline
struct ScalarWienerRun: Sendable {
    @usableFromInline let stream: NormalStream
    @usableFromInline var normalsUsed: UInt64
    @usableFromInline var spare: Double
    @usableFromInline var previousTime: Double
    @usableFromInline var previousValue: Double
    @usableFromInline var time: Double
    @usableFromInline var value: Double
    /// Whether a point was drawn since the run began (the path must then be written back).
    @usableFromInline var moved = false

    @inlinable
    init(
        stream: NormalStream, normalsUsed: UInt64, spare: Double, previousTime: Double, previousValue: Double,
        time: Double, value: Double
    ) {
        self.stream = stream
        self.normalsUsed = normalsUsed
        self.spare = spare
        self.previousTime = previousTime
        self.previousValue = previousValue
        self.time = time
        self.value = value
    }

    /// Draws `W(t)` for `t` beyond the head, makes it the head and returns the increment; `nil`,
    /// changing nothing, when `t` is not finite or not beyond the head (the process itself then
    /// reports the error).
    @inlinable @inline(__always)
    mutating func advance(to t: Double) -> Double? {
        guard t > time, t.isFinite else { return nil }
        let scale = (t - time).squareRoot()
        let n = normalsUsed
        normalsUsed = n &+ 1
        let z: Double
        if n & 1 != 0 {
            z = spare
        } else {
            let (a, b) = stream.pair(index: n >> 1, lane: 0)
            spare = b
            z = a
        }
        let old = value
        let new = old + scale * z
        previousTime = time
        previousValue = old
        time = t
        value = new
        moved = true
        return new - old
    }
}

extension BrownianPath {
    /// The run of ``ScalarWienerRun`` from this path: one component, no history, nothing
    /// proposed, and either only the start or the head the last of two points; otherwise `nil`.
    @inlinable
    func beginScalarRun() -> ScalarWienerRun? {
        guard components == 1, !keepsHistory, pending == nil else { return nil }
        let count = times.count
        guard (count == 1 && head == 0) || (count == 2 && head == 1) else { return nil }
        return ScalarWienerRun(
            stream: stream, normalsUsed: normalsUsed, spare: spare, previousTime: times[0], previousValue: values[0],
            time: times[count - 1], value: values[count - 1])
    }

    /// Writes a run back: the state ``advanceInPlace(to:m:_:_:)`` would have left after the
    /// same draws (the head and the point before it).
    @inlinable
    mutating func endScalarRun(_ run: ScalarWienerRun) {
        guard run.moved else { return }
        normalsUsed = run.normalsUsed
        spare = run.spare
        if times.count == 1 {
            times.append(run.time)
            values.append(run.value)
        } else {
            times[1] = run.time
            values[1] = run.value
        }
        times[0] = run.previousTime
        values[0] = run.previousValue
        head = 1
    }
}

extension WienerProcess {
    /// A ``ScalarWienerRun`` of this process when it has one component, no auxiliary process
    /// and no history and is in the state ``advance(to:_:_:)`` steps in place from; otherwise
    /// `nil`. Until ``endScalarRun(_:)`` the process itself is behind the run.
    @inlinable
    func beginScalarRun() -> ScalarWienerRun? {
        guard wienerCount == 1, !hasAuxiliary else { return nil }
        return path.beginScalarRun()
    }

    /// Gives the state of a run from ``beginScalarRun()`` back to the process.
    @inlinable
    mutating func endScalarRun(_ run: ScalarWienerRun) { path.endScalarRun(run) }
}
