import RandomStreams

/// A seeded `m`-dimensional Wiener process drawn as the integration asks for it, with rejection
/// sampling with memory (RSwM) and a Brownian bridge for values between drawn points.
///
/// **Rejection sampling with memory.** Rackauckas & Nie, "Adaptive methods for stochastic
/// differential equations via natural embeddings and rejection sampling with memory", DCDS-B
/// 22(7), 2017. An adaptive step proposes `ΔW` over `[t, t + h]` and may reject it *because of
/// its value*; drawing a fresh increment for the shorter retry would then bias the path (large
/// increments would be rejected more often). Here a proposal adds the point `t + h` to the path
/// and it stays there: the retry `t + h'` (`h' < h`) is drawn by the bridge between `W(t)` and
/// `W(t + h)`, and the later steps reach `t + h` with exactly the value drawn first. Every drawn
/// value is kept and every new one is drawn conditionally on its known neighbours, which is the
/// guarantee of the paper's RSwM3 (RSwM1/2 keep less of the future): the path is a Brownian
/// path whatever the accept/reject decisions were (`RSwMTests`).
///
/// **Bridge.** ``value(at:into:)`` at a time already passed (with history kept) or between known
/// points draws the bridge value and inserts it into the path, so a second query, and the
/// increments of later steps through it, see the same value.
///
/// **Reproducibility (what is promised).** The path is a pure function of the seed and of the
/// sequence of requested times: the `k`-th draw (fresh or bridge) of a path with `c` components
/// (`m`, or `2m` with the auxiliary process) uses normals `k c ..< (k + 1) c` of the lane-0
/// sequence ``NormalStream/sequential(_:)`` (domain of Wiener paths; path stream version 3, see
/// the RandomStreams overview: versions 1 and 2 gave other paths for the same seed), the same
/// bits on every machine and thread count.
/// A value already on the path is returned bit for bit. A different sequence of requests (other
/// step sizes) gives another, equally valid, sample path; for a path independent of the step
/// sequence use ``VirtualBrownianTree``.
///
/// With `auxiliary: true` the process also carries `Z`, `m` more independent components, for the
/// order-1.5 methods. Memory: the known points (all of them with `keepsHistory`, otherwise those
/// not yet behind the accepted time, and one before it). When the path is kept: `keepsHistory`
/// defaults to `true` for a process you make yourself, so that ``knownTimes``, ``knownValues``,
/// ``NoiseGrid/init(recordedFrom:bridgeSeed:auxiliarySeed:)`` and ``value(at:into:)`` at past
/// times work after the solve; `solve(_:_:seed:)`, which nobody can read the path of, makes its
/// process with `keepsHistory: false` (StochasticDiffEq's `save_noise = false`). Either way the
/// increments are the same bits: the draws depend only on the requested times.
///
/// Performance: a fresh point beyond the end of the path (every step of a fixed-step solve) is
/// drawn without the search and the bridge, which stay out of line; the normal draw is inlined.
/// `increment` and `accept` on one component cost 360 instructions per step (callgrind, sde-bench
/// `em-scalar+draws` minus `em-scalar`, release); 494 before path stream version 2 let two
/// consecutive draws share one Philox block and one Box–Muller transform (see ``BrownianPath``).
/// The fixed-step `solve(_:_:seed:)` draws through ``advance(to:_:_:)`` instead: the point
/// written over the oldest of the two kept, no append or compaction, 250 instructions per step
/// with the draw (sde-bench `em-scalar+solve`); or, without the auxiliary process, it lends the
/// state to the loop as a ``WienerRun`` (one component: the draw and a few instructions).
public struct WienerProcess: NoiseProcess, Sendable {
    @usableFromInline var path: BrownianPath
    public let wienerCount: Int
    public let hasAuxiliary: Bool

