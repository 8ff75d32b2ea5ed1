// LU factorization with partial pivoting, P A = L U, through LAPACK ?getrf / ?getrs, or for small
// matrices through the Swift kernel of UnblockedLU.swift (see `LUKernel`).
//
// Implicit ODE methods solve with the same iteration matrix W = M/(gamma h) - J for every stage
// and every Newton iteration, and refactor only when h or J changes. So the factors live in a value
// that is built once per solve, refactored in place, and solved against many times; none of
// `factor(_:)`, `factor(exchanging:)` or the `solve` methods allocates once the workspace exists.
//
// Reference: E. Anderson et al., LAPACK Users' Guide, 3rd ed., SIAM 1999, section 2.4.2
// (xGETRF/xGETRS); G. H. Golub and C. F. Van Loan, Matrix Computations, 4th ed., section 3.4.

/// Which code factors and solves in an ``LUFactorization``.
///
/// Both kernels compute the same factorization (partial pivoting, first pivot of largest
/// magnitude, LAPACK's packed storage and 1-based interchanges); they differ in speed.
/// For small matrices OpenBLAS's fixed cost per call (a buffer taken from its memory pool under a
/// mutex on every ?getrs, the dispatch through its level-2 kernels) exceeds the arithmetic, and a
/// plain loop in Swift, specialised and inlined into the caller, is several times faster; for
/// large ones LAPACK's blocked, cache-aware algorithm wins.
public enum LUKernel: Sendable, Equatable {
    /// The Swift kernel for `dimension <=` ``LUFactorization/swiftKernelCrossover``, LAPACK above.
    case automatic
    /// LAPACK's ?getrf and ?getrs at every dimension.
    case lapack
    /// The Swift kernel (Golub & Van Loan, Algorithm 3.4.1) at every dimension.
    case swift
}

/// Where a factorization stands: no factors yet, usable factors, or factors with a zero pivot.
@usableFromInline
internal enum _LUState: Sendable, Equatable {
    case empty
    case factored
    case singular(pivot: Int)
}

/// The LU factorization `P A = L U` of a square matrix, kept for reuse.
///
/// Factor once, then solve as many right-hand sides as needed:
///
/// ```swift
/// var lu = try LUFactorization<Double>(dimension: 3)   // workspace: allocates once
/// try lu.factor(w)                                    // copies w in, factors: no allocation
/// try lu.solve(&rhs)                                  // rhs := W^-1 rhs: no allocation
/// ```
///
/// Allocation: ``init(dimension:)``, ``init(_:)`` and the two `solving` methods allocate.
/// ``factor(_:)`` and ``factor(exchanging:)`` do not when the dimension is unchanged; the `solve`
/// methods never do. (All of this assumes the buffers are not shared with another copy of the
/// value, as with any copy-on-write type.)
///
/// A zero pivot is reported as ``LinearAlgebraError/singular(pivot:)``, both by the factor call
/// and by any later solve, never as a crash or a silent division by zero.
public struct LUFactorization<T: LAPACKScalar>: Sendable {
    /// `L` (unit lower triangle, diagonal not stored) and `U` (upper triangle) packed in one
    /// column-major `n x n` matrix, as ?getrf leaves them.
    @usableFromInline internal var factors: Matrix<T>
    /// LAPACK's 1-based row interchanges: row `i` was swapped with row `pivots[i] - 1`.
    @usableFromInline internal var pivots: [Int32]
    /// `1 / U[k, k]`, written by the Swift kernel's factorization for its solves (unused by
    /// LAPACK's).
    @usableFromInline internal var reciprocals: [T]
    @usableFromInline internal var state: _LUState
    /// The kernel asked for; ``usesSwiftKernel`` says which one the current dimension gets.
    public let kernel: LUKernel

    /// The largest dimension that ``LUKernel/automatic`` factors and solves with the Swift
    /// kernel. Measured with Benchmarks/lu-bench (one factorization plus eight solves, the work
    /// of a Rodas5P step; best of 41 short batches on a shared 2-core x86-64 VM, OpenBLAS
    /// 0.3.21, runs repeated): LAPACK takes 2-5x the Swift kernel's time at n <= 8, 1.1-2x at
    /// n = 12-40, the two are within noise of each other at n = 48-64, and LAPACK's blocked
    /// algorithm is ahead (0.45-0.65x) from n = 80 on. Re-measured the same way (two runs):
    /// the Swift kernel 1.15x ahead at n = 48, 1.05x at 56, 1.00-1.03x at 64. Sparse iteration
    /// matrices tip it further, since the Swift elimination skips zero multipliers (the
    /// 2-D Brusselator's W, n = 50: the Swift kernel took 13 % off a whole QuadratureAdjoint
    /// gradient, Benchmarks/sens-bench). So the crossover is 64, the largest size measured where
    /// the Swift kernel was never behind on dense matrices.
    public static var swiftKernelCrossover: Int { 64 }

