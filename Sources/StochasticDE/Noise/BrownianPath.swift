import RandomStreams

/// The known points of a Brownian path (one or more independent components), with fresh draws
/// beyond the last point and Brownian-bridge draws between known points.
///
/// Every value ever drawn stays on the path until it is behind the accepted time and history is
/// not kept. A new point is drawn conditionally on its two known neighbours, which by the Markov
/// property is its law given *all* known points, so the known points are always jointly those of
/// a Brownian motion, whatever order they were asked for in. That is the invariant RSwM needs.
///
/// The draws read the stream's lane-0 sequence (``NormalStream/sequential(_:)``, path stream
/// version 3): draw `k` (fresh or bridge) of a path with `c` components takes normals
/// `k c ..< (k + 1) c` of it, components in order, so the path is a pure function of the seed
/// and of the sequence of requested times. Each Philox block gives two consecutive normals, so
/// a scalar path pays one block and two ziggurat normals per two draws.
@usableFromInline
struct BrownianPath: Sendable {
    @usableFromInline var times: [Double]
    @usableFromInline var values: [Double]  // `components` per time, time-major
    @usableFromInline let components: Int
    @usableFromInline var head = 0
    @usableFromInline var pending: Int? = nil
    @usableFromInline let stream: NormalStream
    /// Normals taken from the stream's sequence so far.
    @usableFromInline var normalsUsed: UInt64 = 0
    /// The second member of the pair of the last normal taken, when that was the first member
    /// (`normalsUsed` odd): the next normal.
    @usableFromInline var spare: Double = 0
    @usableFromInline let extendable: Bool
    @usableFromInline let keepsHistory: Bool
    @usableFromInline var normals: [Double]

    @usableFromInline
    init(t0: Double, initial: [Double], stream: NormalStream, extendable: Bool, keepsHistory: Bool) {
        self.times = [t0]
        self.values = initial
        self.components = initial.count
        self.stream = stream
        self.extendable = extendable
        self.keepsHistory = keepsHistory
        self.normals = [Double](repeating: 0, count: initial.count)
        times.reserveCapacity(64)
        values.reserveCapacity(64 * initial.count)
    }

    @usableFromInline
    init(times: [Double], values: [Double], components: Int, stream: NormalStream) {
        self.times = times
        self.values = values
        self.components = components
        self.stream = stream
        self.extendable = false
        self.keepsHistory = true
        self.normals = [Double](repeating: 0, count: components)
    }

    @inlinable var currentTime: Double { times[head] }

    /// First index with `times[i] >= t`.
    @inlinable
    func lowerBound(_ t: Double) -> Int {
        var lo = 0
        var hi = times.count
        while lo < hi {
            let mid = (lo + hi) >> 1
            if times[mid] < t { lo = mid + 1 } else { hi = mid }
        }
        return lo
    }

    /// Normal `normalsUsed` of the sequence, then the count moves on: a Philox block and two
    /// ziggurat normals every second call, the second kept in ``spare``.
    @inlinable @inline(__always)
    mutating func nextNormal() -> Double {
        stream.nextLaneZeroNormal(count: &normalsUsed, spare: &spare)
    }

    /// The next `components` normals of the sequence into ``normals``.
    @inlinable
    mutating func drawNormals() {
        for k in 0..<components { normals[k] = nextNormal() }
    }

    /// The index of `t` on the path, drawing it if needed. `t` must be at or after the first
    /// retained time; beyond the last known time only when the path is extendable.
    ///
    /// A time beyond the last point (every step of a fixed-step solve, every accepted adaptive
    /// step that was not retried) is tested first and drawn without the search and the bridge,
    /// which stay out of line (see the Performance note of ``WienerProcess``).
    @inlinable
    mutating func ensurePoint(_ t: Double) throws(NoiseError) -> Int {
        let count = times.count
        let last = times[count - 1]
        if t > last && extendable && t.isFinite { return appendDraw(t, after: last) }
        return try knownOrBridged(t)
    }

    /// Draws `W(t)` for `t` beyond the last point `last`: `W(last) + √(t − last) z`.
    @inlinable
    mutating func appendDraw(_ t: Double, after last: Double) -> Int {
        let i = times.count
        let c = components
        let scale = (t - last).squareRoot()
        let base = (i - 1) * c
        times.append(t)
        if c == 1 {
            // Without the round trip through `normals` (a uniqueness check and a loop per draw).
            let z = nextNormal()
            values.append(values[base] + scale * z)
        } else {
            drawNormals()
            for k in 0..<c { values.append(values[base + k] + scale * normals[k]) }
        }
        return i
    }

