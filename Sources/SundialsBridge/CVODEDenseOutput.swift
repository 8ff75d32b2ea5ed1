import DiffEqCore

extension PiecewisePolynomial where Scalar == Double {
    /// Appends CVODE's own interpolating polynomial of a step, the one `CVodeGetDky` (and so
    /// `saveat`) evaluates: after a step of size `h` at order `q` that reached `end`, the
    /// Nordsieck array `z_j = h^j y^(j)(end) / j!` (`j = 0...q`, concatenated in `z`) defines
    /// `p(t) = Σ_j z_j ((t − end)/h)^j` (CVODES User Guide, SUNDIALS 6.x, §2.1 and `CVodeGetDky`;
    /// Byrne & Hindmarsh 1975), here over the interval from `start` to `end` (the whole step, or
    /// its part after a root return or before one). Where a cubic Hermite through the step ends
    /// was 568 tolerances off between the steps of DETEST A3 at reltol 1e-10, this polynomial is
    /// of the order CVODE uses (issue #13).
    ///
    /// In `θ = (t − start)/H`, `H = end − start`: `p = Σ_j w_j (θ − 1)^j` with `w_j = z_j (H/h)^j`,
    /// shifted to powers of `θ` (`a_q`, Taylor shift by repeated synthetic division), then put in
    /// the form of ``PiecewisePolynomial``: `u₀ = p(start) = a_0`, `u₁ = z_0` (the state CVODE
    /// returned at `end`, exactly), `c_k = −(a_{k+2} + … + a_q)`.
    mutating func appendNordsieck(from start: Double, to end: Double, step h: Double, order q: Int, z: [Double]) {
        let n = stateCount
        let span = end - start
        let ratio = span / h
        appendStep(from: start, to: end, step: span, rows: Swift.max(q - 1, 0), order: q) { v in
            var a = [Double](repeating: 0, count: q + 1)
            for m in 0..<n {
                var scale = 1.0
                for j in 0...q {
                    a[j] = z[j * n + m] * scale
                    scale *= ratio
                }
                // Σ w_j x^j with x = θ − 1 into powers of θ.
                for i in 0..<q {
                    var j = q - 1
                    while j >= i {
                        a[j] -= a[j + 1]
                        j -= 1
                    }
                }
                v[m] = a[0]
                v[n + m] = z[m]
                var tail = 0.0
                var k = q
                while k >= 2 {
                    tail += a[k]
                    v[k * n + m] = -tail
                    k -= 1
                }
            }
        }
    }

    /// A copy in another scalar type (CVODE computes in `Double`).
    func converted<S: DiffEqScalar>(to _: S.Type) -> PiecewisePolynomial<S> {
        PiecewisePolynomial<S>(converting: self)
    }
}