    /// An empty workspace for `dimension x dimension` matrices, to be filled by ``factor(_:)``
    /// or ``factor(exchanging:)``. Allocates the factor, pivot and reciprocal storage (n^2 + 2n entries).
    @inlinable
    public init(dimension: Int, kernel: LUKernel = .automatic) throws(LinearAlgebraError) {
        _ = try _lapackInt(dimension, "dimension")
        factors = try Matrix(rows: dimension, columns: dimension, repeating: 0)
        pivots = Array(repeating: 0, count: dimension)
        reciprocals = Array(repeating: 0, count: dimension)
        state = .empty
        self.kernel = kernel
    }

    /// Factors `matrix`. Throws ``LinearAlgebraError/notSquare(rows:columns:)`` or
    /// ``LinearAlgebraError/singular(pivot:)``. Allocates the pivots, and copies the matrix
    /// unless its storage is uniquely referenced (pass `consume a` to avoid the copy).
    @inlinable
    public init(_ matrix: Matrix<T>, kernel: LUKernel = .automatic) throws(LinearAlgebraError) {
        guard matrix.isSquare else {
            throw .notSquare(rows: matrix.rows, columns: matrix.columns)
        }
        _ = try _lapackInt(matrix.rows, "rows")
        factors = matrix
        pivots = Array(repeating: 0, count: matrix.rows)
        reciprocals = Array(repeating: 0, count: matrix.rows)
        state = .empty
        self.kernel = kernel
        try _factorStored()
    }

    /// Whether factoring and solving at the current ``dimension`` run the Swift kernel (else
    /// LAPACK).
    @inlinable
    public var usesSwiftKernel: Bool {
        switch kernel {
        case .automatic: return factors.rows <= Self.swiftKernelCrossover
        case .lapack: return false
        case .swift: return true
        }
    }

    /// The order `n` of the factored matrix.
    @inlinable
    public var dimension: Int { factors.rows }

    /// `true` when the value holds usable (non-singular) factors.
    @inlinable
    public var isFactored: Bool { state == .factored }

    /// `L` and `U` packed as LAPACK leaves them: `U` on and above the diagonal, the multipliers
    /// of the unit lower-triangular `L` below it. Shares storage (no copy until mutated).
    @inlinable
    public var packedFactors: Matrix<T> { factors }

    /// The row interchanges, 0-based: while factoring, row `i` was swapped with row
    /// `rowInterchanges[i]` (i = 0, 1, ... in order). Allocates.
    @inlinable
    public var rowInterchanges: [Int] { pivots.map { Int($0) - 1 } }

    // MARK: Factoring

    /// Copies `matrix` into this value's storage and factors it. Does not allocate when
    /// `matrix.rows == dimension`; a new dimension reallocates the workspace.
    ///
    /// Throws ``LinearAlgebraError/notSquare(rows:columns:)`` before any work, or
    /// ``LinearAlgebraError/singular(pivot:)`` after factoring (later solves then throw it too).
    @inlinable
    public mutating func factor(_ matrix: Matrix<T>) throws(LinearAlgebraError) {
        guard matrix.isSquare else {
            throw .notSquare(rows: matrix.rows, columns: matrix.columns)
        }
        _ = try _lapackInt(matrix.rows, "rows")
        if matrix.rows == factors.rows {
            // Copying n^2 entries is negligible next to the (2/3) n^3 flops of the factorization
            // and keeps the caller's matrix intact.
            factors.storage.withUnsafeMutableBufferPointer { destination in
                matrix.storage.withUnsafeBufferPointer { source in
                    _ = destination.update(fromContentsOf: source)
                }
            }
        } else {
            factors = matrix
            pivots = Array(repeating: 0, count: matrix.rows)
            reciprocals = Array(repeating: 0, count: matrix.rows)
        }
        try _factorStored()
    }

