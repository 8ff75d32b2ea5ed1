// The ziggurat normals of path stream version 3 (Marsaglia & Tsang, J. Stat. Softw. 5(8), 2000):
// their law against N(0, 1), the rare wedge and tail cases actually taken, address purity, and
// pinned bits.
import Foundation
@testable import RandomStreams
import Testing

@Suite struct ZigguratNormalTests {
    /// 10⁶ normals of the lane-0 sequence: Kolmogorov–Smirnov √n·D below 1.63 (the 1% critical
    /// value); mean, variance, skewness and excess kurtosis within 4 standard errors (1/√n,
    /// √(2/n), √(6/n), √(24/n)). The rare cases are counted: candidates outside their layer's
    /// rectangle against the tables' own probability (about 1.49%), and draws beyond r (the
    /// tail) against 2(1 − Φ(r)), each within 5 binomial standard errors.
    @Test func sequenceIsStandardNormal() {
        let stream = NormalStream(seed: 2026, domain: 0x5750_0001)
        let count = 1_000_000
        let n = Double(count)
        var xs = [Double](repeating: 0, count: count)
        for j in 0..<count { xs[j] = stream.sequential(UInt64(j)) }
        let mean = xs.reduce(0, +) / n
        var m2 = 0.0, m3 = 0.0, m4 = 0.0
        for x in xs {
            let d = x - mean, d2 = d * d
            m2 += d2
            m3 += d2 * d
            m4 += d2 * d2
        }
        m2 /= n; m3 /= n; m4 /= n
        #expect(abs(mean) < 4 / n.squareRoot(), "mean \(mean)")
        #expect(abs(m2 - 1) < 4 * (2 / n).squareRoot(), "variance \(m2)")
        let skewness = m3 / (m2 * m2.squareRoot())
        #expect(abs(skewness) < 4 * (6 / n).squareRoot(), "skewness \(skewness)")
        let excessKurtosis = m4 / (m2 * m2) - 3
        #expect(abs(excessKurtosis) < 4 * (24 / n).squareRoot(), "excess kurtosis \(excessKurtosis)")
        let d = ksStatistic(xs)
        #expect(n.squareRoot() * d < 1.63, "√n·D = \(n.squareRoot() * d)")

        let layers = zigguratLayers
        var rareProbability = 0.0
        for i in 0..<256 { rareProbability += (1 - Double(layers[i].bound) * 0x1p-53) / 256 }
        var rare = 0
        for j in 0..<count / 2 {
            let block = stream.generator.block((UInt32(j), 0, 0, stream.domain))
            for bits in [UInt64(block.1) << 32 | UInt64(block.0), UInt64(block.3) << 32 | UInt64(block.2)]
            where bits >> 11 >= layers[Int(bits & 0xff)].bound {
                rare += 1
            }
        }
        let rareSE = (n * rareProbability * (1 - rareProbability)).squareRoot()
        #expect(abs(Double(rare) - n * rareProbability) < 5 * rareSE, "rare cases \(rare)")
        #expect(rare > 10_000)
        let r = ZigguratLayer.r
        let tailProbability = erfc(r / 2.0.squareRoot())
        let tail = xs.reduce(0) { $0 + (abs($1) > r ? 1 : 0) }
        let tailSE = (n * tailProbability * (1 - tailProbability)).squareRoot()
        #expect(abs(Double(tail) - n * tailProbability) < 5 * tailSE, "tail draws \(tail)")
        #expect(tail > 100)
    }

    /// The tables satisfy the paper's construction: x₁ = r, edges decreasing to x₂₅₆ = 0, every
    /// layer above the base of area v (the top one to the accuracy of the paper's 12-digit v),
    /// the base strip's equivalent width v / f(r), and f(r) = exp(−r²/2).
    @Test func tablesFollowTheRecurrence() {
        let layers = zigguratLayers
        let r = ZigguratLayer.r, v = ZigguratLayer.v
        #expect(layers[1].edge == r)
        #expect(abs(layers[1].density / exp(-0.5 * r * r) - 1) < 1e-15)
        #expect(layers[0].edge == v / layers[1].density)
        #expect(layers[256].edge == 0 && layers[256].density == 1 && layers[255].bound == 0)
        for i in 1..<256 {
            #expect(layers[i + 1].edge < layers[i].edge)
            let area = layers[i].edge * (layers[i + 1].density - layers[i].density)
            #expect(abs(area / v - 1) < 1e-8, "layer \(i) area \(area)")
        }
    }

    /// Each normal is a pure function of its address: drawn in reverse, one at a time, as pairs
    /// or through the sequence, at indices across the 32-bit word boundary, the same bits; the
    /// checked range holds rare cases.
    @Test func normalsAreTheSameInAnyOrder() {
        let s = NormalStream(seed: 99, domain: 3)
        let bases: [UInt64] = [0, 1 << 32 - 300, UInt64.max >> 2]
        for base in bases {
            let forward = (0..<600).map { s.sequential(base &* 2 &+ UInt64($0)).bitPattern }
            let backward = (0..<600).reversed().map {
                s.zigguratNormal(index: base &+ UInt64($0 >> 1), member: $0 & 1).bitPattern
            }.reversed()
            #expect(forward == Array(backward))
            for j in stride(from: 0, to: 600, by: 2) {
                let (a, b) = s.zigguratPair(index: base &+ UInt64(j >> 1))
                #expect(a.bitPattern == forward[j] && b.bitPattern == forward[j + 1])
            }
        }
        let layers = zigguratLayers
        var rare = 0
        for j in 0..<300 {
            let block = s.generator.block((UInt32(j), 0, 0, s.domain))
            for bits in [UInt64(block.1) << 32 | UInt64(block.0), UInt64(block.3) << 32 | UInt64(block.2)]
            where bits >> 11 >= layers[Int(bits & 0xff)].bound {
                rare += 1
            }
        }
        #expect(rare > 0)
        #expect(NormalStream(seed: 99, domain: 4).zigguratNormal(index: 0, member: 0) != s.zigguratNormal(index: 0, member: 0))
    }

    /// Bits recorded on x86-64 Linux (Swift 6.3, release probe and debug tests alike): the
    /// first four normals of the sequence, and an FNV-1a hash of the first 10⁵ (about 1,500
    /// rare cases among them). IEEE basic operations only, so promised on every machine; a
    /// change here changes every stored seed's path (path stream version 3) and must be
    /// called out.
    @Test func pinnedBits() {
        let s = NormalStream(seed: 1, domain: 0x5750_0001)
        let first = (0..<4).map { s.sequential(UInt64($0)).bitPattern }
        #expect(first == [4_600_283_828_795_460_915, 13_831_142_927_258_729_530,
                          4_609_369_893_214_058_426, 13_831_675_276_892_010_943], "\(first)")
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for j in 0..<100_000 {
            h ^= s.sequential(UInt64(j)).bitPattern
            h = h &* 0x100_0000_01b3
        }
        #expect(h == 2_464_303_148_665_056_594, "hash \(h)")
    }
}
