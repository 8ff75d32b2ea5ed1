import DenseLinearAlgebra
import Testing

@Suite("Matrix storage and construction")
struct MatrixTests {
    @Test func rowArraysAreStoredColumnMajor() throws {
        let a = try Matrix<Double>([[1, 2, 3], [4, 5, 6]])
        #expect(a.rows == 2)
        #expect(a.columns == 3)
        #expect(a.elements == [1, 4, 2, 5, 3, 6])
        #expect(a[1, 0] == 4)
        #expect(a[0, 2] == 3)
        #expect(a.row(1) == [4, 5, 6])
        #expect(a.column(2) == [3, 6])
    }

    @Test func columnMajorInitializerAndGenerator() throws {
        let a = try Matrix<Float>(rows: 2, columns: 2, columnMajor: [1, 3, 2, 4])
        #expect(a == (try Matrix<Float>([[1, 2], [3, 4]])))
        let g = try Matrix<Int>(rows: 2, columns: 3) { i, j in 10 * i + j }
        #expect(g == (try Matrix<Int>([[0, 1, 2], [10, 11, 12]])))
    }

    @Test func storageIsGenericOverAnyElement() throws {
        var names = try Matrix<String>(rows: 2, columns: 2, repeating: "")
        names[0, 1] = "b"
        names[1, 0] = "c"
        #expect(names.elements == ["", "c", "b", ""])
        #expect(names.transposed().elements == ["", "b", "c", ""])
    }

    @Test func invalidShapesThrow() {
        #expect(throws: LinearAlgebraError.raggedRows(row: 1, expected: 2, got: 3)) {
            try Matrix<Double>([[1, 2], [3, 4, 5]])
        }
        #expect(throws: LinearAlgebraError.invalidDimension(what: "rows", value: -1)) {
            try Matrix<Double>(rows: -1, columns: 2, repeating: 0)
        }
        #expect(throws: LinearAlgebraError.invalidDimension(what: "columns", value: -3)) {
            try Matrix<Double>.zeros(rows: 2, columns: -3)
        }
        #expect(throws: LinearAlgebraError.dimensionMismatch(what: "elements.count", expected: 4, got: 3)) {
            try Matrix<Double>(rows: 2, columns: 2, columnMajor: [1, 2, 3])
        }
        #expect(throws: LinearAlgebraError.self) {
            try Matrix<Double>(rows: Int.max, columns: 2, repeating: 0)
        }
    }

    @Test func emptyMatrices() throws {
        let empty = try Matrix<Double>([])
        #expect(empty.rows == 0 && empty.columns == 0 && empty.count == 0)
        let wide = try Matrix<Double>(rows: 0, columns: 4, repeating: 1)
        #expect(wide.count == 0)
        #expect(wide.transposed().rows == 4)
    }

    @Test func identityTransposeAndArithmetic() throws {
        let i3 = try Matrix<Double>.identity(3)
        #expect(i3.elements == [1, 0, 0, 0, 1, 0, 0, 0, 1])
        let a = try Matrix<Double>([[1, 2], [3, 4]])
        #expect(a.transposed() == (try Matrix<Double>([[1, 3], [2, 4]])))
        #expect(try a + a == 2 * a)
        #expect(try a - a == (try Matrix<Double>.zeros(rows: 2, columns: 2)))
        #expect(throws: LinearAlgebraError.dimensionMismatch(what: "rows", expected: 2, got: 3)) {
            try a + Matrix<Double>.identity(3)
        }
    }

    @Test func fillKeepsTheBuffer() throws {
        var a = try Matrix<Double>(rows: 3, columns: 3, repeating: 1)
        let before = a.withUnsafeBufferPointer { $0.baseAddress }
        a.fill(with: 7)
        let after = a.withUnsafeBufferPointer { $0.baseAddress }
        #expect(before == after)
        #expect(a.elements.allSatisfy { $0 == 7 })
    }

    @Test func valueSemantics() throws {
        let a = try Matrix<Double>([[1, 2], [3, 4]])
        var b = a
        b[0, 0] = 99
        #expect(a[0, 0] == 1)
        #expect(b[0, 0] == 99)
        #expect(a.description == "[1.0 2.0]\n[3.0 4.0]")
    }
}
