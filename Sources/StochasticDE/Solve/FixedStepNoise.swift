/// How the fixed-step loop (``solveWithFixedSteps(_:driver:drift:setup:)``) moves its noise
/// process over a step: `propose` before the kernel (what ``SDELoopStepper``'s `attempt` does),
/// `accept` after an accepted step. A type parameter rather than a test on the noise's type, so
/// that each kind of noise gets its own specialized loop.
@usableFromInline
protocol FixedStepNoise {
    associatedtype Noise: NoiseProcess
    static func propose(_ noise: inout Noise, to end: Double, _ dW: inout [Double], _ dZ: inout [Double]) throws(NoiseError)
    static func accept(_ noise: inout Noise) throws(NoiseError)
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
}

/// The ``WienerProcess`` of `solve(_:_:seed:)`, which keeps no history and which nobody reads
/// after the solve: each step's point is drawn and accepted at once, in place
/// (``WienerProcess/advance(to:_:_:)``). A step that fails after its draw ends the solve, so the
/// early acceptance is never seen.
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
}