    /// A process starting at `W(t0) = 0` (and `Z(t0) = 0`).
    public init(
        dimension m: Int, t0: Double = 0, seed: UInt64, auxiliary: Bool = false, keepsHistory: Bool = true
    ) throws(NoiseError) {
        guard m >= 1 else { throw .invalidArgument("a Wiener process needs dimension ≥ 1, got \(m)") }
        guard t0.isFinite else { throw .invalidArgument("t0 must be finite, got \(t0)") }
        self.wienerCount = m
        self.hasAuxiliary = auxiliary
        self.path = BrownianPath(
            t0: t0, initial: [Double](repeating: 0, count: auxiliary ? 2 * m : m),
            stream: NormalStream(seed: seed, domain: NoiseDomain.wienerPath), extendable: true, keepsHistory: keepsHistory)
    }

    @inlinable public var currentTime: Double { path.currentTime }

    @inlinable
    public mutating func increment(to t1: Double, _ dW: inout [Double], _ dZ: inout [Double]) throws(NoiseError) {
        let m = wienerCount
        guard dW.count == m else { throw .wrongLength(what: "dW", expected: m, got: dW.count) }
        guard dZ.count == (hasAuxiliary ? m : 0) else {
            throw .wrongLength(what: "dZ", expected: hasAuxiliary ? m : 0, got: dZ.count)
        }
        let j = try path.propose(t1)
        if m == 1 && !hasAuxiliary {
            // One component: the difference itself (the general copy loop cost 60 instructions
            // per step of the sde-bench EM solve).
            dW[0] = path.values[j] - path.values[path.head]
            return
        }
        path.difference(to: j, components: 0..<m, into: &dW)
        if hasAuxiliary { path.difference(to: j, components: m..<(2 * m), into: &dZ) }
    }

    @inlinable
    public mutating func accept() throws(NoiseError) { try path.accept() }

    /// ``increment(to:_:_:)`` then ``accept()``, for a loop that never rejects a step and never
    /// reads the path behind it (the fixed-step `solve(_:_:seed:)`): without history the new
    /// point overwrites the oldest of the two kept (``BrownianPath/advanceInPlace(to:m:_:_:)``)
    /// instead of being appended, and the increment is written straight from the draw. The
    /// same bits as the two calls; with history, or in any other state, it is the two calls.
    @inlinable
    mutating func advance(to t1: Double, _ dW: inout [Double], _ dZ: inout [Double]) throws(NoiseError) {
        let m = wienerCount
        if dW.count == m && dZ.count == (hasAuxiliary ? m : 0) && path.advanceInPlace(to: t1, m: m, &dW, &dZ) { return }
        try increment(to: t1, &dW, &dZ)
        try path.accept()
        path.keepOnlyTheLastStep()
    }

    /// Moves the current time to `t`; without history only times from the step before the
    /// current one on are still known.
    @inlinable
    public mutating func rewind(to t: Double) throws(NoiseError) { try path.rewind(to: t) }

    /// `W(t)` (components `0..<m`), drawing it by the bridge or beyond the last known point if
    /// it is not on the path yet; the drawn value becomes part of the path.
    public mutating func value(at t: Double, into w: inout [Double]) throws(NoiseError) {
        guard w.count == wienerCount else { throw .wrongLength(what: "w", expected: wienerCount, got: w.count) }
        let j = try path.ensurePoint(t)
        let base = j * path.components
        for k in 0..<wienerCount { w[k] = path.values[base + k] }
    }

    /// The times on the path so far (drawn, bridged or proposed), increasing.
    public var knownTimes: [Double] { path.times }

    /// `Z` at the known times, time-major (`m` values per time); empty without the auxiliary
    /// process.
    public var knownAuxiliaryValues: [Double] {
        guard hasAuxiliary else { return [] }
        let c = path.components
        var out: [Double] = []
        out.reserveCapacity(path.times.count * wienerCount)
        for i in 0..<path.times.count { for k in 0..<wienerCount { out.append(path.values[i * c + wienerCount + k]) } }
        return out
    }

    /// `W` at the known times, time-major (`m` values per time; without `Z`).
    public var knownValues: [Double] {
        let c = path.components
        var out: [Double] = []
        out.reserveCapacity(path.times.count * wienerCount)
        for i in 0..<path.times.count { for k in 0..<wienerCount { out.append(path.values[i * c + k]) } }
        return out
    }
}
