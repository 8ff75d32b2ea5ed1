// Per-step cost of the Rosenbrock methods on the small stiff test problems (VDPOL n = 2, OREGO
// n = 3, HIRES n = 8; abstol = reltol): per method and tolerance, the minimum over batches of the
// thread CPU time per step attempt, and a hash of the final state's bits, so that a change meant
// to be bit-identical can be checked by comparing two builds' output.
//
// Thread CPU time rather than wall time: on a shared machine, time slices lost to other
// processes then do not count (cache interference still does; the minimum filters most of it).
//
// VDPOL, OREGO and HIRES also run on the fixed-size form (`StaticODEProblem`, lines marked
// "fixed"): the same steps, so the same hash when the two forms agree bit for bit.
//
// The (E)SDIRK methods KenCarp4 and TRBDF2 run on VDPOL and HIRES in both forms with the
// argument S only (not part of "all", whose lines and hashes stay those of earlier builds).
//
// Run: swift run -c release rosen-step-bench [V|O|H|S|all]; --gradient-lv array|fixed (below).
// Environment: BATCHES (default 40); ONLY=<label prefix> to run one line; SOLVES=k to solve k
// times without timing (for counting instructions or allocations per solve from outside);
// RTOLS=1e-2,1e-4 to choose the tolerances.
import DiffEq
import Foundation
import ProblemLibrary

/// CPU time of this thread: unlike wall time, not inflated while other processes hold the CPU.
func cpuNanoseconds() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts)
    return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
}

let batches = Int(ProcessInfo.processInfo.environment["BATCHES"] ?? "40") ?? 40

/// Times `solve` (the minimum over `batches` of the mean of `reps` solves, `reps` grown until a
/// batch lasts 4 ms) and prints the time per step with a hash of the final state, so that two
/// builds or two forms can be compared for bits as well as speed.
func measure(_ label: String, steps: Int, finalState: [Double], _ solve: () -> Void) {
    if let k = ProcessInfo.processInfo.environment["SOLVES"].flatMap(Int.init) {
        for _ in 0..<k { solve() }
        return
    }
    var reps = 1
    while true {
        let t0 = cpuNanoseconds()
        for _ in 0..<reps { solve() }
        if Double(cpuNanoseconds() - t0) > 4e6 { break }
        reps *= 2
    }
    var best = Double.infinity
    for _ in 0..<batches {
        let t0 = cpuNanoseconds()
        for _ in 0..<reps { solve() }
        best = min(best, Double(cpuNanoseconds() - t0) / Double(reps))
    }
    var h: UInt64 = 1469598103934665603
    for x in finalState { h = (h ^ x.bitPattern) &* 1099511628211 }
    print(label.padding(toLength: 28, withPad: " ", startingAt: 0), String(format: "%6d steps  %8.1f ns/step  %9.1f us/solve  %016llx", steps, best / Double(steps), best / 1000, h))
}

func bench<F: ODEFunction, A: ODEAlgorithm>(_ label: String, _ problem: ODEProblem<F>, _ alg: A, rtol: Double) where F.Scalar == Double {
    if let only = ProcessInfo.processInfo.environment["ONLY"], !label.hasPrefix(only) { return }
    let opts = SolveOptions(reltol: rtol, abstol: .scalar(rtol), saveEverystep: false, maxiters: 1_000_000)
    let sol = try! alg.solve(problem, options: opts)
    measure(label, steps: sol.stats.naccept + sol.stats.nreject, finalState: sol.u.last!) {
        _ = try! alg.solve(problem, options: opts)
    }
}

/// `bench` for the fixed-size form (same timing, same hash of the final state).
func benchStatic<F: StaticODEFunction, A: StaticODEAlgorithm>(_ label: String, _ problem: StaticODEProblem<F>, _ alg: A, rtol: Double) where F.State.Scalar == Double {
    if let only = ProcessInfo.processInfo.environment["ONLY"], !label.hasPrefix(only) { return }
    let opts = SolveOptions(reltol: rtol, abstol: .scalar(rtol), saveEverystep: false, maxiters: 1_000_000)
    let sol = try! alg.solve(problem, options: opts)
    measure(label, steps: sol.stats.naccept + sol.stats.nreject, finalState: sol.u.last!.array) {
        _ = try! alg.solve(problem, options: opts)
    }
}

