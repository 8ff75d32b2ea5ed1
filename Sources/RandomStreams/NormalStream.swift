// Normal variates addressed by a counter: the Box–Muller transform (Box & Muller, "A note on the
// generation of random normal deviates", Ann. Math. Statist. 29 (1958) 610–611) of two uniforms
// made from one Philox4x32-10 block. Each block gives exactly two normals, so the normal with a
// given address never depends on how many others were drawn before it, or where.

/// A stream of standard normal variates `N(0, 1)`, addressed rather than drawn in sequence.
///
/// The pair at `(index, lane)` is the Box–Muller transform of the Philox4x32-10 block at counter
/// `(index low word, index high word, lane, domain)` under the key `seed`: words 0-1 and 2-3
/// each make one uniform in the open interval (0, 1) from their top 52 bits (`(⌊x / 2¹²⌋ + ½) / 2⁵²`). `domain`
/// separates independent uses of one seed (a Wiener path, a Brownian tree, an ensemble), so
/// they never share a block.
///
/// **Reproducibility:** the variates are a pure function of `(seed, domain, index, lane)`. The
/// logarithm and sine/cosine of the transform are evaluated with IEEE basic operations only (not
/// the platform's libm), so the bits are the same on every machine, compiler optimization level
/// and thread count.
///
/// ```swift
/// let stream = NormalStream(seed: 42, domain: 7)
/// let (z0, z1) = stream.pair(index: 0, lane: 0)
/// ```
///
/// Performance: ``pair(index:lane:)``, the Philox block and the logarithm and sine/cosine series
/// are always inlined. Called out of line, the scalar Wiener path of an EM solve paid for both
/// series though it uses one member of the pair (354 instructions per normal with the calls; a
/// scalar Wiener draw with its path bookkeeping went from 604 to 494 instructions, callgrind on
/// sde-bench `em-scalar+draws` minus `em-scalar`). The constants of Philox and of the logarithm
/// are computed properties (a stored `static let` is read through an accessor call from another
/// module) and the quarter-turn rounding avoids a call to `rint`: with path stream version 2
/// the scalar Wiener draw and append cost 360 instructions per step. A vectorised transform
/// (`SIMD4<Double>` Box–Muller and `SIMD4<UInt64>` Philox rounds, bit for bit the scalar
/// results) measured 309 instructions per pair against 323 for ``pair(index:lane:)`` on
/// x86-64's baseline SSE2 (callgrind, a stand-alone probe): not worth its code. The ziggurat
/// (``zigguratNormal(index:member:)``, Marsaglia & Tsang, J. Stat. Softw. 5(8), 2000; 64 bits of a
/// block per normal) measured 86.2 instructions per normal against 125.7 for the Box–Muller
/// lane-0 sequence in a stand-alone probe (10⁶ normals), and became path stream version 3's
/// sequence: sde-bench per step (callgrind, stripped release, counts 3 minus 1, / 20,000),
/// version 2 -> 3, em-scalar+solve 251.7 -> 234.4, em-4d+solve 864.7 -> 759.9,
/// eulerheun-scalar+solve 1,009.9 -> 982.5, rkmil-scalar+solve 768.6 -> 744.2. Of the scalar
/// step's 234, the tables' global (`zigguratLayers`: its addressor and `swift_once` check, once
/// per two normals) costs 8 and the out-of-line rare cases 5. Not yet tried: a table pointer
/// fetched once per path and handed to the draw, which would take the 8 off.
@frozen
public struct NormalStream: Sendable, Hashable {
    public let generator: Philox4x32
    public let domain: UInt32

    @inlinable
    public init(seed: UInt64, domain: UInt32) {
        self.generator = Philox4x32(seed: seed)
        self.domain = domain
    }

    /// Two independent standard normals at `(index, lane)`.
    ///
    /// Always inlined: a caller that uses one member (a scalar Wiener path) then skips the
    /// other's series, and the call does not spill (see the Performance note).
    @inlinable @inline(__always)
    public func pair(index: UInt64, lane: UInt32) -> (Double, Double) {
        let block = generator.block(
            (UInt32(truncatingIfNeeded: index), UInt32(truncatingIfNeeded: index >> 32), lane, domain))
        let u1 = Self.openUniform(block.0, block.1)
        let u2 = Self.openUniform(block.2, block.3)
        let radius = (-2 * PortableMath.log(u1)).squareRoot()
        let (s, c) = PortableMath.sinCosTurn(u2)
        return (radius * c, radius * s)
    }

    /// The `component`-th normal of the group at `index`: components `2j` and `2j + 1` are the
    /// pair at lane `j`.
    @inlinable
    public func normal(index: UInt64, component: Int) -> Double {
        let (a, b) = pair(index: index, lane: UInt32(truncatingIfNeeded: component >> 1))
        return component & 1 == 0 ? a : b
    }

    /// Normal `n` of the stream read as one sequence along lane 0: the ziggurat normal at
    /// `(⌊n/2⌋, n mod 2)` (``zigguratNormal(index:member:)``).
    ///
    /// The layout of StochasticDE's Wiener paths from path stream version 3 on (see the module
    /// overview): a consumer that takes its normals one at a time reads them in this order and
    /// pays one block per two normals (``zigguratPair(index:)``), keeping the second member for
    /// the next call. Version 2 read the Box–Muller pair at `(⌊n/2⌋, 0)` instead.
    @inlinable
    public func sequential(_ n: UInt64) -> Double {
        zigguratNormal(index: n >> 1, member: Int(truncatingIfNeeded: n & 1))
    }

    /// Writes the normals of `index`, components `0..<count`, into `out[offset...]`
    /// (`⌈count/2⌉` blocks).
    @inlinable
    public func fill(_ out: inout [Double], offset: Int, count: Int, index: UInt64) {
        var j = 0
        while j < count {
            let (a, b) = pair(index: index, lane: UInt32(truncatingIfNeeded: j >> 1))
            out[offset + j] = a
            if j + 1 < count { out[offset + j + 1] = b }
            j += 2
        }
    }

    /// A uniform in (0, 1) from two words (`lo` the low 32 bits): the top 52 bits plus one half
    /// unit, times 2⁻⁵², exactly representable, so neither 0 nor 1 occurs (with 53 bits the
    /// largest value would round to 1) and `log` is always finite.
    @inlinable
    public static func openUniform(_ lo: UInt32, _ hi: UInt32) -> Double {
        let bits = (UInt64(hi) << 32 | UInt64(lo)) >> 12
        return (Double(bits) + 0.5) * 0x1p-52
    }
}
