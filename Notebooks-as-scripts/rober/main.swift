// ROBER: Robertson's stiff kinetics on t ∈ [0, 1e11], the classic demonstration that a
// non-stiff method stalls where a stiff one finishes in a blink.
//
// CVODE_Adams is expected to stall (report its return code, the time it reached and its steps);
// CVODE_BDF, and the native Rodas5P and KenCarp4, at reltol 1e-8, abstol 1e-10 are compared with
// the published reference solution, and timed side by side in this run.
import DiffEq
import Foundation
import NotebookSupport
import ProblemLibrary
import SundialsBridge

struct MethodReport: Encodable {
    let algorithm: String
    let retcode: String
    let message: String?
    let tReached: Double
    let finalState: [Double]
    let relativeErrorVsReference: [Double]?
    let stats: [String: Int]
    let medianSeconds: Double
}

struct Report: Encodable {
    let problem: String
    let tspan: [Double]
    let reltol: Double
    let abstol: Double
    let reference: [Double]
    let referenceSource: String
    let methods: [MethodReport]
}

func statsDictionary(_ s: SolverStats) -> [String: Int] {
    ["nf": s.nf, "njacs": s.njacs, "nluFactorizations": s.nluFactorizations, "nlinsolves": s.nlinsolves,
     "naccept": s.naccept, "nreject": s.nreject, "nnonliniter": s.nnonliniter,
     "nnonlinconvfail": s.nnonlinconvfail]
}

let out = try ScriptOutput(name: "rober")
let problem = TestProblems.rober()
let reference = TestProblems.roberReference
let reltol = 1e-8, abstol = 1e-10

func run<A: ODEAlgorithm>(_ algorithm: A, repeats: Int) throws -> (ODESolution<Double>, MethodReport) {
    var sol = try solve(problem, algorithm, reltol: reltol, abstol: .scalar(abstol), saveEverystep: false)
    let seconds = try medianTime(repeats: repeats) {
        sol = try solve(problem, algorithm, reltol: reltol, abstol: .scalar(abstol), saveEverystep: false)
    }
    let final = sol.u.last!
    let reached = sol.t.last!
    let rel: [Double]? =
        sol.retcode == .success
        ? zip(final, reference.u).map { abs($0 - $1) / abs($1) } : nil
    let report = MethodReport(
        algorithm: algorithm.name, retcode: sol.retcode.description, message: sol.message, tReached: reached,
        finalState: final, relativeErrorVsReference: rel, stats: statsDictionary(sol.stats),
        medianSeconds: seconds)
    return (sol, report)
}

print("ROBER on [0, 1e11], reltol = \(reltol), abstol = \(abstol)")
print("reference y(1e11) = \(reference.u)")
print("  source: \(reference.source)")

let (_, adams) = try run(CVODE_Adams(), repeats: 1)
print("\nCVODE_Adams: retcode \(adams.retcode) at t = \(sig(adams.tReached)) after \(adams.stats["naccept"]!) steps")
print("  (a non-stiff method on a stiff problem: it stalls in tiny steps)")
if let m = adams.message { print("  CVODE says: \(m)") }

var stiff: [MethodReport] = []
for report in [try run(CVODE_BDF(), repeats: 5).1, try run(Rodas5P(), repeats: 5).1, try run(KenCarp4(), repeats: 5).1] {
    stiff.append(report)
    print("\n\(report.algorithm): retcode \(report.retcode), t = \(report.tReached), median \(sig(report.medianSeconds * 1e3)) ms")
    for i in 0..<3 {
        let rel = report.relativeErrorVsReference.map { sig($0[i], 3) } ?? "-"
        print("  y\(i + 1) = \(sig(report.finalState[i], 16))   reference \(sig(reference.u[i], 16))   rel. error \(rel)")
    }
    print("  stats: \(report.stats.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " "))")
}
let bdf = stiff[0]
print("\nTime against CVODE_BDF in this run (same tolerances):")
for r in stiff.dropFirst() {
    print("  \(pad(r.algorithm, 9)): \(sig(r.medianSeconds * 1e3, 3)) ms, CVODE_BDF / \(r.algorithm) = \(sig(bdf.medianSeconds / r.medianSeconds, 3))")
}

// Trajectories for the plot: log-spaced save points, each method's own output there.
let times = (0...160).map { pow(10.0, -5 + Double($0) * 0.1) }
func trajectory<A: ODEAlgorithm>(_ alg: A, file: String) throws {
    let traj = try solve(problem, alg, reltol: reltol, abstol: .scalar(abstol), saveat: .times(times))
    try out.writeCSV(file, header: ["t", "y1", "y2", "y3"], rows: zip(traj.t, traj.u).map { [$0] + $1 })
}
try trajectory(CVODE_BDF(), file: "rober_bdf.csv")
try trajectory(Rodas5P(), file: "rober_rodas5p.csv")
try trajectory(KenCarp4(), file: "rober_kencarp4.csv")
try out.gnuplot("""
    set output 'rober.png'
    set title 'ROBER (reltol 1e-8, abstol 1e-10): CVODE\\_BDF (lines), Rodas5P and KenCarp4 (points)'
    set logscale x
    set format x '10^{%L}'
    set xlabel 't'
    set ylabel 'concentration'
    set key right center
    set datafile separator ','
    plot 'rober_bdf.csv' every ::1 using 1:2 with lines lw 2 lc 1 title 'y_1 CVODE\\_BDF', \\
         '' every ::1 using 1:($3*1e4) with lines lw 2 lc 2 title 'y_2 × 10^4 CVODE\\_BDF', \\
         '' every ::1 using 1:4 with lines lw 2 lc 3 title 'y_3 CVODE\\_BDF', \\
         'rober_rodas5p.csv' every 4::1 using 1:2 with points pt 6 lc 1 title 'Rodas5P', \\
         '' every 4::1 using 1:($3*1e4) with points pt 6 lc 2 notitle, \\
         '' every 4::1 using 1:4 with points pt 6 lc 3 notitle, \\
         'rober_kencarp4.csv' every 4::3 using 1:2 with points pt 2 lc 1 title 'KenCarp4', \\
         '' every 4::3 using 1:($3*1e4) with points pt 2 lc 2 notitle, \\
         '' every 4::3 using 1:4 with points pt 2 lc 3 notitle
    """)
try out.writeJSON(
    Report(
        problem: "ROBER", tspan: [0, 1e11], reltol: reltol, abstol: abstol, reference: reference.u,
        referenceSource: reference.source, methods: [adams] + stiff),
    to: "rober.json")
print("\nwrote \(out.folder.path)/{rober.json, rober_*.csv, rober.png}")
