// The Wiener process, its bridge, the virtual Brownian tree and NoiseGrid: distributions
// (Kolmogorov–Smirnov at level 0.001 and moments within 4 standard errors, fixed seeds so every
// run is the same) and the reproducibility each type promises, bit for bit.
import Foundation
import RandomStreams
import StochasticDE
import Testing

@Suite struct WienerProcessTests {
    @Test func incrementsAreNormalWithVarianceDt() throws {
        var w = try WienerProcess(dimension: 3, seed: 11, auxiliary: true, keepsHistory: false)
        var dW = [Double](repeating: 0, count: 3)
        var dZ = [Double](repeating: 0, count: 3)
        let dt = 0.01
        var standardized: [Double] = []
        var cross = 0.0
        var t = 0.0
        for _ in 0..<10_000 {
            t += dt
            try w.increment(to: t, &dW, &dZ)
            try w.accept()
            standardized += (dW + dZ).map { $0 / dt.squareRoot() }
            cross += dW[0] * dW[1] / dt
        }
        let n = standardized.count
        #expect(ksStatistic(standardized) < ksCritical(n), "KS D \(ksStatistic(standardized)) vs \(ksCritical(n))")
        // Components independent: correlation of dW₀ and dW₁ within 4 SE.
        #expect(abs(cross / 10_000) < 4 / 100)
    }

    @Test func bridgeHasTheConditionalMeanAndVariance() throws {
        // Given W(1), W(0.3) ~ N(0.3 W(1), 0.3 · 0.7). Over many seeds the standardized residual
        // is N(0, 1).
        var residuals: [Double] = []
        var none: [Double] = []
        var one = [0.0]
        var mid = [0.0]
        for seed in 0..<20_000 {
            var w = try WienerProcess(dimension: 1, seed: UInt64(seed))
            try w.increment(to: 1, &one, &none)
            try w.value(at: 0.3, into: &mid)
            residuals.append((mid[0] - 0.3 * one[0]) / (0.3 * 0.7).squareRoot())
        }
        let n = Double(residuals.count)
        let mean = residuals.reduce(0, +) / n
        let variance = residuals.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / (n - 1)
        #expect(abs(mean) < 4 / n.squareRoot())
        #expect(abs(variance - 1) < 4 * (2 / n).squareRoot())
        #expect(ksStatistic(residuals) < ksCritical(residuals.count))
    }

    @Test func sameSeedSameRequestsSameBits() throws {
        func run(_ seed: UInt64) throws -> [UInt64] {
            var w = try WienerProcess(dimension: 2, seed: seed, auxiliary: true)
            var dW = [0.0, 0.0], dZ = [0.0, 0.0]
            var out: [UInt64] = []
            for (t, accept) in [(0.1, true), (0.5, false), (0.2, true), (0.35, true), (0.5, true), (0.9, true)] {
                try w.increment(to: t, &dW, &dZ)
                out += (dW + dZ).map(\.bitPattern)
                if accept { try w.accept() }
            }
            var v = [0.0, 0.0]
            try w.value(at: 0.05, into: &v)
            return out + v.map(\.bitPattern)
        }
        #expect(try run(5) == run(5))
        #expect(try run(5) != run(6))
    }

    @Test func bridgeValuesBecomePartOfThePath() throws {
        var w = try WienerProcess(dimension: 1, seed: 3)
        var dW = [0.0]
        var none: [Double] = []
        try w.increment(to: 1, &dW, &none)
        try w.accept()
        let w1 = dW[0]
        var a = [0.0], b = [0.0], c = [0.0]
        try w.value(at: 0.4, into: &a)
        try w.value(at: 0.4, into: &b)
        try w.value(at: 1, into: &c)
        #expect(a[0].bitPattern == b[0].bitPattern)
        #expect(c[0].bitPattern == w1.bitPattern)
        #expect(w.knownTimes == [0, 0.4, 1])
        // A second process replaying the same requests steps through the bridge point.
        var replay = try WienerProcess(dimension: 1, seed: 3)
        try replay.increment(to: 1, &dW, &none)
        try replay.accept()
        try replay.value(at: 0.4, into: &b)
        #expect(b[0].bitPattern == a[0].bitPattern)
    }

    @Test func noHistoryKeepsMemoryBounded() throws {
        var w = try WienerProcess(dimension: 1, seed: 1, keepsHistory: false)
        var dW = [0.0]
        var none: [Double] = []
        for k in 1...10_000 {
            try w.increment(to: Double(k) * 1e-3, &dW, &none)
            try w.accept()
        }
        #expect(w.knownTimes.count <= 64)
        #expect(w.currentTime == 10)
    }
}

