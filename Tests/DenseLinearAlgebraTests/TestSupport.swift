import DenseLinearAlgebra
import Testing

/// Largest absolute entrywise difference.
func maxDifference<T: LAPACKScalar>(_ a: [T], _ b: [T]) -> T {
    precondition(a.count == b.count)
    var worst: T = 0
    for (x, y) in zip(a, b) { worst = max(worst, abs(x - y)) }
    return worst
}

/// Expects `actual` to match `expected` entrywise within `tolerance`.
func expectClose<T: LAPACKScalar>(
    _ actual: [T], _ expected: [T], tolerance: T,
    sourceLocation: SourceLocation = #_sourceLocation
) {
    #expect(actual.count == expected.count, sourceLocation: sourceLocation)
    guard actual.count == expected.count else { return }
    let difference = maxDifference(actual, expected)
    #expect(difference <= tolerance, "\(actual) vs \(expected)", sourceLocation: sourceLocation)
}

/// Infinity norm of a vector.
func normInf<T: LAPACKScalar>(_ x: [T]) -> T {
    x.reduce(0) { max($0, abs($1)) }
}

/// Reference product computed with a plain triple loop.
func naiveProduct<T: LAPACKScalar>(_ a: Matrix<T>, _ b: Matrix<T>) throws -> Matrix<T> {
    try Matrix(rows: a.rows, columns: b.columns) { i, j in
        var sum: T = 0
        for k in 0..<a.columns { sum += a[i, k] * b[k, j] }
        return sum
    }
}

/// Unit-roundoff-scaled tolerance: `factor` units of `T.ulpOfOne`.
func tolerance<T: LAPACKScalar>(_: T.Type, _ factor: T) -> T {
    factor * T.ulpOfOne
}
