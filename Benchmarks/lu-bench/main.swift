// Where the Swift LU kernel stops paying: LUFactorization with LUKernel.swift against
// LUKernel.lapack (OpenBLAS), per dimension, on the work of one stiff step.
//
// For each n: a well-conditioned random matrix shaped like an iteration matrix
// W = I/(γh) − J (J random in [-1, 1], 1/(γh) = n), factored in place and then solved against
// `solves` right-hand sides (8: the stages of a Rodas5P step), and separately one factorization
// and one solve. Each timing is the best of 41 short batches of repeated calls (short batches and
// the minimum filter out the preemptions of a shared machine); times in ns per call. The crossover stored in
// LUFactorization.swiftKernelCrossover comes from the "step" column.
//
// Run: swift run -c release lu-bench [--solves N]
import DenseLinearAlgebra
import Foundation

let solves: Int = {
    if let i = CommandLine.arguments.firstIndex(of: "--solves"), i + 1 < CommandLine.arguments.count,
        let v = Int(CommandLine.arguments[i + 1])
    {
        return v
    }
    return 8
}()
let dimensions = [2, 3, 4, 6, 8, 12, 16, 20, 24, 32, 40, 48, 56, 64, 80, 96, 128, 192]

/// A fixed pseudo-random sequence in [-1, 1] (SplitMix64), so every run times the same matrices.
struct SplitMix {
    var state: UInt64
    mutating func next() -> Double {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        z ^= z >> 31
        return Double(z >> 11) / Double(1 << 53) * 2 - 1
    }
}

/// Best of 41 batches, in ns per call of `body`; a batch lasts about 0.2 ms (well inside a
/// scheduler time slice, so that some batches run uninterrupted on a loaded machine).
func nanoseconds(_ body: () -> Void) -> Double {
    var calls = 1
    let clock = ContinuousClock()
    while true {
        let d = clock.measure { for _ in 0..<calls { body() } }
        if d > .microseconds(200) { break }
        calls *= 2
    }
    var best = Double.infinity
    for _ in 0..<41 {
        let d = clock.measure { for _ in 0..<calls { body() } }
        let (s, atto) = d.components
        best = min(best, (Double(s) * 1e9 + Double(atto) * 1e-9) / Double(calls))
    }
    return best
}

func pad(_ s: String, _ w: Int) -> String { String(repeating: " ", count: max(0, w - s.count)) + s }

print("LUFactorization: Swift kernel vs LAPACK (OpenBLAS); ns per call, best of 41 batches; step = factor + \(solves) solves")
print(pad("n", 5) + pad("factor swift", 14) + pad("lapack", 10) + pad("solve swift", 13) + pad("lapack", 10)
    + pad("step swift", 12) + pad("lapack", 10) + pad("lapack/swift", 14))
var rng = SplitMix(state: 42)
for n in dimensions {
    let entries = (0..<(n * n)).map { k in (k % (n + 1) == 0 ? Double(n) : 0) - rng.next() }
    let w = try Matrix(rows: n, columns: n, columnMajor: entries)
    let rhs = (0..<n).map { _ in rng.next() }
    var row: [Double] = []
    var steps: [Double] = []
    for kernel in [LUKernel.swift, .lapack] {
        var lu = try LUFactorization<Double>(dimension: n, kernel: kernel)
        var work = w
        var b = rhs
        let factor = nanoseconds {
            work.withUnsafeMutableBufferPointer { d in w.withUnsafeBufferPointer { s in _ = d.update(fromContentsOf: s) } }
            try! lu.factor(exchanging: &work)
        }
        let solve = nanoseconds {
            for m in 0..<n { b[m] = rhs[m] }
            try! lu.solve(&b)
        }
        let step = nanoseconds {
            work.withUnsafeMutableBufferPointer { d in w.withUnsafeBufferPointer { s in _ = d.update(fromContentsOf: s) } }
            try! lu.factor(exchanging: &work)
            for _ in 0..<solves {
                for m in 0..<n { b[m] = rhs[m] }
                try! lu.solve(&b)
            }
        }
        row += [factor, solve]
        steps.append(step)
    }
    func f(_ x: Double) -> String { String(format: "%.0f", x) }
    print(pad("\(n)", 5) + pad(f(row[0]), 14) + pad(f(row[2]), 10) + pad(f(row[1]), 13) + pad(f(row[3]), 10)
        + pad(f(steps[0]), 12) + pad(f(steps[1]), 10) + pad(String(format: "%.2f", steps[1] / steps[0]), 14))
}
