import DiffEqCore

/// Euler–Maruyama with an embedded error estimate, for adaptive steps on any noise kind (Itô;
/// strong order 0.5, weak order 1). The step is ``EM``'s; the estimate is Lamba's (E. Lamba,
/// "An adaptive timestepping algorithm for stochastic differential equations", J. Comput. Appl.
/// Math. 161 (2003) 417–430) in the `δ E₁ + E₂` form of Rackauckas & Nie (2017, §3), as
/// StochasticDiffEq.jl's `LambaEM`:
///
/// - `E₁ = ½ h (f(ū, t + h) − f(u, t))`, `ū = u + h f(u, t)`: the difference between Euler's and
///   Heun's drift, the local error of the deterministic part;
/// - `E₂ = (g(u + g√h) − g(u))/√h · ½ ΔW²` per Wiener process (one column at a time for general
///   noise): the derivative-free form of the Milstein term `½ g g′ ΔW²` that EM omits, the
///   leading term of its strong local error. Zero for additive noise.
///
/// Cost per step: `f` twice, `g` twice (`m + 1` times for general noise).
public struct LambaEM: SDEAlgorithm {
    public init() {}
    public var scheme: SDEScheme { .lambaEM }
}

extension SDEStepper {
    @inlinable
    mutating func lambaEMStep(_ u: inout [Scalar], t: Double, dt: Double, dW: [Double]) {
        let n = stateCount
        let ts = Scalar(t)
        f.drift(&k[0], u, p, ts)
        f.diffusion(&gs[0], u, p, ts)
        for i in 0..<n { scratch[i] = u[i] + k[0][i].scaled(by: dt) }
        f.drift(&k[1], scratch, p, Scalar(t + dt))
        for i in 0..<n { errorDrift[i] = (k[1][i] - k[0][i]).scaled(by: 0.5 * dt) }
        milsteinErrorTerm(u, t: t, dt: dt, dW: dW)
        for i in 0..<n { u[i] += k[0][i].scaled(by: dt) }
        Self.addNoise(&u, gs[0], dW, scale: 1, noise: noise, states: stateCount)
    }

    /// `E₂ = (g(u + g√h) − g(u))/√h · ½ ΔW²` per Wiener process into ``errorDiffusion``, with
    /// `g(u)` in `gs[0]`; uses `gs[1]` and the scratch.
    @inlinable
    mutating func milsteinErrorTerm(_ u: [Scalar], t: Double, dt: Double, dW: [Double]) {
        let n = stateCount
        let ts = Scalar(t)
        let sqdt = dt.squareRoot()
        switch noise {
        case .diagonal, .additive, .scalar:
            for i in 0..<n { scratch[i] = u[i] + gs[0][i].scaled(by: sqdt) }
            f.diffusion(&gs[1], scratch, p, ts)
            let scalarNoise = noise == .scalar
            for i in 0..<n {
                let w = dW[scalarNoise ? 0 : i]
                errorDiffusion[i] = (gs[1][i] - gs[0][i]).scaled(by: 0.5 * w * w / sqdt)
            }
        case .general(let m):
            for i in 0..<n { errorDiffusion[i] = .zero }
            for j in 0..<m {
                for i in 0..<n { scratch[i] = u[i] + gs[0][i + j * n].scaled(by: sqdt) }
                f.diffusion(&gs[1], scratch, p, ts)
                let c = 0.5 * dW[j] * dW[j] / sqdt
                for i in 0..<n { errorDiffusion[i] += (gs[1][i + j * n] - gs[0][i + j * n]).scaled(by: c) }
            }
        }
    }
}
