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
struct FirstOrderDualLU<Scalar: DiffEqScalar> {
    @usableFromInline let n: Int
    /// `W₀`, then its packed LU factors, column-major `n x n`.
    @usableFromInline var factors: StageStorage<Double>
    /// `1 / U[j, j]`, for the partials' back substitution (multiplications instead of `n N`
    /// divisions per solve; one extra rounding, as DenseLinearAlgebra's Swift kernel).
    @usableFromInline var reciprocals: StageStorage<Double>
    /// Row `k` was exchanged with row `pivots[k] ≥ k` at elimination step `k`.
    @usableFromInline var pivots: StageStorage<Int>
    /// The entries of `W` with a nonzero partial, column by column (`W` of a sparse Jacobian,
    /// such as POLLU's, has few): column `j`'s are `columnStart[j] ..< columnStart[j + 1]`,
    /// entry `e` in row `rows[e]`, its partials in `slopes[e]` (whose value is zero).
    @usableFromInline var columnStart: StageStorage<Int>
    @usableFromInline var rows: StageStorage<Int>
    @usableFromInline var slopes: StageStorage<Scalar>

    @usableFromInline
    init(count n: Int) {
        self.n = n
        factors = StageStorage(count: n * n)
        reciprocals = StageStorage(count: n)
        pivots = StageStorage(count: n)
        columnStart = StageStorage(count: n + 1)
        rows = StageStorage(count: n * n)
        slopes = StageStorage(count: n * n)
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

    /// Forms `W = α M + β J` (`M` column-major, `nil` for the identity) and factors its primal
    /// part. `false` when `W₀` has a non-finite entry or a zero pivot (``GenericLU``'s test).
    ///
    /// Everything is done with the scalar's own operations (`primal`, `scaled(by:)`, `-`), which
    /// the compiler specializes for the dual's width; loops over the partials written against a
    /// run-time width did not unroll and cost more than the dual LU they replace.
    @inlinable
    mutating func factor(alpha: Double, beta: Double, J: UnsafePointer<Scalar>, mass: [Double]?) -> Bool {
        makeUnique()
        let n = self.n
        let a = factors.base, start = columnStart.base, row = rows.base, slope = slopes.base
        var nonFinite = false
        var count = 0
        for j in 0..<n {
            start[j] = count
            for i in 0..<n {
                let e = i &+ j &* n
                let m = mass?[e] ?? (i == j ? 1 : 0)
                let Je = J[e]
                // ``GenericLU``'s entry J.scaled(by: β) + Scalar(α m), value part.
                let v = Je.primal * beta + alpha * m
                a[e] = v
                nonFinite = nonFinite || !v.isFinite
                if Self.hasNonzeroPartial(J + e) {
                    row[count] = i
                    slope[count] = (Je - Scalar(Je.primal)).scaled(by: beta)
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

    /// Whether a partial of the dual at `x` is nonzero (or NaN): an OR of the partials' bit
    /// patterns without the sign bit (−0 is zero), read through the layout that
    /// ``DiffEqScalar/firstOrderPartialCount`` promises (value, then the partials). The exact
    /// test through the scalar's operations, a sum of squares of the scaled partials, was a
    /// serial chain of `N` additions per entry of `W`: 5-12% of a POLLU gradient.
    @inlinable @inline(__always)
    static func hasNonzeroPartial(_ x: UnsafePointer<Scalar>) -> Bool {
        let count = MemoryLayout<Scalar>.size / MemoryLayout<UInt64>.size
        return UnsafeRawPointer(x).withMemoryRebound(to: UInt64.self, capacity: count) { bits in
            var any: UInt64 = 0
            for c in 1..<Swift.max(count, 1) { any |= bits[c] << 1 }
            return any != 0
        }
    }

    /// Solves `W x = b` in place for the `n` dual numbers at `x`.
    @inlinable
    func solve(_ x: UnsafeMutablePointer<Scalar>) {
        let n = self.n
        let a = factors.base, piv = pivots.base, rcp = reciprocals.base
        // The n values of x₀ on the stack (nothing to allocate for the sizes of dense stiff
        // problems).
        withUnsafeTemporaryAllocation(of: Double.self, capacity: Swift.max(n, 1)) { buffer in
            let x0 = buffer.baseAddress.unsafelyUnwrapped
            // x₀ = W₀⁻¹ b₀, row by row in GenericLU's order; the values of x are set to zero
            // (v − v, exactly; the partials are unchanged) for the partials' solve below.
            for i in 0..<n {
                let v = x[i].primal
                x0[i] = v
                x[i] = x[i] - Scalar(v)
            }
            for k in 0..<n where piv[k] != k {
                let t = x0[k]
                x0[k] = x0[piv[k]]
                x0[piv[k]] = t
            }
            for i in 0..<n {
                var s = x0[i]
                for j in 0..<i {
                    let l = a[i &+ j &* n]
                    if l != 0 { s = s - l * x0[j] }
                }
                x0[i] = s
            }
            for i in stride(from: n &- 1, through: 0, by: -1) {
                var s = x0[i]
                for j in (i &+ 1)..<Swift.max(n, i &+ 1) {
                    let u = a[i &+ j &* n]
                    if u != 0 { s = s - u * x0[j] }
                }
                x0[i] = s / a[i &* (n &+ 1)]
            }
            // b_k − W_k x₀ for all k at once, over the entries of W with nonzero partials. The
            // values of x stay zero here and below (slopes have zero values, and scaled(by:)
            // and − act per component).
            let start = columnStart.base, row = rows.base, slope = slopes.base
            for j in 0..<n {
                let xj = x0[j]
                if xj == 0 { continue }
                for e in start[j]..<start[j &+ 1] {
                    x[row[e]] -= slope[e].scaled(by: xj)
                }
            }
            // W₀⁻¹ on the partials, each row's partials in one sweep (column-oriented forward
            // and back substitution with the primal factors).
            for k in 0..<n where piv[k] != k {
                let t = x[k]
                x[k] = x[piv[k]]
                x[piv[k]] = t
            }
            for j in 0..<n {
                let rj = x[j]
                for i in (j &+ 1)..<Swift.max(n, j &+ 1) {
                    let l = a[i &+ j &* n]
                    if l != 0 { x[i] -= rj.scaled(by: l) }
                }
            }
            for j in stride(from: n &- 1, through: 0, by: -1) {
                let rj = x[j].scaled(by: rcp[j])
                x[j] = rj
                for i in 0..<j {
                    let u = a[i &+ j &* n]
                    if u != 0 { x[i] -= rj.scaled(by: u) }
                }
            }
            // The values: 0 + x₀ (the partials + 0, unchanged).
            for i in 0..<n { x[i] = x[i] + Scalar(x0[i]) }
        }
    }
}
