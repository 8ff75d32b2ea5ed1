// ensemble-bench: throughput of the ensemble back ends in nanoseconds per trajectory-step.
//
// Three cases, each trajectory from its own initial state or noise path, only the end state kept:
//  - Lorenz in the fixed-size form (SIMD3 state), Tsit5, 1,000 fixed steps of 1e-3;
//  - the same with K fixed steps (`--steps K`, default 20,000: a trajectory of about 1 ms or
//    more, the size for which issue #19 asks >= 90 % parallel efficiency);
//  - Euler-Maruyama: scalar geometric Brownian motion du = 1.01 u dt + 0.87 u dW, 1,000 fixed
//    steps of 1e-3, each trajectory on the Wiener process of its own seed (from its index).
// Back ends: EnsembleSerial, EnsembleThreads(2), and EnsembleMPI on 1 and 2 ranks (this program
// started again under `mpirun --oversubscribe -np N --mpi-worker`). Reported: ns per
// trajectory-step, parallel efficiency (serial time / (k x time on k workers)), the MPI overhead
// per trajectory ((time on n ranks - serial time / n) / trajectories), and a weak-scaling table
// for the 1,000-step Lorenz case (a fixed number of trajectories per rank, 1 ... 8 ranks). On
// this 2-core machine every run above 2 ranks is oversubscribed: ranks share cores, so the
// weak-scaling table above 2 ranks measures the cost of time-slicing, not of MPI; it says so.
//
// MPI timings are taken inside the ranks: after MPI_Init and a warm-up ensemble, rank 0 reads
// the clock between an MPI_Barrier before the solve and one after it (every rank has finished
// and the outputs are gathered and folded on rank 0). So they exclude `mpirun`'s start-up, the
// launch of the ranks and MPI_Init; they include the gather of the outputs and the fold.
//
// Every back end's outputs are checked bit for bit against the serial ones (an FNV-1a digest).
//
// Run: swift run -c release ensemble-bench [--trajectories N] [--long-trajectories N]
//      [--steps K] [--quick] [--no-mpi] [--output DIR]
// (--no-mpi: Serial and Threads only, e.g. under valgrind --tool=callgrind, whose instruction
// counts do not depend on the machine's load.)
//
// (At the 908 instructions per step that DESIGN.md's callgrind figure gives for Tsit5 on SIMD3
// Lorenz, 20,000 steps are about 18 million instructions: 1 ms or more below 18 instructions
// per ns.)
//
// Measured on a quiet machine (release, the merged branches of 2026-12-07, load average 1.06 at
// the start, nothing else running; wall-clock minima of 3 runs), defaults (4,000 trajectories of
// 1,000 steps, 1,000 of 20,000 steps), ns per trajectory-step and parallel efficiency:
//                        Lorenz 1,000      Lorenz 20,000     EM GBM 1,000
//   EnsembleSerial       70.3  1           67.1  1           162   1
//   EnsembleThreads(2)   35.6  0.986       34.0  0.987       86.2  0.939
//   EnsembleMPI, 1 rank  71.5  0.983       67.5  0.994       169   0.958
//   EnsembleMPI, 2 ranks 35.8  0.983       34.9  0.961       83.1  0.974
//   MPI overhead per trajectory, µs, 1 rank / 2 ranks: 1.18 / 0.61; 7.8 / 27.4; 7.18 / 2.15.
// The issue's goal (>= 90 % for trajectories of 1 ms or more: Lorenz 20,000 steps, 1.34 ms) holds
// for Threads(2) and MPI(2). Weak scaling (Lorenz 1,000 steps, 1,000 per rank): 1 rank 0.0708 s,
// 2 ranks 0.0709 s (0.999), 4 ranks 0.148 s, 8 ranks 0.302 s (4 and 8 oversubscribed: they
// time-share the 2 cores). An earlier run under a load of 17-21 gave efficiencies near 0.45: two
// workers then got no more CPU than one.
// Every back end's outputs were bitwise equal to serial in every case.
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
func textOption(_ name: String, _ fallback: String) -> String {
    if let i = arguments.firstIndex(of: name), i + 1 < arguments.count { return arguments[i + 1] }
    return fallback
}
let quick = arguments.contains("--quick")
let trajectories = option("--trajectories", quick ? 400 : 4000)
let longTrajectories = option("--long-trajectories", quick ? 100 : 1000)
let longSteps = option("--steps", 20_000)
let dt = 1e-3
guard longSteps >= 1, trajectories >= 1, longTrajectories >= 1 else {
    FileHandle.standardError.write("--steps, --trajectories and --long-trajectories must be >= 1\n".data(using: .utf8)!)
    exit(64)
}

