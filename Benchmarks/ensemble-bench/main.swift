// ensemble-bench: throughput of the ensemble back ends in nanoseconds per trajectory-step.
//
// Lorenz in the fixed-size form (SIMD3 state), Tsit5 with 1,000 fixed steps of 1e-3 per
// trajectory, each trajectory from its own initial state, only the end state kept. Back ends:
// EnsembleSerial, EnsembleThreads(2), and EnsembleMPI on 1 and 2 ranks (this program started
// again under `mpirun --oversubscribe -np N --mpi-worker`). Reported: ns per trajectory-step,
// parallel efficiency (serial time / (k x time on k workers)), the MPI overhead per trajectory
// ((time on n ranks - serial time / n) / trajectories), and a weak-scaling table (a fixed number
// of trajectories per rank, 1 ... 8 ranks). On this 2-core machine every run above 2 ranks is
// oversubscribed: ranks share cores, so the weak-scaling table above 2 ranks measures the cost
// of time-slicing, not of MPI; the table says so.
//
// Every back end's end states are checked bit for bit against the serial ones.
//
// Then an Euler–Maruyama SDE ensemble (issue #19's second case): scalar geometric Brownian
// motion, 1,000 fixed EM steps of 1e-3 per trajectory, each trajectory on the Wiener process of
// its own seed (from the trajectory index), only u(1) kept; Serial and Threads(2), bitwise equal.
//
// Run: swift run -c release ensemble-bench [--trajectories N] [--quick] [--no-mpi] [--output DIR]
// (--no-mpi: Serial and Threads only, e.g. under valgrind --tool=callgrind, whose instruction
// counts do not depend on the machine's load.)
import DiffEqCore
import Dispatch
import Ensembles
import EnsemblesMPI
import ExplicitRK
import Foundation
import NotebookSupport
import ProblemLibrary
import StochasticDE

let arguments = CommandLine.arguments
func option(_ name: String, _ fallback: Int) -> Int {
    if let i = arguments.firstIndex(of: name), i + 1 < arguments.count, let v = Int(arguments[i + 1]) { return v }
    return fallback
}
let quick = arguments.contains("--quick")
let trajectories = option("--trajectories", quick ? 400 : 4000)
let steps = 1000
let options = SolveOptions(saveEverystep: false, dt: 1e-3, adaptive: false)

let ensemble = EnsembleProblem(
    TestProblems.staticLorenz(tEnd: 1),
    probFunc: { prob, ctx in
        var p = prob
        p.u0 = SIMD3(1 + 1e-3 * Double(ctx.index), 0, 0)
        return p
    },
    outputFunc: { sol, _ in .keep(sol.u.last ?? SIMD3<Double>(repeating: .nan)) })

func seconds(_ body: () throws -> Void) rethrows -> Double {
    let start = DispatchTime.now().uptimeNanoseconds
    try body()
    return Double(DispatchTime.now().uptimeNanoseconds - start) * 1e-9
}

func digest(_ u: [SIMD3<Double>]) -> String {
    var h: UInt64 = 0xCBF2_9CE4_8422_2325
    for v in u { for i in 0..<3 { h ^= v[i].bitPattern; h &*= 0x0000_0100_0000_01B3 } }
    return String(h, radix: 16)
}

// MARK: MPI worker (under mpirun): times the ensemble on the communicator, rank 0 reports.
if arguments.contains("--mpi-worker") {
    let mpi = try MPIEnvironment()
    let backend = EnsembleMPI(mpi.world)
    _ = try solve(ensemble, Tsit5(), backend, trajectories: min(trajectories, 64), options: options)  // warm-up
    var best = Double.infinity
    var result: EnsembleSolution<[SIMD3<Double>]>?
    for _ in 0..<3 {
        try mpi.world.barrier()
        let t = try seconds { result = try solve(ensemble, Tsit5(), backend, trajectories: trajectories, options: options) }
        best = min(best, t)
    }
    if let result { print("mpi-result \(best) \(digest(result.u))") }
    try mpi.finalize()
    exit(0)
}

// MARK: One process: serial and threads.
let out = try ScriptOutput(name: "ensemble-bench")
func best(_ repeats: Int = 3, _ body: () throws -> Void) rethrows -> Double {
    var t = Double.infinity
    for _ in 0..<repeats { t = min(t, try seconds(body)) }
    return t
}
_ = try solve(ensemble, Tsit5(), EnsembleSerial(), trajectories: min(trajectories, 64), options: options)
var serial: EnsembleSolution<[SIMD3<Double>]>!
let tSerial = try best { serial = try solve(ensemble, Tsit5(), EnsembleSerial(), trajectories: trajectories, options: options) }
var threaded: EnsembleSolution<[SIMD3<Double>]>!
let tThreads = try best { threaded = try solve(ensemble, Tsit5(), EnsembleThreads(2), trajectories: trajectories, options: options) }
let reference = digest(serial.u)
guard digest(threaded.u) == reference else { fatalError("EnsembleThreads(2) differs from EnsembleSerial") }
let perStep = { (t: Double) in t / Double(trajectories * steps) * 1e9 }
let trajectoryMicroseconds = tSerial / Double(trajectories) * 1e6

