// The seed's one-layer "network": fit the Lotka-Volterra parameters so that the rabbit
// population stays at 1. du1 = p1 u1 - p2 u1 u2, du2 = -p3 u2 + p4 u1 u2, u0 = [1, 1],
// t in [0, 10], start p = [2.2, 1.0, 2.0, 0.4], Tsit5 saving every 0.1 (101 points),
// loss Σ_k (u1(t_k) - 1)², Adam(0.1) for 100 iterations (DiffEqFlux.jl's first example).
//
// The same fit runs with every sensealg of the Sensitivity module; the script reports the loss
// curves' largest difference. Tolerances reltol = abstol = 1e-8 (the peers' Lotka-Volterra
// gradient figure uses reltol 1e-8), so that the curves compare methods, not truncation errors.
//
// Usage: lotka-volterra-fit [--output DIR] [--sensealg all|forwarddiff|forward|interpolating|
//        quadrature|backsolve|cvodes-forward|cvodes-adjoint]
import DiffEqCore
import ExplicitRK
import Foundation
import NeuralNetworks
import NotebookSupport
import Sensitivity
import SensitivityCVODES

let out = try ScriptOutput(name: "lotka-volterra-fit")
let args = CommandLine.arguments
let choice = args.firstIndex(of: "--sensealg").flatMap { $0 + 1 < args.count ? args[$0 + 1] : nil } ?? "all"
let u0 = [1.0, 1.0]
let p0 = [2.2, 1.0, 2.0, 0.4]
let options = SolveOptions(reltol: 1e-8, abstol: 1e-8, saveat: .every(0.1))
let iterations = 100

struct Fit: Encodable {
    let sensealg: String
    let loss: [Double]
    let finalParameters: [Double]
    let seconds: Double
}

func fit<M: SensitivityAlgorithm>(_ sensealg: M, snapshots: inout [[Double]]?) throws -> Fit {
    var p = p0
    var adam = try Adam<Double>(0.1)
    let start = ContinuousClock.now
    var snaps: [[Double]] = []
    let record = snapshots != nil
    let result = try train(&p, optimizer: &adam, iterations: iterations, callback: { state, _ in
        if record && state.iteration % 5 == 0 {
            let prob = ODEProblem(model: SeedLotkaVolterra(), u0: u0, tspan: (0, 10), p: state.parameters)
            if let s = try? Tsit5().solve(prob, options: options) { snaps.append(s.u.map { $0[0] } + s.u.map { $0[1] }) }
        }
        return false
    }) { p, g in
        let prob = ODEProblem(model: SeedLotkaVolterra(), u0: u0, tspan: (0, 10), p: p)
        let r = try gradient(of: RabbitsAtOne(), prob, algorithm: Tsit5(), options: options, sensealg: sensealg, wrt: .parameters)
        for k in 0..<4 { g[k] = r.dp[k] }
        return r.loss
    }
    let elapsed = ContinuousClock.now - start
    if record { snapshots = snaps }
    return Fit(
        sensealg: sensealg.name, loss: result.lossHistory, finalParameters: p,
        seconds: Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18)
}

var snapshots: [[Double]]? = []
var fits: [Fit] = []
let all = choice == "all"
if all || choice == "forwarddiff" { fits.append(try fit(ForwardDiffSensitivity(), snapshots: &snapshots)) }
var none: [[Double]]? = nil
if fits.isEmpty { none = [] }
func add<M: SensitivityAlgorithm>(_ name: String, _ s: M) throws {
    guard all || choice == name else { return }
    if fits.isEmpty { fits.append(try fit(s, snapshots: &snapshots)) } else { fits.append(try fit(s, snapshots: &none)) }
}
try add("forward", ForwardSensitivity())
try add("interpolating", InterpolatingAdjoint())
try add("quadrature", QuadratureAdjoint())
try add("backsolve", BacksolveAdjoint(checkpointing: true))
try add("cvodes-forward", CVODESForward(method: .adams))
try add("cvodes-adjoint", CVODESAdjoint(method: .adams))
guard let reference = fits.first else {
    throw ScriptError("unknown --sensealg \(choice): all, forwarddiff, forward, interpolating, quadrature, backsolve, cvodes-forward, cvodes-adjoint")
}

