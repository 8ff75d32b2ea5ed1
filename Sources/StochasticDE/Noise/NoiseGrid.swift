import RandomStreams

/// A Wiener path given by the user at fixed times (`NoiseGrid` in DiffEqNoiseProcess.jl), so a
/// test or a re-solve can fix `W` exactly.
///
/// Increments between grid times are differences of the given values, bit for bit. A step that
/// ends between grid times gets its value from a Brownian bridge between the neighbouring grid
/// values (drawn from `bridgeSeed`, then kept, as in ``WienerProcess``). Requests beyond the last
/// grid time are refused (``NoiseError/timeOutOfRange(requested:allowed:)``).
///
/// The order-1.5 methods also need the auxiliary process `Z`: either given on the grid with the
/// values of `W` (``init(times:values:auxiliaryValues:bridgeSeed:)``, which fixes both and so
/// reproduces a solve bit for bit), or, with `auxiliarySeed` set, an independent seeded
/// ``WienerProcess`` queried at the same times (the grid then fixes only `W`).
public struct NoiseGrid: NoiseProcess, Sendable {
    @usableFromInline var path: BrownianPath
    @usableFromInline var auxiliary: WienerProcess?
    /// `Z` is stored on the grid, components `m..<2m` of each time.
    @usableFromInline let auxiliaryOnGrid: Bool
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
        self.auxiliaryOnGrid = false
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

    /// A grid of `W` and of the auxiliary process `Z` (both time-major, `m` per time): the
    /// whole noise of an order-1.5 method fixed. Between grid times both are bridged (from
    /// `bridgeSeed`).
    public init(times: [Double], values: [Double], auxiliaryValues: [Double], bridgeSeed: UInt64 = 0) throws(NoiseError) {
        guard auxiliaryValues.count == values.count else {
            throw .wrongLength(what: "auxiliaryValues", expected: values.count, got: auxiliaryValues.count)
        }
        for (i, v) in auxiliaryValues.enumerated() where !v.isFinite { throw .invalidArgument("auxiliary value \(i) is not finite") }
        let plain = try NoiseGrid(times: times, values: values)
        let m = plain.wienerCount
        var both = [Double](repeating: 0, count: 2 * values.count)
        for i in times.indices {
            for k in 0..<m {
                both[2 * m * i + k] = values[m * i + k]
                both[2 * m * i + m + k] = auxiliaryValues[m * i + k]
            }
        }
        self.wienerCount = m
        self.auxiliaryOnGrid = true
        self.path = BrownianPath(
            times: times, values: both, components: 2 * m, stream: NormalStream(seed: bridgeSeed, domain: NoiseDomain.gridBridge))
    }

    /// A grid of `W` and `Z` from a recorded path with the auxiliary process (every time it
    /// drew, accepted or not): a re-solve on it repeats the original solve bit for bit.
    public init(recordedWithAuxiliaryFrom process: WienerProcess, bridgeSeed: UInt64 = 0) throws(NoiseError) {
        guard process.hasAuxiliary else { throw .invalidArgument("the process has no auxiliary process to record") }
        try self.init(
            times: process.knownTimes, values: process.knownValues, auxiliaryValues: process.knownAuxiliaryValues,
            bridgeSeed: bridgeSeed)
    }

    @inlinable public var hasAuxiliary: Bool { auxiliaryOnGrid || auxiliary != nil }
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
        if auxiliaryOnGrid {
            path.difference(to: j, components: m..<(2 * m), into: &dZ)
        } else if auxiliary != nil {
            var none: [Double] = []
            try auxiliary!.increment(to: t1, &dZ, &none)
        }
    }

    @inlinable
    public mutating func accept() throws(NoiseError) {
        try path.accept()
        if auxiliary != nil { try auxiliary!.accept() }
    }

    @inlinable
    public mutating func rewind(to t: Double) throws(NoiseError) {
        try path.rewind(to: t)
        if auxiliary != nil { try auxiliary!.rewind(to: t) }
    }
}
