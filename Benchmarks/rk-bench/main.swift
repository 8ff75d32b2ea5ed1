// Work-precision of the explicit Runge-Kutta suite against CVODE_Adams, side by side in one run.
//
// Problems: Lotka-Volterra and Lorenz on [0, 10] (reference: Vern9 at reltol 1e-14, checked
// against CVODE_Adams at 1e-13), Pleiades on [0, 3] (the IVP test set's reference solution) and
// the Arenstorf orbit over one period (it returns to its initial state). For reltol 1e-4 ... 1e-12
// (abstol = reltol), each adaptive method and CVODE_Adams: error at the end point (RMS over the
// components), f evaluations, median time per solve. The summary line per problem is the time
// ratio CVODE_Adams / (our fastest method at the same error), read off the work-precision curves
// at each of CVODE_Adams' errors.
//
// Then the solver's own overhead on Lorenz with Tsit5: time per step against the time of the
// step's f evaluations.
//
// Run: swift run -c release rk-bench [--quick] [--output DIR]
import DiffEq
import Foundation
import NotebookSupport

let quick = CommandLine.arguments.contains("--quick")
let tolerances: [Double] = quick ? [1e-4, 1e-8, 1e-12] : [1e-4, 1e-5, 1e-6, 1e-7, 1e-8, 1e-9, 1e-10, 1e-11, 1e-12]
let samples = quick ? 3 : 5

func suite<F: ODEFunction>(_: F.Type) -> [BenchmarkMethod<F>] where F.Scalar == Double {
    [
        BenchmarkMethod(BS3()), BenchmarkMethod(DP5()), BenchmarkMethod(Tsit5()), BenchmarkMethod(Vern6()),
        BenchmarkMethod(Vern7()), BenchmarkMethod(Vern8()), BenchmarkMethod(Vern9()), BenchmarkMethod(DP8()),
        BenchmarkMethod(CVODE_Adams()),
    ]
}

func rms(_ a: [Double], _ b: [Double]) -> Double {
    (zip(a, b).reduce(0) { $0 + ($1.0 - $1.1) * ($1.0 - $1.1) } / Double(a.count)).squareRoot()
}

struct ProblemResult: Encodable {
    let problem: String
    let referenceNote: String
    let points: [WorkPrecisionPoint]
    let bestOverAdams: [Double?]
    let bestMethodAtAdamsPoints: [String?]
}


func workPrecision<F: ODEFunction>(_ name: String, _ problem: ODEProblem<F>, reference: [Double], note: String) throws
    -> ProblemResult where F.Scalar == Double
{
    var points: [WorkPrecisionPoint] = []
    let methods = suite(F.self)
    for m in methods {
        // BS3 below 1e-10 takes seconds per solve for nothing a user would want.
        for tol in tolerances where !(m.name == "BS3" && tol < 1e-10) {
            let opts = SolveOptions(reltol: tol, abstol: .scalar(tol), saveEverystep: false, maxiters: 1_000_000)
            points.append(try m.measure(problem, options: opts, samples: samples) { rms($0.u.last!, reference) })
        }
    }
    print("\n\(name)  (\(note))")
    print("  " + pad("reltol", 7) + methods.map { pad($0.name, 24) }.joined())
    print("  " + pad("", 7) + methods.map { _ in pad("error    nf   µs", 24) }.joined())
    for tol in tolerances {
        var line = "  " + pad(sig(tol, 1), 7)
        for m in methods {
            if let p = points.first(where: { $0.method == m.name && $0.reltol == tol }) {
                line += pad("\(sig(p.error, 2)) \(p.nf) \(sig(p.seconds * 1e6, 3))", 24)
            } else {
                line += pad("-", 24)
            }
        }
        print(line)
    }
    // Our fastest method at each of CVODE_Adams' errors.
    let adams = points.filter { $0.method == "CVODE_Adams" && $0.error.isFinite }
    var ratios: [Double?] = []
    var winners: [String?] = []
    for a in adams {
        let best = fastest(points, at: a.error, excluding: ["CVODE_Adams"])
        ratios.append(best.map { a.seconds / $0.seconds })
        winners.append(best?.method)
    }
    let described = zip(zip(adams, ratios), winners).map { pair, w in
        "\(sig(pair.0.error, 2)): \(pair.1.map { sig($0, 3) } ?? "n/a")x (\(w ?? "-"))"
    }
    print("  best native vs CVODE_Adams at matched error (Adams error: speed-up, method): " + described.joined(separator: ", "))
    return ProblemResult(problem: name, referenceNote: note, points: points, bestOverAdams: ratios, bestMethodAtAdamsPoints: winners)
}

