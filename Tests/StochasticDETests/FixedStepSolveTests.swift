// `solve` runs EM, EulerHeun and RKMil with fixed steps in its own loop (solveWithFixedSteps);
// `makeIntegrator(...).solve()` always runs the shared integrator loop. Both must give the same
// solution bit for bit: times, states, dense output, return code, message and statistics.
import DiffEqCore
import Foundation
import StochasticDE
import Testing

/// GBM whose drift or diffusion turns NaN after `badAfter` (the failure path of both loops).
struct NaNAfter: SDEModel {
    let badAfter: Double
    let inDrift: Bool
    func drift<S: DiffEqScalar>(_ du: inout [S], _ u: [S], _ p: [S], _ t: S) {
        for i in u.indices { du[i] = inDrift && t.primal > badAfter ? S(Double.nan) : S(1.01) * u[i] }
    }
    func diffusion<S: DiffEqScalar>(_ g: inout [S], _ u: [S], _ p: [S], _ t: S) {
        for i in u.indices { g[i] = !inDrift && t.primal > badAfter ? S(Double.nan) : S(0.87) * u[i] }
    }
}

@Suite struct FixedStepSolveTests {
    static let options: [(String, SolveOptions)] = [
        ("every step, dense", SolveOptions(dt: 1e-3, adaptive: false)),
        ("end only", SolveOptions(saveEverystep: false, dt: 1e-3, adaptive: false)),
        ("dt not dividing the span", SolveOptions(saveEverystep: false, dt: 0.3, adaptive: false)),
        ("saveat and tstops", SolveOptions(saveat: .times([0, 0.25, 0.5, 0.55, 0.99, 1]), dt: 1.0 / 7, tstops: [0.3, 0.55, 0.9], adaptive: false)),
        ("saveat every, dense", SolveOptions(saveat: .every(0.1), dense: true, dt: 0.03, adaptive: false)),
        ("every step, not dense", SolveOptions(saveEverystep: true, dense: false, dt: 0.01, adaptive: false)),
        ("dtmax below dt", SolveOptions(dt: 0.1, dtmax: 0.04, adaptive: false)),
        ("maxiters", SolveOptions(dt: 1e-3, maxiters: 10, adaptive: false)),
        ("adaptive flag, fixed method", SolveOptions(saveEverystep: false, dt: 1e-2)),
    ]

