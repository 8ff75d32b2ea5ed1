/// How the fixed-step loop (``solveWithFixedSteps(_:driver:drift:setup:)``) moves its noise
/// process over a step: `propose` before the kernel (what ``SDELoopStepper``'s `attempt` does),
/// `accept` after an accepted step. A type parameter rather than a test on the noise's type, so
/// that each kind of noise gets its own specialized loop.
///
/// A driver may also lend the loop a `Run`: the state of the process outside it
/// (``WienerRun``), advanced with ``advance(_:to:)`` (one Wiener process) or
/// ``advance(_:to:_:)`` (more) instead of `propose` and `accept`, and given back with
/// ``endRun(_:_:)`` before anything else reads the process.
@usableFromInline
protocol FixedStepNoise {
    associatedtype Noise: NoiseProcess
    associatedtype Run
    static func propose(_ noise: inout Noise, to end: Double, _ dW: inout [Double], _ dZ: inout [Double]) throws(NoiseError)
    static func accept(_ noise: inout Noise) throws(NoiseError)
    /// The run of `noise`, or `nil` when the loop must use `propose` and `accept`.
    static func beginRun(_ noise: inout Noise) -> Run?
    /// `propose` and `accept` of a one-component step to `end`: the increment, or `nil` (the
    /// run unchanged) when `propose` would throw.
    static func advance(_ run: inout Run, to end: Double) -> Double?
    /// The same with more than one component, the increments into `dW`: `false` (the run
    /// unchanged) when `propose` would throw.
    static func advance(_ run: inout Run, to end: Double, _ dW: inout [Double]) -> Bool
    static func endRun(_ run: Run, _ noise: inout Noise)
}

/// Any noise process, driven exactly as the shared loop drives it.
@usableFromInline
enum ProposeThenAccept<Noise: NoiseProcess>: FixedStepNoise {
    @inlinable @inline(__always)
    static func propose(_ noise: inout Noise, to end: Double, _ dW: inout [Double], _ dZ: inout [Double]) throws(NoiseError) {
        try noise.increment(to: end, &dW, &dZ)
    }

    @inlinable @inline(__always)
    static func accept(_ noise: inout Noise) throws(NoiseError) { try noise.accept() }

    @inlinable @inline(__always)
    static func beginRun(_ noise: inout Noise) -> NoRun? { nil }

    @inlinable @inline(__always)
    static func advance(_ run: inout NoRun, to end: Double) -> Double? { nil }

    @inlinable @inline(__always)
    static func advance(_ run: inout NoRun, to end: Double, _ dW: inout [Double]) -> Bool { false }

    @inlinable @inline(__always)
    static func endRun(_ run: NoRun, _ noise: inout Noise) {}
}

/// The `Run` of a driver that lends none (never made: `beginRun` returns `nil`).
@usableFromInline
struct NoRun {}

/// The ``WienerProcess`` of `solve(_:_:seed:)`, which keeps no history and which nobody reads
/// after the solve: each step's point is drawn and accepted at once, in place
/// (``WienerProcess/advance(to:_:_:)``), or lent to the loop as a ``WienerRun``. A step that
/// fails after its draw ends the solve, so the early acceptance is never seen.
@usableFromInline
enum DrawAndAcceptAtOnce: FixedStepNoise {
    @inlinable @inline(__always)
    static func propose(
        _ noise: inout WienerProcess, to end: Double, _ dW: inout [Double], _ dZ: inout [Double]
    ) throws(NoiseError) {
        try noise.advance(to: end, &dW, &dZ)
    }

    @inlinable @inline(__always)
    static func accept(_ noise: inout WienerProcess) throws(NoiseError) {}

    @inlinable @inline(__always)
    static func beginRun(_ noise: inout WienerProcess) -> WienerRun? { noise.beginRun() }

    @inlinable @inline(__always)
    static func advance(_ run: inout WienerRun, to end: Double) -> Double? { run.advance(to: end) }

    @inlinable @inline(__always)
    static func advance(_ run: inout WienerRun, to end: Double, _ dW: inout [Double]) -> Bool {
        run.advance(to: end, into: &dW)
    }

    @inlinable @inline(__always)
    static func endRun(_ run: WienerRun, _ noise: inout WienerProcess) { noise.endRun(run) }
}
