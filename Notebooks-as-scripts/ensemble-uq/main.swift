// ensemble-uq: uncertainty quantification by ensembles, the same bits on one process and on
// any number of MPI ranks.
//
// A Monte Carlo of the stochastic Lotka-Volterra model of the SDE issue (#17; the model of the
// sde-lotka-volterra-fit script): drift du1 = p1 u1 - p2 u1 u2, du2 = -p3 u2 + p4 u1 u2 with
// p = 1.5, 1, 3, 1, diagonal multiplicative noise g = 0.1 u (Ito), u0 = 1, 1 on [0, 10]; 1,000
// paths, each on the Wiener process of its own seed, SOSRI with fixed steps of 0.01 (as the fit
// script), saved every 0.1. And two parameter sweeps:
//  - ROBER (Robertson 1966; the stiff test set's settings, HW II §IV.10) with each rate constant
//    k1 = 0.04, k2 = 3e7, k3 = 1e4 scaled by a factor drawn log-uniformly from [1/2, 2] per
//    trajectory (128 trajectories, Rodas5P, reltol 1e-8, abstol 1e-10 on [0, 1e5], saved at 51
//    log-spaced times);
//  - Lotka-Volterra (p = 1.5, 1, 3, 1; u0 = 1, 1 on [0, 10]) with every parameter scaled by a
//    factor drawn uniformly from [0.9, 1.1] (512 trajectories, Tsit5, reltol 1e-8, abstol 1e-10,
//    saved every 0.1).
// Each trajectory's draws come from its SplitMix64 seed (trajectory index and the ensemble's
// seed only). The summaries (mean, variance, 5/50/95 % quantiles per saved time) are written as
// CSV and JSON, with band plots (PNG), and digest.txt holds an FNV-1a digest of every output bit.
// The SDE's files are sde-lotka-volterra.csv and sde-lotka-volterra-{prey,predator}.png.
//
// Run:  swift run -c release ensemble-uq [--output DIR]
//       mpirun -np 2 .build/release/ensemble-uq --output DIR2   (the same files, bit for bit)
// scripts/reproduce.sh runs both when mpirun is present and compares the files with cmp.
import DiffEqCore
import Ensembles
import EnsemblesMPI
import ExplicitRK
import Foundation
import NotebookSupport
import ProblemLibrary
import StiffSolvers
import StochasticDE

struct SummaryReport: Encodable {
    let problem: String
    let trajectories: Int
    let failed: [Int]
    let times: [Double]
    let components: [String]
    let levels: [Double]
    let mean: [[Double]]
    let variance: [[Double]]
    let quantiles: [[[Double]]]
}

struct Report: Encodable {
    let description: String
    let seed: UInt64
    let rober: SummaryReport
    let lotkaVolterra: SummaryReport
    let stochasticLotkaVolterra: SummaryReport
}

struct FNV {
    var hash: UInt64 = 0xCBF2_9CE4_8422_2325
    mutating func add(_ x: Double) {
        for k in 0..<8 {
            hash ^= (x.bitPattern >> (8 * UInt64(k))) & 0xFF
            hash &*= 0x0000_0100_0000_01B3
        }
    }
}

let mpi = try MPIEnvironment()
let world = mpi.world
let seed: UInt64 = 19
let backend = EnsembleMPI(world, share: .strided, placement: .root(0))

// ROBER: trajectories keep their saved states; a failed solve keeps [] and is left out of the
// summary (listed in the JSON).
let roberTimes = [0.0] + (0...50).map { pow(10.0, -5 + Double($0) * 0.2) }
let rober = EnsembleProblem(
    TestProblems.rober(tEnd: 1e5),
    probFunc: { prob, ctx in
        var g = ctx.generator
        return prob.remake(p: prob.p.map { $0 * pow(2.0, 2 * g.nextUniform() - 1) })
    },
    outputFunc: { sol, _ in .keep(sol.retcode.isSuccessful ? sol.u : []) }, seed: seed)
let roberSim = try solve(
    rober, Rodas5P(), backend, trajectories: 128,
    options: SolveOptions(reltol: 1e-8, abstol: 1e-10, saveat: .times(roberTimes)))

let lv = EnsembleProblem(
    TestProblems.lotkaVolterra(),
    probFunc: { prob, ctx in
        var g = ctx.generator
        return prob.remake(p: prob.p.map { $0 * (0.9 + 0.2 * g.nextUniform()) })
    },
    outputFunc: { sol, _ in .keep(sol.retcode.isSuccessful ? sol.u : []) }, seed: seed)
let lvTimes = (0...100).map { Double($0) / 10 }
let lvSim = try solve(
    lv, Tsit5(), backend, trajectories: 512, options: SolveOptions(reltol: 1e-8, abstol: 1e-10, saveat: .times(lvTimes)))

struct StochasticLotkaVolterra: SDEModel, Sendable {
    func drift<S: DiffEqScalar>(_ du: inout [S], _ u: [S], _ p: [S], _ t: S) {
        du[0] = p[0] * u[0] - p[1] * u[0] * u[1]
        du[1] = -p[2] * u[1] + p[3] * u[0] * u[1]
    }
    func diffusion<S: DiffEqScalar>(_ g: inout [S], _ u: [S], _ p: [S], _ t: S) {
        g[0] = S(0.1) * u[0]
        g[1] = S(0.1) * u[1]
    }
}
// The same problem for every path; the ensemble gives each path the seed of its index.
let sde = EnsembleProblem(
    SDEProblem(model: StochasticLotkaVolterra(), u0: [1.0, 1.0], tspan: (0, 10), p: [1.5, 1.0, 3.0, 1.0]),
    outputFunc: { sol, _ in .keep(sol.retcode.isSuccessful ? sol.u : []) }, seed: seed)
