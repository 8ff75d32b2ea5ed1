// The seed's stochastic Lotka-Volterra fit (issue #17, item 6; DiffEqFlux.jl's neural-SDE
// README example): drift du₁ = p₁u₁ − p₂u₁u₂, du₂ = −p₃u₂ + p₄u₁u₂, diagonal multiplicative noise
// g = 0.1 u, u0 = [1, 1], t in [0, 5], starting from p = [2.2, 1.0, 2.0, 0.4]; loss
// Σ_k (u₁(t_k) − 1)² on saveat 0.1; Adam(0.1) for 100 iterations. Trained twice: on one fixed
// Brownian path (a virtual Brownian tree, so every iteration sees the same W), and on the mean of
// an ensemble of fixed paths (loss on the mean of u₁ over the paths). Gradients are pathwise
// forward mode: Dual<4> parameters through the SOSRI solve (fixed steps of 0.01, so the gradient
// is that of the discretized solve on the fixed path). With `--sensealg adjoint` the fixed-path
// fit takes its gradients from the stochastic adjoint (StochasticSensitivity's
// SDEBacksolveAdjoint, Li et al. 2020: backward Stratonovich solve on the same tree path, with
// the Itô correction for SOSRI's Itô reading; memory independent of the step count). The
// ensemble fit stays in forward mode: its loss is of the mean of u₁ over the paths, not a mean
// of per-path losses. Either way the script prints the adjoint's gradient at the start point
// against forward mode's (they differ by the adjoint's O(dt) discretisation error).
//
// Writes sde-lotka-volterra-fit.json, loss.csv, trajectories.csv (the fixed-path trajectories
// at the start and end, and 5/50/95 % quantiles over 200 fresh paths at the start and at the
// ensemble-trained parameters), snapshots.csv, trajectories.png (quantile bands), loss.png and
// training.gif (u₁ on the fixed path every 5 iterations).
//
// Measured (release, loaded machine): fixed path, loss 1769.7 -> 0.713 in 100 iterations
// (1.5 s), p = [1.454, 1.581, 1.284, 1.300]; ensemble mean over 32 paths, loss 1783.9 -> 0.121
// (33 s), p = [1.505, 1.564, 1.260, 1.308]. The loss on u₁ alone does not identify the four
// parameters: many p keep u₁ near 1 on a path. With `--sensealg adjoint` (release, --paths 4):
// fixed path 1769.73 -> 0.713698 (forward mode: 0.713317), p = [1.454, 1.581, 1.284, 1.300]; at
// the start the adjoint's dL/dp is 1.05e-3 (backward dt 0.01) and 7.5e-4 (0.0025) relative from
// forward mode's, which itself carries the dt = 0.01 forward solve's discretisation.
//
// Usage: sde-lotka-volterra-fit [--output DIR] [--iterations N] [--paths N] [--sensealg forward|adjoint]
import DiffEqCore
import Foundation
import NeuralNetworks
import NotebookSupport
import Sensitivity
import StochasticDE
import StochasticSensitivity

let out = try ScriptOutput(name: "sde-lotka-volterra-fit")
let args = CommandLine.arguments
func option(_ name: String) -> String? {
    guard let i = args.firstIndex(of: "--" + name), i + 1 < args.count else { return nil }
    return args[i + 1]
}
let iterations = Int(option("iterations") ?? "") ?? 100
let ensemblePaths = Int(option("paths") ?? "") ?? 32
let useAdjoint = option("sensealg") == "adjoint"
let bandPaths = 200

struct LotkaVolterraSDE: SDEModel {
    func drift<S: DiffEqScalar>(_ du: inout [S], _ u: [S], _ p: [S], _ t: S) {
        du[0] = p[0] * u[0] - p[1] * u[0] * u[1]
        du[1] = -p[2] * u[1] + p[3] * u[0] * u[1]
    }
    func diffusion<S: DiffEqScalar>(_ g: inout [S], _ u: [S], _ p: [S], _ t: S) {
        g[0] = S(0.1) * u[0]
        g[1] = S(0.1) * u[1]
    }
}

typealias D = Dual<4, Double>
let tspan = (0.0, 5.0)
let saveTimes = (0...50).map { Double($0) * 0.1 }
let options = SolveOptions(saveat: .times(saveTimes), dt: 0.01, adaptive: false)
let start = [2.2, 1.0, 2.0, 0.4]

