// Work-precision of the native stiff solvers against CVODE_BDF (and scipy, when present), side
// by side in one run, on the classic stiff test set: ROBER, HIRES, POLLU, OREGO, VDPOL.
//
// For reltol 1e-4 ... 1e-10 (abstol as the IVP test set prescribes for each problem), every
// method solves to the end point; every method, ours and the peers alike, also runs at 1e-2 and
// 1e-3, points that only extend the work-precision curves (see `coverageReltols`). Error: the test set's mixed error at the end point, the largest
// |y_i - ref_i| / (atol/rtol + |ref_i|), against its published reference solution. Work: f and
// Jacobian evaluations, LU factorizations, median wall time per solve. Summary per problem: the
// time ratio CVODE_BDF / (our fastest method at the same error), read off the work-precision
// curves (each method's Pareto front, `fastest`) at each of CVODE_BDF's errors at reltol
// 1e-4 ... 1e-10; likewise against scipy's fastest (Radau, BDF, LSODA via
// Benchmarks/peers/stiff_scipy.py, run by this benchmark when python3 with scipy is available).
// Rodas4 and Rodas5P also run on the fixed-size form (`StaticODEProblem`, "(fixed-size)") for
// VDPOL (n = 2) and HIRES (n = 8): the same steps and errors as the array form (tested in
// StaticRosenbrockTests), the state, Jacobian and LU factors held by value. The summaries take
// our fastest method in either form; the "array form only" line leaves the fixed-size runs out.
//
// Run: swift run -c release stiff-bench [--quick] [--no-scipy] [--output DIR]
//          [--problems ROBER,VDPOL,...] [--methods Rodas5P,CVODE_BDF,...]
// (--problems and --methods restrict the run, for profiling one method on one problem; the
// summary lines then compare only what ran.)
import DiffEq
import Foundation
import NotebookSupport
import ProblemLibrary
import SundialsBridge

let quick = CommandLine.arguments.contains("--quick")
/// The comma-separated values after `flag`, or nil when the flag is absent.
func listArgument(_ flag: String) -> Set<String>? {
    guard let i = CommandLine.arguments.firstIndex(of: flag), i + 1 < CommandLine.arguments.count else { return nil }
    return Set(CommandLine.arguments[i + 1].split(separator: ",").map(String.init))
}
let onlyProblems = listArgument("--problems")
let onlyMethods = listArgument("--methods")
let reltols: [Double] = quick ? [1e-4, 1e-7, 1e-10] : [1e-4, 1e-5, 1e-6, 1e-7, 1e-8, 1e-9, 1e-10]
/// Looser runs of every method, ours, CVODE_BDF and scipy's, that extend the curves without
/// adding comparison points. At reltol 1e-4 the Rosenbrock methods end 10-100 times more accurate
/// than CVODE_BDF and LSODA (VDPOL: Rodas5P 6e-6, LSODA 6e-4); without runs at those errors the
/// comparison there stands our more accurate run in for a matched one (`fastest`), a comparison
/// at unequal accuracy. The ratios are still read only at the peers' runs at 1e-4 ... 1e-10.
let coverageReltols: [Double] = quick ? [] : [1e-2, 1e-3]
/// Whether a peer's run is a comparison point (the issue's range), not a coverage run.
func isComparisonPoint(_ p: Point) -> Bool { p.reltol <= 1e-4 * (1 + 1e-9) }
let samples = quick ? 3 : 5

typealias Point = WorkPrecisionPoint

/// Rodas4 and Rodas5P on the fixed-size form.
func fixedSizeSuite<F: StaticODEFunction>(_: F.Type) -> [FixedSizeBenchmarkMethod<F>] where F.State.Scalar == Double {
    [FixedSizeBenchmarkMethod(Rodas4()), FixedSizeBenchmarkMethod(Rodas5P())].filter {
        onlyMethods?.contains(String($0.name.prefix { $0 != " " })) ?? true
    }
}

/// Work-precision points of the fixed-size suite, measured as the array-form ones.
func fixedSizePoints<F: StaticODEFunction>(_ problem: StaticODEProblem<F>, reference: ReferenceSolution, info: TestProblemInfo)
    throws -> [Point] where F.State.Scalar == Double
{
    var points: [Point] = []
    for m in fixedSizeSuite(F.self) {
        for rtol in coverageReltols + reltols {
            let atol = info.testSetAbstol(reltol: rtol)
            let opts = SolveOptions(reltol: rtol, abstol: .scalar(atol), saveEverystep: false, maxiters: 1_000_000)
            points.append(try m.measure(problem, options: opts, samples: samples) {
                mixedError($0, reference.u, rtol: rtol, atol: atol)
            })
        }
    }
    return points
}

func suite<F: ODEFunction>(_: F.Type) -> [BenchmarkMethod<F>] where F.Scalar == Double {
    [
        BenchmarkMethod(Rosenbrock23()), BenchmarkMethod(Rodas4()), BenchmarkMethod(Rodas5P()), BenchmarkMethod(TRBDF2()),
        BenchmarkMethod(KenCarp4()), BenchmarkMethod(Kvaerno5()), BenchmarkMethod(CVODE_BDF()),
    ].filter { onlyMethods?.contains($0.name) ?? true }
}

