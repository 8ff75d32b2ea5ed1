// Reruns, early exit, failed trajectories, a throwing probFunc, safetyCopy: each the same on
// EnsembleSerial and EnsembleThreads.
import DiffEqCore
import Ensembles
import ExplicitRK
import Foundation
import Synchronization
import Testing

private let decay = ODEProblem(f: { du, u, p, _ in du[0] = -p[0] * u[0] }, u0: [1.0], tspan: (0, 1), p: [1.0])

private let backEnds: [any EnsembleAlgorithm] = [EnsembleSerial(), EnsembleThreads(2), EnsembleThreads(4)]

@Suite struct EnsembleControlTests {
    @Test(arguments: [1, 2, 4]) func rerunsRequestedByTheOutputFunctionGetNewSeeds(threads: Int) throws {
        // Trajectory i is rerun until its repeat reaches i % 3; the kept output is the seed of
        // the attempt kept.
        let ensemble = EnsembleProblem(
            decay, outputFunc: { (_: ODESolution<Double>, ctx) -> TrajectoryOutput<UInt64> in ctx.repeat < ctx.index % 3 ? .rerun : .keep(ctx.seed) })
        let sim = try solve(ensemble, Tsit5(), EnsembleThreads(threads), trajectories: 30)
        for i in 0..<30 {
            #expect(sim.trajectories[i].attempts == i % 3 + 1)
            #expect(sim.u[i] == trajectorySeed(ensembleSeed: 0, index: i, repeat: i % 3))
        }
    }

    @Test func aRerunLimitIsAnError() {
        let ensemble = EnsembleProblem(decay, outputFunc: { (_: ODESolution<Double>, ctx) -> TrajectoryOutput<Int> in
            ctx.index == 3 ? .rerun : .keep(ctx.index)
        })
        for threads in [1, 3] {
            #expect {
                try solve(ensemble, Tsit5(), EnsembleThreads(threads), trajectories: 8, maxReruns: 5)
            } throws: { error in
                guard case .trajectoryFailed(let f) = error as? EnsembleError else { return false }
                return f.index == 3 && f.stage == .rerunLimit && f.repeat == 5
            }
        }
    }

    @Test func reductionStopsEarlyWhenItsConvergenceTestHolds() throws {
        // A running mean of the decay rates drawn per trajectory; stop once at least 40
        // trajectories are in: batches of 16 -> 48 trajectories run.
        let mean = EnsembleReduction<Double, [Double]>(initial: []) { acc, batch, _ in
            acc.append(contentsOf: batch)
            return acc.count >= 40
        }
        let ensemble = EnsembleProblem(
            decay, probFunc: { prob, ctx in var g = ctx.generator; return prob.remake(p: [0.5 + g.nextUniform()]) },
            outputFunc: { sol, _ in .keep(sol.u.last?[0] ?? .nan) }, reduction: mean)
        var results: [[Double]] = []
        for threads in [1, 2, 4] {
            let sim = try solve(ensemble, Tsit5(), EnsembleThreads(threads), trajectories: 200, batchSize: 16)
            #expect(sim.converged)
            #expect(sim.u.count == 48)
            #expect(sim.trajectories.map(\.index) == Array(0..<48))
            results.append(sim.u)
        }
        #expect(results.allSatisfy { $0.map(\.bitPattern) == results[0].map(\.bitPattern) })
        // Without the test holding, every batch runs and `converged` stays false.
        let all = try solve(ensemble, Tsit5(), EnsembleSerial(), trajectories: 40, batchSize: 16)
        #expect(!all.converged && all.u.count == 40)
    }

    @Test func failedTrajectoriesKeepTheirReturnCodesAndTheEnsembleGoesOn() throws {
        // u' = u² from u0 = 1 blows up at t = 1: trajectories 3 and 11 integrate to t = 2 and fail;
        // the others stop at 0.5.
        let blowup = ODEProblem(f: { du, u, _, _ in du[0] = u[0] * u[0] }, u0: [1.0], tspan: (0, 0.5))
        let ensemble = EnsembleProblem(
            blowup, probFunc: { prob, ctx in [3, 11].contains(ctx.index) ? prob.remake(tspan: (0, 2)) : prob },
            outputFunc: { sol, _ in .keep(sol.t.last ?? .nan) })
        for threads in [1, 4] {
            let sim = try solve(ensemble, Tsit5(), EnsembleThreads(threads), trajectories: 16)
            #expect(sim.u.count == 16)
            #expect(sim.failedTrajectories.map(\.index) == [3, 11])
            #expect(sim.failedTrajectories.allSatisfy { !$0.retcode.isSuccessful && $0.message != nil })
            #expect(!sim.allSucceeded)
            // The failed solves stop near the singularity, the others reach 0.5.
            #expect(sim.u[3] < 1.0001 && sim.u[3] > 0.9)
            #expect(sim.u[0] == 0.5)
        }
    }

    @Test func aThrowingProblemFunctionIsReportedForItsLowestIndex() {
        struct Refused: Error, CustomStringConvertible { let i: Int; var description: String { "no problem for \(i)" } }
        let ensemble = EnsembleProblem(
            decay, probFunc: { prob, ctx in if ctx.index == 7 || ctx.index == 5 { throw Refused(i: ctx.index) }; return prob },
            outputFunc: { sol, _ in .keep(sol.u.last?[0] ?? .nan) })
        for backEnd in backEnds {
            #expect {
                try solve(ensemble, Tsit5(), backEnd, trajectories: 12)
            } throws: { error in
                guard case .trajectoryFailed(let f) = error as? EnsembleError else { return false }
                return f.index == 5 && f.stage == .problemFunction && f.message == "no problem for 5"
            }
        }
        // A solve that throws (invalid input made by probFunc) is reported the same way.
        let bad = EnsembleProblem(decay, probFunc: { prob, ctx in ctx.index == 2 ? prob.remake(tspan: (0, 0)) : prob })
        #expect {
            try solve(bad, Tsit5(), EnsembleThreads(2), trajectories: 4)
        } throws: { error in
            guard case .trajectoryFailed(let f) = error as? EnsembleError else { return false }
            return f.index == 2 && f.stage == .solve
        }
    }

    @Test func safetyCopyGivesEachTrajectoryItsOwnInstance() throws {
        // A right-hand side holding a class instance: without a copy, every trajectory would
        // share (and race on) the counter.
        final class Counter: Sendable {
            let calls = Atomic<Int>(0)
        }
        struct Counting: ODEModel, Sendable {
            let counter: Counter
            func rhs<S: DiffEqScalar>(_ du: inout [S], _ u: [S], _ p: [S], _ t: S) {
                counter.calls.add(1, ordering: .relaxed)
                du[0] = -u[0]
            }
        }
        let shared = Counter()
        let prob = ODEProblem(model: Counting(counter: shared), u0: [1.0], tspan: (0, 1))
        let ensemble = EnsembleProblem(
            prob, outputFunc: { sol, _ in .keep(sol.stats.nf) },
            safetyCopy: { p in ODEProblem(model: Counting(counter: Counter()), u0: p.resolvedInitialState(), tspan: p.resolvedTimeSpan()) })
        let sim = try solve(ensemble, Tsit5(), EnsembleThreads(4), trajectories: 20)
        #expect(shared.calls.load(ordering: .relaxed) == 0, "the problem's own instance was used")
        #expect(Set(sim.u).count == 1)
    }
}
