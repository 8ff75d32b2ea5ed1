// Automatic differentiation, side by side in one run: our reverse-mode tape (fresh and reused),
// hand-written derivatives, Swift's experimental `_Differentiation`, forward mode (Dual) and
// finite differences.
//
// (a) VJP of the Lotka-Volterra right-hand side (w.r.t. u and p).
// (b) VJP of a 2-50-2 tanh MLP right-hand side du = W2 tanh(W1 u + b1) + b2 (252 parameters).
// (c) Jacobian ∂f/∂u of POLLU (20 species, 25 reactions; ProblemLibrary.Pollution).
// (d) Gradient of a Lotka-Volterra loss (sum of squares of the solution at saveat 0.1 on [0, 10])
//     w.r.t. the 4 parameters, through Tsit5 with Dual<4, Double> parameters.
//
// Every time is the median of 11 samples of this thread's CPU time (time descheduled by other
// processes is not counted); each sample repeats the call until it lasts ≥ 10 ms.
// Tables print ratios to the row marked "= 1"; absolute times are given for orientation only (they
// move with the machine and its load). Run: swift run -c release ad-bench [--sections abcd] [--output DIR]
import _Differentiation
import AutoDiff
import DiffEq
import NeuralDE
import Foundation
import NotebookSupport
import ProblemLibrary

// MARK: Timing

/// `--sections abcd` (default all) runs a subset.
let sections: String = {
    let args = CommandLine.arguments
    if let i = args.firstIndex(of: "--sections"), i + 1 < args.count { return args[i + 1] }
    return "abcd"
}()

/// Results are accumulated here so that no timed work is optimised away.
final class Sink {
    var value = 0.0
}
let sink = Sink()


/// One timed method: `run(reps)` makes `reps` calls (the loop lives inside the closure, so the
/// harness costs one indirect call per sample, not per call).
struct Variant {
    let name: String
    let note: String
    let run: (_ reps: Int) -> Void
    init(_ name: String, note: String = "", _ run: @escaping (_ reps: Int) -> Void) {
        self.name = name
        self.note = note
        self.run = run
    }
}

/// Median seconds (thread CPU time) per call of each variant: each sample repeats the call until
/// it lasts at least 10 ms, and the 11 samples of all variants are taken in interleaved rounds,
/// so that a change in machine load moves every variant alike.
func secondsPerCall(_ variants: [Variant]) -> [Double] {
    let reps = variants.map { v -> Int in
        var reps = 1
        while true {
            let start = threadCPUSeconds()
            v.run(reps)
            if (threadCPUSeconds() - start) >= 0.01 { return reps }
            reps *= 2
        }
    }
    var samples = [[Double]](repeating: [], count: variants.count)
    for _ in 0..<11 {
        for (i, v) in variants.enumerated() {
            let start = threadCPUSeconds()
            v.run(reps[i])
            samples[i].append((threadCPUSeconds() - start) / Double(reps[i]))
        }
    }
    return samples.map { $0.sorted()[$0.count / 2] }
}

struct Row: Encodable {
    let section: String
    let method: String
    let seconds: Double
    let ratio: Double
    let note: String
}
var rows: [Row] = []

/// Times the variants and prints them as ratios to the first (the baseline).
func table(_ section: String, _ title: String, _ variants: [Variant]) -> [Double] {
    let times = secondsPerCall(variants)
    print("\n\(title)")
    let baseline = variants[0].name
    print("  \(pad("method", 44))  \(pad("time / " + baseline, 24))  \(pad("(abs.)", 11))  note")
    for (v, t) in zip(variants, times) {
        let ratio = t / times[0]
        print("  \(pad(v.name, 44))  \(pad(v.name == baseline ? "= 1" : sig(ratio, 3), 24))  \(pad(timeString(t), 11))  \(v.note)")
        rows.append(Row(section: section, method: v.name, seconds: t, ratio: ratio, note: v.note))
    }
    return times
}

func timeString(_ t: Double) -> String {
    t < 1e-6 ? sig(t * 1e9, 3) + " ns" : t < 1e-3 ? sig(t * 1e6, 3) + " us" : sig(t * 1e3, 3) + " ms"
}

func maxDifference(_ a: [Double], _ b: [Double]) -> Double {
    zip(a, b).map { abs($0 - $1) }.max() ?? 0
}

