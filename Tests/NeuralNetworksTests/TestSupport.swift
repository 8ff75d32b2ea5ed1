import DenseLinearAlgebra
import Foundation
import NeuralNetworks
import Testing

/// Deterministic test inputs in [-1, 1) (the library's own generator, used here only as a source
/// of arbitrary numbers).
func arbitrary<T: NetworkScalar>(_ count: Int, seed: UInt64, scale: Double = 1) -> [T] {
    let g = SplitMix64(seed: seed)
    return (0..<count).map { T(scale * (2 * g.uniform(at: UInt64($0)) - 1)) }
}

func dot<T: NetworkScalar>(_ a: [T], _ b: [T]) -> T {
    zip(a, b).reduce(0) { $0 + $1.0 * $1.1 }
}

/// `max_i |a_i - b_i| / max(1, max_i |b_i|)`.
func relativeError<T: NetworkScalar>(_ a: [T], _ b: [T]) -> Double {
    precondition(a.count == b.count)
    var worst = 0.0
    var scale = 1.0
    for (x, y) in zip(a, b) {
        worst = max(worst, Double(abs(x - y)))
        scale = max(scale, Double(abs(y)))
    }
    return worst / scale
}

/// Central differences of `L(x, p) = dyᵀ f(x, p)` with respect to x and to p, in Double
/// (second-order accurate: error O(h²)).
func centralDifferences(
    _ chain: Chain<Double>, x: [Double], parameters: [Double], dy: [Double], h: Double = 1e-6
) throws -> (dx: [Double], dp: [Double]) {
    func loss(_ x: [Double], _ p: [Double]) throws -> Double { dot(try chain(x, parameters: p), dy) }
    return (
        try centralDifferences(of: { try loss($0, parameters) }, at: x, h: h),
        try centralDifferences(of: { try loss(x, $0) }, at: parameters, h: h)
    )
}

/// Central differences `(f(x + h e_i) − f(x − h e_i)) / 2h` of a scalar function, every `i`.
func centralDifferences(of f: ([Double]) throws -> Double, at x: [Double], h: Double) rethrows -> [Double] {
    var d = [Double](repeating: 0, count: x.count)
    for i in x.indices {
        var plus = x
        var minus = x
        plus[i] += h
        minus[i] -= h
        d[i] = (try f(plus) - f(minus)) / (2 * h)
    }
    return d
}

/// The hand-written pullback for one vector.
func pullback<T: NetworkScalar>(
    _ chain: Chain<T>, x: [T], parameters: [T], dy: [T]
) throws -> (y: [T], dx: [T], dp: [T]) {
    var ws = chain.makeWorkspace()
    var y = [T](repeating: 0, count: chain.outputCount)
    try chain.forward(x, parameters: parameters, workspace: &ws, into: &y)
    var dx = [T](repeating: 0, count: chain.inputCount)
    var dp = [T](repeating: 0, count: chain.parameterCount)
    try chain.pullback(dy, parameters: parameters, workspace: &ws, inputGradient: &dx, parameterGradient: &dp)
    return (y, dx, dp)
}

/// The path of a fixture file next to this source file (tests run from a clone, no Python).
func fixtureURL(_ name: String) -> URL {
    URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/\(name)")
}