/// OREGO (``Oregonator``) on `SIMD3<Double>` for this benchmark only: the formulas and Jacobian
/// of the array model in its operation order (so the same hash), a fixed-size run at n = 3,
/// where the LU factors are held by value (`SIMD3` values are padded to four components).
struct StaticOrego: StaticODEFunction {
    var hasAnalyticJacobian: Bool { true }
    var isAutonomous: Bool { true }

    func callAsFunction(_ u: SIMD3<Double>, _ p: SIMD3<Double>, _ t: Double) -> SIMD3<Double> {
        let s = p[0], q = p[1], w = p[2]
        return SIMD3(
            s * (u[1] - u[0] * u[1] + u[0] - q * u[0] * u[0]), (u[2] - u[1] - u[0] * u[1]) / s, w * (u[0] - u[2]))
    }

    func jacobian(_ u: SIMD3<Double>, _ p: SIMD3<Double>, _ t: Double) -> SIMD3<Double>.SquareMatrix {
        let s = p[0], q = p[1], w = p[2]
        var J = SIMD3<Double>.SquareMatrix()
        J[column: 0] = SIMD3(s * (1 - u[1] - 2 * q * u[0]), -u[1] / s, w)
        J[column: 1] = SIMD3(s * (1 - u[0]), -(1 + u[0]) / s, 0)
        J[column: 2] = SIMD3(0, 1 / s, -w)
        return J
    }
}
let staticOrego = StaticODEProblem(StaticOrego(), u0: SIMD3(1, 2, 3), tspan: (0, 360), p: SIMD3(77.27, 8.375e-6, 0.161))

/// Rodas5P, Rodas4 and (unless `rosenbrock23` is false) Rosenbrock23 on one problem, in the
/// array form and then in the fixed-size form.
func benchRosenbrockMethods<F: ODEFunction, G: StaticODEFunction>(
    _ name: String, _ problem: ODEProblem<F>, fixed: StaticODEProblem<G>, rtol: Double, rosenbrock23: Bool = true
) where F.Scalar == Double, G.State.Scalar == Double {
    bench("\(name) Rodas5P \(rtol)", problem, Rodas5P(), rtol: rtol)
    bench("\(name) Rodas4 \(rtol)", problem, Rodas4(), rtol: rtol)
    if rosenbrock23 { bench("\(name) Rosenbrock23 \(rtol)", problem, Rosenbrock23(), rtol: rtol) }
    benchStatic("\(name) Rodas5P fixed \(rtol)", fixed, Rodas5P(), rtol: rtol)
    benchStatic("\(name) Rodas4 fixed \(rtol)", fixed, Rodas4(), rtol: rtol)
    if rosenbrock23 { benchStatic("\(name) Rosenbrock23 fixed \(rtol)", fixed, Rosenbrock23(), rtol: rtol) }
}

