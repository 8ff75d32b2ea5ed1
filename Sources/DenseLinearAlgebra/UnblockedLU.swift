// LU factorization with partial pivoting and the triangular solves, in Swift, for small matrices.
//
// Why a second implementation next to LAPACK: the stiff integrators factor and solve with
// iteration matrices of order 2 ... 20 (ROBER, VDPOL, OREGO, HIRES, POLLU) thousands of times per
// solve. At that size the arithmetic is a few hundred flops and OpenBLAS's per-call overhead
// dominates: every ?getrs call takes a buffer from OpenBLAS's memory pool under a mutex
// (`blas_memory_alloc`) and dispatches through the level-2 kernels; a profile of stiff-bench put
// over a third of the run in OpenBLAS and pthread_mutex_(un)lock. Below the measured crossover
// (`LUFactorization.swiftKernelCrossover`, Benchmarks/lu-bench) these loops, specialised by the
// compiler for Double and Float and inlined into the caller, are faster; above it LAPACK's blocked
// algorithm wins and is used.
//
// The results follow LAPACK's conventions exactly, so the two kernels are interchangeable for the
// rest of the module: the same packed storage of L and U, the same 1-based pivots, the same
// pivot choice (the first entry of largest magnitude, as idamax), `info = k` for the first exactly
// zero pivot `U[k-1, k-1]` with the factorization carried on to the end (as ?getf2), and zero
// entries of a pivot row skipped in the elimination as the reference BLAS ?ger skips them (the
// structural zeros of sparse Jacobians such as POLLU's).
// Multipliers are formed by division rather than LAPACK's multiplication by the reciprocal: one
// rounding instead of two. The solves go the other way and multiply by reciprocals of U's
// diagonal, computed once per factorization: there the divisions sat on the solve's critical
// path (x_i needs x_{i+1}), one division latency (13-14 cycles on current x86-64, against 4 for
// a multiplication) per component of every solve, and a stiff integrator solves several times
// per factorization (eight per Rodas5P step). The price is one extra rounding per component.
//
// Reference: G. H. Golub and C. F. Van Loan, Matrix Computations, 4th ed., Johns Hopkins 2013,
// Algorithm 3.4.1 (outer-product LU with partial pivoting) and §3.1 (row- and column-oriented
// forward and back substitution); LAPACK Users' Guide, 3rd ed., xGETF2/xGETRS.

/// Factors the column-major `n x n` block at `a` (column `j` at `a + j·ld`) in place as `P A = L U`,
/// writing LAPACK's 1-based row interchanges into `pivots` and `1 / U[k, k]` into
/// `reciprocals[k]` (for the solves; not written for a zero pivot). Returns LAPACK's `info`: 0,
/// or `k > 0` when `U[k-1, k-1]` is exactly zero (the first such `k`).
///
/// Shared with StiffSolvers' fixed-size Rosenbrock integrator (whose columns are padded to the
/// state's stride, hence `ld`), so that both forms round the same.
@inlinable
package func _unblockedLUFactor<T: BinaryFloatingPoint>(
    _ n: Int, ld: Int, _ a: UnsafeMutablePointer<T>, _ pivots: UnsafeMutablePointer<Int32>,
    _ reciprocals: UnsafeMutablePointer<T>
) -> Int32 {
    var info: Int32 = 0
    for k in 0..<n {
        let columnK = a + k &* ld
        // Pivot: the first row of largest magnitude in column k at or below the diagonal.
        var p = k
        var largest = abs(columnK[k])
        var i = k &+ 1
        while i < n {
            let v = abs(columnK[i])
            if v > largest {
                largest = v
                p = i
            }
            i &+= 1
        }
        pivots[k] = Int32(truncatingIfNeeded: p &+ 1)
        if largest == 0 {
            // Nothing to eliminate in this column; record the first zero pivot and go on, as
            // ?getf2 does (the determinant of the completed factorization is then zero).
            if info == 0 { info = Int32(truncatingIfNeeded: k &+ 1) }
            continue
        }
        if p != k {
            var j = 0
            while j < n {
                let column = a + j &* ld
                let t = column[k]
                column[k] = column[p]
                column[p] = t
                j &+= 1
            }
        }
        let pivot = columnK[k]
        reciprocals[k] = 1 / pivot
        i = k &+ 1
        while i < n {
            columnK[i] /= pivot
            i &+= 1
        }
        // Rank-one update of the trailing block, one column at a time: the inner loop runs down
        // contiguous memory and vectorizes.
        var j = k &+ 1
        while j < n {
            let columnJ = a + j &* ld
            let ukj = columnJ[k]
            if ukj != 0 {
                i = k &+ 1
                while i < n {
                    columnJ[i] -= columnK[i] * ukj
                    i &+= 1
                }
            }
            j &+= 1
        }
    }
    return info
}

