import RandomStreams

/// The state of a ``WienerProcess`` without history or auxiliary process, taken out of the
/// process for a run of fixed steps (``WienerProcess/beginRun()``, given back with
/// ``WienerProcess/endRun(_:)``): the head, the point before it and the stream's position, so
/// that a step's draw reads no path bookkeeping. One component is held in plain stored values
/// (``advance(to:)``); more in the path's own value array, lent for the run
/// (``advance(to:into:)``).
///
/// Each advance is ``BrownianPath/advanceInPlace(to:m:_:_:)`` bit for bit: the new point is
/// `W + √(t − last) z` with the next normals of the lane-0 sequence, components in order, and
/// the increment is its difference from `W`.
///
/// Performance: the scalar EM solve's draw (sde-bench `em-scalar+solve`, callgrind) went from
/// 250 instructions per step through `WienerProcess.advance` (three uniqueness checks on the
/// path's arrays, the guards of the in-place state, a call) to the Philox block and the
/// Box–Muller transform shared by two steps (about 120 per step) plus a few instructions.
@usableFromInline
struct WienerRun: Sendable {
    @usableFromInline let stream: NormalStream
    @usableFromInline let components: Int
    @usableFromInline var normalsUsed: UInt64
    @usableFromInline var spare: Double
    @usableFromInline var previousTime: Double
    @usableFromInline var time: Double
    /// One component: `W` at ``previousTime`` and at ``time``.
    @usableFromInline var previousValue: Double
    @usableFromInline var value: Double
    /// More than one component: `W` at ``previousTime``, then at ``time`` (the path's array);
    /// empty for one.
    @usableFromInline var points: [Double]
    /// Whether a point was drawn since the run began (the path must then be written back).
    @usableFromInline var moved = false

    @inlinable
    init(
        stream: NormalStream, components: Int, normalsUsed: UInt64, spare: Double, previousTime: Double, time: Double,
        previousValue: Double, value: Double, points: [Double]
    ) {
        self.stream = stream
        self.components = components
        self.normalsUsed = normalsUsed
        self.spare = spare
        self.previousTime = previousTime
        self.time = time
        self.previousValue = previousValue
        self.value = value
        self.points = points
    }

    /// Normal `normalsUsed` of the lane-0 sequence (``BrownianPath/nextNormal()``).
    @inlinable @inline(__always)
    mutating func nextNormal() -> Double {
        stream.nextLaneZeroNormal(count: &normalsUsed, spare: &spare)
    }

    /// One component: draws `W(t)` for `t` beyond the head, makes it the head and returns the
    /// increment; `nil`, changing nothing, when `t` is not finite or not beyond the head (the
    /// process itself then reports the error).
    @inlinable @inline(__always)
    mutating func advance(to t: Double) -> Double? {
        // `t > time` already excludes NaN and −∞: `t < ∞` is `t.isFinite` then, in two
        // instructions instead of five.
        guard t > time, t < .infinity else { return nil }
        let scale = (t - time).squareRoot()
        let old = value
        let new = old + scale * nextNormal()
        previousTime = time
        previousValue = old
        time = t
        value = new
        moved = true
        return new - old
    }

    /// More than one component: as ``advance(to:)``, the increments into `dW[0..<components]`;
    /// `false`, changing nothing, when ``advance(to:)`` would return `nil`.
    @inlinable @inline(__always)
    mutating func advance(to t: Double, into dW: inout [Double]) -> Bool {
        guard t > time, t < .infinity else { return false }
        let scale = (t - time).squareRoot()
        let c = components
        stream.stepComponents(
            0..<c, of: &points, components: c, scale: scale, count: &normalsUsed, spare: &spare, increments: &dW)
        previousTime = time
        time = t
        moved = true
        return true
    }
}

extension BrownianPath {
    /// The run of ``WienerRun`` from this path: no history, nothing proposed, and either only the
    /// start or the head the last of two points; otherwise `nil`. With more than one component
    /// the value array goes to the run (room for the second point made in place).
    @inlinable
    mutating func beginRun() -> WienerRun? {
        guard !keepsHistory, pending == nil else { return nil }
        let count = times.count
        guard (count == 1 && head == 0) || (count == 2 && head == 1) else { return nil }
        let c = components
        var points: [Double] = []
        if c == 1 {
            return WienerRun(
                stream: stream, components: 1, normalsUsed: normalsUsed, spare: spare, previousTime: times[0],
                time: times[count - 1], previousValue: values[0], value: values[count - 1], points: points)
        }
        swap(&points, &values)
        // Within the capacity reserved at the start: no allocation.
        if count == 1 { for k in 0..<c { points.append(points[k]) } }
        return WienerRun(
            stream: stream, components: c, normalsUsed: normalsUsed, spare: spare, previousTime: times[0],
            time: times[count - 1], previousValue: 0, value: 0, points: points)
    }

    /// Takes a run back: the state ``advanceInPlace(to:m:_:_:)`` would have left after the same
    /// draws (the head and the point before it).
    @inlinable
    mutating func endRun(_ run: WienerRun) {
        let c = components
        if c > 1 {
            values = run.points
            // Not moved from the start: the room made for the second point goes again.
            if !run.moved && times.count == 1 { values.removeLast(c) }
        }
        guard run.moved else { return }
        normalsUsed = run.normalsUsed
        spare = run.spare
        if times.count == 1 {
            times.append(run.time)
            if c == 1 { values.append(run.value) }
        } else {
            times[1] = run.time
            if c == 1 { values[1] = run.value }
        }
        times[0] = run.previousTime
        if c == 1 { values[0] = run.previousValue }
        head = 1
    }
}

extension WienerProcess {
    /// A ``WienerRun`` of this process when it has no auxiliary process and no history and is
    /// in the state ``advance(to:_:_:)`` steps in place from; otherwise `nil`. Until
    /// ``endRun(_:)`` the process itself is behind the run (with more than one component it has
    /// lent its values).
    @inlinable
    mutating func beginRun() -> WienerRun? {
        guard !hasAuxiliary else { return nil }
        return path.beginRun()
    }

    /// Gives the state of a run from ``beginRun()`` back to the process.
    @inlinable
    mutating func endRun(_ run: WienerRun) { path.endRun(run) }
}