// MARK: (a) Lotka-Volterra VJP

@differentiable(reverse)
func lvDifferentiable(_ u: [Double], _ p: [Double]) -> [Double] {
    let xy = u[0] * u[1]
    return [p[0] * u[0] - p[1] * xy, p[3] * xy - p[2] * u[1]]
}

/// vᵀ ∂f/∂u and vᵀ ∂f/∂p of f = (p0 x - p1 x y, p3 x y - p2 y), by hand.
@inline(never)
func lvHandVJP(_ u: [Double], _ p: [Double], _ v: [Double], _ du: inout [Double], _ dp: inout [Double]) {
    let x = u[0], y = u[1], v0 = v[0], v1 = v[1]
    du[0] = v0 * (p[0] - p[1] * y) + v1 * (p[3] * y)
    du[1] = v1 * (p[3] * x - p[2]) - v0 * (p[1] * x)
    dp[0] = v0 * x
    dp[1] = -v0 * (x * y)
    dp[2] = -v1 * y
    dp[3] = v1 * (x * y)
}

@inline(never)
func lvTapeVJP(_ tape: RHSTape, _ u: [Double], _ p: [Double], _ v: [Double], _ du: inout [Double], _ dp: inout [Double]) {
    try! tape.vjp(u: u, p: p, t: 0, v: v, du: &du, dp: &dp)
}

@inline(never)
func lvDifferentiationVJP(_ u: [Double], _ p: [Double], _ v: [Double]) -> ([Double], [Double]) {
    let (_, pb) = valueWithPullback(at: u, p, of: lvDifferentiable)
    let (gu, gp) = pb(Array<Double>.DifferentiableView(v))
    return (gu.base, gp.base)
}

func benchmarkLotkaVolterraVJP() {
    let p = [1.5, 1.0, 3.0, 1.0]
    let v = [0.7, -1.3]
    // The state alternates between two points (so that the reused tape really replays), set in
    // place so that the harness itself costs next to nothing.
    let x = [1.0, 1.2]
    // Agreement first.
    var du = [0.0, 0.0], dp = [0.0, 0.0, 0.0, 0.0]
    var hu = du, hp = dp
    lvHandVJP([1.2, 1.0], p, v, &hu, &hp)
    lvTapeVJP(RHSTape(LotkaVolterra()), [1.2, 1.0], p, v, &du, &dp)
    let (su, sp) = lvDifferentiationVJP([1.2, 1.0], p, v)
    let agreement = max(maxDifference(du + dp, hu + hp), maxDifference(su + sp, hu + hp))

    let fresh = RHSTape(LotkaVolterra(), reuse: false)
    let reused = RHSTape(LotkaVolterra())
    let times = table(
        "a", "(a) VJP of the Lotka-Volterra right-hand side (w.r.t. u and p); max |difference| between methods \(sig(agreement, 2))",
        [
            Variant("hand-written VJP") { reps in
                var u = [1.0, 1.0], du = [0.0, 0.0], dp = [0.0, 0.0, 0.0, 0.0], s = 0.0
                for k in 0..<reps {
                    u[0] = x[k & 1]
                    lvHandVJP(u, p, v, &du, &dp)
                    s += dp[1]
                }
                sink.value += s
            },
            Variant("RHSTape reused (replay + sweep)", note: "goal: within 5x of hand-written") { reps in
                var u = [1.0, 1.0], du = [0.0, 0.0], dp = [0.0, 0.0, 0.0, 0.0], s = 0.0
                for k in 0..<reps {
                    u[0] = x[k & 1]
                    lvTapeVJP(reused, u, p, v, &du, &dp)
                    s += dp[1]
                }
                sink.value += s
            },
            Variant("RHSTape fresh (record + sweep)") { reps in
                var u = [1.0, 1.0], du = [0.0, 0.0], dp = [0.0, 0.0, 0.0, 0.0], s = 0.0
                for k in 0..<reps {
                    u[0] = x[k & 1]
                    lvTapeVJP(fresh, u, p, v, &du, &dp)
                    s += dp[1]
                }
                sink.value += s
            },
            Variant("RHSTape reused, allocating (du, dp) arrays", note: "vjp(u:p:t:v:) returning arrays") { reps in
                var u = [1.0, 1.0], s = 0.0
                for k in 0..<reps {
                    u[0] = x[k & 1]
                    s += try! reused.vjp(u: u, p: p, t: 0, v: v).dp[1]
                }
                sink.value += s
            },
            Variant("rhsVJP one-shot (new tape per call)", note: "allocates a tape") { reps in
                var u = [1.0, 1.0], s = 0.0
                for k in 0..<reps {
                    u[0] = x[k & 1]
                    s += try! rhsVJP(LotkaVolterra(), u: u, p: p, t: 0, v: v).dp[1]
                }
                sink.value += s
            },
            Variant("_Differentiation valueWithPullback") { reps in
                var u = [1.0, 1.0], s = 0.0
                for k in 0..<reps {
                    u[0] = x[k & 1]
                    s += lvDifferentiationVJP(u, p, v).1[1]
                }
                sink.value += s
            },
        ])
    precondition(reused.recordings == 1, "the reused tape recorded more than once")
    print("  reused tape: \(sig(times[1] / times[0], 3))x the hand-written VJP (goal <= 5x), "
        + "\(sig(times[5] / times[1], 3))x faster than _Differentiation (goal >= 10x)")
}