@Suite struct BrownianTreeTests {
    @Test func dyadicIncrementsAreNormalWithVarianceDt() throws {
        var standardized: [Double] = []
        var w = [0.0, 0.0]
        for seed in 0..<40 {
            let tree = try VirtualBrownianTree(t0: 0, t1: 2, dimension: 2, seed: UInt64(seed), tolerance: 2 * 0x1p-12)
            var cursor = BrownianTreeCursor(tree)
            var previous = [0.0, 0.0]
            let h = 2 * 0x1p-8
            for k in 1...256 {
                try cursor.value(at: Double(k) * h, into: &w)
                standardized += (0..<2).map { (w[$0] - previous[$0]) / h.squareRoot() }
                previous = w
            }
        }
        #expect(ksStatistic(standardized) < ksCritical(standardized.count))
        let n = Double(standardized.count)
        let variance = standardized.reduce(0) { $0 + $1 * $1 } / n
        #expect(abs(variance - 1) < 4 * (2 / n).squareRoot())
    }

    @Test func valuesDependOnTheSeedAndTimeOnlyNotOnQueryOrder() throws {
        let tree = try VirtualBrownianTree(t0: -1, t1: 3, dimension: 3, seed: 77, tolerance: 1e-5, auxiliary: true)
        let g = Philox4x32(seed: 5)
        var times: [Double] = [-1, 3, 1, 0, 0.5]
        for i in 0..<400 {
            let b = g.block((UInt32(i), 0, 0, 0))
            times.append(-1 + 4 * NormalStream.openUniform(b.0, b.1))
        }
        var w = [Double](repeating: 0, count: 6)
        // From scratch (a fresh cursor per query) ...
        var fresh: [[UInt64]] = []
        for t in times {
            try tree.value(at: t, into: &w)
            fresh.append(w.map(\.bitPattern))
        }
        // ... with one cursor in the given order, in sorted order and in reverse.
        for order in [Array(times.indices), times.indices.sorted { times[$0] < times[$1] }, Array(times.indices.reversed())] {
            var cursor = BrownianTreeCursor(tree)
            for i in order {
                try cursor.value(at: times[i], into: &w)
                #expect(w.map(\.bitPattern) == fresh[i], "t = \(times[i])")
            }
        }
        #expect(fresh[0].allSatisfy { $0 == 0 })
    }

    @Test func sameValuesOnEveryThreadCount() async throws {
        let tree = try VirtualBrownianTree(t0: 0, t1: 1, dimension: 1, seed: 123, tolerance: 1e-6)
        let times = (1...64).map { Double($0) / 67 }
        var serial: [UInt64] = []
        var w = [0.0]
        var cursor = BrownianTreeCursor(tree)
        for t in times {
            try cursor.value(at: t, into: &w)
            serial.append(w[0].bitPattern)
        }
        let parallel = try await withThrowingTaskGroup(of: (Int, UInt64).self) { group in
            for (i, t) in times.enumerated() {
                group.addTask {
                    var v = [0.0]
                    try tree.value(at: t, into: &v)
                    return (i, v[0].bitPattern)
                }
            }
            var out = [UInt64](repeating: 0, count: times.count)
            for try await (i, bits) in group { out[i] = bits }
            return out
        }
        #expect(parallel == serial)
    }

    /// The tree's values pinned bit for bit (FNV-1a over the bit patterns), so a faster cursor
    /// cannot change the path a seed produces: a forward sweep at non-dyadic step times (leaves
    /// narrower than the step, wider than the step, and one with the auxiliary process and three
    /// components), a backward sweep, and random-order queries from scratch. The hashes were
    /// computed by the cursor of commit c1350c9 (before the per-level pair cache).
    @Test func valuesArePinned() throws {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        func mix(_ w: [Double]) {
            for x in w {
                hash ^= x.bitPattern
                hash = hash &* 0x100_0000_01b3
            }
        }
        for (m, auxiliary, tolerance, steps) in [(1, false, 1e-4, 10_000), (1, false, 1e-2, 3_000), (3, true, 1e-5, 700)] {
            let tree = try VirtualBrownianTree(t0: 0, t1: 1, dimension: m, seed: 2, tolerance: tolerance, auxiliary: auxiliary)
            var cursor = BrownianTreeCursor(tree)
            var w = [Double](repeating: 0, count: tree.components)
            for k in 1...steps {
                try cursor.value(at: Double(k) * (1.0 / Double(steps)), into: &w)
                mix(w)
            }
            for k in stride(from: steps - 1, through: 1, by: -7) {
                try cursor.value(at: Double(k) / Double(steps) + 0.3 / Double(steps), into: &w)
                mix(w)
            }
            let g = Philox4x32(seed: 9)
            for i in 0..<200 {
                let b = g.block((UInt32(i), 0, 0, 0))
                try tree.value(at: NormalStream.openUniform(b.0, b.1), into: &w)
                mix(w)
            }
        }
        #expect(hash == 2_729_393_963_421_484_784, "tree value hash \(hash)")
    }

