import Testing
import DiffEqCore
import AutoDiff
import ProblemLibrary

/// `du = |u0| p0` written with a branch on the state (not with `abs`).
struct ReverseTestBranchyAbs: ODEModel {
    func rhs<S: DiffEqScalar>(_ du: inout [S], _ u: [S], _ p: [S], _ t: S) {
        if u[0] < 0 {
            du[0] = -u[0] * p[0]
        } else {
            du[0] = u[0] * p[0]
        }
    }
}

/// `du = max(u0, u1) + u0 p0` through the standard library's `max` (a comparison).
struct ReverseTestMax: ODEModel {
    func rhs<S: DiffEqScalar>(_ du: inout [S], _ u: [S], _ p: [S], _ t: S) {
        du[0] = max(u[0], u[1]) + u[0] * p[0]
        du[1] = u[1]
    }
}

/// A forcing switched on at `t = 1`.
struct ReverseTestSwitchedForcing: ODEModel {
    func rhs<S: DiffEqScalar>(_ du: inout [S], _ u: [S], _ p: [S], _ t: S) {
        du[0] = -p[0] * u[0] + (t >= 1 ? p[1] * t : 0)
    }
}

/// Branches on `primal`, which the tape cannot check on replay.
struct ReverseTestPrimalBranch: ODEModel {
    func rhs<S: DiffEqScalar>(_ du: inout [S], _ u: [S], _ p: [S], _ t: S) {
        du[0] = u[0].primal > 0 ? u[0] * p[0] : u[0] * u[0] * p[0]
    }
}

@Suite struct ReverseReuseTests {
    /// `RHSTape` with reuse gives bitwise the results of a fresh recording at each new input.
    func checkReuse<M: ODEModel>(_ name: String, _ model: M, u0: [Double], p0: [Double], seed: UInt64) throws {
        let reused = RHSTape(model)
        let fresh = RHSTape(model, reuse: false)
        var rng = ReverseTestRandom(seed: seed)
        for trial in 0..<6 {
            let u = u0.map { $0 * (1 + 0.3 * rng.next()) }
            let p = p0.map { $0 * (1 + 0.2 * rng.next()) }
            let t = 0.5 * Double(trial)
            let v = rng.array(u.count)
            let a = try reused.vjp(u: u, p: p, t: t, v: v)
            let b = try fresh.vjp(u: u, p: p, t: t, v: v)
            #expect(a.du == b.du, "\(name) trial \(trial): du")
            #expect(a.dp == b.dp, "\(name) trial \(trial): dp")
            #expect(reused.value == fresh.value, "\(name) trial \(trial): f")
            // Same inputs, new cotangent: no forward pass, same answer.
            let w = rng.array(u.count)
            #expect(try reused.vjp(u: u, p: p, t: t, v: w).dp == fresh.vjp(u: u, p: p, t: t, v: w).dp)
        }
        #expect(reused.recordings == 1, "\(name) recorded \(reused.recordings) times")
        #expect(reused.replays == 11)
        #expect(fresh.recordings == 12)
    }

    @Test func replayEqualsRecordingForStandardModels() throws {
        try checkReuse("Lotka-Volterra", LotkaVolterra(), u0: [1, 1], p0: [1.5, 1, 3, 1], seed: 1)
        try checkReuse("Lorenz", Lorenz(), u0: [1, 2, 20], p0: [10, 28, 8.0 / 3.0], seed: 2)
        try checkReuse("ROBER", Rober(), u0: [0.9, 3e-5, 0.1], p0: [0.04, 3e7, 1e4], seed: 3)
        var rng = ReverseTestRandom(seed: 4)
        let mlp = ReverseTestMLP(inputs: 2, hidden: 50, activation: .tanh)
        try checkReuse("2-50-2 tanh MLP", mlp, u0: [0.5, -0.7], p0: rng.array(mlp.parameterCount), seed: 5)
        let relu = ReverseTestMLP(inputs: 3, hidden: 20, activation: .relu)
        try checkReuse("3-20-3 relu MLP", relu, u0: [0.5, -0.7, 0.2], p0: rng.array(relu.parameterCount), seed: 6)
    }