/// The test set's mixed error: max_i |y_i - ref_i| / (atol/rtol + |ref_i|).
func mixedError(_ y: [Double], _ ref: [Double], rtol: Double, atol: Double) -> Double {
    let floor = atol / rtol
    return zip(y, ref).map { abs($0 - $1) / (floor + abs($1)) }.max() ?? .nan
}

struct ProblemResult: Encodable {
    let problem: String
    let referenceSource: String
    let points: [Point]
    let scipy: [Point]
    let speedupOverCVODE: [Double?]
    let speedupOverScipy: [Double?]
    /// The ratios with our fastest array-form (`ODEProblem`) method only (equal to the above
    /// where no fixed-size form ran).
    let arrayFormOverCVODE: [Double?]
    let arrayFormOverScipy: [Double?]
}

func workPrecision<F: ODEFunction>(
    _ name: String, _ problem: ODEProblem<F>, reference: ReferenceSolution, info: TestProblemInfo, scipy: [Point],
    fixedSize: [Point] = []
) throws -> ProblemResult where F.Scalar == Double {
    var points: [Point] = []
    let methods = suite(F.self)
    for m in methods {
        for rtol in coverageReltols + reltols {
            let atol = info.testSetAbstol(reltol: rtol)
            let opts = SolveOptions(reltol: rtol, abstol: .scalar(atol), saveEverystep: false, maxiters: 1_000_000)
            points.append(try m.measure(problem, options: opts, samples: samples) {
                mixedError($0.u.last!, reference.u, rtol: rtol, atol: atol)
            })
        }
    }
    let arrayPoints = points
    points += fixedSize
    print("\n\(name)  (reference: \(reference.source))")
    print("  " + pad("method", 22) + pad("reltol", 8) + pad("error", 10) + pad("nf", 8) + pad("njac", 6) + pad("nLU", 7) + pad("µs", 11))
    for p in points + scipy {
        print("  " + pad(p.method, 22) + pad(sig(p.reltol, 1), 8) + pad(sig(p.error, 2), 10) + pad("\(p.nf)", 8)
            + pad("\(p.njacs)", 6) + pad("\(p.nlu)", 7) + pad(sig(p.seconds * 1e6, 4), 11) + (p.retcode == "Success" ? "" : "  \(p.retcode)"))
    }
    let natives: Set<String> = ["CVODE_BDF"]
    let cvode = points.filter { $0.method == "CVODE_BDF" && $0.error.isFinite && isComparisonPoint($0) }
    var overCVODE: [Double?] = []
    var arrayOverCVODE: [Double?] = []
    var described: [String] = []
    for c in cvode {
        let best = fastest(points, at: c.error, excluding: natives)
        overCVODE.append(best.map { c.seconds / $0.seconds })
        arrayOverCVODE.append(fastest(arrayPoints, at: c.error, excluding: natives).map { c.seconds / $0.seconds })
        described.append("\(sig(c.error, 2)): \(best.map { sig(c.seconds / $0.seconds, 3) + "x (" + $0.method + ")" } ?? "n/a")")
    }
    print("  ours vs CVODE_BDF at matched error (CVODE error: speed-up, fastest native): " + described.joined(separator: ", "))
    // Against scipy's best: at each of scipy's errors, the fastest scipy method there (read off
    // the scipy curves) against our fastest there.
    var overScipy: [Double?] = []
    var arrayOverScipy: [Double?] = []
    if !scipy.isEmpty {
        var d: [String] = []
        var arrayLine: [String] = []
        for s in scipy where s.error.isFinite && s.error > 0 && isComparisonPoint(s) {
            guard let theirs = fastest(scipy, at: s.error, excluding: []),
                let ours = fastest(points, at: s.error, excluding: natives)
            else { continue }
            overScipy.append(theirs.seconds / ours.seconds)
            d.append("\(sig(s.error, 2)): \(sig(theirs.seconds / ours.seconds, 3))x (\(theirs.method) vs \(ours.method))")
            let arrayBest = fastest(arrayPoints, at: s.error, excluding: natives)
            arrayOverScipy.append(arrayBest.map { theirs.seconds / $0.seconds })
            arrayLine.append(arrayBest.map { sig(theirs.seconds / $0.seconds, 3) + "x" } ?? "n/a")
        }
        print("  ours vs scipy's best at matched error (error: speed-up, fastest scipy vs fastest ours): " + d.joined(separator: ", "))
        if !fixedSize.isEmpty { print("  array form only vs scipy's best: " + arrayLine.joined(separator: ", ")) }
    }
    return ProblemResult(problem: name, referenceSource: reference.source, points: points, scipy: scipy,
                         speedupOverCVODE: overCVODE, speedupOverScipy: overScipy, arrayFormOverCVODE: arrayOverCVODE,
                         arrayFormOverScipy: arrayOverScipy)
}

// MARK: scipy peers