    /// Factors the caller's matrix in its own storage, with no copy and no allocation.
    ///
    /// The storage of `matrix` and this value's workspace are exchanged, then the workspace is
    /// factored. On return `matrix` holds the previous workspace: a matrix of the previous
    /// ``dimension`` with unspecified contents, ready to be overwritten with the next matrix to
    /// factor. Two buffers thus ping-pong between assembly and factorization, which suits a
    /// stiff integrator that rebuilds its iteration matrix every few steps.
    ///
    /// Throws ``LinearAlgebraError/notSquare(rows:columns:)`` before touching anything, or
    /// ``LinearAlgebraError/singular(pivot:)`` after factoring. Allocates only when the
    /// dimension changes (for the pivots).
    @inlinable
    public mutating func factor(exchanging matrix: inout Matrix<T>) throws(LinearAlgebraError) {
        guard matrix.isSquare else {
            throw .notSquare(rows: matrix.rows, columns: matrix.columns)
        }
        _ = try _lapackInt(matrix.rows, "rows")
        if matrix.rows != factors.rows {
            pivots = Array(repeating: 0, count: matrix.rows)
            reciprocals = Array(repeating: 0, count: matrix.rows)
        }
        swap(&factors, &matrix)
        try _factorStored()
    }

    /// Runs ?getrf (or the Swift kernel) on `factors` (already validated: square, 32-bit
    /// dimension).
    @inlinable
    internal mutating func _factorStored() throws(LinearAlgebraError) {
        state = .empty
        let n = Int32(truncatingIfNeeded: factors.rows)
        guard n > 0 else {
            state = .factored
            return
        }
        let swiftKernel = usesSwiftKernel
        let info = factors.storage.withUnsafeMutableBufferPointer { a in
            pivots.withUnsafeMutableBufferPointer { p in
                reciprocals.withUnsafeMutableBufferPointer { r in
                    // The buffers hold n > 0 entries, so their base addresses exist.
                    swiftKernel
                        ? _unblockedLUFactor(Int(n), ld: Int(n), a.baseAddress!, p.baseAddress!, r.baseAddress!)
                        : T._getrf(
                            rows: n, columns: n, a.baseAddress!, leadingDimension: n,
                            pivots: p.baseAddress!)
                }
            }
        }
        if info > 0 {
            // ?getrf finishes the factorization even after a zero pivot; U[info-1, info-1] == 0.
            state = .singular(pivot: Int(info) - 1)
            throw .singular(pivot: Int(info) - 1)
        }
        guard info == 0 else {
            throw .lapackFailure(routine: "getrf", info: Int(info))
        }
        state = .factored
    }

    // MARK: Solving

    /// Throws unless the value holds usable factors.
    @inlinable
    internal func _checkFactored() throws(LinearAlgebraError) {
        switch state {
        case .factored: return
        case .empty: throw .notFactored
        case .singular(let pivot): throw .singular(pivot: pivot)
        }
    }

    /// Overwrites `b` with the solution `x` of `A x = b` (or `A^T x = b` when `transposed`).
    /// Does not allocate.
    ///
    /// Throws ``LinearAlgebraError/dimensionMismatch(what:expected:got:)`` when
    /// `b.count != dimension`, ``LinearAlgebraError/notFactored`` before any factorization, and
    /// ``LinearAlgebraError/singular(pivot:)`` when the factored matrix was singular.
    @inlinable
    public func solve(_ b: inout [T], transposed: Bool = false) throws(LinearAlgebraError) {
        try _checkFactored()
        let n = factors.rows
        guard b.count == n else {
            throw .dimensionMismatch(what: "b.count", expected: n, got: b.count)
        }
        guard n > 0 else { return }
        try b.withUnsafeMutableBufferPointer { x throws(LinearAlgebraError) in
            try _solveChecked(x.baseAddress!, transposed: transposed)
        }
    }

    /// ``solve(_:transposed:)`` on a buffer the caller owns (a stage vector inside a larger
    /// array, a buffer of another element type rebound to `T`): no array uniqueness check, no
    /// copy. Throws as the array form does.
    @inlinable
    public func solve(_ b: UnsafeMutableBufferPointer<T>, transposed: Bool = false) throws(LinearAlgebraError) {
        try _checkFactored()
        let n = factors.rows
        guard b.count == n else {
            throw .dimensionMismatch(what: "b.count", expected: n, got: b.count)
        }
        guard n > 0 else { return }
        try _solveChecked(b.baseAddress!, transposed: transposed)
    }