/// A benchmark problem; the number of fixed steps per trajectory is passed beside it.
enum Case: String {
    case lorenz, em
}

let options = SolveOptions(saveEverystep: false, dt: dt, adaptive: false)

func lorenzEnsemble(
    steps: Int
) -> EnsembleProblem<StaticODEProblem<StaticLorenz>, StaticODESolution<SIMD3<Double>>, SIMD3<Double>, [SIMD3<Double>]> {
    EnsembleProblem(
        TestProblems.staticLorenz(tEnd: Double(steps) * dt),
        probFunc: { prob, ctx in
            var p = prob
            p.u0 = SIMD3(1 + 1e-3 * Double(ctx.index), 0, 0)
            return p
        },
        outputFunc: { sol, _ in .keep(sol.u.last ?? SIMD3<Double>(repeating: .nan)) })
}

struct BenchGBM: SDEModel, Sendable {
    func drift<S: DiffEqScalar>(_ du: inout [S], _ u: [S], _ p: [S], _ t: S) { du[0] = p[0] * u[0] }
    func diffusion<S: DiffEqScalar>(_ g: inout [S], _ u: [S], _ p: [S], _ t: S) { g[0] = p[1] * u[0] }
}
func emEnsemble(steps: Int) -> EnsembleProblem<SDEProblem<GenericSDE<BenchGBM, Double>>, ODESolution<Double>, Double, [Double]> {
    EnsembleProblem(
        SDEProblem(model: BenchGBM(), u0: [0.5], tspan: (0, Double(steps) * dt), p: [1.01, 0.87]),
        outputFunc: { sol, _ in .keep(sol.u.last?.first ?? .nan) }, seed: 1)
}

func seconds(_ body: () throws -> Void) rethrows -> Double {
    let start = DispatchTime.now().uptimeNanoseconds
    try body()
    return Double(DispatchTime.now().uptimeNanoseconds - start) * 1e-9
}

func digest(_ bits: [UInt64]) -> String {
    var h: UInt64 = 0xCBF2_9CE4_8422_2325
    for b in bits { h ^= b; h &*= 0x0000_0100_0000_01B3 }
    return String(h, radix: 16)
}
func digest(_ u: [SIMD3<Double>]) -> String { digest(u.flatMap { v in (0..<3).map { v[$0].bitPattern } }) }
func digest(_ u: [Double]) -> String { digest(u.map(\.bitPattern)) }

/// One ensemble of `c` with `steps` steps and `n` trajectories on a local back end: its output digest.
func runLocal<B: EnsembleAlgorithm>(_ c: Case, steps: Int, n: Int, _ backend: B) throws -> String {
    switch c {
    case .lorenz:
        let sim = try solve(lorenzEnsemble(steps: steps), Tsit5(), backend, trajectories: n, options: options)
        return digest(sim.u)
    case .em:
        let sim = try solve(emEnsemble(steps: steps), EM(), backend, trajectories: n, options: options)
        return digest(sim.u)
    }
}

/// The same on MPI: the digest on rank 0, `nil` on the other ranks.
func runMPI(_ c: Case, steps: Int, n: Int, _ backend: EnsembleMPI) throws -> String? {
    switch c {
    case .lorenz:
        let sim = try solve(lorenzEnsemble(steps: steps), Tsit5(), backend, trajectories: n, options: options)
        return sim.map { digest($0.u) }
    case .em:
        let sim = try solve(emEnsemble(steps: steps), EM(), backend, trajectories: n, options: options)
        return sim.map { digest($0.u) }
    }
}

