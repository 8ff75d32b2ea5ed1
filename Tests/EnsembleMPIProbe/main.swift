// ensemble-mpi-probe: the program EnsemblesMPITests runs under `mpirun -np N` (and on its own).
// Each mode prints lines "rank R: KEY VALUE" that the tests compare across ranks and runs;
// digests are FNV-1a over the bit patterns of every output, so "equal digests" means equal bits.
//
//   ensemble-mpi-probe bitwise [--trajectories N] [--share contiguous|strided] [--placement root|all]
//                              [--threads K] [--batch B]
//   ensemble-mpi-probe sde [--method sosri|em] [--trajectories N] [--share S] [--threads K] [--batch B]
//                          [--local-backends]  stochastic Lotka-Volterra Monte Carlo; with
//                          --local-backends rank 0 also prints the Threads(2) and Threads(4) digests
//   ensemble-mpi-probe gradient [--trajectories N]   data-parallel loss gradient, all ranks
//   ensemble-mpi-probe train [--steps S]              Adam on the all-reduced gradient
//   ensemble-mpi-probe throw                          probFunc throws on trajectory 5
//   ensemble-mpi-probe die [--rank R]                 a trajectory on rank R calls exit(3)
//   ensemble-mpi-probe trap [--rank R]                a trajectory on rank R traps
//   ensemble-mpi-probe hang [--rank R]                a trajectory on rank R sleeps for an hour
import DiffEqCore
import Ensembles
import EnsemblesMPI
import EnsembleTestSupport
import ExplicitRK
import Foundation
import NeuralNetworks
import ProblemLibrary
import Sensitivity
import StochasticDE

func option(_ name: String, _ fallback: String) -> String {
    let args = CommandLine.arguments
    if let i = args.firstIndex(of: name), i + 1 < args.count { return args[i + 1] }
    return fallback
}

struct FNV {
    var hash: UInt64 = 0xCBF2_9CE4_8422_2325
    mutating func add(_ x: UInt64) {
        for k in 0..<8 {
            hash ^= (x >> (8 * UInt64(k))) & 0xFF
            hash &*= 0x0000_0100_0000_01B3
        }
    }
    mutating func add(_ x: Double) { add(x.bitPattern) }
    var hex: String { String(hash, radix: 16) }
}

func digest(_ rows: [[Double]], _ records: [TrajectoryRecord]) -> String {
    var h = FNV()
    for row in rows { for x in row { h.add(x) } }
    for r in records { h.add(UInt64(r.index)); h.add(UInt64(r.attempts)); h.add(UInt64(r.retcode.isSuccessful ? 1 : 0)) }
    return h.hex
}

let mode = CommandLine.arguments.count > 1 ? CommandLine.arguments[1] : "bitwise"
let mpi: MPIEnvironment
do { mpi = try MPIEnvironment() } catch {
    FileHandle.standardError.write("MPI did not start: \(error)\n".data(using: .utf8)!)
    exit(2)
}
let world = mpi.world
let rank = world.rank
func say(_ key: String, _ value: String) { print("rank \(rank): \(key) \(value)") }