// MARK: (b) 2-50-2 tanh MLP VJP

// Constants, not globals: a global read inside a model would cost an access check per call.
var hidden: Int { 50 }
var layer1: Int { 150 }  // W1 (50 x 2), b1 (50); then W2 (2 x 50), b2 (2)
var mlpParameterCount: Int { 252 }

struct MLPRHS: ODEModel {
    func rhs<S: DiffEqScalar>(_ du: inout [S], _ u: [S], _ p: [S], _ t: S) {
        let h = denseLayer(u, parameters: p, offset: 0, outputs: hidden, activation: .tanh)
        denseLayer(h, parameters: p, offset: layer1, into: &du)
    }
}

@differentiable(reverse)
func mlpDifferentiable(_ u: [Double], _ p: [Double]) -> [Double] {
    var h: [Double] = []
    for i in 0..<50 {
        var s = p[100 + i]
        for j in 0..<2 { s = s + p[i + j * 50] * u[j] }
        h.append(tanh(s))
    }
    var y: [Double] = []
    for i in 0..<2 {
        var s = p[250 + i]
        for j in 0..<50 { s = s + p[150 + i + j * 2] * h[j] }
        y.append(s)
    }
    return y
}

@inline(never)
func mlpDifferentiationVJP(_ u: [Double], _ p: [Double], _ v: [Double]) -> ([Double], [Double]) {
    let (_, pb) = valueWithPullback(at: u, p, of: mlpDifferentiable)
    let (gu, gp) = pb(Array<Double>.DifferentiableView(v))
    return (gu.base, gp.base)
}

/// The VJP written by hand over BLAS (Matrix.multiply = cblas_dgemv), weights prebuilt as
/// matrices, every buffer preallocated.
struct HandMLP {
    let w1: Matrix<Double>, b1: [Double], w2: Matrix<Double>, b2: [Double]
    var h: [Double], y: [Double], g: [Double]

    init(_ p: [Double]) {
        w1 = try! Matrix(rows: hidden, columns: 2, columnMajor: Array(p[0..<(2 * hidden)]))
        b1 = Array(p[(2 * hidden)..<layer1])
        w2 = try! Matrix(rows: 2, columns: hidden, columnMajor: Array(p[layer1..<(layer1 + 2 * hidden)]))
        b2 = Array(p[(layer1 + 2 * hidden)...])
        h = [Double](repeating: 0, count: hidden)
        y = [0, 0]
        g = h
    }

