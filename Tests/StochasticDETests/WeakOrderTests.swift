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
    /// Paths and steps: 20,000 paths of 32 steps keep the test near 10 s in a debug build
    /// (measured in the commit message); the standard error of the mean is then 0.010, of the
    /// second moment about 0.1.
    static let paths = 20_000
    static let steps = 32

    @Test func gbmMomentsAtTimeOne() throws {
        let mu = GBM.mu, sigma = GBM.sigma, u0 = GBM.u0
        let h = 1.0 / Double(Self.steps)
        let options = SolveOptions(saveEverystep: false, dt: h, adaptive: false)
        var s1 = 0.0, s2 = 0.0, s3 = 0.0, s4 = 0.0
        for seed in 0..<Self.paths {
            let sol = try solve(gbmScalarProblem, EM(), seed: UInt64(seed), options: options)
            let u = sol.u.last![0]
            s1 += u
            s2 += u * u
            s3 += u * u * u
            s4 += u * u * u * u
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
    }
}