func tree(_ seed: UInt64) throws -> VirtualBrownianTree {
    try VirtualBrownianTree(t0: tspan.0, t1: tspan.1, dimension: 2, seed: seed, tolerance: 1e-6, auxiliary: true)
}
let fixedTree = try tree(1)
let ensembleTrees = try (0..<ensemblePaths).map { try tree(UInt64(1000 + $0)) }

/// u(t_k) on the path of `tree`, in duals seeded on the four parameters.
func dualSolve(_ p: [Double], _ tree: VirtualBrownianTree) throws -> [[D]] {
    let prob = SDEProblem(
        model: LotkaVolterraSDE(), u0: [D(constant: 1), D(constant: 1)], tspan: tspan,
        p: p.enumerated().map { D($1, seed: $0) })
    let sol = try solve(prob, SOSRI(), noise: BrownianTreeNoise(tree), options: options)
    guard sol.retcode == .success else {
        throw ScriptError("solve at p = \(p) ended with \(sol.retcode): \(sol.message ?? "")")
    }
    return sol.u
}

func plainSolve(_ p: [Double], _ tree: VirtualBrownianTree) throws -> [[Double]] {
    let prob = SDEProblem(model: LotkaVolterraSDE(), u0: [1.0, 1.0], tspan: tspan, p: p)
    let sol = try solve(prob, SOSRI(), noise: BrownianTreeNoise(tree), options: options)
    guard sol.retcode == .success else {
        throw ScriptError("solve at p = \(p) ended with \(sol.retcode): \(sol.message ?? "")")
    }
    return sol.u
}

/// Σ_k (x_k − 1)² and its gradient, for x_k the dual values of u₁ (or of its ensemble mean).
func lossAndGradient(_ x: [D], _ gradient: inout [Double]) -> Double {
    var loss = 0.0
    for j in 0..<4 { gradient[j] = 0 }
    for v in x {
        let r = v.value - 1
        loss += r * r
        for j in 0..<4 { gradient[j] += 2 * r * v.partials[j] }
    }
    return loss
}

/// (u₁ − 1)² at one save time, for the adjoint.
struct DistanceOfU1FromOne: PointLoss {
    func callAsFunction<S: DiffEqScalar>(_ u: [S], _ t: Double) -> S {
        let r = u[0] - S(1.0)
        return r * r
    }
}

func adjointGradient(_ p: [Double], backwardStep: Double) throws -> SensitivityResult {
    let prob = SDEProblem(model: LotkaVolterraSDE(), u0: [1.0, 1.0], tspan: tspan, p: p)
    return try gradient(
        of: DistanceOfU1FromOne(), prob, algorithm: SOSRI(), noise: fixedTree, options: options,
        sensealg: SDEBacksolveAdjoint(dt: backwardStep), wrt: .parameters)
}

let fixedObjective: LossAndGradient<Double> = useAdjoint
    ? { p, gradient in
        let r = try adjointGradient(p, backwardStep: 0.01)
        gradient = r.dp
        return r.loss
    }
    : { p, gradient in try lossAndGradient(dualSolve(p, fixedTree).map { $0[0] }, &gradient) }

// The adjoint against forward mode at the start point, on the fixed path.
var forwardAtStart = [0.0, 0.0, 0.0, 0.0]
_ = lossAndGradient(try dualSolve(start, fixedTree).map { $0[0] }, &forwardAtStart)
for h in [0.01, 0.0025] {
    let a = try adjointGradient(start, backwardStep: h).dp
    let difference = zip(a, forwardAtStart).map { abs($0 - $1) }.max()! / forwardAtStart.map(abs).max()!
    print("  dL/dp at the start, fixed path: forward mode \(forwardAtStart.map { sig($0, 6) }), adjoint (backward dt \(h)) \(a.map { sig($0, 6) }), relative difference \(sig(difference, 3))")
}
let ensembleObjective: LossAndGradient<Double> = { p, gradient in
    var mean = [D](repeating: .zero, count: saveTimes.count)
    for tree in ensembleTrees {
        let u = try dualSolve(p, tree)
        for k in mean.indices { mean[k] += u[k][0] }
    }
    return lossAndGradient(mean.map { $0.scaled(by: 1 / Double(ensemblePaths)) }, &gradient)
}

