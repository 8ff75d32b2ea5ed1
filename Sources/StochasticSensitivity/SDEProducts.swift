public import DiffEqCore
public import StochasticDE

/// An SDE model that supplies its own vector-Jacobian products of the drift and of the
/// diffusion, which ``SDEBacksolveAdjoint`` then uses instead of dual numbers (the SDE
/// counterpart of Sensitivity's `ODEModelWithVJP`; a network with a hand-written pullback is the
/// intended user, see NeuralDE's `NeuralSDE`).
///
/// The products are of the functions as the model writes them. An Itô method's backward pass
/// needs the derivative of the Itô–Stratonovich correction, i.e. second derivatives of the
/// diffusion, which these products cannot give: with such a model the adjoint accepts
/// Stratonovich methods (``EulerHeun``, `RKMil(interpretation: .stratonovich)`) and additive
/// noise (no correction), and refuses an Itô method on other noise with
/// `SensitivityError.unsupported`.
public protocol SDEModelWithVJP: SDEModel {
    associatedtype VJPWorkspace
    /// The buffers of one gradient's products (may depend on the sizes, never on `p`'s values).
    func makeVJPWorkspace(stateCount n: Int, parameters p: [Double]) -> VJPWorkspace
    /// Writes `vᵀ∂f/∂u` (length `n`) into `du` and `vᵀ∂f/∂p` into `dp`, overwriting both.
    func driftVJP(
        _ workspace: inout VJPWorkspace, u: [Double], p: [Double], t: Double, v: [Double],
        du: inout [Double], dp: inout [Double])
    /// Writes `vᵀ∂g/∂u` and `vᵀ∂g/∂p` for a cotangent `v` on the diffusion's output (its length,
    /// ``NoiseKind/diffusionLength(states:)``), overwriting both.
    func diffusionVJP(
        _ workspace: inout VJPWorkspace, u: [Double], p: [Double], t: Double, v: [Double],
        du: inout [Double], dp: inout [Double])
}

/// The model's own products behind one class (a virtual call per product), found once per
/// gradient by a protocol check.
@usableFromInline
class _CustomSDEVJP {
    @usableFromInline init() {}
    @usableFromInline
    func drift(_ u: [Double], _ p: [Double], _ t: Double, _ v: [Double], _ du: inout [Double], _ dp: inout [Double]) {
        fatalError("abstract")
    }
    @usableFromInline
    func diffusion(_ u: [Double], _ p: [Double], _ t: Double, _ v: [Double], _ du: inout [Double], _ dp: inout [Double]) {
        fatalError("abstract")
    }
}

@usableFromInline
final class _ModelSDEVJP<M: SDEModelWithVJP>: _CustomSDEVJP {
    @usableFromInline let model: M
    @usableFromInline var workspace: M.VJPWorkspace

    @usableFromInline init(_ model: M, n: Int, p: [Double]) {
        self.model = model
        workspace = model.makeVJPWorkspace(stateCount: n, parameters: p)
    }

    @usableFromInline override func drift(
        _ u: [Double], _ p: [Double], _ t: Double, _ v: [Double], _ du: inout [Double], _ dp: inout [Double]
    ) {
        model.driftVJP(&workspace, u: u, p: p, t: t, v: v, du: &du, dp: &dp)
    }

    @usableFromInline override func diffusion(
        _ u: [Double], _ p: [Double], _ t: Double, _ v: [Double], _ du: inout [Double], _ dp: inout [Double]
    ) {
        model.diffusionVJP(&workspace, u: u, p: p, t: t, v: v, du: &du, dp: &dp)
    }
}

@inlinable
func _customSDEVJP<M: SDEModel>(_ model: M, n: Int, p: [Double]) -> _CustomSDEVJP? {
    guard let custom = model as? any SDEModelWithVJP else { return nil }
    return _openCustomSDEVJP(custom, n: n, p: p)
}

@inlinable
func _openCustomSDEVJP<M: SDEModelWithVJP>(_ model: M, n: Int, p: [Double]) -> _CustomSDEVJP {
    _ModelSDEVJP(model, n: n, p: p)
}

