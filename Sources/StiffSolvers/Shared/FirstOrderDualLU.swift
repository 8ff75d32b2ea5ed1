import DiffEqCore

/// The iteration matrix `W = W₀ + Σ_k ε_k W_k` of a solve on first-order dual numbers over
/// `Double` (``DiffEqScalar/firstOrderPartialCount``), factored and solved without dual
/// arithmetic: only the primal `W₀` is factored, and `W x = b` is solved as
///
///     W₀ x₀ = b₀,    W₀ x_k = b_k − W_k x₀   (k = 1 … N)
///
/// (the ε_k-parts of `(W₀ + Σ ε_k W_k)(x₀ + Σ ε_k x_k) = b₀ + Σ ε_k b_k`; ε_j ε_k = 0). This is
/// the derivative of the solve that a partial-pivoting LU in dual arithmetic computes (same
/// pivots, same numbers up to rounding), at a fraction of its cost: the dual LU spends
/// `(n³/3)(3N + 2)` flops per factorization, this one `2n³/3`; a solve costs `2N` flops per
/// nonzero of `W_k` and of the factors, all `N` directions at once in contiguous memory (a
/// dual number's partials are adjacent), against about `4N` per entry of the dense factors.
///
/// The primal factors and the value part of every solve are computed exactly as ``GenericLU``
/// computes the values of its dual factorization (same pivots, same operations in the same
/// order; terms with a zero factor entry are skipped, which changes no finite result), so the
/// primal trajectory of a dual solve is unchanged.
///
/// Reference: Golub & Van Loan, Matrix Computations (4th ed.), Algorithm 3.4.1 and §3.1 (LU with
/// partial pivoting, forward and back substitution); the derivative of `A⁻¹b` is
/// `A⁻¹(ḃ − Ȧ A⁻¹b)` (ibid. §2.6.1, or Giles, "An extended collection of matrix derivative
/// results for forward and reverse mode AD", 2008, §2.2.3).
@usableFromInline
struct FirstOrderDualLU {
    @usableFromInline let n: Int
    /// The partials per entry, `N`.
    @usableFromInline let width: Int
    /// `W₀`, then its packed LU factors, column-major `n x n`.
    @usableFromInline var factors: StageStorage<Double>
    /// `1 / U[j, j]`, for the partials' back substitution (multiplications instead of `n N`
    /// divisions per solve; one extra rounding, as DenseLinearAlgebra's Swift kernel).
    @usableFromInline var reciprocals: StageStorage<Double>
    /// Row `k` was exchanged with row `pivots[k] ≥ k` at elimination step `k`.
    @usableFromInline var pivots: StageStorage<Int>
    /// The entries of the `W_k` with a nonzero partial, column by column (`W` of a sparse
    /// Jacobian, such as POLLU's, has few): column `j`'s are `columnStart[j] ..<
    /// columnStart[j + 1]`, entry `e` in row `rows[e]` with its `N` partials at `slopes[e N]`.
    @usableFromInline var columnStart: StageStorage<Int>
    @usableFromInline var rows: StageStorage<Int>
    @usableFromInline var slopes: StageStorage<Double>

    @usableFromInline
    init(count n: Int, partials width: Int) {
        self.n = n
        self.width = width
        factors = StageStorage(count: n * n)
        reciprocals = StageStorage(count: n)
        pivots = StageStorage(count: n)
        columnStart = StageStorage(count: n + 1)
        rows = StageStorage(count: n * n)
        slopes = StageStorage(count: n * n * width)
    }

    /// Copies the buffers shared with another copy of the stepper before writing them.
    @inlinable
    mutating func makeUnique() {
        if !isKnownUniquelyReferenced(&factors) { factors = factors.copy() }
        if !isKnownUniquelyReferenced(&reciprocals) { reciprocals = reciprocals.copy() }
        if !isKnownUniquelyReferenced(&pivots) { pivots = pivots.copy() }
        if !isKnownUniquelyReferenced(&columnStart) { columnStart = columnStart.copy() }
        if !isKnownUniquelyReferenced(&rows) { rows = rows.copy() }
        if !isKnownUniquelyReferenced(&slopes) { slopes = slopes.copy() }
    }

