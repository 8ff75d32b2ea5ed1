import DenseLinearAlgebra
import Testing

@Suite("gemv and gemm")
struct BLASTests {
    // A = [1 2 3; 4 5 6]
    static func sample<T: LAPACKScalar>(_: T.Type) throws -> Matrix<T> {
        try Matrix<T>([[1, 2, 3], [4, 5, 6]])
    }

    static func gemv<T: LAPACKScalar>(_: T.Type) throws {
        let a = try sample(T.self)
        var y: [T] = [0, 0]
        try a.multiply([1, 0, -1], into: &y)
        #expect(y == [-2, -2])

        // A^T [1, 1] = [5, 7, 9]
        var z: [T] = [0, 0, 0]
        try a.multiply([1, 1], into: &z, transposed: true)
        #expect(z == [5, 7, 9])

        // y = 2 A x + 3 y with y = [1, 1]: 2 [-2, -2] + [3, 3] = [-1, -1]
        var acc: [T] = [1, 1]
        try a.multiply([1, 0, -1], into: &acc, alpha: 2, beta: 3)
        #expect(acc == [-1, -1])

        // z = -A^T [1, 2] + z with z = [5, 7, 9]: A^T [1, 2] = [9, 12, 15] -> [-4, -5, -6]
        try a.multiply([1, 2], into: &z, transposed: true, alpha: -1, beta: 1)
        #expect(z == [-4, -5, -6])

        // beta = 0 ignores whatever the output held, even NaN.
        var stale: [T] = [.nan, .infinity]
        try a.multiply([1, 1, 1], into: &stale)
        #expect(stale == [6, 15])

        #expect(try a * [1, 1, 1] == [6, 15])
    }

    @Test func gemvDouble() throws { try Self.gemv(Double.self) }
    @Test func gemvFloat() throws { try Self.gemv(Float.self) }

    static func gemvErrors<T: LAPACKScalar>(_: T.Type) throws {
        let a = try sample(T.self)
        var y: [T] = [0, 0]
        #expect(throws: LinearAlgebraError.dimensionMismatch(what: "x.count", expected: 3, got: 2)) {
            try a.multiply([1, 1], into: &y)
        }
        #expect(throws: LinearAlgebraError.dimensionMismatch(what: "x.count", expected: 2, got: 3)) {
            try a.multiply([1, 1, 1], into: &y, transposed: true)
        }
        var long: [T] = [0, 0, 0]
        #expect(throws: LinearAlgebraError.dimensionMismatch(what: "y.count", expected: 2, got: 3)) {
            try a.multiply([1, 1, 1], into: &long)
        }
        #expect(throws: LinearAlgebraError.self) { try a * [1, 2] }
    }

    @Test func gemvDimensionErrorsDouble() throws { try Self.gemvErrors(Double.self) }
    @Test func gemvDimensionErrorsFloat() throws { try Self.gemvErrors(Float.self) }

    static func gemm<T: LAPACKScalar>(_: T.Type) throws {
        let a = try sample(T.self)
        let b = try Matrix<T>([[7, 8], [9, 10], [11, 12]])

        // A B
        #expect(try a * b == (try Matrix<T>([[58, 64], [139, 154]])))

        // A^T A (3x3)
        var ata = try Matrix<T>.zeros(rows: 3, columns: 3)
        try a.multiply(a, into: &ata, transposed: true)
        #expect(ata == (try Matrix<T>([[17, 22, 27], [22, 29, 36], [27, 36, 45]])))

        // A A^T (2x2)
        var aat = try Matrix<T>.zeros(rows: 2, columns: 2)
        try a.multiply(a, into: &aat, otherTransposed: true)
        #expect(aat == (try Matrix<T>([[14, 32], [32, 77]])))

        // A^T B^T = (B A)^T
        var both = try Matrix<T>.zeros(rows: 3, columns: 3)
        try a.multiply(b, into: &both, transposed: true, otherTransposed: true)
        #expect(both == (try Matrix<T>([[39, 49, 59], [54, 68, 82], [69, 87, 105]])))
        #expect(both == (try naiveProduct(b, a)).transposed())

        // C = 2 A B - C with C = I
        var c = try Matrix<T>.identity(2)
        try a.multiply(b, into: &c, alpha: 2, beta: -1)
        #expect(c == (try Matrix<T>([[115, 128], [278, 307]])))

        // beta = 0 ignores stale NaN in the output.
        var stale = try Matrix<T>(rows: 2, columns: 2, repeating: .nan)
        try a.multiply(b, into: &stale)
        #expect(stale == (try Matrix<T>([[58, 64], [139, 154]])))
    }

    @Test func gemmDouble() throws { try Self.gemm(Double.self) }
    @Test func gemmFloat() throws { try Self.gemm(Float.self) }

    static func gemmErrors<T: LAPACKScalar>(_: T.Type) throws {
        let a = try sample(T.self)
        var c = try Matrix<T>.zeros(rows: 2, columns: 2)
        #expect(throws: LinearAlgebraError.dimensionMismatch(
            what: "inner dimension of op(B)", expected: 3, got: 2)
        ) {
            try a.multiply(a, into: &c)
        }
        #expect(throws: LinearAlgebraError.dimensionMismatch(what: "c.rows", expected: 3, got: 2)) {
            try a.multiply(a, into: &c, transposed: true)
        }
        var wide = try Matrix<T>.zeros(rows: 2, columns: 3)
        #expect(throws: LinearAlgebraError.dimensionMismatch(what: "c.columns", expected: 2, got: 3)) {
            try a.multiply(a, into: &wide, otherTransposed: true)
        }
        #expect(throws: LinearAlgebraError.self) { try a * a }
    }

    @Test func gemmDimensionErrorsDouble() throws { try Self.gemmErrors(Double.self) }
    @Test func gemmDimensionErrorsFloat() throws { try Self.gemmErrors(Float.self) }

    @Test func largerProductMatchesNaiveLoop() throws {
        let a = try Matrix<Double>(rows: 17, columns: 9) { i, j in Double((i * 7 + j * 3) % 11) - 5 }
        let b = try Matrix<Double>(rows: 9, columns: 13) { i, j in Double((i * 5 + j) % 7) - 3 }
        #expect(try a * b == (try naiveProduct(a, b)))
        let x = (0..<9).map { Double($0) - 4 }
        let xm = try Matrix<Double>(rows: 9, columns: 1, columnMajor: x)
        #expect(try a * x == (try naiveProduct(a, xm)).elements)
    }

    @Test func emptyInnerDimensionStillAppliesBeta() throws {
        let a = try Matrix<Double>(rows: 2, columns: 0, repeating: 0)
        var y: [Double] = [1, 2]
        try a.multiply([], into: &y, beta: 3)
        #expect(y == [3, 6])
        var c = try Matrix<Double>(rows: 2, columns: 2, repeating: 1)
        let b = try Matrix<Double>(rows: 0, columns: 2, repeating: 0)
        try a.multiply(b, into: &c, beta: 0.5)
        #expect(c.elements == [0.5, 0.5, 0.5, 0.5])
    }

    @Test func sameArrayAsInputAndOutputIsSafe() throws {
        let a = try Matrix<Double>([[0, 1], [1, 0]])
        var v: [Double] = [1, 2]
        try a.multiply(v, into: &v)
        #expect(v == [2, 1])
    }
}