do {
    switch mode {
    case "bitwise":
        let trajectories = Int(option("--trajectories", "1000")) ?? 1000
        let share = EnsembleMPI.Share(rawValue: option("--share", "contiguous")) ?? .contiguous
        let placement: EnsembleMPI.Placement = option("--placement", "root") == "all" ? .allRanks : .root(0)
        let threads = Int(option("--threads", "1")) ?? 1
        let batch = Int(option("--batch", "0")).flatMap { $0 > 0 ? $0 : nil }
        let options = SolveOptions(reltol: 1e-6, abstol: 1e-8, saveat: .every(1))
        let ensemble = randomizedLotkaVolterra()
        let backend = EnsembleMPI(world, share: share, placement: placement, threadsPerRank: threads)
        if let sim = try solve(ensemble, Tsit5(), backend, trajectories: trajectories, batchSize: batch, options: options) {
            say("digest", digest(sim.u, sim.trajectories))
            say("count", "\(sim.u.count)")
            // The single-process reference, in this process, with the serial back end.
            let serial = try solve(ensemble, Tsit5(), EnsembleSerial(), trajectories: trajectories, batchSize: batch, options: options)
            say("serial-digest", digest(serial.u, serial.trajectories))
        } else {
            say("result", "none")
        }
    case "sde":
        let trajectories = Int(option("--trajectories", "1000")) ?? 1000
        let share = EnsembleMPI.Share(rawValue: option("--share", "contiguous")) ?? .contiguous
        let threads = Int(option("--threads", "1")) ?? 1
        let batch = Int(option("--batch", "0")).flatMap { $0 > 0 ? $0 : nil }
        let ensemble = stochasticLotkaVolterraEnsemble(tEnd: 1)
        let backend = EnsembleMPI(world, share: share, threadsPerRank: threads)
        // Both cases every back end must agree on: the adaptive SOSRI (a rejected step's
        // point is drawn from the Brownian bridge) and fixed-step Euler-Maruyama.
        let em = option("--method", "sosri") == "em"
        let options =
            em ? SolveOptions(saveEverystep: false, dt: 1e-2, adaptive: false) : SolveOptions(reltol: 1e-2, abstol: 1e-2, saveEverystep: false)
        func run<B: EnsembleAlgorithm>(_ local: B) throws -> EnsembleSolution<[[Double]]> {
            em ? try solve(ensemble, EM(), local, trajectories: trajectories, batchSize: batch, options: options)
                : try solve(ensemble, SOSRI(), local, trajectories: trajectories, batchSize: batch, options: options)
        }
        let mpiResult =
            em ? try solve(ensemble, EM(), backend, trajectories: trajectories, batchSize: batch, options: options)
            : try solve(ensemble, SOSRI(), backend, trajectories: trajectories, batchSize: batch, options: options)
        if let sim = mpiResult {
            say("digest", digest(sim.u, sim.trajectories))
            say("count", "\(sim.u.count)")
            say("distinct", "\(Set(sim.u).count)")
            say("failed", "\(sim.failedTrajectories.count)")
            let serial = try run(EnsembleSerial())
            say("serial-digest", digest(serial.u, serial.trajectories))
            if CommandLine.arguments.contains("--local-backends") {
                for k in [2, 4] {
                    let threaded = try run(EnsembleThreads(k))
                    say("threads\(k)-digest", digest(threaded.u, threaded.trajectories))
                }
            }
        } else {
            say("result", "none")
        }
    case "gradient":
        let trajectories = Int(option("--trajectories", "8")) ?? 8
        let p = [1.4, 1.1, 2.9, 0.95]
        let ensemble = fitEnsemble(p: p, targets: try fitTargets(trajectories: trajectories))
        guard let total = try solve(ensemble, EnsembleMPI(world, placement: .allRanks), trajectories: trajectories, solver: lossGradient) else {
            fatalError("allRanks placement returned no result")
        }
        var h = FNV()
        h.add(total.u.loss)
        for g in total.u.gradient { h.add(g) }
        say("gradient-digest", h.hex)
        // The single-process gradient: a plain loop over the trajectories, summed in order.
        var loss = 0.0
        var grad = [Double](repeating: 0, count: p.count)
        for i in 0..<trajectories {
            let r = try lossGradient(ensemble.probFunc(ensemble.prob, TrajectoryContext(index: i, repeat: 0, ensembleSeed: 0)))
            loss += r.loss
            for k in grad.indices { grad[k] += r.gradient[k] }
        }
        var s = FNV()
        s.add(loss)
        for g in grad { s.add(g) }
        say("serial-gradient-digest", s.hex)
        say("loss", "\(total.u.loss)")
        // The same sum by MPI_Allreduce of per-rank partial sums: one message of the gradient's
        // size, added in MPI's own order, so equal to the fixed-order sum only to rounding.
        var partial = [Double](repeating: 0, count: p.count + 1)
        for i in EnsembleMPI(world).indices(of: 0..<trajectories, rank: rank) {
            let r = try lossGradient(ensemble.probFunc(ensemble.prob, TrajectoryContext(index: i, repeat: 0, ensembleSeed: 0)))
            partial[0] += r.loss
            for k in grad.indices { partial[k + 1] += r.gradient[k] }
        }
        let reduced = try world.allReduceSum(partial)
        let exact = [loss] + grad
        let scale = exact.map(abs).max() ?? 1
        let difference = zip(reduced, exact).map { abs($0 - $1) }.max() ?? 0
        say("allreduce-relative-difference", "\(difference / scale)")
    case "train":
        let steps = Int(option("--steps", "5")) ?? 5
        var p = [1.4, 1.1, 2.9, 0.95]
        var adam = try Adam<Double>(0.01)
        var ensemble = fitEnsemble(p: p, targets: try fitTargets(trajectories: 6))
        for step in 1...steps {
            ensemble.prob.prob = ensemble.prob.prob.remake(p: p)
            guard let total = try solve(ensemble, EnsembleMPI(world, share: .strided, placement: .allRanks), trajectories: 6, solver: lossGradient) else {
                fatalError("allRanks placement returned no result")
            }
            try adam.update(&p, gradient: total.u.gradient)
            var h = FNV()
            for x in p { h.add(x) }
            say("step \(step) params-digest", h.hex)
            say("step \(step) loss", "\(total.u.loss)")
        }
    case "throw":
        struct Refused: Error {}
        let ensemble = EnsembleProblem(
            TestProblems.lotkaVolterra(), probFunc: { prob, ctx in if ctx.index == 5 { throw Refused() }; return prob },
            outputFunc: { sol, _ in .keep(sol.u.last ?? []) })
        do {
            _ = try solve(ensemble, Tsit5(), EnsembleMPI(world, share: .strided), trajectories: 12)
            say("error", "none")
        } catch EnsembleError.trajectoryFailed(let f) {
            say("error", "trajectory \(f.index) \(f.stage.rawValue)")
        }
    case "die", "trap", "hang":
        let victim = Int(option("--rank", "1")) ?? 1
        let size = world.size
        let ensemble = EnsembleProblem(
            TestProblems.lotkaVolterra(),
            probFunc: { prob, ctx in
                // Trajectory 0 of the victim's contiguous share (of 4 per rank).
                if ctx.index == 4 * victim && victim < size {
                    if mode == "die" { exit(3) }
                    if mode == "hang" { sleep(3600) }
                    fatalError("a trajectory trapped on purpose")
                }
                return prob
            },
            outputFunc: { sol, _ in .keep(sol.u.last ?? []) })
        _ = try solve(ensemble, Tsit5(), EnsembleMPI(world), trajectories: 4 * size)
        say("survived", "yes")
    default:
        say("error", "unknown mode \(mode)")
        try mpi.finalize()
        exit(64)
    }
} catch {
    say("error", "\(error)")
    try? mpi.finalize()
    exit(1)
}
try mpi.finalize()
