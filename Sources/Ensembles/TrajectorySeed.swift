import Foundation

// Per-trajectory seeds. A seed is a function of (ensemble seed, trajectory index, repeat) only, never
// of the thread, rank or order in which trajectories run: that is what makes Serial, Threads(k) and
// MPI(n) give the same bits.
//
// The mixing function is SplitMix64's output function (Steele, Lea & Flood, "Fast splittable
// pseudorandom number generators", OOPSLA 2014), with the constants of Vigna's reference
// `splitmix64.c` (Stafford's "Mix13" variant of the MurmurHash3 finalizer). SplitMix64 is a counter
// passed through that bijection, so consecutive indices give statistically independent 64-bit
// seeds, and every seed can be computed directly from its index (no sequential stream to replay).

/// The golden-ratio increment of SplitMix64, `⌊2⁶⁴/φ⌋` rounded to odd.
@usableFromInline let splitMixGamma: UInt64 = 0x9E37_79B9_7F4A_7C15

/// SplitMix64's output function: a bijection of `UInt64` with full avalanche.
@inlinable
public func splitMix64(_ x: UInt64) -> UInt64 {
    var z = x
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
}

/// The seed of trajectory `index`'s attempt `repeat` (0 for the first run, 1 for the first rerun)
/// in an ensemble with seed `ensembleSeed`:
///
///     s_i   = splitMix64(ensembleSeed + (i + 1)·γ)          (SplitMix64's (i+1)-th output)
///     seed  = splitMix64(s_i + (repeat + 1)·γ)
///
/// with `γ = 0x9E3779B97F4A7C15` and arithmetic modulo 2⁶⁴. The first line is draw `i` of the
/// SplitMix64 stream started at `ensembleSeed`; the second is draw `repeat` of the stream started
/// at `s_i`, so a rerun gets fresh random numbers and is still reproducible.
@inlinable
public func trajectorySeed(ensembleSeed: UInt64, index: Int, repeat attempt: Int) -> UInt64 {
    let s = splitMix64(ensembleSeed &+ (UInt64(truncatingIfNeeded: index) &+ 1) &* splitMixGamma)
    return splitMix64(s &+ (UInt64(truncatingIfNeeded: attempt) &+ 1) &* splitMixGamma)
}

/// A SplitMix64 stream: `next()` is output `n` of `splitmix64.c` started from `seed`. Use it for
/// a trajectory's random draws (``TrajectoryContext/generator``); its draws depend on the seed only.
public struct SplitMixGenerator: RandomNumberGenerator, Sendable, Hashable {
    public var state: UInt64

    public init(seed: UInt64) { state = seed }

    @inlinable
    public mutating func next() -> UInt64 {
        state &+= splitMixGamma
        return splitMix64(state)
    }

    /// A uniform draw from `[0, 1)`: the top 53 bits times 2⁻⁵³, so it is exact and the same on
    /// every platform and Swift version (`Double.random(in:using:)` is not specified that far).
    @inlinable
    public mutating func nextUniform() -> Double {
        Double(next() >> 11) * 0x1.0p-53
    }

    /// A standard normal draw by the Box-Muller transform (Box & Muller 1958), from two
    /// ``nextUniform()`` draws (the first moved to `(0, 1]` so its logarithm is finite).
    public mutating func nextNormal() -> Double {
        let u1 = 1 - nextUniform()
        let u2 = nextUniform()
        return (-2 * log(u1)).squareRoot() * cos(2 * Double.pi * u2)
    }
}
