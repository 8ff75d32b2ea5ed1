// Seeded, machine-independent initial weights.
//
// The generator is SplitMix64 (Steele, Lea & Flood, "Fast splittable pseudorandom number
// generators", OOPSLA 2014; the constants of Vigna's reference `splitmix64.c`, also Java's
// `SplittableRandom`). Its n-th output is a pure function of (seed, n), a counter-based generator:
// draw n needs no earlier draw, so the value a parameter gets depends only on the seed and on its
// index in the flat parameter vector, never on evaluation order or thread count.

/// The SplitMix64 sequence for one seed, addressed by counter.
///
/// `value(at: n)` is the `(n+1)`-th output of `splitmix64.c`'s `next()` started from state
/// `seed`: `mix(seed &+ (n+1) &* 0x9E3779B97F4A7C15)`.
public struct SplitMix64: Sendable, Hashable {
    public let seed: UInt64

    @inlinable
    public init(seed: UInt64) { self.seed = seed }

    /// The 64-bit output number `index` (0-based).
    @inlinable
    public func value(at index: UInt64) -> UInt64 {
        var z = seed &+ (index &+ 1) &* 0x9E37_79B9_7F4A_7C15
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// A uniform double in [0, 1) from output `index`: its top 53 bits times 2⁻⁵³ (exact, so the
    /// same on every IEEE machine).
    @inlinable
    public func uniform(at index: UInt64) -> Double {
        Double(value(at: index) >> 11) * 0x1.0p-53
    }

    /// A standard normal draw by the Box-Muller transform (Box & Muller, Ann. Math. Statist. 29,
    /// 1958) of outputs `2 index` and `2 index + 1`: `√(-2 log(1 - u₁)) cos(2π u₂)`.
    ///
    /// Unlike ``uniform(at:)``, this goes through `log` and `cos`, whose last bit may differ
    /// between C libraries (glibc documents them within 1 ulp); on one libm it is reproducible.
    @inlinable
    public func normal(at index: UInt64) -> Double {
        let u1 = uniform(at: 2 &* index)
        let u2 = uniform(at: 2 &* index &+ 1)
        // 1 - u₁ lies in (0, 1], so the logarithm is finite.
        let radius = (-2 * Double._log(1 - u1)).squareRoot()
        return radius * Double._cos(2 * Double.pi * u2)
    }
}

/// How a parameter block is filled by ``Chain/initialParameters(seed:)``.
///
/// For a weight matrix with `fanIn` inputs and `fanOut` outputs (Glorot & Bengio, "Understanding
/// the difficulty of training deep feedforward neural networks", AISTATS 2010, eq. 16):
/// - `glorotUniform`: U(-a, a) with a = √(6 / (fanIn + fanOut)), as Flux, Lux, Keras and the
///   peers' spiral weights;
/// - `glorotNormal`: N(0, σ²) with σ = √(2 / (fanIn + fanOut)), untruncated (as Flux; Keras
///   truncates).
/// Parameter `k` of the flat vector uses ``SplitMix64`` draw `k` (uniform) or draws `2k`, `2k+1`
/// (normal) of the seed's sequence. Biases default to `zeros`.
public enum Initializer: Sendable, Hashable, Codable {
    case zeros
    case glorotUniform
    case glorotNormal
    /// Every entry equal to the value.
    case constant(Double)

    /// The value of flat parameter `index` in a block with the given fans.
    @inlinable
    internal func draw(_ generator: SplitMix64, index: Int, fanIn: Int, fanOut: Int) -> Double {
        switch self {
        case .zeros: return 0
        case .constant(let c): return c
        case .glorotUniform:
            let limit = (6 / Double(fanIn + fanOut)).squareRoot()
            return limit * (2 * generator.uniform(at: UInt64(index)) - 1)
        case .glorotNormal:
            let sigma = (2 / Double(fanIn + fanOut)).squareRoot()
            return sigma * generator.normal(at: UInt64(index))
        }
    }
}