print("Lotka-Volterra fit: Σ(u1(t_k) - 1)², Adam(0.1), \(iterations) iterations, Tsit5 reltol = abstol = 1e-8")
var largest = 0.0
for f in fits {
    let d = zip(f.loss, reference.loss).map { abs($0 - $1) / max(abs($1), 1e-300) }.max() ?? 0
    largest = max(largest, d)
    print("  \(pad(f.sensealg, 32)) loss \(sig(f.loss.first ?? .nan)) -> \(sig(f.loss.last ?? .nan, 6)); "
        + "p = \(f.finalParameters.map { sig($0, 5) }); largest relative difference from \(reference.sensealg): \(sig(d, 3)); "
        + "\(sig(1000 * f.seconds, 3)) ms (noisy)")
}
print("  largest relative difference between the loss curves: \(sig(largest, 3))")

struct Summary: Encodable {
    let loss: [Double]
    let finalParameters: [Double]
    let fits: [Fit]
    let largestRelativeLossCurveDifference: Double
    let timingNote: String
}
try out.writeJSON(
    Summary(
        loss: reference.loss, finalParameters: reference.finalParameters, fits: fits,
        largestRelativeLossCurveDifference: largest,
        timingNote: "wall clock on a shared machine with other builds running: noise, not a benchmark"),
    to: "lotka-volterra-fit.json")
try out.writeCSV(
    "loss.csv", header: ["iteration"] + fits.map { $0.sensealg },
    rows: (0...iterations).map { k in [Double(k)] + fits.map { $0.loss[k] } })
let final = ODEProblem(model: SeedLotkaVolterra(), u0: u0, tspan: (0, 10), p: reference.finalParameters)
let start = ODEProblem(model: SeedLotkaVolterra(), u0: u0, tspan: (0, 10), p: p0)
let sFinal = try Tsit5().solve(final, options: options), sStart = try Tsit5().solve(start, options: options)
try out.writeCSV(
    "populations.csv", header: ["t", "rabbits_start", "foxes_start", "rabbits_fitted", "foxes_fitted"],
    rows: sFinal.t.indices.map { [sFinal.t[$0], sStart.u[$0][0], sStart.u[$0][1], sFinal.u[$0][0], sFinal.u[$0][1]] })
let snaps = snapshots ?? []
try out.writeCSV(
    "snapshots.csv", header: ["t"] + snaps.indices.flatMap { ["it\(5 * $0)_rabbits", "it\(5 * $0)_foxes"] },
    rows: sFinal.t.indices.map { k in [sFinal.t[k]] + snaps.flatMap { [$0[k], $0[sFinal.t.count + k]] } })
let curves = fits.indices.map { "'loss.csv' every ::1 using 1:\($0 + 2) with lines lw 2 dt \($0 + 1) title '\(fits[$0].sensealg)'" }
try out.gnuplot("""
    set datafile separator ','
    set output 'loss.png'
    set title 'Lotka-Volterra fit: loss Σ(u_1(t_k) - 1)^2 under Adam(0.1), every sensealg'
    set logscale y; set xlabel 'iteration'; set ylabel 'loss'
    plot \(curves.joined(separator: ", "))
    unset logscale y
    set output 'populations.png'
    set title 'Populations before and after the fit'
    set xlabel 't'; set ylabel 'population'
    plot 'populations.csv' every ::1 using 1:2 with lines dt 2 lc rgb 'gray' title 'rabbits, p0', \\
         'populations.csv' every ::1 using 1:4 with lines lw 2 lc rgb 'blue' title 'rabbits, fitted', \\
         'populations.csv' every ::1 using 1:5 with lines lw 2 lc rgb 'red' title 'foxes, fitted'
    """)
let frames = snaps.indices.map { i in
    "set title 'Adam iteration \(5 * i)'\nplot 'snapshots.csv' every ::1 using 1:\(2 + 2 * i) with lines lw 2 lc rgb 'blue' title 'rabbits', "
        + "'snapshots.csv' every ::1 using 1:\(3 + 2 * i) with lines lw 2 lc rgb 'red' title 'foxes', 1 dt 2 lc rgb 'black' title 'target'"
}
try out.gnuplot("""
    set datafile separator ','
    set terminal gif animate delay 10 loop 0 size 640,480
    set output 'training.gif'
    set yrange [0:17]; set xlabel 't'; set ylabel 'population'
    \(frames.joined(separator: "\n"))
    """)
print("  final p = \(reference.finalParameters), rabbits at t = 10: \(sig(sFinal.u.last![0], 6))")
print("wrote \(out.folder.path): lotka-volterra-fit.json, loss.csv, populations.csv, snapshots.csv, loss.png, populations.png, training.gif")
