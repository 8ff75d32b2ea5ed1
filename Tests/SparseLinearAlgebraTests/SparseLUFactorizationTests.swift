import SparseLinearAlgebra
import Testing

@Suite("Sparse LU (KLU)")
struct SparseLUFactorizationTests {
    /// The 1-D Laplacian `tridiag(-1, 2, -1)` of size n (plus `shift` on the diagonal), CSC.
    static func tridiagonal(_ n: Int, shift: Double = 0) -> (starts: [Int], rows: [Int], values: [Double]) {
        var starts = [0], rows: [Int] = [], values: [Double] = []
        for j in 0..<n {
            for i in max(0, j - 1)...min(n - 1, j + 1) {
                rows.append(i)
                values.append(i == j ? 2 + shift : -1)
            }
            starts.append(rows.count)
        }
        return (starts, rows, values)
    }

    @Test("solves a tridiagonal system against its exact solution")
    func exactSolution() throws {
        // With x_i = i + 1 (i = 0 … n−1), (T x)_i = 2x_i − x_{i−1} − x_{i+1} is 0 inside, and
        // x_0·2 − x_1 = 0 at the top, 2n − (n − 1) = n + 1 at the bottom.
        let n = 50
        let (starts, rows, values) = Self.tridiagonal(n)
        let lu = try SparseLUFactorization(count: n, columnStarts: starts, rowIndices: rows)
        try values.withUnsafeBufferPointer { try lu.factor($0) }
        var b = [Double](repeating: 0, count: n)
        b[n - 1] = Double(n + 1)
        try b.withUnsafeMutableBufferPointer { try lu.solve($0) }
        let worst = (0..<n).map { abs(b[$0] - Double($0 + 1)) }.max() ?? .nan
        #expect(worst < 1e-11)
        #expect(lu.fullFactorizations == 1 && lu.refactorizations == 0)
        #expect(lu.factorNonzeroCount >= n)
    }

    @Test("a second factorization reuses the pivot order and gives the same solution as a fresh one")
    func refactor() throws {
        let n = 30
        let first = Self.tridiagonal(n)
        let second = Self.tridiagonal(n, shift: 0.5)
        let lu = try SparseLUFactorization(count: n, columnStarts: first.starts, rowIndices: first.rows)
        try first.values.withUnsafeBufferPointer { try lu.factor($0) }
        try second.values.withUnsafeBufferPointer { try lu.factor($0) }
        #expect(lu.refactorizations == 1)
        let fresh = try SparseLUFactorization(count: n, columnStarts: second.starts, rowIndices: second.rows)
        try second.values.withUnsafeBufferPointer { try fresh.factor($0) }
        var x = (0..<n).map { Double(($0 * 7) % 11) - 5 }
        var y = x
        try x.withUnsafeMutableBufferPointer { try lu.solve($0) }
        try y.withUnsafeMutableBufferPointer { try fresh.solve($0) }
        let worst = zip(x, y).map { abs($0 - $1) }.max() ?? .nan
        #expect(worst < 1e-13)
    }

    @Test("singular, non-finite and malformed input are typed errors")
    func badInput() throws {
        // A zero column: singular.
        let lu = try SparseLUFactorization(count: 2, columnStarts: [0, 1, 2], rowIndices: [0, 1])
        #expect(throws: SparseLUError.singular) { try [1.0, 0.0].withUnsafeBufferPointer { try lu.factor($0) } }
        #expect(!lu.isFactored)
        var b = [1.0, 1.0]
        #expect(throws: SparseLUError.notFactored) { try b.withUnsafeMutableBufferPointer { try lu.solve($0) } }
        #expect(throws: SparseLUError.nonFinite) { try [1.0, .nan].withUnsafeBufferPointer { try lu.factor($0) } }
        #expect(throws: SparseLUError.dimensionMismatch(what: "values.count", expected: 2, got: 3)) {
            try [1.0, 1.0, 1.0].withUnsafeBufferPointer { try lu.factor($0) }
        }
        // Rows out of range, and not increasing within a column.
        #expect(throws: SparseLUError.self) { try SparseLUFactorization(count: 2, columnStarts: [0, 1, 2], rowIndices: [0, 2]) }
        #expect(throws: SparseLUError.self) { try SparseLUFactorization(count: 2, columnStarts: [0, 2, 2], rowIndices: [1, 0]) }
        #expect(throws: SparseLUError.self) { try SparseLUFactorization(count: 2, columnStarts: [0, 1], rowIndices: [0]) }
        // After a singular matrix, a regular one factors again (afresh).
        try [2.0, 3.0].withUnsafeBufferPointer { try lu.factor($0) }
        try b.withUnsafeMutableBufferPointer { try lu.solve($0) }
        #expect(b == [0.5, 1.0 / 3.0])
    }
}
