/// A source of Wiener increments for a step kernel, driven the way an adaptive integrator drives
/// it: propose the increment to a time, then accept it or propose again (a rejected step).
///
/// ``increment(to:_:_:)`` writes `ΔW = W(t1) − W(t)` for the current time `t` (and, when the
/// process has an auxiliary process, `ΔZ = Z(t1) − Z(t)`: the independent second process the
/// order-1.5 methods use for the iterated integral `I₍₁,₀₎ = ½ h (ΔW + ΔZ/√3)`, exact in
/// distribution per step). It does not move `t`; ``accept()`` moves `t` to the last proposed
/// `t1`. Proposing again before accepting is how a rejected step shortens itself: every process
/// here keeps what it already drew, so the path is the same Brownian path whatever the
/// accept/reject decisions were (rejection sampling with memory, see ``WienerProcess``).
public protocol NoiseProcess {
    /// Number of Wiener processes `m`.
    var wienerCount: Int { get }
    /// Whether ``increment(to:_:_:)`` also writes `ΔZ`.
    var hasAuxiliary: Bool { get }
    /// The accepted time.
    var currentTime: Double { get }
    /// Writes `ΔW` (length `m`) and, with an auxiliary process, `ΔZ` (length `m`; otherwise
    /// `dZ` must be empty) over `[currentTime, t1]`, `t1 > currentTime`.
    mutating func increment(to t1: Double, _ dW: inout [Double], _ dZ: inout [Double]) throws(NoiseError)
    /// Makes the last proposed `t1` the current time.
    mutating func accept() throws(NoiseError)
    /// Makes `t` the current time, forgetting a pending proposal: what a solve needs when an
    /// event cut the last accepted step short, or the integrator's time was set from outside.
    /// The path itself is unchanged (values already drawn stay; a new time is drawn by the
    /// bridge). The default refuses (a process that cannot move back).
    mutating func rewind(to t: Double) throws(NoiseError)
}

extension NoiseProcess {
    public mutating func rewind(to t: Double) throws(NoiseError) {
        throw .invalidArgument("this noise process cannot move its time to \(t) (from \(currentTime))")
    }
}

// Domains of the counter-based normal stream: one seed drives several independent structures
// without ever sharing a Philox block (the fourth counter word).
@usableFromInline
enum NoiseDomain {
    @usableFromInline static let wienerPath: UInt32 = 0x5750_0001
    @usableFromInline static let brownianTree: UInt32 = 0x5750_0002
    @usableFromInline static let gridBridge: UInt32 = 0x5750_0003
}