// MARK: MPI worker (under mpirun): times the ensemble between barriers, rank 0 reports.
if arguments.contains("--mpi-worker") {
    let mpi = try MPIEnvironment()
    let world = mpi.world
    let backend = EnsembleMPI(world)
    let c = Case(rawValue: textOption("--case", "lorenz")) ?? .lorenz
    let steps = option("--case-steps", 1000)
    _ = try runMPI(c, steps: steps, n: min(trajectories, 16 * world.size), backend)  // warm-up
    var best = Double.infinity
    var result: String?
    for _ in 0..<3 {
        try world.barrier()
        // Not `seconds { ... }`: a rethrows closure holding this untyped `runMPI` and the
        // typed-throws `barrier()` crashes Swift 6.3's release build in LLVM's verifier
        // ("swifterror value can only be loaded and stored from").
        let start = DispatchTime.now().uptimeNanoseconds
        result = try runMPI(c, steps: steps, n: trajectories, backend)
        try world.barrier()
        best = min(best, Double(DispatchTime.now().uptimeNanoseconds - start) * 1e-9)
    }
    if let result { print("mpi-result \(best) \(result)") }
    try mpi.finalize()
    exit(0)
}

// MARK: One process: serial and threads, then MPI through mpirun when it is installed.
let out = try ScriptOutput(name: "ensemble-bench")
func best(_ repeats: Int = 3, _ body: () throws -> Void) rethrows -> Double {
    var t = Double.infinity
    for _ in 0..<repeats { t = min(t, try seconds(body)) }
    return t
}

func mpirunPath() -> String? {
    if arguments.contains("--no-mpi") { return nil }
    for dir in (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin").split(separator: ":") {
        let p = "\(dir)/mpirun"
        if FileManager.default.isExecutableFile(atPath: p) { return p }
    }
    return nil
}

/// The in-rank time of `c` on `ranks` ranks, checked against `reference` (the serial digest)
/// when given; `nil` without mpirun.
func mpiRun(_ c: Case, steps: Int, ranks: Int, trajectories n: Int, reference: String?) throws -> Double? {
    guard let mpirun = mpirunPath() else { return nil }
    let process = Process()
    process.executableURL = URL(fileURLWithPath: mpirun)
    process.arguments = [
        "--allow-run-as-root", "--oversubscribe", "-np", "\(ranks)", arguments[0], "--mpi-worker", "--case", c.rawValue,
        "--case-steps", "\(steps)", "--trajectories", "\(n)",
    ]
    let pipe = Pipe()
    process.standardOutput = pipe
    try process.run()
    let text = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    process.waitUntilExit()
    guard process.terminationStatus == 0, let line = text.split(separator: "\n").first(where: { $0.hasPrefix("mpi-result ") }) else {
        throw ScriptError("mpirun -np \(ranks) failed (\(process.terminationStatus)): \(text)")
    }
    let fields = line.split(separator: " ")
    if let reference, String(fields[2]) != reference {
        throw ScriptError("\(c.rawValue), \(steps) steps: EnsembleMPI(\(ranks)) differs from EnsembleSerial")
    }
    return Double(fields[1])
}

struct Row: Encodable {
    let backEnd: String
    let workers: Int
    let seconds: Double
    let nsPerTrajectoryStep: Double
    let parallelEfficiency: Double
}

struct CaseReport: Encodable {
    let problem: String
    let stepsPerTrajectory: Int
    let trajectories: Int
    let trajectoryMicroseconds: Double
    let digest: String
    let rows: [Row]
    let mpiOverheadMicrosecondsPerTrajectory: [String: Double]
}

func measure(_ c: Case, steps: Int, n: Int, problem: String) throws -> CaseReport {
    _ = try runLocal(c, steps: steps, n: min(n, 16), EnsembleSerial())  // warm-up
    var reference = ""
    let tSerial = try best { reference = try runLocal(c, steps: steps, n: n, EnsembleSerial()) }
    var threaded = ""
    let tThreads = try best { threaded = try runLocal(c, steps: steps, n: n, EnsembleThreads(2)) }
    guard threaded == reference else { throw ScriptError("\(problem): EnsembleThreads(2) differs from EnsembleSerial") }
    let perStep = { (t: Double) in t / Double(n * steps) * 1e9 }
    var rows = [
        Row(backEnd: "EnsembleSerial", workers: 1, seconds: tSerial, nsPerTrajectoryStep: perStep(tSerial), parallelEfficiency: 1),
        Row(backEnd: "EnsembleThreads(2)", workers: 2, seconds: tThreads, nsPerTrajectoryStep: perStep(tThreads),
            parallelEfficiency: tSerial / (2 * tThreads)),
    ]
    var overhead: [String: Double] = [:]
    for ranks in [1, 2] {
        guard let t = try mpiRun(c, steps: steps, ranks: ranks, trajectories: n, reference: reference) else { break }
        rows.append(
            Row(backEnd: "EnsembleMPI, \(ranks) rank\(ranks > 1 ? "s" : "")", workers: ranks, seconds: t, nsPerTrajectoryStep: perStep(t),
                parallelEfficiency: tSerial / (Double(ranks) * t)))
        overhead["\(ranks) rank\(ranks > 1 ? "s" : "")"] = (t - tSerial / Double(ranks)) / Double(n) * 1e6
    }
    return CaseReport(
        problem: problem, stepsPerTrajectory: steps, trajectories: n, trajectoryMicroseconds: tSerial / Double(n) * 1e6,
        digest: reference, rows: rows, mpiOverheadMicrosecondsPerTrajectory: overhead)
}