struct ScipyResult: Decodable {
    struct Row: Decodable {
        let problem: String
        let method: String
        let reltol: Double
        let error: Double?
        let seconds: Double
        let nfev: Int
        let njev: Int
        let nlu: Int
        let status: Int
    }
    let versions: [String: String]
    let results: [Row]
}

let problems: [(String, ReferenceSolution, TestProblemInfo)] = StiffTestSet.fiveWithPublishedSweeps.map { ($0.rawValue, $0.reference, $0.info) }

func runScipy(folder: URL) -> (rows: [String: [Point]], note: String) {
    if CommandLine.arguments.contains("--no-scipy") { return ([:], "scipy skipped (--no-scipy)") }
    let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("peers/stiff_scipy.py")
    struct Request: Encodable {
        struct P: Encodable {
            let name: String
            let reltols: [Double]
            let abstol_per_reltol: Double
            let reference: [Double]
        }
        let problems: [P]
        let methods: [String]
        let repeats: Int
    }
    let request = Request(
        problems: problems.map {
            .init(name: $0.0, reltols: coverageReltols + reltols, abstol_per_reltol: $0.2.abstolPerReltol, reference: $0.1.u)
        },
        methods: ["Radau", "BDF", "LSODA"], repeats: quick ? 1 : 3)
    let requestURL = folder.appendingPathComponent("scipy-request.json")
    guard let data = try? JSONEncoder().encode(request), (try? data.write(to: requestURL)) != nil else {
        return ([:], "scipy skipped: could not write the request")
    }
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = ["python3", script.path, requestURL.path]
    let output = Pipe()
    let errors = Pipe()
    process.standardOutput = output
    process.standardError = errors
    do { try process.run() } catch { return ([:], "scipy skipped: python3 not found") }
    let bytes = output.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    guard process.terminationStatus == 0, let result = try? JSONDecoder().decode(ScipyResult.self, from: bytes) else {
        let why = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        return ([:], "scipy skipped: \(why.split(separator: "\n").last ?? "python3 with scipy is not available")")
    }
    var rows: [String: [Point]] = [:]
    for r in result.results {
        rows[r.problem, default: []].append(Point(
            method: "scipy " + r.method, reltol: r.reltol, error: r.error ?? .nan, nf: r.nfev, njacs: r.njev, nlu: r.nlu,
            steps: 0, seconds: r.seconds, retcode: r.status == 0 ? "Success" : "Failure(\(r.status))"))
    }
    let versions = result.versions.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
    return (rows, "scipy: \(versions)")
}

let out = try ScriptOutput(name: "stiff-bench")
print("Native stiff solvers vs CVODE_BDF (and scipy); abstol per the IVP test set; error = mixed error at the end point; µs = median per solve")
let (scipyRows, scipyNote) = runScipy(folder: out.folder)
print(scipyNote)
var results: [ProblemResult] = []
func run<F: ODEFunction>(_ index: Int, _ problem: ODEProblem<F>, fixedSize: (() throws -> [Point])? = nil) throws
where F.Scalar == Double {
    let (name, reference, info) = problems[index]
    guard onlyProblems?.contains(name) ?? true else { return }
    results.append(try workPrecision(
        name, problem, reference: reference, info: info, scipy: scipyRows[name] ?? [], fixedSize: try fixedSize?() ?? []))
}
try run(0, TestProblems.rober())
try run(1, TestProblems.hires()) {
    try fixedSizePoints(TestProblems.staticHires(), reference: problems[1].1, info: problems[1].2)
}
try run(2, TestProblems.pollution())
try run(3, TestProblems.orego())
try run(4, TestProblems.vanDerPol()) {
    try fixedSizePoints(TestProblems.staticVanDerPol(), reference: problems[4].1, info: problems[4].2)
}

print("\nSummary (geometric mean over CVODE_BDF's / scipy's points of the speed-up of our fastest method at matched error):")
func geomean(_ xs: [Double?]) -> String {
    let v = xs.compactMap { $0 }.filter { $0 > 0 }
    guard !v.isEmpty else { return "n/a" }
    return sig(exp(v.map(log).reduce(0, +) / Double(v.count)), 3) + "x (range " + sig(v.min()!, 3) + "-" + sig(v.max()!, 3) + ")"
}
for r in results {
    print("  \(pad(r.problem, 6)): vs CVODE_BDF \(geomean(r.speedupOverCVODE)); vs scipy best \(r.scipy.isEmpty ? "n/a" : geomean(r.speedupOverScipy))")
}
print("Array form only (ODEProblem; no fixed-size runs):")
for r in results {
    print("  \(pad(r.problem, 6)): vs CVODE_BDF \(geomean(r.arrayFormOverCVODE)); vs scipy best \(r.scipy.isEmpty ? "n/a" : geomean(r.arrayFormOverScipy))")
}
try out.writeJSON(results, to: "stiff-bench.json")
for r in results {
    try plotWorkPrecision(out, file: r.problem, title: r.problem, xlabel: "mixed error at the end point", points: r.points + r.scipy)
}
print("\nwrote \(out.folder.path)/stiff-bench.json and work-precision PNGs")
