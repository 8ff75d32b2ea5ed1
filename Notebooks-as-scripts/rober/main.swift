// ROBER: Robertson's stiff kinetics on t ∈ [0, 1e11], the classic demonstration that a
// non-stiff method stalls where a stiff one finishes in a blink.
//
// CVODE_Adams is expected to stall (report its return code, the time it reached and its steps);
// CVODE_BDF at reltol 1e-8, abstol 1e-10 is compared with the published reference solution.
import DiffEq
import Foundation
import NotebookSupport

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
let problem = ProblemLibrary.rober()
let reference = ProblemLibrary.roberReference
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

let (_, bdf) = try run(CVODE_BDF(), repeats: 5)
print("\nCVODE_BDF: retcode \(bdf.retcode), t = \(bdf.tReached), median \(sig(bdf.medianSeconds * 1e3)) ms")
for i in 0..<3 {
    let rel = bdf.relativeErrorVsReference.map { sig($0[i], 3) } ?? "-"
    print("  y\(i + 1) = \(sig(bdf.finalState[i], 16))   reference \(sig(reference.u[i], 16))   rel. error \(rel)")
}
print("  stats: \(bdf.stats.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " "))")

// Trajectory for the plot: log-spaced save points.
let times = (0...160).map { pow(10.0, -5 + Double($0) * 0.1) }
let traj = try solve(problem, CVODE_BDF(), reltol: reltol, abstol: .scalar(abstol), saveat: .times(times))
try out.writeCSV(
    "rober_bdf.csv", header: ["t", "y1", "y2", "y3"],
    rows: zip(traj.t, traj.u).map { [$0] + $1 })
try out.gnuplot("""
    set output 'rober.png'
    set title 'ROBER (CVODE\\_BDF, reltol 1e-8, abstol 1e-10)'
    set logscale x
    set format x '10^{%L}'
    set xlabel 't'
    set ylabel 'concentration'
    set key right center
    set datafile separator ','
    plot 'rober_bdf.csv' every ::1 using 1:2 with lines lw 2 title 'y_1', \\
         '' every ::1 using 1:($3*1e4) with lines lw 2 title 'y_2 × 10^4', \\
         '' every ::1 using 1:4 with lines lw 2 title 'y_3'
    """)
try out.writeJSON(
    Report(
        problem: "ROBER", tspan: [0, 1e11], reltol: reltol, abstol: abstol, reference: reference.u,
        referenceSource: reference.source, methods: [adams, bdf]),
    to: "rober.json")
print("\nwrote \(out.folder.path)/{rober.json, rober_bdf.csv, rober.png}")
