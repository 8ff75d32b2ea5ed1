// sde-bench: issue #17's benchmark, side by side in one run.
//
// 1. Brownian tree query cost against a stored path, on the issue's ensemble shape (100
//    trajectories of 1000 steps on [0, 1]): the increments a solve consumes, from
//    (a) a stored array of W at the step times (differences of a precomputed path: the floor),
//    (b) NoiseGrid holding that path, (c) WienerProcess drawing as it goes (what a first solve
//    pays), (d) BrownianTreeNoise, the tree through its cursor, at tolerance 1e-3 (leaves about
//    one step wide) and 1e-6 (ten levels below the step).
// 2. EM per-step cost on GBM, scalar and 4-dimensional diagonal noise: the kernel alone on
//    pre-drawn increments, kernel plus WienerProcess draws, and the whole `solve` with the same
//    draws ("+solve", the fixed-step loop); "+loop" is the same scalar solve on the shared
//    integrator loop (`makeIntegrator(...).solve()`), also for EulerHeun and RKMil.
// 3. A whole EM solve (scalar GBM, 10⁴ steps) on a stored path (NoiseGrid) and on the tree:
//    the issue's "tree query cost at most 2x a stored path" read inside a solve.
// 4. Work-precision: strong error at t = 1 (mean over 100 seeded paths of |u(1) − exact|, the
//    exact solution on the same path's W(1)) against thread CPU time per path and against steps
//    per path, for every method on GBM and on the additive problem of the issue (the
//    problems and solutions of StochasticDiffEq's DiffEqProblemLibrary, as in StrongOrderTests);
//    the adaptive SOSRI (GBM) and SOSRA (additive) against the cheapest fixed-step EM reaching
//    the same error. CSV and PNG in output/sde-bench/.
// 5. Peers (when .venv-peers/ has diffrax or torchsde): the GBM ensemble of 100 paths and 1000
//    EM steps, forward (mean u(1)) and gradient (d mean u(1) / dμ) by ours and by the peer, and
//    the ratio. Skipped cleanly when absent.
//
// Timing: thread CPU time, the minimum over 15 samples (as rk-bench; 3 in the work-precision
// sweep); on a shared machine the wall clock is noise. `--case NAME --count N` runs one case N
// times without timing, for instruction counts: `valgrind --tool=callgrind
// --callgrind-out-file=/dev/null` at two counts, the difference divided by the difference of
// items is instructions per increment or step (setup cancels). `--skip-micro`,
// `--skip-work-precision`, `--skip-peers` leave parts out.
//
// Closing note (EM per step, issue #17's aim ≤ 30 ns on the scalar problem). Instructions per
// step (callgrind, release, `--case NAME --count 1` and `3`, difference / 20,000), before the
// fixed-step loop (main 4ced599) and with it: em-scalar+solve 1,035 -> 643, em-4d+solve 1,875
// -> 1,323; the kernel alone (em-scalar) 341 -> 259, em-4d 482 -> 390 (EM's drift and noise in
// one pass). In one binary, `solve` against the shared loop: EM 643 / 955, EulerHeun 1,100 /
// 1,389, RKMil 863 / 1,147 (before the scalar draw's straight-line path, which took EM from 672
// to 643). Of the scalar solve's 643: the Wiener draw in place 250 (the Philox block and the
// Box–Muller transform, shared by two draws, are about 140 of it), the loop 174, the EM kernel
// with GBM 158, uniqueness checks 54. Mallocs per solve unchanged (31 scalar, 43-44 4-D, at 10³
// and 10⁵ steps alike). Times, noise on a loaded 2-core VM whose speed varies 2x: em-scalar+solve
// 110 ns (main) and 72 ns (this loop, at 672 instructions), em-scalar+loop 94 ns in the same
// run. The aim (≤ 30 ns) is not reached: the draw alone is about 250 instructions per step.
//
// Closing note, session 14 (same aim). The draw's 250 were mostly the path's bookkeeping: the
// Philox block and the Box–Muller transform are about 240 instructions per pair, both members
// already used (the spare), so about 120 per step, and the portable log and sin/cos leave no
// exact saving (their constants are folded and any reordering changes bits; precomputed
// Philox round keys would trade each key `lea` for a load: read off the disassembly, not
// measured). The fixed-step loop now borrows the Wiener path's state
// (`WienerRun`: one component in plain values, more in the path's own array), writes EM out
// on the stepper's drift and diffusion arrays lent for the solve (no `k[0]`/`gs[0]`), and takes
// the steps that need nothing but the step (no stop, no save time, not the last) in
// `plainEulerMaruyamaSteps`, a function of its own whose counters stay in registers and whose
// arrays stay the same buffers (no uniqueness check per step). Same bits: FixedStepSolveTests
// (the fast solve against the shared loop on every option, NaN cases on one and two states)
// and PinnedPathTests pass, and this program's work-precision rows (errors, steps) are
// identical to main 13d79d1's. Instructions per step (callgrind, stripped release, counts 1 and
// 3, difference / 20,000), main 13d79d1 -> this: em-scalar+solve 641 -> 304 (the run and EM
// written out 440; the plain-step function 353; its run and counters in locals 330; the state
// copied instead of the arrays rotated 316; one loop per kind of draw 304), em-4d+solve
// 1,325 -> 877, eulerheun-scalar+solve 1,075 -> 1,013, rkmil-scalar+solve 834 -> 774,
// em-scalar+loop (the shared loop, unchanged) 955 -> 955. Of the scalar 304: the draw about
// 120, the user's GBM drift and diffusion about 50, the update, the step rule, the run's guards
// and the counters. Mallocs per solve unchanged (29-30 scalar, 38-40 4-D, at 10³ and 10⁵ steps).
// About 300-330 instructions is what this VM runs in 30 ns when idle, but the wall clock does
// not show the aim reached: on this session's loaded VM (load 4-12 on 2 cores; noise),
// alternating main and this, `--case em-scalar+solve` at counts 1 and 1001 (10⁷ steps apart),
// 9 rounds at load 3.7: wall min 72.5 / median 79.7 ns per step (main) against 42.3 / 44.1
// (this), user CPU the same within 1 ns; em-4d+solve user CPU min 163 against 126 (3 rounds).
// This code runs fewer instructions per cycle than main's (the Philox multiplications and the
// logarithm's division are chains); scaled by main's idle 57 ns of session 13, an idle step
// would be about 33 ns.
//
// Closing note, session 15 (same aim). Instructions per step (callgrind, stripped release,
// counts 1 and 3, difference / 20,000), main 43ecf29 -> this: em-scalar+solve 304.6 -> 251.7,
// em-4d+solve 875.5 -> 864.7, eulerheun-scalar+solve 1,010.6 -> 1,009.9, rkmil-scalar+solve
// 773.2 -> 768.6 (the plain steps' counters counted once, one state in straight-line code, the
// run's `t < ∞`; see FixedStepSolve's note). Of the scalar 252: the Philox block and Box–Muller
// pair about 117 per step, the user's GBM drift and diffusion about 58 (their loops' setup for an
// unknown length included), the rest the step rule, the run's guards and stores, the update and
// the finiteness test. Lead's idle figure, 7.3 instructions per ns at 305, puts 252 near 35 ns;
// the aim's 220 would need a cheaper normal, and a ziggurat on the same Philox blocks saves
// about 40 per step (probe; NormalStream's Performance note): not enough for a new path layout.
// Mallocs per solve unchanged (29 scalar, 39 4-D).
//
// Closing note, session 15, path stream version 3 (the Wiener paths' lane-0 normals by a
// 256-layer ziggurat instead of Box–Muller; RandomStreams overview). Instructions per step
// (callgrind, stripped release, counts 1 and 3, difference / 20,000), 346a61a -> this:
// em-scalar+solve 251.7 -> 234.4, em-4d+solve 864.7 -> 759.9, eulerheun-scalar+solve
// 1,009.9 -> 982.5, rkmil-scalar+solve 768.6 -> 744.2. The probe's 40 per scalar step became
// 17: the tables' global addressor and its `swift_once` check cost 8 per step and the rare
// wedge and tail cases 5. Mallocs per solve (counts 11 minus 1, / 10): 29 scalar, 38 4-D.
// Timed (lead, merged tree, thread CPU, minimum of 15 samples, machine idle at load 0.8-1.0,
// three alternating runs of three binaries): em-scalar+solve main 43ecf29 41.5-41.6 ns, the
// counters alone (emstep) 38.2-38.4 ns, with version 3 17.3-17.5 ns per step; em-4d+solve 124.2-
// 124.6 / 123.6-124.2 / 58.1-58.9 ns. The instruction count fell 7 % and the time 55 %, most
// likely because the Box–Muller pair's square root, division and series are long-latency
// floating-point work that bounds the step's throughput (a probe batching four pairs ahead
// gained nothing), where the ziggurat's common case is a table load, a compare and a multiply.
// The aim (≤ 30 ns) is met.
import DiffEqCore
import Foundation
import NotebookSupport
import RandomStreams
import StochasticDE

