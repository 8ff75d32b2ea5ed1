// Matrix-vector and matrix-matrix products through BLAS (?gemv, ?gemm).
//
// The in-place forms follow the BLAS contract y := alpha op(A) x + beta y so that a caller can
// accumulate into a preallocated buffer, which is what an integrator's step loop needs. Two
// details are pinned down here rather than left to the BLAS build:
// - beta == 0 means the old contents of the output are ignored (set to zero first), so a stale
//   NaN in a reused buffer cannot leak into the result (0 * NaN is NaN);
// - an empty inner dimension still scales the output by beta (reference BLAS returns early and
//   would leave it untouched).

extension Matrix where Element: LAPACKScalar {
    /// `y = alpha * op(A) * x + beta * y`, where `A` is this matrix and `op(A)` is `A` or, when
    /// `transposed`, `A^T`. Does not allocate (unless `y` shares its storage, for example when
    /// the same array is passed as `x` and `y`: copy-on-write then gives BLAS the separate
    /// buffers it requires).
    ///
    /// With `beta == 0`, `y` only needs the right length; its contents are ignored.
    /// Throws ``LinearAlgebraError/dimensionMismatch(what:expected:got:)`` when `x.count` is not
    /// the column count of `op(A)` or `y.count` is not its row count.
    @inlinable
    public func multiply(
        _ x: [Element], into y: inout [Element], transposed: Bool = false,
        alpha: Element = 1, beta: Element = 0
    ) throws(LinearAlgebraError) {
        let outputCount = transposed ? columns : rows
        let inputCount = transposed ? rows : columns
        guard x.count == inputCount else {
            throw .dimensionMismatch(what: "x.count", expected: inputCount, got: x.count)
        }
        guard y.count == outputCount else {
            throw .dimensionMismatch(what: "y.count", expected: outputCount, got: y.count)
        }
        let m = try _lapackInt(rows, "rows")
        let n = try _lapackInt(columns, "columns")
        guard outputCount > 0 else { return }
        if beta == 0 {
            y.withUnsafeMutableBufferPointer { $0.update(repeating: 0) }
        }
        guard inputCount > 0 else {
            if beta != 0 && beta != 1 {
                y.withUnsafeMutableBufferPointer { buffer in
                    for k in buffer.indices { buffer[k] *= beta }
                }
            }
            return
        }
        storage.withUnsafeBufferPointer { a in
            x.withUnsafeBufferPointer { xs in
                y.withUnsafeMutableBufferPointer { ys in
                    // All three buffers are non-empty here, so their base addresses exist.
                    Element._gemv(
                        transposed: transposed, rows: m, columns: n, alpha: alpha,
                        a.baseAddress!, leadingDimension: _leadingDimension(m),
                        xs.baseAddress!, beta: beta, ys.baseAddress!)
                }
            }
        }
    }

    /// `C = alpha * op(A) * op(B) + beta * C`, where `A` is this matrix, `B` is `other`, and
    /// `op` transposes when `transposed` / `otherTransposed` is set. Does not allocate (unless
    /// `c` shares storage with `self` or `other`; copy-on-write then separates them).
    ///
    /// With `beta == 0`, `c` only needs the right shape; its contents are ignored.
    /// Throws ``LinearAlgebraError/dimensionMismatch(what:expected:got:)`` when the inner
    /// dimensions of `op(A)` and `op(B)` differ or `c` is not `op(A).rows x op(B).columns`.
    @inlinable
    public func multiply(
        _ other: Matrix<Element>, into c: inout Matrix<Element>,
        transposed: Bool = false, otherTransposed: Bool = false,
        alpha: Element = 1, beta: Element = 0
    ) throws(LinearAlgebraError) {
        let m = transposed ? columns : rows
        let k = transposed ? rows : columns
        let otherInner = otherTransposed ? other.columns : other.rows
        let n = otherTransposed ? other.rows : other.columns
        guard otherInner == k else {
            throw .dimensionMismatch(what: "inner dimension of op(B)", expected: k, got: otherInner)
        }
        guard c.rows == m else {
            throw .dimensionMismatch(what: "c.rows", expected: m, got: c.rows)
        }
        guard c.columns == n else {
            throw .dimensionMismatch(what: "c.columns", expected: n, got: c.columns)
        }
        let m32 = try _lapackInt(m, "rows of op(A)")
        let n32 = try _lapackInt(n, "columns of op(B)")
        let k32 = try _lapackInt(k, "inner dimension")
        let ldaRows = try _lapackInt(rows, "rows")
        let ldbRows = try _lapackInt(other.rows, "other.rows")
        guard m > 0, n > 0 else { return }
        if beta == 0 {
            c.fill(with: 0)
        }
        guard k > 0 else {
            if beta != 0 && beta != 1 {
                c.storage.withUnsafeMutableBufferPointer { buffer in
                    for index in buffer.indices { buffer[index] *= beta }
                }
            }
            return
        }
        storage.withUnsafeBufferPointer { a in
            other.storage.withUnsafeBufferPointer { b in
                c.storage.withUnsafeMutableBufferPointer { cs in
                    // m, n, k > 0, so every buffer is non-empty and has a base address.
                    Element._gemm(
                        transposeA: transposed, transposeB: otherTransposed,
                        m: m32, n: n32, k: k32, alpha: alpha,
                        a.baseAddress!, leadingDimensionA: _leadingDimension(ldaRows),
                        b.baseAddress!, leadingDimensionB: _leadingDimension(ldbRows),
                        beta: beta, cs.baseAddress!, leadingDimensionC: _leadingDimension(m32))
                }
            }
        }
    }

    /// `A * x` as a new array. Throws when `x.count != A.columns`. Allocates the result.
    @inlinable
    public static func * (lhs: Matrix, rhs: [Element]) throws(LinearAlgebraError) -> [Element] {
        var y = [Element](repeating: 0, count: lhs.rows)
        try lhs.multiply(rhs, into: &y)
        return y
    }

    /// `A * B` as a new matrix. Throws when `A.columns != B.rows`. Allocates the result.
    @inlinable
    public static func * (lhs: Matrix, rhs: Matrix) throws(LinearAlgebraError) -> Matrix {
        var c = Matrix(
            _uncheckedRows: lhs.rows, columns: rhs.columns,
            storage: [Element](repeating: 0, count: lhs.rows * rhs.columns))
        try lhs.multiply(rhs, into: &c)
        return c
    }
}
