import DiffEqCore

/// Stochastic Heun: the predictor `ū = u + f(u, t) h + g(u, t) ΔW`, then
/// `u⁺ = u + ½(f(u, t) + f(ū, t + h)) h + ½(g(u, t) + g(ū, t + h)) ΔW`. Stratonovich; strong
/// order 1 for commutative noise (scalar, diagonal with `gᵢ` depending on `uᵢ` only, additive),
/// 0.5 in general; every noise kind. Kloeden & Platen (1992) §11.1 (the Heun scheme, (11.1.9)
/// with Stratonovich interpretation); Rümelin, SIAM J. Numer. Anal. 19 (1982).
public struct EulerHeun: SDEAlgorithm {
    public init() {}
    public var scheme: SDEScheme { .eulerHeun }
}

extension SDEStepper {
    @inlinable
    mutating func eulerHeunStep(_ u: inout [Scalar], t: Double, dt: Double, dW: [Double]) {
        let n = stateCount
        let ts = Scalar(t)
        f.drift(&k[0], u, p, ts)
        f.diffusion(&gs[0], u, p, ts)
        for i in 0..<n { scratch[i] = u[i] + k[0][i].scaled(by: dt) }
        Self.addNoise(&scratch, gs[0], dW, scale: 1, noise: noise, states: stateCount)
        let te = Scalar(t + dt)
        f.drift(&k[1], scratch, p, te)
        f.diffusion(&gs[1], scratch, p, te)
        for i in 0..<n { u[i] += (k[0][i] + k[1][i]).scaled(by: 0.5 * dt) }
        Self.addNoise(&u, gs[0], dW, scale: 0.5, noise: noise, states: stateCount)
        Self.addNoise(&u, gs[1], dW, scale: 0.5, noise: noise, states: stateCount)
    }
}
