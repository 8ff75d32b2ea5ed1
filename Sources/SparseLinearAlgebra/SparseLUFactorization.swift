import CKLUShim

/// Why a sparse LU operation refused its input or could not finish.
public enum SparseLUError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The pattern is not compressed sparse column (starts not increasing from 0, a row index
    /// out of range, rows not strictly increasing within a column) or a size is negative.
    case invalidPattern(String)
    /// A value array or right-hand side has the wrong length.
    case dimensionMismatch(what: String, expected: Int, got: Int)
    /// A zero pivot: the matrix is singular (or numerically so at KLU's pivot tolerance).
    case singular
    /// A value is NaN or infinite.
    case nonFinite
    /// KLU could not allocate its factors.
    case outOfMemory
    /// KLU's integer arithmetic overflowed (the factors are too large).
    case tooLarge
    /// A solve was requested before a successful factorization.
    case notFactored

    public var description: String {
        switch self {
        case .invalidPattern(let why): return "invalid sparsity pattern: \(why)"
        case .dimensionMismatch(let what, let expected, let got): return "\(what) is \(got), expected \(expected)"
        case .singular: return "the matrix is singular (KLU found a zero pivot)"
        case .nonFinite: return "the matrix has a NaN or infinite entry"
        case .outOfMemory: return "KLU ran out of memory"
        case .tooLarge: return "the sparse LU factors are too large for KLU's integers"
        case .notFactored: return "the sparse LU holds no factors; call factor(_:) first"
        }
    }

    @usableFromInline
    static func from(status: Int32) -> SparseLUError {
        switch Int(status) {
        case SDQKLU_SINGULAR: return .singular
        case SDQKLU_OUT_OF_MEMORY: return .outOfMemory
        case SDQKLU_TOO_LARGE: return .tooLarge
        case SDQKLU_NOT_FACTORED: return .notFactored
        default: return .invalidPattern("rejected by KLU")
        }
    }
}

/// The LU factorization of a square sparse matrix with a fixed pattern, by SuiteSparse's KLU
/// (T. A. Davis and E. Palamadai Natarajan, "Algorithm 907: KLU, a direct sparse solver for
/// circuit simulation problems", ACM TOMS 37 (2010) 36:1-36:17): block triangular form, AMD
/// ordering and Gilbert-Peierls left-looking LU with partial pivoting.
///
/// The pattern is analysed once (``init(count:columnStarts:rowIndices:)``); each
/// ``factor(_:)`` of new values with that pattern reuses the analysis and, after the first, the
/// pivot order (`klu_refactor`: numeric work only). When the reused order gives a poor pivot,
/// judged by KLU's reciprocal condition estimate `min |u_kk| / max |u_kk|` below
/// ``minimumReciprocalCondition`` (`uround^(2/3)`, the test SUNDIALS' KLU linear solver applies
/// after its refactorizations, SUNDIALS documentation, SUNLinSol_KLU), it pivots afresh.
///
/// Owns C memory, so it is a class (freed in `deinit`) and not `Sendable`: one per solve.
/// Nothing prints; every failure is a thrown ``SparseLUError``.
public final class SparseLUFactorization {
    public let count: Int
    public let nonzeroCount: Int
    @usableFromInline let handle: OpaquePointer
    @usableFromInline var factored = false
    /// Factorizations that reused the pivot order, and those that pivoted afresh.
    @usableFromInline var _refactorizations = 0
    @usableFromInline var _fullFactorizations = 0
    public var refactorizations: Int { _refactorizations }
    public var fullFactorizations: Int { _fullFactorizations }

    /// `uround^(2/3)` for `Double`: `(2⁻⁵²)^(2/3) = 2^(−104/3)`.
    public static let minimumReciprocalCondition = 3.666852862501036e-11

    /// Analyses the `count × count` pattern whose column `j` has rows
    /// `rowIndices[columnStarts[j] ..< columnStarts[j + 1]]` (strictly increasing).
    public init(count: Int, columnStarts: [Int], rowIndices: [Int]) throws(SparseLUError) {
        guard count >= 0 else { throw .invalidPattern("negative dimension \(count)") }
        guard columnStarts.count == count + 1 else {
            throw .dimensionMismatch(what: "columnStarts.count", expected: count + 1, got: columnStarts.count)
        }
        guard columnStarts.last == rowIndices.count else {
            throw .invalidPattern("columnStarts[\(count)] = \(columnStarts.last ?? 0) but there are \(rowIndices.count) row indices")
        }
        let starts = columnStarts.map { Int64($0) }
        let rows = rowIndices.map { Int64($0) }
        var status: Int32 = 0
        guard let h = starts.withUnsafeBufferPointer({ s in
            rows.withUnsafeBufferPointer { r in sdqklu_analyze(Int64(count), s.baseAddress, r.baseAddress, &status) }
        }) else {
            throw Int(status) == SDQKLU_INVALID
                ? .invalidPattern("column starts must increase from 0 and rows must be in range and increasing within each column")
                : SparseLUError.from(status: status)
        }
        self.count = count
        nonzeroCount = rowIndices.count
        handle = h
    }

    deinit { sdqklu_free(handle) }

    /// Whether a successful ``factor(_:)`` holds factors.
    public var isFactored: Bool { factored }

    /// The nonzeros of the current factors `L` and `U` (0 before a factorization): the memory
    /// the factorization needs beyond the matrix, in entries.
    public var factorNonzeroCount: Int { Int(sdqklu_factor_nonzeros(handle)) }

    /// Factors the matrix with `values` in the pattern's order (`nonzeroCount` entries).
    @inlinable
    public func factor(_ values: UnsafeBufferPointer<Double>) throws(SparseLUError) {
        factored = false
        guard values.count == nonzeroCount else {
            throw .dimensionMismatch(what: "values.count", expected: nonzeroCount, got: values.count)
        }
        var finite = true
        for v in values where !v.isFinite { finite = false }
        guard finite else { throw .nonFinite }
        var reused: Int32 = 0
        let status = sdqklu_factor(handle, values.baseAddress, Self.minimumReciprocalCondition, &reused)
        guard Int(status) == SDQKLU_OK else { throw SparseLUError.from(status: status) }
        if reused != 0 { _refactorizations += 1 } else { _fullFactorizations += 1 }
        factored = true
    }

    /// Solves `A x = b` in place (`count` entries).
    @inlinable
    public func solve(_ b: UnsafeMutableBufferPointer<Double>) throws(SparseLUError) {
        guard factored else { throw .notFactored }
        guard b.count == count else { throw .dimensionMismatch(what: "b.count", expected: count, got: b.count) }
        let status = sdqklu_solve(handle, b.baseAddress, 1)
        guard Int(status) == SDQKLU_OK else { throw SparseLUError.from(status: status) }
    }
}
