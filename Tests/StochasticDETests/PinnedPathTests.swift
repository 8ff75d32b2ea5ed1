// The bits a seed produces, pinned (FNV-1a over the bit patterns), so that a faster draw, a
// cheaper path bookkeeping or a shorter loop cannot change what a seeded solve returns. The
// hashes were computed by commit 8cf80ea (before the EM per-step work of issue #17's sde-bench),
// debug build, by this file's functions run as an executable. The Wiener-increment and
// seeded-solve hashes were recomputed once, deliberately, for path stream version 2 (the paths
// read the lane-0 normal sequence, two draws per Philox block: see the RandomStreams overview),
// and again for path stream version 3 (that sequence's normals by the ziggurat instead of
// Box–Muller); the normal stream's own hash (Box–Muller pairs, unchanged) did not change.
import DiffEqCore
import RandomStreams
import StochasticDE
import Testing

/// FNV-1a over the bit patterns of the values mixed in.
struct BitHash {
    var value: UInt64 = 0xcbf2_9ce4_8422_2325
    mutating func mix(_ xs: [Double]) {
        for x in xs {
            value ^= x.bitPattern
            value = value &* 0x100_0000_01b3
        }
    }
}

@Suite struct PinnedPathTests {
    /// Normals by every entry point (pairs, single components, `fill` at odd and even counts),
    /// at indices and lanes a block draw would cross.
    @Test func normalStreamIsPinned() {
        var h = BitHash()
        let s = NormalStream(seed: 1, domain: 0x5750_0001)
        var buffer = [Double](repeating: 0, count: 7)
        for index in UInt64(0)..<300 {
            let (a, b) = s.pair(index: index, lane: UInt32(index % 3))
            h.mix([a, b, s.normal(index: index &+ 1 << 33, component: Int(index % 5))])
            s.fill(&buffer, offset: 1, count: Int(index % 6) + 1, index: index)
            h.mix(buffer)
        }
        #expect(h.value == 10_835_825_091_845_854_245, "normal stream hash \(h.value)")
    }

    /// The Wiener process of `solve(_:_:seed:)` (no history) stepped forward at non-dyadic
    /// times, one and four components, with and without the auxiliary process; then with
    /// rejected proposals, bridge draws and a rewind in between.
    @Test func wienerIncrementsArePinned() throws {
        var h = BitHash()
        for (m, auxiliary) in [(1, false), (4, false), (1, true), (3, true)] {
            var w = try WienerProcess(dimension: m, seed: 7, auxiliary: auxiliary, keepsHistory: false)
            var dW = [Double](repeating: 0, count: m)
            var dZ = [Double](repeating: 0, count: auxiliary ? m : 0)
            for k in 1...1_000 {
                try w.increment(to: Double(k) * 1e-3, &dW, &dZ)
                try w.accept()
                h.mix(dW)
                h.mix(dZ)
            }
            var r = try WienerProcess(dimension: m, seed: 8, auxiliary: auxiliary)
            var t = 0.0
            for k in 1...300 {
                let step = 0.01 * Double(1 + k % 3)
                try r.increment(to: t + step, &dW, &dZ)
                h.mix(dW)
                if k % 4 == 0 {
                    try r.increment(to: t + 0.3 * step, &dW, &dZ)  // a rejection: the bridge
                    h.mix(dW)
                    t += 0.3 * step
                } else {
                    t += step
                }
                try r.accept()
                h.mix(dZ)
                if k % 50 == 0 {
                    t -= 0.25 * step
                    try r.rewind(to: t)
                }
            }
            var v = [Double](repeating: 0, count: m)
            try r.value(at: 0.123, into: &v)
            h.mix(v)
        }
        #expect(h.value == 3_526_055_985_047_362_599, "Wiener increment hash \(h.value)")
    }

    /// Path stream versions 2 and 3 (3: the sequence's normals by the ziggurat): draw `k` of a
    /// path with `c` components takes normals `k c ..< (k + 1) c` of the lane-0 sequence of the
    /// Wiener-path domain, components in order (`W` then `Z`), for one component as for
    /// several, odd or even.
    @Test func wienerDrawsReadTheSequentialLayout() throws {
        let stream = NormalStream(seed: 11, domain: 0x5750_0001)
        for (m, auxiliary) in [(1, false), (3, false), (2, false), (1, true)] {
            let c = auxiliary ? 2 * m : m
            var w = try WienerProcess(dimension: m, seed: 11, auxiliary: auxiliary)
            var dW = [Double](repeating: 0, count: m)
            var dZ = [Double](repeating: 0, count: auxiliary ? m : 0)
            var current = [Double](repeating: 0, count: c)
            var expectedW = current[0..<m].map { $0 }, expectedZ = current[m..<c].map { $0 }
            var n: UInt64 = 0
            var last = 0.0
            for k in 1...21 {
                let t = Double(k) * 0.1
                try w.increment(to: t, &dW, &dZ)
                try w.accept()
                let scale = (t - last).squareRoot()
                for j in 0..<c {
                    current[j] = current[j] + scale * stream.sequential(n)
                    n += 1
                }
                last = t
                expectedW += current[0..<m]
                expectedZ += current[m..<c]
            }
            #expect(w.knownValues.map(\.bitPattern) == expectedW.map(\.bitPattern), "m = \(m), auxiliary \(auxiliary)")
            #expect(w.knownAuxiliaryValues.map(\.bitPattern) == expectedZ.map(\.bitPattern), "m = \(m), auxiliary \(auxiliary)")
        }
    }

    /// Seeded solves: fixed-step EM on scalar and 4-D GBM and on general noise (every step
    /// saved, non-dyadic steps), and the adaptive LambaEM and SOSRI (rejections draw bridges).
    @Test func seededSolvesArePinned() throws {
        var h = BitHash()
        let fixed = SolveOptions(dt: 1e-3, adaptive: false)
        for sol in [
            try solve(gbmScalarProblem, EM(), seed: 3, options: fixed),
            try solve(gbm4Problem, EM(), seed: 3, options: fixed),
            try solve(generalProblem, EM(), seed: 3, options: fixed),
            try solve(gbm4Problem, EulerHeun(), seed: 3, options: fixed),
            try solve(gbmScalarProblem, LambaEM(), seed: 3, options: SolveOptions(reltol: 1e-3, abstol: 1e-3)),
            try solve(gbm4Problem, SOSRI(), seed: 3, options: SolveOptions(reltol: 1e-3, abstol: 1e-3)),
        ] {
            #expect(sol.retcode == .success)
            h.mix(sol.t)
            for u in sol.u { h.mix(u) }
        }
        #expect(h.value == 16_137_882_705_754_701_017, "seeded solve hash \(h.value)")
    }
}
