// The MPI back end, run as users run it: the test starts `mpirun --allow-run-as-root
// --oversubscribe -np N` on the ensemble-mpi-probe executable (built next to the test bundle),
// with a time limit, and compares what each rank prints. The limits separate a hang from a slow
// debug build; nothing is timed.
import Foundation
import Subprocess
import Testing

import SystemPackage

struct MPIRun {
    var status: TerminationStatus
    var output: String
    var timedOut: Bool

    var exitedCleanly: Bool { status.isSuccess && !timedOut }

    /// The value printed as "rank R: KEY VALUE".
    func values(_ key: String) -> [Int: String] {
        var found: [Int: String] = [:]
        for line in output.split(separator: "\n") {
            guard line.hasPrefix("rank "), let colon = line.firstIndex(of: ":") else { continue }
            guard let rank = Int(line[line.index(line.startIndex, offsetBy: 5)..<colon]) else { continue }
            let rest = line[line.index(after: colon)...].dropFirst()
            if rest.hasPrefix(key + " ") { found[rank] = String(rest.dropFirst(key.count + 1)) }
        }
        return found
    }
}

enum MPITestSupport {
    /// The products directory holds the test bundle and the executables of the same build.
    static func probePath() -> String? {
        if let path = ProcessInfo.processInfo.environment["ENSEMBLE_MPI_PROBE"] { return path }
        var candidates = [URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()]
        candidates += Bundle.allBundles.map { $0.bundleURL.deletingLastPathComponent() }
        for dir in candidates {
            let exe = dir.appendingPathComponent("ensemble-mpi-probe")
            if FileManager.default.isExecutableFile(atPath: exe.path) { return exe.path }
        }
        return nil
    }

    static func mpirun() -> String? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        for dir in path.split(separator: ":") {
            let candidate = "\(dir)/mpirun"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        return nil
    }

    /// `mpirun ... -np ranks probe arguments`, or the probe alone when `ranks` is nil, killed
    /// after `timeout` seconds.
    static func run(ranks: Int?, _ arguments: [String], timeout: Double = 240) async throws -> MPIRun {
        let probe = try #require(probePath(), "no ensemble-mpi-probe next to the test bundle; `swift build --product ensemble-mpi-probe`")
        let executable: String
        let args: [String]
        if let ranks {
            executable = try #require(mpirun(), "mpirun is missing: install libopenmpi-dev (scripts/install-deps.sh) to run the MPI tests")
            args = ["--allow-run-as-root", "--oversubscribe", "-np", "\(ranks)", probe] + arguments
        } else {
            executable = probe
            args = arguments
        }
        return try await withThrowingTaskGroup(of: MPIRun?.self) { group in
            group.addTask {
                // On a timeout the task is cancelled: SIGTERM to mpirun's own session (it and
                // the ranks), SIGKILL 5 s later.
                var platform = PlatformOptions()
                platform.createSession = true
                platform.teardownSequence = [.gracefulShutDown(toProcessGroup: true, allowedDurationToNextStep: .seconds(5))]
                let result = try await Subprocess.run(
                    .path(FilePath(executable)), arguments: Arguments(args), platformOptions: platform,
                    output: .string(limit: 1 << 22), error: .string(limit: 1 << 20))
                return MPIRun(
                    status: result.terminationStatus,
                    output: result.standardOutput + result.standardError, timedOut: false)
            }
            group.addTask {
                try await Task.sleep(for: .seconds(timeout))
                return nil
            }
            let first = try await group.next() ?? nil
            group.cancelAll()
            if let first { return first }
            return MPIRun(status: .exited(-1), output: "timed out after \(timeout) s", timedOut: true)
        }
    }
}

// One at a time: each run already uses both cores (and more ranks than cores).
@Suite(.serialized) struct EnsembleMPITests {
    @Test func aThousandTrajectoriesGiveSerialBitsOnOneTwoAndThreeRanks() async throws {
        var digests: Set<String> = []
        for (ranks, extra) in [(1, ["--share", "contiguous"]), (2, ["--share", "strided", "--threads", "2"]), (3, ["--share", "contiguous"])] {
            let run = try await MPITestSupport.run(ranks: ranks, ["bitwise", "--trajectories", "1000"] + extra)
            #expect(run.exitedCleanly, "mpirun -np \(ranks): \(run.status)\n\(run.output)")
            let digest = run.values("digest")
            #expect(digest.count == 1 && run.values("result").count == ranks - 1, "\(run.output)")
            #expect(run.values("count")[0] == "1000")
            #expect(digest[0] != nil && digest[0] == run.values("serial-digest")[0], "MPI(\(ranks)) differs from Serial:\n\(run.output)")
            digests.formUnion(digest.values)
        }
        #expect(digests.count == 1)
        // The same program started on its own is one rank (MPI's singleton start).
        let single = try await MPITestSupport.run(ranks: nil, ["bitwise", "--trajectories", "1000"])
        #expect(single.exitedCleanly, "\(single.output)")
        #expect(Set(single.values("digest").values) == digests)
    }

