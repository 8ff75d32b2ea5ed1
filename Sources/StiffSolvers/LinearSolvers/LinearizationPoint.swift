import DiffEqCore

/// Where the iteration matrix's Jacobian was taken, for the solvers that need more than `J`'s
/// entries: the Krylov solver's weights and preconditioner setup, and its Jacobian-free
/// products. Written by ``JacobianEvaluator`` at each evaluation, read by
/// ``KrylovIterationMatrix``; one per stepper (a reference both hold), not `Sendable`.
@usableFromInline
class LinearizationPoint<Scalar: DiffEqScalar> {
    @usableFromInline let n: Int
    @usableFromInline var t = 0.0
    @usableFromInline var u: [Double]
    @usableFromInline var fu: [Double]
    @usableFromInline var p: [Double] = []
    /// `1/(abstol_i + reltol·|u_i|)`: the solve's error weights at `u`.
    @usableFromInline var weights: [Double]
    /// Whether ``update(t:u:fu:p:tolerance:)`` has run.
    @usableFromInline var isSet = false

    @usableFromInline
    init(count n: Int) {
        self.n = n
        u = [Double](repeating: 0, count: n)
        fu = u
        weights = [Double](repeating: 1, count: n)
    }

    @inlinable
    func update(t: Double, u: [Scalar], fu: [Scalar], p: [Scalar], tolerance: ErrorScale) {
        self.t = t
        for i in 0..<n {
            let x = u[i].primal
            self.u[i] = x
            self.fu[i] = fu[i].primal
            weights[i] = 1 / tolerance.scale(i, x, x)
        }
        if self.p.count != p.count { self.p = [Double](repeating: 0, count: p.count) }
        for k in 0..<p.count { self.p[k] = p[k].primal }
        storeScalars(u: u, fu: fu, p: p)
        isSet = true
    }

    /// The Jacobian-free form keeps the arguments in `f`'s own scalar type.
    @usableFromInline
    func storeScalars(u: [Scalar], fu: [Scalar], p: [Scalar]) {}

    /// Whether ``jacobianTimes(_:into:stats:)`` is a difference quotient of `f`.
    @usableFromInline var isJacobianFree: Bool { false }

    /// `out = J v` (Jacobian-free form only).
    @usableFromInline
    func jacobianTimes(_ v: UnsafePointer<Double>, into out: UnsafeMutablePointer<Double>, stats: inout SolverStats) {}
}

/// `J v ≈ (f(t, u + σv) − f(t, u))/σ` with `σ = 1/‖v‖_WRMS`, so that `σv` is one tolerance
/// unit in the solve's weighted RMS norm: CVODE's default Jacobian-times-vector difference
/// quotient (CVODE User Guide, "the difference quotient approximation to J v"; Brown &
/// Hindmarsh, "Reduced storage matrix methods in stiff ODE systems", Appl. Math. Comput. 31
/// (1989) 40-91). One evaluation of `f` per product.
@usableFromInline
final class DirectionalDerivative<F: ODEFunction>: LinearizationPoint<F.Scalar> {
    @usableFromInline let f: F
    @usableFromInline var uScalar: [F.Scalar]
    @usableFromInline var pScalar: [F.Scalar] = []
    @usableFromInline var arg: [F.Scalar]
    @usableFromInline var out: [F.Scalar]

    @usableFromInline
    init(_ f: F, count n: Int) {
        self.f = f
        uScalar = [F.Scalar](repeating: .zero, count: n)
        arg = uScalar
        out = uScalar
        super.init(count: n)
    }

    @usableFromInline
    override func storeScalars(u: [F.Scalar], fu: [F.Scalar], p: [F.Scalar]) {
        for i in 0..<n { uScalar[i] = u[i] }
        pScalar = p
    }

    @usableFromInline override var isJacobianFree: Bool { true }

    @usableFromInline
    override func jacobianTimes(_ v: UnsafePointer<Double>, into result: UnsafeMutablePointer<Double>, stats: inout SolverStats) {
        var squares = 0.0
        for i in 0..<n {
            let s = v[i] * weights[i]
            squares += s * s
        }
        let norm = (squares / Double(Swift.max(n, 1))).squareRoot()
        guard norm > 0, norm.isFinite else {
            for i in 0..<n { result[i] = norm == 0 ? 0 : .nan }
            return
        }
        let sigma = 1 / norm
        for i in 0..<n { arg[i] = uScalar[i] + F.Scalar(sigma * v[i]) }
        f(&out, arg, pScalar, F.Scalar(t))
        stats.nf += 1
        for i in 0..<n { result[i] = (out[i].primal - fu[i]) * norm }
    }
}