struct GBM: SDEModel {
    func drift<S: DiffEqScalar>(_ du: inout [S], _ u: [S], _ p: [S], _ t: S) { for i in u.indices { du[i] = p[0] * u[i] } }
    func diffusion<S: DiffEqScalar>(_ g: inout [S], _ u: [S], _ p: [S], _ t: S) { for i in u.indices { g[i] = p[1] * u[i] } }
}

let trajectories = 100, steps = 1000

// MARK: Noise cases: one call = one ensemble's increments (100 × 1000).

let stored: [[Double]] = (0..<trajectories).map { seed in
    var w = try! WienerProcess(dimension: 1, seed: UInt64(seed))
    var dW = [0.0], none: [Double] = []
    for k in 1...steps {
        try! w.increment(to: Double(k) / Double(steps), &dW, &none)
        try! w.accept()
    }
    return w.knownValues
}
let gridTimes = (0...steps).map { Double($0) / Double(steps) }

@inline(never) func storedArray() -> Double {
    var acc = 0.0
    for path in stored { for k in 0..<steps { acc += path[k + 1] - path[k] } }
    return acc
}

@inline(never) func consume<N: NoiseProcess>(_ noise: inout N) -> Double {
    var dW = [0.0], none: [Double] = []
    var acc = 0.0
    for k in 1...steps {
        try! noise.increment(to: gridTimes[k], &dW, &none)
        try! noise.accept()
        acc += dW[0]
    }
    return acc
}