print("stochastic Lotka-Volterra fit: SOSRI, dt = 0.01, Adam(0.1) x \(iterations); ensemble of \(ensemblePaths) fixed paths; fixed-path gradients by \(useAdjoint ? "the SDE adjoint" : "forward mode")")
var snapshots: [(iteration: Int, u1: [Double])] = []
func train(_ name: String, _ objective: LossAndGradient<Double>, snapshot: Bool) throws -> (p: [Double], losses: [Double], seconds: Double) {
    var p = start
    var adam = try Adam<Double>(0.1)
    var snapshotError: Error?
    let clock = ContinuousClock()
    let t0 = clock.now
    let result = try train(&p, optimizer: &adam, iterations: iterations, callback: { state, l in
        if snapshot && (state.iteration % 5 == 0 || state.iteration == iterations) {
            do { snapshots.append((state.iteration, try plainSolve(state.parameters, fixedTree).map { $0[0] })) } catch { snapshotError = error }
        }
        if state.iteration % 25 == 0 { print("  \(name) \(pad(String(state.iteration), 4)) loss \(sig(l, 6)) p \(state.parameters.map { sig($0, 4) })") }
        return false
    }, lossAndGradient: objective)
    if let snapshotError { throw snapshotError }
    let elapsed = clock.now - t0
    let seconds = Double(elapsed.components.seconds) + 1e-18 * Double(elapsed.components.attoseconds)
    return (p, result.lossHistory, seconds)
}
let fixed = try train("fixed path", fixedObjective, snapshot: true)
let ensemble = try train("ensemble mean", ensembleObjective, snapshot: false)
print("  fixed path: loss \(sig(fixed.losses.first ?? .nan, 6)) -> \(sig(fixed.losses.last ?? .nan, 6)), p = \(fixed.p.map { sig($0, 6) })")
print("  ensemble mean: loss \(sig(ensemble.losses.first ?? .nan, 6)) -> \(sig(ensemble.losses.last ?? .nan, 6)), p = \(ensemble.p.map { sig($0, 6) })")

/// 5, 50 and 95 % quantiles of u₁ and u₂ at each save time over `bandPaths` fresh paths.
func quantileBand(_ p: [Double]) throws -> [[Double]] {
    var samples = [[[Double]]](repeating: [[], []], count: saveTimes.count)
    for j in 0..<bandPaths {
        let u = try plainSolve(p, tree(UInt64(50_000 + j)))
        for k in saveTimes.indices { for i in 0..<2 { samples[k][i].append(u[k][i]) } }
    }
    func q(_ xs: [Double], _ level: Double) -> Double {
        let s = xs.sorted()
        let position = level * Double(s.count - 1)
        let lo = Int(position.rounded(.down)), hi = Swift.min(lo + 1, s.count - 1)
        return s[lo] + (position - Double(lo)) * (s[hi] - s[lo])
    }
    return saveTimes.indices.map { k in (0..<2).flatMap { i in [0.05, 0.5, 0.95].map { q(samples[k][i], $0) } } }
}
let bandStart = try quantileBand(start)
let bandEnsemble = try quantileBand(ensemble.p)
let fixedStart = try plainSolve(start, fixedTree)
let fixedEnd = try plainSolve(fixed.p, fixedTree)

struct Summary: Encodable {
    let model: String
    let method: String
    let start: [Double]
    let fixedPath: Run
    let ensembleMean: Run
    let ensemblePaths: Int
    let bandPaths: Int
    let iterations: Int
    struct Run: Encodable {
        let parameters: [Double]
        let lossStart: Double
        let lossEnd: Double
        let seconds: Double
    }
}
try out.writeJSON(
    Summary(
        model: "du1 = p1 u1 - p2 u1 u2, du2 = -p3 u2 + p4 u1 u2, g = 0.1 u (Ito, diagonal), u0 = [1, 1], t in [0, 5]",
        method: "SOSRI, fixed dt = 0.01, virtual Brownian tree paths (tolerance 1e-6); loss sum_k (u1(t_k) - 1)^2, saveat 0.1; Adam(0.1); fixed-path gradients by "
            + (useAdjoint ? "SDEBacksolveAdjoint(dt: 0.01)" : "forward mode"),
        start: start,
        fixedPath: .init(parameters: fixed.p, lossStart: fixed.losses.first ?? .nan, lossEnd: fixed.losses.last ?? .nan, seconds: fixed.seconds),
        ensembleMean: .init(
            parameters: ensemble.p, lossStart: ensemble.losses.first ?? .nan, lossEnd: ensemble.losses.last ?? .nan,
            seconds: ensemble.seconds),
        ensemblePaths: ensemblePaths, bandPaths: bandPaths, iterations: iterations),
    to: "sde-lotka-volterra-fit.json")
