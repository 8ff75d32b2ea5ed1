import DenseLinearAlgebra
import Testing

// Every numerical check runs for Double and Float through one generic body.

@Suite("LU factorization and solve")
struct LUFactorizationTests {
    // A x = b with x = [1, 2, 3]: b = [7, -8, 18].
    static func integerSystem<T: LAPACKScalar>(_: T.Type) throws {
        let a = try Matrix<T>([[2, 1, 1], [4, -6, 0], [-2, 7, 2]])
        let lu = try a.lu()
        #expect(lu.isFactored)
        #expect(lu.dimension == 3)
        let x = try lu.solving([7, -8, 18])
        expectClose(x, [1, 2, 3], tolerance: tolerance(T.self, 32))
        // det = 2(-12 - 0) - 1(8 - 0) + 1(28 - 12) = -16
        let det = try lu.determinant()
        #expect(abs(det - -16) <= tolerance(T.self, 64))
    }

    @Test func integerSolutionDouble() throws { try Self.integerSystem(Double.self) }
    @Test func integerSolutionFloat() throws { try Self.integerSystem(Float.self) }

    // A zero in the (0, 0) position: elimination without row interchanges would divide by zero.
    // x = [1, -1, 2] gives b = [0, 2, 1].
    static func needsPivoting<T: LAPACKScalar>(_: T.Type) throws {
        let a = try Matrix<T>([[0, 2, 1], [1, 1, 1], [2, 1, 0]])
        let lu = try a.lu()
        #expect(lu.rowInterchanges[0] != 0)
        let x = try lu.solving([0, 2, 1])
        expectClose(x, [1, -1, 2], tolerance: tolerance(T.self, 32))

        // P A = L U, rebuilt from the packed factors and the interchanges.
        let packed = lu.packedFactors
        let l = try Matrix<T>(rows: 3, columns: 3) { i, j in i == j ? 1 : (i > j ? packed[i, j] : 0) }
        let u = try Matrix<T>(rows: 3, columns: 3) { i, j in i <= j ? packed[i, j] : 0 }
        var pa = a
        for (i, p) in lu.rowInterchanges.enumerated() where p != i {
            for j in 0..<3 {
                let t = pa[i, j]
                pa[i, j] = pa[p, j]
                pa[p, j] = t
            }
        }
        expectClose((try l * u).elements, pa.elements, tolerance: tolerance(T.self, 32))
    }

    @Test func zeroLeadingPivotDouble() throws { try Self.needsPivoting(Double.self) }
    @Test func zeroLeadingPivotFloat() throws { try Self.needsPivoting(Float.self) }

    // Hilbert matrix H[i, j] = 1 / (i + j + 1): badly conditioned (cond_inf ~ 2.9e7 at n = 6,
    // ~ 2.8e4 at n = 4), so the solution error is large but partial-pivoting LU is backward
    // stable: the residual relative to |H| |x| stays at a modest multiple of the unit roundoff.
    static func hilbertResidual<T: LAPACKScalar>(_: T.Type, n: Int, forwardTolerance: T) throws {
        let h = try Matrix<T>(rows: n, columns: n) { i, j in 1 / T(i + j + 1) }
        let exact = [T](repeating: 1, count: n)
        let b = try h * exact
        let x = try h.lu().solving(b)
        let residual = zip(try h * x, b).map { $0 - $1 }
        var scale: T = 0
        for i in 0..<n {
            var rowSum: T = 0
            for j in 0..<n { rowSum += abs(h[i, j]) * abs(x[j]) }
            scale = max(scale, rowSum)
        }
        #expect(normInf(residual) / scale <= tolerance(T.self, T(10 * n)))
        expectClose(x, exact, tolerance: forwardTolerance)
    }

    @Test func hilbertResidualDouble() throws {
        try Self.hilbertResidual(Double.self, n: 6, forwardTolerance: 1e-7)
    }

    @Test func hilbertResidualFloat() throws {
        try Self.hilbertResidual(Float.self, n: 4, forwardTolerance: 5e-2)
    }

    static func singular<T: LAPACKScalar>(_: T.Type) throws {
        // Second row is twice the first: elimination leaves U[1, 1] == 0 exactly.
        let a = try Matrix<T>([[1, 2], [2, 4]])
        #expect(throws: LinearAlgebraError.singular(pivot: 1)) { try a.lu() }

        var lu = try LUFactorization<T>(dimension: 2)
        #expect(throws: LinearAlgebraError.singular(pivot: 1)) { try lu.factor(a) }
        #expect(!lu.isFactored)
        #expect(try lu.determinant() == 0)
        var b: [T] = [1, 1]
        #expect(throws: LinearAlgebraError.singular(pivot: 1)) { try lu.solve(&b) }

        let zero = try Matrix<T>.zeros(rows: 3, columns: 3)
        #expect(throws: LinearAlgebraError.singular(pivot: 0)) { try zero.lu() }

        // A good matrix afterwards makes the same value usable again.
        try lu.factor(try Matrix<T>([[1, 2], [3, 4]]))
        #expect(lu.isFactored)
        try lu.solve(&b)
        expectClose(b, [-1, 1], tolerance: tolerance(T.self, 32))
    }

    @Test func singularMatrixDouble() throws { try Self.singular(Double.self) }
    @Test func singularMatrixFloat() throws { try Self.singular(Float.self) }

