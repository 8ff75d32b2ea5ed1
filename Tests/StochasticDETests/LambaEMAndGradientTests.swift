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

    /// What the tolerance controls: each accepted step's local error. On GBM (Wiener paths of
    /// seeds 0 … 19, every step saved) each accepted step is replayed by ``SDEStepper`` from
    /// its start with its own increment (the same bits as the solve's step, asserted), giving the
    /// solve's own estimate `|δE₁ + E₂|/sc`, and compared with the actual local error
    /// `|u_{k+1} − u_k exp((μ − σ²/2)h + σΔW)|/sc` (the closed form from the step's start on the
    /// same increment), `sc = tol(1 + max(|u_k|, |u_{k+1}|))`. Measured at 1e-2 and 1e-3 (1,421 and
    /// 15,056 steps per path): mean estimate / mean actual 1.01 and 1.02, correlation 0.84 (the
    /// estimate has `ΔW²` where the actual error has `ΔW² − h`; see ``LambaEM``), and no accepted
    /// step over the tolerance. Asserted: ratio within 0.8 … 1.25, correlation > 0.75, under 0.1%
    /// of the steps over the tolerance.
    ///
    /// The global error is those local errors added over `N ∝ 1/tol` steps with random signs,
    /// so it falls like `√tol` (strong order ½), not like `tol`. Measured: mean error at t = 1
    /// 0.032 and 0.0082 (0.32√tol, 0.26√tol; 3.2 and 8.2 tolerances), and 0.96 and 0.94 of the
    /// random-walk prediction `u(1)·(Σ_k (local_k/u_{k+1})²)^½` per path (so the global error is
    /// the local errors accumulated, nothing more). Asserted: error ≤ 0.5√tol (the measured
    /// constant with the 20-path sampling spread, about 17%, three times over), 0.7 … 1.3 of the
    /// prediction, slope 0.3 … 0.7. This is the contract of LambaEM; for a global error at the
    /// tolerance use an order-1.5 method.
    @Test func lambaEMEstimateIsTheLocalErrorAndTheGlobalErrorGrowsLikeTheSquareRootOfTheTolerance() throws {
        let (mu, sigma) = (GBM.mu, GBM.sigma)
        let tols = [1e-2, 1e-3]
        let paths = 20
        var globals = [Double](), summaries = [String]()
        for tol in tols {
            var (est, act, estSq, actSq, cross, over, count) = (0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0)
            var (global, predicted, steps) = (0.0, 0.0, 0.0)
            for seed in 0..<paths {
                let noise = try WienerProcess(dimension: 1, seed: UInt64(seed))
                var integrator = try makeIntegrator(
                    gbmScalarProblem, LambaEM(), noise: noise, options: SolveOptions(reltol: tol, abstol: .scalar(tol)))
                let sol = integrator.solve()
                #expect(sol.retcode == .success)
                var path = integrator.method.noise
                var stepper = try SDEStepper(problem: gbmScalarProblem, algorithm: LambaEM())
                var (w0, w1) = ([0.0], [0.0])
                var walk = 0.0
                for k in 0..<(sol.t.count - 1) {
                    let (t, h) = (sol.t[k], sol.t[k + 1] - sol.t[k])
                    try path.value(at: t, into: &w0)
                    try path.value(at: sol.t[k + 1], into: &w1)
                    let dW = w1[0] - w0[0]
                    var u = sol.u[k]
                    try stepper.step(&u, t: t, dt: h, dW: [dW], dZ: [])
                    let (uk, un) = (sol.u[k][0], sol.u[k + 1][0])
                    // ΔW from the path's values rounds differently from the solve's increment.
                    #expect(abs(u[0] - un) <= 1e-14 * abs(un), "step \(k) of seed \(seed) replayed: \(u[0]) vs \(un)")
                    let sc = tol * (1 + max(abs(uk), abs(un)))
                    let e = abs(stepper.driftErrorTerm[0] / 6 + stepper.diffusionErrorTerm[0]) / sc
                    let local = un - uk * exp((mu - sigma * sigma / 2) * h + sigma * dW)
                    let a = abs(local) / sc
                    (est, act, estSq, actSq, cross, count) = (est + e, act + a, estSq + e * e, actSq + a * a, cross + e * a, count + 1)
                    if a > 1 { over += 1 }
                    walk += (local / un) * (local / un)
                }
                global += abs(sol.u.last![0] - GBM.ito(w1[0])) / Double(paths)
                predicted += sol.u.last![0] * walk.squareRoot() / Double(paths)
                steps += Double(sol.stats.naccept) / Double(paths)
            }
            let (me, ma) = (est / count, act / count)
            let correlation = (cross / count - me * ma) / ((estSq / count - me * me) * (actSq / count - ma * ma)).squareRoot()
            let summary = "tol \(tol): \(steps) steps, estimate/actual \(me / ma), correlation \(correlation), "
                + "fraction over the tolerance \(over / count), global \(global) = \(global / tol.squareRoot()) √tol, "
                + "random-walk prediction \(predicted), ratio \(global / predicted)"
            summaries.append(summary)
            globals.append(global)
            #expect(me / ma > 0.8 && me / ma < 1.25, "\(summary)")
            #expect(correlation > 0.75, "\(summary)")
            #expect(over / count < 0.001, "\(summary)")
            #expect(global / predicted > 0.7 && global / predicted < 1.3, "\(summary)")
            #expect(global <= 0.5 * tol.squareRoot(), "\(summary)")
        }
        let slope = fittedOrder(dts: tols, errors: globals)
        #expect(slope > 0.3 && slope < 0.7, "slope \(slope): \(summaries)")
    }

    /// The same on the commuting general-noise problem (2 states, 3 processes),
    /// at 1e-2 … 1e-4 on 20 Wiener paths. Measured: mean errors 0.019, 0.0067, 0.0016 (0.19, 0.21,
    /// 0.16 √tol) in 122, 1,183, 11,878 steps, slope 0.54 (before the estimate held the cross
    /// terms `j ≠ k` of Milstein's double sum: 0.022, 0.0060, 0.0027 in 67, 526, 5,243 steps,
    /// slope 0.46). Asserted: slope 0.3 … 0.7, error ≤ 0.35√tol.
    @Test func adaptiveLambaEMOnGeneralNoise() throws {
        let tols = [1e-2, 1e-3, 1e-4]
        var errors = [0.0, 0.0, 0.0], steps = [0.0, 0.0, 0.0]
        let paths = 20
        for seed in 0..<paths {
            for (k, tol) in tols.enumerated() {
                var integrator = try makeIntegrator(
                    generalProblem, LambaEM(), noise: try WienerProcess(dimension: 3, seed: UInt64(seed)),
                    options: SolveOptions(reltol: tol, abstol: .scalar(tol), saveEverystep: false))
                let sol = integrator.solve()
                #expect(sol.retcode == .success)
                var w = [0.0, 0.0, 0.0]
                var path = integrator.method.noise
                try path.value(at: 1, into: &w)
                let exact = CommutingGeneral.exact(w, ito: true)
                errors[k] += zip(sol.u.last!, exact).map { abs($0 - $1) }.max()! / Double(paths)
                steps[k] += Double(sol.stats.naccept) / Double(paths)
            }
        }
        let slope = fittedOrder(dts: tols, errors: errors)
        let context = "general noise: mean errors \(errors), steps \(steps), slope \(slope)"
        #expect(slope > 0.3 && slope < 0.7, "\(context)")
        for (tol, e) in zip(tols, errors) { #expect(e <= 0.35 * tol.squareRoot(), "\(context)") }
    }
}

