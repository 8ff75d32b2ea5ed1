// SDE ensembles: per-trajectory seeds from the index, the same bits on every back end, and a
// Monte Carlo mean that matches the analytic one.
import DiffEqCore
import Ensembles
import Foundation
import StochasticDE
import Testing

/// Geometric Brownian motion du = μu dt + σu dW (Itô), E[u(1)] = u0 e^μ.
struct EnsembleGBM: SDEModel, Sendable {
    func drift<S: DiffEqScalar>(_ du: inout [S], _ u: [S], _ p: [S], _ t: S) { du[0] = p[0] * u[0] }
    func diffusion<S: DiffEqScalar>(_ g: inout [S], _ u: [S], _ p: [S], _ t: S) { g[0] = p[1] * u[0] }
}

@Suite struct SDEEnsembleTests {
    static let prob = SDEProblem(model: EnsembleGBM(), u0: [0.5], tspan: (0, 1), p: [1.01, 0.87])

    @Test func sameBitsOnEveryBackendAndAnUnbiasedMean() throws {
        let ensemble = EnsembleProblem(Self.prob, outputFunc: { sol, _ in .keep(sol.u.last![0]) }, seed: 2024)
        let options = SolveOptions(reltol: 1e-2, abstol: 1e-2, saveEverystep: false)
        let n = 1000
        let serial = try solve(ensemble, SOSRI(), EnsembleSerial(), trajectories: n, options: options).u
        for k in [2, 4] {
            let threaded = try solve(ensemble, SOSRI(), EnsembleThreads(k), trajectories: n, batchSize: 100, options: options).u
            #expect(threaded == serial, "Threads(\(k))")
        }
        // Trajectories differ (each has its own seed) and a different ensemble seed changes them.
        #expect(Set(serial).count == n)
        let other = try solve(
            EnsembleProblem(Self.prob, outputFunc: { sol, _ in .keep(sol.u.last![0]) }, seed: 2025), SOSRI(), EnsembleSerial(),
            trajectories: 10, options: options).u
        #expect(other != Array(serial.prefix(10)))
        // Mean of u(1) within 3 standard errors of u0 e^μ (SOSRI's weak error at this tolerance
        // is far below the standard error, 0.045 here).
        let mean = serial.reduce(0, +) / Double(n)
        let variance = serial.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(n - 1)
        let se = (variance / Double(n)).squareRoot()
        #expect(abs(mean - 0.5 * Foundation.exp(1.01)) <= 3 * se, "mean \(mean), SE \(se)")
    }

    /// The one seeding function every back end's SDE solve uses: `probFunc` runs first, then the
    /// trajectory's seed replaces whatever seed `probFunc` left, and a rerun gets another seed.
    @Test func seedingEachTrajectorySetsTheContextSeedAfterProbFunc() throws {
        let ensemble = EnsembleProblem(
            Self.prob, probFunc: { prob, ctx in prob.remake(p: [1.01, 0.87 + 0.01 * Double(ctx.index)], seed: 99) },
            outputFunc: { sol, _ in .keep(sol.u.last![0]) }, seed: 5)
        let seeded = ensemble.seedingEachTrajectory()
        var seeds: Set<UInt64> = []
        for (index, attempt) in [(0, 0), (7, 0), (7, 1)] {
            let context = TrajectoryContext(index: index, repeat: attempt, ensembleSeed: ensemble.seed)
            let problem = try seeded.probFunc(seeded.prob, context)
            #expect(problem.seed == trajectorySeed(ensembleSeed: 5, index: index, repeat: attempt))
            #expect(problem.p == [1.01, 0.87 + 0.01 * Double(index)])
            seeds.insert(problem.seed)
        }
        #expect(seeds.count == 3)
    }

    /// `driftErrorWeight` reaches every trajectory's solve (each trajectory equals the single
    /// solve of its seed with the same δ, and differs from the default's), and a bad one is an
    /// `invalidArgument` before any trajectory runs.
    @Test func driftErrorWeightReachesEachTrajectory() throws {
        let ensemble = EnsembleProblem(Self.prob, outputFunc: { sol, _ in .keep(sol.u.last![0]) }, seed: 11)
        let options = SolveOptions(reltol: 1e-3, abstol: 1e-3, saveEverystep: false)
        let small = try solve(ensemble, SOSRI(), EnsembleSerial(), trajectories: 4, options: options, driftErrorWeight: 0.01).u
        let standard = try solve(ensemble, SOSRI(), EnsembleSerial(), trajectories: 4, options: options).u
        for i in 0..<4 {
            let seed = trajectorySeed(ensembleSeed: 11, index: i, repeat: 0)
            let single = try solve(Self.prob, SOSRI(), seed: seed, options: options, driftErrorWeight: 0.01)
            #expect(single.u.last![0] == small[i])
            #expect(small[i] != standard[i])
        }
        for bad in [-1.0, .nan] {
            #expect(throws: EnsembleError.self) {
                try solve(ensemble, SOSRI(), EnsembleSerial(), trajectories: 4, options: options, driftErrorWeight: bad)
            }
        }
    }
}