    @Test func branchFlipIsDetectedAndReRecorded() throws {
        let tape = RHSTape(ReverseTestBranchyAbs())
        #expect(try tape.vjp(u: [2], p: [3], t: 0, v: [1]) == (du: [3], dp: [2]))
        #expect(try tape.vjp(u: [1], p: [3], t: 0, v: [1]) == (du: [3], dp: [1]))
        #expect(tape.recordings == 1 && tape.replays == 1 && tape.branchChanges == 0)
        // u0 < 0 now: the recorded comparison flips; the tape records again and is right.
        #expect(try tape.vjp(u: [-1], p: [3], t: 0, v: [1]) == (du: [-3], dp: [1]))
        #expect(tape.branchChanges == 1 && tape.recordings == 2)
        #expect(try tape.vjp(u: [-4], p: [3], t: 0, v: [1]) == (du: [-3], dp: [4]))
        #expect(tape.recordings == 2 && tape.replays == 2)
    }

    @Test func lowLevelReplayReportsTheChangedComparison() throws {
        let tape = ReverseTape()
        let x = tape.variables([1, 2])
        let y = max(x[0], x[1]) * x[0]  // one comparison
        #expect(tape.comparisonCount == 1)
        try tape.replay(inputs: [1.5, 2.5])
        #expect(tape.value(of: y) == 2.5 * 1.5)
        #expect(throws: ReverseModeError.branchChanged(comparison: 0)) { try tape.replay(inputs: [3, 2]) }
        #expect(throws: ReverseModeError.dimensionMismatch(what: "inputs", expected: 2, got: 1)) {
            try tape.replay(inputs: [3])
        }
    }

    @Test func maxAndTimeSwitchesAreDetected() throws {
        let m = RHSTape(ReverseTestMax())
        _ = try m.vjp(u: [1, 2], p: [1], t: 0, v: [1, 0])
        let (du, _) = try m.vjp(u: [3, 2], p: [1], t: 0, v: [1, 0])
        #expect(du == [2, 0])
        #expect(m.branchChanges == 1)

        let f = RHSTape(ReverseTestSwitchedForcing())
        _ = try f.vjp(u: [1], p: [2, 3], t: 0.5, v: [1])
        let (_, dp) = try f.vjp(u: [1], p: [2, 3], t: 1.5, v: [1])
        #expect(dp == [-1, 1.5])
        #expect(f.branchChanges == 1)
    }

    @Test func readingPrimalMakesTheTapeRecordEveryTime() throws {
        let tape = RHSTape(ReverseTestPrimalBranch())
        _ = try tape.vjp(u: [1], p: [2], t: 0, v: [1])
        let (du, _) = try tape.vjp(u: [-1], p: [2], t: 0, v: [1])
        #expect(du == [-4])
        #expect(tape.recordings == 2 && tape.replays == 0)

        let low = ReverseTape()
        let x = low.variables([1])
        _ = x[0].primal
        #expect(!low.isReplayable)
        #expect(throws: ReverseModeError.notReplayable) { try low.replay(inputs: [2]) }
    }

    @Test func independentTapesOnConcurrentTasks() async throws {
        // One tape per task: results equal the single-threaded ones.
        let u = [1.2, 0.7], p = [1.5, 1, 3, 1]
        let expected = try rhsVJP(LotkaVolterra(), u: u, p: p, t: 0, v: [1, 1])
        try await withThrowingTaskGroup(of: [Double].self) { group in
            for k in 0..<4 {
                group.addTask {
                    let tape = RHSTape(LotkaVolterra())
                    for j in 0..<200 {
                        let s = 1 + 1e-3 * Double(j + k)
                        _ = try tape.vjp(u: u.map { $0 * s }, p: p, t: 0, v: [1, 1]).dp
                    }
                    return try tape.vjp(u: u, p: p, t: 0, v: [1, 1]).dp
                }
            }
            for try await dp in group { #expect(dp == expected.dp) }
        }
    }
}