@inline(never) func noiseGrid() -> Double {
    var acc = 0.0
    for path in stored {
        var grid = try! NoiseGrid(times: gridTimes, values: path)
        acc += consume(&grid)
    }
    return acc
}

@inline(never) func wienerDraws() -> Double {
    var acc = 0.0
    for seed in 0..<trajectories {
        var w = try! WienerProcess(dimension: 1, seed: UInt64(seed), keepsHistory: false)
        acc += consume(&w)
    }
    return acc
}

let trees3 = (0..<trajectories).map { try! VirtualBrownianTree(t0: 0, t1: 1, dimension: 1, seed: UInt64($0), tolerance: 1e-3) }
let trees6 = (0..<trajectories).map { try! VirtualBrownianTree(t0: 0, t1: 1, dimension: 1, seed: UInt64($0), tolerance: 1e-6) }

@inline(never) func treeQueries(_ trees: [VirtualBrownianTree]) -> Double {
    var acc = 0.0
    for tree in trees {
        var noise = BrownianTreeNoise(tree)
        acc += consume(&noise)
    }
    return acc
}

// MARK: EM cases: one call = `emSteps` steps.

/// `SDE_BENCH_EM_STEPS` changes it, so that a malloc count (scripts/malloc-count.c) at two
/// lengths shows whether the step loop allocates.
let emSteps = ProcessInfo.processInfo.environment["SDE_BENCH_EM_STEPS"].flatMap(Int.init) ?? 10_000
let pre: [Double] = {
    var w = try! WienerProcess(dimension: 4, seed: 5, keepsHistory: false)
    var dW = [Double](repeating: 0, count: 4), none: [Double] = []
    var out: [Double] = []
    for k in 1...emSteps {
        try! w.increment(to: Double(k) * 1e-4, &dW, &none)
        try! w.accept()
        out += dW
    }
    return out
}()

@inline(never) func emKernel(dimension n: Int, draw: Bool) -> Double {
    let prob = SDEProblem(model: GBM(), u0: [Double](repeating: 0.5, count: n), tspan: (0, 1), p: [0.1, 0.2])
    var stepper = try! SDEStepper(problem: prob, algorithm: EM())
    var u = prob.u0
    var dW = [Double](repeating: 0, count: n), none: [Double] = []
    var w = try! WienerProcess(dimension: n, seed: 1, keepsHistory: false)
    let h = 1e-4
    for k in 0..<emSteps {
        if draw {
            try! w.increment(to: Double(k + 1) * h, &dW, &none)
            try! w.accept()
        } else {
            for i in 0..<n { dW[i] = pre[4 * k + i] }
        }
        try! stepper.step(&u, t: Double(k) * h, dt: h, dW: dW, dZ: none)
    }
    return u[0]
}

/// EM on scalar GBM over 10⁴ steps of 1e-4 with the increments from a noise process: a solve's
/// cost with each kind of noise.
@inline(never) func emWith<N: NoiseProcess>(_ noise: inout N) -> Double {
    let prob = SDEProblem(model: GBM(), u0: [0.5], tspan: (0, 1), p: [0.1, 0.2])
    var stepper = try! SDEStepper(problem: prob, algorithm: EM())
    var u = prob.u0
    var dW = [0.0], none: [Double] = []
    let h = 1e-4
    for k in 0..<emSteps {
        try! noise.increment(to: Double(k + 1) * h, &dW, &none)
        try! noise.accept()
        try! stepper.step(&u, t: Double(k) * h, dt: h, dW: dW, dZ: none)
    }
    return u[0]
}
let emPath: [Double] = {
    var w = try! WienerProcess(dimension: 1, seed: 2)
    var dW = [0.0], none: [Double] = []
    for k in 1...emSteps {
        try! w.increment(to: Double(k) * 1e-4, &dW, &none)
        try! w.accept()
    }
    return w.knownValues
}()
let emTimes = (0...emSteps).map { Double($0) * 1e-4 }
let emTree = try! VirtualBrownianTree(t0: 0, t1: Double(emSteps) * 1e-4, dimension: 1, seed: 2, tolerance: 1e-4)

