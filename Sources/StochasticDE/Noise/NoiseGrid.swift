import RandomStreams

/// A Wiener path given by the user at fixed times (`NoiseGrid` in DiffEqNoiseProcess.jl), so a
/// test or a re-solve can fix `W` exactly.
///
/// Increments between grid times are differences of the given values, bit for bit. A step that
/// ends between grid times gets its value from a Brownian bridge between the neighbouring grid
/// values (drawn from `bridgeSeed`, then kept, as in ``WienerProcess``). Requests beyond the last
/// grid time are refused (``NoiseError/timeOutOfRange(requested:allowed:)``).
///
/// The order-1.5 methods also need the auxiliary process `Z`; with `auxiliarySeed` set it is an
/// independent seeded ``WienerProcess`` queried at the same times (the grid fixes only `W`).
public struct NoiseGrid: NoiseProcess, Sendable {
    @usableFromInline var path: BrownianPath
    @usableFromInline var auxiliary: WienerProcess?
    public let wienerCount: Int

    /// `values` holds `W` at `times`, time-major (`m` per time, `m = values.count / times.count`).
    public init(
        times: [Double], values: [Double], bridgeSeed: UInt64 = 0, auxiliarySeed: UInt64? = nil
    ) throws(NoiseError) {
        guard times.count >= 2 else { throw .invalidArgument("a noise grid needs at least two times, got \(times.count)") }
        guard values.count % times.count == 0, values.count > 0 else {
            throw .invalidArgument("values (\(values.count)) must hold the same number of components at each of \(times.count) times")
        }
        for i in times.indices where !times[i].isFinite || (i > 0 && !(times[i] > times[i - 1])) {
            throw .invalidArgument("grid times must be finite and strictly increasing (index \(i))")
        }
        for (i, v) in values.enumerated() where !v.isFinite { throw .invalidArgument("grid value \(i) is not finite") }
        let m = values.count / times.count
        self.wienerCount = m
        self.path = BrownianPath(
            times: times, values: values, components: m, stream: NormalStream(seed: bridgeSeed, domain: NoiseDomain.gridBridge))
        if let auxiliarySeed {
            self.auxiliary = try WienerProcess(dimension: m, t0: times[0], seed: auxiliarySeed)
        }
    }

    /// A grid from a recorded path: `times` and `values` as ``WienerProcess/knownTimes`` and
    /// ``WienerProcess/knownValues`` return them.
    public init(recordedFrom process: WienerProcess, bridgeSeed: UInt64 = 0, auxiliarySeed: UInt64? = nil) throws(NoiseError) {
        try self.init(
            times: process.knownTimes, values: process.knownValues, bridgeSeed: bridgeSeed, auxiliarySeed: auxiliarySeed)
    }

    @inlinable public var hasAuxiliary: Bool { auxiliary != nil }
    @inlinable public var currentTime: Double { path.currentTime }

    @inlinable
    public mutating func increment(to t1: Double, _ dW: inout [Double], _ dZ: inout [Double]) throws(NoiseError) {
        let m = wienerCount
        guard dW.count == m else { throw .wrongLength(what: "dW", expected: m, got: dW.count) }
        guard dZ.count == (hasAuxiliary ? m : 0) else {
            throw .wrongLength(what: "dZ", expected: hasAuxiliary ? m : 0, got: dZ.count)
        }
        let j = try path.propose(t1)
        path.difference(to: j, components: 0..<m, into: &dW)
        if auxiliary != nil {
            var none: [Double] = []
            try auxiliary!.increment(to: t1, &dZ, &none)
        }
    }

    @inlinable
    public mutating func accept() throws(NoiseError) {
        try path.accept()
        if auxiliary != nil { try auxiliary!.accept() }
    }
}
