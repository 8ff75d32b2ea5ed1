// Global error: what the plain methods deliver against the tolerance they were given, what
// `GlobalErrorControl` delivers, and what it costs, side by side in one run.
//
// Problems with published references: the Arenstorf orbit (one period) and Pleiades (t = 3),
// HNW I §II.0/§II.10, with every adaptive explicit Runge-Kutta method and CVODE_Adams at
// reltol = abstol; ROBER, HIRES, POLLU, OREGO and VDPOL (Mazzia & Magherini's IVP test set,
// its abstol per reltol) with every native stiff method and CVODE_BDF (stability limit
// detection on, without which it stops on OREGO at 1e-6). reltol 1e-6 and 1e-8, the levels of
// the factor-10 criterion.
//
// Error: `max_i |u_i - ref_i| / (abstol + reltol |ref_i|)` at the end point, in tolerances.
// For each method: plain error, error and estimate under GlobalErrorControl, and the cost ratio
// (wall time per solve, global / plain). Per problem and tolerance: the time ratio of CVODE under
// GlobalErrorControl to our fastest method under GlobalErrorControl, both meeting the tolerance
// as a global error.
//
// Run: swift run -c release global-error-bench [--quick] [--output DIR]
import DiffEq
import Foundation
import NotebookSupport
import ProblemLibrary
import SundialsBridge

let quick = CommandLine.arguments.contains("--quick")
let samples = quick ? 1 : 3
let reltols = [1e-6, 1e-8]

struct Row: Encodable {
    let problem: String
    let method: String
    let reltol: Double
    let plainError: Double
    let plainSeconds: Double
    let globalError: Double
    let globalEstimate: Double?
    let globalRetcode: String
    let globalSeconds: Double
    let globalF: Int
    let plainF: Int
}

func error(_ u: [Double], _ reference: [Double], reltol: Double, abstol: Double) -> Double {
    zip(u, reference).map { abs($0 - $1) / (abstol + reltol * abs($1)) }.max()!
}

var rows: [Row] = []

func measure<F: ODEFunction, A: ODEAlgorithm>(
    _ problemName: String, _ problem: ODEProblem<F>, _ reference: [Double], abstolPerReltol: Double, _ algorithm: A
) throws where F.Scalar == Double {
    for reltol in reltols {
        let options = SolveOptions(
            reltol: reltol, abstol: .scalar(abstolPerReltol * reltol), saveEverystep: false, maxiters: 10_000_000)
        var plain: ODESolution<Double>?
        let plainSeconds = try timePerCall(samples: samples) { plain = try solve(problem, algorithm, options: options) }
        var global: ODESolution<Double>?
        let wrapped = GlobalErrorControl(algorithm)
        let globalSeconds = try timePerCall(samples: samples) { global = try solve(problem, wrapped, options: options) }
        let p = plain!, g = global!
        let abstol = abstolPerReltol * reltol
        let row = Row(
            problem: problemName, method: algorithm.name, reltol: reltol,
            plainError: p.retcode.isSuccessful ? error(p.u.last!, reference, reltol: reltol, abstol: abstol) : .infinity,
            plainSeconds: plainSeconds,
            globalError: error(g.u.last!, reference, reltol: reltol, abstol: abstol),
            globalEstimate: g.globalErrorEstimate, globalRetcode: g.retcode.description, globalSeconds: globalSeconds,
            globalF: g.stats.nf, plainF: p.stats.nf)
        rows.append(row)
        let plainText = p.retcode.isSuccessful ? sig(row.plainError, 3) : p.retcode.description
        print(
            pad(problemName, 10) + pad(algorithm.name, 14) + pad(sig(reltol, 1), 8) + pad(plainText, 14)
                + pad(sig(row.globalError, 3), 12) + pad(row.globalEstimate.map { sig($0, 3) } ?? "-", 10)
                + pad(row.globalRetcode, 23) + pad(sig(Double(row.globalF) / Double(row.plainF), 3), 10)
                + pad(sig(globalSeconds / plainSeconds, 3), 10))
    }
}

let out = try ScriptOutput(name: "global-error-bench")
print("End-point error in tolerances, plain and under GlobalErrorControl (time per solve: median of \(samples) samples)")
print(
    pad("problem", 10) + pad("method", 14) + pad("reltol", 8) + pad("plain err", 14) + pad("global err", 12)
        + pad("estimate", 10) + pad("retcode", 23) + pad("nf ratio", 10) + pad("time ratio", 10) + "  (ratios: global/plain)")