/// The whole solve on the shared loop (`solve(prob, EM(), seed:)`, fixed steps of 1e-4 over
/// [0, emSteps·1e-4], nothing saved but the ends): against "em-…+draws" (the kernel and the same
/// WienerProcess driven by hand) it is the loop's cost per step.
@inline(never) func emSolve(dimension n: Int) -> Double {
    let prob = SDEProblem(model: GBM(), u0: [Double](repeating: 0.5, count: n), tspan: (0, Double(emSteps) * 1e-4), p: [0.1, 0.2])
    let sol = try! solve(prob, EM(), seed: 1, options: SolveOptions(saveEverystep: false, dt: 1e-4, adaptive: false))
    return sol.u.last![0]
}

/// The same scalar solve on the shared integrator loop (`makeIntegrator(...).solve()`, which
/// `solve` used for every method before the fixed-step loop), and EulerHeun and RKMil through
/// `solve` (the fixed-step loop too).
@inline(never) func fixedStepSolve(_ alg: some SDEAlgorithm, sharedLoop: Bool) -> Double {
    let prob = SDEProblem(model: GBM(), u0: [0.5], tspan: (0, Double(emSteps) * 1e-4), p: [0.1, 0.2])
    let options = SolveOptions(saveEverystep: false, dt: 1e-4, adaptive: false)
    if sharedLoop {
        let noise = try! WienerProcess(dimension: 1, seed: 1, keepsHistory: false)
        var integrator = try! makeIntegrator(prob, alg, noise: noise, options: options)
        return integrator.solve().u.last![0]
    }
    return try! solve(prob, alg, seed: 1, options: options).u.last![0]
}

let cases: [(name: String, perCall: Int, body: () -> Double)] = [
    ("stored-array", trajectories * steps, storedArray),
    ("noise-grid", trajectories * steps, noiseGrid),
    ("wiener-draws", trajectories * steps, wienerDraws),
    ("tree-1e-3", trajectories * steps, { treeQueries(trees3) }),
    ("tree-1e-6", trajectories * steps, { treeQueries(trees6) }),
    ("em-scalar", emSteps, { emKernel(dimension: 1, draw: false) }),
    ("em-4d", emSteps, { emKernel(dimension: 4, draw: false) }),
    ("em-scalar+draws", emSteps, { emKernel(dimension: 1, draw: true) }),
    ("em-4d+draws", emSteps, { emKernel(dimension: 4, draw: true) }),
    ("em-scalar+solve", emSteps, { emSolve(dimension: 1) }),
    ("em-4d+solve", emSteps, { emSolve(dimension: 4) }),
    ("em-scalar+loop", emSteps, { fixedStepSolve(EM(), sharedLoop: true) }),
    ("eulerheun-scalar+solve", emSteps, { fixedStepSolve(EulerHeun(), sharedLoop: false) }),
    ("eulerheun-scalar+loop", emSteps, { fixedStepSolve(EulerHeun(), sharedLoop: true) }),
    ("rkmil-scalar+solve", emSteps, { fixedStepSolve(RKMil(), sharedLoop: false) }),
    ("rkmil-scalar+loop", emSteps, { fixedStepSolve(RKMil(), sharedLoop: true) }),
    ("em-scalar+grid", emSteps, { var n = try! NoiseGrid(times: emTimes, values: emPath); return emWith(&n) }),
    ("em-scalar+tree", emSteps, { var n = BrownianTreeNoise(emTree); return emWith(&n) }),
]

let args = CommandLine.arguments
if let i = args.firstIndex(of: "--case"), i + 1 < args.count {
    let count = args.firstIndex(of: "--count").flatMap { $0 + 1 < args.count ? Int(args[$0 + 1]) : nil } ?? 1
    guard let c = cases.first(where: { $0.name == args[i + 1] }) else {
        print("unknown case \(args[i + 1]); cases: \(cases.map(\.name).joined(separator: ", "))")
        exit(2)
    }
    var acc = 0.0
    for _ in 0..<count { acc += c.body() }
    blackHole(acc)
    exit(0)
}