    @inline(never)
    mutating func vjp(_ u: [Double], _ v: [Double], _ du: inout [Double], _ dp: inout [Double]) {
        // Forward: h = tanh(W1 u + b1), y = W2 h + b2.
        h = b1
        try! w1.multiply(u, into: &h, beta: 1)
        for i in 0..<hidden { h[i] = tanh(h[i]) }
        y = b2
        try! w2.multiply(h, into: &y, beta: 1)
        // Backward: b̄2 = v, W̄2 = v hᵀ, ḡ = (W2ᵀ v) ⊙ (1 - h²), b̄1 = ḡ, W̄1 = ḡ uᵀ, ū = W1ᵀ ḡ.
        try! w2.multiply(v, into: &g, transposed: true)
        for i in 0..<hidden { g[i] *= 1 - h[i] * h[i] }
        dp.withUnsafeMutableBufferPointer { d in
            for j in 0..<2 { for i in 0..<hidden { d[i + j * hidden] = g[i] * u[j] } }
            for i in 0..<hidden { d[2 * hidden + i] = g[i] }
            for j in 0..<hidden { for i in 0..<2 { d[layer1 + i + j * 2] = v[i] * h[j] } }
            for i in 0..<2 { d[layer1 + 2 * hidden + i] = v[i] }
        }
        try! w1.multiply(g, into: &du, transposed: true)
    }
}

@inline(never)
func mlpTapeVJP(_ tape: RHSTape, _ u: [Double], _ p: [Double], _ v: [Double], _ du: inout [Double], _ dp: inout [Double]) {
    try! tape.vjp(u: u, p: p, t: 0, v: v, du: &du, dp: &dp)
}

func benchmarkMLPVJP() {
    var state: UInt64 = 12345
    let p = (0..<mlpParameterCount).map { _ -> Double in
        state = state &* 6364136223846793005 &+ 1442695040888963407
        return (Double(state >> 11) / Double(1 << 52) - 1) * 0.5
    }
    let x = [0.5, 0.45]
    let v = [1.0, -0.5]
    var du = [0.0, 0.0], dp = [Double](repeating: 0, count: mlpParameterCount)
    var hu = du, hp = dp
    var hand = HandMLP(p)
    hand.vjp([0.45, -0.3], v, &hu, &hp)
    mlpTapeVJP(RHSTape(MLPRHS()), [0.45, -0.3], p, v, &du, &dp)
    let (su, sp) = mlpDifferentiationVJP([0.45, -0.3], p, v)
    let agreement = max(maxDifference(du + dp, hu + hp), maxDifference(su + sp, hu + hp))

    let fresh = RHSTape(MLPRHS(), reuse: false)
    let reused = RHSTape(MLPRHS())
    let scalarTape = RHSTape(ScalarOpsMLPRHS())
    func tapeVariant(_ name: String, _ tape: RHSTape, note: String = "") -> Variant {
        Variant(name, note: note) { reps in
            var u = [0.5, -0.3], du = [0.0, 0.0], dp = [Double](repeating: 0, count: mlpParameterCount), s = 0.0
            for k in 0..<reps {
                u[0] = x[k & 1]
                mlpTapeVJP(tape, u, p, v, &du, &dp)
                s += dp[7]
            }
            sink.value += s
        }
    }
    let times = table(
        "b", "(b) VJP of a 2-50-2 tanh MLP right-hand side (252 parameters); max |difference| between methods \(sig(agreement, 2))",
        [
            Variant("hand-written with BLAS (gemv)") { reps in
                var u = [0.5, -0.3], du = [0.0, 0.0], dp = [Double](repeating: 0, count: mlpParameterCount), s = 0.0
                var h = hand
                for k in 0..<reps {
                    u[0] = x[k & 1]
                    h.vjp(u, v, &du, &dp)
                    s += dp[7]
                }
                sink.value += s
            },
            tapeVariant("RHSTape reused (vector nodes)", reused, note: "goal: within 3x of hand-written"),
            tapeVariant("RHSTape fresh (vector nodes)", fresh),
            tapeVariant("RHSTape reused, scalar nodes only", scalarTape, note: "the same network written with scalar ops"),
            Variant("_Differentiation valueWithPullback") { reps in
                var u = [0.5, -0.3], s = 0.0
                for k in 0..<reps {
                    u[0] = x[k & 1]
                    s += mlpDifferentiationVJP(u, p, v).1[7]
                }
                sink.value += s
            },
        ])
    precondition(reused.recordings == 1, "the reused tape recorded more than once")
    print("  reused tape: \(sig(times[1] / times[0], 3))x the hand-written BLAS VJP (goal <= 3x), "
        + "\(sig(times[4] / times[1], 3))x faster than _Differentiation (goal >= 20x)")
}