    /// Forms `W = α M + β J` from the components of the dual `J` (`1 + N` doubles per entry,
    /// column-major; `M` column-major or `nil` for the identity) and factors its primal part.
    /// `false` when `W₀` has a non-finite entry or a zero pivot (``GenericLU``'s test).
    /// `N` is passed by the caller, where it is a compile-time constant, so the loops over the
    /// partials unroll.
    @inlinable @inline(__always)
    mutating func factor(
        alpha: Double, beta: Double, J: UnsafePointer<Double>, mass: [Double]?, partials N: Int
    ) -> Bool {
        makeUnique()
        let n = self.n, w = N &+ 1
        let a = factors.base, start = columnStart.base, row = rows.base, slope = slopes.base
        var nonFinite = false
        var count = 0
        for j in 0..<n {
            start[j] = count
            for i in 0..<n {
                let e = i &+ j &* n
                let m = mass.map { $0[e] } ?? (i == j ? 1 : 0)
                // ``GenericLU``'s entry: J.scaled(by: β) + Scalar(α m), value part.
                let v = J[e &* w] * beta + alpha * m
                a[e] = v
                nonFinite = nonFinite || !v.isFinite
                let p = J + (e &* w &+ 1)
                var nonzero = false
                for k in 0..<N { nonzero = nonzero || p[k] != 0 }
                if nonzero {
                    row[count] = i
                    let s = slope + count &* N
                    for k in 0..<N { s[k] = p[k] * beta }
                    count &+= 1
                }
            }
        }
        start[n] = count
        if nonFinite { return false }
        let piv = pivots.base, rcp = reciprocals.base
        for k in 0..<n {
            let columnK = a + k &* n
            var p = k
            var best = Swift.abs(columnK[k])
            for i in (k &+ 1)..<Swift.max(n, k &+ 1) where Swift.abs(columnK[i]) > best {
                best = Swift.abs(columnK[i])
                p = i
            }
            piv[k] = p
            guard best > 0, best.isFinite else { return false }
            if p != k {
                for j in 0..<n {
                    let column = a + j &* n
                    let t = column[k]
                    column[k] = column[p]
                    column[p] = t
                }
            }
            let pivot = columnK[k]
            rcp[k] = 1 / pivot
            for i in (k &+ 1)..<Swift.max(n, k &+ 1) { columnK[i] = columnK[i] / pivot }
            // Each entry of the trailing block is updated once per k, so going column by column
            // (unit stride) gives GenericLU's row-by-row results; a zero a[k, j] changes nothing.
            for j in (k &+ 1)..<Swift.max(n, k &+ 1) {
                let column = a + j &* n
                let akj = column[k]
                if akj == 0 { continue }
                for i in (k &+ 1)..<n { column[i] = column[i] - columnK[i] * akj }
            }
        }
        return true
    }

    /// Solves `W x = b` in place for the dual vector at `x` (`1 + N` doubles per component).
    @inlinable @inline(__always)
    func solve(_ x: UnsafeMutablePointer<Double>, partials N: Int) {
        let n = self.n, w = N &+ 1
        let a = factors.base, piv = pivots.base, rcp = reciprocals.base
        // x₀ = W₀⁻¹ b₀ on the values, row by row in GenericLU's order.
        for k in 0..<n where piv[k] != k {
            let t = x[k &* w]
            x[k &* w] = x[piv[k] &* w]
            x[piv[k] &* w] = t
        }
        for i in 0..<n {
            var s = x[i &* w]
            for j in 0..<i {
                let l = a[i &+ j &* n]
                if l != 0 { s = s - l * x[j &* w] }
            }
            x[i &* w] = s
        }
        for i in stride(from: n &- 1, through: 0, by: -1) {
            var s = x[i &* w]
            for j in (i &+ 1)..<Swift.max(n, i &+ 1) {
                let u = a[i &+ j &* n]
                if u != 0 { s = s - u * x[j &* w] }
            }
            x[i &* w] = s / a[i &* (n &+ 1)]
        }
        // b_k − W_k x₀ for all k at once, over the nonzero entries of the W_k.
        let start = columnStart.base, row = rows.base, slope = slopes.base
        for j in 0..<n {
            let xj = x[j &* w]
            if xj == 0 { continue }
            for e in start[j]..<start[j &+ 1] {
                let r = x + (row[e] &* w &+ 1)
                let s = slope + e &* N
                for k in 0..<N { r[k] -= s[k] * xj }
            }
        }
        // W₀⁻¹ on the N partial columns, column-oriented, each row's N partials in one sweep.
        for k in 0..<n where piv[k] != k {
            let r = x + (k &* w &+ 1), q = x + (piv[k] &* w &+ 1)
            for c in 0..<N {
                let t = r[c]
                r[c] = q[c]
                q[c] = t
            }
        }
        for j in 0..<n {
            let rj = x + (j &* w &+ 1)
            for i in (j &+ 1)..<Swift.max(n, j &+ 1) {
                let l = a[i &+ j &* n]
                if l == 0 { continue }
                let ri = x + (i &* w &+ 1)
                for c in 0..<N { ri[c] -= l * rj[c] }
            }
        }
        for j in stride(from: n &- 1, through: 0, by: -1) {
            let rj = x + (j &* w &+ 1)
            let d = rcp[j]
            for c in 0..<N { rj[c] *= d }
            for i in 0..<j {
                let u = a[i &+ j &* n]
                if u == 0 { continue }
                let ri = x + (i &* w &+ 1)
                for c in 0..<N { ri[c] -= u * rj[c] }
            }
        }
    }
}