try out.writeCSV(
    "loss.csv", header: ["iteration", "fixed_path", "ensemble_mean"],
    rows: (0..<Swift.min(fixed.losses.count, ensemble.losses.count)).map { [Double($0), fixed.losses[$0], ensemble.losses[$0]] })
try out.writeCSV(
    "trajectories.csv",
    header: ["t", "fixed_start_u1", "fixed_start_u2", "fixed_end_u1", "fixed_end_u2",
             "start_u1_q05", "start_u1_q50", "start_u1_q95", "start_u2_q05", "start_u2_q50", "start_u2_q95",
             "ens_u1_q05", "ens_u1_q50", "ens_u1_q95", "ens_u2_q05", "ens_u2_q50", "ens_u2_q95"],
    rows: saveTimes.indices.map { k in [saveTimes[k]] + fixedStart[k] + fixedEnd[k] + bandStart[k] + bandEnsemble[k] })
try out.writeCSV(
    "snapshots.csv", header: ["t"] + snapshots.map { "iteration_\($0.iteration)" },
    rows: saveTimes.indices.map { k in [saveTimes[k]] + snapshots.map { $0.u1[k] } })

try out.gnuplot("""
    set datafile separator ','
    set output 'trajectories.png'
    set multiplot layout 1,2
    set xlabel 't'; set ylabel 'u'; set key top left
    set title 'start p = [2.2, 1, 2, 0.4]: 5-95 % band over \(bandPaths) paths, fixed path'
    plot 'trajectories.csv' every ::1 using 1:6:8 with filledcurves fs transparent solid 0.25 lc rgb 'blue' title 'u_1 band', \\
         'trajectories.csv' every ::1 using 1:9:11 with filledcurves fs transparent solid 0.25 lc rgb 'red' title 'u_2 band', \\
         'trajectories.csv' every ::1 using 1:2 with lines lw 2 lc rgb 'blue' title 'u_1 (fixed path)', \\
         'trajectories.csv' every ::1 using 1:3 with lines lw 2 lc rgb 'red' title 'u_2 (fixed path)', 1 with lines dt 2 lc rgb 'black' title 'target u_1 = 1'
    set title 'after training: ensemble-trained band, fixed-path-trained path'
    plot 'trajectories.csv' every ::1 using 1:12:14 with filledcurves fs transparent solid 0.25 lc rgb 'blue' title 'u_1 band (ensemble fit)', \\
         'trajectories.csv' every ::1 using 1:15:17 with filledcurves fs transparent solid 0.25 lc rgb 'red' title 'u_2 band (ensemble fit)', \\
         'trajectories.csv' every ::1 using 1:13 with lines lw 2 dt 3 lc rgb 'blue' title 'u_1 median (ensemble fit)', \\
         'trajectories.csv' every ::1 using 1:4 with lines lw 2 lc rgb 'blue' title 'u_1 (fixed-path fit)', \\
         'trajectories.csv' every ::1 using 1:5 with lines lw 2 lc rgb 'red' title 'u_2 (fixed-path fit)', 1 with lines dt 2 lc rgb 'black' title 'target u_1 = 1'
    unset multiplot
    """)
try out.gnuplot("""
    set datafile separator ','
    set output 'loss.png'
    set logscale y; set xlabel 'Adam iteration'; set ylabel 'loss'
    set title 'Loss sum_k (u_1(t_k) - 1)^2: one fixed path, and the mean over \(ensemblePaths) paths'
    plot 'loss.csv' every ::1 using 1:2 with lines lw 2 title 'fixed path', 'loss.csv' every ::1 using 1:3 with lines lw 2 title 'ensemble mean'
    """)
let frames = snapshots.enumerated().map { i, s in
    "set title 'fixed path, Adam iteration \(s.iteration)'\nplot 'snapshots.csv' every ::1 using 1:\(i + 2) with lines lw 2 lc rgb 'blue' title 'u_1', 1 with lines dt 2 lc rgb 'black' title 'target'"
}.joined(separator: "\n")
try out.gnuplot("""
    set datafile separator ','
    set terminal gif animate delay 20 loop 0 size 640,480
    set output 'training.gif'
    set xrange [0:5]; set yrange [0:6]; set xlabel 't'; set ylabel 'u_1'
    \(frames)
    """)
print("wrote \(out.folder.path): sde-lotka-volterra-fit.json, loss.csv, trajectories.csv, snapshots.csv, trajectories.png, loss.png, training.gif")
