// The normal transform: its portable log/sin/cos against libm, and the distribution of the
// variates (Kolmogorov–Smirnov at level 0.001 with fixed seeds, so the test is deterministic:
// it fails only if the generator or the transform changes for the worse).
import Foundation
@testable import RandomStreams
import Testing

@Suite struct NormalStreamTests {
    @Test func portableLogMatchesLibm() {
        let g = Philox4x32(seed: 7)
        var worst = 0.0
        for i in 0..<20000 {
            let b = g.block((UInt32(i), 0, 0, 0))
            let u = NormalStream.openUniform(b.0, b.1)
            for x in [u, u * 1e-12, 1 - u * 1e-3, 0.5 + u, 1.4142 * (1 + u * 1e-9)] {
                let ref = Foundation.log(x)
                let err = abs(PortableMath.log(x) - ref) / max(abs(ref), 1e-300)
                worst = max(worst, ref == 0 ? 0 : err)
            }
        }
        // A few ulps relative (2.2e-16 is one).
        #expect(worst < 1e-15, "worst relative error \(worst)")
    }

    @Test func portableSinCosMatchesLibm() {
        let g = Philox4x32(seed: 8)
        var worst = 0.0
        for i in 0..<20000 {
            let b = g.block((UInt32(i), 0, 0, 0))
            for u in [NormalStream.openUniform(b.0, b.1), NormalStream.openUniform(b.2, b.3), Double(i % 8) / 8] {
                let (s, c) = PortableMath.sinCosTurn(u)
                let theta = 2 * Double.pi * u
                worst = max(worst, abs(s - Foundation.sin(theta)), abs(c - Foundation.cos(theta)))
            }
        }
        #expect(worst < 2e-15, "worst absolute error \(worst)")
    }

    /// The quarter turns `k = round(4u)` by the 2⁵² shift are `rounded(.toNearestOrEven)`'s,
    /// ties at the odd eighths included (so `sinCosTurn` keeps its bits).
    @Test func quarterTurnsRoundToNearestEven() {
        let g = Philox4x32(seed: 9)
        var us = (0..<16).map { Double($0) / 16 } + [0x1p-53, 1 - 0x1p-53, 0.125.nextUp, 0.375.nextDown, 0.875.nextUp]
        for i in 0..<5000 {
            let b = g.block((UInt32(i), 0, 0, 0))
            us.append(NormalStream.openUniform(b.0, b.1))
        }
        for u in us {
            let k = (4 * u).rounded(.toNearestOrEven)
            let (shiftK, quadrant) = PortableMath.quarterTurns(u)
            #expect(shiftK.bitPattern == k.bitPattern && quadrant == Int(k) & 3, "u = \(u)")
        }
    }

    /// ``NormalStream/sequential(_:)`` reads the lane-0 ziggurat pairs in order (path stream
    /// version 3): `2j` and `2j + 1` are the two members at index `j`.
    @Test func sequentialIsTheLaneZeroPairsInOrder() {
        let s = NormalStream(seed: 5, domain: 0x5750_0001)
        let indices: [UInt64] = [0, 1, 7, 1 << 32 - 1, 1 << 32, UInt64.max >> 1]
        for j in indices {
            let (a, b) = s.zigguratPair(index: j)
            #expect(s.sequential(2 &* j).bitPattern == a.bitPattern)
            #expect(s.sequential(2 &* j &+ 1).bitPattern == b.bitPattern)
        }
    }

    @Test func openUniformNeverHitsTheEnds() {
        #expect(NormalStream.openUniform(0, 0) > 0)
        #expect(NormalStream.openUniform(.max, .max) < 1)
        #expect(NormalStream.openUniform(0, 0) == 0x1p-53)
        #expect(NormalStream.openUniform(.max, .max) == 1 - 0x1p-53)
    }

    @Test func variatesAreStandardNormal() {
        let stream = NormalStream(seed: 2024, domain: 1)
        var xs: [Double] = []
        for i in 0..<50_000 {
            let (a, b) = stream.pair(index: UInt64(i), lane: UInt32(i % 3))
            xs.append(a)
            xs.append(b)
        }
        let n = Double(xs.count)
        let mean = xs.reduce(0, +) / n
        let variance = xs.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / (n - 1)
        // 4 standard errors: mean SE 1/√n, variance SE √(2/n).
        #expect(abs(mean) < 4 / n.squareRoot())
        #expect(abs(variance - 1) < 4 * (2 / n).squareRoot())
        let d = ksStatistic(xs)
        #expect(d < 1.9495 / n.squareRoot(), "KS D = \(d), critical value at 0.001 is \(1.9495 / n.squareRoot())")
        // The two members of a pair are independent (Box–Muller): correlation within 4 SE.
        var sxy = 0.0
        for i in stride(from: 0, to: xs.count, by: 2) { sxy += xs[i] * xs[i + 1] }
        #expect(abs(sxy / (n / 2)) < 4 / (n / 2).squareRoot())
    }

    @Test func addressesAreIndependentOfOrderAndOfOtherDraws() {
        let s = NormalStream(seed: 99, domain: 3)
        let forward = (0..<100).map { s.normal(index: UInt64($0), component: $0 % 5) }
        let backward = (0..<100).reversed().map { s.normal(index: UInt64($0), component: $0 % 5) }.reversed()
        #expect(forward.map(\.bitPattern) == backward.map(\.bitPattern))
        var buffer = [Double](repeating: 0, count: 7)
        s.fill(&buffer, offset: 2, count: 5, index: 11)
        #expect(buffer[2..<7].map(\.bitPattern) == (0..<5).map { s.normal(index: 11, component: $0).bitPattern })
        #expect(buffer[0] == 0 && buffer[1] == 0)
        // Another domain or seed is another stream.
        #expect(NormalStream(seed: 99, domain: 4).pair(index: 0, lane: 0).0 != s.pair(index: 0, lane: 0).0)
        #expect(NormalStream(seed: 98, domain: 3).pair(index: 0, lane: 0).0 != s.pair(index: 0, lane: 0).0)
    }

    /// Bits recorded on x86-64 Linux (Swift 6.3, debug and release alike). The transform uses
    /// IEEE basic operations only, so these bits are promised on every machine; a change here
    /// changes every stored seed's path and must be called out.
    @Test func pinnedBits() {
        let s = NormalStream(seed: 1, domain: 0x5750_0001)
        let (a, b) = s.pair(index: 0, lane: 0)
        #expect(a.bitPattern == Self.pinned.0 && b.bitPattern == Self.pinned.1, "\(a.bitPattern) \(b.bitPattern)")
    }
    static let pinned: (UInt64, UInt64) = (13_831_736_570_493_212_630, 13_832_400_426_410_076_046)
}

/// Kolmogorov–Smirnov statistic of a sample against the standard normal CDF.
func ksStatistic(_ sample: [Double]) -> Double {
    let xs = sample.sorted()
    let n = Double(xs.count)
    var d = 0.0
    for (i, x) in xs.enumerated() {
        let f = 0.5 * erfc(-x / 2.0.squareRoot())
        d = max(d, abs(f - Double(i) / n), abs(Double(i + 1) / n - f))
    }
    return d
}
