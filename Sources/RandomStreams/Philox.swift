// Philox4x32-10, the counter-based generator of Salmon, Moraes, Dror & Shaw, "Parallel random
// numbers: as easy as 1, 2, 3", SC '11 (doi:10.1145/2063384.2063405), §4.2 and Table 2.
//
// A counter-based generator is a keyed bijection of a 128-bit counter: the n-th block of a stream
// is `philox(counter: n, key: seed)`, with no state carried from one block to the next. Any block
// can therefore be computed on any thread, in any order, and the stream is the same on every
// machine (the rounds are integer multiplications and xors, exact everywhere).

/// The Philox4x32 bijection with `rounds` rounds (10 is the published, Crush-resistant choice;
/// 7 is the paper's minimum and is kept for the known-answer tests).
///
/// ```swift
/// let block = Philox4x32(key: (0, 1)).block((0, 0, 0, 0))   // four UInt32 words
/// ```
///
/// References: Salmon et al. (2011) §4.2; known answers in Random123's `kat_vectors`.
@frozen
public struct Philox4x32: Sendable, Hashable {
    /// The two 32-bit key words.
    public var key0: UInt32
    public var key1: UInt32
    /// Number of rounds (10 unless a test asks for the 7-round variant).
    public var rounds: Int

    // Multipliers and Weyl key increments of Philox4x32 (Salmon et al. 2011, §4.2; the Weyl
    // constants are the golden ratio and sqrt(3) - 1 in 0.32 fixed point).
    // Computed, not stored: a `static let` is read through its lazy-initialization accessor
    // from another module (a call per constant per block in the Wiener draw).
    @inlinable static var multiplier0: UInt32 { 0xD251_1F53 }
    @inlinable static var multiplier1: UInt32 { 0xCD9E_8D57 }
    @inlinable static var weyl0: UInt32 { 0x9E37_79B9 }
    @inlinable static var weyl1: UInt32 { 0xBB67_AE85 }

    @inlinable
    public init(key: (UInt32, UInt32), rounds: Int = 10) {
        self.key0 = key.0
        self.key1 = key.1
        self.rounds = rounds
    }

    /// A key from a 64-bit seed: low word first.
    @inlinable
    public init(seed: UInt64, rounds: Int = 10) {
        self.init(key: (UInt32(truncatingIfNeeded: seed), UInt32(truncatingIfNeeded: seed >> 32)), rounds: rounds)
    }

    /// The block for a counter (four 32-bit words, word 0 first, as Random123 lists them).
    @inlinable @inline(__always)
    public func block(_ counter: (UInt32, UInt32, UInt32, UInt32)) -> (UInt32, UInt32, UInt32, UInt32) {
        // The published 10 rounds with a constant trip count, so the rounds unroll (see the
        // Performance note); any other count runs the same rounds in a loop.
        rounds == 10 ? Self.apply(10, counter, key0, key1) : Self.apply(rounds, counter, key0, key1)
    }

    @inlinable @inline(__always)
    static func apply(
        _ rounds: Int, _ counter: (UInt32, UInt32, UInt32, UInt32), _ key0: UInt32, _ key1: UInt32
    ) -> (UInt32, UInt32, UInt32, UInt32) {
        var c = counter
        var k0 = key0
        var k1 = key1
        for round in 0..<rounds {
            if round > 0 {
                k0 &+= Self.weyl0
                k1 &+= Self.weyl1
            }
            let p0 = UInt64(Self.multiplier0) &* UInt64(c.0)
            let p1 = UInt64(Self.multiplier1) &* UInt64(c.2)
            let hi0 = UInt32(truncatingIfNeeded: p0 >> 32), lo0 = UInt32(truncatingIfNeeded: p0)
            let hi1 = UInt32(truncatingIfNeeded: p1 >> 32), lo1 = UInt32(truncatingIfNeeded: p1)
            c = (hi1 ^ c.1 ^ k0, lo1, hi0 ^ c.3 ^ k1, lo0)
        }
        return c
    }
}

// Performance: `block` is always inlined, and with the published 10 rounds the loop has a
// constant trip count and unrolls (20 multiplications inline in the Wiener path's draw); as an
// out-of-line call it took 151 instructions per block in the sde-bench EM solve (callgrind).