// --gradient-lv array|fixed: a ForwardDiffSensitivity gradient with Rodas5P (Lotka-Volterra's
// four parameters, one `Dual<4>` chunk, at 1e-8, the loss Σ|u|² at t = 0, 1, ..., 10) for an
// array problem (`ODEModel`) or a fixed-size one (`StaticODEModel`), both without an analytic
// Jacobian (`J` by forward mode on nested duals): the same bits
// (SensitivityTests/StaticRosenbrockGradientTests). `SOLVES=k` repeats it, for instructions per
// gradient under callgrind ((count at k − count at 1) / (k − 1)). Prints nothing unless
// --show-steps is given. METHOD=KenCarp4|TRBDF2|Kvaerno5 takes that SDIRK method instead of
// Rodas5P (SensitivityTests/StaticSDIRKGradientTests).
struct ArrayLotkaVolterraAD: ODEModel {
    var isAutonomous: Bool { true }
    func rhs<S: DiffEqScalar>(_ du: inout [S], _ u: [S], _ p: [S], _ t: S) {
        du[0] = p[0] * u[0] - p[1] * (u[0] * u[1])
        du[1] = p[3] * (u[0] * u[1]) - p[2] * u[1]
    }
}
struct FixedLotkaVolterraAD: StaticODEModel {
    var isAutonomous: Bool { true }
    func rhs<let N: Int, let P: Int, S: DiffEqScalar>(_ u: FixedVector<N, S>, _ p: FixedVector<P, S>, _ t: S)
        -> FixedVector<N, S>
    {
        var du = u
        du[0] = p[0] * u[0] - p[1] * (u[0] * u[1])
        du[1] = p[3] * (u[0] * u[1]) - p[2] * u[1]
        return du
    }
}
if let i = CommandLine.arguments.firstIndex(of: "--gradient-lv"), i + 1 < CommandLine.arguments.count {
    let form = CommandLine.arguments[i + 1]
    let solves = Int(ProcessInfo.processInfo.environment["SOLVES"] ?? "1") ?? 1
    let o = SolveOptions(reltol: 1e-8, abstol: 1e-8, saveat: .every(1))
    let method = ProcessInfo.processInfo.environment["METHOD"] ?? "Rodas5P"
    let arrayProblem = ODEProblem(model: ArrayLotkaVolterraAD(), u0: [1.0, 1.0], tspan: (0, 10), p: [1.5, 1, 3, 1])
    let fixedProblem = StaticODEProblem(
        model: FixedLotkaVolterraAD(), u0: [1.0, 1.0] as StaticVector<2>, tspan: (0, 10), p: [1.5, 1, 3, 1] as StaticVector<4>)
    let forward = ForwardDiffSensitivity()
    /// The gradient with an SDIRK method in the chosen form.
    func sdirk<A: SDIRKAlgorithm>(_ algorithm: A) -> SensitivityResult {
        form == "array"
            ? try! gradient(of: SumOfSquaresLoss(), arrayProblem, algorithm: algorithm, options: o, sensealg: forward, wrt: .parameters)
            : try! gradient(of: SumOfSquaresLoss(), fixedProblem, algorithm: algorithm, options: o, wrt: .parameters)
    }
    var r: SensitivityResult?
    for _ in 0..<solves {
        switch (method, form) {
        case ("KenCarp4", _): r = sdirk(KenCarp4())
        case ("TRBDF2", _): r = sdirk(TRBDF2())
        case ("Kvaerno5", _): r = sdirk(Kvaerno5())
        case (_, "array"):
            r = try! gradient(of: SumOfSquaresLoss(), arrayProblem, algorithm: Rodas5P(), options: o, sensealg: forward, wrt: .parameters)
        default: r = try! gradient(of: SumOfSquaresLoss(), fixedProblem, algorithm: Rodas5P(), options: o, wrt: .parameters)
        }
    }
    if CommandLine.arguments.contains("--show-steps"), let r {
        print("LV \(method) gradient, \(form) form: dp \(r.dp), \(r.stats)")
    }
    exit(0)
}

let which = CommandLine.arguments.dropFirst().first ?? "all"
/// RTOLS=a,b,...: the tolerances to run (default 1e-6 and 1e-9).
let rtols = ProcessInfo.processInfo.environment["RTOLS"].map { $0.split(separator: ",").compactMap { Double($0) } } ?? [1e-6, 1e-9]
for rtol in rtols {
    if which == "all" || which.contains("V") {
        benchRosenbrockMethods("VDPOL", TestProblems.vanDerPol(), fixed: TestProblems.staticVanDerPol(), rtol: rtol)
    }
    if which == "all" || which.contains("O") {
        benchRosenbrockMethods("OREGO", TestProblems.orego(), fixed: staticOrego, rtol: rtol, rosenbrock23: false)
    }
    if which == "all" || which.contains("H") {
        benchRosenbrockMethods("HIRES", TestProblems.hires(), fixed: TestProblems.staticHires(), rtol: rtol)
    }
    if which.contains("S") {
        bench("VDPOL KenCarp4 \(rtol)", TestProblems.vanDerPol(), KenCarp4(), rtol: rtol)
        bench("VDPOL TRBDF2 \(rtol)", TestProblems.vanDerPol(), TRBDF2(), rtol: rtol)
        benchStatic("VDPOL KenCarp4 fixed \(rtol)", TestProblems.staticVanDerPol(), KenCarp4(), rtol: rtol)
        benchStatic("VDPOL TRBDF2 fixed \(rtol)", TestProblems.staticVanDerPol(), TRBDF2(), rtol: rtol)
        bench("HIRES KenCarp4 \(rtol)", TestProblems.hires(), KenCarp4(), rtol: rtol)
        bench("HIRES TRBDF2 \(rtol)", TestProblems.hires(), TRBDF2(), rtol: rtol)
        benchStatic("HIRES KenCarp4 fixed \(rtol)", TestProblems.staticHires(), KenCarp4(), rtol: rtol)
        benchStatic("HIRES TRBDF2 fixed \(rtol)", TestProblems.staticHires(), TRBDF2(), rtol: rtol)
    }
}
