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
/// nonzero of `W_k` and of the factors, all `N` directions at once, against about `4N` per
/// entry of the dense factors. The nonzeros of `W_k` and of `L` and `U` are gathered row by
/// row once per factorization (several solves follow each: eight per Rodas5P step), so that
/// the solves run without zero tests, each row's sum accumulated in registers.
///
/// The primal factors and the value part of every solve are computed exactly as ``GenericLU``
/// computes the values of its dual factorization (same pivots, same operations in the same
/// order; terms with a zero factor entry are skipped, which changes no finite result): only
/// the partials of a solve differ from GenericLU's, by rounding.
///
/// Reference: Golub & Van Loan, Matrix Computations (4th ed.), Algorithm 3.4.1 and §3.1 (LU with
/// partial pivoting, forward and back substitution); the derivative of `A⁻¹b` is
/// `A⁻¹(ḃ − Ȧ A⁻¹b)`, from `d(A⁻¹) = −A⁻¹ (dA) A⁻¹` (M. B. Giles, "An extended collection of
/// matrix derivative results for forward and reverse mode algorithmic differentiation", Oxford
/// NA report 08/01, 2008, §2).
@usableFromInline
struct FirstOrderDualLU<Scalar: DiffEqScalar> {
    @usableFromInline let n: Int
    /// `W₀`, then its packed LU factors, column-major `n x n`.
    @usableFromInline var factors: StageStorage<Double>
    /// `1 / U[i, i]`, for the partials' back substitution (multiplications instead of `n N`
    /// divisions per solve; one extra rounding, as DenseLinearAlgebra's Swift kernel).
    @usableFromInline var reciprocals: StageStorage<Double>
    /// Row `k` was exchanged with row `pivots[k] ≥ k` at elimination step `k`.
    @usableFromInline var pivots: StageStorage<Int>
    /// Sparse rows (`W` of a sparse Jacobian, such as POLLU's, has few nonzeros): row `i` of
    /// each is entries `start[i] ..< start[i + 1]`, with their columns in increasing order.
    /// `W`'s entries with a nonzero partial, their partials in `slopes` (zero values);
    @usableFromInline var slopeStart: StageStorage<Int>
    @usableFromInline var slopeColumns: StageStorage<Int>
    @usableFromInline var slopes: StageStorage<Scalar>
    /// the nonzeros of `L` below the diagonal;
    @usableFromInline var lowerStart: StageStorage<Int>
    @usableFromInline var lowerColumns: StageStorage<Int>
    @usableFromInline var lowerValues: StageStorage<Double>
    /// the nonzeros of `U` above the diagonal.
    @usableFromInline var upperStart: StageStorage<Int>
    @usableFromInline var upperColumns: StageStorage<Int>
    @usableFromInline var upperValues: StageStorage<Double>

    @usableFromInline
    init(count n: Int) {
        self.n = n
        factors = StageStorage(count: n * n)
        reciprocals = StageStorage(count: n)
        pivots = StageStorage(count: n)
        slopeStart = StageStorage(count: n + 1)
        slopeColumns = StageStorage(count: n * n)
        slopes = StageStorage(count: n * n)
        lowerStart = StageStorage(count: n + 1)
        lowerColumns = StageStorage(count: n * n)
        lowerValues = StageStorage(count: n * n)
        upperStart = StageStorage(count: n + 1)
        upperColumns = StageStorage(count: n * n)
        upperValues = StageStorage(count: n * n)
    }

    /// Copies the buffers shared with another copy of the stepper before writing them.
    @inlinable
    mutating func makeUnique() {
        if !isKnownUniquelyReferenced(&factors) { factors = factors.copy() }
        if !isKnownUniquelyReferenced(&reciprocals) { reciprocals = reciprocals.copy() }
        if !isKnownUniquelyReferenced(&pivots) { pivots = pivots.copy() }
        if !isKnownUniquelyReferenced(&slopeStart) { slopeStart = slopeStart.copy() }
        if !isKnownUniquelyReferenced(&slopeColumns) { slopeColumns = slopeColumns.copy() }
        if !isKnownUniquelyReferenced(&slopes) { slopes = slopes.copy() }
        if !isKnownUniquelyReferenced(&lowerStart) { lowerStart = lowerStart.copy() }
        if !isKnownUniquelyReferenced(&lowerColumns) { lowerColumns = lowerColumns.copy() }
        if !isKnownUniquelyReferenced(&lowerValues) { lowerValues = lowerValues.copy() }
        if !isKnownUniquelyReferenced(&upperStart) { upperStart = upperStart.copy() }
        if !isKnownUniquelyReferenced(&upperColumns) { upperColumns = upperColumns.copy() }
        if !isKnownUniquelyReferenced(&upperValues) { upperValues = upperValues.copy() }
    }

