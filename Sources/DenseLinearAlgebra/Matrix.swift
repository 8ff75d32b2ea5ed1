// A dense matrix stored column-major in one flat array, the layout LAPACK and BLAS expect, so a
// matrix is handed to C with no copy or transposition: entry (i, j) lives at `i + j * rows` and the
// leading dimension is `rows`.

/// A dense `rows x columns` matrix stored column-major.
///
/// `Matrix` is a value type with copy-on-write storage, like `Array`. It holds any element type;
/// the LAPACK and BLAS operations (``LUFactorization``,
/// ``multiply(_:into:transposed:alpha:beta:)``,
/// ``multiply(_:into:transposed:otherTransposed:alpha:beta:)``) are available when `Element`
/// is a ``LAPACKScalar`` (`Double` or `Float`).
///
/// ```swift
/// let a = try Matrix<Double>([[4, 3], [6, 3]])   // rows given as arrays
/// let x = try a.lu().solving([10, 12])           // [1, 2]
/// ```
///
/// Initializers validate their sizes and throw ``LinearAlgebraError``; the subscript traps on an
/// out-of-range index, as `Array` does.
public struct Matrix<Element> {
    /// Number of rows.
    public let rows: Int
    /// Number of columns.
    public let columns: Int
    /// Column-major entries; `storage[i + j * rows]` is entry (i, j).
    @usableFromInline internal var storage: [Element]

    /// Wraps storage whose size the caller has already checked.
    @inlinable
    internal init(_uncheckedRows rows: Int, columns: Int, storage: [Element]) {
        self.rows = rows
        self.columns = columns
        self.storage = storage
    }

    /// Validates a shape and returns its element count.
    @inlinable
    internal static func _elementCount(rows: Int, columns: Int) throws(LinearAlgebraError) -> Int {
        guard rows >= 0 else { throw .invalidDimension(what: "rows", value: rows) }
        guard columns >= 0 else { throw .invalidDimension(what: "columns", value: columns) }
        let (count, overflow) = rows.multipliedReportingOverflow(by: columns)
        guard !overflow else { throw .invalidDimension(what: "rows * columns", value: rows) }
        return count
    }

    /// A `rows x columns` matrix with every entry equal to `value`. Allocates.
    @inlinable
    public init(rows: Int, columns: Int, repeating value: Element) throws(LinearAlgebraError) {
        let count = try Self._elementCount(rows: rows, columns: columns)
        self.init(
            _uncheckedRows: rows, columns: columns, storage: Array(repeating: value, count: count))
    }

    /// A matrix over existing column-major entries (`elements[i + j * rows]` is entry (i, j)).
    /// Takes the array without copying it; throws when its count is not `rows * columns`.
    @inlinable
    public init(
        rows: Int, columns: Int, columnMajor elements: [Element]
    ) throws(LinearAlgebraError) {
        let count = try Self._elementCount(rows: rows, columns: columns)
        guard elements.count == count else {
            throw .dimensionMismatch(what: "elements.count", expected: count, got: elements.count)
        }
        self.init(_uncheckedRows: rows, columns: columns, storage: elements)
    }

    /// A matrix from its rows, written as they read on paper:
    /// `try Matrix([[1, 2], [3, 4]])` has first row `[1, 2]`. An empty array gives a 0x0 matrix.
    /// Throws ``LinearAlgebraError/raggedRows(row:expected:got:)`` when rows differ in length.
    /// Allocates (the rows are transposed into column-major order).
    public init(_ rowArrays: [[Element]]) throws(LinearAlgebraError) {
        let rowCount = rowArrays.count
        let columnCount = rowArrays.first?.count ?? 0
        for (i, row) in rowArrays.enumerated() where row.count != columnCount {
            throw .raggedRows(row: i, expected: columnCount, got: row.count)
        }
        var elements: [Element] = []
        elements.reserveCapacity(rowCount * columnCount)
        for j in 0..<columnCount {
            for i in 0..<rowCount {
                elements.append(rowArrays[i][j])
            }
        }
        self.init(_uncheckedRows: rowCount, columns: columnCount, storage: elements)
    }

    /// A matrix whose entry (i, j) is `entry(i, j)`, evaluated in column-major order. Allocates.
    ///
    /// ```swift
    /// let hilbert = try Matrix<Double>(rows: 4, columns: 4) { i, j in 1 / Double(i + j + 1) }
    /// ```
    @inlinable
    public init(
        rows: Int, columns: Int, entry: (_ row: Int, _ column: Int) -> Element
    ) throws(LinearAlgebraError) {
        let count = try Self._elementCount(rows: rows, columns: columns)
        var elements: [Element] = []
        elements.reserveCapacity(count)
        for j in 0..<columns {
            for i in 0..<rows {
                elements.append(entry(i, j))
            }
        }
        self.init(_uncheckedRows: rows, columns: columns, storage: elements)
    }

    /// `true` when `rows == columns`.
    @inlinable
    public var isSquare: Bool { rows == columns }

    /// Number of entries, `rows * columns`.
    @inlinable
    public var count: Int { storage.count }