    static func dimensionErrors<T: LAPACKScalar>(_: T.Type) throws {
        let rectangular = try Matrix<T>(rows: 2, columns: 3, repeating: 1)
        #expect(throws: LinearAlgebraError.notSquare(rows: 2, columns: 3)) { try rectangular.lu() }
        var lu = try LUFactorization<T>(dimension: 2)
        #expect(throws: LinearAlgebraError.notSquare(rows: 2, columns: 3)) {
            try lu.factor(rectangular)
        }
        var work = rectangular
        #expect(throws: LinearAlgebraError.notSquare(rows: 2, columns: 3)) {
            try lu.factor(exchanging: &work)
        }
        #expect(work == rectangular)

        var b: [T] = [1, 2]
        #expect(throws: LinearAlgebraError.notFactored) { try lu.solve(&b) }
        #expect(throws: LinearAlgebraError.notFactored) { try lu.determinant() }

        try lu.factor(try Matrix<T>([[2, 0], [0, 4]]))
        var short: [T] = [1, 2, 3]
        #expect(throws: LinearAlgebraError.dimensionMismatch(what: "b.count", expected: 2, got: 3)) {
            try lu.solve(&short)
        }
        #expect(short == [1, 2, 3])
        var wrongRows = try Matrix<T>(rows: 3, columns: 2, repeating: 1)
        #expect(throws: LinearAlgebraError.dimensionMismatch(what: "b.rows", expected: 2, got: 3)) {
            try lu.solve(&wrongRows)
        }
        #expect(throws: LinearAlgebraError.invalidDimension(what: "dimension", value: -2)) {
            try LUFactorization<T>(dimension: -2)
        }
    }

    @Test func dimensionMismatchDouble() throws { try Self.dimensionErrors(Double.self) }
    @Test func dimensionMismatchFloat() throws { try Self.dimensionErrors(Float.self) }

    // Factor once, solve several right-hand sides, as the stiff solvers do each step.
    static func reuse<T: LAPACKScalar>(_: T.Type) throws {
        let a = try Matrix<T>([[4, -2, 1], [3, 6, -4], [2, 1, 8]])
        let lu = try a.lu()
        let solutions: [[T]] = [[1, 0, 0], [1, 2, 3], [-2, 0.5, 4]]
        var columns: [T] = []
        for x in solutions {
            var b = try a * x
            columns += b
            try lu.solve(&b)
            expectClose(b, x, tolerance: tolerance(T.self, 64))
        }
        // All three at once through a matrix right-hand side.
        var bMatrix = try Matrix<T>(rows: 3, columns: 3, columnMajor: columns)
        try lu.solve(&bMatrix)
        expectClose(bMatrix.elements, solutions.flatMap { $0 }, tolerance: tolerance(T.self, 64))

        // Transposed solve: A^T x = A^T x_true.
        let xTrue: [T] = [3, -1, 2]
        let bT = try a.transposed() * xTrue
        expectClose(try lu.solving(bT, transposed: true), xTrue, tolerance: tolerance(T.self, 64))
        let bTMatrix = try Matrix<T>(rows: 3, columns: 1, columnMajor: bT)
        expectClose(
            try lu.solving(bTMatrix, transposed: true).elements, xTrue,
            tolerance: tolerance(T.self, 64))
    }

    @Test func factorReuseDouble() throws { try Self.reuse(Double.self) }
    @Test func factorReuseFloat() throws { try Self.reuse(Float.self) }

    // Refactoring keeps the workspace: the factor buffer's address does not change, and the
    // exchanging form trades buffers with the caller instead of copying.
    static func inPlace<T: LAPACKScalar>(_: T.Type) throws {
        var lu = try LUFactorization<T>(dimension: 2)
        let workspace = lu.packedFactors.withUnsafeBufferPointer { $0.baseAddress }
        try lu.factor(try Matrix<T>([[4, 3], [6, 3]]))
        #expect(lu.packedFactors.withUnsafeBufferPointer { $0.baseAddress } == workspace)
        #expect(abs(try lu.determinant() - -6) <= tolerance(T.self, 32))

        var w = try Matrix<T>([[2, 1], [1, 3]])
        let assembled = w.withUnsafeBufferPointer { $0.baseAddress }
        try lu.factor(exchanging: &w)
        #expect(lu.packedFactors.withUnsafeBufferPointer { $0.baseAddress } == assembled)
        #expect(w.withUnsafeBufferPointer { $0.baseAddress } == workspace)
        #expect(w.rows == 2 && w.columns == 2)
        expectClose(try lu.solving([3, 4]), [1, 1], tolerance: tolerance(T.self, 32))

        // Reassemble into the returned buffer and exchange again: the buffers ping-pong.
        w.withUnsafeMutableBufferPointer { entries in
            entries[0] = 5; entries[1] = 0; entries[2] = 0; entries[3] = 2
        }
        try lu.factor(exchanging: &w)
        #expect(lu.packedFactors.withUnsafeBufferPointer { $0.baseAddress } == workspace)
        expectClose(try lu.solving([10, 4]), [2, 2], tolerance: tolerance(T.self, 32))

        // A new dimension is accepted (the workspace grows).
        try lu.factor(try Matrix<T>.identity(3))
        #expect(lu.dimension == 3)
    }

    @Test func inPlaceRefactorDouble() throws { try Self.inPlace(Double.self) }
    @Test func inPlaceRefactorFloat() throws { try Self.inPlace(Float.self) }

    @Test func copiesAreIndependent() throws {
        var lu = try Matrix<Double>([[2, 0], [0, 2]]).lu()
        let saved = lu
        try lu.factor(try Matrix<Double>([[4, 0], [0, 4]]))
        #expect(try saved.solving([2, 2]) == [1, 1])
        #expect(try lu.solving([2, 2]) == [0.5, 0.5])
    }

    @Test func emptySystem() throws {
        let lu = try Matrix<Double>([]).lu()
        #expect(try lu.solving([]) == [])
        #expect(try lu.determinant() == 1)
    }
}