/// The largest order solved in row (dot-product) form; above it, column (saxpy) form. Measured
/// with Benchmarks/lu-bench, one solve, the two forms otherwise identical: the row form was
/// ahead by 10-30 % from n = 6 to 32, level below, and behind from n = 40 on (3x at n = 128).
@inlinable
package var _rowSolveLimit: Int { 32 }

/// Overwrites the `n`-vector at `b` with the solution of `A x = b` (or `Aᵀ x = b`), `A` given by
/// the output of ``_unblockedLUFactor(_:ld:_:_:_:)`` (`reciprocals[k] = 1 / U[k, k]`).
@inlinable
package func _unblockedLUSolve<T: BinaryFloatingPoint>(
    _ n: Int, ld: Int, _ a: UnsafePointer<T>, _ pivots: UnsafePointer<Int32>, _ reciprocals: UnsafePointer<T>,
    _ b: UnsafeMutablePointer<T>, transposed: Bool
) {
    if !transposed {
        // b := P b, the interchanges in the order they were made.
        for k in 0..<n {
            let p = Int(pivots[k]) &- 1
            if p != k {
                let t = b[k]
                b[k] = b[p]
                b[p] = t
            }
        }
        if n <= _rowSolveLimit {
            // L y = b (unit lower triangle) and U x = y row by row: each component accumulated
            // in a register and stored once. At these sizes the solve is a latency-bound chain
            // (x_i needs x_{i+1}), and the column form below put a store and a reload of b on
            // that chain at every level, plus vector reloads of entries just written as
            // scalars, which defeat store-to-load forwarding (a profile of a Rodas5P solve of
            // HIRES, n = 8, had those stalls next to the divisions as the hottest instructions).
            var i = 1
            while i < n {
                var s = b[i]
                var j = 0
                while j < i {
                    s -= b[j] * a[i &+ j &* ld]
                    j &+= 1
                }
                b[i] = s
                i &+= 1
            }
            i = n &- 1
            while i >= 0 {
                var s = b[i]
                var j = n &- 1
                while j > i {
                    s -= b[j] * a[i &+ j &* ld]
                    j &-= 1
                }
                b[i] = s * reciprocals[i]
                i &-= 1
            }
        } else {
            // Column by column (saxpy over contiguous columns, which vectorizes): for larger n
            // the row form's strided reads of the column-major factors cost more than it saves.
            // Each b_i receives the same subtractions in the same order as in the row form
            // (j = 0, 1, ... for L; j = n-1, n-2, ... for U), so both forms give the same bits.
            for j in 0..<n {
                let bj = b[j]
                let column = a + j &* ld
                var i = j &+ 1
                while i < n {
                    b[i] -= bj * column[i]
                    i &+= 1
                }
            }
            var j = n &- 1
            while j >= 0 {
                let column = a + j &* ld
                let bj = b[j] * reciprocals[j]
                b[j] = bj
                var i = 0
                while i < j {
                    b[i] -= bj * column[i]
                    i &+= 1
                }
                j &-= 1
            }
        }
    } else {
        // Aᵀ = Uᵀ Lᵀ P: solve Uᵀ z = b (lower triangle), then Lᵀ w = z (unit upper), then
        // x = Pᵀ w. Column j of U (or L) is row j of its transpose: contiguous dot products.
        for j in 0..<n {
            let column = a + j &* ld
            var s = b[j]
            for i in 0..<j { s -= column[i] * b[i] }
            b[j] = s * reciprocals[j]
        }
        var j = n &- 1
        while j >= 0 {
            let column = a + j &* ld
            var s = b[j]
            var i = j &+ 1
            while i < n {
                s -= column[i] * b[i]
                i &+= 1
            }
            b[j] = s
            j &-= 1
        }
        // The interchanges undone in reverse order.
        var k = n &- 1
        while k >= 0 {
            let p = Int(pivots[k]) &- 1
            if p != k {
                let t = b[k]
                b[k] = b[p]
                b[p] = t
            }
            k &-= 1
        }
    }
}