/// `G(u) ΔW` for the noise kind: the diffusion's output `g` applied to the increments.
@inlinable
func _noiseApplied<S: DiffEqScalar>(_ g: [S], _ dW: [Double], noise: NoiseKind, states n: Int, into out: inout [S]) {
    switch noise {
    case .diagonal, .additive:
        for i in 0..<n { out[i] = g[i].scaled(by: dW[i]) }
    case .scalar:
        for i in 0..<n { out[i] = g[i].scaled(by: dW[0]) }
    case .general(let m):
        for i in 0..<n { out[i] = .zero }
        for j in 0..<m {
            for i in 0..<n { out[i] += g[i + j * n].scaled(by: dW[j]) }
        }
    }
}

/// The Itô–Stratonovich drift correction `c_i = Σ_j Σ_k (∂G_ij/∂u_k) G_kj`, so that the Itô
/// SDE `du = f dt + G dW` is the Stratonovich SDE `du = (f − ½c) dt + G ∘ dW` (Kloeden & Platen
/// 1992, §4.9). Generic over the scalar, so that a dual `S` differentiates the
/// correction itself (the adjoint needs `∂c/∂u`, `∂c/∂p`: second derivatives of `g`, by nested
/// duals). `∂G/∂u` comes from duals with 8 directions per evaluation of `g`; the buffers are the caller's.
@inlinable
func _itoCorrection<M: SDEModel, S: DiffEqScalar>(
    _ model: M, noise: NoiseKind, u: [S], p: [S], t: S, into c: inout [S], _ w: inout _CorrectionWorkspace<S>
) {
    let n = u.count
    model.diffusion(&w.g, u, p, t)
    for i in 0..<n { w.u[i] = Dual(constant: u[i]) }
    for k in p.indices { w.p[k] = Dual(constant: p[k]) }
    let tE = Dual<8, S>(constant: t)
    for i in 0..<n { c[i] = .zero }
    var offset = 0
    while offset < n {
        let width = Swift.min(8, n - offset)
        for j in 0..<width { w.u[offset + j].partials[j] = S(1.0) }
        model.diffusion(&w.gE, w.u, w.p, tE)
        for j in 0..<width {
            let k = offset + j
            // ∂G_ij/∂u_k is gE[i + col·n].partials[j]; G_k,col is g[k + col·n].
            switch noise {
            case .additive: break
            case .diagonal:
                c[k] += w.gE[k].partials[j] * w.g[k]
            case .scalar:
                for i in 0..<n { c[i] += w.gE[i].partials[j] * w.g[k] }
            case .general(let m):
                for col in 0..<m {
                    for i in 0..<n { c[i] += w.gE[i + col * n].partials[j] * w.g[k + col * n] }
                }
            }
            w.u[k].partials[j] = .zero
        }
        offset += width
    }
}

/// The buffers of ``_itoCorrection(_:noise:u:p:t:into:_:)`` at one scalar, made once per gradient.
@usableFromInline
struct _CorrectionWorkspace<S: DiffEqScalar> {
    @usableFromInline var g: [S]
    @usableFromInline var u: [Dual<8, S>]
    @usableFromInline var p: [Dual<8, S>]
    @usableFromInline var gE: [Dual<8, S>]

    @inlinable
    init(states n: Int, parameters np: Int, diffusionLength: Int) {
        g = [S](repeating: .zero, count: diffusionLength)
        u = [Dual<8, S>](repeating: .zero, count: n)
        p = [Dual<8, S>](repeating: .zero, count: np)
        gE = [Dual<8, S>](repeating: .zero, count: diffusionLength)
    }
}