/// The 2-50-2 network written with scalar operations only (for comparison with vector nodes).
struct ScalarOpsMLPRHS: ODEModel {
    func rhs<S: DiffEqScalar>(_ du: inout [S], _ u: [S], _ p: [S], _ t: S) {
        var h = [S](repeating: .zero, count: hidden)
        for i in 0..<hidden {
            var s = p[2 * hidden + i]
            for j in 0..<2 { s += p[i + j * hidden] * u[j] }
            h[i] = tanh(s)
        }
        for i in 0..<2 {
            var s = p[layer1 + 2 * hidden + i]
            for j in 0..<hidden { s += p[layer1 + i + j * 2] * h[j] }
            du[i] = s
        }
    }
}

// MARK: (c) Jacobian of POLLU (20 states)

struct PolluOfU: VectorFunction {
    let p: [Double]
    func callAsFunction<S: DiffEqScalar>(_ x: [S]) -> [S] {
        var du = [S](repeating: .zero, count: x.count)
        Pollution().rhs(&du, x, p.map { S($0) }, S(0.0))
        return du
    }
}

@inline(never)
func polluFiniteDifferences(_ u: [Double], _ p: [Double], _ f0: inout [Double], _ f1: inout [Double], _ J: inout [Double]) {
    let n = u.count
    var x = u
    Pollution().rhs(&f0, x, p, 0)
    for j in 0..<n {
        let h = 1.4901161193847656e-8 * max(abs(x[j]), 1e-3)
        let xj = x[j]
        x[j] = xj + h
        let step = x[j] - xj
        Pollution().rhs(&f1, x, p, 0)
        for i in 0..<n { J[i + j * n] = (f1[i] - f0[i]) / step }
        x[j] = xj
    }
}

func benchmarkPolluJacobian() {
    let prob = TestProblems.pollution()
    let p = prob.p
    // A state with every species present (u0 has zeros), so that every Jacobian entry is exercised.
    let u = prob.resolvedInitialState().enumerated().map { $0.element + 1e-3 * Double($0.offset + 1) }
    let n = u.count
    var analytic = [Double](repeating: 0, count: n * n)
    Pollution().jacobian(&analytic, u, p, 0)
    let scale = analytic.map { abs($0) }.max()!

    let forward = jacobian(of: PolluOfU(p: p), at: u)
    let forward20 = jacobian(of: { (x: [Dual<20, Double>]) in PolluOfU(p: p)(x) }, at: u)
    var f0 = [Double](repeating: 0, count: n), f1 = f0, fd = analytic
    polluFiniteDifferences(u, p, &f0, &f1, &fd)
    let tape = RHSTape(Pollution())
    var reverse = [Double](repeating: 0, count: n * n)
    var e = [Double](repeating: 0, count: n), du = e, dp = [Double](repeating: 0, count: p.count)
    func reverseJacobian() {
        for i in 0..<n {
            e[i] = 1
            try! tape.vjp(u: u, p: p, t: 0, v: e, du: &du, dp: &dp)
            for j in 0..<n { reverse[i + j * n] = du[j] }
            e[i] = 0
        }
    }
    reverseJacobian()
    let errForward = maxDifference(forward.elements, analytic) / scale
    let errForward20 = maxDifference(forward20.elements, analytic) / scale
    let errReverse = maxDifference(reverse, analytic) / scale
    let errFD = maxDifference(fd, analytic) / scale

    _ = table(
        "c", "(c) Jacobian ∂f/∂u of POLLU (20 states, ProblemLibrary.Pollution); error = max |J - analytic| / max |analytic|",
        [
            Variant("finite differences (forward, 21 f calls)", note: "error \(sig(errFD, 2))") { reps in
                var f0 = [Double](repeating: 0, count: n), f1 = f0, J = analytic
                for _ in 0..<reps { polluFiniteDifferences(u, p, &f0, &f1, &J) }
                sink.value += J[3]
            },
            Variant("forward mode, Dual chunk 8 (3 passes)", note: "error \(sig(errForward, 2))") { reps in
                for _ in 0..<reps { sink.value += jacobian(of: PolluOfU(p: p), at: u)[1, 2] }
            },
            Variant("forward mode, Dual chunk 20 (1 pass)", note: "error \(sig(errForward20, 2))") { reps in
                for _ in 0..<reps { sink.value += jacobian(of: { (x: [Dual<20, Double>]) in PolluOfU(p: p)(x) }, at: u)[1, 2] }
            },
            Variant("reverse mode, 20 VJPs on one RHSTape", note: "error \(sig(errReverse, 2))") { reps in
                for _ in 0..<reps { reverseJacobian() }
                sink.value += reverse[3]
            },
            Variant("analytic Jacobian (hand-written)", note: "reference") { reps in
                var J = analytic
                for _ in 0..<reps { Pollution().jacobian(&J, u, p, 0) }
                sink.value += J[3]
            },
        ])
}