    /// Forms `W = α M + β J` (`M` column-major, `nil` for the identity) and factors its primal
    /// part. `false` when `W₀` has a non-finite entry or a zero pivot (``GenericLU``'s test).
    ///
    /// The dual parts are handled with the scalar's own operations (`primal`, `scaled(by:)`,
    /// `-`), which the compiler specializes for the dual's width; loops over the partials
    /// written against a run-time width did not unroll and cost more than the dual LU they
    /// replace.
    @inlinable
    mutating func factor(alpha: Double, beta: Double, J: UnsafePointer<Scalar>, mass: [Double]?) -> Bool {
        makeUnique()
        let n = self.n
        let a = factors.base
        var nonFinite = false
        for j in 0..<n {
            for i in 0..<n {
                let e = i &+ j &* n
                let m = mass?[e] ?? (i == j ? 1 : 0)
                // ``GenericLU``'s entry J.scaled(by: β) + Scalar(α m), value part.
                let v = J[e].primal * beta + alpha * m
                a[e] = v
                nonFinite = nonFinite || !v.isFinite
            }
        }
        if nonFinite { return false }
        let sStart = slopeStart.base, sColumn = slopeColumns.base, slope = slopes.base
        var count = 0
        for i in 0..<n {
            sStart[i] = count
            for j in 0..<n {
                let e = i &+ j &* n
                if Self.hasNonzeroPartial(J + e) {
                    let Je = J[e]
                    sColumn[count] = j
                    slope[count] = (Je - Scalar(Je.primal)).scaled(by: beta)
                    count &+= 1
                }
            }
        }
        sStart[n] = count
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
        let lStart = lowerStart.base, lColumn = lowerColumns.base, lValue = lowerValues.base
        let uStart = upperStart.base, uColumn = upperColumns.base, uValue = upperValues.base
        var lCount = 0, uCount = 0
        for i in 0..<n {
            lStart[i] = lCount
            uStart[i] = uCount
            for j in 0..<n where j != i {
                let v = a[i &+ j &* n]
                if v == 0 { continue }
                if j < i {
                    lColumn[lCount] = j
                    lValue[lCount] = v
                    lCount &+= 1
                } else {
                    uColumn[uCount] = j
                    uValue[uCount] = v
                    uCount &+= 1
                }
            }
        }
        lStart[n] = lCount
        uStart[n] = uCount
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
        let lStart = lowerStart.base, lColumn = lowerColumns.base, lValue = lowerValues.base
        let uStart = upperStart.base, uColumn = upperColumns.base, uValue = upperValues.base
        // The n values of x₀ on the stack (nothing to allocate for the sizes of dense stiff
        // problems).
        withUnsafeTemporaryAllocation(of: Double.self, capacity: Swift.max(n, 1)) { buffer in
            let x0 = buffer.baseAddress.unsafelyUnwrapped
            // x₀ = W₀⁻¹ b₀, row by row in GenericLU's order (its skipped terms are zero
            // products); the values of x are set to zero (v − v, exactly; the partials are
            // unchanged) for the partials' solve below.
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
                for e in lStart[i]..<lStart[i &+ 1] { s = s - lValue[e] * x0[lColumn[e]] }
                x0[i] = s
            }
            for i in stride(from: n &- 1, through: 0, by: -1) {
                var s = x0[i]
                for e in uStart[i]..<uStart[i &+ 1] { s = s - uValue[e] * x0[uColumn[e]] }
                x0[i] = s / a[i &* (n &+ 1)]
            }
            // b_k − W_k x₀ for all k at once. The values of x stay zero here and below
            // (slopes have zero values, and scaled(by:) and − act per component).
            let sStart = slopeStart.base, sColumn = slopeColumns.base, slope = slopes.base
            for i in 0..<n {
                var r = x[i]
                for e in sStart[i]..<sStart[i &+ 1] { r -= slope[e].scaled(by: x0[sColumn[e]]) }
                x[i] = r
            }
            // W₀⁻¹ on the partials, each row's partials in one sweep.
            for k in 0..<n where piv[k] != k {
                let t = x[k]
                x[k] = x[piv[k]]
                x[piv[k]] = t
            }
            for i in 0..<n {
                var r = x[i]
                for e in lStart[i]..<lStart[i &+ 1] { r -= x[lColumn[e]].scaled(by: lValue[e]) }
                x[i] = r
            }
            for i in stride(from: n &- 1, through: 0, by: -1) {
                var r = x[i]
                for e in uStart[i]..<uStart[i &+ 1] { r -= x[uColumn[e]].scaled(by: uValue[e]) }
                x[i] = r.scaled(by: rcp[i])
            }
            // The values: 0 + x₀ (the partials + 0, unchanged).
            for i in 0..<n { x[i] = x[i] + Scalar(x0[i]) }
        }
    }
}