let sdeSim = try solve(
    sde, SOSRI(), backend, trajectories: 1000, options: SolveOptions(saveat: .times(lvTimes), dt: 0.01, adaptive: false))

guard let roberSim, let lvSim, let sdeSim else {
    // Ranks other than 0 hold no result: rank 0 writes the files.
    try mpi.finalize()
    exit(0)
}

let out = try ScriptOutput(name: "ensemble-uq")
var digest = FNV()

func summarize(_ name: String, _ times: [Double], _ sim: EnsembleSolution<[[[Double]]]>, components: [String]) throws
    -> (EnsembleSummary, SummaryReport)
{
    let failed = sim.trajectories.filter { !$0.retcode.isSuccessful }.map(\.index)
    let kept = sim.u.enumerated().filter { !failed.contains($0.offset) }.map(\.element)
    let summary = try EnsembleSummary(times: times, values: kept, levels: [0.05, 0.5, 0.95], excluded: failed)
    for series in kept { for u in series { for x in u { digest.add(x) } } }
    var rows: [[Double]] = []
    for (k, t) in times.enumerated() {
        var row = [t]
        for j in components.indices {
            row += [summary.mean[k][j], summary.variance[k][j].squareRoot()] + summary.quantiles.map { $0[k][j] }
        }
        rows.append(row)
    }
    let header = ["t"] + components.flatMap { ["\($0)_mean", "\($0)_std", "\($0)_q05", "\($0)_q50", "\($0)_q95"] }
    try out.writeCSV("\(name).csv", header: header, rows: rows)
    let report = SummaryReport(
        problem: name, trajectories: sim.trajectories.count, failed: failed, times: times, components: components,
        levels: summary.levels, mean: summary.mean, variance: summary.variance, quantiles: summary.quantiles)
    return (summary, report)
}

let (roberSummary, roberReport) = try summarize("rober", roberTimes, roberSim, components: ["y1", "y2", "y3"])
let (lvSummary, lvReport) = try summarize("lotka-volterra", lvTimes, lvSim, components: ["prey", "predator"])
let (sdeSummary, sdeReport) = try summarize("sde-lotka-volterra", lvTimes, sdeSim, components: ["prey", "predator"])

// Plots: ROBER on a log time axis from 1e-5 (t = 0 cannot be shown there), y2 scaled by 1e4 as
// in Hairer & Wanner's figure.
let roberShown = try EnsembleSummary(
    times: Array(roberTimes.dropFirst()),
    values: roberSim.u.enumerated().filter { !roberReport.failed.contains($0.offset) }.map { Array($0.element.dropFirst()) },
    levels: [0.05, 0.5, 0.95])
for (j, name) in ["y1", "y2", "y3"].enumerated() {
    try out.gnuplot(
        roberShown.gnuplotBandScript(
            component: j, png: "rober-\(name).png", title: "ROBER \(name)\(j == 1 ? " x 1e4" : ""), rates x [1/2, 2]",
            ylabel: name, logX: true, scale: j == 1 ? 1e4 : 1))
}
for (j, name) in ["prey", "predator"].enumerated() {
    try out.gnuplot(
        lvSummary.gnuplotBandScript(component: j, png: "lotka-volterra-\(name).png", title: "Lotka-Volterra \(name), p x [0.9, 1.1]", ylabel: name))
}
for (j, name) in ["prey", "predator"].enumerated() {
    try out.gnuplot(
        sdeSummary.gnuplotBandScript(
            component: j, png: "sde-lotka-volterra-\(name).png", title: "stochastic Lotka-Volterra \(name), g = 0.1 u", ylabel: name))
}
try out.writeJSON(
    Report(
        description: "Parameter sweeps of ROBER's rate constants and of Lotka-Volterra's parameters, and a Monte Carlo of the stochastic Lotka-Volterra model (g = 0.1 u, SOSRI, dt = 0.01); mean, variance and 5/50/95 % quantiles at the saved times",
        seed: seed, rober: roberReport, lotkaVolterra: lvReport, stochasticLotkaVolterra: sdeReport),
    to: "ensemble-uq.json")
let digestText = String(digest.hash, radix: 16)
try (digestText + "\n").write(to: out.url("digest.txt"), atomically: true, encoding: .utf8)

print("ensemble-uq on \(world.size) rank(s)")
print("ROBER: \(roberReport.trajectories) trajectories, failed: \(roberReport.failed)")
print("  y1(1e5): mean \(sig(roberSummary.mean.last![0])), 5-95 % [\(sig(roberSummary.quantiles[0].last![0])), \(sig(roberSummary.quantiles[2].last![0]))]")
print("Lotka-Volterra: \(lvReport.trajectories) trajectories, failed: \(lvReport.failed)")
print("  prey(10): mean \(sig(lvSummary.mean.last![0])), 5-95 % [\(sig(lvSummary.quantiles[0].last![0])), \(sig(lvSummary.quantiles[2].last![0]))]")
print("stochastic Lotka-Volterra: \(sdeReport.trajectories) paths, failed: \(sdeReport.failed)")
print("  prey(10): mean \(sig(sdeSummary.mean.last![0])), 5-95 % [\(sig(sdeSummary.quantiles[0].last![0])), \(sig(sdeSummary.quantiles[2].last![0]))]")
print("digest \(digestText) (the same on any number of ranks)")
try mpi.finalize()
