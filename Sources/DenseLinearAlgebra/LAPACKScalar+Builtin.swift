// Double -> LAPACKE_d* / cblas_d*, Float -> LAPACKE_s* / cblas_s*.
//
// The `_work` LAPACKE variants are used on purpose: the plain `LAPACKE_?getrf` first scans the
// whole matrix for NaN (an extra O(n^2) pass on every refactorization) and, for column-major
// input, the `_work` form calls the Fortran routine directly with no workspace allocation. A NaN
// in the input therefore propagates to the solution instead of being reported here; the
// integrators already treat a non-finite update as a failed step.

internal import CBLAS
internal import CLAPACKE

private let _columnMajor = LAPACK_COL_MAJOR

/// LAPACK's `trans` character: 'N' (no transpose) or 'T' (transpose).
private func _transChar(_ transposed: Bool) -> CChar {
    CChar(UInt8(ascii: transposed ? "T" : "N"))
}

private func _cblasTranspose(_ transposed: Bool) -> CBLAS_TRANSPOSE {
    transposed ? CblasTrans : CblasNoTrans
}

extension Double: LAPACKScalar {
    public static func _getrf(
        rows: Int32, columns: Int32, _ a: UnsafeMutablePointer<Double>, leadingDimension: Int32,
        pivots: UnsafeMutablePointer<Int32>
    ) -> Int32 {
        LAPACKE_dgetrf_work(_columnMajor, rows, columns, a, leadingDimension, pivots)
    }

    public static func _getrs(
        transposed: Bool, order: Int32, rightHandSides: Int32,
        _ a: UnsafePointer<Double>, leadingDimensionA: Int32, pivots: UnsafePointer<Int32>,
        _ b: UnsafeMutablePointer<Double>, leadingDimensionB: Int32
    ) -> Int32 {
        LAPACKE_dgetrs_work(
            _columnMajor, _transChar(transposed), order, rightHandSides,
            a, leadingDimensionA, pivots, b, leadingDimensionB)
    }

    public static func _gemv(
        transposed: Bool, rows: Int32, columns: Int32, alpha: Double,
        _ a: UnsafePointer<Double>, leadingDimension: Int32,
        _ x: UnsafePointer<Double>, beta: Double, _ y: UnsafeMutablePointer<Double>
    ) {
        cblas_dgemv(
            CblasColMajor, _cblasTranspose(transposed), rows, columns,
            alpha, a, leadingDimension, x, 1, beta, y, 1)
    }

    public static func _gemm(
        transposeA: Bool, transposeB: Bool, m: Int32, n: Int32, k: Int32, alpha: Double,
        _ a: UnsafePointer<Double>, leadingDimensionA: Int32,
        _ b: UnsafePointer<Double>, leadingDimensionB: Int32,
        beta: Double, _ c: UnsafeMutablePointer<Double>, leadingDimensionC: Int32
    ) {
        cblas_dgemm(
            CblasColMajor, _cblasTranspose(transposeA), _cblasTranspose(transposeB), m, n, k,
            alpha, a, leadingDimensionA, b, leadingDimensionB, beta, c, leadingDimensionC)
    }
}

extension Float: LAPACKScalar {
    public static func _getrf(
        rows: Int32, columns: Int32, _ a: UnsafeMutablePointer<Float>, leadingDimension: Int32,
        pivots: UnsafeMutablePointer<Int32>
    ) -> Int32 {
        LAPACKE_sgetrf_work(_columnMajor, rows, columns, a, leadingDimension, pivots)
    }

    public static func _getrs(
        transposed: Bool, order: Int32, rightHandSides: Int32,
        _ a: UnsafePointer<Float>, leadingDimensionA: Int32, pivots: UnsafePointer<Int32>,
        _ b: UnsafeMutablePointer<Float>, leadingDimensionB: Int32
    ) -> Int32 {
        LAPACKE_sgetrs_work(
            _columnMajor, _transChar(transposed), order, rightHandSides,
            a, leadingDimensionA, pivots, b, leadingDimensionB)
    }

    public static func _gemv(
        transposed: Bool, rows: Int32, columns: Int32, alpha: Float,
        _ a: UnsafePointer<Float>, leadingDimension: Int32,
        _ x: UnsafePointer<Float>, beta: Float, _ y: UnsafeMutablePointer<Float>
    ) {
        cblas_sgemv(
            CblasColMajor, _cblasTranspose(transposed), rows, columns,
            alpha, a, leadingDimension, x, 1, beta, y, 1)
    }

    public static func _gemm(
        transposeA: Bool, transposeB: Bool, m: Int32, n: Int32, k: Int32, alpha: Float,
        _ a: UnsafePointer<Float>, leadingDimensionA: Int32,
        _ b: UnsafePointer<Float>, leadingDimensionB: Int32,
        beta: Float, _ c: UnsafeMutablePointer<Float>, leadingDimensionC: Int32
    ) {
        cblas_sgemm(
            CblasColMajor, _cblasTranspose(transposeA), _cblasTranspose(transposeB), m, n, k,
            alpha, a, leadingDimensionA, b, leadingDimensionB, beta, c, leadingDimensionC)
    }
}