if !args.contains("--skip-micro") {
    print("sde-bench: thread CPU time, minimum of 15 samples (release build expected)")
    var perItem: [String: Double] = [:]
    for c in cases {
        var sink = 0.0
        let seconds = cpuTimePerCall { sink += c.body() }
        blackHole(sink)
        perItem[c.name] = seconds / Double(c.perCall) * 1e9
        let unit = c.name.contains("-scalar") || c.name.hasPrefix("em") ? "step" : "increment"
        print(String(format: "%-22@ %9.2f ns per %@", c.name as NSString, perItem[c.name]!, unit as NSString))
        fflush(stdout)
    }
    let solveRatio = perItem["em-scalar+tree"]! / perItem["em-scalar+grid"]!
    print(String(format: "EM solve (scalar GBM, 10⁴ steps): tree noise %.2fx a stored path (NoiseGrid)", solveRatio))
    // The bits of the first normal pair of seed 1 in the Wiener-path domain, as pinned in
    // RandomStreamsTests.pinnedBits (debug build): the same in this release build?
    let pin = NormalStream(seed: 1, domain: 0x5750_0001).pair(index: 0, lane: 0)
    let pinned: (UInt64, UInt64) = (13_831_736_570_493_212_630, 13_832_400_426_410_076_046)
    print("normal pair pin:", pin.0.bitPattern == pinned.0 && pin.1.bitPattern == pinned.1 ? "same bits as the debug test" : "DIFFERENT bits")
    let floor = perItem["stored-array"]!, grid = perItem["noise-grid"]!, drawn = perItem["wiener-draws"]!
    for name in ["tree-1e-3", "tree-1e-6"] {
        let t = perItem[name]!
        print(String(format: "%@: %.1fx the stored array, %.2fx NoiseGrid, %.2fx drawing the path (goal: ≤ 2x a stored path)",
            name as NSString, t / floor, t / grid, t / drawn))
    }
}

// MARK: Work-precision

/// The additive problem of the issue (StochasticDiffEq's `prob_sde_additive`):
/// `du = (β/√(1+t) − u/(2(1+t))) dt + αβ/√(1+t) dW`, α = 0.1, β = 0.05, u0 = 1, solution
/// `u0/√(1+t) + β (t + α W)/√(1+t)` (Itô = Stratonovich: the noise does not depend on u).
struct Additive: SDEModel {
    let alpha = 0.1, beta = 0.05
    func drift<S: DiffEqScalar>(_ du: inout [S], _ u: [S], _ p: [S], _ t: S) {
        let s = sqrt(S(1.0) + t)
        du[0] = S(beta) / s - u[0] / (S(2.0) * (S(1.0) + t))
    }
    func diffusion<S: DiffEqScalar>(_ g: inout [S], _ u: [S], _ p: [S], _ t: S) {
        g[0] = S(alpha * beta) / sqrt(S(1.0) + t)
    }
    func exact(_ w: Double) -> Double { (1 + beta * (1 + alpha * w)) / 2.0.squareRoot() }
}

/// GBM of the issue, μ = 1.01, σ = 0.87, u0 = 1/2 on [0, 1]: Itô solution
/// `u0 exp((μ − σ²/2) + σ W(1))`, Stratonovich `u0 exp(μ + σ W(1))` at t = 1.
let (gbmMu, gbmSigma) = (1.01, 0.87)
let gbmProblem = SDEProblem(model: GBM(), u0: [0.5], tspan: (0, 1), p: [gbmMu, gbmSigma])
let additiveProblem = SDEProblem(model: Additive(), u0: [1.0], tspan: (0, 1), noise: .additive)

struct WorkPoint: Codable {
    let problem: String
    let method: String
    /// `dt` of a fixed-step run or the tolerance (reltol = abstol) of an adaptive one.
    let setting: Double
    let adaptive: Bool
    let strongError: Double
    let cpuSecondsPerPath: Double
    let stepsPerPath: Double
}

let workPaths = 100

/// Strong error over `workPaths` seeded paths (each the WienerProcess of its seed, as
/// `solve(_:_:seed:options:)` draws it; the exact solution at that path's W(1)), steps per path,
/// and the thread CPU time per path of `solve(_:_:seed:options:)` itself. `nil` when a solve
/// does not succeed.
func workPoint<F: SDEFunction>(
    _ prob: SDEProblem<F>, _ alg: some SDEAlgorithm, options: SolveOptions, exact: (Double) -> Double
) -> (error: Double, seconds: Double, steps: Double)? where F.Scalar == Double {
    var error = 0.0, steps = 0
    for seed in 0..<workPaths {
        do {
            let noise = try WienerProcess(
                dimension: 1, seed: UInt64(seed), auxiliary: alg.scheme.needsAuxiliaryIncrement, keepsHistory: false)
            var integrator = try makeIntegrator(prob, alg, noise: noise, options: options)
            let sol = integrator.solve()
            guard sol.retcode == .success, let end = sol.u.last else { return nil }
            var path = integrator.method.noise
            var w = [0.0]
            try path.value(at: 1, into: &w)
            error += abs(end[0] - exact(w[0]))
            steps += sol.stats.naccept + sol.stats.nreject
        } catch {
            return nil
        }
    }
    let seconds = cpuTimePerCall(samples: 3) {
        for seed in 0..<workPaths { blackHole(try? solve(prob, alg, seed: UInt64(seed), options: options)) }
    }
    return (error / Double(workPaths), seconds / Double(workPaths), Double(steps) / Double(workPaths))
}