func explicitSuite<F: ODEFunction>(_ name: String, _ problem: ODEProblem<F>, _ reference: [Double]) throws
where F.Scalar == Double {
    try measure(name, problem, reference, abstolPerReltol: 1, BS3())
    try measure(name, problem, reference, abstolPerReltol: 1, DP5())
    try measure(name, problem, reference, abstolPerReltol: 1, Tsit5())
    try measure(name, problem, reference, abstolPerReltol: 1, Vern6())
    try measure(name, problem, reference, abstolPerReltol: 1, Vern7())
    try measure(name, problem, reference, abstolPerReltol: 1, Vern8())
    try measure(name, problem, reference, abstolPerReltol: 1, Vern9())
    try measure(name, problem, reference, abstolPerReltol: 1, DP8())
    try measure(name, problem, reference, abstolPerReltol: 1, CVODE_Adams())
}

func stiffSuite<F: ODEFunction>(_ name: String, _ problem: ODEProblem<F>, _ reference: [Double], _ info: TestProblemInfo)
    throws where F.Scalar == Double
{
    let a = info.abstolPerReltol
    try measure(name, problem, reference, abstolPerReltol: a, TRBDF2())
    try measure(name, problem, reference, abstolPerReltol: a, KenCarp4())
    try measure(name, problem, reference, abstolPerReltol: a, Kvaerno5())
    try measure(name, problem, reference, abstolPerReltol: a, Rosenbrock23())
    try measure(name, problem, reference, abstolPerReltol: a, Rodas4())
    try measure(name, problem, reference, abstolPerReltol: a, Rodas5P())
    try measure(name, problem, reference, abstolPerReltol: a, CVODE_BDF(stabilityLimitDetection: true))
}

try explicitSuite("Arenstorf", TestProblems.arenstorf(), TestProblems.arenstorfReference.u)
try explicitSuite("Pleiades", TestProblems.pleiades(), TestProblems.pleiadesReference.u)
try stiffSuite("ROBER", TestProblems.rober(), TestProblems.roberReference.u, TestProblems.roberInfo)
try stiffSuite("HIRES", TestProblems.hires(), TestProblems.hiresReference.u, TestProblems.hiresInfo)
try stiffSuite("POLLU", TestProblems.pollution(), TestProblems.pollutionReference.u, TestProblems.pollutionInfo)
try stiffSuite("OREGO", TestProblems.orego(), TestProblems.oregoReference.u, TestProblems.oregoInfo)
try stiffSuite("VDPOL", TestProblems.vanDerPol(), TestProblems.vanDerPolReference.u, TestProblems.vanDerPolInfo)

print("\nSummary")
let within = rows.filter { $0.globalError <= 10 && $0.globalRetcode == "Success" }.count
let plainWithin = rows.filter { $0.plainError <= 10 }.count
print("within 10 tolerances: plain \(plainWithin)/\(rows.count), under GlobalErrorControl \(within)/\(rows.count)")
let worst = rows.max { $0.globalError < $1.globalError }!
print("largest error under GlobalErrorControl: \(sig(worst.globalError, 3)) tolerances (\(worst.method), \(worst.problem), \(worst.reltol))")
print("\nCVODE under GlobalErrorControl / our fastest method under GlobalErrorControl (time ratio; both within the tolerance as a global error):")
for problem in ["Arenstorf", "Pleiades", "ROBER", "HIRES", "POLLU", "OREGO", "VDPOL"] {
    var line = pad(problem, 10)
    for reltol in reltols {
        let candidates = rows.filter { $0.problem == problem && $0.reltol == reltol && $0.globalError <= 10 && $0.globalRetcode == "Success" }
        let ours = candidates.filter { !$0.method.hasPrefix("CVODE") }.min { $0.globalSeconds < $1.globalSeconds }
        let cvode = candidates.first { $0.method.hasPrefix("CVODE") }
        if let o = ours, let c = cvode {
            line += "  " + pad("reltol \(sig(reltol, 1)): \(sig(c.globalSeconds / o.globalSeconds, 3))x (\(o.method))", 44)
        } else if let o = ours {
            line += "  " + pad("reltol \(sig(reltol, 1)): CVODE missed it (\(o.method) met it)", 44)
        } else {
            line += "  " + pad("reltol \(sig(reltol, 1)): n/a", 44)
        }
    }
    print(line)
}
try out.writeJSON(rows, to: "global-error-bench.json")
print("\nwrote \(out.folder.path)/global-error-bench.json")