    /// Issue #19's SDE case: a 1,000-path Monte Carlo of the stochastic Lotka-Volterra model
    /// gives the same bits on Serial, Threads(2), Threads(4) and MPI(1, 2, 3), for the adaptive
    /// SOSRI and for fixed-step Euler-Maruyama. Each path is its own (no two end states equal),
    /// so the agreement is of 1,000 different noise paths, not of one path repeated.
    @Test(arguments: ["sosri", "em"]) func aThousandSDEPathsGiveSerialBitsOnThreadsAndOneTwoAndThreeRanks(method: String) async throws {
        var digests: Set<String> = []
        let runs: [(Int, [String])] = [
            (1, ["--share", "contiguous", "--local-backends"]), (2, ["--share", "strided", "--threads", "2"]),
            (3, ["--share", "contiguous", "--batch", "128"]),
        ]
        for (ranks, extra) in runs {
            let run = try await MPITestSupport.run(ranks: ranks, ["sde", "--method", method, "--trajectories", "1000"] + extra)
            #expect(run.exitedCleanly, "mpirun -np \(ranks): \(run.status)\n\(run.output)")
            let digest = run.values("digest")
            #expect(digest.count == 1 && run.values("result").count == ranks - 1, "\(run.output)")
            #expect(run.values("count")[0] == "1000" && run.values("distinct")[0] == "1000", "\(run.output)")
            #expect(run.values("failed")[0] == "0", "\(run.output)")
            #expect(digest[0] != nil && digest[0] == run.values("serial-digest")[0], "\(method) MPI(\(ranks)) differs from Serial:\n\(run.output)")
            if ranks == 1 {
                for k in [2, 4] {
                    #expect(run.values("threads\(k)-digest")[0] == digest[0], "\(method) Threads(\(k)) differs:\n\(run.output)")
                }
            }
            digests.formUnion(digest.values)
        }
        #expect(digests.count == 1)
    }

    @Test func everyRankFoldsTheSameBitsWithBatchesAndAllRanksPlacement() async throws {
        let run = try await MPITestSupport.run(ranks: 3, ["bitwise", "--trajectories", "200", "--placement", "all", "--batch", "17", "--share", "strided"])
        #expect(run.exitedCleanly, "\(run.output)")
        let digests = run.values("digest")
        #expect(digests.count == 3)
        #expect(Set(digests.values).count == 1)
        #expect(Set(run.values("serial-digest").values) == Set(digests.values), "\(run.output)")
    }

    @Test func dataParallelGradientEqualsTheSingleProcessGradient() async throws {
        var seen: Set<String> = []
        for ranks in [1, 2, 3] {
            let run = try await MPITestSupport.run(ranks: ranks, ["gradient", "--trajectories", "8"])
            #expect(run.exitedCleanly, "\(run.output)")
            let g = run.values("gradient-digest")
            #expect(g.count == ranks, "every rank holds the all-reduced gradient:\n\(run.output)")
            #expect(Set(g.values).count == 1)
            #expect(Set(run.values("serial-gradient-digest").values) == Set(g.values), "\(run.output)")
            // MPI_Allreduce of per-rank partial sums: the same to rounding (the 1e-12 relative).
            let differences = run.values("allreduce-relative-difference").values.compactMap { Double($0) }
            #expect(differences.count == ranks && differences.allSatisfy { $0 <= 1e-12 }, "\(run.output)")
            seen.formUnion(g.values)
        }
        #expect(seen.count == 1)
    }

    @Test func trainingOnTwoRanksKeepsEveryRankEqualAndMatchesOneRank() async throws {
        let one = try await MPITestSupport.run(ranks: 1, ["train", "--steps", "4"])
        let two = try await MPITestSupport.run(ranks: 2, ["train", "--steps", "4"])
        #expect(one.exitedCleanly && two.exitedCleanly, "\(one.output)\n\(two.output)")
        for step in 1...4 {
            let a = one.values("step \(step) params-digest")
            let b = two.values("step \(step) params-digest")
            #expect(b.count == 2 && b[0] == b[1], "ranks disagree after step \(step):\n\(two.output)")
            #expect(a[0] != nil && a[0] == b[0], "1 rank and 2 ranks differ after step \(step)")
        }
        // The fit makes progress: the loss falls over the steps.
        let losses = (1...4).compactMap { one.values("step \($0) loss")[0].flatMap { Double($0) } }
        #expect(losses.count == 4 && losses[3] < losses[0])
    }

    @Test func aThrowingProblemFunctionIsReportedOnEveryRank() async throws {
        let run = try await MPITestSupport.run(ranks: 3, ["throw"])
        #expect(run.exitedCleanly, "\(run.output)")
        #expect(run.values("error").count == 3)
        #expect(Set(run.values("error").values) == ["trajectory 5 problemFunction"], "\(run.output)")
    }

    @Test func aHungRankIsKilledAtTheTimeLimit() async throws {
        // The limit itself: rank 1 sleeps in a trajectory, the others wait in the gather.
        let run = try await MPITestSupport.run(ranks: 2, ["hang", "--rank", "1"], timeout: 15)
        #expect(run.timedOut, "\(run.output)")
    }

    @Test(arguments: ["die", "trap"]) func aRankThatDiesEndsTheJobWithAFailureNotAHang(mode: String) async throws {
        let run = try await MPITestSupport.run(ranks: 3, [mode, "--rank", "1"], timeout: 120)
        #expect(!run.timedOut, "mpirun hung after a rank died")
        #expect(!run.status.isSuccess, "mpirun exited 0 after a rank died:\n\(run.output)")
        #expect(run.values("survived").isEmpty)
    }
}