let fixedDts = stride(from: 2, through: 16, by: 2).map { Foundation.pow(2.0, -Double($0)) }
let emDts = (2...18).map { Foundation.pow(2.0, -Double($0)) }
let tolerances = [1e-1, 1e-2, 1e-3, 1e-4, 1e-5]

func sweep<F: SDEFunction>(
    _ problemName: String, _ prob: SDEProblem<F>, _ name: String, _ alg: some SDEAlgorithm, adaptive: Bool,
    exact: (Double) -> Double, into points: inout [WorkPoint]
) where F.Scalar == Double {
    // LambaEM is of strong order 1/2: below 1e-3 on GBM it takes over 10⁵ steps per path
    // (1.5·10⁶ at 1e-5, minutes for the sweep) and adds nothing the EM curve does not show.
    let settings = adaptive ? (name == "LambaEM" ? Array(tolerances.prefix(3)) : tolerances) : (name == "EM" ? emDts : fixedDts)
    for setting in settings {
        let options = adaptive
            ? SolveOptions(reltol: setting, abstol: .scalar(setting), saveEverystep: false, maxiters: 10_000_000)
            : SolveOptions(saveEverystep: false, dt: setting, maxiters: 10_000_000, adaptive: false)
        guard let r = workPoint(prob, alg, options: options, exact: exact) else {
            print("  \(pad(name, 10)) \(adaptive ? "tol" : "dt ") \(sig(setting, 3)): a solve failed; point left out")
            continue
        }
        points.append(WorkPoint(
            problem: problemName, method: name, setting: setting, adaptive: adaptive, strongError: r.error,
            cpuSecondsPerPath: r.seconds, stepsPerPath: r.steps))
        print("  \(pad(name, 10)) \(adaptive ? "tol" : "dt ") \(pad(sig(setting, 3), 10))  error \(pad(sig(r.error, 3), 10))  "
            + "\(pad(sig(r.seconds * 1e6, 4), 9)) µs/path  \(pad(sig(r.steps, 5), 8)) steps/path")
        fflush(stdout)
    }
}