// MARK: (d) Gradient of a Lotka-Volterra loss through Tsit5

func benchmarkGradientThroughSolve() {
    typealias D4 = Dual<4, Double>
    let options = SolveOptions(reltol: 1e-8, abstol: 1e-8, saveat: .every(0.1))
    let plainProblem = TestProblems.lotkaVolterra()
    func plainLoss(_ p: [Double]) -> Double {
        let sol = try! solve(plainProblem.remake(p: p), Tsit5(), options: options)
        return sol.u.reduce(0.0) { $0 + $1[0] * $1[0] + $1[1] * $1[1] }
    }
    let p0 = [1.5, 1.0, 3.0, 1.0]
    let dualProblem = ODEProblem(model: LotkaVolterra(), u0: [D4(1), D4(1)], tspan: (0, 10), p: p0.enumerated().map { D4($0.element, seed: $0.offset) })
    func dualLoss() -> D4 {
        let sol = try! solve(dualProblem, Tsit5(), options: options)
        return sol.u.reduce(D4(0)) { $0 + $1[0] * $1[0] + $1[1] * $1[1] }
    }
    let g = dualLoss()
    // Check against central differences (tight tolerance solves).
    let tight = SolveOptions(reltol: 1e-12, abstol: 1e-12, saveat: .every(0.1))
    func tightLoss(_ p: [Double]) -> Double {
        try! solve(plainProblem.remake(p: p), Tsit5(), options: tight).u.reduce(0.0) { $0 + $1[0] * $1[0] + $1[1] * $1[1] }
    }
    var relErr = 0.0
    for k in 0..<4 {
        var pp = p0, pm = p0
        pp[k] += 1e-5
        pm[k] -= 1e-5
        let fdk = (tightLoss(pp) - tightLoss(pm)) / 2e-5
        relErr = max(relErr, abs(g.partials[k] - fdk) / abs(fdk))
    }
    let plainSteps = try! solve(plainProblem, Tsit5(), options: options).stats.naccept
    let dualSteps = try! solve(dualProblem, Tsit5(), options: options).stats.naccept
    let times = table(
        "d", "(d) Gradient of a Lotka-Volterra loss (Σ |u|² at saveat 0.1 on [0, 10]) w.r.t. 4 parameters, Tsit5 reltol = abstol = 1e-8",
        [
            Variant("plain Double solve (loss only)", note: "\(plainSteps) steps") { reps in
                for _ in 0..<reps { sink.value += plainLoss(p0) }
            },
            Variant("Dual<4, Double> solve (loss + gradient)",
                    note: "\(dualSteps) steps (the error norm sees the partials); gradient vs central differences: max rel. error \(sig(relErr, 2))") { reps in
                for _ in 0..<reps { sink.value += dualLoss().partials[1] }
            },
        ])
    print("  dual solve: \(sig(times[1] / times[0], 3))x the plain solve (goal <= 3x); per step \(sig(times[1] / Double(dualSteps) / (times[0] / Double(plainSteps)), 3))x")
}

if sections.contains("a") { benchmarkLotkaVolterraVJP() }
if sections.contains("b") { benchmarkMLPVJP() }
if sections.contains("c") { benchmarkPolluJacobian() }
if sections.contains("d") { benchmarkGradientThroughSolve() }

let out = try ScriptOutput(name: "ad-bench")
try out.writeJSON(rows, to: "ad-bench.json")
print("\nwrote \(out.folder.path)/ad-bench.json   (checksum \(sig(sink.value, 3)))")
print("Note: 2-core machine; other builds may run concurrently, so ratios carry a few 10% of noise.")
