public import DiffEqCore
public import StochasticDE

/// The cotangent on the diffusion's output `g` of a cotangent `a` on `scale · G(u) ΔW` (the noise
/// term as ``SDEStepper`` applies it for the noise kind): `v_i = scale a_i ΔW_i` (diagonal,
/// additive), `scale a_i ΔW_0` (scalar), `v_{i+jn} = scale a_i ΔW_j` (general, column-major).
@inlinable
func _noiseCotangent(_ a: [Double], _ dW: [Double], scale: Double, noise: NoiseKind, states n: Int, into v: inout [Double]) {
    switch noise {
    case .diagonal, .additive:
        for i in 0..<n { v[i] = scale * a[i] * dW[i] }
    case .scalar:
        let s = scale * dW[0]
        for i in 0..<n { v[i] = a[i] * s }
    case .general(let m):
        for j in 0..<m {
            let s = scale * dW[j]
            for i in 0..<n { v[i + j * n] = a[i] * s }
        }
    }
}

/// The vector-Jacobian products of the drift and the diffusion at one point, which
/// ``SDEDiscreteAdjoint``'s reverse sweep chains through a step's stages:
/// `ū = v_fᵀ∂f/∂u + v_gᵀ∂g/∂u` and `p̄ += v_fᵀ∂f/∂p + v_gᵀ∂g/∂p`.
///
/// With an ``SDEModelWithVJP`` (a network) they are the model's own products, one per function;
/// otherwise dual numbers with 8 directions per evaluation over `(u, p)`:
/// `⌈(n + np)/8⌉` evaluations of each function asked for (small systems).
/// Buffers are allocated once per gradient; a product allocates nothing.
@usableFromInline
final class _SDEPullbacks<M: SDEModel> {
    @usableFromInline typealias D = Dual<8, Double>
    @usableFromInline let model: M
    @usableFromInline let n: Int
    @usableFromInline let np: Int
    @usableFromInline let custom: _CustomSDEVJP?
    @usableFromInline var uD: [D]
    @usableFromInline var pD: [D]
    @usableFromInline var fD: [D]
    @usableFromInline var gD: [D]
    @usableFromInline var du: [Double]
    @usableFromInline var dp: [Double]
    /// Products taken (a drift and a diffusion product at the same point count once each).
    @usableFromInline var count = 0

    @inlinable
    init(_ model: M, noise: NoiseKind, n: Int, p: [Double]) {
        self.model = model
        self.n = n
        self.np = p.count
        self.custom = _customSDEVJP(model, n: n, p: p)
        let length = noise.diffusionLength(states: n)
        let dual = custom == nil
        uD = [D](repeating: .zero, count: dual ? n : 0)
        pD = [D](repeating: .zero, count: dual ? p.count : 0)
        fD = uD
        gD = [D](repeating: .zero, count: dual ? length : 0)
        du = [Double](repeating: 0, count: dual ? 0 : n)
        dp = [Double](repeating: 0, count: dual ? 0 : p.count)
    }

    /// Writes `v_fᵀ∂f/∂u + v_gᵀ∂g/∂u` at `(u, p, t)` into `ubar` (overwriting) and adds
    /// `v_fᵀ∂f/∂p + v_gᵀ∂g/∂p` to `pbar`; `drift: false` or `diffusion: false` leaves that
    /// function out (its cotangent is not read).
    @inlinable
    func pullback(
        u: [Double], p: [Double], t: Double, drift useDrift: Bool, _ vf: [Double], diffusion useDiffusion: Bool,
        _ vg: [Double], ubar: inout [Double], pbar: inout [Double]
    ) {
        if let custom {
            for i in 0..<n { ubar[i] = 0 }
            if useDrift {
                count += 1
                custom.drift(u, p, t, vf, &du, &dp)
                for i in 0..<n { ubar[i] += du[i] }
                for k in 0..<np { pbar[k] += dp[k] }
            }
            if useDiffusion {
                count += 1
                custom.diffusion(u, p, t, vg, &du, &dp)
                for i in 0..<n { ubar[i] += du[i] }
                for k in 0..<np { pbar[k] += dp[k] }
            }
            return
        }
        count += (useDrift ? 1 : 0) + (useDiffusion ? 1 : 0)
        let total = n + np
        for i in 0..<n { uD[i] = D(constant: u[i]) }
        for k in 0..<np { pD[k] = D(constant: p[k]) }
        let tD = D(constant: t)
        var offset = 0
        while offset < total {
            let width = Swift.min(8, total - offset)
            for j in 0..<width {
                let d = offset + j
                if d < n { uD[d].partials[j] = 1 } else { pD[d - n].partials[j] = 1 }
            }
            if useDrift { model.drift(&fD, uD, pD, tD) }
            if useDiffusion { model.diffusion(&gD, uD, pD, tD) }
            for j in 0..<width {
                var s = 0.0
                if useDrift { for i in 0..<n { s += vf[i] * fD[i].partials[j] } }
                if useDiffusion { for i in gD.indices { s += vg[i] * gD[i].partials[j] } }
                let d = offset + j
                if d < n { ubar[d] = s } else { pbar[d - n] += s }
                if d < n { uD[d].partials[j] = 0 } else { pD[d - n].partials[j] = 0 }
            }
            offset += width
        }
    }
}