var workPoints: [WorkPoint] = []
if !args.contains("--skip-work-precision") {
    print("\nWork-precision: strong error at t = 1 over \(workPaths) paths, thread CPU per path (min of 3), steps per path")
    let gbmIto: (Double) -> Double = { w in 0.5 * Foundation.exp(gbmMu - gbmSigma * gbmSigma / 2 + gbmSigma * w) }
    let gbmStratonovich: (Double) -> Double = { w in 0.5 * Foundation.exp(gbmMu + gbmSigma * w) }
    print("GBM (multiplicative noise; SRA1/SOSRA need additive noise; EulerHeun against the Stratonovich solution):")
    sweep("GBM", gbmProblem, "EM", EM(), adaptive: false, exact: gbmIto, into: &workPoints)
    sweep("GBM", gbmProblem, "EulerHeun", EulerHeun(), adaptive: false, exact: gbmStratonovich, into: &workPoints)
    sweep("GBM", gbmProblem, "RKMil", RKMil(), adaptive: false, exact: gbmIto, into: &workPoints)
    sweep("GBM", gbmProblem, "ImplicitEM", ImplicitEM(), adaptive: false, exact: gbmIto, into: &workPoints)
    sweep("GBM", gbmProblem, "LambaEM", LambaEM(), adaptive: true, exact: gbmIto, into: &workPoints)
    sweep("GBM", gbmProblem, "SRIW1", SRIW1(), adaptive: true, exact: gbmIto, into: &workPoints)
    sweep("GBM", gbmProblem, "SOSRI", SOSRI(), adaptive: true, exact: gbmIto, into: &workPoints)
    let additiveExact: (Double) -> Double = { Additive().exact($0) }
    print("Additive:")
    sweep("additive", additiveProblem, "EM", EM(), adaptive: false, exact: additiveExact, into: &workPoints)
    sweep("additive", additiveProblem, "EulerHeun", EulerHeun(), adaptive: false, exact: additiveExact, into: &workPoints)
    sweep("additive", additiveProblem, "RKMil", RKMil(), adaptive: false, exact: additiveExact, into: &workPoints)
    sweep("additive", additiveProblem, "ImplicitEM", ImplicitEM(), adaptive: false, exact: additiveExact, into: &workPoints)
    sweep("additive", additiveProblem, "LambaEM", LambaEM(), adaptive: true, exact: additiveExact, into: &workPoints)
    sweep("additive", additiveProblem, "SRIW1", SRIW1(), adaptive: true, exact: additiveExact, into: &workPoints)
    sweep("additive", additiveProblem, "SOSRI", SOSRI(), adaptive: true, exact: additiveExact, into: &workPoints)
    sweep("additive", additiveProblem, "SRA1", SRA1(), adaptive: true, exact: additiveExact, into: &workPoints)
    sweep("additive", additiveProblem, "SOSRA", SOSRA(), adaptive: true, exact: additiveExact, into: &workPoints)

    // The adaptive method against the cheapest fixed-step EM reaching its error: among the
    // measured EM points (dt = 2⁻², ..., 2⁻¹⁸), the cheapest with an error at most the adaptive
    // one's, and EM's time interpolated at that error on its log-log curve.
    for (problemName, adaptiveName) in [("GBM", "SOSRI"), ("additive", "SOSRA")] {
        let em = workPoints.filter { $0.problem == problemName && $0.method == "EM" }
        print("\n\(problemName): \(adaptiveName) against the cheapest fixed-step EM reaching the same strong error (CPU per path):")
        for a in workPoints where a.problem == problemName && a.method == adaptiveName {
            let reaching = em.filter { $0.strongError <= a.strongError }.min { $0.cpuSecondsPerPath < $1.cpuSecondsPerPath }
            let interpolated = logLogInterpolate(em.map { (x: $0.strongError, y: $0.cpuSecondsPerPath) }, at: a.strongError)
            var line = "  tol \(pad(sig(a.setting, 2), 6)): \(adaptiveName) error \(pad(sig(a.strongError, 3), 9)) in "
                + "\(pad(sig(a.cpuSecondsPerPath * 1e6, 4), 8)) µs; "
            if let r = reaching {
                line += "EM dt 2^\(Int(Foundation.log2(r.setting).rounded())) error \(sig(r.strongError, 3)) in "
                    + "\(sig(r.cpuSecondsPerPath * 1e6, 4)) µs: EM/\(adaptiveName) \(sig(r.cpuSecondsPerPath / a.cpuSecondsPerPath, 3))x"
            } else if let best = em.min(by: { $0.strongError < $1.strongError }) {
                // Beyond the measured points: EM's last four points fitted as error ∝ time^s
                // (s about −1/2 for GBM, −1 for additive noise), extrapolated to the error.
                let tail = em.sorted { $0.cpuSecondsPerPath < $1.cpuSecondsPerPath }.suffix(4)
                let xs = tail.map { Foundation.log($0.cpuSecondsPerPath) }, ys = tail.map { Foundation.log($0.strongError) }
                let mx = xs.reduce(0, +) / Double(xs.count), my = ys.reduce(0, +) / Double(ys.count)
                let slope = zip(xs, ys).reduce(0) { $0 + ($1.0 - mx) * ($1.1 - my) } / xs.reduce(0) { $0 + ($1 - mx) * ($1 - mx) }
                let needed = best.cpuSecondsPerPath * Foundation.pow(a.strongError / best.strongError, 1 / slope)
                line += "no measured EM point reaches it (smallest \(sig(best.strongError, 3)) at dt 2^\(Int(Foundation.log2(best.setting).rounded())) "
                    + "in \(sig(best.cpuSecondsPerPath * 1e6, 4)) µs); extrapolated (error ∝ time^\(sig(slope, 2))) EM "
                    + "\(sig(needed * 1e6, 3)) µs: EM/\(adaptiveName) ≈ \(sig(needed / a.cpuSecondsPerPath, 3))x"
            }
            if let t = interpolated { line += "; interpolated EM \(sig(t * 1e6, 4)) µs, ratio \(sig(t / a.cpuSecondsPerPath, 3))x" }
            print(line)
        }
    }

    do {
        let out = try ScriptOutput(name: "sde-bench")
        try out.writeJSON(workPoints, to: "sde_bench_work_precision.json")
        for problemName in ["GBM", "additive"] {
            let methods = workPoints.filter { $0.problem == problemName }.map(\.method).reduce(into: [String]()) {
                if !$0.contains($1) { $0.append($1) }
            }
            // One gnuplot data block per method (blocks separated by two blank lines).
            var data = ""
            for m in methods {
                data += "# \(m): cpu_seconds_per_path strong_error steps_per_path setting\n"
                for p in workPoints where p.problem == problemName && p.method == m {
                    data += "\(p.cpuSecondsPerPath) \(p.strongError) \(p.stepsPerPath) \(p.setting)\n"
                }
                data += "\n\n"
            }
            let file = "sde_bench_\(problemName.lowercased())"
            try data.write(to: out.url(file + ".dat"), atomically: true, encoding: .utf8)
            func curves(_ x: Int) -> String {
                methods.enumerated().map { i, m in
                    "'\(file).dat' index \(i) using \(x):2 with linespoints lw 2 pt \(i + 1) title '\(m)'"
                }.joined(separator: ", \\\n     ")
            }
            try out.gnuplot("""
                set terminal pngcairo size 1400,600 enhanced font 'Sans,11'
                set output '\(file).png'
                set multiplot layout 1,2 title '\(problemName): strong error at t = 1 (\(workPaths) paths) against work (sde-bench)'
                set logscale xy
                set format x '10^{%L}'
                set format y '10^{%L}'
                set ylabel 'strong error'
                set key bottom left
                set xlabel 'thread CPU seconds per path'
                plot \(curves(1))
                set xlabel 'steps per path (accepted + rejected)'
                plot \(curves(3))
                unset multiplot
                """)
        }
        print("\nWrote \(out.folder.path)/sde_bench_{gbm,additive}.{dat,png} and sde_bench_work_precision.json")
    } catch {
        print("could not write the work-precision output: \(error)")
    }
}