    /// The entries in column-major order. Shares storage with the matrix (no copy until one of
    /// the two is mutated).
    @inlinable
    public var elements: [Element] { storage }

    /// Entry (`row`, `column`), both 0-based. Traps when either index is out of range.
    @inlinable
    public subscript(row: Int, column: Int) -> Element {
        get {
            precondition(row >= 0 && row < rows && column >= 0 && column < columns,
                         "Matrix index out of range")
            return storage[row &+ column &* rows]
        }
        set {
            precondition(row >= 0 && row < rows && column >= 0 && column < columns,
                         "Matrix index out of range")
            storage[row &+ column &* rows] = newValue
        }
    }

    /// Sets every entry to `value` without reallocating (when the storage is not shared).
    @inlinable
    public mutating func fill(with value: Element) {
        storage.withUnsafeMutableBufferPointer { buffer in
            buffer.update(repeating: value)
        }
    }

    /// The transpose, `columns x rows`. Allocates.
    @inlinable
    public func transposed() -> Matrix<Element> {
        var elements: [Element] = []
        elements.reserveCapacity(storage.count)
        for i in 0..<rows {
            for j in 0..<columns {
                elements.append(storage[i &+ j &* rows])
            }
        }
        return Matrix(_uncheckedRows: columns, columns: rows, storage: elements)
    }

    /// Row `row` as an array. Allocates; traps when `row` is out of range.
    @inlinable
    public func row(_ row: Int) -> [Element] {
        precondition(row >= 0 && row < rows, "Matrix row index out of range")
        return (0..<columns).map { storage[row &+ $0 &* rows] }
    }

    /// Column `column` as an array. Allocates; traps when `column` is out of range.
    @inlinable
    public func column(_ column: Int) -> [Element] {
        precondition(column >= 0 && column < columns, "Matrix column index out of range")
        let start = column &* rows
        return Array(storage[start..<(start &+ rows)])
    }

    /// Calls `body` with the column-major entries (leading dimension `rows`).
    @inlinable
    public func withUnsafeBufferPointer<R, E: Error>(
        _ body: (UnsafeBufferPointer<Element>) throws(E) -> R
    ) throws(E) -> R {
        try storage.withUnsafeBufferPointer(body)
    }

    /// Calls `body` with mutable access to the column-major entries (leading dimension `rows`),
    /// the fast way to assemble a matrix in a hot loop: no bounds checks per entry and no
    /// allocation while the storage is not shared with another copy.
    @inlinable
    public mutating func withUnsafeMutableBufferPointer<R, E: Error>(
        _ body: (inout UnsafeMutableBufferPointer<Element>) throws(E) -> R
    ) throws(E) -> R {
        try storage.withUnsafeMutableBufferPointer(body)
    }
}

// Sendable must be declared beside the type (a conditional conformance of a generic struct).
extension Matrix: Sendable where Element: Sendable {}

extension Matrix where Element: AdditiveArithmetic {
    /// A `rows x columns` matrix of zeros. Allocates.
    @inlinable
    public static func zeros(rows: Int, columns: Int) throws(LinearAlgebraError) -> Matrix {
        try Matrix(rows: rows, columns: columns, repeating: .zero)
    }

    /// Entrywise sum. Throws when the shapes differ. Allocates.
    @inlinable
    public static func + (lhs: Matrix, rhs: Matrix) throws(LinearAlgebraError) -> Matrix {
        try lhs._checkSameShape(rhs)
        var result = lhs
        result.storage.withUnsafeMutableBufferPointer { r in
            rhs.storage.withUnsafeBufferPointer { b in
                for k in r.indices { r[k] += b[k] }
            }
        }
        return result
    }

    /// Entrywise difference. Throws when the shapes differ. Allocates.
    @inlinable
    public static func - (lhs: Matrix, rhs: Matrix) throws(LinearAlgebraError) -> Matrix {
        try lhs._checkSameShape(rhs)
        var result = lhs
        result.storage.withUnsafeMutableBufferPointer { r in
            rhs.storage.withUnsafeBufferPointer { b in
                for k in r.indices { r[k] -= b[k] }
            }
        }
        return result
    }

    @inlinable
    internal func _checkSameShape(_ other: Matrix) throws(LinearAlgebraError) {
        guard rows == other.rows else {
            throw .dimensionMismatch(what: "rows", expected: rows, got: other.rows)
        }
        guard columns == other.columns else {
            throw .dimensionMismatch(what: "columns", expected: columns, got: other.columns)
        }
    }
}

extension Matrix where Element: Numeric {
    /// The `n x n` identity matrix. Allocates.
    @inlinable
    public static func identity(_ n: Int) throws(LinearAlgebraError) -> Matrix {
        var result = try Matrix(rows: n, columns: n, repeating: .zero)
        for i in 0..<n {
            result.storage[i &* (n &+ 1)] = 1
        }
        return result
    }

    /// Every entry multiplied by `scalar`. Allocates.
    @inlinable
    public static func * (scalar: Element, matrix: Matrix) -> Matrix {
        var result = matrix
        result.storage.withUnsafeMutableBufferPointer { r in
            for k in r.indices { r[k] *= scalar }
        }
        return result
    }
}
