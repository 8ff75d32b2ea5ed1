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
            gbmScalarProblem, LambaEM(), tolerances: tols, paths: 100) { GBM.ito($0, t: $1) }
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

extension LambaEMTests {
    /// LambaEM on the cubic, 1e-1 ... 1e-3, on both path sources: the error falls like
    /// √tol, as a strong order-½ method under local error control must (N ∝ 1/tol steps, each
    /// adding a local error of about tol: √N · tol). Measured (release, 50 paths, Wiener): mean
    /// errors 1.7e-2, 5.9e-3, 2.2e-3, 6.6e-4 at 1e-1 ... 1e-4 (43, 451, 4796, 49324 steps):
    /// slopes 0.43-0.52 (40 paths, debug: 0.46 Wiener, 0.52 tree). Here 20 paths. Asserted:
    /// slope between 0.3 and 0.7. Below 1e-2 the error is above the
    /// tolerance (2.2 tol at 1e-3 here, 12 tol on GBM at 1e-3): a known issue of the method, not
    /// of the controller; use an order-1.5 method for tight tolerances.
    @Test(arguments: SDEAdaptiveSolveTests.PathSource.allCases)
    func lambaEMErrorFallsLikeTheSquareRootOfTheTolerance(source: SDEAdaptiveSolveTests.PathSource) throws {
        let tols = [1e-1, 1e-2, 1e-3]
        let (errors, steps, _) = try SDEAdaptiveSolveTests.adaptiveErrors(
            cubicProblem, LambaEM(), tolerances: tols, paths: 20, source: source) { w, _ in Cubic.exact(w) }
        let slope = fittedOrder(dts: tols, errors: errors)
        let context = "\(source.rawValue) path: mean errors \(errors), mean steps \(steps), slope \(slope)"
        #expect(slope > 0.3 && slope < 0.7, "\(context)")
        #expect(errors[0] <= tols[0], "\(context)")
        withKnownIssue("LambaEM is of strong order 1/2: at 1e-3 the mean error is about 2 tolerances (\(context))") {
            #expect(errors[2] <= tols[2])
        }
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