    @Test func depthMeetsTheTolerance() throws {
        let tree = try VirtualBrownianTree(t0: 0, t1: 1, dimension: 1, seed: 0, tolerance: 1e-3)
        #expect(tree.depth == 10)  // 2⁻¹⁰ ≤ 1e-3 < 2⁻⁹
    }
}

@Suite struct NoiseReproducibilityTests {
    let problem = SDEProblem(model: GBM(), u0: [0.5, 1.5], tspan: (0, 1), p: [GBM.mu, GBM.sigma])

    /// A Wiener path recorded during a solve, replayed as a NoiseGrid: the same increments, so
    /// the same solution, bit for bit.
    @Test func recordedWienerPathReplaysBitForBit() throws {
        var process = try WienerProcess(dimension: 2, seed: 9)
        let drawn = try integrateFixed(problem, EM(), noise: &process, steps: 100)
        var grid = try NoiseGrid(recordedFrom: process)
        let replayed = try integrateFixed(problem, EM(), noise: &grid, steps: 100)
        #expect(drawn.map(\.bitPattern) == replayed.map(\.bitPattern))
    }

    /// A solve driven by the tree equals a solve on a NoiseGrid holding the tree's values at the
    /// step times, and a re-solve from the tree alone.
    @Test func treeSolveReplaysThroughGridAndTree() throws {
        let tree = try VirtualBrownianTree(t0: 0, t1: 1, dimension: 2, seed: 31, tolerance: 1e-4)
        var noise = BrownianTreeNoise(tree)
        let fromTree = try integrateFixed(problem, EulerHeun(), noise: &noise, steps: 50)
        var times: [Double] = []
        var values: [Double] = []
        var w = [0.0, 0.0]
        for t in fixedStepTimes((0, 1), steps: 50) {
            try tree.value(at: t, into: &w)
            times.append(t)
            values += w
        }
        var grid = try NoiseGrid(times: times, values: values)
        let fromGrid = try integrateFixed(problem, EulerHeun(), noise: &grid, steps: 50)
        var again = BrownianTreeNoise(tree)
        let resolved = try integrateFixed(problem, EulerHeun(), noise: &again, steps: 50)
        #expect(fromTree.map(\.bitPattern) == fromGrid.map(\.bitPattern))
        #expect(fromTree.map(\.bitPattern) == resolved.map(\.bitPattern))
    }

    /// NoiseGrid fixes W exactly: with W(t) = t on the grid, EM on du = u dW is the product
    /// Π(1 + ΔW), evaluated as EM rounds it (u + u ΔW). The grid holds the steps' own times
    /// (`k·0.1`, not `k/10`: 3·0.1 is not 0.3), so no step ends between grid points and no
    /// bridge draw enters the product (with `k/10` the result depended on the bridge normals in
    /// its last bit, and changed with the path stream's layout).
    @Test func gridFixesTheIncrements() throws {
        let times = fixedStepTimes((0, 1), steps: 10)
        var grid = try NoiseGrid(times: times, values: times)
        let prob = SDEProblem(f: { du, _, _, _ in du[0] = 0 }, g: { g, u, _, _ in g[0] = u[0] }, u0: [1.0], tspan: (0, 1))
        let u = try integrateFixed(prob, EM(), noise: &grid, steps: 10)
        var expected = 1.0
        for k in 0..<10 { expected += expected * (times[k + 1] - times[k]) }
        #expect(u[0] == expected)
    }

    /// Between grid points a step gets the bridge between the given values: mean and variance.
    @Test func gridBridgesBetweenGivenPoints() throws {
        var residuals: [Double] = []
        var dW = [0.0]
        var none: [Double] = []
        for seed in 0..<10_000 {
            var grid = try NoiseGrid(times: [0, 1], values: [0, 1.5], bridgeSeed: UInt64(seed))
            try grid.increment(to: 0.25, &dW, &none)
            residuals.append((dW[0] - 0.375) / (0.25 * 0.75).squareRoot())
        }
        #expect(ksStatistic(residuals) < ksCritical(residuals.count))
    }
}
