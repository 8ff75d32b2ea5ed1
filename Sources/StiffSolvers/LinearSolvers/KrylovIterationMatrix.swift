import DiffEqCore

/// What the last linear solves of a stepper's iteration matrix reported, for the message of a
/// solve that ends in failure (shared by the copies of one ``IterationMatrix``).
public final class LinearSolverLog {
    /// Why the last solve or setup failed, while failures are consecutive.
    @usableFromInline var message: String?
    /// A failure no smaller step can cure (a preconditioner that returned NaN): every later
    /// setup fails too, so the method stops as it does for a singular `W`, with this message.
    @usableFromInline var isFatal = false
    public init() {}
    public var lastFailure: String? { message }
}

/// Scratch for ``KrylovIterationMatrix``'s GMRES, allocated once per solve of the ODE.
@usableFromInline
final class GMRESWorkspace {
    /// Krylov basis `V_0 … V_m`, `n` each, in the weighted (scaled) variables.
    @usableFromInline var basis: [Double]
    /// Hessenberg matrix, `(m + 1) × m` column-major, reduced to triangular by Givens rotations.
    @usableFromInline var hessenberg: [Double]
    @usableFromInline var cosines: [Double]
    @usableFromInline var sines: [Double]
    /// The rotated `‖r₀‖ e₁`.
    @usableFromInline var g: [Double]
    @usableFromInline var y: [Double]
    /// The right-hand side (kept for the residual at a restart), and two vectors of scratch.
    @usableFromInline var rhs: [Double]
    @usableFromInline var z: [Double]
    @usableFromInline var w: [Double]
    /// Copy of `J` as factored (compressed or dense; empty when Jacobian-free).
    @usableFromInline var jacobian: [Double]

    @usableFromInline
    init(count n: Int, restart m: Int, jacobianCount: Int) {
        basis = [Double](repeating: 0, count: n * (m + 1))
        hessenberg = [Double](repeating: 0, count: (m + 1) * m)
        cosines = [Double](repeating: 0, count: m)
        sines = cosines
        g = [Double](repeating: 0, count: m + 1)
        y = cosines
        rhs = [Double](repeating: 0, count: n)
        z = rhs
        w = rhs
        jacobian = [Double](repeating: 0, count: jacobianCount)
    }
}

/// The iteration matrix `W = α I + β J` solved by restarted GMRES (Y. Saad and M. H. Schultz,
/// "GMRES: a generalized minimal residual algorithm for solving nonsymmetric linear systems",
/// SIAM J. Sci. Stat. Comput. 7 (1986) 856-869): Arnoldi with modified Gram-Schmidt, the
/// least-squares problem reduced by Givens rotations as it grows (§3.2 there), restarted every
/// ``GMRESOptions/restart`` iterations. Right preconditioning (Saad, Iterative Methods for
/// Sparse Linear Systems, 2nd ed., SIAM 2003, §9.3.2), so the residual GMRES minimizes is the
/// true residual of `W x = b`; the inner products are taken in the variables scaled by the
/// error weights, as CVODE's SPGMR does with its scaling vectors, so the 2-norm GMRES
/// minimizes is `√n` times the weighted RMS norm of the stopping rule (``GMRESOptions``).
///
/// `J v` is the stored Jacobian times `v` (compressed sparse columns, or dense), or a
/// difference quotient of `f` (``GMRESOptions/jacobianFree``). The "factorization" is the
/// preconditioner's setup and a copy of `J`; ``solve(_:stats:)`` counts its Krylov iterations in
/// `SolverStats.nlinsolves` and preconditioner setups in `nluFactorizations` (CVODE's `nli` and
/// `npe`, as `CVODE_BDF(linearSolver: .gmres)` reports them).
@usableFromInline
struct KrylovIterationMatrix<Scalar: DiffEqScalar> {
    @usableFromInline let n: Int
    @usableFromInline let restart: Int
    @usableFromInline let maxIterations: Int
    @usableFromInline let tolerance: Double
    @usableFromInline var preconditioner: (any GMRESPreconditioner)?
    @usableFromInline let point: LinearizationPoint<Scalar>
    /// The layout of the `J` handed to ``factor(alpha:beta:J:stats:)``: compressed columns of
    /// this pattern, else dense `n × n` (unless Jacobian-free).
    @usableFromInline let pattern: SparsityPattern?
    @usableFromInline let workspace: GMRESWorkspace
    @usableFromInline let log: LinearSolverLog
    @usableFromInline var alpha = 0.0
    @usableFromInline var beta = 0.0
    @usableFromInline var isFactored = false

    @usableFromInline
    init(count n: Int, options: GMRESOptions, point: LinearizationPoint<Scalar>, pattern: SparsityPattern?, log: LinearSolverLog) {
        self.n = n
        restart = Swift.max(1, Swift.min(options.restart, Swift.max(n, 1)))
        maxIterations = options.maxIterations
        tolerance = options.tolerance
        preconditioner = options.preconditioner
        self.point = point
        self.pattern = pattern
        self.log = log
        let jacobianCount = point.isJacobianFree ? 0 : (pattern?.nonzeroCount ?? n * n)
        workspace = GMRESWorkspace(count: n, restart: restart, jacobianCount: jacobianCount)
    }

