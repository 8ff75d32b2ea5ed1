import DiffEqCore

/// The drift-implicit θ-method (stochastic θ-method; Kloeden & Platen 1992, §12.2, (12.2.4)),
/// for stiff drift: `u⁺ = u + h((1 − θ) f(u, t) + θ f(u⁺, t + h)) + g(u, t) ΔW`. Itô; strong
/// order 0.5 (1 for additive noise), weak order 1; every noise kind. `θ = 1` (the default) is
/// the drift-implicit Euler scheme, L-stable in the drift; `θ = ½` is the trapezoidal one
/// (A-stable, not damping). The diffusion is explicit, so a stiff *noise* term is not handled
/// (use split-step methods for that; not built here).
///
/// The implicit equation is solved by simplified Newton with the Jacobian of the drift at the
/// step's start (forward differences on the primal values: the Jacobian only sets the
/// convergence rate, not the converged value), iterated to a scaled increment below 1e-10
/// (at most 20 iterations; no convergence makes the attempt fail, and the loop retries with a
/// smaller step, ending with ``ReturnCode/convergenceFailure`` if that never helps). Adaptive
/// with Lamba's error estimate as ``LambaEM`` (with the drift at the implicit end point).
public struct ImplicitEM: SDEAlgorithm {
    public let theta: Double
    public init(theta: Double = 1) { self.theta = theta }
    public var scheme: SDEScheme { .implicitEM(theta: theta) }
}

/// The Newton workspace of the drift-implicit methods: the iteration matrix `I − θ h J` (pivoted
/// LU, row-major, in the primal values) and the residual and iterate.
///
/// The factorisation is a small partial-pivoting LU written here rather than DenseLinearAlgebra's
/// LAPACK one: the right-hand side is of the solve's scalar type (a `Dual` in pathwise
/// gradients), which the substitution handles with `scaled(by:)`, while LAPACK takes `Double`
/// arrays only. The systems are the size of the state.
public struct NewtonWorkspace<Scalar: DiffEqScalar> {
    @usableFromInline var matrix: [Double]
    @usableFromInline var pivots: [Int]
    @usableFromInline var residual: [Scalar]
    @usableFromInline var iterate: [Scalar]
    @usableFromInline var probe: [Scalar]
    @usableFromInline var base: [Scalar]
    /// Newton iterations of the last step, and whether it converged.
    @usableFromInline var iterations = 0
    @usableFromInline var converged = true
    @usableFromInline var singular = false

    @usableFromInline init(count n: Int) {
        matrix = [Double](repeating: 0, count: n * n)
        pivots = [Int](repeating: 0, count: n)
        residual = [Scalar](repeating: .zero, count: n)
        iterate = residual
        probe = residual
        base = residual
    }

    /// LU with partial pivoting of `matrix` (n × n, row-major) in place; false when singular.
    @inlinable
    mutating func factor(_ n: Int) -> Bool {
        for c in 0..<n {
            var best = c
            for r in (c + 1)..<Swift.max(c + 1, n) where Swift.abs(matrix[r * n + c]) > Swift.abs(matrix[best * n + c]) { best = r }
            pivots[c] = best
            if best != c { for j in 0..<n { matrix.swapAt(c * n + j, best * n + j) } }
            let d = matrix[c * n + c]
            guard d != 0, d.isFinite else { return false }
            for r in (c + 1)..<Swift.max(c + 1, n) {
                let l = matrix[r * n + c] / d
                matrix[r * n + c] = l
                if l != 0 { for j in (c + 1)..<n { matrix[r * n + j] -= l * matrix[c * n + j] } }
            }
        }
        return true
    }

    /// Solves with the factors, overwriting `residual` with the solution.
    @inlinable
    mutating func solve(_ n: Int) {
        for c in 0..<n where pivots[c] != c { residual.swapAt(c, pivots[c]) }
        for r in 0..<n {
            var acc = residual[r]
            for j in 0..<r where matrix[r * n + j] != 0 { acc -= residual[j].scaled(by: matrix[r * n + j]) }
            residual[r] = acc
        }
        for r in stride(from: n - 1, through: 0, by: -1) {
            var acc = residual[r]
            for j in (r + 1)..<Swift.max(r + 1, n) where matrix[r * n + j] != 0 { acc -= residual[j].scaled(by: matrix[r * n + j]) }
            residual[r] = acc.scaled(by: 1 / matrix[r * n + r])
        }
    }
}

extension SDEStepper {
    @inlinable
    mutating func implicitEMStep(_ u: inout [Scalar], t: Double, dt: Double, dW: [Double]) {
        let n = stateCount
        let theta = coefficients[0]
        let ts = Scalar(t)
        let te = Scalar(t + dt)
        f.drift(&k[0], u, p, ts)
        f.diffusion(&gs[0], u, p, ts)
        // base = u + (1 − θ) h f(u) + g ΔW; the EM step is the first iterate.
        for i in 0..<n {
            newton.base[i] = u[i] + k[0][i].scaled(by: (1 - theta) * dt)
            scratch[i] = .zero
        }
        Self.addNoise(&scratch, gs[0], dW, scale: 1, noise: noise, states: n)
        for i in 0..<n {
            newton.base[i] += scratch[i]
            newton.iterate[i] = newton.base[i] + k[0][i].scaled(by: theta * dt)
        }
        // I − θ h J, J by forward differences of the drift at (u, t) in the primal values.
        for i in 0..<n { newton.probe[i] = Scalar(u[i].primal) }
        for j in 0..<n {
            let uj = u[j].primal
            let step = (Swift.max(Swift.abs(uj), 1) * Double.ulpOfOne).squareRoot()
            newton.probe[j] = Scalar(uj + step)
            f.drift(&k[1], newton.probe, p, ts)
            newton.probe[j] = Scalar(uj)
            for i in 0..<n {
                let jij = (k[1][i].primal - k[0][i].primal) / step
                newton.matrix[i * n + j] = (i == j ? 1 : 0) - theta * dt * jij
            }
        }
        newton.singular = !newton.factor(n)
        newton.converged = false
        newton.iterations = 0
        if !newton.singular {
            while newton.iterations < 20 {
                newton.iterations += 1
                f.drift(&k[1], newton.iterate, p, te)
                // residual = base + θ h f(x) − x; x += M⁻¹ residual.
                for i in 0..<n { newton.residual[i] = newton.base[i] + k[1][i].scaled(by: theta * dt) - newton.iterate[i] }
                newton.solve(n)
                var size = 0.0
                var finite = true
                for i in 0..<n {
                    newton.iterate[i] += newton.residual[i]
                    let r = newton.residual[i].sumOfSquaredComponents.squareRoot() / (1 + Swift.abs(newton.iterate[i].primal))
                    if !r.isFinite { finite = false }
                    size = Swift.max(size, r)
                }
                if !finite { break }
                if size <= 1e-10 {
                    newton.converged = true
                    break
                }
            }
        }
        // Error estimate (Lamba): drift at the two ends, Milstein term of the explicit noise.
        f.drift(&k[1], newton.iterate, p, te)
        for i in 0..<n { errorDrift[i] = (k[1][i] - k[0][i]).scaled(by: 0.5 * dt) }
        milsteinErrorTerm(u, t: t, dt: dt, dW: dW)
        if newton.converged {
            for i in 0..<n { u[i] = newton.iterate[i] }
        } else {
            for i in 0..<n { u[i] = Scalar(Double.nan) }
        }
    }
}
