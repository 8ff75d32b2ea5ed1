import AutoDiff
import DiffEqCore

/// `λᵀ∂f/∂u` and `λᵀ∂f/∂p` of a model, the product every adjoint method evaluates at each
/// backward stage; one engine serves the native adjoints and the CVODES adjoint, so their
/// timings compare integrators, not product codes.
///
/// Systems with `n + np ≤ 8` take the product from one dual evaluation of `f` carrying all
/// `n + np` directions (the full Jacobians, then `λᵀJ`): for such small right-hand sides the
/// tape's per-operation bookkeeping costs more than eight-wide dual arithmetic. Larger ones
/// replay a recorded reverse-mode tape (``RHSTape``). A model conforming to ``ODEModelWithVJP``
/// supplies the products itself, whatever its size. Buffers are allocated once.
@usableFromInline
package final class _VJPEngine<Model: ODEModel> {
    @usableFromInline let model: Model
    @usableFromInline let n: Int
    @usableFromInline let np: Int
    @usableFromInline package let tape: RHSTape
    @usableFromInline let smallSystem: Bool
    /// The model's own products (``ODEModelWithVJP``), which take precedence.
    @usableFromInline let custom: _CustomVJP?
    @usableFromInline var dualU: [Dual<8, Double>] = []
    @usableFromInline var dualP: [Dual<8, Double>] = []
    @usableFromInline var dualOut: [Dual<8, Double>] = []

    @inlinable
    package init(_ model: Model, p: [Double], n: Int) {
        self.model = model
        self.n = n
        self.np = p.count
        self.tape = RHSTape(model)
        self.custom = _customVJP(model, n: n, p: p)
        self.smallSystem = custom == nil && n + p.count <= 8
        if smallSystem {
            dualU = [Dual<8, Double>](repeating: .zero, count: n)
            dualOut = dualU
            dualP = p.enumerated().map { k, x in
                var d = Dual<8, Double>(constant: x)
                d.partials[n + k] = 1
                return d
            }
        }
    }

    /// `vᵀ∂f/∂u` into `du` and `vᵀ∂f/∂p` into `dp` at `(u, p, t)` (`p` as given at `init` for
    /// small systems).
    @inlinable @inline(__always)
    package func vjp(
        u: [Double], p: [Double], t: Double, v: [Double], du: inout [Double], dp: inout [Double]
    ) throws(ReverseModeError) {
        if let custom {
            custom.vjp(u, p, t, v, &du, &dp)
            return
        }
        guard smallSystem else {
            try tape.vjp(u: u, p: p, t: t, v: v, du: &du, dp: &dp)
            return
        }
        let (n, np) = (self.n, self.np)
        // Class properties are touched once each through a pointer (every access to one is a
        // dynamic exclusivity check).
        u.withUnsafeBufferPointer { u in
            dualU.withUnsafeMutableBufferPointer { d in
                for i in 0..<n {
                    var x = Dual<8, Double>(constant: u[i])
                    x.partials[i] = 1
                    d[i] = x
                }
            }
        }
        let written = model.lengthCheckedRHS(&dualOut, dualU, dualP, Dual<8, Double>(constant: t))
        guard written == n else { throw .dimensionMismatch(what: "du written by the model", expected: n, got: written) }
        v.withUnsafeBufferPointer { l in
            dualOut.withUnsafeBufferPointer { out in
                du.withUnsafeMutableBufferPointer { vu in
                    dp.withUnsafeMutableBufferPointer { vp in
                        for j in 0..<(n + np) {
                            var s = 0.0
                            for i in 0..<n { s += l[i] * out[i].partials[j] }
                            if j < n { vu[j] = s } else { vp[j - n] = s }
                        }
                    }
                }
            }
        }
    }
}