extension LambaEMTests {
    /// LambaEM on the cubic, 1e-1 ... 1e-3, on both path sources: the error falls like
    /// √tol, as a strong order-½ method under local error control must (see above). Measured (20
    /// paths): Wiener 0.015, 0.0063, 0.0021 (0.048, 0.063, 0.065 √tol) in 48, 440, 4,777 steps,
    /// slope 0.44; tree 0.021, 0.0062, 0.0017 (0.068, 0.062, 0.052 √tol), slope 0.56. Asserted:
    /// slope 0.3 … 0.7 and error ≤ 0.12√tol (largest measured constant with the sampling spread).
    @Test(arguments: SDEAdaptiveSolveTests.PathSource.allCases)
    func lambaEMErrorFallsLikeTheSquareRootOfTheTolerance(source: SDEAdaptiveSolveTests.PathSource) throws {
        let tols = [1e-1, 1e-2, 1e-3]
        let (errors, steps, _) = try SDEAdaptiveSolveTests.adaptiveErrors(
            cubicProblem, LambaEM(), tolerances: tols, paths: 20, source: source) { w, _ in Cubic.exact(w) }
        let slope = fittedOrder(dts: tols, errors: errors)
        let context = "\(source.rawValue) path: mean errors \(errors), mean steps \(steps), slope \(slope)"
        #expect(slope > 0.3 && slope < 0.7, "\(context)")
        for (tol, e) in zip(tols, errors) { #expect(e <= 0.12 * tol.squareRoot(), "\(context)") }
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