    /// The solve itself, once the state and the size of the `n > 0` entries at `x` are checked.
    @inlinable
    internal func _solveChecked(_ x: UnsafeMutablePointer<T>, transposed: Bool) throws(LinearAlgebraError) {
        let n = factors.rows
        if usesSwiftKernel {
            factors.storage.withUnsafeBufferPointer { a in
                pivots.withUnsafeBufferPointer { p in
                    reciprocals.withUnsafeBufferPointer { r in
                        _unblockedLUSolve(n, ld: n, a.baseAddress!, p.baseAddress!, r.baseAddress!, x, transposed: transposed)
                    }
                }
            }
            return
        }
        let order = Int32(truncatingIfNeeded: n)
        let info = factors.storage.withUnsafeBufferPointer { a in
            pivots.withUnsafeBufferPointer { p in
                T._getrs(
                    transposed: transposed, order: order, rightHandSides: 1,
                    a.baseAddress!, leadingDimensionA: order, pivots: p.baseAddress!,
                    x, leadingDimensionB: order)
            }
        }
        guard info == 0 else {
            throw .lapackFailure(routine: "getrs", info: Int(info))
        }
    }

    /// Overwrites every column of `b` with the solution of `A X = B` (or `A^T X = B`), solving
    /// all right-hand sides in one LAPACK call. Does not allocate.
    ///
    /// Throws as the vector `solve` does, checking `b.rows` against ``dimension``.
    @inlinable
    public func solve(_ b: inout Matrix<T>, transposed: Bool = false) throws(LinearAlgebraError) {
        try _checkFactored()
        let n = factors.rows
        guard b.rows == n else {
            throw .dimensionMismatch(what: "b.rows", expected: n, got: b.rows)
        }
        let rightHandSides = try _lapackInt(b.columns, "b.columns")
        guard n > 0, rightHandSides > 0 else { return }
        if usesSwiftKernel {
            factors.storage.withUnsafeBufferPointer { a in
                pivots.withUnsafeBufferPointer { p in
                    reciprocals.withUnsafeBufferPointer { r in
                        b.storage.withUnsafeMutableBufferPointer { x in
                            for column in 0..<b.columns {
                                _unblockedLUSolve(
                                    n, ld: n, a.baseAddress!, p.baseAddress!, r.baseAddress!, x.baseAddress! + column * n,
                                    transposed: transposed)
                            }
                        }
                    }
                }
            }
            return
        }
        let order = Int32(truncatingIfNeeded: n)
        let info = factors.storage.withUnsafeBufferPointer { a in
            pivots.withUnsafeBufferPointer { p in
                b.storage.withUnsafeMutableBufferPointer { x in
                    T._getrs(
                        transposed: transposed, order: order, rightHandSides: rightHandSides,
                        a.baseAddress!, leadingDimensionA: order, pivots: p.baseAddress!,
                        x.baseAddress!, leadingDimensionB: order)
                }
            }
        }
        guard info == 0 else {
            throw .lapackFailure(routine: "getrs", info: Int(info))
        }
    }

    /// The solution of `A x = b` (or `A^T x = b`) as a new array. Allocates the result.
    @inlinable
    public func solving(_ b: [T], transposed: Bool = false) throws(LinearAlgebraError) -> [T] {
        var x = b
        try solve(&x, transposed: transposed)
        return x
    }

    /// The solution of `A X = B` (or `A^T X = B`) as a new matrix. Allocates the result.
    @inlinable
    public func solving(
        _ b: Matrix<T>, transposed: Bool = false
    ) throws(LinearAlgebraError) -> Matrix<T> {
        var x = b
        try solve(&x, transposed: transposed)
        return x
    }

    // MARK: Derived quantities

    /// The determinant, `(-1)^s * prod(U[i, i])` with `s` the number of row interchanges.
    /// Zero for a singular factorization; 1 for a 0x0 matrix. Throws
    /// ``LinearAlgebraError/notFactored`` before any factorization. The product can overflow
    /// or underflow for large `n`; prefer solves to determinants for numerical decisions.
    @inlinable
    public func determinant() throws(LinearAlgebraError) -> T {
        switch state {
        case .empty: throw .notFactored
        case .singular: return 0
        case .factored: break
        }
        let n = factors.rows
        var product: T = 1
        for i in 0..<n {
            product *= factors.storage[i &* (n &+ 1)]
            if pivots[i] != Int32(truncatingIfNeeded: i &+ 1) {
                product = -product
            }
        }
        return product
    }
}

extension Matrix where Element: LAPACKScalar {
    /// The LU factorization of this matrix, for one or many solves. Allocates (a copy of the
    /// entries and the pivots). Throws when the matrix is not square or is singular.
    @inlinable
    public func lu() throws(LinearAlgebraError) -> LUFactorization<Element> {
        try LUFactorization(self)
    }
}
