// Weak convergence by Monte Carlo: the mean and the second moment of geometric Brownian motion
// at t = 1 from EM solves. For EM on GBM the moments of the discrete recursion are known in
// closed form: u_{k+1} = u_k (1 + μh + σΔW_k) with independent ΔW_k ~ N(0, h) gives
// E[u_N] = u0 (1 + μh)^N and E[u_N²] = u0² ((1 + μh)² + σ²h)^N; the SDE's are u0 e^{μ} and
// u0² e^{2μ + σ²}. The sample moments must lie within 3 standard errors (sample standard
// deviation / √paths) of the recursion's moments (nothing but sampling error separates them),
// and the recursion's moments differ from the SDE's by O(h) (weak order 1: halving h halves
// the gap, checked on the closed forms).
import DiffEqCore
import Foundation
import StochasticDE
import Testing

@Suite struct WeakOrderTests {
    /// 10⁵ paths (the bar) of 32 steps. The standard error of the mean is then about
    /// 0.0046 and of the second moment about 0.05. Each check at 3 standard errors would fail
    /// a correct EM with probability 0.27 % for random seeds (normal limit); the seeds are fixed,
    /// so the test is deterministic. Measured: see the commit message (z-scores and time).
    static let paths = 100_000
    static let steps = 32
    /// Paths per task: the moments are summed per chunk in seed order and the chunks combined
    /// in order, so the sums do not depend on the scheduling.
    static let chunk = 12_500

    /// Power sums of u(1) over the seeds `seeds`: each path is the EM kernel (`SDEStepper`) on the
    /// ``WienerProcess`` of its seed without history, the increments and arithmetic of
    /// `solve(_:_:seed:options:)` with fixed steps of 1/32 (dyadic, so the loop's times are
    /// exact and the solve is the kernel recursion bit for bit: checked on the first paths in
    /// `gbmMomentsAtTimeOne`). The solve's per-path setup (options, solution arrays) is what
    /// made 2·10⁴ paths take 9.3 s in a debug build.
    static func powerSums(_ seeds: Range<Int>) throws -> [Double] {
        let h = 1.0 / Double(steps)
        var stepper = try SDEStepper(problem: gbmScalarProblem, algorithm: EM())
        var sums = [0.0, 0.0, 0.0, 0.0]
        var u = [0.0], dW = [0.0], none: [Double] = []
        for seed in seeds {
            var w = try WienerProcess(dimension: 1, seed: UInt64(seed), keepsHistory: false)
            u[0] = GBM.u0
            for k in 0..<steps {
                try w.increment(to: Double(k + 1) * h, &dW, &none)
                try stepper.step(&u, t: Double(k) * h, dt: h, dW: dW, dZ: none)
                try w.accept()
            }
            let x = u[0]
            sums[0] += x
            sums[1] += x * x
            sums[2] += x * x * x
            sums[3] += x * x * x * x
        }
        return sums
    }

    @Test func gbmMomentsAtTimeOne() async throws {
        let mu = GBM.mu, sigma = GBM.sigma, u0 = GBM.u0
        let h = 1.0 / Double(Self.steps)
        // The kernel recursion here is the product's solve, bit for bit, on the first seeds.
        let options = SolveOptions(saveEverystep: false, dt: h, adaptive: false)
        for seed in 0..<20 {
            let viaSolve = try solve(gbmScalarProblem, EM(), seed: UInt64(seed), options: options).u.last![0]
            let viaKernel = try Self.powerSums(seed..<(seed + 1))[0]
            #expect(viaSolve.bitPattern == viaKernel.bitPattern, "seed \(seed): solve \(viaSolve), kernel \(viaKernel)")
        }
        let chunks = Self.paths / Self.chunk
        let partial = try await withThrowingTaskGroup(of: (Int, [Double]).self) { group in
            for c in 0..<chunks {
                group.addTask { (c, try Self.powerSums((c * Self.chunk)..<((c + 1) * Self.chunk))) }
            }
            var out = [[Double]](repeating: [], count: chunks)
            for try await (c, sums) in group { out[c] = sums }
            return out
        }
        var s1 = 0.0, s2 = 0.0, s4 = 0.0
        for sums in partial {
            s1 += sums[0]
            s2 += sums[1]
            s4 += sums[3]
        }
        let n = Double(Self.paths)
        let mean = s1 / n, second = s2 / n
        let seMean = ((s2 / n - mean * mean) / n).squareRoot()
        let seSecond = ((s4 / n - second * second) / n).squareRoot()
        let emMean = u0 * Foundation.pow(1 + mu * h, Double(Self.steps))
        let emSecond = u0 * u0 * Foundation.pow((1 + mu * h) * (1 + mu * h) + sigma * sigma * h, Double(Self.steps))
        #expect(abs(mean - emMean) <= 3 * seMean, "mean \(mean), EM recursion \(emMean), SE \(seMean)")
        #expect(abs(second - emSecond) <= 3 * seSecond, "second moment \(second), EM recursion \(emSecond), SE \(seSecond)")
        // Weak order 1 of the recursion's moments against the SDE's.
        let exactMean = u0 * Foundation.exp(mu), exactSecond = u0 * u0 * Foundation.exp(2 * mu + sigma * sigma)
        func gaps(_ k: Int) -> (Double, Double) {
            let hk = 1.0 / Double(k)
            return (exactMean - u0 * Foundation.pow(1 + mu * hk, Double(k)),
                    exactSecond - u0 * u0 * Foundation.pow((1 + mu * hk) * (1 + mu * hk) + sigma * sigma * hk, Double(k)))
        }
        let (a1, b1) = gaps(Self.steps), (a2, b2) = gaps(2 * Self.steps)
        #expect(abs(a1 / a2 - 2) < 0.1 && abs(b1 / b2 - 2) < 0.15, "gap ratios \(a1 / a2), \(b1 / b2)")
        // And the Monte Carlo moments against the SDE's, with the recursion's bias stated.
        #expect(abs(mean - exactMean) <= 3 * seMean + abs(a1), "mean \(mean), exact \(exactMean), bias \(a1)")
        #expect(abs(second - exactSecond) <= 3 * seSecond + abs(b1), "second moment \(second), exact \(exactSecond), bias \(b1)")
    }
}