    /// Copies `J` and sets the preconditioner up for `W = α I + β J`; `false` when `J` is not
    /// finite or the preconditioner throws.
    @inlinable
    mutating func factor(alpha: Double, beta: Double, J: [Scalar], stats: inout SolverStats) -> Bool {
        self.alpha = alpha
        self.beta = beta
        isFactored = false
        stats.nluFactorizations += 1
        if log.isFatal { return false }
        let ws = workspace
        var finite = true
        for k in 0..<ws.jacobian.count {
            let v = J[k].primal
            ws.jacobian[k] = v
            if !v.isFinite { finite = false }
        }
        guard finite else { return false }
        if preconditioner != nil {
            let point = self.point
            var failure: GMRESPreconditionerFailure?
            point.u.withUnsafeBufferPointer { u in
                point.fu.withUnsafeBufferPointer { fu in
                    do throws(GMRESPreconditionerFailure) {
                        try preconditioner!.setup(t: point.t, u: u, fu: fu, p: point.p, alpha: alpha, beta: beta)
                    } catch {
                        failure = error
                    }
                }
            }
            if let failure {
                log.message = "the GMRES preconditioner's setup failed at t = \(point.t): \(failure.message)"
                return false
            }
        }
        isFactored = true
        return true
    }

    /// `out = W v` in the unscaled variables.
    @inlinable
    func apply(_ v: UnsafePointer<Double>, into out: UnsafeMutablePointer<Double>, stats: inout SolverStats) {
        let ws = workspace
        if point.isJacobianFree {
            point.jacobianTimes(v, into: out, stats: &stats)
        } else if let pattern {
            for i in 0..<n { out[i] = 0 }
            ws.jacobian.withUnsafeBufferPointer { J in
                pattern.rowIndices.withUnsafeBufferPointer { rows in
                    pattern.columnStart.withUnsafeBufferPointer { start in
                        for j in 0..<n {
                            let vj = v[j]
                            if vj == 0 { continue }
                            for k in start[j]..<start[j &+ 1] { out[rows[k]] += J[k] * vj }
                        }
                    }
                }
            }
        } else {
            for i in 0..<n { out[i] = 0 }
            ws.jacobian.withUnsafeBufferPointer { J in
                for j in 0..<n {
                    let vj = v[j]
                    if vj == 0 { continue }
                    let column = j &* n
                    for i in 0..<n { out[i] += J[column &+ i] * vj }
                }
            }
        }
        for i in 0..<n { out[i] = alpha * v[i] + beta * out[i] }
    }

    /// `z = P⁻¹ z` (no-op without a preconditioner); `false` if it produced a non-finite value.
    @inlinable
    func precondition(_ z: UnsafeMutablePointer<Double>) -> Bool {
        guard let preconditioner else { return true }
        preconditioner.solve(UnsafeMutableBufferPointer(start: z, count: n))
        var finite = true
        for i in 0..<n where !z[i].isFinite { finite = false }
        return finite
    }