/// The products one backward step of ``SDEBacksolveAdjoint`` needs, for a model at its
/// parameters: with `b` the Stratonovich drift (the model's drift, minus half the correction
/// when the forward method is Itô) and `φ(u, p) = b h + G ΔW`, the value `φ` and the products
/// `aᵀ∂φ/∂u`, `aᵀ∂φ/∂p`. One product of the combined `φ` serves drift and noise of the augmented
/// system at once, since `Σ_j ΔW_j aᵀ∂G_·j/∂u = aᵀ∂(G ΔW)/∂u`.
///
/// Without the model's own products (``SDEModelWithVJP``) they come from duals with 8
/// directions per evaluation (`⌈(n + np)/8⌉` evaluations of `f` and `g`; an Itô correction
/// nests a second dual for `∂G/∂u`): meant for small systems, as Sensitivity's small-system
/// products are. Buffers are allocated once.
@usableFromInline
final class _SDEProducts<M: SDEModel> {
    @usableFromInline typealias D = Dual<8, Double>
    @usableFromInline let model: M
    @usableFromInline let noise: NoiseKind
    @usableFromInline let n: Int
    @usableFromInline let np: Int
    @usableFromInline let length: Int
    @usableFromInline let corrected: Bool
    @usableFromInline let custom: _CustomSDEVJP?
    @usableFromInline var uD: [D]
    @usableFromInline var pD: [D]
    @usableFromInline var fD: [D]
    @usableFromInline var gD: [D]
    @usableFromInline var cD: [D]
    @usableFromInline var gwD: [D]
    @usableFromInline var f: [Double]
    @usableFromInline var g: [Double]
    @usableFromInline var gw: [Double]
    @usableFromInline var cotangent: [Double]
    @usableFromInline var du: [Double]
    @usableFromInline var dp: [Double]
    @usableFromInline var correction: _CorrectionWorkspace<D>
    /// Products evaluated (one per call of ``step(u:p:t:h:dW:a:phi:vu:vp:)``).
    @usableFromInline var count = 0

    /// `corrected`: the forward method is Itô and the noise is not additive.
    @inlinable
    init(_ model: M, noise: NoiseKind, n: Int, p: [Double], corrected: Bool) {
        self.model = model
        self.noise = noise
        self.n = n
        self.np = p.count
        self.length = noise.diffusionLength(states: n)
        self.corrected = corrected
        self.custom = _customSDEVJP(model, n: n, p: p)
        uD = [D](repeating: .zero, count: n)
        pD = [D](repeating: .zero, count: p.count)
        fD = uD
        cD = uD
        gwD = uD
        gD = [D](repeating: .zero, count: length)
        f = [Double](repeating: 0, count: n)
        gw = f
        g = [Double](repeating: 0, count: length)
        cotangent = g
        du = f
        dp = [Double](repeating: 0, count: p.count)
        correction = _CorrectionWorkspace(states: corrected ? n : 0, parameters: corrected ? p.count : 0, diffusionLength: corrected ? length : 0)
    }

    /// Writes `φ = b h + G ΔW` into `phi`, `aᵀ∂φ/∂u` into `vu`, `aᵀ∂φ/∂p` into `vp`.
    @inlinable
    func step(
        u: [Double], p: [Double], t: Double, h: Double, dW: [Double], a: [Double],
        phi: inout [Double], vu: inout [Double], vp: inout [Double]
    ) {
        count += 1
        if let custom {
            // Only reached without a correction (checked before any work).
            model.drift(&f, u, p, t)
            model.diffusion(&g, u, p, t)
            _noiseApplied(g, dW, noise: noise, states: n, into: &gw)
            for i in 0..<n { phi[i] = f[i] * h + gw[i] }
            custom.drift(u, p, t, a, &du, &dp)
            for i in 0..<n { vu[i] = h * du[i] }
            for k in 0..<np { vp[k] = h * dp[k] }
            _noiseCotangent(a, dW, scale: 1, noise: noise, states: n, into: &cotangent)
            custom.diffusion(u, p, t, cotangent, &du, &dp)
            for i in 0..<n { vu[i] += du[i] }
            for k in 0..<np { vp[k] += dp[k] }
            return
        }
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
            model.drift(&fD, uD, pD, tD)
            model.diffusion(&gD, uD, pD, tD)
            _noiseApplied(gD, dW, noise: noise, states: n, into: &gwD)
            if corrected { _itoCorrection(model, noise: noise, u: uD, p: pD, t: tD, into: &cD, &correction) }
            for i in 0..<n {
                var y = fD[i].scaled(by: h) + gwD[i]
                if corrected { y = y - cD[i].scaled(by: 0.5 * h) }
                fD[i] = y
                if offset == 0 { phi[i] = y.value }
            }
            for j in 0..<width {
                var s = 0.0
                for i in 0..<n { s += a[i] * fD[i].partials[j] }
                let d = offset + j
                if d < n { vu[d] = s } else { vp[d - n] = s }
            }
            for j in 0..<width {
                let d = offset + j
                if d < n { uD[d].partials[j] = 0 } else { pD[d - n].partials[j] = 0 }
            }
            offset += width
        }
    }
}
