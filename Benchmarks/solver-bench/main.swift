// Tsit5 against CVODE_Adams, side by side in one run: Lotka-Volterra and Lorenz on [0, 10].
//
// For each reltol (abstol = reltol/100... see `abstolFactor`) both methods solve to the end point;
// error is against a tight-tolerance reference, time is the median of repeated runs. The
// "matched error" ratio interpolates Tsit5's work-precision curve (log time against log error)
// at CVODE_Adams' error, so methods are compared at equal accuracy, not equal tolerance.
//
// Build and run: swift run -c release solver-bench
import DiffEq
import Foundation
import NotebookSupport
import ProblemLibrary
import SundialsBridge

struct Point: Encodable {
    let algorithm: String
    let reltol: Double
    let error: Double
    let nf: Int
    let steps: Int
    let seconds: Double
}

func measure<F: ODEFunction, A: ODEAlgorithm>(_ prob: ODEProblem<F>, _ alg: A, reltol: Double, reference: [Double])
    throws -> Point where F.Scalar == Double
{
    let abstol = reltol * 1e-2
    let sol = try solve(prob, alg, reltol: reltol, abstol: .scalar(abstol), saveEverystep: false)
    precondition(sol.retcode == .success, "\(alg.name) failed: \(sol.retcode) \(sol.message ?? "")")
    let end = sol.u.last!
    let err = sqrt(zip(end, reference).reduce(0) { $0 + ($1.0 - $1.1) * ($1.0 - $1.1) } / Double(end.count))
    let seconds = try timePerCall {
        _ = try solve(prob, alg, reltol: reltol, abstol: .scalar(abstol), saveEverystep: false)
    }
    return Point(
        algorithm: alg.name, reltol: reltol, error: err, nf: sol.stats.nf, steps: sol.stats.naccept, seconds: seconds)
}

/// Tsit5's time at error `e`, by interpolating its work-precision curve (log time against log
/// error).
func timeAtError(_ curve: [Point], _ e: Double) -> Double? {
    logLogInterpolate(curve.map { (x: $0.error, y: $0.seconds) }, at: e)
}

struct ProblemResult: Encodable {
    let problem: String
    let reference: [Double]
    let referenceCheck: Double
    let tsit5: [Point]
    let adams: [Point]
    let matchedErrorSpeedup: [Double?]
}

func benchmark<F: ODEFunction>(_ name: String, _ prob: ODEProblem<F>) throws -> ProblemResult where F.Scalar == Double {
    // Reference: Tsit5 at 1e-14, checked against CVODE_Adams at 1e-13.
    let ref = try solve(prob, Tsit5(), reltol: 1e-14, abstol: 1e-16, saveEverystep: false).u.last!
    let check = try solve(prob, CVODE_Adams(), reltol: 1e-13, abstol: 1e-15, saveEverystep: false).u.last!
    let refCheck = zip(ref, check).map { abs($0 - $1) }.max()!
    let tols = [1e-6, 1e-8, 1e-10]
    let dense = [1e-4, 1e-5, 1e-6, 1e-7, 1e-8, 1e-9, 1e-10, 1e-11, 1e-12, 1e-13]
    let tsit = try dense.map { try measure(prob, Tsit5(), reltol: $0, reference: ref) }
    let adams = try tols.map { try measure(prob, CVODE_Adams(), reltol: $0, reference: ref) }
    print("\n\(name): reference = Tsit5 at reltol 1e-14 (max difference from CVODE_Adams at 1e-13: \(sig(refCheck, 2)))")
    print("  reltol |  Tsit5 error      nf   time(us) | Adams error      nf   time(us) | time ratio  matched-error ratio")
    var matched: [Double?] = []
    for (tol, a) in zip(tols, adams) {
        let t = tsit.first { $0.reltol == tol }!
        let m = timeAtError(tsit, a.error).map { a.seconds / $0 }
        matched.append(m)
        print(
            "  \(pad(sig(tol, 1), 6)) | \(pad(sig(t.error, 3), 11)) \(pad("\(t.nf)", 7)) \(pad(sig(t.seconds * 1e6, 4), 10)) |"
                + " \(pad(sig(a.error, 3), 11)) \(pad("\(a.nf)", 7)) \(pad(sig(a.seconds * 1e6, 4), 10)) |"
                + " \(pad(sig(a.seconds / t.seconds, 3), 10)) \(pad(m.map { sig($0, 3) } ?? "n/a", 20))")
    }
    return ProblemResult(
        problem: name, reference: ref, referenceCheck: refCheck, tsit5: tsit, adams: adams, matchedErrorSpeedup: matched)
}

let out = try ScriptOutput(name: "solver-bench")
print("Tsit5 vs CVODE_Adams (abstol = reltol/100; time = median seconds per solve; ratio = Adams/Tsit5)")
let results = [
    try benchmark("Lotka-Volterra [0, 10]", TestProblems.lotkaVolterra()),
    try benchmark("Lorenz [0, 10]", TestProblems.lorenz(tEnd: 10)),
]
try out.writeJSON(results, to: "solver-bench.json")
print("\nwrote \(out.folder.path)/solver-bench.json")