let cases = [
    try measure(.lorenz, steps: 1000, n: trajectories, problem: "Lorenz fixed-size, Tsit5, 1,000 fixed steps of 1e-3"),
    try measure(.lorenz, steps: longSteps, n: longTrajectories, problem: "Lorenz fixed-size, Tsit5, \(longSteps) fixed steps of 1e-3"),
    try measure(.em, steps: 1000, n: trajectories, problem: "scalar GBM du = 1.01 u dt + 0.87 u dW, EM, 1,000 fixed steps of 1e-3, seeds from the trajectory index"),
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
let cores = ProcessInfo.processInfo.activeProcessorCount
if mpirunPath() != nil {
    var t1 = 0.0
    for ranks in [1, 2, 4, 8] {
        guard let t = try mpiRun(.lorenz, steps: 1000, ranks: ranks, trajectories: perRank * ranks, reference: nil) else { break }
        if ranks == 1 { t1 = t }
        weak.append(WeakRow(ranks: ranks, trajectories: perRank * ranks, seconds: t, efficiency: t1 / t, oversubscribed: ranks > cores))
    }
}

var load = "unknown"
if let text = try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8) { load = text.split(separator: " ").prefix(3).joined(separator: " ") }
print("ensemble-bench: \(cores) cores, load average \(load) (1, 5, 15 min) at the end")
print("MPI times are taken inside the ranks between barriers: mpirun's start-up and MPI_Init are excluded")
for c in cases {
    print("")
    print("\(c.problem): \(c.trajectories) trajectories, one trajectory \(sig(c.trajectoryMicroseconds, 3)) µs serial")
    print("outputs of every back end bitwise equal to serial (digest \(c.digest))")
    print(pad("back end", 22) + pad("s", 10) + pad("ns/traj-step", 14) + pad("efficiency", 12))
    for r in c.rows {
        print(pad(r.backEnd, 22) + pad(sig(r.seconds, 3), 10) + pad(sig(r.nsPerTrajectoryStep, 3), 14) + pad(sig(r.parallelEfficiency, 3), 12))
    }
    for (k, v) in c.mpiOverheadMicrosecondsPerTrajectory.sorted(by: { $0.key < $1.key }) {
        print("MPI overhead per trajectory, \(k): \(sig(v, 3)) µs")
    }
}
if mpirunPath() == nil { print("no MPI rows: --no-mpi given, or mpirun not found (install libopenmpi-dev)") }
if !weak.isEmpty {
    print("")
    print("weak scaling, Lorenz 1,000 steps, \(perRank) trajectories per rank (ranks > \(cores) are OVERSUBSCRIBED on this \(cores)-core machine: they time-share cores)")
    print(pad("ranks", 6) + pad("trajectories", 14) + pad("s", 10) + pad("efficiency", 12) + pad("oversubscribed", 16))
    for w in weak {
        print(pad("\(w.ranks)", 6) + pad("\(w.trajectories)", 14) + pad(sig(w.seconds, 3), 10) + pad(sig(w.efficiency, 3), 12) + pad(w.oversubscribed ? "yes" : "no", 16))
    }
}
print("Timings are wall-clock minima of 3 runs; on a shared, loaded machine they are noise, not claims.")

struct Report: Encodable {
    let cores: Int
    let loadAverage: String
    let mpiTiming: String
    let cases: [CaseReport]
    let weakScaling: [WeakRow]
    let weakScalingNote: String
}
try out.writeJSON(
    Report(
        cores: cores, loadAverage: load,
        mpiTiming: "inside the ranks, between MPI_Barrier calls on rank 0; excludes mpirun start-up and MPI_Init",
        cases: cases, weakScaling: weak, weakScalingNote: "ranks above the core count are oversubscribed (time-shared cores)"),
    to: "ensemble-bench.json")