// MARK: Peers

/// The peers' GBM ensemble by ours: 100 paths (seeds 0 ... 99), 1000 EM steps on [0, 1]; the
/// mean of u(1), and its derivative with respect to μ by duals through the same solves (pathwise
/// forward mode). Wall time, median of 5 after one, as the peer scripts measure theirs.
func oursEnsemble() -> (forwardMs: Double, gradientMs: Double, mean: Double, gradient: Double) {
    let options = SolveOptions(saveEverystep: false, dt: 1e-3, adaptive: false)
    typealias D = Dual<1, Double>
    let dualProblem = SDEProblem(
        model: GBM(), u0: [D(constant: 0.5)], tspan: (0, 1), p: [D(gbmMu, seed: 0), D(constant: gbmSigma)])
    var mean = 0.0, gradient = 0.0
    func forward() {
        var s = 0.0
        for seed in 0..<100 { s += (try? solve(gbmProblem, EM(), seed: UInt64(seed), options: options).u.last?[0]) ?? .nan }
        mean = s / 100
    }
    func derivative() {
        var s = 0.0
        for seed in 0..<100 {
            s += (try? solve(dualProblem, EM(), seed: UInt64(seed), options: options).u.last?[0].partials[0]) ?? .nan
        }
        gradient = s / 100
    }
    let f = medianTime(repeats: 5, forward)
    let g = medianTime(repeats: 5, derivative)
    return (f * 1000, g * 1000, mean, gradient)
}

if !args.contains("--skip-peers") {
    func peer(_ script: String, _ arguments: [String]) -> [String: Any]? { PythonPeers.run(script, arguments) }
    if !PythonPeers.isAvailable {
        print("\nPeers: skipped (no .venv-peers/; scripts/install-peers.sh creates it)")
    } else {
        let ours = oursEnsemble()
        print("\nPeers: GBM ensemble, 100 paths × 1000 EM steps, float64, wall ms (median of 5); ratio = ours / peer")
        // Each side draws its own 100 paths: the means differ by sampling error. E u(1) =
        // u0 e^μ and Var u(1) = u0² e^{2μ} (e^{σ²} − 1) for Itô GBM.
        let exactMean = 0.5 * Foundation.exp(gbmMu)
        let meanSE = (0.25 * Foundation.exp(2 * gbmMu) * (Foundation.exp(gbmSigma * gbmSigma) - 1) / 100).squareRoot()
        print("  exact E u(1) = d/dμ E u(1) = \(sig(exactMean, 5)); standard error of a 100-path mean \(sig(meanSE, 3))")
        print("  ours (solve, WienerProcess; gradient by duals)  forward \(sig(ours.forwardMs, 4)) ms, gradient "
            + "\(sig(ours.gradientMs, 4)) ms; mean u(1) \(sig(ours.mean, 5)), d/dμ \(sig(ours.gradient, 5)); "
            + "mean \(sig((ours.mean - exactMean) / meanSE, 2)) standard errors from the exact")
        for (script, arguments) in [("sde_gbm_diffrax.py", ["unsafe"]), ("sde_gbm_diffrax.py", ["tree"]), ("sde_gbm_torchsde.py", [])] {
            guard let r = peer(script, arguments), let f = r["forward_ms"] as? Double, let g = r["gradient_ms"] as? Double else {
                print("  \(script) \(arguments.joined(separator: " ")): not available (import failed or the run failed)")
                continue
            }
            let label = (r["peer"] as? String ?? script) + (r["brownian"].map { " (\($0))" } ?? "")
            print("  \(label): forward \(sig(f, 4)) ms (ours/peer \(sig(ours.forwardMs / f, 3))), gradient \(sig(g, 4)) ms "
                + "(ours/peer \(sig(ours.gradientMs / g, 3))); its mean \(sig(r["mean"] as? Double ?? .nan, 5)), "
                + "d/dμ \(sig(r["gradient"] as? Double ?? .nan, 5)); its mean \(sig(((r["mean"] as? Double ?? .nan) - exactMean) / meanSE, 2)) "
                + "standard errors from the exact")
            fflush(stdout)
        }
    }
}
