// Serial and EnsembleThreads(k) give the same bits: outputs, records and a floating-point
// reduction, on a 1,000-trajectory ensemble whose parameters and initial states are drawn from
// the per-trajectory seeds.
import DiffEqCore
import Ensembles
import EnsembleTestSupport
import ExplicitRK
import Foundation
import ProblemLibrary
import Testing

/// The bit patterns, so that a comparison says "bitwise" and NaN compares equal to itself.
func bits(_ rows: [[Double]]) -> [[UInt64]] { rows.map { $0.map(\.bitPattern) } }

@Suite struct EnsembleBackendTests {
    static let options = SolveOptions(reltol: 1e-6, abstol: 1e-8, saveat: .every(1))

    @Test func serialAndThreadsAreBitwiseEqualOnAThousandTrajectories() throws {
        let ensemble = randomizedLotkaVolterra()
        let serial = try solve(ensemble, Tsit5(), EnsembleSerial(), trajectories: 1000, options: Self.options)
        #expect(serial.u.count == 1000)
        #expect(serial.allSucceeded)
        #expect(Set(serial.u.map { $0[0] }).count > 990, "the seeds must give distinct trajectories")
        for k in [2, 4, 8] {
            let threaded = try solve(ensemble, Tsit5(), EnsembleThreads(k), trajectories: 1000, options: Self.options)
            #expect(bits(threaded.u) == bits(serial.u), "EnsembleThreads(\(k)) differs from EnsembleSerial")
            #expect(threaded.trajectories == serial.trajectories)
        }
    }

    @Test func floatingPointReductionIsFoldedInTrajectoryOrder() throws {
        // A sum of the final prey populations over batches of 37: floating-point addition is not
        // associative, so arrival-order folding would change the last bits between runs.
        let base = randomizedLotkaVolterra()
        let sum = EnsembleReduction<[Double], Double>(initial: 0) { acc, batch, _ in
            for u in batch { acc += u[0] }
            return false
        }
        let ensemble = EnsembleProblem(base.prob, probFunc: base.probFunc, outputFunc: base.outputFunc, reduction: sum, seed: base.seed)
        let serial = try solve(ensemble, Tsit5(), EnsembleSerial(), trajectories: 300, batchSize: 37, options: Self.options)
        let collected = try solve(base, Tsit5(), EnsembleSerial(), trajectories: 300, options: Self.options)
        var direct = 0.0
        for u in collected.u { direct += u[0] }
        #expect(serial.u.bitPattern == direct.bitPattern)
        for k in [2, 3, 8] {
            let threaded = try solve(ensemble, Tsit5(), EnsembleThreads(k), trajectories: 300, batchSize: 37, options: Self.options)
            #expect(threaded.u.bitPattern == serial.u.bitPattern)
        }
    }

    @Test func fixedSizeProblemsRunOnEveryBackEnd() throws {
        let ensemble = EnsembleProblem(
            TestProblems.staticLorenz(tEnd: 1),
            probFunc: { prob, ctx in
                var p = prob
                p.u0 = SIMD3(1 + 0.01 * Double(ctx.index), 0, 0)
                return p
            },
            outputFunc: { sol, _ in .keep(sol.u.last ?? SIMD3<Double>()) })
        let options = SolveOptions(dt: 1e-3, adaptive: false)
        let serial = try solve(ensemble, Tsit5(), EnsembleSerial(), trajectories: 64, options: options)
        let threaded = try solve(ensemble, Tsit5(), EnsembleThreads(3), trajectories: 64, options: options)
        #expect(serial.u == threaded.u)
        #expect(serial.trajectories.allSatisfy { $0.retcode == .success })
        // Trajectory 0 is the library's Lorenz problem: its own solve gives the same bits.
        let single = try solve(TestProblems.staticLorenz(tEnd: 1), Tsit5(), dt: 1e-3, adaptive: false)
        #expect(serial.u[0] == single.u.last)
    }

    @Test func invalidSettingsThrowBeforeAnyWork() {
        let ensemble = randomizedLotkaVolterra()
        #expect(throws: EnsembleError.self) { try solve(ensemble, Tsit5(), EnsembleSerial(), trajectories: -1) }
        #expect(throws: EnsembleError.self) { try solve(ensemble, Tsit5(), EnsembleSerial(), trajectories: 4, batchSize: 0) }
        #expect(throws: EnsembleError.self) { try solve(ensemble, Tsit5(), EnsembleSerial(), trajectories: 4, maxReruns: -1) }
        #expect(throws: EnsembleError.self) { try solve(ensemble, Tsit5(), EnsembleThreads(0), trajectories: 4) }
        let empty = try? solve(ensemble, Tsit5(), EnsembleThreads(2), trajectories: 0)
        #expect(empty?.u.isEmpty == true)
    }

    @Test func seedsFollowSplitMix64() {
        // splitmix64.c (Vigna) from state 0 starts 0xe220a8397b1dcdaf, 0x6e789e6aa1b965f4,
        // 0x06c45d188009454f: draw i of the ensemble's stream is splitMix64(seed + (i+1)γ).
        var g = SplitMixGenerator(seed: 0)
        #expect(g.next() == 0xE220_A839_7B1D_CDAF)
        #expect(g.next() == 0x6E78_9E6A_A1B9_65F4)
        #expect(g.next() == 0x06C4_5D18_8009_454F)
        let s1 = splitMix64(0 &+ 2 &* 0x9E37_79B9_7F4A_7C15)
        #expect(trajectorySeed(ensembleSeed: 0, index: 1, repeat: 0) == splitMix64(s1 &+ 0x9E37_79B9_7F4A_7C15))
        #expect(TrajectoryContext(index: 5, repeat: 1, ensembleSeed: 9).seed != TrajectoryContext(index: 5, repeat: 0, ensembleSeed: 9).seed)
        var u = SplitMixGenerator(seed: 42)
        let draws = (0..<10_000).map { _ in u.nextUniform() }
        #expect(draws.allSatisfy { $0 >= 0 && $0 < 1 })
        let mean = draws.reduce(0, +) / 10_000
        #expect(abs(mean - 0.5) < 4 * (1.0 / 12 / 10_000).squareRoot())
    }
}