// MARK: MPI runs, through mpirun when it is installed.
func mpirunPath() -> String? {
    if arguments.contains("--no-mpi") { return nil }
    for dir in (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin").split(separator: ":") {
        let p = "\(dir)/mpirun"
        if FileManager.default.isExecutableFile(atPath: p) { return p }
    }
    return nil
}
func mpiRun(ranks: Int, trajectories n: Int) throws -> Double? {
    guard let mpirun = mpirunPath() else { return nil }
    let process = Process()
    process.executableURL = URL(fileURLWithPath: mpirun)
    process.arguments = ["--allow-run-as-root", "--oversubscribe", "-np", "\(ranks)", arguments[0], "--mpi-worker", "--trajectories", "\(n)"]
    let pipe = Pipe()
    process.standardOutput = pipe
    try process.run()
    let text = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    process.waitUntilExit()
    guard process.terminationStatus == 0, let line = text.split(separator: "\n").first(where: { $0.hasPrefix("mpi-result ") }) else {
        throw ScriptError("mpirun -np \(ranks) failed (\(process.terminationStatus)): \(text)")
    }
    let fields = line.split(separator: " ")
    if n == trajectories, String(fields[2]) != reference { throw ScriptError("EnsembleMPI(\(ranks)) differs from EnsembleSerial") }
    return Double(fields[1])
}
let tMPI1 = try mpiRun(ranks: 1, trajectories: trajectories)
let tMPI2 = try mpiRun(ranks: 2, trajectories: trajectories)

struct Row: Encodable {
    let backEnd: String
    let workers: Int
    let seconds: Double
    let nsPerTrajectoryStep: Double
    let parallelEfficiency: Double
}
var rows = [
    Row(backEnd: "EnsembleSerial", workers: 1, seconds: tSerial, nsPerTrajectoryStep: perStep(tSerial), parallelEfficiency: 1),
    Row(backEnd: "EnsembleThreads(2)", workers: 2, seconds: tThreads, nsPerTrajectoryStep: perStep(tThreads), parallelEfficiency: tSerial / (2 * tThreads)),
]
if let tMPI1 { rows.append(Row(backEnd: "EnsembleMPI, 1 rank", workers: 1, seconds: tMPI1, nsPerTrajectoryStep: perStep(tMPI1), parallelEfficiency: tSerial / tMPI1)) }
if let tMPI2 { rows.append(Row(backEnd: "EnsembleMPI, 2 ranks", workers: 2, seconds: tMPI2, nsPerTrajectoryStep: perStep(tMPI2), parallelEfficiency: tSerial / (2 * tMPI2))) }

// MARK: The EM SDE ensemble.
struct BenchGBM: SDEModel, Sendable {
    func drift<S: DiffEqScalar>(_ du: inout [S], _ u: [S], _ p: [S], _ t: S) { du[0] = p[0] * u[0] }
    func diffusion<S: DiffEqScalar>(_ g: inout [S], _ u: [S], _ p: [S], _ t: S) { g[0] = p[1] * u[0] }
}
let sdeEnsemble = EnsembleProblem(
    SDEProblem(model: BenchGBM(), u0: [0.5], tspan: (0, 1), p: [1.01, 0.87]), outputFunc: { sol, _ in .keep(sol.u.last?.first ?? .nan) },
    seed: 1)
_ = try solve(sdeEnsemble, EM(), EnsembleSerial(), trajectories: min(trajectories, 64), options: options)
var sdeSerial: EnsembleSolution<[Double]>!
let tSDESerial = try best { sdeSerial = try solve(sdeEnsemble, EM(), EnsembleSerial(), trajectories: trajectories, options: options) }
var sdeThreaded: EnsembleSolution<[Double]>!
let tSDEThreads = try best { sdeThreaded = try solve(sdeEnsemble, EM(), EnsembleThreads(2), trajectories: trajectories, options: options) }
guard sdeSerial.u.map(\.bitPattern) == sdeThreaded.u.map(\.bitPattern) else { fatalError("SDE: EnsembleThreads(2) differs from EnsembleSerial") }
let sdeRows = [
    Row(backEnd: "EnsembleSerial", workers: 1, seconds: tSDESerial, nsPerTrajectoryStep: perStep(tSDESerial), parallelEfficiency: 1),
    Row(backEnd: "EnsembleThreads(2)", workers: 2, seconds: tSDEThreads, nsPerTrajectoryStep: perStep(tSDEThreads),
        parallelEfficiency: tSDESerial / (2 * tSDEThreads)),
]

