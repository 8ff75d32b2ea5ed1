// sde-bench: issue #17's benchmark, in part (the work-precision runs and the peer comparison
// are not written yet).
//
// 1. Brownian tree query cost against a stored path, on the issue's ensemble shape (100
//    trajectories of 1000 steps on [0, 1]): the increments a solve consumes, from
//    (a) a stored array of W at the step times (differences of a precomputed path: the floor),
//    (b) NoiseGrid holding that path, (c) WienerProcess drawing as it goes (what a first solve
//    pays), (d) BrownianTreeNoise, the tree through its cursor, at tolerance 1e-3 (leaves about
//    one step wide) and 1e-6 (ten levels below the step).
// 2. EM per-step cost on GBM, scalar and 4-dimensional diagonal noise: the kernel alone on
//    pre-drawn increments, kernel plus WienerProcess draws, and the whole `solve` on the shared
//    integrator loop with the same draws ("+solve").
// 3. A whole EM solve (scalar GBM, 10⁴ steps) on a stored path (NoiseGrid) and on the tree:
//    the issue's "tree query cost at most 2x a stored path" read inside a solve.
//
// Timing: thread CPU time, the minimum over 15 samples (as rk-bench); on a shared machine the
// wall clock is noise. `--case NAME --count N` runs one case N times without timing, for
// instruction counts: `valgrind --tool=callgrind --callgrind-out-file=/dev/null` at two counts,
// the difference divided by the difference of items is instructions per increment or step
// (setup cancels).
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

let emSteps = 10_000
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

print("sde-bench: thread CPU time, minimum of 15 samples (release build expected)")
var perItem: [String: Double] = [:]
for c in cases {
    var sink = 0.0
    let seconds = cpuTimePerCall { sink += c.body() }
    blackHole(sink)
    perItem[c.name] = seconds / Double(c.perCall) * 1e9
    print(String(format: "%-16@ %9.2f ns per %@", c.name as NSString, perItem[c.name]!, (c.name.hasPrefix("em") ? "step" : "increment") as NSString))
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
