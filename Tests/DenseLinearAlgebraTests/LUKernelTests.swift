import DenseLinearAlgebra
import Testing

// The Swift LU kernel (small matrices) against LAPACK's ?getrf/?getrs: the same pivots, the same
// factors to rounding, the same solutions, the same singular-pivot report, for Double and Float.

@Suite("LU kernels: Swift against LAPACK")
struct LUKernelTests {
    /// A reproducible matrix in [-1, 1] with about a fifth of its entries zero (sparse Jacobians
    /// exercise the zero-skipping paths), from a linear congruential sequence.
    static func matrix<T: LAPACKScalar>(_: T.Type, n: Int, seed: UInt64) throws -> Matrix<T> {
        var state = seed
        return try Matrix(rows: n, columns: n) { _, _ in
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            let u = T(Double(state >> 11) / Double(1 << 53))
            return u < T(0.2) ? 0 : 2 * u - 1
        }
    }

    static func agree<T: LAPACKScalar>(_: T.Type) throws {
        for n in [1, 2, 3, 5, 8, 13, 20, 33, 50] {
            let a = try matrix(T.self, n: n, seed: UInt64(n))
            let swift = try LUFactorization(a, kernel: .swift)
            let lapack = try LUFactorization(a, kernel: .lapack)
            #expect(swift.usesSwiftKernel && !lapack.usesSwiftKernel)
            #expect(swift.rowInterchanges == lapack.rowInterchanges, "n = \(n)")
            // Entries of L and U agree to a small multiple of n ulps of the largest entry.
            let scale = max(1, normInf(swift.packedFactors.elements))
            #expect(
                maxDifference(swift.packedFactors.elements, lapack.packedFactors.elements) <= tolerance(T.self, T(8 * n)) * scale,
                "n = \(n)")
            let detS = try swift.determinant()
            let detL = try lapack.determinant()
            #expect(abs(detS - detL) <= tolerance(T.self, T(8 * n)) * max(abs(detL), T.leastNormalMagnitude), "n = \(n)")

            // Solutions of A x = b and A^T x = b, one vector and three columns at once, with a
            // zero entry in b (skipped by the substitution loops).
            let x = (0..<n).map { T($0 % 3 == 1 ? 0 : $0 + 1) }
            for transposed in [false, true] {
                let b = try (transposed ? a.transposed() : a) * x
                let xs = try swift.solving(b, transposed: transposed)
                let xl = try lapack.solving(b, transposed: transposed)
                let agreement = tolerance(T.self, T(64 * n * n)) * max(1, normInf(x))
                #expect(maxDifference(xs, xl) <= agreement, "n = \(n), transposed = \(transposed)")
                let columns = try Matrix(rows: n, columns: 3, columnMajor: b + xs + b)
                let solved = try swift.solving(columns, transposed: transposed)
                #expect(Array(solved.elements[0..<n]) == xs)
                #expect(Array(solved.elements[(2 * n)..<(3 * n)]) == xs)
            }
        }
    }

    @Test func kernelsAgreeDouble() throws { try Self.agree(Double.self) }
    @Test func kernelsAgreeFloat() throws { try Self.agree(Float.self) }

    // A zero column in the middle: both kernels report the same first zero pivot, finish the
    // factorization, and refuse to solve.
    static func singular<T: LAPACKScalar>(_: T.Type) throws {
        let a = try Matrix<T>([[2, 1, 0, 1], [1, 3, 0, 2], [4, 1, 0, 1], [1, 1, 0, 5]])
        for kernel in [LUKernel.swift, .lapack] {
            var lu = try LUFactorization<T>(dimension: 4, kernel: kernel)
            #expect(throws: LinearAlgebraError.singular(pivot: 2)) { try lu.factor(a) }
            #expect(try lu.determinant() == 0)
            var b: [T] = [1, 1, 1, 1]
            #expect(throws: LinearAlgebraError.singular(pivot: 2)) { try lu.solve(&b) }
        }
    }

    @Test func singularDouble() throws { try Self.singular(Double.self) }
    @Test func singularFloat() throws { try Self.singular(Float.self) }

    @Test func automaticChoosesByDimension() throws {
        let crossover = LUFactorization<Double>.swiftKernelCrossover
        #expect(try LUFactorization<Double>(dimension: crossover).usesSwiftKernel)
        #expect(try !LUFactorization<Double>(dimension: crossover + 1).usesSwiftKernel)
        // Refactoring at another dimension re-decides.
        var lu = try LUFactorization<Double>(dimension: 2)
        try lu.factor(try Matrix<Double>.identity(crossover + 1))
        #expect(!lu.usesSwiftKernel)
        #expect(try lu.solving([Double](repeating: 2, count: crossover + 1)) == [Double](repeating: 2, count: crossover + 1))
    }
}
