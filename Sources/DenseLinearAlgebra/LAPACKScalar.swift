// The scalar types LAPACK and BLAS can work on, and the one place the generic Swift code meets the
// type-specific C routines (d* for Double, s* for Float).
//
// The generic algorithms (LU, gemv, gemm) are written once over `LAPACKScalar` and marked
// `@inlinable`, so a client specializes them for `Double` or `Float` and calls the conformance
// below directly: no witness-table dispatch on the hot path. The conformances themselves are not
// inlinable on purpose: the C modules stay an implementation detail of this module (imported
// `internal`), and one extra direct call is nothing next to an O(n^2) or O(n^3) kernel.

/// A real floating-point type with LAPACK and BLAS routines: `Double` (d*) and `Float` (s*).
///
/// The underscored requirements are the raw column-major kernels; they take pointers and 32-bit
/// dimensions that the public API has already validated. Call the public API
/// (``LUFactorization``, ``Matrix/multiply(_:into:transposed:alpha:beta:)``)
/// instead; do not conform other types.
public protocol LAPACKScalar: BinaryFloatingPoint, Sendable {
    /// LU factorization with partial pivoting of the `rows x columns` column-major block at `a`
    /// (`?getrf`). Returns LAPACK's `info`: 0 on success, `k > 0` when `U[k-1, k-1]` is zero,
    /// `< 0` for an illegal argument.
    static func _getrf(
        rows: Int32, columns: Int32, _ a: UnsafeMutablePointer<Self>, leadingDimension: Int32,
        pivots: UnsafeMutablePointer<Int32>
    ) -> Int32

    /// Solves `A X = B` (or `A^T X = B` when `transposed`) from the output of ``_getrf``
    /// (`?getrs`), overwriting the `order x rightHandSides` block `b` with `X`. Returns
    /// LAPACK's `info`.
    static func _getrs(
        transposed: Bool, order: Int32, rightHandSides: Int32,
        _ a: UnsafePointer<Self>, leadingDimensionA: Int32, pivots: UnsafePointer<Int32>,
        _ b: UnsafeMutablePointer<Self>, leadingDimensionB: Int32
    ) -> Int32

    /// `y = alpha * op(A) * x + beta * y` with `A` a `rows x columns` column-major block and unit
    /// strides (`cblas_?gemv`).
    static func _gemv(
        transposed: Bool, rows: Int32, columns: Int32, alpha: Self,
        _ a: UnsafePointer<Self>, leadingDimension: Int32,
        _ x: UnsafePointer<Self>, beta: Self, _ y: UnsafeMutablePointer<Self>
    )

    /// `C = alpha * op(A) * op(B) + beta * C` with `C` an `m x n` block and `k` the inner
    /// dimension, all column-major (`cblas_?gemm`).
    static func _gemm(
        transposeA: Bool, transposeB: Bool, m: Int32, n: Int32, k: Int32, alpha: Self,
        _ a: UnsafePointer<Self>, leadingDimensionA: Int32,
        _ b: UnsafePointer<Self>, leadingDimensionB: Int32,
        beta: Self, _ c: UnsafeMutablePointer<Self>, leadingDimensionC: Int32
    )
}