    /// The index of `t` at or before the last point: found, or drawn by the bridge.
    @inlinable @inline(never)
    mutating func knownOrBridged(_ t: Double) throws(NoiseError) -> Int {
        let first = times[0]
        let last = times[times.count - 1]
        guard t.isFinite, t >= first, t <= last else {
            throw .timeOutOfRange(requested: t, allowed: first...(extendable ? .infinity : last))
        }
        let c = components
        // Sequential stepping asks for the point after the current one: O(1) instead of a search.
        let next = head + 1
        if next < times.count && times[next] == t { return next }
        let i = lowerBound(t)
        if times[i] == t { return i }
        // Brownian bridge between (ta, Wa) and (tb, Wb): mean Wa + q (Wb − Wa), variance
        // (t − ta)(tb − t)/(tb − ta), with q = (t − ta)/(tb − ta).
        let ta = times[i - 1]
        let tb = times[i]
        let q = (t - ta) / (tb - ta)
        let sd = ((t - ta) * (tb - t) / (tb - ta)).squareRoot()
        drawNormals()
        let a = (i - 1) * c
        let b = i * c
        for k in 0..<c { normals[k] = values[a + k] + q * (values[b + k] - values[a + k]) + sd * normals[k] }
        times.insert(t, at: i)
        values.insert(contentsOf: normals, at: b)
        if head >= i { head += 1 }
        if let p = pending, p >= i { pending = p + 1 }
        return i
    }

    @inlinable
    mutating func propose(_ t1: Double) throws(NoiseError) -> Int {
        guard t1 > times[head] else {
            throw .timeOutOfRange(requested: t1, allowed: times[head].nextUp...(extendable ? .infinity : times[times.count - 1]))
        }
        let j = try ensurePoint(t1)
        pending = j
        return j
    }

    @inlinable
    mutating func accept() throws(NoiseError) {
        guard let j = pending else { throw .nothingToAccept }
        head = j
        pending = nil
        // Without history, drop what is behind the accepted time once it is at least half of
        // the storage: amortized O(1), and the arrays stop growing (no allocation in the loop).
        // One point before the head is kept, so that an event inside the step just accepted can
        // move the process back into it (``rewind(to:)``).
        if !keepsHistory && head >= 32 && 2 * head >= times.count {
            times.removeFirst(head - 1)
            values.removeFirst((head - 1) * components)
            head = 1
        }
    }

    /// ``propose(_:)`` of a fresh time `t` beyond the last point, the increment from the head
    /// into `dW` (components `0..<m`) and `dZ` (the rest), then ``accept()``, with no history
    /// kept: the path holds only the new head and the point before it, overwritten in place
    /// (no append, no compaction). The values are those of the three calls bit for bit: the
    /// new point is `W + √(t − last) z` with the same normal, and the increment is its
    /// difference from `W`, not `√(t − last) z` (which can differ in the last bit).
    ///
    /// Returns `false`, changing nothing, unless the path is in that state: no history, no
    /// pending proposal, the head the last of exactly two points, `t` finite and beyond it.
    @inlinable @inline(__always)
    mutating func advanceInPlace(to t: Double, m: Int, _ dW: inout [Double], _ dZ: inout [Double]) -> Bool {
        guard !keepsHistory, pending == nil, head == 1, times.count == 2 else { return false }
        let last = times[1]
        guard t > last, t.isFinite else { return false }
        let c = components
        let scale = (t - last).squareRoot()
        times[0] = last
        times[1] = t
        if c == 1 {
            // One component in straight-line code: the loops below kept the normal transform's
            // constants and the loop state live on every call.
            let old = values[1]
            let new = old + scale * nextNormal()
            values[0] = old
            values[1] = new
            dW[0] = new - old
            return true
        }
        // `W`'s components, then `Z`'s (the order of the draws): one loop per array, since a
        // write to `dZ` anywhere in the loop made it unique on every call, and an empty array
        // is never unique (a copy per step).
        stream.stepComponents(
            0..<m, of: &values, components: c, scale: scale, count: &normalsUsed, spare: &spare, increments: &dW)
        if c > m {
            stream.stepComponents(
                m..<c, of: &values, components: c, scale: scale, count: &normalsUsed, spare: &spare, increments: &dZ)
        }
        return true
    }

    /// Without history and with nothing proposed, keeps only the head and the point before it,
    /// so that ``advanceInPlace(to:m:_:_:)`` applies from the next step on.
    @inlinable
    mutating func keepOnlyTheLastStep() {
        guard !keepsHistory, pending == nil, head == times.count - 1, head > 1 else { return }
        times.removeFirst(head - 1)
        values.removeFirst((head - 1) * components)
        head = 1
    }

    /// Makes `t` the accepted time (drawing it if it is not on the path), forgetting any
    /// pending proposal. `t` must be at or after the first retained time.
    @inlinable
    mutating func rewind(to t: Double) throws(NoiseError) {
        let j = try ensurePoint(t)
        head = j
        pending = nil
    }

    /// Components `range` of the increment from the head to `j`.
    @inlinable
    func difference(to j: Int, components range: Range<Int>, into out: inout [Double]) {
        let a = head * components
        let b = j * components
        var o = 0
        for k in range {
            out[o] = values[b + k] - values[a + k]
            o += 1
        }
    }
}

extension NormalStream {
    /// Normal `count` of lane 0's sequence, then `count` moves on: a Philox block and two
    /// ziggurat normals every second call (path stream version 3), the second kept in `spare`
    /// for the next. The one
    /// cursor rule of ``BrownianPath`` and ``WienerRun`` (which borrows a path's cursor for a
    /// fixed-step solve), so both draw the same sequence.
    @inlinable @inline(__always)
    func nextLaneZeroNormal(count: inout UInt64, spare: inout Double) -> Double {
        let n = count
        count = n &+ 1
        if n & 1 != 0 { return spare }
        let (a, b) = zigguratPair(index: n >> 1)
        spare = b
        return a
    }
}
