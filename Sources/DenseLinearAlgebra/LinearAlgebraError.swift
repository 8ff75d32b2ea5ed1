/// Why a dense linear-algebra operation refused its input or could not finish.
///
/// Every public entry point that takes sizes or operands from a caller checks them first and
/// throws one of these before touching LAPACK or BLAS, so bad input never reaches C (where it
/// would print to stderr or abort). Indexing a matrix out of range is the one exception: like
/// `Array`, the subscript traps, because an index is a programming error rather than data.
public enum LinearAlgebraError: Error, Equatable, CustomStringConvertible, Sendable {
    /// LU factorization found an exactly zero pivot: `U[pivot, pivot] == 0` (0-based), so the
    /// matrix is singular and no solve is possible. LAPACK still completes the factorization,
    /// which is why the determinant of a singular factorization is available (and zero).
    case singular(pivot: Int)
    /// An operand has the wrong size for the operation (`what` names it, e.g. `"x.count"`).
    case dimensionMismatch(what: String, expected: Int, got: Int)
    /// The operation needs a square matrix.
    case notSquare(rows: Int, columns: Int)
    /// A dimension is negative, its element count overflows `Int`, or it exceeds the 32-bit
    /// integer range of the LAPACK/BLAS interface.
    case invalidDimension(what: String, value: Int)
    /// The row arrays given to ``Matrix/init(_:)`` do not all have the same length.
    case raggedRows(row: Int, expected: Int, got: Int)
    /// A solve was requested from an ``LUFactorization`` that holds no factors yet.
    case notFactored
    /// LAPACK reported an illegal argument (`info < 0`). The checks above should make this
    /// unreachable; if it appears, it is a bug in this module, reported rather than crashed on.
    case lapackFailure(routine: String, info: Int)

    public var description: String {
        switch self {
        case .singular(let pivot):
            return "the matrix is singular: pivot \(pivot) of the LU factorization is exactly zero"
        case .dimensionMismatch(let what, let expected, let got):
            return "\(what) is \(got), expected \(expected)"
        case .notSquare(let rows, let columns):
            return "the matrix must be square, got \(rows)x\(columns)"
        case .invalidDimension(let what, let value):
            return "invalid dimension \(what) = \(value)"
        case .raggedRows(let row, let expected, let got):
            return "row \(row) has \(got) entries, expected \(expected)"
        case .notFactored:
            return "the LU factorization holds no factors; call factor(_:) first"
        case .lapackFailure(let routine, let info):
            return "\(routine) rejected argument \(-info) (info = \(info))"
        }
    }
}

// MARK: - Dimension checks shared by the BLAS and LAPACK wrappers

/// Converts a validated dimension to the 32-bit integer LAPACKE and OpenBLAS take (both are
/// built with 32-bit indices on Debian: `lapack_int` = `int32_t`, `blasint` = `int`).
@inlinable
internal func _lapackInt(_ value: Int, _ what: String) throws(LinearAlgebraError) -> Int32 {
    guard value >= 0, let converted = Int32(exactly: value) else {
        throw .invalidDimension(what: what, value: value)
    }
    return converted
}

/// Leading dimension for a column-major block with `rows` rows. LAPACK and BLAS require
/// `ld >= max(1, rows)` even when the block is empty.
@inlinable
internal func _leadingDimension(_ rows: Int32) -> Int32 {
    rows > 1 ? rows : 1
}