    func expectSame<S>(_ a: ODESolution<S>, _ b: ODESolution<S>, _ what: String) {
        #expect(a.t.map(\.bitPattern) == b.t.map(\.bitPattern), "\(what): times")
        #expect(a.u.count == b.u.count, "\(what): saved count")
        for (x, y) in zip(a.u, b.u) { #expect(x == y || zip(x, y).allSatisfy { !$0.0.isFiniteScalar && !$0.1.isFiniteScalar }, "\(what): state") }
        #expect(a.retcode == b.retcode, "\(what): retcode \(a.retcode) vs \(b.retcode)")
        #expect(a.message == b.message, "\(what): message")
        #expect(a.stats == b.stats, "\(what): stats \(a.stats) vs \(b.stats)")
        #expect(a.algorithm == b.algorithm, "\(what): algorithm")
        #expect((a.denseOutput == nil) == (b.denseOutput == nil), "\(what): dense output")
        if a.denseOutput != nil, b.denseOutput != nil, let last = a.t.last {
            for k in 0...20 {
                let s = Double(k) / 20 * last
                #expect((try? a(s)) == (try? b(s)), "\(what): dense output at \(s)")
            }
        }
    }

    /// `solve(_:_:seed:)` (drawing the path in place) against the shared loop on the same
    /// WienerProcess.
    func checkSeeded<F: SDEFunction>(_ prob: SDEProblem<F>, _ alg: some SDEAlgorithm, _ name: String) throws where F.Scalar == Double {
        for (label, options) in Self.options {
            for seed: UInt64 in [0, 3] {
                let what = "\(name), \(label), seed \(seed)"
                let fast = try solve(prob, alg, seed: seed, options: options)
                let noise = try WienerProcess(
                    dimension: prob.wienerCount, t0: prob.tspan.0, seed: seed, auxiliary: alg.scheme.needsAuxiliaryIncrement,
                    keepsHistory: false)
                var loop = try makeIntegrator(prob, alg, noise: noise, options: options)
                expectSame(fast, loop.solve(), what)
            }
        }
    }

    /// `solve(_:_:noise:)` against the shared loop on the same kind of noise.
    func checkNoise<F: SDEFunction, N: NoiseProcess>(_ prob: SDEProblem<F>, _ alg: some SDEAlgorithm, _ noise: () throws -> N, _ name: String) throws where F.Scalar == Double {
        for (label, options) in Self.options {
            let what = "\(name), \(label)"
            let fast = try solve(prob, alg, noise: noise(), options: options)
            var loop = try makeIntegrator(prob, alg, noise: noise(), options: options)
            expectSame(fast, loop.solve(), what)
        }
    }

    @Test func seededSolvesMatchTheSharedLoop() throws {
        try checkSeeded(gbmScalarProblem, EM(), "EM scalar GBM")
        try checkSeeded(gbm4Problem, EM(), "EM 4-D GBM")
        try checkSeeded(generalProblem, EM(), "EM general noise")
        try checkSeeded(gbmScalarNoiseProblem, EM(), "EM scalar noise")
        try checkSeeded(additiveProblem, EM(), "EM additive")
        try checkSeeded(gbm4Problem, EulerHeun(), "EulerHeun 4-D GBM")
        try checkSeeded(gbmScalarProblem, RKMil(), "RKMil Itô scalar GBM")
        try checkSeeded(gbm4Problem, RKMil(interpretation: .stratonovich), "RKMil Stratonovich 4-D GBM")
    }

    @Test func otherNoiseMatchesTheSharedLoop() throws {
        try checkNoise(gbmScalarProblem, EM(), { try WienerProcess(dimension: 1, seed: 5) }, "EM, WienerProcess with history")
        try checkNoise(gbm4Problem, EM(), { try WienerProcess(dimension: 4, seed: 5, keepsHistory: false) }, "EM, WienerProcess without history")
        let tree = try VirtualBrownianTree(t0: 0, t1: 1, dimension: 1, seed: 9, tolerance: 1e-4)
        try checkNoise(gbmScalarProblem, RKMil(), { BrownianTreeNoise(tree) }, "RKMil, tree")
        try checkNoise(gbmScalarProblem, EulerHeun(), { BrownianTreeNoise(tree) }, "EulerHeun, tree")
    }

    @Test func nonFiniteStepsFailAsOnTheSharedLoop() throws {
        // One state: the one-component run and the plain EM steps; two: the general loop.
        for (inDrift, u0) in [(true, [0.5, 1]), (false, [0.5, 1]), (true, [0.5]), (false, [0.5])] {
            let prob = SDEProblem(model: NaNAfter(badAfter: 0.4, inDrift: inDrift), u0: u0, tspan: (0, 1))
            for (label, options) in Self.options {
                let what = "NaN in \(inDrift ? "f" : "g"), \(u0.count) states, \(label)"
                let fast = try solve(prob, EM(), seed: 1, options: options)
                let noise = try WienerProcess(dimension: u0.count, seed: 1, keepsHistory: false)
                var loop = try makeIntegrator(prob, EM(), noise: noise, options: options)
                let reference = loop.solve()
                expectSame(fast, reference, what)
                if options.maxiters > 500 { #expect(fast.retcode == .unstable, "\(what): \(fast.retcode)") }
            }
        }
    }

    @Test func invalidInputFailsAsOnTheSharedLoop() throws {
        let bad: [SolveOptions] = [
            SolveOptions(adaptive: false),  // no dt
            SolveOptions(dt: .nan, adaptive: false),
            SolveOptions(saveat: .times([2]), dt: 0.1, adaptive: false),
        ]
        for options in bad {
            var a = "", b = ""
            do { _ = try solve(gbmScalarProblem, EM(), seed: 1, options: options) } catch { a = "\(error)" }
            do { _ = try makeIntegrator(gbmScalarProblem, EM(), noise: WienerProcess(dimension: 1, seed: 1), options: options) } catch { b = "\(error)" }
            #expect(!a.isEmpty && a == b, "\(a) vs \(b)")
        }
    }
}