    /// Solves `W x = b` in place by GMRES; on failure `b` is filled with NaN (the caller's step
    /// is rejected) and the reason is kept in the log.
    @inlinable
    func solve(_ b: UnsafeMutablePointer<Scalar>, stats: inout SolverStats) {
        let ws = workspace
        let n = self.n, m = restart
        let sqrtN = Double(Swift.max(n, 1)).squareRoot()
        // Converged when ‖D r‖₂ / √n / α ≤ η.
        let target = tolerance * Swift.abs(alpha) * sqrtN
        var iterations = 0
        let fatalBefore = log.isFatal
        var failure: String?
        var converged = false
        ws.rhs.withUnsafeMutableBufferPointer { rhsBuffer in
        ws.basis.withUnsafeMutableBufferPointer { basisBuffer in
        ws.z.withUnsafeMutableBufferPointer { zBuffer in
        ws.w.withUnsafeMutableBufferPointer { wBuffer in
        point.weights.withUnsafeBufferPointer { weightBuffer in
            let rhs = rhsBuffer.baseAddress!, V = basisBuffer.baseAddress!, z = zBuffer.baseAddress!, w = wBuffer.baseAddress!
            let d = weightBuffer.baseAddress!
            for i in 0..<n {
                rhs[i] = b[i].primal
                b[i] = .zero
            }
            // x (unscaled) accumulates in b; the first residual is b itself.
            var first = true
            while !converged && failure == nil {
                // r̃ = D (rhs − W x), in V_0.
                if first {
                    for i in 0..<n { V[i] = d[i] * rhs[i] }
                    first = false
                } else {
                    for i in 0..<n { z[i] = b[i].primal }
                    apply(z, into: w, stats: &stats)
                    for i in 0..<n { V[i] = d[i] * (rhs[i] - w[i]) }
                }
                var beta0 = 0.0
                for i in 0..<n { beta0 += V[i] * V[i] }
                beta0 = beta0.squareRoot()
                guard beta0.isFinite else { failure = "the GMRES residual is not finite"; break }
                // At least one iteration for a nonzero b: x = 0 passes the test whenever
                // ‖b‖/α ≤ η (tiny steps), but for a Rosenbrock stage x is the whole stage, not a
                // correction, and a zero stage would be accepted step after step.
                if beta0 == 0 || (beta0 <= target && iterations > 0) { converged = true; break }
                if iterations >= maxIterations { break }
                for i in 0..<n { V[i] /= beta0 }
                for k in 0...m { ws.g[k] = 0 }
                ws.g[0] = beta0
                var k = 0
                var residual = beta0
                while k < m && iterations < maxIterations {
                    let vk = V + k &* n
                    // z = P⁻¹ D⁻¹ V_k; w = D W z.
                    for i in 0..<n { z[i] = vk[i] / d[i] }
                    guard precondition(z) else {
                        failure = "the GMRES preconditioner returned NaN or infinity at t = \(point.t)"
                        log.isFatal = true
                        break
                    }
                    apply(z, into: w, stats: &stats)
                    iterations += 1
                    let next = V + (k &+ 1) &* n
                    for i in 0..<n { next[i] = d[i] * w[i] }
                    // Modified Gram-Schmidt.
                    let column = k &* (m &+ 1)
                    for j in 0...k {
                        let vj = V + j &* n
                        var h = 0.0
                        for i in 0..<n { h += next[i] * vj[i] }
                        ws.hessenberg[column &+ j] = h
                        for i in 0..<n { next[i] -= h * vj[i] }
                    }
                    var hNext = 0.0
                    for i in 0..<n { hNext += next[i] * next[i] }
                    hNext = hNext.squareRoot()
                    guard hNext.isFinite else { failure = "the GMRES iteration produced a non-finite value at t = \(point.t)"; break }
                    ws.hessenberg[column &+ k &+ 1] = hNext
                    if hNext > 0 { for i in 0..<n { next[i] /= hNext } }
                    // The earlier rotations, then a new one that zeroes h_{k+1,k}.
                    for j in 0..<k {
                        let a = ws.hessenberg[column &+ j], c = ws.hessenberg[column &+ j &+ 1]
                        ws.hessenberg[column &+ j] = ws.cosines[j] * a + ws.sines[j] * c
                        ws.hessenberg[column &+ j &+ 1] = -ws.sines[j] * a + ws.cosines[j] * c
                    }
                    let a = ws.hessenberg[column &+ k], c = hNext
                    let r = (a * a + c * c).squareRoot()
                    let (cs, sn) = r == 0 ? (1.0, 0.0) : (a / r, c / r)
                    ws.cosines[k] = cs
                    ws.sines[k] = sn
                    ws.hessenberg[column &+ k] = r
                    ws.hessenberg[column &+ k &+ 1] = 0
                    ws.g[k &+ 1] = -sn * ws.g[k]
                    ws.g[k] = cs * ws.g[k]
                    residual = Swift.abs(ws.g[k &+ 1])
                    k += 1
                    // hNext = 0: the Krylov space is invariant, the solution exact in it.
                    if residual <= target || hNext == 0 { break }
                }
                if failure != nil || k == 0 { break }
                // y = H⁻¹ g (upper triangular k × k), x += P⁻¹ D⁻¹ V y.
                for j in stride(from: k - 1, through: 0, by: -1) {
                    var s = ws.g[j]
                    for l in (j + 1)..<k { s -= ws.hessenberg[l &* (m &+ 1) &+ j] * ws.y[l] }
                    let diagonal = ws.hessenberg[j &* (m &+ 1) &+ j]
                    ws.y[j] = diagonal != 0 ? s / diagonal : 0
                }
                for i in 0..<n { z[i] = 0 }
                for j in 0..<k {
                    let vj = V + j &* n, yj = ws.y[j]
                    for i in 0..<n { z[i] += vj[i] * yj }
                }
                for i in 0..<n { z[i] /= d[i] }
                guard precondition(z) else {
                    failure = "the GMRES preconditioner returned NaN or infinity at t = \(point.t)"
                    log.isFatal = true
                    break
                }
                for i in 0..<n { b[i] = b[i] + Scalar(z[i]) }
                if residual <= target { converged = true }
            }
        }
        }
        }
        }
        }
        stats.nlinsolves += iterations
        if !converged {
            // After a fatal failure, later solves see its NaN: its message stays.
            if !fatalBefore {
                log.message = failure
                    ?? "GMRES did not reach its tolerance \(tolerance) in \(maxIterations) iterations at t = \(point.t) "
                    + "(a better preconditioner, a larger maxIterations, or a smaller step is needed)"
            }
            for i in 0..<n { b[i] = Scalar(Double.nan) }
        } else if !log.isFatal {
            log.message = nil
        }
    }
}
