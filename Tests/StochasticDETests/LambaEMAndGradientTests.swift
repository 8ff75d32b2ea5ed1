// LambaEM (adaptive EM) through the solve, and pathwise forward-mode derivatives through the
// solve (duals of the generic model form on a fixed Brownian-tree path) against central
// differences on the same path.
import DiffEqCore
import Foundation
import StochasticDE
import Testing

@Suite struct LambaEMTests {
    /// With fixed steps LambaEM is EM: the same bits.
    @Test func fixedStepsAreEM() throws {
        let options = SolveOptions(dt: 1.0 / 32, adaptive: false)
        for prob in [gbm4Problem] {
            let a = try solve(prob, LambaEM(), seed: 3, options: options)
            let b = try solve(prob, EM(), seed: 3, options: options)
            #expect(a.u == b.u)
        }
        let a = try solve(generalProblem, LambaEM(), seed: 3, options: options)
        let b = try solve(generalProblem, EM(), seed: 3, options: options)
        #expect(a.u == b.u)
    }

    /// Adaptive: the mean error at t = 1 over 100 seeded paths falls with the tolerance, on GBM
    /// (diagonal) and on the commuting general-noise problem (2 states, 3 processes).
    ///
    /// The estimate controls the local error, and for a strong order-½ method the global error
    /// is not proportional to it: measured on GBM, mean errors 0.068, 0.028, 0.0093 at
    /// tolerances 1e-1, 1e-2, 1e-3 (mean 127, 1407, 15268 steps), a factor 2.4-3 per decade, as
    /// `error ∝ √h` with `h ∝ tol` predicts (√10 ≈ 3.2). Asserted: at least a factor 2 per
    /// decade (1e-3 left out to keep the test short in debug builds).
    @Test func adaptiveLambaEMFollowsTheTolerance() throws {
        let tols = [1e-1, 1e-2]
        let (errors, steps, _) = try SDEAdaptiveSolveTests.adaptiveErrors(
            gbmScalarProblem, LambaEM(), tolerances: tols, paths: 100, auxiliary: false) { GBM.ito($0) }
        #expect(errors[1] < errors[0] / 2, "errors \(errors), mean steps \(steps)")
        var generalErrors = [0.0, 0.0]
        for seed in 0..<50 {
            for (k, tol) in [1e-1, 1e-3].enumerated() {
                var integrator = try makeIntegrator(
                    generalProblem, LambaEM(), noise: try WienerProcess(dimension: 3, seed: UInt64(seed)),
                    options: SolveOptions(reltol: tol, abstol: .scalar(tol), saveEverystep: false))
                let sol = integrator.solve()
                #expect(sol.retcode == .success)
                var w = [0.0, 0.0, 0.0]
                var path = integrator.method.noise
                try path.value(at: 1, into: &w)
                let exact = CommutingGeneral.exact(w, ito: true)
                generalErrors[k] += zip(sol.u.last!, exact).map { abs($0 - $1) }.max()! / 50
            }
        }
        #expect(generalErrors[1] < generalErrors[0] / 3, "general noise: errors \(generalErrors)")
    }
}

@Suite struct PathwiseGradientTests {
    typealias D = Dual<2, Double>

    /// d u(1) / d(μ, σ) for GBM by duals through a fixed-step solve on one tree path, against
    /// central differences of the Double solve on the same path (step 1e-6 relative), to 1e-6
    /// relative. Fixed steps: an adaptive solve would choose its steps from the perturbed
    /// solution and the difference quotient would mix two step sequences.
    @Test(arguments: [("EM", 0), ("SOSRI", 1), ("LambaEM", 2)])
    func dualsAgreeWithCentralDifferences(_ name: String, _ which: Int) throws {
        let algorithms: [any SDEAlgorithm] = [EM(), SOSRI(), LambaEM()]
        let alg = algorithms[which]
        let tree = try VirtualBrownianTree(t0: 0, t1: 1, dimension: 1, seed: 21, tolerance: 0x1p-12, auxiliary: true)
        let options = SolveOptions(saveat: .times([0.5, 1]), dt: 1.0 / 256, adaptive: false)
        let dualProblem = SDEProblem(
            model: GBM(), u0: [D(constant: GBM.u0)], tspan: (0, 1), p: [D(GBM.mu, seed: 0), D(GBM.sigma, seed: 1)])
        let sol = try solve(dualProblem, alg, noise: BrownianTreeNoise(tree), options: options)
        #expect(sol.retcode == .success)
        func value(_ p: [Double]) throws -> Double {
            let prob = SDEProblem(model: GBM(), u0: [GBM.u0], tspan: (0, 1), p: p)
            return try solve(prob, alg, noise: BrownianTreeNoise(tree), options: options).u.last![0]
        }
        let p = [GBM.mu, GBM.sigma]
        for j in 0..<2 {
            let eps = 1e-6 * p[j]
            var plus = p, minus = p
            plus[j] += eps
            minus[j] -= eps
            let fd = (try value(plus) - value(minus)) / (2 * eps)
            let ad = sol.u.last![0].partials[j]
            #expect(abs(ad - fd) <= 1e-6 * abs(fd), "\(name) parameter \(j): dual \(ad), central difference \(fd)")
        }
        #expect(sol.u.last![0].value == (try value(p)))
    }
}