let out = try ScriptOutput(name: "rk-bench")
print("Explicit RK suite vs CVODE_Adams, abstol = reltol; error = RMS error at the end point; µs = median per solve")

// References.
let lv = ProblemLibrary.lotkaVolterra()
let lvRef = try solve(lv, Vern9(), reltol: 1e-14, abstol: 1e-14, saveEverystep: false).u.last!
let lvCheck = try solve(lv, CVODE_Adams(), reltol: 1e-13, abstol: 1e-13, saveEverystep: false).u.last!
let lorenz = ProblemLibrary.lorenz(tEnd: 10)
let lorenzRef = try solve(lorenz, Vern9(), reltol: 1e-14, abstol: 1e-14, saveEverystep: false).u.last!
let lorenzCheck = try solve(lorenz, CVODE_Adams(), reltol: 1e-13, abstol: 1e-13, saveEverystep: false).u.last!
let pleiades = ProblemLibrary.pleiades()
let arenstorf = ProblemLibrary.arenstorf()

var results: [ProblemResult] = []
results.append(try workPrecision("Lotka-Volterra [0, 10]", lv, reference: lvRef,
    note: "reference Vern9 at 1e-14; RMS difference from CVODE_Adams at 1e-13: \(sig(rms(lvRef, lvCheck), 2))"))
results.append(try workPrecision("Lorenz [0, 10]", lorenz, reference: lorenzRef,
    note: "reference Vern9 at 1e-14; RMS difference from CVODE_Adams at 1e-13: \(sig(rms(lorenzRef, lorenzCheck), 2))"))
results.append(try workPrecision("Pleiades [0, 3]", pleiades, reference: ProblemLibrary.pleiadesReference.u,
    note: ProblemLibrary.pleiadesReference.source))
results.append(try workPrecision("Arenstorf, one period", arenstorf, reference: ProblemLibrary.arenstorfReference.u,
    note: ProblemLibrary.arenstorfReference.source))

// MARK: Solver overhead on Lorenz with Tsit5
let opts = SolveOptions(reltol: 1e-8, abstol: 1e-8, saveEverystep: false)
let lorenzSol = try solve(lorenz, Tsit5(), options: opts)
let solveSeconds = try timePerCall(samples: 7) { _ = try solve(lorenz, Tsit5(), options: opts) }
let perStep = solveSeconds / Double(lorenzSol.stats.naccept)
// The same f evaluations, on states typical of the attractor, without the solver around them.
let fPerStep = Double(lorenzSol.stats.nf) / Double(lorenzSol.stats.naccept)
/// Seconds per Lorenz f evaluation, measured with locals only (no globals in the loop).
func lorenzFSeconds(p: [Double]) -> Double {
    let model = Lorenz()
    var du = [0.0, 0, 0]
    let cycle = [[1.0, 0, 0], [-8.1, -9.3, 24.7], [12.2, 15.5, 30.1], [0.3, -1.2, 12.9]]
    var sink = 0.0
    let seconds = timePerCall(samples: 7) {
        for u in cycle {
            model.rhs(&du, u, p, 0.0)
            sink += du[0]
        }
    }
    blackHole(sink)
    return seconds / Double(cycle.count)
}
let fSeconds = lorenzFSeconds(p: lorenz.p)
let fCostPerStep = fSeconds * fPerStep
print("\nSolver overhead, Lorenz [0, 10], Tsit5 at reltol = abstol = 1e-8 (\(lorenzSol.stats.naccept) steps, \(sig(fPerStep, 3)) f evaluations per step)")
print("  time per step: \(sig(perStep * 1e9, 4)) ns; f evaluations per step: \(sig(fCostPerStep * 1e9, 4)) ns;"
    + " overhead (step - f) / f: \(sig((perStep - fCostPerStep) / fCostPerStep, 3))")

struct Overhead: Encodable {
    let steps: Int
    let nsPerStep: Double
    let fNsPerStep: Double
    let overheadRatio: Double
}
struct Report: Encodable {
    let problems: [ProblemResult]
    let overhead: Overhead
}
try out.writeJSON(
    Report(problems: results, overhead: Overhead(steps: lorenzSol.stats.naccept, nsPerStep: perStep * 1e9,
        fNsPerStep: fCostPerStep * 1e9, overheadRatio: (perStep - fCostPerStep) / fCostPerStep)),
    to: "rk-bench.json")

// Work-precision plot for each problem.
for r in results {
    let file = r.problem.components(separatedBy: CharacterSet.alphanumerics.inverted).filter { !$0.isEmpty }.joined(separator: "_")
    try plotWorkPrecision(out, file: file, title: r.problem, xlabel: "error at the end point (RMS)", points: r.points)
}
print("\nwrote \(out.folder.path)/rk-bench.json and work-precision PNGs")