// MARK: Weak scaling: trajectories per rank fixed.
struct WeakRow: Encodable {
    let ranks: Int
    let trajectories: Int
    let seconds: Double
    let efficiency: Double
    let oversubscribed: Bool
}
var weak: [WeakRow] = []
let perRank = max(trajectories / 4, 50)
if mpirunPath() != nil {
    var t1 = 0.0
    for ranks in [1, 2, 4, 8] {
        guard let t = try mpiRun(ranks: ranks, trajectories: perRank * ranks) else { break }
        if ranks == 1 { t1 = t }
        weak.append(WeakRow(ranks: ranks, trajectories: perRank * ranks, seconds: t, efficiency: t1 / t, oversubscribed: ranks > ProcessInfo.processInfo.activeProcessorCount))
    }
}

let cores = ProcessInfo.processInfo.activeProcessorCount
print("ensemble-bench: Lorenz (fixed-size), Tsit5, \(steps) fixed steps per trajectory, \(trajectories) trajectories, \(cores) cores")
print("one trajectory: \(sig(trajectoryMicroseconds, 3)) µs serial; outputs of every back end bitwise equal to serial (digest \(reference))")
print(pad("back end", 22) + pad("s", 10) + pad("ns/traj-step", 14) + pad("efficiency", 12))
for r in rows { print(pad(r.backEnd, 22) + pad(sig(r.seconds, 3), 10) + pad(sig(r.nsPerTrajectoryStep, 3), 14) + pad(sig(r.parallelEfficiency, 3), 12)) }
var overheadMicroseconds: [String: Double] = [:]
if let tMPI1 { overheadMicroseconds["1 rank"] = (tMPI1 - tSerial) / Double(trajectories) * 1e6 }
if let tMPI2 { overheadMicroseconds["2 ranks"] = (tMPI2 - tSerial / 2) / Double(trajectories) * 1e6 }
for (k, v) in overheadMicroseconds.sorted(by: { $0.key < $1.key }) { print("MPI overhead per trajectory, \(k): \(sig(v, 3)) µs") }
if mpirunPath() == nil { print("no MPI rows: --no-mpi given, or mpirun not found (install libopenmpi-dev)") }
if !weak.isEmpty {
    print("weak scaling, \(perRank) trajectories per rank (ranks > \(cores) are OVERSUBSCRIBED on this \(cores)-core machine: they time-share cores)")
    print(pad("ranks", 6) + pad("trajectories", 14) + pad("s", 10) + pad("efficiency", 12) + pad("oversubscribed", 16))
    for w in weak {
        print(pad("\(w.ranks)", 6) + pad("\(w.trajectories)", 14) + pad(sig(w.seconds, 3), 10) + pad(sig(w.efficiency, 3), 12) + pad(w.oversubscribed ? "yes" : "no", 16))
    }
}
print("EM SDE ensemble: scalar GBM, \(steps) EM steps per trajectory, per-trajectory seeds; Serial and Threads(2) bitwise equal")
print(pad("back end", 22) + pad("s", 10) + pad("ns/traj-step", 14) + pad("efficiency", 12))
for r in sdeRows { print(pad(r.backEnd, 22) + pad(sig(r.seconds, 3), 10) + pad(sig(r.nsPerTrajectoryStep, 3), 14) + pad(sig(r.parallelEfficiency, 3), 12)) }
print("Timings are wall-clock minima of 3 runs; on a shared, loaded machine they are noise, not claims.")

struct Report: Encodable {
    let problem: String
    let stepsPerTrajectory: Int
    let trajectories: Int
    let cores: Int
    let trajectoryMicroseconds: Double
    let rows: [Row]
    let mpiOverheadMicrosecondsPerTrajectory: [String: Double]
    let weakScaling: [WeakRow]
    let weakScalingNote: String
    let sdeProblem: String
    let sdeRows: [Row]
}
try out.writeJSON(
    Report(
        problem: "Lorenz fixed-size, Tsit5, dt = 1e-3 on [0, 1]", stepsPerTrajectory: steps, trajectories: trajectories,
        cores: cores, trajectoryMicroseconds: trajectoryMicroseconds, rows: rows, mpiOverheadMicrosecondsPerTrajectory: overheadMicroseconds,
        weakScaling: weak, weakScalingNote: "ranks above the core count are oversubscribed (time-shared cores)",
        sdeProblem: "scalar GBM du = 1.01 u dt + 0.87 u dW, EM, dt = 1e-3 on [0, 1], seeds from the trajectory index", sdeRows: sdeRows),
    to: "ensemble-bench.json")
